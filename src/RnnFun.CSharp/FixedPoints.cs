using System.Numerics;
using Microsoft.FSharp.Core;
using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>A fixed (or slow) point with its linearisation.</summary>
public sealed class FixedPointInfo
{
    internal FixedPointInfo(Core.FixedPoint p)
    {
        Inner = p;
        Eigenvalues = Interop.ReadOnly((Complex[])p.Eigenvalues.Clone());
        Eigenvectors = Interop.ToObj(p.Linearisation) is { } l
            ? Interop.ReadOnly(l.Eigenvectors.Select(v => Interop.ReadOnly((Complex[])v.Clone())))
            : null;
        ContinuousEigenvalues = Interop.ToObj(p.ContinuousEigenvalues) is { } c ? Interop.ReadOnly((Complex[])c.Clone()) : null;
        LeftEigenvectors = Interop.ToObj(p.Linearisation) is { } left && left.LeftEigenvectors.Length > 0
            ? Interop.ReadOnly(left.LeftEigenvectors.Select(v => Interop.ReadOnly((Complex[])v.Clone())))
            : null;
    }

    /// <summary>Left eigenvectors, one per eigenvalue (same order), each [state], with l_i' r_j = 1 for i = j and 0 otherwise (no conjugate); null without a linearisation.</summary>
    public IReadOnlyList<IReadOnlyList<Complex>>? LeftEigenvectors { get; }

    /// <summary>[state, inputs], B[i, j] = dF_i/du_j at the point (the input matrix of the linearisation); null without a linearisation.</summary>
    public double[,]? InputJacobian => Interop.ToObj(Inner.Linearisation) is { } l && l.InputJacobian.Length > 0 ? Interop.Matrix(l.InputJacobian, Inner.Input.Length) : null;

    internal Core.FixedPoint Inner { get; }

    /// <summary>Its id: 0, 1, ... in the order of the search's result (fewest unstable modes first, then lowest q).</summary>
    public int Id => Inner.Id;

    /// <summary>The state [units] (a copy).</summary>
    public double[] State => (double[])Inner.State.Clone();

    /// <summary>The constant input [inputs] it is a fixed point under (a copy).</summary>
    public double[] Input => (double[])Inner.Input.Clone();

    /// <summary>q = 0.5 ||F(x, u) - x||^2.</summary>
    public double Q => Inner.Q;

    /// <summary>||F(x, u) - x||.</summary>
    public double Speed => Inner.Speed;

    /// <summary>Optimiser iterations it took; null when read from a file.</summary>
    public int? Iterations => Interop.ToObj(Inner.Search)?.Iterations;

    /// <summary>q below the tolerance (false for slow points); null when read from a file.</summary>
    public bool? Converged => Interop.ToObj(Inner.Search)?.Converged;

    /// <summary>True when deflation found it (no initial state was carried to it); null when read from a file.</summary>
    public bool? Deflated => Interop.ToObj(Inner.Search)?.Deflated;

    /// <summary>True when the point carries its Jacobian and eigenvectors (false when read from a file; see <see cref="FixedPointFinder.Analyse"/>).</summary>
    public bool HasLinearisation => Inner.Linearisation is not null;

    /// <summary>[state, state], J[i, j] = dF_i/dh_j; null when read from a file (see <see cref="FixedPointFinder.Analyse"/>).</summary>
    public double[,]? Jacobian => Interop.ToObj(Inner.Linearisation) is { } l ? Interop.Matrix(l.Jacobian) : null;

    /// <summary>The Jacobian's eigenvalues, sorted by modulus, descending.</summary>
    public IReadOnlyList<Complex> Eigenvalues { get; }

    /// <summary>Right eigenvectors, one per eigenvalue (same order), each [state]; null when read from a file.</summary>
    public IReadOnlyList<IReadOnlyList<Complex>>? Eigenvectors { get; }

    /// <summary>Number of eigenvalues with |lambda| &gt; 1 + tolerance.</summary>
    public int UnstableModes => Inner.UnstableModes;

    /// <summary>True exactly for an attractor.</summary>
    public bool IsStable => Inner.Stable;

    /// <summary>Attractor, saddle, repeller or marginal.</summary>
    public FixedPointType Kind => EnumConversions.FromCore(Inner.Kind);

    /// <summary>For a continuous-time network: (lambda - 1) / alpha, the eigenvalues of the vector field; otherwise null.</summary>
    public IReadOnlyList<Complex>? ContinuousEigenvalues { get; }

    /// <inheritdoc/>
    public override string ToString() => $"FixedPoint {Id}: {Kind}, {UnstableModes} unstable mode(s), q = {Q:g3}";
}

/// <summary>Progress of a fixed-point search.</summary>
/// <param name="Phase">"adam", "newton", "chord" or "deflation".</param>
/// <param name="Iteration">Iteration within the phase.</param>
/// <param name="MaxIterations">Most iterations of the phase.</param>
/// <param name="WorstQ">Largest q among the states the phase is working on.</param>
/// <param name="Converged">States below the tolerance among them.</param>
/// <param name="States">The states the phase is working on.</param>
public sealed record FixedPointProgressInfo(string Phase, int Iteration, int MaxIterations, double WorstQ, int Converged, int States);

/// <summary>Settings of the fixed-point search; every property defaults to the core's <c>FixedPointConfig.defaults</c>.</summary>
public sealed class FixedPointOptions
{
    private static readonly Core.FixedPointConfig D = Core.FixedPointConfig.defaults;

    /// <summary>Converged when q &lt; this (default 1e-20).</summary>
    public double TolQ { get; init; } = D.TolQ;

    /// <summary>Two points are one when ||[x1, u1] - [x2, u2]|| &lt;= this; the lower q is kept (default 1e-3).</summary>
    public double TolUnique { get; init; } = D.TolUnique;

    /// <summary>Phase 1: at most this many Adam iterations (default 200).</summary>
    public int MaxAdamIterations { get; init; } = D.MaxAdamIterations;

    /// <summary>Phase 1: a state leaves Adam as soon as its q is below this (default 1e-6).</summary>
    public double AdamSwitchQ { get; init; } = D.AdamSwitchQ;

    /// <summary>Adam's initial learning rate, for the mean of q over the initial states; null (default): the kind's own (0.1 for the lstm), else FixedPointFinder's 1.0.</summary>
    public double? InitialLearningRate { get; init; } = Interop.ToNullable(D.InitialLearningRate);

    /// <summary>Adam's epsilon, for the mean of q (default 1e-8, FixedPointFinder's PyTorch default).</summary>
    public double AdamEpsilon { get; init; } = D.AdamEpsilon;

    /// <summary>How Adam's rate changes (default <see cref="FixedPointAdamRule.Plateau"/>, FixedPointFinder's PyTorch version).</summary>
    public FixedPointAdamRule AdamRule { get; init; } = D.AdamRule.IsPlateau ? FixedPointAdamRule.Plateau : FixedPointAdamRule.AdaptiveWithClipping;

    /// <summary>With <see cref="FixedPointAdamRule.Plateau"/>: the factor the rate is multiplied by on a plateau (default 0.95).</summary>
    public double PlateauFactor { get; init; } = D.AdamRule is Core.AdamRule.Plateau p ? p.factor : 0.95;

    /// <summary>With <see cref="FixedPointAdamRule.Plateau"/>: iterations without improvement tolerated before the rate drops (default 2).</summary>
    public int PlateauPatience { get; init; } = D.AdamRule is Core.AdamRule.Plateau p ? p.patience : 2;

    /// <summary>Deflation after the search, to find points no initial state reached (default true).</summary>
    public bool Deflation { get; init; } = D.Deflation is not null;

    /// <summary>Deflation rounds; a round that finds no new point ends it (default 3).</summary>
    public int DeflationRounds { get; init; } = Core.DeflationConfig.defaults.MaxRounds;

    /// <summary>Deflation starts per round, midpoints of pairs of known points (default 64).</summary>
    public int DeflationStarts { get; init; } = Core.DeflationConfig.defaults.MaxStarts;

    /// <summary>Deflation also starts at each new point plus or minus this along each axis, so that a search that found one point alone goes on from it (default 0: midpoints between points only).</summary>
    public double DeflationNeighbourhood { get; init; } = Core.DeflationConfig.defaults.Neighbourhood;

    /// <summary>Deflated Newton iterations per round (default 10).</summary>
    public int DeflationIterations { get; init; } = Core.DeflationConfig.defaults.Iterations;

    /// <summary>Phase 1 in float64 (default false: float32, about twice as fast; with float32 here and <see cref="Float64"/> true, the first Newton steps are float32 too; the rest uses <see cref="Float64"/>).</summary>
    public bool AdamFloat64 { get; init; } = D.AdamPrecision.IsFloat64;

    /// <summary>Phase 2: at most this many damped Newton iterations per state, float32 and float64 steps together (default 40).</summary>
    public int NewtonIterations { get; init; } = D.NewtonIterations;

    /// <summary>Phase 2 linearises one state per neighbourhood of this radius; the others reuse the Jacobian of the point it converged to (default 0.1; 0: every state takes its own Newton steps).</summary>
    public double SharedJacobianRadius { get; init; } = D.SharedJacobianRadius;

    /// <summary>Phase 3: at most this many chord steps with a shared Jacobian before a state takes its own Newton steps (default 8).</summary>
    public int ChordIterations { get; init; } = D.ChordIterations;

    /// <summary>Drop points farther from the initial states' centroid than this many times their mean distance to it (default 10); null: keep all.</summary>
    public double? OutlierDistanceScale { get; init; } = Interop.ToNullable(D.OutlierDistanceScale);

    /// <summary>Report points with TolQ &lt;= q &lt; SlowTolQ apart, as slow points (default false).</summary>
    public bool IncludeSlowPoints { get; init; } = D.IncludeSlowPoints;

    /// <summary>Upper q of slow points (default 1e-6).</summary>
    public double SlowTolQ { get; init; } = D.SlowTolQ;

    /// <summary>|lambda| within this of 1 is marginal (default 1e-3).</summary>
    public double EigenTolerance { get; init; } = D.EigenTolerance;

    /// <summary>Search in float64 (default true) or float32.</summary>
    public bool Float64 { get; init; } = D.Precision.IsFloat64;

    /// <summary>Interval-Newton (Krawczyk) certificates for the points found, in <see cref="FixedPointSearch.Certificates"/> (default false; rnn, ctrnn, gru, lstm and ugrnn kinds, others are "not certified").</summary>
    public bool Certify { get; init; } = D.Certify is not null;

    /// <summary>With <see cref="Certify"/>: the largest box tried, half-width in the max-norm (default 1).</summary>
    public double CertifyMaxRadius { get; init; } = Core.CertificateConfig.defaults.MaxRadius;

    /// <summary>libtorch threads during the search, and at most this many eigen-decompositions at once; null (default): 1, and the eigen-decompositions on the cores it leaves free.</summary>
    public int? Threads { get; init; } = Interop.ToNullable(D.Threads);

    internal Core.FixedPointConfig ToCore(IProgress<FixedPointProgressInfo>? progress) =>
        new(TolQ, TolUnique, MaxAdamIterations, AdamSwitchQ, Interop.OfNullable(InitialLearningRate), AdamEpsilon,
            AdamRule == FixedPointAdamRule.Plateau ? Core.AdamRule.NewPlateau(PlateauFactor, PlateauPatience) : Core.AdamRule.AdaptiveWithClipping,
            Interop.Precision(AdamFloat64),
            NewtonIterations, SharedJacobianRadius, ChordIterations,
            Interop.OfNullable(OutlierDistanceScale),
            Deflation
                ? Interop.Some(new Core.DeflationConfig(DeflationRounds, DeflationStarts, DeflationIterations, Core.DeflationConfig.defaults.Power, Core.DeflationConfig.defaults.Shift, DeflationNeighbourhood))
                : FSharpOption<Core.DeflationConfig>.None,
            Certify
                ? Interop.Some(new Core.CertificateConfig(CertifyMaxRadius, Core.CertificateConfig.defaults.RefineSteps))
                : FSharpOption<Core.CertificateConfig>.None,
            IncludeSlowPoints, SlowTolQ, EigenTolerance,
            Interop.Precision(Float64), Interop.OfNullable(Threads),
            progress is null
                ? FSharpOption<FSharpFunc<Core.FixedPointProgress, Unit>>.None
                : Interop.Some(FuncConvert.FromAction<Core.FixedPointProgress>(p =>
                    progress.Report(new FixedPointProgressInfo(p.Phase, p.Iteration, p.MaxIterations, p.WorstQ, p.Converged, p.States)))));
}

/// <summary>The outcome of a search: unique fixed points, slow points if asked, and the accounting.</summary>
public sealed class FixedPointSearch
{
    internal Core.FixedPointResult Inner { get; }

    internal FixedPointSearch(Core.FixedPointResult r)
    {
        Inner = r;
        FixedPoints = Interop.ReadOnly(r.FixedPoints.Select(p => new FixedPointInfo(p)));
        SlowPoints = Interop.ReadOnly(r.SlowPoints.Select(p => new FixedPointInfo(p)));
        InitialStateCount = r.InitialStates;
        Converged = r.Converged;
        Duplicates = r.Duplicates;
        Outliers = r.Outliers;
        NotConverged = r.NotConverged;
        Deflated = r.Deflated;
        PointOfState = Interop.ReadOnly((int[])r.PointOfState.Clone());
        Elapsed = r.Elapsed;
        Certificates = Interop.ReadOnly(r.Certificates.Select(c => new FixedPointCertificate(c)));
    }

    /// <summary>One per fixed point, in the order of <see cref="FixedPoints"/>, when <see cref="FixedPointOptions.Certify"/>; empty otherwise.</summary>
    public IReadOnlyList<FixedPointCertificate> Certificates { get; }

    /// <summary>The unique fixed points, fewest unstable modes first, then lowest q.</summary>
    public IReadOnlyList<FixedPointInfo> FixedPoints { get; }

    /// <summary>Slow points (empty unless <see cref="FixedPointOptions.IncludeSlowPoints"/>).</summary>
    public IReadOnlyList<FixedPointInfo> SlowPoints { get; }

    /// <summary>Number of initial states searched from.</summary>
    public int InitialStateCount { get; }

    /// <summary>States that reached q &lt; TolQ.</summary>
    public int Converged { get; }

    /// <summary>Converged states dropped as duplicates of another point.</summary>
    public int Duplicates { get; }

    /// <summary>Converged states dropped as distance outliers.</summary>
    public int Outliers { get; }

    /// <summary>States that ended above TolQ (slow points among them).</summary>
    public int NotConverged { get; }

    /// <summary>Points found by deflation, among <see cref="FixedPoints"/>.</summary>
    public int Deflated { get; }

    /// <summary>For each initial state, the <see cref="FixedPointInfo.Id"/> of the point it converged to, or -1 (not converged, or an outlier).</summary>
    public IReadOnlyList<int> PointOfState { get; }

    /// <summary>Time the search took.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Writes the fixed points to a file (format <c>rnnfun.fixed-points</c>), atomically.</summary>
    /// <param name="path">Where to write.</param>
    public void Save(string path) => FixedPointFinder.Save(path, FixedPoints);

    /// <summary>Writes the fixed points with their certificates (when asked for in the search) and, with <paramref name="linearisation"/>, their Jacobians, right and left eigenvectors and input Jacobians, atomically.</summary>
    /// <param name="path">Where to write.</param>
    /// <param name="linearisation">Also write the linearisations (n^2 numbers a matrix).</param>
    public void Save(string path, bool linearisation)
    {
        ArgumentNullException.ThrowIfNull(path);
        var options = new Core.FixedPointFileOptions(linearisation, Inner.Certificates, Array.Empty<Core.Condition>(), FSharpOption<Core.FixedPointSelection>.None);
        Interop.Call(() => Core.FixedPointFile.saveWith(options, path, Inner.FixedPoints));
    }
}

/// <summary>Initial states for the fixed-point search.</summary>
public static class InitialStates
{
    /// <summary><paramref name="count"/> states drawn with replacement from trajectory states, plus N(0, noise^2).</summary>
    /// <param name="states">[batch, time, units], e.g. <see cref="Rollout.States"/>.</param>
    /// <param name="count">Number of states to draw.</param>
    /// <param name="noise">Standard deviation of the Gaussian noise added (&gt;= 0).</param>
    /// <param name="seed">Seed of the draw.</param>
    /// <returns>[count, units]</returns>
    public static double[,] FromTrajectories(float[,,] states, int count, double noise = 0.0, int seed = 0)
    {
        var rows = Interop.StateRows(states, nameof(states));
        return Interop.Matrix(Interop.Call(() => Core.InitialStates.fromStates(count, noise, seed, rows)), states.GetLength(2));
    }

    /// <summary><paramref name="count"/> states drawn with replacement from the rows of <paramref name="states"/>, plus N(0, noise^2).</summary>
    /// <param name="states">[samples, units]</param>
    /// <param name="count">Number of states to draw.</param>
    /// <param name="noise">Standard deviation of the Gaussian noise added (&gt;= 0).</param>
    /// <param name="seed">Seed of the draw.</param>
    /// <returns>[count, units]</returns>
    public static double[,] FromStates(double[,] states, int count, double noise = 0.0, int seed = 0)
    {
        var rows = Interop.Rows(states, nameof(states));
        return Interop.Matrix(Interop.Call(() => Core.InitialStates.fromStates(count, noise, seed, rows)), states.GetLength(1));
    }

    /// <summary><paramref name="count"/> states uniform in [low, high]^units.</summary>
    /// <param name="count">Number of states.</param>
    /// <param name="units">Their dimension (the network's units).</param>
    /// <param name="low">Lower bound of every coordinate.</param>
    /// <param name="high">Upper bound of every coordinate (&gt; low).</param>
    /// <param name="seed">Seed of the draw.</param>
    /// <returns>[count, units]</returns>
    public static double[,] UniformBox(int count, int units, double low, double high, int seed = 0) =>
        Interop.Matrix(Interop.Call(() => Core.InitialStates.uniformBox(count, low, high, units, seed), ("box", nameof(high))), Math.Max(units, 0));
}

/// <summary>Finds fixed points of a network under a constant input, and reads and writes fixed-point files.</summary>
public static class FixedPointFinder
{
    /// <summary>
    /// Finds the fixed points of F(x) = step(x, u) from the initial states: Adam on q, then damped Newton
    /// to machine precision; then outlier exclusion, uniqueness and stability. The network is unchanged.
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="initialStates">[states, units] to start from (see <see cref="InitialStates"/>).</param>
    /// <param name="input">The constant input [inputs]; null: zeros.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <param name="progress">Told as the search goes, on the calling thread.</param>
    /// <returns>The fixed points and the accounting.</returns>
    /// <exception cref="ArgumentException">A shape does not fit the network, or a value is not finite.</exception>
    public static FixedPointSearch Find(
        RnnNetwork network,
        double[,] initialStates,
        double[]? input = null,
        FixedPointOptions? options = null,
        IProgress<FixedPointProgressInfo>? progress = null) =>
        Find(network, Interop.Rows(initialStates, nameof(initialStates)), input, options, progress);

    /// <summary>As <see cref="Find(RnnNetwork, double[,], double[], FixedPointOptions, IProgress{FixedPointProgressInfo})"/>, with the initial states as rows.</summary>
    /// <param name="network">The network.</param>
    /// <param name="initialStates">States to start from, each [units].</param>
    /// <param name="input">The constant input [inputs]; null: zeros.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <param name="progress">Told as the search goes, on the calling thread.</param>
    /// <returns>The fixed points and the accounting.</returns>
    public static FixedPointSearch Find(
        RnnNetwork network,
        double[][] initialStates,
        double[]? input = null,
        FixedPointOptions? options = null,
        IProgress<FixedPointProgressInfo>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(initialStates);
        var net = network.Inner;
        var u = Core.ConstantInput.NewSame(input is null ? new double[net.Sizes.Inputs] : (double[])input.Clone());
        var config = (options ?? new FixedPointOptions()).ToCore(progress);
        return new FixedPointSearch(Interop.Call(() => Core.FixedPoints.find(config, net, u, initialStates), ("inputs", nameof(input))));
    }

    /// <summary>Input-conditioned search: each initial state is held under its own constant input.</summary>
    /// <param name="network">The network.</param>
    /// <param name="initialStates">[states, units] to start from.</param>
    /// <param name="inputs">[states, inputs]: the input of each state.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <param name="progress">Told as the search goes, on the calling thread.</param>
    /// <returns>The fixed points (each with its <see cref="FixedPointInfo.Input"/>) and the accounting.</returns>
    public static FixedPointSearch FindConditioned(
        RnnNetwork network,
        double[,] initialStates,
        double[,] inputs,
        FixedPointOptions? options = null,
        IProgress<FixedPointProgressInfo>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        var net = network.Inner;
        var states = Interop.Rows(initialStates, nameof(initialStates));
        var u = Core.ConstantInput.NewPerState(Interop.Rows(inputs, nameof(inputs)));
        var config = (options ?? new FixedPointOptions()).ToCore(progress);
        return new FixedPointSearch(Interop.Call(() => Core.FixedPoints.find(config, net, u, states)));
    }

    /// <summary>
    /// Linearises a network at given points (each at its own state and input): Jacobian, eigenvalues and
    /// eigenvectors, stability and kind; ids are kept. Use it on points read from a file before
    /// building a topology.
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="points">The points.</param>
    /// <param name="eigenTolerance">|lambda| within this of 1 is marginal.</param>
    /// <returns>The analysed points.</returns>
    public static IReadOnlyList<FixedPointInfo> Analyse(RnnNetwork network, IReadOnlyList<FixedPointInfo> points, double eigenTolerance = 1e-3)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(points);
        var net = network.Inner;
        var core = points.Select(p => p.Inner).ToArray();
        return Interop.ReadOnly(Interop.Call(() => Core.FixedPoints.analyse(eigenTolerance, net, core)).Select(p => new FixedPointInfo(p)));
    }

    /// <summary>
    /// The points with q and speed recomputed under this network (each under its own input),
    /// everything else kept: a point read from a file carries the q of the model it was found for.
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="points">The points.</param>
    /// <returns>The points with this network's q and speed.</returns>
    /// <exception cref="ArgumentException">A state or input has the wrong size or is not finite.</exception>
    public static IReadOnlyList<FixedPointInfo> Recheck(RnnNetwork network, IReadOnlyList<FixedPointInfo> points)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(points);
        var net = network.Inner;
        var core = points.Select(p => p.Inner).ToArray();
        return Interop.ReadOnly(Interop.Call(() => Core.FixedPoints.recheck(net, core)).Select(p => new FixedPointInfo(p)));
    }

    /// <summary>Writes fixed points to a file (format <c>rnnfun.fixed-points</c>), atomically. Jacobians and eigenvectors are not stored.</summary>
    /// <param name="path">Where to write.</param>
    /// <param name="points">The points.</param>
    /// <exception cref="ArgumentException">A value is NaN or infinite.</exception>
    public static void Save(string path, IReadOnlyList<FixedPointInfo> points)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(points);
        var core = points.Select(p => p.Inner).ToArray();
        Interop.Call(() => Core.FixedPointFile.save(path, core));
    }

    /// <summary>Reads a fixed-point file. Jacobians and eigenvectors are absent: <see cref="Analyse"/> recomputes them.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The points.</returns>
    /// <exception cref="RnnFileFormatException">The file is missing or malformed.</exception>
    public static IReadOnlyList<FixedPointInfo> Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Interop.ReadOnly(Interop.Call(() => Core.FixedPointFile.load(path)).Select(p => new FixedPointInfo(p)));
    }
}
