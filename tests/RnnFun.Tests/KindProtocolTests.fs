module RnnFun.Tests.KindProtocolTests

open System
open System.Numerics
open Expecto
open TorchSharp
open RnnFun

/// The vanilla rnn with every parameter renamed: the library must find them by role alone.
let private renamedSpecs (sizes: Sizes) : ParameterSpec list =
    let renames = Map.ofList [ "w_in", "input"; "w_rec", "recurrent"; "b_rec", "bias"; "w_out", "readout"; "b_in", "bias_in"; "b_out", "bias_out" ]
    Kinds.vanillaParameters sizes |> List.map (fun s -> { s with Name = renames[s.Name] })

let private renamedRnn: Kind =
    let drive (w: Weights) (x: torch.Tensor) =
        let bias = match w.TryGetValue "bias_in" with | true, b -> w["bias"] + b | _ -> w["bias"]
        torch.matmul(x, w["input"].t ()).add(bias)
    let step: Weights -> torch.Tensor -> torch.Tensor -> torch.Tensor =
        fun w h d -> torch.tanh (torch.addmm(d, h, w["recurrent"].t (), 1.0f, 1.0f))
    { Kinds.rnn with
        Name = "renamed-rnn"
        Parameters = renamedSpecs
        InputDrive = drive
        Step = step
        Readout = fun w s -> torch.nn.functional.linear(s, w["readout"], (match w.TryGetValue "bias_out" with | true, b -> b | _ -> null))
        Jacobian = None
        // The same recurrence written by hand, declared for this kind's own step.
        HandWritten = Some { Recurrence = FusedRecurrence.Rnn; Step = step } }

let private renamedValues (values: (string * ParameterValue) list) =
    let renames = Map.ofList [ "w_in", "input"; "w_rec", "recurrent"; "b_rec", "bias"; "w_out", "readout"; "b_in", "bias_in"; "b_out", "bias_out" ]
    values |> List.map (fun (n, v) -> renames[n], v) |> Map.ofList

/// Two blocks: h' = tanh(W h + drive) and a memory m' = (m + h') / 2 that trails it; the readout
/// reads h, the rates read m. Its fixed points are (h*, h*) with h* those of the vanilla rnn.
let private trailing: Kind =
    let step: Weights -> torch.Tensor -> torch.Tensor -> torch.Tensor =
        fun w state drive ->
            let n = state.shape[1] / 2L
            let h = state.narrow(1L, 0L, n) // [batch; units]
            let m = state.narrow(1L, n, n) // [batch; units]
            let h' = torch.tanh (torch.addmm(drive, h, w["w_rec"].t (), 1.0f, 1.0f)) // [batch; units]
            torch.cat([| h'; (m + h') * 0.5 |], 1L) // [batch; 2 units]
    { Kinds.rnn with
        Name = "trailing"
        State = fun sizes -> { Blocks = [ { Name = "h"; Size = sizes.Units }; { Name = "m"; Size = sizes.Units } ]; Readout = "h"; Rates = "m" }
        Step = step
        Jacobian = None
        HandWritten = None }

let private sizesOf (net: Network) = net.Sizes

[<Tests>]
let tests =
    testList "Kind protocol" [
        test "the hand-written recurrence follows the declaration, not the name" {
            // Another name, the same step: fused. The built-in name with another step: not fused.
            Expect.equal (FusedBptt.recurrenceOf { Kinds.rnn with Name = "my-rnn" }) (Some FusedRecurrence.Rnn) "renamed built-in"
            Expect.equal (FusedBptt.recurrenceOf renamedRnn) (Some FusedRecurrence.Rnn) "a user kind that declares it"
            let relu = { Kinds.rnn with Step = fun w h d -> torch.addmm(d, h, w["w_rec"].t (), 1.0f, 1.0f).relu () }
            Expect.isNone (FusedBptt.recurrenceOf relu) "rnn's name, another step"
            Expect.isNone (FusedBptt.recurrenceOf { Kinds.rnn with HandWritten = None }) "declared none"
        }

        test "parameters are found by role: biases, constraints, regularisation, the fused path" {
            let config =
                { NetworkConfig.defaults with
                    InputSize = 2; Units = 5; OutputSize = 2; InputBias = true; OutputBias = true; Seed = 3L; Precision = Precision.Float64
                    Constraints = { Constraints.none with Autapses = false; DaleRatio = Some 0.6 } }
            use builtIn = Network.create Kinds.rnn config
            use renamed = Network.ofValues renamedRnn config (renamedValues (Network.values builtIn))
            Expect.equal (renamed.Parameters |> List.map (fun p -> p.Spec.Name)) [ "input"; "recurrent"; "bias"; "readout"; "bias_in"; "bias_out" ] "optional biases by role"
            Expect.equal (Network.config renamed).InputBias true "InputBias read back by role"
            Expect.equal (Network.config renamed).OutputBias true "OutputBias read back by role"
            Expect.equal (Network.recurrentName renamed) (Some "recurrent") "the recurrent weights"
            // Constraints by role: a renamed recurrent matrix with an autapse is refused.
            let withAutapse =
                renamedValues (Network.values builtIn)
                |> Map.add "recurrent" (ParameterValue.Matrix(Array.init 5 (fun i -> Array.init 5 (fun j -> if i = j then 0.5 else 0.0))))
            let argument, _ = expectInvalid (fun () -> Network.ofValues renamedRnn config withAutapse) "autapse on a renamed W_rec"
            Expect.equal argument "recurrent" "names the renamed parameter"
            // Training with every regulariser: the renamed kind follows the built-in one step for step.
            let task = Tasks.flipFlop { FlipFlopConfig.defaults with Bits = 2; Time = 12 }
            let fit =
                { FitConfig.defaults with
                    Epochs = 3; BatchSize = 16; LearningRate = 1e-2
                    Regularization = { L1In = 0.1; L1Rec = 0.2; L1Out = 0.1; L2In = 0.3; L2Rec = 0.4; L2Out = 0.3; L2Rate = 0.5 } }
            use a = Training.fit fit (Network.withTrainable (Map.ofList [ "w_in", true; "w_out", true; "b_out", true ]) builtIn) (TrainingData.Fresh(task, 32))
            use b = Training.fit fit (Network.withTrainable (Map.ofList [ "input", true; "readout", true; "bias_out", true ]) renamed) (TrainingData.Fresh(task, 32))
            Expect.sequenceEqual b.Losses a.Losses "the same losses"
            let va = Network.values a.Network |> List.map snd
            let vb = Network.values b.Network |> List.map snd
            Expect.equal vb va "the same weights"
            // And without the regularisers the losses differ: the terms above were really applied.
            use c = Training.fit { fit with Regularization = Regularization.none } (Network.withTrainable (Map.ofList [ "input", true; "readout", true; "bias_out", true ]) renamed) (TrainingData.Fresh(task, 32))
            Expect.isLessThan c.Losses[0] b.Losses[0] "regularisation adds to the loss"
        }

        test "the weight figure finds the matrices by role" {
            let config = { NetworkConfig.defaults with InputSize = 2; Units = 4; OutputSize = 3; Seed = 1L }
            use builtIn = Network.create Kinds.rnn config
            use renamed = Network.ofValues renamedRnn config (renamedValues (Network.values builtIn))
            let summary = ModelSummary.ofNetwork renamed
            Expect.equal (summary.MatrixOfRole Role.Recurrent) (summary.Values |> List.pick (fun (n, v) -> match v with ParameterValue.Matrix m when n = "recurrent" -> Some m | _ -> None) |> Some) "W_rec by role"
            let heatmaps (net: Network) =
                let json = Plotly.NET.GenericChart.toJson (RnnFun.Plotting.Charts.weights (ModelSummary.ofNetwork net) None)
                let data = Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("data")
                [ for t in data.EnumerateArray() do
                      match t.TryGetProperty "type" with
                      | true, kind when kind.GetString() = "heatmap" -> yield t.GetProperty("z").GetRawText()
                      | _ -> () ]
            Expect.equal (heatmaps renamed).Length 3 "W_in, W_rec and W_out of the renamed kind"
            Expect.equal (heatmaps renamed) (heatmaps builtIn) "the same panels as the built-in kind's"
        }

        test "Network.scaledIdentity fills a renamed kind by role: the built-in rnn's values under the new names" {
            use builtIn = Network.scaledIdentity Kinds.rnn 3 2.0
            use renamed = Network.scaledIdentity renamedRnn 3 2.0
            Expect.equal (Network.values renamed |> Map.ofList) (renamedValues (Network.values builtIn)) "same values by role"
            let eye g = ParameterValue.Matrix(Array.init 3 (fun i -> Array.init 3 (fun j -> if i = j then g else 0.0)))
            let values = Network.values renamed |> Map.ofList
            Expect.equal values["recurrent"] (eye 2.0) "recurrent = 2 I"
            Expect.equal values["readout"] (eye 1.0) "readout = I"
        }

        test "continuous-time eigenvalues follow TimeScale, whatever the name" {
            use ct = Network.scaledIdentity { Kinds.ctrnn with Name = "my-ctrnn" } 2 2.0
            use discrete = Network.scaledIdentity { Kinds.ctrnn with Name = "ctrnn"; TimeScale = None } 2 2.0
            let points net = (FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 64 -3.0 3.0 2 0)).FixedPoints
            for p in points ct do
                let expected = p.Eigenvalues |> Array.map (fun l -> (l - Complex.One) / 0.05)
                Expect.isSome p.ContinuousEigenvalues "a time scale: continuous eigenvalues"
                for e, c in Array.zip expected p.ContinuousEigenvalues.Value do
                    Expect.isLessThan (Complex.Abs(e - c)) 1e-9 "(lambda - 1) / alpha"
            for p in points discrete do
                Expect.isNone p.ContinuousEigenvalues "no time scale: none"
        }

        test "a state of two blocks: readout and rates read their block; fixed points live on the packed state" {
            let config = { NetworkConfig.defaults with InputSize = 1; Units = 1; OutputSize = 1; Precision = Precision.Float64 }
            use net =
                Network.ofValues trailing config
                    (Map.ofList
                        [ "w_in", ParameterValue.Matrix [| [| 0.0 |] |]
                          "w_rec", ParameterValue.Matrix [| [| 2.0 |] |]
                          "b_rec", ParameterValue.Vector [| 0.0 |]
                          "w_out", ParameterValue.Matrix [| [| 3.0 |] |] ])
            Expect.equal (Network.stateSize net) 2 "h and m"
            use _ = torch.NewDisposeScope()
            let x = torch.ones([| 2L; 5L; 1L |], torch.ScalarType.Float64) // [batch; time; inputs]
            use run = Network.unroll net x
            Expect.equal run.States.shape [| 2L; 5L; 2L |] "packed states"
            let h = run.States.narrow(2L, 0L, 1L) // [batch; time; 1]
            Expect.isLessThan (values (run.Outputs - h * 3.0) |> Array.map abs |> Array.max) 1e-12 "the readout reads h only"
            let fps = (FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 64 -1.5 1.5 2 1)).FixedPoints
            let aStar = fps |> Array.map (fun p -> abs p.State[0]) |> Array.max
            Expect.floatClose Accuracy.high aStar (tanh (2.0 * aStar)) "h* = tanh(2 h*)"
            Expect.equal fps.Length 3 "-a*, 0, a*"
            for p in fps do
                Expect.equal p.State.Length 2 "packed"
                Expect.isLessThan (abs (p.State[1] - p.State[0])) 1e-9 "m* = h*"
                Expect.equal p.Eigenvalues.Length 2 "a 2 x 2 Jacobian"
            let argument, problem = expectInvalid (fun () -> Network.readout net (torch.zeros([| 3L; 1L |], torch.ScalarType.Float64))) "a state of the wrong width"
            Expect.equal argument "states" "names the states"
            Expect.stringContains problem "2" "says the packed width"
        }

        test "a bad declaration fails when the network is made, naming the problem" {
            let config = { NetworkConfig.defaults with InputSize = 1; Units = 3; OutputSize = 1 }
            let cases =
                [ "no block", { trailing with State = fun _ -> { Blocks = []; Readout = "h"; Rates = "h" } }, "no state block"
                  "unknown readout block", { trailing with State = fun s -> { Blocks = [ { Name = "h"; Size = s.Units } ]; Readout = "y"; Rates = "h" } }, "'y'"
                  "empty block", { trailing with State = fun _ -> { Blocks = [ { Name = "h"; Size = 0 } ]; Readout = "h"; Rates = "h" } }, "size 0"
                  "repeated block", { trailing with State = fun s -> { Blocks = [ { Name = "h"; Size = s.Units }; { Name = "h"; Size = 1 } ]; Readout = "h"; Rates = "h" } }, "repeat"
                  "hand-written without W_rec", { Kinds.rnn with Parameters = fun s -> Kinds.vanillaParameters s |> List.map (fun p -> if p.Role = Role.Recurrent then { p with Role = Role.Free } else p) }, "Role.Recurrent" ]
            for name, kind, expected in cases do
                let _, problem = expectInvalid (fun () -> Network.create kind config) name
                Expect.stringContains problem expected name
        }

        test "a kind derived with another step is linearised through its own step, and cannot pass for the built-in" {
            let relu = { Kinds.rnn with Step = fun w h d -> torch.addmm(d, h, w["w_rec"].t (), 1.0f, 1.0f).relu () }
            Expect.isNone (Kind.closedFormJacobian relu) "the tanh formula is not this step's"
            Expect.isSome (Kind.closedFormJacobian Kinds.rnn) "the built-in keeps its own"
            use net = Network.create relu { NetworkConfig.defaults with InputSize = 1; Units = 4; OutputSize = 1; Precision = Precision.Float64; Seed = 2L }
            use _ = torch.NewDisposeScope()
            let w = Network.weights net
            let h = torch.randn([| 5L; 4L |], torch.ScalarType.Float64) // [batch; units]
            let drive = relu.InputDrive w (torch.zeros([| 5L; 1L |], torch.ScalarType.Float64)) // [batch; units]
            let expected = Jacobian.autograd relu w h drive // [batch; units; units]
            Expect.isTrue (sameTensor (Jacobian.ofStates relu w h drive) expected) "autograd through the ReLU step"
            withTempDir (fun dir ->
                let _, problem = expectInvalid (fun () -> ModelFile.save (IO.Path.Combine(dir, "relu.json")) net) "a built-in name with another step"
                Expect.stringContains problem "name of its own" "says what to do"
                // A ctrnn derived under a new name but with ctrnn's WithSettings would read back as the ctrnn.
                let derived = { Kinds.ctrnn with Name = "leaky-ct"; Step = fun w h d -> h * 0.5 + torch.tanh (torch.addmm(d, h, w["w_rec"].t (), 1.0f, 1.0f)) * 0.5 }
                use ct = Network.create derived { NetworkConfig.defaults with InputSize = 1; Units = 3; OutputSize = 1 }
                let path = IO.Path.Combine(dir, "ct.json")
                ModelFile.save path ct
                let _, problem = expectFileError (fun () -> ModelFile.loadWith [ derived ] Precision.Float32 path) "rebuilt as another kind"
                Expect.stringContains problem "WithSettings" "names the field to set"
                // A kind without WithSettings reads only files with its own settings.
                let fixedLeak leak = { derived with WithSettings = None; Settings = [ "leak", KindSetting.Number leak ] }
                use fixedNet = Network.create (fixedLeak 0.5) { NetworkConfig.defaults with InputSize = 1; Units = 3; OutputSize = 1 }
                ModelFile.save path fixedNet
                use same = ModelFile.loadWith [ fixedLeak 0.5 ] Precision.Float32 path
                Expect.equal same.Kind.Settings [ "leak", KindSetting.Number 0.5 ] "same settings"
                let _, problem = expectFileError (fun () -> ModelFile.loadWith [ fixedLeak 0.7 ] Precision.Float32 path) "other settings, no WithSettings"
                Expect.stringContains problem "leak" "names the setting"
                // A WithSettings that throws something else still ends as a file error.
                let throwing = { fixedLeak 0.5 with WithSettings = Some(fun _ -> failwith "no such leak") }
                let _, problem = expectFileError (fun () -> ModelFile.loadWith [ throwing ] Precision.Float32 path) "a throwing WithSettings"
                Expect.stringContains problem "no such leak" "carries the kind's message")
        }

        test "settings and optional parameters are checked when a network is made" {
            let config = { NetworkConfig.defaults with InputSize = 1; Units = 3; OutputSize = 1 }
            let withSettings settings = { Kinds.rnn with Name = "s"; Settings = settings }
            for name, kind, expected in
                [ "reserved name", withSettings [ "weights", KindSetting.Number 1.0 ], "weights"
                  "repeated name", withSettings [ "a", KindSetting.Number 1.0; "a", KindSetting.Text "x" ], "repeat"
                  "not finite", withSettings [ "a", KindSetting.Number nan ], "not finite"
                  "optional gate", { Kinds.rnn with Parameters = fun s -> Kinds.vanillaParameters s @ [ { Name = "g"; Shape = [| s.Units |]; FanIn = 1; Role = Role.Gate "z"; Optional = true; Trainable = true } ] }, "optional" ] do
                let _, problem = expectInvalid (fun () -> Network.create kind config) name
                Expect.stringContains problem expected name
        }

        test "a kind's settings round-trip through a model file; an unknown kind lists the known ones" {
            let leakyStep (leak: float) : Weights -> torch.Tensor -> torch.Tensor -> torch.Tensor =
                fun w h d -> h * (1.0 - leak) + torch.tanh (torch.addmm(d, h, w["w_rec"].t (), 1.0f, 1.0f)) * leak
            let rec leaky (leak: float) : Kind =
                { Kinds.rnn with
                    Name = "leaky"
                    Settings = [ "leak", KindSetting.Number leak; "label", KindSetting.Text "x" ]
                    WithSettings =
                        Some(fun s ->
                            match s |> List.tryFind (fun (n, _) -> n = "leak") with
                            | Some (_, KindSetting.Number a) -> leaky a
                            | _ -> raise (InvalidArgument("leak", "missing")))
                    Step = leakyStep leak
                    Jacobian = None
                    HandWritten = None
                    TimeScale = Some leak
                    FixedPointResidual = None }
            withTempDir (fun dir ->
                let path = IO.Path.Combine(dir, "leaky.json")
                use net = Network.create (leaky 0.3) { NetworkConfig.defaults with InputSize = 2; Units = 4; OutputSize = 1; Seed = 5L }
                ModelFile.save path net
                use back = ModelFile.loadWith [ leaky 0.9 ] Precision.Float32 path
                Expect.equal back.Kind.Name "leaky" "name"
                Expect.equal back.Kind.Settings (leaky 0.3).Settings "settings from the file"
                Expect.equal back.Kind.TimeScale (Some 0.3) "the kind rebuilt from them"
                use _ = torch.NewDisposeScope()
                let x = randomInputs 1 3 7 2 Precision.Float32
                use r1 = Network.unroll net x
                use r2 = Network.unroll back x
                Expect.isTrue (sameTensor r1.Outputs r2.Outputs) "same outputs"
                let _, problem = expectFileError (fun () -> ModelFile.load path) "a kind the reader does not know"
                Expect.stringContains problem "'leaky'" "names the kind"
                Expect.stringContains problem "rnn, ctrnn" "lists the known kinds"
                // The ctrnn's settings come from the file, not from the listed kind.
                let ctPath = IO.Path.Combine(dir, "ct.json")
                use ct = Network.create (Kinds.ctrnnWith { Dt = 2.0; Tau = 30.0; Readout = Readout.Rate }) { NetworkConfig.defaults with InputSize = 1; Units = 3; OutputSize = 1 }
                ModelFile.save ctPath ct
                use ctBack = ModelFile.load ctPath
                Expect.equal (Kinds.ctrnnConfig ctBack.Kind) (Some { Dt = 2.0; Tau = 30.0; Readout = Readout.Rate }) "ctrnn settings"
                Expect.equal ctBack.Kind.TimeScale (Some(2.0 / 30.0)) "its time scale"
                Expect.equal (FusedBptt.recurrenceOf ctBack.Kind) (Some(FusedRecurrence.Ctrnn(2.0 / 30.0))) "and its hand-written recurrence")
        }
    ]
