namespace RnnFun

open System
open System.Collections.Generic
open TorchSharp

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

[<RequireQualifiedAccess>]
module Network =
    /// One block's pattern repeated for `blocks` stacked blocks (rows block by block).
    let private stacked (blocks: int) (p: WeightPattern) : WeightPattern =
        let repeat (m: float[][]) = Array.init blocks (fun _ -> m |> Array.map Array.copy) |> Array.concat
        { Keep = repeat p.Keep; Sign = repeat p.Sign }

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
        | Role.InputBlocks _ when constraints.InputMask.IsNone -> None
        | Role.InputBlocks blocks ->
            shapeMust (blocks * sizes.Units) sizes.Inputs (sprintf "stacked input (%d blocks)" blocks)
            Some(stacked blocks (Constraints.inputPattern sizes.Inputs sizes.Units constraints))
        | Role.RecurrentBlocks _ when constraints.RecurrentMask.IsNone && constraints.DaleRatio.IsNone && constraints.Autapses && constraints.UnitSigns.IsNone -> None
        | Role.RecurrentBlocks blocks ->
            shapeMust (blocks * sizes.Units) sizes.Units (sprintf "stacked recurrent (%d blocks)" blocks)
            // A gate's weight from unit j is not a synapse of a sign: an excitatory unit may open one
            // gate and close another. Signs are refused rather than given a meaning of our own.
            let refuse argument what =
                Check.fail argument (sprintf "%s does not apply to a gated cell: parameter '%s' stacks %d gate blocks, whose weights have no excitatory or inhibitory sign; use a vanilla kind (rnn, ctrnn) for sign constraints, or remove %s (masks and autapses do apply)" what spec.Name blocks what)
            if constraints.DaleRatio.IsSome then refuse "dale_ratio" "Dale's law"
            if constraints.UnitSigns.IsSome then refuse "unit_signs" "unit signs"
            match constraints.RecurrentMask with
            | Some m when m |> Array.exists (Array.exists (fun v -> v < 0.0)) -> refuse "recurrent_mask" "a signed recurrent mask"
            | _ -> ()
            Some(stacked blocks (Constraints.recurrentPattern sizes.Units constraints))

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
        // Every network is created or loaded through here: the first use of TorchSharp.
        NativeRuntime.ensure ()
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

    /// Refuses (`InsufficientMemory`) a network whose making would not fit: per element, the float32
    /// draw and its temporaries (12 B) and the value and its projection (2 in the precision); a
    /// constrained matrix adds its pattern as plain data (24 B) and as tensors (2 in the precision).
    let private requireMemory (config: NetworkConfig) (specs: ParameterSpec list) =
        let e = Memory.elementBytes config.Precision
        let constrained = config.Constraints <> Constraints.none
        let bytes =
            specs
            |> List.sumBy (fun s ->
                let count = s.Shape |> Array.fold (fun acc d -> acc * float d) 1.0
                count * (12.0 + 2.0 * e) + (if constrained && s.Shape.Length = 2 then count * (24.0 + 2.0 * e) else 0.0))
        Memory.require (sprintf "a %d-unit network (%d inputs, %d outputs)" config.Units config.InputSize config.OutputSize) bytes

    /// A new network of the given kind, initialised as PyTorch Linear (U(-1/sqrt(fan_in), 1/sqrt(fan_in)))
    /// from the config's seed, then projected onto the constraints. Raises `InvalidArgument` on a bad config.
    let create (kind: Kind) (config: NetworkConfig) : Network =
        validateConfig kind config
        let specs = specs kind config
        requireMemory config specs
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
        requireMemory config specs
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

    /// The hand-written recurrence and the names of the recurrent weights (and the gru's b_hh) it
    /// computes with (`Recurrence.parameterNames`).
    let internal handWrittenNames (net: Network) : (FusedRecurrence * string * string option) option =
        match Recurrence.ofKind net.kind with
        | Some r ->
            Recurrence.parameterNames r (net.parameters |> List.map (fun p -> p.Spec))
            |> Option.map (fun (weights, bias) -> r, weights, bias)
        | None -> None

    /// The hand-written recurrence and the recurrent weights (and the gru's b_hh) it computes with,
    /// from effective weights.
    let internal handWritten (net: Network) (w: Weights) : (FusedRecurrence * Tensor * Tensor option) option =
        handWrittenNames net |> Option.map (fun (r, weights, bias) -> r, w[weights], bias |> Option.map (fun b -> w[b]))

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

    /// One step of the network: h [batch; state], x [batch; inputs] -> h' [batch; state]. Pure.
    let step (net: Network) (h: Tensor) (x: Tensor) : Tensor =
        checkInputs net x 2 "inputs"
        use scope = torch.NewDisposeScope()
        let w = weights net
        let h = initialState "h" net x.shape[0] (Some h)
        let drive = net.kind.InputDrive w (x.to_type(net.precision.ScalarType)) // [batch; drive]
        (net.kind.Step w h drive).MoveToOuterDisposeScope()

    /// Outputs of states: [..; state] -> [..; outputs] (the kind's readout of its readout block). Pure.
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

    /// Steps from h0 through a precomputed drive [batch; time; drive] -> states [batch; time; state].
    /// Opens no scope (for loops that compute weights and drive once per batch).
    let unrollDrive (kind: Kind) (w: Weights) (h0: Tensor) (drive: Tensor) : Tensor =
        let steps = drive.unbind 1 // time x [batch; drive]
        let states = Array.zeroCreate<Tensor> steps.Length
        let mutable h = h0 // [batch; state]
        for t in 0 .. steps.Length - 1 do
            h <- kind.Step w h steps[t]
            states[t] <- h
        torch.stack(states, 1L) // [batch; time; state]

    /// Unrolls with given effective weights (for training loops that compute them once per batch).
    /// x [batch; time; inputs], h0 [batch; state] -> states [batch; time; state]. Opens no scope.
    let unrollStates (kind: Kind) (w: Weights) (h0: Tensor) (x: Tensor) : Tensor =
        unrollDrive kind w h0 (kind.InputDrive w x)

    /// Runs the network over inputs x [batch; time; inputs] from h0 ([batch; state] or [state];
    /// zeros when None). Returns outputs [batch; time; outputs] and states [batch; time; state].
    /// Pure: neither the network nor the inputs change.
    let unrollFrom (net: Network) (h0: Tensor option) (x: Tensor) : Rollout =
        checkInputs net x 3 "inputs"
        use scope = torch.NewDisposeScope()
        let w = weights net
        let h = initialState "initial_state" net x.shape[0] h0 // [batch; state]
        let x = x.to_type(net.precision.ScalarType) // [batch; time; inputs]
        // The hand-written forward pass when nothing asks for a gradient (same states up to rounding).
        let wantsGrad = torch.is_grad_enabled () && (x.requires_grad || h.requires_grad || w.Values |> Seq.exists (fun t -> t.requires_grad))
        let states =
            match (if wantsGrad then None else handWritten net w) with
            | Some (recurrence, wRec, bRec) ->
                // Time-major inside the hand-written pass, batch-first again outside.
                let drive = net.kind.InputDrive w (x.transpose(0L, 1L)) // [time; batch; drive]
                (Recurrence.forwardWith recurrence wRec bRec h drive).transpose(0L, 1L).contiguous() // [batch; time; state]
            | None -> unrollStates net.kind w h x // [batch; time; state]
        let outputs = readoutWith net w states // [batch; time; outputs]
        { Outputs = outputs.MoveToOuterDisposeScope(); States = states.MoveToOuterDisposeScope() }

    /// `unrollFrom` with the zero initial state.
    let unroll (net: Network) (x: Tensor) : Rollout = unrollFrom net None x

    /// The outputs alone [batch; time; outputs] of inputs x [batch; time; inputs] from h0 ([batch;
    /// state] or [state]; zeros when None): what a prediction or an accuracy needs. Without autograd
    /// the built-in gru and lstm run libtorch's own kernels (`ForwardKernels`: torch.nn.GRU /
    /// torch.nn.LSTM with the effective weights copied in), which give h but not the lstm's c; every
    /// other case is `unrollFrom`'s pass. The same outputs as `(unrollFrom net h0 x).Outputs` up to
    /// rounding. Pure: neither the network nor the inputs change.
    let outputsFrom (net: Network) (h0: Tensor option) (x: Tensor) : Tensor =
        checkInputs net x 3 "inputs"
        let kernel =
            match handWrittenNames net with
            | Some ((FusedRecurrence.Gru | FusedRecurrence.Lstm) as r, _, _) when not (torch.is_grad_enabled ()) ->
                let blocks = if r = FusedRecurrence.Gru then 3 else 4
                let layout = stateLayout net
                // The readout must read h alone, which is all the kernel gives.
                let start, size = Kind.blockRange layout layout.Readout
                if start = 0 && size = net.sizes.Units then
                    ForwardKernels.names blocks (net.parameters |> List.map (fun p -> p.Spec)) |> Option.map (fun names -> r, names)
                else None
            | _ -> None
        match kernel with
        | Some (recurrence, names) ->
            use scope = torch.NewDisposeScope()
            let w = weights net
            let h = initialState "initial_state" net x.shape[0] h0 // [batch; state]
            let x = x.to_type(net.precision.ScalarType) // [batch; time; inputs]
            match ForwardKernels.tryHidden recurrence names w h x with
            | Some hidden -> (net.kind.Readout w hidden).MoveToOuterDisposeScope() // [batch; time; outputs]
            | None ->
                let rollout = unrollFrom net h0 x
                rollout.States.Dispose()
                rollout.Outputs.MoveToOuterDisposeScope()
        | None ->
            let rollout = unrollFrom net h0 x
            rollout.States.Dispose()
            rollout.Outputs

    /// `outputsFrom` with the zero initial state.
    let outputs (net: Network) (x: Tensor) : Tensor = outputsFrom net None x

    /// The analytic oracle network: W_rec = gain I, W_out = I, W_in = 0 and zero biases, `units`
    /// units, 1 input, `units` outputs, float64. Its units are decoupled, so its fixed points are
    /// known in closed form (for the rnn kind, {-a*, 0, a*}^units with a* = tanh(gain a*) when gain > 1;
    /// the origin alone when gain <= 1), which is what the tests, benchmarks and examples check a
    /// search against. Parameters are filled by role, never by name: every `Role.Recurrent`
    /// parameter gets gain I, every `Role.Output` one I, all others (input weights, biases, gates,
    /// free parameters) zeros; so any kind whose recurrent and output roles are [units; units] works.
    let scaledIdentity (kind: Kind) (units: int) (gain: float) : Network =
        Check.positive "units" units
        if Double.IsNaN gain || Double.IsInfinity gain then
            Check.fail "gain" (sprintf "expected a finite number, got %g" gain)
        let config = { NetworkConfig.defaults with InputSize = 1; Units = units; OutputSize = units; Precision = Precision.Float64 }
        let identity scale (spec: ParameterSpec) =
            match spec.Shape with
            | [| rows; cols |] when rows = units && cols = units ->
                ParameterValue.Matrix(Array.init units (fun i -> Array.init units (fun j -> if i = j then scale else 0.0)))
            | shape ->
                Check.fail spec.Name (sprintf "scaledIdentity needs a %A parameter of shape [%d; %d] (a vanilla-shaped kind), got %s; build this kind with Network.ofValues instead" spec.Role units units (shapeText shape))
        let zeros (spec: ParameterSpec) =
            match spec.Shape with
            | [| n |] -> ParameterValue.Vector(Array.zeroCreate n)
            | [| rows; cols |] -> ParameterValue.Matrix(Array.init rows (fun _ -> Array.zeroCreate cols))
            | shape -> Check.fail spec.Name (sprintf "scaledIdentity fills vectors and matrices only, got shape %s; build this kind with Network.ofValues instead" (shapeText shape))
        let specs = specs kind config
        if not (specs |> List.exists (fun s -> s.Role = Role.Recurrent)) then
            Check.fail "kind" (sprintf "kind '%s' has no Role.Recurrent parameter for gain I; scaledIdentity needs one" kind.Name)
        let values =
            specs
            |> List.map (fun spec ->
                let value =
                    match spec.Role with
                    | Role.Recurrent -> identity gain spec
                    | Role.Output -> identity 1.0 spec
                    | _ -> zeros spec
                spec.Name, value)
        ofValues kind config (Map.ofList values)
