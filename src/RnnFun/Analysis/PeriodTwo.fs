namespace RnnFun

open System
open System.Numerics
open TorchSharp

/// A traced branch of period-2 orbits {x, F(x)}, born at a flip (period doubling) of a fixed-point
/// branch: one entry per point, in the order traced.
type PeriodTwoBranch =
    { /// The fixed-point branch whose flip it starts from (`BifurcationEvent.Branch`).
      FromBranch: int
      /// The flip's parameter value and state.
      FlipParameter: float
      FlipState: float[]
      Parameter: float[]
      /// One point x of each orbit [points][state]: a fixed point of F o F.
      States: float[][]
      /// The other point F(x) of each orbit [points][state].
      Partners: float[][]
      /// The orbit's multipliers: eigenvalues of D(F o F) at x = DF(F(x)) DF(x), sorted by modulus
      /// descending.
      Multipliers: Complex[][]
      /// Every multiplier inside the unit circle (by `ContinuationConfig.EigenTolerance`).
      Stable: bool[]
      Ending: BranchEnding }

/// Continuation of the period-2 orbit after a flip: the fixed points of the map applied twice,
/// G(x, p) = F(F(x, p), p) - x, traced by pseudo-arclength from the flip point. At a flip of x* (an
/// eigenvalue -1 with eigenvector v) the orbit's branch leaves (x*, p*) along (v, 0) in (state,
/// parameter): the predictor steps along v, Newton corrects on [G; t'(y - y0) - s], and from then on
/// the branch is traced as `Continuation.run` traces fixed points (step control, the same settings).
[<RequireQualifiedAccess>]
module PeriodTwo =
    let private dot = Continuation.dot
    let private norm = Continuation.norm
    let private normalise = Continuation.normalise
    let private solve = Continuation.solve

    let private matmul (a: float[][]) (b: float[][]) =
        let n = a.Length
        Array.init n (fun i -> Array.init n (fun j -> Seq.sum (seq { for k in 0 .. n - 1 -> a[i][k] * b[k][j] })))

    let private eigen (withVectors: bool) (j: float[][]) : Complex[] * Complex[][] =
        use _ = torch.NewDisposeScope()
        let n = j.Length
        let t = Arrays.matrixToTensor Precision.Float64 j // [n; n]
        let struct (values, vectors) = torch.linalg.eig t
        let vr, vi = Arrays.ofTensor (torch.real values), Arrays.ofTensor (torch.imag values)
        let er, ei = Arrays.ofTensor (torch.real vectors), Arrays.ofTensor (torch.imag vectors)
        let lambdas = Array.init n (fun i -> Complex(vr[i], vi[i]))
        let vecs = if withVectors then Array.init n (fun c -> Array.init n (fun r -> Complex(er[r * n + c], ei[r * n + c]))) else [||]
        let order = Array.init n id |> Array.sortBy (fun i -> -lambdas[i].Magnitude, -lambdas[i].Imaginary)
        order |> Array.map (fun i -> lambdas[i]), (if withVectors then order |> Array.map (fun i -> vecs[i]) else [||])

    /// Traces the period-2 orbit born at `flip` (a `BifurcationKind.Flip` event of `Continuation.run`
    /// with the same network and parameter) onto the side of the parameter where the orbit exists,
    /// within [Start, End]; `config`'s step, tolerance and iteration settings apply. The first entry
    /// is the flip point itself (the orbit's limit, x = F(x) = x*). The branch
    /// ends at an end of the range, after `MaxSteps`, when the corrector fails at the smallest step,
    /// or where the orbit collapses onto a fixed point (||F(x) - x|| below 1e-6: another flip;
    /// `BranchEnding.Merged` with the flip's branch). `InvalidArgument` for an event that is not a
    /// flip or a state of the wrong size.
    let trace (config: ContinuationConfig) (net: Network) (parameter: ContinuationParameter) (flip: BifurcationEvent) : PeriodTwoBranch =
        if flip.Kind <> BifurcationKind.Flip then Check.fail "event" (sprintf "expected a flip, got a %s" (Continuation.kindName flip.Kind))
        let n = Network.stateSize net
        if isNull flip.State || flip.State.Length <> n then Check.fail "event" (sprintf "expected a state of %d values, got %d" n (if isNull flip.State then 0 else flip.State.Length))
        if not (config.MinStep > 0.0 && config.Step >= config.MinStep && config.MaxStep >= config.Step) then
            Check.fail "step" (sprintf "expected 0 < min step <= step <= max step, got %g, %g, %g" config.MinStep config.Step config.MaxStep)
        use _ = LibtorchThreads.lease 1
        use net64 = Network.toPrecision Precision.Float64 net
        let m = Continuation.Evaluator(net64, parameter)
        let lo, hi = min config.Start config.End, max config.Start config.End
        let split (y: float[]) = Array.sub y 0 n, y[n]
        // G = F(F(x)) - x and its augmented Jacobian [[DF(F x) DF(x) - I, G_p]; [t']].
        let g (x: float[]) (p: float) = let fx = m.Step(x, p) in Array.map2 (-) (m.Step(fx, p)) x
        let dg (x: float[]) (p: float) = let fx = m.Step(x, p) in matmul (m.Jacobian(fx, p)) (m.Jacobian(x, p))
        let augmented (y: float[]) (t: float[]) =
            let x, p = split y
            let d = dg x p
            let e = 1e-6 * max 1.0 (abs p)
            let gp = Array.map2 (fun a b -> (a - b) / (2.0 * e)) (g x (p + e)) (g x (p - e))
            Array.append (Array.init n (fun i -> Array.init (n + 1) (fun c -> if c < n then d[i][c] - (if c = i then 1.0 else 0.0) else gp[i]))) [| Array.copy t |]
        let correct (y0: float[]) (t: float[]) (s: float) =
            let mutable y = Array.map2 (fun a b -> a + s * b) y0 t
            let mutable result = None
            let mutable failed = false
            let mutable k = 0
            while result.IsNone && not failed && k < config.NewtonIterations do
                let x, p = split y
                let r = g x p
                let arc = dot t (Array.map2 (-) y y0) - s
                if not (Array.forall Double.IsFinite r) then failed <- true
                elif norm r < config.Tolerance && abs arc < config.Tolerance then result <- Some(y, k)
                else
                    match solve (augmented y t) (Array.append (r |> Array.map (~-)) [| -arc |]) with
                    | Some dy -> y <- Array.map2 (+) y dy
                    | None -> failed <- true
                k <- k + 1
            result
        let tangentAt (y: float[]) (previous: float[]) =
            solve (augmented y previous) (Array.init (n + 1) (fun i -> if i = n then 1.0 else 0.0)) |> Option.map normalise
        // The flip's eigenvector: the real eigenvector of DF at x* with the eigenvalue nearest -1.
        let jStar = m.Jacobian(flip.State, flip.Parameter)
        let values, vectors = eigen true jStar
        let k = Array.init n id |> Array.minBy (fun i -> (values[i] + Complex.One).Magnitude)
        if (values[k] + Complex.One).Magnitude > 1e-3 || abs values[k].Imaginary > 1e-9 then
            Check.fail "event" (sprintf "the map has no eigenvalue -1 at the flip's state (nearest %.4g%+.4gi)" values[k].Real values[k].Imaginary)
        let v = normalise (vectors[k] |> Array.map (fun c -> c.Real))
        let y0 = Array.append flip.State [| flip.Parameter |]
        // Off the fixed-point branch: a first step of a few MinSteps' worth that the corrector keeps
        // away from x* (a point with F(x) = x is the fixed branch, not the orbit).
        let tangent0 = Array.append v [| 0.0 |]
        let isOrbit (y: float[]) = let x, p = split y in norm (Array.map2 (-) (m.Step(x, p)) x) > 1e-6
        let first =
            [ config.Step; config.Step / 4.0; config.Step / 16.0; config.Step * 4.0 ]
            |> List.tryPick (fun s -> correct y0 tangent0 s |> Option.filter (fst >> isOrbit) |> Option.map fst)
        let points = ResizeArray<float[]>()
        let mutable ending = BranchEnding.StepTooSmall
        match first with
        | None -> ()
        | Some y1 ->
            points.Add y0
            points.Add y1
            let towardY1 = Array.map2 (-) y1 y0
            let mutable t = match tangentAt y1 towardY1 with Some t -> t | None -> normalise towardY1
            let mutable y = y1
            let mutable step = config.Step
            let mutable go = true
            let mutable steps = 0
            while go do
                steps <- steps + 1
                if steps > config.MaxSteps then
                    ending <- BranchEnding.MaxSteps
                    go <- false
                else
                    match correct y t step with
                    | Some (next, iterations) ->
                        let _, p = split next
                        if p < lo || p > hi then
                            // Past the range's end: shorter steps up to it.
                            step <- step / 2.0
                            if step < max config.MinStep 1e-6 then
                                ending <- BranchEnding.Range
                                go <- false
                        elif not (isOrbit next) then
                            ending <- BranchEnding.Merged flip.Branch
                            go <- false
                        else
                            let nt = match tangentAt next t with Some nt -> nt | None -> t
                            points.Add next
                            y <- next
                            t <- nt
                            if iterations <= 3 then step <- min config.MaxStep (step * 1.3)
                    | None ->
                        step <- step / 2.0
                        if step < config.MinStep then
                            ending <- BranchEnding.StepTooSmall
                            go <- false
        let states = points.ToArray() |> Array.map (fun y -> fst (split y))
        let parameters = points.ToArray() |> Array.map (fun y -> snd (split y))
        let multipliers = Array.map2 (fun x p -> fst (eigen false (dg x p))) states parameters
        { FromBranch = flip.Branch
          FlipParameter = flip.Parameter
          FlipState = Array.copy flip.State
          Parameter = parameters
          States = states
          Partners = Array.map2 (fun x p -> m.Step(x, p)) states parameters
          Multipliers = multipliers
          Stable = multipliers |> Array.map (fun ls -> ls |> Array.forall (fun l -> l.Magnitude < 1.0 - config.EigenTolerance))
          Ending = ending }

    /// The period-2 branches of every flip of a continuation (`Continuation.run` with the same
    /// config, network and parameter).
    let ofContinuation (config: ContinuationConfig) (net: Network) (result: ContinuationResult) : PeriodTwoBranch[] =
        result.Events |> Array.filter (fun e -> e.Kind = BifurcationKind.Flip) |> Array.map (trace config net result.Parameter)
