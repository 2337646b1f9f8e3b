namespace RnnFun

open System
open System.Diagnostics
open System.Numerics
open TorchSharp

/// The parameter a continuation varies.
[<RequireQualifiedAccess>]
type ContinuationParameter =
    /// The constant input Base + p Direction (each [inputs]): one input's value (Direction = e_i), or
    /// a direction in input space (a context input, a stimulus axis).
    | Input of baseInput: float[] * direction: float[]
    /// The recurrent weights times p (every `Role.Recurrent` and `Role.RecurrentBlocks` parameter:
    /// W_rec, or a gated cell's weight_hh), under a constant input [inputs].
    | RecurrentScale of input: float[]

/// What happens where an eigenvalue of a branch's Jacobian crosses the unit circle.
[<RequireQualifiedAccess>]
type BifurcationKind =
    /// Saddle-node: lambda = 1 where the branch turns back in the parameter.
    | Fold
    /// lambda = 1 on a branch that goes on through, and a second branch through the point on one side
    /// of the parameter (its two halves on the same side).
    | Pitchfork
    /// lambda = 1 on a branch that goes on through, and a second branch that crosses it (its halves on
    /// opposite sides).
    | Transcritical
    /// lambda = 1 on a branch that goes on through, not classified (several eigenvalues at 1 at once,
    /// and the second-order terms there do not vanish).
    | BranchPoint
    /// Period doubling: lambda = -1.
    | Flip
    /// A complex pair crossing |lambda| = 1 (Hopf of the map).
    | NeimarkSacker

/// How a branch's tracing ended.
[<RequireQualifiedAccess>]
type BranchEnding =
    /// The parameter reached an end of the range.
    | Range
    /// The branch reached the start point of another branch (the same branch, traced once).
    | Merged of branch: int
    /// The branch came back to its own start (a closed loop).
    | Closed
    /// `ContinuationConfig.MaxSteps` steps.
    | MaxSteps
    /// The corrector failed at the smallest step.
    | StepTooSmall

/// Settings of a continuation. The arclength is measured in (state, parameter) together.
type ContinuationConfig =
    { /// The parameter's value at the start, where `FixedPoints.find` finds the points the branches
      /// start from.
      Start: float
      /// The parameter's value at the other end of the range.
      End: float
      /// First arclength step; the step grows (x1.3) after easy corrections and halves after failed ones.
      Step: float
      MinStep: float
      MaxStep: float
      /// Steps per branch at most.
      MaxSteps: int
      /// Newton's corrector stops when ||F(x) - x|| is below this.
      Tolerance: float
      /// Corrector iterations per step at most.
      NewtonIterations: int
      /// Events are located to this arclength (bisection).
      LocateTolerance: float
      /// |lambda| within this of 1 is marginal in the points' stability (as `FixedPointConfig.EigenTolerance`).
      EigenTolerance: float
      /// Trace the second branch through each simple branch point (pitchfork, transcritical).
      SwitchBranches: bool
      /// Branches at most, those from the start points and the switched ones together.
      MaxBranches: int
      /// A branch that comes within this of the start point of another branch ([x, p], 2-norm) ends there.
      MergeTolerance: float
      /// The search at `Start`.
      Search: FixedPointConfig
      /// The search's initial states at `Start`; None: 1,024 seeded states uniform in [-1, 1]^state.
      InitialStates: float[][] option
      Seed: int }

    static member defaults =
        { Start = 0.0
          End = 1.0
          Step = 0.02
          MinStep = 1e-8
          MaxStep = 0.1
          MaxSteps = 2000
          Tolerance = 1e-11
          NewtonIterations = 12
          LocateTolerance = 1e-10
          EigenTolerance = 1e-3
          SwitchBranches = true
          MaxBranches = 64
          MergeTolerance = 1e-5
          Search = FixedPointConfig.defaults
          InitialStates = None
          Seed = 0 }

/// One traced branch of fixed points, as plain data (one entry per point, in the order traced).
type ContinuationBranch =
    { Id: int
      /// -1 for a branch from a start point; else the branch it was switched from at a branch point.
      Parent: int
      /// [points]
      Parameter: float[]
      /// [points][state]
      States: float[][]
      /// [points][state]: the Jacobian's eigenvalues, sorted by modulus, descending.
      Eigenvalues: Complex[][]
      /// [points]: eigenvalues with |lambda| > 1 + tolerance.
      UnstableModes: int[]
      /// [points]: every |lambda| < 1 - tolerance.
      Stable: bool[]
      Ending: BranchEnding }

/// A located bifurcation on a branch.
type BifurcationEvent =
    { Kind: BifurcationKind
      Branch: int
      Parameter: float
      /// [state]
      State: float[]
      /// The eigenvalue on the unit circle there (of a pair, the one with Im > 0).
      Eigenvalue: Complex
      /// Eigenvalues leaving the unit disc here as the branch is traced (negative: entering it).
      Crossing: int
      /// [state]: all eigenvalues there, sorted by modulus, descending.
      Eigenvalues: Complex[]
      /// The branches switched onto here.
      NewBranches: int[] }

/// The outcome of a continuation.
type ContinuationResult =
    { Parameter: ContinuationParameter
      Start: float
      End: float
      /// Fixed points the search found at `Start`.
      StartPoints: int
      Branches: ContinuationBranch[]
      Events: BifurcationEvent[]
      Elapsed: TimeSpan }

/// Pseudo-arclength continuation of fixed points (Keller 1977) in float64, with the kind's own step
/// and state Jacobian; bifurcations are located where the count of eigenvalues outside the unit
/// circle changes.
[<RequireQualifiedAccess>]
module Continuation =
    /// The name files and figures use.
    let kindName (kind: BifurcationKind) =
        match kind with
        | BifurcationKind.Fold -> "fold"
        | BifurcationKind.Pitchfork -> "pitchfork"
        | BifurcationKind.Transcritical -> "transcritical"
        | BifurcationKind.BranchPoint -> "branch-point"
        | BifurcationKind.Flip -> "flip"
        | BifurcationKind.NeimarkSacker -> "neimark-sacker"

    let endingName (ending: BranchEnding) =
        match ending with
        | BranchEnding.Range -> "range"
        | BranchEnding.Merged _ -> "merged"
        | BranchEnding.Closed -> "closed"
        | BranchEnding.MaxSteps -> "max-steps"
        | BranchEnding.StepTooSmall -> "step-too-small"

    /// The parameter that varies input `index` of `baseInput` (its value there is replaced by p).
    let inputComponent (baseInput: float[]) (index: int) : ContinuationParameter =
        if index < 0 || index >= baseInput.Length then
            Check.fail "input" (sprintf "expected an input index from 0 to %d, got %d" (baseInput.Length - 1) index)
        let b = Array.copy baseInput
        b[index] <- 0.0
        ContinuationParameter.Input(b, Array.init baseInput.Length (fun i -> if i = index then 1.0 else 0.0))

    /// The constant input at parameter p.
    let inputAt (parameter: ContinuationParameter) (p: float) : float[] =
        match parameter with
        | ContinuationParameter.Input (b, d) -> Array.map2 (fun bi di -> bi + p * di) b d
        | ContinuationParameter.RecurrentScale u -> Array.copy u

    // ---- dense float64 linear algebra on small systems ----

    /// Solves a x = b by Gaussian elimination with partial pivoting; None when a is singular.
    /// (PeriodTwo solves with it too.)
    let internal solve (a: float[][]) (b: float[]) : float[] option =
        let n = b.Length
        let m = Array.init n (fun i -> Array.append a[i] [| b[i] |])
        let mutable singular = false
        let scale = a |> Array.fold (fun s row -> row |> Array.fold (fun s v -> max s (abs v)) s) 0.0
        let mutable col = 0
        while not singular && col < n do
            let mutable pivot = col
            for r in col + 1 .. n - 1 do
                if abs (m[r][col]) > abs (m[pivot][col]) then pivot <- r
            if abs (m[pivot][col]) <= 1e-14 * max scale 1e-300 then singular <- true
            else
                let t = m[pivot]
                m[pivot] <- m[col]
                m[col] <- t
                let rowC = m[col]
                for r in col + 1 .. n - 1 do
                    let row = m[r]
                    let f = row[col] / rowC[col]
                    if f <> 0.0 then
                        for c in col .. n do
                            row[c] <- row[c] - f * rowC[c]
                col <- col + 1
        if singular then None
        else
            let x = Array.zeroCreate n
            for r in n - 1 .. -1 .. 0 do
                let mutable s = m[r][n]
                for c in r + 1 .. n - 1 do
                    s <- s - m[r][c] * x[c]
                x[r] <- s / m[r][r]
            if Array.forall Double.IsFinite x then Some x else None

    let internal dot (a: float[]) (b: float[]) = Array.fold2 (fun s x y -> s + x * y) 0.0 a b
    let internal norm (a: float[]) = sqrt (dot a a)
    let internal normalise (a: float[]) = let l = norm a in a |> Array.map (fun v -> v / l)
    let private axpy (alpha: float) (x: float[]) (y: float[]) = Array.map2 (fun xi yi -> yi + alpha * xi) x y

    /// Sorted as `FixedPoint.Eigenvalues`: modulus descending, then imaginary part descending.
    let private sortEigen (values: Complex[]) (vectors: Complex[][]) =
        let order = Array.init values.Length id |> Array.sortBy (fun i -> -values[i].Magnitude, -values[i].Imaginary)
        order |> Array.map (fun i -> values[i]), (if isNull vectors then null else order |> Array.map (fun i -> vectors[i]))

    /// The map at parameter p: F, its state Jacobian, dF/dp (central differences), eigenvalues
    /// (`PeriodTwo` steps and linearises with it too).
    type internal Evaluator(net64: Network, parameter: ContinuationParameter) =
        let n = Network.stateSize net64
        let kind = net64.Kind
        let recurrent =
            net64.Parameters
            |> List.filter (fun p -> match p.Spec.Role with Role.Recurrent | Role.RecurrentBlocks _ -> true | _ -> false)
            |> List.map (fun p -> p.Spec.Name)
            |> Set.ofList
        let weightsAt (p: float) : Weights =
            let w = Network.weights net64
            match parameter with
            | ContinuationParameter.Input _ -> w
            | ContinuationParameter.RecurrentScale _ ->
                let d = Collections.Generic.Dictionary<string, Tensor>()
                for KeyValue (name, t) in w do
                    d[name] <- if recurrent.Contains name then t * p else t
                d :> Weights
        let driveAt (w: Weights) (p: float) : Tensor =
            kind.InputDrive w (Arrays.toTensor Precision.Float64 [| 1L; int64 net64.Sizes.Inputs |] (inputAt parameter p)) // [1; drive]
        let state (x: float[]) = Arrays.toTensor Precision.Float64 [| 1L; int64 n |] x // [1; n]
        member _.Size = n
        member _.RecurrentNames = recurrent
        /// F(x, p).
        member _.Step(x: float[], p: float) : float[] =
            use _ = torch.NewDisposeScope()
            let w = weightsAt p
            Arrays.ofTensor (kind.Step w (state x) (driveAt w p))
        /// F(x, p) - x.
        member m.Residual(x: float[], p: float) : float[] = Array.map2 (-) (m.Step(x, p)) x
        /// dF/dp by central differences (exact enough for the corrector, whose residual is exact).
        member m.ParameterDerivative(x: float[], p: float) : float[] =
            let e = 1e-6 * max 1.0 (abs p)
            let a = m.Residual(x, p + e)
            let b = m.Residual(x, p - e)
            Array.map2 (fun ai bi -> (ai - bi) / (2.0 * e)) a b
        /// The state Jacobian dF/dx [n][n].
        member _.Jacobian(x: float[], p: float) : float[][] =
            use _ = torch.NewDisposeScope()
            let w = weightsAt p
            let j = Jacobian.ofStates kind w (state x) (driveAt w p) // [1; n; n]
            let flat = Arrays.ofTensor j
            Array.init n (fun i -> Array.sub flat (i * n) n)
        /// Eigenvalues (and right eigenvectors when asked) of J, sorted.
        member _.Eigen(j: float[][], withVectors: bool) : Complex[] * Complex[][] =
            use _ = torch.NewDisposeScope()
            let t = Arrays.matrixToTensor Precision.Float64 j // [n; n]
            if withVectors then
                let struct (values, vectors) = torch.linalg.eig t
                let vr, vi = Arrays.ofTensor (torch.real values), Arrays.ofTensor (torch.imag values)
                let er, ei = Arrays.ofTensor (torch.real vectors), Arrays.ofTensor (torch.imag vectors)
                let lambdas = Array.init n (fun i -> Complex(vr[i], vi[i]))
                let vecs = Array.init n (fun c -> Array.init n (fun r -> Complex(er[r * n + c], ei[r * n + c])))
                sortEigen lambdas vecs
            else
                let values = torch.linalg.eigvals t
                let vr, vi = Arrays.ofTensor (torch.real values), Arrays.ofTensor (torch.imag values)
                sortEigen (Array.init n (fun i -> Complex(vr[i], vi[i]))) null

    /// A point on a branch: y = [x; p], the unit tangent there, its eigenvalues.
    type private Point =
        { Y: float[]
          Tangent: float[]
          Eigenvalues: Complex[]
          /// Eigenvalues strictly outside the unit circle.
          Outside: int }

    let private outside (values: Complex[]) = values |> Array.filter (fun l -> l.Magnitude > 1.0) |> Array.length

    let private split (y: float[]) = Array.sub y 0 (y.Length - 1), y[y.Length - 1]

    /// The augmented Jacobian [[F_x - I, F_p]; [t']] ((n + 1) x (n + 1)).
    let private augmented (m: Evaluator) (x: float[]) (p: float) (t: float[]) =
        let j = m.Jacobian(x, p)
        let fp = m.ParameterDerivative(x, p)
        let n = x.Length
        let rows = Array.init n (fun i -> Array.init (n + 1) (fun c -> if c < n then j[i][c] - (if c = i then 1.0 else 0.0) else fp[i]))
        Array.append rows [| Array.copy t |], j

    /// The unit tangent at y, oriented along `previous` (t' previous > 0).
    let private tangentAt (m: Evaluator) (y: float[]) (previous: float[]) : (float[] * float[][]) option =
        let x, p = split y
        let a, j = augmented m x p previous
        let rhs = Array.init y.Length (fun i -> if i = y.Length - 1 then 1.0 else 0.0)
        solve a rhs |> Option.map (fun v -> normalise v, j)

    /// Newton on [F(x, p) - x; t'(y - y0) - s] from the predictor y0 + s t.
    let private correct (config: ContinuationConfig) (m: Evaluator) (y0: float[]) (t: float[]) (s: float) : (float[] * int) option =
        let mutable y = axpy s t y0
        let mutable result = None
        let mutable failed = false
        let mutable k = 0
        while result.IsNone && not failed && k < config.NewtonIterations do
            let x, p = split y
            let g = m.Residual(x, p)
            let arc = dot t (Array.map2 (-) y y0) - s
            if not (Array.forall Double.IsFinite g) then failed <- true
            elif norm g < config.Tolerance && abs arc < config.Tolerance then result <- Some(y, k)
            else
                let a, _ = augmented m x p t
                match solve a (Array.append (g |> Array.map (~-)) [| -arc |]) with
                | Some dy -> y <- Array.map2 (+) y dy
                | None -> failed <- true
            k <- k + 1
        if result.IsNone && not failed then
            let x, p = split y
            if norm (m.Residual(x, p)) < config.Tolerance then result <- Some(y, k)
        result

    /// Newton in x at a fixed parameter.
    let private correctAtParameter (config: ContinuationConfig) (m: Evaluator) (x0: float[]) (p: float) : float[] option =
        let mutable x = x0
        let mutable result = None
        let mutable failed = false
        let mutable k = 0
        while result.IsNone && not failed && k < config.NewtonIterations + 8 do
            let g = m.Residual(x, p)
            if not (Array.forall Double.IsFinite g) then failed <- true
            elif norm g < config.Tolerance then result <- Some x
            else
                let j = m.Jacobian(x, p)
                let a = j |> Array.mapi (fun i row -> row |> Array.mapi (fun c v -> v - (if c = i then 1.0 else 0.0)))
                match solve a (g |> Array.map (~-)) with
                | Some dx -> x <- Array.map2 (+) x dx
                | None -> failed <- true
            k <- k + 1
        result

    let private pointOf (m: Evaluator) (y: float[]) (tangent: float[]) (j: float[][]) : Point =
        let values, _ = m.Eigen(j, false)
        { Y = y; Tangent = tangent; Eigenvalues = values; Outside = outside values }

    /// The point at arclength s from a (along a's tangent), with its tangent.
    let private pointAlong (config: ContinuationConfig) (m: Evaluator) (a: Point) (s: float) : Point option =
        correct config m a.Y a.Tangent s
        |> Option.bind (fun (y, _) -> tangentAt m y a.Tangent |> Option.map (fun (t, j) -> pointOf m y t j))

    /// Bisection on the arclength from a (0) to b (sB) for the place where the count of eigenvalues
    /// outside the circle leaves a's: the last point with a's count and the first without.
    let private locate (config: ContinuationConfig) (m: Evaluator) (a: Point) (b: Point) (sB: float) : Point * Point =
        let mutable lo, hi = 0.0, sB
        let mutable pLo, pHi = a, b
        let mutable failed = false
        while not failed && hi - lo > config.LocateTolerance do
            let mid = 0.5 * (lo + hi)
            match pointAlong config m a mid with
            | Some q when q.Outside = a.Outside ->
                lo <- mid
                pLo <- q
            | Some q ->
                hi <- mid
                pHi <- q
            | None -> failed <- true
        pLo, pHi

    /// Real kernel directions of J - I: the real eigenvectors of eigenvalues within `tol` of 1.
    let private kernel (m: Evaluator) (j: float[][]) (tol: float) : float[][] =
        let values, vectors = m.Eigen(j, true)
        [| for i in 0 .. values.Length - 1 do
               if values[i].Imaginary = 0.0 && abs (values[i].Real - 1.0) < tol then
                   yield normalise (vectors[i] |> Array.map (fun c -> c.Real)) |]

    /// Second differences of the residual along each kernel direction and pair of them, projected on
    /// the kernel: all zero at a symmetric (pitchfork-type) branch point, whose normal form has no
    /// quadratic term.
    let private quadraticTermsVanish (m: Evaluator) (x: float[]) (p: float) (directions: float[][]) =
        let e = 1e-4
        let g0 = m.Residual(x, p)
        let second (v: float[]) =
            let a = m.Residual(axpy e v x, p)
            let b = m.Residual(axpy -e v x, p)
            Array.init x.Length (fun i -> (a[i] + b[i] - 2.0 * g0[i]) / (e * e))
        let dirs =
            [| yield! directions
               for i in 0 .. directions.Length - 1 do
                   for k in i + 1 .. directions.Length - 1 do
                       yield normalise (Array.map2 (+) directions[i] directions[k]) |]
        dirs |> Array.forall (fun v -> let d = second v in directions |> Array.forall (fun u -> abs (dot u d) < 1e-4))

    type private Trace =
        { Points: ResizeArray<Point>
          Parent: int
          mutable Ending: BranchEnding }

    /// Traces fixed points from those `FixedPoints.find` finds at `config.Start` to `config.End`.
    /// Raises `InvalidArgument` for a parameter, range or setting that cannot be used.
    let run (config: ContinuationConfig) (net: Network) (parameter: ContinuationParameter) : ContinuationResult =
        let stopwatch = Stopwatch.StartNew()
        let n = Network.stateSize net
        let inputs = net.Sizes.Inputs
        let checkVector name (v: float[]) =
            if isNull v || v.Length <> inputs then
                Check.fail name (sprintf "expected %d values (one per network input), got %d" inputs (if isNull v then 0 else v.Length))
            Check.allFinite name v
        match parameter with
        | ContinuationParameter.Input (b, d) ->
            checkVector "input" b
            checkVector "direction" d
            if norm d = 0.0 then Check.fail "direction" "expected a non-zero direction in input space"
        | ContinuationParameter.RecurrentScale u -> checkVector "input" u
        if not (Double.IsFinite config.Start && Double.IsFinite config.End) || config.Start = config.End then
            Check.fail "range" (sprintf "expected two different finite ends, got %g and %g" config.Start config.End)
        if not (config.MinStep > 0.0 && config.Step >= config.MinStep && config.MaxStep >= config.Step) then
            Check.fail "step" (sprintf "expected 0 < min step <= step <= max step, got %g, %g, %g" config.MinStep config.Step config.MaxStep)
        if config.MaxSteps < 1 then Check.fail "max_steps" "expected at least 1"
        if not (config.Tolerance > 0.0) then Check.fail "tolerance" "expected a number > 0"
        // One libtorch thread (one state at a time: small tensors), as the search's default.
        use _ = LibtorchThreads.lease 1
        use net64 = Network.toPrecision Precision.Float64 net
        let m = Evaluator(net64, parameter)
        match parameter with
        | ContinuationParameter.RecurrentScale _ when m.RecurrentNames.IsEmpty ->
            Check.fail "parameter" (sprintf "kind '%s' has no Role.Recurrent or Role.RecurrentBlocks parameter to scale" net.Kind.Name)
        | _ -> ()
        let lo, hi = min config.Start config.End, max config.Start config.End
        let towardEnd = if config.End > config.Start then 1.0 else -1.0
        // The start points: the search on the network at Start.
        let starts =
            let initial =
                match config.InitialStates with
                | Some s -> s
                | None -> InitialStates.uniformBox 1024 -1.0 1.0 n config.Seed
            let found =
                match parameter with
                | ContinuationParameter.Input _ ->
                    FixedPoints.find config.Search net64 (ConstantInput.Same(inputAt parameter config.Start)) initial
                | ContinuationParameter.RecurrentScale u ->
                    let values =
                        Network.values net64
                        |> List.map (fun (name, v) ->
                            let scaled =
                                if not (m.RecurrentNames.Contains name) then v
                                else
                                    match v with
                                    | ParameterValue.Matrix rows -> ParameterValue.Matrix(rows |> Array.map (Array.map (fun e -> e * config.Start)))
                                    | ParameterValue.Vector e -> ParameterValue.Vector(e |> Array.map (fun e -> e * config.Start))
                            name, scaled)
                        |> Map.ofList
                    use scaled = Network.ofValues net64.Kind { Network.config net64 with Constraints = Constraints.none; Precision = Precision.Float64 } values
                    FixedPoints.find config.Search scaled (ConstantInput.Same u) initial
            found.FixedPoints
            |> Array.choose (fun fp -> correctAtParameter config m fp.State config.Start)
            |> Array.map (fun x -> Array.append x [| config.Start |])
        let traces = ResizeArray<Trace>()
        let events = ResizeArray<BifurcationEvent>()
        let consumed = Array.zeroCreate<bool> starts.Length
        let inRange (p: float) = p >= lo - 1e-12 && p <= hi + 1e-12
        let distance (a: float[]) (b: float[]) = norm (Array.map2 (-) a b)
        let segmentDistance (a: float[]) (b: float[]) (y: float[]) =
            let ab = Array.map2 (-) b a
            let l2 = dot ab ab
            let f = if l2 = 0.0 then 0.0 else max 0.0 (min 1.0 (dot (Array.map2 (-) y a) ab / l2))
            distance (axpy f ab a) y
        // A branch point's second branch: the direction in the null space of [F_x - I, F_p] that is
        // orthogonal to the traced branch's tangent ((v, 0) for the kernel vector v, made orthogonal to t).
        let pending = Collections.Generic.Queue<float[] * float[] * int * int>() // y, tangent, parent, event
        /// Traces one branch from `first` (a point with its oriented tangent).
        let trace (first: Point) (parent: int) (startIndex: int) : Trace =
            let tr = { Points = ResizeArray [ first ]; Parent = parent; Ending = BranchEnding.MaxSteps }
            let id = traces.Count
            traces.Add tr
            let mutable ds = config.Step
            let mutable current = first
            let mutable finished = false
            let mutable steps = 0
            while not finished && steps < config.MaxSteps do
                steps <- steps + 1
                let next =
                    match correct config m current.Y current.Tangent ds with
                    | Some (y, iterations) ->
                        match tangentAt m y current.Tangent with
                        | Some (t, j) when dot t current.Tangent > 0.8 -> Some(y, t, j, iterations)
                        | _ -> None
                    | None -> None
                match next with
                | None ->
                    if ds <= config.MinStep then
                        tr.Ending <- BranchEnding.StepTooSmall
                        finished <- true
                    else ds <- max config.MinStep (ds * 0.5)
                | Some (y, t, j, iterations) ->
                    let _, p = split y
                    // Beyond the range: the point on its end instead, at the same parameter as the end.
                    let b, leaves =
                        if inRange p then pointOf m y t j, false
                        else
                            let a = current
                            let xa, pa = split a.Y
                            let xb, pb = split y
                            let bound = if p > hi then hi else lo
                            let f = (bound - pa) / (pb - pa)
                            let guess = Array.map2 (fun u v -> u + f * (v - u)) xa xb
                            match correctAtParameter config m guess bound with
                            | Some x ->
                                let yb = Array.append x [| bound |]
                                match tangentAt m yb a.Tangent with
                                | Some (tb, jb) -> pointOf m yb tb jb, true
                                | None -> pointOf m y t j, true
                            | None -> pointOf m y t j, true
                    let a = current
                    if b.Outside <> a.Outside then
                        let sB = dot a.Tangent (Array.map2 (-) b.Y a.Y)
                        let before, after = locate config m a b sB
                        // Where the count changes: the critical eigenvalue is the one nearest the circle.
                        let at = if abs (after.Eigenvalues |> Array.map (fun l -> abs (l.Magnitude - 1.0)) |> Array.min) < abs (before.Eigenvalues |> Array.map (fun l -> abs (l.Magnitude - 1.0)) |> Array.min) then after else before
                        let critical = at.Eigenvalues |> Array.minBy (fun l -> abs (l.Magnitude - 1.0), -l.Imaginary)
                        let x, p = split at.Y
                        let crossing = after.Outside - before.Outside
                        let turns = Math.Sign(a.Tangent[n]) <> Math.Sign(b.Tangent[n])
                        let kind, newBranches =
                            if critical.Imaginary <> 0.0 then BifurcationKind.NeimarkSacker, [||]
                            elif critical.Real < 0.0 then BifurcationKind.Flip, [||]
                            elif turns then BifurcationKind.Fold, [||]
                            else
                                let j = m.Jacobian(x, p)
                                let dirs = kernel m j 1e-4
                                if dirs.Length = 1 then
                                    // A simple branch point: the second branch's halves decide the kind.
                                    let v = Array.append dirs[0] [| 0.0 |]
                                    let t2 = normalise (axpy (-(dot v at.Tangent)) at.Tangent v)
                                    let h = config.Step
                                    let halves =
                                        [| for sign in [ 1.0; -1.0 ] do
                                               let t = t2 |> Array.map (fun e -> sign * e)
                                               match correct config m at.Y t h with
                                               | Some (y, _) -> yield y, t
                                               | None -> () |]
                                    let sides = halves |> Array.map (fun (y, _) -> y[n] - p)
                                    let kind =
                                        if sides.Length = 2 && sides[0] * sides[1] < 0.0 && abs sides[0] > 1e-9 && abs sides[1] > 1e-9 then BifurcationKind.Transcritical
                                        elif sides.Length = 2 then BifurcationKind.Pitchfork
                                        else BifurcationKind.BranchPoint
                                    if config.SwitchBranches then
                                        for (_, t) in halves do
                                            pending.Enqueue(at.Y, t, id, events.Count)
                                    kind, [||]
                                elif dirs.Length > 1 && quadraticTermsVanish m x p dirs then BifurcationKind.Pitchfork, [||]
                                else BifurcationKind.BranchPoint, [||]
                        if inRange p then
                            events.Add
                                { Kind = kind
                                  Branch = id
                                  Parameter = p
                                  State = x
                                  Eigenvalue = (if critical.Imaginary < 0.0 then Complex.Conjugate critical else critical)
                                  Crossing = crossing
                                  Eigenvalues = at.Eigenvalues
                                  NewBranches = newBranches }
                            // The located point belongs to the branch (the figures show it).
                            tr.Points.Add at
                    tr.Points.Add b
                    current <- b
                    if iterations <= 3 then ds <- min config.MaxStep (ds * 1.3)
                    let yb = b.Y
                    if leaves then
                        tr.Ending <- BranchEnding.Range
                        finished <- true
                        // Back at Start: the same branch as the start point there.
                        if abs (yb[n] - config.Start) < 1e-12 then
                            let hit = starts |> Array.tryFindIndex (fun s -> distance s yb < max config.MergeTolerance 1e-6)
                            match hit with
                            | Some k when k = startIndex -> tr.Ending <- BranchEnding.Closed
                            | Some k ->
                                consumed[k] <- true
                                tr.Ending <- BranchEnding.Merged k
                            | None -> ()
                    else
                        // Through a start point inside the range (or back to its own).
                        let hit =
                            starts
                            |> Array.tryFindIndex (fun s -> distance s yb < config.MergeTolerance)
                        match hit with
                        | Some k when k = startIndex && tr.Points.Count > 3 ->
                            tr.Ending <- BranchEnding.Closed
                            finished <- true
                        | Some k when k <> startIndex ->
                            consumed[k] <- true
                            tr.Ending <- BranchEnding.Merged k
                            finished <- true
                        | _ -> ()
            tr
        let startPoint (y: float[]) (orientation: float[]) : Point option =
            tangentAt m y orientation |> Option.map (fun (t, j) -> pointOf m y t j)
        let mutable i = 0
        while i < starts.Length && traces.Count < config.MaxBranches do
            if not consumed[i] then
                consumed[i] <- true
                let y = starts[i]
                let orientation = Array.init (n + 1) (fun k -> if k = n then towardEnd else 0.0)
                match startPoint y orientation with
                | Some first ->
                    // Along the range: a start point on a branch that turns before the end still goes
                    // the way the range goes first.
                    trace first -1 i |> ignore
                | None -> ()
            i <- i + 1
        // The second branches of branch points, each half traced away from the branch point.
        while pending.Count > 0 && traces.Count < config.MaxBranches do
            let y0, t0, parent, eventIndex = pending.Dequeue()
            match correct config m y0 t0 config.Step with
            | Some (y, _) ->
                // Already traced (from a start point, or as the other branch's half): y lies on one
                // of the traced polylines.
                let known =
                    traces
                    |> Seq.exists (fun tr ->
                        let ps = tr.Points
                        (ps.Count = 1 && distance ps[0].Y y < 0.25 * config.Step)
                        || Seq.exists (fun k -> segmentDistance ps[k - 1].Y ps[k].Y y < 0.25 * config.Step) (seq { 1 .. ps.Count - 1 }))
                if not known && inRange y[n] then
                    match startPoint y t0 with
                    | Some first ->
                        let id = traces.Count
                        trace first parent -1 |> ignore
                        let e = events[eventIndex]
                        events[eventIndex] <- { e with NewBranches = Array.append e.NewBranches [| id |] }
                    | None -> ()
            | None -> ()
        let tolerance = config.EigenTolerance
        let branches =
            traces.ToArray()
            |> Array.mapi (fun id tr ->
                let points = tr.Points.ToArray()
                let classified = points |> Array.map (fun q -> FixedPoints.classify tolerance q.Eigenvalues)
                { Id = id
                  Parent = tr.Parent
                  Parameter = points |> Array.map (fun q -> q.Y[n])
                  States = points |> Array.map (fun q -> Array.sub q.Y 0 n)
                  Eigenvalues = points |> Array.map (fun q -> q.Eigenvalues)
                  UnstableModes = classified |> Array.map (fun (u, _, _) -> u)
                  Stable = classified |> Array.map (fun (_, s, _) -> s)
                  Ending = tr.Ending })
        { Parameter = parameter
          Start = config.Start
          End = config.End
          StartPoints = starts.Length
          Branches = branches
          Events = events.ToArray() |> Array.sortBy (fun e -> e.Branch, e.Parameter)
          Elapsed = stopwatch.Elapsed }

    /// The fixed points on the traced branches at parameter p: where a branch crosses p (linear
    /// interpolation between its points, or a point at p itself), one per cluster within `tolerance`.
    let statesAt (tolerance: float) (result: ContinuationResult) (p: float) : float[][] =
        let found = ResizeArray<float[]>()
        let add (x: float[]) =
            if not (found.Exists(fun y -> sqrt (Array.fold2 (fun s a b -> s + (a - b) * (a - b)) 0.0 x y) <= tolerance)) then found.Add x
        for b in result.Branches do
            for k in 0 .. b.Parameter.Length - 1 do
                if b.Parameter[k] = p then add b.States[k]
                elif k > 0 then
                    let p0, p1 = b.Parameter[k - 1], b.Parameter[k]
                    if (p0 - p) * (p1 - p) < 0.0 then
                        let f = (p - p0) / (p1 - p0)
                        add (Array.map2 (fun u v -> u + f * (v - u)) b.States[k - 1] b.States[k])
        found.ToArray()
