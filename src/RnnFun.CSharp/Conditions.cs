using Microsoft.FSharp.Core;
using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>An experimental condition: a name and the constant input [inputs] that defines it.</summary>
/// <param name="Name">The condition's name.</param>
/// <param name="Input">Its constant input [inputs].</param>
public sealed record ConditionInput(string Name, double[] Input)
{
    internal Core.Condition ToCore() => new(Name, (double[])Input.Clone());

    internal static ConditionInput Of(Core.Condition c) => new(c.Name, (double[])c.Input.Clone());

    /// <summary>The two contexts of the context-dependent integration task at zero coherence (fixation on, 0.5 on each stimulus input, the context's cue).</summary>
    public static IReadOnlyList<ConditionInput> ContextDecision => Interop.ReadOnly(Core.Conditions.contextDecision.Select(Of));
}

/// <summary>The fixed and slow points of one condition.</summary>
public sealed class ConditionPointsInfo
{
    internal ConditionPointsInfo(Core.ConditionPoints c)
    {
        Condition = ConditionInput.Of(c.Condition);
        FixedPoints = Interop.ReadOnly(c.FixedPoints.Select(p => new FixedPointInfo(p)));
        SlowPoints = Interop.ReadOnly(c.SlowPoints.Select(p => new FixedPointInfo(p)));
    }

    /// <summary>The condition.</summary>
    public ConditionInput Condition { get; }

    /// <summary>Its fixed points.</summary>
    public IReadOnlyList<FixedPointInfo> FixedPoints { get; }

    /// <summary>Its slow points (from the search's own slow points, when asked for).</summary>
    public IReadOnlyList<FixedPointInfo> SlowPoints { get; }
}

/// <summary>A fixed-point search over several conditions at once.</summary>
public sealed class ConditionSearch
{
    internal ConditionSearch(Core.ConditionSearch r)
    {
        Conditions = Interop.ReadOnly(r.Conditions.Select(c => new ConditionPointsInfo(c)));
        Search = new FixedPointSearch(r.Search);
        ConditionOfState = Interop.ReadOnly((int[])r.ConditionOfState.Clone());
    }

    /// <summary>The points per condition, in the order given.</summary>
    public IReadOnlyList<ConditionPointsInfo> Conditions { get; }

    /// <summary>The one search over all conditions (ids unique across conditions).</summary>
    public FixedPointSearch Search { get; }

    /// <summary>For each initial state, the index of its condition.</summary>
    public IReadOnlyList<int> ConditionOfState { get; }
}

/// <summary>The slow points of one constant input, and how their q threshold was chosen.</summary>
public sealed class SlowPointGroupInfo
{
    internal SlowPointGroupInfo(Core.SlowPointGroup g)
    {
        Input = (double[])g.Input.Clone();
        Points = Interop.ReadOnly(g.Points.Select(p => new FixedPointInfo(p)));
        Q = Interop.ReadOnly((double[])g.Q.Clone());
        Threshold = g.Threshold.Threshold;
        Rule = g.Threshold.Rule;
        GapDecades = g.Threshold.GapDecades;
    }

    /// <summary>The constant input [inputs].</summary>
    public double[] Input { get; }

    /// <summary>The slow points (q at or below <see cref="Threshold"/>, unique, linearised), lowest q first.</summary>
    public IReadOnlyList<FixedPointInfo> Points { get; }

    /// <summary>q of every descended state, ascending.</summary>
    public IReadOnlyList<double> Q { get; }

    /// <summary>The q threshold chosen from <see cref="Q"/>.</summary>
    public double Threshold { get; }

    /// <summary>"gap" (the widest gap in log q), "knee" (where the upper tail of log q begins) or "none".</summary>
    public string Rule { get; }

    /// <summary>Width of the gap in decades (0 unless <see cref="Rule"/> is "gap").</summary>
    public double GapDecades { get; }
}

/// <summary>The outcome of a slow-point search: one group per constant input.</summary>
public sealed class SlowPointSearch
{
    internal SlowPointSearch(Core.SlowPointResult r)
    {
        Inner = r;
        Groups = Interop.ReadOnly(r.Groups.Select(g => new SlowPointGroupInfo(g)));
        Points = Interop.ReadOnly(r.Points.Select(p => new FixedPointInfo(p)));
        Elapsed = r.Elapsed;
    }

    internal Core.SlowPointResult Inner { get; }

    /// <summary>The groups, one per distinct input (per condition, in their order).</summary>
    public IReadOnlyList<SlowPointGroupInfo> Groups { get; }

    /// <summary>Every group's points.</summary>
    public IReadOnlyList<FixedPointInfo> Points { get; }

    /// <summary>Time the search took.</summary>
    public TimeSpan Elapsed { get; }
}

/// <summary>Slow points (minima of q that need not be zero: where the dynamics are slow), with the q threshold chosen from the distribution of q.</summary>
public static class SlowPointFinder
{
    private static Core.SlowPointConfig Config(int iterations, int maxPoints) =>
        new(iterations, Core.SlowPointConfig.defaults.Ceiling, Core.SlowPointConfig.defaults.MinGap, Core.SlowPointConfig.defaults.MinFraction,
            Core.SlowPointConfig.defaults.TolUnique, maxPoints, Core.SlowPointConfig.defaults.EigenTolerance,
            Core.SlowPointConfig.defaults.OutlierDistanceScale, FSharpOption<FSharpFunc<Core.FixedPointProgress, Unit>>.None);

    /// <summary>Descends q from the initial states under one constant input and keeps the states below the threshold chosen from the distribution of q.</summary>
    /// <param name="network">The network.</param>
    /// <param name="initialStates">[states, units] to start from.</param>
    /// <param name="input">The constant input [inputs]; null: zeros.</param>
    /// <param name="iterations">Steepest-descent steps (default 50).</param>
    /// <param name="maxPoints">At most this many slow points, spread over the set (default 256).</param>
    /// <returns>One group of slow points.</returns>
    public static SlowPointSearch Find(RnnNetwork network, double[,] initialStates, double[]? input = null, int iterations = 50, int maxPoints = 256)
    {
        ArgumentNullException.ThrowIfNull(network);
        var net = network.Inner;
        var states = Interop.Rows(initialStates, nameof(initialStates));
        var u = Core.ConstantInput.NewSame(input is null ? new double[net.Sizes.Inputs] : (double[])input.Clone());
        return new SlowPointSearch(Interop.Call(() => Core.SlowPoints.find(Config(iterations, maxPoints), net, u, states)));
    }

    /// <summary>Slow points under every condition's input, each condition with its own q threshold, from the same initial states.</summary>
    /// <param name="network">The network.</param>
    /// <param name="conditions">The conditions.</param>
    /// <param name="initialStates">[states, units], searched under each condition's input.</param>
    /// <param name="iterations">Steepest-descent steps (default 50).</param>
    /// <param name="maxPoints">At most this many slow points per condition (default 256).</param>
    /// <returns>One group per condition, in their order.</returns>
    public static SlowPointSearch FindPerCondition(RnnNetwork network, IReadOnlyList<ConditionInput> conditions, double[,] initialStates, int iterations = 50, int maxPoints = 256)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(conditions);
        var net = network.Inner;
        var states = Interop.Rows(initialStates, nameof(initialStates));
        var core = conditions.Select(c => c.ToCore()).ToArray();
        var perCondition = core.Select(_ => states).ToArray();
        return new SlowPointSearch(Interop.Call(() => Core.Conditions.slowPoints(Config(iterations, maxPoints), net, core, perCondition)));
    }
}

/// <summary>Fixed points for a family of constant inputs at once.</summary>
public static class ConditionFinder
{
    /// <summary>
    /// Fixed points under every condition's input in one search, from the same initial states under each;
    /// uniqueness is judged on state and input together, so the same state under two conditions is two points.
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="conditions">The conditions (distinct names and inputs).</param>
    /// <param name="initialStates">[states, units], searched under each condition's input.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <returns>The points grouped by condition, and the search.</returns>
    public static ConditionSearch Find(RnnNetwork network, IReadOnlyList<ConditionInput> conditions, double[,] initialStates, FixedPointOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(conditions);
        var net = network.Inner;
        var states = Interop.Rows(initialStates, nameof(initialStates));
        var core = conditions.Select(c => c.ToCore()).ToArray();
        var perCondition = core.Select(_ => states).ToArray();
        var config = (options ?? new FixedPointOptions()).ToCore(null);
        return new ConditionSearch(Interop.Call(() => Core.Conditions.find(config, net, core, perCondition)));
    }

    /// <summary>Writes points with the conditions they were found under (format <c>rnnfun.fixed-points</c>, with its <c>conditions</c>).</summary>
    /// <param name="path">Where to write.</param>
    /// <param name="conditions">The conditions.</param>
    /// <param name="points">The points; each point's input must be a condition's.</param>
    public static void Save(string path, IReadOnlyList<ConditionInput> conditions, IReadOnlyList<FixedPointInfo> points)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(conditions);
        ArgumentNullException.ThrowIfNull(points);
        var core = conditions.Select(c => c.ToCore()).ToArray();
        var ps = points.Select(p => p.Inner).ToArray();
        Interop.Call(() => Core.FixedPointFile.saveWithConditions(path, core, ps));
    }

    /// <summary>The conditions a fixed-point file names; empty for a file written without them.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The conditions.</returns>
    public static IReadOnlyList<ConditionInput> LoadConditions(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Interop.ReadOnly(Interop.Call(() => Core.FixedPointFile.loadConditions(path)).Select(ConditionInput.Of));
    }
}
