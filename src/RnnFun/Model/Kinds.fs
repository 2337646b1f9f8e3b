namespace RnnFun

/// The built-in kinds, each a plain `Kind` value (see `Kind` for the protocol), and the list a model
/// file's kind name is looked up in. A new built-in kind is a file under Model/Cells/ and its line
/// in `builtIn` (and a name here, if it should read `Kinds.name`).
[<RequireQualifiedAccess>]
module Kinds =
    /// The discrete vanilla network: h' = tanh(W_rec h + b_rec + W_in x (+ b_in)), o = W_out h (+ b_out).
    let rnn: Kind = Vanilla.rnn

    /// The continuous-time network with given settings (`Vanilla.ctrnnWith`).
    let ctrnnWith (config: CtrnnConfig) : Kind = Vanilla.ctrnnWith config

    /// The continuous-time network with pyrnn's defaults (dt = 5, tau = 100, state readout).
    let ctrnn: Kind = Vanilla.ctrnn

    /// The settings of a ctrnn kind (None for another kind).
    let ctrnnConfig (kind: Kind) : CtrnnConfig option = Vanilla.ctrnnConfig kind

    /// The vanilla parameters W_in, W_rec, b_rec, W_out and optional b_in, b_out, for a kind of your own.
    let vanillaParameters (sizes: Sizes) : ParameterSpec list = Vanilla.parameters sizes

    /// One state block `h` of `Units` values, for a kind of your own.
    let vanillaState (sizes: Sizes) : StateLayout = Vanilla.state sizes

    /// W_in x + b_in + b_rec for every step at once, for a kind of your own.
    let vanillaDrive (w: Weights) (x: Tensor) : Tensor = Vanilla.drive w x

    /// W_out s (+ b_out), for a kind of your own.
    let linearReadout (w: Weights) (s: Tensor) : Tensor = Vanilla.linearReadout w s

    /// PyTorch's GRU (gates r, z, n) with a linear readout; weights named as a `torch.nn.GRU` state_dict.
    let gru: Kind = Gated.gru

    /// PyTorch's LSTM (gates i, f, g, o) with a linear readout; the state is the packed [h; c].
    let lstm: Kind = Gated.lstm

    /// The UGRNN (Collins et al. 2017): h' = g h + (1 - g) c with one update gate g and candidate c.
    let ugrnn: Kind = Gated.ugrnn

    /// The kinds this library knows: a model file names one of these (or a kind given to
    /// `ModelFile.loadWith`).
    let builtIn: Kind list = [ rnn; ctrnn; gru; lstm; ugrnn ]

    /// True for a built-in kind: a built-in name with the built-in step still in place (its own
    /// hand-written step for rnn and ctrnn, whatever their settings; the very step value otherwise).
    /// A kind derived from a built-in one with another step is not built in.
    let isBuiltIn (kind: Kind) : bool =
        builtIn
        |> List.exists (fun k ->
            k.Name = kind.Name
            && (obj.ReferenceEquals(k.Step, kind.Step) || (Recurrence.ofKind kind).IsSome))
