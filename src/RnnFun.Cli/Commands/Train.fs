/// rnnfun train: train a task preset, write the model file and its training log.
module RnnFun.Cli.TrainCommand

open System
open Argu
open RnnFun
open RnnFun.Cli.Args
open RnnFun.Cli.Common

/// Runs `rnnfun train` with Ctrl-C routed to `interrupts`; returns the exit code (130 when an
/// interrupt stopped the training; a user's mistake raises `UserError`).
let runWith (interrupts: Interrupts) (args: ParseResults<TrainArgs>) =
    let task = args.GetResult TrainArgs.Task
    let seed = args.GetResult(TrainArgs.Seed, defaultValue = 0)
    let out = args.GetResult TrainArgs.Out
    // Before the work: a bad path found after training would lose the run.
    checkOutputFile "--out" out
    checkOutputFile "--out (its training log)" (trainingLogPath out)
    match args.TryGetResult Epochs with
    | Some n when n < 1 -> raise (UserError(sprintf "--epochs: expected a positive integer, got %d (0 epochs would train nothing)" n))
    | _ -> ()
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
            try Presets.withKindNamed name preset
            with InvalidArgument (_, problem) -> raise (UserError("--kind: " + problem))
    let network =
        { preset.Network with
            Units = args.GetResult(Units, defaultValue = preset.Network.Units)
            Constraints =
                { preset.Network.Constraints with
                    DaleRatio = args.TryGetResult Dale_Ratio |> Option.orElse preset.Network.Constraints.DaleRatio
                    Autapses = preset.Network.Constraints.Autapses && not (args.Contains No_Autapses) } }
    let quiet = args.Contains TrainArgs.Quiet
    let fit =
        { preset.Fit with
            Epochs = args.GetResult(Epochs, defaultValue = preset.Fit.Epochs)
            LearningRate = args.GetResult(Lr, defaultValue = preset.Fit.LearningRate)
            BatchSize = args.GetResult(Batch_Size, defaultValue = preset.Fit.BatchSize) }
    let hooks =
        { Threads = args.TryGetResult Threads
          OnBest = Some(ModelFile.saveBest out)
          Cancellation = interrupts.Token
          Progress = if quiet then None else Some(progressBar ()) }
    let preset = { preset with Network = network; Fit = fit }
    use result = Presets.trainWith hooks preset
    // Saving is quick; a further Ctrl-C now ends the process.
    interrupts.EndTraining()
    if not quiet then eprintfn ""
    // The best weights are already on disk (OnBest); write the returned ones in every case,
    // so that a run with no improving epoch still leaves a model file.
    ModelFile.save out result.Network
    TrainingLogFile.save (trainingLogPath out) task fit result
    let last a = if Array.isEmpty a then nan else Array.last a
    let best = if result.BestEpoch > 0 then (if Array.isEmpty result.ValidationLosses then result.Losses else result.ValidationLosses)[result.BestEpoch - 1] else nan
    printfn "%s after %d epochs (%d steps, %.1fs): final loss %.3g, best validation loss %.3g (epoch %d); wrote %s"
        (StopReason.text result.StopReason)
        result.StoppedAtEpoch result.Steps result.WallTime.TotalSeconds (last result.Losses) best result.BestEpoch (IO.Path.GetFullPath out)
    if interrupts.Cancelled then cancelledExitCode else 0

/// Runs `rnnfun train`; returns the exit code (a user's mistake raises `UserError`).
let run (args: ParseResults<TrainArgs>) =
    use interrupts = new Interrupts()
    use _ = interrupts.Listen()
    runWith interrupts args
