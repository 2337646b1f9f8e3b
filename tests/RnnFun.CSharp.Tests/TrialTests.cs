using RnnFun.CSharp;

namespace CSharp.Tests;

/// <summary>Trials of your own through the facade: NumPy files, arrays, training and initial states.</summary>
public class TrialTests
{
    private static string Fixture(string name)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RnnFun.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        return Path.Combine(dir!.FullName, "tests", "fixtures", "numpy", "trials", name);
    }

    [Fact]
    public void A_file_NumPy_wrote_loads_with_its_mask_and_lengths()
    {
        var trials = TrialSet.Load(Fixture("good_compressed.npz"));
        Assert.Equal((6, 8, 2, 1), (trials.Trials, trials.Time, trials.InputSize, trials.OutputSize));
        Assert.True(trials.HasTargets);
        Assert.Equal(new[] { 8, 5, 8, 3, 1, 6 }, trials.Lengths);
        Assert.Equal((-0.5f, -0.25f), (trials.Inputs[0, 0, 0], trials.Inputs[0, 0, 1])); // ((7i + 3t + k) % 5 - 2) / 4
        Assert.Equal((float)(1 + 2) / 8, trials.Targets![1, 2, 0]);
        Assert.Equal(0f, trials.Mask![0, 1, 0]);
        Assert.Equal(1f, trials.Mask![0, 2, 0]);
        var batch = trials.ToBatch();
        // Trial 3 has 3 steps: the mask is 0 from step 3 on, and for the file's unscored first two steps.
        Assert.Equal(new[] { 0f, 0f, 1f, 0f, 0f, 0f, 0f, 0f }, Enumerable.Range(0, 8).Select(t => batch.Mask![3, t]));
        var inputsOnly = TrialSet.Load(Fixture("inputs_only.npy"));
        Assert.False(inputsOnly.HasTargets);
        Assert.Null(inputsOnly.Targets);
        Assert.Throws<ArgumentException>(() => inputsOnly.ToBatch());
    }

    [Fact]
    public void A_bad_file_or_bad_arrays_say_what_is_wrong()
    {
        var e = Assert.Throws<RnnFileFormatException>(() => TrialSet.Load(Fixture("targets_time.npz")));
        Assert.Contains("'targets' has shape (6, 7, 1) but 'inputs' (6, 8, 2)", e.Problem);
        Assert.EndsWith("targets_time.npz", e.FilePath);
        Assert.Contains("unknown array 'arr_0'", Assert.Throws<RnnFileFormatException>(() => TrialSet.Load(Fixture("positional.npz"))).Problem);
        var a = Assert.Throws<ArgumentException>(() => TrialSet.FromArrays(new float[2, 3, 1], new float[2, 4, 1]));
        Assert.Equal("targets", a.ParamName);
        var l = Assert.Throws<ArgumentException>(() => TrialSet.FromArrays(new float[2, 3, 1], new float[2, 3, 1], lengths: new[] { 3, 4 }));
        Assert.Equal("lengths", l.ParamName);
        Assert.Throws<ArgumentException>(() => TrialSet.FromArrays(new float[2, 3, 1]).Split(0.5, 0).Training.ToBatch());
    }

    [Fact]
    public void Trials_from_arrays_train_a_network_and_seed_a_fixed_point_search()
    {
        // Echo the input with a per-value mask that scores only the first output, and variable lengths.
        var random = new Random(1);
        int n = 48, time = 6;
        var x = new float[n, time, 1];
        var y = new float[n, time, 2];
        var m = new float[n, time, 2];
        for (int i = 0; i < n; i++)
            for (int t = 0; t < time; t++)
            {
                x[i, t, 0] = (float)(random.NextDouble() - 0.5);
                y[i, t, 0] = x[i, t, 0];
                y[i, t, 1] = 100f;          // never scored
                m[i, t, 0] = 1f;
            }
        var lengths = Enumerable.Range(0, n).Select(i => 2 + i % 5).ToArray();
        var trials = TrialSet.FromArrays(x, y, m, lengths);
        var (training, validation) = trials.Split(0.25, seed: 2);
        Assert.Equal((36, 12), (training.Trials, validation.Trials));
        Assert.NotNull(training.ToBatch().OutputMask);
        using var net = RnnNetwork.Create(inputSize: 1, units: 8, outputSize: 2, trainable: new Dictionary<string, bool> { ["w_in"] = true, ["w_out"] = true });
        using var result = Trainer.Fit(net, training.ToBatch(), new TrainingOptions { BatchSize = 12, Epochs = 8, LearningRate = 1e-2, Validation = validation.ToBatch() });
        Assert.True(result.ValidationLosses[^1] < result.ValidationLosses[0], "validation losses: " + string.Join(", ", result.ValidationLosses));
        // The unscored output's targets of 100 would dominate any loss that counted them.
        Assert.True(result.ValidationLosses[0] < 10, "the second output is not scored: " + result.ValidationLosses[0]);
        var states = trials.InitialStates(result.Network, count: 64, noise: 0.0, seed: 3);
        Assert.Equal((64, 8), (states.GetLength(0), states.GetLength(1)));
        using var wide = RnnNetwork.Create(inputSize: 3, units: 4);
        Assert.Throws<ArgumentException>(() => trials.InitialStates(wide));
        var path = Path.Combine(Path.GetTempPath(), "rnnfun-trials-" + Guid.NewGuid().ToString("N") + ".npz");
        try
        {
            trials.Save(path);
            var back = TrialSet.Load(path);
            Assert.Equal(trials.Lengths, back.Lengths);
            Assert.Equal(trials.Mask, back.Mask);
            Assert.Equal(trials.Inputs, back.Inputs);
        }
        finally { File.Delete(path); }
    }
}

/// <summary>The classic tasks through the facade.</summary>
public class ClassicTaskTests
{
    [Fact]
    public void The_classic_tasks_give_batches_with_a_mask_per_target_value()
    {
        var pdm = Tasks.PerceptualDecision(stimulus: 200, decision: 200, yangMask: true).Generate(4, seed: 1);
        Assert.Equal((4, 5 + 10 + 0 + 10, 3, 3), (pdm.Trials, pdm.Time, pdm.InputSize, pdm.OutputSize));
        Assert.NotNull(pdm.OutputMask);
        Assert.Null(pdm.Mask);
        Assert.Equal(1f, pdm.Inputs[0, 14, 0]);    // fixation on until the go cue at step 15
        Assert.Equal(0f, pdm.Inputs[0, 15, 0]);
        Assert.Equal(0f, pdm.OutputMask![0, 19, 0]);  // the 100 ms after the go cue are not scored
        Assert.Equal(10f, pdm.OutputMask![0, 20, 0]); // then 5, the fixation output's doubled
        var cdm = Tasks.ContextDecision(delayMax: 400, delayMin: 300);
        Assert.Equal(7, cdm.InputSize);
        Assert.Equal(15 + 38 + 20 + 5, cdm.Generate(2).Time);
        var e = Assert.Throws<ArgumentException>(() => Tasks.ContextDecision(delayMax: 100));
        Assert.Equal("delayMax", e.ParamName);
        Assert.Throws<ArgumentException>(() => Tasks.PerceptualDecision(coherences: Array.Empty<double>()));
        Assert.Equal("decision", Assert.Throws<ArgumentException>(() => Tasks.PerceptualDecision(yangMask: true)).ParamName);
        var pwm = Tasks.ParametricWorkingMemory(pairs: new[] { (20.0, 10.0) }, sigma: 0).Generate(1, seed: 2);
        Assert.Equal((2, 25 + 25 + 50 + 25 + 5), (pwm.InputSize, pwm.Time));
        Assert.Contains(pwm.Inputs[0, 25, 1], new[] { 0.5f, 1f }); // f1: 10 Hz shows 0.5, 20 Hz shows 1
        Assert.Equal("pairs", Assert.Throws<ArgumentException>(() => Tasks.ParametricWorkingMemory(pairs: new[] { (10.0, 20.0) })).ParamName);
        var dms = Tasks.DelayedMatchToSample(sigma: 0).Generate(1, seed: 3);
        Assert.Equal((3, 15 + 25 + 50 + 25 + 45), (dms.InputSize, dms.Time));
        Assert.Equal(1f, dms.Inputs[0, 15, 1] + dms.Inputs[0, 15, 2]); // the sample: one of two directions
        var dmc = Tasks.DelayedMatchToCategory(sigma: 0).Generate(1, seed: 3);
        Assert.Equal((3, 3, 25 + 32 + 50 + 32 + 32), (dmc.InputSize, dmc.OutputSize, dmc.Time)); // 650 ms rounds to 32 steps (to even)
        var c = dmc.Inputs[0, 25, 1]; var s = dmc.Inputs[0, 25, 2];
        Assert.Equal(1.0, c * c + s * s, 5); // the sample: a direction on the unit circle
        var gng = Tasks.GoNoGo(yangMask: true).Generate(2, seed: 1);
        Assert.Equal((3, 2, 25 + 25 + 25), (gng.InputSize, gng.OutputSize, gng.Time));
        Assert.Equal(1f, gng.Inputs[0, 49, 0]); // fixation on until the go cue at step 50
        Assert.Equal(0f, gng.Inputs[0, 50, 0]);
        var rsg = Tasks.ReadySetGo(intervals: new[] { 400.0 }, fixation: 100, flash: 80).Generate(1, seed: 0);
        Assert.Equal((3, 2, 5 + 20 + 40), (rsg.InputSize, rsg.OutputSize, rsg.Time));
        Assert.Equal(1f, rsg.Inputs[0, 5, 1]);   // ready at step 5
        Assert.Equal(1f, rsg.Inputs[0, 25, 2]);  // set 400 ms later
        Assert.Equal(1f, rsg.Targets[0, 44, 0]); // fixate until 400 ms after the set onset
        Assert.Equal(1f, rsg.Targets[0, 45, 1]);
        Assert.Equal("intervals", Assert.Throws<ArgumentException>(() => Tasks.ReadySetGo(intervals: Array.Empty<double>())).ParamName);
    }
}
