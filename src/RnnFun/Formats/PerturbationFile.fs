namespace RnnFun

open System.IO
open System.Numerics
open System.Text.Json

/// The perturbation-check file `rnnfun.perturbation-checks`, version 1 (docs/formats.md): what
/// `Perturbation.check` found at each point, for plots and other tools; `load` reads it back.
[<RequireQualifiedAccess>]
module PerturbationFile =
    [<Literal>]
    let Format = "rnnfun.perturbation-checks"

    [<Literal>]
    let Version = 1

    let private directionName (d: PushDirection) =
        match d with
        | PushDirection.Right -> "right"
        | PushDirection.Left -> "left"
        | PushDirection.Unstable s when s > 0.0 -> "unstable+"
        | PushDirection.Unstable _ -> "unstable-"

    /// Writes the checks to a stream.
    let write (stream: Stream) (results: PerturbationResult[]) =
        use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
        let numbers (name: string) (values: float seq) =
            w.WriteStartArray name
            for v in values do w.WriteNumberValue v
            w.WriteEndArray()
        w.WriteStartObject()
        w.WriteString("format", Format)
        w.WriteNumber("version", Version)
        w.WriteStartArray "points"
        for r in results do
            w.WriteStartObject()
            w.WriteNumber("id", r.PointId)
            w.WriteNumber("epsilon", r.Epsilon)
            w.WriteStartArray "pushes"
            for p in r.Pushes do
                w.WriteStartObject()
                w.WriteNumber("mode", p.Mode)
                w.WriteStartObject "eigenvalue"
                w.WriteNumber("re", p.Eigenvalue.Real)
                w.WriteNumber("im", p.Eigenvalue.Imaginary)
                w.WriteEndObject()
                w.WriteString("direction", directionName p.Direction)
                numbers "vector" p.Vector
                numbers "steps" (p.Steps |> Array.map float)
                numbers "actual" p.Actual
                numbers "predicted" p.Predicted
                // A relative error that is not finite (a prediction of 0) is written as -1.
                numbers "relative_error" (p.RelativeError |> Array.map (fun e -> if System.Double.IsFinite e then e else -1.0))
                numbers "validity" p.Validity
                w.WriteEndObject()
            w.WriteEndArray()
            w.WriteEndObject()
        w.WriteEndArray()
        w.WriteEndObject()
        w.Flush()

    /// Saves the checks atomically.
    let save (path: string) (results: PerturbationResult[]) = FileFormat.writeAtomically path (fun s -> write s results)

    let private ofJson (root: JsonElement) : PerturbationResult[] =
        let list = JsonRead.required root "points" "points"
        if list.ValueKind <> JsonValueKind.Array then Check.fail "points" "expected an array"
        [| for i, e in Seq.indexed (list.EnumerateArray()) ->
            let where = sprintf "points[%d]" i
            if e.ValueKind <> JsonValueKind.Object then Check.fail where "expected an object"
            let get (e: JsonElement) name at = JsonRead.required e name (at + "." + name)
            let pushes = get e "pushes" where
            if pushes.ValueKind <> JsonValueKind.Array then Check.fail (where + ".pushes") "expected an array"
            { PointId = JsonRead.integer (where + ".id") (get e "id" where)
              Epsilon = JsonRead.number (where + ".epsilon") (get e "epsilon" where)
              Pushes =
                [| for j, p in Seq.indexed (pushes.EnumerateArray()) ->
                    let at = sprintf "%s.pushes[%d]" where j
                    if p.ValueKind <> JsonValueKind.Object then Check.fail at "expected an object"
                    let l = get p "eigenvalue" at
                    if l.ValueKind <> JsonValueKind.Object then Check.fail (at + ".eigenvalue") "expected { \"re\": x, \"im\": y }"
                    let direction =
                        let d = get p "direction" at
                        match (if d.ValueKind = JsonValueKind.String then d.GetString() else "") with
                        | "right" -> PushDirection.Right
                        | "left" -> PushDirection.Left
                        | "unstable+" -> PushDirection.Unstable 1.0
                        | "unstable-" -> PushDirection.Unstable -1.0
                        | _ -> Check.fail (at + ".direction") (sprintf "expected right, left, unstable+ or unstable-, got %s" (d.GetRawText()))
                    let steps = JsonRead.vector (at + ".steps") (get p "steps" at)
                    let perStep name =
                        let v = JsonRead.vector (at + "." + name) (get p name at)
                        if v.Length <> steps.Length then Check.fail (at + "." + name) (sprintf "expected %d values (one per step)" steps.Length)
                        v
                    { Mode = JsonRead.integer (at + ".mode") (get p "mode" at)
                      Eigenvalue = Complex(JsonRead.number (at + ".eigenvalue.re") (get l "re" (at + ".eigenvalue")), JsonRead.number (at + ".eigenvalue.im") (get l "im" (at + ".eigenvalue")))
                      Direction = direction
                      Vector = JsonRead.vector (at + ".vector") (get p "vector" at)
                      Steps =
                        steps |> Array.map (fun k ->
                            if k < 1.0 || k <> floor k then Check.fail (at + ".steps") (sprintf "expected integers >= 1, got %g" k)
                            int k)
                      Actual = perStep "actual"
                      Predicted = perStep "predicted"
                      // -1 stands for a relative error that is not finite (a prediction of 0).
                      RelativeError = perStep "relative_error" |> Array.map (fun e -> if e = -1.0 then infinity else e)
                      Validity = perStep "validity" } |] } |]

    /// Reads the checks back (a relative error written as -1 reads as infinity). Every problem
    /// raises `FileFormatError` naming the file and key.
    let load (path: string) : PerturbationResult[] = FileFormat.load Format [ Version, ofJson ] path
