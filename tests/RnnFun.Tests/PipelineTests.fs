module RnnFun.Tests.PipelineTests

open System
open Expecto
open TorchSharp
open RnnFun

/// A small random tanh RNN: 2 inputs, 6 units, 2 outputs (float64, so comparisons are tight).
let private smallNet () =
    Network.create
        Kinds.rnn
        { NetworkConfig.defaults with
            InputSize = 2
            Units = 6
            OutputSize = 2
            OutputBias = true
            Precision = Precision.Float64
            Seed = 3L }

let private twoBit = Tasks.flipFlop { FlipFlopConfig.defaults with Bits = 2; Time = 9 }

/// Network.unrollFrom's outputs [trials * time * outputs] and states [trials * time * units] as flat arrays.
let private unrolled (net: Network) (h0: float[] option) (trials: Batch) =
    use _ = torch.NewDisposeScope()
    let x, _, _ = Training.toTensors net.Precision trials // [trials; time; inputs]
    let h = h0 |> Option.map (fun v -> Arrays.toTensor net.Precision [| int64 v.Length |] v) // [units]
    use run = Network.unrollFrom net h x
    Arrays.ofTensor run.Outputs, Arrays.ofTensor run.States

/// |F(x) - x| of a fixed point under its input: the largest coordinate.
let private residual (net: Network) (p: FixedPoint) =
    use _ = torch.NewDisposeScope()
    let h = Arrays.matrixToTensor net.Precision [| p.State |] // [1; units]
    let u = Arrays.matrixToTensor net.Precision [| p.Input |] // [1; inputs]
    let next = Arrays.ofTensor (Network.step net h u) // [units]
    Array.map2 (fun a b -> abs (a - b)) next p.State |> Array.max

/// The 2-bit flip-flop preset cut down to seconds: 8 units, T = 16, 2 epochs.
let private tinyPreset () =
    let preset = Presets.flipFlop 1 |> Presets.withSequenceLength 16
    { preset with
        Task = Tasks.flipFlop { FlipFlopConfig.defaults with Bits = 2; Time = 16 }
        Network = { preset.Network with InputSize = 2; OutputSize = 2; Units = 8 }
        Fit = { preset.Fit with Epochs = 2; BatchSize = 16; StopLoss = None }
        TrialsPerEpoch = 32
        ValidationTrials = 8 }

let private tinyConfig =
    { PipelineConfig.defaults with
        InitialStateCount = 64
        Seed = 2
        Topology = { TopologyConfig.defaults with RunsPerPoint = 4; MaxSteps = 200 } }

[<Tests>]
let tests =
    testList "Pipeline" [
        test "trajectories are Network.unroll's outputs and states of the same trials, as [trial][time][units]" {
            use net = smallNet ()
            let trials = twoBit.Generate 4 11
            let run = Pipeline.trajectories None net trials
            let outputs, states = unrolled net None trials
            Expect.equal run.States.Length trials.Trials "one entry per trial"
            Expect.isTrue (run.States |> Array.forall (fun s -> s.Length = trials.Time && s |> Array.forall (fun h -> h.Length = 6))) "[time][units] per trial"
            Expect.isLessThan (TestUtils.maxAbsDiff (Array.concat run.AllStates) states) 1e-12 "states in row-major [trial; time; units] order"
            Expect.isLessThan (TestUtils.maxAbsDiff run.Outputs outputs) 1e-12 "outputs in the batch's layout"
            Expect.equal run.AllStates.Length (trials.Trials * trials.Time) "AllStates: one row per trial and step"
            Expect.isGreaterThan (run.AllStates |> Array.concat |> Array.map abs |> Array.max) 1e-3 "the trials drive the network away from zero"
        }

        test "trajectories from an initial state are Network.unrollFrom's from that state" {
            use net = smallNet ()
            let trials = twoBit.Generate 3 5
            let h0 = [| 0.5; -0.4; 0.3; -0.2; 0.1; 0.0 |]
            let run = Pipeline.trajectories (Some h0) net trials
            let outputs, states = unrolled net (Some h0) trials
            Expect.isLessThan (TestUtils.maxAbsDiff (Array.concat run.AllStates) states) 1e-12 "states"
            Expect.isLessThan (TestUtils.maxAbsDiff run.Outputs outputs) 1e-12 "outputs"
            let _, fromZero = unrolled net None trials
            Expect.isGreaterThan (TestUtils.maxAbsDiff (Array.concat run.AllStates) fromZero) 1e-6 "the initial state is used"
        }

        test "trajectories reject trials of another input size and an initial state of another length, naming them" {
            use net = smallNet ()
            let threeBit = (Tasks.flipFlop { FlipFlopConfig.defaults with Time = 5 }).Generate 2 0
            let arg, problem = TestUtils.expectInvalid (fun () -> Pipeline.trajectories None net threeBit) "3 inputs into a 2-input network"
            Expect.equal arg "trials" "names the trials"
            Expect.stringContains problem "2" "says the network's input size"
            let arg, _ = TestUtils.expectInvalid (fun () -> Pipeline.trajectories (Some [| 0.0; 1.0 |]) net (twoBit.Generate 2 0)) "initial state of 2 values for 6 units"
            Expect.equal arg "initial_state" "names the initial state"
        }

        test "analyse: fixed points with |F(x) - x| small, the topology's vertices are the fixed points, the PCA of the trajectories" {
            // W = 2I (3 units, W_in = 0): from a non-zero initial state the trajectories run to the attractors.
            use net = Network.scaledIdentity Kinds.rnn 3 2.0
            let trials = { twoBit.Generate 4 1 with Inputs = Array.zeroCreate (4 * 9); InputSize = 1 }
            let h0 = Some [| 0.3; -0.2; 0.1 |]
            let analysis = Pipeline.analyse tinyConfig net h0 trials
            let run = Pipeline.trajectories h0 net trials
            Expect.equal analysis.Trajectories run "the trajectories of the held-out trials"
            Expect.equal analysis.SearchInput [| 0.0 |] "zero input by default"
            let points = analysis.Search.FixedPoints
            Expect.isGreaterThanOrEqual points.Length 1 "fixed points found"
            for p in points do
                Expect.isLessThan (residual net p) 1e-8 (sprintf "fixed point %d: |F(x) - x| small" p.Id)
            let t = analysis.Topology |> Option.defaultWith (fun () -> failtest "a topology")
            Expect.equal (t.Vertices |> Array.map (fun v -> v.Id)) (points |> Array.map (fun p -> p.Id)) "one vertex per fixed point, in order"
            Expect.equal (t.Vertices |> Array.map (fun v -> v.UnstableModes)) (points |> Array.map (fun p -> p.UnstableModes)) "with its unstable modes"
            Expect.equal t.Input [| 0.0 |] "under the search's input"
            let pca = analysis.Pca |> Option.defaultWith (fun () -> failtest "a PCA")
            Expect.equal pca (Pca.fitAll run.AllStates) "the PCA of every trajectory state"
            let arg, _ = TestUtils.expectInvalid (fun () -> Pipeline.analyse { tinyConfig with SearchInput = Some [| 0.0; 0.0 |] } net h0 trials) "an input of 2 values for 1 input"
            Expect.equal arg "input" "names the input"
        }

        test "analyse: states that do not vary give no PCA, and no fixed point gives no topology, instead of failing" {
            // W = 2I from the zero state with W_in = 0 stays at 0: one distinct state.
            use net = Network.scaledIdentity Kinds.rnn 3 2.0
            let trials = { twoBit.Generate 2 1 with Inputs = Array.zeroCreate (2 * 9); InputSize = 1 }
            let analysis = Pipeline.analyse { tinyConfig with InitialStateNoise = 0.0 } net None trials
            Expect.isNone analysis.Pca "no PCA of equal states"
            Expect.equal (analysis.Search.FixedPoints |> Array.map (fun p -> p.State)) [| [| 0.0; 0.0; 0.0 |] |] "the origin only"
            Expect.isSome analysis.Topology "a topology of the origin"
        }

        test "run: trains on the preset, analyses its held-out trials, and owns the network" {
            let preset = tinyPreset ()
            let result =
                use result = Pipeline.run tinyConfig preset
                Expect.equal result.HeldOut (Pipeline.heldOut preset) "the held-out trials are the preset's validation trials"
                Expect.equal result.Training.Losses.Length 2 "two epochs"
                Expect.equal result.Training.ValidationLosses.Length 2 "validated on the held-out trials every epoch"
                Expect.equal result.Training.StopReason StopReason.Completed "completed"
                Expect.equal result.Analysis.Trajectories (Pipeline.trajectories result.Training.InitialState result.Network result.HeldOut) "trajectories of the trained network"
                for p in result.Analysis.Search.FixedPoints do
                    Expect.isLessThan (residual result.Network p) 1e-6 (sprintf "fixed point %d: |F(x) - x| small" p.Id)
                match result.Analysis.Topology with
                | Some t -> Expect.equal (t.Vertices |> Array.map (fun v -> v.Id)) (result.Analysis.Search.FixedPoints |> Array.map (fun p -> p.Id)) "vertices are the fixed points"
                | None -> Expect.isEmpty result.Analysis.Search.FixedPoints "no topology only without fixed points"
                result
            Expect.throws (fun () -> Network.values result.Network |> ignore) "disposing the result disposes the network"
        }

        test "ModelSummary and TrainingSummary hold a network's and a run's plain data" {
            use net =
                Network.create
                    Kinds.rnn
                    { NetworkConfig.defaults with
                        InputSize = 2
                        Units = 5
                        OutputSize = 2
                        Constraints = { Constraints.none with DaleRatio = Some 0.6 }
                        Trainable = Map.ofList [ "w_in", true ] }
            let m = ModelSummary.ofNetwork net
            Expect.equal m.KindName "rnn" "kind"
            Expect.equal m.Sizes net.Sizes "sizes"
            Expect.equal m.Constraints net.Constraints "constraints"
            Expect.equal m.Values (Network.values net) "effective weights"
            Expect.equal m.Specs (net.Parameters |> List.map (fun p -> p.Spec)) "specs in order"
            Expect.equal (m.ParameterCount, m.TrainableCount) (Network.parameterCount net) "counts"
            for p in net.Parameters do
                Expect.equal (m.IsTrainable p.Spec.Name) p.Trainable (sprintf "%s trainable flag" p.Spec.Name)
            use fit = Training.fitWith { FitHooks.none with Threads = Some 1 } { FitConfig.defaults with Epochs = 2; BatchSize = 8 } net (TrainingData.Fresh((Tasks.flipFlop { FlipFlopConfig.defaults with Bits = 2; Time = 5 }), 8))
            let s = TrainingSummary.ofFit fit
            Expect.equal (s.Losses, s.LearningRates, s.ValidationLosses, s.BestEpoch) (fit.Losses, fit.LearningRates, fit.ValidationLosses, fit.BestEpoch) "curves"
            Expect.equal (s.StopReason, s.StoppedAtEpoch, s.Steps, s.WallTime, s.InitialState) (fit.StopReason, fit.StoppedAtEpoch, fit.Steps, fit.WallTime, fit.InitialState) "outcome"
        }

        test "StopReason.text is the form logs and summaries write" {
            Expect.equal
                ([ StopReason.Completed; StopReason.StopLoss; StopReason.Cancelled; StopReason.Diverged ] |> List.map StopReason.text)
                [ "completed"; "stop-loss"; "cancelled"; "diverged" ]
                "texts"
        }
    ]
