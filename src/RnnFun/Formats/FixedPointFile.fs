namespace RnnFun

open System
open System.IO
open System.Numerics
open System.Text.Json

/// What a fixed-point file holds beyond the points' required keys (docs/formats.md).
type FixedPointFileOptions =
    { /// Each point's `Linearisation` (Jacobian, right and left eigenvectors, input Jacobian), for
      /// the points that have one: n^2 numbers a matrix, so off by default.
      Linearisation: bool
      /// One per point (same order), written as its `certificate`; empty: none.
      Certificates: Certificate[]
      /// The conditions (names and constant inputs) the points were found under: a `conditions`
      /// array, and each point's `condition` by name; empty: none. Every point's input must be a
      /// condition's.
      Conditions: Condition[]
      /// Each point's slow modes with their selection vectors (one array per point, same order), and
      /// the tolerance and measure they were picked by; None: none.
      Selection: FixedPointSelection option }

    static member defaults = { Linearisation = false; Certificates = [||]; Conditions = [||]; Selection = None }

/// The fixed-point file format `rnnfun.fixed-points`, version 1 (docs/formats.md).
[<RequireQualifiedAccess>]
module FixedPointFile =
    [<Literal>]
    let Format = "rnnfun.fixed-points"

    [<Literal>]
    let Version = 1

    /// The kind as the file writes it (see `FixedPoints.kindName`).
    let kindName (kind: FixedPointKind) = FixedPoints.kindName kind

    let private kindOf (name: string) =
        match name with
        | "attractor" -> Some FixedPointKind.Attractor
        | "saddle" -> Some FixedPointKind.Saddle
        | "repeller" -> Some FixedPointKind.Repeller
        | "marginal" -> Some FixedPointKind.Marginal
        | _ -> None

    /// Writes fixed points to a stream, with what the options add.
    let writeWith (options: FixedPointFileOptions) (stream: Stream) (points: FixedPoint[]) =
        if options.Certificates.Length > 0 && options.Certificates.Length <> points.Length then
            Check.fail "certificates" (sprintf "expected one certificate per point (%d), got %d" points.Length options.Certificates.Length)
        match options.Selection with
        | Some s when s.Modes.Length <> points.Length -> Check.fail "selection" (sprintf "expected the slow modes of every point (%d), got %d" points.Length s.Modes.Length)
        | _ -> ()
        let conditions = if isNull options.Conditions then [||] else options.Conditions
        use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
        let rowsOf (name: string) (rows: float[][]) =
            w.WriteStartArray name
            for row in rows do
                w.WriteStartArray()
                for v in row do w.WriteNumberValue v
                w.WriteEndArray()
            w.WriteEndArray()
        let complexRows (name: string) (rows: Complex[][]) =
            w.WriteStartObject name
            rowsOf "re" (rows |> Array.map (Array.map (fun c -> c.Real)))
            rowsOf "im" (rows |> Array.map (Array.map (fun c -> c.Imaginary)))
            w.WriteEndObject()
        let numbers (name: string) (values: float[]) =
            w.WriteStartArray name
            for v in values do w.WriteNumberValue v
            w.WriteEndArray()
        w.WriteStartObject()
        w.WriteString("format", Format)
        w.WriteNumber("version", Version)
        if conditions.Length > 0 then
            w.WriteStartArray "conditions"
            for c in conditions do
                w.WriteStartObject()
                w.WriteString("name", c.Name)
                numbers "input" c.Input
                w.WriteEndObject()
            w.WriteEndArray()
        let complexNumber (name: string) (c: Complex) =
            w.WriteStartObject name
            w.WriteNumber("re", c.Real)
            w.WriteNumber("im", c.Imaginary)
            w.WriteEndObject()
        let complexVector (name: string) (v: Complex[]) =
            w.WriteStartObject name
            numbers "re" (v |> Array.map (fun c -> c.Real))
            numbers "im" (v |> Array.map (fun c -> c.Imaginary))
            w.WriteEndObject()
        match options.Selection with
        | Some s ->
            w.WriteStartObject "selection"
            w.WriteString("measure", (match s.Measure with SlowModeMeasure.Map -> "map" | SlowModeMeasure.Continuous -> "continuous"))
            w.WriteNumber("tolerance", s.Tolerance)
            w.WriteEndObject()
        | None -> ()
        w.WriteStartArray "fixed_points"
        for index, p in Array.indexed points do
            w.WriteStartObject()
            w.WriteNumber("id", p.Id)
            numbers "state" p.State
            numbers "input" p.Input
            w.WriteNumber("q", p.Q)
            w.WriteNumber("speed", p.Speed)
            w.WriteStartArray "eigenvalues"
            for l in p.Eigenvalues do
                w.WriteStartObject()
                w.WriteNumber("re", l.Real)
                w.WriteNumber("im", l.Imaginary)
                w.WriteEndObject()
            w.WriteEndArray()
            w.WriteNumber("n_unstable_modes", p.UnstableModes)
            w.WriteBoolean("stable", p.Stable)
            w.WriteString("kind", kindName p.Kind)
            match p.Linearisation with
            | Some l when options.Linearisation ->
                w.WriteStartObject "linearisation"
                rowsOf "jacobian" l.Jacobian
                complexRows "eigenvectors" l.Eigenvectors
                if l.LeftEigenvectors.Length > 0 then complexRows "left_eigenvectors" l.LeftEigenvectors
                if l.InputJacobian.Length > 0 then rowsOf "input_jacobian" l.InputJacobian
                w.WriteEndObject()
            | _ -> ()
            if options.Certificates.Length > 0 then
                w.WriteStartObject "certificate"
                match options.Certificates[index] with
                | Certificate.Certified (radius, error) ->
                    w.WriteBoolean("certified", true)
                    w.WriteNumber("radius", radius)
                    w.WriteNumber("error_bound", error)
                | Certificate.NotCertified reason ->
                    w.WriteBoolean("certified", false)
                    w.WriteString("reason", reason)
                w.WriteEndObject()
            match options.Selection with
            | Some s ->
                w.WriteStartArray "selection"
                for m in s.Modes[index] do
                    w.WriteStartObject()
                    w.WriteNumber("mode", m.Mode)
                    complexNumber "eigenvalue" m.Eigenvalue
                    m.ContinuousEigenvalue |> Option.iter (complexNumber "continuous_eigenvalue")
                    complexVector "right_eigenvector" m.Right
                    complexVector "left_eigenvector" m.Left
                    w.WriteStartArray "inputs"
                    for i in m.Inputs do
                        w.WriteStartObject()
                        numbers "direction" i.Direction
                        complexNumber "integrated" i.Integrated
                        numbers "displacement" i.Displacement
                        numbers "end_state" i.EndState
                        w.WriteEndObject()
                    w.WriteEndArray()
                    w.WriteEndObject()
                w.WriteEndArray()
            | None -> ()
            match Conditions.indexOf conditions p with
            | Some c when conditions.Length > 0 -> w.WriteString("condition", conditions[c].Name)
            | _ -> ()
            w.WriteEndObject()
        w.WriteEndArray()
        w.WriteEndObject()
        w.Flush()

    /// Writes fixed points to a stream (the required keys only).
    let write (stream: Stream) (points: FixedPoint[]) = writeWith FixedPointFileOptions.defaults stream points

    /// Saves fixed points atomically, with what the options add. NaN or Inf values are refused
    /// (`InvalidArgument`).
    let saveWith (options: FixedPointFileOptions) (path: string) (points: FixedPoint[]) =
        for p in points do
            Check.allFinite (sprintf "fixed_points[%d].state" p.Id) p.State
            Check.allFinite (sprintf "fixed_points[%d].input" p.Id) p.Input
            Check.allFinite (sprintf "fixed_points[%d].q" p.Id) [ p.Q; p.Speed ]
        if options.Certificates.Length > 0 && options.Certificates.Length <> points.Length then
            Check.fail "certificates" (sprintf "expected one certificate per point (%d), got %d" points.Length options.Certificates.Length)
        options.Selection |> Option.iter (fun s ->
            for modes in s.Modes do
                for m in modes do
                    Check.allFinite "selection.left_eigenvector" (m.Left |> Array.collect (fun c -> [| c.Real; c.Imaginary |]))
                    for i in m.Inputs do Check.allFinite "selection.end_state" (Array.append i.EndState [| i.Integrated.Real; i.Integrated.Imaginary |]))
        let conditions = if isNull options.Conditions then [||] else options.Conditions
        if conditions.Length > 0 then
            Conditions.check conditions[0].Input.Length conditions
            for p in points do
                if (Conditions.indexOf conditions p).IsNone then
                    Check.fail (sprintf "fixed_points[%d].input" p.Id) "the point's input is no condition's input"
        FileFormat.writeAtomically path (fun s -> writeWith options s points)

    /// `saveWith` with the conditions the points were found under and nothing else optional.
    let saveWithConditions (path: string) (conditions: Condition[]) (points: FixedPoint[]) =
        saveWith { FixedPointFileOptions.defaults with Conditions = conditions } path points

    /// Saves fixed points atomically (the required keys only). NaN or Inf values are refused
    /// (`InvalidArgument`).
    let save (path: string) (points: FixedPoint[]) = saveWith FixedPointFileOptions.defaults path points

    let private required (e: JsonElement) (name: string) (where: string) = JsonRead.required e name (where + "." + name)
    let private number = JsonRead.number
    let private integer = JsonRead.integer
    let private vector = JsonRead.vector

    /// Reads fixed points from a parsed version-1 document. Raises `InvalidArgument` naming the key.
    let private ofJson (root: JsonElement) : FixedPoint[] =
        let list = required root "fixed_points" "file"
        if list.ValueKind <> JsonValueKind.Array then Check.fail "fixed_points" "expected an array"
        let points =
            [| for i, e in Seq.indexed (list.EnumerateArray()) ->
                let where = sprintf "fixed_points[%d]" i
                if e.ValueKind <> JsonValueKind.Object then Check.fail where "expected an object"
                let get name = required e name where
                let state = vector (where + ".state") (get "state")
                let eigen = get "eigenvalues"
                if eigen.ValueKind <> JsonValueKind.Array then Check.fail (where + ".eigenvalues") "expected an array"
                let eigenvalues =
                    [| for j, l in Seq.indexed (eigen.EnumerateArray()) ->
                        let at = sprintf "%s.eigenvalues[%d]" where j
                        if l.ValueKind <> JsonValueKind.Object then Check.fail at "expected { \"re\": x, \"im\": y }"
                        Complex(number (at + ".re") (required l "re" at), number (at + ".im") (required l "im" at)) |]
                if eigenvalues.Length <> state.Length then
                    Check.fail (where + ".eigenvalues") (sprintf "expected %d eigenvalues (one per unit), got %d" state.Length eigenvalues.Length)
                let moduli = eigenvalues |> Array.map (fun l -> l.Magnitude)
                for j in 1 .. moduli.Length - 1 do
                    if moduli[j] > moduli[j - 1] * (1.0 + 1e-12) then Check.fail (where + ".eigenvalues") "expected eigenvalues sorted by modulus, descending"
                let unstable = integer (where + ".n_unstable_modes") (get "n_unstable_modes")
                if unstable < 0 || unstable > state.Length then Check.fail (where + ".n_unstable_modes") (sprintf "expected 0..%d, got %d" state.Length unstable)
                let stable =
                    match (get "stable").ValueKind with
                    | JsonValueKind.True -> true
                    | JsonValueKind.False -> false
                    | _ -> Check.fail (where + ".stable") "expected true or false"
                let kind =
                    match (get "kind").ValueKind with
                    | JsonValueKind.String ->
                        match kindOf ((get "kind").GetString()) with
                        | Some k -> k
                        | None -> Check.fail (where + ".kind") (sprintf "expected attractor, saddle, repeller or marginal, got %s" ((get "kind").GetRawText()))
                    | _ -> Check.fail (where + ".kind") "expected a string"
                if stable <> (kind = FixedPointKind.Attractor) then Check.fail (where + ".stable") "stable must be true exactly for an attractor"
                if stable && unstable > 0 then Check.fail (where + ".n_unstable_modes") "a stable point has no unstable mode"
                let linearisation =
                    match e.TryGetProperty "linearisation" with
                    | true, l when l.ValueKind = JsonValueKind.Object ->
                        let at = where + ".linearisation"
                        let n = state.Length
                        let square name (rows: 'a[][]) =
                            if rows.Length <> n || rows |> Array.exists (fun r -> r.Length <> n) then
                                Check.fail (at + "." + name) (sprintf "expected %d rows of %d values (one per unit)" n n)
                            rows
                        let complexRows name =
                            let c = required l name at
                            if c.ValueKind <> JsonValueKind.Object then Check.fail (at + "." + name) "expected { \"re\": [[..]], \"im\": [[..]] }"
                            let re = square name (JsonRead.matrix (at + "." + name + ".re") (required c "re" (at + "." + name)))
                            let im = square name (JsonRead.matrix (at + "." + name + ".im") (required c "im" (at + "." + name)))
                            Array.map2 (Array.map2 (fun a b -> Complex(a, b))) re im
                        let optionalRows name f =
                            match l.TryGetProperty(name: string) with
                            | true, _ -> f name
                            | _ -> [||]
                        Some
                            { Jacobian = square "jacobian" (JsonRead.matrix (at + ".jacobian") (required l "jacobian" at))
                              Eigenvectors = complexRows "eigenvectors"
                              LeftEigenvectors = optionalRows "left_eigenvectors" complexRows
                              InputJacobian =
                                optionalRows "input_jacobian" (fun name ->
                                    let rows = JsonRead.matrix (at + "." + name) (required l name at)
                                    if rows.Length <> n then Check.fail (at + "." + name) (sprintf "expected %d rows (one per unit)" n)
                                    rows) }
                    | true, _ -> Check.fail (where + ".linearisation") "expected an object"
                    | _ -> None
                let q = number (where + ".q") (get "q")
                if q < 0.0 then Check.fail (where + ".q") "expected q >= 0"
                { Id = integer (where + ".id") (get "id")
                  State = state
                  Input = vector (where + ".input") (get "input")
                  Q = q
                  Speed = number (where + ".speed") (get "speed")
                  Search = None
                  Eigenvalues = eigenvalues
                  Linearisation = linearisation
                  UnstableModes = unstable
                  Stable = stable
                  Kind = kind
                  ContinuousEigenvalues = None } |]
        if points.Length > 0 then
            let n, i = points[0].State.Length, points[0].Input.Length
            for p in points do
                if p.State.Length <> n then Check.fail (sprintf "fixed_points[id %d].state" p.Id) (sprintf "expected %d values like the first point, got %d" n p.State.Length)
                if p.Input.Length <> i then Check.fail (sprintf "fixed_points[id %d].input" p.Id) (sprintf "expected %d values like the first point, got %d" i p.Input.Length)
        match points |> Array.countBy (fun p -> p.Id) |> Array.tryFind (fun (_, c) -> c > 1) with
        | Some (id, _) -> Check.fail "fixed_points" (sprintf "id %d is used twice" id)
        | None -> ()
        points

    /// The conditions of a parsed document: its `conditions` array, checked against its points
    /// (each point's `condition`, when given, names a condition whose input is the point's); none
    /// in a file written without them.
    let private conditionsOfJson (root: JsonElement) : Condition[] =
        let points = ofJson root
        match root.TryGetProperty "conditions" with
        | false, _ -> [||]
        | true, list ->
            if list.ValueKind <> JsonValueKind.Array then Check.fail "conditions" "expected an array"
            let conditions =
                [| for i, e in Seq.indexed (list.EnumerateArray()) ->
                    let where = sprintf "conditions[%d]" i
                    if e.ValueKind <> JsonValueKind.Object then Check.fail where "expected an object"
                    let name = required e "name" where
                    if name.ValueKind <> JsonValueKind.String then Check.fail (where + ".name") "expected a string"
                    { Name = name.GetString(); Input = vector (where + ".input") (required e "input" where) } |]
            let width = if points.Length > 0 then points[0].Input.Length elif conditions.Length > 0 then conditions[0].Input.Length else 0
            try Conditions.check width conditions
            with InvalidArgument (_, problem) -> Check.fail "conditions" problem
            let list = (required root "fixed_points" "file").EnumerateArray() |> Array.ofSeq
            for i, e in Array.indexed list do
                match e.TryGetProperty "condition" with
                | true, c ->
                    let where = sprintf "fixed_points[%d].condition" i
                    if c.ValueKind <> JsonValueKind.String then Check.fail where "expected a string"
                    match conditions |> Array.tryFind (fun k -> k.Name = c.GetString()) with
                    | None -> Check.fail where (sprintf "no condition is named '%s'" (c.GetString()))
                    | Some k when (Conditions.indexOf [| k |] points[i]).IsNone -> Check.fail where (sprintf "the point's input is not condition '%s''s input" k.Name)
                    | Some _ -> ()
                | _ -> ()
            conditions

    /// The conditions a file names (`saveWithConditions`, or `saveWith` with `Conditions`); an empty array for a file without them (every file
    /// written before conditions existed). Problems raise `FileFormatError` naming the file and key.
    let loadConditions (path: string) : Condition[] = FileFormat.load Format [ Version, conditionsOfJson ] path

    /// Reads fixed points; Jacobians and eigenvectors are not stored unless the file was written with
    /// `FixedPointFileOptions.Linearisation` (else `Linearisation = None`; `Search = None` always:
    /// `FixedPoints.analyse` recomputes the linearisation from the model). Every problem raises
    /// `FileFormatError` naming the file and key.
    let load (path: string) : FixedPoint[] = FileFormat.load Format [ Version, ofJson ] path

    let private certificatesOf (root: JsonElement) : Certificate option[] =
        let list = required root "fixed_points" "file"
        if list.ValueKind <> JsonValueKind.Array then Check.fail "fixed_points" "expected an array"
        [| for i, e in Seq.indexed (list.EnumerateArray()) ->
            let where = sprintf "fixed_points[%d].certificate" i
            match e.TryGetProperty "certificate" with
            | true, c when c.ValueKind = JsonValueKind.Object ->
                match (required c "certified" where).ValueKind with
                | JsonValueKind.True ->
                    Some(Certificate.Certified(number (where + ".radius") (required c "radius" where), number (where + ".error_bound") (required c "error_bound" where)))
                | JsonValueKind.False ->
                    let reason = required c "reason" where
                    if reason.ValueKind <> JsonValueKind.String then Check.fail (where + ".reason") "expected a string"
                    Some(Certificate.NotCertified(reason.GetString()))
                | _ -> Check.fail (where + ".certified") "expected true or false"
            | true, _ -> Check.fail where "expected an object"
            | _ -> None |]

    /// The certificates stored with the points (`FixedPointFileOptions.Certificates`), one per point
    /// in the file's order: None for a point without one (every point of a file written without them).
    let loadCertificates (path: string) : Certificate option[] =
        FileFormat.load Format [ Version, (fun root -> ofJson root |> ignore; certificatesOf root) ] path

    let private selectionOf (root: JsonElement) : FixedPointSelection option =
        match root.TryGetProperty "selection" with
        | false, _ -> None
        | true, top ->
            if top.ValueKind <> JsonValueKind.Object then Check.fail "selection" "expected { \"measure\": .., \"tolerance\": .. }"
            let measure =
                let m = required top "measure" "selection"
                match (if m.ValueKind = JsonValueKind.String then m.GetString() else "") with
                | "map" -> SlowModeMeasure.Map
                | "continuous" -> SlowModeMeasure.Continuous
                | _ -> Check.fail "selection.measure" (sprintf "expected \"map\" or \"continuous\", got %s" (m.GetRawText()))
            let tolerance = number "selection.tolerance" (required top "tolerance" "selection")
            let points = ofJson root
            let list = (required root "fixed_points" "file").EnumerateArray() |> Array.ofSeq
            let complexOf (at: string) (e: JsonElement) =
                if e.ValueKind <> JsonValueKind.Object then Check.fail at "expected { \"re\": x, \"im\": y }"
                Complex(number (at + ".re") (required e "re" at), number (at + ".im") (required e "im" at))
            let complexVectorOf (at: string) (e: JsonElement) (n: int) =
                if e.ValueKind <> JsonValueKind.Object then Check.fail at "expected { \"re\": [..], \"im\": [..] }"
                let re, im = vector (at + ".re") (required e "re" at), vector (at + ".im") (required e "im" at)
                if re.Length <> n || im.Length <> n then Check.fail at (sprintf "expected %d values (the state's) in re and im" n)
                Array.map2 (fun a b -> Complex(a, b)) re im
            let modes =
                Array.init list.Length (fun i ->
                    let where = sprintf "fixed_points[%d].selection" i
                    let n, m = points[i].State.Length, points[i].Input.Length
                    match list[i].TryGetProperty "selection" with
                    | false, _ -> Check.fail where "missing: a file with a selection has one (maybe empty) per point"
                    | true, arr when arr.ValueKind <> JsonValueKind.Array -> Check.fail where "expected an array"
                    | true, arr ->
                        [| for k, e in Seq.indexed (arr.EnumerateArray()) ->
                            let at = sprintf "%s[%d]" where k
                            if e.ValueKind <> JsonValueKind.Object then Check.fail at "expected an object"
                            let mode = integer (at + ".mode") (required e "mode" at)
                            if mode < 0 || mode >= n then Check.fail (at + ".mode") (sprintf "expected 0..%d" (n - 1))
                            let inputs = required e "inputs" at
                            if inputs.ValueKind <> JsonValueKind.Array then Check.fail (at + ".inputs") "expected an array"
                            { Mode = mode
                              Eigenvalue = complexOf (at + ".eigenvalue") (required e "eigenvalue" at)
                              ContinuousEigenvalue =
                                match e.TryGetProperty "continuous_eigenvalue" with
                                | true, c -> Some(complexOf (at + ".continuous_eigenvalue") c)
                                | _ -> None
                              Right = complexVectorOf (at + ".right_eigenvector") (required e "right_eigenvector" at) n
                              Left = complexVectorOf (at + ".left_eigenvector") (required e "left_eigenvector" at) n
                              Inputs =
                                [| for j, u in Seq.indexed (inputs.EnumerateArray()) ->
                                    let ut = sprintf "%s.inputs[%d]" at j
                                    if u.ValueKind <> JsonValueKind.Object then Check.fail ut "expected an object"
                                    let sized name count =
                                        let v = vector (ut + "." + name) (required u name ut)
                                        if v.Length <> count then Check.fail (ut + "." + name) (sprintf "expected %d values" count)
                                        v
                                    { Direction = sized "direction" m
                                      Integrated = complexOf (ut + ".integrated") (required u "integrated" ut)
                                      Displacement = sized "displacement" n
                                      EndState = sized "end_state" n } |] } |])
            Some { Measure = measure; Tolerance = tolerance; Modes = modes }

    /// The slow modes and selection vectors stored with the points (`FixedPointFileOptions.Selection`):
    /// None for a file written without them. Problems raise `FileFormatError` naming the file and key.
    let loadSelection (path: string) : FixedPointSelection option = FileFormat.load Format [ Version, selectionOf ] path
