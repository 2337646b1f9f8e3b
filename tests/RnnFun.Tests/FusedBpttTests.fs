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
    let kind =
        match random.Next 4 with
        | 0 -> Kinds.rnn
        | 1 -> Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 10.0 + 40.0 * random.NextDouble() }
        | 2 -> Kinds.gru
        | _ -> Kinds.lstm
    let gated = kind.Name = "gru" || kind.Name = "lstm"
    let constraints =
        { Constraints.none with
            Autapses = random.Next 2 = 0
            // Signs do not apply to gate blocks (refused); masks and autapses do.
            DaleRatio = (if not gated && random.Next 2 = 0 then Some 0.75 else None)
            InputMask = (if random.Next 2 = 0 then Some(mask units inputs) else None)
            RecurrentMask = (if random.Next 2 = 0 then Some(mask units units) else None)
            OutputMask = (if random.Next 2 = 0 then Some(mask outputs units) else None) }
    let trainable =
        if gated then
            [ "weight_ih_l0", random.Next 2 = 0; "weight_hh_l0", random.Next 4 > 0; "bias_ih_l0", random.Next 2 = 0
              "bias_hh_l0", random.Next 2 = 0; "w_out", random.Next 2 = 0 ]
        else [ "w_in", random.Next 2 = 0; "w_rec", random.Next 4 > 0; "w_out", random.Next 2 = 0 ]
    let net =
        Network.create kind
            { NetworkConfig.defaults with
                InputSize = inputs
                Units = units
                OutputSize = outputs
                InputBias = random.Next 2 = 0
                OutputBias = random.Next 2 = 0
                Constraints = constraints
                Trainable = Map.ofList trainable
                Precision = precision
                Seed = int64 seed }
    { Kind = kind; Network = net; Batch = random.Next(1, 5); Time = random.Next(1, 9) }

/// The names of the weights (and the gru's b_hh) a built-in kind's hand-written recurrence reads.
let private recurrentNames (net: Network) =
    match FusedBptt.recurrenceOf net.Kind with
    | Some r ->
        match Recurrence.parameterNames r (net.Parameters |> List.map (fun p -> p.Spec)) with
        | Some (weights, bias) -> r, weights, bias
        | None -> failtest "a built-in kind names its recurrent weights"
    | None -> failtest "a built-in kind must have a fused recurrence"

/// The fused unroll of a network's kind with effective weights w: h0 [batch; state], x [batch; time; inputs].
let private fusedUnroll (net: Network) (w: Weights) (h0: Tensor) (x: Tensor) =
    let r, weights, bias = recurrentNames net
    FusedBptt.unrollWith r w[weights] (bias |> Option.map (fun b -> w[b])) h0 (net.Kind.InputDrive w (x.transpose(0L, 1L))) // time-major

/// Loss and the gradients of every trainable free value and of a learnt initial state, through the
/// fused pass or through autograd. The loss reads the recurrent weights twice (recurrence and an L2
/// term) and the states three times (readout, a rate term, and a cubic term on the last value of
/// the packed state, which is the lstm's c block), as `Training.fit`'s regularised loss does.
let private lossAndGradients (fused: bool) (c: Case) (seed: int) : float * float[][] =
    use copy = Network.withValues c.Network Map.empty
    use _ = torch.NewDisposeScope()
    let trainable = copy.Parameters |> List.filter (fun p -> p.Trainable) |> List.map (fun p -> p.Value.requires_grad_(true))
    let dtype = c.Network.Precision.ScalarType
    let generator = new torch.Generator(uint64 seed)
    let state = int64 (Network.stateSize copy)
    let h0Leaf = (torch.randn([| state |], dtype, generator = generator) * 0.5).requires_grad_(true) // [state]
    let x = torch.randn([| int64 c.Batch; int64 c.Time; int64 c.Network.Sizes.Inputs |], dtype, generator = generator) // [batch; time; inputs]
    let y = torch.randn([| int64 c.Batch; int64 c.Time; int64 c.Network.Sizes.Outputs |], dtype, generator = generator) // [batch; time; outputs]
    let w = Network.weights copy
    let h0 = h0Leaf.expand([| int64 c.Batch; state |]) // [batch; state]
    let unrolled = if fused then Some(fusedUnroll copy w h0 x) else None
    let states, y =
        match unrolled with
        | Some u -> u.States, y.transpose(0L, 1L) // [time; batch; ..]
        | None -> Network.unrollDrive c.Kind w h0 (c.Kind.InputDrive w x), y // [batch; time; ..]
    let _, recurrent, _ = recurrentNames copy
    let loss =
        Training.mse (Network.readoutWith copy w states) y None
        + w[recurrent].square().mean() * 0.1
        + (Network.ratesOf copy states).square().mean() * 0.1
        + states.narrow(-1L, state - 1L, 1L).pow(3.0.ToScalar()).mean() * 0.1
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
            for kind in [ Kinds.rnn; Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 20.0 }; Kinds.gru; Kinds.lstm ] do
                use net = Network.create kind { NetworkConfig.defaults with InputSize = 2; Units = 5; OutputSize = 2; Precision = Precision.Float64 }
                let gradientsOf (fused: bool) =
                    use copy = Network.withValues net Map.empty
                    use _ = torch.NewDisposeScope()
                    let leaves = copy.Parameters |> List.filter (fun p -> p.Trainable) |> List.map (fun p -> p.Value.requires_grad_(true))
                    let generator = new torch.Generator(3UL)
                    let x = torch.randn([| 3L; 6L; 2L |], torch.ScalarType.Float64, generator = generator) // [batch; time; inputs]
                    let w = Network.weights copy
                    let h0 = torch.zeros([| 3L; int64 (Network.stateSize copy) |], torch.ScalarType.Float64) // [batch; state]
                    if fused then
                        let u = fusedUnroll copy w h0 x
                        FusedBptt.backward ((Network.readoutWith copy w u.States).square().mean()) u
                        FusedBptt.backward (u.States.pow(4.0.ToScalar()).mean()) u
                    else
                        let states = Network.unrollDrive kind w h0 (kind.InputDrive w x)
                        (Network.readoutWith copy w states).square().mean().backward(null, true, false, null)
                        states.pow(4.0.ToScalar()).mean().backward()
                    leaves |> List.map (fun t -> Arrays.ofTensor t.grad) |> Array.concat
                let a, b = gradientsOf true, gradientsOf false
                Expect.isLessThan (Array.fold2 (fun acc x y -> max acc (abs (x - y))) 0.0 a b) 1e-12 (sprintf "%s: accumulated gradients" kind.Name)
        }

        testSequenced <| test "gru and lstm: no tensor leak across 300 fused training steps and 100 hand-written unrolls" {
            let tiny = Tasks.flipFlop { FlipFlopConfig.defaults with Time = 5 }
            for kind in [ Kinds.gru; Kinds.lstm ] do
                use net = Network.create kind { NetworkConfig.defaults with InputSize = 3; Units = 6; OutputSize = 3; OutputBias = true; Seed = 2L }
                use x = randomInputs 1 4 7 3 Precision.Float32 // [batch; time; inputs]
                let run epochs =
                    use r =
                        Training.fitWith { FitHooks.none with Threads = Some 1 }
                            { FitConfig.defaults with Epochs = epochs; BatchSize = 4; RecurrentNoise = 0.01; TrainInitialState = true; Validation = Some(tiny.Generate 4 1) }
                            net (TrainingData.Fresh(tiny, 4))
                    for _ in 1 .. epochs / 3 do
                        use rollout = Network.unroll net x
                        ()
                    r.Steps
                run 3 |> ignore
                let baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount
                Expect.equal (run 300) 300 (sprintf "%s: steps" kind.Name)
                Expect.equal DisposeScopeManager.Statistics.ThreadTotalLiveCount baseline (sprintf "%s: live tensors back at baseline" kind.Name)
        }

        test "Training.defaultThreads: one below 256 units, then one per 128 units, at most all cores" {
            let cores = Environment.ProcessorCount
            for units in [ 1; 64; 127; 128; 255 ] do
                Expect.equal (Training.defaultThreads units) 1 (sprintf "%d units" units)
            Expect.equal (Training.defaultThreads 256) (min cores 2) "256 units"
            Expect.equal (Training.defaultThreads 512) (min cores 4) "512 units"
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

        test "gru and lstm: the built-in steps are fused; a step of one's own, even the same function wrapped, is not" {
            Expect.equal (FusedBptt.recurrenceOf Kinds.gru) (Some FusedRecurrence.Gru) "the built-in gru"
            Expect.equal (FusedBptt.recurrenceOf Kinds.lstm) (Some FusedRecurrence.Lstm) "the built-in lstm"
            Expect.isNone (FusedBptt.recurrenceOf Kinds.ugrnn) "the ugrnn has no hand-written pass"
            for kind in [ Kinds.gru; Kinds.lstm ] do
                // Same numbers, another function value: the general path (no name test).
                let wrapped = { kind with Step = fun w h d -> kind.Step w h d }
                Expect.isNone (FusedBptt.recurrenceOf wrapped) (sprintf "%s: a wrapped step" kind.Name)
                // A step that computes something else must be run as written, without and with gradients.
                let halved = { kind with Step = (fun w h d -> kind.Step w h d * 0.5); Jacobian = None }
                use net = Network.create halved { NetworkConfig.defaults with InputSize = 2; Units = 4; OutputSize = 1; Precision = Precision.Float64 }
                use _ = torch.NewDisposeScope()
                let x = randomInputs 3 2 5 2 Precision.Float64 // [batch; time; inputs]
                use run = Network.unroll net x
                let mutable h = torch.zeros([| 2L; int64 (Network.stateSize net) |], torch.ScalarType.Float64)
                for t in 0 .. 4 do
                    h <- Network.step net h (x.select(1L, int64 t))
                    // Close, not bit-equal: the unrolled pass may form the drive of all steps in one
                    // product, whose rounding depends on the CPU's GEMM kernel.
                    Expect.isLessThan (maxAbsDiff (values (run.States.select(1L, int64 t))) (values h)) 1e-12 (sprintf "%s, step %d: the user's step" kind.Name t)
                use trainer = Training.start { FitConfig.defaults with Epochs = 1 } net
                Expect.isNone (Training.handWrittenRecurrence trainer) (sprintf "%s: training takes the autograd path" kind.Name)
        }

        test "Network.unroll: the hand-written forward without gradients, the general path when the inputs want one" {
            for precision, tolerance in [ Precision.Float32, 1e-6; Precision.Float64, 1e-13 ] do
                for kind in [ Kinds.rnn; Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 15.0 }; Kinds.gru; Kinds.lstm ] do
                    let gated = kind.Name = "gru" || kind.Name = "lstm"
                    use net =
                        Network.create kind
                            { NetworkConfig.defaults with
                                InputSize = 2; Units = 9; OutputSize = 2; Precision = precision
                                Constraints = { Constraints.none with DaleRatio = (if gated then None else Some 0.6); Autapses = false } }
                    use _ = torch.NewDisposeScope()
                    let generator = new torch.Generator(5UL)
                    let x = torch.randn([| 4L; 30L; 2L |], precision.ScalarType, generator = generator) * 2.0 // [batch; time; inputs]
                    let h0 = torch.randn([| 4L; int64 (Network.stateSize net) |], precision.ScalarType, generator = generator) * 0.5 // [batch; state]
                    use fast = Network.unrollFrom net (Some h0) x
                    use general = Network.unrollFrom net (Some h0) (x.detach().requires_grad_(true))
                    Expect.isFalse fast.States.requires_grad "no graph on the hand-written path"
                    Expect.isTrue general.States.requires_grad "the general path keeps the graph for the inputs"
                    let worst (a: Tensor) (b: Tensor) = (a - b.detach()).abs().max().ToDouble()
                    Expect.isLessThan (worst fast.States general.States) tolerance (sprintf "%s %A: same states" kind.Name precision)
                    Expect.isLessThan (worst fast.Outputs general.Outputs) (10.0 * tolerance) (sprintf "%s %A: same outputs" kind.Name precision)
        }

        test "fit: libtorch's lstm kernel trains to the same weights as autograd (masks, frozen bias, learnt h0, input noise, regularisation)" {
            let task = Tasks.flipFlop { FlipFlopConfig.defaults with Time = 20; PulseProbability = 0.2 }
            let data = TrainingData.Fresh(task, 64)
            for precision, tolerance in [ Precision.Float64, 1e-8; Precision.Float32, 2e-4 ] do
                let constraints =
                    { Constraints.none with
                        Autapses = false
                        RecurrentMask = Some(Array.init 10 (fun i -> Array.init 10 (fun j -> if (i + 2 * j) % 5 = 0 then 0.0 else 1.0)))
                        InputMask = Some(Array.init 10 (fun i -> Array.init 3 (fun j -> if (i + j) % 4 = 0 then 0.0 else 1.0))) }
                use net =
                    Network.create Kinds.lstm
                        { NetworkConfig.defaults with
                            InputSize = 3; Units = 10; OutputSize = 3; Constraints = constraints; Precision = precision
                            Trainable = Map.ofList [ "bias_ih_l0", false ] }
                let config =
                    { FitConfig.defaults with
                        Epochs = 3; BatchSize = 16; LearningRate = 0.01; TrainInitialState = true; InputNoise = 0.05
                        Validation = Some(task.Generate 7 12)
                        Regularization = { Regularization.none with L2Rec = 0.01; L2In = 0.01; L2Rate = 0.01 } }
                use trainer = Training.start config net
                Expect.isTrue (Training.usesLstmKernel trainer) "the kernel is used without recurrent noise"
                use noisy = Training.start { config with RecurrentNoise = 0.05 } net
                Expect.isFalse (Training.usesLstmKernel noisy) "recurrent noise takes the hand-written pass"
                use kernel = Training.fit config net data
                use plain = Training.fit { config with FusedBackward = false } net data
                let flat (n: Network) =
                    Network.values n
                    |> List.collect (fun (_, v) -> match v with ParameterValue.Vector x -> List.ofArray x | ParameterValue.Matrix m -> m |> Array.concat |> List.ofArray)
                let a, b = flat kernel.Network, flat plain.Network
                let worst = List.fold2 (fun acc x y -> max acc (abs (x - y))) 0.0 a b
                Expect.isLessThan worst tolerance (sprintf "%A: same weights after 12 steps" precision)
                Expect.floatClose { absolute = tolerance; relative = tolerance } (Array.last kernel.Losses) (Array.last plain.Losses) "same losses"
                Expect.equal kernel.ValidationLosses.Length 3 "a validation loss per epoch"
                Array.iter2 (fun x y -> Expect.floatClose { absolute = tolerance; relative = tolerance } x y "same validation losses") kernel.ValidationLosses plain.ValidationLosses
                let frozen (n: Network) = Network.values n |> List.find (fun (name, _) -> name = "bias_ih_l0") |> snd
                Expect.equal (frozen kernel.Network) (frozen net) "a frozen parameter stays as it was"
                let masked (n: Network) =
                    match Network.values n |> List.find (fun (name, _) -> name = "weight_hh_l0") |> snd with
                    | ParameterValue.Matrix m -> m
                    | _ -> failwith "weight_hh_l0 is a matrix"
                let m = masked kernel.Network
                for i in 0 .. m.Length - 1 do
                    let unit = i % 10
                    for j in 0 .. 9 do
                        if j = unit || (unit + 2 * j) % 5 = 0 then Expect.equal (m[i][j]) 0.0 "masked and autapse weights stay zero"
                Expect.notEqual a (flat net) "trained"
        }

        test "fit: the fused and the autograd pass train to the same weights (float64, constraints, learnt h0, noise)" {
            let task = Tasks.flipFlop { FlipFlopConfig.defaults with Time = 20; PulseProbability = 0.2 }
            let data = TrainingData.Fresh(task, 64)
            for kind in [ Kinds.rnn; Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 20.0 }; Kinds.gru; Kinds.lstm ] do
                let gated = kind.Name = "gru" || kind.Name = "lstm"
                // Gate blocks take masks and no-autapses, not signs; a gated kind trains every weight by default.
                let constraints =
                    if gated then
                        { Constraints.none with
                            Autapses = false
                            RecurrentMask = Some(Array.init 10 (fun i -> Array.init 10 (fun j -> if (i + 2 * j) % 5 = 0 then 0.0 else 1.0))) }
                    else { Constraints.none with Autapses = false; DaleRatio = Some 0.8 }
                use net =
                    Network.create kind
                        { NetworkConfig.defaults with
                            InputSize = 3; Units = 10; OutputSize = 3; Constraints = constraints; Precision = Precision.Float64
                            Trainable = (if gated then Map.ofList [ "bias_ih_l0", false ] else Map.ofList [ "w_in", true; "w_out", true ]) }
                let config =
                    { FitConfig.defaults with
                        Epochs = 3; BatchSize = 16; LearningRate = 0.01; TrainInitialState = true
                        RecurrentNoise = 0.05; InputNoise = 0.05
                        Regularization = { Regularization.none with L2Rec = 0.01; L2Rate = 0.01 } }
                use fused = Training.fit config net data
                use plain = Training.fit { config with FusedBackward = false } net data
                use trainer = Training.start config net
                Expect.equal (Training.handWrittenRecurrence trainer) (FusedBptt.recurrenceOf kind) (sprintf "%s: the fused pass is taken" kind.Name)
                Expect.isSome (Training.handWrittenRecurrence trainer) (sprintf "%s: a built-in kind has one" kind.Name)
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
