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

/// How the search reached a point (a point read from a file has no such record).
type SearchRecord =
    { /// Optimiser iterations (Adam + Newton, or deflated Newton) it took.
      Iterations: int
      /// q below the tolerance (false for slow points).
      Converged: bool
      /// Found by deflation (`FixedPointConfig.Deflation`): no initial state was carried to it.
      Deflated: bool }

/// A point's linearisation: its Jacobian and right eigenvectors. Present on points the search or
/// `FixedPoints.analyse` computed; absent on points read from a file (which stores eigenvalues only).
type Linearisation =
    { /// [state][state], J[i][j] = dF_i/dh_j.
      Jacobian: float[][]
      /// Right eigenvectors, one per eigenvalue (same order), each [state].
      Eigenvectors: Complex[][]
      /// Left eigenvectors l_i (l_i' J = lambda_i l_i'), one per eigenvalue (same order), each
      /// [state], normalised so that l_i' r_j = 1 for i = j and 0 otherwise (the rows of the inverse
      /// of the right eigenvectors' matrix; no complex conjugate). Empty when not computed.
      LeftEigenvectors: Complex[][]
      /// [state][inputs], B[i][j] = dF_i/du_j at the point: the input matrix of the linearisation
      /// x' - x* = J (x - x*) + B (u - u*). Empty when not computed.
      InputJacobian: float[][] }

/// A fixed (or slow) point, as plain data. What a point lacks is absent by type: `Search` for a
/// point read from a file, `Linearisation` until it is computed.
type FixedPoint =
    { Id: int
      /// [state]
      State: float[]
      /// [inputs]: the constant input it is a fixed point under.
      Input: float[]
      /// 0.5 ||F(x, u) - x||^2
      Q: float
      /// ||F(x, u) - x||
      Speed: float
      /// How the search reached it; None when read from a file.
      Search: SearchRecord option
      /// Sorted by modulus, descending.
      Eigenvalues: Complex[]
      /// Jacobian and eigenvectors; None when read from a file (`FixedPoints.analyse` restores them).
      Linearisation: Linearisation option
      /// Number of |lambda| > 1 + tol.
      UnstableModes: int
      Stable: bool
      Kind: FixedPointKind
      /// For a continuous-time kind (`Kind.TimeScale`): (lambda - 1) / alpha, the eigenvalues of the
      /// vector field.
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
    { /// "adam", "newton" (representatives, then any state whose chord steps failed) or "chord".
      Phase: string
      Iteration: int
      MaxIterations: int
      /// Largest q among the states the phase is working on.
      WorstQ: float
      /// States below TolQ among them.
      Converged: int
      /// The states the phase is working on.
      States: int }

/// How phase 1's Adam rate changes from iteration to iteration.
[<RequireQualifiedAccess>]
type AdamRule =
    /// FixedPointFinder's PyTorch version (the default): `ReduceLROnPlateau(mode 'min', factor,
    /// patience)` on the mean q, its relative threshold 1e-4 and no cooldown; no gradient clipping.
    | Plateau of factor: float * patience: int
    /// FixedPointFinder's TensorFlow version: x0.95 when the loss is worse than each of the last 5,
    /// x1/0.95 when it fell over the last 5, and the gradient's norm clipped to the 95th percentile of
    /// the last 128 norms. (That version's Adam epsilon is 0.01 for the mean: set `AdamEpsilon` too.)
    | AdaptiveWithClipping

/// Deflation: after the search, damped Newton steps on the residual with the points found divided
/// out (Farrell, Birkisson and Funke 2015), from starts between those points, so that points no
/// initial state was carried to are found too.
type DeflationConfig =
    { /// Rounds: each starts from the midpoints of pairs of the points known so far (under the same
      /// input); the search stops after a round that finds no new point.
      MaxRounds: int
      /// At most this many starts per round (pairs spread evenly over all of them).
      MaxStarts: int
      /// Deflated Newton iterations per round.
      Iterations: int
      /// The operator m(x) = prod_j (1 / ||x - x_j||^Power + Shift).
      Power: float
      Shift: float
      /// Also start at each new point +- this along each coordinate axis (2 n starts a point, within
      /// `MaxStarts` together with the midpoints), so that a search that found one point alone goes
      /// on from it; 0: midpoints only.
      Neighbourhood: float }

    static member defaults = { MaxRounds = 3; MaxStarts = 64; Iterations = 10; Power = 2.0; Shift = 1.0; Neighbourhood = 0.0 }

    /// For a search that must find every point from few initial states (even one): more rounds,
    /// starts and iterations, and starts around each point (radius 0.5) as well as between points.
    static member exhaustive = { MaxRounds = 30; MaxStarts = 256; Iterations = 30; Power = 2.0; Shift = 1.0; Neighbourhood = 0.5 }

/// Settings of the fixed-point search. `FixedPointConfig.defaults` is tuned for speed and exactness.
type FixedPointConfig =
    { /// Converged when q < this (float64 reaches ~1e-30 with Newton refinement).
      TolQ: float
      /// Two points are one when ||[x1, u1] - [x2, u2]|| <= this; the lower q is kept.
      TolUnique: float
      /// Phase 1: at most this many Adam iterations (FixedPointFinder's rule: `AdamRule`).
      MaxAdamIterations: int
      /// Phase 1: a state leaves Adam as soon as its q is below this (Newton finishes the work).
      AdamSwitchQ: float
      /// Adam's initial rate, for the mean of q over the initial states (FixedPointFinder's loss);
      /// None: the kind's `FixedPointLearningRate`, else FixedPointFinder's 1.0.
      InitialLearningRate: float option
      /// Adam's epsilon, for the mean of q.
      AdamEpsilon: float
      /// How the rate changes (and whether gradients are clipped).
      AdamRule: AdamRule
      /// Precision of phase 1, which only has to bring states near a fixed point (float32 is about
      /// twice as fast). With float32 here and float64 in `Precision`, the first Newton steps of
      /// phase 2 also run in float32; its last steps, phase 3 and the linearisation use `Precision`.
      AdamPrecision: Precision
      /// Phase 2: at most this many damped Newton iterations per state (float32 and float64 steps
      /// together).
      NewtonIterations: int
      /// Phase 2 linearises one state per neighbourhood of this radius (on [x, u], lowest q first);
      /// the others reuse the Jacobian of the fixed point that state converged to (phase 3). 0: every
      /// state takes its own Newton steps.
      SharedJacobianRadius: float
      /// Phase 3: at most this many steps x <- x - (J* - I)^-1 (F(x) - x) with the shared J*; a state
      /// that does not reach TolQ in them takes its own Newton steps.
      ChordIterations: int
      /// Drop points whose distance to the initial states' centroid exceeds this many times the
      /// initial states' mean distance to it (FixedPointFinder's rule); None: keep all.
      OutlierDistanceScale: float option
      /// Deflation after the search, to find points no initial state reached; None: none.
      Deflation: DeflationConfig option
      /// Interval-Newton certificates for the points found (`FixedPointResult.Certificates`); None: none.
      Certify: CertificateConfig option
      /// Report points with TolQ <= q < SlowTolQ apart, as slow points. For a kind with a
      /// `FixedPointResidual`, Adam then descends q of the map itself (whose minima slow points are)
      /// rather than the residual's, which can change which fixed points the states reach.
      IncludeSlowPoints: bool
      SlowTolQ: float
      /// |lambda| within this of 1 is marginal.
      EigenTolerance: float
      Precision: Precision
      /// libtorch threads during the search, and at most this many eigen-decompositions at once; None:
      /// 1 libtorch thread, and the eigen-decompositions on the cores it leaves free.
      Threads: int option
      Progress: (FixedPointProgress -> unit) option }

    static member defaults =
        { TolQ = 1e-20
          TolUnique = 1e-3
          MaxAdamIterations = 200
          AdamSwitchQ = 1e-6
          InitialLearningRate = None
          AdamEpsilon = 1e-8
          AdamRule = AdamRule.Plateau(0.95, 2)
          AdamPrecision = Precision.Float32
          NewtonIterations = 40
          SharedJacobianRadius = 0.1
          ChordIterations = 8
          OutlierDistanceScale = Some 10.0
          Deflation = Some DeflationConfig.defaults
          Certify = None
          IncludeSlowPoints = false
          SlowTolQ = 1e-6
          EigenTolerance = 1e-3
          Precision = Precision.Float64
          Threads = None
          Progress = None }

/// Where a search spent its time.
type SearchTimings =
    { /// Phase 1 (and the set-up before it).
      Adam: TimeSpan
      /// Phases 2 and 3: Newton and chord steps, and the slow points' Newton steps.
      Newton: TimeSpan
      /// Outlier exclusion and uniqueness.
      Uniqueness: TimeSpan
      /// Phase 4.
      Deflation: TimeSpan
      /// Jacobians and eigen-decompositions of the points (and slow points).
      Linearisation: TimeSpan
      /// Certificates (`FixedPointConfig.Certify`).
      Certificates: TimeSpan }

/// The outcome of a search: unique fixed points, slow points if asked, and the accounting.
type FixedPointResult =
    { FixedPoints: FixedPoint[]
      SlowPoints: FixedPoint[]
      InitialStates: int
      /// States that reached q < TolQ.
      Converged: int
      /// Points found by deflation (`FixedPointConfig.Deflation`), among `FixedPoints`.
      Deflated: int
      /// [initial states]: the `Id` of the fixed point each initial state converged to (the nearest
      /// within `TolUnique`), or -1 for a state that did not converge or was an outlier.
      PointOfState: int[]
      Duplicates: int
      Outliers: int
      /// States that ended above TolQ (slow points among them).
      NotConverged: int
      Elapsed: TimeSpan
      Timings: SearchTimings
      /// One per fixed point, in the order of `FixedPoints`, when `FixedPointConfig.Certify` asks;
      /// empty otherwise.
      Certificates: Certificate[] }

/// Initial states for the search, as plain data.
[<RequireQualifiedAccess>]
module InitialStates =
    /// `count` states drawn with replacement from trajectory states [samples][units], plus N(0, noise^2).
    let fromStates (count: int) (noise: float) (seed: int) (states: float[][]) : float[][] =
        Check.positive "n_init" count
        if isNull states || states.Length = 0 then Check.fail "states" "expected at least one trajectory state"
        if noise < 0.0 || Double.IsNaN noise then Check.fail "noise" (sprintf "expected a number >= 0, got %g" noise)
        if states |> Array.exists isNull then Check.fail "states" "expected trajectory states, found a null row"
        let width = states[0].Length
        Memory.require (sprintf "%d initial states" count) (float count * (float width * 8.0 + 32.0))
        let random = Random(seed)
        Array.init count (fun _ ->
            let s = states[random.Next states.Length]
            s |> Array.map (fun v -> v + noise * Sampling.standardNormal random))

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
        Memory.require (sprintf "%d initial states" count) (float count * (float units * 8.0 + 32.0))
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

    /// The real unit directions of the first `count` modes (eigenvalues sorted as `FixedPoint`
    /// sorts them, eigenvectors in the same order), for the topology's unstable-mode runs and the
    /// state-space figure alike: the normalised real part of each right eigenvector, except for the
    /// second eigenvalue of a complex-conjugate pair (negative imaginary part), which takes the
    /// imaginary part, so that a pair spans its invariant plane instead of giving one direction twice.
    /// A vector whose chosen part vanishes uses the other part; a zero or non-finite vector gives an
    /// empty direction. Modes beyond the eigenvectors given are left out.
    let directions (count: int) (eigenvalues: Complex[]) (eigenvectors: Complex[][]) : float[][] =
        let norm (v: float[]) = sqrt (Array.sumBy (fun x -> x * x) v)
        let available = min count (min (Array.length eigenvalues) (Array.length eigenvectors))
        Array.init (max 0 available) (fun i ->
            let v = if isNull eigenvectors[i] then [||] else eigenvectors[i]
            let re = v |> Array.map (fun c -> c.Real)
            let im = v |> Array.map (fun c -> c.Imaginary)
            let first, second = if eigenvalues[i].Imaginary < 0.0 then im, re else re, im
            let chosen = if norm first > 0.0 then first else second
            let length = norm chosen
            if length > 0.0 && not (Double.IsInfinity length) && not (Double.IsNaN length) then chosen |> Array.map (fun x -> x / length)
            else [||])

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
    /// modulus descending and the matching right eigenvectors. LAPACK solves one matrix at a time, so
    /// the matrices are shared out over `workers` threads (each with its own dispose scope).
    let private eigen (workers: int) (jacobians: Tensor) : (Complex[] * Complex[][] * Complex[][])[] =
        let k, n = int jacobians.shape[0], int jacobians.shape[1]
        let decompose (first: int, count: int) =
            use _ = torch.NewDisposeScope()
            let block = jacobians.narrow(0L, int64 first, int64 count).to_type(torch.ScalarType.Float64) // [count; n; n]
            let struct (values, vectors) = torch.linalg.eig block // [count; n], [count; n; n] complex
            let re (t: Tensor) = Arrays.ofTensor (torch.real t)
            let im (t: Tensor) = Arrays.ofTensor (torch.imag t)
            let vr, vi = re values, im values
            let er, ei = re vectors, im vectors
            // Left eigenvectors: the rows of V^-1 (l_i' r_j = delta_ij). A defective (singular) V
            // has no such basis: its pseudo-inverse gives the nearest rows. One matrix at a time:
            // libtorch 2.10's batched LU with more than one thread never returns here (see `solveEx`).
            let inverse =
                torch.cat(
                    Array.init count (fun b ->
                        let v = vectors.narrow(0L, int64 b, 1L) // [1; n; n] complex
                        try torch.linalg.inv v with _ -> torch.linalg.pinv v),
                    0L) // [count; n; n] complex
            let lr, li = re inverse, im inverse
            Array.init count (fun b ->
                let lambdas = Array.init n (fun i -> Complex(vr[b * n + i], vi[b * n + i]))
                // Column i of V is the eigenvector of lambda_i.
                let vector i = Array.init n (fun r -> Complex(er[(b * n + r) * n + i], ei[(b * n + r) * n + i]))
                let order = Array.init n id |> Array.sortBy (fun i -> -lambdas[i].Magnitude, -lambdas[i].Imaginary)
                // Row i of V^-1 is the left eigenvector of lambda_i.
                let left i = Array.init n (fun c -> Complex(lr[(b * n + i) * n + c], li[(b * n + i) * n + c]))
                order |> Array.map (fun i -> lambdas[i]), order |> Array.map vector, order |> Array.map left)
        let workers = max 1 (min k workers)
        if k = 0 then [||]
        elif workers = 1 then decompose (0, k)
        else
            let chunks = Array.init workers (fun c -> let a = c * k / workers in a, (c + 1) * k / workers - a)
            try
                chunks |> Array.Parallel.map decompose |> Array.concat
            with :? AggregateException as e when e.InnerExceptions.Count > 0 ->
                // The caller sees the worker's own exception, as it would without the workers.
                Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw()
                [||]

    /// Threads for the eigen-decompositions: the cores libtorch's own threads leave free.
    let private eigenWorkers () = max 1 (Environment.ProcessorCount / max 1 (torch.get_num_threads ()))

    let private rows (t: Tensor) : float[][] =
        let cols = int t.shape[1]
        let flat = Arrays.ofTensor t
        Array.init (int t.shape[0]) (fun i -> Array.sub flat (i * cols) cols)

    /// `analyse` with the eigen-decompositions spread over `workers` threads.
    /// Rows per batch of [n; n] matrices, so that a batch's Jacobians and their solves (about 6
    /// matrices of n^2 float64 values per row) stay near 256 MB whatever n: the search's memory is
    /// then bounded by its states, not by states x n^2.
    let matrixRows (n: int64) = max 1 (int (256e6 / (6.0 * 8.0 * float n * float n)))

    let rec private analyseWith (workers: int) (tolerance: float) (net: Network) (points: FixedPoint[]) : FixedPoint[] =
        let rowsPerBatch = matrixRows (int64 (Network.stateSize net))
        if points.Length = 0 then [||]
        elif points.Length > rowsPerBatch then
            points |> Array.chunkBySize rowsPerBatch |> Array.collect (analyseWith workers tolerance net)
        else
            use _ = torch.NewDisposeScope()
            use net64 = Network.toPrecision Precision.Float64 net
            let jac = Jacobian.atStates net64 (points |> Array.map (fun p -> p.State)) (points |> Array.map (fun p -> p.Input))
            let n = Network.stateSize net
            let jt = Arrays.toTensor Precision.Float64 [| int64 points.Length; int64 n; int64 n |] (jac |> Array.collect Array.concat)
            let decomposed = eigen workers jt
            let inputJac = Jacobian.inputAtStates net64 (points |> Array.map (fun p -> p.State)) (points |> Array.map (fun p -> p.Input))
            let alpha = net.Kind.TimeScale
            Array.mapi2
                (fun i (p: FixedPoint) (values: Complex[], vectors: Complex[][], left: Complex[][]) ->
                    let unstable, stable, kind = classify tolerance values
                    { p with
                        Linearisation = Some { Jacobian = jac[i]; Eigenvectors = vectors; LeftEigenvectors = left; InputJacobian = inputJac[i] }
                        Eigenvalues = values
                        UnstableModes = unstable
                        Stable = stable
                        Kind = kind
                        ContinuousEigenvalues = alpha |> Option.map (fun a -> values |> Array.map (fun l -> (l - Complex.One) / a)) })
                points decomposed

    /// Linearises the network at the given points (state, input): Jacobian, eigen-decomposition,
    /// stability and kind. Ids are kept. The eigen-decompositions use the cores that libtorch's
    /// thread setting leaves free.
    let analyse (tolerance: float) (net: Network) (points: FixedPoint[]) : FixedPoint[] =
        analyseWith (eigenWorkers ()) tolerance net points

    /// Keeps one point per cluster: sorted by q, a point is kept when it is farther than `tolerance`
    /// (2-norm of [state, input]) from every point kept before it. Idempotent.
    let unique (tolerance: float) (points: FixedPoint[]) : FixedPoint[] =
        let sorted = points |> Array.sortBy (fun p -> p.Q)
        let kept = ResizeArray<FixedPoint>()
        let t2 = tolerance * tolerance
        // Partial sums stop as soon as the distance exceeds the tolerance.
        let farFrom (p: FixedPoint) (k: FixedPoint) =
            let mutable s = 0.0
            let mutable i = 0
            while s <= t2 && i < p.State.Length do
                let e = p.State[i] - k.State[i]
                s <- s + e * e
                i <- i + 1
            i <- 0
            while s <= t2 && i < p.Input.Length do
                let e = p.Input[i] - k.Input[i]
                s <- s + e * e
                i <- i + 1
            s > t2
        for p in sorted do
            if kept.TrueForAll(fun k -> farFrom p k) then kept.Add p
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

    /// torch.optim.lr_scheduler.ReduceLROnPlateau(mode 'min', factor, patience, threshold 1e-4
    /// relative, cooldown 0, eps 1e-8), as FixedPointFinder's PyTorch version steps it on the mean q.
    type private PlateauRate(initial: float, factor: float, patience: int) =
        let mutable rate = initial
        let mutable best = infinity
        let mutable bad = 0
        member _.Rate = rate
        member _.Update(loss: float) =
            if loss < best * (1.0 - 1e-4) then
                best <- loss
                bad <- 0
            else bad <- bad + 1
            if bad > patience then
                let next = rate * factor
                // PyTorch ignores a change smaller than its eps.
                if rate - next > 1e-8 then rate <- next
                bad <- 0

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

    /// `torch.linalg.solve_ex` over a batch a [k; n; n], b [k; n; m] -> x [k; n; m], info [k].
    /// libtorch 2.10's batched LU with more than one thread fails here from about 160 rows (MKL's
    /// ?laswp reports a bad parameter and the call never returns), while a batch of one does not:
    /// with several threads each matrix is solved on its own, which costs little at those sizes.
    let private solveEx (a: Tensor) (b: Tensor) : Tensor * Tensor =
        if torch.get_num_threads () > 1 && a.shape[0] > 1L then
            let parts =
                [| for i in 0L .. a.shape[0] - 1L ->
                       let struct (x, info) = torch.linalg.solve_ex(a.narrow(0L, i, 1L), b.narrow(0L, i, 1L), true, false)
                       x, info |]
            torch.cat(parts |> Array.map fst, 0L), torch.cat(parts |> Array.map snd, 0L)
        else
            let struct (x, info) = torch.linalg.solve_ex(a, b, true, false)
            x, info

    /// Where the low-precision Newton steps hand over to full precision (float32 resolves q to about
    /// 1e-12 on states of order 1).
    [<Literal>]
    let private CoarseNewtonTolQ = 1e-9

    let private indexTensor (rows: int[]) = torch.tensor(rows |> Array.map int64, dtype = torch.ScalarType.Int64)

    let private qOf (kind: Kind) (w: Weights) (x: Tensor) (drive: Tensor) = (kind.Step w x drive - x).squared().sum(1L) * 0.5 // [states]

    /// The equations the search solves for x: F(x) - x, or the kind's better-scaled
    /// `FixedPointResidual` (the same zeros), with their Jacobian. `solvedQ` is |residual|^2 / 2; the
    /// points report q of F itself.
    type private Equations =
        { /// x [k; n], drive [k; drive] -> [k; n]
          Residual: Tensor -> Tensor -> Tensor
          /// x [k; n], drive [k; drive] -> d residual / dx [k; n; n]
          Jacobian: Tensor -> Tensor -> Tensor
          /// x, drive, v [k; n] -> v' d residual / dx [k; n], when known in closed form.
          VectorJacobian: (Tensor -> Tensor -> Tensor -> Tensor) option }

    /// F(x) - x itself.
    let private mapEquations (kind: Kind) (w: Weights) : Equations =
        { Residual = fun x drive -> kind.Step w x drive - x
          Jacobian = fun x drive -> Jacobian.ofStates kind w x drive - torch.eye(x.shape[1], dtype = x.dtype).unsqueeze(0L)
          VectorJacobian = None }

    let private equationsOf (kind: Kind) (w: Weights) : Equations =
        match Kind.fixedPointResidual kind with
        | Some r ->
            { Residual = r.Residual w
              Jacobian =
                match r.Jacobian with
                | Some j -> j w
                | None -> fun x drive -> Jacobian.autogradOf (fun y -> r.Residual w y drive) x
              VectorJacobian = r.VectorJacobian |> Option.map (fun f -> f w) }
        | None -> mapEquations kind w

    let private solvedQ (eq: Equations) (x: Tensor) (drive: Tensor) = (eq.Residual x drive).squared().sum(1L) * 0.5 // [states]

    /// The hand-written rnn or ctrnn recurrence and its W_rec: these have a closed-form speed
    /// gradient; the gated ones go through autograd.
    let private vanillaRecurrence (net: Network) (w: Weights) : (FusedRecurrence * Tensor) option =
        match Network.handWritten net w with
        | Some ((FusedRecurrence.Rnn | FusedRecurrence.Ctrnn _) as r, wRec, _) -> Some(r, wRec)
        | _ -> None

    /// `speedGradient` with the kind's closed form already looked up.
    let private speedGradientWith (recurrence: (FusedRecurrence * Tensor) option) (residual: Tensor -> Tensor -> Tensor) (vectorJacobian: (Tensor -> Tensor -> Tensor -> Tensor) option) (x: Tensor) (drive: Tensor) : Tensor * Tensor =
        match recurrence with
        | Some (recurrence, wRec) ->
            use _ = torch.no_grad ()
            let wRec = wRec.detach () // [units; units]
            let wT = wRec.t().contiguous() // [units; units]
            let tanhOf (pre: Tensor) = Recurrence.twiceMinusOne (pre.sigmoid_()) // pre holds 2a; in place
            use half = 0.5.ToScalar()
            match recurrence with
            | FusedRecurrence.Rnn ->
                // F = tanh(x W' + d), J = diag(1 - F^2) W: (J - I)' r = (r (1 - F^2)) W - r.
                let f = tanhOf (torch.addmm(drive, x, wT, 2.0f, 2.0f)) // [states; units]
                let slope = Recurrence.oneMinusSquare f // [states; units]
                let r = f.sub_ x // [states; units], in place: f is not needed any more
                (r.squared().sum(1L).mul_(half)), torch.addmm(r, slope.mul_ r, wRec, -1.0f, 1.0f)
            | FusedRecurrence.Ctrnn alpha ->
                // F = x + alpha (tanh(x) W' + d - x), J - I = alpha (W diag(1 - tanh(x)^2) - I):
                // (J - I)' r = alpha ((1 - tanh(x)^2) (r W) - r).
                let t = tanhOf (x * 2.0) // [states; units]
                let r = (torch.addmm(drive, t, wT, 1.0f, 1.0f) - x) * alpha // [states; units]
                let slope = Recurrence.oneMinusSquare t // [states; units]
                use alphaScalar = alpha.ToScalar()
                (r.squared().sum(1L).mul_(half)), ((r.mm wRec).mul_(slope).sub_(r).mul_(alphaScalar))
            | FusedRecurrence.Gru
            | FusedRecurrence.Lstm -> invalidArg "recurrence" "no closed-form speed gradient for a gated recurrence (vanillaRecurrence gives None)"
        | None when vectorJacobian.IsSome ->
            use _ = torch.no_grad ()
            let r = residual x drive // [states; units]
            (r.squared().sum(1L) * 0.5), vectorJacobian.Value x drive r
        | None ->
            let xg = x.detach().requires_grad_(true)
            let q =
                use _ = torch.enable_grad ()
                (residual xg drive).squared().sum(1L) * 0.5 // [states]
            let grads = torch.autograd.grad([| q.sum () |] :> Collections.Generic.IList<Tensor>, [| xg |] :> Collections.Generic.IList<Tensor>)
            q.detach (), grads[0].detach ()

    /// q = 0.5 ||F(x) - x||^2 per state [states] and its gradient with respect to x, (J - I)' r
    /// [states; units], for states x [states; units] under drive [states; drive] with weights w:
    /// closed form for a kind with a hand-written recurrence (`Kind.HandWritten`: a few ops, tanh as
    /// 2 sigmoid(2x) - 1), autograd through the kind's Step otherwise. w: the network's effective
    /// weights. Opens no scope; the result holds no graph.
    let speedGradient (net: Network) (w: Weights) (x: Tensor) (drive: Tensor) : Tensor * Tensor =
        speedGradientWith (vanillaRecurrence net w) (fun x drive -> net.Kind.Step w x drive - x) None x drive

    /// Phase 1: Adam on the mean of q over the initial states, as FixedPointFinder's, with its rate
    /// rule (`AdamRule`). A state leaves as soon as its q is below `AdamSwitchQ` (or is not finite), so
    /// the batch shrinks as states arrive; a state that left keeps counting in the mean with the q it
    /// left with. x0 [k; units], drive [k; drive] -> where each state left [k; units] (x0's precision).
    /// Sets `iterations[i]` to the Adam steps state i took.
    let private adam (config: FixedPointConfig) (net: Network) (w: Weights) report (x0: Tensor) (drive0: Tensor) (iterations: int[]) : Tensor =
        let k = int x0.shape[0]
        let result = x0.clone () // rows are overwritten as their states leave
        let initialRate =
            config.InitialLearningRate
            |> Option.orElse net.Kind.FixedPointLearningRate
            |> Option.defaultValue 1.0
        // The rule's rate and whether it clips, behind one pair of functions.
        let rate, update, clips =
            match config.AdamRule with
            | AdamRule.Plateau (factor, patience) ->
                let p = PlateauRate(initialRate, factor, patience)
                (fun () -> p.Rate), p.Update, false
            | AdamRule.AdaptiveWithClipping ->
                let a = AdaptiveRate(initialRate)
                (fun () -> a.Rate), a.Update, true
        let clip = AdaptiveClip()
        let b1, b2 = 0.9, 0.999
        let mutable ids = Array.init k id // row of the working tensors -> state
        // The working tensors belong to this function: updated in place, compacted when states leave.
        let mutable x = x0.clone () // [active; units]
        let mutable drive = drive0.clone () // [active; drive]
        let mutable m = torch.zeros_like x // [active; units]
        let mutable v = torch.zeros_like x // [active; units]
        let mutable it = 0
        let mutable finished = false
        // With slow points asked for, Adam descends q of the map itself, whose local minima they are
        // (a kind's residual has other minima, or none, where the map has a ghost); Newton's steps then
        // solve the residual from there.
        let onMap = config.IncludeSlowPoints || (Kind.fixedPointResidual net.Kind).IsNone
        let eq = if onMap then mapEquations net.Kind w else equationsOf net.Kind w
        // Once: the closed-form gradient of q, when the kind has one and Adam descends q of F.
        let recurrence = if onMap then vanillaRecurrence net w else None
        let mutable departed = 0.0
        use oneMinusB1 = (1.0 - b1).ToScalar()
        use oneMinusB2 = (1.0 - b2).ToScalar()
        use b1Scalar = b1.ToScalar()
        use b2Scalar = b2.ToScalar()
        // The gradient below is of the sum of q; Adam's step is invariant to the loss's scale but for
        // epsilon, so epsilon for the mean over k states is k times epsilon for the sum.
        use epsilon = (config.AdamEpsilon * float k).ToScalar()
        while not finished do
            use _ = torch.NewDisposeScope()
            let q, gradient = speedGradientWith recurrence eq.Residual eq.VectorJacobian x drive // [active], [active; units]
            let qv = Arrays.ofTensor q
            if it % 10 = 0 then report "adam" it config.MaxAdamIterations q
            let stays j = qv[j] >= config.AdamSwitchQ && Double.IsFinite qv[j]
            let staying = [| for j in 0 .. ids.Length - 1 do if stays j then yield j |]
            let done' = if it >= config.MaxAdamIterations then Array.init ids.Length id else [| for j in 0 .. ids.Length - 1 do if not (stays j) then yield j |]
            if done'.Length > 0 then
                result.index_copy_(0L, indexTensor (done' |> Array.map (fun j -> ids[j])), x.index_select(0L, indexTensor done')) |> ignore
                for j in done' do iterations[ids[j]] <- it
            if done'.Length = ids.Length then finished <- true
            else
                let grad =
                    if done'.Length = 0 then gradient
                    else
                        let keep = indexTensor staying
                        let compact (t: Tensor) =
                            let rows = t.index_select(0L, keep).MoveToOuterDisposeScope()
                            t.Dispose()
                            rows
                        x <- compact x
                        m <- compact m
                        v <- compact v
                        drive <- compact drive
                        gradient.index_select(0L, keep) // [staying; units]
                if clips then
                    let norm = grad.norm().ToDouble()
                    let limit = clip.Clip norm
                    if norm > limit then
                        use scale = (limit / norm).ToScalar()
                        grad.mul_(scale) |> ignore
                it <- it + 1
                m.mul_(b1Scalar).add_(grad, oneMinusB1) |> ignore
                v.mul_(b2Scalar).addcmul_(grad, grad, oneMinusB2) |> ignore
                // x -= rate m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps), in place.
                use correction2 = (sqrt (1.0 - b2 ** float it)).ToScalar()
                use stepScale = (-(rate ()) / (1.0 - b1 ** float it)).ToScalar()
                let denominator = v.sqrt().div_(correction2).add_(epsilon) // [staying; units]
                x.addcdiv_(m, denominator, stepScale) |> ignore
                // The rate rule watches the mean of q over all states, those that left counting with
                // the q they left with: leaving is not progress.
                departed <- departed + (done' |> Array.sumBy (fun j -> if Double.IsFinite qv[j] then qv[j] else 0.0))
                update ((departed + (staying |> Array.sumBy (fun j -> qv[j]))) / float k)
                ids <- staying |> Array.map (fun j -> ids[j])
        for t in [ m; v; x; drive ] do t.Dispose()
        result

    /// Phase 2 (and the fallback of phase 3): Newton steps on the rows of x0 [k; units] under drive
    /// [k; drive]: solve (J - I) d = -r directly, or take a Levenberg-Marquardt step where that fails or
    /// did not lower q, with a backtracking line search on q; until q < TolQ, stalled, or
    /// `NewtonIterations`. Adds the steps that moved row j to `steps[j]`. Returns the new rows and the
    /// iterations taken.
    let private newton (config: FixedPointConfig) (eq: Equations) report (x0: Tensor) (drive: Tensor) (steps: int[]) : Tensor * int =
        let k = int x0.shape[0]
        let n = x0.shape[1]
        let eye = torch.eye(n, dtype = x0.dtype).unsqueeze(0L) // [1; n; n]
        let fractions = [| 1.0; 0.5; 0.25; 0.125; 0.0625; 0.03125; 0.015625; 0.0078125 |]
        let nf = int64 fractions.Length
        // Rows still worth a step: above the tolerance and not stalled (no fraction lowered q).
        let stalled = Array.zeroCreate<bool> k
        let damped = Array.zeroCreate<bool> k
        let mutable x = x0.clone ()
        let mutable iteration = 0
        let mutable finished = config.NewtonIterations <= 0
        while not finished do
            use _ = torch.NewDisposeScope()
            let qAll = solvedQ eq x drive // [k]
            report "newton" iteration config.NewtonIterations qAll
            let qValues = Arrays.ofTensor qAll
            let active = [| for i in 0 .. k - 1 do if qValues[i] >= config.TolQ && not stalled[i] then yield i |]
            if active.Length = 0 then finished <- true
            else
                // Only the active rows are linearised and solved (the batch shrinks as they converge),
                // `matrixRows` at a time so that their Jacobians stay within a bounded memory.
                let stepRows (active: int[]) =
                  use _ = torch.NewDisposeScope()
                  let index = indexTensor active // [a]
                  let a' = int64 active.Length
                  let xa = x.index_select(0L, index) // [a; units]
                  let da = drive.index_select(0L, index) // [a; drive]
                  let r = eq.Residual xa da // [a; units]
                  let q = qAll.index_select(0L, index) // [a]
                  let a = eq.Jacobian xa da // [a; n; n]
                  // Newton's step solves (J - I) d = -r directly. Where that fails (singular J - I) or
                  // did not lower q last time, a Levenberg-Marquardt step is taken instead:
                  // d = -(A'A + lambda I)^-1 A'r with lambda = ||r||^2, stable near singular points.
                  let direct, info = solveEx a ((-r).unsqueeze(2L))
                  let direct = direct.squeeze(2L) // [a; units]
                  let directOk = Arrays.ofTensor ((info.eq(0L.ToScalar()).logical_and(torch.isfinite(direct).all(1L))).to_type(torch.ScalarType.Float64))
                  let lmRows = [| for j in 0 .. active.Length - 1 do if damped[active[j]] || directOk[j] = 0.0 then yield j |]
                  let d =
                      if lmRows.Length = 0 then direct
                      else
                          let rowsIndex = indexTensor lmRows
                          let al = a.index_select(0L, rowsIndex) // [l; n; n]
                          let rl = r.index_select(0L, rowsIndex) // [l; units]
                          let alt = al.transpose(1L, 2L) // [l; n; n]
                          let lambda = (q.index_select(0L, rowsIndex) * 2.0).clamp_min(1e-24) // [l]
                          let normal = torch.bmm(alt, al) + eye * lambda.view(-1L, 1L, 1L) // [l; n; n]
                          let rhs = torch.bmm(alt, rl.unsqueeze(2L)) // [l; n; 1]
                          let dl = -((fst (solveEx normal rhs)).squeeze(2L)) // [l; units]
                          torch.where(torch.isfinite(direct), direct, torch.zeros_like direct).index_copy(0L, rowsIndex, dl)
                  // Every step fraction in one batch: [fractions * a; units].
                  let candidates = torch.cat(fractions |> Array.map (fun f -> xa + d * f), 0L)
                  let qs = (solvedQ eq candidates (da.repeat(nf, 1L))).view(nf, a') // [fractions; a]
                  let better = qs.lt(q.unsqueeze(0L)) // [fractions; a]
                  let anyBetter = better.any(0L) // [a]
                  // The largest fraction that lowers q: the first true along dim 0.
                  let first = better.to_type(torch.ScalarType.Int64).argmax(0L) // [a]
                  let chosen = candidates.view(nf, a', n).gather(0L, first.view(1L, -1L, 1L).expand(1L, a', n)).squeeze(0L) // [a; units]
                  let xaNew = torch.where(anyBetter.unsqueeze(1L), chosen, xa) // [a; units]
                  let moved = Arrays.ofTensor (anyBetter.to_type(torch.ScalarType.Float64))
                  index.MoveToOuterDisposeScope(), xaNew.MoveToOuterDisposeScope(), moved
                // One copy of x per iteration, its rows overwritten chunk by chunk.
                let next = x.clone () // [k; units]
                for rows in active |> Array.chunkBySize (matrixRows n) do
                    let index, xaNew, moved = stepRows rows
                    for j in 0 .. rows.Length - 1 do
                        let i = rows[j]
                        if moved[j] > 0.0 then steps[i] <- steps[i] + 1
                        elif damped[i] then stalled[i] <- true
                        else damped[i] <- true
                    // Every chunk reads the iteration's x and writes its own rows of the next one.
                    next.index_copy_(0L, index, xaNew) |> ignore
                let old = x
                x <- next.MoveToOuterDisposeScope()
                old.Dispose()
                iteration <- iteration + 1
                if iteration >= config.NewtonIterations then finished <- true
        x, iteration

    /// Phase 3: chord steps x <- x - (J* - I)^-1 (F(x) - x), where J* is the Jacobian at the fixed
    /// point the state's neighbourhood converged to (one inverse per point, shared by its members).
    /// groups: (row of `points`, member rows of x0) pairs. Returns the new member rows, in the order of
    /// the groups, and the steps each took.
    let private chord (config: FixedPointConfig) (eq: Equations) report (points: Tensor) (pointDrive: Tensor) (allGroups: (int * int[])[]) (x0: Tensor) (drive: Tensor) =
        let n = x0.shape[1]
        let eye = torch.eye(n, dtype = x0.dtype).unsqueeze(0L) // [1; n; n]
        let allPoints = indexTensor (allGroups |> Array.map fst)
        let a = eq.Jacobian (points.index_select(0L, allPoints)) (pointDrive.index_select(0L, allPoints)) // [g; n; n]
        let allInverses, info = solveEx a (eye.expand(a.shape).contiguous()) // [g; n; n]
        // A singular J* - I (a marginal point) has no usable inverse: its members take Newton steps.
        let usable = Arrays.ofTensor (info.eq(0L.ToScalar()).logical_and(torch.isfinite(allInverses).flatten(1L).all(1L)).to_type(torch.ScalarType.Float64))
        let kept = [| for g in 0 .. allGroups.Length - 1 do if usable[g] > 0.0 then yield g |]
        let unusable = [| for g in 0 .. allGroups.Length - 1 do if usable[g] = 0.0 then yield! snd allGroups[g] |]
        let groups = kept |> Array.map (fun g -> allGroups[g])
        let inverse = allInverses.index_select(0L, indexTensor kept) // [kept; n; n]
        let members = groups |> Array.collect snd
        let memberIndex = indexTensor members
        let count = members.Length
        // Rows act on row vectors: d = r (A^-1)'.
        let inverseT = inverse.transpose(1L, 2L).contiguous() // [g; n; n]
        let starts = groups |> Array.scan (fun s (_, rows) -> s + int64 rows.Length) 0L
        let dm = drive.index_select(0L, memberIndex) // [m; drive]
        let mutable x = x0.index_select(0L, memberIndex) // [m; units]
        let steps = Array.zeroCreate<int> count
        let mutable iteration = 0
        let mutable finished = config.ChordIterations <= 0 || count = 0
        while not finished do
            use _ = torch.NewDisposeScope()
            let r = eq.Residual x dm // [m; units]
            let q = r.squared().sum(1L) * 0.5 // [m]
            report "chord" iteration config.ChordIterations q
            let qValues = Arrays.ofTensor q
            if qValues |> Array.forall (fun v -> v < config.TolQ) || iteration >= config.ChordIterations then finished <- true
            else
                let d = torch.empty_like r // [m; units]
                for g in 0 .. groups.Length - 1 do
                    let length = starts[g + 1] - starts[g]
                    d.narrow(0L, starts[g], length).copy_(torch.mm(r.narrow(0L, starts[g], length), inverseT[g])) |> ignore
                for j in 0 .. count - 1 do
                    if not (qValues[j] < config.TolQ) then steps[j] <- steps[j] + 1
                let old = x
                x <- (x - d).MoveToOuterDisposeScope()
                old.Dispose()
                iteration <- iteration + 1
        members, x, steps, unusable

    /// ln m(x) [b] and its gradient [b; n] for states x [b; n], where m(x) = prod_j (1 / ||x - x_j||^p +
    /// shift) over known points [p; n]. Distances by |x|^2 + |x_j|^2 - 2 x . x_j, so that no [b; p; n]
    /// tensor is formed (in float64 that resolves distances down to about 1e-8 |x|, far below
    /// `TolUnique`).
    let private deflationLog (d: DeflationConfig) (known: Tensor) (x: Tensor) : Tensor * Tensor =
        use exponent = (-d.Power / 2.0).ToScalar()
        use floor = (if x.dtype = torch.ScalarType.Float32 then 1e-30 else 1e-300).ToScalar()
        let d2 = (x.squared().sum(1L, keepdim = true) + known.squared().sum(1L).unsqueeze(0L) - torch.mm(x, known.t()) * 2.0).clamp_min(floor) // [b; p]
        let inverse = d2.pow(exponent) // [b; p]
        let term: Tensor = inverse + d.Shift // [b; p]
        // d/dx ln(||x - x_j||^-p + shift) = -p ||x - x_j||^(-p-2) (x - x_j) / term_j
        let coefficient = inverse / d2 / term * (-d.Power) // [b; p]
        term.log().sum(1L), x * coefficient.sum(1L, keepdim = true) - torch.mm(coefficient, known) // [b], [b; n]

    /// The deflated Newton step at states x [b; n] from their Newton steps on R, newton [b; n]
    /// (J_R d = -R): the Newton step of G = m R, which by Sherman-Morrison on J_G = m J_R + R grad(m)'
    /// is d / (1 - grad(ln m) . d). Where that is not finite (or divides by almost 0), the Newton step
    /// itself. known: the points divided out [p; n].
    let deflatedStep (d: DeflationConfig) (known: Tensor) (x: Tensor) (newton: Tensor) : Tensor =
        use tiny = 1e-12.ToScalar()
        let _, gradient = deflationLog d known x // [b; n]
        let denominator = 1.0 - (gradient * newton).sum(1L, keepdim = true) // [b; 1]
        let deflated = newton / denominator // [b; n]
        torch.where(torch.isfinite(deflated).all(1L, keepdim = true).logical_and(denominator.abs().gt(tiny)), deflated, newton) // [b; n]

    /// Deflated Newton: damped Newton steps on G(x) = m(x) R(x), where R is the search's residual and
    /// m(x) = prod_j (1 / ||x - x_j||^p + shift) divides out the known points x_j (known [p; n]), from
    /// starts [s; n] under drive [s; drive]. The step is Newton's on R scaled by 1 / (1 - grad(ln m) . d)
    /// (Sherman-Morrison on G's Jacobian), with a line search on m^2 q. Returns the states [s; n] and
    /// the iterations each took; a state has found a point where its q of R is below `TolQ`.
    let private deflatedNewton (config: FixedPointConfig) (d: DeflationConfig) (eq: Equations) report (known: Tensor) (starts: Tensor) (drive: Tensor) : Tensor * int[] =
        let s = int starts.shape[0]
        let n = starts.shape[1]
        let fractions = [| 1.0; 0.5; 0.25; 0.125; 0.0625; 0.03125; 0.015625 |]
        let nf = int64 fractions.Length
        let logM (x: Tensor) = fst (deflationLog d known x) // [b]
        let iterations = Array.zeroCreate<int> s
        let stalled = Array.zeroCreate<bool> s
        let mutable x = starts.clone () // [s; n]
        let mutable iteration = 0
        while iteration < d.Iterations do
            use _ = torch.NewDisposeScope()
            let qTensor = solvedQ eq x drive // [s]
            report "deflation" iteration d.Iterations qTensor
            let qAll = Arrays.ofTensor qTensor
            let active = [| for i in 0 .. s - 1 do if not stalled[i] && Double.IsFinite qAll[i] && qAll[i] >= config.TolQ then yield i |]
            if active.Length = 0 then iteration <- d.Iterations
            else
                let next = x.clone () // [s; n]
                for rows in active |> Array.chunkBySize (matrixRows n) do
                    use _ = torch.NewDisposeScope()
                    let index = indexTensor rows
                    let a' = int64 rows.Length
                    let xa = x.index_select(0L, index) // [a; n]
                    let da = drive.index_select(0L, index) // [a; drive]
                    let r = eq.Residual xa da // [a; n]
                    let q = r.squared().sum(1L) * 0.5 // [a]
                    let jacobian = eq.Jacobian xa da // [a; n; n]
                    let direct, _ = solveEx jacobian ((-r).unsqueeze(2L))
                    let direct = direct.squeeze(2L) // [a; n]
                    // Where the direct solve fails, a Levenberg-Marquardt step (lambda = 2q).
                    let transposed = jacobian.transpose(1L, 2L) // [a; n; n]
                    let newton =
                        if Arrays.ofTensor (torch.isfinite(direct).all().to_type(torch.ScalarType.Float64)) = [| 1.0 |] then direct
                        else
                            let eye = torch.eye(n, dtype = x.dtype).unsqueeze(0L) // [1; n; n]
                            let normal = torch.bmm(transposed, jacobian) + eye * (q * 2.0).clamp_min(1e-24).view(-1L, 1L, 1L) // [a; n; n]
                            let damped = -((fst (solveEx normal (torch.bmm(transposed, r.unsqueeze(2L))))).squeeze(2L)) // [a; n]
                            torch.where(torch.isfinite(direct).all(1L, keepdim = true), direct, damped)
                    let lnM = logM xa // [a]
                    let step = deflatedStep d known xa newton // [a; n]
                    let objective = lnM * 2.0 + q.log() // [a]: ln(m^2 q)
                    let candidates = torch.cat(fractions |> Array.map (fun f -> xa + step * f), 0L) // [fractions * a; n]
                    let qc = solvedQ eq candidates (da.repeat(nf, 1L)) // [fractions * a]
                    let lnMc = logM candidates
                    let objectives = (lnMc * 2.0 + qc.log()).view(nf, a') // [fractions; a]
                    let better = objectives.lt(objective.unsqueeze(0L)).logical_and(torch.isfinite(objectives)) // [fractions; a]
                    let first = better.to_type(torch.ScalarType.Int64).argmax(0L) // [a]
                    let chosen = candidates.view(nf, a', n).gather(0L, first.view(1L, -1L, 1L).expand(1L, a', n)).squeeze(0L) // [a; n]
                    let anyBetter = better.any(0L) // [a]
                    next.index_copy_(0L, index, torch.where(anyBetter.unsqueeze(1L), chosen, xa)) |> ignore
                    let moved = Arrays.ofTensor (anyBetter.to_type(torch.ScalarType.Float64))
                    rows |> Array.iteri (fun j i -> if moved[j] > 0.0 then iterations[i] <- iterations[i] + 1 else stalled[i] <- true)
                let old = x
                x <- next.MoveToOuterDisposeScope()
                old.Dispose()
                iteration <- iteration + 1
        x, iterations

    /// Starts between known points: the midpoints of pairs (i, j), i < j, of which at least one is
    /// new (index >= `firstNew`), at most `maxStarts`, spread evenly over all such pairs.
    let private midpointPairs (states: float[][]) (firstNew: int) (maxStarts: int) : (int * int)[] =
        let count = states.Length
        let pairs = [| for j in max 1 firstNew .. count - 1 do for i in 0 .. j - 1 -> i, j |]
        if pairs.Length <= maxStarts then pairs
        else Array.init maxStarts (fun c -> pairs[int (int64 c * int64 pairs.Length / int64 maxStarts)])

    /// Finds the fixed points of F(x) = step(x, u) from the initial states, to machine precision:
    /// phase 1, Adam on q with FixedPointFinder's rule brings every state near the fixed point its
    /// descent leads to; phase 2, damped Newton steps on one state per neighbourhood; phase 3, the
    /// other states take chord steps with the Jacobian of the point their neighbourhood converged to
    /// (any that fail take their own Newton steps). Then outlier exclusion and uniqueness; phase 4,
    /// deflation from between the points found; stability.
    /// The network is unchanged.
    let find (config: FixedPointConfig) (net: Network) (input: ConstantInput) (initial: float[][]) : FixedPointResult =
        let stopwatch = Stopwatch.StartNew()
        let n = Network.stateSize net
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
        match config.InitialLearningRate with
        | Some rate when not (rate > 0.0 && Double.IsFinite rate) -> Check.fail "initial_learning_rate" (sprintf "expected a number > 0, got %g" rate)
        | _ -> ()
        if not (config.AdamEpsilon >= 0.0 && Double.IsFinite config.AdamEpsilon) then
            Check.fail "adam_epsilon" (sprintf "expected a number >= 0, got %g" config.AdamEpsilon)
        match config.AdamRule with
        | AdamRule.Plateau (factor, patience) when not (factor > 0.0 && factor < 1.0) || patience < 0 ->
            Check.fail "adam_rule" (sprintf "Plateau expects 0 < factor < 1 and patience >= 0, got %g and %d" factor patience)
        | _ -> ()
        match config.Deflation with
        | Some d when not (d.Power >= 1.0 && Double.IsFinite d.Power) || not (d.Shift >= 0.0 && Double.IsFinite d.Shift) ->
            // Below power 1, m R goes to 0 at a known root: nothing would be divided out.
            Check.fail "deflation" (sprintf "expected Power >= 1 and Shift >= 0, got %g and %g" d.Power d.Shift)
        | Some d when not (d.Neighbourhood >= 0.0 && Double.IsFinite d.Neighbourhood) ->
            Check.fail "deflation" (sprintf "expected Neighbourhood >= 0, got %g" d.Neighbourhood)
        | _ -> ()
        if config.SharedJacobianRadius < 0.0 || Double.IsNaN config.SharedJacobianRadius then
            Check.fail "shared_jacobian_radius" (sprintf "expected a number >= 0, got %g" config.SharedJacobianRadius)
        let k = initial.Length
        // The search's working tensors (Adam's moments, Newton's trial steps, both precisions) and
        // its results as plain data: about 40 values of 8 bytes per state and unit.
        Memory.require (sprintf "a fixed-point search from %d states of %d values" k n) (float k * float n * 8.0 * 40.0)
        let report phase iteration max (q: Tensor) =
            config.Progress
            |> Option.iter (fun f ->
                use _ = torch.NewDisposeScope()
                f { Phase = phase
                    Iteration = iteration
                    MaxIterations = max
                    WorstQ = q.max().ToDouble()
                    Converged = (q.lt(config.TolQ.ToScalar()).sum().ToInt64() |> int)
                    States = int q.shape[0] })
        // One libtorch thread by default at every size: with more, libtorch 2.10's batched LU must go
        // one matrix at a time (`solveEx`), and on a shared 2-core machine two threads made a 256-unit
        // search 9 times slower than one (46 s against 5 s).
        use _ = LibtorchThreads.lease (config.Threads |> Option.defaultValue 1)
        use work = Network.toPrecision config.Precision net
        use scope = torch.NewDisposeScope()
        let kind = work.Kind
        let w = Network.weights work
        let eq = equationsOf kind w
        let u = Arrays.matrixToTensor config.Precision inputs // [k; inputs]
        let drive = kind.InputDrive w u // [k; drive]
        let start = Arrays.matrixToTensor config.Precision initial // [k; units]
        let iterations = Array.zeroCreate<int> k
        // Phase 1, in AdamPrecision on a copy of the network.
        let lap =
            let mutable last = TimeSpan.Zero
            fun () ->
                let now = stopwatch.Elapsed
                let span = now - last
                last <- now
                span
        // Adam in AdamPrecision on a copy of the network: from [r; units] under inputs [r; inputs].
        let descend (settings: FixedPointConfig) (from: Tensor) (inputsOfRows: Tensor) (its: int[]) =
            use adamNet = Network.toPrecision settings.AdamPrecision work
            let wa = Network.weights adamNet
            let driveA = kind.InputDrive wa (inputsOfRows.to_type(settings.AdamPrecision.ScalarType)) // [r; drive]
            let reached = adam settings adamNet wa report (from.to_type(settings.AdamPrecision.ScalarType)) driveA its
            reached.to_type(settings.Precision.ScalarType) // [r; units]
        let approached = if config.MaxAdamIterations <= 0 then start else descend config start u iterations // [k; units]
        let adamTime = lap ()
        // Neighbourhoods: sorted by q, a state within the radius (on [x, u]) of a representative
        // belongs to it; otherwise it becomes one.
        let owner = Array.init k id
        if config.SharedJacobianRadius > 0.0 then
            let q1 = Arrays.ofTensor (solvedQ eq approached drive)
            let xs = Arrays.ofTensor approached
            let m = inputs[0].Length
            let r2 = config.SharedJacobianRadius * config.SharedJacobianRadius
            let within i j =
                let mutable s = 0.0
                let mutable c = 0
                while s <= r2 && c < n do
                    let e = xs[i * n + c] - xs[j * n + c]
                    s <- s + e * e
                    c <- c + 1
                c <- 0
                while s <= r2 && c < m do
                    let e = inputs[i][c] - inputs[j][c]
                    s <- s + e * e
                    c <- c + 1
                s <= r2
            let finiteQ i = Double.IsFinite q1[i]
            let representatives = ResizeArray<int>()
            for i in Array.init k id |> Array.sortBy (fun i -> if finiteQ i then q1[i] else infinity) do
                let found = if finiteQ i then representatives.FindIndex(fun r -> within i r) else -1
                if found >= 0 then owner[i] <- representatives[found] else representatives.Add i
        let representatives = [| for i in 0 .. k - 1 do if owner[i] = i then yield i |]
        // Phase 2: Newton on the representatives.
        let repIndex = indexTensor representatives
        let repDrive = drive.index_select(0L, repIndex) // [reps; drive]
        let repSteps = Array.zeroCreate<int> representatives.Length
        let repStart = approached.index_select(0L, repIndex) // [reps; units]
        // The first Newton steps, far from the point, run in float32 when the search is in float64
        // and phase 1 in float32 (an LU in float32 costs about half as much); the last ones, in
        // float64, reach TolQ. Both share the `NewtonIterations` budget and one progress count.
        let repStart, coarseIterations =
            if not (config.AdamPrecision = Precision.Float32 && config.Precision = Precision.Float64) then repStart, 0
            else
                use low = Network.toPrecision Precision.Float32 work
                let wl = Network.weights low
                // At most half the budget: a state that float32 cannot settle (a slow or marginal
                // point) gets the rest in full precision.
                let coarse = { config with TolQ = max config.TolQ CoarseNewtonTolQ; NewtonIterations = config.NewtonIterations / 2 }
                let coarseReport phase iteration _ q = report phase iteration config.NewtonIterations q
                let reached, used =
                    newton coarse (equationsOf kind wl) coarseReport (repStart.to_type torch.ScalarType.Float32) (repDrive.to_type torch.ScalarType.Float32) repSteps
                reached.to_type(config.Precision.ScalarType), used
        let fineReport phase iteration _ q = report phase (coarseIterations + iteration) config.NewtonIterations q
        let repX, _ =
            newton { config with NewtonIterations = config.NewtonIterations - coarseIterations } eq fineReport repStart repDrive repSteps // [reps; units]
        representatives |> Array.iteri (fun j i -> iterations[i] <- iterations[i] + repSteps[j])
        let mutable x = approached.index_copy(0L, repIndex, repX) // [k; units]
        // Phase 3: the other states, with their representative's converged Jacobian.
        let members = [| for i in 0 .. k - 1 do if owner[i] <> i then yield i |]
        let repQ = Arrays.ofTensor (solvedQ eq repX repDrive)
        let repRow = Collections.Generic.Dictionary<int, int>()
        representatives |> Array.iteri (fun j i -> repRow[i] <- j)
        let shared, alone = members |> Array.partition (fun i -> repQ[repRow[owner[i]]] < config.TolQ)
        let failed =
            if shared.Length = 0 || config.ChordIterations <= 0 then Array.append shared alone
            else
                // Representatives that converged to the same point share one inverse: any Jacobian near
                // the point gives chord steps that reach a genuine fixed point, so this changes the work,
                // not the answer.
                let repStates = rows repX
                let canonical = Array.init representatives.Length id
                let distinct = ResizeArray<int>()
                let sameTolerance = 1e-6
                for j in Array.init representatives.Length id |> Array.sortBy (fun j -> repQ[j]) do
                    if repQ[j] < config.TolQ then
                        let near (c: int) =
                            let mutable s = 0.0
                            let mutable col = 0
                            while s <= sameTolerance * sameTolerance && col < n do
                                let e = repStates[j][col] - repStates[c][col]
                                s <- s + e * e
                                col <- col + 1
                            s <= sameTolerance * sameTolerance
                            && Array.forall2 (fun (a: float) b -> abs (a - b) <= sameTolerance) inputs[representatives[j]] inputs[representatives[c]]
                        match distinct |> Seq.tryFind near with
                        | Some c -> canonical[j] <- c
                        | None -> distinct.Add j
                let groups = shared |> Array.groupBy (fun i -> canonical[repRow[owner[i]]])
                let rows, xm, steps, unusable = chord config eq report repX repDrive groups approached drive
                let chordFailed =
                    if rows.Length = 0 then [||]
                    else
                        rows |> Array.iteri (fun j i -> iterations[i] <- iterations[i] + steps[j])
                        let qm = Arrays.ofTensor (solvedQ eq xm (drive.index_select(0L, indexTensor rows)))
                        x <- x.index_copy(0L, indexTensor rows, xm)
                        [| for j in 0 .. rows.Length - 1 do if not (qm[j] < config.TolQ) then yield rows[j] |]
                Array.concat [ alone; unusable; chordFailed ]
        if failed.Length > 0 then
            // Their own Newton steps, from where phase 1 left them.
            let index = indexTensor failed
            let steps = Array.zeroCreate<int> failed.Length
            let refined, _ = newton config eq report (approached.index_select(0L, index)) (drive.index_select(0L, index)) steps
            failed |> Array.iteri (fun j i -> iterations[i] <- iterations[i] + steps[j])
            x <- x.index_copy(0L, index, refined)
        // Slow points are minima of q of F itself, which the residual does not see: with a residual,
        // a state that did not solve it takes damped Newton steps on F(x) - x (each lowers q) from
        // where phase 1 left it.
        if config.IncludeSlowPoints && (Kind.fixedPointResidual kind).IsSome then
            let solvedNow = Arrays.ofTensor (solvedQ eq x drive)
            let unsolved = [| for i in 0 .. k - 1 do if not (solvedNow[i] < config.TolQ) then yield i |]
            if unsolved.Length > 0 then
                let index = indexTensor unsolved
                let steps = Array.zeroCreate<int> unsolved.Length
                let slowed, _ = newton config (mapEquations kind w) report (approached.index_select(0L, index)) (drive.index_select(0L, index)) steps
                unsolved |> Array.iteri (fun j i -> iterations[i] <- iterations[i] + steps[j])
                x <- x.index_copy(0L, index, slowed)
        let finalQ = Arrays.ofTensor (qOf kind w x drive)
        let newtonTime = lap ()
        // Converged: q of F below TolQ, for every kind (a residual solved to TolQ implies it, since
        // |F(x) - x| = (1 - g) |R(x)| <= |R(x)|).
        let states = rows x
        let points =
            Array.init k (fun i ->
                { Id = -1
                  State = states[i]
                  Input = inputs[i]
                  Q = finalQ[i]
                  Speed = sqrt (2.0 * finalQ[i])
                  Search = Some { Iterations = iterations[i]; Converged = finalQ[i] < config.TolQ; Deflated = false }
                  Eigenvalues = [||]
                  Linearisation = None
                  UnstableModes = 0
                  Stable = false
                  Kind = FixedPointKind.Attractor
                  ContinuousEigenvalues = None })
        let finite (p: FixedPoint) = Double.IsFinite p.Q && p.State |> Array.forall Double.IsFinite
        let refined = points
        let converged = refined |> Array.filter (fun p -> p.Search.Value.Converged && finite p)
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
        let uniquenessTime = lap ()
        let distance2 (a: float[]) (b: float[]) = Array.fold2 (fun acc x y -> acc + (x - y) * (x - y)) 0.0 a b
        // Phase 4: deflation, per constant input, from between the points found.
        let deflatedPoints =
            match config.Deflation with
            | None -> [||]
            | Some d when d.MaxRounds <= 0 || d.Iterations <= 0 || d.MaxStarts <= 0 -> [||]
            | Some d ->
                // With a neighbourhood, an input under which the search found no point at all starts
                // around where its states stopped (plain damped Newton: nothing to divide out yet).
                let groups =
                    let ofPoints = uniquePoints |> Array.groupBy (fun p -> p.Input)
                    if not (d.Neighbourhood > 0.0) then ofPoints |> Array.map (fun (input, group) -> input, group, [||])
                    else
                        Array.zip initial refined
                        |> Array.groupBy (fun (_, p) -> p.Input)
                        |> Array.map (fun (input, pairs) ->
                            match ofPoints |> Array.tryFind (fun (i, _) -> i = input) with
                            | Some (_, group) -> input, group, [||]
                            | None ->
                                // Where the states began (phase 1 can carry a state away from a point
                                // near it into a local minimum of q) and where they stopped.
                                let seeds =
                                    pairs
                                    |> Array.collect (fun (start, p) -> [| start; p.State |])
                                    |> Array.filter (Array.forall Double.IsFinite)
                                    |> Array.truncate (max 2 (d.MaxStarts / (2 * n + 1)))
                                input, [||], seeds)
                [| for input, group, stopped in groups do
                       let known = ResizeArray<float[]>(group |> Array.map (fun p -> p.State))
                       let found = ResizeArray<FixedPoint>()
                       let mutable firstNew = 0
                       let mutable round = 0
                       // Starts around points: the new ones at the neighbourhood's radius; after a round
                       // that found nothing, around every point at twice the radius (twice at most).
                       let mutable radius = d.Neighbourhood
                       let mutable aroundFrom = 0
                       let mutable pairsFrom = 0
                       while round < d.MaxRounds do
                           let pairs = if pairsFrom < 0 then [||] else midpointPairs (known.ToArray()) pairsFrom d.MaxStarts
                           // +- radius along each axis and each eigenvector's real direction (the
                           // unstable ones lead from a saddle to the points its flow reaches).
                           let around (centres: float[] seq) =
                               let centres = Array.ofSeq centres
                               let modes =
                                   if centres.Length = 0 then [||]
                                   else
                                       use _ = torch.NewDisposeScope()
                                       let ct = Arrays.matrixToTensor config.Precision centres // [c; n]
                                       let dt = kind.InputDrive w (Arrays.matrixToTensor config.Precision (Array.create centres.Length input)) // [c; drive]
                                       let decomposed = eigen 1 (eq.Jacobian ct dt) // the residual's Jacobian: F's eigenvectors
                                       decomposed |> Array.map (fun (values, vectors, _) -> directions n values vectors |> Array.filter (fun v -> v.Length = n))
                               [| for c, centre in Array.indexed centres do
                                      let axes = Array.init n (fun axis -> Array.init n (fun j -> if j = axis then 1.0 else 0.0))
                                      for v in Array.append modes[c] axes do
                                          for sign in [ 1.0; -1.0 ] ->
                                              Array.map2 (fun x e -> x + sign * radius * e) centre v |]
                           let aroundKnown =
                               if not (d.Neighbourhood > 0.0) then [||]
                               else around (Seq.init (known.Count - aroundFrom) (fun i -> known[aroundFrom + i]))
                           let aroundStopped = if round = 0 && known.Count = 0 then Array.append stopped (around stopped) else [||]
                           let midpoints = pairs |> Array.map (fun (i, j) -> Array.map2 (fun a b -> 0.5 * (a + b)) known[i] known[j])
                           // With a neighbourhood, the reflections of each point of a pair through the
                           // other too (a saddle between two attractors gives the second from the first).
                           let reflections =
                               if not (d.Neighbourhood > 0.0) then [||]
                               else pairs |> Array.collect (fun (i, j) -> [| Array.map2 (fun a b -> 2.0 * a - b) known[i] known[j]; Array.map2 (fun a b -> 2.0 * b - a) known[i] known[j] |])
                           let all = Array.concat [ midpoints; reflections; aroundKnown; aroundStopped ]
                           // Within MaxStarts, spread evenly over both kinds.
                           let starts =
                               if all.Length <= d.MaxStarts then all
                               else Array.init d.MaxStarts (fun c -> all[int (int64 c * int64 all.Length / int64 d.MaxStarts)])
                           if starts.Length = 0 then round <- d.MaxRounds
                           else
                               use _ = torch.NewDisposeScope()
                               let knownT = // [p; n]
                                   if known.Count = 0 then torch.zeros([| 0L; int64 n |], dtype = config.Precision.ScalarType)
                                   else Arrays.matrixToTensor config.Precision (known.ToArray())
                               let startT = Arrays.matrixToTensor config.Precision starts // [s; n]
                               let uT = Arrays.matrixToTensor config.Precision (Array.create starts.Length input) // [s; inputs]
                               let driveT = kind.InputDrive w uT // [s; drive]
                               let reached, steps = deflatedNewton config d eq report knownT startT driveT
                               let solved = Arrays.ofTensor (solvedQ eq reached driveT)
                               let qF = Arrays.ofTensor (qOf kind w reached driveT)
                               let states = rows reached
                               let candidates =
                                   [| for c in 0 .. starts.Length - 1 do
                                          if solved[c] < config.TolQ && qF[c] < config.TolQ && Array.forall Double.IsFinite states[c] then
                                              yield { Id = -1; State = states[c]; Input = input; Q = qF[c]; Speed = sqrt (2.0 * qF[c])
                                                      Search = Some { Iterations = steps[c]; Converged = true; Deflated = true }
                                                      Eigenvalues = [||]; Linearisation = None; UnstableModes = 0; Stable = false
                                                      Kind = FixedPointKind.Attractor; ContinuousEigenvalues = None } |]
                                   |> Array.filter (isOutlier >> not)
                               let fresh =
                                   unique config.TolUnique candidates
                                   |> Array.filter (fun c -> known |> Seq.forall (fun st -> distance2 st c.State > config.TolUnique * config.TolUnique))
                               firstNew <- known.Count
                               for f in fresh do
                                   known.Add f.State
                                   found.Add f
                               if fresh.Length > 0 then
                                   round <- round + 1
                                   radius <- d.Neighbourhood
                                   aroundFrom <- firstNew
                                   pairsFrom <- firstNew
                               elif d.Neighbourhood > 0.0 && radius < 3.0 * d.Neighbourhood then
                                   // Nothing new: wider, around every point, no midpoints again.
                                   round <- round + 1
                                   radius <- radius * 2.0
                                   aroundFrom <- 0
                                   pairsFrom <- -1
                               else round <- d.MaxRounds
                       yield! found |]
                // Grouped by exact input, a point could still lie within TolUnique of a point under a
                // nearby input: the uniqueness rule (on [x, u]) keeps the search's point.
                |> Array.fold
                    (fun (kept: FixedPoint list) p ->
                        let joint (a: FixedPoint) = distance2 a.State p.State + distance2 a.Input p.Input
                        let t2 = config.TolUnique * config.TolUnique
                        if Seq.append uniquePoints kept |> Seq.exists (fun a -> joint a <= t2) then kept else kept @ [ p ])
                    []
                |> Array.ofList
        let deflationTime = lap ()
        let withIds (ps: FixedPoint[]) = ps |> Array.mapi (fun i p -> { p with Id = i })
        // `Threads`, when given, bounds the eigen-decompositions' threads too.
        let eigenThreads = config.Threads |> Option.defaultWith eigenWorkers
        let analysed =
            analyseWith eigenThreads config.EigenTolerance work (Array.append uniquePoints deflatedPoints)
            |> Array.sortBy (fun p -> p.UnstableModes, p.Q)
            |> withIds
        let slow =
            if config.IncludeSlowPoints then
                refined
                |> Array.filter (fun p -> not p.Search.Value.Converged && finite p && p.Q < config.SlowTolQ && not (isOutlier p))
                |> unique config.TolUnique
                |> analyseWith eigenThreads config.EigenTolerance work
                |> Array.sortBy (fun p -> p.Q)
                // Numbered after the fixed points, so that ids stay unique when both are shown together.
                |> Array.mapi (fun i p -> { p with Id = analysed.Length + i })
            else [||]
        // Each converged inlier state lies within TolUnique of a kept point (the uniqueness rule).
        let pointOfState =
            let t2 = config.TolUnique * config.TolUnique
            refined
            |> Array.map (fun p ->
                if not (p.Search.Value.Converged && finite p) || isOutlier p then -1
                else
                    let mutable best, bestDistance = -1, infinity
                    for f in analysed do
                        // [x, u] together, as the uniqueness rule measures; the partial sum stops
                        // once past the tolerance (states x points x units would be slow otherwise).
                        let mutable d2 = 0.0
                        let mutable i = 0
                        while d2 <= t2 && i < p.State.Length do
                            let e = f.State[i] - p.State[i]
                            d2 <- d2 + e * e
                            i <- i + 1
                        if d2 <= t2 then d2 <- d2 + distance2 f.Input p.Input
                        if d2 <= t2 && d2 < bestDistance then
                            best <- f.Id
                            bestDistance <- d2
                    best)
        let linearisationTime = lap ()
        let certificates =
            match config.Certify with
            | Some c -> Certificates.ofStates c net (analysed |> Array.map (fun p -> p.State)) (analysed |> Array.map (fun p -> p.Input))
            | None -> [||]
        let certificateTime = lap ()
        let elapsed = stopwatch.Elapsed
        { FixedPoints = analysed
          PointOfState = pointOfState
          SlowPoints = slow
          InitialStates = k
          Converged = converged.Length
          Deflated = deflatedPoints.Length
          Duplicates = inliers.Length - uniquePoints.Length
          Outliers = converged.Length - inliers.Length
          NotConverged = refined.Length - converged.Length
          Elapsed = elapsed
          Timings =
            { Adam = adamTime
              Newton = newtonTime
              Uniqueness = uniquenessTime
              Deflation = deflationTime
              Linearisation = linearisationTime
              Certificates = certificateTime }
          Certificates = certificates }

    /// The points with `Q` and `Speed` recomputed under `net` (in float64), everything else kept: a
    /// point read from a file carries the q of the model it was found for, which says nothing about
    /// another model. `InvalidArgument` for a state or input of the wrong size or not finite. The
    /// network is unchanged.
    let recheck (net: Network) (points: FixedPoint[]) : FixedPoint[] =
        if isNull points || points.Length = 0 then [||]
        else
            let n = Network.stateSize net
            for p in points do
                if isNull p.State || p.State.Length <> n then
                    Check.fail "fixed_points" (sprintf "fixed point %d: expected a state of %d values (the network's packed state), got %d" p.Id n (if isNull p.State then 0 else p.State.Length))
                if isNull p.Input || p.Input.Length <> net.Sizes.Inputs then
                    Check.fail "fixed_points" (sprintf "fixed point %d: expected an input of %d values, got %d" p.Id net.Sizes.Inputs (if isNull p.Input then 0 else p.Input.Length))
                Check.allFinite "fixed_points" p.State
                Check.allFinite "fixed_points" p.Input
            use _ = torch.NewDisposeScope()
            use net64 = Network.toPrecision Precision.Float64 net
            let w = Network.weights net64
            let x = Arrays.matrixToTensor Precision.Float64 (points |> Array.map (fun p -> p.State)) // [k; units]
            let u = Arrays.matrixToTensor Precision.Float64 (points |> Array.map (fun p -> p.Input)) // [k; inputs]
            let q = Arrays.ofTensor (qOf net64.Kind w x (net64.Kind.InputDrive w u)) // [k]
            points |> Array.mapi (fun i p -> { p with Q = q[i]; Speed = sqrt (2.0 * q[i]) })

    /// A certificate per point (`Certificates.ofStates` on their states and inputs), in their order.
    let certify (config: CertificateConfig) (net: Network) (points: FixedPoint[]) : Certificate[] =
        if isNull points || points.Length = 0 then [||]
        else Certificates.ofStates config net (points |> Array.map (fun p -> p.State)) (points |> Array.map (fun p -> p.Input))
