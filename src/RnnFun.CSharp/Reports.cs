using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using Core = RnnFun;
using Plot = RnnFun.Plotting;

namespace RnnFun.CSharp;

/// <summary>
/// One self-contained HTML report (plotly.js embedded once, no external URL: it opens offline) of a
/// network, its training and its analysis. Sections whose input is not given say so.
/// </summary>
public static class Reports
{
    /// <summary>The report as HTML text.</summary>
    /// <param name="network">The model: its configuration table and weights.</param>
    /// <param name="training">A training run: curves and summary (its network is used when <paramref name="network"/> is null).</param>
    /// <param name="trials">Example trials: run through the network for the trial, activity and state-space figures.</param>
    /// <param name="fixedPoints">A fixed-point search: table, state space, eigenvalues.</param>
    /// <param name="topology">The fixed points' topology graph.</param>
    /// <param name="title">The page title.</param>
    /// <param name="continuation">A continuation: a section with its bifurcations, diagram and eigenvalues (shown only when given).</param>
    /// <param name="lyapunov">Lyapunov spectra: a section with their table and figure (shown only when given).</param>
    /// <param name="selection">With <paramref name="fixedPoints"/>: a section with every point's slow modes and their selection vectors (<see cref="LinearAnalysis.SlowModes"/> with its defaults).</param>
    /// <param name="perturbationPoints">Points whose linearisation is checked against the network (<see cref="LinearAnalysis.PerturbationCheck"/> with its defaults): a section shown only when given.</param>
    /// <returns>The HTML document.</returns>
    public static string ToHtml(
        RnnNetwork? network = null,
        TrainingResult? training = null,
        TaskBatch? trials = null,
        FixedPointSearch? fixedPoints = null,
        TopologyGraph? topology = null,
        string title = "RnnFun report",
        ContinuationResultInfo? continuation = null,
        IReadOnlyList<LyapunovSpectrumInfo>? lyapunov = null,
        bool selection = false,
        IReadOnlyList<FixedPointInfo>? perturbationPoints = null) =>
        Interop.Call(() => Plot.Report.html(Inputs(network, training, trials, fixedPoints, topology, title, continuation, lyapunov, selection, perturbationPoints)));

    /// <summary>Writes the report to a file, atomically (the previous file stays intact on failure).</summary>
    /// <param name="path">The HTML file to write.</param>
    /// <param name="network">The model: its configuration table and weights.</param>
    /// <param name="training">A training run: curves and summary.</param>
    /// <param name="trials">Example trials, run through the network.</param>
    /// <param name="fixedPoints">A fixed-point search.</param>
    /// <param name="topology">The fixed points' topology graph.</param>
    /// <param name="title">The page title.</param>
    /// <param name="continuation">A continuation (a section shown only when given).</param>
    /// <param name="lyapunov">Lyapunov spectra (a section shown only when given).</param>
    /// <param name="selection">With <paramref name="fixedPoints"/>: the slow modes' selection vectors (a section).</param>
    /// <param name="perturbationPoints">Points whose linearisation is checked against the network (a section shown only when given).</param>
    public static void Save(
        string path,
        RnnNetwork? network = null,
        TrainingResult? training = null,
        TaskBatch? trials = null,
        FixedPointSearch? fixedPoints = null,
        TopologyGraph? topology = null,
        string title = "RnnFun report",
        ContinuationResultInfo? continuation = null,
        IReadOnlyList<LyapunovSpectrumInfo>? lyapunov = null,
        bool selection = false,
        IReadOnlyList<FixedPointInfo>? perturbationPoints = null) =>
        Interop.Call(() => Plot.Report.save(path, Inputs(network, training, trials, fixedPoints, topology, title, continuation, lyapunov, selection, perturbationPoints)));

    private static Plot.ReportInputs Inputs(
        RnnNetwork? network, TrainingResult? training, TaskBatch? trials, FixedPointSearch? fixedPoints, TopologyGraph? topology, string title,
        ContinuationResultInfo? continuation, IReadOnlyList<LyapunovSpectrumInfo>? lyapunov, bool selection, IReadOnlyList<FixedPointInfo>? perturbationPoints)
    {
        if (selection && fixedPoints is null) throw new ArgumentException("selection vectors need the fixed points (fixedPoints)", nameof(selection));
        var d = Plot.ReportInputs.empty;
        var net = network?.Inner ?? training?.Network.Inner;
        var batch = trials?.ToCore();
        var outputs = d.Outputs;
        var states = FSharpOption<double[][][]>.None;
        if (batch is not null && net is not null)
        {
            // The trained network's learnt initial state when it is the one shown.
            var initial = network is null && training is not null ? training.Inner.InitialState : FSharpOption<double[]>.None;
            var run = Core.Pipeline.trajectories(initial, net, batch);
            outputs = run.Outputs;
            states = FSharpOption<double[][][]>.Some(run.States);
        }
        var points = fixedPoints is null
            ? FSharpOption<Core.FixedPoint[]>.None
            : FSharpOption<Core.FixedPoint[]>.Some(fixedPoints.Inner.FixedPoints.Concat(fixedPoints.Inner.SlowPoints).ToArray());
        return new Plot.ReportInputs(
            title,
            net is null ? FSharpOption<Core.ModelSummary>.None : FSharpOption<Core.ModelSummary>.Some(Core.ModelSummary.ofNetwork(net)),
            d.ModelRows,
            d.Regions,
            d.FitConfig,
            training is null ? FSharpOption<Core.TrainingSummary>.None : FSharpOption<Core.TrainingSummary>.Some(Core.TrainingSummary.ofFit(training.Inner)),
            d.TrainingLog,
            Interop.OfObj(batch),
            outputs,
            d.TrialCount,
            states,
            d.Pca,
            d.VarianceThreshold,
            points,
            d.SlowPoints,
            d.Conditions,
            Interop.OfObj(topology?.Inner),
            d.Notes,
            continuation is null ? d.Continuation : FSharpOption<Tuple<Core.ContinuationResult, string>>.Some(Tuple.Create(continuation.Inner, "parameter")),
            lyapunov is null
                ? d.Lyapunov
                : FSharpOption<Tuple<string, Core.LyapunovSpectrum>[]>.Some(lyapunov.Select((s, i) => Tuple.Create($"condition {i + 1}", s.ToCore())).ToArray()),
            selection && fixedPoints is not null && net is not null
                ? FSharpOption<Tuple<int, Core.ModeSelection[]>[]>.Some(fixedPoints.Inner.FixedPoints
                    .Where(p => FSharpOption<Core.Linearisation>.get_IsSome(p.Linearisation))
                    .Select(p => Tuple.Create(p.Id, Core.Selection.slowModes(Core.SlowSelectionConfig.defaults, net.Kind.TimeScale, p))).ToArray())
                : d.Selections,
            fixedPoints is null || fixedPoints.Inner.Certificates.Length == 0
                ? d.Certificates
                : FSharpOption<Tuple<int, Core.Certificate>[]>.Some(fixedPoints.Inner.FixedPoints.Zip(fixedPoints.Inner.Certificates, (p, c) => Tuple.Create(p.Id, c)).ToArray()),
            perturbationPoints is null || net is null
                ? d.Perturbation
                : FSharpOption<Core.PerturbationResult[]>.Some(perturbationPoints.Select(p => Core.Perturbation.check(Core.PerturbationConfig.defaults, net, p.Inner)).ToArray()),
            d.PeriodTwo);
    }
}
