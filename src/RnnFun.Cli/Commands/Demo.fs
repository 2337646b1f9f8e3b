/// rnnfun demo: train, analyse and report on a task, end to end.
module RnnFun.Cli.DemoCommand

open System
open Argu
open RnnFun
open RnnFun.Plotting
open RnnFun.Cli.Args
open RnnFun.Cli.Common

/// The report of a demo run.
let private writeReport (path: string) (task: string) (net: Network) (fitConfig: FitConfig) (fit: FitResult) (validation: Batch) (analysis: PipelineAnalysis) (slow: SlowPointResult option) (t: Topology) =
    // The PCA sees every held-out trial; the figures draw 32 of them (drawing all 256 only slows the
    // report down: Plotly.NET's JSON is the slow part).
    let shown = min 32 validation.Trials
    let found = analysis.Search
    let inputs =
        { ReportInputs.empty with
            Title = sprintf "RnnFun demo: %s" task
            Model = Some(ModelSummary.ofNetwork net)
            FitConfig = Some fitConfig
            Training = Some(TrainingSummary.ofFit fit)
            Batch = Some(Batch.slice 0 shown validation)
            Outputs = Array.sub analysis.Trajectories.Outputs 0 (shown * validation.Time * validation.OutputSize)
            States = Some(Array.truncate shown analysis.Trajectories.States)
            Pca = analysis.Pca
            FixedPoints = Some found.FixedPoints
            SlowPoints = slow
            Topology = Some t
            Notes =
                [ "task", task
                  "fixed points", sprintf "%d from %d initial states (%d converged, %d duplicates, %d outliers)" found.FixedPoints.Length found.InitialStates found.Converged found.Duplicates found.Outliers
                  "slow points", (match slow with Some s -> string s.Points.Length | None -> "not searched") ] }
    RnnFun.Plotting.Report.save path inputs


/// The summary of a demo run (summary.json).
let private writeSummary (path: string) (task: string) (net: Network) (fit: FitResult) (trainSeconds: float) (analysisSeconds: float) (points: FixedPoint[]) (slow: int) (t: Topology) =
    FileFormat.writeAtomically path (fun stream ->
        use w = new Text.Json.Utf8JsonWriter(stream, Text.Json.JsonWriterOptions(Indented = true))
        let last a = if Array.isEmpty a then nan else Array.last a
        let finiteOrNull (name: string) (v: float) = if Double.IsFinite v then w.WriteNumber(name, v) else w.WriteNull name
        w.WriteStartObject()
        w.WriteString("task", task)
        w.WriteString("kind", net.Kind.Name)
        w.WriteNumber("n_units", net.Sizes.Units)
        w.WriteNumber("epochs", fit.Losses.Length)
        w.WriteString("stop_reason", StopReason.text fit.StopReason)
        finiteOrNull "final_loss" (last fit.Losses)
        finiteOrNull "validation_mse" (if fit.BestEpoch > 0 && fit.ValidationLosses.Length >= fit.BestEpoch then fit.ValidationLosses[fit.BestEpoch - 1] else last fit.ValidationLosses)
        w.WriteNumber("train_seconds", trainSeconds)
        w.WriteNumber("analysis_seconds", analysisSeconds)
        w.WriteStartObject "fixed_points"
        w.WriteNumber("total", points.Length)
        w.WriteStartObject "by_unstable_modes"
        for (modes, count) in points |> Array.countBy (fun p -> p.UnstableModes) |> Array.sortBy fst do
            w.WriteNumber(string modes, count)
        w.WriteEndObject()
        w.WriteNumber("attractors", points |> Array.filter (fun p -> p.Kind = FixedPointKind.Attractor) |> Array.length)
        w.WriteNumber("slow_points", slow)
        w.WriteEndObject()
        w.WriteStartObject "topology"
        w.WriteNumber("edges", t.Edges.Length)
        w.WriteNumber("runs", t.Vertices |> Array.sumBy (fun v -> v.Runs.Noise + v.Runs.Unstable))
        w.WriteNumber("runs_unresolved", t.Unreached)
        w.WriteEndObject()
        w.WriteEndObject()
        w.Flush())

/// Runs `rnnfun demo` with Ctrl-C routed to `interrupts`; returns the exit code (130 when an
/// interrupt stopped the training, after the analysis of the best model; a user's mistake raises
/// `UserError`).
let runWith (interrupts: Interrupts) (args: ParseResults<DemoArgs>) =
    let out = args.GetResult(DemoArgs.Out, defaultValue = "./rnnfun-demo")
    let task = args.GetResult(DemoArgs.Task, defaultValue = "flipflop")
    if task <> "flipflop" && task <> "integrator" then
        raise (UserError(sprintf "--task: unknown task '%s' (expected flipflop or integrator)" task))
    let seed = args.GetResult(DemoArgs.Seed, defaultValue = 0)
    let kind = args.TryGetResult DemoArgs.Kind
    // Checked before any work (the preset itself is made below).
    kind |> Option.iter (fun name ->
        try Presets.kindByName name |> ignore
        with InvalidArgument (_, problem) -> raise (UserError("--kind: " + problem)))
    let quick = args.Contains DemoArgs.Quick
    let quiet = args.Contains DemoArgs.Quiet
    let say format = Printf.kprintf (fun text -> if not quiet then eprintfn "%s" text) format
    checkOutputFolder "--out" out
    let dir = IO.Path.GetFullPath out
    IO.Directory.CreateDirectory dir |> ignore
    let file name = IO.Path.Combine(dir, name)
    // 1. Train.
    let preset = Presets.byName task seed
    let preset = match kind with Some name -> Presets.withKindNamed name preset | None -> preset
    let preset =
        if not quick then preset
        else
            let shorter = preset |> Presets.withSequenceLength 32
            { shorter with
                Network = { shorter.Network with Units = 32 }
                Fit = { shorter.Fit with Epochs = 20; StopLoss = None }
                ValidationTrials = 128 }
    say "[1/4] training %s: %d-unit %s, up to %d epochs" task preset.Network.Units preset.Kind.Name preset.Fit.Epochs
    let trainWatch = Diagnostics.Stopwatch.StartNew()
    let validation = Pipeline.heldOut preset
    let fitConfig =
        { preset.Fit with Validation = Some validation }
    let hooks = { FitHooks.none with Cancellation = interrupts.Token; Progress = (if quiet then None else Some(progressBar ())) }
    use fit =
        use initial = Network.create preset.Kind preset.Network
        Training.fitWith hooks fitConfig initial (TrainingData.Fresh(preset.Task, preset.TrialsPerEpoch))
    // The analysis cannot stop half-way and keep anything: a Ctrl-C from here on ends the process.
    interrupts.EndTraining()
    if not quiet then eprintfn ""
    let net = fit.Network
    ModelFile.save (file "model.json") net
    TrainingLogFile.save (file "training-log.json") task fitConfig fit
    let trainSeconds = trainWatch.Elapsed.TotalSeconds
    // 2-3. Fixed points from trajectory states of the held-out trials (from the learnt initial state,
    // if any), then the topology between them.
    let count = if quick then 256 else 1024
    say "[2/4] fixed points from %d trajectory states" count
    let fpProgress (p: FixedPointProgress) =
        if not quiet then eprintf "\r      %-6s iteration %4d/%d  worst q %s  converged %d/%d   " p.Phase p.Iteration p.MaxIterations (sci p.WorstQ) p.Converged p.States
    let pipeline =
        { PipelineConfig.defaults with
            InitialStateCount = count
            Seed = seed
            Search = { FixedPointConfig.defaults with Progress = Some fpProgress }
            Topology = { TopologyConfig.defaults with RunsPerPoint = (if quick then 16 else 64); Seed = seed } }
    let analysis = Pipeline.analyse pipeline net fit.InitialState validation
    if not quiet then eprintfn ""
    let found = analysis.Search
    // The integrator's ring: slow points from the same trajectory states as the search's.
    let slow =
        if task <> "integrator" then None
        else
            let initial = InitialStates.fromStates count pipeline.InitialStateNoise seed analysis.Trajectories.AllStates
            let input = ConstantInput.Same(Array.zeroCreate net.Sizes.Inputs)
            Some(SlowPoints.find { SlowPointConfig.defaults with Progress = Some fpProgress } net input initial)
    if not quiet && slow.IsSome then eprintfn ""
    FixedPointFile.save (file "fixed-points.json") found.FixedPoints
    slow |> Option.iter (fun s -> FixedPointFile.save (file "slow-points.json") s.Points)
    let slowCount = match slow with Some s -> s.Points.Length | None -> 0
    let t =
        match analysis.Topology with
        | Some t -> t
        | None -> raise (UserError(sprintf "the search found no fixed point from %d trajectory states, so there is no topology; try another --seed, or train longer (without --quick)" found.InitialStates))
    say "[3/4] topology over %d fixed points: %d edges" found.FixedPoints.Length t.Edges.Length
    TopologyFile.save (file "topology.json") t
    IO.File.WriteAllText(file "topology.dot", Topology.toDot t)
    let analysisSeconds = analysis.Elapsed.TotalSeconds
    // 4. Report.
    say "[4/4] report"
    let reportPath = file "report.html"
    writeReport reportPath task net fitConfig fit validation analysis slow t
    writeSummary (file "summary.json") task net fit trainSeconds analysisSeconds found.FixedPoints slowCount t
    // The summary table.
    let attractors = found.FixedPoints |> Array.filter (fun p -> p.Kind = FixedPointKind.Attractor) |> Array.length
    let best = if fit.BestEpoch > 0 then fit.ValidationLosses[fit.BestEpoch - 1] else nan
    printfn ""
    printfn "  task              %s (%d-unit %s, seed %d)" task net.Sizes.Units net.Kind.Name seed
    printfn "  training          %d epochs, %s, validation MSE %s, %.1fs" fit.Losses.Length (StopReason.text fit.StopReason) (sci best) trainSeconds
    printfn "  fixed points      %d: %d attractors; by unstable modes %s%s" found.FixedPoints.Length attractors (snd (kindCounts found.FixedPoints))
        ""
    slow |> Option.iter (fun s ->
        let g = s.Groups[0]
        let ring =
            match analysis.Pca with
            | Some p when p.Components.Length >= 2 && g.Points.Length > 0 -> sprintf ", over %d of 12 sectors of the PC1-PC2 plane" (SlowPoints.sectorsCovered 12 p g.Points)
            | _ -> ""
        let near = g.Points |> Array.choose (fun p -> SlowPoints.closestToOne p.Eigenvalues) |> Array.map (fun l -> l.Magnitude)
        printfn "  slow points       %d with q <= %s (%s)%s%s" g.Points.Length (sci g.Threshold.Threshold) g.Threshold.Rule ring
            (if near.Length > 0 then sprintf "; |lambda| closest to 1 from %.3f to %.3f" (Array.min near) (Array.max near) else ""))
    printfn "  topology          %d edges, %d runs unresolved" t.Edges.Length t.Unreached
    printfn "  analysis          %.1fs" analysisSeconds
    printfn ""
    printfn "report: %s" reportPath
    if interrupts.Cancelled then cancelledExitCode else 0

/// Runs `rnnfun demo`; returns the exit code (a user's mistake raises `UserError`).
let run (args: ParseResults<DemoArgs>) =
    use interrupts = new Interrupts()
    use _ = interrupts.Listen()
    runWith interrupts args
