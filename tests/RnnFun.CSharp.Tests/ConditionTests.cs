using RnnFun.CSharp;

namespace CSharp.Tests;

public class ConditionTests
{
    private static RnnNetwork DoubledIdentity(int units)
    {
        var w = new double[units, units];
        for (int i = 0; i < units; i++) w[i, i] = 2.0;
        return RnnNetwork.FromWeights(wIn: new double[units, 1], wRec: w, bRec: new double[units], wOut: new double[1, units], float64: true);
    }

    [Fact]
    public void Fixed_points_per_condition_are_grouped_by_input_and_judged_unique_on_state_and_input()
    {
        // W_in = 0: both inputs have the same 9 points {-a*, 0, a*}^2, which are 18 on [x, u].
        using var net = DoubledIdentity(2);
        var conditions = new[] { new ConditionInput("zero", new[] { 0.0 }), new ConditionInput("one", new[] { 1.0 }) };
        var search = ConditionFinder.Find(net, conditions, InitialStates.UniformBox(128, 2, -1.5, 1.5, seed: 0));
        Assert.Equal(18, search.Search.FixedPoints.Count);
        Assert.Equal(new[] { "zero", "one" }, search.Conditions.Select(c => c.Condition.Name));
        Assert.All(search.Conditions, c =>
        {
            Assert.Equal(9, c.FixedPoints.Count);
            Assert.All(c.FixedPoints, p => Assert.Equal(c.Condition.Input, p.Input));
        });
        Assert.Equal(256, search.ConditionOfState.Count);

        var path = Path.Combine(Path.GetTempPath(), $"rnnfun-conditions-{Guid.NewGuid():N}.json");
        try
        {
            ConditionFinder.Save(path, conditions, search.Search.FixedPoints);
            Assert.Equal(new[] { "zero", "one" }, ConditionFinder.LoadConditions(path).Select(c => c.Name));
            Assert.Equal(18, FixedPointFinder.Load(path).Count);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Slow_points_come_with_the_threshold_chosen_from_the_distribution_of_q()
    {
        using var net = DoubledIdentity(2);
        var result = SlowPointFinder.FindPerCondition(net, new[] { new ConditionInput("zero", new[] { 0.0 }), new ConditionInput("one", new[] { 1.0 }) },
            InitialStates.UniformBox(64, 2, -1.5, 1.5, seed: 1));
        Assert.Equal(2, result.Groups.Count);
        Assert.All(result.Groups, g =>
        {
            Assert.Contains(g.Rule, new[] { "gap", "knee", "none" });
            Assert.All(g.Points, p => Assert.True(p.Q <= g.Threshold, $"q {p.Q} above the threshold {g.Threshold}"));
            Assert.True(g.Q.Count >= g.Points.Count);
        });
        Assert.Equal(2, ConditionInput.ContextDecision.Count);
        Assert.Throws<ArgumentException>(() => ConditionFinder.Find(net, new[] { new ConditionInput("a", new[] { 0.0 }), new ConditionInput("a", new[] { 1.0 }) }, new double[,] { { 0.1, 0.2 } }));
    }
}
