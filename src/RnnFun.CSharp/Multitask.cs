using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>
/// Yang et al. 2019's 20-task battery (gyyang/multitask's task.py): inputs [fixation, ring 1, ring 2, one
/// rule input per task], outputs [fixation, output ring]; and their analysis of a network trained on it.
/// </summary>
public static class YangBattery
{
    /// <summary>The 20 tasks, in the order of their rule inputs.</summary>
    public static IReadOnlyList<string> Rules => Interop.ReadOnly(Core.YangConfig.defaults.Rules);

    private static Core.YangConfig Config(int ringUnits, double sigmaX, bool easy, IReadOnlyList<string>? rules)
    {
        var d = Core.YangConfig.defaults;
        return new Core.YangConfig(d.Dt, ringUnits, d.Alpha, sigmaX, easy, rules is null ? d.Rules : Interop.List(rules), d.RuleWeights);
    }

    /// <summary>Trials of all the tasks interleaved (each trial's task drawn uniformly), padded to the longest; for training.</summary>
    /// <param name="ringUnits">Units per ring (their n_eachring).</param>
    /// <param name="sigmaX">Input noise (scaled by sqrt(2 / alpha) as theirs).</param>
    /// <param name="easy">Their easy_task: larger coherences in the decision tasks.</param>
    /// <param name="rules">The tasks to draw from; null: all 20.</param>
    /// <returns>The task.</returns>
    public static RnnTask Mixed(int ringUnits = 32, double sigmaX = 0.01, bool easy = false, IReadOnlyList<string>? rules = null)
    {
        var config = Config(ringUnits, sigmaX, easy, rules);
        return new RnnTask(Interop.Call(() => Core.YangTasks.task(config), ("ring_units", nameof(ringUnits)), ("sigma_x", nameof(sigmaX))));
    }

    /// <summary>Trials of one task (a batch shares one timing, as theirs).</summary>
    /// <param name="rule">One of <see cref="Rules"/>.</param>
    /// <param name="ringUnits">Units per ring.</param>
    /// <param name="sigmaX">Input noise.</param>
    /// <returns>The task.</returns>
    public static RnnTask Rule(string rule, int ringUnits = 32, double sigmaX = 0.01)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var config = Config(ringUnits, sigmaX, false, null);
        return new RnnTask(Interop.Call(() => Core.YangTasks.ruleTask(config, rule)));
    }

    /// <summary>The fraction of each task's trials a network (trained on the 20 tasks, 32-unit rings) gets right: their get_perf at each trial's last step.</summary>
    /// <param name="network">The network: 85 inputs, 33 outputs.</param>
    /// <param name="trials">Trials per task.</param>
    /// <param name="seed">Seed of the trials.</param>
    /// <returns>Task name to fraction correct.</returns>
    public static IReadOnlyDictionary<string, double> Accuracy(RnnNetwork network, int trials = 256, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(network);
        var net = network.Inner;
        return Interop.Call(() => Core.Multitask.accuracyByRule(Core.YangConfig.defaults, net, trials, seed)).ToDictionary(r => r.Rule, r => r.Accuracy);
    }

    /// <summary>
    /// Their analysis of a network trained on the 20 tasks: each unit's task variance, the active units
    /// (summed variance above 1e-3), k-means clusters of the normalised variances with k by silhouette
    /// score, and each task's accuracy with each cluster silenced.
    /// </summary>
    /// <param name="network">The network: 85 inputs, 33 outputs.</param>
    /// <param name="varianceTrials">Trials per task for the task variance.</param>
    /// <param name="accuracyTrials">Trials per task for each accuracy.</param>
    /// <param name="seed">Seed of the trials and of k-means.</param>
    /// <returns>The analysis, plain data.</returns>
    public static MultitaskAnalysis Analyse(RnnNetwork network, int varianceTrials = 128, int accuracyTrials = 256, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(network);
        var net = network.Inner;
        var d = Core.MultitaskAnalysisConfig.defaults;
        var settings = new Core.MultitaskAnalysisConfig(varianceTrials, accuracyTrials, d.ActiveThreshold, d.ClusterCounts, d.Restarts, seed);
        return new MultitaskAnalysis(Interop.Call(() => Core.Multitask.analyse(settings, Core.YangConfig.defaults, net),
            ("trials", nameof(varianceTrials)), ("cluster_counts", nameof(network))));
    }
}

/// <summary>Yang et al.'s analysis of a multitask network (<see cref="YangBattery.Analyse"/>). Plain data.</summary>
public sealed class MultitaskAnalysis
{
    private readonly Core.MultitaskAnalysis _inner;

    internal MultitaskAnalysis(Core.MultitaskAnalysis inner) => _inner = inner;

    /// <summary>The tasks, in the order of every per-task array.</summary>
    public IReadOnlyList<string> Rules => Interop.ReadOnly(_inner.Variance.Rules);

    /// <summary>Each task's fraction correct.</summary>
    public IReadOnlyList<double> Accuracy => Interop.ReadOnly(_inner.Accuracy.Select(r => r.Accuracy));

    /// <summary>[units, tasks]: each unit's rate variance across a task's trials, averaged over time from 500 ms.</summary>
    public double[,] TaskVariance => Interop.Matrix(_inner.Variance.Variance, _inner.Variance.Rules.Length);

    /// <summary>The units whose variance summed over the tasks is above 1e-3.</summary>
    public IReadOnlyList<int> ActiveUnits => Interop.ReadOnly((int[])_inner.Variance.Active.Clone());

    /// <summary>[active units, tasks]: each active unit's variances over its largest.</summary>
    public double[,] NormalizedVariance => Interop.Matrix(_inner.Variance.Normalized, _inner.Variance.Rules.Length);

    /// <summary>The number of clusters (the k of the best silhouette score).</summary>
    public int ClusterCount => _inner.Clusters.K;

    /// <summary>The silhouette score of each k tried.</summary>
    public IReadOnlyDictionary<int, double> SilhouetteScores => _inner.Clusters.Scores.ToDictionary(s => s.Item1, s => s.Item2);

    /// <summary>The units (network indices) of each cluster.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Clusters => Interop.ReadOnly(_inner.Clusters.Members.Select(m => Interop.ReadOnly((int[])m.Clone())));

    /// <summary>[clusters, tasks]: each task's fraction correct with the cluster's units silenced.</summary>
    public double[,] LesionedAccuracy => Interop.Matrix(_inner.Lesions.Select(l => l.Accuracy.Select(r => r.Accuracy).ToArray()).ToArray(), _inner.Variance.Rules.Length);

    /// <summary>The fractional task variance (var_a - var_b) / (var_a + var_b) of the active units between two tasks.</summary>
    /// <param name="ruleA">A task.</param>
    /// <param name="ruleB">Another task.</param>
    /// <returns>(unit, FTV) of each active unit with variance in either task.</returns>
    public IReadOnlyList<(int Unit, double Ftv)> FractionalVariance(string ruleA, string ruleB)
    {
        var f = Interop.Call(() => Core.Multitask.fractionalVariance(_inner.Variance, ruleA, ruleB));
        return Interop.ReadOnly(f.Units.Zip(f.Ftv, (u, v) => (u, v)));
    }
}
