namespace RnnFun

/// A task with a network and training config that learn it well.
type Preset =
    { Task: Task
      Kind: Kind
      Network: NetworkConfig
      Fit: FitConfig
      /// Fresh trials per epoch.
      TrialsPerEpoch: int
      /// Held-out trials (fresh, other seed) for the validation loss.
      ValidationTrials: int }

/// Presets per task, tuned for speed on a small CPU (figures in docs/training.md).
[<RequireQualifiedAccess>]
module Presets =
    /// Validation trials drawn with a seed no training batch uses.
    let validationSeed (seed: int) = -(seed + 1)

    /// 3-bit flip-flop: 64-unit discrete RNN, T = 64, pulse probability 0.2, Adam lr 1e-2, batch 64,
    /// W_in and W_out trained too (as pyrnn's example).
    let flipFlop (seed: int) : Preset =
        let task = Tasks.flipFlop FlipFlopConfig.defaults
        { Task = task
          Kind = Kinds.rnn
          Network =
            { NetworkConfig.defaults with
                InputSize = 3
                Units = 64
                OutputSize = 3
                Seed = int64 seed
                Trainable = Map.ofList [ "w_in", true; "w_out", true ] }
          Fit =
            { FitConfig.defaults with
                BatchSize = 64
                Epochs = 40
                LearningRate = 1e-2
                StopLoss = Some 5e-4
                Clipping = GradientClipping.GlobalNorm 1.0
                Seed = seed }
          TrialsPerEpoch = 640
          ValidationTrials = 256 }

    /// Angular integrator with the (cos, sin) target: 64-unit discrete RNN, T = 50, Adam lr 3e-3,
    /// batch 32 (a higher rate or T = 100 trains far more slowly from scratch).
    let integrator (seed: int) : Preset =
        let task = Tasks.integrator { IntegratorConfig.defaults with Time = 50 }
        { Task = task
          Kind = Kinds.rnn
          Network =
            { NetworkConfig.defaults with
                InputSize = task.InputSize
                Units = 64
                OutputSize = task.OutputSize
                OutputBias = true
                Seed = int64 seed
                Trainable = Map.ofList [ "w_in", true; "w_out", true; "b_out", true ] }
          Fit =
            { FitConfig.defaults with
                BatchSize = 32
                Epochs = 100
                LearningRate = 3e-3
                StopLoss = Some 2e-3
                Clipping = GradientClipping.GlobalNorm 1.0
                TrainInitialState = true
                Seed = seed }
          TrialsPerEpoch = 640
          ValidationTrials = 256 }

    /// Sine-wave generator: 64-unit continuous-time RNN (dt 5, tau 50), T = 200, learnt initial state
    /// (the discrete RNN stalls on these long sequences).
    let sine (seed: int) : Preset =
        let task = Tasks.sine SineConfig.defaults
        { Task = task
          Kind = Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 50.0 }
          Network =
            { NetworkConfig.defaults with
                InputSize = 1
                Units = 64
                OutputSize = 1
                InputBias = true
                Seed = int64 seed
                Trainable = Map.ofList [ "w_in", true; "w_out", true; "b_in", true ] }
          Fit =
            { FitConfig.defaults with
                BatchSize = 64
                Epochs = 30
                LearningRate = 1e-2
                StopLoss = Some 5e-3
                Clipping = GradientClipping.GlobalNorm 1.0
                TrainInitialState = true
                Seed = seed }
          TrialsPerEpoch = 640
          ValidationTrials = 256 }

    /// The preset of a task name: flipflop, integrator or sine.
    let byName (name: string) (seed: int) : Preset =
        match name with
        | "flipflop" -> flipFlop seed
        | "integrator" -> integrator seed
        | "sine" -> sine seed
        | other -> Check.fail "task" (sprintf "unknown task '%s' (expected flipflop, integrator or sine)" other)

    /// The kinds a preset can be trained with: the built-in ones, the ctrnn with tau = 50
    /// (dt/tau = 0.1) for tasks of these lengths (the flip-flop has its own: `withKindNamed`).
    let kinds: Kind list =
        Kinds.builtIn |> List.map (fun k -> if k.Name = Kinds.ctrnn.Name then Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 50.0 } else k)

    /// One of `kinds` by name; `InvalidArgument("kind", ...)` listing them for another name.
    let kindByName (name: string) : Kind =
        match kinds |> List.tryFind (fun k -> k.Name = name) with
        | Some k -> k
        | None -> Check.fail "kind" (sprintf "unknown kind '%s' (expected %s)" name (System.String.Join(", ", kinds |> List.map (fun k -> k.Name))))

    /// The preset with another kind. The preset's trainable flags are kept for the parameters the
    /// kind has (a gated kind has no w_in; its own defaults train every parameter).
    let withKind (kind: Kind) (preset: Preset) : Preset =
        let sizes = { Inputs = preset.Network.InputSize; Units = preset.Network.Units; Outputs = preset.Network.OutputSize }
        let names = kind.Parameters sizes |> List.map (fun s -> s.Name) |> Set.ofList
        { preset with
            Kind = kind
            Network = { preset.Network with Trainable = preset.Network.Trainable |> Map.filter (fun name _ -> names.Contains name) } }

    /// The flip-flop's continuous-time kind: dt 5, tau 10 (dt/tau = 0.5) and the rate readout
    /// W_out tanh(h). A pulse lasts one step and the target flips with it: at dt/tau = 0.1 a pulse
    /// moves the state a tenth of the way and a readout of the state cannot follow, and with the
    /// state readout every dt/tau tried (0.1 to 1) stalled near MSE 0.16 (figures in docs/training.md).
    let flipFlopCtrnn: Kind = Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 10.0; Readout = Readout.Rate }

    /// The preset with the kind of that name (`kindByName`, `withKind`), and the task's own settings
    /// for it where it has them: the flip-flop's ctrnn is `flipFlopCtrnn`, trained at lr 2e-2 for up to
    /// 80 epochs (it learns more slowly than the discrete rnn). What `rnnfun train --kind` and
    /// `rnnfun demo --kind` use. Raises `InvalidArgument("kind", ...)` for an unknown name.
    let withKindNamed (name: string) (preset: Preset) : Preset =
        let kind = kindByName name
        if preset.Task.Name = "flipflop" && kind.Name = Kinds.ctrnn.Name then
            let tuned = withKind flipFlopCtrnn preset
            { tuned with Fit = { tuned.Fit with LearningRate = 2e-2; Epochs = 80 } }
        else withKind kind preset

    /// The preset with another sequence length (steps per trial).
    let withSequenceLength (time: int) (preset: Preset) : Preset =
        Check.positive "seq_len" time
        let task =
            match preset.Task.Name with
            | "flipflop" -> Tasks.flipFlop { FlipFlopConfig.defaults with Time = time }
            | "integrator" -> Tasks.integrator { IntegratorConfig.defaults with Time = time }
            | "sine" -> Tasks.sine { SineConfig.defaults with Time = time }
            | other -> Check.fail "task" (sprintf "no sequence length can be set for task '%s'" other)
        { preset with Task = task }

    /// Trains a preset: fresh trials every epoch, validation on held-out trials.
    let trainWith (hooks: FitHooks) (preset: Preset) : FitResult =
        use net = Network.create preset.Kind preset.Network
        let validation = preset.Task.Generate preset.ValidationTrials (validationSeed preset.Fit.Seed)
        Training.fitWith hooks { preset.Fit with Validation = Some validation } net (TrainingData.Fresh(preset.Task, preset.TrialsPerEpoch))

    /// `trainWith FitHooks.none`.
    let train (preset: Preset) : FitResult = trainWith FitHooks.none preset
