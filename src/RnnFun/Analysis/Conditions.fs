namespace RnnFun

open System
open System.Numerics

/// An experimental condition of a fixed-point analysis: a name and the constant input that defines
/// it (a context cue, a stimulus level...).
type Condition =
    { Name: string
      /// [inputs]
      Input: float[] }

/// The fixed and slow points of one condition.
type ConditionPoints =
    { Condition: Condition
      FixedPoints: FixedPoint[]
      SlowPoints: FixedPoint[] }

/// A search over a family of constant inputs at once.
type ConditionSearch =
    { Conditions: ConditionPoints[]
      /// The one search over every condition's initial states (ids unique across conditions).
      Search: FixedPointResult
      /// [initial states]: the condition (index into `Conditions`) of each initial state.
      ConditionOfState: int[] }

/// What the slow points of one condition look like as a line (or other low-dimensional) attractor.
type SlowManifold =
    { Points: int
      /// The shares of the points' state variance along their first principal components (up to 3;
      /// a line: the first near 1, a ring: the first two).
      VarianceRatios: float[]
      /// Per point, the eigenvalue closest to 1 (`SlowPoints.closestToOne`): the mode along the
      /// manifold.
      NearOne: Complex[]
      /// Per point, the largest modulus among its other eigenvalues (inside the unit circle: every
      /// other mode decays).
      OtherModulus: float[] }

[<RequireQualifiedAccess>]
module Conditions =
    /// The input as a condition's default name: "u = (1, 0.5, ...)".
    let inputName (input: float[]) =
        "u = (" + String.Join(", ", input |> Array.map (fun v -> v.ToString("g4", Globalization.CultureInfo.InvariantCulture))) + ")"

    /// One condition per input, named by `inputName`.
    let ofInputs (inputs: float[][]) : Condition[] =
        inputs |> Array.map (fun u -> { Name = inputName u; Input = Array.copy u })

    /// Refuses (`InvalidArgument("conditions", ...)`) no condition, an empty or repeated name, and an
    /// input of the wrong size, not finite, or the same as another condition's.
    let check (inputSize: int) (conditions: Condition[]) =
        if isNull conditions || conditions.Length = 0 then Check.fail "conditions" "expected at least one condition"
        for i, c in Array.indexed conditions do
            if String.IsNullOrWhiteSpace c.Name then Check.fail "conditions" (sprintf "condition %d has no name" i)
            if isNull c.Input || c.Input.Length <> inputSize then
                Check.fail "conditions" (sprintf "condition '%s': expected an input of %d values, got %d" c.Name inputSize (if isNull c.Input then 0 else c.Input.Length))
            if not (Array.forall Double.IsFinite c.Input) then Check.fail "conditions" (sprintf "condition '%s': the input holds a NaN or infinite value" c.Name)
        for i in 0 .. conditions.Length - 1 do
            for j in i + 1 .. conditions.Length - 1 do
                if conditions[i].Input = conditions[j].Input then
                    Check.fail "conditions" (sprintf "conditions '%s' and '%s' have the same input" conditions[i].Name conditions[j].Name)
        match conditions |> Array.countBy (fun c -> c.Name) |> Array.tryFind (fun (_, n) -> n > 1) with
        | Some (name, _) -> Check.fail "conditions" (sprintf "the name '%s' is given to two conditions" name)
        | None -> ()

    /// The condition whose input is the point's (to 1e-9 in every value), if any.
    let indexOf (conditions: Condition[]) (point: FixedPoint) : int option =
        conditions
        |> Array.tryFindIndex (fun c ->
            not (isNull point.Input) && c.Input.Length = point.Input.Length
            && Array.forall2 (fun (a: float) b -> abs (a - b) <= 1e-9) c.Input point.Input)

    /// The points grouped by condition (by their input), conditions in the given order. Points whose
    /// input is no condition's are left out.
    let group (conditions: Condition[]) (fixedPoints: FixedPoint[]) (slowPoints: FixedPoint[]) : ConditionPoints[] =
        let of' (points: FixedPoint[]) i = (if isNull points then [||] else points) |> Array.filter (fun p -> indexOf conditions p = Some i)
        conditions |> Array.mapi (fun i c -> { Condition = c; FixedPoints = of' fixedPoints i; SlowPoints = of' slowPoints i })

    /// The conditions of points read from a file that names none: one per distinct input, in order
    /// of first appearance.
    let ofPoints (points: FixedPoint[]) : Condition[] =
        points |> Array.map (fun p -> p.Input) |> Array.distinct |> ofInputs

    let private perState (conditions: Condition[]) (initial: float[][][]) =
        if isNull initial || initial.Length <> conditions.Length then
            Check.fail "initial_states" (sprintf "expected one set of initial states per condition (%d), got %d" conditions.Length (if isNull initial then 0 else initial.Length))
        for i, states in Array.indexed initial do
            if isNull states || states.Length = 0 then Check.fail "initial_states" (sprintf "condition '%s' has no initial state" conditions[i].Name)
        let states = Array.concat initial
        let conditionOf = initial |> Array.mapi (fun i s -> Array.create s.Length i) |> Array.concat
        states, conditionOf, ConstantInput.PerState(conditionOf |> Array.map (fun i -> conditions[i].Input))

    /// Fixed points (and slow points, with `IncludeSlowPoints`) under every condition's input in one
    /// search: `initial[c]` are the initial states of condition c, each searched under c's input
    /// (`ConstantInput.PerState`). Uniqueness is judged on state and input together, as
    /// `FixedPoints.find` does (FixedPointFinder's rule): the same state under two conditions is two
    /// points, one in each.
    let find (config: FixedPointConfig) (net: Network) (conditions: Condition[]) (initial: float[][][]) : ConditionSearch =
        check net.Sizes.Inputs conditions
        let states, conditionOf, input = perState conditions initial
        let result = FixedPoints.find config net input states
        { Conditions = group conditions result.FixedPoints result.SlowPoints
          Search = result
          ConditionOfState = conditionOf }

    /// Slow points (`SlowPoints.find`) under every condition's input, each condition with its own
    /// q threshold; one group per condition, in the given order.
    let slowPoints (config: SlowPointConfig) (net: Network) (conditions: Condition[]) (initial: float[][][]) : SlowPointResult =
        check net.Sizes.Inputs conditions
        let states, _, input = perState conditions initial
        let result = SlowPoints.find config net input states
        let ordered =
            conditions
            |> Array.choose (fun c -> result.Groups |> Array.tryFind (fun g -> Array.forall2 (fun (a: float) b -> abs (a - b) <= 1e-9) g.Input c.Input))
        { result with Groups = ordered }

    /// The two contexts of the context-dependent integration task (`ClassicTasks.contextDecision`,
    /// inputs [fixation; modality 1 (2); modality 2 (2); context cue (2)]) as they hold during the
    /// stimulus at zero coherence: fixation on, 0.5 on each stimulus input, the context's cue on.
    let contextDecision : Condition[] =
        [| { Name = "context-1"; Input = [| 1.0; 0.5; 0.5; 0.5; 0.5; 1.0; 0.0 |] }
           { Name = "context-2"; Input = [| 1.0; 0.5; 0.5; 0.5; 0.5; 0.0; 1.0 |] } |]

    /// The shape of a set of slow (or fixed) points: the variance shares of their first principal
    /// components, and per point the eigenvalue closest to 1 and the largest modulus of the others.
    let manifold (points: FixedPoint[]) : SlowManifold =
        let points = if isNull points then [||] else points
        let ratios =
            if points.Length < 2 then [||]
            else
                let states = points |> Array.map (fun p -> p.State)
                try
                    let pca = Pca.fitAll states
                    Array.truncate 3 pca.ExplainedVarianceRatio
                with InvalidArgument _ -> [||]
        let near, other =
            points
            |> Array.map (fun p ->
                match SlowPoints.closestToOne p.Eigenvalues with
                | None -> Complex(nan, nan), nan
                | Some l ->
                    let at = p.Eigenvalues |> Array.findIndex (fun e -> e = l)
                    let rest = p.Eigenvalues |> Array.indexed |> Array.filter (fun (i, _) -> i <> at) |> Array.map (fun (_, e) -> e.Magnitude)
                    l, (if rest.Length = 0 then 0.0 else Array.max rest))
            |> Array.unzip
        { Points = points.Length; VarianceRatios = ratios; NearOne = near; OtherModulus = other }
