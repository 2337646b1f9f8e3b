namespace RnnFun

open System
open System.Diagnostics
open System.Numerics
open TorchSharp

/// What a fixed point is, from the moduli of its Jacobian's eigenvalues (discrete-time map).
[<RequireQualifiedAccess>]
type FixedPointKind =
    /// Every |lambda| < 1 - tol.
    | Attractor
    /// Some, not all, |lambda| > 1 + tol, none within tol of 1.
    | Saddle
    /// Every |lambda| > 1 + tol.
    | Repeller
    /// Some |lambda| within tol of 1 (line and ring attractors, centres).
    | Marginal

/// A fixed (or slow) point with its linearisation, as plain data.
type FixedPoint =
    { Id: int
      /// [units]
      State: float[]
      /// [inputs]: the constant input it is a fixed point under.
      Input: float[]
      /// 0.5 ||F(x, u) - x||^2
      Q: float
      /// ||F(x, u) - x||
      Speed: float
      /// Optimiser iterations (Adam + Newton) it took; 0 when read from a file.
      Iterations: int
      /// q below the tolerance (false for slow points).
      Converged: bool
      /// [units][units], J[i][j] = dF_i/dh_j; empty when read from a file.
      Jacobian: float[][]
      /// Sorted by modulus, descending.
      Eigenvalues: Complex[]
      /// Right eigenvectors, one per eigenvalue (same order), each [units]; empty when read from a file.
      Eigenvectors: Complex[][]
      /// Number of |lambda| > 1 + tol.
      UnstableModes: int
      Stable: bool
      Kind: FixedPointKind
      /// For a continuous-time kind: (lambda - 1) / alpha, the eigenvalues of the vector field.
      ContinuousEigenvalues: Complex[] option }

/// The constant input the search holds while it looks for fixed points.
[<RequireQualifiedAccess>]
type ConstantInput =
    /// One input for every state ([inputs]).
    | Same of float[]
    /// One input per initial state ([states][inputs]): input-conditioned fixed points.
    | PerState of float[][]

/// Progress of a fixed-point search.
type FixedPointProgress =
    { Phase: string
      Iteration: int
      MaxIterations: int
      /// Largest q among the states still being optimised.
      WorstQ: float
      Converged: int
      States: int }

/// Settings of the fixed-point search. `FixedPointConfig.defaults` is tuned for speed and exactness.
type FixedPointConfig =
    { /// Converged when q < this (float64 reaches ~1e-30 with Newton refinement).
      TolQ: float
      /// Two points are one when ||[x1, u1] - [x2, u2]|| <= this; the lower q is kept.
      TolUnique: float
      /// Phase 1: at most this many Adam iterations (FixedPointFinder's adaptive rate and clipping).
      MaxAdamIterations: int
      /// Phase 1 ends early once every state has q below this (Newton finishes the work).
      AdamSwitchQ: float
      InitialLearningRate: float
      /// Adam's epsilon (FixedPointFinder: 0.01).
      AdamEpsilon: float
      /// Phase 2: at most this many damped Newton iterations.
      NewtonIterations: int
      /// Before phase 2, a state within this distance of a state with lower q is not refined on its
      /// own (it is counted as a duplicate): states of one basin end at one point, and Newton's cost
      /// grows with the number of states. 0 refines every state.
      NewtonMergeRadius: float
      /// Drop points whose distance to the initial states' centroid exceeds this many times the
      /// initial states' mean distance to it (FixedPointFinder's rule); None: keep all.
      OutlierDistanceScale: float option
      /// Report points with TolQ <= q < SlowTolQ apart, as slow points.
      IncludeSlowPoints: bool
      SlowTolQ: float
      /// |lambda| within this of 1 is marginal.
      EigenTolerance: float
      Precision: Precision
      /// libtorch threads during the search; None: 1 up to 128 units (faster there), else all cores.
      Threads: int option
      Progress: (FixedPointProgress -> unit) option }

    static member defaults =
        { TolQ = 1e-20
          TolUnique = 1e-3
          MaxAdamIterations = 100
          AdamSwitchQ = 1e-4
          InitialLearningRate = 1.0
          AdamEpsilon = 0.01
          NewtonIterations = 40
          NewtonMergeRadius = 0.0
          OutlierDistanceScale = Some 10.0
          IncludeSlowPoints = false
          SlowTolQ = 1e-6
          EigenTolerance = 1e-3
          Precision = Precision.Float64
          Threads = None
          Progress = None }

/// The outcome of a search: unique fixed points, slow points if asked, and the accounting.
type FixedPointResult =
    { FixedPoints: FixedPoint[]
      SlowPoints: FixedPoint[]
      InitialStates: int
      /// States that reached q < TolQ.
      Converged: int
      Duplicates: int
      Outliers: int
      /// States that ended above TolQ (slow points among them).
      NotConverged: int
      Elapsed: TimeSpan }

/// Initial states for the search, as plain data.
[<RequireQualifiedAccess>]
module InitialStates =
    let private gaussian (random: Random) =
        let u1 = 1.0 - random.NextDouble()
        let u2 = random.NextDouble()
        sqrt (-2.0 * log u1) * cos (2.0 * Math.PI * u2)

    /// `count` states drawn with replacement from trajectory states [samples][units], plus N(0, noise^2).
    let fromStates (count: int) (noise: float) (seed: int) (states: float[][]) : float[][] =
        Check.positive "n_init" count
        if isNull states || states.Length = 0 then Check.fail "states" "expected at least one trajectory state"
        if noise < 0.0 || Double.IsNaN noise then Check.fail "noise" (sprintf "expected a number >= 0, got %g" noise)
        let random = Random(seed)
        Array.init count (fun _ ->
            let s = states[random.Next states.Length]
            s |> Array.map (fun v -> v + noise * gaussian random))

    /// The states of a trajectory tensor [batch; time; units] as rows [batch * time][units].
    let ofTrajectories (states: Tensor) : float[][] =
        let units = int states.shape[states.shape.Length - 1]
        let flat = Arrays.ofTensor states
        Array.init (flat.Length / units) (fun i -> Array.sub flat (i * units) units)

    /// `count` states uniform in [low, high]^units.
    let uniformBox (count: int) (low: float) (high: float) (units: int) (seed: int) : float[][] =
        Check.positive "n_init" count
        Check.positive "units" units
        if not (low < high) then Check.fail "box" (sprintf "expected low < high, got [%g, %g]" low high)
        let random = Random(seed)
        Array.init count (fun _ -> Array.init units (fun _ -> low + (high - low) * random.NextDouble()))

[<RequireQualifiedAccess>]
module FixedPoints =
    /// The kind as the files and figures write it: attractor, saddle, repeller or marginal.
    let kindName (kind: FixedPointKind) =
        match kind with
        | FixedPointKind.Attractor -> "attractor"
        | FixedPointKind.Saddle -> "saddle"
        | FixedPointKind.Repeller -> "repeller"
        | FixedPointKind.Marginal -> "marginal"

    /// Classifies eigenvalues (discrete-time map): unstable modes, stable, kind.
    let classify (tolerance: float) (eigenvalues: Complex[]) =
        let moduli = eigenvalues |> Array.map (fun l -> l.Magnitude)
        let unstable = moduli |> Array.filter (fun m -> m > 1.0 + tolerance) |> Array.length
        let marginal = moduli |> Array.exists (fun m -> abs (m - 1.0) <= tolerance)
        let kind =
            if marginal then FixedPointKind.Marginal
            elif unstable = 0 then FixedPointKind.Attractor
            elif unstable = moduli.Length then FixedPointKind.Repeller
            else FixedPointKind.Saddle
        unstable, (kind = FixedPointKind.Attractor), kind

    /// Eigen-decomposition of Jacobians [k; n; n] (float64): per matrix, eigenvalues sorted by
    /// modulus descending and the matching right eigenvectors.
    let private eigen (jacobians: Tensor) : (Complex[] * Complex[][])[] =
        use _ = torch.NewDisposeScope()
        let struct (values, vectors) = torch.linalg.eig (jacobians.to_type(torch.ScalarType.Float64)) // [k; n], [k; n; n] complex
        let k, n = int jacobians.shape[0], int jacobians.shape[1]
        let re (t: Tensor) = Arrays.ofTensor (torch.real t)
        let im (t: Tensor) = Arrays.ofTensor (torch.imag t)
        let vr, vi = re values, im values
        let er, ei = re vectors, im vectors
        Array.init k (fun b ->
            let lambdas = Array.init n (fun i -> Complex(vr[b * n + i], vi[b * n + i]))
            // Column i of V is the eigenvector of lambda_i.
            let vector i = Array.init n (fun r -> Complex(er[(b * n + r) * n + i], ei[(b * n + r) * n + i]))
            let order = Array.init n id |> Array.sortBy (fun i -> -lambdas[i].Magnitude, -lambdas[i].Imaginary)
            order |> Array.map (fun i -> lambdas[i]), order |> Array.map vector)

    let private rows (t: Tensor) : float[][] =
        let cols = int t.shape[1]
        let flat = Arrays.ofTensor t
        Array.init (int t.shape[0]) (fun i -> Array.sub flat (i * cols) cols)

    /// Linearises the network at the given points (state, input): Jacobian, eigen-decomposition,
    /// stability and kind. Ids are kept.
    let analyse (tolerance: float) (net: Network) (points: FixedPoint[]) : FixedPoint[] =
        if points.Length = 0 then [||]
        else
            use _ = torch.NewDisposeScope()
            use net64 = Network.toPrecision Precision.Float64 net
            let jac = Jacobian.atStates net64 (points |> Array.map (fun p -> p.State)) (points |> Array.map (fun p -> p.Input))
            let n = net.Sizes.Units
            let jt = Arrays.toTensor Precision.Float64 [| int64 points.Length; int64 n; int64 n |] (jac |> Array.collect Array.concat)
            let decomposed = eigen jt
            let alpha = Kinds.ctrnnConfig net.Kind |> Option.map (fun c -> c.Dt / c.Tau)
            Array.mapi2
                (fun i (p: FixedPoint) (values: Complex[], vectors: Complex[][]) ->
                    let unstable, stable, kind = classify tolerance values
                    { p with
                        Jacobian = jac[i]
                        Eigenvalues = values
                        Eigenvectors = vectors
                        UnstableModes = unstable
                        Stable = stable
                        Kind = kind
                        ContinuousEigenvalues = alpha |> Option.map (fun a -> values |> Array.map (fun l -> (l - Complex.One) / a)) })
                points decomposed

    /// Keeps one point per cluster: sorted by q, a point is kept when it is farther than `tolerance`
    /// (2-norm of [state, input]) from every point kept before it. Idempotent.
    let unique (tolerance: float) (points: FixedPoint[]) : FixedPoint[] =
        let sorted = points |> Array.sortBy (fun p -> p.Q)
        let kept = ResizeArray<FixedPoint>()
        let distance (a: FixedPoint) (b: FixedPoint) =
            let mutable s = 0.0
            for i in 0 .. a.State.Length - 1 do s <- s + (a.State[i] - b.State[i]) ** 2.0
            for i in 0 .. a.Input.Length - 1 do s <- s + (a.Input[i] - b.Input[i]) ** 2.0
            sqrt s
        for p in sorted do
            if kept |> Seq.forall (fun k -> distance k p > tolerance) then kept.Add p
        kept.ToArray()

    /// FixedPointFinder's adaptive learning rate: x0.95 when the loss is worse than each of the last 5
    /// (at least 5 steps after the last change), x1/0.95 when it fell monotonically over the last 5.
    type private AdaptiveRate(initial: float) =
        let history = ResizeArray<float>()
        let mutable rate = initial
        let mutable sinceChange = 0
        member _.Rate = rate
        member _.Update(loss: float) =
            history.Add loss
            sinceChange <- sinceChange + 1
            let n = history.Count
            if n > 5 && sinceChange >= 5 then
                let last5 = [ for i in n - 6 .. n - 2 -> history[i] ]
                if last5 |> List.forall (fun l -> loss > l) then
                    rate <- max (rate * 0.95) 1e-3
                    sinceChange <- 0
                elif [ n - 6 .. n - 2 ] |> List.forall (fun i -> history[i + 1] < history[i]) then
                    rate <- rate / 0.95
                    sinceChange <- 0

    /// FixedPointFinder's adaptive gradient-norm clip: the 95th percentile of the last 128 norms.
    type private AdaptiveClip() =
        let norms = System.Collections.Generic.Queue<float>()
        member _.Clip(norm: float) =
            let value =
                if norms.Count = 0 then 1e12
                else
                    let sorted = norms |> Seq.sort |> Array.ofSeq
                    sorted[min (sorted.Length - 1) (int (0.95 * float sorted.Length))]
            norms.Enqueue norm
            if norms.Count > 128 then norms.Dequeue() |> ignore
            value

    /// Finds the fixed points of F(x) = step(x, u) from the initial states: Adam on q (all states as one
    /// batch), then Newton steps (Levenberg-Marquardt where Newton fails) with a line search, to machine
    /// precision; then outlier exclusion, uniqueness and stability. The network is unchanged.
    let find (config: FixedPointConfig) (net: Network) (input: ConstantInput) (initial: float[][]) : FixedPointResult =
        let stopwatch = Stopwatch.StartNew()
        let n = net.Sizes.Units
        if isNull initial || initial.Length = 0 then Check.fail "initial_states" "expected at least one initial state"
        Check.matrixShape "initial_states" initial.Length n initial
        Check.allFinite "initial_states" (Seq.concat initial)
        let inputs =
            match input with
            | ConstantInput.Same u ->
                if isNull u || u.Length <> net.Sizes.Inputs then
                    Check.fail "inputs" (sprintf "expected %d values (one per network input), got %d" net.Sizes.Inputs (if isNull u then 0 else u.Length))
                Array.create initial.Length u
            | ConstantInput.PerState us ->
                Check.matrixShape "inputs" initial.Length net.Sizes.Inputs us
                us
        Check.allFinite "inputs" (Seq.concat inputs)
        if not (config.TolQ > 0.0) then Check.fail "tol_q" "expected a number > 0"
        if config.TolUnique < 0.0 then Check.fail "tol_unique" "expected a number >= 0"
        let k = initial.Length
        let report phase iteration max (q: Tensor) =
            config.Progress
            |> Option.iter (fun f ->
                use _ = torch.NewDisposeScope()
                f { Phase = phase
                    Iteration = iteration
                    MaxIterations = max
                    WorstQ = q.max().ToDouble()
                    Converged = (q.lt(config.TolQ.ToScalar()).sum().ToInt64() |> int)
                    States = k })
        let previousThreads = torch.get_num_threads ()
        torch.set_num_threads (config.Threads |> Option.defaultValue (if n <= 128 then 1 else Environment.ProcessorCount))
        use _ = { new IDisposable with member _.Dispose() = torch.set_num_threads previousThreads }
        use work = Network.toPrecision config.Precision net
        use scope = torch.NewDisposeScope()
        let kind = work.Kind
        let w = Network.weights work
        let u = Arrays.matrixToTensor config.Precision inputs // [k; inputs]
        let drive = kind.InputDrive w u // [k; drive]
        let qOf (x: Tensor) (d: Tensor) = (kind.Step w x d - x).square().sum(1L) * 0.5 // [states]
        let mutable x = Arrays.matrixToTensor config.Precision initial // [k; units]
        let iterations = Array.zeroCreate<int> k
        // Phase 1: Adam with FixedPointFinder's adaptive rate and clipping.
        let rate = AdaptiveRate(config.InitialLearningRate)
        let clip = AdaptiveClip()
        let mutable m = torch.zeros_like x
        let mutable v = torch.zeros_like x
        let mutable it = 0
        let mutable adamDone = config.MaxAdamIterations <= 0
        while not adamDone do
            use step = torch.NewDisposeScope()
            let xg = x.detach().requires_grad_(true)
            let q =
                use _ = torch.enable_grad ()
                qOf xg drive // [k]
            if it % 10 = 0 then report "adam" it config.MaxAdamIterations q
            let worst = q.max().ToDouble()
            if worst < config.AdamSwitchQ then adamDone <- true
            else
                let loss = q.mean()
                let grads = torch.autograd.grad([| loss |] :> Collections.Generic.IList<Tensor>, [| xg |] :> Collections.Generic.IList<Tensor>)
                let grad = grads[0].detach() // [k; units]
                let norm = grad.norm().ToDouble()
                let limit = clip.Clip norm
                let grad = if norm > limit then grad * (limit / norm) else grad
                it <- it + 1
                let b1, b2 = 0.9, 0.999
                let mNew = m * b1 + grad * (1.0 - b1)
                let vNew = v * b2 + grad.square() * (1.0 - b2)
                let mHat = mNew / (1.0 - b1 ** float it)
                let vHat = vNew / (1.0 - b2 ** float it)
                let xNew = (x - mHat / (vHat.sqrt() + config.AdamEpsilon) * rate.Rate).detach()
                rate.Update(loss.ToDouble())
                // The previous m, v, x are replaced for good: free them now, not at the end of the search.
                let old = [ m; v; x ]
                m <- mNew.MoveToOuterDisposeScope()
                v <- vNew.MoveToOuterDisposeScope()
                x <- xNew.MoveToOuterDisposeScope()
                for t in old do t.Dispose()
                if it >= config.MaxAdamIterations then adamDone <- true
        for i in 0 .. k - 1 do iterations[i] <- it
        let merged = Array.zeroCreate<bool> k
        if config.NewtonMergeRadius > 0.0 then
            let q0 = Arrays.ofTensor (qOf x drive)
            let xs = rows x
            let r2 = config.NewtonMergeRadius * config.NewtonMergeRadius
            let kept = ResizeArray<int>()
            for i in Array.init k id |> Array.sortBy (fun i -> q0[i]) do
                let close j =
                    let mutable d = 0.0
                    for c in 0 .. n - 1 do
                        let e = xs[i][c] - xs[j][c]
                        d <- d + e * e
                    for c in 0 .. inputs[i].Length - 1 do
                        let e = inputs[i][c] - inputs[j][c]
                        d <- d + e * e
                    d <= r2
                if kept.Exists(fun j -> close j) then merged[i] <- true else kept.Add i
        // Phase 2: Newton steps on the states still above the tolerance: solve (J - I) d = -r directly,
        // falling back to a Levenberg-Marquardt step where that fails or did not lower q (see below),
        // with a backtracking line search on q over all those states at once.
        let eye = torch.eye(int64 n, dtype = config.Precision.ScalarType).unsqueeze(0L) // [1; n; n]
        let fractions = [| 1.0; 0.5; 0.25; 0.125; 0.0625; 0.03125; 0.015625; 0.0078125 |]
        let nf = int64 fractions.Length
        // States still worth a step: above the tolerance and not stalled (no fraction lowered q).
        let stalled = Array.copy merged
        let damped = Array.zeroCreate<bool> k
        let mutable newton = 0
        let mutable newtonDone = config.NewtonIterations <= 0
        while not newtonDone do
            use step = torch.NewDisposeScope()
            let qAll = qOf x drive // [k]
            report "newton" newton config.NewtonIterations qAll
            let qValues = Arrays.ofTensor qAll
            let active = [| for i in 0 .. k - 1 do if qValues[i] >= config.TolQ && not stalled[i] then yield int64 i |]
            if active.Length = 0 then newtonDone <- true
            else
                // Only the active states are linearised and solved: the batch shrinks as they converge.
                let index = torch.tensor(active, dtype = torch.ScalarType.Int64) // [a]
                let a' = int64 active.Length
                let xa = x.index_select(0L, index) // [a; units]
                let da = drive.index_select(0L, index) // [a; drive]
                let r = kind.Step w xa da - xa // [a; units]
                let q = qAll.index_select(0L, index) // [a]
                let a = Jacobian.ofStates kind w xa da - eye // [a; n; n]
                // Newton's step solves (J - I) d = -r directly. Where that fails (singular J - I) or
                // did not lower q last time, a Levenberg-Marquardt step is taken instead:
                // d = -(A'A + lambda I)^-1 A'r with lambda = ||r||^2, stable near singular points.
                let struct (direct, info) = torch.linalg.solve_ex(a, (-r).unsqueeze(2L), true, false)
                let direct = direct.squeeze(2L) // [a; units]
                let directOk = Arrays.ofTensor ((info.eq(0L.ToScalar()).logical_and(torch.isfinite(direct).all(1L))).to_type(torch.ScalarType.Float64))
                let lmRows = [| for j in 0 .. active.Length - 1 do if damped[int active[j]] || directOk[j] = 0.0 then yield int64 j |]
                let d =
                    if lmRows.Length = 0 then direct
                    else
                        let rowsIndex = torch.tensor(lmRows, dtype = torch.ScalarType.Int64)
                        let al = a.index_select(0L, rowsIndex) // [l; n; n]
                        let rl = r.index_select(0L, rowsIndex) // [l; units]
                        let alt = al.transpose(1L, 2L) // [l; n; n]
                        let lambda = (q.index_select(0L, rowsIndex) * 2.0).clamp_min(1e-24) // [l]
                        let normal = torch.bmm(alt, al) + eye * lambda.view(-1L, 1L, 1L) // [l; n; n]
                        let rhs = torch.bmm(alt, rl.unsqueeze(2L)) // [l; n; 1]
                        let dl = -(torch.linalg.solve(normal, rhs).squeeze(2L)) // [l; units]
                        torch.where(torch.isfinite(direct), direct, torch.zeros_like direct).index_copy(0L, rowsIndex, dl)
                // Every step fraction in one batch: [fractions * a; units].
                let steps = torch.cat(fractions |> Array.map (fun f -> xa + d * f), 0L)
                let qs = (qOf steps (da.repeat(nf, 1L))).view(nf, a') // [fractions; a]
                let better = qs.lt(q.unsqueeze(0L)) // [fractions; a]
                let anyBetter = better.any(0L) // [a]
                // The largest fraction that lowers q: the first true along dim 0.
                let first = better.to_type(torch.ScalarType.Int64).argmax(0L) // [a]
                let chosen = steps.view(nf, a', int64 n).gather(0L, first.view(1L, -1L, 1L).expand(1L, a', int64 n)).squeeze(0L) // [a; units]
                let xaNew = torch.where(anyBetter.unsqueeze(1L), chosen, xa) // [a; units]
                let moved = Arrays.ofTensor (anyBetter.to_type(torch.ScalarType.Float64))
                for j in 0 .. active.Length - 1 do
                    let i = int active[j]
                    if moved[j] > 0.0 then iterations[i] <- iterations[i] + 1
                    elif damped[i] then stalled[i] <- true
                    else damped[i] <- true
                x <- x.index_copy(0L, index, xaNew).MoveToOuterDisposeScope()
                newton <- newton + 1
                if newton >= config.NewtonIterations then newtonDone <- true
        let finalQ = Arrays.ofTensor (qOf x drive)
        let states = rows x
        let points =
            Array.init k (fun i ->
                { Id = -1
                  State = states[i]
                  Input = inputs[i]
                  Q = finalQ[i]
                  Speed = sqrt (2.0 * finalQ[i])
                  Iterations = iterations[i]
                  Converged = finalQ[i] < config.TolQ
                  Jacobian = [||]
                  Eigenvalues = [||]
                  Eigenvectors = [||]
                  UnstableModes = 0
                  Stable = false
                  Kind = FixedPointKind.Attractor
                  ContinuousEigenvalues = None })
        let finite (p: FixedPoint) = Double.IsFinite p.Q && p.State |> Array.forall Double.IsFinite
        let refined = points |> Array.mapi (fun i p -> i, p) |> Array.filter (fun (i, _) -> not merged[i]) |> Array.map snd
        let converged = refined |> Array.filter (fun p -> p.Converged && finite p)
        // FixedPointFinder's distance-outlier rule, relative to the initial states' spread.
        let centroid = Array.init n (fun j -> initial |> Array.averageBy (fun s -> s[j]))
        let distanceToCentroid (s: float[]) = sqrt (Array.fold2 (fun acc a b -> acc + (a - b) ** 2.0) 0.0 s centroid)
        let meanDistance = initial |> Array.averageBy distanceToCentroid
        let isOutlier (p: FixedPoint) =
            match config.OutlierDistanceScale with
            | Some scale when meanDistance > 0.0 -> distanceToCentroid p.State / meanDistance > scale
            | _ -> false
        let inliers = converged |> Array.filter (isOutlier >> not)
        let uniquePoints = unique config.TolUnique inliers
        let withIds (ps: FixedPoint[]) = ps |> Array.mapi (fun i p -> { p with Id = i })
        let analysed =
            analyse config.EigenTolerance work uniquePoints
            |> Array.sortBy (fun p -> p.UnstableModes, p.Q)
            |> withIds
        let slow =
            if config.IncludeSlowPoints then
                refined
                |> Array.filter (fun p -> not p.Converged && finite p && p.Q < config.SlowTolQ && not (isOutlier p))
                |> unique config.TolUnique
                |> analyse config.EigenTolerance work
                |> Array.sortBy (fun p -> p.Q)
                // Numbered after the fixed points, so that ids stay unique when both are shown together.
                |> Array.mapi (fun i p -> { p with Id = analysed.Length + i })
            else [||]
        { FixedPoints = analysed
          SlowPoints = slow
          InitialStates = k
          Converged = converged.Length
          Duplicates = inliers.Length - uniquePoints.Length + (merged |> Array.filter id |> Array.length)
          Outliers = converged.Length - inliers.Length
          NotConverged = refined.Length - converged.Length
          Elapsed = stopwatch.Elapsed }
