#!/usr/bin/env -S dotnet fsi
// 11 - Populations: train rnn, gru and lstm networks (several seeds each) on the same 3-bit flip-flop
// and compare them: SVCCA and Procrustes distances (geometry), the dynamical distance, and their
// fixed-point topologies (Maheswaranathan et al. 2019: is the topology more alike across
// architectures than the geometry?).
//
//     dotnet fsi scripts/11-populations.fsx            (RNNFUN_QUICK=1 for a smaller run)
//
// Prints the distance matrices, the mean distance within a kind and between kinds for each metric,
// and which pairs of networks have isomorphic topologies. Output: output/11-populations.json
// (an rnnfun.comparison file).

#load "_references.fsx"

open System
open RnnFun
open RnnFun.Scripts

// ---- Hyper-parameters ----
let kinds = if Script.quick then [ "rnn"; "gru" ] else [ "rnn"; "gru"; "lstm" ]
let seeds = if Script.quick then [ 0; 1 ] else [ 0; 1; 2 ]
let units = if Script.quick then 24 else 64
let sequenceLength = if Script.quick then 32 else 64
let epochs = if Script.quick then 8 else 40
let initialStateCount = if Script.quick then 128 else 1024
let runsPerPoint = if Script.quick then 8 else 64
let comparisonTrials = 32

let train (kindName: string) (seed: int) =
    let preset = Presets.flipFlop seed |> Presets.withKindNamed kindName |> Presets.withSequenceLength sequenceLength
    let preset =
        { preset with
            Network = { preset.Network with Units = units }
            Fit = if Script.quick then { preset.Fit with Epochs = epochs; StopLoss = None } else preset.Fit }
    let config =
        { PipelineConfig.defaults with
            InitialStateCount = initialStateCount
            Seed = seed
            Topology = { TopologyConfig.defaults with RunsPerPoint = runsPerPoint; Seed = seed } }
    let r = Pipeline.runWith FitHooks.none config preset
    let t = r.Training
    let mse = if t.BestEpoch > 0 then t.ValidationLosses[t.BestEpoch - 1] else nan
    printfn "  %s seed %d: validation MSE %s, %d fixed points" kindName seed (Script.sci mse) r.Analysis.Search.FixedPoints.Length
    r

let main () =
    printfn "training %d networks of %d units (%s)" (kinds.Length * seeds.Length) units (String.Join(", ", kinds))
    let members = [ for k in kinds do for s in seeds -> k, s, train k s ]
    // The same held-out trials for every network.
    let trials = (Presets.flipFlop 0 |> Presets.withSequenceLength sequenceLength).Task.Generate comparisonTrials 12345
    let x = Array.init trials.Trials (fun i -> Array.init trials.Time (fun t -> Array.init trials.InputSize (fun j -> float trials.Inputs[(i * trials.Time + t) * trials.InputSize + j])))
    let names = members |> List.map (fun (k, s, _) -> sprintf "%s%d" k s) |> Array.ofList
    let trajectories = members |> List.map (fun (_, _, r) -> Similarity.trajectoriesOf r.Network x) |> Array.ofList
    let topologies = members |> List.map (fun (_, _, r) -> r.Analysis.Topology.Value) |> Array.ofList
    let c = Similarity.compare DynamicsConfig.defaults names trajectories (Some topologies)
    ComparisonFile.save (Script.output "11-populations.json") c
    let kindOf i = let k, _, _ = members[i] in k
    let k = names.Length
    let table (title: string) (m: float[][]) =
        printfn ""
        printfn "%s" title
        printfn "  %-6s %s" "" (String.Join(" ", names |> Array.map (sprintf "%7s")))
        for i in 0 .. k - 1 do printfn "  %-6s %s" names[i] (String.Join(" ", m[i] |> Array.map (sprintf "%7.3f")))
    let meanOf (m: float[][]) (within: bool) =
        [ for i in 0 .. k - 1 do for j in i + 1 .. k - 1 do if (kindOf i = kindOf j) = within then yield m[i][j] ] |> List.average
    table "SVCCA distance" c.Svcca
    table "Procrustes shape distance (rad)" c.Procrustes
    table "dynamical distance (rad)" c.Dynamics
    table "topology distance" c.Topology
    let isomorphicPairs within =
        [ for i in 0 .. k - 1 do for j in i + 1 .. k - 1 do if (kindOf i = kindOf j) = within then yield c.Isomorphic[i][j] ]
    printfn ""
    printfn "summary (%s mode, %d networks, %.1f s)" Script.mode k (Script.elapsed ())
    printfn "  %-22s %8s %8s" "metric" "within" "between"
    for name, m in [ "SVCCA", c.Svcca; "Procrustes", c.Procrustes; "dynamics", c.Dynamics; "topology", c.Topology ] do
        printfn "  %-22s %8.3f %8.3f" name (meanOf m true) (meanOf m false)
    let share (xs: bool list) = sprintf "%d of %d" (xs |> List.filter id |> List.length) xs.Length
    printfn "  isomorphic topologies: %s pairs within a kind, %s between kinds" (share (isomorphicPairs true)) (share (isomorphicPairs false))
    for i in 0 .. k - 1 do
        Script.check (c.Svcca[i][i] = 0.0 && c.Procrustes[i][i] = 0.0) (sprintf "%s: zero self-distance" names[i])
    if not Script.quick then
        // The headline: geometry differs more between kinds than within one.
        Script.check (meanOf c.Svcca false > meanOf c.Svcca true) "SVCCA: between kinds exceeds within a kind"
    for _, _, r in members do (r :> IDisposable).Dispose()

main ()
Script.finish ()
