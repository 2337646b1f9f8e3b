namespace RnnFun

open System
open System.Collections.Generic
open TorchSharp

/// The effective (constrained) weights a network computes with, by parameter name.
type Weights = IReadOnlyDictionary<string, Tensor>

/// A network's sizes.
type Sizes = { Inputs: int; Units: int; Outputs: int }

/// Which constraint pattern a parameter follows.
[<RequireQualifiedAccess>]
type Role =
    /// [units; inputs]: the input mask.
    | Input
    /// [units; units]: autapses, Dale's law, the recurrent mask, unit signs.
    | Recurrent
    /// [outputs; units]: the output mask.
    | Output
    /// No constraint (biases, a user kind's extra parameters).
    | Free

/// One parameter of a kind.
type ParameterSpec =
    { Name: string
      Shape: int[]
      /// PyTorch Linear initialisation: U(-1/sqrt(FanIn), 1/sqrt(FanIn)).
      FanIn: int
      Role: Role
      /// Present only when asked for (b_in, b_out).
      Optional: bool
      /// Trained by default.
      Trainable: bool }

/// A setting of a kind, written beside the kind's name in model files (dt, tau, readout).
[<RequireQualifiedAccess>]
type KindSetting =
    | Number of float
    | Text of string

/// A kind of network: its parameters, a pure step function and a readout. `rnn` and `ctrnn` are two
/// values of this type; a user defines another (a different nonlinearity, a gated cell) the same way.
type Kind =
    { Name: string
      Settings: (string * KindSetting) list
      /// The parameters for given sizes, in a fixed order.
      Parameters: Sizes -> ParameterSpec list
      /// The input's contribution for every step at once, so that it is one matrix product:
      /// x [batch; time; inputs] -> [batch; time; drive]. It must also accept x [batch; inputs].
      InputDrive: Weights -> Tensor -> Tensor
      /// One step: h [batch; units], drive [batch; drive] -> h' [batch; units].
      Step: Weights -> Tensor -> Tensor -> Tensor
      /// The outputs of states: [..; units] -> [..; outputs].
      Readout: Weights -> Tensor -> Tensor
      /// Firing rates of states (for rate regularisation): [..; units] -> [..; units].
      Rates: Tensor -> Tensor
      /// Recurrent noise sigma enters the drive as NoiseGain * sigma * N(0, 1): 1 for a discrete
      /// network, sqrt(2 / alpha) for a continuous-time one (PsychRNN's sqrt(2 alpha) sigma on the state).
      NoiseGain: float
      /// The closed-form state Jacobian dF/dh, when the kind has one: h [batch; units],
      /// drive [batch; drive] -> J [batch; units; units], J[b, i, j] = dF_i / dh_j.
      /// None: analysis uses autograd.
      Jacobian: (Weights -> Tensor -> Tensor -> Tensor) option }

/// A parameter's value as plain data.
[<RequireQualifiedAccess>]
type ParameterValue =
    | Vector of float[]
    | Matrix of float[][]

/// How to build a network (the kind is given beside it).
type NetworkConfig =
    { InputSize: int
      Units: int
      OutputSize: int
      /// Add an input bias b_in.
      InputBias: bool
      /// Add an output bias b_out.
      OutputBias: bool
      Constraints: Constraints
      /// Trainable flags that differ from the kind's defaults, by parameter name.
      Trainable: Map<string, bool>
      Precision: Precision
      /// Seed of the initial weights: the same seed gives identical weights.
      Seed: int64 }

    /// 1 input, 50 units, 1 output, no biases beyond b_rec, no constraints, float32, seed 0 (pyrnn's sizes).
    static member defaults =
        { InputSize = 1
          Units = 50
          OutputSize = 1
          InputBias = false
          OutputBias = false
          Constraints = Constraints.none
          Trainable = Map.empty
          Precision = Precision.Float32
          Seed = 0L }

/// A parameter: its spec, its free value and whether training may change it.
type Parameter =
    { Spec: ParameterSpec
      /// The free value; the network computes with its projection onto the constraints.
      Value: Tensor
      Trainable: bool }

/// Compiled constraint pattern of one parameter: eff = FixedSign * |w| + FreeKeep * w.
type internal PatternTensors =
    { FixedSign: Tensor
      FreeKeep: Tensor
      HasSigns: bool }

/// An immutable network. It owns its tensors: dispose it when done (`use net = ...`).
/// Functions that "change" a network return a new one and leave the old one as it was.
type Network =
    internal
        { kind: Kind
          sizes: Sizes
          constraints: Constraints
          precision: Precision
          parameters: Parameter list
          patterns: Map<string, PatternTensors> }

    member n.Kind = n.kind
    member n.Sizes = n.sizes
    member n.Constraints = n.constraints
    member n.Precision = n.precision
    member n.Parameters = n.parameters

    interface IDisposable with
        member n.Dispose() =
            for p in n.parameters do p.Value.Dispose()
            for KeyValue (_, t) in n.patterns do
                t.FixedSign.Dispose()
                t.FreeKeep.Dispose()

/// The result of unrolling a network over a sequence. Owns its tensors.
type Rollout =
    { /// [batch; time; outputs]
      Outputs: Tensor
      /// [batch; time; units]
      States: Tensor }

    interface IDisposable with
        member r.Dispose() =
            r.Outputs.Dispose()
            r.States.Dispose()

/// A recurrence with a forward pass written by hand (see `Recurrence` and `FusedBptt`).
[<RequireQualifiedAccess>]
type FusedRecurrence =
    /// h' = tanh(h W' + drive)
    | Rnn
    /// h' = (1 - alpha) h + alpha (tanh(h) W' + drive)
    | Ctrnn of alpha: float

/// The forward pass of the built-in recurrences written as in-place ops on one time-major buffer:
/// used by `Network.unroll` when no gradient is wanted and by `FusedBptt` for training.
[<RequireQualifiedAccess>]
module Recurrence =
    let private two = 2.0.ToScalar()

    /// One step written directly (tanh), for the probe below.
    let private directStep (recurrence: FusedRecurrence) (wT: Tensor) (h: Tensor) (drive: Tensor) : Tensor =
        match recurrence with
        | FusedRecurrence.Rnn -> torch.addmm(drive, h, wT, 1.0f, 1.0f).tanh_() // [batch; units]
        | FusedRecurrence.Ctrnn alpha ->
            let target = torch.addmm(drive, torch.tanh h, wT, 1.0f, 1.0f) // [batch; units]
            target.mul_(alpha.ToScalar()).add_(h, (1.0 - alpha).ToScalar()) // alpha target + (1 - alpha) h

    /// The hand-written recurrence of a kind, when it has one: the built-in rnn and ctrnn, recognised
    /// by name and settings and confirmed by one step on a random probe against the kind's own Step
    /// (so that a user kind reusing a built-in name takes the general path). w: effective weights.
    let of' (kind: Kind) (w: Weights) : FusedRecurrence option =
        let number name = kind.Settings |> List.tryPick (function (n, KindSetting.Number v) when n = name -> Some v | _ -> None)
        let candidate =
            match kind.Name, number "dt", number "tau" with
            | "rnn", _, _ -> Some FusedRecurrence.Rnn
            | "ctrnn", Some dt, Some tau when dt > 0.0 && tau > 0.0 -> Some(FusedRecurrence.Ctrnn(dt / tau))
            | _ -> None
        match candidate, w.TryGetValue "w_rec" with
        | Some recurrence, (true, wRec) when wRec.dim () = 2L ->
            use _ = torch.NewDisposeScope()
            use _ = torch.no_grad ()
            let units = wRec.shape[0]
            use generator = new torch.Generator(12345UL)
            let h = torch.randn([| 3L; units |], wRec.dtype, generator = generator).``to``(wRec.device) // [3; units]
            let drive = torch.randn([| 3L; units |], wRec.dtype, generator = generator).``to``(wRec.device) // [3; units]
            // A kind that only shares the name may fail on this probe: it takes the general path.
            try
                let expected = kind.Step w h drive
                let actual = directStep recurrence (wRec.detach().t ()) h drive
                let scale = 1.0 + expected.abs().max().ToDouble()
                let tolerance = if wRec.dtype = torch.ScalarType.Float64 then 1e-10 else 1e-4
                if expected.shape = actual.shape && (expected - actual).abs().max().ToDouble() <= tolerance * scale then Some recurrence
                else None
            with _ -> None
        | _ -> None

    /// 2 s - 1 in place (two vectorised passes: faster here than one lerp_ pass).
    let internal twiceMinusOne (s: Tensor) : Tensor = s.mul_(two).sub_(1.0.ToScalar())

    /// 1 - x^2 in one pass, as a new tensor.
    let internal oneMinusSquare (x: Tensor) : Tensor =
        use _ = torch.NewDisposeScope()
        torch.addcmul(torch.ones([| 1L |], x.dtype, device = x.device), x, x, (-1.0).ToScalar()).MoveToOuterDisposeScope()

    /// The states [time; batch; units] from h0 [batch; units] and the drive [time; batch; units],
    /// without autograd, in a new buffer (the inputs are only read). tanh(x) = 2 sigmoid(2x) - 1:
    /// libtorch's CPU sigmoid is vectorised, its tanh is about 4 times slower here, and the affine
    /// part folds into the matrix products. Each step is two (rnn) or four (ctrnn, one allocating) ops on
    /// the step's slice. Opens no scope.
    let forward (recurrence: FusedRecurrence) (wRec: Tensor) (h0: Tensor) (drive: Tensor) : Tensor =
        use _ = torch.no_grad ()
        let w = wRec.detach () // [units; units]
        // W' as its own contiguous copy: the small products are about 25 % faster than on a view.
        let wT = w.t().contiguous() // [units; units]
        let rowSums = w.sum(1L) // [units]: c = 1 W', the image of the all-ones state
        let h0 = h0.detach () // [batch; units]
        // drive - c in a new time-major buffer (one pass): the steps write into it.
        let buffer = torch.sub(drive.detach (), rowSums).contiguous() // [time; batch; units]
        let steps = buffer.unbind 0 // time x [batch; units], views of the buffer
        match recurrence with
        | _ when steps.Length = 0 -> buffer // no steps: no states [0; batch; units]
        | FusedRecurrence.Rnn ->
            // With s_t = sigmoid(2 a_t), h_t = 2 s_t - 1: 2 a_t = 2 (drive_t - c) + 4 s_{t-1} W',
            // the factor 2 taken by addmm_'s beta, so that the buffer is touched once before the loop.
            steps[0].add_(rowSums).addmm_(h0, wT, 2.0f, 2.0f).sigmoid_() |> ignore
            for t in 1 .. steps.Length - 1 do
                steps[t].addmm_(steps[t - 1], wT, 2.0f, 4.0f).sigmoid_() |> ignore
            twiceMinusOne buffer
        | FusedRecurrence.Ctrnn alpha ->
            // h_t = (1 - alpha) h_{t-1} + alpha (drive_t - c) + 2 alpha sigmoid(2 h_{t-1}) W'.
            buffer.mul_(alpha.ToScalar()) |> ignore
            let steps = buffer.unbind 0 // time x [batch; units], views of the buffer
            // 2 alpha W' in the weights' precision (addmm_'s own factors are float32).
            let scaledT = wT.mul((2.0 * alpha).ToScalar()).contiguous() // [units; units]
            let mutable h = h0
            for t in 0 .. steps.Length - 1 do
                let s = h.mul(two).sigmoid_() // [batch; units]
                h <- steps[t].addmm_(s, scaledT, 1.0f, 1.0f).add_(h, (1.0 - alpha).ToScalar())
            buffer

[<RequireQualifiedAccess>]
module Network =
    let private patternOf (sizes: Sizes) (constraints: Constraints) (spec: ParameterSpec) : WeightPattern option =
        let shapeMust rows cols what =
            if spec.Shape <> [| rows; cols |] then
                Check.fail spec.Name (sprintf "a %s parameter must have shape [%d; %d] for constraints to apply, got [%s]" what rows cols (String.Join("; ", spec.Shape)))
        match spec.Role with
        | Role.Free -> None
        | Role.Input when constraints.InputMask.IsNone -> None
        | Role.Output when constraints.OutputMask.IsNone -> None
        | Role.Recurrent when constraints.RecurrentMask.IsNone && constraints.DaleRatio.IsNone && constraints.Autapses && constraints.UnitSigns.IsNone -> None
        | Role.Input ->
            shapeMust sizes.Units sizes.Inputs "input"
            Some(Constraints.inputPattern sizes.Inputs sizes.Units constraints)
        | Role.Output ->
            shapeMust sizes.Outputs sizes.Units "output"
            Some(Constraints.outputPattern sizes.Units sizes.Outputs constraints)
        | Role.Recurrent ->
            shapeMust sizes.Units sizes.Units "recurrent"
            Some(Constraints.recurrentPattern sizes.Units constraints)

    let private compile precision (p: WeightPattern) =
        let fixedSign = p.Sign
        let freeKeep = Array.map2 (Array.map2 (fun k s -> if s = 0.0 then k else 0.0)) p.Keep p.Sign
        { FixedSign = Arrays.matrixToTensor precision fixedSign
          FreeKeep = Arrays.matrixToTensor precision freeKeep
          HasSigns = p.Sign |> Array.exists (Array.exists ((<>) 0.0)) }

    /// The specs a kind and config give: the kind's parameters minus optional ones not asked for.
    let specs (kind: Kind) (config: NetworkConfig) =
        let sizes = { Inputs = config.InputSize; Units = config.Units; Outputs = config.OutputSize }
        let all = kind.Parameters sizes
        all
        |> List.filter (fun s ->
            not s.Optional
            || (s.Name = "b_in" && config.InputBias)
            || (s.Name = "b_out" && config.OutputBias))

    let private validateConfig (kind: Kind) (config: NetworkConfig) =
        Check.positive "input_size" config.InputSize
        Check.positive "n_units" config.Units
        Check.positive "output_size" config.OutputSize
        Constraints.validate config.InputSize config.Units config.OutputSize config.Constraints
        let names = kind.Parameters { Inputs = config.InputSize; Units = config.Units; Outputs = config.OutputSize } |> List.map (fun s -> s.Name)
        for KeyValue (name, _) in config.Trainable do
            if not (List.contains name names) then
                Check.fail "trainable" (sprintf "kind '%s' has no parameter '%s' (it has: %s)" kind.Name name (String.Join(", ", names)))

    let private assemble (kind: Kind) (config: NetworkConfig) (values: (ParameterSpec * Tensor) list) =
        let sizes = { Inputs = config.InputSize; Units = config.Units; Outputs = config.OutputSize }
        let patterns =
            values
            |> List.choose (fun (spec, _) -> patternOf sizes config.Constraints spec |> Option.map (fun p -> spec.Name, compile config.Precision p))
            |> Map.ofList
        { kind = kind
          sizes = sizes
          constraints = config.Constraints
          precision = config.Precision
          parameters =
            values
            |> List.map (fun (spec, value) ->
                { Spec = spec
                  Value = value
                  Trainable = config.Trainable |> Map.tryFind spec.Name |> Option.defaultValue spec.Trainable })
          patterns = patterns }

    /// Projects a free value onto its pattern (no gradient bookkeeping beyond what the ops need).
    let private project (pattern: PatternTensors option) (w: Tensor) : Tensor =
        match pattern with
        | None -> w.alias ()
        | Some p when p.HasSigns -> torch.addcmul(p.FreeKeep * w, p.FixedSign, w.abs (), (1.0).ToScalar())
        | Some p -> p.FreeKeep * w

    /// A new network of the given kind, initialised as PyTorch Linear (U(-1/sqrt(fan_in), 1/sqrt(fan_in)))
    /// from the config's seed, then projected onto the constraints. Raises `InvalidArgument` on a bad config.
    let create (kind: Kind) (config: NetworkConfig) : Network =
        validateConfig kind config
        let specs = specs kind config
        use _ = torch.NewDisposeScope()
        let generator = new torch.Generator(uint64 config.Seed)
        let drawn =
            specs
            |> List.map (fun spec ->
                let bound = 1.0 / sqrt (float (max spec.FanIn 1))
                let shape = spec.Shape |> Array.map int64
                // Drawn in float32 whatever the precision, so a float64 network equals its float32 twin.
                let u = torch.rand(shape, torch.ScalarType.Float32, generator = generator) // [shape], U(0, 1)
                spec, ((u * 2.0 - 1.0) * bound).to_type(config.Precision.ScalarType))
        let draft = assemble kind config drawn
        let projected =
            drawn
            |> List.map (fun (spec, w) ->
                let p = project (draft.patterns |> Map.tryFind spec.Name) w
                spec, p.detach().contiguous().MoveToOuterDisposeScope())
        let patterns = draft.patterns |> Map.map (fun _ t -> { t with FixedSign = t.FixedSign.MoveToOuterDisposeScope(); FreeKeep = t.FreeKeep.MoveToOuterDisposeScope() })
        { draft with parameters = List.map2 (fun (p: Parameter) (_, v) -> { p with Value = v }) draft.parameters projected; patterns = patterns }

    let private shapeText (shape: int[]) = "[" + String.Join("; ", shape) + "]"

    /// A network with the given weights (plain data). Every parameter of the kind must be given
    /// (optional ones only when the config asks for them), with the right shape, finite, and
    /// following the constraints; otherwise `InvalidArgument` names the parameter and the problem.
    let ofValues (kind: Kind) (config: NetworkConfig) (values: Map<string, ParameterValue>) : Network =
        validateConfig kind config
        let sizes = { Inputs = config.InputSize; Units = config.Units; Outputs = config.OutputSize }
        let specs = specs kind config
        for KeyValue (name, _) in values do
            if not (specs |> List.exists (fun s -> s.Name = name)) then
                Check.fail name (sprintf "kind '%s' with this config has no parameter '%s' (it has: %s)" kind.Name name (String.Join(", ", specs |> List.map (fun s -> s.Name))))
        let checkedValues =
            specs
            |> List.map (fun spec ->
                let value =
                    match values |> Map.tryFind spec.Name with
                    | Some v -> v
                    | None -> Check.fail spec.Name (sprintf "missing: expected a value of shape %s" (shapeText spec.Shape))
                let flat =
                    match value, spec.Shape with
                    | ParameterValue.Vector v, [| n |] ->
                        if isNull v || v.Length <> n then Check.fail spec.Name (sprintf "expected %d values, got %d" n (if isNull v then 0 else v.Length))
                        v
                    | ParameterValue.Matrix m, [| rows; cols |] ->
                        Check.matrixShape spec.Name rows cols m
                        match patternOf sizes config.Constraints spec with
                        | Some pattern ->
                            match Constraints.firstViolation spec.Name pattern m with
                            | Some problem -> Check.fail spec.Name problem
                            | None -> ()
                        | None -> ()
                        Array.concat m
                    | ParameterValue.Vector _, _ -> Check.fail spec.Name (sprintf "expected a matrix of shape %s, got a vector" (shapeText spec.Shape))
                    | ParameterValue.Matrix _, _ -> Check.fail spec.Name (sprintf "expected shape %s, got a matrix" (shapeText spec.Shape))
                Check.allFinite spec.Name flat
                spec, flat)
        let tensors = checkedValues |> List.map (fun (spec, flat) -> spec, Arrays.toTensor config.Precision (spec.Shape |> Array.map int64) flat)
        assemble kind config tensors

    /// The config that rebuilds this network's shape, constraints and flags.
    let config (net: Network) : NetworkConfig =
        { InputSize = net.sizes.Inputs
          Units = net.sizes.Units
          OutputSize = net.sizes.Outputs
          InputBias = net.parameters |> List.exists (fun p -> p.Spec.Name = "b_in")
          OutputBias = net.parameters |> List.exists (fun p -> p.Spec.Name = "b_out")
          Constraints = net.constraints
          Trainable = net.parameters |> List.map (fun p -> p.Spec.Name, p.Trainable) |> Map.ofList
          Precision = net.precision
          Seed = 0L }

    /// The effective weights (free values projected onto the constraints), as new tensors in the
    /// caller's dispose scope. Gradients flow from them to the free values.
    let weights (net: Network) : Weights =
        let d = Dictionary<string, Tensor>()
        for p in net.parameters do
            d[p.Spec.Name] <- project (net.patterns |> Map.tryFind p.Spec.Name) p.Value
        d :> Weights

    /// A new network with other free values (same kind, sizes, constraints, flags). The values are
    /// copied; the old network is unchanged and still owns its tensors.
    let withValues (net: Network) (values: Map<string, Tensor>) : Network =
        use _ = torch.NewDisposeScope()
        let keep (t: Tensor) = t.MoveToOuterDisposeScope()
        let parameters =
            net.parameters
            |> List.map (fun p ->
                match values |> Map.tryFind p.Spec.Name with
                | Some v ->
                    if v.shape |> Array.map int <> p.Spec.Shape then
                        Check.fail p.Spec.Name (sprintf "expected shape %s, got [%s]" (shapeText p.Spec.Shape) (String.Join("; ", v.shape)))
                    { p with Value = keep (v.detach().to_type(net.precision.ScalarType).clone()) }
                | None -> { p with Value = keep (p.Value.clone ()) })
        { net with
            parameters = parameters
            patterns = net.patterns |> Map.map (fun _ t -> { t with FixedSign = keep (t.FixedSign.clone ()); FreeKeep = keep (t.FreeKeep.clone ()) }) }

    /// A copy with other trainable flags (same values).
    let withTrainable (flags: Map<string, bool>) (net: Network) : Network =
        for KeyValue (name, _) in flags do
            if not (net.parameters |> List.exists (fun p -> p.Spec.Name = name)) then
                Check.fail "trainable" (sprintf "the network has no parameter '%s'" name)
        let copy = withValues net Map.empty
        { copy with
            parameters = copy.parameters |> List.map (fun p -> { p with Trainable = flags |> Map.tryFind p.Spec.Name |> Option.defaultValue p.Trainable }) }

    /// A copy in another precision.
    let toPrecision (precision: Precision) (net: Network) : Network =
        use _ = torch.NewDisposeScope()
        let convert (t: Tensor) = t.to_type(precision.ScalarType).clone().MoveToOuterDisposeScope()
        { net with
            precision = precision
            parameters = net.parameters |> List.map (fun p -> { p with Value = convert p.Value })
            patterns = net.patterns |> Map.map (fun _ t -> { t with FixedSign = convert t.FixedSign; FreeKeep = convert t.FreeKeep }) }

    /// The effective weights as plain data.
    let values (net: Network) : (string * ParameterValue) list =
        use _ = torch.NewDisposeScope()
        let w = weights net
        net.parameters
        |> List.map (fun p ->
            let t = w[p.Spec.Name]
            p.Spec.Name,
            if t.dim () = 2L then ParameterValue.Matrix(Arrays.ofMatrix t)
            else ParameterValue.Vector(Arrays.ofTensor t))

    /// Number of scalar parameters: (all, trainable).
    let parameterCount (net: Network) =
        let count (p: Parameter) = p.Spec.Shape |> Array.fold (*) 1
        net.parameters |> List.sumBy count, net.parameters |> List.filter (fun p -> p.Trainable) |> List.sumBy count

    let private checkInputs (net: Network) (x: Tensor) (expectedDims: int) argument =
        if x.dim () <> int64 expectedDims then
            Check.fail argument (sprintf "expected a %d-D tensor %s, got shape [%s]" expectedDims (if expectedDims = 3 then "[batch; time; inputs]" else "[batch; inputs]") (String.Join("; ", x.shape)))
        if x.shape[expectedDims - 1] <> int64 net.sizes.Inputs then
            Check.fail argument (sprintf "the network has %d inputs but the last dimension is %d (shape [%s])" net.sizes.Inputs x.shape[expectedDims - 1] (String.Join("; ", x.shape)))

    let private initialState (argument: string) (net: Network) (batch: int64) (h0: Tensor option) =
        match h0 with
        | None -> torch.zeros([| batch; int64 net.sizes.Units |], net.precision.ScalarType)
        | Some h ->
            let ok =
                (h.dim () = 1L && h.shape[0] = int64 net.sizes.Units)
                || (h.dim () = 2L && h.shape[0] = batch && h.shape[1] = int64 net.sizes.Units)
            if not ok then
                Check.fail argument (sprintf "expected shape [%d; %d] or [%d], got [%s]" batch net.sizes.Units net.sizes.Units (String.Join("; ", h.shape)))
            h.to_type(net.precision.ScalarType).expand([| batch; int64 net.sizes.Units |])

    /// One step of the network: h [batch; units], x [batch; inputs] -> h' [batch; units]. Pure.
    let step (net: Network) (h: Tensor) (x: Tensor) : Tensor =
        checkInputs net x 2 "inputs"
        use scope = torch.NewDisposeScope()
        let w = weights net
        let h = initialState "h" net x.shape[0] (Some h)
        let drive = net.kind.InputDrive w (x.to_type(net.precision.ScalarType)) // [batch; drive]
        (net.kind.Step w h drive).MoveToOuterDisposeScope()

    /// Outputs of states: [..; units] -> [..; outputs]. Pure.
    let readout (net: Network) (states: Tensor) : Tensor =
        if states.shape[states.shape.Length - 1] <> int64 net.sizes.Units then
            Check.fail "states" (sprintf "the network has %d units but the last dimension is %d" net.sizes.Units states.shape[states.shape.Length - 1])
        use scope = torch.NewDisposeScope()
        (net.kind.Readout (weights net) (states.to_type(net.precision.ScalarType))).MoveToOuterDisposeScope()

    /// Steps from h0 through a precomputed drive [batch; time; drive] -> states [batch; time; units].
    /// Opens no scope (for loops that compute weights and drive once per batch).
    let unrollDrive (kind: Kind) (w: Weights) (h0: Tensor) (drive: Tensor) : Tensor =
        let steps = drive.unbind 1 // time x [batch; drive]
        let states = Array.zeroCreate<Tensor> steps.Length
        let mutable h = h0 // [batch; units]
        for t in 0 .. steps.Length - 1 do
            h <- kind.Step w h steps[t]
            states[t] <- h
        torch.stack(states, 1L) // [batch; time; units]

    /// Unrolls with given effective weights (for training loops that compute them once per batch).
    /// x [batch; time; inputs], h0 [batch; units] -> states [batch; time; units]. Opens no scope.
    let unrollStates (kind: Kind) (w: Weights) (h0: Tensor) (x: Tensor) : Tensor =
        unrollDrive kind w h0 (kind.InputDrive w x)

    /// Runs the network over inputs x [batch; time; inputs] from h0 ([batch; units] or [units];
    /// zeros when None). Returns outputs [batch; time; outputs] and states [batch; time; units].
    /// Pure: neither the network nor the inputs change.
    let unrollFrom (net: Network) (h0: Tensor option) (x: Tensor) : Rollout =
        checkInputs net x 3 "inputs"
        use scope = torch.NewDisposeScope()
        let w = weights net
        let h = initialState "initial_state" net x.shape[0] h0 // [batch; units]
        let x = x.to_type(net.precision.ScalarType) // [batch; time; inputs]
        // The hand-written forward pass when nothing asks for a gradient (same states up to rounding).
        let wantsGrad = torch.is_grad_enabled () && (x.requires_grad || h.requires_grad || w.Values |> Seq.exists (fun t -> t.requires_grad))
        let states =
            match (if wantsGrad then None else Recurrence.of' net.kind w) with
            | Some recurrence ->
                let drive = net.kind.InputDrive w (x.transpose(0L, 1L)) // [time; batch; units]
                (Recurrence.forward recurrence w["w_rec"] h drive).transpose(0L, 1L).contiguous() // [batch; time; units]
            | None -> unrollStates net.kind w h x // [batch; time; units]
        let outputs = net.kind.Readout w states // [batch; time; outputs]
        { Outputs = outputs.MoveToOuterDisposeScope(); States = states.MoveToOuterDisposeScope() }

    /// `unrollFrom` with the zero initial state.
    let unroll (net: Network) (x: Tensor) : Rollout = unrollFrom net None x
