using Microsoft.FSharp.Core;
using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>Settings of the dynamical distance; every property defaults to the core's <c>DynamicsConfig.defaults</c>.</summary>
public sealed class DynamicsOptions
{
    private static readonly Core.DynamicsConfig D = Core.DynamicsConfig.defaults;

    /// <summary>Delays in the embedding (default 5; 1: the states themselves).</summary>
    public int Delays { get; init; } = D.Delays;

    /// <summary>Components kept of the delay-embedded states: the operators' size (default 10).</summary>
    public int Rank { get; init; } = D.Rank;

    /// <summary>Projected gradient iterations over the orthogonal group per start (default 300).</summary>
    public int Iterations { get; init; } = D.Iterations;

    /// <summary>Random starts on top of the deterministic ones (default 2).</summary>
    public int RandomStarts { get; init; } = D.RandomStarts;

    /// <summary>Seed of the random starts (default 0).</summary>
    public int Seed { get; init; } = D.Seed;

    internal Core.DynamicsConfig ToCore() => new(Delays, Rank, Iterations, RandomStarts, Seed);
}

/// <summary>Distance matrices between networks, one per metric, with a two-dimensional MDS embedding of each.</summary>
public sealed class NetworkComparison
{
    private readonly Core.Comparison _inner;

    internal NetworkComparison(Core.Comparison inner) => _inner = inner;

    /// <summary>The networks' names, in matrix order.</summary>
    public IReadOnlyList<string> Names => Interop.ReadOnly(_inner.Names);

    /// <summary>SVCCA distance: 1 - mean canonical correlation after the SVD to 99 % of the variance [K, K].</summary>
    public double[,] Svcca => Interop.Matrix(_inner.Svcca);

    /// <summary>Angular Procrustes shape distance (Williams et al. 2021), radians [K, K].</summary>
    public double[,] Procrustes => Interop.Matrix(_inner.Procrustes);

    /// <summary>Angular distance between fitted linear operators up to an orthogonal change of basis, radians [K, K].</summary>
    public double[,] Dynamics => Interop.Matrix(_inner.Dynamics);

    /// <summary>Topology graph distances [K, K]; [0, 0] when no topologies were compared.</summary>
    public double[,] Topology => Interop.Matrix(_inner.Topology);

    /// <summary>Whether each pair's topology graphs are isomorphic [K, K]; [0, 0] when no topologies were compared.</summary>
    public bool[,] Isomorphic
    {
        get
        {
            var rows = _inner.Isomorphic;
            var m = new bool[rows.Length, rows.Length];
            for (int i = 0; i < rows.Length; i++)
                for (int j = 0; j < rows.Length; j++) m[i, j] = rows[i][j];
            return m;
        }
    }

    /// <summary>Classical MDS coordinates [K, 2] of one metric's matrix: "svcca", "procrustes", "dynamics" or "topology".</summary>
    /// <param name="metric">The metric's name.</param>
    /// <returns>The coordinates.</returns>
    /// <exception cref="ArgumentException">No such metric in this comparison.</exception>
    public double[,] Embedding(string metric)
    {
        ArgumentNullException.ThrowIfNull(metric);
        var found = _inner.Embeddings.TryFind(metric);
        if (FSharpOption<double[][]>.get_IsNone(found))
            throw new ArgumentException($"no embedding '{metric}'; this comparison has: {string.Join(", ", _inner.Embeddings.Keys)}", nameof(metric));
        return Interop.Matrix(found.Value, 2);
    }

    /// <summary>Writes the comparison to a file (format <c>rnnfun.comparison</c>), atomically.</summary>
    /// <param name="path">Where to write.</param>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Interop.Call(() => Core.ComparisonFile.save(path, _inner));
    }

    /// <summary>Reads a comparison file (format <c>rnnfun.comparison</c>).</summary>
    /// <param name="path">The file.</param>
    /// <returns>The comparison.</returns>
    /// <exception cref="RnnFileFormatException">The file is missing or malformed.</exception>
    public static NetworkComparison Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new NetworkComparison(Interop.Call(() => Core.ComparisonFile.load(path)));
    }
}

/// <summary>
/// Geometry, dynamics and topology distances between networks from their states on the same trials.
/// Networks may differ in size and kind; states are plain arrays.
/// </summary>
public static class Similarity
{
    /// <summary>SVCCA distance between two sets of states on the same samples: 1 - the mean canonical correlation after each is reduced by SVD to <paramref name="variance"/> of its variance.</summary>
    /// <param name="x">States [samples, units x].</param>
    /// <param name="y">States [samples, units y] on the same samples.</param>
    /// <param name="variance">Share of the variance kept (default 0.99).</param>
    /// <returns>The distance in [0, 1].</returns>
    /// <exception cref="ArgumentException">Different sample counts, non-finite values, or states that do not vary.</exception>
    public static double SvccaDistance(double[,] x, double[,] y, double variance = 0.99) =>
        Interop.Call(() => Core.Similarity.svccaDistanceWith(variance, Interop.Rows(x, nameof(x)), Interop.Rows(y, nameof(y))));

    /// <summary>The angular Procrustes shape distance (Williams et al. 2021) on centred states, radians.</summary>
    /// <param name="x">States [samples, units x].</param>
    /// <param name="y">States [samples, units y] on the same samples.</param>
    /// <returns>The distance in [0, pi/2].</returns>
    /// <exception cref="ArgumentException">Different sample counts, non-finite values, or states that do not vary.</exception>
    public static double ProcrustesDistance(double[,] x, double[,] y) =>
        Interop.Call(() => Core.Similarity.procrustesDistance(Interop.Rows(x, nameof(x)), Interop.Rows(y, nameof(y))));

    /// <summary>The angular distance between two square operators up to an orthogonal change of basis, radians.</summary>
    /// <param name="a">An operator [n, n].</param>
    /// <param name="b">An operator [n, n].</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <returns>The distance (0 between A and Q A Q').</returns>
    public static double OperatorDistance(double[,] a, double[,] b, DynamicsOptions? options = null) =>
        Interop.Call(() => Core.Similarity.operatorDistance((options ?? new DynamicsOptions()).ToCore(), Interop.Rows(a, nameof(a)), Interop.Rows(b, nameof(b))));

    /// <summary>
    /// Compares networks on the same inputs: each runs from zeros over <paramref name="inputs"/>, and every
    /// metric is computed between every pair. With <paramref name="topologies"/>, their graphs are compared too.
    /// </summary>
    /// <param name="networks">Two or more networks with the same number of inputs.</param>
    /// <param name="names">One name per network.</param>
    /// <param name="inputs">Inputs [trials, time, inputs].</param>
    /// <param name="topologies">One topology per network, or null.</param>
    /// <param name="options">Settings of the dynamical distance; null: the defaults.</param>
    /// <returns>The comparison.</returns>
    /// <exception cref="ArgumentException">Fewer than two networks, mismatched sizes or counts.</exception>
    public static NetworkComparison Compare(
        IReadOnlyList<RnnNetwork> networks,
        IReadOnlyList<string> names,
        float[,,] inputs,
        IReadOnlyList<TopologyGraph>? topologies = null,
        DynamicsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(networks);
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(inputs);
        int trials = inputs.GetLength(0), time = inputs.GetLength(1), width = inputs.GetLength(2);
        var x = new double[trials][][];
        for (int i = 0; i < trials; i++)
        {
            x[i] = new double[time][];
            for (int t = 0; t < time; t++)
            {
                x[i][t] = new double[width];
                for (int j = 0; j < width; j++) x[i][t][j] = inputs[i, t, j];
            }
        }
        var config = (options ?? new DynamicsOptions()).ToCore();
        var topo = topologies is null
            ? FSharpOption<Core.Topology[]>.None
            : FSharpOption<Core.Topology[]>.Some(topologies.Select(t => t.Inner).ToArray());
        return Interop.Call(() =>
        {
            var trajectories = networks.Select(n => Core.Similarity.trajectoriesOf(n.Inner, x)).ToArray();
            return new NetworkComparison(Core.Similarity.compare(config, names.ToArray(), trajectories, topo));
        });
    }
}
