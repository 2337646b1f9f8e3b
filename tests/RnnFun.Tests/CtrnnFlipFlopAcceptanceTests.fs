/// The 3-bit flip-flop with the continuous-time kind, as `rnnfun train --task flipflop --kind ctrnn`
/// trains it (`Presets.withKindNamed "ctrnn"`): it must learn the task and hold its 8 memories as
/// attractors. One seed, to keep CI fast; the other seeds are reported in docs/training.md.
module RnnFun.Tests.CtrnnFlipFlopAcceptanceTests

open Expecto
open TorchSharp
open RnnFun

let private seed = 0

/// Trained once and shared by the tests below (the result owns the network for the whole run).
let private trained =
    lazy
        (let preset = Presets.flipFlop seed |> Presets.withKindNamed "ctrnn"
         preset, Presets.trainWith { FitHooks.none with Threads = Some 1 } preset)

[<Tests>]
let tests =
    testSequenced <| testList "Acceptance.CtrnnFlipFlop" [
        test "the flip-flop's ctrnn: dt/tau 0.5, rate readout, lr 2e-2, up to 80 epochs" {
            let preset = Presets.flipFlop seed |> Presets.withKindNamed "ctrnn"
            Expect.equal (Vanilla.ctrnnConfig preset.Kind) (Some { Dt = 5.0; Tau = 10.0; Readout = Readout.Rate }) "kind settings"
            Expect.equal (preset.Fit.LearningRate, preset.Fit.Epochs) (2e-2, 80) "rate and epochs"
            Expect.equal preset.Network.Trainable (Presets.flipFlop seed).Network.Trainable "the preset's trainable flags"
            // Other tasks keep the presets' common ctrnn.
            let integrator = Presets.integrator seed |> Presets.withKindNamed "ctrnn"
            Expect.equal (Vanilla.ctrnnConfig integrator.Kind) (Vanilla.ctrnnConfig (Presets.kindByName "ctrnn")) "integrator's ctrnn"
            Expect.equal integrator.Fit (Presets.integrator seed).Fit "integrator's settings"
        }

        test "seed 0: validation MSE <= 1e-3" {
            let _, r = trained.Value
            Expect.isGreaterThan r.BestEpoch 0 "an epoch completed"
            Expect.isLessThanOrEqual r.ValidationLosses[r.BestEpoch - 1] 1e-3 "best validation MSE"
        }

        test "seed 0: 8 attractors, one per sign pattern of the readout" {
            let preset, r = trained.Value
            let states =
                use _ = torch.NewDisposeScope()
                let x, _, _ = Training.toTensors Precision.Float32 (preset.Task.Generate 64 (seed + 100))
                use run = Network.unroll r.Network x
                InitialStates.ofTrajectories run.States
            let initial = InitialStates.fromStates 1024 0.5 seed states
            let found = FixedPoints.find FixedPointConfig.defaults r.Network (ConstantInput.Same [| 0.0; 0.0; 0.0 |]) initial
            let attractors = found.FixedPoints |> Array.filter (fun p -> p.Kind = FixedPointKind.Attractor)
            Expect.equal attractors.Length 8 "exactly 8 attractors"
            let pattern (p: FixedPoint) =
                use _ = torch.NewDisposeScope()
                let o = Network.readout r.Network (Arrays.toTensor Precision.Float32 [| int64 p.State.Length |] p.State)
                Arrays.ofTensor o |> Array.map (fun v -> if v >= 0.0 then 1 else -1)
            Expect.equal (attractors |> Array.map pattern |> Array.distinct |> Array.length) 8 "one attractor per pattern"
        }
    ]
