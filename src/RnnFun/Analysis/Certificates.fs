namespace RnnFun

open System
open TorchSharp

/// A fixed point's certificate: a proof, in interval arithmetic, that exactly one fixed point lies
/// in the box of half-width `Radius` (max-norm) around the state, and that it lies within
/// `ErrorBound` of the state; or why no proof was found.
[<RequireQualifiedAccess>]
type Certificate =
    /// Unique fixed point in state + [-radius, radius]^n, within errorBound of the state (max-norm).
    | Certified of radius: float * errorBound: float
    | NotCertified of reason: string

/// Settings of the certificates (`Certificates.ofStates`, `FixedPointConfig.Certify`).
type CertificateConfig =
    { /// The largest box tried (half-width, max-norm): the search for the uniqueness radius stops there.
      MaxRadius: float
      /// Bisection steps between the largest box that passed and the smallest that failed (ten times
      /// larger): 10 give the radius to about 1%.
      RefineSteps: int }

    static member defaults = { MaxRadius = 1.0; RefineSteps = 10 }

/// One Krawczyk test on the box X = c + [-r, r]^n: K(X) = c - Y G(c) + (I - Y J_G(X)) (X - c),
/// with Y an approximate inverse of G's Jacobian at c and J_G(X) an interval enclosure of the
/// Jacobian over X. K(X) inside the interior of X proves that G has exactly one zero in X, and that
/// it lies in K(X).
type KrawczykTest =
    { Radius: float
      /// K(X) lies strictly inside X.
      Contained: bool
      /// Bound on max_i |K_i - c_i| (rounded up): the zero lies within it of c when Contained.
      Inclusion: float
      /// The largest row sum of |I - Y J_G(X)| (below 1 is needed for a box of any size).
      Contraction: float }

/// Interval-Newton (Krawczyk) certificates for fixed points of the rnn, ctrnn and gated kinds, in float64
/// with outward rounding (`Interval`). The rnn's fixed points are the zeros of
/// G(x) = tanh(W x + d) - x, the ctrnn's those of G(h) = W tanh(h) + d - h (F(h) - h divided by
/// alpha: the same zeros, better scaled), with d = W_in u + b_rec (+ b_in) enclosed in intervals from
/// the network's effective weights (float64 copies of the stored values, exact); the gated kinds'
/// equations are in `GatedSystems` (gru, lstm, ugrnn). Other kinds get
/// `NotCertified "kind ... not supported"`.
[<RequireQualifiedAccess>]
module Certificates =
    type private Form =
        | Discrete
        | Continuous

    /// The system a kind's fixed points solve, as plain data: W [n][n] and the drive per input.
    type private System =
        { Form: Form
          W: float[][]
          WIn: float[][]
          Bias: float[]
          /// b_in when present: added to the drive as an interval too.
          InputBias: float[] option }

    /// The network's system, or why it has none.
    let private systemOf (net: Network) : Result<System, string> =
        let unsupported = Error(sprintf "kind '%s' not supported (certificates cover the rnn, ctrnn, gru, lstm and ugrnn kinds with their built-in step)" net.Kind.Name)
        match Network.handWrittenNames net with
        | Some ((FusedRecurrence.Rnn | FusedRecurrence.Ctrnn _) as r, recurrent, _) ->
            let values = Network.values net |> Map.ofList
            let matrix name = match values.TryFind name with Some (ParameterValue.Matrix m) -> Some m | _ -> None
            let vector name = match values.TryFind name with Some (ParameterValue.Vector v) -> Some v | _ -> None
            match matrix recurrent, matrix "w_in", vector "b_rec" with
            | Some w, Some wIn, Some b when wIn.Length = w.Length && b.Length = w.Length ->
                let system =
                    { Form = (match r with FusedRecurrence.Rnn -> Discrete | _ -> Continuous)
                      W = w
                      WIn = wIn
                      Bias = b
                      InputBias = vector "b_in" }
                // The drive must be the kind's own: W_in u + b_rec (+ b_in), checked at a probe input.
                use _ = torch.NewDisposeScope()
                use net64 = Network.toPrecision Precision.Float64 net
                let m = net.Sizes.Inputs
                let probe = Array.init m (fun j -> 0.5 + 0.25 * float j)
                let kindDrive = Arrays.ofTensor (net64.Kind.InputDrive (Network.weights net64) (Arrays.matrixToTensor Precision.Float64 [| probe |])) // [drive]
                let ours =
                    Array.init w.Length (fun i ->
                        Array.fold2 (fun acc a x -> acc + a * x) 0.0 wIn[i] probe + b[i] + (match system.InputBias with Some bi -> bi[i] | None -> 0.0))
                if kindDrive.Length = ours.Length && Array.forall2 (fun (a: float) b -> abs (a - b) <= 1e-9 * (1.0 + abs b)) kindDrive ours then Ok system
                else Error(sprintf "kind '%s' not supported: its input drive is not W_in u + b_rec (+ b_in)" net.Kind.Name)
            | _ -> unsupported
        | _ -> unsupported

    /// d = W_in u + b_rec (+ b_in), enclosed.
    let private driveOf (s: System) (u: float[]) : Interval[] =
        Array.init s.W.Length (fun i ->
            let mutable acc = Interval.point (s.Bias[i])
            for j in 0 .. u.Length - 1 do acc <- Interval.add acc (Interval.scale (s.WIn[i][j]) (Interval.point (u[j])))
            match s.InputBias with
            | Some bi -> Interval.add acc (Interval.point (bi[i]))
            | None -> acc)

    /// W X + d (intervals), row by row.
    let private affine (w: float[][]) (x: Interval[]) (d: Interval[]) : Interval[] =
        Array.init w.Length (fun i ->
            let mutable acc = d[i]
            let row = w[i]
            for j in 0 .. x.Length - 1 do acc <- Interval.add acc (Interval.scale (row[j]) (x[j]))
            acc)

    /// G over a box (intervals).
    let private residual (s: System) (x: Interval[]) (d: Interval[]) : Interval[] =
        match s.Form with
        | Discrete -> Array.map2 (fun z xi -> Interval.sub (Interval.tanh z) xi) (affine s.W x d) x
        | Continuous -> Array.map2 (fun z xi -> Interval.sub z xi) (affine s.W (Array.map Interval.tanh x) d) x

    /// The slopes S over a box, for J_G = diag(S) W - I (rnn) or W diag(S) - I (ctrnn).
    let private slopes (s: System) (x: Interval[]) (d: Interval[]) : Interval[] =
        match s.Form with
        | Discrete -> affine s.W x d |> Array.map Interval.tanhDerivative
        | Continuous -> x |> Array.map Interval.tanhDerivative

    /// G's Jacobian at a point, in plain float64 (for the approximate inverse Y only).
    let private jacobianAt (s: System) (c: float[]) (d: Interval[]) : float[][] =
        let n = c.Length
        let mid (i: Interval) = 0.5 * (i.Lo + i.Hi)
        let sl = slopes s (Array.map Interval.point c) d |> Array.map mid
        Array.init n (fun i ->
            Array.init n (fun j ->
                let v = match s.Form with Discrete -> sl[i] * s.W[i][j] | Continuous -> s.W[i][j] * sl[j]
                if i = j then v - 1.0 else v))

    /// The Krawczyk test on c + [-r, r]^n with the approximate inverse y and -Y G(c) enclosed in yg.
    let private test (s: System) (c: float[]) (d: Interval[]) (y: float[][]) (yg: Interval[]) (r: float) : KrawczykTest =
        let n = c.Length
        let box = c |> Array.map (fun ci -> Interval.around ci r)
        let sl = slopes s box d
        // M = I - Y J_G(X) = I + Y - Y diag(S) W (rnn) or I + Y - Y W diag(S) (ctrnn).
        let rowSums =
            Array.init n (fun i ->
                let yi = y[i]
                let mutable total = 0.0
                // (Y diag(S) W)_ij = sum_k Y_ik S_k W_kj; (Y W diag(S))_ij = (sum_k Y_ik W_kj) S_j.
                let yds = match s.Form with Discrete -> Array.init n (fun k -> Interval.scale (yi[k]) (sl[k])) | Continuous -> [||]
                for j in 0 .. n - 1 do
                    let product =
                        match s.Form with
                        | Discrete ->
                            let mutable acc = Interval.point 0.0
                            for k in 0 .. n - 1 do acc <- Interval.add acc (Interval.scale (s.W[k][j]) (yds[k]))
                            acc
                        | Continuous ->
                            let mutable acc = Interval.point 0.0
                            for k in 0 .. n - 1 do acc <- Interval.add acc (Interval.scale (s.W[k][j]) (Interval.point (yi[k])))
                            Interval.mul acc (sl[j])
                    let diagonal = (if i = j then 1.0 else 0.0)
                    let entry = Interval.sub (Interval.add (Interval.point diagonal) (Interval.point (yi[j]))) product
                    total <- Math.BitIncrement(total + Interval.magnitude entry)
                total)
        let inclusion, contained =
            Array.init n (fun i ->
                let spread = Math.BitIncrement(rowSums[i] * r)
                let lo = Math.BitDecrement(yg[i].Lo - spread)
                let hi = Math.BitIncrement(yg[i].Hi + spread)
                max (abs lo) (abs hi), (lo > -r && hi < r))
            |> fun parts -> (parts |> Array.map fst |> Array.fold max 0.0), (parts |> Array.forall snd)
        { Radius = r; Contained = contained; Inclusion = inclusion; Contraction = Array.fold max 0.0 rowSums }

    /// What one point needs: Y and -Y G(c), or why they cannot be formed.
    let private prepare (s: System) (state: float[]) (input: float[]) =
        let d = driveOf s input
        let g = residual s (Array.map Interval.point state) d
        let jac = jacobianAt s state d
        match DenseMatrix.inverse jac with
        | None -> Error "the Jacobian of F(x) - x at the point is singular (an eigenvalue 1: a marginal point)"
        | Some y ->
            // -Y G(c), enclosed.
            let yg = Array.init state.Length (fun i -> Interval.neg (Interval.sum (Seq.init state.Length (fun k -> Interval.scale (y[i][k]) (g[k])))))
            Ok(d, y, yg)

    let private checkPoint (net: Network) (state: float[]) (input: float[]) =
        if isNull state || state.Length <> Network.stateSize net then
            Check.fail "state" (sprintf "expected %d values (the network's state), got %d" (Network.stateSize net) (if isNull state then 0 else state.Length))
        if isNull input || input.Length <> net.Sizes.Inputs then
            Check.fail "input" (sprintf "expected %d values (one per input), got %d" net.Sizes.Inputs (if isNull input then 0 else input.Length))
        Check.allFinite "state" state
        Check.allFinite "input" input

    /// One point ready for Krawczyk tests: the test at a radius, and the Newton step's size max |Y G(c)|.
    type private Prepared =
        { Test: float -> KrawczykTest
          Step: float }

    let private prepareVanilla (s: System) (state: float[]) (input: float[]) : Result<Prepared, string> =
        prepare s state input
        |> Result.map (fun (d, y, yg) ->
            { Test = test s state d y yg
              Step = yg |> Array.fold (fun acc i -> max acc (Interval.magnitude i)) 0.0 })

    let private certifyOne (config: CertificateConfig) (prepareAt: float[] -> float[] -> Result<Prepared, string>) (state: float[]) (input: float[]) : Certificate =
        if not (Array.forall Double.IsFinite state) then Certificate.NotCertified "the state is not finite"
        else
        match prepareAt state input with
        | Error reason -> Certificate.NotCertified reason
        | Ok prepared ->
            let test = prepared.Test
            let scale = 1.0 + (state |> Array.fold (fun acc v -> max acc (abs v)) 0.0)
            let step = prepared.Step
            // The smallest box: a few times the Newton step (the point's distance to the zero), and
            // no smaller than what float64 resolves.
            let first = min config.MaxRadius (max (4.0 * step) (1e-13 * scale))
            let rec smallest (r: float) (tries: int) =
                let t = test r
                if t.Contained then Ok t
                elif tries = 0 || r * 10.0 > config.MaxRadius then Error t
                else smallest (r * 10.0) (tries - 1)
            match smallest first 3 with
            | Error t when t.Contraction >= 1.0 && step < 1e-8 * scale ->
                Certificate.NotCertified(sprintf "I - Y J(X) does not contract even on a box of radius %.3g (largest row sum %.3g): the Jacobian of F(x) - x is singular or nearly so at the point (an eigenvalue near 1)" t.Radius t.Contraction)
            | Error t ->
                Certificate.NotCertified(sprintf "the Krawczyk test fails on every box up to radius %.3g: the state is not a zero of F(x) - x to working precision (Newton step %.3g)" t.Radius step)
            | Ok tight ->
                // The uniqueness radius: grow the box tenfold while the test passes, then bisect.
                let mutable pass, fail = tight.Radius, nan
                while Double.IsNaN fail && pass < config.MaxRadius do
                    let r = min config.MaxRadius (pass * 10.0)
                    if (test r).Contained then pass <- r else fail <- r
                if not (Double.IsNaN fail) then
                    for _ in 1 .. config.RefineSteps do
                        let r = 0.5 * (pass + fail)
                        if (test r).Contained then pass <- r else fail <- r
                Certificate.Certified(pass, tight.Inclusion)

    /// The network's certifiable system: the vanilla kinds' (rnn, ctrnn) or the gated kinds'
    /// (`GatedSystems`: gru, lstm, ugrnn), each as the function that prepares one point.
    let private solverOf (net: Network) : Result<float[] -> float[] -> Result<Prepared, string>, string> =
        match systemOf net with
        | Ok s -> Ok(prepareVanilla s)
        | Error vanillaReason ->
            match GatedSystems.ofNetwork net with
            | Some (Ok g) ->
                Ok(fun state input ->
                    GatedSystems.prepare g state input
                    |> Result.map (fun (test, step) ->
                        { Test =
                            fun r ->
                                let t = test r
                                { Radius = r; Contained = t.Contained; Inclusion = t.Inclusion; Contraction = t.Contraction }
                          Step = step }))
            | Some (Error reason) -> Error reason
            | None -> Error vanillaReason

    /// The Krawczyk test on the box state + [-radius, radius]^n under the constant input: whether it
    /// proves one fixed point there. `InvalidArgument` for a kind without certificates, a state or
    /// input of the wrong size, or a radius not > 0.
    let krawczyk (net: Network) (state: float[]) (input: float[]) (radius: float) : KrawczykTest =
        checkPoint net state input
        if not (radius > 0.0 && Double.IsFinite radius) then Check.fail "radius" (sprintf "expected a number > 0, got %g" radius)
        match solverOf net with
        | Error reason -> Check.fail "kind" reason
        | Ok prepareAt ->
            match prepareAt state input with
            | Error _ -> { Radius = radius; Contained = false; Inclusion = infinity; Contraction = infinity }
            | Ok prepared -> prepared.Test radius

    /// A certificate per state [k][state] under its constant input [k][inputs] (the network's float64
    /// weights). Kinds other than the built-in five get `NotCertified` with the reason. `InvalidArgument`
    /// for a state or input of the wrong size, or bad settings.
    let ofStates (config: CertificateConfig) (net: Network) (states: float[][]) (inputs: float[][]) : Certificate[] =
        if not (config.MaxRadius > 0.0 && Double.IsFinite config.MaxRadius) then Check.fail "max_radius" (sprintf "expected a number > 0, got %g" config.MaxRadius)
        if config.RefineSteps < 0 then Check.fail "refine_steps" (sprintf "expected a number >= 0, got %d" config.RefineSteps)
        if isNull states || isNull inputs || states.Length <> inputs.Length then Check.fail "inputs" "expected one input per state"
        Array.iter2 (checkPoint net) states inputs
        if states.Length = 0 then [||]
        else
            match solverOf net with
            | Error reason -> Array.create states.Length (Certificate.NotCertified reason)
            | Ok prepareAt -> Array.map2 (certifyOne config prepareAt) states inputs

    /// The certificate as one line: "certified: unique within 0.42, error <= 3.1e-16" or
    /// "not certified: <reason>".
    let describe (c: Certificate) : string =
        match c with
        | Certificate.Certified (radius, error) -> sprintf "certified: unique within %.3g (max-norm), error <= %.3g" radius error
        | Certificate.NotCertified reason -> "not certified: " + reason
