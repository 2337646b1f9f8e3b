namespace RnnFun

open System
open System.Numerics

/// How much of one input direction a slow mode integrates (Mante et al. 2013).
type InputSelection =
    { /// The input direction u [inputs].
      Direction: float[]
      /// l' B u: the mode's coordinate gained per unit of input, per step of a discrete map, per unit
      /// of time (in units of tau) of a continuous-time kind (the map's B divided by alpha).
      Integrated: Complex
      /// r (l' B u) [state], the predicted displacement of the state per unit of integrated input; for a
      /// complex pair, the pair's joint contribution 2 Re(r (l' B u)).
      Displacement: float[] }

/// One mode of a linearised fixed point with its selection vector.
type ModeSelection =
    { /// Its index among the point's eigenvalues (sorted by modulus, descending).
      Mode: int
      Eigenvalue: Complex
      /// (lambda - 1) / alpha for a continuous-time kind.
      ContinuousEigenvalue: Complex option
      /// Right eigenvector r [state] (unit norm).
      Right: Complex[]
      /// The selection vector: the left eigenvector l [state], l' r = 1.
      Left: Complex[]
      /// One per input direction asked for.
      Inputs: InputSelection[] }

/// Which modes and input directions `Selection.ofPoint` reports.
type SelectionConfig =
    { /// The slowest modes: those with eigenvalues nearest 1 (|lambda - 1|, ascending).
      Modes: int
      /// Input directions [directions][inputs]; None: each input alone (the unit vectors).
      Directions: float[][] option }

    static member defaults = { Modes = 1; Directions = None }

/// Selection vectors of slow modes: the left eigenvector of a mode says which states (and, through
/// the input matrix B, which inputs) move the mode; r (l' B u) is where the state ends after the mode
/// integrates input u while the faster modes relax.
[<RequireQualifiedAccess>]
module Selection =
    /// The modes of a linearised point (`FixedPoint.Linearisation` with left eigenvectors and the input
    /// Jacobian), slowest first. `InvalidArgument` for a point without them (read from a file: run
    /// `FixedPoints.analyse` first) or for a direction of the wrong size.
    let ofPoint (config: SelectionConfig) (timeScale: float option) (point: FixedPoint) : ModeSelection[] =
        let lin =
            match point.Linearisation with
            | Some l when l.LeftEigenvectors.Length = point.Eigenvalues.Length && l.InputJacobian.Length = point.State.Length -> l
            | _ -> Check.fail "fixed_point" (sprintf "fixed point %d has no linearisation with left eigenvectors and input Jacobian (a point read from a file: run FixedPoints.analyse on it first)" point.Id)
        if config.Modes < 0 then Check.fail "modes" (sprintf "expected a number >= 0, got %d" config.Modes)
        let m = point.Input.Length
        let directions =
            match config.Directions with
            | None -> Array.init m (fun j -> Array.init m (fun c -> if c = j then 1.0 else 0.0))
            | Some ds ->
                for d in ds do
                    if isNull d || d.Length <> m then Check.fail "directions" (sprintf "expected %d values a direction (one per input), got %d" m (if isNull d then 0 else d.Length))
                    Check.allFinite "directions" d
                ds
        match timeScale with
        | Some a when not (a > 0.0) -> Check.fail "time_scale" (sprintf "expected alpha > 0, got %g" a)
        | _ -> ()
        let perTime = timeScale |> Option.defaultValue 1.0
        let n = point.State.Length
        let order =
            Array.init point.Eigenvalues.Length id
            |> Array.sortBy (fun i -> (point.Eigenvalues[i] - Complex.One).Magnitude, i)
            |> Array.truncate config.Modes
        order
        |> Array.map (fun i ->
            let r, l = lin.Eigenvectors[i], lin.LeftEigenvectors[i]
            let complexPair = abs point.Eigenvalues[i].Imaginary > 0.0
            { Mode = i
              Eigenvalue = point.Eigenvalues[i]
              ContinuousEigenvalue = timeScale |> Option.map (fun a -> (point.Eigenvalues[i] - Complex.One) / a)
              Right = Array.copy r
              Left = Array.copy l
              Inputs =
                directions
                |> Array.map (fun u ->
                    // B u [state], per unit of time for a continuous-time kind.
                    let bu = Array.init n (fun s -> (Array.fold2 (fun acc b x -> acc + b * x) 0.0 lin.InputJacobian[s] u) / perTime)
                    let c = Array.fold2 (fun (acc: Complex) (li: Complex) (b: float) -> acc + li * b) Complex.Zero l bu
                    { Direction = Array.copy u
                      Integrated = c
                      Displacement = r |> Array.map (fun ri -> let z = ri * c in if complexPair then 2.0 * z.Real else z.Real) }) })
