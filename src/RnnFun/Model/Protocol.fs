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
    /// Recurrent weights of a gated cell: `blocks` stacked [units; units] blocks, [blocks * units; units]
    /// (PyTorch's weight_hh). The recurrent mask (0/1) and no-autapses apply to every block, and
    /// L1Rec/L2Rec average over it; signs (Dale's law, unit signs, a signed mask) are refused.
    | RecurrentBlocks of blocks: int
    /// Input weights of a gated cell: `blocks` stacked [units; inputs] blocks, [blocks * units; inputs]
    /// (PyTorch's weight_ih). The input mask applies to every block; L1In/L2In average over it.
    | InputBlocks of blocks: int
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
/// computing with the kind's recurrent weights: the `Role.Recurrent` W_rec of rnn and ctrnn, the
/// `Role.RecurrentBlocks` weight_hh of gru and lstm (and the gru's `Role.RecurrentBias` b_hh, which
/// r multiplies, so that it cannot fold into the drive). The drive is the kind's `InputDrive`.
[<RequireQualifiedAccess>]
type FusedRecurrence =
    /// h' = tanh(h W' + drive)
    | Rnn
    /// h' = (1 - alpha) h + alpha (tanh(h) W' + drive)
    | Ctrnn of alpha: float
    /// PyTorch's GRU: drive = x W_ih' + b_ih [..; 3H] (blocks r, z, n), gh = h W_hh' + b_hh,
    /// r, z = sigmoid(drive + gh) (r, z blocks), n = tanh(drive_n + r gh_n), h' = n + z (h - n).
    | Gru
    /// PyTorch's LSTM: drive = x W_ih' + b_ih + b_hh [..; 4H] (blocks i, f, g, o), a = drive + h W_hh',
    /// c' = f c + i g, h' = o tanh(c'); the state packed as [h; c].
    | Lstm

/// Equations with the same zeros as F(h) - h, scaled for the fixed-point search. A gated cell
/// h' = g h + (1 - g) c (0 < g < 1) has F(h) - h = (1 - g) (c - h): where the gate is shut, 1 - g is
/// tiny over a whole region, q = |F(h) - h|^2 / 2 is flat there, and Newton's steps on it stall; the
/// zeros of c(h) - h are the same points without that factor. The search solves `Residual` = 0 and
/// reports q of the map itself. Used only while `Kind.Step` is `Step`.
type FixedPointResidual =
    { /// h [batch; state], drive [batch; drive] -> [batch; state]: zero exactly where Step h = h.
      Residual: Weights -> Tensor -> Tensor -> Tensor
      /// Its Jacobian [batch; state; state] in closed form; None: autograd through `Residual`.
      Jacobian: (Weights -> Tensor -> Tensor -> Tensor) option
      /// v' dResidual/dh in closed form: h, drive, v [batch; state] -> [batch; state] (the gradient
      /// of |Residual|^2 / 2 at v = Residual, for the search's first phase); None: autograd.
      VectorJacobian: (Weights -> Tensor -> Tensor -> Tensor -> Tensor) option
      Step: Weights -> Tensor -> Tensor -> Tensor }

/// A hand-written recurrence and the step function it stands for. It is used only while the kind's
/// `Step` is that very function (reference equality), so a kind derived from a built-in one with
/// another step (`{ Kinds.rnn with Step = ... }`) takes the general path: no name test, no probe.
type HandWritten =
    { Recurrence: FusedRecurrence
      Step: Weights -> Tensor -> Tensor -> Tensor }

/// A closed-form state Jacobian and the step function it is the derivative of. It is used only while
/// the kind's `Step` is that very function, so a kind derived from a built-in one with another step
/// is linearised by autograd through its own step instead of with the built-in's formula.
type ClosedFormJacobian =
    { /// h [batch; state], drive [batch; drive] -> J [batch; state; state], J[b, i, j] = dF_i / dh_j.
      Jacobian: Weights -> Tensor -> Tensor -> Tensor
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
      /// The closed-form state Jacobian dF/dh, when the kind has one (see `ClosedFormJacobian`).
      /// None: analysis uses autograd through `Step`.
      Jacobian: ClosedFormJacobian option
      /// The hand-written recurrence, when the kind has one (see `HandWritten`).
      HandWritten: HandWritten option
      /// alpha = dt / tau of a continuous-time kind (its vector field's eigenvalues are
      /// (lambda - 1) / alpha); None for a discrete-time map.
      TimeScale: float option
      /// Better-scaled fixed-point equations, when the kind has them (see `FixedPointResidual`).
      FixedPointResidual: FixedPointResidual option
      /// The fixed-point search's initial Adam rate for this kind's state, taken when
      /// `FixedPointConfig.InitialLearningRate` is None; None: 1.0, FixedPointFinder's.
      FixedPointLearningRate: float option }

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

    /// The kind's closed-form Jacobian, while its `Step` is the one that Jacobian was written for.
    let closedFormJacobian (kind: Kind) : (Weights -> Tensor -> Tensor -> Tensor) option =
        match kind.Jacobian with
        | Some j when obj.ReferenceEquals(j.Step, kind.Step) -> Some j.Jacobian
        | _ -> None

    /// The kind's `FixedPointResidual`, while its `Step` is the one the residual was written for.
    let fixedPointResidual (kind: Kind) : FixedPointResidual option =
        match kind.FixedPointResidual with
        | Some r when obj.ReferenceEquals(r.Step, kind.Step) -> Some r
        | _ -> None

    /// The top-level keys of a model file, which a kind's settings must not take.
    let reservedSettingNames =
        [ "format"; "version"; "kind"; "input_size"; "n_units"; "output_size"; "constraints"; "trainable"; "weights" ]

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
        for s in specs do
            if s.Optional && s.Role <> Role.InputBias && s.Role <> Role.OutputBias then
                Check.fail s.Name (sprintf "%s: only an InputBias or OutputBias parameter can be optional (it is created when the config asks for that bias); %s has role %A" where s.Name s.Role)
        match kind.FixedPointLearningRate with
        | Some rate when not (rate > 0.0 && Double.IsFinite rate) ->
            Check.fail "fixed_point_learning_rate" (sprintf "%s: expected a number > 0, got %g" where rate)
        | _ -> ()
        let settingNames = kind.Settings |> List.map fst
        if (List.distinct settingNames).Length <> settingNames.Length then
            Check.fail "settings" (sprintf "%s: setting names repeat (%s)" where (String.Join(", ", settingNames)))
        for (name, value) in kind.Settings do
            if List.contains name reservedSettingNames then
                Check.fail name (sprintf "%s: a setting cannot be named '%s' (model files use that key)" where name)
            match value with
            | KindSetting.Number v when Double.IsNaN v || Double.IsInfinity v -> Check.fail name (sprintf "%s: the setting is not finite (%g)" where v)
            | _ -> ()
        match kind.HandWritten with
        | Some h when obj.ReferenceEquals(h.Step, kind.Step) ->
            let units = sizes.Units
            let exactlyOne (role: Role) (roleText: string) (shape: int[]) =
                match specs |> List.filter (fun s -> s.Role = role) with
                | [ r ] when r.Shape = shape -> ()
                | _ -> Check.fail "parameters" (sprintf "%s has a hand-written recurrence and needs exactly one %s parameter of shape [%s]" where roleText (String.Join("; ", shape)))
            let stateOf (blocks: int) =
                if layout.Blocks.Length <> blocks || layout.Blocks |> List.exists (fun b -> b.Size <> units) then
                    Check.fail "state" (sprintf "%s has a hand-written recurrence and needs %d state block(s) of %d values" where blocks units)
            match h.Recurrence with
            | FusedRecurrence.Rnn
            | FusedRecurrence.Ctrnn _ ->
                // One block of Units values with a [units; units] W_rec.
                exactlyOne Role.Recurrent "Role.Recurrent" [| units; units |]
                stateOf 1
            | FusedRecurrence.Gru ->
                exactlyOne (Role.RecurrentBlocks 3) "Role.RecurrentBlocks 3" [| 3 * units; units |]
                exactlyOne Role.RecurrentBias "Role.RecurrentBias" [| 3 * units |]
                stateOf 1
            | FusedRecurrence.Lstm ->
                // Packed [h; c]: the readout and rates block must be h, the first one.
                exactlyOne (Role.RecurrentBlocks 4) "Role.RecurrentBlocks 4" [| 4 * units; units |]
                stateOf 2
        | _ -> ()
