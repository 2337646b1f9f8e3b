namespace RnnFun

open System
open System.Collections.Generic
open TorchSharp

/// The effective (constrained) weights a network computes with, by parameter name.
type Weights = IReadOnlyDictionary<string, Tensor>

/// A network's sizes.
type Sizes = { Inputs: int; Units: int; Outputs: int }

/// What a parameter is. Constraints, regularisation, plots and name maps (PyTorch) work by role,
/// never by name.
[<RequireQualifiedAccess>]
type Role =
    /// Input weights [units; inputs]: the input mask, L1In/L2In.
    | Input
    /// Recurrent weights [units; units]: autapses, Dale's law, the recurrent mask, unit signs, L1Rec/L2Rec.
    /// The hand-written recurrences compute with the kind's one parameter of this role.
    | Recurrent
    /// Readout weights [outputs; units]: the output mask, L1Out/L2Out.
    | Output
    /// A bias on the input side ([units]); an optional one is created when `NetworkConfig.InputBias` asks.
    | InputBias
    /// The recurrent bias ([units]).
    | RecurrentBias
    /// The readout's bias ([outputs]); an optional one is created when `NetworkConfig.OutputBias` asks.
    | OutputBias
    /// The weights or bias of a gate (a gated cell's update, reset, input or forget gate), by gate name.
    /// Not constrained and not regularised by the In/Rec/Out terms.
    | Gate of gate: string
    /// Anything else (a user kind's extra parameters): no constraint, no regularisation.
    | Free

/// One parameter of a kind.
type ParameterSpec =
    { Name: string
      Shape: int[]
      /// PyTorch Linear initialisation: U(-1/sqrt(FanIn), 1/sqrt(FanIn)).
      FanIn: int
      Role: Role
      /// Present only when asked for (by role: `InputBias`, `OutputBias`).
      Optional: bool
      /// Trained by default.
      Trainable: bool }

/// A setting of a kind, written beside the kind's name in model files (dt, tau, readout).
[<RequireQualifiedAccess>]
type KindSetting =
    | Number of float
    | Text of string

/// One named block of a kind's state.
type StateBlock = { Name: string; Size: int }

/// How a kind's state is packed in one [batch; state] tensor: named blocks in order (`h` for the
/// vanilla kinds; `h` and `c` for an LSTM), and the block the readout and the rates read. Fixed
/// points, Jacobians, topology and PCA work on the packed state.
type StateLayout =
    { Blocks: StateBlock list
      /// The block `Kind.Readout` is given.
      Readout: string
      /// The block `Kind.Rates` is given.
      Rates: string }

/// A recurrence with a forward pass and BPTT written by hand (see `Recurrence` and `FusedBptt`),
/// computing with the kind's `Role.Recurrent` weights.
[<RequireQualifiedAccess>]
type FusedRecurrence =
    /// h' = tanh(h W' + drive)
    | Rnn
    /// h' = (1 - alpha) h + alpha (tanh(h) W' + drive)
    | Ctrnn of alpha: float

/// A hand-written recurrence and the step function it stands for. It is used only while the kind's
/// `Step` is that very function (reference equality), so a kind derived from a built-in one with
/// another step (`{ Kinds.rnn with Step = ... }`) takes the general path: no name test, no probe.
type HandWritten =
    { Recurrence: FusedRecurrence
      Step: Weights -> Tensor -> Tensor -> Tensor }

/// A kind of network (a cell): its parameters with their roles, its state layout, a pure step
/// function and a readout, and its capabilities. `rnn` and `ctrnn` are two values of this type; a
/// user defines another (a different nonlinearity, a gated cell) the same way.
type Kind =
    { /// Written to model files; the name a model file is read back by.
      Name: string
      /// Written beside the name in model files (ctrnn: dt, tau, readout).
      Settings: (string * KindSetting) list
      /// The kind with settings read from a model file (the names in `Settings` that the file holds).
      /// Raises `InvalidArgument` naming the setting for a bad or missing value. None: the kind has no
      /// settings, and a model file of it gives this very kind.
      WithSettings: ((string * KindSetting) list -> Kind) option
      /// The parameters for given sizes, in a fixed order.
      Parameters: Sizes -> ParameterSpec list
      /// The state's blocks for given sizes.
      State: Sizes -> StateLayout
      /// The input's contribution for every step at once, so that it is one matrix product:
      /// x [batch; time; inputs] -> [batch; time; drive]. It must also accept x [batch; inputs].
      InputDrive: Weights -> Tensor -> Tensor
      /// One step: h [batch; state], drive [batch; drive] -> h' [batch; state].
      Step: Weights -> Tensor -> Tensor -> Tensor
      /// The outputs of the readout block of states: [..; block] -> [..; outputs].
      Readout: Weights -> Tensor -> Tensor
      /// Firing rates of the rates block of states (for rate regularisation): [..; block] -> [..; block].
      Rates: Tensor -> Tensor
      /// Recurrent noise sigma enters the drive as NoiseGain * sigma * N(0, 1): 1 for a discrete
      /// network, sqrt(2 / alpha) for a continuous-time one (PsychRNN's sqrt(2 alpha) sigma on the state).
      NoiseGain: float
      /// The closed-form state Jacobian dF/dh, when the kind has one: h [batch; state],
      /// drive [batch; drive] -> J [batch; state; state], J[b, i, j] = dF_i / dh_j.
      /// None: analysis uses autograd.
      Jacobian: (Weights -> Tensor -> Tensor -> Tensor) option
      /// The hand-written recurrence, when the kind has one (see `HandWritten`).
      HandWritten: HandWritten option
      /// alpha = dt / tau of a continuous-time kind (its vector field's eigenvalues are
      /// (lambda - 1) / alpha); None for a discrete-time map.
      TimeScale: float option }

/// What every part of the library reads from a kind's declarations.
[<RequireQualifiedAccess>]
module Kind =
    /// The packed state's width for given sizes: the sum of its blocks.
    let stateSize (kind: Kind) (sizes: Sizes) : int = (kind.State sizes).Blocks |> List.sumBy (fun b -> b.Size)

    /// Where a block starts in the packed state, and its width.
    let blockRange (layout: StateLayout) (name: string) : int * int =
        let rec find start (blocks: StateBlock list) =
            match blocks with
            | [] ->
                let names = layout.Blocks |> List.map (fun b -> b.Name)
                Check.fail "state" (sprintf "the state has no block '%s' (it has: %s)" name (String.Join(", ", names)))
            | b :: _ when b.Name = name -> start, b.Size
            | b :: rest -> find (start + b.Size) rest
        find 0 layout.Blocks

    /// The named block of packed states: [..; state] -> [..; block], a view (the states themselves
    /// when the block is the whole state).
    let block (layout: StateLayout) (name: string) (states: Tensor) : Tensor =
        let start, size = blockRange layout name
        let last = states.shape[states.shape.Length - 1]
        if start = 0 && int64 size = last then states
        else states.narrow(-1L, int64 start, int64 size)

    /// The names of a kind's parameters of one role, in the kind's order.
    let namesOf (role: Role) (specs: ParameterSpec list) : string list =
        specs |> List.filter (fun s -> s.Role = role) |> List.map (fun s -> s.Name)

    /// Checks a kind's declarations for given sizes: a non-empty state of positive blocks with distinct
    /// names that holds the readout and rates blocks, distinct parameter names, at most one
    /// `Role.Recurrent` parameter when the kind has a hand-written recurrence.
    let validate (kind: Kind) (sizes: Sizes) : unit =
        let layout = kind.State sizes
        let where = sprintf "kind '%s'" kind.Name
        if layout.Blocks.IsEmpty then Check.fail "state" (sprintf "%s declares no state block" where)
        for b in layout.Blocks do
            if b.Size <= 0 then Check.fail "state" (sprintf "%s: block '%s' has size %d (expected > 0)" where b.Name b.Size)
        let names = layout.Blocks |> List.map (fun b -> b.Name)
        if (List.distinct names).Length <> names.Length then Check.fail "state" (sprintf "%s: block names repeat (%s)" where (String.Join(", ", names)))
        blockRange layout layout.Readout |> ignore
        blockRange layout layout.Rates |> ignore
        let specs = kind.Parameters sizes
        let parameterNames = specs |> List.map (fun s -> s.Name)
        if (List.distinct parameterNames).Length <> parameterNames.Length then
            Check.fail "parameters" (sprintf "%s: parameter names repeat (%s)" where (String.Join(", ", parameterNames)))
        match kind.HandWritten with
        | Some _ when (namesOf Role.Recurrent specs).Length <> 1 ->
            Check.fail "parameters" (sprintf "%s has a hand-written recurrence and needs exactly one Role.Recurrent parameter" where)
        | _ -> ()

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
      /// [batch; time; state] (the packed state; units for the vanilla kinds)
      States: Tensor }

    interface IDisposable with
        member r.Dispose() =
            r.Outputs.Dispose()
            r.States.Dispose()

/// The forward pass of the built-in recurrences written as in-place ops on one time-major buffer:
/// used by `Network.unroll` when no gradient is wanted and by `FusedBptt` for training.
[<RequireQualifiedAccess>]
module Recurrence =
    let private two = 2.0.ToScalar()

    /// The hand-written recurrence of a kind: its `HandWritten` capability, while the kind's `Step`
    /// is the very function that capability stands for.
    let ofKind (kind: Kind) : FusedRecurrence option =
        match kind.HandWritten with
        | Some h when obj.ReferenceEquals(h.Step, kind.Step) -> Some h.Recurrence
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
        | Role.Free | Role.InputBias | Role.RecurrentBias | Role.OutputBias | Role.Gate _ -> None
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
            || (s.Role = Role.InputBias && config.InputBias)
            || (s.Role = Role.OutputBias && config.OutputBias))

    let private validateConfig (kind: Kind) (config: NetworkConfig) =
        Check.positive "input_size" config.InputSize
        Check.positive "n_units" config.Units
        Check.positive "output_size" config.OutputSize
        Constraints.validate config.InputSize config.Units config.OutputSize config.Constraints
        Kind.validate kind { Inputs = config.InputSize; Units = config.Units; Outputs = config.OutputSize }
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
          InputBias = net.parameters |> List.exists (fun p -> p.Spec.Role = Role.InputBias && p.Spec.Optional)
          OutputBias = net.parameters |> List.exists (fun p -> p.Spec.Role = Role.OutputBias && p.Spec.Optional)
          Constraints = net.constraints
          Trainable = net.parameters |> List.map (fun p -> p.Spec.Name, p.Trainable) |> Map.ofList
          Precision = net.precision
          Seed = 0L }

    /// How the network's state is packed (`Kind.State` at its sizes).
    let stateLayout (net: Network) : StateLayout = net.kind.State net.sizes

    /// The packed state's width ([batch; state]): the units for the vanilla kinds.
    let stateSize (net: Network) : int = Kind.stateSize net.kind net.sizes

    /// The name of the network's one `Role.Recurrent` parameter, when it has exactly one.
    let recurrentName (net: Network) : string option =
        match net.parameters |> List.filter (fun p -> p.Spec.Role = Role.Recurrent) with
        | [ p ] -> Some p.Spec.Name
        | _ -> None

    /// The hand-written recurrence and the recurrent weights it computes with, from effective weights.
    let internal handWritten (net: Network) (w: Weights) : (FusedRecurrence * Tensor) option =
        match Recurrence.ofKind net.kind, recurrentName net with
        | Some r, Some name -> Some(r, w[name])
        | _ -> None

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
        let n = stateSize net
        match h0 with
        | None -> torch.zeros([| batch; int64 n |], net.precision.ScalarType)
        | Some h ->
            let ok =
                (h.dim () = 1L && h.shape[0] = int64 n)
                || (h.dim () = 2L && h.shape[0] = batch && h.shape[1] = int64 n)
            if not ok then
                Check.fail argument (sprintf "expected shape [%d; %d] or [%d], got [%s]" batch n n (String.Join("; ", h.shape)))
            h.to_type(net.precision.ScalarType).expand([| batch; int64 n |])

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
        let n = stateSize net
        if states.dim () = 0L || states.shape[states.shape.Length - 1] <> int64 n then
            Check.fail "states" (sprintf "the network's state has %d values but the last dimension is %s" n (if states.dim () = 0L then "missing" else string states.shape[states.shape.Length - 1]))
        use scope = torch.NewDisposeScope()
        let layout = stateLayout net
        (net.kind.Readout (weights net) (Kind.block layout layout.Readout (states.to_type(net.precision.ScalarType)))).MoveToOuterDisposeScope()

    /// The kind's readout of packed states with given weights (its readout block): [..; state] ->
    /// [..; outputs]. Opens no scope.
    let readoutWith (net: Network) (w: Weights) (states: Tensor) : Tensor =
        let layout = stateLayout net
        net.kind.Readout w (Kind.block layout layout.Readout states)

    /// The kind's firing rates of packed states (its rates block): [..; state] -> [..; block]. Opens no scope.
    let ratesOf (net: Network) (states: Tensor) : Tensor =
        let layout = stateLayout net
        net.kind.Rates (Kind.block layout layout.Rates states)

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
            match (if wantsGrad then None else handWritten net w) with
            | Some (recurrence, wRec) ->
                let drive = net.kind.InputDrive w (x.transpose(0L, 1L)) // [time; batch; units]
                (Recurrence.forward recurrence wRec h drive).transpose(0L, 1L).contiguous() // [batch; time; units]
            | None -> unrollStates net.kind w h x // [batch; time; state]
        let outputs = readoutWith net w states // [batch; time; outputs]
        { Outputs = outputs.MoveToOuterDisposeScope(); States = states.MoveToOuterDisposeScope() }

    /// `unrollFrom` with the zero initial state.
    let unroll (net: Network) (x: Tensor) : Rollout = unrollFrom net None x
