namespace RnnFun

open System
open System.IO
open System.Text.Json

/// The comparison file format `rnnfun.comparison`, version 1: a JSON object
///
/// ```json
/// { "format": "rnnfun.comparison",
///   "version": 1,
///   "names": ["a.json", "b.json"],
///   "svcca": [[0, 0.41], [0.41, 0]],
///   "procrustes": [[0, 0.72], [0.72, 0]],
///   "dynamics": [[0, 0.3], [0.3, 0]],
///   "topology": [[0, 2], [2, 0]],
///   "isomorphic": [[true, false], [false, true]],
///   "embeddings": { "svcca": [[0.2, 0], [-0.2, 0]], "procrustes": [...], "dynamics": [...], "topology": [...] } }
/// ```
///
/// - `format`, `version`: required. `names`: K strings. `svcca`, `procrustes`, `dynamics`: K x K
///   matrices of finite numbers (SVCCA distance; angular Procrustes and dynamical distances in
///   radians). `topology` and `isomorphic`: K x K, or empty arrays when no topology was compared.
/// - `embeddings`: per metric, K rows of 2 classical-MDS coordinates.
/// - No other keys. Every problem raises `FileFormatError` naming the file and the key.
[<RequireQualifiedAccess>]
module ComparisonFile =
    [<Literal>]
    let Format = "rnnfun.comparison"

    [<Literal>]
    let Version = 1

    let write (stream: Stream) (c: Comparison) =
        use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
        let matrix (name: string) (m: float[][]) =
            w.WriteStartArray(name)
            for row in m do
                w.WriteStartArray()
                for v in row do w.WriteNumberValue v
                w.WriteEndArray()
            w.WriteEndArray()
        w.WriteStartObject()
        w.WriteString("format", Format)
        w.WriteNumber("version", Version)
        w.WriteStartArray("names")
        for n in c.Names do w.WriteStringValue n
        w.WriteEndArray()
        matrix "svcca" c.Svcca
        matrix "procrustes" c.Procrustes
        matrix "dynamics" c.Dynamics
        matrix "topology" c.Topology
        w.WriteStartArray("isomorphic")
        for row in c.Isomorphic do
            w.WriteStartArray()
            for v in row do w.WriteBooleanValue v
            w.WriteEndArray()
        w.WriteEndArray()
        w.WriteStartObject("embeddings")
        for KeyValue (name, m) in c.Embeddings do matrix name m
        w.WriteEndObject()
        w.WriteEndObject()
        w.Flush()

    /// Saves a comparison, atomically. A non-finite distance is refused (`InvalidArgument`).
    let save (path: string) (c: Comparison) =
        for name, m in [ "svcca", c.Svcca; "procrustes", c.Procrustes; "dynamics", c.Dynamics; "topology", c.Topology ] do
            Check.allFinite name (Array.concat m)
        FileFormat.writeAtomically path (fun s -> write s c)

    let private ofJson (root: JsonElement) : Comparison =
        JsonRead.onlyKeys "file" [ "format"; "version"; "names"; "svcca"; "procrustes"; "dynamics"; "topology"; "isomorphic"; "embeddings" ] root
        let names = JsonRead.array "names" (JsonRead.required root "names" "names") |> Array.mapi (fun i e -> JsonRead.text (sprintf "names[%d]" i) e)
        let k = names.Length
        let square name =
            let m = JsonRead.matrix name (JsonRead.required root name name)
            if m.Length <> k || m |> Array.exists (fun r -> r.Length <> k) then Check.fail name (sprintf "expected a %d x %d matrix (one row and column per name)" k k)
            m
        let topology = JsonRead.matrix "topology" (JsonRead.required root "topology" "topology")
        if topology.Length <> 0 && (topology.Length <> k || topology |> Array.exists (fun r -> r.Length <> k)) then
            Check.fail "topology" (sprintf "expected a %d x %d matrix or an empty array" k k)
        let isomorphic =
            JsonRead.array "isomorphic" (JsonRead.required root "isomorphic" "isomorphic")
            |> Array.mapi (fun i row -> JsonRead.array (sprintf "isomorphic[%d]" i) row |> Array.mapi (fun j v -> JsonRead.boolean (sprintf "isomorphic[%d][%d]" i j) v))
        if isomorphic.Length <> topology.Length then Check.fail "isomorphic" "expected as many rows as topology"
        let embeddings =
            let e = JsonRead.required root "embeddings" "embeddings"
            [ for p in e.EnumerateObject() -> p.Name, JsonRead.matrix ("embeddings." + p.Name) p.Value ] |> Map.ofList
        { Names = names; Svcca = square "svcca"; Procrustes = square "procrustes"; Dynamics = square "dynamics"
          Topology = topology; Isomorphic = isomorphic; Embeddings = embeddings }

    /// Loads a comparison file. Raises `FileFormatError` naming the file and the problem.
    let load (path: string) : Comparison = FileFormat.load Format [ Version, ofJson ] path
