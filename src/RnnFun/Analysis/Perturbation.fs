namespace RnnFun

open System
open System.Numerics
open TorchSharp

/// Along what a perturbation check pushes the state.
[<RequireQualifiedAccess>]
type PushDirection =
    /// The mode's right eigenvector (its real direction, as `FixedPoints.directions` gives it).
    | Right
    /// The mode's left eigenvector (selection vector), its real direction normalised.
    | Left
    /// An unstable mode's right eigenvector, in both signs (+1 and -1): where the flow leaves.
    | Unstable of sign: float

/// One push from a fixed point and how well the linearisation predicted where it went.
type PushCheck =
    { /// The mode (index among the point's eigenvalues).
      Mode: int
      Eigenvalue: Complex
      Direction: PushDirection
      /// The unit vector pushed along [state]; the push is Epsilon times it.
      Vector: float[]
      /// The steps k checked (`PerturbationConfig.Steps`).
      Steps: int[]
      /// ||x_k - x*|| of the network, per k.
      Actual: float[]
      /// ||J^k delta||, the linearisation's prediction, per k.
      Predicted: float[]
      /// ||(x_k - x*) - J^k delta|| / ||J^k delta||, per k.
      RelativeError: float[]
      /// max(0, 1 - RelativeError), per k: 1 where the linearisation is exact, 0 where its error is
      /// as large as its prediction.
      Validity: float[] }

/// Settings of `Perturbation.check`.
type PerturbationConfig =
    { /// The push's size (2-norm) in state units.
      Epsilon: float
      /// The steps after which the network's state is compared with the prediction.
      Steps: int[]
      /// At most this many modes, slowest first (eigenvalues nearest 1 in modulus); the unstable ones
      /// are always pushed along.
      Modes: int }

    static member defaults = { Epsilon = 1e-2; Steps = [| 1; 2; 5; 10; 20 |]; Modes = 3 }

/// The outcome of `Perturbation.check` at one point.
type PerturbationResult =
    { PointId: int
      Epsilon: float
      Pushes: PushCheck[] }

/// Perturbation checks of a linearisation: from a fixed point x*, push the state by delta (along a
/// right eigenvector, a left eigenvector, an unstable direction), run the network k steps under the
/// point's constant input, and score its displacement x_k - x* against the linear prediction J^k delta.
[<RequireQualifiedAccess>]
module Perturbation =
    let private unit (v: float[]) =
        let norm = sqrt (Array.sumBy (fun x -> x * x) v)
        if norm > 0.0 && Double.IsFinite norm then Some(v |> Array.map (fun x -> x / norm)) else None

    /// The real direction of a complex vector: its real part, or for the second of a conjugate pair
    /// (negative imaginary part of the eigenvalue) its imaginary part, as `FixedPoints.directions`.
    let private realDirection (eigenvalue: Complex) (v: Complex[]) =
        let re = v |> Array.map (fun c -> c.Real)
        let im = v |> Array.map (fun c -> c.Imaginary)
        let first, second = if eigenvalue.Imaginary < 0.0 then im, re else re, im
        unit first |> Option.orElse (unit second)

    let private matVec (m: float[][]) (v: float[]) = m |> Array.map (fun row -> Array.fold2 (fun acc a b -> acc + a * b) 0.0 row v)

    /// The checks at one linearised point (`FixedPoint.Linearisation`; `FixedPoints.analyse` gives one
    /// to a point read from a file), in the network's float64 copy. `InvalidArgument` for a point
    /// without a linearisation, a state of the wrong size, or bad settings.
    let check (config: PerturbationConfig) (net: Network) (point: FixedPoint) : PerturbationResult =
        if not (config.Epsilon > 0.0 && Double.IsFinite config.Epsilon) then Check.fail "epsilon" (sprintf "expected a number > 0, got %g" config.Epsilon)
        if isNull config.Steps || config.Steps.Length = 0 || config.Steps |> Array.exists (fun k -> k < 1) then
            Check.fail "steps" "expected at least one step count, each >= 1"
        if config.Modes < 0 then Check.fail "modes" (sprintf "expected a number >= 0, got %d" config.Modes)
        let n = Network.stateSize net
        if isNull point.State || point.State.Length <> n then Check.fail "fixed_point" (sprintf "expected a state of %d values, got %d" n (if isNull point.State then 0 else point.State.Length))
        let lin =
            match point.Linearisation with
            | Some l when l.Jacobian.Length = n && l.Eigenvectors.Length = point.Eigenvalues.Length -> l
            | _ -> Check.fail "fixed_point" (sprintf "fixed point %d has no linearisation (a point read from a file: run FixedPoints.analyse on it first)" point.Id)
        let modes = point.Eigenvalues.Length
        let slowest =
            Array.init modes id
            |> Array.sortBy (fun i -> abs (point.Eigenvalues[i].Magnitude - 1.0), i)
            |> Array.truncate config.Modes
            |> Array.sort
        let hasLeft = lin.LeftEigenvectors.Length = modes
        let pushes =
            [| for i in slowest do
                   match realDirection (point.Eigenvalues[i]) (lin.Eigenvectors[i]) with
                   | Some v -> yield i, PushDirection.Right, v
                   | None -> ()
                   if hasLeft then
                       match realDirection (point.Eigenvalues[i]) (lin.LeftEigenvectors[i]) with
                       | Some v -> yield i, PushDirection.Left, v
                       | None -> ()
               for i in 0 .. modes - 1 do
                   if point.Eigenvalues[i].Magnitude > 1.0 + 1e-12 then
                       match realDirection (point.Eigenvalues[i]) (lin.Eigenvectors[i]) with
                       | Some v ->
                           yield i, PushDirection.Unstable 1.0, v
                           yield i, PushDirection.Unstable -1.0, (v |> Array.map (fun x -> -x))
                       | None -> () |]
        let kMax = Array.max config.Steps
        let p = pushes.Length
        // The network's trajectories from every push at once: [pushes][steps 1..kMax][state].
        let actual =
            if p = 0 then [||]
            else
                use _ = torch.NewDisposeScope()
                use net64 = Network.toPrecision Precision.Float64 net
                let w = Network.weights net64
                let starts = pushes |> Array.map (fun (_, _, v) -> Array.map2 (fun x d -> x + config.Epsilon * d) point.State v)
                let mutable h = Arrays.matrixToTensor Precision.Float64 starts // [pushes; state]
                let u = Arrays.matrixToTensor Precision.Float64 (Array.create p point.Input) // [pushes; inputs]
                let drive = net64.Kind.InputDrive w u // [pushes; drive]
                let states = Array.init kMax (fun _ ->
                    use _ = torch.no_grad ()
                    h <- net64.Kind.Step w h drive
                    let flat = Arrays.ofTensor h
                    Array.init p (fun r -> Array.sub flat (r * n) n))
                Array.init p (fun r -> states |> Array.map (fun s -> s[r]))
        let norm (v: float[]) = sqrt (Array.sumBy (fun x -> x * x) v)
        let checks =
            pushes
            |> Array.mapi (fun r (i, direction, v) ->
                // J^k delta for k = 1 .. kMax.
                let predictions = Array.zeroCreate<float[]> kMax
                let mutable d = v |> Array.map (fun x -> config.Epsilon * x)
                for k in 0 .. kMax - 1 do
                    d <- matVec lin.Jacobian d
                    predictions[k] <- d
                let at (k: int) =
                    let displacement = Array.map2 (-) (actual[r][k - 1]) point.State
                    let predicted = predictions[k - 1]
                    let error = norm (Array.map2 (-) displacement predicted) / norm predicted
                    norm displacement, norm predicted, error
                let scores = config.Steps |> Array.map at
                { Mode = i
                  Eigenvalue = point.Eigenvalues[i]
                  Direction = direction
                  Vector = v
                  Steps = Array.copy config.Steps
                  Actual = scores |> Array.map (fun (a, _, _) -> a)
                  Predicted = scores |> Array.map (fun (_, b, _) -> b)
                  RelativeError = scores |> Array.map (fun (_, _, e) -> e)
                  Validity = scores |> Array.map (fun (_, _, e) -> if Double.IsFinite e then max 0.0 (1.0 - e) else 0.0) })
        { PointId = point.Id; Epsilon = config.Epsilon; Pushes = checks }
