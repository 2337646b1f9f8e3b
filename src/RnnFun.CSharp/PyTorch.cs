using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>The PyTorch module a state_dict belongs to.</summary>
public enum PyTorchArchitecture
{
    /// <summary><c>torch.nn.RNN</c> (tanh, one layer), with an optional <c>torch.nn.Linear</c> readout.</summary>
    Rnn,
    /// <summary><c>torch.nn.GRU</c> (one layer), with an optional <c>torch.nn.Linear</c> readout.</summary>
    Gru,
    /// <summary><c>torch.nn.LSTM</c> (one layer, no projection), with an optional <c>torch.nn.Linear</c> readout.</summary>
    Lstm,
    /// <summary>pyrnn's <c>RNN</c> (keys w_in, w_rec, w_out).</summary>
    PyrnnRnn,
    /// <summary>pyrnn's <c>CTRNN</c> (pyrnn's RNN keys, with dt and tau from its params JSON).</summary>
    PyrnnCtrnn,
}

/// <summary>The key layout of an exported file.</summary>
public enum PyTorchLayout
{
    /// <summary><c>torch.nn.RNN</c> / <c>GRU</c> / <c>LSTM</c> keys and a <c>torch.nn.Linear</c> readout's (rnn, gru, lstm).</summary>
    Torch,
    /// <summary>pyrnn's <c>RNN</c> / <c>CTRNN</c> keys with pyrnn's params JSON (rnn, ctrnn).</summary>
    Pyrnn,
}

/// <summary>
/// PyTorch interop: state_dicts saved with <c>torch.save(model.state_dict(), path)</c> (.pt) or as
/// .safetensors, read as networks and written from them (docs/formats.md). Forwards to the core's
/// <c>TorchFile</c>.
/// </summary>
public static class PyTorchFile
{
    private static Core.TorchArchitecture ToCore(PyTorchArchitecture a) => a switch
    {
        PyTorchArchitecture.Rnn => Core.TorchArchitecture.Rnn,
        PyTorchArchitecture.Gru => Core.TorchArchitecture.Gru,
        PyTorchArchitecture.Lstm => Core.TorchArchitecture.Lstm,
        PyTorchArchitecture.PyrnnRnn => Core.TorchArchitecture.PyrnnRnn,
        PyTorchArchitecture.PyrnnCtrnn => Core.TorchArchitecture.PyrnnCtrnn,
        _ => throw new ArgumentOutOfRangeException(nameof(a), a, "unknown architecture"),
    };

    /// <summary>Reads a PyTorch state_dict as a network (the caller owns and disposes it).</summary>
    /// <param name="path">A <c>torch.save(model.state_dict())</c> .pt file or a .safetensors file.</param>
    /// <param name="architecture">What the file holds.</param>
    /// <param name="paramsPath">pyrnn's params JSON (dt, tau, dale_ratio, autopses, masks); null: pyrnn's defaults (dt 5, tau 100).</param>
    /// <param name="rnnPrefix">The recurrent module's key prefix ("rnn." for rnn.weight_ih_l0, "" for none); null: found from the keys.</param>
    /// <param name="readoutPrefix">The Linear readout's key prefix ("readout."); null: found from the keys.</param>
    /// <param name="nonlinearity">The nn.RNN's nonlinearity, which a state_dict does not record; only "tanh" is supported.</param>
    /// <param name="dropConstraints">Import pyrnn weights without the params' constraints.</param>
    /// <param name="float64">Build the network in float64.</param>
    /// <returns>The network.</returns>
    /// <exception cref="RnnFileFormatException">The file cannot be read as the architecture; the message says what is supported.</exception>
    public static RnnNetwork Import(
        string path,
        PyTorchArchitecture architecture,
        string? paramsPath = null,
        string? rnnPrefix = null,
        string? readoutPrefix = null,
        string nonlinearity = "tanh",
        bool dropConstraints = false,
        bool float64 = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        var options = new Core.TorchImportOptions(
            ToCore(architecture),
            Interop.OfObj(paramsPath),
            Interop.OfObj(rnnPrefix),
            Interop.OfObj(readoutPrefix),
            nonlinearity ?? "tanh",
            dropConstraints,
            Interop.Precision(float64));
        return new RnnNetwork(Interop.Call(() => Core.TorchFile.importWith(options, path), ("params", nameof(paramsPath))));
    }

    /// <summary>
    /// Writes an rnn, gru, lstm or ctrnn network as a PyTorch state_dict: .safetensors when the name
    /// ends so, a torch.save .pt file otherwise; a ctrnn (or the pyrnn layout) also writes pyrnn's params JSON.
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="path">The file to write.</param>
    /// <param name="layout">null: pyrnn's for a ctrnn, torch's for rnn, gru and lstm.</param>
    /// <param name="rnnPrefix">Prefix of the recurrent module's keys (torch layout).</param>
    /// <param name="readoutPrefix">Prefix of the Linear readout's keys (torch layout).</param>
    /// <param name="paramsPath">Where pyrnn's params JSON goes; null: NAME.params.json beside the file.</param>
    /// <param name="readoutPath">Torch layout: the readout goes to this file as a bare nn.Linear state_dict and only the module's keys to <paramref name="path"/> (with <paramref name="rnnPrefix"/> "" each loads strictly into a bare module); null: both in one file.</param>
    /// <returns>The full paths of the files written.</returns>
    /// <exception cref="ArgumentException">The network has no PyTorch counterpart (a ugrnn, a kind of your own, a ctrnn reading out rates).</exception>
    public static IReadOnlyList<string> Export(
        RnnNetwork network,
        string path,
        PyTorchLayout? layout = null,
        string rnnPrefix = "rnn.",
        string readoutPrefix = "readout.",
        string? paramsPath = null,
        string? readoutPath = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(path);
        var coreLayout = layout switch
        {
            PyTorchLayout.Torch => Interop.Some(Core.TorchLayout.Torch),
            PyTorchLayout.Pyrnn => Interop.Some(Core.TorchLayout.Pyrnn),
            _ => Microsoft.FSharp.Core.FSharpOption<Core.TorchLayout>.None,
        };
        var options = new Core.TorchExportOptions(coreLayout, rnnPrefix ?? "", readoutPrefix ?? "", Interop.OfObj(paramsPath), Interop.OfObj(readoutPath));
        var net = network.Inner;
        return Interop.ReadOnly(Interop.Call(() => Core.TorchFile.exportWith(options, path, net), ("path", nameof(path))));
    }
}
