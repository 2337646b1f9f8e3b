using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using TorchSharp;

namespace RnnFun.CSharp;

/// <summary>The kind of a built-in network.</summary>
public enum NetworkKind
{
    /// <summary>Discrete vanilla network: h' = tanh(W_rec h + b_rec + W_in x).</summary>
    Rnn,
    /// <summary>Continuous-time network (Euler step of size dt, time constant tau).</summary>
    Ctrnn,
}

/// <summary>Outputs and hidden states of a network run over a batch of sequences.</summary>
/// <param name="Outputs">[batch, time, outputs]</param>
/// <param name="States">[batch, time, units]</param>
public sealed record RolloutData(float[,,] Outputs, float[,,] States);

/// <summary>
/// A recurrent network (an immutable RnnFun <c>Network</c>). It owns native tensors: dispose it
/// (<c>using var net = ...</c>).
/// </summary>
public sealed class RnnModel : IDisposable
{
    private readonly Network _network;

    private RnnModel(Network network) => _network = network;

    /// <summary>Creates a network initialised as PyTorch Linear layers from a seed.</summary>
    /// <param name="kind">Discrete or continuous-time.</param>
    /// <param name="inputSize">Number of inputs.</param>
    /// <param name="units">Number of recurrent units.</param>
    /// <param name="outputSize">Number of outputs.</param>
    /// <param name="seed">Seed of the initial weights.</param>
    /// <param name="autapses">False: no unit projects onto itself.</param>
    /// <param name="daleRatio">Fraction of excitatory units (Dale's law), or null for none.</param>
    /// <param name="dt">Time step of a continuous-time network.</param>
    /// <param name="tau">Time constant of a continuous-time network.</param>
    /// <returns>The new network.</returns>
    public static RnnModel Create(
        NetworkKind kind = NetworkKind.Rnn,
        int inputSize = 1,
        int units = 50,
        int outputSize = 1,
        long seed = 0,
        bool autapses = true,
        double? daleRatio = null,
        double dt = 5.0,
        double tau = 100.0)
    {
        var k = kind == NetworkKind.Rnn
            ? Kinds.rnn
            : Kinds.ctrnnWith(new CtrnnConfig(dt, tau, Readout.State));
        var d = NetworkConfig.defaults;
        var constraints = new Constraints(
            autapses,
            daleRatio.HasValue ? FSharpOption<double>.Some(daleRatio.Value) : FSharpOption<double>.None,
            FSharpOption<double[][]>.None,
            FSharpOption<double[][]>.None,
            FSharpOption<double[][]>.None,
            FSharpOption<int[]>.None);
        var config = new NetworkConfig(inputSize, units, outputSize, d.InputBias, d.OutputBias, constraints, d.Trainable, d.Precision, seed);
        return new RnnModel(NetworkModule.create(k, config));
    }

    /// <summary>Reads a model file (format <c>rnnfun.model</c>); throws <c>FileFormatError</c> naming the problem.</summary>
    /// <param name="path">The model file.</param>
    /// <returns>The network in the file.</returns>
    public static RnnModel Load(string path) => new(ModelFile.load(path));

    /// <summary>Writes the network to a model file, atomically.</summary>
    /// <param name="path">Where to write.</param>
    public void Save(string path) => ModelFile.save(path, _network);

    /// <summary>The kind's name: "rnn", "ctrnn" or a user kind's.</summary>
    public string Kind => _network.Kind.Name;

    /// <summary>Number of inputs.</summary>
    public int InputSize => _network.Sizes.Inputs;

    /// <summary>Number of recurrent units.</summary>
    public int Units => _network.Sizes.Units;

    /// <summary>Number of outputs.</summary>
    public int OutputSize => _network.Sizes.Outputs;

    /// <summary>Runs the network over a batch of input sequences from the zero state.</summary>
    /// <param name="inputs">[batch, time, inputs]</param>
    /// <returns>Outputs [batch, time, outputs] and states [batch, time, units].</returns>
    public RolloutData Unroll(float[,,] inputs)
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(inputs);
        using var rollout = NetworkModule.unroll(_network, x);
        return new RolloutData(ToArray3(rollout.Outputs), ToArray3(rollout.States));
    }

    private static float[,,] ToArray3(torch.Tensor t)
    {
        var (b, n, m) = ((int)t.shape[0], (int)t.shape[1], (int)t.shape[2]);
        var flat = t.to_type(torch.ScalarType.Float32).contiguous().data<float>().ToArray();
        var result = new float[b, n, m];
        Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(float));
        return result;
    }

    /// <summary>Frees the network's native tensors.</summary>
    public void Dispose() => ((IDisposable)_network).Dispose();
}
