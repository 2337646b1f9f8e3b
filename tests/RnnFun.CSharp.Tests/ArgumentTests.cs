using RnnFun.CSharp;

namespace CSharp.Tests;

/// <summary>The core's InvalidArgument (an F# exception) reaches C# as ArgumentException with ParamName.</summary>
public class ArgumentTests
{
    private static void AssertNames(string param, Action act)
    {
        var e = Assert.ThrowsAny<ArgumentException>(act);
        Assert.Equal(param, e.ParamName);
        Assert.Contains(param, e.Message);
        Assert.IsNotType<ArgumentNullException>(e);
    }

    [Fact]
    public void Network_arguments()
    {
        AssertNames("units", () => RnnNetwork.Create(units: 0));
        AssertNames("inputSize", () => RnnNetwork.Create(inputSize: -1));
        AssertNames("daleRatio", () => RnnNetwork.Create(daleRatio: 1.5));
        AssertNames("inputMask", () => RnnNetwork.Create(units: 3, inputMask: new double[2, 1]));
        AssertNames("tau", () => RnnNetwork.Create(NetworkKind.Ctrnn, tau: 0));
        AssertNames("trainable", () => RnnNetwork.Create(trainable: new Dictionary<string, bool> { ["nope"] = true }));
        AssertNames("wOut", () => RnnNetwork.FromWeights(new double[2, 1], new double[2, 2], new double[2], new double[1, 3]));
        using var net = RnnNetwork.Create(inputSize: 2, units: 4);
        AssertNames("inputs", () => net.Unroll(new float[1, 5, 3]));
        AssertNames("initialState", () => net.Unroll(new float[1, 5, 2], new float[3]));
        AssertNames("name", () => net.GetMatrix("w_nothing"));
        AssertNames("name", () => net.GetMatrix("b_rec"));
    }

    [Fact]
    public void A_network_too_large_for_memory_throws_InsufficientMemoryException()
    {
        var e = Assert.Throws<InsufficientMemoryException>(() => RnnNetwork.Create(inputSize: 3, units: 1_000_000, outputSize: 3));
        Assert.Contains("1000000-unit network", e.Message);
        Assert.Contains("is available", e.Message);
    }

    [Fact]
    public void Analysis_and_training_arguments()
    {
        using var net = RnnNetwork.Create(inputSize: 1, units: 4);
        AssertNames("initialStates", () => FixedPointFinder.Find(net, new double[5, 3]));
        AssertNames("input", () => FixedPointFinder.Find(net, new double[5, 4], input: new double[2]));
        AssertNames("high", () => InitialStates.UniformBox(3, 4, 1, -1));
        AssertNames("initialStates", () => net.Unroll(new float[2, 5, 1], new float[3, 4]));
        AssertNames("task", () => Trainer.Fit(net, Tasks.FlipFlop(time: 5), trialsPerEpoch: 8));
        AssertNames("point", () => PcaModel.Fit(new double[,] { { 1, 2 }, { 3, 5 } }).Transform(new double[3]));
        AssertNames("count", () => InitialStates.UniformBox(0, 4, -1, 1));
        AssertNames("learningRate", () => Trainer.Fit(net, Tasks.Sine(time: 5).Generate(4), new TrainingOptions { LearningRate = -1 }));
        AssertNames("data", () => Trainer.Fit(net, Tasks.FlipFlop(time: 5).Generate(4)));
        AssertNames("trials", () => Tasks.FlipFlop().Generate(0));
        AssertNames("pulseProbability", () => Tasks.FlipFlop(pulseProbability: 2));
        AssertNames("task", () => Trainer.PresetTask("juggling"));
        AssertNames("threshold", () => PcaModel.Fit(new double[,] { { 1, 2 }, { 3, 5 } }).ComponentsForVariance(0));
        AssertNames("regions", () => new MultiRegionBuilder().Build());
        AssertNames("targets", () => new TaskBatch(new float[2, 3, 1], new float[2, 4, 1]));
    }

    [Fact]
    public void A_bad_file_throws_RnnFileFormatException_naming_it()
    {
        var path = Path.Combine(Path.GetTempPath(), $"rnnfun-csharp-bad-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, "{ \"format\": \"something else\" }");
            var e = Assert.Throws<RnnFileFormatException>(() => RnnNetwork.Load(path));
            Assert.Equal(path, e.FilePath);
            Assert.Contains("format", e.Message);
            Assert.Throws<RnnFileFormatException>(() => FixedPointFinder.Load(path));
            Assert.Throws<RnnFileFormatException>(() => TopologyGraph.Load(path));
            Assert.Throws<RnnFileFormatException>(() => RnnNetwork.Load(path + ".missing"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
