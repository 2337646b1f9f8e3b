namespace RnnFun.CSharp;

/// <summary>Fluent shortcuts for chaining: <c>net.Train(batch).Network.FindFixedPoints(states).ToTopology(net)</c>.</summary>
public static class RnnFunExtensions
{
    /// <summary>Trains the network on a fixed batch; see <see cref="Trainer.Fit(RnnNetwork, TaskBatch, TrainingOptions?, IProgress{TrainingProgressInfo}?, CancellationToken)"/>.</summary>
    /// <param name="network">The network to start from (unchanged).</param>
    /// <param name="data">The trials.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <param name="progress">Told after every optimiser step.</param>
    /// <param name="cancellationToken">Stops training when cancelled.</param>
    /// <returns>The result; dispose it.</returns>
    public static TrainingResult Train(this RnnNetwork network, TaskBatch data, TrainingOptions? options = null,
        IProgress<TrainingProgressInfo>? progress = null, CancellationToken cancellationToken = default) =>
        Trainer.Fit(network, data, options, progress, cancellationToken);

    /// <summary>Finds the network's fixed points; see <see cref="FixedPointFinder.Find(RnnNetwork, double[,], double[], FixedPointOptions, IProgress{FixedPointProgressInfo})"/>.</summary>
    /// <param name="network">The network.</param>
    /// <param name="initialStates">[states, units] to start from.</param>
    /// <param name="input">The constant input [inputs]; null: zeros.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <returns>The fixed points and the accounting.</returns>
    public static FixedPointSearch FindFixedPoints(this RnnNetwork network, double[,] initialStates, double[]? input = null,
        FixedPointOptions? options = null) =>
        FixedPointFinder.Find(network, initialStates, input, options);

    /// <summary>Builds the topology of a search's fixed points; see <see cref="TopologyGraph.Build"/>.</summary>
    /// <param name="search">The search's result.</param>
    /// <param name="network">The network the points are of.</param>
    /// <param name="input">The constant input [inputs]; null: zeros.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <returns>The graph.</returns>
    public static TopologyGraph ToTopology(this FixedPointSearch search, RnnNetwork network, double[]? input = null,
        TopologyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(search);
        return TopologyGraph.Build(network, search.FixedPoints, input, options);
    }
}
