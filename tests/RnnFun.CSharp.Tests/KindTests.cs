using RnnFun.CSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace CSharp.Tests;

/// <summary>Kinds as data, and a kind of one's own written in C#.</summary>
public class KindTests
{
    /// <summary>h' = (1 - a) h + a softplus(W_rec h + drive), with the leak a as a setting.</summary>
    private static RnnKind LeakySoftplus(double leak) =>
        RnnKind.Custom(
            "leaky-softplus-cs",
            (w, h, drive) => h * (1.0 - leak) + nn.functional.softplus(addmm(drive, h, w["w_rec"].t(), 1.0f, 1.0f)) * leak,
            timeScale: leak,
            settings: new Dictionary<string, object> { ["leak"] = leak },
            withSettings: s => LeakySoftplus((double)s["leak"]));

    [Fact]
    public void Built_in_kinds_are_described_as_data()
    {
        using var ct = RnnNetwork.Create(NetworkKind.Ctrnn, inputSize: 2, units: 6, outputSize: 1, dt: 10, tau: 50);
        var kind = ct.KindInfo;
        Assert.Equal("ctrnn", kind.Name);
        Assert.True(kind.IsBuiltIn);
        Assert.True(kind.HasClosedFormJacobian);
        Assert.True(kind.HasHandWrittenRecurrence);
        Assert.Equal(0.2, kind.TimeScale!.Value, 12);
        Assert.Equal(10.0, kind.Settings["dt"]);
        Assert.Equal("state", kind.Settings["readout"]);
        Assert.Equal(new[] { "h" }, ct.StateLayout.Blocks.Select(b => b.Name));
        Assert.Equal(6, ct.StateSize);
        Assert.Equal("h", ct.StateLayout.ReadoutBlock);
        var roles = ct.Parameters.ToDictionary(p => p.Name, p => p.Role);
        Assert.Equal(ParameterRole.Input, roles["w_in"]);
        Assert.Equal(ParameterRole.Recurrent, roles["w_rec"]);
        Assert.Equal(ParameterRole.RecurrentBias, roles["b_rec"]);
        Assert.Equal(ParameterRole.Output, roles["w_out"]);
        Assert.Equal(new[] { "w_in", "w_rec", "b_rec", "w_out", "b_in", "b_out" }, RnnKind.Rnn.Parameters(2, 6, 1).Select(p => p.Name));
        Assert.Null(RnnKind.Rnn.TimeScale);
        Assert.Equal(new[] { "rnn", "ctrnn", "gru", "lstm", "ugrnn" }, RnnKind.BuiltIn.Select(k => k.Name));
    }

    [Fact]
    public void Gated_kinds_are_built_in_train_and_round_trip()
    {
        var lstmParameters = RnnKind.Lstm.Parameters(2, 5, 1);
        Assert.Equal(new[] { "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "w_out", "b_out" }, lstmParameters.Select(p => p.Name));
        var hh = lstmParameters.Single(p => p.Name == "weight_hh_l0");
        Assert.Equal(ParameterRole.RecurrentBlocks, hh.Role);
        Assert.Equal(4, hh.Blocks);
        Assert.Equal(new[] { 20, 5 }, hh.Shape);
        Assert.Equal(ParameterRole.InputBlocks, lstmParameters.Single(p => p.Name == "weight_ih_l0").Role);
        Assert.Equal(3, RnnKind.Gru.Parameters(2, 5, 1).Single(p => p.Name == "weight_hh_l0").Blocks);
        Assert.Equal(2, RnnKind.Ugrnn.Parameters(2, 5, 1).Single(p => p.Name == "weight_hh_l0").Blocks);
        foreach (var (kind, expected, stateSize) in new[] { (NetworkKind.Gru, "gru", 6), (NetworkKind.Lstm, "lstm", 12), (NetworkKind.Ugrnn, "ugrnn", 6) })
        {
            using var net = RnnNetwork.Create(kind, inputSize: 2, units: 6, outputSize: 2, seed: 1);
            Assert.Equal(kind, net.Kind);
            Assert.Equal(expected, net.KindInfo.Name);
            Assert.True(net.KindInfo.IsBuiltIn);
            Assert.True(net.KindInfo.HasClosedFormJacobian);
            // gru and lstm have a hand-written forward and backward pass; the ugrnn goes through autograd.
            Assert.Equal(kind != NetworkKind.Ugrnn, net.KindInfo.HasHandWrittenRecurrence);
            Assert.Equal(stateSize, net.StateSize);
            Assert.All(net.Parameters, p => Assert.True(p.Trainable, $"{p.Name} trained by default"));
            Assert.Equal(ParameterRole.RecurrentBlocks, net.Parameters.Single(p => p.Name == "weight_hh_l0").Role);
            using var trained = Trainer.Fit(net, Tasks.FlipFlop(bits: 2, time: 16), 64,
                new TrainingOptions { Epochs = 4, BatchSize = 16, LearningRate = 1e-2, KeepBest = false });
            Assert.True(trained.Losses[^1] < trained.Losses[0], $"{expected}: the loss falls");
            var path = Path.Combine(Path.GetTempPath(), $"rnnfun-csharp-{expected}-{Guid.NewGuid():N}.json");
            try
            {
                trained.Network.Save(path);
                using var back = RnnNetwork.Load(path);
                Assert.Equal(kind, back.Kind);
                Assert.Equal(trained.Network.GetMatrix("weight_hh_l0"), back.GetMatrix("weight_hh_l0"));
            }
            finally
            {
                if (File.Exists(path)) File.Delete(path);
            }
        }
        var dale = Assert.Throws<ArgumentException>(() => RnnNetwork.Create(NetworkKind.Gru, units: 4, daleRatio: 0.5));
        Assert.Contains("dale_ratio", dale.Message);
    }

    [Fact]
    public void A_kind_of_your_own_trains_is_analysed_and_round_trips()
    {
        using var net = RnnNetwork.Create(LeakySoftplus(0.25), inputSize: 2, units: 8, outputSize: 2, seed: 3, float64: true,
            trainable: new Dictionary<string, bool> { ["w_in"] = true, ["w_out"] = true });
        Assert.Equal(NetworkKind.Custom, net.Kind);
        Assert.Equal("leaky-softplus-cs", net.KindInfo.Name);
        Assert.False(net.KindInfo.HasHandWrittenRecurrence);
        using var trained = Trainer.Fit(net, Tasks.FlipFlop(bits: 2, time: 16), 64,
            new TrainingOptions { Epochs = 4, BatchSize = 16, LearningRate = 1e-2, KeepBest = false });
        Assert.True(trained.Losses[^1] < trained.Losses[0], "the loss falls");
        var search = FixedPointFinder.Find(trained.Network, InitialStates.UniformBox(128, 8, -0.5, 2.0));
        Assert.NotEmpty(search.FixedPoints);
        Assert.All(search.FixedPoints, p =>
        {
            Assert.True(p.Q < 1e-20, $"q = {p.Q}");
            // Continuous-time eigenvalues from the kind's time scale.
            Assert.Equal((p.Eigenvalues[0] - 1.0) / 0.25, p.ContinuousEigenvalues![0]);
        });
        var graph = TopologyGraph.Build(trained.Network, search.FixedPoints);
        Assert.Equal(search.FixedPoints.Count, graph.Vertices.Count);
        var path = Path.Combine(Path.GetTempPath(), $"rnnfun-csharp-kind-{Guid.NewGuid():N}.json");
        try
        {
            trained.Network.Save(path);
            var unknown = Assert.Throws<RnnFileFormatException>(() => RnnNetwork.Load(path));
            Assert.Contains("leaky-softplus-cs", unknown.Message);
            Assert.Contains("rnn, ctrnn", unknown.Message);
            using var back = RnnNetwork.Load(path, float64: true, kinds: new[] { LeakySoftplus(0.9) });
            Assert.Equal(0.25, back.KindInfo.TimeScale);
            Assert.Equal(0.25, back.KindInfo.Settings["leak"]);
            Assert.Equal(trained.Network.GetMatrix("w_rec"), back.GetMatrix("w_rec"));
        }
        finally
        {
            if (File.Exists(path)) File.Delete(path);
        }
    }

    [Fact]
    public void Bad_kinds_fail_with_a_message()
    {
        Assert.Throws<ArgumentException>(() => RnnKind.Custom("rnn", (w, h, d) => h));
        Assert.Throws<ArgumentException>(() => RnnKind.Custom("x", (w, h, d) => h, timeScale: 2.0));
        var noBlocks = RnnKind.Custom("no-blocks", (w, h, d) => h, layout: (i, u, o) => new StateLayout(Array.Empty<StateBlock>(), "h", "h"));
        var error = Assert.Throws<ArgumentException>(() => RnnNetwork.Create(noBlocks, units: 3));
        Assert.Contains("no state block", error.Message);
    }
}
