module RnnFun.Tests.TrainingTests

open System
open System.IO
open System.Threading
open Expecto
open TorchSharp
open RnnFun

let private smallTask = Tasks.flipFlop { FlipFlopConfig.defaults with Time = 24; PulseProbability = 0.2 }

let private smallNet seed =
    Network.create Kinds.rnn
        { NetworkConfig.defaults with
            InputSize = 3
            Units = 16
            OutputSize = 3
            Seed = seed
            Trainable = Map.ofList [ "w_in", true; "w_out", true ] }

let private quick =
    { FitConfig.defaults with BatchSize = 32; Epochs = 8; LearningRate = 1e-2; KeepBest = false }

let private oneThread = { FitHooks.none with Threads = Some 1 }

let private fresh = TrainingData.Fresh(smallTask, 160)

let private tempFile () = Path.Combine(Path.GetTempPath(), "rnnfun-train-" + Guid.NewGuid().ToString("N") + ".json")

let private allFinite (net: Network) =
    Network.values net
    |> List.forall (fun (_, v) ->
        match v with
        | ParameterValue.Matrix m -> m |> Array.forall (Array.forall Double.IsFinite)
        | ParameterValue.Vector v -> v |> Array.forall Double.IsFinite)

[<Tests>]
let tests =
    testList "Training" [
        test "Presets.withUnits: the rnn flip-flop trains at 3e-3 for 60 epochs above 128 units; other presets and sizes keep their settings" {
            let flipFlop = Presets.flipFlop 0
            let large = Presets.withUnits 256 flipFlop
            Expect.equal large.Network.Units 256 "256 units"
            Expect.equal large.Fit.LearningRate 3e-3 "rate 3e-3"
            Expect.equal large.Fit.Epochs 60 "60 epochs"
            let small = Presets.withUnits 128 flipFlop
            Expect.equal small.Network.Units 128 "128 units"
            Expect.equal (small.Fit.LearningRate, small.Fit.Epochs) (flipFlop.Fit.LearningRate, flipFlop.Fit.Epochs) "128 units: the preset's own rate and epochs"
            let gru = Presets.withUnits 256 (Presets.withKind Kinds.gru flipFlop)
            Expect.equal gru.Fit.LearningRate flipFlop.Fit.LearningRate "a gru flip-flop keeps its rate"
            let integrator = Presets.byName "integrator" 0
            Expect.equal (Presets.withUnits 256 integrator).Fit integrator.Fit "the integrator keeps its settings"
            expectInvalid (fun () -> Presets.withUnits 0 flipFlop) "0 units" |> ignore
        }
        test "the loss falls below half its start within a few hundred steps (small flip-flop, fixed seed)" {
            use net = smallNet 1L
            use r = Training.fitWith oneThread { quick with Epochs = 40 } net fresh
            Expect.equal r.Steps 200 "40 epochs of 5 batches"
            Expect.isLessThan (Array.last r.Losses) (r.Losses[0] / 2.0) (sprintf "loss %g -> %g" r.Losses[0] (Array.last r.Losses))
            Expect.equal r.StopReason StopReason.Completed "completed"
            Expect.equal r.Losses.Length 40 "exactly the asked epochs (not one more)"
        }

        test "the same seed gives the same loss history; another seed another" {
            let run seed =
                use net = smallNet 3L
                use r = Training.fitWith oneThread { quick with Epochs = 3; Seed = seed; InputNoise = 0.05; RecurrentNoise = 0.05 } net fresh
                r.Losses
            let a, b, c = run 5, run 5, run 6
            Expect.equal a b "identical"
            Expect.notEqual a c "seed matters"
        }

        test "the given network is unchanged and frozen parameters stay frozen" {
            use net = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 3; Units = 16; OutputSize = 3; Seed = 2L }
            let before = Network.values net |> Map.ofList
            use r = Training.fitWith oneThread quick net fresh
            Expect.equal (Network.values net |> Map.ofList) before "input network unchanged"
            let after = Network.values r.Network |> Map.ofList
            Expect.equal after["w_in"] before["w_in"] "w_in frozen (not trainable by default)"
            Expect.equal after["w_out"] before["w_out"] "w_out frozen"
            Expect.notEqual after["w_rec"] before["w_rec"] "w_rec trained"
        }

        test "MultiStep schedule: lr = lr0 * gamma^(milestones <= epoch index)" {
            use net = smallNet 1L
            use r = Training.fitWith oneThread { quick with Epochs = 6; Schedule = LearningRateSchedule.MultiStep([ 2; 4 ], 0.1) } net fresh
            let expected = [| 0 .. 5 |] |> Array.map (fun e -> 1e-2 * (0.1 ** float ([ 2; 4 ] |> List.filter (fun m -> m <= e) |> List.length)))
            Expect.equal r.LearningRates.Length 6 "one rate per epoch"
            for e in 0 .. 5 do Expect.floatClose Accuracy.veryHigh r.LearningRates[e] expected[e] (sprintf "epoch %d" e)
        }

        test "ReduceOnPlateau: the rate drops by the factor after patience epochs without improvement" {
            use net = smallNet 1L
            let data = smallTask.Generate 32 9
            // A negligible rate: the loss cannot improve, so every patience + 1 epochs the rate halves.
            let lr = 1e-12
            use r = Training.fitWith oneThread { quick with Epochs = 6; LearningRate = lr; Schedule = LearningRateSchedule.ReduceOnPlateau(0.5, 1, 0.0) } net (TrainingData.Dataset data)
            Expect.equal r.LearningRates [| lr; lr; lr; lr / 2.0; lr / 2.0; lr / 4.0 |] "rates"
        }

        test "element-wise clipping bounds every gradient element; norm clipping bounds the global norm" {
            use _ = torch.NewDisposeScope()
            // Seeded, and mild enough that no gradient overflows float32.
            use generator = new torch.Generator(7UL)
            let leaves = [ torch.randn([| 5L; 4L |], generator = generator).requires_grad_(true); torch.randn([| 3L |], generator = generator).requires_grad_(true) ]
            let loss () = (leaves[0] * 100.0).square().sum() + (leaves[1] * 3.0).exp().sum()
            (loss ()).backward()
            Expect.isGreaterThan (leaves |> List.map (fun l -> l.grad.abs().max().ToDouble()) |> List.max) 0.5 "big gradients to clip"
            Training.clipGradients (GradientClipping.Value 0.5) leaves
            for l in leaves do Expect.isLessThanOrEqual (l.grad.abs().max().ToDouble()) 0.5 "every element within [-c, c]"
            for l in leaves do l.grad.zero_() |> ignore
            (loss ()).backward()
            Training.clipGradients (GradientClipping.GlobalNorm 2.0) leaves
            let norm = sqrt (leaves |> List.sumBy (fun l -> l.grad.square().sum().ToDouble()))
            Expect.floatClose Accuracy.medium norm 2.0 "global norm clipped to c"
        }

        test "norm clipping leaves an infinite gradient as it is instead of turning it into NaN" {
            use _ = torch.NewDisposeScope()
            let leaf = torch.tensor([| 1.0f; 2.0f; 3.0f |]).requires_grad_(true)
            leaf.grad <- torch.tensor([| infinity |> float32; 1.0f; -2.0f |])
            Expect.isFalse (Training.tryClipGradients (GradientClipping.GlobalNorm 1.0) [ leaf ]) "the caller is told"
            Expect.equal (values leaf.grad) [| infinity; 1.0; -2.0 |] "unchanged: no NaN, no silent zeroing"
            Training.clipGradients (GradientClipping.GlobalNorm 1.0) [ leaf ]
            Expect.equal (values leaf.grad) [| infinity; 1.0; -2.0 |] "clipGradients leaves it unchanged too"
            leaf.grad <- torch.tensor([| 3.0f; 4.0f; 0.0f |])
            Expect.isTrue (Training.tryClipGradients (GradientClipping.GlobalNorm 1.0) [ leaf ]) "a finite norm"
            Expect.floatClose Accuracy.medium (leaf.grad.norm().ToDouble()) 1.0 "a finite norm is still clipped"
        }

        test "early stop: stops at the first epoch at or below stop_loss" {
            let run stop =
                use net = smallNet 4L
                use r = Training.fitWith oneThread { quick with Epochs = 12; StopLoss = stop } net fresh
                r.Losses, r.StopReason, r.StoppedAtEpoch
            let reference, _, _ = run None
            let threshold = reference[6]
            let first = reference |> Array.findIndex (fun l -> l <= threshold)
            let losses, reason, stoppedAt = run (Some threshold)
            Expect.equal reason StopReason.StopLoss "reason"
            Expect.equal stoppedAt (first + 1) "first epoch at or below"
            Expect.equal losses reference[0..first] "same history up to there"
        }

        test "save_at_min_loss writes the best epoch's weights, and KeepBest returns them" {
            let path = tempFile ()
            try
                use net = smallNet 6L
                let validation = smallTask.Generate 64 -1
                use r = Training.fitWith { oneThread with OnBest = Some(ModelFile.saveBest path) } { quick with Epochs = 10; KeepBest = true; Validation = Some validation } net fresh
                let best = r.ValidationLosses |> Array.mapi (fun i l -> i, l) |> Array.minBy snd |> fst
                Expect.equal r.BestEpoch (best + 1) "best epoch = lowest validation loss"
                use saved = ModelFile.load path
                Expect.equal (Network.values saved) (Network.values r.Network) "file = returned best weights"
                // The saved weights reproduce the best validation loss.
                use _ = torch.NewDisposeScope()
                let x, y, _ = Training.toTensors Precision.Float32 validation
                use o = Network.unroll saved x
                Expect.floatClose Accuracy.medium ((Training.mse o.Outputs y None).ToDouble()) r.ValidationLosses[best] "best validation loss"
            finally
                if File.Exists path then File.Delete path
        }

        test "validation overlapped with the next epoch gives what validation in line gives: weights, losses, best epoch, checkpoints, stop" {
            let run (overlap: bool) (config: FitConfig) =
                use net = smallNet 9L
                let bests = ResizeArray<int * (string * ParameterValue) list>()
                let epochs = ResizeArray<int>()
                let hooks =
                    { oneThread with
                        OverlapValidation = overlap
                        Progress = Some(fun p -> if p.Batch = 1 then epochs.Add p.Epoch)
                        OnBest = Some(fun n -> bests.Add(epochs.Count, Network.values n)) }
                use r = Training.fitWith hooks config net fresh
                Network.values r.Network, r.Losses, r.ValidationLosses, r.BestEpoch, (r.StopReason, r.StoppedAtEpoch), (bests |> Seq.map snd |> List.ofSeq), r.EpochEndSeconds.Length
            let validation = Some(smallTask.Generate 48 -1)
            for config in
                [ { quick with Epochs = 9; KeepBest = true; Validation = validation }
                  { quick with Epochs = 30; KeepBest = true; Validation = validation; StopLoss = Some 0.2 }
                  { quick with Epochs = 6; KeepBest = false; Validation = validation; Schedule = LearningRateSchedule.MultiStep([ 2; 4 ], 0.5) } ] do
                let inLine = run false config
                let overlapped = run true config
                let values, losses, validationLosses, bestEpoch, stop, bests, ends = overlapped
                let values', losses', validationLosses', bestEpoch', stop', bests', ends' = inLine
                Expect.equal losses losses' "training losses"
                Expect.equal validationLosses validationLosses' "validation losses"
                Expect.equal bestEpoch bestEpoch' "best epoch"
                Expect.equal stop stop' "stop reason and epoch"
                Expect.equal values values' "returned weights"
                Expect.equal bests bests' "the checkpoints OnBest saw, in order"
                Expect.equal ends ends' "one end time per epoch"
                Expect.equal validationLosses.Length losses.Length "every epoch validated"
        }

        test "fit records when each epoch ended, validation included" {
            use net = smallNet 6L
            use r = Training.fitWith oneThread { quick with Epochs = 4; Validation = Some(smallTask.Generate 16 -1) } net fresh
            Expect.equal r.EpochEndSeconds.Length r.Losses.Length "one time per epoch"
            Expect.isTrue (r.EpochEndSeconds[0] > 0.0) "the first epoch took time"
            Expect.isTrue (r.EpochEndSeconds |> Array.pairwise |> Array.forall (fun (a, b) -> a <= b)) "times never go back"
            Expect.isLessThanOrEqual r.EpochEndSeconds[r.EpochEndSeconds.Length - 1] r.WallTime.TotalSeconds "within the run's wall time"
        }

        test "cancellation stops after the current batch and returns what it has" {
            use cancel = new CancellationTokenSource()
            use net = smallNet 1L
            let progress (p: TrainingProgress) = if p.Epoch = 2 && p.Batch = 3 then cancel.Cancel()
            use r = Training.fitWith { oneThread with Progress = Some progress; Cancellation = cancel.Token } quick net fresh
            Expect.equal r.StopReason StopReason.Cancelled "reason"
            Expect.equal r.Steps 8 "5 + 3 steps"
            Expect.equal r.StoppedAtEpoch 2 "epoch"
            Expect.isTrue (allFinite r.Network) "a usable network"
        }

        test "divergence: a huge learning rate stops with 'diverged' and never returns NaN weights" {
            use net = smallNet 1L
            use r = Training.fitWith oneThread { quick with LearningRate = 1e30; Epochs = 50 } net fresh
            Expect.equal r.StopReason StopReason.Diverged "reason"
            Expect.isLessThan r.StoppedAtEpoch 50 "stopped early"
            Expect.isTrue (allFinite r.Network) "finite weights"
        }

        test "constraints hold after training with Dale's law, no autapses and masks together" {
            let random = Random(3)
            let mask rows cols = Array.init rows (fun _ -> Array.init cols (fun _ -> if random.NextDouble() < 0.7 then 1.0 else 0.0))
            let constraints =
                { Constraints.none with
                    Autapses = false
                    DaleRatio = Some 0.75
                    InputMask = Some(mask 16 3)
                    RecurrentMask = Some(mask 16 16)
                    OutputMask = Some(mask 3 16) }
            for kind in [ Kinds.rnn; Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 20.0 } ] do
                use net =
                    Network.create kind
                        { NetworkConfig.defaults with
                            InputSize = 3; Units = 16; OutputSize = 3; Constraints = constraints
                            Trainable = Map.ofList [ "w_in", true; "w_out", true ] }
                use r = Training.fitWith oneThread { quick with Epochs = 5; LearningRate = 0.05 } net fresh
                let wIn, wRec, wOut = effectiveMatrices r.Network
                Expect.equal (constraintViolation constraints wIn wRec wOut) None (sprintf "%s: constraints hold" kind.Name)
                let _, before, _ = effectiveMatrices net
                Expect.notEqual wRec before "trained"
        }

        test "data that does not fit the network fails before the first step" {
            use net = smallNet 1L
            let wrong = (Tasks.flipFlop { FlipFlopConfig.defaults with Bits = 2 }).Generate 4 0
            let arg, problem = expectInvalid (fun () -> Training.fitWith oneThread quick net (TrainingData.Dataset wrong)) "inputs"
            Expect.equal arg "data" "names the data"
            Expect.stringContains problem "2 inputs" "says what is wrong"
            let broken = { (smallTask.Generate 4 0) with Targets = [| 1.0f |] }
            expectInvalid (fun () -> Training.fitWith oneThread quick net (TrainingData.Dataset broken)) "ragged" |> ignore
            let arg, _ = expectInvalid (fun () -> Training.fitWith oneThread { quick with LearningRate = -1.0 } net fresh) "lr"
            Expect.equal arg "learning_rate" "names the rate"
        }

        test "a loss mask removes masked steps from the loss" {
            let data = smallTask.Generate 32 2
            let masked = { data with Mask = Some(Array.init (32 * 24) (fun i -> if i % 24 < 12 then 1.0f else 0.0f)) }
            let garbage = { masked with Targets = masked.Targets |> Array.mapi (fun i y -> if (i / 3) % 24 < 12 then y else 100.0f) }
            let run d =
                use net = smallNet 1L
                use r = Training.fitWith oneThread { quick with Epochs = 3 } net (TrainingData.Dataset d)
                r.Losses
            Expect.equal (run garbage) (run masked) "targets under a zero mask do not matter"
            Expect.notEqual (run masked) (run data) "the mask changes the loss"
        }

        test "L2 on recurrent weights shrinks them; a trainable initial state is learnt" {
            let norm (r: FitResult) =
                let _, wRec, _ = effectiveMatrices r.Network
                wRec |> Array.sumBy (Array.sumBy (fun v -> v * v))
            use net = smallNet 1L
            use plain = Training.fitWith oneThread quick net fresh
            use shrunk = Training.fitWith oneThread { quick with Regularization = { Regularization.none with L2Rec = 10.0 } } net fresh
            Expect.isLessThan (norm shrunk) (norm plain * 0.9) "smaller W_rec"
            use learnt = Training.fitWith oneThread { quick with TrainInitialState = true } net fresh
            Expect.isTrue (learnt.InitialState |> Option.exists (Array.exists (fun v -> v <> 0.0))) "initial state moved"
        }

        test "a user-defined kind trains with fit" {
            use net = Network.create NetworkTests.reluKind { NetworkConfig.defaults with InputSize = 3; Units = 16; OutputSize = 3; Seed = 2L }
            use r = Training.fitWith oneThread { quick with Epochs = 20; LearningRate = 5e-3 } net fresh
            Expect.isLessThan (Array.last r.Losses) r.Losses[0] "loss falls"
        }

        test "Training.step: a loop of your own over fit's batches ends with fit's weights and losses" {
            use net = smallNet 4L
            let config = { quick with Epochs = 3; Schedule = LearningRateSchedule.MultiStep([ 1 ], 0.5); InputNoise = 0.02; Regularization = { Regularization.none with L2Rec = 0.1 } }
            use byFit = Training.fitWith oneThread config net fresh
            use trainer = Training.start config net
            let losses =
                [| for epoch in 0 .. config.Epochs - 1 do
                       trainer |> Training.setLearningRate (Training.scheduledRate config.LearningRate config.Schedule epoch)
                       // fit's fresh batches: 160 trials in batches of 32, seeded by epoch and batch.
                       let epochLosses =
                           [| for k in 0 .. 4 ->
                                  match Training.step trainer (smallTask.Generate config.BatchSize (config.Seed * 1000003 + epoch * 10007 + k)) with
                                  | StepOutcome.Taken loss -> loss
                                  | StepOutcome.NotFinite loss -> failtestf "not finite: %g" loss |]
                       yield Array.average epochLosses |]
            Expect.equal trainer.Steps byFit.Steps "steps"
            Expect.sequenceEqual losses byFit.Losses "epoch losses"
            use mine = Training.network trainer
            Expect.equal (Network.values mine) (Network.values byFit.Network) "weights"
            Expect.isLessThan (Training.evaluate trainer (smallTask.Generate 32 -5)) 1.0 "evaluate gives a finite loss"
            let argument, _ = expectInvalid (fun () -> Training.step trainer ((Tasks.flipFlop { FlipFlopConfig.defaults with Bits = 2 }).Generate 4 0)) "a batch of other sizes"
            Expect.equal argument "batch" "names the batch"
            use wild = Training.start { quick with LearningRate = 1e30 } net
            let outcomes = [ for k in 0 .. 30 -> Training.step wild (smallTask.Generate 32 k) ]
            Expect.exists outcomes (function StepOutcome.NotFinite _ -> true | _ -> false) "a huge rate ends in a step that is not taken"
        }

        test "a trainer outlives the network it started from; a malformed batch is refused" {
            let trainer =
                use net = smallNet 8L
                Training.start quick net
            use _ = trainer
            Expect.isTrue (match Training.step trainer (smallTask.Generate 8 1) with StepOutcome.Taken _ -> true | _ -> false) "a step after the source is disposed"
            use now = Training.network trainer
            Expect.equal now.Sizes.Units 16 "its network"
            let broken = { smallTask.Generate 4 2 with Targets = [| 1.0f |] }
            let argument, _ = expectInvalid (fun () -> Training.step trainer broken) "targets of the wrong length"
            Expect.equal argument "batch.targets" "names the field"
        }

        test "ReduceOnPlateau down to a rate of 0 finishes instead of failing mid-run" {
            use net = smallNet 9L
            let data = smallTask.Generate 32 3
            let config = { quick with Epochs = 5; LearningRate = 1e-12; Schedule = LearningRateSchedule.ReduceOnPlateau(1e-200, 0, 0.0) }
            use r = Training.fitWith oneThread config net (TrainingData.Dataset data)
            Expect.equal r.StopReason StopReason.Completed "completed"
            Expect.equal (Array.last r.LearningRates) 0.0 "the rate reached 0"
            let argument, _ = expectInvalid (fun () -> Training.fit { quick with Schedule = LearningRateSchedule.ReduceOnPlateau(0.5, 1, -1.0) } net (TrainingData.Dataset data)) "a negative minimum"
            Expect.equal argument "minimum" "names the minimum"
        }

        test "flip-flop preset, small version: validation MSE <= 0.01 on fresh sequences" {
            let preset = Presets.flipFlop 0 |> Presets.withSequenceLength 32
            let preset = { preset with Network = { preset.Network with Units = 32 }; Fit = { preset.Fit with Epochs = 30; StopLoss = None } }
            use r = Presets.train preset
            let best = r.ValidationLosses[r.BestEpoch - 1]
            Expect.isLessThanOrEqual best 0.01 (sprintf "validation MSE %g after %d steps" best r.Steps)
        }

        test "integrator preset, small version: learns the heading (validation MSE well below 0.5)" {
            let preset = Presets.integrator 0 |> Presets.withSequenceLength 20
            let preset = { preset with Network = { preset.Network with Units = 32 }; Fit = { preset.Fit with Epochs = 25; StopLoss = None } }
            use r = Presets.train preset
            let best = r.ValidationLosses[r.BestEpoch - 1]
            // Predicting zero scores 0.5 on (cos, sin) targets.
            Expect.isLessThanOrEqual best 0.05 (sprintf "validation MSE %g after %d steps" best r.Steps)
        }

        test "sine preset, small version: generates the selected sine (validation MSE well below a silent output)" {
            let preset = Presets.sine 0 |> Presets.withSequenceLength 100
            let preset = { preset with Network = { preset.Network with Units = 32 }; Fit = { preset.Fit with Epochs = 12; StopLoss = None } }
            use r = Presets.train preset
            let best = r.ValidationLosses[r.BestEpoch - 1]
            Expect.isLessThanOrEqual best 0.05 (sprintf "validation MSE %g after %d steps" best r.Steps)
        }

        testSequenced <| test "no tensor leak across 1,000 training steps" {
            use net = smallNet 1L
            let tiny = Tasks.flipFlop { FlipFlopConfig.defaults with Time = 4 }
            let run epochs =
                use r = Training.fitWith oneThread { quick with Epochs = epochs; BatchSize = 4; Validation = Some(tiny.Generate 4 1) } net (TrainingData.Fresh(tiny, 4))
                r.Steps
            run 1 |> ignore
            let baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount
            Expect.equal (run 1000) 1000 "steps"
            Expect.equal DisposeScopeManager.Statistics.ThreadTotalLiveCount baseline "live tensors back at baseline"
        }
    ]
