namespace RnnFun

open TorchSharp

/// The gated cells: PyTorch's GRU and LSTM (its equations, gate order, two bias vectors and
/// state_dict names, so weights map one to one to `torch.nn.GRU` / `torch.nn.LSTM`), and the UGRNN
/// of Collins, Sohl-Dickstein and Sussillo (2017). Each has a linear readout w_out (+ b_out).
/// `Kinds` lists them.
[<RequireQualifiedAccess>]
module Gated =
    let private spec name shape fanIn role optional trainable =
        { Name = name; Shape = shape; FanIn = fanIn; Role = role; Optional = optional; Trainable = trainable }

    /// The readout w_out [outputs; units] and optional b_out [outputs], trained by default (a gated
    /// network is trained as a whole, as a torch module and its Linear are).
    let private readoutParameters (sizes: Sizes) =
        [ spec "w_out" [| sizes.Outputs; sizes.Units |] sizes.Units Role.Output false true
          spec "b_out" [| sizes.Outputs |] sizes.Units Role.OutputBias true true ]

    /// PyTorch's parameters of a one-layer cell of `gates` stacked blocks: weight_ih_l0
    /// [gates * units; inputs], weight_hh_l0 [gates * units; units], bias_ih_l0 and bias_hh_l0
    /// [gates * units], every one with fan-in = units (PyTorch's U(-1/sqrt(H), 1/sqrt(H))), all trained.
    let private torchParameters (gates: int) (sizes: Sizes) : ParameterSpec list =
        let h = sizes.Units
        [ spec "weight_ih_l0" [| gates * h; sizes.Inputs |] h (Role.InputBlocks gates) false true
          spec "weight_hh_l0" [| gates * h; h |] h (Role.RecurrentBlocks gates) false true
          spec "bias_ih_l0" [| gates * h |] h Role.InputBias false true
          spec "bias_hh_l0" [| gates * h |] h Role.RecurrentBias false true ]
        @ readoutParameters sizes

    /// GRU parameters (gates r, z, n): weight_ih_l0 [3H; I], weight_hh_l0 [3H; H], bias_ih_l0, bias_hh_l0 [3H], w_out, b_out.
    let gruParameters (sizes: Sizes) : ParameterSpec list = torchParameters 3 sizes

    /// LSTM parameters (gates i, f, g, o): weight_ih_l0 [4H; I], weight_hh_l0 [4H; H], bias_ih_l0, bias_hh_l0 [4H], w_out, b_out.
    let lstmParameters (sizes: Sizes) : ParameterSpec list = torchParameters 4 sizes

    /// UGRNN parameters (blocks g, c): weight_ih_l0 [2H; I], weight_hh_l0 [2H; H], one bias bias_l0
    /// [2H] (Collins et al. have one bias per gate), w_out, b_out; fan-in = units, all trained.
    let ugrnnParameters (sizes: Sizes) : ParameterSpec list =
        let h = sizes.Units
        [ spec "weight_ih_l0" [| 2 * h; sizes.Inputs |] h (Role.InputBlocks 2) false true
          spec "weight_hh_l0" [| 2 * h; h |] h (Role.RecurrentBlocks 2) false true
          spec "bias_l0" [| 2 * h |] h Role.RecurrentBias false true ]
        @ readoutParameters sizes

    /// The LSTM's packed state [h; c]: readout and rates read h.
    let lstmState (sizes: Sizes) : StateLayout =
        { Blocks = [ { Name = "h"; Size = sizes.Units }; { Name = "c"; Size = sizes.Units } ]; Readout = "h"; Rates = "h" }

    /// x W_ih' + the named biases, for every step at once: [..; inputs] -> [..; gates * units].
    let private inputProjection (biases: string list) (w: Weights) (x: Tensor) : Tensor =
        let bias = biases |> List.map (fun name -> w[name]) |> List.reduce (+) // [gates * units]
        // W_ih' contiguous: autograd forms W_ih's gradient as x' G (see Vanilla.drive).
        torch.matmul(x, w["weight_ih_l0"].t().contiguous()).add_(bias) // [..; gates * units]

    /// [batch; k n] -> n-wide column block i (a view).
    let private part (n: int64) (i: int64) (t: Tensor) = t.narrow(1L, i * n, n)

    /// v [batch; n] -> diag(v) [batch; n; n].
    let private diag (v: Tensor) =
        let n = v.shape[1]
        torch.eye(n, dtype = v.dtype).unsqueeze(0L) * v.unsqueeze(2L)

    /// Rows of one [n; n] block of weight_hh, broadcast over the batch: [1; n; n].
    let private block (w: Tensor) (n: int64) (i: int64) = w.narrow(0L, i * n, n).unsqueeze(0L)

    /// diag(v) W as [batch; n; n] from v [batch; n] and W [1; n; n].
    let private scaleRows (v: Tensor) (w: Tensor) = v.unsqueeze(2L) * w

    /// PyTorch's GRU (gates r, z, n; r applied to W_hn h + b_hn):
    /// r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
    /// n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h; o = W_out h (+ b_out).
    let gru: Kind =
        // The recurrent half: h W_hh' + b_hh [batch; 3H], kept apart because r multiplies its n block.
        let recurrent (w: Weights) (h: Tensor) = torch.addmm(w["bias_hh_l0"], h, w["weight_hh_l0"].t (), 1.0f, 1.0f)
        // r, W_hn h + b_hn and n = tanh(W_in x + b_in + r (W_hn h + b_hn)), [batch; H] each: what the
        // fixed-point residual n(h) - h and its derivatives read.
        let candidateParts (w: Weights) (h: Tensor) (drive: Tensor) =
            let n = h.shape[1]
            let gh = recurrent w h // [batch; 3H]
            let r = torch.sigmoid (drive.narrow(1L, 0L, n) + gh.narrow(1L, 0L, n)) // [batch; H]
            let hn = part n 2L gh // [batch; H]
            n, r, hn, torch.tanh (part n 2L drive + r * hn)
        // One function value: the closed-form Jacobian is the derivative of exactly this step.
        let step: Weights -> Tensor -> Tensor -> Tensor =
            fun w h drive ->
                let n = h.shape[1]
                let gh = recurrent w h // [batch; 3H]
                let rz = torch.sigmoid (drive.narrow(1L, 0L, 2L * n) + gh.narrow(1L, 0L, 2L * n)) // [batch; 2H]
                let candidate = torch.tanh (part n 2L drive + part n 0L rz * part n 2L gh) // [batch; H]
                // (1 - z) n + z h, written as PyTorch's gru_cell writes it.
                candidate + part n 1L rz * (h - candidate) // [batch; H]
        { Name = "gru"
          Settings = []
          WithSettings = None
          Parameters = gruParameters
          State = Vanilla.state
          InputDrive = inputProjection [ "bias_ih_l0" ] // x W_ih' + b_ih, [..; 3H]
          Step = step
          Readout = Vanilla.linearReadout
          Rates = fun h -> h.alias ()
          NoiseGain = 1.0
          // dh'/dh = diag(z) + diag(h - n) dz/dh + diag(1 - z) dn/dh, with dr/dh = diag(r(1 - r)) W_hr,
          // dz/dh = diag(z(1 - z)) W_hz, dn/dh = diag(1 - n^2) (diag(W_hn h + b_hn) dr/dh + diag(r) W_hn).
          Jacobian =
            Some
                { Step = step
                  Jacobian =
                    fun w h drive ->
                        let n = h.shape[1]
                        let whh = w["weight_hh_l0"] // [3H; H]
                        let gh = recurrent w h // [batch; 3H]
                        let rz = torch.sigmoid (drive.narrow(1L, 0L, 2L * n) + gh.narrow(1L, 0L, 2L * n)) // [batch; 2H]
                        let r, z, hn = part n 0L rz, part n 1L rz, part n 2L gh // [batch; H] each
                        let candidate = torch.tanh (part n 2L drive + r * hn) // [batch; H]
                        let dr = scaleRows (r * (1.0 - r)) (block whh n 0L) // [batch; H; H]
                        let dz = scaleRows (z * (1.0 - z)) (block whh n 1L) // [batch; H; H]
                        let dn = scaleRows (1.0 - candidate.squared ()) (scaleRows hn dr + scaleRows r (block whh n 2L)) // [batch; H; H]
                        diag z + scaleRows (h - candidate) dz + scaleRows (1.0 - z) dn } // [batch; H; H]
          HandWritten = Some { Recurrence = FusedRecurrence.Gru; Step = step }
          FixedPointLearningRate = None
          TimeScale = None
          // F(h) - h = (1 - z) (n - h): the fixed points are the zeros of n(h) - h.
          FixedPointResidual =
            Some
                { Step = step
                  Residual = fun w h drive -> (let _, _, _, candidate = candidateParts w h drive in candidate - h) // [batch; H]
                  Jacobian =
                    Some(fun w h drive ->
                        let n, r, hn, candidate = candidateParts w h drive
                        let whh = w["weight_hh_l0"] // [3H; H]
                        let dr = scaleRows (r * (1.0 - r)) (block whh n 0L) // [batch; H; H]
                        scaleRows (1.0 - candidate.squared ()) (scaleRows hn dr + scaleRows r (block whh n 2L))
                        - torch.eye(n, dtype = h.dtype).unsqueeze(0L)) // [batch; H; H]
                  // v' dn/dh - v = (v (1 - n^2) hn r (1 - r)) W_hr + (v (1 - n^2) r) W_hn - v.
                  VectorJacobian =
                    Some(fun w h drive v ->
                        let n, r, hn, candidate = candidateParts w h drive
                        let whh = w["weight_hh_l0"] // [3H; H]
                        let va = v * (1.0 - candidate.squared ()) * r // [batch; H]
                        torch.addmm(torch.mm(va * hn * (1.0 - r), whh.narrow(0L, 0L, n)), va, whh.narrow(0L, 2L * n, n), 1.0f, 1.0f) - v) } } // [batch; H]

    /// PyTorch's LSTM (gates i, f, g, o), state packed as [h; c]:
    /// (i, f, g, o) = (sigmoid, sigmoid, tanh, sigmoid)(W_ih x + b_ih + W_hh h + b_hh),
    /// c' = f c + i g, h' = o tanh(c'); o = W_out h (+ b_out).
    let lstm: Kind =
        // h, c and the four gates of packed states s [batch; 2H]: [batch; H] each.
        let gates (w: Weights) (s: Tensor) (drive: Tensor) =
            let n = s.shape[1] / 2L
            let h, c = part n 0L s, part n 1L s
            let a = torch.addmm(drive, h, w["weight_hh_l0"].t (), 1.0f, 1.0f) // [batch; 4H]
            n, h, c, torch.sigmoid (part n 0L a), torch.sigmoid (part n 1L a), torch.tanh (part n 2L a), torch.sigmoid (part n 3L a)
        let step: Weights -> Tensor -> Tensor -> Tensor =
            fun w s drive ->
                let _, _, c, i, f, g, o = gates w s drive
                let c2 = f * c + i * g // [batch; H]
                torch.cat([| o * torch.tanh c2; c2 |], 1L) // [batch; 2H]
        { Name = "lstm"
          Settings = []
          WithSettings = None
          Parameters = lstmParameters
          State = lstmState
          // Both biases fold into the drive: a step is one addmm with W_hh.
          InputDrive = inputProjection [ "bias_ih_l0"; "bias_hh_l0" ] // [..; 4H]
          Step = step
          Readout = Vanilla.linearReadout
          Rates = fun h -> h.alias ()
          NoiseGain = 1.0
          // dc'/dh = diag(c f(1-f)) W_hf + diag(g i(1-i)) W_hi + diag(i (1-g^2)) W_hg, dc'/dc = diag(f);
          // dh'/dh = diag(tanh(c') o(1-o)) W_ho + diag(o (1 - tanh(c')^2)) dc'/dh, dh'/dc = diag(o (1 - tanh(c')^2) f).
          Jacobian =
            Some
                { Step = step
                  Jacobian =
                    fun w s drive ->
                        let n, _, c, i, f, g, o = gates w s drive
                        let whh = w["weight_hh_l0"] // [4H; H]
                        let tc = torch.tanh (f * c + i * g) // [batch; H]
                        let dtc = o * (1.0 - tc.squared ()) // dh'/dc' [batch; H]
                        let dcdh =
                            scaleRows (i * (1.0 - i) * g) (block whh n 0L)
                            + scaleRows (f * (1.0 - f) * c) (block whh n 1L)
                            + scaleRows (i * (1.0 - g.squared ())) (block whh n 2L) // [batch; H; H]
                        let dhdh = scaleRows (o * (1.0 - o) * tc) (block whh n 3L) + scaleRows dtc dcdh // [batch; H; H]
                        let top = torch.cat([| dhdh; diag (dtc * f) |], 2L) // [batch; H; 2H]
                        let bottom = torch.cat([| dcdh; diag f |], 2L) // [batch; H; 2H]
                        torch.cat([| top; bottom |], 1L) } // [batch; 2H; 2H]
          HandWritten = Some { Recurrence = FusedRecurrence.Lstm; Step = step }
          // The cell state c is unbounded, and q is flat along it where the forget gate is open: at
          // FixedPointFinder's 1.0, Adam carries the states to saturated regions (on the trained
          // flip-flop none of 1,024 converged); at 0.1, 1,023 did.
          FixedPointLearningRate = Some 0.1
          TimeScale = None
          FixedPointResidual = None }

    /// The UGRNN (Collins et al. 2017): g = sigmoid(W_g [x; h] + b_g), c = tanh(W_c [x; h] + b_c),
    /// h' = g h + (1 - g) c; blocks g then c in weight_ih_l0, weight_hh_l0 and bias_l0; o = W_out h (+ b_out).
    let ugrnn: Kind =
        let gates (w: Weights) (h: Tensor) (drive: Tensor) =
            let n = h.shape[1]
            let a = torch.addmm(drive, h, w["weight_hh_l0"].t (), 1.0f, 1.0f) // [batch; 2H]
            n, torch.sigmoid (part n 0L a), torch.tanh (part n 1L a) // g, c [batch; H]
        let step: Weights -> Tensor -> Tensor -> Tensor =
            fun w h drive ->
                let _, g, c = gates w h drive
                c + g * (h - c) // g h + (1 - g) c
        { Name = "ugrnn"
          Settings = []
          WithSettings = None
          Parameters = ugrnnParameters
          State = Vanilla.state
          InputDrive = inputProjection [ "bias_l0" ] // [..; 2H]
          Step = step
          Readout = Vanilla.linearReadout
          Rates = fun h -> h.alias ()
          NoiseGain = 1.0
          // dh'/dh = diag(g) + diag((h - c) g(1 - g)) W_hg + diag((1 - g)(1 - c^2)) W_hc.
          Jacobian =
            Some
                { Step = step
                  Jacobian =
                    fun w h drive ->
                        let n, g, c = gates w h drive
                        let whh = w["weight_hh_l0"] // [2H; H]
                        diag g
                        + scaleRows ((h - c) * g * (1.0 - g)) (block whh n 0L)
                        + scaleRows ((1.0 - g) * (1.0 - c.squared ())) (block whh n 1L) } // [batch; H; H]
          HandWritten = None
          FixedPointLearningRate = None
          TimeScale = None
          // F(h) - h = (1 - g) (c - h): the fixed points are the zeros of c(h) - h.
          FixedPointResidual =
            Some
                { Step = step
                  Residual = fun w h drive -> (let _, _, c = gates w h drive in c - h) // [batch; H]
                  Jacobian =
                    Some(fun w h drive ->
                        let n, _, c = gates w h drive
                        scaleRows (1.0 - c.squared ()) (block w["weight_hh_l0"] n 1L)
                        - torch.eye(n, dtype = h.dtype).unsqueeze(0L)) // [batch; H; H]
                  // v' dc/dh - v = (v (1 - c^2)) W_hc - v.
                  VectorJacobian =
                    Some(fun w h drive v ->
                        let n, _, c = gates w h drive
                        torch.mm(v * (1.0 - c.squared ()), w["weight_hh_l0"].narrow(0L, n, n)) - v) } } // [batch; H]
