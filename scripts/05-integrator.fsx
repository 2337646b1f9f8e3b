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

main () =
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

    // 3. Fixed and slow points at zero speed.
    let config = { FixedPointConfig.defaults with IncludeSlowPoints = true; SlowTolQ = slowPointQ }
    let initial = InitialStates.fromStates initialStateCount initialStateNoise seed states
    let found = FixedPoints.find config net (ConstantInput.Same [| 0.0 |]) initial
    let points = Array.append found.FixedPoints found.SlowPoints
    printfn "%d fixed points and %d slow points (q < %g) from %d initial states in %.1f s"
        found.FixedPoints.Length found.SlowPoints.Length slowPointQ found.InitialStates found.Elapsed.TotalSeconds
    FixedPointFile.save (file "fixed-points.json") found.FixedPoints
    FixedPointFile.save (file "slow-points.json") found.SlowPoints

    // The ring: each point's heading is the angle of its (cos, sin) readout; its place is its
    // (PC1, PC2) position in the PCA of the trajectories. A ring of fixed points is one-dimensional:
    // its points are attractors and saddles with one unstable mode (along the ring), alternating;
    // points with more unstable modes (the centre, saddles off the ring) are not on it.
    let pca = Pca.fitAll states
    let headings =
        if points.Length = 0 then [||]
        else
            use _ = torch.NewDisposeScope()
            use s = Arrays.matrixToTensor net.Precision (points |> Array.map (fun p -> p.State))
            Arrays.ofMatrix (Network.readout net s) |> Array.map (fun o -> atan2 o[1] o[0] * 180.0 / Math.PI)
    let pcs = points |> Array.map (fun p -> Pca.transformPoint pca p.State)
    let onRing = points |> Array.map (fun p -> p.UnstableModes <= 1)
    printfn ""
    printfn "  %-4s %-6s %-10s %8s %10s %9s %9s %9s %5s %10s" "id" "type" "kind" "unstable" "q" "heading" "PC1" "PC2" "ring" "|lambda_1|"
    for i in Array.init points.Length id |> Array.sortBy (fun i -> headings[i]) do
        let p, pc = points[i], pcs[i]
        printfn "  %-4d %-6s %-10s %8d %10s %8.1f° %9.3f %9.3f %5s %10.4f"
            p.Id (match p.Search with Some s when not s.Converged -> "slow" | _ -> "fixed") (FixedPointFile.kindName p.Kind) p.UnstableModes (Script.sci p.Q)
            headings.[i] pc.[0] pc.[1] (if onRing.[i] then "yes" else "-") p.Eigenvalues.[0].Magnitude

    // 4. The report: its fixed-point section holds the state-space figure (trajectories in PC space,
    //    points coloured by unstable modes, unstable directions as segments).
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
            FixedPoints = Some points
            Notes = [ ("slow points", sprintf "%d with q < %g (ids after the fixed points)" found.SlowPoints.Length slowPointQ) ] }

    let ring = Array.zip points onRing |> Array.filter snd |> Array.map fst
    let leading = ring |> Array.map (fun p -> p.Eigenvalues[0].Magnitude)
    // An attractor's leading |lambda| is its slowest relaxation, along the ring; a saddle's is how
    // fast the state leaves it along the ring, towards the attractors beside it.
    let attractorLeading = ring |> Array.filter (fun p -> p.UnstableModes = 0) |> Array.map (fun p -> p.Eigenvalues[0].Magnitude)
    // Headings the ring covers: the number of 30-degree sectors that hold a ring point.
    let sectors =
        Array.zip headings onRing
        |> Array.filter snd
        |> Array.map (fun (h, _) -> int (floor ((h + 180.0) / 30.0)) % 12)
        |> Array.distinct
        |> Array.length
    printfn ""
    printfn "summary (%s mode, %.1f s)" Script.mode (Script.elapsed ())
    let range (a: float[]) = if a.Length = 0 then "-" else sprintf "%.4f .. %.4f" (Array.min a) (Array.max a)
    printfn "  validation MSE %s; %d fixed + %d slow points, %d on the ring (%d attractors) covering %d of 12 heading sectors; ring |lambda_1| %s, its attractors' %s"
        (Script.sci validationLoss) found.FixedPoints.Length found.SlowPoints.Length ring.Length attractorLeading.Length sectors
        (range leading) (range attractorLeading)
    Script.check (Array.forall Double.IsFinite fit.Losses) "training losses are finite"
    Script.check (points.Length >= 1) (sprintf "at least one fixed or slow point (found %d)" points.Length)
    if not Script.quick then
        Script.check (validationLoss < 0.05) (sprintf "validation MSE %s < 0.05" (Script.sci validationLoss))
        Script.check (ring.Length >= 6 && sectors >= 6) (sprintf "the ring holds >= 6 points over >= 6 of 12 heading sectors (%d, %d)" ring.Length sectors)
        // Zero speed is not among the task's speeds, so nothing in training asks the network to hold a
        // heading: the ring at zero speed is a chain of attractors and saddles, not a continuous
        // attractor, and its saddles may repel at up to about 1.5 per step. What holds is slow relaxation
        // into the ring's attractors.
        Script.check (attractorLeading.Length >= 3 && attractorLeading |> Array.forall (fun m -> abs (m - 1.0) < 0.2))
            (sprintf "the ring has >= 3 attractors, each with leading |lambda| within 0.2 of 1 (slow along the ring): %s" (range attractorLeading))

main ()
Script.finish ()
