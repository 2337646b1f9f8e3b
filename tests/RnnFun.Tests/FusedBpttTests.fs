module RnnFun.Tests.FusedBpttTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open RnnFun

/// A random case: kind, precision, sizes, constraints, trainable flags; all from one seed.
type private Case =
    { Kind: Kind
      Network: Network
      Batch: int
      Time: int }

let private caseOf (seed: int) (precision: Precision) =
    let random = Random(seed)
    let units = random.Next(2, 13)
    let inputs = random.Next(1, 4)
    let outputs = random.Next(1, 4)
    let mask rows cols = Array.init rows (fun _ -> Array.init cols (fun _ -> if random.NextDouble() < 0.7 then 1.0 else 0.0))
    let constraints =
        { Constraints.none with
            Autapses = random.Next 2 = 0
            DaleRatio = (if random.Next 2 = 0 then Some 0.75 else None)
            InputMask = (if random.Next 2 = 0 then Some(mask units inputs) else None)
            RecurrentMask = (if random.Next 2 = 0 then Some(mask units units) else None)
            OutputMask = (if random.Next 2 = 0 then Some(mask outputs units) else None) }
    let kind = if random.Next 2 = 0 then Kinds.rnn else Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 10.0 + 40.0 * random.NextDouble() }
    let net =
        Network.create kind
            { NetworkConfig.defaults with
                InputSize = inputs
                Units = units
                OutputSize = outputs
                InputBias = random.Next 2 = 0
                OutputBias = random.Next 2 = 0
                Constraints = constraints
                Trainable = Map.ofList [ "w_in", random.Next 2 = 0; "w_rec", random.Next 4 > 0; "w_out", random.Next 2 = 0 ]
                Precision = precision
                Seed = int64 seed }
    { Kind = kind; Network = net; Batch = random.Next(1, 5); Time = random.Next(1, 9) }

/// Loss and the gradients of every trainable free value and of a learnt initial state, through the
/// fused pass or through autograd. The loss reads W_rec twice (recurrence and an L2 term) and the
/// states twice (readout and a rate term), as `Training.fit`'s regularised loss does.
let private lossAndGradients (fused: bool) (c: Case) (seed: int) : float * float[][] =
    use copy = Network.withValues c.Network Map.empty
    use _ = torch.NewDisposeScope()
    let trainable = copy.Parameters |> List.filter (fun p -> p.Trainable) |> List.map (fun p -> p.Value.requires_grad_(true))
    let dtype = c.Network.Precision.ScalarType
    let generator = new torch.Generator(uint64 seed)
    let units = int64 c.Network.Sizes.Units
    let h0Leaf = (torch.randn([| units |], dtype, generator = generator) * 0.5).requires_grad_(true) // [units]
    let x = torch.randn([| int64 c.Batch; int64 c.Time; int64 c.Network.Sizes.Inputs |], dtype, generator = generator) // [batch; time; inputs]
    let y = torch.randn([| int64 c.Batch; int64 c.Time; int64 c.Network.Sizes.Outputs |], dtype, generator = generator) // [batch; time; outputs]
    let w = Network.weights copy
    let h0 = h0Leaf.expand([| int64 c.Batch; units |]) // [batch; units]
    let unrolled =
        if fused then
            match FusedBptt.recurrenceOf c.Kind with
            | Some r -> Some(FusedBptt.unroll r w["w_rec"] h0 (c.Kind.InputDrive w (x.transpose(0L, 1L)))) // time-major
            | None -> failtest "a built-in kind must have a fused recurrence"
        else None
    let states, y =
        match unrolled with
        | Some u -> u.States, y.transpose(0L, 1L) // [time; batch; ..]
        | None -> Network.unrollDrive c.Kind w h0 (c.Kind.InputDrive w x), y // [batch; time; ..]
    let loss = Training.mse (c.Kind.Readout w states) y None + w["w_rec"].square().mean() * 0.1 + (c.Kind.Rates states).square().mean() * 0.1
    match unrolled with
    | Some u -> FusedBptt.backward loss u
    | None -> loss.backward ()
    let grads =
        (trainable @ [ h0Leaf ])
        |> List.map (fun t -> if isNull t.grad then Array.zeroCreate (int (t.numel ())) else Arrays.ofTensor t.grad)
        |> Array.ofList
    loss.ToDouble(), grads

/// ||a - b|| / ||b|| over all gradients at once (0 when both are 0).
let private relativeError (a: float[][]) (b: float[][]) =
    let flatA, flatB = Array.concat a, Array.concat b
    let diff = Array.fold2 (fun s x y -> s + (x - y) ** 2.0) 0.0 flatA flatB |> sqrt
    let norm = flatB |> Array.sumBy (fun v -> v * v) |> sqrt
    if norm = 0.0 then diff else diff / norm

[<Tests>]
let tests =
    testList "Training.FusedBptt" [
        testProp "float64: same loss and gradients as autograd (random kinds, sizes, constraints, flags)" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.choose (0, 100000))) (fun seed ->
                let c = caseOf seed Precision.Float64
                use _ = c.Network
                let lossF, gradsF = lossAndGradients true c seed
                let lossA, gradsA = lossAndGradients false c seed
                abs (lossF - lossA) <= 1e-12 * (1.0 + abs lossA) && relativeError gradsF gradsA <= 1e-10))

        testProp "float32: same loss and gradients as autograd to 1e-5 relative" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.choose (0, 100000))) (fun seed ->
                let c = caseOf seed Precision.Float32
                use _ = c.Network
                let lossF, gradsF = lossAndGradients true c seed
                let lossA, gradsA = lossAndGradients false c seed
                abs (lossF - lossA) <= 1e-5 * (1.0 + abs lossA) && relativeError gradsF gradsA <= 1e-5))

        test "two losses on one unroll: gradients accumulate as with autograd" {
            for kind in [ Kinds.rnn; Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 20.0 } ] do
                use net = Network.create kind { NetworkConfig.defaults with InputSize = 2; Units = 5; OutputSize = 2; Precision = Precision.Float64 }
                let gradientsOf (fused: bool) =
                    use copy = Network.withValues net Map.empty
                    use _ = torch.NewDisposeScope()
                    let leaves = copy.Parameters |> List.filter (fun p -> p.Trainable) |> List.map (fun p -> p.Value.requires_grad_(true))
                    let generator = new torch.Generator(3UL)
                    let x = torch.randn([| 3L; 6L; 2L |], torch.ScalarType.Float64, generator = generator) // [batch; time; inputs]
                    let w = Network.weights copy
                    let h0 = torch.zeros([| 3L; 5L |], torch.ScalarType.Float64) // [batch; units]
                    if fused then
                        let u = FusedBptt.unroll (FusedBptt.recurrenceOf kind).Value w["w_rec"] h0 (kind.InputDrive w (x.transpose(0L, 1L)))
                        FusedBptt.backward ((kind.Readout w u.States).square().mean()) u
                        FusedBptt.backward (u.States.pow(4.0.ToScalar()).mean()) u
                    else
                        let states = Network.unrollDrive kind w h0 (kind.InputDrive w x)
                        (kind.Readout w states).square().mean().backward(null, true, false, null)
                        states.pow(4.0.ToScalar()).mean().backward()
                    leaves |> List.map (fun t -> Arrays.ofTensor t.grad) |> Array.concat
                let a, b = gradientsOf true, gradientsOf false
                Expect.isLessThan (Array.fold2 (fun acc x y -> max acc (abs (x - y))) 0.0 a b) 1e-12 (sprintf "%s: accumulated gradients" kind.Name)
        }

        test "Training.defaultThreads: one below 128 units, then one per 64 units, at most all cores" {
            let cores = Environment.ProcessorCount
            for units in [ 1; 64; 127 ] do
                Expect.equal (Training.defaultThreads units) 1 (sprintf "%d units" units)
            Expect.equal (Training.defaultThreads 128) (min cores 2) "128 units"
            Expect.equal (Training.defaultThreads 256) (min cores 4) "256 units"
            Expect.equal (Training.defaultThreads 100000) cores "never more than the cores"
        }

        test "a user kind that reuses a built-in name takes the general path" {
            let relu =
                { Kinds.rnn with
                    Step = fun w h drive -> torch.addmm(drive, h, w["w_rec"].t (), 1.0f, 1.0f).relu ()
                    Jacobian = None }
            use net = Network.create relu { NetworkConfig.defaults with InputSize = 2; Units = 6; OutputSize = 1 }
            use _ = torch.NewDisposeScope()
            Expect.isNone (FusedBptt.recurrenceOf relu) "a ReLU step named rnn is not fused"
            // And its unroll without gradients runs its own step, not the hand-written tanh recurrence.
            let x = randomInputs 3 2 5 2 Precision.Float32 // [batch; time; inputs]
            use run = Network.unroll net x
            let mutable h = torch.zeros([| 2L; 6L |])
            for t in 0 .. 4 do
                h <- Network.step net h (x.select(1L, int64 t))
                Expect.isTrue (sameTensor (run.States.select(1L, int64 t)) h) (sprintf "step %d: the ReLU step" t)
            Expect.equal (FusedBptt.recurrenceOf Kinds.rnn) (Some FusedRecurrence.Rnn) "the built-in rnn is"
            use ct = Network.create (Kinds.ctrnnWith { CtrnnConfig.defaults with Dt = 2.0; Tau = 40.0 }) { NetworkConfig.defaults with InputSize = 2; Units = 6; OutputSize = 1 }
            Expect.equal (FusedBptt.recurrenceOf ct.Kind) (Some(FusedRecurrence.Ctrnn 0.05)) "the ctrnn is, with alpha = dt / tau"
        }

        test "Network.unroll: the hand-written forward without gradients, the general path when the inputs want one" {
            for precision, tolerance in [ Precision.Float32, 1e-6; Precision.Float64, 1e-13 ] do
                for kind in [ Kinds.rnn; Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 15.0 } ] do
                    use net =
                        Network.create kind
                            { NetworkConfig.defaults with
                                InputSize = 2; Units = 9; OutputSize = 2; Precision = precision
                                Constraints = { Constraints.none with DaleRatio = Some 0.6; Autapses = false } }
                    use _ = torch.NewDisposeScope()
                    let generator = new torch.Generator(5UL)
                    let x = torch.randn([| 4L; 30L; 2L |], precision.ScalarType, generator = generator) * 2.0 // [batch; time; inputs]
                    let h0 = torch.randn([| 4L; 9L |], precision.ScalarType, generator = generator) * 0.5 // [batch; units]
                    use fast = Network.unrollFrom net (Some h0) x
                    use general = Network.unrollFrom net (Some h0) (x.detach().requires_grad_(true))
                    Expect.isFalse fast.States.requires_grad "no graph on the hand-written path"
                    Expect.isTrue general.States.requires_grad "the general path keeps the graph for the inputs"
                    let worst (a: Tensor) (b: Tensor) = (a - b.detach()).abs().max().ToDouble()
                    Expect.isLessThan (worst fast.States general.States) tolerance (sprintf "%s %A: same states" kind.Name precision)
                    Expect.isLessThan (worst fast.Outputs general.Outputs) (10.0 * tolerance) (sprintf "%s %A: same outputs" kind.Name precision)
        }

        test "fit: the fused and the autograd pass train to the same weights (float64, constraints, learnt h0, noise)" {
            let task = Tasks.flipFlop { FlipFlopConfig.defaults with Time = 20; PulseProbability = 0.2 }
            let data = TrainingData.Fresh(task, 64)
            let constraints = { Constraints.none with Autapses = false; DaleRatio = Some 0.8 }
            for kind in [ Kinds.rnn; Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 20.0 } ] do
                use net =
                    Network.create kind
                        { NetworkConfig.defaults with
                            InputSize = 3; Units = 10; OutputSize = 3; Constraints = constraints; Precision = Precision.Float64
                            Trainable = Map.ofList [ "w_in", true; "w_out", true ] }
                let config =
                    { FitConfig.defaults with
                        Epochs = 3; BatchSize = 16; LearningRate = 0.01; TrainInitialState = true
                        RecurrentNoise = 0.05; InputNoise = 0.05
                        Regularization = { Regularization.none with L2Rec = 0.01; L2Rate = 0.01 } }
                use fused = Training.fit config net data
                use plain = Training.fit { config with FusedBackward = false } net data
                let flat (n: Network) =
                    Network.values n
                    |> List.collect (fun (_, v) -> match v with ParameterValue.Vector x -> List.ofArray x | ParameterValue.Matrix m -> m |> Array.concat |> List.ofArray)
                let a, b = flat fused.Network, flat plain.Network
                let worst = List.fold2 (fun acc x y -> max acc (abs (x - y))) 0.0 a b
                Expect.isLessThan worst 1e-8 (sprintf "%s: same weights after 12 steps" kind.Name)
                Expect.floatClose Accuracy.high (Array.last fused.Losses) (Array.last plain.Losses) "same losses"
                Expect.notEqual a (flat net) "trained"
        }
    ]
