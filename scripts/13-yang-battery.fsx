#!/usr/bin/env -S dotnet fsi
// 13 - Yang et al. 2019's 20-task battery: train one network on all the tasks interleaved, then
// their analysis: accuracy per task, each unit's task variance, the active units, k-means clusters of
// the normalised variances (k by silhouette score), the FTV between two tasks, and a lesion of each
// cluster.
//
//     dotnet fsi scripts/13-yang-battery.fsx          (RNNFUN_QUICK=1 for a tiny, barely trained run)
//
// Outputs: output/13-yang-battery-model.json, output/13-yang-battery-variance.html

#load "_references.fsx"

open System
open Plotly.NET
open RnnFun
open RnnFun.Scripts

// ---- Hyper-parameters ----
let seed = 0
// The full run trains the small preset (64 units) longer; `Presets.yangBattery` (256 units, their
// settings) is the one to run for the paper's figures, far longer than a script's minutes.
let units = if Script.quick then 32 else 64
let epochs = if Script.quick then 2 else 60
let trialsPerEpoch = if Script.quick then 128 else 640
let varianceTrials = if Script.quick then 8 else 128
let accuracyTrials = if Script.quick then 8 else 128
let clusterCounts = if Script.quick then [ 2; 3 ] else [ 2 .. 29 ]
let ruleA, ruleB = "contextdm1", "contextdm2"
let file name = Script.output ("13-yang-battery-" + name)

let main () =
    let config = YangConfig.defaults
    printfn "13-yang-battery (%s mode): %d tasks, %d inputs (fixation, 2 rings of %d, %d rule inputs), %d outputs"
        Script.mode config.Rules.Length (YangTasks.inputSize config) config.RingUnits config.Rules.Length (YangTasks.outputSize config)

    // 1. Train on all the tasks interleaved.
    let preset = Presets.yangBatterySmall seed
    let preset =
        { preset with
            Network = { preset.Network with Units = units }
            Fit = { preset.Fit with Epochs = epochs }
            TrialsPerEpoch = trialsPerEpoch
            ValidationTrials = (if Script.quick then 32 else 128) }
    printfn "[1/3] training a %d-unit %s (alpha 0.2, recurrent noise 0.05) for %d epochs of %d trials" units preset.Kind.Name epochs trialsPerEpoch
    use fit = Presets.train preset
    let net = fit.Network
    ModelFile.save (file "model.json") net
    printfn "      %s after %d epochs, validation loss %.4g -> %.4g (%.1fs)"
        (StopReason.text fit.StopReason) fit.StoppedAtEpoch fit.ValidationLosses[0] (Array.last fit.ValidationLosses) fit.WallTime.TotalSeconds

    // 2. The analysis.
    printfn "[2/3] task variance, clusters and lesions"
    let settings =
        { MultitaskAnalysisConfig.defaults with
            VarianceTrials = varianceTrials; AccuracyTrials = accuracyTrials; ClusterCounts = clusterCounts; Restarts = (if Script.quick then 2 else 20); Seed = seed }
    let a = Multitask.analyse settings config net
    printfn "      (%.1fs)" (Script.elapsed ())
    let v = a.Variance
    printfn "      %d of %d units active (summed task variance above %g); k = %d (silhouette %.2f)"
        v.Active.Length units v.Threshold a.Clusters.K (a.Clusters.Scores |> Array.find (fun (k, _) -> k = a.Clusters.K) |> snd)
    printfn "      %-16s %8s   %s" "task" "correct" (String.Join(" ", [ for c in 0 .. a.Clusters.K - 1 -> sprintf "-c%-3d" c ]))
    for i, r in Array.indexed a.Accuracy do
        printfn "      %-16s %7.1f%%   %s" r.Rule (100.0 * r.Accuracy) (String.Join(" ", [ for l in a.Lesions -> sprintf "%4.0f%%" (100.0 * l.Accuracy[i].Accuracy) ]))
    let ftv = Multitask.fractionalVariance v ruleA ruleB
    printfn "      FTV(%s, %s) over %d units, 20 bins from -1 to 1: %s" ruleA ruleB ftv.Units.Length (String.Join(" ", ftv.Histogram))

    // 3. The normalised task variance of the active units, sorted by cluster (their Fig. 2).
    printfn "[3/3] figure"
    let order = [| 0 .. v.Active.Length - 1 |] |> Array.sortBy (fun i -> a.Clusters.Labels[i])
    let z = Array.init v.Rules.Length (fun j -> order |> Array.map (fun i -> v.Normalized[i][j]))
    let chart =
        Chart.Heatmap(z, X = (order |> Array.map (fun i -> sprintf "u%d c%d" v.Active[i] a.Clusters.Labels[i])), Y = v.Rules)
        |> Chart.withTitle "Normalised task variance of the active units, by cluster"
    Script.saveChart (file "variance.html") "10 - Yang battery: task variance" chart

    // Sanity checks.
    let mean = a.Accuracy |> Array.averageBy (fun r -> r.Accuracy)
    Script.check (Array.last fit.ValidationLosses < fit.ValidationLosses[0]) "training lowered the validation loss"
    Script.check (a.Accuracy.Length = 20 && a.Accuracy |> Array.forall (fun r -> r.Accuracy >= 0.0 && r.Accuracy <= 1.0)) "an accuracy per task"
    Script.check (v.Active |> Array.forall (fun u -> Array.sum v.Variance[u] > v.Threshold)) "active units above the threshold"
    Script.check ((a.Clusters.Members |> Array.sumBy Array.length) = v.Active.Length) "every active unit in one cluster"
    Script.check (a.Lesions.Length = a.Clusters.K) "a lesion per cluster"
    if not Script.quick then Script.check (mean > 0.3) (sprintf "mean accuracy %.1f %% well above a chance guess" (100.0 * mean))
    printfn "done in %.1fs: mean accuracy %.1f %%; wrote %s and %s" (Script.elapsed ()) (100.0 * mean) (file "model.json") (file "variance.html")
    Script.finish ()

main ()
