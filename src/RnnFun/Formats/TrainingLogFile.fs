namespace RnnFun

open System.IO
open System.Text.Json

/// The settings of a training run that its log records: a `FitConfig` without the regularisation,
/// the validation data, `KeepBest` and `FusedBackward`, which the log does not hold.
type TrainingRecordConfig =
    { BatchSize: int
      Epochs: int
      /// The initial learning rate.
      LearningRate: float
      Amsgrad: bool
      WeightDecay: float
      Schedule: LearningRateSchedule
      Clipping: GradientClipping
      StopLoss: float option
      RecurrentNoise: float
      InputNoise: float
      TrainInitialState: bool
      Seed: int }

    /// The recorded part of a `FitConfig`.
    static member ofFit(c: FitConfig) : TrainingRecordConfig =
        { BatchSize = c.BatchSize
          Epochs = c.Epochs
          LearningRate = c.LearningRate
          Amsgrad = c.Amsgrad
          WeightDecay = c.WeightDecay
          Schedule = c.Schedule
          Clipping = c.Clipping
          StopLoss = c.StopLoss
          RecurrentNoise = c.RecurrentNoise
          InputNoise = c.InputNoise
          TrainInitialState = c.TrainInitialState
          Seed = c.Seed }

/// A training run as its log holds it (format `rnnfun.training-log`), plain data without the
/// network: `TrainingLogFile.ofRun` makes one, `TrainingLogFile.load` reads one back equal.
type TrainingRecord =
    { /// The task's name as given to `TrainingLogFile.save`.
      Task: string
      /// The trained network's kind.
      KindName: string
      /// Its number of units.
      Units: int
      Config: TrainingRecordConfig
      /// Mean training loss per epoch (`FitResult.Losses`).
      Losses: float[]
      /// The learning rate of each epoch.
      LearningRates: float[]
      /// Validation loss per epoch (empty without validation data).
      ValidationLosses: float[]
      /// Seconds since training started at the end of each epoch (`FitResult.EpochEndSeconds`; empty
      /// in a version-1 log, which did not record them).
      EpochEndSeconds: float[]
      /// 1-based epoch whose weights were kept (0: none).
      BestEpoch: int
      StopReason: StopReason
      /// 1-based epoch in which training stopped.
      StoppedAtEpoch: int
      Steps: int
      /// Wall time of training, in seconds.
      WallTimeSeconds: float
      /// The learnt initial state [units], when it was trained.
      InitialState: float[] option }

/// The training-log format `rnnfun.training-log`, version 2 (docs/formats.md): the settings and
/// per-epoch history of a training run, written beside a trained model. Version 1 (without the
/// epochs' end times) still loads.
[<RequireQualifiedAccess>]
module TrainingLogFile =
    /// The value of the `format` key.
    [<Literal>]
    let Format = "rnnfun.training-log"

    /// The version this RnnFun writes (it reads 1 and 2).
    [<Literal>]
    let Version = 2

    /// The record of a run: the task's name, the settings it was trained with and its result.
    let ofRun (task: string) (config: FitConfig) (result: FitResult) : TrainingRecord =
        { Task = task
          KindName = result.Network.Kind.Name
          Units = result.Network.Sizes.Units
          Config = TrainingRecordConfig.ofFit config
          Losses = result.Losses
          LearningRates = result.LearningRates
          ValidationLosses = result.ValidationLosses
          EpochEndSeconds = result.EpochEndSeconds
          BestEpoch = result.BestEpoch
          StopReason = result.StopReason
          StoppedAtEpoch = result.StoppedAtEpoch
          Steps = result.Steps
          WallTimeSeconds = result.WallTime.TotalSeconds
          InitialState = result.InitialState }

    /// Writes a training record to a stream in the training-log format.
    let write (stream: Stream) (log: TrainingRecord) =
        use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
        let numbers (name: string) (values: float[]) =
            w.WriteStartArray name
            for v in values do w.WriteNumberValue v
            w.WriteEndArray()
        let config = log.Config
        w.WriteStartObject()
        w.WriteString("format", Format)
        w.WriteNumber("version", Version)
        w.WriteString("task", log.Task)
        w.WriteString("kind", log.KindName)
        w.WriteNumber("n_units", log.Units)
        w.WriteStartObject "config"
        w.WriteNumber("batch_size", config.BatchSize)
        w.WriteNumber("epochs", config.Epochs)
        w.WriteNumber("learning_rate", config.LearningRate)
        w.WriteBoolean("amsgrad", config.Amsgrad)
        w.WriteNumber("weight_decay", config.WeightDecay)
        w.WriteStartObject "schedule"
        match config.Schedule with
        | LearningRateSchedule.Constant -> w.WriteString("type", "constant")
        | LearningRateSchedule.MultiStep (milestones, gamma) ->
            w.WriteString("type", "multi-step")
            numbers "milestones" (milestones |> List.map float |> Array.ofList)
            w.WriteNumber("gamma", gamma)
        | LearningRateSchedule.ReduceOnPlateau (factor, patience, minimum) ->
            w.WriteString("type", "reduce-on-plateau")
            w.WriteNumber("factor", factor)
            w.WriteNumber("patience", patience)
            w.WriteNumber("minimum", minimum)
        w.WriteEndObject()
        w.WriteStartObject "clipping"
        match config.Clipping with
        | GradientClipping.Off -> w.WriteString("type", "off")
        | GradientClipping.Value c ->
            w.WriteString("type", "value")
            w.WriteNumber("limit", c)
        | GradientClipping.GlobalNorm c ->
            w.WriteString("type", "global-norm")
            w.WriteNumber("limit", c)
        w.WriteEndObject()
        match config.StopLoss with
        | Some s -> w.WriteNumber("stop_loss", s)
        | None -> w.WriteNull "stop_loss"
        w.WriteNumber("recurrent_noise", config.RecurrentNoise)
        w.WriteNumber("input_noise", config.InputNoise)
        w.WriteBoolean("train_initial_state", config.TrainInitialState)
        w.WriteNumber("seed", config.Seed)
        w.WriteEndObject()
        numbers "loss" log.Losses
        numbers "learning_rate" log.LearningRates
        numbers "validation_loss" log.ValidationLosses
        numbers "epoch_end_s" log.EpochEndSeconds
        w.WriteNumber("best_epoch", log.BestEpoch)
        w.WriteString("stop_reason", StopReason.text log.StopReason)
        w.WriteNumber("stopped_at_epoch", log.StoppedAtEpoch)
        w.WriteNumber("steps", log.Steps)
        w.WriteNumber("wall_time_s", log.WallTimeSeconds)
        match log.InitialState with
        | Some h -> numbers "initial_state" h
        | None -> w.WriteNull "initial_state"
        w.WriteEndObject()
        w.Flush()

    /// Writes the log of a run atomically (`ofRun`, then `write`).
    let save (path: string) (task: string) (config: FitConfig) (result: FitResult) =
        let log = ofRun task config result
        FileFormat.writeAtomically path (fun s -> write s log)

    let private required (e: JsonElement) (key: string) (name: string) = JsonRead.required e key name
    let private number = JsonRead.number
    let private integer = JsonRead.integer
    let private boolean = JsonRead.boolean
    let private vector = JsonRead.vector
    let private onlyKeys = JsonRead.onlyKeys

    let private atLeast name (low: int) (v: int) =
        if v < low then Check.fail name (sprintf "expected an integer >= %d, got %d" low v)
        v

    let private atLeastZero name (v: float) =
        if v < 0.0 then Check.fail name (sprintf "expected a number >= 0, got %g" v)
        v

    /// A value that may be null (the writer writes null for None).
    let private nullable (e: JsonElement) (key: string) (name: string) =
        let v = required e key name
        if v.ValueKind = JsonValueKind.Null then None else Some v

    let private choice name (options: (string * 'a) list) (e: JsonElement) =
        let s = JsonRead.text name e
        match options |> List.tryFind (fun (k, _) -> k = s) with
        | Some (_, v) -> v
        | None -> Check.fail name (sprintf "expected one of %s, got \"%s\"" (options |> List.map (fun (k, _) -> "\"" + k + "\"") |> String.concat ", ") s)

    /// An object with a "type" and exactly the keys that type takes.
    let private tagged name (types: (string * string list) list) (e: JsonElement) =
        onlyKeys name ("type" :: (types |> List.collect snd |> List.distinct)) e
        let kind = required e "type" (name + ".type") |> choice (name + ".type") (types |> List.map (fun (t, _) -> t, t))
        let keys = types |> List.find (fun (t, _) -> t = kind) |> snd
        for p in e.EnumerateObject() do
            if p.Name <> "type" && not (List.contains p.Name keys) then
                Check.fail (name + "." + p.Name) (sprintf "not a key of type \"%s\"" kind)
        kind, (fun key -> required e key (name + "." + key))

    let private schedule name (e: JsonElement) =
        match tagged name [ "constant", []; "multi-step", [ "milestones"; "gamma" ]; "reduce-on-plateau", [ "factor"; "patience"; "minimum" ] ] e with
        | "multi-step", get ->
            let milestones =
                get "milestones" |> JsonRead.array (name + ".milestones")
                |> Array.mapi (fun i m -> let at = sprintf "%s.milestones[%d]" name i in integer at m |> atLeast at 0)
            LearningRateSchedule.MultiStep(List.ofArray milestones, get "gamma" |> number (name + ".gamma"))
        | "reduce-on-plateau", get ->
            LearningRateSchedule.ReduceOnPlateau(
                get "factor" |> number (name + ".factor"),
                get "patience" |> integer (name + ".patience") |> atLeast (name + ".patience") 0,
                get "minimum" |> number (name + ".minimum"))
        | _ -> LearningRateSchedule.Constant

    let private clipping name (e: JsonElement) =
        match tagged name [ "off", []; "value", [ "limit" ]; "global-norm", [ "limit" ] ] e with
        | "value", get -> GradientClipping.Value(get "limit" |> number (name + ".limit"))
        | "global-norm", get -> GradientClipping.GlobalNorm(get "limit" |> number (name + ".limit"))
        | _ -> GradientClipping.Off

    let private stopReasons =
        [ for r in [ StopReason.Completed; StopReason.StopLoss; StopReason.Cancelled; StopReason.Diverged ] -> StopReason.text r, r ]

    /// Reads a training record from a parsed document of a version (2 has `epoch_end_s`, 1 does not).
    /// Raises `InvalidArgument` naming the key.
    let private ofJson (version: int) (root: JsonElement) : TrainingRecord =
        onlyKeys "file"
            [ "format"; "version"; "task"; "kind"; "n_units"; "config"; "loss"; "learning_rate"; "validation_loss"
              if version >= 2 then "epoch_end_s"
              "best_epoch"; "stop_reason"; "stopped_at_epoch"; "steps"; "wall_time_s"; "initial_state" ]
            root
        let get key = required root key key
        let c = get "config"
        onlyKeys "config"
            [ "batch_size"; "epochs"; "learning_rate"; "amsgrad"; "weight_decay"; "schedule"; "clipping"; "stop_loss"
              "recurrent_noise"; "input_noise"; "train_initial_state"; "seed" ]
            c
        let key k = "config." + k
        let setting k = required c k (key k)
        let config =
            { BatchSize = setting "batch_size" |> integer (key "batch_size") |> atLeast (key "batch_size") 1
              Epochs = setting "epochs" |> integer (key "epochs") |> atLeast (key "epochs") 1
              LearningRate = setting "learning_rate" |> number (key "learning_rate")
              Amsgrad = setting "amsgrad" |> boolean (key "amsgrad")
              WeightDecay = setting "weight_decay" |> number (key "weight_decay")
              Schedule = setting "schedule" |> schedule (key "schedule")
              Clipping = setting "clipping" |> clipping (key "clipping")
              StopLoss = nullable c "stop_loss" (key "stop_loss") |> Option.map (number (key "stop_loss"))
              RecurrentNoise = setting "recurrent_noise" |> number (key "recurrent_noise")
              InputNoise = setting "input_noise" |> number (key "input_noise")
              TrainInitialState = setting "train_initial_state" |> boolean (key "train_initial_state")
              Seed = setting "seed" |> integer (key "seed") }
        { Task = get "task" |> JsonRead.text "task"
          KindName = get "kind" |> JsonRead.text "kind"
          Units = get "n_units" |> integer "n_units" |> atLeast "n_units" 1
          Config = config
          Losses = get "loss" |> vector "loss"
          LearningRates = get "learning_rate" |> vector "learning_rate"
          ValidationLosses = get "validation_loss" |> vector "validation_loss"
          EpochEndSeconds =
            if version >= 2 then
                get "epoch_end_s" |> vector "epoch_end_s" |> Array.map (atLeastZero "epoch_end_s")
            else [||]
          BestEpoch = get "best_epoch" |> integer "best_epoch" |> atLeast "best_epoch" 0
          StopReason = get "stop_reason" |> choice "stop_reason" stopReasons
          StoppedAtEpoch = get "stopped_at_epoch" |> integer "stopped_at_epoch" |> atLeast "stopped_at_epoch" 0
          Steps = get "steps" |> integer "steps" |> atLeast "steps" 0
          WallTimeSeconds = get "wall_time_s" |> number "wall_time_s" |> atLeastZero "wall_time_s"
          InitialState = nullable root "initial_state" "initial_state" |> Option.map (vector "initial_state") }

    /// Reads a training log. Every problem raises `FileFormatError` naming the file and the problem
    /// (with the key it concerns).
    let load (path: string) : TrainingRecord = FileFormat.load Format [ 1, ofJson 1; Version, ofJson Version ] path
