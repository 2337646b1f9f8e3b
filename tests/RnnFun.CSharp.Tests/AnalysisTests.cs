using RnnFun.CSharp;

namespace CSharp.Tests;

/// <summary>W_rec = 2I, 3 units, discrete, zero input: F(x) = tanh(2x) coordinate by coordinate, whose
/// 27 fixed points are {-a*, 0, a*}^3 (a* = tanh(2a*)), found once for the class.</summary>
public sealed class DecoupledNetwork : IDisposable
{
    public DecoupledNetwork()
    {
        var w = new double[3, 3];
        for (int i = 0; i < 3; i++) w[i, i] = 2.0;
        Network = RnnNetwork.FromWeights(wIn: new double[3, 1], wRec: w, bRec: new double[3], wOut: new double[1, 3], float64: true);
        Search = FixedPointFinder.Find(Network, InitialStates.UniformBox(1024, 3, -1.5, 1.5, seed: 0));
    }

    public RnnNetwork Network { get; }

    public FixedPointSearch Search { get; }

    public void Dispose() => Network.Dispose();
}

public class AnalysisTests : IClassFixture<DecoupledNetwork>
{
    private readonly DecoupledNetwork _w2i;

    public AnalysisTests(DecoupledNetwork w2i) => _w2i = w2i;

    [Fact]
    public void W_2I_has_27_fixed_points_8_attractors_and_12_with_one_unstable_mode()
    {
        var fps = _w2i.Search.FixedPoints;
        Assert.Equal(27, fps.Count);
        Assert.Equal(8, fps.Count(p => p.Kind == FixedPointType.Attractor));
        Assert.Equal(12, fps.Count(p => p.UnstableModes == 1));
        Assert.Equal(1, fps.Count(p => p.Kind == FixedPointType.Repeller));
        Assert.All(fps, p =>
        {
            Assert.True(p.Q < 1e-20, $"q = {p.Q}");
            Assert.Equal(p.Kind == FixedPointType.Attractor, p.IsStable);
            Assert.Equal(3, p.Eigenvalues.Count);
            Assert.True(p.HasLinearisation);
            Assert.Equal(3, p.Eigenvectors!.Count);
            Assert.Equal(3, p.Jacobian!.GetLength(0));
            Assert.True(p.Iterations > 0);
            Assert.True(p.Converged);
            Assert.Null(p.ContinuousEigenvalues);
            // The number of zero coordinates is the number of unstable modes (eigenvalue 2 there).
            Assert.Equal(p.State.Count(c => Math.Abs(c) < 1e-6), p.UnstableModes);
            Assert.Equal(new[] { 0.0 }, p.Input);
        });
        Assert.Equal(Enumerable.Range(0, 27), fps.Select(p => p.Id));
        Assert.Equal(1024, _w2i.Search.InitialStateCount);
        Assert.Equal(2.0, fps.Single(p => p.UnstableModes == 3).Eigenvalues[0].Magnitude, 8);
    }

    [Fact]
    public void Fixed_points_survive_a_file_round_trip_and_reanalysis()
    {
        var path = Path.Combine(Path.GetTempPath(), $"rnnfun-csharp-fp-{Guid.NewGuid():N}.json");
        try
        {
            _w2i.Search.Save(path);
            var loaded = FixedPointFinder.Load(path);
            Assert.Equal(27, loaded.Count);
            Assert.False(loaded[0].HasLinearisation);
            Assert.Null(loaded[0].Jacobian);
            Assert.Null(loaded[0].Eigenvectors);
            Assert.Null(loaded[0].Iterations);
            var analysed = FixedPointFinder.Analyse(_w2i.Network, loaded);
            Assert.Equal(_w2i.Search.FixedPoints.Select(p => p.Kind), analysed.Select(p => p.Kind));
            Assert.All(analysed, p => Assert.Equal(3, p.Eigenvectors!.Count));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Recheck_gives_another_models_q_and_own_inputs_topology_matches_Build()
    {
        var points = _w2i.Search.FixedPoints;
        Assert.All(FixedPointFinder.Recheck(_w2i.Network, points), p => Assert.True(p.Q < 1e-20, $"q = {p.Q}"));
        // Under W = 1.5 I the points of W = 2I are not fixed: q = 0.5 sum (tanh(1.5 x) - x)^2.
        var w = new double[3, 3];
        for (int i = 0; i < 3; i++) w[i, i] = 1.5;
        using var other = RnnNetwork.FromWeights(wIn: new double[3, 1], wRec: w, bRec: new double[3], wOut: new double[1, 3], float64: true);
        var rechecked = FixedPointFinder.Recheck(other, points);
        for (int k = 0; k < points.Count; k++)
        {
            var expected = 0.5 * points[k].State.Sum(x => Math.Pow(Math.Tanh(1.5 * x) - x, 2));
            Assert.Equal(expected, rechecked[k].Q, 12);
            Assert.Equal(points[k].Eigenvalues, rechecked[k].Eigenvalues);
        }
        var options = new TopologyOptions { RunsPerPoint = 4 };
        var own = TopologyGraph.BuildUnderOwnInputs(_w2i.Network, points, options);
        var one = TopologyGraph.Build(_w2i.Network, points, options: options);
        Assert.Equal(one.Edges, own.Edges);
    }

    [Fact]
    public void Topology_of_W_2I_has_27_vertices_and_consistent_edges()
    {
        var topology = TopologyGraph.Build(_w2i.Network, _w2i.Search.FixedPoints, options: new TopologyOptions { RunsPerPoint = 8 });
        Assert.Equal(27, topology.Vertices.Count);
        Assert.Equal(8, topology.Options.RunsPerPoint);
        var ids = topology.Vertices.Select(v => v.Id).ToHashSet();
        Assert.All(topology.Edges, e =>
        {
            Assert.Contains(e.From, ids);
            Assert.Contains(e.To, ids);
            Assert.InRange(e.Probability, 0.0, 1.0);
        });
        // A one-mode saddle's two unstable runs end at the two attractors beside it, 0.5 each.
        var saddle = _w2i.Search.FixedPoints.First(p => p.UnstableModes == 1);
        var unstable = topology.Edges.Where(e => e.From == saddle.Id && e.Method == RunMethod.UnstableMode).ToList();
        Assert.Equal(2, unstable.Count);
        Assert.All(unstable, e => Assert.Equal(FixedPointType.Attractor, topology.Vertices.Single(v => v.Id == e.To).Kind));
        Assert.All(unstable, e => Assert.Equal(0.5, e.Probability));
        var graph = topology.ToQuikGraph();
        Assert.Equal(27, graph.VertexCount);
        Assert.Equal(topology.Edges.Count, graph.EdgeCount);
        Assert.Equal(topology.Edges, graph.Edges.Select(e => e.Tag).ToList());
        Assert.StartsWith("digraph", topology.ToDot());

        var path = Path.Combine(Path.GetTempPath(), $"rnnfun-csharp-topology-{Guid.NewGuid():N}.json");
        try
        {
            topology.Save(path);
            var loaded = TopologyGraph.Load(path);
            Assert.Equal(topology.Vertices, loaded.Vertices);
            Assert.Equal(topology.Edges, loaded.Edges);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Pca_sorts_components_by_explained_variance()
    {
        var random = new Random(4);
        double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var data = new double[500, 3];
        for (int i = 0; i < 500; i++)
        {
            data[i, 0] = 1.0 * Gaussian() + 5;
            data[i, 1] = 0.1 * Gaussian();
            data[i, 2] = 3.0 * Gaussian() - 2;
        }
        var pca = PcaModel.Fit(data);
        Assert.Equal((3, 3), (pca.ComponentCount, pca.Dimension));
        var c = pca.Components;
        Assert.True(c[0, 2] > 0.99, $"first component {c[0, 0]}, {c[0, 1]}, {c[0, 2]} is not +e3");
        Assert.True(Math.Abs(c[1, 0]) > 0.99, "second component is not +-e1");
        Assert.True(Math.Abs(c[2, 1]) > 0.99, "third component is not +-e2");
        var ratios = pca.ExplainedVarianceRatio;
        Assert.True(ratios[0] > ratios[1] && ratios[1] > ratios[2], string.Join(", ", ratios));
        Assert.Equal(1.0, ratios.Sum(), 10);
        Assert.Equal(1, pca.ComponentsForVariance());
        Assert.Equal(2, pca.ComponentsForVariance(0.99));
        Assert.Equal(new double[3], pca.Transform(pca.Mean).Select(v => Math.Round(v, 10)));
        var two = PcaModel.Fit(data, components: 2);
        Assert.Equal(2, two.Transform(data).GetLength(1));
    }

    [Fact]
    public void Pca_of_states_projects_trajectories()
    {
        var states = _w2i.Network.Unroll(new float[4, 10, 1], Enumerable.Repeat(0.3f, 3).ToArray()).States;
        states[1, 0, 0] = -0.5f;
        var pca = PcaModel.FitStates(states, components: 2);
        Assert.Equal(3, pca.Dimension);
        var projected = pca.TransformStates(states);
        Assert.Equal(new[] { 4, 10, 2 }, new[] { projected.GetLength(0), projected.GetLength(1), projected.GetLength(2) });
    }

    [Fact]
    public void Report_shows_selection_vectors_and_perturbation_checks_only_when_asked()
    {
        var plain = Reports.ToHtml(_w2i.Network, fixedPoints: _w2i.Search);
        Assert.DoesNotContain("Selection vectors", plain);
        Assert.DoesNotContain("Perturbation checks", plain);
        var html = Reports.ToHtml(_w2i.Network, fixedPoints: _w2i.Search, selection: true, perturbationPoints: new[] { _w2i.Search.FixedPoints[0] });
        Assert.Contains("Selection vectors", html);
        Assert.Contains("Perturbation checks", html);
        Assert.Throws<ArgumentException>(() => Reports.ToHtml(_w2i.Network, selection: true));
    }

    [Fact]
    public void Report_of_W_2I_is_one_offline_page_with_every_section()
    {
        var topology = TopologyGraph.Build(_w2i.Network, _w2i.Search.FixedPoints);
        var trials = Tasks.FlipFlop(bits: 1, time: 20).Generate(trials: 4, seed: 1);
        var html = Reports.ToHtml(_w2i.Network, trials: trials, fixedPoints: _w2i.Search, topology: topology, title: "W = 2I");
        foreach (var section in new[] { "Model and training configuration", "Training curves", "Example trials", "Weights", "Dimensionality", "Fixed points", "Topology" })
            Assert.Contains(section, html);
        Assert.DoesNotContain("<script src=", html);
        Assert.Contains("W = 2I", html);
        var path = Path.Combine(Path.GetTempPath(), $"rnnfun-report-{Guid.NewGuid():N}.html");
        try
        {
            Reports.Save(path, _w2i.Network, fixedPoints: _w2i.Search);
            Assert.True(new FileInfo(path).Length > 100_000, "plotly.js is embedded");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Figures_render_as_offline_pages()
    {
        var topology = TopologyGraph.Build(_w2i.Network, _w2i.Search.FixedPoints);
        var trials = Tasks.FlipFlop(bits: 1, time: 20).Generate(trials: 4, seed: 1);
        // W = 2I has W_in = 0 (its states stay at 0): a random network of the same size moves.
        using var moving = RnnNetwork.Create(inputSize: 1, units: 3, outputSize: 1, seed: 1);
        var states = moving.Unroll(trials.Inputs).States;
        var pca = PcaModel.FitStates(states);
        var figures = new[]
        {
            Figures.Weights(_w2i.Network),
            Figures.Dimensionality(pca),
            Figures.StateSpace(pca, states, _w2i.Search),
            Figures.EigenvalueModuli(_w2i.Search),
            Figures.Topology(topology, _w2i.Search),
            Figures.Topology(topology, _w2i.Search, PointsPca(_w2i.Search), layered: true),
        };
        foreach (var figure in figures)
        {
            var html = figure.ToHtml();
            Assert.Contains("Plotly.newPlot", html);
            Assert.DoesNotContain("<script src=", html);
        }
        Assert.Contains("in the order of PC1", figures[^1].ToHtml());
    }

    /// A PCA of the fixed points' states.
    private static PcaModel PointsPca(FixedPointSearch search)
    {
        var points = search.FixedPoints;
        var data = new double[points.Count, points[0].State.Length];
        for (var i = 0; i < points.Count; i++)
            for (var j = 0; j < points[i].State.Length; j++)
                data[i, j] = points[i].State[j];
        return PcaModel.Fit(data);
    }
}
