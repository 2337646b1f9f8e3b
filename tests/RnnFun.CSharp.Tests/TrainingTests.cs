using RnnFun.CSharp;

namespace CSharp.Tests;

/// <summary>An IProgress that records synchronously on the reporting thread (Progress&lt;T&gt; posts asynchronously).</summary>
internal sealed class Recorder<T> : IProgress<T>
{
    private readonly Action<T>? _onReport;

    public Recorder(Action<T>? onReport = null) => _onReport = onReport;

    public List<T> Reports { get; } = new();

    public void Report(T value)
    {
        Reports.Add(value);
        _onReport?.Invoke(value);
    }
}

public class TrainingTests
{
    private static RnnNetwork FlipFlopNetwork() =>
        RnnNetwork.Create(inputSize: 3, units: 16, outputSize: 3, seed: 1,
            trainable: new Dictionary<string, bool> { ["w_in"] = true, ["w_out"] = true });

    private static readonly TrainingOptions Short = new()
    {
        BatchSize = 32,
        Epochs = 6,
        LearningRate = 1e-2,
        Clipping = GradientClipping.GlobalNorm,
        ClippingThreshold = 1.0,
        Seed = 1,
    };

    [Fact]
    public void A_short_flip_flop_training_lowers_the_loss_and_reports_progress()
    {
        var data = Tasks.FlipFlop(time: 32).Generate(128, seed: 1);
        using var net = FlipFlopNetwork();
        var before = net.GetMatrix("w_rec");
        var progress = new Recorder<TrainingProgressInfo>();
        using var result = Trainer.Fit(net, data, Short, progress);
        Assert.Equal(StopReason.Completed, result.StopReason);
        Assert.Equal(6, result.Losses.Count);
        Assert.Equal(6, result.LearningRates.Count);
        Assert.Empty(result.ValidationLosses);
        Assert.True(result.Losses[^1] < 0.8 * result.Losses[0], "losses: " + string.Join(", ", result.Losses));
        Assert.Equal(6 * 4, result.Steps);
        Assert.Equal(24, progress.Reports.Count);
        Assert.Equal((1, 1), (progress.Reports[0].Epoch, progress.Reports[0].Batch));
        Assert.Equal((6, 4, 6, 4), (progress.Reports[^1].Epoch, progress.Reports[^1].Batch, progress.Reports[^1].Epochs, progress.Reports[^1].Batches));
        Assert.InRange(result.BestEpoch, 1, 6);
        Assert.Null(result.InitialState);
        // The given network is unchanged; the result's is new.
        Assert.Equal(before, net.GetMatrix("w_rec"));
        Assert.NotEqual(before, result.Network.GetMatrix("w_rec"));
    }

    [Fact]
    public void A_cancelled_token_stops_training_with_StopReason_Cancelled()
    {
        var data = Tasks.FlipFlop(time: 16).Generate(64, seed: 2);
        using var net = FlipFlopNetwork();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        using var result = Trainer.Fit(net, data, Short, cancellationToken: cts.Token);
        Assert.Equal(StopReason.Cancelled, result.StopReason);
        Assert.Equal(1, result.Steps);
        Assert.Equal(1, result.StoppedAtEpoch);
    }

    [Fact]
    public void Cancelling_from_progress_stops_after_that_step()
    {
        var task = Tasks.FlipFlop(time: 16);
        using var net = FlipFlopNetwork();
        using var cts = new CancellationTokenSource();
        var progress = new Recorder<TrainingProgressInfo>(p => { if (p.Batch == 3) cts.Cancel(); });
        using var result = Trainer.Fit(net, task, trialsPerEpoch: 160,
            new TrainingOptions { BatchSize = 32, Epochs = 10, TrainInitialState = true }, progress, cts.Token);
        Assert.Equal(StopReason.Cancelled, result.StopReason);
        Assert.Equal(3, result.Steps);
        Assert.Equal(3, progress.Reports.Count);
        Assert.Equal(16, result.InitialState!.Length);
    }

    [Fact]
    public void A_preset_trains_for_the_epochs_asked()
    {
        using var result = Trainer.TrainPreset("flipflop", seed: 3, sequenceLength: 8, epochs: 1);
        Assert.Single(result.Losses);
        Assert.Single(result.ValidationLosses);
        Assert.Equal((3, 64, 3), (result.Network.InputSize, result.Network.Units, result.Network.OutputSize));
        Assert.Equal(8, Trainer.PresetTask("flipflop", sequenceLength: 8).Generate(2).Time);
    }

    [Fact]
    public void A_custom_task_trains_with_fresh_trials()
    {
        // Echo the input: target = input, one step at a time.
        var echo = Tasks.Custom("echo", 1, 1, (trials, seed) =>
        {
            var random = new Random(seed);
            var x = new float[trials, 5, 1];
            for (int i = 0; i < trials; i++)
                for (int t = 0; t < 5; t++) x[i, t, 0] = (float)(random.NextDouble() - 0.5);
            return new TaskBatch(x, (float[,,])x.Clone());
        });
        Assert.Equal("echo", echo.Name);
        using var net = RnnNetwork.Create(units: 8, trainable: new Dictionary<string, bool> { ["w_in"] = true, ["w_out"] = true });
        using var result = Trainer.Fit(net, echo, trialsPerEpoch: 64, new TrainingOptions { BatchSize = 16, Epochs = 5, LearningRate = 1e-2 });
        Assert.Equal(5 * 4, result.Steps);
        Assert.True(result.Losses[^1] < result.Losses[0], "losses: " + string.Join(", ", result.Losses));
    }

    [Fact]
    public void Options_default_to_the_core_defaults()
    {
        var o = new TrainingOptions();
        Assert.Equal((64, 100, 1e-3, true), (o.BatchSize, o.Epochs, o.LearningRate, o.KeepBest));
        Assert.Null(o.StopLoss);
        Assert.Null(o.Threads);
        var f = new FixedPointOptions();
        Assert.Equal((1e-20, 1e-3, true), (f.TolQ, f.TolUnique, f.Float64));
        Assert.Equal(10.0, f.OutlierDistanceScale);
        Assert.Equal((64, 0.15, 1000), (new TopologyOptions().RunsPerPoint, new TopologyOptions().ArrivalDistance, new TopologyOptions().MaxSteps));
    }
}
