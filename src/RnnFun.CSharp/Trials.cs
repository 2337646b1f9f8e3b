using Microsoft.FSharp.Core;
using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>
/// Trials of your own, checked: inputs [trials, time, inputs], and optionally targets [trials, time,
/// outputs], a loss mask of the targets' shape and each trial's length (variable-length trials,
/// padded). Read them from a NumPy file with <see cref="Load"/> (a <c>.npz</c> of arrays named
/// inputs, targets, mask and lengths, or a <c>.npy</c> of inputs alone; docs/formats.md), or make
/// them from arrays with <see cref="FromArrays"/>. Train on <see cref="ToBatch"/>.
/// </summary>
public sealed class TrialSet
{
    private TrialSet(Core.TrialData inner) => Inner = inner;

    internal Core.TrialData Inner { get; }

    /// <summary>Reads and checks a trial file.</summary>
    /// <param name="path">A <c>.npz</c> file (numpy.savez or numpy.savez_compressed) or a <c>.npy</c> file of inputs.</param>
    /// <returns>The trials.</returns>
    /// <exception cref="RnnFileFormatException">The file is missing, not NumPy's, or its arrays are missing, of a wrong dtype or shape, or hold NaN or infinite values; the message says which in one sentence.</exception>
    public static TrialSet Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new TrialSet(Interop.Call(() => Core.TrialFile.load(path)));
    }

    /// <summary>Trials from arrays, checked as a file is.</summary>
    /// <param name="inputs">[trials, time, inputs]</param>
    /// <param name="targets">[trials, time, outputs]; null: inputs only (enough to run a network, not to train one).</param>
    /// <param name="mask">[trials, time, outputs]: weight (&gt;= 0) of each target value in the loss; null: all count.</param>
    /// <param name="lengths">Each trial's length in steps, 1..time: later steps are padding, outside the loss; null: all steps.</param>
    /// <returns>The trials.</returns>
    /// <exception cref="ArgumentException">A shape does not fit the others, a value is NaN or infinite, a length is out of range, or the mask is zero everywhere.</exception>
    public static TrialSet FromArrays(float[,,] inputs, float[,,]? targets = null, float[,,]? mask = null, IReadOnlyList<int>? lengths = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        return new TrialSet(Interop.Call(() => Core.Trials.create(
            inputs, Interop.OfObj(targets), Interop.OfObj(mask), Interop.OfObj(lengths?.ToArray()))));
    }

    /// <summary>Number of trials.</summary>
    public int Trials => Inner.Trials;

    /// <summary>Steps per trial (padded length).</summary>
    public int Time => Inner.Time;

    /// <summary>Inputs per step.</summary>
    public int InputSize => Inner.InputSize;

    /// <summary>Outputs per step (0 without targets).</summary>
    public int OutputSize => Inner.OutputSize;

    /// <summary>Whether the trials have targets (training needs them).</summary>
    public bool HasTargets => Inner.Targets is not null;

    /// <summary>[trials, time, inputs] (a copy).</summary>
    public float[,,] Inputs => Interop.Array3(Inner.Inputs, Trials, Time, InputSize);

    /// <summary>[trials, time, outputs] (a copy), or null.</summary>
    public float[,,]? Targets => Interop.ToObj(Inner.Targets) is { } y ? Interop.Array3(y, Trials, Time, OutputSize) : null;

    /// <summary>[trials, time, outputs] (a copy; a file's mask of one weight per step is repeated over the outputs), or null.</summary>
    public float[,,]? Mask
    {
        get
        {
            if (Interop.ToObj(Inner.Mask) is not { } m) return null;
            if (m.Length == Trials * Time * OutputSize) return Interop.Array3(m, Trials, Time, OutputSize);
            var full = new float[Trials * Time * OutputSize];
            for (int i = 0; i < full.Length; i++) full[i] = m[i / OutputSize];
            return Interop.Array3(full, Trials, Time, OutputSize);
        }
    }

    /// <summary>Each trial's length in steps, or null when every trial has <see cref="Time"/> steps.</summary>
    public IReadOnlyList<int>? Lengths => Interop.ToObj(Inner.Lengths) is { } l ? Interop.ReadOnly(l) : null;

    /// <summary>The trials as a training batch: the mask with every step at or beyond a trial's length set to 0.</summary>
    /// <returns>The batch.</returns>
    /// <exception cref="ArgumentException">The trials have no targets.</exception>
    public TaskBatch ToBatch() => TaskBatch.FromCore(Interop.Call(() => Core.Trials.toBatch(Inner)));

    /// <summary>Holds out a seeded random fraction of the trials (at least one) for validation.</summary>
    /// <param name="fraction">In (0, 1), e.g. 0.1.</param>
    /// <param name="seed">Seed of the choice.</param>
    /// <returns>The training and the validation trials, each in this set's order.</returns>
    public (TrialSet Training, TrialSet Validation) Split(double fraction, int seed = 0)
    {
        var parts = Interop.Call(() => Core.Trials.split(fraction, seed, Inner), ("validationSplit", nameof(fraction)));
        return (new TrialSet(parts.Item1), new TrialSet(parts.Item2));
    }

    /// <summary>
    /// Initial states for a fixed-point search: the network run over the trials' inputs, its states
    /// within each trial's length, <paramref name="count"/> of them drawn with replacement, plus N(0, noise^2).
    /// </summary>
    /// <param name="network">The network (its inputs per step must be the trials').</param>
    /// <param name="count">Number of states to draw.</param>
    /// <param name="noise">Standard deviation of the Gaussian noise added (&gt;= 0).</param>
    /// <param name="seed">Seed of the draw.</param>
    /// <returns>[count, state]</returns>
    public double[,] InitialStates(RnnNetwork network, int count = 1024, double noise = 0.5, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(network);
        var rows = Interop.Call(() =>
        {
            var run = Core.Trials.trajectories(FSharpOption<double[]>.None, network.Inner, Inner);
            return Core.InitialStates.fromStates(count, noise, seed, Core.Trials.statesWithin(Inner, run));
        }, ("trials", nameof(network)));
        return Interop.Matrix(rows, network.StateSize);
    }

    /// <summary>Writes the trials as a <c>.npz</c> file that NumPy reads (<c>numpy.load(path)</c>), atomically.</summary>
    /// <param name="path">The file to write.</param>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Interop.Call(() => Core.TrialFile.save(path, Inner));
    }
}
