using System.Numerics;
using Microsoft.FSharp.Core;
using Core = RnnFun;
using Plot = RnnFun.Plotting;

namespace RnnFun.CSharp;

/// <summary>What happens where an eigenvalue of a branch's Jacobian crosses the unit circle.</summary>
public enum BifurcationType
{
    /// <summary>Saddle-node: lambda = 1 where the branch turns back in the parameter.</summary>
    Fold,
    /// <summary>lambda = 1 on a branch that goes on through, with a second branch on one side of the parameter.</summary>
    Pitchfork,
    /// <summary>lambda = 1 on a branch that goes on through, with a second branch crossing it.</summary>
    Transcritical,
    /// <summary>lambda = 1 on a branch that goes on through, not classified.</summary>
    BranchPoint,
    /// <summary>Period doubling: lambda = -1.</summary>
    Flip,
    /// <summary>A complex pair crossing |lambda| = 1 (Hopf of the map).</summary>
    NeimarkSacker,
}

/// <summary>One traced branch of fixed points (one entry per point, in the order traced).</summary>
/// <param name="Id">The branch's id.</param>
/// <param name="Parent">-1 for a branch from a start point; else the branch it was switched from at a branch point.</param>
/// <param name="Parameter">[points]: the parameter.</param>
/// <param name="States">[points][state].</param>
/// <param name="Eigenvalues">[points][state]: the Jacobian's eigenvalues, by modulus, descending.</param>
/// <param name="UnstableModes">[points]: eigenvalues with |lambda| &gt; 1 + tolerance.</param>
/// <param name="Stable">[points]: every |lambda| &lt; 1 - tolerance.</param>
/// <param name="Ending">How the tracing ended: range, merged, closed, max-steps or step-too-small.</param>
/// <param name="MergedIntoStart">For a merged branch, the start point it reached; otherwise null.</param>
public sealed record ContinuationBranchInfo(
    int Id, int Parent, double[] Parameter, double[][] States, Complex[][] Eigenvalues, int[] UnstableModes, bool[] Stable, string Ending, int? MergedIntoStart);

/// <summary>A located bifurcation on a branch.</summary>
/// <param name="Kind">Its type.</param>
/// <param name="Branch">The branch it is on.</param>
/// <param name="Parameter">The parameter there.</param>
/// <param name="State">[state] there.</param>
/// <param name="Eigenvalue">The eigenvalue on the unit circle (of a pair, the one with Im &gt; 0).</param>
/// <param name="Crossing">Eigenvalues leaving the unit disc there as the branch is traced (negative: entering).</param>
/// <param name="Eigenvalues">All eigenvalues there, by modulus, descending.</param>
/// <param name="NewBranches">The branches switched onto there.</param>
public sealed record BifurcationInfo(
    BifurcationType Kind, int Branch, double Parameter, double[] State, Complex Eigenvalue, int Crossing, Complex[] Eigenvalues, int[] NewBranches);

/// <summary>Settings of a continuation; every property defaults to the core's <c>ContinuationConfig.defaults</c>.</summary>
public sealed class ContinuationOptions
{
    private static readonly Core.ContinuationConfig D = Core.ContinuationConfig.defaults;

    /// <summary>First arclength step (default 0.02).</summary>
    public double Step { get; init; } = D.Step;

    /// <summary>Smallest arclength step (default 1e-8).</summary>
    public double MinStep { get; init; } = D.MinStep;

    /// <summary>Largest arclength step (default 0.1).</summary>
    public double MaxStep { get; init; } = D.MaxStep;

    /// <summary>Steps per branch at most (default 2000).</summary>
    public int MaxSteps { get; init; } = D.MaxSteps;

    /// <summary>The corrector stops below this ||F(x) - x|| (default 1e-11).</summary>
    public double Tolerance { get; init; } = D.Tolerance;

    /// <summary>Bifurcations are located to this arclength (default 1e-10).</summary>
    public double LocateTolerance { get; init; } = D.LocateTolerance;

    /// <summary>|lambda| within this of 1 is marginal in the points' stability (default 1e-3).</summary>
    public double EigenTolerance { get; init; } = D.EigenTolerance;

    /// <summary>Trace the second branch through each simple branch point (default true).</summary>
    public bool SwitchBranches { get; init; } = D.SwitchBranches;

    /// <summary>Branches at most (default 64).</summary>
    public int MaxBranches { get; init; } = D.MaxBranches;

    /// <summary>The search's initial states at the start, each [state]; null: 256 seeded states uniform in [-1, 1]^state.</summary>
    public double[][]? InitialStates { get; init; }

    /// <summary>Seed of the default initial states (default 0).</summary>
    public int Seed { get; init; } = D.Seed;

    internal Core.ContinuationConfig ToCore(double start, double end) =>
        new(start, end, Step, MinStep, MaxStep, MaxSteps, Tolerance, D.NewtonIterations, LocateTolerance, EigenTolerance,
            SwitchBranches, MaxBranches, D.MergeTolerance, D.Search,
            InitialStates is null ? FSharpOption<double[][]>.None : FSharpOption<double[][]>.Some(InitialStates), Seed);
}

/// <summary>The outcome of a continuation: branches with their eigenvalues, and the located bifurcations. Plain data.</summary>
public sealed class ContinuationResultInfo
{
    internal Core.ContinuationResult Inner { get; }

    internal ContinuationResultInfo(Core.ContinuationResult r)
    {
        Inner = r;
        Branches = Interop.ReadOnly(r.Branches.Select(b => new ContinuationBranchInfo(
            b.Id, b.Parent, b.Parameter, b.States, b.Eigenvalues, b.UnstableModes, b.Stable, Core.Continuation.endingName(b.Ending),
            b.Ending is Core.BranchEnding.Merged m ? m.branch : null)));
        Events = Interop.ReadOnly(r.Events.Select(e => new BifurcationInfo(
            TypeOf(e.Kind), e.Branch, e.Parameter, e.State, e.Eigenvalue, e.Crossing, e.Eigenvalues, e.NewBranches)));
    }

    private static BifurcationType TypeOf(Core.BifurcationKind k) =>
        k.IsFold ? BifurcationType.Fold
        : k.IsPitchfork ? BifurcationType.Pitchfork
        : k.IsTranscritical ? BifurcationType.Transcritical
        : k.IsFlip ? BifurcationType.Flip
        : k.IsNeimarkSacker ? BifurcationType.NeimarkSacker
        : BifurcationType.BranchPoint;

    /// <summary>The parameter at the start.</summary>
    public double Start => Inner.Start;

    /// <summary>The parameter at the other end.</summary>
    public double End => Inner.End;

    /// <summary>Fixed points the search found at the start.</summary>
    public int StartPoints => Inner.StartPoints;

    /// <summary>The traced branches.</summary>
    public IReadOnlyList<ContinuationBranchInfo> Branches { get; }

    /// <summary>The located bifurcations, by branch and parameter.</summary>
    public IReadOnlyList<BifurcationInfo> Events { get; }

    /// <summary>How long it took.</summary>
    public TimeSpan Elapsed => Inner.Elapsed;

    /// <summary>The fixed points on the branches at parameter p (interpolated between branch points), one per cluster within tolerance.</summary>
    /// <param name="parameter">The parameter value.</param>
    /// <param name="tolerance">Points closer than this are one.</param>
    /// <returns>The states, each [state].</returns>
    public double[][] StatesAt(double parameter, double tolerance = 1e-6) => Core.Continuation.statesAt(tolerance, Inner, parameter);

    /// <summary>Writes the continuation file (rnnfun.continuation JSON, docs/formats.md).</summary>
    /// <param name="path">The file to write.</param>
    public void Save(string path) => Interop.Call(() => Core.ContinuationFile.save(path, Inner));
}

/// <summary>Pseudo-arclength continuation of a network's fixed points in float64, with bifurcations located on the branches.</summary>
public static class Continuation
{
    private static ContinuationResultInfo Run(RnnNetwork network, Core.ContinuationParameter parameter, double from, double to, ContinuationOptions? options)
    {
        ArgumentNullException.ThrowIfNull(network);
        var config = (options ?? new ContinuationOptions()).ToCore(from, to);
        return new ContinuationResultInfo(Interop.Call(() => Core.Continuation.run(config, network.Inner, parameter)));
    }

    /// <summary>Traces the fixed points as input <paramref name="index"/> runs from <paramref name="from"/> to <paramref name="to"/>.</summary>
    /// <param name="network">The network.</param>
    /// <param name="index">The input that varies (from 0).</param>
    /// <param name="from">Its value at the start (where the fixed points are searched for).</param>
    /// <param name="to">Its value at the other end.</param>
    /// <param name="baseInput">The other inputs [inputs]; null: zeros.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <returns>The branches and bifurcations.</returns>
    /// <exception cref="ArgumentException">An index, size or range that cannot be used.</exception>
    public static ContinuationResultInfo VaryInput(RnnNetwork network, int index, double from, double to, double[]? baseInput = null, ContinuationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        var b = baseInput ?? new double[network.Inner.Sizes.Inputs];
        return Run(network, Interop.Call(() => Core.Continuation.inputComponent(b, index)), from, to, options);
    }

    /// <summary>Traces the fixed points under the input baseInput + p direction as p runs from <paramref name="from"/> to <paramref name="to"/> (a context input, a stimulus axis).</summary>
    /// <param name="network">The network.</param>
    /// <param name="direction">The direction in input space [inputs].</param>
    /// <param name="from">p at the start.</param>
    /// <param name="to">p at the other end.</param>
    /// <param name="baseInput">The input at p = 0 [inputs]; null: zeros.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <returns>The branches and bifurcations.</returns>
    public static ContinuationResultInfo VaryInputDirection(RnnNetwork network, double[] direction, double from, double to, double[]? baseInput = null, ContinuationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(direction);
        var b = baseInput ?? new double[network.Inner.Sizes.Inputs];
        return Run(network, Core.ContinuationParameter.NewInput((double[])b.Clone(), (double[])direction.Clone()), from, to, options);
    }

    /// <summary>Traces the fixed points as a scale s on the recurrent weights (W_rec, or a gated cell's weight_hh) runs from <paramref name="from"/> to <paramref name="to"/>.</summary>
    /// <param name="network">The network.</param>
    /// <param name="from">s at the start.</param>
    /// <param name="to">s at the other end.</param>
    /// <param name="input">The constant input [inputs]; null: zeros.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <returns>The branches and bifurcations.</returns>
    public static ContinuationResultInfo ScaleRecurrent(RnnNetwork network, double from, double to, double[]? input = null, ContinuationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        var u = input ?? new double[network.Inner.Sizes.Inputs];
        return Run(network, Core.ContinuationParameter.NewRecurrentScale((double[])u.Clone()), from, to, options);
    }

    /// <summary>The period-2 orbits born at each flip (period doubling) of a continuation: the fixed points of the map applied twice, traced by pseudo-arclength from each flip point.</summary>
    /// <param name="network">The network the continuation was run on.</param>
    /// <param name="result">The continuation.</param>
    /// <param name="options">The continuation's settings (range, steps, tolerances); null: the defaults over the result's range.</param>
    /// <returns>One branch per flip.</returns>
    public static IReadOnlyList<PeriodTwoBranchInfo> PeriodTwo(RnnNetwork network, ContinuationResultInfo result, ContinuationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(result);
        var config = (options ?? new ContinuationOptions()).ToCore(result.Start, result.End);
        var branches = Interop.Call(() => Core.PeriodTwo.ofContinuation(config, network.Inner, result.Inner));
        return Interop.ReadOnly(branches.Select(b => new PeriodTwoBranchInfo(
            b.FromBranch, b.FlipParameter, b.FlipState, b.Parameter, b.States, b.Partners, b.Multipliers, b.Stable, Core.Continuation.endingName(b.Ending))));
    }

    /// <summary>Writes a continuation (format <c>rnnfun.continuation</c>), atomically; a NaN eigenvalue is written as null.</summary>
    /// <param name="result">The continuation.</param>
    /// <param name="path">Where to write.</param>
    /// <exception cref="ArgumentException">A NaN or infinite parameter value or state.</exception>
    public static void Save(ContinuationResultInfo result, string path)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(path);
        Interop.Call(() => Core.ContinuationFile.save(path, result.Inner));
    }

    /// <summary>Reads a continuation file back (its time is not stored: zero).</summary>
    /// <param name="path">The file (<c>rnnfun continue --out</c>, <see cref="Save"/>).</param>
    /// <returns>The branches and bifurcations.</returns>
    public static ContinuationResultInfo Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new ContinuationResultInfo(Interop.Call(() => Core.ContinuationFile.load(path)));
    }
}

/// <summary>A branch of period-2 orbits {x, F(x)} born at a flip.</summary>
/// <param name="FromBranch">The fixed-point branch of the flip.</param>
/// <param name="FlipParameter">The flip's parameter value.</param>
/// <param name="FlipState">The flip's state.</param>
/// <param name="Parameter">The parameter per point (the first is the flip).</param>
/// <param name="States">One point x of each orbit [points][state].</param>
/// <param name="Partners">The other point F(x) [points][state].</param>
/// <param name="Multipliers">Eigenvalues of D(F o F) at x, modulus descending.</param>
/// <param name="Stable">Every multiplier inside the unit circle.</param>
/// <param name="Ending">"range", "merged", "max-steps" or "step-too-small".</param>
public sealed record PeriodTwoBranchInfo(
    int FromBranch, double FlipParameter, double[] FlipState, double[] Parameter, double[][] States, double[][] Partners, Complex[][] Multipliers, bool[] Stable, string Ending);

/// <summary>One condition of a Lyapunov file.</summary>
/// <param name="Label">"input" (a constant input) or "trial".</param>
/// <param name="Input">The constant input [inputs]; null for a trial.</param>
/// <param name="Spectrum">Its spectrum.</param>
public sealed record LyapunovConditionInfo(string Label, double[]? Input, LyapunovSpectrumInfo Spectrum);

/// <summary>A Lyapunov spectrum.</summary>
/// <param name="Exponents">Per step (natural log), descending; -infinity for a direction the map collapses exactly.</param>
/// <param name="PerTimeConstant">For a continuous-time network, the exponents per time constant tau (Exponents / (dt / tau)); otherwise null.</param>
/// <param name="KaplanYorke">The Kaplan-Yorke dimension.</param>
/// <param name="Steps">Steps averaged over.</param>
/// <param name="Transient">Steps run first and left out.</param>
/// <param name="FinalState">[state] where the trajectory ended.</param>
/// <param name="RunningSteps">[records]: averaged steps at each running estimate.</param>
/// <param name="Running">[records][exponents]: the running estimates.</param>
public sealed record LyapunovSpectrumInfo(
    double[] Exponents, double[]? PerTimeConstant, double KaplanYorke, int Steps, int Transient, double[] FinalState, int[] RunningSteps, double[][] Running)
{
    internal Core.LyapunovSpectrum ToCore() =>
        new(Exponents, PerTimeConstant is null ? FSharpOption<double[]>.None : FSharpOption<double[]>.Some(PerTimeConstant),
            KaplanYorke, Steps, Transient, RunningSteps, Running, FinalState);

    internal static LyapunovSpectrumInfo Of(Core.LyapunovSpectrum s) =>
        new(s.Exponents, Interop.ToObj(s.PerTimeConstant), s.KaplanYorke, s.Steps, s.Transient, s.FinalState, s.RunningSteps, s.Running);
}

/// <summary>Settings of a Lyapunov spectrum; every property defaults to the core's <c>LyapunovConfig.defaults</c>.</summary>
public sealed class LyapunovOptions
{
    private static readonly Core.LyapunovConfig D = Core.LyapunovConfig.defaults;

    /// <summary>Steps averaged over under a constant input (default 1000).</summary>
    public int Steps { get; init; } = D.Steps;

    /// <summary>Steps run first and left out of the average (default 200).</summary>
    public int Transient { get; init; } = D.Transient;

    /// <summary>The largest this many exponents; null: all.</summary>
    public int? Exponents { get; init; }

    /// <summary>QR re-orthonormalisation every this many steps (default 1).</summary>
    public int Reorthonormalise { get; init; } = D.Reorthonormalise;

    /// <summary>Running estimates every this many averaged steps; 0: none (default).</summary>
    public int RecordEvery { get; init; } = D.RecordEvery;

    /// <summary>Seed of the initial orthonormal frame (default 0).</summary>
    public int Seed { get; init; } = D.Seed;

    internal Core.LyapunovConfig ToCore() =>
        new(Steps, Transient, Interop.OfNullable(Exponents), Reorthonormalise, RecordEvery, Seed);
}

/// <summary>Lyapunov spectra of a network's map by QR re-orthonormalisation along a trajectory.</summary>
public static class LyapunovSpectra
{
    /// <summary>The spectrum under a constant input (zeros: the autonomous network).</summary>
    /// <param name="network">The network.</param>
    /// <param name="input">The constant input [inputs]; null: zeros.</param>
    /// <param name="initialState">The state to start from [state]; null: zeros.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <returns>The spectrum.</returns>
    public static LyapunovSpectrumInfo Compute(RnnNetwork network, double[]? input = null, double[]? initialState = null, LyapunovOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        var u = input ?? new double[network.Inner.Sizes.Inputs];
        var config = (options ?? new LyapunovOptions()).ToCore();
        return LyapunovSpectrumInfo.Of(Interop.Call(() =>
            Core.Lyapunov.spectrum(config, network.Inner, Core.LyapunovInput.NewConstant((double[])u.Clone()), initialState ?? Array.Empty<double>())));
    }

    /// <summary>The spectrum under an input sequence [steps][inputs] (the transient takes its first steps).</summary>
    /// <param name="network">The network.</param>
    /// <param name="inputs">One input per step, each [inputs].</param>
    /// <param name="initialState">The state to start from [state]; null: zeros.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <returns>The spectrum.</returns>
    public static LyapunovSpectrumInfo ComputeUnderSequence(RnnNetwork network, double[][] inputs, double[]? initialState = null, LyapunovOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(inputs);
        var config = (options ?? new LyapunovOptions()).ToCore();
        return LyapunovSpectrumInfo.Of(Interop.Call(() =>
            Core.Lyapunov.spectrum(config, network.Inner, Core.LyapunovInput.NewSequence(inputs), initialState ?? Array.Empty<double>())));
    }

    /// <summary>Input-conditioned spectra: one per trial [trials][steps][inputs], each from the same initial state.</summary>
    /// <param name="network">The network.</param>
    /// <param name="trials">The trials' inputs.</param>
    /// <param name="initialState">The state to start from [state]; null: zeros.</param>
    /// <param name="options">Settings; null: the defaults.</param>
    /// <returns>One spectrum per trial.</returns>
    public static IReadOnlyList<LyapunovSpectrumInfo> ComputeTrials(RnnNetwork network, double[][][] trials, double[]? initialState = null, LyapunovOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(trials);
        var config = (options ?? new LyapunovOptions()).ToCore();
        var r = Interop.Call(() => Core.Lyapunov.ofTrials(config, network.Inner, trials, initialState ?? Array.Empty<double>()));
        return Interop.ReadOnly(r.Spectra.Select(LyapunovSpectrumInfo.Of));
    }

    /// <summary>Reads a Lyapunov file back (<c>rnnfun lyapunov --out</c>): one spectrum per condition; a null exponent reads as -infinity.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The conditions in the file's order.</returns>
    public static IReadOnlyList<LyapunovConditionInfo> Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var contents = Interop.Call(() => Core.LyapunovFile.load(path));
        return Interop.ReadOnly(contents.Conditions.Select(c => new LyapunovConditionInfo(c.Label, Interop.ToObj(c.Input), LyapunovSpectrumInfo.Of(c.Spectrum))));
    }

    /// <summary>The Kaplan-Yorke dimension of a spectrum (any order).</summary>
    /// <param name="exponents">The exponents.</param>
    /// <returns>j + (l_1 + .. + l_j) / |l_(j+1)| for the largest j whose partial sum is &gt;= 0.</returns>
    public static double KaplanYorke(double[] exponents)
    {
        ArgumentNullException.ThrowIfNull(exponents);
        return Core.Lyapunov.kaplanYorke(exponents);
    }
}

/// <summary>Figures of continuations and Lyapunov spectra (the same as in the report).</summary>
public static class DynamicsFigures
{
    /// <summary>The bifurcation diagram: the parameter against a projection of the states, stable branches solid, unstable dashed, bifurcations marked.</summary>
    /// <param name="result">A continuation.</param>
    /// <param name="projection">The unit direction [state] to project on; null: the first principal component of the branches' states.</param>
    /// <param name="parameterName">The x axis title.</param>
    /// <returns>The figure.</returns>
    public static Figure BifurcationDiagram(ContinuationResultInfo result, double[]? projection = null, string parameterName = "parameter")
    {
        ArgumentNullException.ThrowIfNull(result);
        return new Figure(Plot.DynamicsCharts.bifurcationDiagram(result.Inner, projection ?? Array.Empty<double>(), parameterName));
    }

    /// <summary>The moduli of the leading eigenvalues along each branch, with |lambda| = 1.</summary>
    /// <param name="result">A continuation.</param>
    /// <param name="count">Eigenvalues per point.</param>
    /// <param name="parameterName">The x axis title.</param>
    /// <returns>The figure.</returns>
    public static Figure EigenvaluesAlongBranches(ContinuationResultInfo result, int count = 4, string parameterName = "parameter")
    {
        ArgumentNullException.ThrowIfNull(result);
        return new Figure(Plot.DynamicsCharts.eigenvaluesAlongBranches(result.Inner, count, parameterName));
    }

    /// <summary>Lyapunov spectra (exponent index against value), with their mean when there are several.</summary>
    /// <param name="spectra">The spectra.</param>
    /// <param name="labels">A label per spectrum; null: numbered.</param>
    /// <returns>The figure.</returns>
    public static Figure Spectra(IReadOnlyList<LyapunovSpectrumInfo> spectra, IReadOnlyList<string>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(spectra);
        var core = spectra.Select(s => s.ToCore()).ToArray();
        return new Figure(Plot.DynamicsCharts.lyapunovSpectra(labels?.ToArray() ?? Array.Empty<string>(), core));
    }
}
