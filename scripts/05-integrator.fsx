#!/usr/bin/env -S dotnet fsi
// 05 - The angular integrator: train the preset (a GRU; angular speed in, heading as (cos, sin) out),
// then look for the ring of slow points that stores the heading when the speed is zero.
//
//     dotnet fsi scripts/05-integrator.fsx            (RNNFUN_QUICK=1 for a tiny, barely trained run)
//
// Outputs: output/05-integrator-{model,fixed-points,slow-points}.json, output/05-integrator-report.html

#load "_references.fsx"

open System
open TorchSharp
open RnnFun
open RnnFun.Plotting
open RnnFun.Scripts

// ---- Hyper-parameters ----
let seed = 0
let units = if Script.quick then 16 else 64
let sequenceLength = if Script.quick then 20 else 50
let epochs = if Script.quick then 8 else 150
let trialsPerEpoch = if Script.quick then 320 else 640
let validationTrials = if Script.quick then 64 else 256
let initialStateCount = if Script.quick then 128 else 1024
let initialStateNoise = 0.5
let file name = Script.output ("05-integrator-" + name)

let main () =
    // 1. Train.
    let preset = Presets.integrator seed |> Presets.withSequenceLength sequenceLength
    let preset =
        { preset with
            Network = { preset.Network with Units = units }
            Fit =
                { preset.Fit with
                    Epochs = epochs }
            TrialsPerEpoch = trialsPerEpoch
            ValidationTrials = validationTrials }
    let hooks =
        { FitHooks.none with
            Progress =
                Some(fun p ->
                    if p.Batch = p.Batches && (p.Epoch % 10 = 0 || p.Epoch = p.Epochs) then
                        printfn "  epoch %3d/%d  loss %.5f" p.Epoch p.Epochs p.Loss) }
    printfn "training a %d-unit %s on the angular integrator (T = %d), up to %d epochs" units preset.Kind.Name sequenceLength epochs
    use fit = Presets.trainWith hooks preset
    let net = fit.Network
    let validationLoss = if fit.BestEpoch > 0 then fit.ValidationLosses[fit.BestEpoch - 1] else nan
    printfn "  %s after %d epochs in %.1f s; validation MSE %s" (StopReason.text fit.StopReason) fit.StoppedAtEpoch fit.WallTime.TotalSeconds (Script.sci validationLoss)
    ModelFile.save (file "model.json") net

    // 2. Trajectories of held-out trials from the learnt initial state.
    let validation = Pipeline.heldOut preset
    let run = Pipeline.trajectories fit.InitialState net validation
    let trajectories = run.States // [trial][time][units]
    let states = run.AllStates // [trials * time][units]

    // 3. Fixed points at zero speed, and slow points: a steepest descent on q from the same states,
    //    the q threshold chosen from the distribution of q (SlowPoints.threshold).
    let initial = InitialStates.fromStates initialStateCount initialStateNoise seed states
    let found = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) initial
    let slow = SlowPoints.find SlowPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) initial
    let group = slow.Groups[0]
    printfn "%d fixed points; %d slow points with q <= %s (rule: %s; %d of %d descended states below) in %.1f s"
        found.FixedPoints.Length slow.Points.Length (Script.sci group.Threshold.Threshold) group.Threshold.Rule group.Threshold.Below
        (group.Threshold.Below + group.Threshold.Above) (found.Elapsed + slow.Elapsed).TotalSeconds
    FixedPointFile.save (file "fixed-points.json") found.FixedPoints
    FixedPointFile.save (file "slow-points.json") slow.Points

    // The ring: each point's heading is the angle of its (cos, sin) readout; its place is its
    // (PC1, PC2) position in the PCA of the trajectories, and its mode along the ring is the
    // eigenvalue closest to 1.
    let pca = Pca.fitAll states
    let heading (points: FixedPoint[]) =
        if points.Length = 0 then [||]
        else
            use _ = torch.NewDisposeScope()
            use s = Arrays.matrixToTensor net.Precision (points |> Array.map (fun p -> p.State))
            Arrays.ofMatrix (Network.readout net s) |> Array.map (fun o -> atan2 o[1] o[0] * 180.0 / Math.PI)
    let fixedHeadings = heading found.FixedPoints
    printfn ""
    printfn "  fixed points at zero speed:"
    printfn "  %-4s %-10s %8s %10s %9s %10s" "id" "kind" "unstable" "q" "heading" "|lambda_1|"
    for i in Array.init found.FixedPoints.Length id |> Array.sortBy (fun i -> fixedHeadings[i]) do
        let p = found.FixedPoints[i]
        printfn "  %-4d %-10s %8d %10s %8.1f° %10.4f" p.Id (FixedPointFile.kindName p.Kind) p.UnstableModes (Script.sci p.Q) fixedHeadings[i] p.Eigenvalues[0].Magnitude
    let near = slow.Points |> Array.map (fun p -> (SlowPoints.closestToOne p.Eigenvalues).Value.Magnitude)
    let sectors = if slow.Points.Length > 0 then SlowPoints.sectorsCovered 12 pca slow.Points else 0
    let headingSectors =
        heading slow.Points |> Array.map (fun h -> int (floor ((h + 180.0) / 30.0)) % 12) |> Array.distinct |> Array.length

    // 4. The report: the fixed points in the state-space figure, the slow points as a ring in the
    //    PC1-PC2 plane coloured by the eigenvalue closest to 1, and the q distribution.
    Report.save
        (file "report.html")
        { ReportInputs.empty with
            Title = sprintf "RnnFun: angular integrator (%s mode)" Script.mode
            Model = Some(ModelSummary.ofNetwork net)
            FitConfig = Some preset.Fit
            Training = Some(TrainingSummary.ofFit fit)
            Batch = Some validation
            Outputs = run.Outputs
            States = Some trajectories
            Pca = Some pca
            FixedPoints = Some found.FixedPoints
            SlowPoints = Some slow }

    printfn ""
    printfn "summary (%s mode, %.1f s)" Script.mode (Script.elapsed ())
    let range (a: float[]) = if a.Length = 0 then "-" else sprintf "%.4f .. %.4f" (Array.min a) (Array.max a)
    printfn "  validation MSE %s; %d fixed points; %d slow points over %d of 12 sectors of the PC1-PC2 plane and %d of 12 heading sectors; |lambda| closest to 1: %s"
        (Script.sci validationLoss) found.FixedPoints.Length slow.Points.Length sectors headingSectors (range near)
    Script.check (Array.forall Double.IsFinite fit.Losses) "training losses are finite"
    Script.check (found.FixedPoints.Length + slow.Points.Length >= 1) "at least one fixed or slow point"
    if not Script.quick then
        Script.check (validationLoss <= 1e-3) (sprintf "validation MSE %s <= 1e-3" (Script.sci validationLoss))
        Script.check (sectors >= 10) (sprintf "the slow points cover the ring: %d of 12 sectors of the PC1-PC2 plane (>= 10)" sectors)
        Script.check (near.Length > 0 && near |> Array.forall (fun m -> abs (m - 1.0) < 0.1))
            (sprintf "along the ring one eigenvalue is near 1 at every slow point (|lambda| within 0.1 of 1): %s" (range near))

main ()
Script.finish ()
