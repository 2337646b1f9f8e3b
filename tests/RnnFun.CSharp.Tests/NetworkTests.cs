using RnnFun.CSharp;

namespace CSharp.Tests;

public class NetworkTests
{
    private static float[,,] RandomInputs(int batch, int time, int inputs, int seed)
    {
        var random = new Random(seed);
        var x = new float[batch, time, inputs];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < time; t++)
                for (int i = 0; i < inputs; i++) x[b, t, i] = (float)(random.NextDouble() * 2 - 1);
        return x;
    }

    [Fact]
    public void Create_reports_sizes_kind_and_parameters()
    {
        using var net = RnnNetwork.Create(NetworkKind.Ctrnn, inputSize: 2, units: 8, outputSize: 3, outputBias: true, dt: 10, tau: 50);
        Assert.Equal(NetworkKind.Ctrnn, net.Kind);
        Assert.Equal((2, 8, 3), (net.InputSize, net.Units, net.OutputSize));
        Assert.Equal(10.0, net.Dt);
        Assert.Equal(50.0, net.Tau);
        Assert.Equal(CtrnnReadout.State, net.Readout);
        Assert.False(net.IsFloat64);
        Assert.Equal(new[] { "w_in", "w_rec", "b_rec", "w_out", "b_out" }, net.Parameters.Select(p => p.Name));
        Assert.Equal(new[] { 8, 8 }, net.Parameters.Single(p => p.Name == "w_rec").Shape);
        Assert.Equal(new[] { false, true, true, false, false }, net.Parameters.Select(p => p.Trainable));
        Assert.Equal(8 * 2 + 64 + 8 + 24 + 3, net.ParameterCount);
        Assert.Equal(64 + 8, net.TrainableParameterCount);
        Assert.Equal(8, net.GetMatrix("w_rec").GetLength(0));
        Assert.Equal(3, net.GetVector("b_out").Length);
        using var rnn = RnnNetwork.Create(units: 4);
        Assert.Equal(NetworkKind.Rnn, rnn.Kind);
        Assert.Null(rnn.Dt);
    }

    [Fact]
    public void Constraints_hold_on_the_created_weights()
    {
        using var net = RnnNetwork.Create(units: 10, autapses: false, daleRatio: 0.8, seed: 3);
        var w = net.GetMatrix("w_rec");
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(0.0, w[i, i]);
            for (int j = 0; j < 10; j++)
                Assert.True(j < 8 ? w[i, j] >= 0 : w[i, j] <= 0, $"w_rec[{i},{j}] = {w[i, j]} breaks Dale's law");
        }
        Assert.Equal(0.8, net.DaleRatio);
        Assert.False(net.Autapses);
    }

    [Fact]
    public void FromWeights_keeps_the_weights_and_unrolls_them()
    {
        var wRec = new double[,] { { 0.5, 0 }, { 0, -0.5 } };
        using var net = RnnNetwork.FromWeights(
            wIn: new double[,] { { 1 }, { 1 } }, wRec: wRec, bRec: new double[2], wOut: new double[,] { { 1, 1 } }, float64: true);
        Assert.Equal(wRec, net.GetMatrix("w_rec"));
        var inputs = new float[1, 2, 1];
        inputs[0, 0, 0] = 1f;
        var r = net.Unroll(inputs);
        // h1 = tanh([1, 1]); h2 = tanh(W h1); o = h1 + h2 summed.
        double h1 = Math.Tanh(1);
        Assert.Equal(h1, r.States[0, 0, 0], 6);
        Assert.Equal(Math.Tanh(0.5 * h1), r.States[0, 1, 0], 6);
        Assert.Equal(Math.Tanh(-0.5 * h1), r.States[0, 1, 1], 6);
        Assert.Equal(2 * h1, r.Outputs[0, 0, 0], 5);
    }

    [Fact]
    public void Save_and_Load_round_trip_gives_identical_unroll_outputs()
    {
        var path = Path.Combine(Path.GetTempPath(), $"rnnfun-csharp-{Guid.NewGuid():N}.json");
        try
        {
            using var net = RnnNetwork.Create(NetworkKind.Ctrnn, inputSize: 2, units: 12, outputSize: 2, seed: 7,
                inputBias: true, outputBias: true, daleRatio: 0.75, tau: 40, readout: CtrnnReadout.Rate,
                trainable: new Dictionary<string, bool> { ["w_out"] = true });
            net.Save(path);
            using var loaded = RnnNetwork.Load(path);
            Assert.Equal(net.Kind, loaded.Kind);
            Assert.Equal(40.0, loaded.Tau);
            Assert.Equal(CtrnnReadout.Rate, loaded.Readout);
            Assert.Equal(net.Parameters, loaded.Parameters, (a, b) => a.Name == b.Name && a.Trainable == b.Trainable && a.Shape.SequenceEqual(b.Shape));
            var x = RandomInputs(3, 20, 2, 1);
            var h0 = new float[] { 0.1f, -0.2f, 0.3f, 0, 0, 0, 0, 0, 0, 0, 0, 0.5f };
            var a = net.Unroll(x, h0);
            var b = loaded.Unroll(x, h0);
            Assert.Equal(a.Outputs.Cast<float>(), b.Outputs.Cast<float>());
            Assert.Equal(a.States.Cast<float>(), b.States.Cast<float>());
            Assert.NotEqual(0f, a.Outputs.Cast<float>().Select(Math.Abs).Max());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(NetworkKind.Gru)]
    [InlineData(NetworkKind.Lstm)]
    [InlineData(NetworkKind.Rnn)]
    public void Outputs_equal_the_outputs_of_Unroll(NetworkKind kind)
    {
        using var net = RnnNetwork.Create(kind, inputSize: 2, units: 6, outputSize: 3, seed: 5);
        var x = RandomInputs(4, 9, 2, 3);
        var expected = net.Unroll(x).Outputs;
        var outputs = net.Outputs(x);
        Assert.Equal(expected.GetLength(0), outputs.GetLength(0));
        Assert.Equal(expected.GetLength(1), outputs.GetLength(1));
        Assert.Equal(expected.GetLength(2), outputs.GetLength(2));
        var largest = expected.Cast<float>().Zip(outputs.Cast<float>(), (a, b) => Math.Abs(a - b)).Max();
        Assert.True(largest < 1e-5f, $"largest difference {largest}");
        Assert.NotEqual(0f, outputs.Cast<float>().Select(Math.Abs).Max());
    }

    [Fact]
    public void A_disposed_network_throws_ObjectDisposedException()
    {
        var net = RnnNetwork.Create(units: 3);
        net.Dispose();
        net.Dispose();
        Assert.Throws<ObjectDisposedException>(() => net.Units);
    }

    [Fact]
    public void MultiRegionBuilder_wires_regions_into_masks_and_a_network()
    {
        var wiring = new MultiRegionBuilder()
            .AddRegion("A", 6, daleRatio: 0.5)
            .AddRegion("B", 4, autapses: false)
            .AddProjection("A", "B", 1.0, fromCells: CellType.Excitatory)
            .AddInput("A")
            .AddOutput("B")
            .AddOutput()
            .WithSeed(2);
        var c = wiring.Build();
        Assert.Equal((1, 10, 2), (c.InputSize, c.Units, c.OutputSize));
        Assert.Equal(new[] { new RegionSpan("A", 0, 6), new RegionSpan("B", 6, 4) }, c.Regions);
        var mask = c.RecurrentMask;
        // Probability 1 from A's 3 excitatory units to every B unit, nothing from B to A or from A's inhibitory units.
        for (int i = 6; i < 10; i++)
            for (int j = 0; j < 6; j++) Assert.Equal(j < 3 ? 1.0 : 0.0, mask[i, j]);
        for (int i = 0; i < 6; i++)
            for (int j = 6; j < 10; j++) Assert.Equal(0.0, mask[i, j]);
        Assert.Equal(0.0, mask[7, 7]);
        Assert.Equal(new[] { 1, 1, 1, -1, -1, -1, 0, 0, 0, 0 }, c.UnitSigns);
        using var net = RnnNetwork.FromMultiRegion(wiring, seed: 5);
        var w = net.GetMatrix("w_rec");
        for (int i = 0; i < 10; i++)
            for (int j = 0; j < 10; j++)
                if (mask[i, j] == 0) Assert.Equal(0.0, w[i, j]);
        Assert.Equal(0.0, net.GetMatrix("w_in")[8, 0]);
    }

    [Fact]
    public void Tasks_generate_consistent_deterministic_batches()
    {
        var task = Tasks.FlipFlop(bits: 2, time: 30);
        Assert.Equal(("flipflop", 2, 2), (task.Name, task.InputSize, task.OutputSize));
        var a = task.Generate(5, seed: 3);
        var b = task.Generate(5, seed: 3);
        Assert.Equal((5, 30, 2, 2), (a.Trials, a.Time, a.InputSize, a.OutputSize));
        Assert.Equal(a.Inputs.Cast<float>(), b.Inputs.Cast<float>());
        Assert.Null(a.Mask);
        // The target is the sign of the last pulse.
        for (int k = 0; k < 2; k++)
        {
            float last = 0;
            for (int t = 0; t < 30; t++)
            {
                if (a.Inputs[0, t, k] != 0) last = a.Inputs[0, t, k];
                Assert.Equal(last, a.Targets[0, t, k]);
            }
        }
        Assert.Equal(2, Tasks.Integrator(time: 10).OutputSize);
        Assert.Equal(1, Tasks.Integrator(time: 10, encoding: HeadingEncoding.Angle).OutputSize);
        Assert.Equal(1, Tasks.Sine(time: 10).Generate(2).InputSize);
    }
}
