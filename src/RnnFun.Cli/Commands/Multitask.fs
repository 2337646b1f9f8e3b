/// rnnfun multitask: Yang et al. 2019's analysis of a network trained on their battery.
module RnnFun.Cli.MultitaskCommand

open System
open System.Text.Json
open Argu
open RnnFun
open RnnFun.Cli.Args
open RnnFun.Cli.Common

/// Runs `rnnfun multitask`; returns the exit code (a user's mistake raises `UserError`).
let run (args: ParseResults<MultitaskArgs>) =
    use net = ModelFile.load (args.GetResult MultitaskArgs.Model)
    let config = YangConfig.defaults
    if net.Sizes.Inputs <> YangTasks.inputSize config || net.Sizes.Outputs <> YangTasks.outputSize config then
        raise (UserError(sprintf "--model: the battery has %d inputs and %d outputs, the model %d and %d (train it with rnnfun train --task yang-battery)" (YangTasks.inputSize config) (YangTasks.outputSize config) net.Sizes.Inputs net.Sizes.Outputs))
    let out = args.TryGetResult MultitaskArgs.Out
    out |> Option.iter (checkOutputFile "--out")
    let settings =
        match args.TryGetResult MultitaskArgs.Trials with
        | Some n when n < 2 -> raise (UserError(sprintf "--trials: expected at least 2, got %d" n))
        | Some n -> { MultitaskAnalysisConfig.defaults with VarianceTrials = n; AccuracyTrials = n }
        | None -> MultitaskAnalysisConfig.defaults
    let settings = { settings with Seed = args.GetResult(MultitaskArgs.Seed, defaultValue = 0) }
    let stopwatch = Diagnostics.Stopwatch.StartNew()
    let a =
        try Multitask.analyse settings config net
        with InvalidArgument ("cluster_counts", problem) -> raise (UserError("the network has too few active units to cluster: " + problem))
    let mean (xs: RuleAccuracy[]) = xs |> Array.averageBy (fun r -> r.Accuracy)
    out
    |> Option.iter (fun path ->
        let rules = a.Variance.Rules
        let ftv = [ for i in 0 .. rules.Length - 1 do for j in i + 1 .. rules.Length - 1 -> Multitask.fractionalVariance a.Variance rules[i] rules[j] ]
        let document =
            {| format = "rnnfun.multitask"
               accuracy = a.Accuracy |> Array.map (fun r -> {| rule = r.Rule; accuracy = r.Accuracy; trials = r.Trials |})
               task_variance = {| rules = rules; variance = a.Variance.Variance; active = a.Variance.Active; threshold = a.Variance.Threshold; normalized = a.Variance.Normalized |}
               clusters = {| k = a.Clusters.K; scores = a.Clusters.Scores |> Array.map (fun (k, s) -> {| k = k; silhouette = s |}); labels = a.Clusters.Labels; members = a.Clusters.Members; centroids = a.Clusters.Centroids |}
               ftv = ftv |> List.map (fun f -> {| rule_a = f.RuleA; rule_b = f.RuleB; units = f.Units; ftv = f.Ftv; histogram = f.Histogram |})
               lesions = a.Lesions |> Array.map (fun l -> {| cluster = l.Cluster; units = l.Units; accuracy = l.Accuracy |> Array.map (fun r -> {| rule = r.Rule; accuracy = r.Accuracy |}) |}) |}
        FileFormat.writeAtomically path (fun s ->
            use w = new IO.StreamWriter(s, Text.UTF8Encoding(false), 4096, true)
            w.Write(JsonSerializer.Serialize(document, JsonSerializerOptions(WriteIndented = true)))))
    printfn "%.1f %% correct over %d tasks; %d of %d units active; %d clusters (silhouette %.2f); %d lesions in %.1fs%s"
        (100.0 * mean a.Accuracy) a.Accuracy.Length a.Variance.Active.Length net.Sizes.Units a.Clusters.K
        (a.Clusters.Scores |> Array.find (fun (k, _) -> k = a.Clusters.K) |> snd) a.Lesions.Length stopwatch.Elapsed.TotalSeconds
        (match out with Some p -> "; wrote " + IO.Path.GetFullPath p | None -> "")
    if not (args.Contains MultitaskArgs.Quiet) then
        printfn "  %-16s %8s %s" "task" "correct" (String.Join(" ", [ for c in 0 .. a.Clusters.K - 1 -> sprintf "%6s" (sprintf "-c%d" c) ]))
        for i, r in Array.indexed a.Accuracy do
            let lesioned = [ for l in a.Lesions -> sprintf "%5.0f%%" (100.0 * l.Accuracy[i].Accuracy) ]
            printfn "  %-16s %7.1f%% %s" r.Rule (100.0 * r.Accuracy) (String.Join(" ", lesioned))
        printfn "  (-cK: correct with cluster K silenced; cluster sizes %s)" (String.Join(", ", a.Clusters.Members |> Array.map (fun m -> string m.Length)))
    0
