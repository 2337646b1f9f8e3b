using System.Text.Json;
using RnnFun.CSharp;

namespace CSharp.Tests;

/// <summary>The facade's PyTorch interop against the fixtures PyTorch wrote (tests/fixtures/pytorch).</summary>
public class PyTorchTests
{
    private static string Fixture(string name)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RnnFun.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        return Path.Combine(dir!.FullName, "tests", "fixtures", "pytorch", name);
    }

    private static IEnumerable<double> Flatten(JsonElement e) =>
        e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().SelectMany(Flatten) : new[] { e.GetDouble() };

    [Fact]
    public void An_imported_GRU_matches_PyTorchs_outputs()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixture("gru.json")));
        var input = doc.RootElement.GetProperty("input");
        int batch = input.GetArrayLength(), time = input[0].GetArrayLength(), inputs = input[0][0].GetArrayLength();
        var flat = Flatten(input).ToArray();
        var x = new float[batch, time, inputs];
        for (int b = 0, k = 0; b < batch; b++)
            for (int t = 0; t < time; t++)
                for (int i = 0; i < inputs; i++) x[b, t, i] = (float)flat[k++];
        using var net = PyTorchFile.Import(Fixture("gru.pt"), PyTorchArchitecture.Gru);
        Assert.Equal(NetworkKind.Gru, net.Kind);
        var outputs = net.Unroll(x).Outputs.Cast<float>().ToArray();
        var expected = Flatten(doc.RootElement.GetProperty("outputs")).ToArray();
        Assert.Equal(expected.Length, outputs.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(outputs[i] - expected[i]) <= 1e-5, $"output {i}: {outputs[i]} vs PyTorch's {expected[i]}");
    }

    [Fact]
    public void A_pyrnn_CTRNN_takes_dt_tau_and_Dale_from_its_params_and_exports_back()
    {
        using var net = PyTorchFile.Import(Fixture("pyrnn_ctrnn.safetensors"), PyTorchArchitecture.PyrnnCtrnn, paramsPath: Fixture("pyrnn_ctrnn.params.json"));
        Assert.Equal(10.0, net.Dt);
        Assert.Equal(50.0, net.Tau);
        Assert.Equal(0.6, net.DaleRatio);
        var dir = Path.Combine(Path.GetTempPath(), $"rnnfun-csharp-{Guid.NewGuid():N}");
        try
        {
            var written = PyTorchFile.Export(net, Path.Combine(dir, "ct.pt"));
            Assert.Equal(new[] { Path.Combine(dir, "ct.pt"), Path.Combine(dir, "ct.params.json") }, written);
            using var back = PyTorchFile.Import(written[0], PyTorchArchitecture.PyrnnCtrnn, paramsPath: written[1]);
            Assert.Equal(net.GetMatrix("w_rec").Cast<double>(), back.GetMatrix("w_rec").Cast<double>());
            Assert.Equal(net.Tau, back.Tau);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void What_is_not_supported_is_a_typed_exception_with_one_sentence()
    {
        var e = Assert.Throws<RnnFileFormatException>(() => PyTorchFile.Import(Fixture("errors/rnn_two_layers.pt"), PyTorchArchitecture.Rnn));
        Assert.Contains("one-layer", e.Problem);
        using var ugrnn = RnnNetwork.Create(NetworkKind.Ugrnn, inputSize: 2, units: 3, outputSize: 1);
        var a = Assert.Throws<ArgumentException>(() => PyTorchFile.Export(ugrnn, "never.pt"));
        Assert.Contains("no PyTorch counterpart", a.Message);
        Assert.False(File.Exists("never.pt"));
    }
}
