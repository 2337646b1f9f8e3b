namespace RnnFun

open System
open System.Numerics
open TorchSharp

/// How the q threshold of a slow-point search was chosen from the distribution of q.
type SlowPointThreshold =
    { /// States with q <= this are slow points.
      Threshold: float
      /// "gap": the widest gap in log10 q (`SlowPointConfig.MinGap` decades or more) with at least
      /// `MinFraction` of the states below it; without one, "knee": where the upper tail of the
      /// sorted log10 q curve begins (`SlowPoints.threshold`); "none": fewer than 3 states, or all
      /// with the same q: every state below `Ceiling` kept.
      Rule: string
      /// Width of the gap in decades (0 for "none").
      GapDecades: float
      /// States (finite, below the ceiling) at or below the threshold, and above it.
      Below: int
      Above: int }

/// Settings of `SlowPoints.find`.
type SlowPointConfig =
    { /// Steepest-descent steps on q (no Newton steps: they would carry the states along a slow
      /// manifold to its few exact fixed points).
      Iterations: int
      /// q above this is never a slow point, whatever the distribution.
      Ceiling: float
      /// The narrowest gap in log10 q (decades) that separates slow points from the rest.
      MinGap: float
      /// At least this share of the candidates lies below the chosen gap (so that a few stray low
      /// values do not set it).
      MinFraction: float
      /// Two slow points are one when the 2-norm of [x1, u1] - [x2, u2] is <= this.
      TolUnique: float
      /// At most this many slow points per input, spread over the set (`SlowPoints.spread`): a
      /// ring's figure needs a few hundred, and each costs an eigen-decomposition.
      MaxPoints: int
      /// |lambda| within this of 1 is marginal (`FixedPoints.classify`).
      EigenTolerance: float
      /// Distance outliers (`FixedPointConfig.OutlierDistanceScale`).
      OutlierDistanceScale: float option
      Progress: (FixedPointProgress -> unit) option }

    static member defaults =
        { Iterations = 50
          Ceiling = 1e-2
          MinGap = 1.0
          MinFraction = 0.1
          TolUnique = 1e-3
          MaxPoints = 256
          EigenTolerance = 1e-3
          OutlierDistanceScale = Some 10.0
          Progress = None }

/// The slow points of one constant input, with the threshold chosen for them.
type SlowPointGroup =
    { Input: float[]
      /// Below the threshold, unique, linearised, sorted by q.
      Points: FixedPoint[]
      /// q of every candidate state of this input at the end of the descent (of the kind's
      /// `FixedPointResidual` where it has one, which the threshold is chosen on; `Points` report q
      /// of F), ascending (finite,
      /// below the ceiling, before uniqueness).
      Q: float[]
      Threshold: SlowPointThreshold }

/// The outcome of `SlowPoints.find`: one group per distinct constant input, in order of first
/// appearance.
type SlowPointResult =
    { Groups: SlowPointGroup[]
      /// Every group's points, ids 0.. in group order.
      Points: FixedPoint[]
      InitialStates: int
      Elapsed: TimeSpan }

/// Slow points (Sussillo and Barak 2013): local minima of q = 0.5 ||F(x, u) - x||^2 that need not be
/// zero, where the dynamics are slow. A line or ring attractor is a manifold of them.
[<RequireQualifiedAccess>]
module SlowPoints =
    /// The threshold rule on the candidates' q (docs/analysis.md, "Slow points and rings"): sorted
    /// log10 q, the widest gap between neighbours of at least `minGap` decades that has at least
    /// `minFraction` of the values below it; the threshold is the value below the gap. Without such a
    /// gap, the knee of the sorted curve: with rank and log10 q scaled to [0, 1], the value farthest
    /// below the chord joining the first and the last (the start of the upper tail of states still
    /// moving), at or above the `minFraction` quantile. Values above `ceiling` never count.
    let threshold (ceiling: float) (minGap: float) (minFraction: float) (q: float[]) : SlowPointThreshold =
        let candidates = q |> Array.filter (fun v -> Double.IsFinite v && v >= 0.0 && v <= ceiling) |> Array.sort
        let n = candidates.Length
        let logs = candidates |> Array.map (fun v -> log10 (max v 1e-300))
        let least = max 1 (int (ceil (minFraction * float n)))
        let mutable best, bestGap = -1, 0.0
        for i in least - 1 .. n - 2 do
            let gap = logs[i + 1] - logs[i]
            if gap >= minGap && gap > bestGap then
                best <- i
                bestGap <- gap
        if best >= 0 then
            { Threshold = candidates[best]; Rule = "gap"; GapDecades = bestGap; Below = best + 1; Above = n - best - 1 }
        elif n >= 3 && logs[n - 1] > logs[0] then
            // The knee (Kneedle) of the sorted curve: rank and log q both scaled to [0, 1], the value
            // farthest below the chord from the first to the last, where the upper tail of states that
            // are still moving begins.
            let span = logs[n - 1] - logs[0]
            let mutable knee, farthest = n - 1, 0.0
            for i in least - 1 .. n - 1 do
                let below = float i / float (n - 1) - (logs[i] - logs[0]) / span
                if below > farthest then
                    knee <- i
                    farthest <- below
            { Threshold = candidates[knee]; Rule = "knee"; GapDecades = 0.0; Below = knee + 1; Above = n - knee - 1 }
        else
            { Threshold = ceiling; Rule = "none"; GapDecades = 0.0; Below = n; Above = 0 }

    /// The eigenvalue nearest to 1 (|lambda - 1| least): the mode along a line or ring attractor.
    let closestToOne (eigenvalues: Complex[]) : Complex option =
        if isNull eigenvalues || eigenvalues.Length = 0 then None
        else Some(eigenvalues |> Array.minBy (fun l -> (l - Complex.One).Magnitude))

    /// q of the equations the descent works on, and its gradient: the kind's `FixedPointResidual`
    /// where it has one (a gated kind: q of F is flat wherever the gate is shut, so the descent on F
    /// runs off to saturated gates), else F(x) - x itself (`FixedPoints.speedGradient`).
    let private descentGradient (net: Network) (w: Weights) (x: torch.Tensor) (drive: torch.Tensor) : torch.Tensor * torch.Tensor =
        match Kind.fixedPointResidual net.Kind with
        | None -> FixedPoints.speedGradient net w x drive
        | Some r ->
            match r.VectorJacobian with
            | Some vj ->
                use _ = torch.no_grad ()
                let residual = r.Residual w x drive // [k; units]
                residual.squared().sum(1L) * 0.5, vj w x drive residual
            | None ->
                let xg = x.detach().requires_grad_(true)
                let q =
                    use _ = torch.enable_grad ()
                    (r.Residual w xg drive).squared().sum(1L) * 0.5 // [k]
                let grads = torch.autograd.grad([| q.sum () |] :> Collections.Generic.IList<torch.Tensor>, [| xg |] :> Collections.Generic.IList<torch.Tensor>)
                q.detach (), grads[0].detach ()

    /// Steepest descent on q from the initial states, each step the exact minimiser of the
    /// linearised q along the gradient g = (J - I)' r (the Cauchy step: x <- x - (|g|^2 / |(J - I) g|^2) g,
    /// (J - I) g by a forward difference). The step relaxes the fast directions and hardly moves the
    /// state along a slow one, whose share of the gradient is small: the states settle onto a slow
    /// manifold (a ring, a line) instead of running along it to its few exact fixed points, as Adam's
    /// normalised steps make them do. In float64; returns the final states [k][units], the q of the
    /// equations descended (the kind's `FixedPointResidual`, or F(x) - x) and q of F [k].
    let private descend (config: SlowPointConfig) (net: Network) (inputs: float[][]) (initial: float[][]) : float[][] * float[] * float[] =
        use _ = torch.NewDisposeScope()
        use net64 = Network.toPrecision Precision.Float64 net
        let w = Network.weights net64
        let kind = net64.Kind
        let drive = kind.InputDrive w (Arrays.matrixToTensor Precision.Float64 inputs) // [k; drive]
        let residual =
            match Kind.fixedPointResidual kind with
            | Some r -> fun (x: torch.Tensor) -> r.Residual w x drive
            | None -> fun (x: torch.Tensor) -> kind.Step w x drive - x
        let mutable x = Arrays.matrixToTensor Precision.Float64 initial // [k; units]
        let k = initial.Length
        use zero = (0.0).ToScalar()
        for it in 1 .. config.Iterations do
            use _ = torch.NewDisposeScope()
            let q, g = descentGradient net64 w x drive // [k], [k; units]
            config.Progress |> Option.iter (fun report ->
                if it % 50 = 1 || it = config.Iterations then
                    report { Phase = "slow"; Iteration = it - 1; MaxIterations = config.Iterations; WorstQ = q.max().ToDouble(); Converged = 0; States = k })
            let gNorm = g.squared().sum(1L, true).sqrt() // [k; 1]
            let safe = torch.where(gNorm.gt(zero), gNorm, torch.ones_like gNorm)
            let direction = g / safe // [k; units], unit rows
            let h = 1e-6
            let r = residual x // [k; units]
            let ag = (residual (x + direction * h) - r) / h // [k; units]: (J - I) along the unit direction
            let curvature = ag.squared().sum(1L, true) // [k; 1]
            // Along the unit direction, q(t) ~ q - |g| t + curvature t^2 / 2: the minimiser |g| / curvature.
            let curved = curvature.gt(zero) // [k; 1]
            let t = torch.where(curved, gNorm / torch.where(curved, curvature, torch.ones_like curvature), torch.zeros_like gNorm) // [k; 1]
            let next = x - direction * t
            // A step that does not lower q (or is not finite) is not taken.
            let qNext = residual(next).squared().sum(1L) * 0.5 // [k]
            let better = qNext.lt(q).logical_and(next.isfinite().all(1L)).unsqueeze(1L) // [k; 1]
            x <- torch.where(better, next, x).MoveToOuterDisposeScope()
        let qR = (residual x).squared().sum(1L) * 0.5 // [k]
        let qF = (kind.Step w x drive - x).squared().sum(1L) * 0.5 // [k]
        Arrays.ofMatrix x, Arrays.ofTensor qR, Arrays.ofTensor qF

    /// At most `count` of the points, spread over them: the lowest-q point, then again and again the
    /// point farthest from those chosen (farthest-point sampling on [x, u]).
    let spread (count: int) (points: FixedPoint[]) : FixedPoint[] =
        if points.Length <= count then points
        else
            let sorted = points |> Array.sortBy (fun p -> p.Q)
            let d2 (a: FixedPoint) (b: FixedPoint) =
                Array.fold2 (fun s x y -> s + (x - y) * (x - y)) 0.0 a.State b.State
                + Array.fold2 (fun s x y -> s + (x - y) * (x - y)) 0.0 a.Input b.Input
            let nearest = sorted |> Array.map (fun p -> d2 p sorted[0])
            let chosen = ResizeArray<int>([ 0 ])
            while chosen.Count < count do
                let mutable far = 0
                for i in 1 .. sorted.Length - 1 do
                    if nearest[i] > nearest[far] then far <- i
                chosen.Add far
                for i in 0 .. sorted.Length - 1 do
                    nearest[i] <- min nearest[i] (d2 sorted[i] sorted[far])
            chosen |> Seq.map (fun i -> sorted[i]) |> Seq.sortBy (fun p -> p.Q) |> Array.ofSeq

    /// Descends q from each initial state (its own input with `ConstantInput.PerState`) for
    /// `Iterations` steepest-descent steps (`descend`), then, per distinct input: keeps the states whose q is at or below the
    /// threshold chosen from that input's q distribution (`threshold`), unique on [x, u]
    /// (`TolUnique`), at most `MaxPoints` of them spread over the set (`spread`), linearised.
    let find (config: SlowPointConfig) (net: Network) (input: ConstantInput) (initial: float[][]) : SlowPointResult =
        Check.positive "iterations" config.Iterations
        Check.positive "max_points" config.MaxPoints
        if not (config.Ceiling > 0.0) then Check.fail "ceiling" (sprintf "expected a number > 0, got %g" config.Ceiling)
        if not (config.MinGap > 0.0) then Check.fail "min_gap" (sprintf "expected a number > 0, got %g" config.MinGap)
        if not (config.MinFraction >= 0.0 && config.MinFraction < 1.0) then Check.fail "min_fraction" (sprintf "expected a number in [0, 1), got %g" config.MinFraction)
        if isNull initial || initial.Length = 0 then Check.fail "initial_states" "expected at least one initial state"
        let n = Network.stateSize net
        for s in initial do
            if isNull s || s.Length <> n then Check.fail "initial_states" (sprintf "expected states of %d values (the network's state)" n)
            Check.allFinite "initial_states" s
        let inputs =
            match input with
            | ConstantInput.Same u -> Array.create initial.Length u
            | ConstantInput.PerState us ->
                if isNull us || us.Length <> initial.Length then Check.fail "inputs" (sprintf "expected one input per initial state (%d), got %d" initial.Length (if isNull us then 0 else us.Length))
                us
        for u in inputs do
            if isNull u || u.Length <> net.Sizes.Inputs then Check.fail "inputs" (sprintf "expected inputs of %d values" net.Sizes.Inputs)
            Check.allFinite "inputs" u
        let stopwatch = Diagnostics.Stopwatch.StartNew()
        let states, q, qF = descend config net inputs initial
        // FixedPointFinder's distance-outlier rule, as `FixedPoints.find` applies it.
        let centroid = Array.init n (fun j -> initial |> Array.averageBy (fun s -> s[j]))
        let distance (s: float[]) = sqrt (Array.fold2 (fun acc a b -> acc + (a - b) * (a - b)) 0.0 s centroid)
        let meanDistance = initial |> Array.averageBy distance
        let outlier (s: float[]) =
            match config.OutlierDistanceScale with
            | Some scale when meanDistance > 0.0 -> distance s / meanDistance > scale
            | _ -> false
        let order = ResizeArray<float[]>()
        for u in inputs do
            if not (order.Exists(fun o -> o = u)) then order.Add u
        let mutable next = 0
        let groups =
            [| for u in order do
                   let rows = [| for i in 0 .. initial.Length - 1 do if inputs[i] = u && Double.IsFinite q[i] && not (outlier states[i]) then yield i |]
                   let chosen = threshold config.Ceiling config.MinGap config.MinFraction (rows |> Array.map (fun i -> q[i]))
                   let kept =
                       rows
                       |> Array.filter (fun i -> q[i] <= chosen.Threshold)
                       |> Array.map (fun i ->
                           { Id = -1; State = states[i]; Input = u; Q = qF[i]; Speed = sqrt (2.0 * qF[i])
                             Search = Some { Iterations = config.Iterations; Converged = false; Deflated = false }
                             Eigenvalues = [||]; Linearisation = None; UnstableModes = 0; Stable = false
                             Kind = FixedPointKind.Attractor; ContinuousEigenvalues = None })
                       |> FixedPoints.unique config.TolUnique
                       |> spread config.MaxPoints
                       |> FixedPoints.analyse config.EigenTolerance net
                       |> Array.sortBy (fun p -> p.Q)
                       |> Array.map (fun p -> let p' = { p with Id = next } in next <- next + 1; p')
                   yield { Input = u; Points = kept; Q = rows |> Array.map (fun i -> q[i]) |> Array.filter (fun v -> v <= config.Ceiling) |> Array.sort; Threshold = chosen } |]
        { Groups = groups
          Points = groups |> Array.collect (fun g -> g.Points)
          InitialStates = initial.Length
          Elapsed = stopwatch.Elapsed }

    /// The angle (radians, in (-pi, pi]) of each point in the plane of the first two components.
    let planeAngles (pca: PcaFit) (points: FixedPoint[]) : float[] =
        if pca.Components.Length < 2 then Check.fail "pca" "expected at least two components"
        points |> Array.map (fun p -> let c = Pca.transformPoint pca p.State in atan2 c[1] c[0])

    /// How many of `sectors` equal sectors of the PC1-PC2 plane hold at least one point: how much of
    /// a ring the points cover.
    let sectorsCovered (sectors: int) (pca: PcaFit) (points: FixedPoint[]) : int =
        Check.positive "sectors" sectors
        planeAngles pca points
        |> Array.map (fun a -> int (floor ((a + Math.PI) / (2.0 * Math.PI) * float sectors)) % sectors)
        |> Array.distinct
        |> Array.length
