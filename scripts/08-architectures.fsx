#!/usr/bin/env -S dotnet fsi
// 08 - Architectures: train rnn, gru and lstm on the same 3-bit flip-flop and compare their fixed
// points side by side (Maheswaranathan et al. 2019: is the topology the same across architectures?).
//
//     dotnet fsi scripts/08-architectures.fsx [seed]     (RNNFUN_QUICK=1 for a smaller run)
//
// For each kind: the validation MSE, the fixed points counted by number of unstable modes, and the
// flip-flop bar: 8 attractors, one per sign pattern with readout within 0.15, and one-unstable saddles
// whose unstable-mode runs reach, between them, each of the 12 pairs of attractors one bit apart.
// Outputs: output/08-architectures-<kind>-{model,fixed-points,topology}.json

#load "_references.fsx"

open System
open TorchSharp
open RnnFun
open RnnFun.Scripts

// ---- Hyper-parameters ----
let seed = match fsi.CommandLineArgs with [| _; s |] -> int s | _ -> 0
let kinds = [ "rnn"; "gru"; "lstm" ]
let units = if Script.quick then 32 else 64
let sequenceLength = if Script.quick then 32 else 64
let epochs = 15 // quick mode; full mode takes each kind's preset (40 epochs, the gru 60)
let trialsPerEpoch = 640
let validationTrials = if Script.quick then 64 else 256
let initialStateCount = if Script.quick then 128 else 1024
let runsPerPoint = if Script.quick then 16 else 64
let file name = Script.output ("08-architectures-" + name)

type Row =
    { Kind: string
      Seconds: float
      ValidationMse: float
      ByModes: Map<int, int>
      Attractors: int
      Patterns: int
      ReadoutOk: bool
      PairsReached: int }

let signs (o: float[]) = o |> Array.map (fun v -> if v >= 0.0 then 1 else -1)

let train (kindName: string) =
    // The kind's own flip-flop settings (the gru's recurrent noise and epochs: Presets.withKindNamed).
    let preset = Presets.flipFlop seed |> Presets.withKindNamed kindName |> Presets.withSequenceLength sequenceLength
    let preset =
        { preset with
            Network = { preset.Network with Units = units }
            // Quick mode runs every epoch (a fixed amount of work); full mode may stop early.
            Fit =
                if Script.quick then { preset.Fit with Epochs = epochs; StopLoss = None }
                else preset.Fit
            TrialsPerEpoch = trialsPerEpoch
            ValidationTrials = validationTrials }
    let config =
        { PipelineConfig.defaults with
            InitialStateCount = initialStateCount
            Seed = seed
            Topology = { TopologyConfig.defaults with RunsPerPoint = runsPerPoint; Seed = seed } }
    printfn "training a %d-unit %s (T = %d, up to %d epochs, seed %d)" units kindName sequenceLength preset.Fit.Epochs seed
    use r = Pipeline.runWith FitHooks.none config preset
    let t = r.Training
    let mse = if t.BestEpoch > 0 then t.ValidationLosses[t.BestEpoch - 1] else nan
    let points = r.Analysis.Search.FixedPoints
    let readout (p: FixedPoint) =
        use _ = torch.NewDisposeScope()
        Arrays.ofTensor (Network.readout r.Network (Arrays.toTensor r.Network.Precision [| int64 p.State.Length |] p.State))
    let attractors = points |> Array.filter (fun p -> p.Kind = FixedPointKind.Attractor)
    let outs = attractors |> Array.map readout
    let readoutOk = outs |> Array.forall (fun o -> Array.forall2 (fun v s -> abs (v - float s) < 0.15) o (signs o))
    let patternOf = Array.zip (attractors |> Array.map (fun p -> p.Id)) (outs |> Array.map signs) |> Map.ofArray
    // The attractor pairs one bit apart that some one-unstable saddle's unstable-mode runs join.
    let pairs =
        match r.Analysis.Topology with
        | None -> Set.empty
        | Some topology ->
            [ for s in points |> Array.filter (fun p -> p.UnstableModes = 1) do
                let ends =
                    topology.Edges
                    |> Array.filter (fun e -> e.From = s.Id && e.Method = RunMethod.UnstableMode && patternOf.ContainsKey e.To)
                    |> Array.map (fun e -> patternOf[e.To])
                    |> Array.distinct
                for a in ends do
                    for b in ends do
                        if compare a b < 0 && (Array.map2 (<>) a b |> Array.filter id |> Array.length) = 1 then yield (a, b) ]
            |> Set.ofList
    ModelFile.save (file (kindName + "-model.json")) r.Network
    FixedPointFile.save (file (kindName + "-fixed-points.json")) points
    r.Analysis.Topology |> Option.iter (TopologyFile.save (file (kindName + "-topology.json")))
    let row =
        { Kind = kindName
          Seconds = t.WallTime.TotalSeconds
          ValidationMse = mse
          ByModes = points |> Array.countBy (fun p -> p.UnstableModes) |> Map.ofArray
          Attractors = attractors.Length
          Patterns = outs |> Array.map signs |> Array.distinct |> Array.length
          ReadoutOk = readoutOk
          PairsReached = pairs.Count }
    let search = r.Analysis.Search
    printfn "  %s after %d epochs in %.1f s; validation MSE %s; %d fixed points (%d of %d starts converged, %d outliers) in %.1f s"
        (StopReason.text t.StopReason) t.StoppedAtEpoch row.Seconds (Script.sci mse) points.Length search.Converged search.InitialStates search.Outliers r.Analysis.Elapsed.TotalSeconds
    row

let main () =
    let rows = kinds |> List.map train
    let maxModes = rows |> List.collect (fun r -> r.ByModes |> Map.toList |> List.map fst) |> List.fold max 0
    printfn ""
    printfn "summary (%s mode, seed %d, %d units, %.1f s)" Script.mode seed units (Script.elapsed ())
    printfn "  fixed points by number of unstable modes"
    printfn "  %-6s %s  %9s  %s" "kind" (String.Join(" ", [ for m in 0 .. maxModes -> sprintf "%4d" m ])) "val MSE" "attractors / patterns / readout / pairs"
    for r in rows do
        let counts = [ for m in 0 .. maxModes -> sprintf "%4d" (r.ByModes |> Map.tryFind m |> Option.defaultValue 0) ]
        printfn "  %-6s %s  %9s  %d / %d / %s / %d of 12" r.Kind (String.Join(" ", counts)) (Script.sci r.ValidationMse)
            r.Attractors r.Patterns (if r.ReadoutOk then "ok" else "off") r.PairsReached
    if Script.quick then
        // Small, briefly trained networks: only check that every kind trains and analyses.
        for r in rows do
            Script.check (r.ValidationMse < 0.1) (sprintf "%s: validation MSE %s below 0.1" r.Kind (Script.sci r.ValidationMse))
            Script.check (r.Attractors >= 1) (sprintf "%s: at least one attractor (found %d)" r.Kind r.Attractors)
    else
        for r in rows do
            let bar = r.ValidationMse <= 1e-3 && r.Attractors = 8 && r.Patterns = 8 && r.ReadoutOk && r.PairsReached = 12
            Script.check bar (sprintf "%s: MSE <= 1e-3, 8 attractors one per pattern within 0.15, 12 one-bit pairs reached" r.Kind)

main ()
Script.finish ()
