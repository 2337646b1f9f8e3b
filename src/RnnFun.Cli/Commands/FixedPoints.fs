/// rnnfun fixed-points: find a model's fixed points and write them.
module RnnFun.Cli.FixedPointsCommand

open System
open Argu
open RnnFun
open RnnFun.Cli.Args
open RnnFun.Cli.Common

/// Trajectory states of a model on a task's trials: [trials * time][units].
let private trajectoryStates (net: Network) (task: string) (trials: int) (seed: int) =
    let preset =
        try Presets.byName task seed
        with InvalidArgument (_, problem) -> raise (UserError("--task: " + problem))
    if preset.Task.InputSize <> net.Sizes.Inputs then
        raise (UserError(sprintf "--task: %s has %d inputs but the model has %d" task preset.Task.InputSize net.Sizes.Inputs))
    (Pipeline.trajectories None net (preset.Task.Generate trials seed)).AllStates

/// Runs `rnnfun fixed-points`; returns the exit code (a user's mistake raises `UserError`).
let run (args: ParseResults<FixedPointArgs>) =
    // Since the process started: the runtime's start, the JIT of the parser, parsing.
    let startUp = DateTime.Now - Diagnostics.Process.GetCurrentProcess().StartTime
    let clock = Diagnostics.Stopwatch.StartNew()
    let lap =
        let mutable last = TimeSpan.Zero
        fun () ->
            let now = clock.Elapsed
            let span = now - last
            last <- now
            span.TotalSeconds
    let path = args.GetResult FixedPointArgs.Model
    use loadedNet = ModelFile.load path
    use net =
        match args.TryGetResult FixedPointArgs.Lesion with
        | Some units -> lesionOf "--lesion" loadedNet units
        | None -> Network.withValues loadedNet Map.empty
    let loading = lap ()
    let out = args.GetResult FixedPointArgs.Out
    let slowPath = IO.Path.Combine(IO.Path.GetDirectoryName(IO.Path.GetFullPath out), IO.Path.GetFileNameWithoutExtension out + ".slow-points.json")
    checkOutputFile "--out" out
    if args.Contains FixedPointArgs.Slow_Points then checkOutputFile "--out (its slow points)" slowPath
    let count = args.GetResult(N_Init, defaultValue = 1024)
    if count <= 0 then raise (UserError "--n-init: expected a positive integer")
    let seed = args.GetResult(FixedPointArgs.Seed, defaultValue = 0)
    // The conditions: one (the zero input, or the one --inputs) unless several are given.
    let conditions, named =
        let width (flag: string) (values: float[]) =
            if values.Length <> net.Sizes.Inputs then raise (UserError(sprintf "%s: the model has %d inputs, got %d values" flag net.Sizes.Inputs values.Length))
            values
        match args.GetResults FixedPointArgs.Inputs, args.TryGetResult Inputs_File with
        | _ :: _, Some _ -> raise (UserError "--inputs and --inputs-file: give one of them")
        | [], Some file ->
            let rows = ArrayFile.readMatrix file
            rows |> Array.iter (fun r -> width "--inputs-file" r |> ignore)
            Conditions.ofInputs rows, false
        | [], None -> Conditions.ofInputs [| Array.zeroCreate net.Sizes.Inputs |], false
        | texts, None ->
            let parsed =
                texts
                |> List.map (fun text ->
                    let at = text.IndexOf '='
                    if at > 0 then Some(text.Substring(0, at).Trim()), width "--inputs" (parseNumbers "--inputs" (text.Substring(at + 1)))
                    else None, width "--inputs" (parseNumbers "--inputs" text))
            (parsed |> List.map (fun (name, u) -> { Name = defaultArg name (Conditions.inputName u); Input = u }) |> Array.ofList),
            parsed |> List.exists (fst >> Option.isSome)
    (try Conditions.check net.Sizes.Inputs conditions
     with InvalidArgument (_, problem) -> raise (UserError((if args.Contains Inputs_File then "--inputs-file: " else "--inputs: ") + problem)))
    // A single unnamed condition writes the file it always did; several (or a name) list them.
    let perCondition = conditions.Length > 1 || named
    let slowIterations = args.GetResult(Slow_Iterations, defaultValue = SlowPointConfig.defaults.Iterations)
    if slowIterations <= 0 then raise (UserError "--slow-iterations: expected a positive integer")
    let initial =
        let sources = [ "--initial-states", args.Contains Initial_States; "--data", args.Contains FixedPointArgs.Data; "--box", args.Contains Box; "--task", args.Contains FixedPointArgs.Task ]
        match sources |> List.filter snd |> List.map fst with
        | _ :: _ :: _ as given -> raise (UserError(sprintf "%s: give one of them" (String.Join(", ", given))))
        | _ -> ()
        match args.TryGetResult Box, args.TryGetResult FixedPointArgs.Task, args.TryGetResult Initial_States with
        | None, None, None when args.Contains FixedPointArgs.Data ->
            let file = args.GetResult FixedPointArgs.Data
            let data = TrialFile.load file
            if data.InputSize <> net.Sizes.Inputs then
                raise (UserError(sprintf "--data: %s has %d inputs per step but the model has %d" file data.InputSize net.Sizes.Inputs))
            let noise = args.GetResult(FixedPointArgs.Noise, defaultValue = 0.5)
            if noise < 0.0 then raise (UserError "--noise: expected a number >= 0")
            // Only the steps within each trial's length: padding is no state the trials visit.
            Trials.trajectories None net data |> Trials.statesWithin data |> InitialStates.fromStates count noise seed
        | _, _, Some file ->
            for flag, given in [ "--n-init", args.Contains N_Init; "--noise", args.Contains FixedPointArgs.Noise; "--seed", args.Contains FixedPointArgs.Seed ] do
                if given then raise (UserError(sprintf "%s does not apply to --initial-states (the file's states are used as they are)" flag))
            let states = ArrayFile.readMatrix file
            let width = Network.stateSize net
            if states[0].Length <> width then
                raise (UserError(sprintf "--initial-states: %s has %d values a state, the model's state has %d" file states[0].Length width))
            states
        | Some _, Some _, None -> raise (UserError "--box and --task: give one of them")
        | Some range, None, None ->
            match parseNumbers "--box" range with
            | [| lo; hi |] when lo < hi -> InitialStates.uniformBox count lo hi (Network.stateSize net) seed
            | _ -> raise (UserError "--box: expected LO,HI with LO < HI")
        | None, task, None ->
            let noise = args.GetResult(FixedPointArgs.Noise, defaultValue = 0.5)
            if noise < 0.0 then raise (UserError "--noise: expected a number >= 0")
            trajectoryStates net (defaultArg task "flipflop") 64 seed |> InitialStates.fromStates count noise seed
    let sampling = lap ()
    let quiet = args.Contains FixedPointArgs.Quiet
    let tolQ = args.GetResult(Tol_Q, defaultValue = FixedPointConfig.defaults.TolQ)
    if not (tolQ > 0.0) then raise (UserError "--tol-q: expected a number > 0")
    let progress (p: FixedPointProgress) =
        if not quiet then eprintf "\r%-6s iteration %4d/%d  worst q %s  converged %d/%d   " p.Phase p.Iteration p.MaxIterations (sci p.WorstQ) p.Converged p.States
    let config =
        { FixedPointConfig.defaults with
            TolQ = tolQ
            IncludeSlowPoints = args.Contains FixedPointArgs.Slow_Points
            Deflation =
                if args.Contains No_Deflation then None
                elif args.Contains Exhaustive_Deflation then Some DeflationConfig.exhaustive
                else FixedPointConfig.defaults.Deflation
            Certify = (if args.Contains Certify then Some CertificateConfig.defaults else None)
            Progress = Some progress }
    if args.Contains No_Deflation && args.Contains Exhaustive_Deflation then raise (UserError "--no-deflation and --exhaustive-deflation: give one of them")
    let initialPerCondition = Array.create conditions.Length initial
    let search = Conditions.find { config with IncludeSlowPoints = false } net conditions initialPerCondition
    let result = search.Search
    let slow =
        if not config.IncludeSlowPoints then None
        else
            let slowConfig = { SlowPointConfig.defaults with Iterations = slowIterations; Progress = Some progress }
            Some(Conditions.slowPoints slowConfig net conditions initialPerCondition)
    if not quiet then eprintfn ""
    let withConditions = if perCondition then conditions else [||]
    let selection = SelectionOption.ofArgs args net result.FixedPoints
    FixedPointFile.saveWith { FixedPointFileOptions.defaults with Linearisation = args.Contains Linearisation; Certificates = result.Certificates; Conditions = withConditions; Selection = selection } out result.FixedPoints
    slow |> Option.iter (fun s -> FixedPointFile.saveWithConditions slowPath withConditions s.Points)
    let kinds, modes = kindCounts result.FixedPoints
    printfn "%d fixed points (%s; by unstable modes: %s) from %d initial states%s in %.2fs" result.FixedPoints.Length kinds modes result.InitialStates
        (if perCondition then sprintf " (%d per condition, %d conditions)" initial.Length conditions.Length else "") result.Elapsed.TotalSeconds
    if not quiet then
        printfn "  converged %d, duplicates %d, outliers %d, not converged %d, found by deflation %d%s" result.Converged result.Duplicates result.Outliers result.NotConverged result.Deflated
            (match slow with Some s -> sprintf ", slow points %d" s.Points.Length | None -> "")
        if result.FixedPoints.Length > 0 then
            printfn "  slowest q %s" (sci (result.FixedPoints |> Array.map (fun p -> p.Q) |> Array.max))
        if config.Certify.IsSome then
            let certified = result.Certificates |> Array.filter (function Certificate.Certified _ -> true | _ -> false)
            printfn "  certified %d of %d (%.3fs)%s" certified.Length result.FixedPoints.Length result.Timings.Certificates.TotalSeconds
                (match result.Certificates |> Array.tryPick (function Certificate.NotCertified r -> Some r | _ -> None) with
                 | Some reason -> "; first not certified: " + reason
                 | None -> "")
        selection |> Option.iter (fun s ->
            let withSlow = s.Modes |> Array.filter (fun m -> m.Length > 0) |> Array.length
            printfn "  slow modes (%s, tolerance %g): %d at %d of %d points" (match s.Measure with SlowModeMeasure.Map -> "|lambda - 1|" | SlowModeMeasure.Continuous -> "|mu|") s.Tolerance
                (s.Modes |> Array.sumBy Array.length) withSlow result.FixedPoints.Length)
        if perCondition then
            for c in search.Conditions do
                let k, m = kindCounts c.FixedPoints
                printfn "  condition %s, u = (%s): %d fixed points%s" c.Condition.Name (String.Join(", ", c.Condition.Input |> Array.map (fun v -> v.ToString("g4", Globalization.CultureInfo.InvariantCulture))))
                    c.FixedPoints.Length (if c.FixedPoints.Length > 0 then sprintf " (%s; by unstable modes: %s)" k m else "")
        slow |> Option.iter (fun s ->
            for c, g in Array.zip conditions s.Groups do
                let t = g.Threshold
                printfn "  slow points%s: %d with q <= %s (%s; %d of %d descended states below, %d above)"
                    (if perCondition then " of " + c.Name else "") g.Points.Length (sci t.Threshold)
                    (if t.Rule = "gap" then sprintf "a gap of %.1f decades in q" t.GapDecades else "no gap in q: every state below the ceiling") t.Below (t.Below + t.Above) t.Above)
        let conditionOf (p: FixedPoint) = match Conditions.indexOf conditions p with Some i -> conditions[i].Name | None -> "-"
        if perCondition then printfn "  %-4s %-10s %-10s %8s %10s %12s" "id" "condition" "kind" "unstable" "q" "|lambda_1|"
        else printfn "  %-4s %-10s %8s %10s %12s" "id" "kind" "unstable" "q" "|lambda_1|"
        for p in result.FixedPoints do
            let lead = if p.Eigenvalues.Length > 0 then p.Eigenvalues[0].Magnitude else nan
            if perCondition then printfn "  %-4d %-10s %-10s %8d %10s %12.6f" p.Id (conditionOf p) (FixedPointFile.kindName p.Kind) p.UnstableModes (sci p.Q) lead
            else printfn "  %-4d %-10s %8d %10s %12.6f" p.Id (FixedPointFile.kindName p.Kind) p.UnstableModes (sci p.Q) lead
    printfn "wrote %s%s" (IO.Path.GetFullPath out) (if config.IncludeSlowPoints then " and " + slowPath else "")
    if args.Contains FixedPointArgs.Timings then
        let t = result.Timings
        let search = result.Elapsed.TotalSeconds
        let rest = lap () - search
        eprintfn "timings: start-up %.2fs, loading the model (and libtorch) %.2fs, initial states %.2fs, search %.2fs (Adam %.2fs, Newton and chord %.2fs, uniqueness %.2fs, deflation %.2fs, Jacobians and eigenvalues %.2fs), writing %.2fs"
            startUp.TotalSeconds loading sampling search t.Adam.TotalSeconds t.Newton.TotalSeconds t.Uniqueness.TotalSeconds t.Deflation.TotalSeconds t.Linearisation.TotalSeconds rest
    0
