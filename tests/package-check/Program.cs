// A consumer's-eye check of the packages: this program is built against RnnFun.CSharp from a local
// package folder only (tests/package-check.sh), then run.
using RnnFun.CSharp;

using var network = RnnNetwork.Create(NetworkKind.Ctrnn, inputSize: 3, units: 16, outputSize: 3, seed: 1, daleRatio: 0.8, autapses: false);
var inputs = new float[2, 10, 3];
inputs[0, 0, 0] = 1f;
var rollout = network.Unroll(inputs);
if (rollout.Outputs.GetLength(0) != 2 || rollout.Outputs.GetLength(1) != 10 || rollout.Outputs.GetLength(2) != 3)
    throw new InvalidOperationException("unexpected output shape");
var search = FixedPointFinder.Find(network, InitialStates.UniformBox(64, network.Units, -1.0, 1.0));
Console.WriteLine($"package check: outputs [2, 10, 3], {search.FixedPoints.Count} fixed point(s)");
return search.FixedPoints.Count > 0 ? 0 : 1;
