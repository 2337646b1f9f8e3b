using Microsoft.FSharp.Core;
using QuikGraph;
using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>A fixed point as a vertex of the topology graph.</summary>
/// <param name="Id">The fixed point's id.</param>
/// <param name="UnstableModes">The fixed point's number of unstable modes.</param>
/// <param name="Kind">The fixed point's kind.</param>
/// <param name="NoiseRuns">Noise runs started from the point.</param>
/// <param name="UnstableRuns">Unstable-mode runs started from the point (2 x UnstableModes).</param>
/// <param name="UnreachedNoiseRuns">Of the noise runs, those that reached no fixed point within MaxSteps.</param>
/// <param name="UnreachedUnstableRuns">Of the unstable-mode runs, those that reached no fixed point within MaxSteps.</param>
public sealed record TopologyVertex(
    int Id, int UnstableModes, FixedPointType Kind, int NoiseRuns, int UnstableRuns, int UnreachedNoiseRuns, int UnreachedUnstableRuns);

/// <summary>Runs from one fixed point that ended at another (or at itself), for one run method.</summary>
/// <param name="From">Id of the fixed point the runs started from.</param>
/// <param name="To">Id of the fixed point they arrived at (= From for a self-loop).</param>
/// <param name="Method">Which kind of runs this edge counts.</param>
/// <param name="Count">Number of such runs (&gt;= 1).</param>
/// <param name="Probability">Count / the number of runs of this method from From.</param>
public sealed record TopologyEdge(int From, int To, RunMethod Method, int Count, double Probability);

/// <summary>Settings of <see cref="TopologyGraph.Build"/>; every property defaults to the core's <c>TopologyConfig.defaults</c>.</summary>
public sealed class TopologyOptions
{
    private static readonly Core.TopologyConfig D = Core.TopologyConfig.defaults;

    /// <summary>Noise runs per fixed point (default 64).</summary>
    public int RunsPerPoint { get; init; } = D.RunsPerPoint;

    /// <summary>Standard deviation of the isotropic Gaussian added to a fixed point's state for a noise run (default 0.1).</summary>
    public double Noise { get; init; } = D.Noise;

    /// <summary>Step along each unstable eigen-direction (both signs) for an unstable-mode run (default 0.01).</summary>
    public double UnstableStep { get; init; } = D.UnstableStep;

    /// <summary>A run arrives at a fixed point within this Euclidean distance of it (default 0.15, pyrnn's dist_th).</summary>
    public double ArrivalDistance { get; init; } = D.ArrivalDistance;

    /// <summary>A run that has arrived nowhere after this many steps ends there (default 1000).</summary>
    public int MaxSteps { get; init; } = D.MaxSteps;

    /// <summary>Seed of the noise (default 0).</summary>
    public int Seed { get; init; } = D.Seed;

    /// <summary>Step the runs in float64 (default true) or float32.</summary>
    public bool Float64 { get; init; } = D.Precision.IsFloat64;

    internal Core.TopologyConfig ToCore() =>
        new(RunsPerPoint, Noise, UnstableStep, ArrivalDistance, MaxSteps, Seed, Interop.Precision(Float64));

    internal static TopologyOptions FromCore(Core.TopologyConfig c) => new()
    {
        RunsPerPoint = c.RunsPerPoint,
        Noise = c.Noise,
        UnstableStep = c.UnstableStep,
        ArrivalDistance = c.ArrivalDistance,
        MaxSteps = c.MaxSteps,
        Seed = c.Seed,
        Float64 = c.Precision.IsFloat64,
    };
}

/// <summary>
/// The fixed-point topology: which fixed points the flow leads to from each fixed point (noise runs and
/// unstable-mode runs, counted separately). Plain data: safe to keep, compare and save.
/// </summary>
public sealed class TopologyGraph
{
    private readonly Core.Topology _inner;

    internal Core.Topology Inner => _inner;

    private TopologyGraph(Core.Topology inner)
    {
        _inner = inner;
        Options = TopologyOptions.FromCore(inner.Config);
        Vertices = Interop.ReadOnly(inner.Vertices.Select(v => new TopologyVertex(
            v.Id, v.UnstableModes, EnumConversions.FromCore(v.Kind), v.Runs.Noise, v.Runs.Unstable, v.Unreached.Noise, v.Unreached.Unstable)));
        Edges = Interop.ReadOnly(inner.Edges.Select(EdgeOf));
    }

    private static TopologyEdge EdgeOf(Core.TopologyEdge e) =>
        new(e.From, e.To, EnumConversions.FromCore(e.Method), e.Count, e.Probability);

    /// <summary>
    /// Builds the topology graph of fixed points of a network under a constant input. From each point:
    /// RunsPerPoint noise runs, and two runs along each unstable eigen-direction; a run ends at the first
    /// fixed point it comes within ArrivalDistance of (its own start only once it has left it).
    /// The network is unchanged.
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="fixedPoints">The points (with eigenvectors: from a search, or from <see cref="FixedPointFinder.Analyse"/>).</param>
    /// <param name="input">The constant input [inputs] the runs are stepped under; null: zeros.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <returns>The graph.</returns>
    /// <exception cref="ArgumentException">No points, repeated ids, a bad size or setting, or an unstable point without eigenvectors.</exception>
    public static TopologyGraph Build(
        RnnNetwork network,
        IReadOnlyList<FixedPointInfo> fixedPoints,
        double[]? input = null,
        TopologyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(fixedPoints);
        var net = network.Inner;
        var u = input is null ? new double[net.Sizes.Inputs] : (double[])input.Clone();
        var points = fixedPoints.Select(p => p.Inner).ToArray();
        var config = (options ?? new TopologyOptions()).ToCore();
        return new TopologyGraph(Interop.Call(() => Core.TopologyModule.build(config, net, u, points)));
    }

    /// <summary>
    /// Builds the topology with every fixed point's runs stepped under the point's own input (points
    /// found under several constant inputs): one group per input, built as <see cref="Build"/> does;
    /// no edge links two inputs.
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="fixedPoints">The points (with eigenvectors).</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <returns>The graph.</returns>
    /// <exception cref="ArgumentException">As for <see cref="Build"/>, or a point's input of the wrong size.</exception>
    public static TopologyGraph BuildUnderOwnInputs(RnnNetwork network, IReadOnlyList<FixedPointInfo> fixedPoints, TopologyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(fixedPoints);
        var net = network.Inner;
        var points = fixedPoints.Select(p => p.Inner).ToArray();
        var config = (options ?? new TopologyOptions()).ToCore();
        return new TopologyGraph(Interop.Call(() => Core.TopologyModule.buildUnderOwnInputs(config, net, points)));
    }

    /// <summary>Reads a topology file (format <c>rnnfun.topology</c>).</summary>
    /// <param name="path">The file.</param>
    /// <returns>The graph.</returns>
    /// <exception cref="RnnFileFormatException">The file is missing or malformed.</exception>
    public static TopologyGraph Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new TopologyGraph(Interop.Call(() => Core.TopologyFile.load(path)));
    }

    /// <summary>Writes the graph to a file (format <c>rnnfun.topology</c>), atomically.</summary>
    /// <param name="path">Where to write.</param>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Interop.Call(() => Core.TopologyFile.save(path, _inner));
    }

    /// <summary>The settings it was built with.</summary>
    public TopologyOptions Options { get; }

    /// <summary>The constant input [inputs] the runs were stepped under (a copy).</summary>
    public double[] Input => (double[])_inner.Input.Clone();

    /// <summary>One vertex per fixed point, in the order the points were given.</summary>
    public IReadOnlyList<TopologyVertex> Vertices { get; }

    /// <summary>Edges ordered by From (vertex order), Method (noise first), To (vertex order).</summary>
    public IReadOnlyList<TopologyEdge> Edges { get; }

    /// <summary>Runs of all points and methods that reached no fixed point within MaxSteps.</summary>
    public int Unreached => _inner.Unreached;

    /// <summary>The graph as GraphViz DOT (<c>dot -Tsvg</c>): vertices coloured by unstable modes, noise edges dashed.</summary>
    /// <returns>The DOT text.</returns>
    public string ToDot() => Core.TopologyModule.toDot(_inner);

    /// <summary>
    /// The graph as a QuikGraph graph: vertices are the fixed points' ids, each edge is tagged with its
    /// <see cref="TopologyEdge"/> (parallel edges and self-loops allowed).
    /// </summary>
    /// <returns>A new graph.</returns>
    public BidirectionalGraph<int, TaggedEdge<int, TopologyEdge>> ToQuikGraph() =>
        Core.TopologyModule.toGraphWith(FuncConvert.FromFunc<Core.TopologyEdge, TopologyEdge>(EdgeOf), _inner);

    /// <summary>pyrnn's colour of a vertex by its unstable modes: 0 seagreen, 1 salmon, 2 skyblue, 3 or more magenta.</summary>
    /// <param name="unstableModes">The number of unstable modes.</param>
    /// <returns>A colour name.</returns>
    public static string Colour(int unstableModes) => Core.TopologyModule.colour(unstableModes);
}
