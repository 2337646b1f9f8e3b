using Microsoft.FSharp.Core;
using Core = RnnFun;
using Plot = RnnFun.Plotting;

namespace RnnFun.CSharp;

/// <summary>One interactive figure (a Plotly chart). Save it as a page that opens offline, or embed its HTML.</summary>
public sealed class Figure
{
    private readonly Plotly.NET.GenericChart _chart;

    internal Figure(Plotly.NET.GenericChart chart) => _chart = chart;

    /// <summary>A standalone HTML page with plotly.js embedded (no network needed to view it).</summary>
    /// <param name="title">The page title.</param>
    /// <returns>The HTML document.</returns>
    public string ToHtml(string title = "RnnFun figure") =>
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + System.Net.WebUtility.HtmlEncode(title) + "</title><script>"
        + Plot.Report.plotlyJs() + "</script></head><body>" + Plot.Report.chartFragment("figure", _chart) + "</body></html>";

    /// <summary>Writes <see cref="ToHtml"/> to a file.</summary>
    /// <param name="path">The HTML file to write.</param>
    /// <param name="title">The page title.</param>
    public void SaveHtml(string path, string title = "RnnFun figure") => File.WriteAllText(path, ToHtml(title));
}

/// <summary>
/// The figures of RnnFun's results (the same as in the report). Fixed points are coloured by their
/// number of unstable modes everywhere: 0 seagreen, 1 salmon, 2 skyblue, 3 or more magenta.
/// </summary>
public static class Figures
{
    /// <summary>Training loss (log scale), validation loss and learning rate per epoch.</summary>
    /// <param name="training">A training run.</param>
    /// <returns>The figure.</returns>
    public static Figure Training(TrainingResult training) =>
        new(Plot.Charts.training(Core.TrainingSummary.ofFit(training.Inner)));

    /// <summary>W_in, W_rec and W_out heatmaps, each on its own symmetric colour scale.</summary>
    /// <param name="network">The network.</param>
    /// <returns>The figure.</returns>
    public static Figure Weights(RnnNetwork network) =>
        new(Plot.Charts.weights(Core.ModelSummary.ofNetwork(network.Inner), FSharpOption<Microsoft.FSharp.Collections.FSharpList<Core.RegionSpan>>.None));

    /// <summary>Explained variance per principal component and cumulative, with a threshold.</summary>
    /// <param name="pca">A PCA fitted with all components.</param>
    /// <param name="threshold">The share of variance to mark.</param>
    /// <returns>The figure.</returns>
    public static Figure Dimensionality(PcaModel pca, double threshold = 0.85) =>
        Interop.Call(() => new Figure(Plot.Charts.dimensionality(pca.Inner, threshold)));

    /// <summary>Trajectories in the first three principal components, with the fixed points and their unstable directions.</summary>
    /// <param name="pca">The PCA (at least three components for a 3-D view).</param>
    /// <param name="states">Hidden states [trials, time, units].</param>
    /// <param name="fixedPoints">The fixed points to draw, or null.</param>
    /// <returns>The figure.</returns>
    public static Figure StateSpace(PcaModel pca, float[,,] states, FixedPointSearch? fixedPoints = null)
    {
        int trials = states.GetLength(0), time = states.GetLength(1), units = states.GetLength(2);
        var trajectories = new double[trials][][];
        for (int b = 0; b < trials; b++)
        {
            trajectories[b] = new double[time][];
            for (int t = 0; t < time; t++)
            {
                trajectories[b][t] = new double[units];
                for (int u = 0; u < units; u++) trajectories[b][t][u] = states[b, t, u];
            }
        }
        var points = fixedPoints?.Inner.FixedPoints ?? Array.Empty<Core.FixedPoint>();
        return Interop.Call(() => new Figure(Plot.Charts.stateSpace(pca.Inner, trajectories, points)));
    }

    /// <summary>Sorted eigenvalue moduli of every fixed point, with the line at 1.</summary>
    /// <param name="fixedPoints">A fixed-point search.</param>
    /// <returns>The figure.</returns>
    public static Figure EigenvalueModuli(FixedPointSearch fixedPoints) =>
        new(Plot.Charts.eigenvalueModuli(fixedPoints.Inner.FixedPoints));

    /// <summary>The topology graph: fixed points and where the flow goes between them.</summary>
    /// <param name="topology">The graph.</param>
    /// <param name="fixedPoints">Its fixed points (for positions and colours).</param>
    /// <param name="pca">Positions on the first two principal components; null: layered by unstable modes.</param>
    /// <param name="layered">With a PCA, still one row per number of unstable modes (ordered by PC1), so that no saddle sits over an attractor.</param>
    /// <returns>The figure.</returns>
    public static Figure Topology(TopologyGraph topology, FixedPointSearch fixedPoints, PcaModel? pca = null, bool layered = false) =>
        new(Plot.Charts.topologyWith(
            layered ? Plot.TopologyLayout.Layered : Plot.TopologyLayout.PcaPlane,
            topology.Inner,
            pca is null ? FSharpOption<Core.PcaFit>.None : FSharpOption<Core.PcaFit>.Some(pca.Inner),
            fixedPoints.Inner.FixedPoints));
}
