/// The trained 3-bit flip-flop with a gated cell: the preset with `Kinds.lstm` and with `Kinds.gru`
/// (`Presets.withKindNamed`, the settings `rnnfun train --kind` uses),
/// trained and analysed by `Pipeline.run` as scripts/08-architectures.fsx does, must show the vanilla
/// network's structure (8 memory attractors; one-unstable saddles joining every pair of attractors
/// one bit apart). One seed each, to keep CI fast; the other seeds are reported in docs/analysis.md.
module RnnFun.Tests.GatedFlipFlopAcceptanceTests

open System
open Expecto
open TorchSharp
open RnnFun

let private seed = 0

/// Trained once per kind and shared by the tests below (the result owns the network for the whole run).
let private analysedWith (kind: Kind) =
    lazy
        (let preset = Presets.flipFlop seed |> Presets.withKindNamed kind.Name
         Pipeline.run { PipelineConfig.defaults with Seed = seed; Topology = { TopologyConfig.defaults with Seed = seed } } preset)

let private analysedKinds = [ Kinds.lstm, analysedWith Kinds.lstm; Kinds.gru, analysedWith Kinds.gru ]

let private readout (net: Network) (state: float[]) =
    use _ = torch.NewDisposeScope()
    values (Network.readout net (Arrays.toTensor net.Precision [| int64 state.Length |] state))

let private pattern (net: Network) (p: FixedPoint) = readout net p.State |> Array.map (fun v -> if v >= 0.0 then 1 else -1)

[<Tests>]
let tests =
    testSequenced <| testList "Acceptance.GatedFlipFlop" [
      for kind, analysed in analysedKinds do
        test (sprintf "%s seed 0: validation MSE <= 1e-3" kind.Name) {
            let t = analysed.Value.Training
            Expect.isGreaterThan t.BestEpoch 0 "an epoch completed"
            Expect.isLessThanOrEqual t.ValidationLosses[t.BestEpoch - 1] 1e-3 "validation MSE"
        }
        test (sprintf "%s seed 0: 8 attractors, one per sign pattern, readout within 0.15" kind.Name) {
            let r = analysed.Value
            let attractors = r.Analysis.Search.FixedPoints |> Array.filter (fun p -> p.Kind = FixedPointKind.Attractor)
            Expect.equal attractors.Length 8 "exactly 8 attractors"
            for p in attractors do
                let o = readout r.Network p.State
                let signs = pattern r.Network p |> Array.map float
                Expect.isLessThan (maxAbsDiff o signs) 0.15 (sprintf "readout %A within 0.15 of %A" o signs)
            Expect.equal (attractors |> Array.map (pattern r.Network) |> Array.distinct |> Array.length) 8 "one attractor per pattern"
        }
        test (sprintf "%s seed 0: one-unstable saddles' unstable-mode runs reach each of the 12 one-bit attractor pairs" kind.Name) {
            let r = analysed.Value
            let points = r.Analysis.Search.FixedPoints
            let topology = r.Analysis.Topology |> Option.defaultWith (fun () -> failtest "no topology")
            let byId = points |> Array.map (fun p -> p.Id, p) |> Map.ofArray
            let pairs =
                [ for s in points |> Array.filter (fun p -> p.UnstableModes = 1) do
                    let ends =
                        topology.Edges
                        |> Array.filter (fun e -> e.From = s.Id && e.Method = RunMethod.UnstableMode && byId[e.To].Kind = FixedPointKind.Attractor)
                        |> Array.map (fun e -> pattern r.Network byId[e.To])
                        |> Array.distinct
                    for a in ends do
                        for b in ends do
                            if compare a b < 0 && (Array.map2 (<>) a b |> Array.filter id |> Array.length) = 1 then yield (a, b) ]
                |> Set.ofList
            Expect.equal pairs.Count 12 "every pair of attractors one bit apart is joined by a one-unstable saddle"
        }
    ]
