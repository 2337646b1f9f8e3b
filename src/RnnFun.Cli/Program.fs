module RnnFun.Cli.Program

open System
open Argu
open RnnFun
open RnnFun.Plotting

type InfoArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "the model file (rnnfun.model JSON) to describe."

type DemoArgs =
    | Out of dir: string
    | Seed of seed: int
    | Quick
    | Task of name: string
    | Quiet

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Out _ -> "folder for every output (default ./rnnfun-demo)."
            | Seed _ -> "seed of the whole pipeline (default 0)."
            | Quick -> "a short version of each stage."
            | Task _ -> "flipflop (default) or integrator."
            | Quiet -> "print only the summary."

type TrainArgs =
    | [<Mandatory>] Task of name: string
    | Kind of kind: string
    | Units of n: int
    | Epochs of n: int
    | Lr of rate: float
    | Batch_Size of n: int
    | Seq_Len of steps: int
    | Dale_Ratio of ratio: float
    | No_Autapses
    | Seed of seed: int
    | Threads of n: int
    | [<Mandatory>] Out of path: string
    | Quiet

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Task _ -> "flipflop, integrator or sine."
            | Kind _ -> "rnn or ctrnn (dt 5, tau 50); the preset's kind by default."
            | Units _ -> "number of recurrent units (preset: 64)."
            | Epochs _ -> "number of epochs (preset's by default)."
            | Lr _ -> "learning rate (preset: 0.01)."
            | Batch_Size _ -> "trials per batch (preset: 64)."
            | Seq_Len _ -> "steps per trial (task's default by default)."
            | Dale_Ratio _ -> "fraction of excitatory units (Dale's law)."
            | No_Autapses -> "no unit projects onto itself."
            | Seed _ -> "seed of weights, data and noise (default 0)."
            | Threads _ -> "libtorch threads (default: 1 below 128 units, then one per 64 units, at most all cores)."
            | Out _ -> "model file to write (the best weights); a training log is written beside it."
            | Quiet -> "print only the final line."

type FixedPointArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string
    | Task of name: string
    | Box of range: string
    | Inputs of values: string
    | N_Init of count: int
    | Noise of scale: float
    | Tol_Q of q: float
    | Slow_Points
    | Seed of seed: int
    | [<Mandatory>] Out of path: string
    | Quiet

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "the model file."
            | Task _ -> "sample initial states from the model's trajectories on this task (flipflop, integrator, sine); the default."
            | Box _ -> "sample initial states uniformly in [LO, HI]^N instead, e.g. --box -1,1."
            | Inputs _ -> "the constant input, comma-separated (zeros by default)."
            | N_Init _ -> "number of initial states (default 1024)."
            | Noise _ -> "std of the Gaussian noise added to trajectory states (default 0.5)."
            | Tol_Q _ -> "q below which a point is a fixed point (default 1e-20)."
            | Slow_Points -> "also find slow points (q below 1e-6) and write them apart, to OUT's name + .slow-points.json."
            | Seed _ -> "seed of the sampling (default 0)."
            | Out _ -> "fixed-point file to write (rnnfun.fixed-points JSON)."
            | Quiet -> "print only the summary."

type TopologyArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string
    | [<Mandatory>] Fixed_Points of path: string
    | Inputs of values: string
    | Runs_Per_Point of count: int
    | Noise of scale: float
    | Max_Steps of count: int
    | Seed of seed: int
    | [<Mandatory>] Out of path: string
    | Dot of path: string
    | Quiet

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "the model file."
            | Fixed_Points _ -> "its fixed-point file (from rnnfun fixed-points)."
            | Inputs _ -> "the constant input, comma-separated (default: the fixed points' input)."
            | Runs_Per_Point _ -> "noise runs per fixed point (default 64)."
            | Noise _ -> "std of the noise around each fixed point (default 0.1)."
            | Max_Steps _ -> "steps before a run counts as unreached (default 1000)."
            | Seed _ -> "seed of the noise (default 0)."
            | Out _ -> "topology file to write (rnnfun.topology JSON)."
            | Dot _ -> "also write the graph as GraphViz DOT."
            | Quiet -> "print only the summary line."

type ReportArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string
    | Fixed_Points of path: string
    | Topology of path: string
    | Task of name: string
    | Training_Log of path: string
    | [<Mandatory>] Out of path: string
    | Png of dir: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "the model file."
            | Fixed_Points _ -> "its fixed-point file."
            | Topology _ -> "its topology file."
            | Task _ -> "draw example trials and trajectories from this task (flipflop, integrator, sine)."
            | Training_Log _ -> "the training log written beside the model by rnnfun train."
            | Out _ -> "the HTML report to write (self-contained, works offline)."
            | Png _ -> "also render each figure to a PNG in this folder (needs chromium)."

[<RequireSubcommand>]
type CliArgs =
    | [<CliPrefix(CliPrefix.None)>] Info of ParseResults<InfoArgs>
    | [<CliPrefix(CliPrefix.None)>] Train of ParseResults<TrainArgs>
    | [<CliPrefix(CliPrefix.None)>] Fixed_Points of ParseResults<FixedPointArgs>
    | [<CliPrefix(CliPrefix.None)>] Topology of ParseResults<TopologyArgs>
    | [<CliPrefix(CliPrefix.None)>] Report of ParseResults<ReportArgs>
    | [<CliPrefix(CliPrefix.None)>] Demo of ParseResults<DemoArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Info _ -> "print a model's kind, sizes, constraints and parameter counts."
            | Train _ -> "train a network on a task preset and write the model file."
            | Fixed_Points _ -> "find a model's fixed points, their stability and kind."
            | Topology _ -> "where the dynamics go between fixed points: a directed graph."
            | Report _ -> "one self-contained HTML report of a model and its analysis."
            | Demo _ -> "train, analyse and report on a task, end to end."

/// A user's mistake: printed as one line on stderr, exit code 2.
exception UserError of string

let private describeConstraints (net: Network) =
    let c = net.Constraints
    let n = net.Sizes.Units
    let nonZero (m: float[][]) = m |> Array.sumBy (Array.sumBy (fun v -> if v <> 0.0 then 1 else 0))
    let diagonalMasked = c.RecurrentMask |> Option.exists (fun m -> Seq.forall (fun i -> m[i][i] = 0.0) [ 0 .. n - 1 ])
    [ yield sprintf "autapses        %s" (if c.Autapses && not diagonalMasked then "allowed" else "none (diagonal of W_rec is 0)")
      match c.DaleRatio with
      | Some r ->
          let e = Constraints.excitatoryCount n r
          yield sprintf "Dale's law      ratio %g: %d excitatory, %d inhibitory units" r e (n - e)
      | None -> yield "Dale's law      off"
      let mask name (m: float[][] option) =
          match m with
          | Some m -> sprintf "%-15s %d of %d connections" name (nonZero m) (m.Length * (if m.Length = 0 then 0 else m[0].Length))
          | None -> sprintf "%-15s none" name
      yield mask "input mask" c.InputMask
      yield mask "recurrent mask" c.RecurrentMask
      yield mask "output mask" c.OutputMask
      match c.UnitSigns with
      | Some s ->
          let count v = s |> Array.filter ((=) v) |> Array.length
          yield sprintf "unit signs      %d excitatory, %d inhibitory, %d free" (count 1) (count -1) (count 0)
      | None -> () ]

let private info (args: ParseResults<InfoArgs>) =
    let path = args.GetResult InfoArgs.Model
    use net = ModelFile.load path
    let total, trainable = Network.parameterCount net
    printfn "model      %s" (IO.Path.GetFullPath path)
    printfn "kind       %s" net.Kind.Name
    for (name, setting) in net.Kind.Settings do
        match setting with
        | KindSetting.Number v -> printfn "%-10s %g" name v
        | KindSetting.Text t -> printfn "%-10s %s" name t
    printfn "sizes      %d inputs, %d units, %d outputs" net.Sizes.Inputs net.Sizes.Units net.Sizes.Outputs
    printfn ""
    printfn "constraints"
    for line in describeConstraints net do printfn "  %s" line
    printfn ""
    printfn "  %-8s %-12s %-10s %10s %10s" "param" "shape" "trainable" "count" "non-zero"
    let values = Network.values net |> Map.ofList
    for p in net.Parameters do
        let nonZero =
            match values[p.Spec.Name] with
            | ParameterValue.Matrix m -> m |> Array.sumBy (Array.sumBy (fun v -> if v <> 0.0 then 1 else 0))
            | ParameterValue.Vector v -> v |> Array.sumBy (fun x -> if x <> 0.0 then 1 else 0)
        let count = p.Spec.Shape |> Array.fold (*) 1
        printfn "  %-8s %-12s %-10s %10d %10d" p.Spec.Name ("[" + String.Join("; ", p.Spec.Shape) + "]") (if p.Trainable then "yes" else "no") count nonZero
    printfn ""
    printfn "parameters %d in all, %d trainable" total trainable
    0

/// The training log's path beside a model file: m.json -> m.training-log.json.
let trainingLogPath (modelPath: string) =
    let full = IO.Path.GetFullPath modelPath
    IO.Path.Combine(IO.Path.GetDirectoryName full, IO.Path.GetFileNameWithoutExtension full + ".training-log.json")

/// A one-line progress bar on stderr, redrawn at most ten times a second.
let private progressBar () =
    let mutable last = DateTime.MinValue
    fun (p: TrainingProgress) ->
        let now = DateTime.UtcNow
        let final = p.Epoch = p.Epochs && p.Batch = p.Batches
        if final || (now - last).TotalMilliseconds >= 100.0 then
            last <- now
            let total = p.Epochs * p.Batches
            let done' = (p.Epoch - 1) * p.Batches + p.Batch
            let fraction = float done' / float (max total 1)
            let width = 24
            let filled = int (fraction * float width)
            let eta = if p.StepsPerSecond > 0.0 then float (total - done') / p.StepsPerSecond else 0.0
            eprintf "\r[%s%s] epoch %d/%d  loss %.6f  lr %.2g  %.0f steps/s  ETA %.0fs   " (String('#', filled)) (String('.', width - filled)) p.Epoch p.Epochs p.Loss p.LearningRate p.StepsPerSecond eta

let private train (args: ParseResults<TrainArgs>) =
    let task = args.GetResult TrainArgs.Task
    let seed = args.GetResult(TrainArgs.Seed, defaultValue = 0)
    let out = args.GetResult TrainArgs.Out
    let preset =
        try Presets.byName task seed
        with InvalidArgument (_, problem) -> raise (UserError("--task: " + problem))
    let preset =
        match args.TryGetResult Seq_Len with
        | Some t -> Presets.withSequenceLength t preset
        | None -> preset
    let kind =
        match args.TryGetResult Kind with
        | None -> preset.Kind
        | Some name ->
            // The built-in kinds, the ctrnn with tau = 50 (dt/tau = 0.1) for tasks of this length.
            let choices = Kinds.builtIn |> List.map (fun k -> if k.Name = Kinds.ctrnn.Name then Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 50.0 } else k)
            match choices |> List.tryFind (fun k -> k.Name = name) with
            | Some k -> k
            | None -> raise (UserError(sprintf "--kind: unknown kind '%s' (expected %s)" name (String.Join(" or ", choices |> List.map (fun k -> k.Name)))))
    let network =
        { preset.Network with
            Units = args.GetResult(Units, defaultValue = preset.Network.Units)
            Constraints =
                { preset.Network.Constraints with
                    DaleRatio = args.TryGetResult Dale_Ratio |> Option.orElse preset.Network.Constraints.DaleRatio
                    Autapses = preset.Network.Constraints.Autapses && not (args.Contains No_Autapses) } }
    use cancel = new Threading.CancellationTokenSource()
    Console.CancelKeyPress.Add(fun e ->
        e.Cancel <- true
        cancel.Cancel())
    let quiet = args.Contains TrainArgs.Quiet
    let fit =
        { preset.Fit with
            Epochs = args.GetResult(Epochs, defaultValue = preset.Fit.Epochs)
            LearningRate = args.GetResult(Lr, defaultValue = preset.Fit.LearningRate)
            BatchSize = args.GetResult(Batch_Size, defaultValue = preset.Fit.BatchSize) }
    let hooks =
        { Threads = args.TryGetResult Threads
          OnBest = Some(FitHooks.saveBest out)
          Cancellation = cancel.Token
          Progress = if quiet then None else Some(progressBar ()) }
    let preset = { preset with Kind = kind; Network = network; Fit = fit }
    use result = Presets.trainWith hooks preset
    if not quiet then eprintfn ""
    // The best weights are already on disk (OnBest); write the returned ones in every case,
    // so that a run with no improving epoch still leaves a model file.
    ModelFile.save out result.Network
    TrainingLog.save (trainingLogPath out) task fit result
    let last a = if Array.isEmpty a then nan else Array.last a
    let best = if result.BestEpoch > 0 then (if Array.isEmpty result.ValidationLosses then result.Losses else result.ValidationLosses)[result.BestEpoch - 1] else nan
    printfn "%s after %d epochs (%d steps, %.1fs): final loss %.3g, best validation loss %.3g (epoch %d); wrote %s"
        (StopReason.text result.StopReason)
        result.StoppedAtEpoch result.Steps result.WallTime.TotalSeconds (last result.Losses) best result.BestEpoch (IO.Path.GetFullPath out)
    0

/// Scientific notation with a two-digit exponent (2.51e-31).
let private sci (v: float) = v.ToString("0.00e+00", Globalization.CultureInfo.InvariantCulture)

/// "a,b,c" -> [| a; b; c |], or a user error naming the flag.
let private parseNumbers (flag: string) (text: string) =
    text.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
    |> Array.map (fun s ->
        match Double.TryParse(s, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with
        | true, v when Double.IsFinite v -> v
        | _ -> raise (UserError(sprintf "%s: '%s' is not a number" flag s)))

/// Trajectory states of a model on a task's trials: [trials * time][units].
let private trajectoryStates (net: Network) (task: string) (trials: int) (seed: int) =
    let preset =
        try Presets.byName task seed
        with InvalidArgument (_, problem) -> raise (UserError("--task: " + problem))
    if preset.Task.InputSize <> net.Sizes.Inputs then
        raise (UserError(sprintf "--task: %s has %d inputs but the model has %d" task preset.Task.InputSize net.Sizes.Inputs))
    (Pipeline.trajectories None net (preset.Task.Generate trials seed)).AllStates

let private kindCounts (points: FixedPoint[]) =
    let byKind = points |> Array.countBy (fun p -> FixedPointFile.kindName p.Kind) |> Array.map (fun (k, c) -> sprintf "%d %s" c k)
    let byModes = points |> Array.countBy (fun p -> p.UnstableModes) |> Array.sortBy fst |> Array.map (fun (m, c) -> sprintf "%d with %d" c m)
    String.Join(", ", byKind), String.Join(", ", byModes)

let private fixedPoints (args: ParseResults<FixedPointArgs>) =
    let path = args.GetResult FixedPointArgs.Model
    use net = ModelFile.load path
    let count = args.GetResult(N_Init, defaultValue = 1024)
    if count <= 0 then raise (UserError "--n-init: expected a positive integer")
    let seed = args.GetResult(FixedPointArgs.Seed, defaultValue = 0)
    let input =
        match args.TryGetResult FixedPointArgs.Inputs with
        | Some text ->
            let values = parseNumbers "--inputs" text
            if values.Length <> net.Sizes.Inputs then raise (UserError(sprintf "--inputs: the model has %d inputs, got %d values" net.Sizes.Inputs values.Length))
            values
        | None -> Array.zeroCreate net.Sizes.Inputs
    let initial =
        match args.TryGetResult Box, args.TryGetResult FixedPointArgs.Task with
        | Some _, Some _ -> raise (UserError "--box and --task: give one of them")
        | Some range, None ->
            match parseNumbers "--box" range with
            | [| lo; hi |] when lo < hi -> InitialStates.uniformBox count lo hi net.Sizes.Units seed
            | _ -> raise (UserError "--box: expected LO,HI with LO < HI")
        | None, task ->
            let noise = args.GetResult(FixedPointArgs.Noise, defaultValue = 0.5)
            if noise < 0.0 then raise (UserError "--noise: expected a number >= 0")
            trajectoryStates net (defaultArg task "flipflop") 64 seed |> InitialStates.fromStates count noise seed
    let quiet = args.Contains FixedPointArgs.Quiet
    let tolQ = args.GetResult(Tol_Q, defaultValue = FixedPointConfig.defaults.TolQ)
    if not (tolQ > 0.0) then raise (UserError "--tol-q: expected a number > 0")
    let progress (p: FixedPointProgress) =
        if not quiet then eprintf "\r%-6s iteration %4d/%d  worst q %s  converged %d/%d   " p.Phase p.Iteration p.MaxIterations (sci p.WorstQ) p.Converged p.States
    let config = { FixedPointConfig.defaults with TolQ = tolQ; IncludeSlowPoints = args.Contains Slow_Points; Progress = Some progress }
    let result = FixedPoints.find config net (ConstantInput.Same input) initial
    if not quiet then eprintfn ""
    let out = args.GetResult FixedPointArgs.Out
    FixedPointFile.save out result.FixedPoints
    let slowPath = IO.Path.Combine(IO.Path.GetDirectoryName(IO.Path.GetFullPath out), IO.Path.GetFileNameWithoutExtension out + ".slow-points.json")
    if config.IncludeSlowPoints then FixedPointFile.save slowPath result.SlowPoints
    let kinds, modes = kindCounts result.FixedPoints
    printfn "%d fixed points (%s; by unstable modes: %s) from %d initial states in %.2fs" result.FixedPoints.Length kinds modes result.InitialStates result.Elapsed.TotalSeconds
    if not quiet then
        printfn "  converged %d, duplicates %d, outliers %d, not converged %d%s" result.Converged result.Duplicates result.Outliers result.NotConverged
            (if config.IncludeSlowPoints then sprintf ", slow points %d" result.SlowPoints.Length else "")
        if result.FixedPoints.Length > 0 then
            printfn "  slowest q %s" (sci (result.FixedPoints |> Array.map (fun p -> p.Q) |> Array.max))
        printfn "  %-4s %-10s %8s %10s %12s" "id" "kind" "unstable" "q" "|lambda_1|"
        for p in result.FixedPoints do
            printfn "  %-4d %-10s %8d %10s %12.6f" p.Id (FixedPointFile.kindName p.Kind) p.UnstableModes (sci p.Q) (if p.Eigenvalues.Length > 0 then p.Eigenvalues[0].Magnitude else nan)
    printfn "wrote %s%s" (IO.Path.GetFullPath out) (if config.IncludeSlowPoints then " and " + slowPath else "")
    0

let private topology (args: ParseResults<TopologyArgs>) =
    use net = ModelFile.load (args.GetResult TopologyArgs.Model)
    let fpPath = args.GetResult TopologyArgs.Fixed_Points
    let loaded = FixedPointFile.load fpPath
    if loaded.Length = 0 then raise (UserError(sprintf "--fixed-points: %s holds no fixed points" fpPath))
    if loaded[0].State.Length <> net.Sizes.Units || loaded[0].Input.Length <> net.Sizes.Inputs then
        raise (UserError(sprintf "--fixed-points: %s has states of %d units and inputs of %d, but the model has %d units and %d inputs" fpPath loaded[0].State.Length loaded[0].Input.Length net.Sizes.Units net.Sizes.Inputs))
    let input =
        match args.TryGetResult TopologyArgs.Inputs with
        | Some text ->
            let values = parseNumbers "--inputs" text
            if values.Length <> net.Sizes.Inputs then raise (UserError(sprintf "--inputs: the model has %d inputs, got %d values" net.Sizes.Inputs values.Length))
            values
        | None -> loaded[0].Input
    // The file stores no Jacobians: linearise again with the model.
    let points = FixedPoints.analyse FixedPointConfig.defaults.EigenTolerance net loaded
    let config =
        { TopologyConfig.defaults with
            RunsPerPoint = args.GetResult(Runs_Per_Point, defaultValue = TopologyConfig.defaults.RunsPerPoint)
            Noise = args.GetResult(TopologyArgs.Noise, defaultValue = TopologyConfig.defaults.Noise)
            MaxSteps = args.GetResult(Max_Steps, defaultValue = TopologyConfig.defaults.MaxSteps)
            Seed = args.GetResult(TopologyArgs.Seed, defaultValue = 0) }
    let stopwatch = Diagnostics.Stopwatch.StartNew()
    let t =
        try Topology.build config net input points
        with InvalidArgument (argument, problem) -> raise (UserError(sprintf "--%s: %s" (argument.Replace('_', '-')) problem))
    let out = args.GetResult TopologyArgs.Out
    TopologyFile.save out t
    args.TryGetResult Dot |> Option.iter (fun path -> ModelFile.writeAtomically path (fun s -> use w = new IO.StreamWriter(s, Text.UTF8Encoding(false), 4096, true) in w.Write(Topology.toDot t)))
    let runs = t.Vertices |> Array.sumBy (fun v -> v.Runs.Noise + v.Runs.Unstable)
    printfn "%d vertices, %d edges from %d runs (%d unreached) in %.2fs; wrote %s" t.Vertices.Length t.Edges.Length runs t.Unreached stopwatch.Elapsed.TotalSeconds (IO.Path.GetFullPath out)
    if not (args.Contains TopologyArgs.Quiet) then
        printfn "  %-5s %-5s %-8s %6s %12s" "from" "to" "method" "count" "probability"
        for e in t.Edges do
            printfn "  %-5d %-5d %-8s %6d %12.3f" e.From e.To (match e.Method with RunMethod.Noise -> "noise" | RunMethod.UnstableMode -> "unstable") e.Count e.Probability
    0

/// The report of a demo run.
let private writeReport (path: string) (task: string) (net: Network) (fitConfig: FitConfig) (fit: FitResult) (validation: Batch) (analysis: PipelineAnalysis) (t: Topology) =
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
            FixedPoints = Some(Array.append found.FixedPoints found.SlowPoints)
            Topology = Some t
            Notes =
                [ "task", task
                  "fixed points", sprintf "%d from %d initial states (%d converged, %d duplicates, %d outliers)" found.FixedPoints.Length found.InitialStates found.Converged found.Duplicates found.Outliers
                  "slow points", string found.SlowPoints.Length ] }
    RnnFun.Plotting.Report.save path inputs

/// Reads the curves of a training log (rnnfun.training-log) for the report.
let private readTrainingLog (path: string) : TrainingLog =
    let text =
        try IO.File.ReadAllText path
        with _ -> raise (UserError(sprintf "--training-log: cannot read %s" path))
    try
        use doc = Text.Json.JsonDocument.Parse text
        let root = doc.RootElement
        match root.TryGetProperty "format" with
        | true, f when f.GetString() = TrainingLog.Format -> ()
        | _ -> raise (UserError(sprintf "--training-log: %s is not a training log (format %s)" path TrainingLog.Format))
        let numbers (name: string) =
            match root.TryGetProperty name with
            | true, a when a.ValueKind = Text.Json.JsonValueKind.Array -> [| for x in a.EnumerateArray() -> x.GetDouble() |]
            | _ -> [||]
        { Losses = numbers "loss"
          ValidationLosses = numbers "validation_loss"
          LearningRates = numbers "learning_rate"
          BestEpoch = (match root.TryGetProperty "best_epoch" with | true, b -> b.GetInt32() | _ -> 0) }
    with
    | UserError _ -> reraise ()
    | e -> raise (UserError(sprintf "--training-log: %s: %s" path e.Message))

/// Renders one chart per PNG with headless chromium; None when chromium is missing.
let private renderPngs (dir: string) (charts: (string * Plotly.NET.GenericChart) list) =
    let chromium =
        [ Environment.GetEnvironmentVariable "RNNFUN_CHROMIUM"; "/usr/bin/chromium"; "/usr/bin/chromium-browser"; "/usr/bin/google-chrome" ]
        |> List.tryFind (fun p -> not (String.IsNullOrEmpty p) && IO.File.Exists p)
    match chromium with
    | None -> None
    | Some browser ->
        IO.Directory.CreateDirectory dir |> ignore
        let plotly = RnnFun.Plotting.Report.plotlyJs ()
        let written =
            [ for (name, chart) in charts do
                let html = IO.Path.Combine(IO.Path.GetTempPath(), sprintf "rnnfun-%s-%s.html" name (Guid.NewGuid().ToString("N")))
                let png = IO.Path.Combine(IO.Path.GetFullPath dir, name + ".png")
                IO.File.WriteAllText(html, sprintf "<!doctype html><html><head><meta charset=\"utf-8\"><script>%s</script></head><body style=\"margin:0\">%s</body></html>" plotly (RnnFun.Plotting.Report.chartFragment name chart))
                let profile = IO.Directory.CreateTempSubdirectory("rnnfun-chromium-").FullName
                let args =
                    [ "--headless"; "--no-sandbox"; "--disable-gpu"; "--disable-background-networking"; "--disable-component-update"
                      "--no-first-run"; "--enable-unsafe-swiftshader"; "--user-data-dir=" + profile; "--virtual-time-budget=8000"
                      "--window-size=1200,900"; "--screenshot=" + png; "file://" + html ]
                let info = Diagnostics.ProcessStartInfo(browser, args, RedirectStandardError = true, RedirectStandardOutput = true)
                use p = Diagnostics.Process.Start info
                p.StandardError.ReadToEnd() |> ignore
                p.WaitForExit()
                IO.File.Delete html
                (try IO.Directory.Delete(profile, true) with _ -> ())
                if IO.File.Exists png then yield png ]
        Some written

let private report (args: ParseResults<ReportArgs>) =
    let modelPath = args.GetResult ReportArgs.Model
    use net = ModelFile.load modelPath
    let model = ModelSummary.ofNetwork net
    let points =
        args.TryGetResult ReportArgs.Fixed_Points
        |> Option.map (fun path ->
            let loaded = FixedPointFile.load path
            if loaded.Length > 0 && (loaded[0].State.Length <> net.Sizes.Units || loaded[0].Input.Length <> net.Sizes.Inputs) then
                raise (UserError(sprintf "--fixed-points: %s does not belong to this model (%d units and %d inputs, the model has %d and %d)" path loaded[0].State.Length loaded[0].Input.Length net.Sizes.Units net.Sizes.Inputs))
            FixedPoints.analyse FixedPointConfig.defaults.EigenTolerance net loaded)
    let topology =
        args.TryGetResult ReportArgs.Topology
        |> Option.map (fun path ->
            let t = TopologyFile.load path
            match points with
            | Some ps when t.Vertices |> Array.exists (fun v -> not (ps |> Array.exists (fun p -> p.Id = v.Id))) ->
                raise (UserError(sprintf "--topology: %s names fixed points that are not in --fixed-points" path))
            | _ -> t)
    let batch =
        args.TryGetResult ReportArgs.Task
        |> Option.map (fun task ->
            let preset =
                try Presets.byName task 0
                with InvalidArgument (_, problem) -> raise (UserError("--task: " + problem))
            if preset.Task.InputSize <> net.Sizes.Inputs || preset.Task.OutputSize <> net.Sizes.Outputs then
                raise (UserError(sprintf "--task: %s has %d inputs and %d outputs, the model %d and %d" task preset.Task.InputSize preset.Task.OutputSize net.Sizes.Inputs net.Sizes.Outputs))
            preset.Task.Generate 32 (Presets.validationSeed 0))
    let outputs, states =
        match batch with
        | Some b ->
            let run = Pipeline.trajectories None net b
            run.Outputs, Some run.States
        | None -> [||], None
    let log = args.TryGetResult Training_Log |> Option.map readTrainingLog
    let inputs =
        { ReportInputs.empty with
            Title = sprintf "RnnFun report: %s" (IO.Path.GetFileName modelPath)
            Model = Some model
            TrainingLog = log
            Batch = batch
            Outputs = outputs
            States = states
            FixedPoints = points
            Topology = topology
            Notes = [ "model", IO.Path.GetFullPath modelPath ] }
    let out = args.GetResult ReportArgs.Out
    RnnFun.Plotting.Report.save out inputs
    printfn "wrote %s" (IO.Path.GetFullPath out)
    match args.TryGetResult Png with
    | None -> 0
    | Some dir ->
        let pca =
            match states with
            | Some s -> Some(Pca.fitAll (Array.concat s))
            | None -> points |> Option.filter (fun ps -> ps.Length > 1) |> Option.map (fun ps -> Pca.fitAll (ps |> Array.map (fun p -> p.State)))
        let charts =
            [ yield "weights", Charts.weights model None
              match log with Some l -> yield "training", Charts.trainingLog l | None -> ()
              match batch with Some b -> yield "trials", Charts.trialsOf b outputs 3 | None -> ()
              match pca with Some p -> yield "dimensionality", Charts.dimensionality p Pca.defaultVarianceThreshold | None -> ()
              match pca, states, points with
              | Some p, Some s, _ -> yield "state-space", Charts.stateSpace p s (defaultArg points [||])
              | Some p, None, Some ps -> yield "state-space", Charts.stateSpace p [||] ps
              | _ -> ()
              match points with Some ps -> yield "eigenvalues", Charts.eigenvalueModuli ps | None -> ()
              match topology with Some t -> yield "topology", Charts.topology t pca (defaultArg points [||]) | None -> () ]
        match renderPngs dir charts with
        | Some written ->
            printfn "wrote %d PNG files to %s" written.Length (IO.Path.GetFullPath dir)
            0
        | None ->
            eprintfn "rnnfun: --png needs chromium, which was not found (install it with `apt-get install chromium`, or set RNNFUN_CHROMIUM to its path); the HTML report was written"
            2

/// The summary of a demo run (summary.json).
let private writeSummary (path: string) (task: string) (net: Network) (fit: FitResult) (trainSeconds: float) (analysisSeconds: float) (points: FixedPoint[]) (slow: int) (t: Topology) =
    ModelFile.writeAtomically path (fun stream ->
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

let private demo (args: ParseResults<DemoArgs>) =
    let out = args.GetResult(DemoArgs.Out, defaultValue = "./rnnfun-demo")
    let task = args.GetResult(DemoArgs.Task, defaultValue = "flipflop")
    if task <> "flipflop" && task <> "integrator" then
        raise (UserError(sprintf "--task: unknown task '%s' (expected flipflop or integrator)" task))
    let seed = args.GetResult(DemoArgs.Seed, defaultValue = 0)
    let quick = args.Contains DemoArgs.Quick
    let quiet = args.Contains DemoArgs.Quiet
    let say format = Printf.kprintf (fun text -> if not quiet then eprintfn "%s" text) format
    let dir = IO.Path.GetFullPath out
    IO.Directory.CreateDirectory dir |> ignore
    let file name = IO.Path.Combine(dir, name)
    use cancel = new Threading.CancellationTokenSource()
    Console.CancelKeyPress.Add(fun e ->
        e.Cancel <- true
        cancel.Cancel())
    // 1. Train.
    let preset = Presets.byName task seed
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
    let hooks = { FitHooks.none with Cancellation = cancel.Token; Progress = (if quiet then None else Some(progressBar ())) }
    use fit =
        use initial = Network.create preset.Kind preset.Network
        Training.fitWith hooks fitConfig initial (TrainingData.Fresh(preset.Task, preset.TrialsPerEpoch))
    if not quiet then eprintfn ""
    let net = fit.Network
    ModelFile.save (file "model.json") net
    TrainingLog.save (file "training-log.json") task fitConfig fit
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
            Search = { FixedPointConfig.defaults with IncludeSlowPoints = (task = "integrator"); Progress = Some fpProgress }
            Topology = { TopologyConfig.defaults with RunsPerPoint = (if quick then 16 else 64); Seed = seed } }
    let analysis = Pipeline.analyse pipeline net fit.InitialState validation
    if not quiet then eprintfn ""
    let found = analysis.Search
    FixedPointFile.save (file "fixed-points.json") found.FixedPoints
    if found.SlowPoints.Length > 0 then FixedPointFile.save (file "slow-points.json") found.SlowPoints
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
    writeReport reportPath task net fitConfig fit validation analysis t
    writeSummary (file "summary.json") task net fit trainSeconds analysisSeconds found.FixedPoints found.SlowPoints.Length t
    // The summary table.
    let attractors = found.FixedPoints |> Array.filter (fun p -> p.Kind = FixedPointKind.Attractor) |> Array.length
    let best = if fit.BestEpoch > 0 then fit.ValidationLosses[fit.BestEpoch - 1] else nan
    printfn ""
    printfn "  task              %s (%d-unit %s, seed %d)" task net.Sizes.Units net.Kind.Name seed
    printfn "  training          %d epochs, %s, validation MSE %s, %.1fs" fit.Losses.Length (StopReason.text fit.StopReason) (sci best) trainSeconds
    printfn "  fixed points      %d: %d attractors; by unstable modes %s%s" found.FixedPoints.Length attractors (snd (kindCounts found.FixedPoints))
        (if found.SlowPoints.Length > 0 then sprintf "; %d slow points" found.SlowPoints.Length else "")
    printfn "  topology          %d edges, %d runs unresolved" t.Edges.Length t.Unreached
    printfn "  analysis          %.1fs" analysisSeconds
    printfn ""
    printfn "report: %s" reportPath
    0

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<CliArgs>(programName = "rnnfun")
    try
        let results = parser.ParseCommandLine(argv, raiseOnUsage = true)
        match results.GetSubCommand() with
        | Info a -> info a
        | Train a -> train a
        | Fixed_Points a -> fixedPoints a
        | Topology a -> topology a
        | Report a -> report a
        | Demo a -> demo a
    with
    | :? ArguParseException as e when e.ErrorCode = ErrorCode.HelpText ->
        printfn "%s" e.Message
        0
    | :? ArguParseException as e ->
        let first = e.Message.Split('\n') |> Array.head
        eprintfn "rnnfun: %s (see rnnfun --help)" (first.Replace("ERROR: ", "").Trim())
        2
    | UserError message ->
        eprintfn "rnnfun: %s" message
        2
    | FileFormatError (path, problem) ->
        eprintfn "rnnfun: %s: %s" path problem
        2
    | InvalidArgument (argument, problem) ->
        eprintfn "rnnfun: %s: %s" argument problem
        2
    | e ->
        eprintfn "rnnfun: unexpected error: %s" e.Message
        1
