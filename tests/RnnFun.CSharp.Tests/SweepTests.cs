using RnnFun.CSharp;

namespace CSharp.Tests;

public class SweepTests
{
    private const string Tiny = """
        { "format": "rnnfun.sweep", "version": 1, "name": "tiny",
          "grid": { "kind": ["rnn", "gru"], "seed": 0, "units": 8, "epochs": 2, "sequence_length": 16, "trials_per_epoch": 64 },
          "analysis": { "initial_states": 32, "runs_per_point": 4, "comparison_trials": 8 } }
        """;

    [Fact]
    public void A_tiny_sweep_runs_compares_reports_and_resumes_without_training_again()
    {
        var dir = Path.Combine(Path.GetTempPath(), "rnnfun-cs-sweep-" + Guid.NewGuid().ToString("N"));
        try
        {
            var sweep = SweepDefinition.Parse(Tiny);
            Assert.Equal(2, sweep.MemberCount);
            Assert.StartsWith("rnn-flipflop-s0-", sweep.MemberIds[0]);
            Assert.Equal("8", sweep.MemberSettings(1)["units"]);
            var log = new List<string>();
            var result = Sweep.Run(sweep, dir, log.Add);
            Assert.Equal(sweep.MemberIds, result.Members.Select(m => m.Id).ToList());
            Assert.Empty(result.Failed);
            Assert.Equal(new[] { "rnn", "gru" }, result.Members.Select(m => m.Kind).ToArray());
            foreach (var m in result.Members)
            {
                Assert.Equal(m.FixedPoints, m.ByUnstableModes.Sum());
                Assert.NotNull(m.ConnectedPairs);
                Assert.True(m.ConnectedPairs <= m.OneBitPairs);
            }
            var c = result.Comparison!;
            Assert.Equal(2, c.Names.Count);
            Assert.Equal(c.Svcca[0, 1], c.Svcca[1, 0]);
            Assert.Equal(0.0, c.Svcca[0, 0]);
            // One pair, of different kinds: no within-kind mean, the between-kind mean is that pair's distance.
            Assert.True(double.IsNaN(result.SvccaWithinKind));
            Assert.Equal(c.Svcca[0, 1], result.SvccaBetweenKinds, 12);
            Assert.True(File.Exists(result.ReportPath));
            Assert.Contains(result.Headline, l => l.StartsWith("SVCCA distance: mean"));
            Assert.Equal(2, log.Count(l => l.Contains(": training")));

            log.Clear();
            Sweep.Run(sweep, dir, log.Add, report: false);
            Assert.Equal(0, log.Count(l => l.Contains(": training")));
            Assert.Equal(2, log.Count(l => l.Contains("skipped")));
            Assert.True(Sweep.RunMember(sweep, dir, 1));
            Assert.Throws<ArgumentException>(() => Sweep.RunMember(sweep, dir, 2));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void An_invalid_config_is_an_ArgumentException_naming_the_problem()
    {
        var e = Assert.Throws<ArgumentException>(() => SweepDefinition.Parse(Tiny.Replace("\"gru\"", "\"vanilla\"")));
        Assert.Contains("unknown kind 'vanilla'", e.Message);
        Assert.Throws<ArgumentException>(() => SweepDefinition.Preset("nope"));
        Assert.Equal(9, SweepDefinition.Preset("flipflop-kinds").MemberCount);
        Assert.Equal(6, SweepDefinition.Preset("flipflop-kinds", quick: true).MemberCount);
    }

    [Fact]
    public void Batched_is_off_by_default_read_from_the_config_and_set_by_WithBatched_or_Run()
    {
        var sweep = SweepDefinition.Parse(Tiny.Replace("\"seed\": 0", "\"seed\": [0, 1]").Replace("[\"rnn\", \"gru\"]", "\"rnn\""));
        Assert.False(sweep.Batched);
        var on = sweep.WithBatched(true);
        Assert.True(on.Batched);
        Assert.Equal(sweep.MemberIds, on.MemberIds);
        Assert.True(SweepDefinition.Parse(Tiny.Replace("\"name\": \"tiny\",", "\"name\": \"tiny\", \"batched\": true,")).Batched);
        var e = Assert.Throws<ArgumentException>(() => SweepDefinition.Parse(Tiny.Replace("\"name\": \"tiny\",", "\"name\": \"tiny\", \"batched\": 1,")));
        Assert.Contains("batched: expected true or false", e.Message);
        var dir = Path.Combine(Path.GetTempPath(), "rnnfun-cs-sweep-" + Guid.NewGuid().ToString("N"));
        try
        {
            var log = new List<string>();
            var result = Sweep.Run(sweep, dir, log.Add, report: false, batched: true);
            Assert.Empty(result.Failed);
            Assert.Equal(2, result.Members.Count);
            Assert.Single(log, l => l.Contains("batched group of 2"));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }
}
