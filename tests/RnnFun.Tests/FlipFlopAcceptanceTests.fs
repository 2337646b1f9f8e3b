/// The trained 3-bit flip-flop, end to end: train the fast preset, find its fixed points, build the
/// topology, and check the structure the task implies (8 memory attractors, 12 edge saddles).
module RnnFun.Tests.FlipFlopAcceptanceTests

open System
open Expecto
open TorchSharp
open RnnFun
open RnnFun.Baselines

type private Analysed =
    { Network: Network
      Initial: float[][]
      Points: FixedPoint[]
      Search: FixedPointResult }

/// Trained once per seed and shared by the tests below.
let private analysed =
    let cache = Collections.Concurrent.ConcurrentDictionary<int, Lazy<Analysed>>()
    fun (seed: int) ->
        cache.GetOrAdd(seed, fun _ ->
            lazy
                (let preset = Presets.flipFlop seed
                 let r = Presets.train preset
                 let batch = preset.Task.Generate 64 (seed + 100)
                 let states =
                     use _ = torch.NewDisposeScope()
                     let x, _, _ = Training.toTensors Precision.Float32 batch
                     use run = Network.unroll r.Network x
                     InitialStates.ofTrajectories run.States
                 let initial = InitialStates.fromStates 1024 0.5 seed states
                 let found = FixedPoints.find FixedPointConfig.defaults r.Network (ConstantInput.Same [| 0.0; 0.0; 0.0 |]) initial
                 { Network = r.Network; Initial = initial; Points = found.FixedPoints; Search = found })).Value

let private readout (net: Network) (state: float[]) =
    use _ = torch.NewDisposeScope()
    values (Network.readout net (Arrays.toTensor Precision.Float32 [| int64 state.Length |] state))

let seeds = [ 0; 1; 2 ]

[<Tests>]
let tests =
    testSequenced <| testList "Acceptance.FlipFlop" [
        for seed in seeds do
            test (sprintf "seed %d: 8 attractors, one per sign pattern; 12 one-unstable saddles; the rest unstable" seed) {
                let a = analysed seed
                let attractors = a.Points |> Array.filter (fun p -> p.Kind = FixedPointKind.Attractor)
                Expect.equal attractors.Length 8 "exactly 8 attractors"
                let patterns =
                    attractors
                    |> Array.map (fun p ->
                        let o = readout a.Network p.State
                        let pattern = o |> Array.map (fun v -> if v >= 0.0 then 1.0 else -1.0)
                        Expect.isLessThan (maxAbsDiff o pattern) 0.15 (sprintf "readout %A within 0.15 of %A" o pattern)
                        pattern)
                Expect.equal (patterns |> Array.distinct |> Array.length) 8 "one attractor per pattern"
                let oneUnstable = a.Points |> Array.filter (fun p -> p.UnstableModes = 1)
                Expect.equal oneUnstable.Length 12 "exactly 12 fixed points with one unstable mode"
                for p in a.Points do
                    if p.Kind <> FixedPointKind.Attractor then
                        Expect.isGreaterThanOrEqual p.UnstableModes 1 (sprintf "point %d (%A) has an unstable mode" p.Id p.Kind)
            }
            test (sprintf "seed %d: leaving each one-unstable saddle along its unstable mode ends at the two attractors one bit apart" seed) {
                let a = analysed seed
                let topology = Topology.build TopologyConfig.defaults a.Network [| 0.0; 0.0; 0.0 |] a.Points
                let pattern (p: FixedPoint) = readout a.Network p.State |> Array.map (fun v -> if v >= 0.0 then 1 else -1)
                let byId = a.Points |> Array.map (fun p -> p.Id, p) |> Map.ofArray
                for saddle in a.Points |> Array.filter (fun p -> p.UnstableModes = 1) do
                    let ends =
                        topology.Edges
                        |> Array.filter (fun e -> e.From = saddle.Id && e.Method = RunMethod.UnstableMode)
                        |> Array.map (fun e -> byId[e.To])
                    Expect.equal ends.Length 2 (sprintf "saddle %d: two destinations" saddle.Id)
                    Expect.isTrue (ends |> Array.forall (fun p -> p.Kind = FixedPointKind.Attractor)) "both are attractors"
                    let p1, p2 = pattern ends[0], pattern ends[1]
                    let differing = Array.map2 (<>) p1 p2 |> Array.filter id |> Array.length
                    Expect.equal differing 1 (sprintf "saddle %d: %A and %A differ in exactly one bit" saddle.Id p1 p2)
            }
            // FixedPointFinder's own search (PyTorch defaults, written independently with torch.nn.RNN
            // and torch.optim.Adam) from the same 1024 states: the reference a user compares with.
            test (sprintf "seed %d: every point the FixedPointFinder-style search finds from the same states is found, and each state ends at the same point" seed) {
                let a = analysed seed
                torch.set_num_threads 1
                let run = FixedPointFinderStyle.search a.Network [| 0.0; 0.0; 0.0 |] a.Initial
                let theirs = FixedPointFinderStyle.points 1e-12 a.Initial run
                let ours = a.Points |> Array.map (fun p -> p.State)
                Expect.isGreaterThanOrEqual theirs.Length 20 "the baseline finds the points it is known to"
                // Positions agree to float32's precision (the baseline's): 1e-4 is far below the 0.5-1
                // between points.
                let ourIndex = FixedPointFinderStyle.nearest 1e-4 ours theirs
                theirs |> Array.iteri (fun i t -> Expect.isGreaterThanOrEqual ourIndex[i] 0 (sprintf "the baseline's point %d (%A...) has a point of ours within 1e-4" i (Array.truncate 3 t)))
                Expect.equal a.Points.Length 27 "all 27 points (8 / 12 / 6 / 1)"
                // State by state: where the baseline's Adam carried a state, ours ends too.
                let theirPointOfState = FixedPointFinderStyle.nearest 1e-3 theirs run.Final
                let ourPointOfBaseline = Array.init ours.Length (fun j -> (FixedPointFinderStyle.nearest 1e-4 theirs [| ours[j] |])[0])
                let mutable compared, same = 0, 0
                for i in 0 .. a.Initial.Length - 1 do
                    let ourId = a.Search.PointOfState[i]
                    if theirPointOfState[i] >= 0 && ourId >= 0 then
                        compared <- compared + 1
                        if ourPointOfBaseline[ourId] = theirPointOfState[i] then same <- same + 1
                Expect.isGreaterThanOrEqual compared 1000 "both searches converge from almost every state"
                Expect.isGreaterThanOrEqual (float same / float compared) 0.999 (sprintf "%d of %d states end at the baseline's point" same compared)
            }
        // The shared Jacobians (phase 3) must not change the answer on a real network: every state
        // taking its own Newton steps finds the same points.
        test "seed 0: the default search finds the same points as one without shared Jacobians (radius 0)" {
            let a = analysed 0
            let alone =
                FixedPoints.find { FixedPointConfig.defaults with SharedJacobianRadius = 0.0 } a.Network (ConstantInput.Same [| 0.0; 0.0; 0.0 |]) a.Initial
            let near (p: FixedPoint) (o: FixedPoint) = maxAbsDiff p.State o.State < 1e-6
            Expect.equal alone.FixedPoints.Length a.Points.Length "as many points"
            for p in alone.FixedPoints do
                Expect.isTrue (a.Points |> Array.exists (near p)) (sprintf "point %d of the radius-0 search is in the default set" p.Id)
        }
    ]
