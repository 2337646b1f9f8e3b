module RnnFun.Tests.TopologyTests

open System
open System.IO
open System.Numerics
open Expecto
open RnnFun

/// a* solves a = tanh(2a): found by bisection, independent of the library.
let private aStar =
    let mutable lo, hi = 0.5, 1.0
    for _ in 1 .. 200 do
        let mid = (lo + hi) / 2.0
        if mid - tanh (2.0 * mid) < 0.0 then lo <- mid else hi <- mid
    lo

/// W = 2I, 3 units, discrete: F(x) = tanh(2x) coordinate by coordinate.
let private network () = Network.scaledIdentity Kinds.rnn 3 2.0

let private zeroInput = [| 0.0 |]

/// The 27 fixed points of W = 2I, found once.
let private points =
    lazy
        (use net = network ()
         (FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same zeroInput) (InitialStates.uniformBox 1024 -1.5 1.5 3 0)).FixedPoints)

let private buildWith (config: TopologyConfig) (fps: FixedPoint[]) =
    use net = network ()
    Topology.build config net zeroInput fps

/// The default topology of the 27 points, built once.
let private defaultTopology = lazy (buildWith TopologyConfig.defaults points.Value)

/// A fixed point's coordinates as signs: -1 (-a*), 0 or +1 (+a*).
let private signs (x: float[]) = x |> Array.map (fun c -> if abs c < 1e-6 then 0 elif c > 0.0 then 1 else -1)

let private idOfSigns = lazy (points.Value |> Array.map (fun p -> signs p.State, p.Id) |> Map.ofArray)

let private unstableEdges (t: Topology) (id: int) =
    t.Edges |> Array.filter (fun e -> e.From = id && e.Method = RunMethod.UnstableMode)

let private noiseEdges (t: Topology) (id: int) =
    t.Edges |> Array.filter (fun e -> e.From = id && e.Method = RunMethod.Noise)

let private vertex (t: Topology) (id: int) = t.Vertices |> Array.find (fun v -> v.Id = id)

/// The analytic oracle for W = 2I: the unstable directions of a point are the axes of its zero
/// coordinates; a run along axis k with sign s only changes coordinate k, which goes to s a*, so it
/// arrives at the point with coordinate k set to s and the others unchanged, one run per target.
let private expectAnalyticUnstableEdges (t: Topology) (p: FixedPoint) =
    let s = signs p.State
    let zeros = [ for k in 0 .. 2 do if s[k] = 0 then k ]
    Expect.equal p.UnstableModes zeros.Length "unstable modes = zero coordinates"
    // Precondition of the oracle: the unstable eigenvectors are coordinate axes.
    for i in 0 .. p.UnstableModes - 1 do
        let v = (eigenvectorsOf p)[i] |> Array.map (fun c -> c.Real)
        let axis = v |> Array.findIndex (fun c -> abs c > 0.5)
        Expect.contains zeros axis (sprintf "eigenvector %d of point %d lies along a zero coordinate" i p.Id)
        Expect.isLessThan (v |> Array.mapi (fun j c -> if j = axis then 0.0 else abs c) |> Array.max) 1e-12 "eigenvector along an axis"
    let expected =
        [ for k in zeros do
              for sign in [ 1; -1 ] do
                  let target = Array.copy s
                  target[k] <- sign
                  idOfSigns.Value[target] ]
        |> Set.ofList
    Expect.equal expected.Count (2 * zeros.Length) "distinct targets"
    let edges = unstableEdges t p.Id
    Expect.equal (edges |> Array.map (fun e -> e.To) |> Set.ofArray) expected (sprintf "unstable runs from %A" s)
    for e in edges do
        Expect.equal e.Count 1 "one run per target"
        Expect.floatClose Accuracy.veryHigh e.Probability (1.0 / float (2 * zeros.Length)) "probability 1 / (2 x unstable modes)"
    let v = vertex t p.Id
    Expect.equal v.Runs.Unstable (2 * zeros.Length) "two runs per unstable mode"
    Expect.equal v.Unreached.Unstable 0 "all arrive"

/// The trajectory x_t = tanh(2 x_(t-1)) of one coordinate from x_0, t = 0 .. n.
let private orbit (x0: float) (n: int) = Array.scan (fun x _ -> tanh (2.0 * x)) x0 (Array.zeroCreate n)

let private distance (a: float[]) (b: float[]) = sqrt (Array.fold2 (fun acc x y -> acc + (x - y) ** 2.0) 0.0 a b)

/// The arrival rule written out directly on host arrays, for F(x) = tanh(2x): the index of the point
/// the run ends at, or -1.
let private referenceArrival (states: float[][]) (start: int) (x0: float[]) (d: float) (maxSteps: int) =
    let mutable x = x0
    let mutable left = false // the placed start state does not count
    let mutable result = None
    let mutable t = 0
    while result.IsNone && t < maxSteps do
        x <- x |> Array.map (fun c -> tanh (2.0 * c))
        t <- t + 1
        let candidates =
            states
            |> Array.mapi (fun i s -> i, distance x s)
            |> Array.filter (fun (i, e) -> e <= d && (i <> start || left))
        if candidates.Length > 0 then result <- Some(fst (Array.minBy snd candidates))
        if distance x states[start] > d then left <- true
    match result with
    | Some i -> i
    | None -> if distance x states[start] <= d then start else -1

let private madeUpPoint id (state: float[]) (directions: float[][]) =
    { Id = id
      State = state
      Input = zeroInput
      Q = 0.0
      Speed = 0.0
      Search = None
      Eigenvalues = directions |> Array.map (fun _ -> Complex(2.0, 0.0))
      Linearisation = Some { Jacobian = [||]; Eigenvectors = directions |> Array.map (Array.map (fun c -> Complex(c, 0.0))); LeftEigenvectors = [||]; InputJacobian = [||] }
      UnstableModes = directions.Length
      Stable = directions.Length = 0
      Kind = (if directions.Length = 0 then FixedPointKind.Attractor else FixedPointKind.Saddle)
      ContinuousEigenvalues = None }

/// A small topology file written by hand: two vertices, three edges.
let private handWritten =
    """{ "format": "rnnfun.topology", "version": 1,
  "config": { "runs_per_point": 4, "noise": 0.1, "unstable_step": 0.01, "arrival_distance": 0.15, "max_steps": 1000, "seed": 0, "precision": "float64" },
  "input": [0.0],
  "vertices": [
    { "id": 0, "unstable_modes": 0, "kind": "attractor", "runs": { "noise": 4, "unstable": 0 }, "unreached": { "noise": 0, "unstable": 0 } },
    { "id": 1, "unstable_modes": 1, "kind": "saddle", "runs": { "noise": 4, "unstable": 2 }, "unreached": { "noise": 1, "unstable": 0 } } ],
  "edges": [
    { "from": 0, "to": 0, "method": "noise", "count": 4, "probability": 1.0 },
    { "from": 1, "to": 0, "method": "noise", "count": 3, "probability": 0.75 },
    { "from": 1, "to": 0, "method": "unstable", "count": 2, "probability": 1.0 } ] }"""

let private withFile (text: string) (f: string -> unit) = withTextFile "topology.json" text f

let private variant (find: string) (replace: string) = replaceOnce handWritten find replace

[<Tests>]
let tests =
    testList "Analysis.Topology" [
        test "W = 2I: unstable runs from a one-mode saddle end at the two attractors that differ in its zero coordinate, 0.5 each" {
            let t = defaultTopology.Value
            let saddles = points.Value |> Array.filter (fun p -> p.UnstableModes = 1)
            Expect.equal saddles.Length 12 "12 one-mode saddles"
            for p in saddles do
                expectAnalyticUnstableEdges t p
                for e in unstableEdges t p.Id do
                    Expect.equal (vertex t e.To).Kind FixedPointKind.Attractor "the targets are attractors"
        }

        test "W = 2I: unstable runs from the centre end at the six points a* e_k (two unstable modes), 1/6 each" {
            // x_t = tanh(2 x_(t-1)) from 0.01 leaves the centre's ball before it nears any other point, and
            // the first point it nears is +-a* e_k (the other coordinates stay exactly 0).
            let t = defaultTopology.Value
            let centre = points.Value |> Array.find (fun p -> p.UnstableModes = 3)
            expectAnalyticUnstableEdges t centre
            for e in unstableEdges t centre.Id do
                Expect.equal (vertex t e.To).UnstableModes 2 "a two-mode saddle"
            Expect.equal (unstableEdges t centre.Id).Length 6 "six edges"
        }

        test "W = 2I: unstable runs from a two-mode saddle end at the four one-mode saddles next to it, 1/4 each" {
            let t = defaultTopology.Value
            let saddles = points.Value |> Array.filter (fun p -> p.UnstableModes = 2)
            Expect.equal saddles.Length 6 "6 two-mode saddles"
            for p in saddles do expectAnalyticUnstableEdges t p
        }

        test "W = 2I: noise runs from an attractor return to it (self-loop, probability 1)" {
            let t = defaultTopology.Value
            for p in points.Value |> Array.filter (fun p -> p.UnstableModes = 0) do
                let edges = noiseEdges t p.Id
                Expect.equal (edges |> Array.map (fun e -> e.To, e.Count, e.Probability)) [| p.Id, 64, 1.0 |] "one self-loop with all 64 runs"
                Expect.equal (vertex t p.Id).Unreached.Noise 0 "none unreached"
                Expect.isEmpty (unstableEdges t p.Id) "an attractor has no unstable runs"
        }

        test "runs that never leave their start's ball count as self-loops at MaxSteps" {
            // Noise 0.001 and step 0.01 grow at most 2^3 times in 3 steps: every run is within 0.15 of its start.
            let config = { TopologyConfig.defaults with RunsPerPoint = 4; Noise = 0.001; MaxSteps = 3 }
            let t = buildWith config points.Value
            for v in t.Vertices do
                Expect.equal (noiseEdges t v.Id |> Array.map (fun e -> e.To, e.Count, e.Probability)) [| v.Id, 4, 1.0 |] "noise: self-loop"
                let unstable = unstableEdges t v.Id |> Array.map (fun e -> e.To, e.Count, e.Probability)
                let expected = if v.UnstableModes = 0 then [||] else [| v.Id, 2 * v.UnstableModes, 1.0 |]
                Expect.equal unstable expected "unstable: self-loop"
            Expect.equal t.Unreached 0 "none unreached"
        }

        test "a run that stops changing exactly ends at once: attractors' runs under MaxSteps 100000 return quickly" {
            let attractors = points.Value |> Array.filter (fun p -> p.UnstableModes = 0)
            let watch = Diagnostics.Stopwatch.StartNew()
            let t = buildWith { TopologyConfig.defaults with RunsPerPoint = 16; Noise = 0.01; MaxSteps = 100000 } attractors
            Expect.isLessThan watch.Elapsed.TotalSeconds 10.0 "ended long before 100000 steps"
            for v in t.Vertices do
                Expect.equal (noiseEdges t v.Id |> Array.map (fun e -> e.To, e.Count, e.Probability)) [| v.Id, 16, 1.0 |] "self-loop"
        }

        test "the centre's unstable runs: self-loop before they leave, unreached before they arrive, arrived at the analytic step" {
            let d = TopologyConfig.defaults.ArrivalDistance
            let x = orbit TopologyConfig.defaults.UnstableStep 30
            let leave = x |> Array.findIndex (fun c -> c > d)
            let arrive = x |> Array.findIndex (fun c -> aStar - c <= d)
            Expect.isLessThan (leave + 1) arrive "the orbit leaves, travels, then arrives"
            let centre = points.Value |> Array.find (fun p -> p.UnstableModes = 3)
            let run maxSteps =
                let t = buildWith { TopologyConfig.defaults with RunsPerPoint = 1; MaxSteps = maxSteps } points.Value
                t, vertex t centre.Id, unstableEdges t centre.Id
            let _, v, edges = run (leave - 1)
            Expect.equal (edges |> Array.map (fun e -> e.To, e.Count)) [| centre.Id, 6 |] (sprintf "MaxSteps %d: still in the ball, a self-loop" (leave - 1))
            Expect.equal v.Unreached.Unstable 0 "none unreached"
            let t, v, edges = run (arrive - 1)
            Expect.isEmpty edges (sprintf "MaxSteps %d: left but not arrived" (arrive - 1))
            Expect.equal v.Unreached.Unstable 6 "all six unreached, reported"
            Expect.isGreaterThanOrEqual t.Unreached 6 "counted in the total"
            let _, v, edges = run arrive
            Expect.equal edges.Length 6 (sprintf "MaxSteps %d: arrived" arrive)
            Expect.equal v.Unreached.Unstable 0 "none unreached"
        }

        test "arrival rule = a direct host implementation, on made-up points and unstable directions" {
            use net = network ()
            let random = Random 11
            let mutable excluded, closestOfSeveral, unreached, placedOutside = 0, 0, 0, 0
            for _ in 1 .. 12 do
                // Some of the 8 attractors (runs heading for a missing one arrive nowhere) and made-up points.
                let corners =
                    [| for a in [ -1.0; 1.0 ] do for b in [ -1.0; 1.0 ] do for c in [ -1.0; 1.0 ] -> [| a * aStar; b * aStar; c * aStar |] |]
                    |> Array.filter (fun _ -> random.NextDouble() < 0.6)
                let extras = Array.init 8 (fun _ -> Array.init 3 (fun _ -> random.NextDouble() * 2.4 - 1.2))
                let states = Array.append corners extras
                let fps =
                    states
                    |> Array.mapi (fun i s ->
                        let directions = Array.init (random.Next(0, 3)) (fun _ -> Array.init 3 (fun _ -> random.NextDouble() * 2.0 - 1.0))
                        madeUpPoint (100 + 3 * i) s directions)
                // Steps of 0.1 to 0.5 against a distance of 0.3: some runs are placed outside their start's ball.
                let config = { TopologyConfig.defaults with RunsPerPoint = 1; UnstableStep = 0.1 + 0.4 * random.NextDouble(); ArrivalDistance = 0.3; MaxSteps = 40 }
                let t = Topology.build config net zeroInput fps
                for i in 0 .. fps.Length - 1 do
                    let p = fps[i]
                    let outcomes =
                        [ for v in eigenvectorsOf p do
                              let v = v |> Array.map (fun c -> c.Real)
                              let length = sqrt (Array.sumBy (fun c -> c * c) v)
                              for sign in [ 1.0; -1.0 ] do
                                  let x0 = Array.init 3 (fun j -> p.State[j] + sign * config.UnstableStep * (v[j] / length))
                                  let first = x0 |> Array.map (fun c -> tanh (2.0 * c))
                                  let near = states |> Array.filter (fun s -> distance first s <= config.ArrivalDistance)
                                  if near.Length > 1 then closestOfSeveral <- closestOfSeveral + 1
                                  if distance first p.State <= config.ArrivalDistance then excluded <- excluded + 1
                                  if distance x0 p.State > config.ArrivalDistance then placedOutside <- placedOutside + 1
                                  yield referenceArrival states i x0 config.ArrivalDistance config.MaxSteps ]
                    unreached <- unreached + (outcomes |> List.filter (fun o -> o < 0) |> List.length)
                    let expected =
                        outcomes
                        |> List.filter (fun o -> o >= 0)
                        |> List.countBy id
                        |> List.map (fun (j, n) -> fps[j].Id, n)
                        |> List.sort
                    let actual = unstableEdges t p.Id |> Array.map (fun e -> e.To, e.Count) |> Array.sort |> List.ofArray
                    Expect.equal actual expected (sprintf "unstable edges from made-up point %d" p.Id)
                    Expect.equal (vertex t p.Id).Unreached.Unstable (outcomes |> List.filter (fun o -> o < 0) |> List.length) "unreached"
            // The cases exercise the rule's branches.
            Expect.isGreaterThan excluded 0 "some runs start inside their own point's ball"
            Expect.isGreaterThan closestOfSeveral 0 "some runs have several points within the distance"
            Expect.isGreaterThan unreached 0 "some runs arrive nowhere"
            Expect.isGreaterThan placedOutside 0 "some runs are placed outside their start's ball"
        }

        test "per (vertex, method): probabilities sum to 1 minus the unreached share; edges reference vertices" {
            let t = defaultTopology.Value
            let ids = t.Vertices |> Array.map (fun v -> v.Id) |> Set.ofArray
            Expect.equal ids.Count 27 "27 vertices"
            for e in t.Edges do
                Expect.isTrue (ids.Contains e.From && ids.Contains e.To) "edge between existing vertices"
                Expect.isGreaterThan e.Count 0 "no empty edges"
            for v in t.Vertices do
                let p = points.Value |> Array.find (fun p -> p.Id = v.Id)
                Expect.equal v.UnstableModes p.UnstableModes "unstable modes"
                Expect.equal v.Kind p.Kind "kind"
                Expect.equal v.Runs { Noise = 64; Unstable = 2 * p.UnstableModes } "runs"
                for m, runs, unreached in [ RunMethod.Noise, v.Runs.Noise, v.Unreached.Noise; RunMethod.UnstableMode, v.Runs.Unstable, v.Unreached.Unstable ] do
                    let edges = t.Edges |> Array.filter (fun e -> e.From = v.Id && e.Method = m)
                    if runs > 0 then
                        Expect.floatClose Accuracy.veryHigh (edges |> Array.sumBy (fun e -> e.Probability)) (1.0 - float unreached / float runs) "sum of probabilities"
                    Expect.equal ((edges |> Array.sumBy (fun e -> e.Count)) + unreached) runs "every run counted once"
                    Expect.equal (edges |> Array.distinctBy (fun e -> e.To)).Length edges.Length "one edge per target and method"
            Expect.equal t.Unreached (t.Vertices |> Array.sumBy (fun v -> v.Unreached.Noise + v.Unreached.Unstable)) "total unreached"
            // Noise runs from a one-mode saddle split between the same two attractors as its unstable runs.
            for p in points.Value |> Array.filter (fun p -> p.UnstableModes = 1) do
                let targets = noiseEdges t p.Id |> Array.map (fun e -> e.To) |> Set.ofArray
                Expect.isTrue (Set.isSubset targets (unstableEdges t p.Id |> Array.map (fun e -> e.To) |> Set.ofArray)) (sprintf "noise targets from %d %A: %A" p.Id (signs p.State) (noiseEdges t p.Id |> Array.map (fun e -> e.To, signs (points.Value |> Array.find (fun q -> q.Id = e.To)).State, e.Count)))
        }

        test "the same seed gives the same topology, another seed other noise runs" {
            let again = buildWith TopologyConfig.defaults points.Value
            Expect.equal again defaultTopology.Value "same seed"
            let other = buildWith { TopologyConfig.defaults with Seed = 1 } points.Value
            Expect.notEqual (other.Edges |> Array.filter (fun e -> e.Method = RunMethod.Noise)) (again.Edges |> Array.filter (fun e -> e.Method = RunMethod.Noise)) "another seed"
            Expect.equal (other.Edges |> Array.filter (fun e -> e.Method = RunMethod.UnstableMode)) (again.Edges |> Array.filter (fun e -> e.Method = RunMethod.UnstableMode)) "unstable runs do not depend on the seed"
        }

        test "float32 runs give the same unstable-mode edges" {
            let t = buildWith { TopologyConfig.defaults with Precision = Precision.Float32; RunsPerPoint = 1 } points.Value
            let unstable (t: Topology) = t.Edges |> Array.filter (fun e -> e.Method = RunMethod.UnstableMode)
            Expect.equal (unstable t) (unstable defaultTopology.Value) "unstable edges"
        }

        test "JSON: save -> load gives an equal topology; the hand-written example loads" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "sub", "topology.json")
                let t = defaultTopology.Value
                TopologyFile.save path t
                let back = TopologyFile.load path
                Expect.equal back t "round trip"
                Expect.isEmpty (Directory.GetFiles(Path.GetDirectoryName path, "*.tmp")) "no temporary file left"
                // Saving again over it keeps the file readable.
                TopologyFile.save path back
                Expect.equal (TopologyFile.load path) t "overwrite")
            withFile handWritten (fun path ->
                let t = TopologyFile.load path
                Expect.equal t.Vertices.Length 2 "vertices"
                Expect.equal t.Edges[1] { From = 1; To = 0; Method = RunMethod.Noise; Count = 3; Probability = 0.75 } "edge"
                Expect.equal t.Vertices[1].Unreached { Noise = 1; Unstable = 0 } "unreached"
                Expect.equal t.Unreached 1 "total unreached")
        }

        test "JSON: bad files raise FileFormatError naming the problem" {
            let cases =
                [ "wrong format", variant "\"rnnfun.topology\"" "\"rnnfun.model\"", "format"
                  "unknown vertex in an edge", variant "{ \"from\": 1, \"to\": 0, \"method\": \"unstable\"" "{ \"from\": 1, \"to\": 7, \"method\": \"unstable\"", "edges[2].to: no vertex has id 7"
                  "probability 2", variant "\"count\": 4, \"probability\": 1.0" "\"count\": 4, \"probability\": 2", "edges[0].probability: expected a number in [0, 1]"
                  "truncated", handWritten.Substring(0, handWritten.Length / 2), "not a valid JSON document"
                  "probability not count / runs", variant "\"probability\": 0.75" "\"probability\": 0.5", "edges[1].probability"
                  "counts do not add up", variant "\"unreached\": { \"noise\": 1" "\"unreached\": { \"noise\": 0", "vertices[1]"
                  "unknown method", variant "\"method\": \"unstable\"" "\"method\": \"sideways\"", "edges[2].method"
                  "missing key", variant "\"max_steps\": 1000, " "", "config.max_steps: missing key"
                  "bad setting", variant "\"noise\": 0.1" "\"noise\": -0.1", "config.noise"
                  "unknown key", variant "\"input\": [0.0]," "\"input\": [0.0], \"extra\": 1,", "unknown key 'extra'"
                  "repeated id", variant "{ \"id\": 1," "{ \"id\": 0,", "vertices[1].id"
                  "wrong version", variant "\"version\": 1" "\"version\": 2", "version" ]
            for name, text, expected in cases do
                withFile text (fun path ->
                    let p, problem = expectFileError (fun () -> TopologyFile.load path) name
                    Expect.equal p path "names the file"
                    Expect.stringContains problem expected name)
            let _, problem = expectFileError (fun () -> TopologyFile.load "/nonexistent/topology.json") "missing file"
            Expect.stringContains problem "file not found" "missing file"
        }

        test "DOT: one node line per vertex, one edge line per edge, pyrnn's colours, noise edges dashed" {
            let t = defaultTopology.Value
            let dot = Topology.toDot t
            let lines = dot.Split('\n') |> Array.map (fun l -> l.Trim())
            Expect.equal lines[0] "digraph topology {" "a digraph"
            Expect.equal (lines |> Array.filter (fun l -> l <> "") |> Array.last) "}" "closed"
            let nodes = lines |> Array.filter (fun l -> l.StartsWith "\"fp" && not (l.Contains "->"))
            let edges = lines |> Array.filter (fun l -> l.Contains "->")
            Expect.equal nodes.Length t.Vertices.Length "node lines"
            Expect.equal edges.Length t.Edges.Length "edge lines"
            for v in t.Vertices do
                let line = nodes |> Array.find (fun l -> l.StartsWith(sprintf "\"fp%d\" [" v.Id))
                let colour = match v.UnstableModes with 0 -> "seagreen" | 1 -> "salmon" | 2 -> "skyblue" | _ -> "magenta"
                Expect.stringContains line (sprintf "fillcolor=%s" colour) "colour by unstable modes"
                Expect.stringContains line (sprintf "label=\"%d\\n%d unstable\"" v.Id v.UnstableModes) "label"
            Expect.equal (edges |> Array.filter (fun l -> l.Contains "style=dashed")).Length (t.Edges |> Array.filter (fun e -> e.Method = RunMethod.Noise)).Length "noise edges dashed"
            for e, line in Array.zip t.Edges edges do
                Expect.isTrue (line.StartsWith(sprintf "\"fp%d\" -> \"fp%d\" [label=\"%s\"" e.From e.To (e.Probability.ToString("0.00", Globalization.CultureInfo.InvariantCulture)))) line
        }

        test "QuikGraph: same vertices, edges and out-degrees as the record" {
            let t = defaultTopology.Value
            let g = Topology.toGraph t
            Expect.equal g.VertexCount t.Vertices.Length "vertices"
            Expect.equal g.EdgeCount t.Edges.Length "edges (noise and unstable between the same points are two)"
            for v in t.Vertices do
                Expect.equal (g.OutDegree v.Id) (t.Edges |> Array.filter (fun e -> e.From = v.Id) |> Array.length) "out-degree"
                Expect.equal (g.InDegree v.Id) (t.Edges |> Array.filter (fun e -> e.To = v.Id) |> Array.length) "in-degree"
            Expect.equal (g.Edges |> Seq.map (fun e -> e.Tag) |> Array.ofSeq |> Array.sort) (Array.sort t.Edges) "tags are the edges"
            for e in g.Edges do
                Expect.equal (e.Source, e.Target) (e.Tag.From, e.Tag.To) "source and target"
        }

        testSequenced <| test "no tensor leak: build leaves the live tensor count as it was" {
            use net = network ()
            let config = { TopologyConfig.defaults with RunsPerPoint = 2; MaxSteps = 60 }
            let run () = Topology.build config net zeroInput points.Value |> ignore
            run ()
            let baseline = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount
            for _ in 1 .. 5 do run ()
            Expect.equal TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount baseline "live tensors"
        }

        test "bad arguments fail with InvalidArgument naming them" {
            use net = network ()
            let fps = points.Value
            let build config input (fps: FixedPoint[]) = Topology.build config net input fps
            let d = TopologyConfig.defaults
            let check name f expected =
                let arg, _ = expectInvalid f name
                Expect.equal arg expected name
            check "no points" (fun () -> build d zeroInput [||]) "fixed_points"
            check "state size" (fun () -> build d zeroInput [| { fps[0] with State = [| 0.0 |] } |]) "fixed_points"
            check "repeated ids" (fun () -> build d zeroInput [| fps[0]; fps[1]; { fps[2] with Id = fps[0].Id } |]) "fixed_points"
            check "no eigenvectors" (fun () -> build d zeroInput [| { fps[26] with Linearisation = None } |]) "fixed_points"
            check "input size" (fun () -> build d [| 0.0; 1.0 |] fps) "input"
            check "input NaN" (fun () -> build d [| nan |] fps) "input"
            check "runs" (fun () -> build { d with RunsPerPoint = 0 } zeroInput fps) "runs_per_point"
            check "noise" (fun () -> build { d with Noise = -0.1 } zeroInput fps) "noise"
            check "step" (fun () -> build { d with UnstableStep = 0.0 } zeroInput fps) "unstable_step"
            check "distance" (fun () -> build { d with ArrivalDistance = nan } zeroInput fps) "arrival_distance"
            check "steps" (fun () -> build { d with MaxSteps = 0 } zeroInput fps) "max_steps"
        }
    ]

[<Tests>]
let ownInputTests =
    testList "Topology under own inputs and FixedPoints.recheck" [
        test "recheck recomputes q and speed under the model, keeping the rest" {
            use net = network ()
            let p = points.Value[0]
            let moved = { p with State = [| 0.5; 0.0; 0.0 |]; Q = 1e-31; Speed = 1e-15 }
            match FixedPoints.recheck net [| p; moved |] with
            | [| same; other |] ->
                Expect.isLessThan same.Q 1e-20 "a true fixed point stays one"
                let expected = 0.5 * (tanh 1.0 - 0.5) ** 2.0
                Expect.floatClose Accuracy.high other.Q expected "q of F(x) = tanh(2x) at (0.5, 0, 0)"
                Expect.floatClose Accuracy.high other.Speed (sqrt (2.0 * expected)) "speed"
                Expect.equal (other.Id, other.Eigenvalues, other.Kind) (moved.Id, moved.Eigenvalues, moved.Kind) "the rest kept"
            | other -> failtestf "expected two points, got %d" other.Length
            expectInvalid (fun () -> FixedPoints.recheck net [| { p with State = [| 0.0 |] } |]) "a state of the wrong size" |> ignore
            // Each point under its own input: the points of u = 0.3 are not fixed under u = 0.
            use driven = drivenIdentity 3
            let shifted = drivenPoints driven [ 0.3 ]
            Expect.isTrue (FixedPoints.recheck driven shifted |> Array.forall (fun p -> p.Q < 1e-20)) "fixed under their own input"
            Expect.isTrue (FixedPoints.recheck driven (shifted |> Array.map (fun p -> { p with Input = [| 0.0 |] })) |> Array.forall (fun p -> p.Q > 1e-6)) "not under another"
        }
        test "buildUnderOwnInputs runs each point under its own input and never links two inputs" {
            use net = drivenIdentity 3
            let fps = drivenPoints net [ 0.0; 0.3 ] |> FixedPoints.analyse 1e-3 net
            Expect.equal fps.Length 54 "27 points under each input"
            let config = { TopologyConfig.defaults with RunsPerPoint = 8 }
            let t = Topology.buildUnderOwnInputs config net fps
            let inputOf = fps |> Array.map (fun p -> p.Id, p.Input[0]) |> Map.ofArray
            Expect.equal (t.Vertices |> Array.map (fun v -> v.Id)) (fps |> Array.map (fun p -> p.Id)) "vertices in the points' order"
            for e in t.Edges do
                Expect.equal inputOf[e.To] inputOf[e.From] (sprintf "edge %d -> %d stays under one input" e.From e.To)
            Expect.equal t.Unreached 0 "every run arrives"
            // Each group is what `build` gives under its input, with the group's seed.
            let group g u = fps |> Array.filter (fun p -> p.Input[0] = u) |> Topology.build { config with Seed = config.Seed + g } net [| u |]
            let parts = [ group 0 0.0; group 1 0.3 ]
            Expect.equal (set t.Edges) (parts |> List.collect (fun p -> List.ofArray p.Edges) |> set) "edges of the groups"
            Expect.equal (set t.Vertices) (parts |> List.collect (fun p -> List.ofArray p.Vertices) |> set) "vertices of the groups"
            // One input: exactly `build`.
            let single = fps |> Array.filter (fun p -> p.Input[0] = 0.0)
            Expect.equal (Topology.buildUnderOwnInputs config net single) (Topology.build config net [| 0.0 |] single) "one input = build"
            expectInvalid (fun () -> Topology.buildUnderOwnInputs config net [| { fps[0] with Input = [| 0.0; 1.0 |] } |]) "input of the wrong size" |> ignore
        }
    ]
