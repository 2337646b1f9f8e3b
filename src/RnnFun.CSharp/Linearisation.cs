using System.Numerics;
using Microsoft.FSharp.Core;
using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>A fixed point's certificate: a proof (Krawczyk's interval Newton test, float64 with outward rounding) that exactly one fixed point lies in the box of half-width <see cref="Radius"/> around its state, within <see cref="ErrorBound"/> of it; or why none was found.</summary>
public sealed class FixedPointCertificate
{
    internal FixedPointCertificate(Core.Certificate c)
    {
        if (c is Core.Certificate.Certified ok)
        {
            IsCertified = true;
            Radius = ok.radius;
            ErrorBound = ok.errorBound;
        }
        else if (c is Core.Certificate.NotCertified no)
        {
            Reason = no.reason;
        }
        Description = Core.Certificates.describe(c);
    }

    /// <summary>True when the proof succeeded.</summary>
    public bool IsCertified { get; }

    /// <summary>Half-width (max-norm) of the box around the state holding exactly one fixed point; null when not certified.</summary>
    public double? Radius { get; }

    /// <summary>The fixed point lies within this of the state (max-norm); null when not certified.</summary>
    public double? ErrorBound { get; }

    /// <summary>Why it is not certified; null when certified.</summary>
    public string? Reason { get; }

    /// <summary>One line: "certified: unique within ..." or "not certified: ...".</summary>
    public string Description { get; }

    /// <inheritdoc/>
    public override string ToString() => Description;
}

/// <summary>How much of one input direction a slow mode integrates.</summary>
/// <param name="Direction">The input direction u [inputs].</param>
/// <param name="Integrated">l' B u: per step of a discrete map, per unit of time of a continuous-time kind.</param>
/// <param name="Displacement">r (l' B u) [state]: the predicted displacement per unit of integrated input (a complex pair: 2 Re).</param>
/// <param name="EndState">x* + r (l' B u) [state]: the predicted end state after a unit pulse of u and the faster modes' relaxation.</param>
public sealed record InputSelectionInfo(IReadOnlyList<double> Direction, Complex Integrated, IReadOnlyList<double> Displacement, IReadOnlyList<double> EndState);

/// <summary>A slow mode of a linearised fixed point and its selection vector (its left eigenvector).</summary>
/// <param name="Mode">Index among the point's eigenvalues.</param>
/// <param name="Eigenvalue">The map's eigenvalue.</param>
/// <param name="ContinuousEigenvalue">(lambda - 1) / alpha for a continuous-time kind; otherwise null.</param>
/// <param name="Right">Right eigenvector r [state].</param>
/// <param name="Left">Left eigenvector l [state], l' r = 1: the selection vector.</param>
/// <param name="Inputs">One per input direction.</param>
public sealed record ModeSelectionInfo(int Mode, Complex Eigenvalue, Complex? ContinuousEigenvalue, IReadOnlyList<Complex> Right, IReadOnlyList<Complex> Left, IReadOnlyList<InputSelectionInfo> Inputs);

/// <summary>One push from a fixed point: the network's displacement against the linear prediction J^k delta.</summary>
/// <param name="Mode">Index among the point's eigenvalues.</param>
/// <param name="Eigenvalue">Its eigenvalue.</param>
/// <param name="Direction">"right", "left", "unstable+" or "unstable-".</param>
/// <param name="Vector">The unit vector pushed along [state].</param>
/// <param name="Steps">The steps k.</param>
/// <param name="Actual">||x_k - x*|| per k.</param>
/// <param name="Predicted">||J^k delta|| per k.</param>
/// <param name="RelativeError">||(x_k - x*) - J^k delta|| / ||J^k delta|| per k.</param>
/// <param name="Validity">max(0, 1 - relative error) per k.</param>
public sealed record PushCheckInfo(int Mode, Complex Eigenvalue, string Direction, IReadOnlyList<double> Vector, IReadOnlyList<int> Steps,
    IReadOnlyList<double> Actual, IReadOnlyList<double> Predicted, IReadOnlyList<double> RelativeError, IReadOnlyList<double> Validity);

/// <summary>Analyses beyond the fixed points themselves: certificates, selection vectors, perturbation checks, lesions, dimensionality.</summary>
public static class LinearAnalysis
{
    /// <summary>A certificate per point (Krawczyk's interval Newton test on the network's float64 weights): rnn, ctrnn, gru, lstm and ugrnn kinds; others are "not certified: kind ... not supported".</summary>
    /// <param name="network">The network.</param>
    /// <param name="points">The points.</param>
    /// <param name="maxRadius">The largest box tried (half-width, max-norm).</param>
    /// <returns>One per point, in their order.</returns>
    public static IReadOnlyList<FixedPointCertificate> Certify(RnnNetwork network, IReadOnlyList<FixedPointInfo> points, double maxRadius = 1.0)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(points);
        var net = network.Inner;
        var core = points.Select(p => p.Inner).ToArray();
        var config = new Core.CertificateConfig(maxRadius, Core.CertificateConfig.defaults.RefineSteps);
        return Interop.ReadOnly(Interop.Call(() => Core.FixedPoints.certify(config, net, core)).Select(c => new FixedPointCertificate(c)));
    }

    /// <summary>The slowest modes of a linearised point (eigenvalues nearest 1) with their selection vectors and what they integrate of each input direction.</summary>
    /// <param name="network">The network the point belongs to (for its time scale).</param>
    /// <param name="point">A point with a linearisation (from a search, or <see cref="FixedPointFinder.Analyse"/>).</param>
    /// <param name="modes">How many modes.</param>
    /// <param name="directions">Input directions, each [inputs]; null: each input alone.</param>
    /// <returns>The modes, slowest first.</returns>
    public static IReadOnlyList<ModeSelectionInfo> Selection(RnnNetwork network, FixedPointInfo point, int modes = 1, IReadOnlyList<double[]>? directions = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(point);
        var config = new Core.SelectionConfig(modes, directions is null ? FSharpOption<double[][]>.None : Interop.Some(directions.Select(d => (double[])d.Clone()).ToArray()));
        var timeScale = network.Inner.Kind.TimeScale;
        var result = Interop.Call(() => Core.Selection.ofPoint(config, timeScale, point.Inner));
        return Interop.ReadOnly(result.Select(ToInfo));
    }

    private static ModeSelectionInfo ToInfo(Core.ModeSelection m) => new(
        m.Mode, m.Eigenvalue, Interop.ToNullable(m.ContinuousEigenvalue), Interop.ReadOnly(m.Right), Interop.ReadOnly(m.Left),
        Interop.ReadOnly(m.Inputs.Select(i => new InputSelectionInfo(Interop.ReadOnly(i.Direction), i.Integrated, Interop.ReadOnly(i.Displacement), Interop.ReadOnly(i.EndState)))));

    private static Core.SlowSelectionConfig SlowConfig(double tolerance, string? measure, IReadOnlyList<double[]>? directions)
    {
        var m = measure switch
        {
            null => FSharpOption<Core.SlowModeMeasure>.None,
            "map" => Interop.Some(Core.SlowModeMeasure.Map),
            "continuous" => Interop.Some(Core.SlowModeMeasure.Continuous),
            _ => throw new ArgumentException($"expected \"map\" or \"continuous\", got \"{measure}\"", nameof(measure)),
        };
        return new Core.SlowSelectionConfig(tolerance, m, directions is null ? FSharpOption<double[][]>.None : Interop.Some(directions.Select(d => (double[])d.Clone()).ToArray()));
    }

    /// <summary>The slow modes of a linearised point: every eigenvalue within <paramref name="tolerance"/> of 1 (<c>"map"</c>: |lambda - 1|) or of 0 (<c>"continuous"</c>: |(lambda - 1) / alpha|, the default for a continuous-time kind), slowest first, with their selection vectors (of a complex pair, the member with Im lambda &gt; 0).</summary>
    /// <param name="network">The network the point belongs to (for its time scale).</param>
    /// <param name="point">A point with a linearisation.</param>
    /// <param name="tolerance">How near the eigenvalue is.</param>
    /// <param name="measure"><c>"map"</c>, <c>"continuous"</c>, or null for the kind's own.</param>
    /// <param name="directions">Input directions, each [inputs]; null: each input alone.</param>
    /// <returns>The slow modes (possibly none).</returns>
    public static IReadOnlyList<ModeSelectionInfo> SlowModes(RnnNetwork network, FixedPointInfo point, double tolerance = 0.05, string? measure = null, IReadOnlyList<double[]>? directions = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(point);
        var config = SlowConfig(tolerance, measure, directions);
        var timeScale = network.Inner.Kind.TimeScale;
        return Interop.ReadOnly(Interop.Call(() => Core.Selection.slowModes(config, timeScale, point.Inner)).Select(ToInfo));
    }

    /// <summary>Writes a search's points with their certificates and every point's slow modes (selection vectors, l' B u per input, predicted end states), atomically (format <c>rnnfun.fixed-points</c>).</summary>
    /// <param name="network">The network searched (for its time scale).</param>
    /// <param name="search">The search.</param>
    /// <param name="path">Where to write.</param>
    /// <param name="tolerance">How near a slow mode's eigenvalue is.</param>
    /// <param name="measure"><c>"map"</c>, <c>"continuous"</c>, or null for the kind's own.</param>
    /// <param name="linearisation">Also write the linearisations.</param>
    public static void SaveWithSelection(RnnNetwork network, FixedPointSearch search, string path, double tolerance = 0.05, string? measure = null, bool linearisation = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(search);
        ArgumentNullException.ThrowIfNull(path);
        var config = SlowConfig(tolerance, measure, null);
        var timeScale = network.Inner.Kind.TimeScale;
        var points = search.Inner.FixedPoints;
        Interop.Call(() =>
        {
            var selection = Core.FixedPointSelectionModule.ofPoints(config, timeScale, points);
            var options = new Core.FixedPointFileOptions(linearisation, search.Inner.Certificates, Array.Empty<Core.Condition>(), Interop.Some(selection));
            Core.FixedPointFile.saveWith(options, path, points);
        });
    }

    /// <summary>The slow modes stored in a fixed-point file, one list per point in the file's order; null for a file written without them.</summary>
    /// <param name="path">The fixed-point file.</param>
    /// <returns>The modes per point, or null.</returns>
    public static IReadOnlyList<IReadOnlyList<ModeSelectionInfo>>? LoadSelection(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var loaded = Interop.Call(() => Core.FixedPointFile.loadSelection(path));
        return Interop.ToObj(loaded) is { } s ? Interop.ReadOnly(s.Modes.Select(modes => Interop.ReadOnly(modes.Select(ToInfo)))) : null;
    }

    /// <summary>Perturbation checks of a linearised point: pushes along right and left eigenvectors of the slowest modes and both ways along each unstable one, scored over k steps against J^k delta.</summary>
    /// <param name="network">The network.</param>
    /// <param name="point">A point with a linearisation.</param>
    /// <param name="epsilon">The push's size (2-norm).</param>
    /// <param name="steps">The steps k; null: 1, 2, 5, 10, 20.</param>
    /// <param name="modes">The slowest modes pushed along (unstable ones always).</param>
    /// <returns>One check per push.</returns>
    public static IReadOnlyList<PushCheckInfo> PerturbationCheck(RnnNetwork network, FixedPointInfo point, double epsilon = 1e-2, IReadOnlyList<int>? steps = null, int modes = 3)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(point);
        var config = new Core.PerturbationConfig(epsilon, steps is null ? Core.PerturbationConfig.defaults.Steps : steps.ToArray(), modes);
        var net = network.Inner;
        var result = Interop.Call(() => Core.Perturbation.check(config, net, point.Inner));
        return Interop.ReadOnly(result.Pushes.Select(p => new PushCheckInfo(
            p.Mode, p.Eigenvalue,
            p.Direction.IsRight ? "right" : p.Direction.IsLeft ? "left" : ((Core.PushDirection.Unstable)p.Direction).sign > 0 ? "unstable+" : "unstable-",
            Interop.ReadOnly(p.Vector), Interop.ReadOnly(p.Steps), Interop.ReadOnly(p.Actual), Interop.ReadOnly(p.Predicted),
            Interop.ReadOnly(p.RelativeError), Interop.ReadOnly(p.Validity))));
    }

    /// <summary>A copy of the network with these units silenced: their outgoing weights (recurrent columns, readout columns) are 0, and with <paramref name="incoming"/> their incoming weights and biases too. Every other weight is unchanged; the network itself is unchanged.</summary>
    /// <param name="network">The network.</param>
    /// <param name="units">Unit indices (0-based, distinct).</param>
    /// <param name="incoming">Also zero what drives them.</param>
    /// <returns>The lesioned network (dispose it).</returns>
    public static RnnNetwork Lesion(RnnNetwork network, IReadOnlyList<int> units, bool incoming = true)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(units);
        var net = network.Inner;
        var config = new Core.LesionConfig(units.ToArray(), incoming);
        return new RnnNetwork(Interop.Call(() => Core.Lesion.silence(config, net)));
    }

    /// <summary>The network's masked mean squared error on a batch of trials (from a zero state, no noise): the task loss before and after a lesion.</summary>
    /// <param name="network">The network.</param>
    /// <param name="batch">The trials.</param>
    /// <returns>The loss.</returns>
    public static double TaskLoss(RnnNetwork network, TaskBatch batch)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(batch);
        var net = network.Inner;
        var core = batch.ToCore();
        return Interop.Call(() => Core.Lesion.loss(net, core));
    }

    /// <summary>The participation ratio (sum lambda)^2 / sum lambda^2 of the states' covariance: 1 on a line, 3 for a cube's corners.</summary>
    /// <param name="states">[samples, units], at least 2 samples.</param>
    /// <returns>The ratio.</returns>
    public static double ParticipationRatio(double[,] states) =>
        Interop.Call(() => Core.Dimensionality.participationRatio(Interop.Rows(states, nameof(states))));
}
