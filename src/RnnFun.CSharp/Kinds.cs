using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using TorchSharp;
using Core = RnnFun;
using Tensor = TorchSharp.torch.Tensor;

namespace RnnFun.CSharp;

/// <summary>What a parameter is: constraints, regularisation and plots find parameters by role, never by name.</summary>
public enum ParameterRole
{
    /// <summary>Input weights [units, inputs]: the input mask, L1In/L2In.</summary>
    Input,
    /// <summary>Recurrent weights [units, units]: autapses, Dale's law, the recurrent mask, L1Rec/L2Rec.</summary>
    Recurrent,
    /// <summary>Readout weights [outputs, units]: the output mask, L1Out/L2Out.</summary>
    Output,
    /// <summary>A bias on the input side; an optional one exists when the network is made with an input bias.</summary>
    InputBias,
    /// <summary>The recurrent bias.</summary>
    RecurrentBias,
    /// <summary>The readout's bias; an optional one exists when the network is made with an output bias.</summary>
    OutputBias,
    /// <summary>A gate's weights or bias (<see cref="ParameterDeclaration.Gate"/> names the gate).</summary>
    Gate,
    /// <summary>Anything else: no constraint, no regularisation.</summary>
    Free,
    /// <summary>Recurrent weights of a gated cell: <see cref="ParameterDeclaration.Blocks"/> stacked [units, units] blocks (PyTorch's weight_hh). The recurrent mask and no-autapses apply to every block; L1Rec/L2Rec; sign constraints are refused.</summary>
    RecurrentBlocks,
    /// <summary>Input weights of a gated cell: <see cref="ParameterDeclaration.Blocks"/> stacked [units, inputs] blocks (PyTorch's weight_ih). The input mask applies to every block; L1In/L2In.</summary>
    InputBlocks,
}

/// <summary>One parameter of a kind.</summary>
/// <param name="Name">Its name (the key of the weights a step is given, and of model files).</param>
/// <param name="Shape">[rows, columns] for a matrix, [length] for a vector.</param>
/// <param name="FanIn">Initialisation U(-1/sqrt(FanIn), 1/sqrt(FanIn)) (PyTorch Linear's).</param>
/// <param name="Role">What it is.</param>
/// <param name="Optional">Present only when asked for (by role: <see cref="ParameterRole.InputBias"/>, <see cref="ParameterRole.OutputBias"/>).</param>
/// <param name="Trainable">Trained by default.</param>
/// <param name="Gate">The gate's name, for <see cref="ParameterRole.Gate"/>.</param>
/// <param name="Blocks">The number of stacked blocks, for <see cref="ParameterRole.RecurrentBlocks"/> and <see cref="ParameterRole.InputBlocks"/> (1 otherwise).</param>
public sealed record ParameterDeclaration(
    string Name, IReadOnlyList<int> Shape, int FanIn, ParameterRole Role, bool Optional = false, bool Trainable = false, string? Gate = null, int Blocks = 1);

/// <summary>One named block of a kind's packed state.</summary>
/// <param name="Name">Its name (h, c, ...).</param>
/// <param name="Size">Its number of values.</param>
public sealed record StateBlock(string Name, int Size);

/// <summary>How a kind's state is packed in one [batch, state] tensor, and which blocks the readout and the rates read.</summary>
/// <param name="Blocks">The blocks, in order.</param>
/// <param name="ReadoutBlock">The block the readout is given.</param>
/// <param name="RatesBlock">The block the firing rates are computed from.</param>
public sealed record StateLayout(IReadOnlyList<StateBlock> Blocks, string ReadoutBlock, string RatesBlock)
{
    /// <summary>The packed state's width: the sum of the blocks.</summary>
    public int Size => Blocks.Sum(b => b.Size);
}

/// <summary>
/// A kind of network (a cell) as data: its name, settings, parameters, state layout and capabilities.
/// The built-in ones are <see cref="Rnn"/>, <see cref="Ctrnn"/>, <see cref="Gru"/>, <see cref="Lstm"/> and <see cref="Ugrnn"/>; <see cref="Custom"/> makes one of
/// your own from its step (TorchSharp tensors in, a tensor out).
/// </summary>
public sealed class RnnKind
{
    internal RnnKind(Core.Kind kind) => Inner = kind;

    internal Core.Kind Inner { get; }

    /// <summary>The discrete vanilla network: h' = tanh(W_rec h + b_rec + W_in x (+ b_in)), o = W_out h (+ b_out).</summary>
    public static RnnKind Rnn { get; } = new(Core.Kinds.rnn);

    /// <summary>PyTorch's GRU (gates r, z, n; weights named as a torch.nn.GRU state_dict) with a linear readout.</summary>
    public static RnnKind Gru { get; } = new(Core.Kinds.gru);

    /// <summary>PyTorch's LSTM (gates i, f, g, o) with a linear readout; the state is the packed [h, c].</summary>
    public static RnnKind Lstm { get; } = new(Core.Kinds.lstm);

    /// <summary>The UGRNN (Collins et al. 2017): h' = g h + (1 - g) c, with a linear readout.</summary>
    public static RnnKind Ugrnn { get; } = new(Core.Kinds.ugrnn);

    /// <summary>The continuous-time network (pyrnn semantics) with these settings.</summary>
    /// <param name="dt">Time step (&gt; 0).</param>
    /// <param name="tau">Time constant (&gt; 0).</param>
    /// <param name="readout">What it reads out.</param>
    /// <returns>The kind.</returns>
    public static RnnKind Ctrnn(double dt = 5.0, double tau = 100.0, CtrnnReadout readout = CtrnnReadout.State) =>
        new(Interop.Call(() => Core.Kinds.ctrnnWith(new Core.CtrnnConfig(dt, tau, readout.ToCore()))));

    /// <summary>The kinds a model file is looked up in when no kind of your own is given.</summary>
    public static IReadOnlyList<RnnKind> BuiltIn { get; } = Interop.ReadOnly(Core.Kinds.builtIn.Select(k => new RnnKind(k)));

    /// <summary>Its name, as model files write it.</summary>
    public string Name => Inner.Name;

    /// <summary>Its settings (a double or a string each), as model files write them beside the name.</summary>
    public IReadOnlyDictionary<string, object> Settings =>
        Inner.Settings.ToDictionary(s => s.Item1, s => SettingValue(s.Item2));

    /// <summary>True for a built-in kind (one of <see cref="BuiltIn"/>).</summary>
    public bool IsBuiltIn => IsBuiltInKind(Inner);

    /// <summary>A built-in kind: a built-in name, and its built-in step still in place.</summary>
    internal static bool IsBuiltInKind(Core.Kind kind) =>
        Core.Kinds.isBuiltIn(kind);

    /// <summary>True when it has a closed-form state Jacobian (otherwise the analysis uses autograd).</summary>
    public bool HasClosedFormJacobian => Core.KindModule.closedFormJacobian(Inner) is not null;

    /// <summary>True when it runs a hand-written recurrence and backward pass (the built-in rnn, ctrnn, gru and lstm).</summary>
    public bool HasHandWrittenRecurrence => Core.Recurrence.ofKind(Inner) is not null;

    /// <summary>alpha = dt / tau of a continuous-time kind; null for a discrete-time map.</summary>
    public double? TimeScale => Interop.ToNullable(Inner.TimeScale);

    /// <summary>Its parameters for given sizes, in order.</summary>
    /// <param name="inputSize">Number of inputs.</param>
    /// <param name="units">Number of units.</param>
    /// <param name="outputSize">Number of outputs.</param>
    /// <returns>The declarations.</returns>
    public IReadOnlyList<ParameterDeclaration> Parameters(int inputSize, int units, int outputSize)
    {
        var kind = Inner;
        var specs = Interop.Call(() => kind.Parameters.Invoke(new Core.Sizes(inputSize, units, outputSize)));
        return Interop.ReadOnly(specs.Select(Declaration));
    }

    /// <summary>Its state layout for given sizes.</summary>
    /// <param name="inputSize">Number of inputs.</param>
    /// <param name="units">Number of units.</param>
    /// <param name="outputSize">Number of outputs.</param>
    /// <returns>The blocks and the blocks the readout and the rates read.</returns>
    public StateLayout Layout(int inputSize, int units, int outputSize)
    {
        var kind = Inner;
        var layout = Interop.Call(() => kind.State.Invoke(new Core.Sizes(inputSize, units, outputSize)));
        return LayoutOf(layout);
    }

    /// <summary>
    /// A kind of your own. Only the step is required; the rest defaults to the vanilla network's
    /// pieces: parameters w_in, w_rec, b_rec, w_out (+ b_in, b_out), one state block h of the units,
    /// the drive W_in x + b_rec (+ b_in), the readout W_out h (+ b_out), rates = the state. Such a
    /// kind trains, is analysed (Jacobians by autograd unless <paramref name="jacobian"/> is given),
    /// and saves; load its files with <see cref="RnnNetwork.Load(string, bool, IEnumerable{RnnKind}?)"/>.
    /// </summary>
    /// <param name="name">Its name in model files (must not be a built-in kind's).</param>
    /// <param name="step">(weights by name, h [batch, state], drive [batch, drive]) → h' [batch, state].</param>
    /// <param name="parameters">(inputs, units, outputs) → its parameters; null: the vanilla ones.</param>
    /// <param name="layout">(inputs, units, outputs) → its state layout; null: one block h of the units.</param>
    /// <param name="inputDrive">(weights, x [.., inputs]) → drive [.., drive] for all steps at once; null: W_in x + b_rec (+ b_in).</param>
    /// <param name="readout">(weights, readout block [.., block]) → outputs [.., outputs]; null: W_out h (+ b_out).</param>
    /// <param name="rates">Firing rates of the rates block; null: the block itself.</param>
    /// <param name="jacobian">(weights, h [batch, state], drive) → dF/dh [batch, state, state]; null: autograd.</param>
    /// <param name="noiseGain">Recurrent noise sigma enters the drive as noiseGain * sigma * N(0, 1).</param>
    /// <param name="timeScale">alpha of a continuous-time kind (eigenvalues of its flow are (lambda - 1) / alpha); null: a discrete map.</param>
    /// <param name="settings">Settings written beside the name in model files (double or string values).</param>
    /// <param name="withSettings">The kind rebuilt from settings read back from a model file (numbers come back as double; a setting the file lacks is absent); null: the kind as given, and a file whose settings differ from its own is refused.</param>
    /// <param name="fixedPointLearningRate">The fixed-point search's initial Adam rate for this kind's state (when the search's options leave it null); null: 1.0, FixedPointFinder's.</param>
    /// <returns>The kind.</returns>
    /// <exception cref="ArgumentException">A name or setting is invalid.</exception>
    public static RnnKind Custom(
        string name,
        Func<IReadOnlyDictionary<string, Tensor>, Tensor, Tensor, Tensor> step,
        Func<int, int, int, IEnumerable<ParameterDeclaration>>? parameters = null,
        Func<int, int, int, StateLayout>? layout = null,
        Func<IReadOnlyDictionary<string, Tensor>, Tensor, Tensor>? inputDrive = null,
        Func<IReadOnlyDictionary<string, Tensor>, Tensor, Tensor>? readout = null,
        Func<Tensor, Tensor>? rates = null,
        Func<IReadOnlyDictionary<string, Tensor>, Tensor, Tensor, Tensor>? jacobian = null,
        double noiseGain = 1.0,
        double? timeScale = null,
        IReadOnlyDictionary<string, object>? settings = null,
        Func<IReadOnlyDictionary<string, object>, RnnKind>? withSettings = null,
        double? fixedPointLearningRate = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(step);
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("expected a name", nameof(name));
        if (Core.Kinds.builtIn.Any(k => k.Name == name))
            throw new ArgumentException($"'{name}' is a built-in kind's name: choose another", nameof(name));
        if (!double.IsFinite(noiseGain) || noiseGain < 0) throw new ArgumentException("expected a finite number >= 0", nameof(noiseGain));
        if (timeScale is double a && !(a > 0 && a <= 1)) throw new ArgumentException("expected a number in (0, 1]", nameof(timeScale));
        if (fixedPointLearningRate is double r && !(r > 0 && double.IsFinite(r))) throw new ArgumentException("expected a finite number > 0", nameof(fixedPointLearningRate));
        var vanilla = Core.Kinds.rnn;
        var coreSettings = Interop.List((settings ?? new Dictionary<string, object>()).Select(s => Tuple.Create(s.Key, CoreSetting(s.Key, s.Value))));
        var reader = withSettings is null
            ? FSharpOption<FSharpFunc<FSharpList<Tuple<string, Core.KindSetting>>, Core.Kind>>.None
            : Interop.Some(FuncConvert.FromFunc<FSharpList<Tuple<string, Core.KindSetting>>, Core.Kind>(read =>
                withSettings(read.ToDictionary(s => s.Item1, s => SettingValue(s.Item2))).Inner));
        // One function value for the step: the closed-form Jacobian is bound to exactly this step.
        var coreStep = FuncConvert.FromFunc(step);
        var kind = new Core.Kind(
            name,
            coreSettings,
            reader,
            parameters is null
                ? vanilla.Parameters
                : FuncConvert.FromFunc<Core.Sizes, FSharpList<Core.ParameterSpec>>(s =>
                    Interop.List(parameters(s.Inputs, s.Units, s.Outputs).Select(Spec))),
            layout is null
                ? vanilla.State
                : FuncConvert.FromFunc<Core.Sizes, Core.StateLayout>(s => CoreLayout(layout(s.Inputs, s.Units, s.Outputs))),
            inputDrive is null ? vanilla.InputDrive : FuncConvert.FromFunc(inputDrive),
            coreStep,
            readout is null ? vanilla.Readout : FuncConvert.FromFunc(readout),
            rates is null ? vanilla.Rates : FuncConvert.FromFunc(rates),
            noiseGain,
            jacobian is null
                ? FSharpOption<Core.ClosedFormJacobian>.None
                : Interop.Some(new Core.ClosedFormJacobian(FuncConvert.FromFunc(jacobian), coreStep)),
            FSharpOption<Core.HandWritten>.None,
            Interop.OfNullable(timeScale),
            FSharpOption<Core.FixedPointResidual>.None,
            Interop.OfNullable(fixedPointLearningRate));
        return new RnnKind(kind);
    }

    private static object SettingValue(Core.KindSetting s) =>
        s is Core.KindSetting.Number n ? n.Item : ((Core.KindSetting.Text)s).Item;

    private static Core.KindSetting CoreSetting(string name, object value) =>
        value switch
        {
            double d => Core.KindSetting.NewNumber(d),
            float f => Core.KindSetting.NewNumber(f),
            int i => Core.KindSetting.NewNumber(i),
            string t => Core.KindSetting.NewText(t),
            _ => throw new ArgumentException($"setting '{name}': expected a number or a string, got {value?.GetType().Name ?? "null"}", "settings"),
        };

    private static ParameterRole RoleOf(Core.Role role) =>
        role.IsInput ? ParameterRole.Input
        : role.IsRecurrent ? ParameterRole.Recurrent
        : role.IsOutput ? ParameterRole.Output
        : role.IsInputBias ? ParameterRole.InputBias
        : role.IsRecurrentBias ? ParameterRole.RecurrentBias
        : role.IsOutputBias ? ParameterRole.OutputBias
        : role.IsGate ? ParameterRole.Gate
        : role.IsRecurrentBlocks ? ParameterRole.RecurrentBlocks
        : role.IsInputBlocks ? ParameterRole.InputBlocks
        : ParameterRole.Free;

    internal static ParameterDeclaration Declaration(Core.ParameterSpec s) =>
        new(s.Name, Interop.ReadOnly((int[])s.Shape.Clone()), s.FanIn, RoleOf(s.Role), s.Optional, s.Trainable,
            s.Role is Core.Role.Gate g ? g.gate : null,
            s.Role switch
            {
                Core.Role.RecurrentBlocks r => r.blocks,
                Core.Role.InputBlocks i => i.blocks,
                _ => 1,
            });

    private static Core.ParameterSpec Spec(ParameterDeclaration d)
    {
        ArgumentNullException.ThrowIfNull(d);
        var role = d.Role switch
        {
            ParameterRole.Input => Core.Role.Input,
            ParameterRole.Recurrent => Core.Role.Recurrent,
            ParameterRole.Output => Core.Role.Output,
            ParameterRole.InputBias => Core.Role.InputBias,
            ParameterRole.RecurrentBias => Core.Role.RecurrentBias,
            ParameterRole.OutputBias => Core.Role.OutputBias,
            ParameterRole.Gate => Core.Role.NewGate(d.Gate ?? throw new ArgumentException($"parameter '{d.Name}': a gate parameter needs its gate's name", "parameters")),
            ParameterRole.RecurrentBlocks => Core.Role.NewRecurrentBlocks(Blocks(d)),
            ParameterRole.InputBlocks => Core.Role.NewInputBlocks(Blocks(d)),
            _ => Core.Role.Free,
        };
        return new Core.ParameterSpec(d.Name, d.Shape.ToArray(), d.FanIn, role, d.Optional, d.Trainable);
    }

    private static int Blocks(ParameterDeclaration d) =>
        d.Blocks >= 1 ? d.Blocks : throw new ArgumentException($"parameter '{d.Name}': expected Blocks >= 1, got {d.Blocks}", "parameters");

    internal static StateLayout LayoutOf(Core.StateLayout layout) =>
        new(Interop.ReadOnly(layout.Blocks.Select(b => new StateBlock(b.Name, b.Size))), layout.Readout, layout.Rates);

    private static Core.StateLayout CoreLayout(StateLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return new Core.StateLayout(Interop.List(layout.Blocks.Select(b => new Core.StateBlock(b.Name, b.Size))), layout.ReadoutBlock, layout.RatesBlock);
    }

    /// <inheritdoc />
    public override string ToString() =>
        Inner.Settings.IsEmpty ? Name : $"{Name} ({string.Join(", ", Settings.Select(s => $"{s.Key} = {s.Value}"))})";
}
