using Microsoft.FSharp.Core;
using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>
/// Trains K networks of one kind and size as one batched program (<c>Population.fit</c>): the
/// weights stacked, one batched product per step for all of them, each network with its own
/// options (seed, learning rate, noise, clipping, regularisation, stops, best checkpoint). A network
/// that stops or diverges is frozen and does not spoil the others. Each result equals what
/// <see cref="Trainer.Fit(RnnNetwork, TaskBatch, TrainingOptions?, IProgress{TrainingProgressInfo}?, CancellationToken)"/>
/// gives for that network alone, up to rounding.
/// </summary>
public static class PopulationTrainer
{
    /// <summary>Whether networks of this kind can be trained together (rnn, ctrnn, gru, lstm, ugrnn).</summary>
    /// <param name="network">A network of the kind.</param>
    public static bool Supports(RnnNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        return Core.Population.supports(network.Inner.Kind);
    }

    private static IReadOnlyList<TrainingResult> Run(
        IReadOnlyList<RnnNetwork> networks, IReadOnlyList<TrainingOptions>? options, Core.TrainingData data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(networks);
        var opts = options ?? networks.Select(_ => new TrainingOptions()).ToArray();
        if (opts.Count != networks.Count)
            throw new ArgumentException($"expected one TrainingOptions per network ({networks.Count}), got {opts.Count}", nameof(options));
        var members = networks.Select((n, i) =>
        {
            ArgumentNullException.ThrowIfNull(n, nameof(networks));
            return new Core.PopulationMember(n.Inner, opts[i].ToCore());
        }).ToArray();
        var savePaths = opts.Select(o => o.SaveAtMinLoss).ToArray();
        var onBest = savePaths.All(p => p is null)
            ? FSharpOption<FSharpFunc<int, FSharpFunc<Core.Network, Unit>>>.None
            : Interop.Some(FuncConvert.FromAction<int, Core.Network>((i, net) =>
            {
                if (savePaths[i] is { } path) Core.ModelFile.saveBest(path, net);
            }));
        var hooks = new Core.PopulationHooks(
            FSharpOption<FSharpFunc<Core.PopulationProgress, Unit>>.None, cancellationToken, onBest,
            opts.Count > 0 ? Interop.OfNullable(opts[0].Threads) : FSharpOption<int>.None);
        var results = Interop.Call(() => Core.Population.fitWith(hooks, Interop.List(members), data), ("members", nameof(networks)));
        return results.Select(r => new TrainingResult(r)).ToArray();
    }

    /// <summary>Trains the networks on a fixed set of trials; one result per network, in order.</summary>
    /// <param name="networks">Networks of one kind and size (and trainable flags); unchanged.</param>
    /// <param name="data">The trials all of them train on.</param>
    /// <param name="options">One per network (the batch size and TrainInitialState must agree; the first one's Threads is used); null: the defaults for all.</param>
    /// <param name="cancellationToken">Stops every network after the current step.</param>
    /// <returns>The results; dispose each.</returns>
    /// <exception cref="ArgumentException">The networks cannot be trained together, or an option does not fit (before the first step).</exception>
    public static IReadOnlyList<TrainingResult> Fit(
        IReadOnlyList<RnnNetwork> networks, TaskBatch data, IReadOnlyList<TrainingOptions>? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Run(networks, options, Core.TrainingData.NewDataset(data.ToCore()), cancellationToken);
    }

    /// <summary>Trains the networks on fresh trials of a task every epoch; one result per network, in order.</summary>
    /// <param name="networks">Networks of one kind and size (and trainable flags); unchanged.</param>
    /// <param name="task">The task that draws the trials (each network's Seed draws its own).</param>
    /// <param name="trialsPerEpoch">Trials per epoch (split into batches).</param>
    /// <param name="options">One per network; null: the defaults for all.</param>
    /// <param name="cancellationToken">Stops every network after the current step.</param>
    /// <returns>The results; dispose each.</returns>
    public static IReadOnlyList<TrainingResult> Fit(
        IReadOnlyList<RnnNetwork> networks, RnnTask task, int trialsPerEpoch, IReadOnlyList<TrainingOptions>? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        return Run(networks, options, Core.TrainingData.NewFresh(task.Inner, trialsPerEpoch), cancellationToken);
    }
}
