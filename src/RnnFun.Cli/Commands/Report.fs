/// rnnfun report: one self-contained HTML report of a model and its analysis files.
module RnnFun.Cli.ReportCommand

open System
open Argu
open RnnFun
open RnnFun.Plotting
open RnnFun.Cli.Args
open RnnFun.Cli.Common

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
                IO.File.WriteAllText(html, sprintf "<!doctype html><html><head><meta charset=\"utf-8\"><script>%s</script></head><body style=\"margin:0\">%s</body></html>" plotly (RnnFun.Plotting.Report.exportFragment name chart))
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

/// Runs `rnnfun report`; returns the exit code (a user's mistake raises `UserError`).
let run (args: ParseResults<ReportArgs>) =
    let modelPath = args.GetResult ReportArgs.Model
    use net = ModelFile.load modelPath
    let out = args.GetResult ReportArgs.Out
    checkOutputFile "--out" out
    args.TryGetResult Png |> Option.iter (checkOutputFolder "--png")
    let model = ModelSummary.ofNetwork net
    let points =
        args.TryGetResult ReportArgs.Fixed_Points
        |> Option.map (fun path ->
            let loaded = FixedPointFile.load path
            if loaded.Length > 0 && (loaded[0].State.Length <> (Network.stateSize net) || loaded[0].Input.Length <> net.Sizes.Inputs) then
                raise (UserError(sprintf "--fixed-points: %s does not belong to this model (%d units and %d inputs, the model has %d and %d)" path loaded[0].State.Length loaded[0].Input.Length (Network.stateSize net) net.Sizes.Inputs))
            FixedPoints.analyse FixedPointConfig.defaults.EigenTolerance net (recheckPoints path (args.Contains ReportArgs.Allow_Foreign_Points) net loaded))
    let checkWidth flag path (loaded: FixedPoint[]) =
        if loaded.Length > 0 && (loaded[0].State.Length <> (Network.stateSize net) || loaded[0].Input.Length <> net.Sizes.Inputs) then
            raise (UserError(sprintf "%s: %s does not belong to this model (%d units and %d inputs, the model has %d and %d)" flag path loaded[0].State.Length loaded[0].Input.Length (Network.stateSize net) net.Sizes.Inputs))
    let slow =
        args.TryGetResult ReportArgs.Slow_Points
        |> Option.map (fun path ->
            let loaded = FixedPointFile.load path
            checkWidth "--slow-points" path loaded
            // q under this model; the threshold they were chosen with is not in the file: the
            // slowest point's q stands for it.
            let points = FixedPoints.analyse FixedPointConfig.defaults.EigenTolerance net (FixedPoints.recheck net loaded)
            let groups =
                points
                |> Array.groupBy (fun p -> p.Input)
                |> Array.map (fun (u, ps) ->
                    let q = ps |> Array.map (fun p -> p.Q) |> Array.sort
                    { Input = u; Points = ps; Q = q
                      Threshold = { Threshold = (if q.Length = 0 then 0.0 else Array.last q); Rule = "from the file"; GapDecades = 0.0; Below = q.Length; Above = 0 } })
            { Groups = groups; Points = points; InitialStates = points.Length; Elapsed = TimeSpan.Zero })
    let conditions =
        [ args.TryGetResult ReportArgs.Fixed_Points; args.TryGetResult ReportArgs.Slow_Points ]
        |> List.choose id
        |> List.map FixedPointFile.loadConditions
        |> List.tryFind (fun c -> c.Length > 0)
        |> Option.map List.ofArray
        |> Option.defaultValue []
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
    // What the fixed-point file holds beyond the points, by point id.
    let certificates, selections =
        match args.TryGetResult ReportArgs.Fixed_Points with
        | None -> None, None
        | Some path ->
            let ids = FixedPointFile.load path |> Array.map (fun p -> p.Id)
            let stored = FixedPointFile.loadCertificates path
            (if stored |> Array.exists Option.isSome then Some(Array.zip ids stored |> Array.choose (fun (id, c) -> c |> Option.map (fun c -> id, c))) else None),
            (FixedPointFile.loadSelection path |> Option.map (fun s -> Array.zip ids s.Modes))
    let perturbation = args.TryGetResult ReportArgs.Perturbation |> Option.map PerturbationFile.load
    let continuation =
        args.TryGetResult ReportArgs.Continuation
        |> Option.map (fun path ->
            let r = ContinuationFile.load path
            match r.Branches |> Array.tryHead with
            | Some b when b.States.Length > 0 && b.States[0].Length <> Network.stateSize net ->
                raise (UserError(sprintf "--continuation: %s traces states of %d values, the model's state has %d" path b.States[0].Length (Network.stateSize net)))
            | _ -> ()
            let name =
                match r.Parameter with
                | ContinuationParameter.Input (_, d) when (d |> Array.filter (fun v -> v <> 0.0)).Length = 1 && (d |> Array.exists (fun v -> v = 1.0)) -> sprintf "input %d" (Array.findIndex (fun v -> v = 1.0) d)
                | ContinuationParameter.Input _ -> "p (input = base + p direction)"
                | ContinuationParameter.RecurrentScale _ -> "scale on the recurrent weights"
            r, name)
    let log = args.TryGetResult Training_Log |> Option.map (TrainingLogFile.load >> TrainingLog.ofRecord)
    // The autonomous spectrum, and one per example trial (input-conditioned) when a task is given.
    let spectra =
        if not (args.Contains ReportArgs.Lyapunov) then None
        else
            let n = Network.stateSize net
            let autonomous = Lyapunov.spectrum LyapunovConfig.defaults net (LyapunovInput.Constant(Array.zeroCreate net.Sizes.Inputs)) (Array.zeroCreate n)
            let perTrial =
                match batch with
                | Some b ->
                    let trials =
                        Array.init (min 8 b.Trials) (fun k ->
                            Array.init b.Time (fun t -> Array.init b.InputSize (fun i -> float b.Inputs[(k * b.Time + t) * b.InputSize + i])))
                    let r = Lyapunov.ofTrials { LyapunovConfig.defaults with Transient = 0 } net trials (Array.zeroCreate n)
                    r.Spectra |> Array.mapi (fun k s -> sprintf "trial %d" (k + 1), s)
                | None -> [||]
            Some(Array.append [| "autonomous (zero input)", autonomous |] perTrial)
    let inputs =
        { ReportInputs.empty with
            Title = sprintf "RnnFun report: %s" (IO.Path.GetFileName modelPath)
            Model = Some model
            TrainingLog = log
            Batch = batch
            Outputs = outputs
            States = states
            FixedPoints = points
            SlowPoints = slow
            Conditions = conditions
            Topology = topology
            Lyapunov = spectra
            Certificates = certificates
            Selections = selections
            Perturbation = perturbation
            Continuation = continuation
            PeriodTwo = (match args.TryGetResult ReportArgs.Continuation with Some path -> ContinuationFile.loadPeriodTwo path | None -> [||])
            Notes = [ "model", IO.Path.GetFullPath modelPath ] }
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
              match topology with
              | Some t ->
                  yield "topology", Charts.topology t pca (defaultArg points [||])
                  if pca.IsSome && points.IsSome then yield "topology-layered", Charts.topologyWith TopologyLayout.Layered t pca points.Value
              | None -> () ]
        match renderPngs dir charts with
        | Some written ->
            printfn "wrote %d PNG files to %s" written.Length (IO.Path.GetFullPath dir)
            0
        | None ->
            eprintfn "rnnfun: --png needs chromium, which was not found (install it with `apt-get install chromium`, or set RNNFUN_CHROMIUM to its path); the HTML report was written"
            2
