/// The workloads the benchmarks time: RnnFun's code paths and their libtorch / FixedPointFinder
/// counterparts, on identical sizes and data. Every object here owns its tensors (dispose it), and
/// every timed call opens a dispose scope so that nothing it creates outlives it.
module RnnFun.Benchmarks.Workloads

open System
open System.Collections.Generic
open TorchSharp
open RnnFun
open RnnFun.Baselines

/// Sequence length of the training and forward benchmarks.
[<Literal>]
let Time = 100

/// Trials per batch.
[<Literal>]
let BatchSize = 64

[<Literal>]
let InputCount = 3

[<Literal>]
let OutputCount = 3

/// The unit counts compared.
let unitCounts = [ 64; 128; 256 ]

/// The data: the 3-bit flip-flop (3 inputs, 3 outputs) with 100 steps per trial.
let task = Tasks.flipFlop { FlipFlopConfig.defaults with Time = Time }

/// RnnFun's default libtorch thread count for training (and the forward rows) at n units.
let defaultThreads (n: int) = Training.defaultThreads n

/// FixedPoints.find's default libtorch thread count at n units (FixedPointConfig.Threads = None).
let fixedPointThreads (_: int) = 1

/// The thread setting that is not the default (1 <-> all cores; 2 on a 1-core machine).
let otherThreads (n: int) =
    if defaultThreads n = 1 then max 2 Environment.ProcessorCount else 1

/// Multiply-add FLOPs (2 per multiply-add) of one forward pass: recurrence and input projection
/// 2 B T N (N + I), readout 2 B T N O.
let forwardFlops (n: int) =
    let b, t, i, o = float BatchSize, float Time, float InputCount, float OutputCount
    let n = float n
    2.0 * b * t * n * (n + i) + 2.0 * b * t * n * o

/// FLOPs of one training step: the forward pass plus a backward pass of about twice its cost.
let stepFlops (n: int) = 3.0 * forwardFlops n

/// Raises unless a tensor has the expected shape (checked before any matrix product).
let expectShape (what: string) (expected: int64[]) (t: Tensor) =
    if t.shape <> expected then
        failwithf "%s: expected shape [%s], got [%s]" what (String.Join("; ", expected)) (String.Join("; ", t.shape))

/// The network configuration of the training and forward benchmarks: every weight trained and an
/// output bias, so that the trained parameters match torch.nn.RNN + torch.nn.Linear.
let networkConfig (n: int) =
    { NetworkConfig.defaults with
        InputSize = InputCount
        Units = n
        OutputSize = OutputCount
        OutputBias = true
        Seed = 0L
        Trainable = Map.ofList [ "w_in", true; "w_rec", true; "b_rec", true; "w_out", true; "b_out", true ] }

/// A fixed list of batches (the same for every contestant).
let batches (count: int) = Array.init count (fun k -> task.Generate BatchSize (1000 + k))

let private checkBatch (x: Tensor) (y: Tensor) =
    expectShape "inputs" [| int64 BatchSize; int64 Time; int64 InputCount |] x
    expectShape "targets" [| int64 BatchSize; int64 Time; int64 OutputCount |] y

// ---------------------------------------------------------------------------------------------
// Training step

/// RnnFun's real code path: `Training.fit` for one epoch over a fixed dataset of `steps` batches
/// (Adam, MSE, defaults otherwise). Per-call costs of fit (copying the weights in and out, the
/// end-of-epoch snapshot) are included and spread over the steps; nothing is subtracted.
type FitSteps(n: int, threads: int option, steps: int) =
    let net = Network.create Kinds.rnn (networkConfig n)
    let data =
        let parts = batches steps
        { parts[0] with
            Inputs = parts |> Array.collect (fun b -> b.Inputs)
            Targets = parts |> Array.collect (fun b -> b.Targets)
            Mask =
                if parts |> Array.forall (fun b -> b.Mask.IsSome) then Some(parts |> Array.collect (fun b -> b.Mask.Value))
                else None
            Trials = BatchSize * steps }
    let config =
        { FitConfig.defaults with
            BatchSize = BatchSize
            Epochs = 1
            LearningRate = 1e-3
            Seed = 0 }
    let hooks = { FitHooks.none with Threads = threads }
    member _.Steps = steps
    member _.Run() =
        use result = Training.fitWith hooks config net (TrainingData.Dataset data)
        if result.Steps <> steps then failwithf "Training.fit ran %d steps, expected %d" result.Steps steps
    interface IDisposable with
        member _.Dispose() = (net :> IDisposable).Dispose()

/// A fresh n-unit rnn's parameters (networkConfig) as new leaves that require grad: names, leaves.
let private trainableLeaves (n: int) =
    use net = Network.create Kinds.rnn (networkConfig n)
    use _ = torch.NewDisposeScope()
    net.Parameters
    |> List.map (fun p -> p.Spec.Name, torch.nn.Parameter(p.Value.detach().clone(), true).DetachFromDisposeScope() :?> Modules.Parameter)
    |> List.unzip

/// The leaves as weights, an alias each, as Network.weights gives them without constraints.
let private leafWeights (names: string list) (leaves: Modules.Parameter list) : Weights =
    let w = Dictionary<string, Tensor>()
    for name, leaf in List.zip names leaves do
        w[name] <- (leaf :> Tensor).alias ()
    w :> Weights

/// RnnFun's inner training step reproduced outside `Training.fit`: effective weights of trainable
/// leaves (an alias each, as Network.weights gives without constraints), the kind's InputDrive once,
/// the hand-written recurrence (FusedBptt.unroll, as Training.fit uses by default), the kind's
/// Readout, Training.mse, FusedBptt.backward, Adam.
type InnerSteps(n: int, threads: int, steps: int) =
    let kind = Kinds.rnn
    let names, leaves = trainableLeaves n
    let optimizer = torch.optim.Adam(leaves, 1e-3, 0.9, 0.999, 1e-8, 0.0, false, false)
    let data = batches steps
    member _.Steps = steps
    member _.Run() =
        torch.set_num_threads threads
        for b in data do
            use _ = torch.NewDisposeScope()
            let x, y, mask = Training.toTensors Precision.Float32 b
            checkBatch x y
            optimizer.zero_grad ()
            let w = leafWeights names leaves
            let h0 = torch.zeros([| int64 BatchSize; int64 n |], torch.ScalarType.Float32)
            let drive = kind.InputDrive w (x.transpose(0L, 1L)) // [time; batch; units]
            let unrolled = FusedBptt.unroll FusedRecurrence.Rnn w["w_rec"] h0 drive
            let outputs = kind.Readout w unrolled.States // [time; batch; outputs]
            let loss = Training.mse outputs (y.transpose(0L, 1L)) (mask |> Option.map (fun m -> m.transpose(0L, 1L)))
            let value = loss.ToDouble()
            if Double.IsNaN value then failwith "inner step: loss is NaN"
            FusedBptt.backward loss unrolled
            optimizer.step () |> ignore
    interface IDisposable with
        member _.Dispose() =
            optimizer.Dispose()
            for l in leaves do l.Dispose()

/// libtorch's fused recurrence: torch.nn.RNN(3, N, tanh, batch_first) + torch.nn.Linear(N, 3) +
/// Adam, with the same batches, the same loss (mean squared error) and the same loss read-back.
type FusedSteps(n: int, threads: int, steps: int) =
    do torch.manual_seed 0L |> ignore
    let rnn = torch.nn.RNN(int64 InputCount, int64 n, nonLinearity = torch.nn.NonLinearities.Tanh, batchFirst = true)
    let linear = torch.nn.Linear(int64 n, int64 OutputCount)
    let parameters = Seq.append (rnn.parameters ()) (linear.parameters ()) |> Array.ofSeq
    let optimizer = torch.optim.Adam(parameters, 1e-3, 0.9, 0.999, 1e-8, 0.0, false, false)
    let data = batches steps
    member _.Steps = steps
    member _.Run() =
        torch.set_num_threads threads
        for b in data do
            use _ = torch.NewDisposeScope()
            let x, y, _ = Training.toTensors Precision.Float32 b
            checkBatch x y
            optimizer.zero_grad ()
            let h0 = torch.zeros([| 1L; int64 BatchSize; int64 n |], torch.ScalarType.Float32)
            let struct (states, _) = rnn.forward (x, h0) // [batch; time; units]
            expectShape "states" [| int64 BatchSize; int64 Time; int64 n |] states
            let outputs = linear.forward states // [batch; time; outputs]
            let loss = torch.nn.functional.mse_loss (outputs, y)
            let value = loss.ToDouble()
            if Double.IsNaN value then failwith "fused step: loss is NaN"
            loss.backward ()
            optimizer.step () |> ignore
    interface IDisposable with
        member _.Dispose() =
            optimizer.Dispose()
            rnn.Dispose()
            linear.Dispose()

// ---------------------------------------------------------------------------------------------
// Forward pass (no gradient)

/// `Network.unroll` (outputs and states) over one batch, `passes` times, without gradients.
type RnnFunForward(n: int, threads: int, passes: int) =
    let net = Network.create Kinds.rnn (networkConfig n)
    let x =
        let first = (batches 1).[0]
        let x, _, _ = Training.toTensors Precision.Float32 first
        x.DetachFromDisposeScope()
    member _.Passes = passes
    member _.Run() =
        torch.set_num_threads threads
        use _ = torch.no_grad ()
        for _ in 1 .. passes do
            use _ = torch.NewDisposeScope()
            use rollout = Network.unroll net x
            expectShape "outputs" [| int64 BatchSize; int64 Time; int64 OutputCount |] rollout.Outputs
    interface IDisposable with
        member _.Dispose() =
            (net :> IDisposable).Dispose()
            x.Dispose()

/// torch.nn.RNN + torch.nn.Linear forward over the same batch, `passes` times, without gradients.
type FusedForward(n: int, threads: int, passes: int) =
    do torch.manual_seed 0L |> ignore
    let rnn = torch.nn.RNN(int64 InputCount, int64 n, nonLinearity = torch.nn.NonLinearities.Tanh, batchFirst = true)
    let linear = torch.nn.Linear(int64 n, int64 OutputCount)
    let x =
        let first = (batches 1).[0]
        let x, _, _ = Training.toTensors Precision.Float32 first
        x.DetachFromDisposeScope()
    member _.Passes = passes
    member _.Run() =
        torch.set_num_threads threads
        use _ = torch.no_grad ()
        for _ in 1 .. passes do
            use _ = torch.NewDisposeScope()
            let h0 = torch.zeros([| 1L; int64 BatchSize; int64 n |], torch.ScalarType.Float32)
            let struct (states, _) = rnn.forward (x, h0)
            expectShape "states" [| int64 BatchSize; int64 Time; int64 n |] states
            let outputs = linear.forward states
            expectShape "outputs" [| int64 BatchSize; int64 Time; int64 OutputCount |] outputs
    interface IDisposable with
        member _.Dispose() =
            rnn.Dispose()
            linear.Dispose()
            x.Dispose()

// ---------------------------------------------------------------------------------------------
// Gated cells (gru, lstm) against torch.nn.GRU / torch.nn.LSTM

/// The gated kinds compared, by name.
let gatedKinds = [ Kinds.gru; Kinds.lstm ]

/// Gate blocks of a gated kind: 3 (gru), 4 (lstm).
let gateBlocks (kind: Kind) = if kind.Name = "gru" then 3 else 4

/// FLOPs of one gated forward pass (matrix products only): recurrence and input projection
/// 2 B T G N (N + I) with G gate blocks, readout 2 B T N O.
let gatedForwardFlops (kind: Kind) (n: int) =
    let b, t, i, o, g = float BatchSize, float Time, float InputCount, float OutputCount, float (gateBlocks kind)
    let n = float n
    2.0 * b * t * g * n * (n + i) + 2.0 * b * t * n * o

/// A gated training step: the forward pass plus a backward pass of about twice its cost.
let gatedStepFlops (kind: Kind) (n: int) = 3.0 * gatedForwardFlops kind n

/// The gated network of the benchmarks: 3 inputs, n units, 3 outputs, b_out; every weight trained
/// (a gated kind's default), seed 0.
let gatedNetwork (kind: Kind) (n: int) =
    Network.create kind { NetworkConfig.defaults with InputSize = InputCount; Units = n; OutputSize = OutputCount; OutputBias = true; Seed = 0L }

/// torch.nn.GRU / torch.nn.LSTM (batch_first) and torch.nn.Linear holding the very weights of `net`
/// (state_dict names are shared: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0; w_out, b_out).
let private torchGated (net: Network) =
    let n = int64 net.Sizes.Units
    let cell: torch.nn.Module =
        if net.Kind.Name = "gru" then torch.nn.GRU(int64 InputCount, n, 1L, true, true) :> torch.nn.Module
        else torch.nn.LSTM(int64 InputCount, n, 1L, true, true) :> torch.nn.Module
    let linear = torch.nn.Linear(n, int64 OutputCount)
    do
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        let w = Network.weights net
        for struct (name, p) in cell.named_parameters () do
            expectShape name w[name].shape p
            p.copy_(w[name]) |> ignore
        expectShape "w_out" w["w_out"].shape linear.weight
        linear.weight.copy_(w["w_out"]) |> ignore
        linear.bias.copy_(w["b_out"]) |> ignore
    cell, linear

/// The states [batch; time; units] of torch's gated module from zeros.
let private torchStates (cell: torch.nn.Module) (x: Tensor) : Tensor =
    match cell with
    | :? Modules.GRU as gru -> let struct (states, _) = gru.forward(x, null) in states
    | :? Modules.LSTM as lstm -> let struct (states, _, _) = lstm.forward(x, Nullable()) in states
    | _ -> failwith "not a gated module"

/// `Training.fit` of a gated kind for one epoch over `steps` fixed batches (as `FitSteps`): the
/// hand-written pass (`FusedBackward = true`, the default) or autograd through every step.
type GatedFitSteps(kind: Kind, n: int, threads: int option, steps: int, fused: bool) =
    let net = gatedNetwork kind n
    let data =
        let parts = batches steps
        { parts[0] with
            Inputs = parts |> Array.collect (fun b -> b.Inputs)
            Targets = parts |> Array.collect (fun b -> b.Targets)
            Mask = None
            Trials = BatchSize * steps }
    let config = { FitConfig.defaults with BatchSize = BatchSize; Epochs = 1; LearningRate = 1e-3; Seed = 0; FusedBackward = fused }
    let hooks = { FitHooks.none with Threads = threads }
    member _.Network = net
    member _.Run() =
        use result = Training.fitWith hooks config net (TrainingData.Dataset data)
        if result.Steps <> steps then failwithf "Training.fit ran %d steps, expected %d" result.Steps steps
    interface IDisposable with
        member _.Dispose() = (net :> IDisposable).Dispose()

/// torch.nn.GRU / torch.nn.LSTM (batch_first) + torch.nn.Linear + Adam, starting from the same
/// weights as `GatedFitSteps`'s network, on the same batches, `mse_loss`, the loss read back.
type TorchGatedSteps(kind: Kind, n: int, threads: int, steps: int) =
    let cell, linear =
        use net = gatedNetwork kind n
        torchGated net
    let parameters = Seq.append (cell.parameters ()) (linear.parameters ()) |> Array.ofSeq
    let optimizer = torch.optim.Adam(parameters, 1e-3, 0.9, 0.999, 1e-8, 0.0, false, false)
    let data = batches steps
    member _.Run() =
        torch.set_num_threads threads
        for b in data do
            use _ = torch.NewDisposeScope()
            let x, y, _ = Training.toTensors Precision.Float32 b
            checkBatch x y
            optimizer.zero_grad ()
            let states = torchStates cell x // [batch; time; units]
            expectShape "states" [| int64 BatchSize; int64 Time; int64 n |] states
            let loss = torch.nn.functional.mse_loss (linear.forward states, y)
            if Double.IsNaN(loss.ToDouble()) then failwith "torch gated step: loss is NaN"
            loss.backward ()
            optimizer.step () |> ignore
    interface IDisposable with
        member _.Dispose() =
            optimizer.Dispose()
            cell.Dispose()
            linear.Dispose()

/// The first batch's loss through RnnFun and through torch's module, from the same weights: the
/// two contestants compute the same function (a check, raised on a mismatch).
let checkGatedAgree (kind: Kind) (n: int) =
    use net = gatedNetwork kind n
    let cell, linear = torchGated net
    use _ = torch.NewDisposeScope()
    use _ = torch.no_grad ()
    let x, y, _ = Training.toTensors Precision.Float32 (batches 1).[0]
    use ours = Network.unroll net x
    let a = torch.nn.functional.mse_loss(ours.Outputs, y).ToDouble()
    let b = torch.nn.functional.mse_loss(linear.forward (torchStates cell x), y).ToDouble()
    cell.Dispose()
    linear.Dispose()
    if abs (a - b) > 1e-5 * (abs b + 1e-3) then failwithf "%s N=%d: RnnFun's loss %g differs from torch's %g" kind.Name n a b
    a, b

/// A gated network's forward pass over one batch, `passes` times, without gradients:
/// `Network.outputs` (outputs alone, libtorch's kernel for gru and lstm) or, with `states`,
/// `Network.unroll` (outputs and every step's packed state, the lstm's c included).
type GatedForward(kind: Kind, n: int, threads: int, passes: int, states: bool) =
    let net = gatedNetwork kind n
    let x =
        let x, _, _ = Training.toTensors Precision.Float32 (batches 1).[0]
        x.DetachFromDisposeScope()
    member _.Run() =
        torch.set_num_threads threads
        use _ = torch.no_grad ()
        for _ in 1 .. passes do
            use _ = torch.NewDisposeScope()
            if states then
                use rollout = Network.unroll net x
                expectShape "outputs" [| int64 BatchSize; int64 Time; int64 OutputCount |] rollout.Outputs
            else
                let outputs = Network.outputs net x
                expectShape "outputs" [| int64 BatchSize; int64 Time; int64 OutputCount |] outputs
    interface IDisposable with
        member _.Dispose() =
            (net :> IDisposable).Dispose()
            x.Dispose()

/// torch.nn.GRU / torch.nn.LSTM + torch.nn.Linear forward over the same batch, `passes` times.
type TorchGatedForward(kind: Kind, n: int, threads: int, passes: int) =
    let cell, linear =
        use net = gatedNetwork kind n
        torchGated net
    let x =
        let x, _, _ = Training.toTensors Precision.Float32 (batches 1).[0]
        x.DetachFromDisposeScope()
    member _.Run() =
        torch.set_num_threads threads
        use _ = torch.no_grad ()
        for _ in 1 .. passes do
            use _ = torch.NewDisposeScope()
            let outputs = linear.forward (torchStates cell x)
            expectShape "outputs" [| int64 BatchSize; int64 Time; int64 OutputCount |] outputs
    interface IDisposable with
        member _.Dispose() =
            cell.Dispose()
            linear.Dispose()
            x.Dispose()

// ---------------------------------------------------------------------------------------------
// Fixed points

/// A fixed-point problem: a network, the constant input and the initial states.
type FixedPointProblem =
    { Name: string
      Network: Network
      Input: float[]
      Initial: float[][] }

/// The 3-unit W = 2I network (27 fixed points) from 1024 states uniform in [-1.5, 1.5]^3.
let w2iProblem () =
    { Name = "W = 2I, 3 units"
      Network = Network.scaledIdentity Kinds.rnn 3 2.0
      Input = [| 0.0 |]
      Initial = InitialStates.uniformBox 1024 -1.5 1.5 3 0 }

/// How the flip-flop network of the fixed-point benchmark was trained.
type FlipFlopTraining =
    { Seconds: float
      Steps: int
      Epochs: int
      FinalLoss: float
      ValidationLoss: float }

/// Trains `Presets.flipFlop 0` and samples 1024 initial states (noise 0.5, seed 0) from its
/// trajectories on 64 fresh trials, as `rnnfun demo` does.
let flipFlopProblemOf (kind: Kind) =
    let preset = Presets.flipFlop 0 |> Presets.withKindNamed kind.Name
    let fit = Presets.train preset
    let trials = preset.Task.Generate 64 12345
    let trajectory =
        use _ = torch.NewDisposeScope()
        let x, _, _ = Training.toTensors fit.Network.Precision trials
        use run = Network.unrollFrom fit.Network None x
        InitialStates.ofTrajectories run.States
    let training =
        { Seconds = fit.WallTime.TotalSeconds
          Steps = fit.Steps
          Epochs = fit.StoppedAtEpoch
          FinalLoss = (if fit.Losses.Length > 0 then Array.last fit.Losses else nan)
          ValidationLoss = (if fit.ValidationLosses.Length > 0 then Array.last fit.ValidationLosses else nan) }
    { Name = (if kind.Name = "rnn" then "trained flip-flop, 64 units" else sprintf "trained %s flip-flop, 64 units" kind.Name)
      Network = fit.Network
      Input = Array.zeroCreate preset.Network.InputSize
      Initial = InitialStates.fromStates 1024 0.5 0 trajectory },
    training

/// `flipFlopProblemOf Kinds.rnn`.
let flipFlopProblem () = flipFlopProblemOf Kinds.rnn

/// The outcome of one search, reduced to what the benchmark compares.
type SearchOutcome =
    { /// Unique points (tolerance 1e-3, lowest q kept) among states with q < 1e-12.
      Unique: int
      /// States that ended with q < 1e-12.
      Converged: int
      Iterations: int
      /// Converged points dropped as distance outliers.
      Outliers: int
      /// Unique points whose Jacobian was eigen-decomposed.
      Decomposed: int
      /// The unique points' states.
      Points: float[][] }

/// How many of `points` have no point of `others` within `distance` (2-norm of the states).
let unmatched (distance: float) (points: float[][]) (others: float[][]) =
    let near (a: float[]) (b: float[]) = sqrt (Array.fold2 (fun acc x y -> acc + (x - y) ** 2.0) 0.0 a b) <= distance
    points |> Array.filter (fun p -> not (others |> Array.exists (near p))) |> Array.length

/// Threshold on q for a point to count.
[<Literal>]
let CountTolQ = 1e-12

/// Keeps one point per cluster: sorted by q, a point is kept when it lies farther than `tolerance`
/// (2-norm of [state, input]) from every point kept before it (FixedPointFinder's rule).
let uniquePoints (tolerance: float) (points: (float[] * float[] * float)[]) =
    let sorted = points |> Array.sortBy (fun (_, _, q) -> q)
    let kept = ResizeArray<float[] * float[]>()
    let distance (a: float[], u: float[]) (b: float[], v: float[]) =
        let mutable s = 0.0
        for i in 0 .. a.Length - 1 do s <- s + (a[i] - b[i]) ** 2.0
        for i in 0 .. u.Length - 1 do s <- s + (u[i] - v[i]) ** 2.0
        sqrt s
    for (x, u, _) in sorted do
        if kept |> Seq.forall (fun k -> distance k (x, u) > tolerance) then kept.Add((x, u))
    kept |> Seq.map fst |> Array.ofSeq

/// RnnFun's `FixedPoints.find` with its defaults (Adam, then Newton; uniqueness; Jacobians and
/// eigen-decompositions of the unique points, which the baseline does not compute).
let rnnfunSearch (p: FixedPointProblem) : SearchOutcome =
    let r = FixedPoints.find FixedPointConfig.defaults p.Network (ConstantInput.Same p.Input) p.Initial
    let counted = r.FixedPoints |> Array.filter (fun f -> f.Q < CountTolQ)
    { Unique = counted.Length
      Converged = r.Converged
      Iterations = (if r.FixedPoints.Length = 0 then 0 else r.FixedPoints |> Array.map (fun f -> f.Search |> Option.map (fun s -> s.Iterations) |> Option.defaultValue 0) |> Array.max)
      Outliers = r.Outliers
      Decomposed = r.FixedPoints |> Array.filter (fun f -> f.Eigenvalues.Length > 0) |> Array.length
      Points = counted |> Array.map (fun f -> f.State) }

/// Where FixedPoints.find spends its time, from one extra run: the search's own `Timings`, and the
/// iterations its progress reports counted (Adam reports every 10th).
type SearchPhases =
    { Timings: SearchTimings
      Seconds: float
      AdamIterations: int
      NewtonIterations: int
      ChordIterations: int
      DeflationIterations: int
      Deflated: int }

let rnnfunSearchPhases (p: FixedPointProblem) : SearchPhases =
    let iterations = Collections.Generic.Dictionary<string, int>()
    let progress (f: FixedPointProgress) =
        // Newton and deflation restart at 0 for each batch they run: count reports, not the largest.
        iterations[f.Phase] <-
            match iterations.TryGetValue f.Phase with
            | true, i when f.Phase = "newton" || f.Phase = "deflation" -> i + (if f.Iteration > 0 then 1 else 0)
            | true, i -> max i f.Iteration
            | _ -> f.Iteration
    let r = FixedPoints.find { FixedPointConfig.defaults with Progress = Some progress } p.Network (ConstantInput.Same p.Input) p.Initial
    let get key = match iterations.TryGetValue key with | true, v -> v | _ -> 0
    { Timings = r.Timings
      Seconds = r.Elapsed.TotalSeconds
      AdamIterations = get "adam"
      NewtonIterations = get "newton"
      ChordIterations = get "chord"
      DeflationIterations = get "deflation"
      Deflated = r.Deflated }

/// q = 0.5 ||F(x) - x||^2 of the given states, evaluated in float64 with RnnFun's step.
let q64 (p: FixedPointProblem) (states: float[][]) : float[] =
    if states.Length = 0 then [||]
    else
        use net = Network.toPrecision Precision.Float64 p.Network
        use _ = torch.NewDisposeScope()
        let h = Arrays.matrixToTensor Precision.Float64 states // [k; units]
        let u = Arrays.matrixToTensor Precision.Float64 (Array.create states.Length p.Input) // [k; inputs]
        let next = Network.step net h u // [k; units]
        Arrays.ofTensor ((next - h).square().sum(1L) * 0.5)

/// Refines states with FixedPoints.find (defaults) and returns how many distinct fixed points
/// (q < 1e-20) it reaches that lie farther than `distance` from every point of `known`.
let newPointsFrom (p: FixedPointProblem) (distance: float) (known: float[][]) (states: float[][]) =
    if states.Length = 0 then 0
    else
        let r = FixedPoints.find FixedPointConfig.defaults p.Network (ConstantInput.Same p.Input) states
        unmatched distance (r.FixedPoints |> Array.map (fun f -> f.State)) known

/// One run of the union comparison: a trained flip-flop network, 1024 states sampled from its
/// trajectories with one seed, searched by the baseline and by `FixedPoints.find`.
type UnionRun =
    { NetworkSeed: int
      StateSeed: int
      BaselinePoints: int
      RnnFunPoints: int
      /// Baseline points with no RnnFun point within 1e-4, and the other way round.
      BaselineOnly: int
      RnnFunOnly: int
      /// States both searches converged from, and those that ended at the same point.
      StatesCompared: int
      StatesSame: int
      Deflated: int
      RnnFunSeconds: float
      BaselineSeconds: float }

/// The flip-flop preset trained with `networkSeed`, and its trajectory states on 64 fresh trials.
let trainedFlipFlopNetwork (networkSeed: int) =
    let preset = Presets.flipFlop networkSeed
    let fit = Presets.train preset
    let trials = preset.Task.Generate 64 12345
    let states =
        use _ = torch.NewDisposeScope()
        let x, _, _ = Training.toTensors fit.Network.Precision trials
        use run = Network.unrollFrom fit.Network None x
        InitialStates.ofTrajectories run.States
    fit.Network, states

/// For each trained network and each state seed, both searches from the same 1024 states
/// (`InitialStates.fromStates 1024 0.5 seed`, as FixedPointFinder's `sample_states` draws them).
let fixedPointUnion (networkSeeds: int list) (stateSeeds: int list) : UnionRun list =
    [ for networkSeed in networkSeeds do
        let net, states = trainedFlipFlopNetwork networkSeed
        for stateSeed in stateSeeds do
            let initial = InitialStates.fromStates 1024 0.5 stateSeed states
            let input = Array.zeroCreate net.Sizes.Inputs
            torch.set_num_threads (fixedPointThreads net.Sizes.Units)
            let sw = Diagnostics.Stopwatch.StartNew()
            let run = FixedPointFinderStyle.search net input initial
            let theirs = FixedPointFinderStyle.points CountTolQ initial run
            // Its default pipeline linearises the points too, as FixedPoints.find does.
            FixedPointFinderStyle.linearise net input theirs |> ignore
            let baselineSeconds = sw.Elapsed.TotalSeconds
            let r = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same input) initial
            let ours = r.FixedPoints |> Array.map (fun f -> f.State)
            let theirPointOfState = FixedPointFinderStyle.nearest 1e-3 theirs run.Final
            let ourPointOfBaseline = ours |> Array.map (fun o -> (FixedPointFinderStyle.nearest 1e-4 theirs [| o |])[0])
            let compared = [| for i in 0 .. initial.Length - 1 do if theirPointOfState[i] >= 0 && r.PointOfState[i] >= 0 then yield i |]
            yield
                { NetworkSeed = networkSeed
                  StateSeed = stateSeed
                  BaselinePoints = theirs.Length
                  RnnFunPoints = ours.Length
                  BaselineOnly = unmatched 1e-4 theirs ours
                  RnnFunOnly = unmatched 1e-4 ours theirs
                  StatesCompared = compared.Length
                  StatesSame = compared |> Array.filter (fun i -> ourPointOfBaseline[r.PointOfState[i]] = theirPointOfState[i]) |> Array.length
                  Deflated = r.Deflated
                  RnnFunSeconds = r.Elapsed.TotalSeconds
                  BaselineSeconds = baselineSeconds }
        (net :> IDisposable).Dispose() ]

/// A random rnn of `units` units, W_rec ~ N(0, gain^2 / units) (gain 1.2: past the edge of chaos,
/// with several fixed points; below 1: the origin alone, an attractor), one input and one output,
/// written to `path` as a model file.
let writeRandomNetwork (gain: float) (units: int) (seed: int) (path: string) =
    let random = Random(seed)
    let scale = gain / sqrt (float units)
    let config = { NetworkConfig.defaults with InputSize = 1; Units = units; OutputSize = 1 }
    use net =
        Network.ofValues Kinds.rnn config
            (Map.ofList
                [ "w_in", ParameterValue.Matrix(Array.init units (fun _ -> [| 0.0 |]))
                  "w_rec", ParameterValue.Matrix(Array.init units (fun _ -> Array.init units (fun _ -> scale * Sampling.standardNormal random)))
                  "b_rec", ParameterValue.Vector(Array.zeroCreate units)
                  "w_out", ParameterValue.Matrix [| Array.zeroCreate units |] ])
    ModelFile.save path net

/// FixedPointFinder's Torch defaults (`RnnFun.Baselines.FixedPointFinderStyle.search`, shared with the
/// tests), then uniqueness at 1e-3 keeping the lowest q. With `linearise` (FixedPointFinder's defaults
/// do this), also its outlier exclusion, a second uniqueness pass, and the Jacobians and
/// eigen-decompositions of the unique points; without, the search alone.
let fixedPointFinderSearch (linearise: bool) (p: FixedPointProblem) : SearchOutcome =
    torch.set_num_threads (fixedPointThreads p.Network.Sizes.Units)
    let run = FixedPointFinderStyle.search p.Network p.Input p.Initial
    let converged = [| for i in 0 .. run.Q.Length - 1 do if Double.IsFinite run.Q[i] && run.Q[i] < CountTolQ then yield run.Final[i], run.Q[i] |]
    if not linearise then
        let unique = FixedPointFinderStyle.unique 1e-3 converged
        { Unique = unique.Length
          Converged = converged.Length
          Iterations = run.Iterations
          Outliers = 0
          Decomposed = 0
          Points = unique |> Array.map fst }
    else
        let first = FixedPointFinderStyle.unique 1e-3 converged
        let kept = FixedPointFinderStyle.points CountTolQ p.Initial run
        let moduli = FixedPointFinderStyle.linearise p.Network p.Input kept
        { Unique = kept.Length
          Converged = converged.Length
          Iterations = run.Iterations
          Outliers = first.Length - kept.Length
          Decomposed = moduli.Length
          Points = kept }

// ---------------------------------------------------------------------------------------------
// GEMM and tiny-op latency

/// Seconds of one 1024 x 1024 float32 matrix product (torch.mm), at the given thread count.
type Gemm(size: int) =
    let a = torch.randn([| int64 size; int64 size |], torch.ScalarType.Float32).DetachFromDisposeScope()
    let b = torch.randn([| int64 size; int64 size |], torch.ScalarType.Float32).DetachFromDisposeScope()
    do
        expectShape "a" [| int64 size; int64 size |] a
        expectShape "b" [| int64 size; int64 size |] b
    member _.Flops = 2.0 * float size ** 3.0
    member _.Run(threads: int) =
        torch.set_num_threads threads
        use _ = torch.NewDisposeScope()
        torch.mm(a, b) |> ignore
    interface IDisposable with
        member _.Dispose() =
            a.Dispose()
            b.Dispose()

/// One tiny op (tanh of an 8 x 8 tensor) `count` times: the per-op cost of a TorchSharp call.
type TinyOp(count: int) =
    let a = torch.randn([| 8L; 8L |], torch.ScalarType.Float32).DetachFromDisposeScope()
    member _.Count = count
    member _.Run() =
        torch.set_num_threads 1
        use _ = torch.NewDisposeScope()
        for _ in 1 .. count do
            torch.tanh a |> ignore
    interface IDisposable with
        member _.Dispose() = a.Dispose()

// ---------------------------------------------------------------------------------------------
// Memory

/// Resident memory of this process now and at its peak so far (bytes), from /proc/self/status.
let private selfMemory () =
    let lines = try IO.File.ReadAllLines "/proc/self/status" with _ -> [||]
    let read (key: string) =
        match lines |> Array.tryFind (fun l -> l.StartsWith key) with
        | Some l ->
            match Int64.TryParse(l.Substring(key.Length).Replace("kB", "").Trim()) with
            | true, kb -> kb * 1024L
            | _ -> 0L
        | None -> 0L
    read "VmRSS:", read "VmHWM:"

/// One memory probe: the extra resident memory (bytes) of `what` at sequence length T, batch B and
/// N units, over the process's memory after a small warm-up of the same code path. Run in a fresh
/// child process (`--memory-probe what T B N`), so that each peak is its own.
///   train:   Training.fit, 3 steps on batches of B flip-flop trials of T steps (default settings)
///   analyse: Network.unroll of B trials of T steps, then a PCA of all B x T states
let memoryProbe (what: string) (time: int) (batch: int) (n: int) : int64 =
    torch.set_num_threads 1
    let taskOf t = Tasks.flipFlop { FlipFlopConfig.defaults with Time = t }
    use net = Network.create Kinds.rnn (networkConfig n)
    let run (t: int) (b: int) =
        match what with
        | "train" ->
            let data = (taskOf t).Generate (b * 3) 7
            use r = Training.fitWith { FitHooks.none with Threads = Some 1 } { FitConfig.defaults with BatchSize = b; Epochs = 1 } net (TrainingData.Dataset data)
            ()
        | "analyse" ->
            let data = (taskOf t).Generate b 7
            use _ = torch.NewDisposeScope()
            let x, _, _ = Training.toTensors Precision.Float32 data
            use rollout = Network.unroll net x
            let states = InitialStates.ofTrajectories rollout.States
            Pca.fit 3 states |> ignore
        | other -> failwithf "unknown memory probe %s" other
    run 4 2
    GC.Collect()
    let before, _ = selfMemory ()
    run time batch
    let _, peak = selfMemory ()
    max 0L (peak - before)

/// Where one step of the reproduced inner training step (the fused pass) spends its time at n units,
/// one thread: mean milliseconds per phase over `steps` steps after a warm-up, scope disposal included.
let profileInnerStep (n: int) (steps: int) : (string * float) list =
    torch.set_num_threads 1
    let kind = Kinds.rnn
    let names, leaves = trainableLeaves n
    use optimizer = torch.optim.Adam(leaves, 1e-3, 0.9, 0.999, 1e-8, 0.0, false, false)
    let data = batches 4
    let totals = Dictionary<string, float>()
    let order = ResizeArray<string>()
    let watch = Diagnostics.Stopwatch()
    let mutable measuring = false
    let lap (name: string) =
        if measuring then
            if not (totals.ContainsKey name) then
                totals[name] <- 0.0
                order.Add name
            totals[name] <- totals[name] + watch.Elapsed.TotalMilliseconds
        watch.Restart()
    for i in 1 .. steps + 5 do
        measuring <- i > 5
        watch.Restart()
        let scope = torch.NewDisposeScope()
        let x, y, mask = Training.toTensors Precision.Float32 data[i % data.Length]
        optimizer.zero_grad ()
        let w = leafWeights names leaves
        let h0 = torch.zeros([| int64 BatchSize; int64 n |], torch.ScalarType.Float32)
        lap "data, zero_grad, weights"
        let drive = kind.InputDrive w (x.transpose(0L, 1L)) // [time; batch; units]
        lap "input drive"
        let unrolled = FusedBptt.unroll FusedRecurrence.Rnn w["w_rec"] h0 drive
        lap "recurrence forward"
        let outputs = kind.Readout w unrolled.States // [time; batch; outputs]
        let loss = Training.mse outputs (y.transpose(0L, 1L)) (mask |> Option.map (fun m -> m.transpose(0L, 1L)))
        loss.ToDouble() |> ignore
        lap "readout and loss"
        loss.backward(null, true, false, null)
        lap "autograd: loss to states"
        let grads = FusedBptt.gradients unrolled unrolled.States.grad
        lap "recurrence backward"
        torch.autograd.backward([| unrolled.Drive; unrolled.WRec |], [| grads.Drive; grads.Recurrent |], Nullable(false), false, null)
        lap "autograd: drive and W_rec to leaves"
        optimizer.step () |> ignore
        lap "Adam"
        scope.Dispose()
        lap "dispose scope"
    for l in leaves do l.Dispose()
    [ for name in order -> name, totals[name] / float steps ]

/// Where one fused training step of a gated kind (gru, lstm) spends its time at n units, one
/// thread: mean milliseconds per phase over `steps` steps after a warm-up (as `profileInnerStep`).
let profileGatedStep (kind: Kind) (n: int) (steps: int) : (string * float) list =
    torch.set_num_threads 1
    use net = gatedNetwork kind n
    let names, leaves =
        use _ = torch.NewDisposeScope()
        net.Parameters
        |> List.map (fun p -> p.Spec.Name, torch.nn.Parameter(p.Value.detach().clone(), true).DetachFromDisposeScope() :?> Modules.Parameter)
        |> List.unzip
    use optimizer = torch.optim.Adam(leaves, 1e-3, 0.9, 0.999, 1e-8, 0.0, false, false)
    let data = batches 4
    let totals = Dictionary<string, float>()
    let order = ResizeArray<string>()
    let watch = Diagnostics.Stopwatch()
    let mutable measuring = false
    let lap (name: string) =
        if measuring then
            if not (totals.ContainsKey name) then
                totals[name] <- 0.0
                order.Add name
            totals[name] <- totals[name] + watch.Elapsed.TotalMilliseconds
        watch.Restart()
    let recurrence = (Recurrence.ofKind kind).Value
    let wName, bName = (Recurrence.parameterNames recurrence (net.Parameters |> List.map (fun p -> p.Spec))).Value
    let state = int64 (Network.stateSize net)
    for i in 1 .. steps + 5 do
        measuring <- i > 5
        watch.Restart()
        let scope = torch.NewDisposeScope()
        let x, y, _ = Training.toTensors Precision.Float32 data[i % data.Length]
        optimizer.zero_grad ()
        let w = leafWeights names leaves
        let h0 = torch.zeros([| int64 BatchSize; state |], torch.ScalarType.Float32)
        lap "data, zero_grad, weights"
        let drive = kind.InputDrive w (x.transpose(0L, 1L)) // [time; batch; drive]
        lap "input drive"
        let unrolled = FusedBptt.unrollWith recurrence w[wName] (bName |> Option.map (fun b -> w[b])) h0 drive
        lap "recurrence forward"
        let outputs = Network.readoutWith net w unrolled.States // [time; batch; outputs]
        let loss = Training.mse outputs (y.transpose(0L, 1L)) None
        loss.ToDouble() |> ignore
        lap "readout and loss"
        loss.backward(null, true, false, null)
        lap "autograd: loss to states"
        let grads = FusedBptt.gradients unrolled unrolled.States.grad
        lap "recurrence backward"
        let pairs = [ unrolled.Drive, grads.Drive; unrolled.WRec, grads.Recurrent ] @ (match unrolled.BRec, grads.RecurrentBias with Some b, Some g -> [ b, g ] | _ -> [])
        torch.autograd.backward(pairs |> List.map fst |> Array.ofList, pairs |> List.map snd |> Array.ofList, Nullable(false), false, null)
        lap "autograd: drive and weight_hh to leaves"
        optimizer.step () |> ignore
        lap "Adam"
        scope.Dispose()
        lap "dispose scope"
    for l in leaves do l.Dispose()
    [ for name in order -> name, totals[name] / float steps ]
