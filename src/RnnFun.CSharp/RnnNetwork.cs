using Microsoft.FSharp.Collections;
using TorchSharp;
using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>Outputs and hidden states of a network run over a batch of sequences.</summary>
/// <param name="Outputs">[batch, time, outputs]</param>
/// <param name="States">[batch, time, state]: the packed state (the units for the vanilla kinds; for a continuous-time network, the pre-activation states)</param>
public sealed record Rollout(float[,,] Outputs, float[,,] States);

/// <summary>One parameter of a network.</summary>
/// <param name="Name">Its name: w_in, w_rec, b_rec, w_out, and b_in, b_out when present.</param>
/// <param name="Shape">Its shape: [rows, columns] for a matrix, [length] for a vector.</param>
/// <param name="Trainable">Whether training may change it.</param>
public sealed record NetworkParameter(string Name, IReadOnlyList<int> Shape, bool Trainable)
{
    /// <summary>What the parameter is (constraints and regularisation follow the role).</summary>
    public ParameterRole Role { get; init; } = ParameterRole.Free;
}

/// <summary>
/// A recurrent network (an immutable RnnFun <c>Network</c>). It owns native tensors: dispose it
/// (<c>using var net = RnnNetwork.Create(...)</c>). Methods that "change" a network return a new one.
/// </summary>
public sealed class RnnNetwork : IDisposable
{
    private Core.Network? _network;

    internal RnnNetwork(Core.Network network) => _network = network;

    /// <summary>The core network; throws once disposed.</summary>
    internal Core.Network Inner => _network ?? throw new ObjectDisposedException(nameof(RnnNetwork));

    internal static Core.Kind KindOf(NetworkKind kind, double dt, double tau, CtrnnReadout readout) =>
        kind switch
        {
            NetworkKind.Rnn => Core.Kinds.rnn,
            NetworkKind.Ctrnn => Interop.Call(() => Core.Kinds.ctrnnWith(new Core.CtrnnConfig(dt, tau, readout.ToCore()))),
            NetworkKind.Gru => Core.Kinds.gru,
            NetworkKind.Lstm => Core.Kinds.lstm,
            NetworkKind.Ugrnn => Core.Kinds.ugrnn,
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "expected Rnn, Ctrnn, Gru, Lstm or Ugrnn (a kind of your own: pass an RnnKind)"),
        };

    internal static Core.Constraints ConstraintsOf(
        bool autapses, double? daleRatio, double[,]? inputMask, double[,]? recurrentMask, double[,]? outputMask) =>
        new(autapses,
            Interop.OfNullable(daleRatio),
            Interop.OfObj(inputMask is null ? null : Interop.Rows(inputMask, nameof(inputMask))),
            Interop.OfObj(recurrentMask is null ? null : Interop.Rows(recurrentMask, nameof(recurrentMask))),
            Interop.OfObj(outputMask is null ? null : Interop.Rows(outputMask, nameof(outputMask))),
            Microsoft.FSharp.Core.FSharpOption<int[]>.None);

    internal static Core.NetworkConfig ConfigOf(
        int inputSize, int units, int outputSize, bool inputBias, bool outputBias,
        Core.Constraints constraints, IReadOnlyDictionary<string, bool>? trainable, bool float64, long seed) =>
        new(inputSize, units, outputSize, inputBias, outputBias, constraints, Interop.Flags(trainable), Interop.Precision(float64), seed);

    /// <summary>
    /// Creates a network initialised as PyTorch Linear layers (U(-1/sqrt(fan_in), 1/sqrt(fan_in)))
    /// from a seed, then projected onto the constraints. The same seed gives identical weights.
    /// </summary>
    /// <param name="kind">Discrete (<see cref="NetworkKind.Rnn"/>) or continuous-time (<see cref="NetworkKind.Ctrnn"/>).</param>
    /// <param name="inputSize">Number of inputs (&gt; 0).</param>
    /// <param name="units">Number of recurrent units (&gt; 0).</param>
    /// <param name="outputSize">Number of outputs (&gt; 0).</param>
    /// <param name="seed">Seed of the initial weights.</param>
    /// <param name="inputBias">Add an input bias b_in.</param>
    /// <param name="outputBias">Add an output bias b_out.</param>
    /// <param name="autapses">False: the diagonal of W_rec is zero (no unit projects onto itself).</param>
    /// <param name="daleRatio">Fraction in [0, 1] of excitatory units (Dale's law): the first floor(units * ratio) units' outgoing weights are &gt;= 0, the rest &lt;= 0. Null: no sign constraint.</param>
    /// <param name="inputMask">[units, inputs]: W_in is zero where the mask is zero.</param>
    /// <param name="recurrentMask">[units, units]: W_rec is zero where the mask is zero; a mask with a negative entry also fixes signs (&gt;= 0 where positive, &lt;= 0 where negative).</param>
    /// <param name="outputMask">[outputs, units]: W_out is zero where the mask is zero.</param>
    /// <param name="trainable">Trainable flags that differ from the defaults (only w_rec and b_rec are trained by default), by parameter name.</param>
    /// <param name="dt">Time step of a continuous-time network (ignored for <see cref="NetworkKind.Rnn"/>).</param>
    /// <param name="tau">Time constant of a continuous-time network (ignored for <see cref="NetworkKind.Rnn"/>).</param>
    /// <param name="readout">What a continuous-time network reads out (ignored for <see cref="NetworkKind.Rnn"/>).</param>
    /// <param name="float64">Compute in float64 instead of float32.</param>
    /// <returns>The new network; dispose it.</returns>
    /// <exception cref="ArgumentException">An argument is invalid; <see cref="ArgumentException.ParamName"/> names it.</exception>
    /// <exception cref="InsufficientMemoryException">The network cannot fit in the memory available; the message gives the estimate.</exception>
    public static RnnNetwork Create(
        NetworkKind kind = NetworkKind.Rnn,
        int inputSize = 1,
        int units = 50,
        int outputSize = 1,
        long seed = 0,
        bool inputBias = false,
        bool outputBias = false,
        bool autapses = true,
        double? daleRatio = null,
        double[,]? inputMask = null,
        double[,]? recurrentMask = null,
        double[,]? outputMask = null,
        IReadOnlyDictionary<string, bool>? trainable = null,
        double dt = 5.0,
        double tau = 100.0,
        CtrnnReadout readout = CtrnnReadout.State,
        bool float64 = false)
    {
        var k = KindOf(kind, dt, tau, readout);
        var constraints = ConstraintsOf(autapses, daleRatio, inputMask, recurrentMask, outputMask);
        var config = ConfigOf(inputSize, units, outputSize, inputBias, outputBias, constraints, trainable, float64, seed);
        return new RnnNetwork(Interop.Call(() => Core.NetworkModule.create(k, config)));
    }

    /// <summary>
    /// Creates a network of any kind (a built-in one or <see cref="RnnKind.Custom"/>), initialised as
    /// PyTorch Linear layers from a seed and projected onto the constraints.
    /// </summary>
    /// <param name="kind">The kind.</param>
    /// <param name="inputSize">Number of inputs (&gt; 0).</param>
    /// <param name="units">Number of recurrent units (&gt; 0).</param>
    /// <param name="outputSize">Number of outputs (&gt; 0).</param>
    /// <param name="seed">Seed of the initial weights.</param>
    /// <param name="inputBias">Add the kind's optional input bias.</param>
    /// <param name="outputBias">Add the kind's optional output bias.</param>
    /// <param name="autapses">False: the diagonal of the recurrent weights is zero.</param>
    /// <param name="daleRatio">Fraction in [0, 1] of excitatory units (Dale's law), or null.</param>
    /// <param name="inputMask">[units, inputs] mask of the input weights, or null.</param>
    /// <param name="recurrentMask">[units, units] mask of the recurrent weights, or null.</param>
    /// <param name="outputMask">[outputs, units] mask of the readout weights, or null.</param>
    /// <param name="trainable">Trainable flags that differ from the kind's defaults, by parameter name.</param>
    /// <param name="float64">Compute in float64 instead of float32.</param>
    /// <returns>The new network; dispose it.</returns>
    /// <exception cref="ArgumentException">An argument or the kind's declarations are invalid; the message names the problem.</exception>
    /// <exception cref="InsufficientMemoryException">The network cannot fit in the memory available; the message gives the estimate.</exception>
    public static RnnNetwork Create(
        RnnKind kind,
        int inputSize = 1,
        int units = 50,
        int outputSize = 1,
        long seed = 0,
        bool inputBias = false,
        bool outputBias = false,
        bool autapses = true,
        double? daleRatio = null,
        double[,]? inputMask = null,
        double[,]? recurrentMask = null,
        double[,]? outputMask = null,
        IReadOnlyDictionary<string, bool>? trainable = null,
        bool float64 = false)
    {
        ArgumentNullException.ThrowIfNull(kind);
        var k = kind.Inner;
        var constraints = ConstraintsOf(autapses, daleRatio, inputMask, recurrentMask, outputMask);
        var config = ConfigOf(inputSize, units, outputSize, inputBias, outputBias, constraints, trainable, float64, seed);
        return new RnnNetwork(Interop.Call(() => Core.NetworkModule.create(k, config)));
    }

    /// <summary>
    /// Creates a network with given weights. Sizes come from the shapes: units = rows of
    /// <paramref name="wRec"/>, inputs = columns of <paramref name="wIn"/>, outputs = rows of
    /// <paramref name="wOut"/>. The weights must be finite and follow the constraints.
    /// </summary>
    /// <param name="wIn">Input weights [units, inputs].</param>
    /// <param name="wRec">Recurrent weights [units, units].</param>
    /// <param name="bRec">Recurrent bias [units].</param>
    /// <param name="wOut">Output weights [outputs, units].</param>
    /// <param name="bIn">Input bias [units], or null for none.</param>
    /// <param name="bOut">Output bias [outputs], or null for none.</param>
    /// <param name="kind">Discrete or continuous-time.</param>
    /// <param name="autapses">False: the diagonal of W_rec must be zero.</param>
    /// <param name="daleRatio">Fraction of excitatory units (Dale's law), or null for none.</param>
    /// <param name="inputMask">[units, inputs] mask of W_in, or null.</param>
    /// <param name="recurrentMask">[units, units] mask of W_rec, or null.</param>
    /// <param name="outputMask">[outputs, units] mask of W_out, or null.</param>
    /// <param name="trainable">Trainable flags that differ from the defaults, by parameter name.</param>
    /// <param name="dt">Time step of a continuous-time network.</param>
    /// <param name="tau">Time constant of a continuous-time network.</param>
    /// <param name="readout">What a continuous-time network reads out.</param>
    /// <param name="float64">Compute in float64 instead of float32.</param>
    /// <returns>The new network; dispose it.</returns>
    /// <exception cref="ArgumentException">A weight has the wrong shape, is not finite or breaks a constraint; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public static RnnNetwork FromWeights(
        double[,] wIn,
        double[,] wRec,
        double[] bRec,
        double[,] wOut,
        double[]? bIn = null,
        double[]? bOut = null,
        NetworkKind kind = NetworkKind.Rnn,
        bool autapses = true,
        double? daleRatio = null,
        double[,]? inputMask = null,
        double[,]? recurrentMask = null,
        double[,]? outputMask = null,
        IReadOnlyDictionary<string, bool>? trainable = null,
        double dt = 5.0,
        double tau = 100.0,
        CtrnnReadout readout = CtrnnReadout.State,
        bool float64 = false)
    {
        ArgumentNullException.ThrowIfNull(wIn);
        ArgumentNullException.ThrowIfNull(wRec);
        ArgumentNullException.ThrowIfNull(bRec);
        ArgumentNullException.ThrowIfNull(wOut);
        var k = KindOf(kind, dt, tau, readout);
        var constraints = ConstraintsOf(autapses, daleRatio, inputMask, recurrentMask, outputMask);
        var config = ConfigOf(wIn.GetLength(1), wRec.GetLength(0), wOut.GetLength(0), bIn is not null, bOut is not null,
            constraints, trainable, float64, 0L);
        var values = new List<Tuple<string, Core.ParameterValue>>
        {
            Tuple.Create("w_in", Core.ParameterValue.NewMatrix(Interop.Rows(wIn, nameof(wIn)))),
            Tuple.Create("w_rec", Core.ParameterValue.NewMatrix(Interop.Rows(wRec, nameof(wRec)))),
            Tuple.Create("b_rec", Core.ParameterValue.NewVector((double[])bRec.Clone())),
            Tuple.Create("w_out", Core.ParameterValue.NewMatrix(Interop.Rows(wOut, nameof(wOut)))),
        };
        if (bIn is not null) values.Add(Tuple.Create("b_in", Core.ParameterValue.NewVector((double[])bIn.Clone())));
        if (bOut is not null) values.Add(Tuple.Create("b_out", Core.ParameterValue.NewVector((double[])bOut.Clone())));
        return new RnnNetwork(Interop.Call(() => Core.NetworkModule.ofValues(k, config, MapModule.OfSeq(values))));
    }

    /// <summary>Creates a network wired as a multi-region diagram (see <see cref="MultiRegionBuilder"/>).</summary>
    /// <param name="regions">The wiring diagram.</param>
    /// <param name="kind">Discrete or continuous-time.</param>
    /// <param name="seed">Seed of the initial weights (the projections' seed is the builder's).</param>
    /// <param name="inputBias">Add an input bias b_in.</param>
    /// <param name="outputBias">Add an output bias b_out.</param>
    /// <param name="trainable">Trainable flags that differ from the defaults, by parameter name.</param>
    /// <param name="dt">Time step of a continuous-time network.</param>
    /// <param name="tau">Time constant of a continuous-time network.</param>
    /// <param name="readout">What a continuous-time network reads out.</param>
    /// <param name="float64">Compute in float64 instead of float32.</param>
    /// <returns>The new network; dispose it.</returns>
    public static RnnNetwork FromMultiRegion(
        MultiRegionBuilder regions,
        NetworkKind kind = NetworkKind.Rnn,
        long seed = 0,
        bool inputBias = false,
        bool outputBias = false,
        IReadOnlyDictionary<string, bool>? trainable = null,
        double dt = 5.0,
        double tau = 100.0,
        CtrnnReadout readout = CtrnnReadout.State,
        bool float64 = false)
    {
        ArgumentNullException.ThrowIfNull(regions);
        return regions.Build().CreateNetwork(kind, seed, inputBias, outputBias, trainable, dt, tau, readout, float64);
    }

    /// <summary>Reads a model file (format <c>rnnfun.model</c>).</summary>
    /// <param name="path">The model file.</param>
    /// <param name="float64">Load the weights in float64 instead of float32.</param>
    /// <returns>The network in the file; dispose it.</returns>
    /// <exception cref="RnnFileFormatException">The file is missing or malformed; the message names the problem.</exception>
    public static RnnNetwork Load(string path, bool float64 = false) => Load(path, float64, null);

    /// <summary>Reads a model file of a built-in kind or of one of the given kinds (looked up by name; its settings come from the file).</summary>
    /// <param name="path">The model file.</param>
    /// <param name="float64">Load the weights in float64 instead of float32.</param>
    /// <param name="kinds">Kinds of your own the file may name; null: only the built-in ones.</param>
    /// <returns>The network in the file; dispose it.</returns>
    /// <exception cref="RnnFileFormatException">The file is missing or malformed, or names a kind this program does not know; the message names the problem.</exception>
    public static RnnNetwork Load(string path, bool float64, IEnumerable<RnnKind>? kinds)
    {
        ArgumentNullException.ThrowIfNull(path);
        var known = Interop.List((kinds ?? Array.Empty<RnnKind>()).Select(k => k.Inner));
        return new RnnNetwork(Interop.Call(() => Core.ModelFile.loadWith(known, Interop.Precision(float64), path)));
    }

    /// <summary>Writes the network to a model file, atomically (the old file stays whole on failure).</summary>
    /// <param name="path">Where to write.</param>
    /// <exception cref="ArgumentException">The network has NaN or infinite weights.</exception>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var net = Inner;
        Interop.Call(() => Core.ModelFile.save(path, net));
    }

    /// <summary>The network's kind.</summary>
    public NetworkKind Kind =>
        !RnnKind.IsBuiltInKind(Inner.Kind) ? NetworkKind.Custom
        : Inner.Kind.Name == Core.Kinds.ctrnn.Name ? NetworkKind.Ctrnn
        : Inner.Kind.Name == Core.Kinds.gru.Name ? NetworkKind.Gru
        : Inner.Kind.Name == Core.Kinds.lstm.Name ? NetworkKind.Lstm
        : Inner.Kind.Name == Core.Kinds.ugrnn.Name ? NetworkKind.Ugrnn
        : NetworkKind.Rnn;

    /// <summary>The network's kind as data: name, settings, parameters, state layout, capabilities.</summary>
    public RnnKind KindInfo => new(Inner.Kind);

    /// <summary>How the network's state is packed (blocks, and the blocks the readout and the rates read).</summary>
    public StateLayout StateLayout => RnnKind.LayoutOf(Core.NetworkModule.stateLayout(Inner));

    /// <summary>The packed state's width: the units for the vanilla kinds.</summary>
    public int StateSize => Core.NetworkModule.stateSize(Inner);

    /// <summary>Number of inputs.</summary>
    public int InputSize => Inner.Sizes.Inputs;

    /// <summary>Number of recurrent units.</summary>
    public int Units => Inner.Sizes.Units;

    /// <summary>Number of outputs.</summary>
    public int OutputSize => Inner.Sizes.Outputs;

    /// <summary>True when the network computes in float64, false for float32.</summary>
    public bool IsFloat64 => Inner.Precision.IsFloat64;

    /// <summary>Time step of a continuous-time network; null for a discrete one.</summary>
    public double? Dt => Interop.ToObj(Core.Kinds.ctrnnConfig(Inner.Kind))?.Dt;

    /// <summary>Time constant of a continuous-time network; null for a discrete one.</summary>
    public double? Tau => Interop.ToObj(Core.Kinds.ctrnnConfig(Inner.Kind))?.Tau;

    /// <summary>What a continuous-time network reads out; null for a discrete one.</summary>
    public CtrnnReadout? Readout =>
        Interop.ToObj(Core.Kinds.ctrnnConfig(Inner.Kind)) is { } c ? EnumConversions.FromCore(c.Readout) : null;

    /// <summary>False when no unit projects onto itself (the diagonal of W_rec is zero).</summary>
    public bool Autapses => Inner.Constraints.Autapses;

    /// <summary>The Dale ratio (fraction of excitatory units), or null when there is none.</summary>
    public double? DaleRatio => Interop.ToNullable(Inner.Constraints.DaleRatio);

    /// <summary>The parameters, in the kind's order.</summary>
    public IReadOnlyList<NetworkParameter> Parameters =>
        Interop.ReadOnly(Inner.Parameters.Select(p =>
            new NetworkParameter(p.Spec.Name, Interop.ReadOnly((int[])p.Spec.Shape.Clone()), p.Trainable) { Role = RnnKind.Declaration(p.Spec).Role }));

    /// <summary>Number of scalar parameters.</summary>
    public int ParameterCount => Core.NetworkModule.parameterCount(Inner).Item1;

    /// <summary>Number of trainable scalar parameters.</summary>
    public int TrainableParameterCount => Core.NetworkModule.parameterCount(Inner).Item2;

    private Core.ParameterValue Value(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var values = Core.NetworkModule.values(Inner);
        foreach (var (n, v) in values)
            if (n == name) return v;
        throw new ArgumentException(
            $"the network has no parameter '{name}' (it has: {string.Join(", ", values.Select(t => t.Item1))})", nameof(name));
    }

    /// <summary>The effective (constrained) values of a matrix parameter: w_in, w_rec or w_out.</summary>
    /// <param name="name">The parameter's name.</param>
    /// <returns>A copy of the values, [rows, columns].</returns>
    /// <exception cref="ArgumentException">There is no such parameter, or it is a vector.</exception>
    public double[,] GetMatrix(string name) =>
        Value(name) is Core.ParameterValue.Matrix m
            ? Interop.Matrix(m.Item)
            : throw new ArgumentException($"parameter '{name}' is a vector: use GetVector", nameof(name));

    /// <summary>The values of a vector parameter: b_rec, b_in or b_out.</summary>
    /// <param name="name">The parameter's name.</param>
    /// <returns>A copy of the values.</returns>
    /// <exception cref="ArgumentException">There is no such parameter, or it is a matrix.</exception>
    public double[] GetVector(string name) =>
        Value(name) is Core.ParameterValue.Vector v
            ? (double[])v.Item.Clone()
            : throw new ArgumentException($"parameter '{name}' is a matrix: use GetMatrix", nameof(name));

    /// <summary>A copy of the network with other trainable flags (same values).</summary>
    /// <param name="trainable">New flags by parameter name; parameters not named keep theirs.</param>
    /// <returns>The new network; dispose it.</returns>
    public RnnNetwork WithTrainable(IReadOnlyDictionary<string, bool> trainable)
    {
        ArgumentNullException.ThrowIfNull(trainable);
        var net = Inner;
        return new RnnNetwork(Interop.Call(() => Core.NetworkModule.withTrainable(Interop.Flags(trainable), net)));
    }

    /// <summary>An independent copy of the network (its own tensors).</summary>
    /// <returns>The copy; dispose it.</returns>
    public RnnNetwork Clone() => new(Core.NetworkModule.withValues(Inner, MapModule.Empty<string, torch.Tensor>()));

    /// <summary>Runs the network over a batch of input sequences. Neither the network nor the inputs change.</summary>
    /// <param name="inputs">[batch, time, inputs]</param>
    /// <param name="initialState">[units], the same for every trial; null: zeros.</param>
    /// <returns>Outputs [batch, time, outputs] and states [batch, time, units].</returns>
    /// <exception cref="ArgumentException">A shape does not fit the network.</exception>
    public Rollout Unroll(float[,,] inputs, float[]? initialState = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        return Run(inputs, initialState is null ? null : () => torch.tensor(initialState));
    }

    /// <summary>Runs the network over a batch of input sequences, each trial from its own state.</summary>
    /// <param name="inputs">[batch, time, inputs]</param>
    /// <param name="initialStates">[batch, units]</param>
    /// <returns>Outputs [batch, time, outputs] and states [batch, time, units].</returns>
    /// <exception cref="ArgumentException">A shape does not fit the network.</exception>
    public Rollout Unroll(float[,,] inputs, float[,] initialStates)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(initialStates);
        return Run(inputs, () => torch.tensor(initialStates), ("initialState", nameof(initialStates)));
    }

    /// <summary>The outputs alone of a batch of input sequences (for predictions and accuracies): the same as
    /// <see cref="Unroll(float[,,], float[])"/>'s outputs, through libtorch's own kernels for gru and lstm. Neither the
    /// network nor the inputs change.</summary>
    /// <param name="inputs">[batch, time, inputs]</param>
    /// <param name="initialState">[state], the same for every trial; null: zeros.</param>
    /// <returns>Outputs [batch, time, outputs].</returns>
    /// <exception cref="ArgumentException">A shape does not fit the network.</exception>
    public float[,,] Outputs(float[,,] inputs, float[]? initialState = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var net = Inner;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var x = torch.tensor(inputs); // [batch; time; inputs]
        var h0 = initialState is null ? Microsoft.FSharp.Core.FSharpOption<torch.Tensor>.None : Interop.Some(torch.tensor(initialState));
        var outputs = Interop.Call(() => Core.NetworkModule.outputsFrom(net, h0, x));
        return ToArray3(outputs);
    }

    private Rollout Run(float[,,] inputs, Func<torch.Tensor>? initial, params (string, string)[] renames)
    {
        var net = Inner;
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(inputs); // [batch; time; inputs]
        var h0 = initial is null ? Microsoft.FSharp.Core.FSharpOption<torch.Tensor>.None : Interop.Some(initial());
        var rollout = Interop.Call(() => Core.NetworkModule.unrollFrom(net, h0, x), renames);
        return new Rollout(ToArray3(rollout.Outputs), ToArray3(rollout.States));
    }

    internal static float[,,] ToArray3(torch.Tensor t)
    {
        var flat = t.detach().cpu().to_type(torch.ScalarType.Float32).contiguous().data<float>().ToArray();
        return Interop.Array3(flat, (int)t.shape[0], (int)t.shape[1], (int)t.shape[2]);
    }

    /// <summary>Frees the network's native tensors. Using the network afterwards throws <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        var net = Interlocked.Exchange(ref _network, null);
        if (net is not null) ((IDisposable)net).Dispose();
    }
}
