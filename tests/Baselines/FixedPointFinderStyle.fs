/// FixedPointFinder's PyTorch search (FixedPointFinderTorch at its defaults), written with TorchSharp's
/// own torch.nn.RNN and torch.optim.Adam and none of RnnFun's search code: the baseline the tests and
/// the benchmark hold `FixedPoints.find` against. Only for the `rnn` kind (a tanh torch.nn.RNN).
module RnnFun.Baselines.FixedPointFinderStyle

open System
open RnnFun
open TorchSharp

/// Where each initial state ended.
type Run =
    { /// [states][units]: each state after the last Adam step.
      Final: float[][]
      /// [states]: q = 0.5 ||F(x) - x||^2 there, as the search evaluates it (float32).
      Q: float[]
      /// Adam iterations taken.
      Iterations: int }

/// A torch.nn.RNN (tanh, batch first, float32) holding the network's effective weights, frozen.
let private torchRnn (net: Network) =
    if net.Kind.Name <> "rnn" then invalidArg "net" (sprintf "the baseline is written for torch.nn.RNN (kind rnn), not %s" net.Kind.Name)
    let n, m = net.Sizes.Units, net.Sizes.Inputs
    // The weights' tensors fall to the caller's dispose scope.
    let values = Network.values net |> Map.ofList
    let matrix name =
        match values[name] with
        | ParameterValue.Matrix rows -> Arrays.matrixToTensor Precision.Float32 rows
        | ParameterValue.Vector _ -> failwithf "%s: expected a matrix" name
    let vector name =
        match values |> Map.tryFind name with
        | Some (ParameterValue.Vector v) -> Arrays.toTensor Precision.Float32 [| int64 v.Length |] v
        | _ -> torch.zeros([| int64 n |], torch.ScalarType.Float32)
    let rnn = torch.nn.RNN(int64 m, int64 n, nonLinearity = torch.nn.NonLinearities.Tanh, batchFirst = true)
    use _ = torch.no_grad ()
    for struct (name, parameter) in rnn.named_parameters () do
        let source =
            match name with
            | "weight_ih_l0" -> matrix "w_in"
            | "weight_hh_l0" -> matrix "w_rec"
            | "bias_ih_l0" -> vector "b_in"
            | "bias_hh_l0" -> vector "b_rec"
            | other -> failwithf "unexpected torch.nn.RNN parameter %s" other
        if parameter.shape <> source.shape then
            failwithf "%s: expected shape %A, got %A" name parameter.shape source.shape
        parameter.copy_ source |> ignore
        parameter.requires_grad <- false
    rnn

/// FixedPointFinder's defaults: Adam(lr 1.0, betas 0.9 / 0.999, eps 1e-8) on all states jointly,
/// `ReduceLROnPlateau(factor 0.95, patience 2)` stepped with the mean q, no clipping, at most 5000
/// iterations, stop when every state has q < 1e-12 or |q - q_previous| < 1e-20 lr; float32 (its
/// default dtype). The step is a torch.nn.RNN loaded with the network's effective weights. Uses the
/// caller's libtorch thread setting.
let search (net: Network) (input: float[]) (initial: float[][]) : Run =
    let maxIters, tolQ, tolDq = 5000, 1e-12, 1e-20
    let n, m, k = net.Sizes.Units, net.Sizes.Inputs, initial.Length
    if input.Length <> m then invalidArg "input" (sprintf "expected %d inputs, got %d" m input.Length)
    use outer = torch.NewDisposeScope()
    let rnn = torchRnn net
    let x = torch.nn.Parameter(Arrays.toTensor Precision.Float32 [| 1L; int64 k; int64 n |] (Array.concat initial), true) // [1; states; units]
    let u = Arrays.toTensor Precision.Float32 [| int64 k; 1L; int64 m |] (Array.init k (fun _ -> input) |> Array.concat) // [states; 1; inputs]
    let optimizer = torch.optim.Adam([ x ], 1.0, 0.9, 0.999, 1e-8, 0.0, false, false)
    let scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min", 0.95, 2)
    let group = optimizer.ParamGroups |> Seq.head
    let mutable qPrev =
        use nanScalar = Double.NaN.ToScalar()
        torch.full([| int64 k |], nanScalar, dtype = torch.ScalarType.Float32).DetachFromDisposeScope()
    use tolQScalar = tolQ.ToScalar()
    let mutable iteration = 1
    let mutable finished = false
    try
        while not finished do
            use _ = torch.NewDisposeScope()
            optimizer.zero_grad ()
            let struct (_, fx) = rnn.forward (u, x) // h_n [1; states; units]
            let q = (x - fx).squeeze(0L).square().sum(1L) * 0.5 // [states]
            let qMean = q.mean ()
            let dq = (q - qPrev).abs () // [states]
            qMean.backward ()
            optimizer.step () |> ignore
            scheduler.step (qMean.ToDouble())
            // The rate after the scheduler's step, as FixedPointFinder reads it for its dq test.
            let lr = group.LearningRate
            let allDone =
                iteration > 1
                && (use tolDqScalar = (tolDq * lr).ToScalar()
                    dq.lt(tolDqScalar).logical_or(q.lt(tolQScalar)).all().item<bool> ())
            if allDone || iteration + 1 > maxIters then finished <- true
            else
                let next = q.detach().clone().DetachFromDisposeScope()
                qPrev.Dispose()
                qPrev <- next
                iteration <- iteration + 1
        use _ = torch.no_grad ()
        let struct (_, fx) = rnn.forward (u, x)
        let q = Arrays.ofTensor ((x - fx).squeeze(0L).square().sum(1L) * 0.5) // [states]
        let flat = Arrays.ofTensor (x.squeeze 0L)
        { Final = Array.init k (fun i -> Array.sub flat (i * n) n); Q = q; Iterations = iteration }
    finally
        qPrev.Dispose()
        optimizer.Dispose()
        rnn.Dispose()

let private distance (a: float[]) (b: float[]) = sqrt (Array.fold2 (fun acc x y -> acc + (x - y) * (x - y)) 0.0 a b)

/// Keeps one state per cluster: sorted by q, a state is kept when it lies farther than `tolerance`
/// from every state kept before it (FixedPointFinder's rule, with one constant input).
let unique (tolerance: float) (states: (float[] * float)[]) : (float[] * float)[] =
    let kept = ResizeArray<float[] * float>()
    for (x, q) in states |> Array.sortBy snd do
        if kept |> Seq.forall (fun (k, _) -> distance k x > tolerance) then kept.Add((x, q))
    kept.ToArray()

/// FixedPointFinder's post-processing at its defaults, after keeping the states with q < `tolQ` (the
/// tests' and the benchmark's threshold for a point to count; FixedPointFinder keeps every state): unique at 1e-3,
/// without distance outliers (distance to the initial states' centroid over their mean distance to it
/// above 10), unique again. Returns the points' states.
let points (tolQ: float) (initial: float[][]) (run: Run) : float[][] =
    let n = initial[0].Length
    let converged = [| for i in 0 .. run.Final.Length - 1 do if Double.IsFinite run.Q[i] && run.Q[i] < tolQ then yield run.Final[i], run.Q[i] |]
    let first = unique 1e-3 converged
    let centroid = Array.init n (fun j -> initial |> Array.averageBy (fun s -> s[j]))
    let meanDistance = initial |> Array.averageBy (distance centroid)
    let inliers = if meanDistance > 0.0 then first |> Array.filter (fun (s, _) -> distance centroid s / meanDistance <= 10.0) else first
    unique 1e-3 inliers |> Array.map fst

/// The point (index into `points`) nearest to each state, or -1 when none lies within `radius`.
let nearest (radius: float) (points: float[][]) (states: float[][]) : int[] =
    states
    |> Array.map (fun s ->
        if points.Length = 0 then -1
        else
            let best = points |> Array.mapi (fun i p -> i, distance p s) |> Array.minBy snd
            if snd best <= radius then fst best else -1)

/// FixedPointFinder's linearisation at its defaults: the Jacobians of the points by autograd through
/// the torch.nn.RNN (one backward pass per unit on the batch sum) and their eigen-decompositions sorted
/// by modulus, in float32. Returns the eigenvalue moduli [points][units].
let linearise (net: Network) (input: float[]) (points: float[][]) : float[][] =
    if points.Length = 0 then [||]
    else
        let n, m = net.Sizes.Units, net.Sizes.Inputs
        use _ = torch.NewDisposeScope()
        use rnn = torchRnn net
        use _ = torch.enable_grad ()
        let c = int64 points.Length
        let xs = Arrays.toTensor Precision.Float32 [| 1L; c; int64 n |] (Array.concat points) // [1; points; units]
        let xs = xs.requires_grad_(true)
        let us = Arrays.toTensor Precision.Float32 [| c; 1L; int64 m |] (Array.init points.Length (fun _ -> input) |> Array.concat) // [points; 1; inputs]
        let struct (_, fx) = rnn.forward (us, xs) // [1; points; units]
        let rows =
            Array.init n (fun i ->
                let g = torch.autograd.grad([| fx.select(2L, int64 i).sum() |], [| xs |], retain_graph = (i < n - 1))
                g[0].squeeze(0L)) // [points; units]: dF_i/dx
        let jacobians = torch.stack(rows, 1L) // [points; units(i); units(j)]
        let struct (values, vectors) = torch.linalg.eig (jacobians.detach ()) // [points; units], [points; units; units]
        let order = values.abs().argsort(1L, true) // [points; units]
        let sortedValues = values.gather(1L, order) // [points; units]
        let sortedVectors = vectors.gather(2L, order.unsqueeze(1L).expand(vectors.shape)) // [points; units; units]
        // FixedPointFinder reads the eigenvectors back too.
        Arrays.ofTensor (torch.real sortedVectors) |> ignore
        Arrays.ofTensor (torch.imag sortedVectors) |> ignore
        let moduli = Arrays.ofTensor (sortedValues.abs ())
        Array.init points.Length (fun i -> Array.sub moduli (i * n) n)
