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
      Displacement: float[]
      /// The predicted end state x* + r (l' B u) [state] after a unit pulse of u (one step of a
      /// discrete map, one unit of time of a continuous-time kind) and the faster modes' relaxation.
      EndState: float[] }

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

/// What the slow-mode tolerance of `Selection.slowModes` is measured on.
[<RequireQualifiedAccess>]
type SlowModeMeasure =
    /// |lambda - 1|: the map's eigenvalue, per step.
    | Map
    /// |mu|, mu = (lambda - 1) / alpha: the continuous-time eigenvalue, per unit of time (needs a
    /// kind with a time scale).
    | Continuous

/// Which modes count as slow (`Selection.slowModes`): those within `Tolerance` of 1 (a map) or of 0
/// (a continuous-time kind).
type SlowSelectionConfig =
    { Tolerance: float
      /// None: `Continuous` for a kind with a time scale (ctrnn), `Map` otherwise.
      Measure: SlowModeMeasure option
      /// Input directions [directions][inputs]; None: each input alone.
      Directions: float[][] option }

    static member defaults = { Tolerance = 0.05; Measure = None; Directions = None }

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
                    let displacement = r |> Array.map (fun ri -> let z = ri * c in if complexPair then 2.0 * z.Real else z.Real)
                    { Direction = Array.copy u
                      Integrated = c
                      Displacement = displacement
                      EndState = Array.map2 (+) point.State displacement }) })

    /// The measure `SlowSelectionConfig.Measure` resolves to for a kind's time scale; `InvalidArgument`
    /// for `Continuous` without one.
    let measureFor (measure: SlowModeMeasure option) (timeScale: float option) : SlowModeMeasure =
        match measure, timeScale with
        | Some SlowModeMeasure.Continuous, None -> Check.fail "measure" "the continuous measure needs a kind with a time scale (ctrnn); use the map's"
        | Some m, _ -> m
        | None, Some _ -> SlowModeMeasure.Continuous
        | None, None -> SlowModeMeasure.Map

    /// The point's slow modes with their selection vectors: every mode with |lambda - 1| (or
    /// |(lambda - 1) / alpha| for the continuous measure) at most the tolerance, slowest first; of a
    /// complex pair only the member with Im lambda > 0 (it carries the pair's joint displacement).
    /// Empty when no mode is that slow. `InvalidArgument` as `ofPoint`, or for a tolerance not >= 0.
    let slowModes (config: SlowSelectionConfig) (timeScale: float option) (point: FixedPoint) : ModeSelection[] =
        if not (config.Tolerance >= 0.0 && Double.IsFinite config.Tolerance) then Check.fail "tolerance" (sprintf "expected a number >= 0, got %g" config.Tolerance)
        let measure = measureFor config.Measure timeScale
        let distance (l: Complex) =
            match measure, timeScale with
            | SlowModeMeasure.Continuous, Some a -> (l - Complex.One).Magnitude / a
            | _ -> (l - Complex.One).Magnitude
        let count = point.Eigenvalues |> Array.filter (fun l -> distance l <= config.Tolerance) |> Array.length
        let modes = ofPoint { Modes = count; Directions = config.Directions } timeScale point
        // ofPoint orders by |lambda - 1|, which orders the continuous measure the same way.
        modes
        |> Array.filter (fun m ->
            not (m.Eigenvalue.Imaginary < 0.0
                 && modes |> Array.exists (fun o -> o.Eigenvalue.Imaginary > 0.0 && (o.Eigenvalue - Complex.Conjugate m.Eigenvalue).Magnitude <= 1e-9 * (1.0 + m.Eigenvalue.Magnitude))))

/// The slow modes of a set of points, as a fixed-point file stores them (`FixedPointFileOptions.Selection`).
type FixedPointSelection =
    { Measure: SlowModeMeasure
      Tolerance: float
      /// One array per point (in the points' order): its slow modes, slowest first (may be empty).
      Modes: ModeSelection[][] }

[<RequireQualifiedAccess>]
module FixedPointSelection =
    /// The slow modes of every point (`Selection.slowModes`), with the measure resolved.
    let ofPoints (config: SlowSelectionConfig) (timeScale: float option) (points: FixedPoint[]) : FixedPointSelection =
        { Measure = Selection.measureFor config.Measure timeScale
          Tolerance = config.Tolerance
          Modes = points |> Array.map (Selection.slowModes config timeScale) }
