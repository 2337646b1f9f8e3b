#!/usr/bin/env -S dotnet fsi
// 14 - Context-dependent integration (Mante et al. 2013): train the preset (a GRU, two noisy
// evidence streams, a context cue that says which one to judge, the choice after a go cue), then look
// for the slow points under each context's input, as Mante et al. and Maheswaranathan et al. did:
// per context, an approximate line attractor (many slow points along one direction, one eigenvalue
// near 1, the others inside the unit circle), drawn in the PCA space of the trials.
//
//     dotnet fsi scripts/14-context-integration.fsx        (RNNFUN_QUICK=1 for a small, brief run)
//
// Outputs: output/09-context-{model,fixed-points,slow-points}.json, output/09-context-report.html

#load "_references.fsx"

open System
open RnnFun
open RnnFun.Plotting
open RnnFun.Scripts

// ---- Hyper-parameters ----
let seed = 0
let units = if Script.quick then 16 else 64
let epochs = if Script.quick then 4 else 100
let trialsPerEpoch = if Script.quick then 256 else 640
let trials = if Script.quick then 32 else 256 // held-out trials: trajectories, PCA, initial states
let initialStatesPerContext = if Script.quick then 64 else 512
let initialStateNoise = 0.1
let descentSteps = 50 // steepest-descent steps of the slow-point search (SlowPointConfig.Iterations)
let file name = Script.output ("09-context-" + name)

let main () =
    // 1. Train.
    let preset = Presets.contextDecision seed
    let preset =
        { preset with
            Network = { preset.Network with Units = units }
            Fit = { preset.Fit with Epochs = epochs }
            TrialsPerEpoch = trialsPerEpoch }
    printfn "training a %d-unit %s on context-dependent integration (T = %d steps of 20 ms), %d epochs" units preset.Kind.Name (preset.Task.Generate 1 0).Time epochs
    use fit = Presets.train preset
    let net = fit.Network
    let validationLoss = if fit.BestEpoch > 0 then fit.ValidationLosses[fit.BestEpoch - 1] else nan
    ModelFile.save (file "model.json") net
    let task = Presets.contextDecisionTask
    let batch, trialConditions = task.GenerateTrials trials (Presets.validationSeed seed)
    let run = Pipeline.trajectories fit.InitialState net batch
    let correct = task.Correct run.Outputs trialConditions |> Array.filter id |> Array.length
    let ideal =
        let choices = task.IdealChoice batch trialConditions
        Array.zip choices trialConditions |> Array.filter (fun (c, t) -> c = t.Choice) |> Array.length
    printfn "  %s after %d epochs in %.1f s; validation loss %s; %d of %d held-out trials correct (ideal observer %d)"
        (StopReason.text fit.StopReason) fit.StoppedAtEpoch fit.WallTime.TotalSeconds (Script.sci validationLoss) correct trials ideal

    // 2. Fixed and slow points per context: each context's input at zero coherence
    //    (Conditions.contextDecision), initial states from the trials' trajectories.
    let states = run.AllStates // [trials * time][units]
    let conditions = Conditions.contextDecision
    let initial = conditions |> Array.mapi (fun i _ -> InitialStates.fromStates initialStatesPerContext initialStateNoise (seed + i) states)
    let fixedSearch = Conditions.find FixedPointConfig.defaults net conditions initial
    let slow = Conditions.slowPoints { SlowPointConfig.defaults with Iterations = descentSteps } net conditions initial
    FixedPointFile.saveWithConditions (file "fixed-points.json") conditions fixedSearch.Search.FixedPoints
    FixedPointFile.saveWithConditions (file "slow-points.json") conditions slow.Points

    // 3. Per context: the line attractor.
    let pca = Pca.fitAll states
    printfn ""
    printfn "  %-10s %6s %7s %12s %22s %13s %16s %10s" "context" "fixed" "slow" "threshold" "variance PC1/PC2 (%)" "|lambda*-1|" "others inside" "PC1-PC2"
    let summaries =
        [| for c, g in Array.zip fixedSearch.Conditions slow.Groups do
               let m = Conditions.manifold g.Points
               let near = m.NearOne |> Array.map (fun l -> (l - Numerics.Complex.One).Magnitude) |> Array.sort
               let median = if near.Length = 0 then nan else near[near.Length / 2]
               let inside = m.OtherModulus |> Array.filter (fun v -> v < 1.0) |> Array.length
               let ratio i = if m.VarianceRatios.Length > i then 100.0 * m.VarianceRatios[i] else nan
               printfn "  %-10s %6d %7d %12s %14.1f / %5.1f %13.4f %9d of %-4d %5d of 12"
                   c.Condition.Name c.FixedPoints.Length m.Points (Script.sci g.Threshold.Threshold) (ratio 0) (ratio 1) median inside m.Points
                   (if g.Points.Length > 0 then SlowPoints.sectorsCovered 12 pca g.Points else 0)
               yield c.Condition.Name, m, median, inside |]

    // 4. The report: the slow points per context in the PCA space of the trials.
    Report.save
        (file "report.html")
        { ReportInputs.empty with
            Title = sprintf "RnnFun: context-dependent integration (%s mode)" Script.mode
            Model = Some(ModelSummary.ofNetwork net)
            FitConfig = Some preset.Fit
            Training = Some(TrainingSummary.ofFit fit)
            Batch = Some batch
            Outputs = run.Outputs
            States = Some run.States
            Pca = Some pca
            FixedPoints = Some fixedSearch.Search.FixedPoints
            SlowPoints = Some slow
            Conditions = List.ofArray conditions
            Notes = [ "held-out trials correct", sprintf "%d of %d (ideal observer %d)" correct trials ideal ] }

    printfn ""
    printfn "summary (%s mode, %.1f s): validation loss %s, %d of %d correct" Script.mode (Script.elapsed ()) (Script.sci validationLoss) correct trials
    Script.check (Array.forall Double.IsFinite fit.Losses) "training losses are finite"
    Script.check (slow.Groups.Length = 2) "one group of slow points per context"
    Script.check (slow.Points.Length >= 1) (sprintf "at least one slow point (found %d)" slow.Points.Length)
    if not Script.quick then
        Script.check (float correct >= 0.9 * float trials) (sprintf "at least 90 %% of the held-out trials correct (%d of %d)" correct trials)
        for name, m, median, inside in summaries do
            Script.check (m.Points >= 8 && m.VarianceRatios.Length > 0 && m.VarianceRatios[0] >= 0.9)
                (sprintf "%s: many slow points along one direction (%d, %.1f %% of their variance on PC1)" name m.Points (if m.VarianceRatios.Length > 0 then 100.0 * m.VarianceRatios[0] else nan))
            Script.check (median <= 0.05) (sprintf "%s: one eigenvalue near 1 (median |lambda* - 1| = %.4f)" name median)
            Script.check (float inside >= 0.9 * float m.Points) (sprintf "%s: the other eigenvalues inside the unit circle (%d of %d points)" name inside m.Points)

main ()
Script.finish ()
