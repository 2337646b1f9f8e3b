/// rnnfun train: train a task preset, write the model file and its training log.
module RnnFun.Cli.TrainCommand

open System
open Argu
open RnnFun
open RnnFun.Cli.Args
open RnnFun.Cli.Common

/// The kind of `--kind`, or None when not given.
let internal kindOf (args: ParseResults<TrainArgs>) =
    args.TryGetResult Kind
    |> Option.map (fun name ->
        try Presets.kindByName name
        with InvalidArgument (_, problem) -> raise (UserError("--kind: " + problem)))

/// The network and settings of the command line's options over `network` and `fit`.
let internal withOptions (args: ParseResults<TrainArgs>) (network: NetworkConfig) (fit: FitConfig) =
    let network =
        { network with
            Units = args.GetResult(Units, defaultValue = network.Units)
            Constraints =
                { network.Constraints with
                    DaleRatio = args.TryGetResult Dale_Ratio |> Option.orElse network.Constraints.DaleRatio
                    Autapses = network.Constraints.Autapses && not (args.Contains No_Autapses) } }
    let fit =
        { fit with
            Epochs = args.GetResult(Epochs, defaultValue = fit.Epochs)
            LearningRate = args.GetResult(Lr, defaultValue = fit.LearningRate)
            BatchSize = args.GetResult(Batch_Size, defaultValue = fit.BatchSize) }
    network, fit

/// Trials of `--data` and, from `--validation` or `--validation-split`, validation trials.
let internal dataOf (args: ParseResults<TrainArgs>) (path: string) (seed: int) =
    let data = TrialFile.loadForTraining path
    match args.TryGetResult Validation, args.TryGetResult Validation_Split with
    | Some _, Some _ -> raise (UserError "--validation and --validation-split: give one of them")
    | Some file, None ->
        let v = TrialFile.loadForTraining file
        if v.InputSize <> data.InputSize || v.OutputSize <> data.OutputSize then
            raise (UserError(sprintf "--validation: %s has %d inputs and %d outputs per step, --data %s has %d and %d" file v.InputSize v.OutputSize path data.InputSize data.OutputSize))
        data, Some v
    | None, Some fraction ->
        let training, validation =
            try Trials.split fraction seed data
            with InvalidArgument (_, problem) -> raise (UserError("--validation-split: " + problem))
        training, Some validation
    | None, None -> data, None

/// What `--task` or `--data` rules out among the other options (`UserError` for the first mistake);
/// `rnnfun train --seeds` checks the same.
let internal checkSource (args: ParseResults<TrainArgs>) (dataPath: string option) =
    match args.TryGetResult TrainArgs.Task, dataPath with
    | Some _, Some _ -> raise (UserError "--task and --data: give one of them (a preset's task, or trials of your own)")
    | None, None -> raise (UserError "--task or --data: give one of them (a preset's task, or trials of your own from a .npz file)")
    | _ -> ()
    if dataPath.IsNone then
        for flag, given in [ "--validation", args.Contains Validation; "--validation-split", args.Contains Validation_Split ] do
            if given then raise (UserError(sprintf "%s applies to --data only (a preset validates on held-out trials of its task)" flag))
    if dataPath.IsSome && args.Contains Seq_Len then
        raise (UserError "--seq-len does not apply to --data (the file's trials have their own length)")

/// Runs `rnnfun train` with Ctrl-C routed to `interrupts`; returns the exit code (130 when an
/// interrupt stopped the training; a user's mistake raises `UserError`).
let runWith (interrupts: Interrupts) (args: ParseResults<TrainArgs>) =
    let seed = args.GetResult(TrainArgs.Seed, defaultValue = 0)
    let out = args.GetResult TrainArgs.Out
    let dataPath = args.TryGetResult TrainArgs.Data
    checkSource args dataPath
    // Before the work: a bad path found after training would lose the run.
    checkOutputFile "--out" out
    checkOutputFile "--out (its training log)" (trainingLogPath out)
    match args.TryGetResult Epochs with
    | Some n when n < 1 -> raise (UserError(sprintf "--epochs: expected a positive integer, got %d (0 epochs would train nothing)" n))
    | _ -> ()
    let quiet = args.Contains TrainArgs.Quiet
    let hooks =
        { FitHooks.none with
            Threads = args.TryGetResult Threads
            OnBest = Some(ModelFile.saveBest out)
            Cancellation = interrupts.Token
            Progress = if quiet then None else Some(progressBar ()) }
    let taskName, fit, result, classic =
        match dataPath with
        | Some path ->
            let training, validation = dataOf args path seed
            let kind = kindOf args |> Option.defaultValue Kinds.rnn
            let network, fit = withOptions args (Trials.networkConfig seed training) (Trials.fitConfig seed)
            // The data's trainable flags for the parameters the kind has (a gated kind has no w_in).
            let names = kind.Parameters { Inputs = network.InputSize; Units = network.Units; Outputs = network.OutputSize } |> List.map (fun s -> s.Name) |> Set.ofList
            let network = { network with Trainable = network.Trainable |> Map.filter (fun name _ -> names.Contains name) }
            let fit = { fit with Validation = validation |> Option.map Trials.toBatch }
            use net = Network.create kind network
            IO.Path.GetFileName path, fit, Training.fitWith hooks fit net (TrainingData.Dataset(Trials.toBatch training)), None
        | None ->
            let task = args.GetResult TrainArgs.Task
            let preset =
                try Presets.byName task seed
                with InvalidArgument (_, problem) -> raise (UserError("--task: " + problem))
            let preset =
                match args.TryGetResult Seq_Len with
                | Some t -> Presets.withSequenceLength t preset
                | None -> preset
            let preset =
                match args.TryGetResult Kind with
                | None -> preset
                | Some name ->
                    // The flip-flop has its own ctrnn preset (`Presets.withKindNamed`).
                    try Presets.withKindNamed name preset
                    with InvalidArgument (_, problem) -> raise (UserError("--kind: " + problem))
            // After the kind: the flip-flop's rate for larger networks is the rnn's.
            let preset =
                match args.TryGetResult Units with
                | Some n when n > 0 -> Presets.withUnits n preset
                | _ -> preset
            let network, fit = withOptions args preset.Network preset.Fit
            task, fit, Presets.trainWith hooks { preset with Network = network; Fit = fit }, Presets.classicTask task |> Option.map (fun c -> c, preset.ValidationTrials)
    use result = result
    // Saving is quick; a further Ctrl-C now ends the process.
    interrupts.EndTraining()
    if not quiet then eprintfn ""
    // The best weights are already on disk (OnBest); write the returned ones in every case,
    // so that a run with no improving epoch still leaves a model file.
    ModelFile.save out result.Network
    TrainingLogFile.save (trainingLogPath out) taskName fit result
    let last a = if Array.isEmpty a then nan else Array.last a
    let best = if result.BestEpoch > 0 then (if Array.isEmpty result.ValidationLosses then result.Losses else result.ValidationLosses)[result.BestEpoch - 1] else nan
    let bestName = if Array.isEmpty result.ValidationLosses then "best training loss" else "best validation loss"
    // A classic task's presets say how many held-out trials the network gets right (its `correct` rule).
    let accuracy =
        match classic with
        | Some (task, trials) ->
            let batch, conditions = task.GenerateTrials trials (Presets.validationSeed seed)
            let right = Scoring.correct task result.Network batch conditions |> Array.filter id |> Array.length
            sprintf ", %.1f %% correct on %d held-out trials (ideal observer %.1f %%)" (100.0 * float right / float trials) trials (100.0 * Scoring.idealAccuracy task batch conditions)
        | None when taskName.StartsWith "yang-battery" ->
            // The battery's presets: their get_perf on 64 held-out trials of each task.
            let byRule = Multitask.accuracyByRule YangConfig.defaults result.Network 64 (Presets.validationSeed seed)
            let worst = byRule |> Array.minBy (fun r -> r.Accuracy)
            sprintf ", %.1f %% correct over the %d tasks on 64 held-out trials each (lowest: %s, %.1f %%)"
                (100.0 * (byRule |> Array.averageBy (fun r -> r.Accuracy))) byRule.Length worst.Rule (100.0 * worst.Accuracy)
        | None -> ""
    printfn "%s after %d epochs (%d steps, %.1fs): final loss %.3g, %s %.3g (epoch %d)%s; wrote %s"
        (StopReason.text result.StopReason)
        result.StoppedAtEpoch result.Steps result.WallTime.TotalSeconds (last result.Losses) bestName best result.BestEpoch accuracy (IO.Path.GetFullPath out)
    if interrupts.Cancelled then cancelledExitCode else 0

/// Runs `rnnfun train`; returns the exit code (a user's mistake raises `UserError`).
let run (args: ParseResults<TrainArgs>) =
    use interrupts = new Interrupts()
    use _ = interrupts.Listen()
    runWith interrupts args
