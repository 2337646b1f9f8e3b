#!/usr/bin/env -S dotnet fsi
// 02 - The 3-bit flip-flop: train the preset, find the fixed points from trajectory states, build the
// topology between them, and write every file and a full report.
//
//     dotnet fsi scripts/02-flip-flop.fsx             (RNNFUN_QUICK=1 for a smaller run)
//
// A trained flip-flop network stores the 2^3 = 8 memories as 8 attractors, with saddles between them.
// Outputs: output/02-flip-flop-{model,training-log,fixed-points,topology}.json,
//          output/02-flip-flop-topology.dot, output/02-flip-flop-report.html

#load "_references.fsx"

open System
open System.IO
open TorchSharp
open RnnFun
open RnnFun.Plotting
open RnnFun.Scripts

// ---- Hyper-parameters ----
let seed = 0
let units = if Script.quick then 32 else 64
let sequenceLength = if Script.quick then 32 else 64
let epochs = if Script.quick then 20 else 40
let validationTrials = if Script.quick then 128 else 256
let initialStateCount = if Script.quick then 256 else 1024
let initialStateNoise = 0.5
let runsPerPoint = if Script.quick then 16 else 64
let file name = Script.output ("02-flip-flop-" + name)

let main () =
    // 1. Train. The preset is a record: change what you need with record updates.
    let preset = Presets.flipFlop seed |> Presets.withSequenceLength sequenceLength
    let preset =
        { preset with
            Network = { preset.Network with Units = units }
            Fit =
                { preset.Fit with
                    Epochs = epochs
                    // Quick mode runs every epoch (a fixed amount of work); full mode may stop early.
                    StopLoss = (if Script.quick then None else preset.Fit.StopLoss) }
            ValidationTrials = validationTrials }
    let hooks =
        { FitHooks.none with
            Progress =
                Some(fun p ->
                    if p.Batch = p.Batches && (p.Epoch % 5 = 0 || p.Epoch = p.Epochs) then
                        printfn "  epoch %3d/%d  loss %.5f  (%.1f steps/s)" p.Epoch p.Epochs p.Loss p.StepsPerSecond) }
    printfn "training a %d-unit %s on the %d-bit flip-flop (T = %d), up to %d epochs" units preset.Kind.Name preset.Task.InputSize sequenceLength epochs
    use fit = Presets.trainWith hooks preset
    let net = fit.Network // owned by fit
    let validationLoss = if fit.BestEpoch > 0 then fit.ValidationLosses[fit.BestEpoch - 1] else nan
    printfn "  %s after %d epochs in %.1f s; validation MSE %s (epoch %d)" (StopReason.text fit.StopReason) fit.StoppedAtEpoch fit.WallTime.TotalSeconds (Script.sci validationLoss) fit.BestEpoch
    ModelFile.save (file "model.json") net
    TrainingLogFile.save (file "training-log.json") "flipflop" preset.Fit fit

    // 2-3. Fixed points under zero input, from states the network visits on held-out trials
    //    (the same trials Presets.train validated on), jittered with Gaussian noise; then the
    //    topology: where runs started near each fixed point (noise, unstable directions) end.
    let validation = Pipeline.heldOut preset
    let analysis =
        Pipeline.analyse
            { PipelineConfig.defaults with
                InitialStateCount = initialStateCount
                InitialStateNoise = initialStateNoise
                Seed = seed
                Topology = { TopologyConfig.defaults with RunsPerPoint = runsPerPoint; Seed = seed } }
            net fit.InitialState validation
    let found = analysis.Search
    printfn "fixed points: %d from %d initial states (%d converged, %d duplicates, %d outliers) in %.1f s"
        found.FixedPoints.Length found.InitialStates found.Converged found.Duplicates found.Outliers found.Elapsed.TotalSeconds
    FixedPointFile.save (file "fixed-points.json") found.FixedPoints

    // What each attractor remembers: the sign of the readout at the attractor.
    let attractors = found.FixedPoints |> Array.filter (fun p -> p.Kind = FixedPointKind.Attractor)
    let memories =
        if attractors.Length = 0 then [||]
        else
            use _ = torch.NewDisposeScope()
            use s = Arrays.matrixToTensor net.Precision (attractors |> Array.map (fun p -> p.State))
            let o = Arrays.ofMatrix (Network.readout net s) // [attractors][outputs]
            o |> Array.map (Array.map (fun v -> if v >= 0.0 then '+' else '-') >> String)
    for p, m in Array.zip attractors memories do
        printfn "  attractor %2d remembers %s  (|lambda_1| = %.3f)" p.Id m p.Eigenvalues[0].Magnitude

    let topology = analysis.Topology |> Option.defaultWith (fun () -> failwith "no fixed point found, so no topology")
    TopologyFile.save (file "topology.json") topology
    File.WriteAllText(file "topology.dot", Topology.toDot topology)
    printfn "topology: %d vertices, %d edges, %d runs unreached" topology.Vertices.Length topology.Edges.Length topology.Unreached

    // 4. The report: configuration, training curves, trials, weights, PCA, fixed points, topology.
    Report.save
        (file "report.html")
        { ReportInputs.empty with
            Title = sprintf "RnnFun: %d-bit flip-flop (%s mode)" preset.Task.InputSize Script.mode
            Model = Some(ModelSummary.ofNetwork net)
            FitConfig = Some preset.Fit
            Training = Some(TrainingSummary.ofFit fit)
            Batch = Some validation
            Outputs = analysis.Trajectories.Outputs
            States = Some analysis.Trajectories.States
            Pca = analysis.Pca
            FixedPoints = Some found.FixedPoints
            Topology = Some topology
            Notes = [ ("seed", string seed); ("initial states", sprintf "%d trajectory states + N(0, %g)" initialStateCount initialStateNoise) ] }

    let byModes = found.FixedPoints |> Array.countBy (fun p -> p.UnstableModes) |> Array.sortBy fst |> Array.map (fun (m, c) -> sprintf "%d with %d" c m)
    printfn ""
    printfn "summary (%s mode, %.1f s)" Script.mode (Script.elapsed ())
    printfn "  validation MSE %s; %d fixed points (%s unstable modes); %d attractors" (Script.sci validationLoss) found.FixedPoints.Length (String.Join(", ", byModes)) attractors.Length
    printfn "  wrote %s" (file "*")
    Script.check (validationLoss < (if Script.quick then 0.05 else 0.005)) (sprintf "validation MSE %s is small" (Script.sci validationLoss))
    if Script.quick then
        Script.check (attractors.Length >= 4) (sprintf "at least 4 attractors (found %d)" attractors.Length)
    else
        Script.check (attractors.Length = 8) (sprintf "exactly 8 attractors (found %d)" attractors.Length)
        Script.check ((Array.distinct memories).Length = 8) "the 8 attractors hold the 8 different memories"
    Script.check (found.FixedPoints |> Array.forall (fun p -> p.Q < FixedPointConfig.defaults.TolQ)) "every fixed point has q below the tolerance"

main ()
Script.finish ()
