using RnnFun.CSharp;

namespace CSharp.Tests;

public class SimilarityTests
{
    [Fact]
    public void Procrustes_distance_of_the_axis_points_and_their_stretch_is_0_321751()
    {
        var x = new double[,] { { 1, 0 }, { 0, 1 }, { -1, 0 }, { 0, -1 } };
        var y = new double[,] { { 2, 0 }, { 0, 1 }, { -2, 0 }, { 0, -1 } };
        Assert.Equal(0.321751, Similarity.ProcrustesDistance(x, y), 6);
        Assert.Equal(0.0, Similarity.SvccaDistance(x, y), 9);
        Assert.Throws<ArgumentException>(() => Similarity.ProcrustesDistance(x, new double[,] { { 1, 0 } }));
    }

    [Fact]
    public void Operator_distance_to_a_rotated_copy_is_zero()
    {
        var a = new double[,] { { 0.5, 0.2, 0.0 }, { -0.1, 0.7, 0.3 }, { 0.0, 0.0, 0.2 } };
        // Q: a rotation by 0.7 rad about the third axis.
        double c = Math.Cos(0.7), s = Math.Sin(0.7);
        var q = new double[,] { { c, -s, 0 }, { s, c, 0 }, { 0, 0, 1 } };
        var qaq = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 3; k++)
                    for (int l = 0; l < 3; l++) qaq[i, j] += q[i, k] * a[k, l] * q[j, l];
        Assert.True(Similarity.OperatorDistance(a, qaq) < 0.02);
    }

    [Fact]
    public void Compare_gives_symmetric_matrices_and_saves_a_file_that_loads_back()
    {
        using var a = RnnNetwork.Create(NetworkKind.Rnn, inputSize: 2, units: 6, outputSize: 2, seed: 1);
        using var b = RnnNetwork.Create(NetworkKind.Gru, inputSize: 2, units: 5, outputSize: 2, seed: 2);
        var inputs = new float[4, 20, 2];
        for (int i = 0; i < 4; i++)
            for (int t = 0; t < 20; t++) { inputs[i, t, 0] = MathF.Sin(t + i); inputs[i, t, 1] = t % 5 == i ? 1 : 0; }
        var result = Similarity.Compare(new[] { a, b, a }, new[] { "a", "b", "a2" }, inputs, options: new DynamicsOptions { Rank = 3, Delays = 2 });
        var m = result.Procrustes;
        Assert.Equal(3, m.GetLength(0));
        Assert.Equal(m[0, 1], m[1, 0]);
        Assert.True(m[0, 2] < 1e-6);
        Assert.True(m[0, 1] > 1e-3);
        Assert.Equal(new[] { 3, 2 }, new[] { result.Embedding("svcca").GetLength(0), result.Embedding("svcca").GetLength(1) });
        Assert.Throws<ArgumentException>(() => result.Embedding("topology"));
        var path = Path.Combine(Path.GetTempPath(), $"rnnfun-cmp-{Guid.NewGuid():N}.json");
        try
        {
            result.Save(path);
            var back = NetworkComparison.Load(path);
            Assert.Equal(result.Names, back.Names);
            Assert.Equal(result.Dynamics[0, 1], back.Dynamics[0, 1]);
        }
        finally { File.Delete(path); }
    }
}
