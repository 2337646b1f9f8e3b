module RnnFun.Tests.NetworkTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open RnnFun

let private matrix (net: Network) name =
    match Network.values net |> List.find (fst >> (=) name) |> snd with
    | ParameterValue.Matrix m -> m
    | ParameterValue.Vector v -> [| v |]

let private vector (net: Network) name =
    match Network.values net |> List.tryFind (fst >> (=) name) with
    | Some (_, ParameterValue.Vector v) -> Some v
    | _ -> None

let private matVec (m: float[][]) (v: float[]) = m |> Array.map (fun row -> Array.fold2 (fun s a b -> s + a * b) 0.0 row v)
let private add (a: float[]) (b: float[]) = Array.map2 (+) a b

/// The network's equations written out with plain arrays: the oracle for unroll.
let private referenceUnroll (net: Network) (x: float[][][]) =
    let wIn, wRec, wOut = matrix net "w_in", matrix net "w_rec", matrix net "w_out"
    let bRec = (vector net "b_rec").Value
    let bIn = vector net "b_in" |> Option.defaultValue (Array.zeroCreate net.Sizes.Units)
    let bOut = vector net "b_out" |> Option.defaultValue (Array.zeroCreate net.Sizes.Outputs)
    let ctrnn = Kinds.ctrnnConfig net.Kind
    x
    |> Array.map (fun trial ->
        let mutable h = Array.zeroCreate<float> net.Sizes.Units
        trial
        |> Array.map (fun xt ->
            let drive = add (add (matVec wIn xt) bIn) bRec
            h <-
                match ctrnn with
                | None -> add (matVec wRec h) drive |> Array.map tanh
                | Some c ->
                    let alpha = c.Dt / c.Tau
                    let hdot = add (add (Array.map (~-) h) (matVec wRec (Array.map tanh h))) drive
                    add h (Array.map ((*) alpha) hdot)
            let r =
                match ctrnn with
                | Some { Readout = Readout.Rate } -> Array.map tanh h
                | _ -> h
            add (matVec wOut r) bOut, h))

let private genKind =
    Gen.elements
        [ Kinds.rnn
          Kinds.ctrnn
          Kinds.ctrnnWith { Dt = 10.0; Tau = 50.0; Readout = Readout.Rate } ]

/// A third kind, defined outside the library: a ReLU network with a gain parameter per unit.
let reluKind: Kind =
    { Name = "relu-gain"
      Settings = []
      WithSettings = None
      Parameters =
        fun sizes ->
            Kinds.vanillaParameters sizes
            @ [ { Name = "gain"; Shape = [| sizes.Units |]; FanIn = 1; Role = Role.Free; Optional = false; Trainable = true } ]
      State = Kinds.vanillaState
      InputDrive = Kinds.vanillaDrive
      Step = fun w h drive -> torch.nn.functional.relu (torch.addmm(drive, h, w["w_rec"].t (), 1.0f, 1.0f)) * w["gain"]
      Readout = Kinds.linearReadout
      Rates = fun h -> h.alias ()
      NoiseGain = 1.0
      Jacobian = None
      HandWritten = None
      TimeScale = None
      FixedPointResidual = None
      FixedPointLearningRate = None }

let private toNested (t: torch.Tensor) =
    let b, time, n = int t.shape[0], int t.shape[1], int t.shape[2]
    let flat = values t
    Array.init b (fun i -> Array.init time (fun s -> Array.sub flat ((i * time + s) * n) n))

[<Tests>]
let tests =
    testList "Network" [
        testProp "unroll equals the kind's equations written out (rnn, ctrnn state and rate readouts)" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip genConfig genKind)) (fun (config, kind) ->
                use net = Network.create kind { config with Precision = Precision.Float64 }
                use x = randomInputs (int config.Seed) 3 5 config.InputSize Precision.Float64
                use r = Network.unroll net x
                let expected = referenceUnroll net (toNested x)
                let outs = toNested r.Outputs
                let states = toNested r.States
                for b in 0 .. 2 do
                    for t in 0 .. 4 do
                        let o, h = expected[b][t]
                        Expect.isLessThan (maxAbsDiff o (outs[b][t])) 1e-12 "outputs"
                        Expect.isLessThan (maxAbsDiff h (states[b][t])) 1e-12 "states"
                true))

        testProp "step and unroll leave their inputs and the network unchanged" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip genConfig genKind)) (fun (config, kind) ->
                use net = Network.create kind config
                use x = randomInputs 1 2 4 config.InputSize net.Precision
                use h0 = torch.randn(2L, int64 config.Units)
                use xCopy = x.clone ()
                use hCopy = h0.clone ()
                let before = Network.values net
                use r = Network.unrollFrom net (Some h0) x
                use h1 = Network.step net h0 (x.select(1, 0L))
                Expect.isTrue (sameTensor x xCopy) "inputs unchanged"
                Expect.isTrue (sameTensor h0 hCopy) "initial state unchanged"
                Expect.equal (Network.values net) before "weights unchanged"
                // A step from h0 equals the first state of the unroll from h0, up to rounding: without
                // gradients the unroll computes tanh as 2 sigmoid(2x) - 1 (Recurrence.forward), which
                // agrees with tanh to about one float32 ulp of 1 (~1e-7), absolutely.
                Expect.isTrue (h1.allclose(r.States.select(1, 0L), 1e-5, 1e-6)) "step = first unrolled state"
                true))

        test "shapes: [batch; time; outputs] and [batch; time; units]" {
            use net = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 3; Units = 16; OutputSize = 2 }
            use x = randomInputs 0 5 7 3 Precision.Float32
            use r = Network.unroll net x
            Expect.sequenceEqual r.Outputs.shape [| 5L; 7L; 2L |] "outputs"
            Expect.sequenceEqual r.States.shape [| 5L; 7L; 16L |] "states"
        }

        test "initialisation: same seed gives identical weights, another seed other weights, PyTorch Linear bounds" {
            let config = { NetworkConfig.defaults with InputSize = 3; Units = 25; OutputSize = 4; InputBias = true; OutputBias = true; Seed = 42L }
            use a = Network.create Kinds.rnn config
            use b = Network.create Kinds.rnn config
            use c = Network.create Kinds.rnn { config with Seed = 43L }
            Expect.equal (Network.values a) (Network.values b) "same seed"
            Expect.notEqual (Network.values a) (Network.values c) "other seed"
            for p in a.Parameters do
                let bound = 1.0 / sqrt (float p.Spec.FanIn) * (1.0 + 1e-6)
                let v = values p.Value
                Expect.isTrue (v |> Array.forall (fun x -> abs x <= bound)) (sprintf "%s within 1/sqrt(%d)" p.Spec.Name p.Spec.FanIn)
                Expect.isGreaterThan (v |> Array.map abs |> Array.max) (bound * 0.5) (sprintf "%s spreads over its range" p.Spec.Name)
        }

        test "trainable flags default to w_rec and b_rec (pyrnn) and can be overridden" {
            use net = Network.create Kinds.rnn { NetworkConfig.defaults with InputBias = true }
            let flags = net.Parameters |> List.map (fun p -> p.Spec.Name, p.Trainable) |> Map.ofList
            Expect.equal flags (Map.ofList [ "w_in", false; "w_rec", true; "b_rec", true; "w_out", false; "b_in", false ]) "defaults"
            use all = Network.withTrainable (Map.ofList [ "w_in", true; "w_out", true ]) net
            Expect.isTrue (all.Parameters |> List.forall (fun p -> p.Trainable || p.Spec.Name = "b_in")) "overridden"
        }

        test "wrong input shapes fail with a message, not a native abort" {
            use net = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 3; Units = 4 }
            use x2 = torch.zeros(2L, 5L, 2L)
            let arg, problem = expectInvalid (fun () -> Network.unroll net x2) "wrong input size"
            Expect.equal arg "inputs" "names the inputs"
            Expect.stringContains problem "3 inputs" "says the expected size"
            use flat = torch.zeros(2L, 3L)
            expectInvalid (fun () -> Network.unroll net flat) "2-D inputs" |> ignore
            use x = torch.zeros(2L, 5L, 3L)
            use h0 = torch.zeros(3L, 4L)
            let arg, _ = expectInvalid (fun () -> Network.unrollFrom net (Some h0) x) "bad initial state"
            Expect.equal arg "initial_state" "names the initial state"
            use xs = torch.zeros(2L, 2L)
            expectInvalid (fun () -> Network.step net (torch.zeros(2L, 4L)) xs) "step with wrong inputs" |> ignore
        }

        test "a third kind defined outside the library unrolls and trains" {
            use net = Network.create reluKind { NetworkConfig.defaults with InputSize = 2; Units = 8; OutputSize = 1; Seed = 3L; Trainable = Map.ofList [ "w_in", true; "w_out", true ] }
            Expect.isTrue (net.Parameters |> List.exists (fun p -> p.Spec.Name = "gain")) "its own parameter exists"
            use _ = torch.NewDisposeScope()
            let x = randomInputs 5 16 10 2 Precision.Float32
            let target = x.narrow(2L, 0L, 1L) * 0.5 // [batch; time; 1]: half the first input
            let leaves = net.Parameters |> List.filter (fun p -> p.Trainable) |> List.map (fun p -> p.Spec.Name, p.Value.detach().clone().requires_grad_(true))
            use moving = Network.withValues net (Map.ofList leaves)
            let trainable = moving.Parameters |> List.filter (fun p -> p.Trainable) |> List.map (fun p -> p.Value.requires_grad_(true))
            let loss () =
                let r = Network.unroll moving x
                torch.nn.functional.mse_loss(r.Outputs, target)
            let first = (loss ()).item<float32>()
            for _ in 1 .. 50 do
                for t in trainable do
                    if not (isNull t.grad) then t.grad.zero_() |> ignore
                let l = loss ()
                l.backward()
                use _ = torch.no_grad()
                for t in trainable do t.sub_(t.grad * 0.2) |> ignore
            let last = (loss ()).item<float32>()
            Expect.isLessThan last (first * 0.7f) (sprintf "loss fell from %g to %g" first last)
        }

        testSequenced <| test "no tensor leak: live tensor count returns to its baseline after many unrolls" {
            use net = Network.create Kinds.ctrnn { NetworkConfig.defaults with InputSize = 3; Units = 16; OutputSize = 2; Constraints = { Constraints.none with DaleRatio = Some 0.8; Autapses = false } }
            use x = randomInputs 0 4 20 3 Precision.Float32
            let run () =
                use r = Network.unroll net x
                use h0 = torch.zeros(4L, 16L)
                use x0 = x.select(1, 0L)
                use h = Network.step net h0 x0
                ()
            run ()
            let baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount
            for _ in 1 .. 200 do run ()
            Expect.equal DisposeScopeManager.Statistics.ThreadTotalLiveCount baseline "live tensors"
        }
    ]

[<Tests>]
let memoryTests =
    testList "Memory" [
        test "a network, initial states or batches that cannot fit are refused before allocation" {
            let huge = { NetworkConfig.defaults with InputSize = 3; Units = 1_000_000; OutputSize = 3 }
            for kind in [ Kinds.rnn; Kinds.gru ] do
                Expect.throwsC (fun () -> Network.create kind huge |> ignore) (fun e ->
                    match e with
                    | InsufficientMemory (what, needed, available) ->
                        Expect.stringContains what "1000000-unit network" "names the network"
                        Expect.isGreaterThan needed available "needs more than there is"
                        // At least the recurrent weights themselves: 10^12 float32 values.
                        Expect.isGreaterThan needed 4e12 "the estimate covers W_rec"
                    | other -> failtestf "expected InsufficientMemory, got %O" other)
            Expect.throwsC (fun () -> InitialStates.uniformBox 2_000_000_000 -1.0 1.0 64 0 |> ignore) (fun e ->
                match e with
                | InsufficientMemory (what, _, _) -> Expect.stringContains what "2000000000 initial states" "names the states"
                | other -> failtestf "expected InsufficientMemory, got %O" other)
            use net = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 3; Units = 4; OutputSize = 3 }
            let task = Tasks.flipFlop { FlipFlopConfig.defaults with Time = 16 }
            Expect.throwsC (fun () -> Training.fit { FitConfig.defaults with BatchSize = 2_000_000_000; Epochs = 1 } net (TrainingData.Fresh(task, 64)) |> ignore) (fun e ->
                match e with
                | InsufficientMemory (what, _, _) -> Expect.stringContains what "batches of 2000000000 trials" "names the batches"
                | other -> failtestf "expected InsufficientMemory, got %O" other)
        }
        test "a null trajectory state is refused by name, not with a null reference" {
            Expect.throwsC (fun () -> InitialStates.fromStates 4 0.5 0 [| null |] |> ignore) (fun e ->
                match e with
                | InvalidArgument (argument, _) -> Expect.equal argument "states" "names the states"
                | other -> failtestf "expected InvalidArgument, got %O" other)
        }
        test "sizes that fit are not refused" {
            use net = Network.create Kinds.gru { NetworkConfig.defaults with InputSize = 3; Units = 512; OutputSize = 3 }
            // About 290 MB: above the 100 MB below which nothing is checked, so the machine's available
            // memory is read (and must allow it).
            let available = Memory.available ()
            Expect.isGreaterThan available 1e9 (sprintf "the available memory is read (%g bytes)" available)
            Expect.isLessThan available 1e15 "in bytes"
            Expect.equal (InitialStates.uniformBox 1_000_000 -1.0 1.0 32 0).Length 1_000_000 "1,000,000 states of 32"
        }
    ]
