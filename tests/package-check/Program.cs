using RnnFun.CSharp;

// Train the 3-bit flip-flop preset (short trials and few epochs, to keep this quick).
using var training = Trainer.TrainPreset("flipflop", seed: 0, sequenceLength: 32, epochs: 10);
Console.WriteLine($"trained {training.Losses.Count} epochs, last loss {training.Losses[^1]:g3}, stopped: {training.StopReason}");

// Run it on fresh trials: outputs [trials, time, outputs] and states [trials, time, units].
var trials = Tasks.FlipFlop(time: 32).Generate(trials: 16, seed: 1);
var rollout = training.Network.Unroll(trials.Inputs);

// Fixed points from states along those trajectories, with their stability.
var initial = InitialStates.FromTrajectories(rollout.States, count: 256, noise: 0.5, seed: 0);
var search = FixedPointFinder.Find(training.Network, initial);
foreach (var p in search.FixedPoints)
    Console.WriteLine($"fixed point {p.Id}: {p.Kind}, {p.UnstableModes} unstable mode(s), |lambda1| = {p.Eigenvalues[0].Magnitude:f3}");

// Where the flow goes from each fixed point, and the dimensionality of the activity.
var topology = TopologyGraph.Build(training.Network, search.FixedPoints);
var pca = PcaModel.FitStates(rollout.States);
Console.WriteLine($"{topology.Edges.Count} edges; {pca.ComponentsForVariance(0.85)} components explain 85% of the variance");
// Hand the network to PyTorch (torch.nn.RNN and torch.nn.Linear keys) and read it back.
PyTorchFile.Export(training.Network, "flipflop.pt");
using var fromTorch = PyTorchFile.Import("flipflop.pt", PyTorchArchitecture.Rnn);
Console.WriteLine($"flipflop.pt: {fromTorch.Units} units, {fromTorch.ParameterCount} parameters");
search.Save("fixed-points.json");
training.Network.Save("model.json");
return search.FixedPoints.Count > 0 ? 0 : 1;
