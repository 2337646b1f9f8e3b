using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>Where a region sits among a multi-region network's units.</summary>
/// <param name="Name">The region's name.</param>
/// <param name="Start">Index of its first unit.</param>
/// <param name="Units">Number of its units (they are Start .. Start + Units - 1).</param>
public sealed record RegionSpan(string Name, int Start, int Units);

/// <summary>
/// A multi-region wiring diagram, built fluently (pyrnn's MultiRegionConnectivity):
/// <code>
/// var wiring = new MultiRegionBuilder()
///     .AddRegion("A", 20, daleRatio: 0.8)
///     .AddRegion("B", 10)
///     .AddProjection("A", "B", 0.3, fromCells: CellType.Excitatory)
///     .AddInput("A")
///     .AddOutput("B")
///     .WithSeed(1);
/// using var net = RnnNetwork.FromMultiRegion(wiring);
/// </code>
/// Within a region every connection exists (autapses aside); between regions only the drawn projections.
/// Without <see cref="AddInput"/> there is one input reaching every unit; without <see cref="AddOutput"/>
/// one output reading every unit.
/// </summary>
public sealed class MultiRegionBuilder
{
    private readonly List<Core.Region> _regions = new();
    private readonly List<Core.Projection> _projections = new();
    private readonly List<string[]> _inputs = new();
    private readonly List<string[]> _outputs = new();

    /// <summary>Seed of the random projections (0 unless set with <see cref="WithSeed"/>).</summary>
    public int Seed { get; private set; }

    /// <summary>Adds a region.</summary>
    /// <param name="name">Its name (distinct).</param>
    /// <param name="units">Its number of units (&gt; 0).</param>
    /// <param name="autapses">False: no unit of the region projects onto itself.</param>
    /// <param name="daleRatio">The region's first floor(units * ratio) units are excitatory, the rest inhibitory; null: signs are free.</param>
    /// <returns>This builder.</returns>
    public MultiRegionBuilder AddRegion(string name, int units, bool autapses = true, double? daleRatio = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        _regions.Add(new Core.Region(name, units, autapses, Interop.OfNullable(daleRatio)));
        return this;
    }

    /// <summary>Adds random connections from one region to another: each possible connection exists with a probability.</summary>
    /// <param name="from">The source region.</param>
    /// <param name="to">The target region.</param>
    /// <param name="probability">Probability in [0, 1] of each connection.</param>
    /// <param name="fromCells">Which units of the source project (Excitatory/Inhibitory need a Dale ratio).</param>
    /// <param name="toCells">Which units of the target receive (Excitatory/Inhibitory need a Dale ratio).</param>
    /// <returns>This builder.</returns>
    public MultiRegionBuilder AddProjection(string from, string to, double probability, CellType fromCells = CellType.All, CellType toCells = CellType.All)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        _projections.Add(new Core.Projection(from, to, probability, fromCells.ToCore(), toCells.ToCore()));
        return this;
    }

    /// <summary>Adds an input channel reaching the given regions (none: every unit).</summary>
    /// <param name="regions">The regions the channel reaches.</param>
    /// <returns>This builder.</returns>
    public MultiRegionBuilder AddInput(params string[] regions)
    {
        ArgumentNullException.ThrowIfNull(regions);
        _inputs.Add((string[])regions.Clone());
        return this;
    }

    /// <summary>Adds an output channel reading the given regions (none: every unit).</summary>
    /// <param name="regions">The regions the channel reads.</param>
    /// <returns>This builder.</returns>
    public MultiRegionBuilder AddOutput(params string[] regions)
    {
        ArgumentNullException.ThrowIfNull(regions);
        _outputs.Add((string[])regions.Clone());
        return this;
    }

    /// <summary>Sets the seed of the random projections.</summary>
    /// <param name="seed">The seed.</param>
    /// <returns>This builder.</returns>
    public MultiRegionBuilder WithSeed(int seed)
    {
        Seed = seed;
        return this;
    }

    /// <summary>Builds the wiring: sizes, masks and unit signs.</summary>
    /// <returns>The connectivity, from which <see cref="MultiRegionConnectivity.CreateNetwork"/> makes networks.</returns>
    /// <exception cref="ArgumentException">A region or projection is invalid; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public MultiRegionConnectivity Build()
    {
        var config = new Core.MultiRegionConfig(
            Interop.List(_regions),
            Interop.List(_projections),
            Interop.List(_inputs.Select(r => Interop.List(r))),
            Interop.List(_outputs.Select(r => Interop.List(r))),
            Seed);
        return new MultiRegionConnectivity(Interop.Call(() => Core.MultiRegion.build(config)));
    }
}

/// <summary>A built multi-region wiring: the network's sizes and the masks that express it.</summary>
public sealed class MultiRegionConnectivity
{
    private readonly Core.Connectivity _inner;

    internal MultiRegionConnectivity(Core.Connectivity inner) => _inner = inner;

    /// <summary>Number of input channels.</summary>
    public int InputSize => _inner.InputSize;

    /// <summary>Number of units (all regions).</summary>
    public int Units => _inner.Units;

    /// <summary>Number of output channels.</summary>
    public int OutputSize => _inner.OutputSize;

    /// <summary>Where each region sits among the units, in the order they were added.</summary>
    public IReadOnlyList<RegionSpan> Regions =>
        Interop.ReadOnly(_inner.Regions.Select(r => new RegionSpan(r.Name, r.Start, r.Units)));

    /// <summary>[units, inputs]: 1 where an input reaches a unit.</summary>
    public double[,] InputMask => Interop.Matrix(_inner.Constraints.InputMask.Value, InputSize);

    /// <summary>[units, units]: 1 where unit j may project onto unit i (entry [i, j]).</summary>
    public double[,] RecurrentMask => Interop.Matrix(_inner.Constraints.RecurrentMask.Value, Units);

    /// <summary>[outputs, units]: 1 where an output reads a unit.</summary>
    public double[,] OutputMask => Interop.Matrix(_inner.Constraints.OutputMask.Value, Units);

    /// <summary>[units]: the sign of each unit's outgoing weights (+1 excitatory, -1 inhibitory, 0 free); null when no region has a Dale ratio.</summary>
    public IReadOnlyList<int>? UnitSigns =>
        Interop.ToObj(_inner.Constraints.UnitSigns) is { } s ? Interop.ReadOnly((int[])s.Clone()) : null;

    /// <summary>Creates a network with this wiring.</summary>
    /// <param name="kind">Discrete or continuous-time.</param>
    /// <param name="seed">Seed of the initial weights.</param>
    /// <param name="inputBias">Add an input bias b_in.</param>
    /// <param name="outputBias">Add an output bias b_out.</param>
    /// <param name="trainable">Trainable flags that differ from the defaults, by parameter name.</param>
    /// <param name="dt">Time step of a continuous-time network.</param>
    /// <param name="tau">Time constant of a continuous-time network.</param>
    /// <param name="readout">What a continuous-time network reads out.</param>
    /// <param name="float64">Compute in float64 instead of float32.</param>
    /// <returns>The new network; dispose it.</returns>
    public RnnNetwork CreateNetwork(
        NetworkKind kind = NetworkKind.Rnn,
        long seed = 0,
        bool inputBias = false,
        bool outputBias = false,
        IReadOnlyDictionary<string, bool>? trainable = null,
        double dt = 5.0,
        double tau = 100.0,
        CtrnnReadout readout = CtrnnReadout.State,
        bool float64 = false)
    {
        var k = RnnNetwork.KindOf(kind, dt, tau, readout);
        var config = RnnNetwork.ConfigOf(InputSize, Units, OutputSize, inputBias, outputBias, _inner.Constraints, trainable, float64, seed);
        return new RnnNetwork(Interop.Call(() => Core.NetworkModule.create(k, config)));
    }
}
