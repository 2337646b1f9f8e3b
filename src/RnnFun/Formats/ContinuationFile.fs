namespace RnnFun

open System.IO
open System.Numerics
open System.Text.Json

/// The continuation file format `rnnfun.continuation`, version 1 (docs/formats.md): the branches
/// of a continuation with their eigenvalues, and the located bifurcations. Written by `rnnfun
/// continue`; an output format (no reader).
[<RequireQualifiedAccess>]
module ContinuationFile =
    [<Literal>]
    let Format = "rnnfun.continuation"

    [<Literal>]
    let Version = 1

    /// Writes a continuation to a stream.
    let write (stream: Stream) (r: ContinuationResult) =
        use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
        let numbers (name: string) (values: float[]) =
            w.WriteStartArray name
            for v in values do w.WriteNumberValue v
            w.WriteEndArray()
        let complex (l: Complex) =
            w.WriteStartObject()
            w.WriteNumber("re", l.Real)
            w.WriteNumber("im", l.Imaginary)
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
            w.WriteNumber("re", e.Eigenvalue.Real)
            w.WriteNumber("im", e.Eigenvalue.Imaginary)
            w.WriteEndObject()
            w.WriteNumber("crossing", e.Crossing)
            complexes "eigenvalues" e.Eigenvalues
            w.WriteStartArray "new_branches"
            for k in e.NewBranches do w.WriteNumberValue k
            w.WriteEndArray()
            w.WriteEndObject()
        w.WriteEndArray()
        w.WriteEndObject()
        w.Flush()

    /// Saves a continuation to a file, atomically (see `FileFormat.writeAtomically`).
    let save (path: string) (r: ContinuationResult) = FileFormat.writeAtomically path (fun s -> write s r)
