using Microsoft.FSharp.Core;
using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>A sweep's definition: its members (a grid expanded, or listed) and the analysis settings (format <c>rnnfun.sweep</c>).</summary>
public sealed class SweepDefinition
{
    internal Core.SweepConfig Inner { get; }

    internal SweepDefinition(Core.SweepConfig inner) => Inner = inner;

    /// <summary>The sweep's name.</summary>
    public string Name => Inner.Name;

    /// <summary>Number of members.</summary>
    public int MemberCount => Inner.Members.Length;

    /// <summary>
    /// Whether members that can train as one program (same task, kind, units, trial length, batch size, trials per epoch and
    /// validation trials) train together as one batched program instead of one by one (<c>"batched"</c> in the config; default false).
    /// The networks are the same; on a CPU it is slower (docs/performance.md), so it is for when per-op overhead dominates.
    /// </summary>
    public bool Batched => Inner.Batched;

    /// <summary>This sweep with batching on or off (see <see cref="Batched"/>); the members and their ids are unchanged.</summary>
    /// <param name="batched">Train groups of members as one batched program.</param>
    /// <returns>The sweep.</returns>
    public SweepDefinition WithBatched(bool batched) =>
        new(new Core.SweepConfig(Inner.Name, Inner.Members, Inner.Analysis, batched));

    /// <summary>Each member's stable id (derived from its settings, not from its place in the config), in config order.</summary>
    public IReadOnlyList<string> MemberIds => Interop.ReadOnly(Inner.Members.Select(m => Core.Sweep.memberId(Inner.Analysis, m)));

    /// <summary>The settings a member sets (key, value as written in the config), in the format's key order.</summary>
    /// <param name="index">The member's index (0-based).</param>
    /// <returns>The settings.</returns>
    public IReadOnlyDictionary<string, string> MemberSettings(int index)
    {
        if (index < 0 || index >= Inner.Members.Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"expected 0 to {Inner.Members.Length - 1}, got {index}");
        return Core.Sweep.settings(Inner.Members[index]).ToDictionary(p => p.Item1, p => p.Item2);
    }

    /// <summary>Reads and checks a sweep config file.</summary>
    /// <param name="path">The file (relative data paths are taken from its folder).</param>
    /// <returns>The sweep.</returns>
    /// <exception cref="RnnFileFormatException">The file is missing, malformed or describes an invalid sweep (the message names the key).</exception>
    public static SweepDefinition Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new SweepDefinition(Interop.Call(() => Core.Sweep.load(path)));
    }

    /// <summary>Parses a sweep config from JSON text.</summary>
    /// <param name="json">The config (format <c>rnnfun.sweep</c>, version 1).</param>
    /// <param name="baseDirectory">Where relative data paths start (default: the current folder).</param>
    /// <returns>The sweep.</returns>
    /// <exception cref="ArgumentException">An invalid config (the message names the key).</exception>
    public static SweepDefinition Parse(string json, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        return new SweepDefinition(Interop.Call(() => Core.Sweep.parse(baseDirectory ?? Directory.GetCurrentDirectory(), json)));
    }

    /// <summary>A built-in sweep: <c>flipflop-kinds</c> (rnn, gru and lstm, 3 seeds each, 64 units, on the 3-bit flip-flop).</summary>
    /// <param name="name">The preset's name.</param>
    /// <param name="quick">A tiny version (tens of seconds), too little training for the science.</param>
    /// <returns>The sweep.</returns>
    /// <exception cref="ArgumentException">An unknown name.</exception>
    public static SweepDefinition Preset(string name, bool quick = false)
    {
        ArgumentNullException.ThrowIfNull(name);
        return new SweepDefinition(Interop.Call(() => Core.Sweep.presetByName(name, quick)));
    }

    /// <summary>Writes the sweep with its members listed (the grid expanded), atomically.</summary>
    /// <param name="path">Where to write.</param>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Interop.Call(() => Core.Sweep.save(path, Inner));
    }
}

/// <summary>sbatch options of a sweep on Slurm; null properties are left to the cluster's defaults.</summary>
public sealed class SlurmSettings
{
    /// <summary>sbatch --partition.</summary>
    public string? Partition { get; init; }

    /// <summary>sbatch --time per array task (e.g. "00:30:00").</summary>
    public string? Time { get; init; }

    /// <summary>sbatch --mem per array task (e.g. "4G").</summary>
    public string? Memory { get; init; }

    /// <summary>sbatch --cpus-per-task.</summary>
    public int? CpusPerTask { get; init; }

    /// <summary>Further sbatch arguments, one word each (e.g. "--account=lab").</summary>
    public IReadOnlyList<string> ExtraArgs { get; init; } = Array.Empty<string>();

    /// <summary>Seconds between two polls of squeue (default 2).</summary>
    public double PollSeconds { get; init; } = Core.SlurmOptions.defaults.PollSeconds;

    internal Core.SlurmOptions ToCore() =>
        new(Interop.OfObj(Partition), Interop.OfObj(Time), Interop.OfObj(Memory), Interop.OfNullable(CpusPerTask), Interop.List(ExtraArgs), PollSeconds);
}

/// <summary>One finished member of a sweep.</summary>
public sealed class SweepMemberResult
{
    private readonly Core.SweepMemberRecord _inner;

    internal SweepMemberResult(Core.SweepMemberRecord inner) => _inner = inner;

    /// <summary>The member's stable id (its folder under members/).</summary>
    public string Id => _inner.Id;

    /// <summary>The kind's name.</summary>
    public string Kind => _inner.Member.Kind;

    /// <summary>The seed.</summary>
    public int Seed => _inner.Member.Seed;

    /// <summary>The settings it sets (key, value).</summary>
    public IReadOnlyDictionary<string, string> Settings => Core.Sweep.settings(_inner.Member).ToDictionary(p => p.Item1, p => p.Item2);

    /// <summary>Validation MSE of the kept epoch (NaN: none).</summary>
    public double ValidationMse => _inner.ValidationMse;

    /// <summary>Fixed points found.</summary>
    public int FixedPoints => _inner.FixedPoints;

    /// <summary>Of those, attractors.</summary>
    public int Attractors => _inner.Attractors;

    /// <summary>Of those, saddles.</summary>
    public int Saddles => _inner.Saddles;

    /// <summary>Fixed points by number of unstable modes: [with 0, with 1, ...].</summary>
    public IReadOnlyList<int> ByUnstableModes => Interop.ReadOnly(_inner.ByUnstableModes);

    /// <summary>Flip-flop only: pairs of attractors one bit apart (null for another task).</summary>
    public int? OneBitPairs => FSharpOption<Core.FlipFlopStructure>.get_IsSome(_inner.FlipFlop) ? _inner.FlipFlop.Value.OneBitPairs : null;

    /// <summary>Flip-flop only: of those, the pairs a one-unstable-mode saddle joins (null for another task).</summary>
    public int? ConnectedPairs => FSharpOption<Core.FlipFlopStructure>.get_IsSome(_inner.FlipFlop) ? _inner.FlipFlop.Value.ConnectedPairs : null;

    /// <summary>Flip-flop only: every memory an attractor and every one-bit-apart pair joined (null for another task).</summary>
    public bool? FlipFlopComplete => FSharpOption<Core.FlipFlopStructure>.get_IsSome(_inner.FlipFlop) ? _inner.FlipFlop.Value.Complete : null;
}

/// <summary>What a sweep found: its finished members, the failed ones, and the comparison.</summary>
public sealed class SweepResult
{
    private readonly Core.SweepSummary _inner;

    internal SweepResult(Core.SweepSummary inner) => _inner = inner;

    /// <summary>The sweep's folder.</summary>
    public string Directory => _inner.Directory;

    /// <summary>The finished members, in config order.</summary>
    public IReadOnlyList<SweepMemberResult> Members => Interop.ReadOnly(_inner.Members.Select(m => new SweepMemberResult(m)));

    /// <summary>The members that did not finish: id and reason.</summary>
    public IReadOnlyDictionary<string, string> Failed => _inner.Failed.ToDictionary(f => f.Item1, f => f.Item2);

    /// <summary>The comparison of the finished members; null with fewer than two.</summary>
    public NetworkComparison? Comparison =>
        FSharpOption<Core.Comparison>.get_IsSome(_inner.Comparison) ? new NetworkComparison(_inner.Comparison.Value) : null;

    /// <summary>Mean SVCCA distance between members of the same kind (NaN: no such pair).</summary>
    public double SvccaWithinKind => _inner.SvccaWithinKind;

    /// <summary>Mean SVCCA distance between members of different kinds (NaN: no such pair).</summary>
    public double SvccaBetweenKinds => _inner.SvccaBetweenKinds;

    /// <summary>The population report's path (report.html in the folder; written by <see cref="Sweep.Run"/> with report on).</summary>
    public string ReportPath => Path.Combine(_inner.Directory, "report.html");

    /// <summary>The headline lines <c>rnnfun sweep</c> prints: mean distances within and between kinds, each flip-flop network's structure, failures.</summary>
    public IReadOnlyList<string> Headline => Interop.ReadOnly(RnnFun.Plotting.PopulationReport.headline(_inner));
}

/// <summary>Sweeps: many networks trained and analysed into one folder, resumably (a finished member is never run twice), then compared.</summary>
public static class Sweep
{
    private static Core.SweepHooks Hooks(Action<string>? log, bool report)
    {
        var logger = FuncConvert.FromAction(log ?? (_ => { }));
        return report ? RnnFun.Plotting.PopulationReport.hooks(logger) : new Core.SweepHooks(logger, FSharpOption<FSharpFunc<string, FSharpFunc<Core.SweepSummary, Unit>>>.None);
    }

    /// <summary>Runs a sweep on this machine: every unfinished member, then the comparison, summary.json and (with <paramref name="report"/>) report.html.</summary>
    /// <param name="sweep">The sweep.</param>
    /// <param name="outDirectory">Its folder (rerunning with the same folder resumes).</param>
    /// <param name="log">Progress lines; null: none.</param>
    /// <param name="report">Write the population report (default true).</param>
    /// <param name="batched">Train groups of members that share a shape as one batched program (<see cref="SweepDefinition.Batched"/>); null: as the sweep says.</param>
    /// <returns>What it found.</returns>
    /// <exception cref="ArgumentException">An invalid sweep.</exception>
    public static SweepResult Run(SweepDefinition sweep, string outDirectory, Action<string>? log = null, bool report = true, bool? batched = null)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        ArgumentNullException.ThrowIfNull(outDirectory);
        var inner = batched is bool b ? sweep.WithBatched(b).Inner : sweep.Inner;
        return new SweepResult(Interop.Call(() => Core.Sweep.run(Hooks(log, report), inner, outDirectory)));
    }

    /// <summary>Runs one member (what a Slurm array task runs); skipped when it has finished before.</summary>
    /// <param name="sweep">The sweep.</param>
    /// <param name="outDirectory">Its folder.</param>
    /// <param name="index">The member's index (0-based).</param>
    /// <param name="log">Progress lines; null: none.</param>
    /// <returns>Whether the member has finished (false: it failed; its error.txt says why).</returns>
    public static bool RunMember(SweepDefinition sweep, string outDirectory, int index, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        ArgumentNullException.ThrowIfNull(outDirectory);
        var result = Interop.Call(() => Core.Sweep.runMember(Hooks(log, false), sweep.Inner, outDirectory, index), ("member_index", nameof(index)));
        return result.Item2.Length == 0;
    }

    /// <summary>
    /// Runs a sweep on a Slurm cluster: one job-array task per unfinished member (sbatch; per group of them when the sweep is
    /// <see cref="SweepDefinition.Batched"/>), waits for the array
    /// to leave the queue, then compares here and writes the report.
    /// </summary>
    /// <param name="sweep">The sweep.</param>
    /// <param name="outDirectory">Its folder, on a file system the cluster's nodes share.</param>
    /// <param name="workerCommand">The command that starts rnnfun on a node, e.g. ["dotnet", "/abs/path/RnnFun.Cli.dll"].</param>
    /// <param name="settings">sbatch options; null: the cluster's defaults.</param>
    /// <param name="log">Progress lines; null: none.</param>
    /// <returns>What it found.</returns>
    /// <exception cref="ArgumentException">sbatch is missing or refused the job (parameter name "slurm").</exception>
    public static SweepResult RunOnSlurm(SweepDefinition sweep, string outDirectory, IReadOnlyList<string> workerCommand, SlurmSettings? settings = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        ArgumentNullException.ThrowIfNull(outDirectory);
        ArgumentNullException.ThrowIfNull(workerCommand);
        var options = (settings ?? new SlurmSettings()).ToCore();
        return new SweepResult(Interop.Call(() => Core.Sweep.runSlurm(Hooks(log, true), options, Interop.List(workerCommand), sweep.Inner, outDirectory)));
    }

    /// <summary>Compares the finished members of a sweep's folder (no training) and writes comparison.json and summary.json.</summary>
    /// <param name="sweep">The sweep.</param>
    /// <param name="outDirectory">Its folder.</param>
    /// <returns>What it found.</returns>
    public static SweepResult Gather(SweepDefinition sweep, string outDirectory)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        ArgumentNullException.ThrowIfNull(outDirectory);
        return new SweepResult(Interop.Call(() => Core.Sweep.gather(sweep.Inner, outDirectory)));
    }
}
