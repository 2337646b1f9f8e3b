namespace RnnFun

open System.IO
open System.Text.Json

/// The perturbation-check file `rnnfun.perturbation-checks`, version 1 (docs/formats.md): what
/// `Perturbation.check` found at each point, for plots and other tools. Written only.
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
