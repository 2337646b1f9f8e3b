using RnnFun.CSharp;

namespace CSharp.Tests;

public class DynamicsTests
{
    private static RnnNetwork OneUnit(double w) =>
        RnnNetwork.FromWeights(wIn: new double[1, 1], wRec: new[,] { { w } }, bRec: new double[1], wOut: new double[1, 1], float64: true);

    [Fact]
    public void PeriodTwo_traces_the_orbit_of_tanh_minus_s_h_after_its_flip()
    {
        using var net = OneUnit(-1.0);
        var r = Continuation.ScaleRecurrent(net, 0.5, 1.5);
        var b = Assert.Single(Continuation.PeriodTwo(net, r));
        Assert.Equal(1.0, b.FlipParameter, 8);
        Assert.Equal("range", b.Ending);
        for (int k = 1; k < b.States.Length; k++)
        {
            double a = Math.Abs(b.States[k][0]), s = b.Parameter[k];
            Assert.Equal(s, Math.Atanh(a) / a, 8);
            Assert.Equal(-b.States[k][0], b.Partners[k][0], 9);
        }
    }

    [Fact]
    public void ScaleRecurrent_finds_the_pitchfork_of_tanh_w_h_at_w_1_and_three_points_beyond()
    {
        using var net = OneUnit(1.0);
        var r = Continuation.ScaleRecurrent(net, 0.5, 1.5);
        var e = Assert.Single(r.Events);
        Assert.Equal(BifurcationType.Pitchfork, e.Kind);
        Assert.Equal(1.0, e.Parameter, 8);
        Assert.Equal(2, e.NewBranches.Length);
        Assert.Single(r.StatesAt(0.75));
        Assert.Equal(3, r.StatesAt(1.5).Length);
        Assert.All(r.Branches, b => Assert.Equal(b.Parameter.Length, b.States.Length));
        Assert.Contains("plotly", DynamicsFigures.BifurcationDiagram(r).ToHtml());
        Assert.Contains("Continuation and bifurcations", Reports.ToHtml(network: net, continuation: r));
        var path = Path.Combine(Path.GetTempPath(), $"rnnfun-continuation-{Guid.NewGuid():N}.json");
        try
        {
            Continuation.Save(r, path);
            var back = Continuation.Load(path);
            Assert.Equal(r.Branches.Select(b => b.Parameter), back.Branches.Select(b => b.Parameter));
            Assert.Equal(r.Branches.Select(b => b.States), back.Branches.Select(b => b.States));
            Assert.Equal(r.Events.Select(x => (x.Kind, x.Parameter)), back.Events.Select(x => (x.Kind, x.Parameter)));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void VaryInput_refuses_an_input_index_the_network_has_not()
    {
        using var net = OneUnit(2.0);
        var ex = Assert.ThrowsAny<ArgumentException>(() => Continuation.VaryInput(net, 3, -1.0, 1.0));
        Assert.Contains("input", ex.Message);
    }

    [Fact]
    public void Lyapunov_of_tanh_0_9_R_h_is_ln_0_9_twice_and_Kaplan_Yorke_of_the_issue_spectrum_is_2_5()
    {
        double t = 0.9, g = 0.9;
        using var net = RnnNetwork.FromWeights(
            wIn: new double[2, 1], wRec: new[,] { { g * Math.Cos(t), -g * Math.Sin(t) }, { g * Math.Sin(t), g * Math.Cos(t) } },
            bRec: new double[2], wOut: new double[1, 2], float64: true);
        var s = LyapunovSpectra.Compute(net, initialState: new[] { 0.3, -0.2 });
        Assert.All(s.Exponents, l => Assert.Equal(Math.Log(0.9), l, 6));
        Assert.Null(s.PerTimeConstant);
        Assert.Equal(2.5, LyapunovSpectra.KaplanYorke(new[] { 0.5, 0.0, -1.0, -2.0 }), 12);
        Assert.Contains("Lyapunov spectrum", Reports.ToHtml(network: net, lyapunov: new[] { s }));
    }
}
