/// rnnfun train --seeds: one network per seed, trained as one batched program (`Population.fit`);
/// a model file and a training log per seed in the --out folder.
module RnnFun.Cli.TrainPopulationCommand

open System
open Argu
open RnnFun
open RnnFun.Cli.Args
open RnnFun.Cli.Common

/// "0-31", "0,4,7-9": distinct seeds in the order given.
let parseSeeds (text: string) : int list =
    let number (s: string) =
        match Int32.TryParse(s.Trim(), Globalization.NumberStyles.Integer, Globalization.CultureInfo.InvariantCulture) with
        | true, v when v >= 0 -> v
        | _ -> raise (UserError(sprintf "--seeds: '%s' is not a seed (expected integers >= 0, ranges like 0-31, separated by commas)" s))
    let seeds =
        text.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
        |> List.ofArray
        |> List.collect (fun part ->
            match part.Split('-') with
            | [| a |] -> [ number a ]
            | [| a; b |] ->
                let a, b = number a, number b
                if b < a then raise (UserError(sprintf "--seeds: the range %s runs backwards" part))
                [ a .. b ]
            | _ -> raise (UserError(sprintf "--seeds: '%s' is not a seed or a range" part)))
    if seeds.IsEmpty then raise (UserError "--seeds: no seeds given")
    if (List.distinct seeds).Length <> seeds.Length then raise (UserError "--seeds: a seed appears twice")
    seeds

/// The model file of one seed in the --out folder.
let modelPath (folder: string) (seed: int) = IO.Path.Combine(folder, sprintf "seed-%d.json" seed)

/// Runs `rnnfun train --seeds` with Ctrl-C routed to `interrupts`; returns the exit code.
let runWith (interrupts: Interrupts) (args: ParseResults<TrainArgs>) =
    let seeds = parseSeeds (args.GetResult TrainArgs.Seeds)
    if args.Contains TrainArgs.Seed then raise (UserError "--seed and --seeds: give one of them")
    let out = args.GetResult TrainArgs.Out
    let dataPath = args.TryGetResult TrainArgs.Data
    TrainCommand.checkSource args dataPath
    match args.TryGetResult Epochs with
    | Some n when n < 1 -> raise (UserError(sprintf "--epochs: expected a positive integer, got %d (0 epochs would train nothing)" n))
    | _ -> ()
    checkOutputFolder "--out" out
    let folder = IO.Path.GetFullPath out
    let paths = seeds |> List.map (modelPath folder) |> Array.ofList
    // Every member: its kind, network config, fit config (its own validation trials), and the
    // data all share.
    let taskName, specs, data =
        match dataPath with
        | Some path ->
            // One data set for all: a validation split is drawn with the first seed.
            let training, validation = TrainCommand.dataOf args path seeds.Head
            let kind = TrainCommand.kindOf args |> Option.defaultValue Kinds.rnn
            let specs =
                seeds
                |> List.map (fun seed ->
                    let network, fit = TrainCommand.withOptions args (Trials.networkConfig seed training) (Trials.fitConfig seed)
                    let names = kind.Parameters { Inputs = network.InputSize; Units = network.Units; Outputs = network.OutputSize } |> List.map (fun s -> s.Name) |> Set.ofList
                    kind, { network with Trainable = network.Trainable |> Map.filter (fun name _ -> names.Contains name) }, { fit with Validation = validation |> Option.map Trials.toBatch })
            IO.Path.GetFileName path, specs, TrainingData.Dataset(Trials.toBatch training)
        | None ->
            let task = args.GetResult TrainArgs.Task
            let presetOf seed =
                let preset =
                    try Presets.byName task seed
                    with InvalidArgument (_, problem) -> raise (UserError("--task: " + problem))
                let preset = match args.TryGetResult Seq_Len with Some t -> Presets.withSequenceLength t preset | None -> preset
                let preset =
                    match args.TryGetResult Kind with
                    | None -> preset
                    | Some name ->
                        try Presets.withKindNamed name preset
                        with InvalidArgument (_, problem) -> raise (UserError("--kind: " + problem))
                match args.TryGetResult Units with
                | Some n when n > 0 -> Presets.withUnits n preset
                | _ -> preset
            let presets = seeds |> List.map presetOf
            let specs =
                presets
                |> List.map (fun p ->
                    let network, fit = TrainCommand.withOptions args p.Network p.Fit
                    p.Kind, network, { fit with Validation = Some(p.Task.Generate p.ValidationTrials (Presets.validationSeed fit.Seed)) })
            let first = presets.Head
            task, specs, TrainingData.Fresh(first.Task, first.TrialsPerEpoch)
    let kind, _, _ = specs.Head
    if not (Population.supports kind) then
        raise (UserError(sprintf "--seeds: kind '%s' is not trained batched (%s are); train its seeds one at a time with --seed" kind.Name (String.Join(", ", Population.supportedKinds))))
    for path in paths do
        checkOutputFile "--out" path
        checkOutputFile "--out (a training log)" (trainingLogPath path)
    IO.Directory.CreateDirectory folder |> ignore
    let quiet = args.Contains TrainArgs.Quiet
    let lastDrawn = ref DateTime.MinValue
    let hooks: PopulationHooks =
        { Threads = args.TryGetResult Threads
          OnBest = Some(fun (i: int) (net: Network) -> ModelFile.saveBest paths[i] net)
          Cancellation = interrupts.Token
          Progress =
            if quiet then None
            else
                Some(fun (p: PopulationProgress) ->
                    let now = DateTime.UtcNow
                    if (now - lastDrawn.Value).TotalMilliseconds >= 100.0 || p.Batch = p.Batches then
                        lastDrawn.Value <- now
                        let finite = p.Losses |> Array.filter Double.IsFinite
                        let mean = if finite.Length = 0 then nan else Array.average finite
                        eprintf "\repoch %d/%d  batch %d/%d  %d of %d training  mean loss %.6f  %.0f network steps/s   "
                            p.Epoch p.Epochs p.Batch p.Batches p.Active p.Losses.Length mean p.NetworkStepsPerSecond) }
    let members = specs |> List.map (fun (kind, network, fit) -> { Network = Network.create kind network; Config = fit })
    let results =
        try
            try Population.fitWith hooks members data
            with InvalidArgument (argument, problem) -> raise (UserError(sprintf "--seeds: %s: %s" argument problem))
        finally
            for m in members do (m.Network :> IDisposable).Dispose()
    interrupts.EndTraining()
    if not quiet then eprintfn ""
    try
        for (seed, path), ((_, _, fit), result) in List.zip (List.zip seeds (List.ofArray paths)) (List.zip specs results) do
            ModelFile.save path result.Network
            TrainingLogFile.save (trainingLogPath path) taskName fit result
            let last = if Array.isEmpty result.Losses then nan else Array.last result.Losses
            let curve = if Array.isEmpty result.ValidationLosses then result.Losses else result.ValidationLosses
            let best = if result.BestEpoch > 0 then curve[result.BestEpoch - 1] else nan
            if not quiet then
                printfn "seed %d: %s after %d epochs (%d steps): final loss %.3g, best %s loss %.3g (epoch %d); wrote %s"
                    seed (StopReason.text result.StopReason) result.StoppedAtEpoch result.Steps last
                    (if Array.isEmpty result.ValidationLosses then "training" else "validation") best result.BestEpoch path
        let steps = results |> List.sumBy (fun r -> r.Steps)
        let wall = (List.head results).WallTime.TotalSeconds
        let stopped = results |> List.countBy (fun r -> StopReason.text r.StopReason) |> List.map (fun (reason, n) -> sprintf "%d %s" n reason)
        printfn "trained %d %s networks as one program in %.1fs (%d network steps, %.0f per second): %s; wrote %s"
            results.Length kind.Name wall steps (float steps / max wall 1e-9) (String.Join(", ", stopped)) folder
    finally
        for r in results do (r :> IDisposable).Dispose()
    if interrupts.Cancelled then cancelledExitCode else 0

/// Runs `rnnfun train --seeds`; returns the exit code (a user's mistake raises `UserError`).
let run (args: ParseResults<TrainArgs>) =
    use interrupts = new Interrupts()
    use _ = interrupts.Listen()
    runWith interrupts args
