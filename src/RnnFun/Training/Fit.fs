namespace RnnFun

open System
open System.Diagnostics
open System.Threading
open TorchSharp

/// How the learning rate changes from epoch to epoch.
[<RequireQualifiedAccess>]
type LearningRateSchedule =
    /// The initial rate throughout.
    | Constant
    /// lr = lr0 * gamma ^ (number of milestones <= epoch index), epoch indices from 0 (pyrnn's MultiStepLR).
    | MultiStep of milestones: int list * gamma: float
    /// Multiply by factor when the monitored loss (validation if given, else training) has not
    /// improved by a relative 1e-4 for more than patience epochs; never below minimum (PyTorch's rule).
    | ReduceOnPlateau of factor: float * patience: int * minimum: float

/// Gradient clipping before each optimiser step.
[<RequireQualifiedAccess>]
type GradientClipping =
    | Off
    /// Every gradient element clamped to [-c, c] (pyrnn's grad_clip).
    | Value of float
    /// All gradients scaled together so their global 2-norm is at most c (PsychRNN, FixedPointFinder).
    | GlobalNorm of float

/// Regularisation terms added to the loss (PsychRNN's): means over the effective weights of each
/// role (In: `Role.Input` and `Role.InputBlocks`, Rec: `Role.Recurrent` and `Role.RecurrentBlocks`,
/// Out: `Role.Output`; all of a kind's parameters of those roles together) and over the rates.
type Regularization =
    { L1In: float
      L1Rec: float
      L1Out: float
      L2In: float
      L2Rec: float
      L2Out: float
      /// Mean squared firing rate (the kind's Rates of its rates block).
      L2Rate: float }

    static member none = { L1In = 0.0; L1Rec = 0.0; L1Out = 0.0; L2In = 0.0; L2Rec = 0.0; L2Out = 0.0; L2Rate = 0.0 }

/// Why training stopped.
[<RequireQualifiedAccess>]
type StopReason =
    | Completed
    | StopLoss
    | Cancelled
    | Diverged

/// The text of a stop reason, the one form that training logs, summaries, reports and console lines write.
[<RequireQualifiedAccess; CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
module StopReason =
    /// completed, stop-loss, cancelled or diverged.
    let text (reason: StopReason) =
        match reason with
        | StopReason.Completed -> "completed"
        | StopReason.StopLoss -> "stop-loss"
        | StopReason.Cancelled -> "cancelled"
        | StopReason.Diverged -> "diverged"

/// Reported after every optimiser step.
type TrainingProgress =
    { /// 1-based
      Epoch: int
      Epochs: int
      /// 1-based, within the epoch
      Batch: int
      Batches: int
      Loss: float
      LearningRate: float
      StepsPerSecond: float
      Elapsed: TimeSpan }

/// What to train on.
[<RequireQualifiedAccess>]
type TrainingData =
    /// A fixed set of trials, shuffled into batches every epoch.
    | Dataset of Batch
    /// Fresh trials every epoch from a task: trials per epoch (split into batches).
    | Fresh of Task * trialsPerEpoch: int

/// Training settings, pure data (what `fit` does besides training is in `FitHooks`).
/// `FitConfig.defaults` follows pyrnn where pyrnn is sound.
type FitConfig =
    { BatchSize: int
      /// Exactly this many epochs (pyrnn runs one more).
      Epochs: int
      LearningRate: float
      Amsgrad: bool
      /// L2 weight decay of Adam, on the trainable parameters.
      WeightDecay: float
      Schedule: LearningRateSchedule
      Clipping: GradientClipping
      /// Stop at the first epoch whose mean loss is <= this.
      StopLoss: float option
      /// Return the best epoch's weights (true) or the last ones (false).
      KeepBest: bool
      Regularization: Regularization
      /// Recurrent noise sigma (0: off); see `Kind.NoiseGain`.
      RecurrentNoise: float
      /// Input noise sigma (0: off).
      InputNoise: float
      /// Learn the initial state (one vector shared by all trials).
      TrainInitialState: bool
      /// Evaluated at the end of every epoch; selects the best weights when given.
      Validation: Batch option
      /// Seed of data order, fresh data and noise.
      Seed: int
      /// Back-propagate through time with the kind's hand-written pass (`Kind.HandWritten`, the
      /// built-in rnn, ctrnn, gru and lstm) where it applies (`FusedBptt`); false: autograd through
      /// every step. Same gradients.
      FusedBackward: bool }

    static member defaults =
        { BatchSize = 64
          Epochs = 100
          LearningRate = 1e-3
          Amsgrad = false
          WeightDecay = 0.0
          Schedule = LearningRateSchedule.Constant
          Clipping = GradientClipping.Off
          StopLoss = None
          KeepBest = true
          Regularization = Regularization.none
          RecurrentNoise = 0.0
          InputNoise = 0.0
          TrainInitialState = false
          Validation = None
          Seed = 0
          FusedBackward = true }

/// What `fit` does besides training: progress reports, cancellation, checkpoints, and the libtorch
/// threads it runs on. None of it changes the result.
type FitHooks =
    { /// Called after every optimiser step.
      Progress: (TrainingProgress -> unit) option
      /// Checked after every step: training stops as `Cancelled` after the current batch.
      Cancellation: CancellationToken
      /// Called with the best weights so far whenever they improve (a network disposed after the
      /// call); `ModelFile.saveBest path` writes them to a model file.
      OnBest: (Network -> unit) option
      /// libtorch threads during training; None: `Training.defaultThreads units` (1 below 256 units,
      /// then one per 128 units, at most all cores).
      Threads: int option
      /// Validate each epoch's weights on a free core while the next epoch trains (true, the
      /// default), where a core is free: training uses fewer threads than the machine has cores,
      /// the learning rate does not follow the validation loss (`ReduceOnPlateau`) and the kind
      /// is not on libtorch's lstm kernel. The result is the same either way (weights, losses, best
      /// epoch); only `OnBest` and the epoch end times come up to one epoch later. false:
      /// validation runs in line, after each epoch.
      OverlapValidation: bool }

    /// No reports, no cancellation, no checkpoints, the default threads, overlapped validation.
    static member none = { Progress = None; Cancellation = CancellationToken.None; OnBest = None; Threads = None; OverlapValidation = true }

/// What one training step did.
[<RequireQualifiedAccess>]
type StepOutcome =
    /// The optimiser step was taken; the batch's loss before it (with regularisation).
    | Taken of loss: float
    /// The loss or the gradient's global norm was not finite: no step was taken.
    | NotFinite of loss: float

/// One network in training: its trainable leaves, Adam's state and the noise generator. Made by
/// `Training.start`, advanced one batch at a time by `Training.step` (for a loop of your own, and the
/// loop of `fit`). It owns its tensors: dispose it.
type Trainer =
    internal
        { Config: FitConfig
          /// A copy of the network training started from (owned: the caller may dispose theirs).
          Source: Network
          /// The source's kind and constraints with the leaves as its values (not disposed: the leaves are).
          Working: Network
          Leaves: Tensor list
          LearntState: Tensor option
          Optimised: Modules.Parameter list
          Optimizer: torch.optim.Optimizer
          Generator: torch.Generator
          /// The hand-written recurrence and the names of the weights (and the gru's b_hh) it computes with.
          Fused: (FusedRecurrence * string * string option) option
          /// libtorch's fused LSTM, used instead of the hand-written pass for the built-in lstm when
          /// no recurrent noise is drawn (the kernel takes x, not a drive the noise could join).
          Kernel: LstmKernel option
          mutable StepsTaken: int }

    /// Optimiser steps taken so far.
    member t.Steps = t.StepsTaken

    interface IDisposable with
        member t.Dispose() =
            for l in t.Leaves do l.Dispose()
            (t.Source :> IDisposable).Dispose()
            t.LearntState |> Option.iter (fun h -> h.Dispose())
            t.Optimizer.Dispose()
            t.Generator.Dispose()
            t.Kernel |> Option.iter (fun k -> (k :> IDisposable).Dispose())

/// The outcome of training. Owns the returned network: dispose it.
type FitResult =
    { Network: Network
      /// The learnt initial state [state], when it was trained.
      InitialState: float[] option
      /// Mean training loss per epoch (a cancelled epoch counts with the batches it ran).
      Losses: float[]
      /// Learning rate used in each epoch.
      LearningRates: float[]
      /// Validation loss per epoch (empty without validation data).
      ValidationLosses: float[]
      /// Seconds since training started at the end of each epoch, its validation included (one per
      /// entry of `Losses`): the time to a validation loss is the entry of the first epoch that reached it.
      EpochEndSeconds: float[]
      /// 1-based epoch whose weights were kept as best (0: none completed).
      BestEpoch: int
      StopReason: StopReason
      /// 1-based epoch in which training stopped.
      StoppedAtEpoch: int
      Steps: int
      WallTime: TimeSpan }

    interface IDisposable with
        member r.Dispose() = (r.Network :> IDisposable).Dispose()

[<RequireQualifiedAccess>]
module Training =
    /// The learning rate of an epoch (0-based index) under a MultiStep or Constant schedule.
    let scheduledRate (lr0: float) (schedule: LearningRateSchedule) (epochIndex: int) =
        match schedule with
        | LearningRateSchedule.MultiStep (milestones, gamma) ->
            lr0 * Math.Pow(gamma, float (milestones |> List.filter (fun m -> m <= epochIndex) |> List.length))
        | _ -> lr0

    /// A batch as tensors: inputs [batch; time; inputs], targets [batch; time; outputs], mask [batch; time]
    /// (or [batch; time; outputs]).
    let toTensors (precision: Precision) (b: Batch) =
        let make (a: float32[]) (shape: int64[]) =
            let t = torch.tensor(a, ReadOnlySpan<int64>(shape))
            if precision = Precision.Float32 then t else t.to_type(precision.ScalarType)
        let bt, tt = int64 b.Trials, int64 b.Time
        make b.Inputs [| bt; tt; int64 b.InputSize |],
        make b.Targets [| bt; tt; int64 b.OutputSize |],
        // A mask per step is [batch; time]; one per target value [batch; time; outputs].
        b.Mask |> Option.map (fun m -> make m (if m.Length = b.Trials * b.Time then [| bt; tt |] else [| bt; tt; int64 b.OutputSize |]))

    /// Mean squared error over all steps and outputs, or the mask-weighted mean (a [batch; time] mask
    /// weights steps, a [batch; time; outputs] one each target value).
    let mse (outputs: Tensor) (targets: Tensor) (mask: Tensor option) : Tensor =
        let err = (outputs - targets).squared() // [batch; time; outputs]
        match mask with
        | None -> err.mean()
        | Some m when m.dim() = 3L -> (err * m).sum() / m.sum().clamp_min(1e-12) // a weight per target value
        | Some m -> (err * m.unsqueeze(-1L)).sum() / (m.sum() * float outputs.shape[2]).clamp_min(1e-12)

    /// `clipGradients` for a training loop of your own: false when the global norm was needed and is
    /// not finite (the gradients are then unchanged, and the step should not be taken).
    let tryClipGradients (clipping: GradientClipping) (leaves: Tensor seq) : bool =
        match clipping with
        | GradientClipping.Off -> true
        | GradientClipping.Value c ->
            use _ = torch.no_grad ()
            for p in leaves do
                if not (isNull p.grad) then p.grad.clamp_((-c).ToScalar(), c.ToScalar()) |> ignore
            true
        | GradientClipping.GlobalNorm c ->
            use _ = torch.no_grad ()
            let grads = leaves |> Seq.filter (fun p -> not (isNull p.grad)) |> Seq.map (fun p -> p.grad) |> Array.ofSeq
            if grads.Length = 0 then true
            else
                use norm = torch.stack(grads |> Array.map (fun g -> g.squared().sum())).sum().sqrt()
                let n = norm.ToDouble()
                // An infinite or NaN norm has no direction to keep: scaling by c / n would turn every
                // element into NaN or 0. The gradients are left as they are and the caller is told.
                if not (Double.IsFinite n) then false
                else
                    if n > c then
                        for g in grads do g.mul_((c / (n + 1e-12)).ToScalar()) |> ignore
                    true

    /// Clips the gradients of the given leaves in place (they belong to the training loop, never to a
    /// caller): element-wise to [-c, c], or jointly to a global 2-norm of at most c. When the global
    /// norm is not finite (an infinite or NaN gradient), the gradients are left unchanged; `fit` then
    /// stops as `Diverged` without taking the step (`tryClipGradients` tells a loop of your own).
    let clipGradients (clipping: GradientClipping) (leaves: Tensor seq) : unit =
        tryClipGradients clipping leaves |> ignore

    let private validateConfig (config: FitConfig) (net: Network) =
        Check.positive "batch_size" config.BatchSize
        if config.Epochs < 0 then Check.fail "epochs" (sprintf "expected >= 0, got %d" config.Epochs)
        Check.finitePositive "learning_rate" config.LearningRate
        if config.WeightDecay < 0.0 || Double.IsNaN config.WeightDecay then Check.fail "weight_decay" "expected a number >= 0"
        if config.RecurrentNoise < 0.0 || Double.IsNaN config.RecurrentNoise then Check.fail "recurrent_noise" "expected a number >= 0"
        if config.InputNoise < 0.0 || Double.IsNaN config.InputNoise then Check.fail "input_noise" "expected a number >= 0"
        match config.Clipping with
        | GradientClipping.Value c -> Check.finitePositive "clipping" c
        | GradientClipping.GlobalNorm c -> Check.finitePositive "clipping" c
        | GradientClipping.Off -> ()
        match config.Schedule with
        | LearningRateSchedule.MultiStep (_, gamma) -> Check.finitePositive "gamma" gamma
        | LearningRateSchedule.ReduceOnPlateau (factor, patience, minimum) ->
            if factor <= 0.0 || factor >= 1.0 then Check.fail "factor" (sprintf "expected a number in (0, 1), got %g" factor)
            if patience < 0 then Check.fail "patience" "expected >= 0"
            if minimum < 0.0 || Double.IsNaN minimum || Double.IsInfinity minimum then Check.fail "minimum" "expected a finite number >= 0"
        | LearningRateSchedule.Constant -> ()
        let r = config.Regularization
        for (name, v) in [ "l1_in", r.L1In; "l1_rec", r.L1Rec; "l1_out", r.L1Out; "l2_in", r.L2In; "l2_rec", r.L2Rec; "l2_out", r.L2Out; "l2_rate", r.L2Rate ] do
            if v < 0.0 || Double.IsNaN v then Check.fail name "expected a number >= 0"
        match config.Validation with
        | Some v ->
            Batch.validate "validation" v
            if v.InputSize <> net.Sizes.Inputs then
                Check.fail "validation" (sprintf "the data has %d inputs per step but the network has %d" v.InputSize net.Sizes.Inputs)
            if v.OutputSize <> net.Sizes.Outputs then
                Check.fail "validation" (sprintf "the data has %d outputs per step but the network has %d" v.OutputSize net.Sizes.Outputs)
        | None -> ()
        if not (net.Parameters |> List.exists (fun p -> p.Trainable)) && not config.TrainInitialState then
            Check.fail "trainable" "no parameter of the network is trainable"

    let private checkSizes (net: Network) name (inputs: int) (outputs: int) =
        if inputs <> net.Sizes.Inputs then
            Check.fail name (sprintf "the data has %d inputs per step but the network has %d" inputs net.Sizes.Inputs)
        if outputs <> net.Sizes.Outputs then
            Check.fail name (sprintf "the data has %d outputs per step but the network has %d" outputs net.Sizes.Outputs)

    let internal validate (config: FitConfig) (hooks: FitHooks) (net: Network) (data: TrainingData) =
        match data with
        | TrainingData.Dataset b ->
            Batch.validate "data" b
            checkSizes net "data" b.InputSize b.OutputSize
        | TrainingData.Fresh (task, trials) ->
            Check.positive "trials_per_epoch" trials
            checkSizes net "data" task.InputSize task.OutputSize
        match hooks.Threads with
        | Some t -> Check.positive "threads" t
        | None -> ()
        validateConfig config net

    /// libtorch threads `fit` uses when `FitHooks.Threads` is None: one below 256 units (a step is
    /// many small ops there; a second thread gains little on a quiet machine and loses several times
    /// over on a shared one, docs/performance.md), then one per 128 units, at most all cores (256
    /// units: 2 threads, 512: 4).
    let defaultThreads (units: int) =
        if units < 256 then 1 else min Environment.ProcessorCount (units / 128)

    let private finite (t: Tensor) =
        use _ = torch.NewDisposeScope()
        torch.isfinite(t).all().item<bool>()

    /// Starts training a network: fresh leaves for its free values (trainable ones optimised, the
    /// others constants), Adam at the config's rate, the noise generator from the config's seed, and
    /// a learnt initial state when asked for. The network is unchanged. Raises `InvalidArgument` when
    /// the config does not fit the network. Holds no thread lease (`fit` does; see `LibtorchThreads`).
    let start (config: FitConfig) (net: Network) : Trainer =
        validateConfig config net
        // The trainer's copy, its leaves, gradients, Adam's two moments, the effective weights and
        // their gradient, and the best weights: about 8 values per parameter element.
        let elements = net.Parameters |> List.sumBy (fun p -> p.Spec.Shape |> Array.fold (fun acc d -> acc * float d) 1.0)
        Memory.require (sprintf "training a %d-unit network" net.Sizes.Units) (elements * Memory.elementBytes net.Precision * 8.0)
        use _ = torch.NewDisposeScope()
        // The trainer's own copy, kept out of every scope: it outlives the caller's network.
        let net =
            let copy = Network.withValues net Map.empty
            for p in copy.parameters do p.Value.DetachFromDisposeScope() |> ignore
            for KeyValue (_, t) in copy.patterns do
                t.FixedSign.DetachFromDisposeScope() |> ignore
                t.FreeKeep.DetachFromDisposeScope() |> ignore
            copy
        let leaves =
            net.parameters
            |> List.map (fun p ->
                let v = p.Value.detach().clone()
                let leaf = if p.Trainable then torch.nn.Parameter(v, true) :> Tensor else v
                leaf.DetachFromDisposeScope())
        let learnt =
            if config.TrainInitialState then
                Some((torch.nn.Parameter(torch.zeros([| int64 (Network.stateSize net) |], net.Precision.ScalarType), true) :> Tensor).DetachFromDisposeScope())
            else None
        let optimised =
            [ for (p, leaf) in List.zip net.parameters leaves do if p.Trainable then yield leaf :?> Modules.Parameter
              match learnt with
              | Some h -> yield h :?> Modules.Parameter
              | None -> () ]
        let fused =
            if not config.FusedBackward then None
            else Network.handWrittenNames net
        { Config = config
          Source = net
          Working = { net with parameters = List.map2 (fun (p: Parameter) v -> { p with Value = v }) net.parameters leaves }
          Leaves = leaves
          LearntState = learnt
          Optimised = optimised
          Optimizer = torch.optim.Adam(optimised, config.LearningRate, 0.9, 0.999, 1e-8, config.WeightDecay, config.Amsgrad, false)
          Generator = new torch.Generator(uint64 (uint32 config.Seed))
          Fused = fused
          Kernel =
            match fused with
            | Some (FusedRecurrence.Lstm, _, _) when config.RecurrentNoise = 0.0 ->
                LstmKernel.tryCreate net.kind (net.parameters |> List.map (fun p -> p.Spec)) net.Sizes net.Precision.ScalarType
            | _ -> None
          StepsTaken = 0 }

    /// The hand-written recurrence the trainer back-propagates through (`FusedBptt`: the built-in
    /// rnn, ctrnn, gru and lstm), or None when it runs autograd through the kind's step (a kind
    /// without one, a step of one's own, `FusedBackward = false`).
    let handWrittenRecurrence (trainer: Trainer) : FusedRecurrence option =
        trainer.Fused |> Option.map (fun (r, _, _) -> r)

    /// Whether the trainer runs libtorch's fused LSTM kernel (`LstmKernel`: the built-in lstm, no
    /// recurrent noise) instead of the hand-written pass.
    let usesLstmKernel (trainer: Trainer) : bool = trainer.Kernel.IsSome

    /// The loss of a batch (with noise and regularisation when training), and the fused unroll when
    /// it was used. Opens no scope.
    let private lossOf (t: Trainer) (w: Weights) (learnt: Tensor option) (x: Tensor) (y: Tensor) (mask: Tensor option) (training: bool) =
        let config = t.Config
        let net = t.Source
        let kind = net.kind
        let reg = config.Regularization
        let batch = x.shape[0]
        let h0 =
            match learnt with
            | Some h -> h.expand([| batch; int64 (Network.stateSize net) |])
            | None -> torch.zeros([| batch; int64 (Network.stateSize net) |], net.Precision.ScalarType)
        let x = if training && config.InputNoise > 0.0 then x + torch.randn(x.shape, x.dtype, generator = t.Generator) * config.InputNoise else x
        // The fused pass works time-major: x, y and the mask are turned (small copies), the
        // drive, states and outputs are computed that way, and the noise is drawn batch-first
        // as on the general path, so that both paths see the same numbers. Evaluation (no
        // gradient) runs the hand-written forward pass too, time-major as well.
        let timeMajor = t.Fused.IsSome
        let turn (t: Tensor) = if timeMajor then t.transpose(0L, 1L) else t
        // Not formed for the lstm kernel, which projects x itself.
        let drive =
            lazy
                let drive = kind.InputDrive w (turn x) // [batch; time; drive] or [time; batch; drive]
                if training && config.RecurrentNoise > 0.0 then
                    let noise = torch.randn([| x.shape[0]; x.shape[1]; drive.shape[2] |], drive.dtype, generator = t.Generator) // [batch; time; drive]
                    drive + turn noise * (kind.NoiseGain * config.RecurrentNoise)
                else drive
        let fused =
            match t.Fused, t.Kernel with
            | Some (recurrence, wRec, bRec), None when training -> Some(FusedBptt.unrollWith recurrence w[wRec] (bRec |> Option.map (fun b -> w[b])) h0 drive.Value)
            | _ -> None
        let states =
            match fused, t.Fused with
            | Some u, _ -> u.States // [time; batch; state]
            // libtorch's fused LSTM: h alone, [time; batch; H] (all the readout and the rates read).
            | None, Some _ when t.Kernel.IsSome -> LstmKernel.run t.Kernel.Value w h0 (turn x)
            // A validation pass: Network.unroll's forward pass, a few in-place ops per step instead
            // of the kind's step with its tanh (8.4 against 10.1 ms for 256 trials at 64 units here).
            | None, Some (recurrence, wRec, bRec) -> Recurrence.forwardWith recurrence w[wRec] (bRec |> Option.map (fun b -> w[b])) h0 drive.Value // [time; batch; state]
            | None, None -> Network.unrollDrive kind w h0 drive.Value // [batch; time; state]
        let outputs = Network.readoutWith net w states // same layout as the states, [..; outputs]
        let loss = mse outputs (turn y) (mask |> Option.map turn)
        if not training then loss, fused
        else
            let mutable total = loss
            // Each term is the mean over every element of the kind's parameters of that role.
            let term (coefficient: float) (roles: Role -> bool) (f: Tensor -> Tensor) =
                if coefficient > 0.0 then
                    let tensors = net.parameters |> List.filter (fun p -> roles p.Spec.Role) |> List.map (fun p -> w[p.Spec.Name])
                    match tensors with
                    | [] -> ()
                    | [ t ] -> total <- total + f(t).mean() * coefficient
                    | _ ->
                        let count = tensors |> List.sumBy (fun t -> t.numel ())
                        let sum = tensors |> List.map (fun t -> f(t).sum()) |> List.reduce (+)
                        total <- total + sum * (coefficient / float count)
            // Stacked gate blocks count with their plain roles: Rec over every block of weight_hh.
            let isInput role = match role with Role.Input | Role.InputBlocks _ -> true | _ -> false
            let isRecurrent role = match role with Role.Recurrent | Role.RecurrentBlocks _ -> true | _ -> false
            let isOutput role = role = Role.Output
            term reg.L1In isInput (fun t -> t.abs())
            term reg.L1Rec isRecurrent (fun t -> t.abs())
            term reg.L1Out isOutput (fun t -> t.abs())
            term reg.L2In isInput (fun t -> t.squared())
            term reg.L2Rec isRecurrent (fun t -> t.squared())
            term reg.L2Out isOutput (fun t -> t.squared())
            if reg.L2Rate > 0.0 then total <- total + (Network.ratesOf net states).squared().mean() * reg.L2Rate
            total, fused

    let private setRate (rate: float) (trainer: Trainer) =
        for g in trainer.Optimizer.ParamGroups do g.LearningRate <- rate

    /// Sets Adam's learning rate for the next steps.
    let setLearningRate (rate: float) (trainer: Trainer) : unit =
        Check.finitePositive "learning_rate" rate
        setRate rate trainer

    /// Refuses (`InsufficientMemory`) a step whose unrolled activations would not fit: backpropagation
    /// through time keeps about 4 tensors of [batch; time; state + drive + outputs], the drive as wide
    /// as the recurrent weights' rows (3H for a gru).
    let private requireStepMemory (net: Network) (trials: int) (time: int) (outputs: int) =
        let driveRows =
            net.Parameters
            |> List.tryPick (fun p -> match p.Spec.Role with Role.Recurrent | Role.RecurrentBlocks _ -> Some(float p.Spec.Shape[0]) | _ -> None)
            |> Option.defaultValue (float net.Sizes.Units)
        let width = float (Network.stateSize net) + driveRows + float outputs
        Memory.require (sprintf "a training step on %d trials of %d steps" trials time) (float trials * float time * width * Memory.elementBytes net.Precision * 4.0)

    /// `step` on a batch already checked (fit's own batches, whose size `fitWith` checked once:
    /// memory this process freed but still holds would read as unavailable on later steps).
    let private stepUnchecked (trainer: Trainer) (batch: Batch) : StepOutcome =
        use _ = torch.NewDisposeScope()
        let x, y, mask = toTensors trainer.Source.Precision batch
        trainer.Optimizer.zero_grad ()
        trainer.Kernel |> Option.iter LstmKernel.zeroGradients
        let w = Network.weights trainer.Working
        let loss, fused = lossOf trainer w trainer.LearntState x y mask true
        let value = loss.ToDouble()
        if Double.IsNaN value || Double.IsInfinity value then StepOutcome.NotFinite value
        else
            match fused, trainer.Kernel with
            | Some u, _ -> FusedBptt.backward loss u
            | None, Some kernel ->
                // The graph kept: the effective weights' part of it carries the kernel's gradients on.
                loss.backward (null, create_graph = false, retain_graph = true)
                LstmKernel.pushGradients kernel w
            | None, None -> loss.backward ()
            // A gradient whose global norm is not finite is not applied.
            if not (tryClipGradients trainer.Config.Clipping (trainer.Optimised |> Seq.cast<Tensor>)) then StepOutcome.NotFinite value
            else
                trainer.Optimizer.step () |> ignore
                trainer.StepsTaken <- trainer.StepsTaken + 1
                StepOutcome.Taken value

    /// One training step on a batch: loss (with the config's noise and regularisation), backward
    /// (the hand-written pass where it applies), clipping, Adam. No step is taken when the loss or
    /// the gradient's global norm is not finite. Raises `InvalidArgument "batch"` for a batch that is
    /// malformed or does not fit the network. Opens its own dispose scope.
    let step (trainer: Trainer) (batch: Batch) : StepOutcome =
        Batch.validate "batch" batch
        checkSizes trainer.Source "batch" batch.InputSize batch.OutputSize
        requireStepMemory trainer.Source batch.Trials batch.Time batch.OutputSize
        stepUnchecked trainer batch

    let private evaluateTensors (trainer: Trainer) (x: Tensor) (y: Tensor) (mask: Tensor option) : float =
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        (fst (lossOf trainer (Network.weights trainer.Working) trainer.LearntState x y mask false)).ToDouble()

    /// `evaluateTensors` with weights of the trainer's own copies (a snapshot of its leaves and
    /// learnt state) instead of its current ones: safe on another thread while it trains, except
    /// on the lstm kernel, whose buffers the training steps fill.
    let private evaluateSnapshot (trainer: Trainer) (values: Tensor list, learnt: Tensor option) (x: Tensor) (y: Tensor) (mask: Tensor option) : float =
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        let working = { trainer.Working with parameters = List.map2 (fun (p: Parameter) v -> { p with Value = v }) trainer.Working.parameters values }
        (fst (lossOf trainer (Network.weights working) learnt x y mask false)).ToDouble()

    /// The loss of a batch with the current weights: no noise, no regularisation, no gradient (the
    /// validation loss of `fit`).
    let evaluate (trainer: Trainer) (batch: Batch) : float =
        Batch.validate "batch" batch
        checkSizes trainer.Source "batch" batch.InputSize batch.OutputSize
        use _ = torch.NewDisposeScope()
        let x, y, mask = toTensors trainer.Source.Precision batch
        evaluateTensors trainer x y mask

    let private networkOfValues (trainer: Trainer) (values: Tensor list) =
        Network.withValues trainer.Source (List.zip (trainer.Source.parameters |> List.map (fun p -> p.Spec.Name)) values |> Map.ofList)

    /// The current weights as a new network (the started one's kind, constraints and flags): dispose it.
    let network (trainer: Trainer) : Network = networkOfValues trainer trainer.Leaves

    /// The learnt initial state [state], when the config trains one.
    let learntInitialState (trainer: Trainer) : float[] option = trainer.LearntState |> Option.map Arrays.ofTensor

    /// Trains a network: Adam on MSE (+ regularisation), honouring trainable flags and constraints
    /// at every step, with reports, cancellation, checkpoints and threads from `hooks`. Returns a
    /// new network; the given one is unchanged. Raises `InvalidArgument` before the first step when
    /// config, hooks and data do not fit the network.
    let fitWith (hooks: FitHooks) (config: FitConfig) (net: Network) (data: TrainingData) : FitResult =
        validate config hooks net data
        let stopwatch = Stopwatch.StartNew()
        let threads = hooks.Threads |> Option.defaultValue (defaultThreads net.Sizes.Units)
        use _ = LibtorchThreads.lease threads
        use trainer = start config net
        // Copies owned by the loop (kept out of every dispose scope, disposed explicitly).
        let snapshot () =
            use _ = torch.NewDisposeScope()
            let copy (t: Tensor) = t.detach().clone().DetachFromDisposeScope()
            (trainer.Leaves |> List.map copy), (trainer.LearntState |> Option.map copy)
        let disposeSnapshot (values: Tensor list, h: Tensor option) =
            for v in values do v.Dispose()
            h |> Option.iter (fun t -> t.Dispose())
        let validationTensors = config.Validation |> Option.map (toTensors net.Precision)
        // The validation pass is a forward pass over the validation trials (about a tenth of an
        // epoch's work in the presets): on a free core it runs beside the next epoch, on a copy of
        // the weights it validates. Nothing the next epoch does depends on it unless the learning
        // rate follows it.
        let overlapValidation =
            hooks.OverlapValidation
            && validationTensors.IsSome
            && threads < Environment.ProcessorCount
            && trainer.Kernel.IsNone
            && (match config.Schedule with LearningRateSchedule.ReduceOnPlateau _ -> false | _ -> true)
        match data with
        | TrainingData.Fresh (task, _) ->
            // A batch is generated as plain data before its step checks its activations: one trial
            // tells the task's length. Per step: inputs, targets and mask as float32 and as tensors.
            let one = task.Generate 1 config.Seed
            let perTrial = float one.Time * float (one.InputSize + one.OutputSize + 1) * (4.0 + Memory.elementBytes net.Precision)
            Memory.require (sprintf "batches of %d trials of %d steps" config.BatchSize one.Time) (float config.BatchSize * perTrial)
            requireStepMemory net config.BatchSize one.Time one.OutputSize
        | TrainingData.Dataset b -> requireStepMemory net (min config.BatchSize b.Trials) b.Time b.OutputSize
        let batchesOf epoch : (unit -> Batch)[] =
            match data with
            | TrainingData.Dataset b ->
                let random = Random(config.Seed + 7919 * epoch)
                let order = Array.init b.Trials id
                for i in order.Length - 1 .. -1 .. 1 do
                    let j = random.Next(i + 1)
                    let tmp = order[i]
                    order[i] <- order[j]
                    order[j] <- tmp
                let size = min config.BatchSize b.Trials
                [| for start in 0 .. size .. b.Trials - 1 -> fun () -> Batch.select (Array.sub order start (min size (b.Trials - start))) b |]
            | TrainingData.Fresh (task, trials) ->
                let count = (trials + config.BatchSize - 1) / config.BatchSize
                [| for k in 0 .. count - 1 -> fun () -> task.Generate config.BatchSize (config.Seed * 1000003 + epoch * 10007 + k) |]
        let allFinite () = trainer.Leaves |> List.forall finite && (trainer.LearntState |> Option.forall finite)
        let losses = ResizeArray<float>()
        let rates = ResizeArray<float>()
        let validationLosses = ResizeArray<float>()
        let epochEnds = ResizeArray<float>()
        // An epoch whose validation runs on another core: its index, its training loss, the copy of its weights,
        // and the loss with the stopwatch's seconds when the pass ended.
        let mutable pending: (int * float * (Tensor list * Tensor option) * Threading.Tasks.Task<float * float>) option = None
        let mutable best: (Tensor list * Tensor option) option = None
        let mutable bestLoss = Double.PositiveInfinity
        let mutable bestEpoch = 0
        let mutable lastFinite = snapshot ()
        let mutable reason = StopReason.Completed
        let mutable stoppedAt = config.Epochs
        let mutable lr = config.LearningRate
        let mutable plateauBest = Double.PositiveInfinity
        let mutable plateauBad = 0
        let mutable epoch = 0
        // The validation loss and the best checkpoint of a finished epoch (number from 1). `copy`:
        // the weights it validated, when they were copied for an overlapped pass (taken as the best
        // or disposed here); otherwise the best is copied from the current weights.
        let settleEpoch (number: int) (completedEpoch: bool) (weightsFinite: bool) (epochLoss: float) (validation: float option) (copy: (Tensor list * Tensor option) option) =
            validation |> Option.iter validationLosses.Add
            let monitored = validation |> Option.defaultValue epochLoss
            if completedEpoch && weightsFinite && monitored < bestLoss then
                bestLoss <- monitored
                bestEpoch <- number
                best |> Option.iter disposeSnapshot
                best <- Some(match copy with Some c -> c | None -> snapshot ())
                match hooks.OnBest with
                | Some onBest ->
                    use n = networkOfValues trainer (fst best.Value)
                    onBest n
                | None -> ()
            else copy |> Option.iter disposeSnapshot
        // The learning rate for the next epoch when it follows the monitored loss.
        let plateauStep (epochLoss: float) (validation: float option) =
            match config.Schedule with
            | LearningRateSchedule.ReduceOnPlateau (factor, patience, minimum) ->
                let monitored = validation |> Option.defaultValue epochLoss
                if monitored < plateauBest * (1.0 - 1e-4) then
                    plateauBest <- monitored
                    plateauBad <- 0
                else
                    plateauBad <- plateauBad + 1
                    if plateauBad > patience then
                        lr <- max (lr * factor) minimum
                        plateauBad <- 0
            | _ -> ()
        // Waits for the overlapped validation in flight, and settles its epoch.
        let settlePending () =
            match pending with
            | Some (index, epochLoss, copy, task) ->
                pending <- None
                let loss, ended =
                    try task.GetAwaiter().GetResult()
                    with _ ->
                        disposeSnapshot copy
                        reraise ()
                settleEpoch (index + 1) true true epochLoss (Some loss) (Some copy)
                epochEnds.Add ended
            | None -> ()
        try
            while epoch < config.Epochs && reason = StopReason.Completed do
                lr <-
                    match config.Schedule with
                    | LearningRateSchedule.ReduceOnPlateau _ -> lr
                    | s -> scheduledRate config.LearningRate s epoch
                setRate lr trainer
                let batches = batchesOf epoch
                // Fresh trials are drawn on another core while the step before runs (the task's
                // generator is a pure function of its seed: the same batches, in the same order).
                let prefetch = (match data with TrainingData.Fresh _ -> true | _ -> false) && Environment.ProcessorCount > 1
                let mutable nextBatch: Threading.Tasks.Task<Batch> option = None
                let batchAt (k: int) =
                    let batch =
                        match nextBatch with
                        | Some t -> t.GetAwaiter().GetResult()
                        | None -> batches[k] ()
                    nextBatch <- if prefetch && k + 1 < batches.Length then Some(Threading.Tasks.Task.Run(fun () -> batches[k + 1] ())) else None
                    batch
                let mutable sum = 0.0
                let mutable count = 0
                let mutable k = 0
                while k < batches.Length && reason = StopReason.Completed do
                    match stepUnchecked trainer (batchAt k) with
                    | StepOutcome.NotFinite _ ->
                        reason <- StopReason.Diverged
                        stoppedAt <- epoch + 1
                    | StepOutcome.Taken value ->
                        sum <- sum + value
                        count <- count + 1
                        hooks.Progress
                        |> Option.iter (fun report ->
                            let elapsed = stopwatch.Elapsed
                            report
                                { Epoch = epoch + 1
                                  Epochs = config.Epochs
                                  Batch = k + 1
                                  Batches = batches.Length
                                  Loss = value
                                  LearningRate = lr
                                  StepsPerSecond = float trainer.Steps / max elapsed.TotalSeconds 1e-9
                                  Elapsed = elapsed })
                        if hooks.Cancellation.IsCancellationRequested then
                            reason <- StopReason.Cancelled
                            stoppedAt <- epoch + 1
                    k <- k + 1
                if count > 0 then
                    let epochLoss = sum / float count
                    losses.Add epochLoss
                    rates.Add lr
                    let weightsFinite = allFinite ()
                    if weightsFinite then
                        disposeSnapshot lastFinite
                        lastFinite <- snapshot ()
                    let completedEpoch = reason = StopReason.Completed || reason = StopReason.StopLoss
                    // The epoch before's overlapped validation is settled first: epochs settle in order.
                    settlePending ()
                    let validating = completedEpoch && weightsFinite && validationTensors.IsSome
                    if validating && overlapValidation then
                        let copy = snapshot ()
                        let x, y, m = validationTensors.Value
                        let run () =
                            // OpenMP's thread count is per thread: a pool thread starts at all cores.
                            torch.set_num_threads threads
                            let loss = evaluateSnapshot trainer copy x y m
                            loss, stopwatch.Elapsed.TotalSeconds
                        pending <- Some(epoch, epochLoss, copy, Threading.Tasks.Task.Run(run))
                        plateauStep epochLoss None
                    else
                        let validation = if validating then validationTensors |> Option.map (fun (x, y, m) -> evaluateTensors trainer x y m) else None
                        settleEpoch (epoch + 1) completedEpoch weightsFinite epochLoss validation None
                        plateauStep epochLoss validation
                        epochEnds.Add stopwatch.Elapsed.TotalSeconds
                    match config.StopLoss with
                    | Some stop when reason = StopReason.Completed && epochLoss <= stop ->
                        reason <- StopReason.StopLoss
                        stoppedAt <- epoch + 1
                    | _ -> ()
                epoch <- epoch + 1
            settlePending ()
            if reason = StopReason.Completed then stoppedAt <- epoch
            let currentFinite = allFinite ()
            let chosen, owned =
                match best with
                | Some b when config.KeepBest -> b, false
                | _ when currentFinite && reason <> StopReason.Diverged -> snapshot (), true
                | _ -> lastFinite, false
            let result = networkOfValues trainer (fst chosen)
            let learntState = snd chosen |> Option.map Arrays.ofTensor
            if owned then disposeSnapshot chosen
            { Network = result
              InitialState = learntState
              Losses = losses.ToArray()
              LearningRates = rates.ToArray()
              ValidationLosses = validationLosses.ToArray()
              EpochEndSeconds = epochEnds.ToArray()
              BestEpoch = (if config.KeepBest then bestEpoch else 0)
              StopReason = reason
              StoppedAtEpoch = stoppedAt
              Steps = trainer.Steps
              WallTime = stopwatch.Elapsed }
        finally
            // A pass still in flight (an exception left the loop) reads the validation tensors and its copy.
            pending
            |> Option.iter (fun (_, _, copy, task) ->
                (try task.Wait() with _ -> ())
                disposeSnapshot copy)
            best |> Option.iter disposeSnapshot
            disposeSnapshot lastFinite
            validationTensors |> Option.iter (fun (x, y, m) -> x.Dispose(); y.Dispose(); m |> Option.iter (fun t -> t.Dispose()))

    /// `fitWith FitHooks.none`: no reports, no cancellation, no checkpoints, the default threads.
    let fit (config: FitConfig) (net: Network) (data: TrainingData) : FitResult = fitWith FitHooks.none config net data
