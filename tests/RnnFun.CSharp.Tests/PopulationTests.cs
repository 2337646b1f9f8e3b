using RnnFun.CSharp;

namespace CSharp.Tests;

public class PopulationTests
{
    private static RnnNetwork Network(int seed) =>
        RnnNetwork.Create(inputSize: 3, units: 8, outputSize: 3, seed: seed, float64: true,
            trainable: new Dictionary<string, bool> { ["w_in"] = true, ["w_out"] = true });

    [Fact]
    public void Networks_trained_together_equal_the_same_networks_trained_one_by_one()
    {
        var data = Tasks.FlipFlop(time: 16).Generate(64, seed: 3);
        using var a = Network(1);
        using var b = Network(2);
        var options = new[]
        {
            new TrainingOptions { BatchSize = 32, Epochs = 3, LearningRate = 1e-2, Seed = 1 },
            new TrainingOptions { BatchSize = 32, Epochs = 3, LearningRate = 3e-3, Seed = 2, RecurrentNoise = 0.05 },
        };
        var together = PopulationTrainer.Fit(new[] { a, b }, data, options);
        try
        {
            Assert.Equal(2, together.Count);
            Assert.True(PopulationTrainer.Supports(a));
            for (var i = 0; i < 2; i++)
            {
                using var alone = Trainer.Fit(i == 0 ? a : b, data, options[i]);
                Assert.Equal(alone.Steps, together[i].Steps);
                Assert.Equal(alone.StopReason, together[i].StopReason);
                var x = together[i].Network.GetMatrix("w_rec");
                var y = alone.Network.GetMatrix("w_rec");
                for (var r = 0; r < x.GetLength(0); r++)
                    for (var c = 0; c < x.GetLength(1); c++)
                        Assert.True(Math.Abs(x[r, c] - y[r, c]) < 1e-8, $"w_rec[{r},{c}]: {x[r, c]} vs {y[r, c]}");
            }
        }
        finally
        {
            foreach (var r in together) r.Dispose();
        }
    }

    [Fact]
    public void Networks_of_different_sizes_are_refused_with_an_ArgumentException()
    {
        var data = Tasks.FlipFlop(time: 8).Generate(16, seed: 1);
        using var a = Network(1);
        using var b = RnnNetwork.Create(inputSize: 3, units: 6, outputSize: 3, seed: 2);
        Assert.ThrowsAny<ArgumentException>(() => PopulationTrainer.Fit(new[] { a, b }, data));
        Assert.ThrowsAny<ArgumentException>(() => PopulationTrainer.Fit(new[] { a }, data, new[] { new TrainingOptions(), new TrainingOptions() }));
    }
}
