namespace RnnFun

open System
open System.Collections.Generic
open System.IO
open System.Text.Json

/// The topology file format `rnnfun.topology`, version 1: a JSON object
///
/// ```json
/// { "format": "rnnfun.topology",
///   "version": 1,
///   "config": { "runs_per_point": 64, "noise": 0.1, "unstable_step": 0.01, "arrival_distance": 0.15,
///               "max_steps": 1000, "seed": 0, "precision": "float64" },
///   "input": [0.0],
///   "vertices": [ { "id": 0, "unstable_modes": 1, "kind": "saddle",
///                   "runs": { "noise": 64, "unstable": 2 }, "unreached": { "noise": 0, "unstable": 0 } } ],
///   "edges": [ { "from": 0, "to": 3, "method": "unstable", "count": 1, "probability": 0.5 } ] }
/// ```
///
/// - `format` (string, "rnnfun.topology") and `version` (integer, 1): required.
/// - `config`: the settings of `Topology.build`, all required: `runs_per_point` (integer >= 1, noise
///   runs per point), `noise` (number > 0, std of the isotropic Gaussian), `unstable_step` (number
///   > 0, step along each unstable eigen-direction, both signs), `arrival_distance` (number > 0),
///   `max_steps` (integer >= 1), `seed` (integer), `precision` ("float32" or "float64").
/// - `input`: the constant input the runs were stepped under (array of finite numbers).
/// - `vertices`: one object per fixed point: `id` (integer, distinct), `unstable_modes` (integer
///   >= 0), `kind` ("attractor", "saddle", "repeller" or "marginal"), `runs` and `unreached`
///   (objects `{ "noise": n, "unstable": n }` of integers >= 0; the runs started from the point
///   and, of those, the ones that reached no fixed point within `max_steps`; unreached <= runs).
/// - `edges`: one object per (from, to, method) with at least one run: `from` and `to` (ids of
///   vertices in the file; equal for a self-loop), `method` ("noise" or "unstable"), `count`
///   (integer >= 1) and `probability` (number in [0, 1], = count / that vertex's runs of that
///   method). A (from, to, method) appears at most once; per vertex and method, the edges' counts
///   plus the unreached runs add up to the runs.
/// - No other keys. Every problem raises `FileFormatError` naming the file and the key.
[<RequireQualifiedAccess>]
module TopologyFile =
    /// The value of the `format` key.
    [<Literal>]
    let Format = "rnnfun.topology"

    /// The version this RnnFun writes and reads.
    [<Literal>]
    let Version = 1

    let private methodText (m: RunMethod) =
        match m with
        | RunMethod.Noise -> "noise"
        | RunMethod.UnstableMode -> "unstable"

    let private kindText = FixedPoints.kindName

    let private precisionText (p: Precision) =
        match p with
        | Precision.Float32 -> "float32"
        | Precision.Float64 -> "float64"

    /// Writes the topology to a stream in the topology format.
    let write (stream: Stream) (t: Topology) =
        use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
        let counts (name: string) (c: RunCounts) =
            w.WriteStartObject(name)
            w.WriteNumber("noise", c.Noise)
            w.WriteNumber("unstable", c.Unstable)
            w.WriteEndObject()
        w.WriteStartObject()
        w.WriteString("format", Format)
        w.WriteNumber("version", Version)
        let c = t.Config
        w.WriteStartObject("config")
        w.WriteNumber("runs_per_point", c.RunsPerPoint)
        w.WriteNumber("noise", c.Noise)
        w.WriteNumber("unstable_step", c.UnstableStep)
        w.WriteNumber("arrival_distance", c.ArrivalDistance)
        w.WriteNumber("max_steps", c.MaxSteps)
        w.WriteNumber("seed", c.Seed)
        w.WriteString("precision", precisionText c.Precision)
        w.WriteEndObject()
        w.WriteStartArray("input")
        for x in t.Input do w.WriteNumberValue(x)
        w.WriteEndArray()
        w.WriteStartArray("vertices")
        for v in t.Vertices do
            w.WriteStartObject()
            w.WriteNumber("id", v.Id)
            w.WriteNumber("unstable_modes", v.UnstableModes)
            w.WriteString("kind", kindText v.Kind)
            counts "runs" v.Runs
            counts "unreached" v.Unreached
            w.WriteEndObject()
        w.WriteEndArray()
        w.WriteStartArray("edges")
        for e in t.Edges do
            w.WriteStartObject()
            w.WriteNumber("from", e.From)
            w.WriteNumber("to", e.To)
            w.WriteString("method", methodText e.Method)
            w.WriteNumber("count", e.Count)
            w.WriteNumber("probability", e.Probability)
            w.WriteEndObject()
        w.WriteEndArray()
        w.WriteEndObject()
        w.Flush()

    /// Saves a topology to a file, atomically (see `FileFormat.writeAtomically`). A topology with a
    /// non-finite number is refused (`InvalidArgument`), and the previous file stays as it was.
    let save (path: string) (t: Topology) =
        Topology.checkConfig "" t.Config
        Check.allFinite "input" t.Input
        Check.allFinite "edges" (t.Edges |> Seq.map (fun e -> e.Probability))
        FileFormat.writeAtomically path (fun s -> write s t)

    let private required = JsonRead.required
    let private number = JsonRead.number
    let private integer = JsonRead.integer

    let private atLeast name (low: int) (v: int) =
        if v < low then Check.fail name (sprintf "expected an integer >= %d, got %d" low v)
        v

    let private text = JsonRead.text
    let private array = JsonRead.array
    let private onlyKeys = JsonRead.onlyKeys

    let private choice name (options: (string * 'a) list) (e: JsonElement) =
        let s = text name e
        match options |> List.tryFind (fun (k, _) -> k = s) with
        | Some (_, v) -> v
        | None -> Check.fail name (sprintf "expected one of %s, got \"%s\"" (options |> List.map (fun (k, _) -> "\"" + k + "\"") |> String.concat ", ") s)

    let private counts name (e: JsonElement) : RunCounts =
        onlyKeys name [ "noise"; "unstable" ] e
        { Noise = required e "noise" (name + ".noise") |> integer (name + ".noise") |> atLeast (name + ".noise") 0
          Unstable = required e "unstable" (name + ".unstable") |> integer (name + ".unstable") |> atLeast (name + ".unstable") 0 }

    /// Reads a topology from a parsed version-1 document. Raises `InvalidArgument` naming the key.
    let private ofJson (root: JsonElement) : Topology =
        onlyKeys "file" [ "format"; "version"; "config"; "input"; "vertices"; "edges" ] root
        let c = required root "config" "config"
        onlyKeys "config" [ "runs_per_point"; "noise"; "unstable_step"; "arrival_distance"; "max_steps"; "seed"; "precision" ] c
        let key k = "config." + k
        let config =
            { RunsPerPoint = required c "runs_per_point" (key "runs_per_point") |> integer (key "runs_per_point")
              Noise = required c "noise" (key "noise") |> number (key "noise")
              UnstableStep = required c "unstable_step" (key "unstable_step") |> number (key "unstable_step")
              ArrivalDistance = required c "arrival_distance" (key "arrival_distance") |> number (key "arrival_distance")
              MaxSteps = required c "max_steps" (key "max_steps") |> integer (key "max_steps")
              Seed = required c "seed" (key "seed") |> integer (key "seed")
              Precision = required c "precision" (key "precision") |> choice (key "precision") [ "float32", Precision.Float32; "float64", Precision.Float64 ] }
        Topology.checkConfig "config." config
        let input = required root "input" "input" |> array "input" |> Array.mapi (fun i x -> number (sprintf "input[%d]" i) x)
        let vertices =
            required root "vertices" "vertices"
            |> array "vertices"
            |> Array.mapi (fun i v ->
                let name k = sprintf "vertices[%d].%s" i k
                onlyKeys (sprintf "vertices[%d]" i) [ "id"; "unstable_modes"; "kind"; "runs"; "unreached" ] v
                let runs = required v "runs" (name "runs") |> counts (name "runs")
                let unreached = required v "unreached" (name "unreached") |> counts (name "unreached")
                if unreached.Noise > runs.Noise || unreached.Unstable > runs.Unstable then
                    Check.fail (name "unreached") (sprintf "more unreached runs (%d noise, %d unstable) than runs (%d, %d)" unreached.Noise unreached.Unstable runs.Noise runs.Unstable)
                { Id = required v "id" (name "id") |> integer (name "id")
                  UnstableModes = required v "unstable_modes" (name "unstable_modes") |> integer (name "unstable_modes") |> atLeast (name "unstable_modes") 0
                  Kind =
                    required v "kind" (name "kind")
                    |> choice (name "kind") [ "attractor", FixedPointKind.Attractor; "saddle", FixedPointKind.Saddle; "repeller", FixedPointKind.Repeller; "marginal", FixedPointKind.Marginal ]
                  Runs = runs
                  Unreached = unreached })
        let byId = Dictionary<int, int>()
        vertices |> Array.iteri (fun i v ->
            if byId.ContainsKey v.Id then Check.fail (sprintf "vertices[%d].id" i) (sprintf "id %d is used twice (also vertices[%d])" v.Id byId[v.Id])
            byId[v.Id] <- i)
        let seen = HashSet<int * int * RunMethod>()
        let edges =
            required root "edges" "edges"
            |> array "edges"
            |> Array.mapi (fun i e ->
                let name k = sprintf "edges[%d].%s" i k
                onlyKeys (sprintf "edges[%d]" i) [ "from"; "to"; "method"; "count"; "probability" ] e
                let vertex k =
                    let id = required e k (name k) |> integer (name k)
                    if not (byId.ContainsKey id) then Check.fail (name k) (sprintf "no vertex has id %d" id)
                    id
                let from = vertex "from"
                let target = vertex "to"
                let method = required e "method" (name "method") |> choice (name "method") [ "noise", RunMethod.Noise; "unstable", RunMethod.UnstableMode ]
                let count = required e "count" (name "count") |> integer (name "count") |> atLeast (name "count") 1
                let probability = required e "probability" (name "probability") |> number (name "probability")
                if probability < 0.0 || probability > 1.0 then Check.fail (name "probability") (sprintf "expected a number in [0, 1], got %g" probability)
                if not (seen.Add((from, target, method))) then
                    Check.fail (sprintf "edges[%d]" i) (sprintf "a second %s edge from %d to %d" (methodText method) from target)
                let runs = vertices[byId[from]].Runs
                let total = match method with RunMethod.Noise -> runs.Noise | RunMethod.UnstableMode -> runs.Unstable
                if abs (probability - float count / float total) > 1e-9 then
                    Check.fail (name "probability") (sprintf "%g is not count / runs = %d / %d (the %s runs of vertex %d)" probability count total (methodText method) from)
                { From = from; To = target; Method = method; Count = count; Probability = probability })
        vertices |> Array.iteri (fun i v ->
            for m in [ RunMethod.Noise; RunMethod.UnstableMode ] do
                let arrived = edges |> Array.filter (fun e -> e.From = v.Id && e.Method = m) |> Array.sumBy (fun e -> e.Count)
                let runs, unreached = match m with RunMethod.Noise -> v.Runs.Noise, v.Unreached.Noise | RunMethod.UnstableMode -> v.Runs.Unstable, v.Unreached.Unstable
                if arrived + unreached <> runs then
                    Check.fail (sprintf "vertices[%d]" i) (sprintf "%d %s runs, but the edges from vertex %d count %d and %d are unreached" runs (methodText m) v.Id arrived unreached))
        { Config = config
          Input = input
          Vertices = vertices
          Edges = edges
          Unreached = vertices |> Array.sumBy (fun v -> v.Unreached.Noise + v.Unreached.Unstable) }

    /// Reads a topology file. Every problem raises `FileFormatError` naming the file and the
    /// problem (with the key it concerns).
    let load (path: string) : Topology = FileFormat.load Format [ Version, ofJson ] path
