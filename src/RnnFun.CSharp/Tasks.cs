using Microsoft.FSharp.Core;
using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>
/// A batch of trials: inputs, targets and an optional loss mask, batch-first. Make one from your own
/// data with the constructor, or draw one from a task with <see cref="RnnTask.Generate"/>.
/// </summary>
public sealed class TaskBatch
{
    /// <summary>Creates a batch from arrays (they are kept, not copied; do not change them while training).</summary>
    /// <param name="inputs">[trials, time, inputs]</param>
    /// <param name="targets">[trials, time, outputs]: same trials and time as the inputs.</param>
    /// <param name="mask">[trials, time]: weight of each step in the loss (1 counts, 0 ignored); null: all count.</param>
    /// <exception cref="ArgumentException">The shapes do not agree.</exception>
    public TaskBatch(float[,,] inputs, float[,,] targets, float[,]? mask = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.GetLength(0) != inputs.GetLength(0) || targets.GetLength(1) != inputs.GetLength(1))
            throw new ArgumentException(
                $"expected [{inputs.GetLength(0)}, {inputs.GetLength(1)}, outputs] (the inputs' trials and time), got [{targets.GetLength(0)}, {targets.GetLength(1)}, {targets.GetLength(2)}]",
                nameof(targets));
        if (mask is not null && (mask.GetLength(0) != inputs.GetLength(0) || mask.GetLength(1) != inputs.GetLength(1)))
            throw new ArgumentException(
                $"expected [{inputs.GetLength(0)}, {inputs.GetLength(1)}] (the inputs' trials and time), got [{mask.GetLength(0)}, {mask.GetLength(1)}]",
                nameof(mask));
        Inputs = inputs;
        Targets = targets;
        Mask = mask;
    }

    private TaskBatch(float[,,] inputs, float[,,] targets, float[,,] outputMask)
    {
        Inputs = inputs;
        Targets = targets;
        OutputMask = outputMask;
    }

    /// <summary>Creates a batch whose mask weights each target value (not each step).</summary>
    /// <param name="inputs">[trials, time, inputs]</param>
    /// <param name="targets">[trials, time, outputs]: same trials and time as the inputs.</param>
    /// <param name="outputMask">[trials, time, outputs]: weight of each target value in the loss (1 counts, 0 ignored).</param>
    /// <returns>The batch.</returns>
    /// <exception cref="ArgumentException">The shapes do not agree.</exception>
    public static TaskBatch WithOutputMask(float[,,] inputs, float[,,] targets, float[,,] outputMask)
    {
        ArgumentNullException.ThrowIfNull(outputMask);
        var checkedBatch = new TaskBatch(inputs, targets);
        if (outputMask.GetLength(0) != targets.GetLength(0) || outputMask.GetLength(1) != targets.GetLength(1) || outputMask.GetLength(2) != targets.GetLength(2))
            throw new ArgumentException(
                $"expected [{targets.GetLength(0)}, {targets.GetLength(1)}, {targets.GetLength(2)}] (the targets' shape), got [{outputMask.GetLength(0)}, {outputMask.GetLength(1)}, {outputMask.GetLength(2)}]",
                nameof(outputMask));
        return new TaskBatch(checkedBatch.Inputs, checkedBatch.Targets, outputMask);
    }

    /// <summary>[trials, time, inputs]</summary>
    public float[,,] Inputs { get; }

    /// <summary>[trials, time, outputs]</summary>
    public float[,,] Targets { get; }

    /// <summary>[trials, time]: weight of each step in the loss; null: every step counts (or <see cref="OutputMask"/> weights them).</summary>
    public float[,]? Mask { get; }

    /// <summary>[trials, time, outputs]: weight of each target value in the loss, when the batch has such a mask (<see cref="WithOutputMask"/>); else null.</summary>
    public float[,,]? OutputMask { get; }

    /// <summary>Number of trials.</summary>
    public int Trials => Inputs.GetLength(0);

    /// <summary>Steps per trial.</summary>
    public int Time => Inputs.GetLength(1);

    /// <summary>Inputs per step.</summary>
    public int InputSize => Inputs.GetLength(2);

    /// <summary>Outputs per step.</summary>
    public int OutputSize => Targets.GetLength(2);

    internal Core.Batch ToCore() =>
        new(Interop.Flatten(Inputs), Interop.Flatten(Targets),
            OutputMask is not null ? Interop.Some(Interop.Flatten(OutputMask))
            : Mask is null ? FSharpOption<float[]>.None : Interop.Some(Interop.Flatten(Mask)),
            Trials, Time, InputSize, OutputSize);

    internal static TaskBatch FromCore(Core.Batch b)
    {
        var inputs = Interop.Array3(b.Inputs, b.Trials, b.Time, b.InputSize);
        var targets = Interop.Array3(b.Targets, b.Trials, b.Time, b.OutputSize);
        // A mask per step has trials * time values; one per target value, trials * time * outputs.
        return Interop.ToObj(b.Mask) switch
        {
            null => new TaskBatch(inputs, targets),
            { } m when m.Length == b.Trials * b.Time => new TaskBatch(inputs, targets, Interop.Array2(m, b.Trials, b.Time)),
            { } m => new TaskBatch(inputs, targets, Interop.Array3(m, b.Trials, b.Time, b.OutputSize)),
        };
    }
}

/// <summary>A task: a name, its sizes and a generator of batches (a pure function of trial count and seed).</summary>
public sealed class RnnTask
{
    internal RnnTask(Core.Task inner) => Inner = inner;

    internal Core.Task Inner { get; }

    /// <summary>The task's name (flipflop, integrator, sine, or a custom task's).</summary>
    public string Name => Inner.Name;

    /// <summary>Inputs per step.</summary>
    public int InputSize => Inner.InputSize;

    /// <summary>Outputs per step.</summary>
    public int OutputSize => Inner.OutputSize;

    /// <summary>Draws a batch of trials; the same trials and seed give the same batch.</summary>
    /// <param name="trials">Number of trials (&gt; 0).</param>
    /// <param name="seed">Seed of the draw.</param>
    /// <returns>The batch.</returns>
    public TaskBatch Generate(int trials, int seed = 0) =>
        TaskBatch.FromCore(Interop.Call(() => FSharpFunc<int, int>.InvokeFast(Inner.Generate, trials, seed)));
}

/// <summary>The built-in tasks, and custom ones.</summary>
public static class Tasks
{
    /// <summary>The n-bit flip-flop: inputs in {-1, 0, 1}, targets the sign of the last pulse per bit.</summary>
    /// <param name="bits">Number of bits (inputs = outputs = bits).</param>
    /// <param name="time">Steps per trial.</param>
    /// <param name="pyrnnForm">True: pyrnn's form (floor(time/200) pulses of each sign per bit at uniform times, +1 on every bit at t = 0). False: FixedPointFinder's form (each step and bit pulses with <paramref name="pulseProbability"/>, random sign; t = 0 always pulses).</param>
    /// <param name="pulseProbability">Pulse probability per step and bit, in [0, 1] (FixedPointFinder form).</param>
    /// <returns>The task.</returns>
    public static RnnTask FlipFlop(int bits = 3, int time = 64, bool pyrnnForm = false, double pulseProbability = 0.2)
    {
        var config = new Core.FlipFlopConfig(bits, time,
            pyrnnForm ? Core.FlipFlopForm.Pyrnn : Core.FlipFlopForm.FixedPointFinder, pulseProbability);
        return new RnnTask(Interop.Call(() => Core.Tasks.flipFlop(config)));
    }

    /// <summary>The angular integrator: angular speeds in, heading out, per channel.</summary>
    /// <param name="channels">Number of independent channels (inputs).</param>
    /// <param name="time">Steps per trial.</param>
    /// <param name="speeds">The speeds drawn from; null: -0.3, -0.2, -0.1, 0.1, 0.2, 0.3.</param>
    /// <param name="switchProbability">Probability in [0, 1] per step of drawing a new speed.</param>
    /// <param name="inputNoise">Standard deviation of Gaussian noise added to the inputs (the targets stay clean).</param>
    /// <param name="encoding">How the target encodes the heading (CosSin: two outputs per channel).</param>
    /// <returns>The task.</returns>
    public static RnnTask Integrator(
        int channels = 1,
        int time = 100,
        IReadOnlyList<double>? speeds = null,
        double switchProbability = 0.05,
        double inputNoise = 0.0,
        HeadingEncoding encoding = HeadingEncoding.CosSin)
    {
        var config = new Core.IntegratorConfig(
            channels, time,
            speeds is null ? Core.IntegratorConfig.defaults.Speeds : Interop.List(speeds),
            switchProbability, inputNoise,
            encoding == HeadingEncoding.Angle ? Core.HeadingEncoding.Angle : Core.HeadingEncoding.CosSin);
        return new RnnTask(Interop.Call(() => Core.Tasks.integrator(config)));
    }

    /// <summary>The sine-wave generator: a static input J/levels selects the frequency, target sin(2 pi omega t).</summary>
    /// <param name="time">Steps per trial (pyrnn uses 500).</param>
    /// <param name="dt">Time step in task time units.</param>
    /// <param name="levels">Number of input levels.</param>
    /// <returns>The task.</returns>
    public static RnnTask Sine(int time = 200, double dt = 0.01, int levels = 51)
    {
        var config = new Core.SineConfig(time, dt, levels);
        return new RnnTask(Interop.Call(() => Core.Tasks.sine(config)));
    }

    /// <summary>
    /// Perceptual decision making (two-alternative, noisy evidence; neurogym's PerceptualDecisionMaking):
    /// inputs [fixation, evidence for choice 1, evidence for choice 2], outputs [fixation, choice 1,
    /// choice 2]; the fixation input is on until the decision epoch (the go cue). Batches carry a mask
    /// per target value (<see cref="TaskBatch.OutputMask"/>). Durations in ms.
    /// </summary>
    /// <param name="dt">ms per step.</param>
    /// <param name="fixation">Fixation epoch.</param>
    /// <param name="stimulus">Stimulus epoch: 0.5 +- coherence / 200 on the two evidence inputs, plus noise.</param>
    /// <param name="delay">Delay epoch (may be 0).</param>
    /// <param name="decision">Decision epoch.</param>
    /// <param name="coherences">Coherences in percent; null: 0, 6.4, 12.8, 25.6, 51.2.</param>
    /// <param name="sigma">Input noise: N(0, (sigma / sqrt dt)^2) per evidence input and stimulus step.</param>
    /// <param name="yangMask">True: gyyang/multitask's cost mask (0 in the first 100 ms and the 100 ms after the go cue, 5 after it, fixation output doubled); false: every step of a trial weighs 1.</param>
    /// <returns>The task.</returns>
    public static RnnTask PerceptualDecision(
        double dt = 20, double fixation = 100, double stimulus = 2000, double delay = 0, double decision = 100,
        IReadOnlyList<double>? coherences = null, double sigma = 1.0, bool yangMask = false)
    {
        var d = Core.PerceptualDecisionConfig.defaults;
        var config = new Core.PerceptualDecisionConfig(dt, fixation, stimulus, delay, decision,
            coherences is null ? d.Coherences : Interop.List(coherences), sigma,
            yangMask ? Core.TrialMask.Yang : Core.TrialMask.Uniform);
        return new RnnTask(Interop.Call(() => Core.ClassicTasks.perceptualDecision(config).Task));
    }

    /// <summary>
    /// Context-dependent integration (Mante et al. 2013; neurogym's ContextDecisionMaking with an explicit
    /// context): inputs [fixation, modality 1 evidence for choice 1 and 2, modality 2 the same, context 1,
    /// context 2], outputs [fixation, choice 1, choice 2]; the context says which modality to report after
    /// the delay, and the fixation input is on until the decision epoch (the go cue). Trials are padded to
    /// the longest delay (the padding is masked out). Durations in ms.
    /// </summary>
    /// <param name="dt">ms per step.</param>
    /// <param name="fixation">Fixation epoch.</param>
    /// <param name="stimulus">Stimulus epoch.</param>
    /// <param name="delayMean">Mean of the exponential the delay is drawn from.</param>
    /// <param name="delayMin">Shortest delay (draws below are redrawn).</param>
    /// <param name="delayMax">Longest delay (draws at or above are redrawn).</param>
    /// <param name="decision">Decision epoch.</param>
    /// <param name="coherences">Coherences in percent of each modality; null: 5, 15, 50.</param>
    /// <param name="sigma">Input noise: N(0, (sigma / sqrt dt)^2) per evidence input and stimulus step.</param>
    /// <param name="yangMask">True: gyyang/multitask's cost mask; false: every step of a trial weighs 1.</param>
    /// <returns>The task.</returns>
    public static RnnTask ContextDecision(
        double dt = 20, double fixation = 300, double stimulus = 750, double delayMean = 600, double delayMin = 300,
        double delayMax = 3000, double decision = 100, IReadOnlyList<double>? coherences = null, double sigma = 1.0,
        bool yangMask = false)
    {
        var d = Core.ContextDecisionConfig.defaults;
        var config = new Core.ContextDecisionConfig(dt, fixation, stimulus, delayMean, delayMin, delayMax, decision,
            coherences is null ? d.Coherences : Interop.List(coherences), sigma,
            yangMask ? Core.TrialMask.Yang : Core.TrialMask.Uniform);
        return new RnnTask(Interop.Call(() => Core.ClassicTasks.contextDecision(config).Task));
    }

    /// <summary>
    /// Parametric working memory (Romo et al. 1999; neurogym's DelayComparison): inputs [fixation,
    /// stimulus], outputs [fixation, choice 1 (f1 &gt; f2), choice 2 (f1 &lt; f2)]; the stimulus input holds
    /// (1 + (f - fmin) / (fmax - fmin)) / 2 plus noise during each stimulus epoch; the fixation input is
    /// on until the decision epoch (the go cue). Durations in ms.
    /// </summary>
    /// <param name="dt">ms per step.</param>
    /// <param name="fixation">Fixation epoch.</param>
    /// <param name="stimulus1">First stimulus (f1).</param>
    /// <param name="delay">Delay epoch (may be 0).</param>
    /// <param name="stimulus2">Second stimulus (f2).</param>
    /// <param name="decision">Decision epoch.</param>
    /// <param name="pairs">Frequency pairs in Hz, the higher first, each shown either way round; null: (18, 10), (22, 14), (26, 18), (30, 22), (34, 26).</param>
    /// <param name="sigma">Input noise: N(0, (sigma / sqrt dt)^2) per stimulus step.</param>
    /// <param name="yangMask">True: gyyang/multitask's cost mask; false: every step of a trial weighs 1.</param>
    /// <returns>The task.</returns>
    public static RnnTask ParametricWorkingMemory(
        double dt = 20, double fixation = 500, double stimulus1 = 500, double delay = 1000, double stimulus2 = 500,
        double decision = 100, IReadOnlyList<(double F1, double F2)>? pairs = null, double sigma = 1.0, bool yangMask = false)
    {
        var d = Core.ParametricWorkingMemoryConfig.defaults;
        var config = new Core.ParametricWorkingMemoryConfig(dt, fixation, stimulus1, delay, stimulus2, decision,
            pairs is null ? d.Pairs : Interop.List(pairs.Select(p => Tuple.Create(p.F1, p.F2))), sigma,
            yangMask ? Core.TrialMask.Yang : Core.TrialMask.Uniform);
        return new RnnTask(Interop.Call(() => Core.ClassicTasks.parametricWorkingMemory(config).Task));
    }

    /// <summary>
    /// Delayed match-to-sample (Miller et al. 1996; neurogym's DelayedMatchToSample): inputs [fixation,
    /// stimulus cos, stimulus sin], sample and test each (1, 0) or (0, 1) plus noise; outputs [fixation,
    /// choice 1 (match), choice 2 (non-match)]; the fixation input is on until the decision epoch.
    /// Durations in ms.
    /// </summary>
    /// <param name="dt">ms per step.</param>
    /// <param name="fixation">Fixation epoch.</param>
    /// <param name="sample">Sample epoch.</param>
    /// <param name="delay">Delay epoch (may be 0).</param>
    /// <param name="test">Test epoch.</param>
    /// <param name="decision">Decision epoch.</param>
    /// <param name="sigma">Input noise: N(0, (sigma / sqrt dt)^2) per stimulus input and step.</param>
    /// <param name="yangMask">True: gyyang/multitask's cost mask; false: every step of a trial weighs 1.</param>
    /// <returns>The task.</returns>
    public static RnnTask DelayedMatchToSample(
        double dt = 20, double fixation = 300, double sample = 500, double delay = 1000, double test = 500,
        double decision = 900, double sigma = 1.0, bool yangMask = false)
    {
        var config = new Core.DelayedMatchConfig(dt, fixation, sample, delay, test, decision, sigma,
            yangMask ? Core.TrialMask.Yang : Core.TrialMask.Uniform);
        return new RnnTask(Interop.Call(() => Core.ClassicTasks.delayedMatchToSample(config).Task));
    }

    /// <summary>
    /// Delayed match-to-category (Freedman and Assad 2006; neurogym's DelayMatchCategory): inputs [fixation,
    /// stimulus cos, stimulus sin], each direction drawn in its category's half of the circle (category 1:
    /// 0 to 180 degrees, category 2: 180 to 360), plus noise; outputs [fixation, choice 1 (same category),
    /// choice 2 (other category)]; the fixation input is on until the decision epoch. Durations in ms.
    /// </summary>
    /// <param name="dt">ms per step.</param>
    /// <param name="fixation">Fixation epoch.</param>
    /// <param name="sample">Sample epoch.</param>
    /// <param name="delay">Delay epoch (may be 0).</param>
    /// <param name="test">Test epoch.</param>
    /// <param name="decision">Decision epoch.</param>
    /// <param name="sigma">Input noise: N(0, (sigma / sqrt dt)^2) per stimulus input and step; neurogym's sqrt 2 by default.</param>
    /// <param name="yangMask">True: gyyang/multitask's cost mask; false: every step of a trial weighs 1.</param>
    /// <returns>The task.</returns>
    public static RnnTask DelayedMatchToCategory(
        double dt = 20, double fixation = 500, double sample = 650, double delay = 1000, double test = 650,
        double decision = 650, double sigma = 1.4142135623730951, bool yangMask = false)
    {
        var config = new Core.DelayedMatchCategoryConfig(dt, fixation, sample, delay, test, decision, sigma,
            yangMask ? Core.TrialMask.Yang : Core.TrialMask.Uniform);
        return new RnnTask(Interop.Call(() => Core.ClassicTasks.delayedMatchToCategory(config).Task));
    }

    /// <summary>
    /// Go / no-go (neurogym's GoNogo): inputs [fixation, no-go cue, go cue], outputs [fixation, go]; after the
    /// go cue (the end of the fixation input) the go output is 1 on go trials, and the fixation output stays 1
    /// on no-go trials. Durations in ms.
    /// </summary>
    /// <param name="dt">ms per step.</param>
    /// <param name="fixation">Fixation epoch (may be 0, neurogym's).</param>
    /// <param name="stimulus">Stimulus epoch: the cue.</param>
    /// <param name="delay">Delay epoch (may be 0).</param>
    /// <param name="decision">Decision epoch.</param>
    /// <param name="sigma">Input noise: N(0, (sigma / sqrt dt)^2) per cue input and stimulus step; none by default.</param>
    /// <param name="yangMask">True: gyyang/multitask's cost mask; false: every step of a trial weighs 1.</param>
    /// <returns>The task.</returns>
    public static RnnTask GoNoGo(
        double dt = 20, double fixation = 0, double stimulus = 500, double delay = 500, double decision = 500,
        double sigma = 0, bool yangMask = false)
    {
        var config = new Core.GoNoGoConfig(dt, fixation, stimulus, delay, decision, sigma,
            yangMask ? Core.TrialMask.Yang : Core.TrialMask.Uniform);
        return new RnnTask(Interop.Call(() => Core.ClassicTasks.goNoGo(config).Task));
    }

    /// <summary>
    /// Interval reproduction, ready-set-go (Jazayeri and Shadlen 2010; neurogym's ReadySetGo): inputs
    /// [fixation, ready, set], outputs [fixation, go]; respond gain * ts after the set flash, ts the interval
    /// from the ready flash's onset to the set flash's. The fixation input is on all trial (the response is
    /// self-timed). Trials are padded to the longest interval. Durations in ms.
    /// </summary>
    /// <param name="dt">ms per step.</param>
    /// <param name="fixation">Fixation epoch.</param>
    /// <param name="flash">The ready and set flashes.</param>
    /// <param name="intervals">The sample intervals ts; null: Jazayeri and Shadlen's short prior, 11 from 494 to 847 ms.</param>
    /// <param name="gain">Produced interval / sample interval.</param>
    /// <param name="relativeTolerance">A response within relativeTolerance * gain * ts + absoluteTolerance of the target is correct.</param>
    /// <param name="absoluteTolerance">See relativeTolerance (ms).</param>
    /// <param name="yangMask">True: gyyang/multitask's cost mask about the response time; false: every step of a trial weighs 1.</param>
    /// <returns>The task.</returns>
    public static RnnTask ReadySetGo(
        double dt = 20, double fixation = 100, double flash = 83, IReadOnlyList<double>? intervals = null, double gain = 1,
        double relativeTolerance = 0.2, double absoluteTolerance = 25, bool yangMask = false)
    {
        var d = Core.ReadySetGoConfig.defaults;
        var config = new Core.ReadySetGoConfig(dt, fixation, flash, intervals is null ? d.Intervals : Interop.List(intervals),
            gain, relativeTolerance, absoluteTolerance, yangMask ? Core.TrialMask.Yang : Core.TrialMask.Uniform);
        return new RnnTask(Interop.Call(() => Core.ClassicTasks.readySetGo(config).Task));
    }

    /// <summary>The frequency the sine task assigns to an input level: 0.1 + round(0.5 * input, 1).</summary>
    /// <param name="input">The input level.</param>
    /// <returns>The frequency omega.</returns>
    public static double SineFrequency(double input) => Core.Tasks.sineFrequency(input);

    /// <summary>A task of your own, for <see cref="Trainer.Fit(RnnNetwork, RnnTask, int, TrainingOptions?, IProgress{TrainingProgressInfo}?, CancellationToken)"/>.</summary>
    /// <param name="name">The task's name.</param>
    /// <param name="inputSize">Inputs per step of every batch.</param>
    /// <param name="outputSize">Outputs per step of every batch.</param>
    /// <param name="generate">(trials, seed) to a batch; should be a pure function of its arguments.</param>
    /// <returns>The task.</returns>
    public static RnnTask Custom(string name, int inputSize, int outputSize, Func<int, int, TaskBatch> generate)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(generate);
        var f = FuncConvert.FromFunc<int, int, Core.Batch>((trials, seed) => generate(trials, seed).ToCore());
        return new RnnTask(new Core.Task(name, inputSize, outputSize, f));
    }
}
