using RnnFun.CSharp;

namespace CSharp.Tests;

/// <summary>Yang et al.'s battery and its analysis through the facade.</summary>
public class YangBatteryTests
{
    [Fact]
    public void The_battery_has_their_encoding_and_the_analysis_returns_plain_data()
    {
        Assert.Equal(20, YangBattery.Rules.Count);
        Assert.Equal("fdgo", YangBattery.Rules[0]);
        var fd = YangBattery.Rule("fdgo", sigmaX: 0).Generate(3, seed: 1);
        Assert.Equal((85, 33), (fd.InputSize, fd.OutputSize));
        Assert.Equal(1f, fd.Inputs[0, 0, 65]);             // the rule input of fdgo, all trial
        Assert.Equal(0.8f, fd.Targets[0, 0, 0], 5);         // fixate at first
        var mixed = YangBattery.Mixed().Generate(8, seed: 2);
        Assert.NotNull(mixed.OutputMask);
        Assert.Equal("rule", Assert.Throws<ArgumentException>(() => YangBattery.Rule("oic")).ParamName);

        using var network = RnnNetwork.Create(inputSize: 85, units: 12, outputSize: 33, seed: 3);
        var accuracy = YangBattery.Accuracy(network, trials: 4);
        Assert.Equal(20, accuracy.Count);
        Assert.All(accuracy.Values, a => Assert.InRange(a, 0.0, 1.0));
    }
}
