using RnnFun.CSharp;

namespace CSharp.Tests;

public class LinearAnalysisTests : IClassFixture<DecoupledNetwork>
{
    private readonly DecoupledNetwork _w2i;

    public LinearAnalysisTests(DecoupledNetwork w2i) => _w2i = w2i;

    [Fact]
    public void Certify_option_and_Certify_agree_all_27_cube_points_certified()
    {
        var search = FixedPointFinder.Find(_w2i.Network, InitialStates.UniformBox(256, 3, -1.5, 1.5, seed: 1), options: new FixedPointOptions { Certify = true });
        Assert.Equal(27, search.FixedPoints.Count);
        Assert.Equal(27, search.Certificates.Count);
        Assert.All(search.Certificates, c =>
        {
            Assert.True(c.IsCertified, c.Description);
            Assert.True(c.Radius > 0.1 && c.Radius < 0.96, $"radius {c.Radius}");
            Assert.Null(c.Reason);
        });
        var again = LinearAnalysis.Certify(_w2i.Network, search.FixedPoints);
        Assert.Equal(search.Certificates.Select(c => c.Radius), again.Select(c => c.Radius));
    }

    [Fact]
    public void Left_eigenvectors_selection_perturbation_lesion_and_participation_ratio_forward_to_the_core()
    {
        var corner = _w2i.Search.FixedPoints.First(p => p.UnstableModes == 0);
        Assert.NotNull(corner.LeftEigenvectors);
        Assert.Equal(3, corner.LeftEigenvectors!.Count);
        Assert.Equal(new[] { 3, 1 }, new[] { corner.InputJacobian!.GetLength(0), corner.InputJacobian.GetLength(1) });
        var modes = LinearAnalysis.Selection(_w2i.Network, corner, modes: 2);
        Assert.Equal(2, modes.Count);
        Assert.All(modes, m => Assert.Single(m.Inputs));
        var checks = LinearAnalysis.PerturbationCheck(_w2i.Network, corner, epsilon: 1e-3, steps: new[] { 1, 3 });
        Assert.NotEmpty(checks);
        Assert.All(checks, c => Assert.True(c.Validity[0] > 0.99, $"{c.Direction}: {c.Validity[0]}"));
        using var lesioned = LinearAnalysis.Lesion(_w2i.Network, new[] { 2 });
        var search = FixedPointFinder.Find(lesioned, InitialStates.UniformBox(256, 3, -1.5, 1.5, seed: 0));
        Assert.Equal(9, search.FixedPoints.Count);
        var cube = new double[8, 3];
        for (int i = 0; i < 8; i++) for (int j = 0; j < 3; j++) cube[i, j] = ((i >> j) & 1) == 1 ? 1.0 : -1.0;
        Assert.Equal(3.0, LinearAnalysis.ParticipationRatio(cube), 12);
    }

    [Fact]
    public void SlowModes_SaveWithSelection_and_LoadSelection_forward_to_the_core()
    {
        var corner = _w2i.Search.FixedPoints.First(p => p.UnstableModes == 0);
        var modes = LinearAnalysis.SlowModes(_w2i.Network, corner, tolerance: 0.9);
        Assert.Equal(3, modes.Count); // lambda = 2 (1 - a*^2) = 0.166, three times
        Assert.All(modes, m => Assert.Equal(corner.State, m.Inputs[0].EndState)); // B = 0
        Assert.Empty(LinearAnalysis.SlowModes(_w2i.Network, corner, tolerance: 0.5));
        Assert.Throws<ArgumentException>(() => LinearAnalysis.SlowModes(_w2i.Network, corner, measure: "fast"));
        var path = Path.Combine(Path.GetTempPath(), $"rnnfun-selection-{Guid.NewGuid():N}.json");
        try
        {
            LinearAnalysis.SaveWithSelection(_w2i.Network, _w2i.Search, path, tolerance: 0.9);
            var back = LinearAnalysis.LoadSelection(path);
            Assert.NotNull(back);
            Assert.Equal(54, back!.Sum(m => m.Count));
        }
        finally { File.Delete(path); }
    }
}
