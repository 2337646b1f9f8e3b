namespace RnnFun

open System
open System.IO
open System.Numerics
open System.Text.Json

/// The continuation file format `rnnfun.continuation`, version 1 (docs/formats.md): the branches
/// of a continuation with their eigenvalues, and the located bifurcations. Written by `rnnfun
/// continue`; `load` reads it back. A non-finite part of an eigenvalue is written as null (read back
/// as NaN); a non-finite parameter or state is refused.
[<RequireQualifiedAccess>]
module ContinuationFile =
    [<Literal>]
    let Format = "rnnfun.continuation"

    [<Literal>]
    let Version = 1

    /// Writes a continuation to a stream, with the period-2 branches of its flips (`PeriodTwo.trace`)
    /// as `period_two` when there are any.
    let writeWith (periodTwo: PeriodTwoBranch[]) (stream: Stream) (r: ContinuationResult) =
        use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
        let numbers (name: string) (values: float[]) =
            w.WriteStartArray name
            for v in values do w.WriteNumberValue v
            w.WriteEndArray()
        // An eigenvalue the solver could not compute (NaN) is written as null: JSON has no NaN.
        let part (name: string) (v: float) = if Double.IsFinite v then w.WriteNumber(name, v) else w.WriteNull(name)
        let complex (l: Complex) =
            w.WriteStartObject()
            part "re" l.Real
            part "im" l.Imaginary
            w.WriteEndObject()
        let complexes (name: string) (values: Complex[]) =
            w.WriteStartArray name
            for l in values do complex l
            w.WriteEndArray()
        w.WriteStartObject()
        w.WriteString("format", Format)
        w.WriteNumber("version", Version)
        w.WriteStartObject "parameter"
        match r.Parameter with
        | ContinuationParameter.Input (b, d) ->
            w.WriteString("kind", "input")
            numbers "base_input" b
            numbers "direction" d
        | ContinuationParameter.RecurrentScale u ->
            w.WriteString("kind", "recurrent_scale")
            numbers "input" u
        w.WriteEndObject()
        w.WriteNumber("start", r.Start)
        w.WriteNumber("end", r.End)
        w.WriteNumber("start_points", r.StartPoints)
        w.WriteStartArray "branches"
        for b in r.Branches do
            w.WriteStartObject()
            w.WriteNumber("id", b.Id)
            w.WriteNumber("parent", b.Parent)
            w.WriteString("ending", Continuation.endingName b.Ending)
            match b.Ending with
            | BranchEnding.Merged k -> w.WriteNumber("merged_into_start", k)
            | _ -> ()
            numbers "parameter" b.Parameter
            w.WriteStartArray "states"
            for s in b.States do
                w.WriteStartArray()
                for v in s do w.WriteNumberValue v
                w.WriteEndArray()
            w.WriteEndArray()
            w.WriteStartArray "eigenvalues"
            for ls in b.Eigenvalues do
                w.WriteStartArray()
                for l in ls do complex l
                w.WriteEndArray()
            w.WriteEndArray()
            w.WriteStartArray "n_unstable_modes"
            for u in b.UnstableModes do w.WriteNumberValue u
            w.WriteEndArray()
            w.WriteStartArray "stable"
            for s in b.Stable do w.WriteBooleanValue s
            w.WriteEndArray()
            w.WriteEndObject()
        w.WriteEndArray()
        w.WriteStartArray "events"
        for e in r.Events do
            w.WriteStartObject()
            w.WriteString("kind", Continuation.kindName e.Kind)
            w.WriteNumber("branch", e.Branch)
            w.WriteNumber("parameter", e.Parameter)
            numbers "state" e.State
            w.WriteStartObject "eigenvalue"
            part "re" e.Eigenvalue.Real
            part "im" e.Eigenvalue.Imaginary
            w.WriteEndObject()
            w.WriteNumber("crossing", e.Crossing)
            complexes "eigenvalues" e.Eigenvalues
            w.WriteStartArray "new_branches"
            for k in e.NewBranches do w.WriteNumberValue k
            w.WriteEndArray()
            w.WriteEndObject()
        w.WriteEndArray()
        if not (isNull periodTwo) && periodTwo.Length > 0 then
            w.WriteStartArray "period_two"
            for b in periodTwo do
                w.WriteStartObject()
                w.WriteNumber("from_branch", b.FromBranch)
                w.WriteNumber("flip_parameter", b.FlipParameter)
                numbers "flip_state" b.FlipState
                numbers "parameter" b.Parameter
                for name, rows in [ "states", b.States; "partners", b.Partners ] do
                    w.WriteStartArray(name: string)
                    for x in rows do
                        w.WriteStartArray()
                        for v in x do w.WriteNumberValue v
                        w.WriteEndArray()
                    w.WriteEndArray()
                w.WriteStartArray "multipliers"
                for ls in b.Multipliers do
                    w.WriteStartArray()
                    for l in ls do complex l
                    w.WriteEndArray()
                w.WriteEndArray()
                w.WriteStartArray "stable"
                for v in b.Stable do w.WriteBooleanValue v
                w.WriteEndArray()
                w.WriteString("ending", Continuation.endingName b.Ending)
                match b.Ending with
                | BranchEnding.Merged k -> w.WriteNumber("merged_into", k)
                | _ -> ()
                w.WriteEndObject()
            w.WriteEndArray()
        w.WriteEndObject()
        w.Flush()

    /// Writes a continuation to a stream.
    let write (stream: Stream) (r: ContinuationResult) = writeWith [||] stream r

    /// `InvalidArgument` naming the first non-finite parameter value or state entry (eigenvalues may
    /// be NaN: they are written as null).
    let private checkFinite (r: ContinuationResult) =
        Check.allFinite "start" [ r.Start; r.End ]
        for b in r.Branches do
            Check.allFinite (sprintf "branches[%d].parameter" b.Id) b.Parameter
            b.States |> Array.iteri (fun k x -> Check.allFinite (sprintf "branches[%d].states[%d]" b.Id k) x)
        for i, e in Array.indexed r.Events do
            Check.allFinite (sprintf "events[%d].parameter" i) [ e.Parameter ]
            Check.allFinite (sprintf "events[%d].state" i) e.State
        match r.Parameter with
        | ContinuationParameter.Input (b, d) -> Check.allFinite "parameter.base_input" b; Check.allFinite "parameter.direction" d
        | ContinuationParameter.RecurrentScale u -> Check.allFinite "parameter.input" u

    /// Saves a continuation to a file, atomically (see `FileFormat.writeAtomically`). A NaN or Inf
    /// parameter value or state is refused (`InvalidArgument` naming it); NaN eigenvalues are
    /// written as null.
    let save (path: string) (r: ContinuationResult) =
        checkFinite r
        FileFormat.writeAtomically path (fun s -> write s r)

    /// `save` with the period-2 branches of the flips (`PeriodTwo.ofContinuation`); their states and
    /// parameter values must be finite too.
    let saveWith (periodTwo: PeriodTwoBranch[]) (path: string) (r: ContinuationResult) =
        checkFinite r
        for i, b in Array.indexed periodTwo do
            Check.allFinite (sprintf "period_two[%d].parameter" i) b.Parameter
            b.States |> Array.iteri (fun k x -> Check.allFinite (sprintf "period_two[%d].states[%d]" i k) x)
            b.Partners |> Array.iteri (fun k x -> Check.allFinite (sprintf "period_two[%d].partners[%d]" i k) x)
        FileFormat.writeAtomically path (fun s -> writeWith periodTwo s r)

    let private complexOf (at: string) (e: JsonElement) =
        if e.ValueKind <> JsonValueKind.Object then Check.fail at "expected { \"re\": x, \"im\": y }"
        let part name =
            let v = JsonRead.required e name (at + "." + name)
            if v.ValueKind = JsonValueKind.Null then nan else JsonRead.number (at + "." + name) v
        Complex(part "re", part "im")

    let private kindOf (at: string) (name: string) =
        match name with
        | "fold" -> BifurcationKind.Fold
        | "pitchfork" -> BifurcationKind.Pitchfork
        | "transcritical" -> BifurcationKind.Transcritical
        | "branch-point" -> BifurcationKind.BranchPoint
        | "flip" -> BifurcationKind.Flip
        | "neimark-sacker" -> BifurcationKind.NeimarkSacker
        | other -> Check.fail at (sprintf "expected fold, pitchfork, transcritical, branch-point, flip or neimark-sacker, got '%s'" other)

    let private ofJson (root: JsonElement) : ContinuationResult =
        let get (e: JsonElement) name (at: string) = JsonRead.required e name (if at = "" then name else at + "." + name)
        let p = get root "parameter" ""
        let parameter =
            match JsonRead.text "parameter.kind" (get p "kind" "parameter") with
            | "input" -> ContinuationParameter.Input(JsonRead.vector "parameter.base_input" (get p "base_input" "parameter"), JsonRead.vector "parameter.direction" (get p "direction" "parameter"))
            | "recurrent_scale" -> ContinuationParameter.RecurrentScale(JsonRead.vector "parameter.input" (get p "input" "parameter"))
            | other -> Check.fail "parameter.kind" (sprintf "expected input or recurrent_scale, got '%s'" other)
        let branches =
            JsonRead.array "branches" (get root "branches" "")
            |> Array.mapi (fun i b ->
                let at = sprintf "branches[%d]" i
                let values = JsonRead.vector (at + ".parameter") (get b "parameter" at)
                let n = values.Length
                let perPoint name (xs: 'a[]) =
                    if xs.Length <> n then Check.fail (at + "." + name) (sprintf "expected %d entries (one per parameter value), got %d" n xs.Length)
                    xs
                let ending =
                    match JsonRead.text (at + ".ending") (get b "ending" at) with
                    | "range" -> BranchEnding.Range
                    | "merged" -> BranchEnding.Merged(JsonRead.integer (at + ".merged_into_start") (get b "merged_into_start" at))
                    | "closed" -> BranchEnding.Closed
                    | "max-steps" -> BranchEnding.MaxSteps
                    | "step-too-small" -> BranchEnding.StepTooSmall
                    | other -> Check.fail (at + ".ending") (sprintf "expected range, merged, closed, max-steps or step-too-small, got '%s'" other)
                { Id = JsonRead.integer (at + ".id") (get b "id" at)
                  Parent = JsonRead.integer (at + ".parent") (get b "parent" at)
                  Parameter = values
                  States = perPoint "states" (JsonRead.matrix (at + ".states") (get b "states" at))
                  Eigenvalues =
                    perPoint "eigenvalues" (
                        JsonRead.array (at + ".eigenvalues") (get b "eigenvalues" at)
                        |> Array.mapi (fun k ls -> JsonRead.array (sprintf "%s.eigenvalues[%d]" at k) ls |> Array.mapi (fun j l -> complexOf (sprintf "%s.eigenvalues[%d][%d]" at k j) l)))
                  UnstableModes = perPoint "n_unstable_modes" (JsonRead.array (at + ".n_unstable_modes") (get b "n_unstable_modes" at) |> Array.mapi (fun k v -> JsonRead.integer (sprintf "%s.n_unstable_modes[%d]" at k) v))
                  Stable = perPoint "stable" (JsonRead.array (at + ".stable") (get b "stable" at) |> Array.mapi (fun k v -> JsonRead.boolean (sprintf "%s.stable[%d]" at k) v))
                  Ending = ending })
        let events =
            JsonRead.array "events" (get root "events" "")
            |> Array.mapi (fun i e ->
                let at = sprintf "events[%d]" i
                { Kind = kindOf (at + ".kind") (JsonRead.text (at + ".kind") (get e "kind" at))
                  Branch = JsonRead.integer (at + ".branch") (get e "branch" at)
                  Parameter = JsonRead.number (at + ".parameter") (get e "parameter" at)
                  State = JsonRead.vector (at + ".state") (get e "state" at)
                  Eigenvalue = complexOf (at + ".eigenvalue") (get e "eigenvalue" at)
                  Crossing = JsonRead.integer (at + ".crossing") (get e "crossing" at)
                  Eigenvalues = JsonRead.array (at + ".eigenvalues") (get e "eigenvalues" at) |> Array.mapi (fun j l -> complexOf (sprintf "%s.eigenvalues[%d]" at j) l)
                  NewBranches = JsonRead.array (at + ".new_branches") (get e "new_branches" at) |> Array.mapi (fun j v -> JsonRead.integer (sprintf "%s.new_branches[%d]" at j) v) })
        { Parameter = parameter
          Start = JsonRead.number "start" (get root "start" "")
          End = JsonRead.number "end" (get root "end" "")
          StartPoints = JsonRead.integer "start_points" (get root "start_points" "")
          Branches = branches
          Events = events
          Elapsed = TimeSpan.Zero }

    /// Reads a continuation back (`Elapsed` is not stored: zero). Every problem raises
    /// `FileFormatError` naming the file and key.
    let load (path: string) : ContinuationResult = FileFormat.load Format [ Version, ofJson ] path

    let private periodTwoOf (root: JsonElement) : PeriodTwoBranch[] =
        match JsonRead.optional root "period_two" with
        | None -> [||]
        | Some list ->
            JsonRead.array "period_two" list
            |> Array.mapi (fun i b ->
                let at = sprintf "period_two[%d]" i
                let get name = JsonRead.required b name (at + "." + name)
                let values = JsonRead.vector (at + ".parameter") (get "parameter")
                let perPoint name (xs: 'a[]) =
                    if xs.Length <> values.Length then Check.fail (at + "." + name) (sprintf "expected %d entries (one per parameter value), got %d" values.Length xs.Length)
                    xs
                { FromBranch = JsonRead.integer (at + ".from_branch") (get "from_branch")
                  FlipParameter = JsonRead.number (at + ".flip_parameter") (get "flip_parameter")
                  FlipState = JsonRead.vector (at + ".flip_state") (get "flip_state")
                  Parameter = values
                  States = perPoint "states" (JsonRead.matrix (at + ".states") (get "states"))
                  Partners = perPoint "partners" (JsonRead.matrix (at + ".partners") (get "partners"))
                  Multipliers =
                    perPoint "multipliers" (
                        JsonRead.array (at + ".multipliers") (get "multipliers")
                        |> Array.mapi (fun k ls -> JsonRead.array (sprintf "%s.multipliers[%d]" at k) ls |> Array.mapi (fun j l -> complexOf (sprintf "%s.multipliers[%d][%d]" at k j) l)))
                  Stable = perPoint "stable" (JsonRead.array (at + ".stable") (get "stable") |> Array.mapi (fun k v -> JsonRead.boolean (sprintf "%s.stable[%d]" at k) v))
                  Ending =
                    match JsonRead.text (at + ".ending") (get "ending") with
                    | "range" -> BranchEnding.Range
                    | "merged" -> BranchEnding.Merged(JsonRead.integer (at + ".merged_into") (get "merged_into"))
                    | "closed" -> BranchEnding.Closed
                    | "max-steps" -> BranchEnding.MaxSteps
                    | "step-too-small" -> BranchEnding.StepTooSmall
                    | other -> Check.fail (at + ".ending") (sprintf "expected range, merged, closed, max-steps or step-too-small, got '%s'" other) })

    /// The period-2 branches stored with a continuation (`saveWith`); empty for a file without them.
    let loadPeriodTwo (path: string) : PeriodTwoBranch[] = FileFormat.load Format [ Version, periodTwoOf ] path
