using Microsoft.FSharp.Core;
using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>Reported after every optimiser step.</summary>
/// <param name="Epoch">Epoch, 1-based.</param>
/// <param name="Epochs">Number of epochs.</param>
/// <param name="Batch">Batch within the epoch, 1-based.</param>
/// <param name="Batches">Batches in the epoch.</param>
/// <param name="Loss">The batch's loss.</param>
/// <param name="LearningRate">The learning rate in use.</param>
/// <param name="StepsPerSecond">Optimiser steps per second so far.</param>
/// <param name="Elapsed">Time since training started.</param>
public sealed record TrainingProgressInfo(
    int Epoch, int Epochs, int Batch, int Batches, double Loss, double LearningRate, double StepsPerSecond, TimeSpan Elapsed);

/// <summary>
/// Training settings (Adam on MSE). Every property defaults to the core's <c>FitConfig.defaults</c>
/// (pyrnn's where pyrnn is sound); set the ones you need with an object initialiser.
/// </summary>
public sealed class TrainingOptions
{
    private static readonly Core.FitConfig D = Core.FitConfig.defaults;
    private static readonly Core.Regularization R = Core.Regularization.none;

    /// <summary>Trials per optimiser step (default 64).</summary>
    public int BatchSize { get; init; } = D.BatchSize;

    /// <summary>Exactly this many epochs (default 100).</summary>
    public int Epochs { get; init; } = D.Epochs;

    /// <summary>Initial learning rate of Adam (default 1e-3).</summary>
    public double LearningRate { get; init; } = D.LearningRate;

    /// <summary>Use the AMSGrad variant of Adam (default false).</summary>
    public bool Amsgrad { get; init; } = D.Amsgrad;

    /// <summary>L2 weight decay of Adam, on the trainable parameters (default 0).</summary>
    public double WeightDecay { get; init; } = D.WeightDecay;

    /// <summary>How the learning rate changes (default <see cref="LearningRateSchedule.Constant"/>).</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary><see cref="LearningRateSchedule.MultiStep"/>: 0-based epoch indices at which the rate is multiplied by <see cref="Gamma"/> (default none).</summary>
    public IReadOnlyList<int> Milestones { get; init; } = Array.Empty<int>();

    /// <summary><see cref="LearningRateSchedule.MultiStep"/>: the factor at each milestone (default 0.1, PyTorch's).</summary>
    public double Gamma { get; init; } = 0.1;

    /// <summary><see cref="LearningRateSchedule.ReduceOnPlateau"/>: the factor in (0, 1) on a plateau (default 0.1, PyTorch's).</summary>
    public double PlateauFactor { get; init; } = 0.1;

    /// <summary><see cref="LearningRateSchedule.ReduceOnPlateau"/>: epochs without improvement tolerated (default 10, PyTorch's).</summary>
    public int PlateauPatience { get; init; } = 10;

    /// <summary><see cref="LearningRateSchedule.ReduceOnPlateau"/>: the rate never falls below this (default 0, PyTorch's).</summary>
    public double MinimumLearningRate { get; init; } = 0.0;

    /// <summary>Gradient clipping before each step (default <see cref="GradientClipping.Off"/>).</summary>
    public GradientClipping Clipping { get; init; } = GradientClipping.Off;

    /// <summary>The clipping threshold c (&gt; 0) when <see cref="Clipping"/> is not Off (default 1).</summary>
    public double ClippingThreshold { get; init; } = 1.0;

    /// <summary>Stop at the first epoch whose mean loss is &lt;= this; null: never (default).</summary>
    public double? StopLoss { get; init; } = Interop.ToNullable(D.StopLoss);

    /// <summary>Write the best weights to this model file whenever they improve (atomically); null: don't (default).</summary>
    public string? SaveAtMinLoss { get; init; }

    /// <summary>Return the best epoch's weights (true, default) or the last ones (false).</summary>
    public bool KeepBest { get; init; } = D.KeepBest;

    /// <summary>L1 penalty on W_in (mean |w|; default 0).</summary>
    public double L1In { get; init; } = R.L1In;

    /// <summary>L1 penalty on W_rec (mean |w|; default 0).</summary>
    public double L1Rec { get; init; } = R.L1Rec;

    /// <summary>L1 penalty on W_out (mean |w|; default 0).</summary>
    public double L1Out { get; init; } = R.L1Out;

    /// <summary>L2 penalty on W_in (mean w^2; default 0).</summary>
    public double L2In { get; init; } = R.L2In;

    /// <summary>L2 penalty on W_rec (mean w^2; default 0).</summary>
    public double L2Rec { get; init; } = R.L2Rec;

    /// <summary>L2 penalty on W_out (mean w^2; default 0).</summary>
    public double L2Out { get; init; } = R.L2Out;

    /// <summary>Penalty on the mean squared firing rate (default 0).</summary>
    public double L2Rate { get; init; } = R.L2Rate;

    /// <summary>Recurrent noise sigma (0: off, default); scaled by sqrt(2 / alpha) for a continuous-time network.</summary>
    public double RecurrentNoise { get; init; } = D.RecurrentNoise;

    /// <summary>Input noise sigma (0: off, default).</summary>
    public double InputNoise { get; init; } = D.InputNoise;

    /// <summary>Learn the initial state, one vector shared by all trials (default false); see <see cref="TrainingResult.InitialState"/>.</summary>
    public bool TrainInitialState { get; init; } = D.TrainInitialState;

    /// <summary>Evaluated at the end of every epoch; selects the best weights when given (default null).</summary>
    public TaskBatch? Validation { get; init; }

    /// <summary>Seed of data order, fresh data and noise (default 0).</summary>
    public int Seed { get; init; } = D.Seed;

    /// <summary>libtorch threads during training; null (default): 1 below 256 units, then one per 128 units, at most all cores.</summary>
    public int? Threads { get; init; } = Interop.ToNullable(Core.FitHooks.none.Threads);

    /// <summary>Validate each epoch on a free core while the next epoch trains (default true); same results, false runs validation after each epoch.</summary>
    public bool OverlapValidation { get; init; } = Core.FitHooks.none.OverlapValidation;

    /// <summary>Back-propagate through time with the hand-written pass of the built-in kinds where it applies (default true); false: autograd through every step. Same gradients.</summary>
    public bool FusedBackward { get; init; } = D.FusedBackward;

    internal Core.FitHooks HooksOf(IProgress<TrainingProgressInfo>? progress, CancellationToken cancellationToken) =>
        new(Trainer.ProgressOf(progress), cancellationToken,
            SaveAtMinLoss is null ? FSharpOption<FSharpFunc<Core.Network, Unit>>.None : Interop.Some(FuncConvert.FromAction<Core.Network>(net => Core.ModelFile.saveBest(SaveAtMinLoss, net))),
            Interop.OfNullable(Threads), OverlapValidation);

    internal Core.FitConfig ToCore()
    {
        var schedule = Schedule switch
        {
            LearningRateSchedule.MultiStep => Core.LearningRateSchedule.NewMultiStep(Interop.List(Milestones ?? Array.Empty<int>()), Gamma),
            LearningRateSchedule.ReduceOnPlateau => Core.LearningRateSchedule.NewReduceOnPlateau(PlateauFactor, PlateauPatience, MinimumLearningRate),
            _ => Core.LearningRateSchedule.Constant,
        };
        var clipping = Clipping switch
        {
            GradientClipping.Value => Core.GradientClipping.NewValue(ClippingThreshold),
            GradientClipping.GlobalNorm => Core.GradientClipping.NewGlobalNorm(ClippingThreshold),
            _ => Core.GradientClipping.Off,
        };
        return new Core.FitConfig(
            BatchSize, Epochs, LearningRate, Amsgrad, WeightDecay, schedule, clipping,
            Interop.OfNullable(StopLoss), KeepBest,
            new Core.Regularization(L1In, L1Rec, L1Out, L2In, L2Rec, L2Out, L2Rate),
            RecurrentNoise, InputNoise, TrainInitialState,
            Validation is null ? FSharpOption<Core.Batch>.None : Interop.Some(Validation.ToCore()),
            Seed, FusedBackward);
    }
}

/// <summary>The outcome of training. It owns <see cref="Network"/>: dispose the result (or the network).</summary>
public sealed class TrainingResult : IDisposable
{
    internal TrainingResult(Core.FitResult r)
    {
        Inner = r;
        Network = new RnnNetwork(r.Network);
        InitialState = Interop.ToObj(r.InitialState);
        Losses = Interop.ReadOnly(r.Losses);
        LearningRates = Interop.ReadOnly(r.LearningRates);
        ValidationLosses = Interop.ReadOnly(r.ValidationLosses);
        EpochEndSeconds = Interop.ReadOnly(r.EpochEndSeconds);
        BestEpoch = r.BestEpoch;
        StopReason = EnumConversions.FromCore(r.StopReason);
        StoppedAtEpoch = r.StoppedAtEpoch;
        Steps = r.Steps;
        WallTime = r.WallTime;
    }

    internal Core.FitResult Inner { get; }

    /// <summary>The trained network (the best epoch's weights unless KeepBest was false). The network given to training is unchanged.</summary>
    public RnnNetwork Network { get; }

    /// <summary>The learnt initial state [units] when <see cref="TrainingOptions.TrainInitialState"/> was set; else null.</summary>
    public double[]? InitialState { get; }

    /// <summary>Mean training loss per epoch (a cancelled epoch counts with the batches it ran).</summary>
    public IReadOnlyList<double> Losses { get; }

    /// <summary>Learning rate used in each epoch.</summary>
    public IReadOnlyList<double> LearningRates { get; }

    /// <summary>Validation loss per epoch (empty without validation data).</summary>
    public IReadOnlyList<double> ValidationLosses { get; }

    /// <summary>Seconds since training started at the end of each epoch, its validation included (one per entry of <see cref="Losses"/>).</summary>
    public IReadOnlyList<double> EpochEndSeconds { get; }

    /// <summary>1-based epoch whose weights were kept as best (0: none completed, or KeepBest was false).</summary>
    public int BestEpoch { get; }

    /// <summary>Why training stopped.</summary>
    public StopReason StopReason { get; }

    /// <summary>1-based epoch in which training stopped.</summary>
    public int StoppedAtEpoch { get; }

    /// <summary>Optimiser steps taken.</summary>
    public int Steps { get; }

    /// <summary>Wall-clock time of the training.</summary>
    public TimeSpan WallTime { get; }

    /// <summary>Disposes <see cref="Network"/>.</summary>
    public void Dispose() => Network.Dispose();
}

/// <summary>Trains networks (Adam on MSE, honouring trainable flags and constraints at every step).</summary>
public static class Trainer
{
    internal static FSharpOption<FSharpFunc<Core.TrainingProgress, Unit>> ProgressOf(IProgress<TrainingProgressInfo>? progress) =>
        progress is null
            ? FSharpOption<FSharpFunc<Core.TrainingProgress, Unit>>.None
            : Interop.Some(FuncConvert.FromAction<Core.TrainingProgress>(p =>
                progress.Report(new TrainingProgressInfo(p.Epoch, p.Epochs, p.Batch, p.Batches, p.Loss, p.LearningRate, p.StepsPerSecond, p.Elapsed))));

    /// <summary>
    /// Trains on a fixed set of trials, shuffled into batches every epoch. Returns a new network; the
    /// given one is unchanged. A cancelled token stops training after the current step with
    /// <see cref="StopReason.Cancelled"/> (no exception): the result holds the weights so far.
    /// </summary>
    /// <param name="network">The network to start from.</param>
    /// <param name="data">The trials.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <param name="progress">Told after every optimiser step, on the training thread (a <see cref="Progress{T}"/> posts to its synchronisation context).</param>
    /// <param name="cancellationToken">Stops training when cancelled.</param>
    /// <returns>The result; dispose it.</returns>
    /// <exception cref="ArgumentException">Options or data do not fit the network (before the first step).</exception>
    public static TrainingResult Fit(
        RnnNetwork network,
        TaskBatch data,
        TrainingOptions? options = null,
        IProgress<TrainingProgressInfo>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(data);
        var o = options ?? new TrainingOptions();
        var config = o.ToCore();
        var hooks = o.HooksOf(progress, cancellationToken);
        var net = network.Inner;
        var training = Core.TrainingData.NewDataset(data.ToCore());
        return new TrainingResult(Interop.Call(() => Core.Training.fitWith(hooks, config, net, training)));
    }

    /// <summary>Trains on fresh trials from a task every epoch. Otherwise as <see cref="Fit(RnnNetwork, TaskBatch, TrainingOptions?, IProgress{TrainingProgressInfo}?, CancellationToken)"/>.</summary>
    /// <param name="network">The network to start from.</param>
    /// <param name="task">The task that draws the trials.</param>
    /// <param name="trialsPerEpoch">Trials per epoch (split into batches).</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <param name="progress">Told after every optimiser step, on the training thread.</param>
    /// <param name="cancellationToken">Stops training when cancelled.</param>
    /// <returns>The result; dispose it.</returns>
    public static TrainingResult Fit(
        RnnNetwork network,
        RnnTask task,
        int trialsPerEpoch,
        TrainingOptions? options = null,
        IProgress<TrainingProgressInfo>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(task);
        var o = options ?? new TrainingOptions();
        var config = o.ToCore();
        var hooks = o.HooksOf(progress, cancellationToken);
        var net = network.Inner;
        var training = Core.TrainingData.NewFresh(task.Inner, trialsPerEpoch);
        return new TrainingResult(Interop.Call(() => Core.Training.fitWith(hooks, config, net, training), ("data", nameof(task))));
    }

    private static Core.Preset Preset(string task, int seed, int? sequenceLength)
    {
        ArgumentNullException.ThrowIfNull(task);
        var preset = Interop.Call(() => Core.Presets.byName(task, seed));
        return sequenceLength is int t ? Interop.Call(() => Core.Presets.withSequenceLength(t, preset)) : preset;
    }

    /// <summary>
    /// Trains a task's preset: a network and settings that learn it well (fresh trials every epoch,
    /// validation on held-out trials).
    /// </summary>
    /// <param name="task">flipflop, integrator, sine, perceptual-decision, context-decision, parametric-working-memory, delayed-match-to-sample, delayed-match-to-category, go-no-go or ready-set-go.</param>
    /// <param name="seed">Seed of the weights, data and noise.</param>
    /// <param name="sequenceLength">Steps per trial; null: the preset's.</param>
    /// <param name="epochs">Number of epochs; null: the preset's.</param>
    /// <param name="progress">Told after every optimiser step, on the training thread.</param>
    /// <param name="cancellationToken">Stops training when cancelled.</param>
    /// <returns>The result; dispose it.</returns>
    /// <exception cref="ArgumentException">Unknown task or bad length.</exception>
    public static TrainingResult TrainPreset(
        string task,
        int seed = 0,
        int? sequenceLength = null,
        int? epochs = null,
        IProgress<TrainingProgressInfo>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var p = Preset(task, seed, sequenceLength);
        var f = p.Fit;
        var fit = new Core.FitConfig(
            f.BatchSize, epochs ?? f.Epochs, f.LearningRate, f.Amsgrad, f.WeightDecay, f.Schedule, f.Clipping,
            f.StopLoss, f.KeepBest, f.Regularization, f.RecurrentNoise, f.InputNoise,
            f.TrainInitialState, f.Validation, f.Seed, f.FusedBackward);
        var hooks = new Core.FitHooks(ProgressOf(progress), cancellationToken, FSharpOption<FSharpFunc<Core.Network, Unit>>.None, FSharpOption<int>.None, true);
        var preset = new Core.Preset(p.Task, p.Kind, p.Network, fit, p.TrialsPerEpoch, p.ValidationTrials);
        return new TrainingResult(Interop.Call(() => Core.Presets.trainWith(hooks, preset)));
    }

    /// <summary>The task a preset trains on (to draw test trials for a preset-trained network).</summary>
    /// <param name="task">flipflop, integrator, sine, perceptual-decision, context-decision, parametric-working-memory, delayed-match-to-sample, delayed-match-to-category, go-no-go or ready-set-go.</param>
    /// <param name="sequenceLength">Steps per trial; null: the preset's.</param>
    /// <returns>The task.</returns>
    public static RnnTask PresetTask(string task, int? sequenceLength = null) =>
        new(Preset(task, 0, sequenceLength).Task);
}
