namespace RnnFun

open System
open TorchSharp

/// The states of a recurrence unrolled without autograd, as a leaf of the autograd graph, with the
/// hand-written backward pass that takes their gradient on to the drive, W_rec and the initial state.
/// Time-major, unlike the rest of the library: every step then reads and writes one contiguous
/// [batch; units] block, and no layout change is needed on the way in or out.
type FusedUnroll =
    { Recurrence: FusedRecurrence
      /// [time; batch; state], a leaf that requires grad: build the readout and the loss on these.
      States: Tensor
      /// The effective recurrent weights the states were computed with: W_rec [units; units], or
      /// weight_hh [3H or 4H; H] of a gated recurrence.
      WRec: Tensor
      /// The gru's effective recurrent bias b_hh [3H]; None for the others.
      BRec: Tensor option
      /// [batch; state]
      H0: Tensor
      /// [time; batch; drive]
      Drive: Tensor
      /// What the backward pass of a gated recurrence reads, kept from the forward pass (no graph):
      /// gru: r, z and gh_n = h W_hn' + b_hn [time; batch; 3H], n [time; batch; H]; lstm: the gates
      /// [time; batch; 4H] (order i, f, o, g), tanh(c) [time; batch; H]. Empty for rnn and ctrnn.
      Saved: Tensor list }

/// The gradients the hand-written backward pass returns.
type FusedGradients =
    { /// dL/ddrive [time; batch; drive]
      Drive: Tensor
      /// dL/dW_rec (or weight_hh), the shape of `FusedUnroll.WRec`
      Recurrent: Tensor
      /// dL/db_hh [3H] of the gru; None for the others
      RecurrentBias: Tensor option
      /// dL/dh0 [batch; state]
      InitialState: Tensor }

/// Back-propagation through time written by hand for the built-in kinds (rnn, ctrnn, gru, lstm): the
/// time loop issues 2-5 in-place tensor ops per step on slices of time-major buffers and no autograd
/// nodes, and the recurrent weight gradient is one matrix product over all steps instead of one per
/// step (dW_ih follows from the drive's gradient through autograd, also one product). Everything outside the recurrence (input drive,
/// constraints, readout, loss, regularisation, learnt initial state) stays with autograd, so every
/// constraint and trainable flag holds as on the general path.
[<RequireQualifiedAccess>]
module FusedBptt =
    let private one = 1.0.ToScalar()
    let private minusOne = (-1.0).ToScalar()

    /// The hand-written recurrence of a kind, when it has one (`Kind.HandWritten`, while the kind's
    /// step is the one it stands for).
    let recurrenceOf (kind: Kind) : FusedRecurrence option = Recurrence.ofKind kind

    /// Unrolls without autograd (`Recurrence.forwardWith`): h0 [batch; state], drive
    /// [time; batch; drive] (both may require grad), the recurrent weights and the gru's b_hh ->
    /// the states [time; batch; state] as a new leaf that requires grad, and what the backward pass
    /// reads. Opens no scope.
    let unrollWith (recurrence: FusedRecurrence) (wRec: Tensor) (bRec: Tensor option) (h0: Tensor) (drive: Tensor) : FusedUnroll =
        let states, saved =
            match recurrence, bRec with
            | FusedRecurrence.Gru, Some b ->
                let states, gates, n = Recurrence.gruForward wRec b h0 drive
                states, [ gates; n ]
            | FusedRecurrence.Lstm, _ ->
                let states, gates, tc = Recurrence.lstmForward wRec h0 drive
                states, [ gates; tc ]
            | _ -> Recurrence.forwardWith recurrence wRec bRec h0 drive, []
        { Recurrence = recurrence
          States = states.requires_grad_(true)
          WRec = wRec
          BRec = (match recurrence with FusedRecurrence.Gru -> bRec | _ -> None)
          H0 = h0
          Drive = drive
          Saved = saved }

    /// `unrollWith` without a recurrent bias: rnn, ctrnn, lstm (h0 [batch; state], drive
    /// [time; batch; drive]). Opens no scope.
    let unroll (recurrence: FusedRecurrence) (wRec: Tensor) (h0: Tensor) (drive: Tensor) : FusedUnroll =
        unrollWith recurrence wRec None h0 drive

    /// sum_t left_t' right_{t-1}, with right_{-1} = first: a weight gradient over all steps in one
    /// matrix product. left [time; batch; rows], right [time; batch; cols], first [batch; cols] -> [rows; cols].
    let private weightGradient (left: Tensor) (right: Tensor) (first: Tensor) =
        let time = left.shape[0]
        let rows, cols = left.shape[2], right.shape[2]
        let head = left.narrow(0L, 0L, 1L).reshape(-1L, rows).t().mm(first) // [rows; cols]
        if time = 1L then head
        else head.addmm_(left.narrow(0L, 1L, time - 1L).reshape(-1L, rows).t(), right.narrow(0L, 0L, time - 1L).reshape(-1L, cols), 1.0f, 1.0f)

    /// [first; xs_0 .. xs_{T-2}]: the previous step's values [time; batch; n] from first [batch; n]
    /// and xs [time; batch; n], in a new tensor.
    let private shiftedBy (first: Tensor) (xs: Tensor) =
        let time = xs.shape[0]
        if time = 1L then first.unsqueeze(0L).clone() // a new tensor: callers may write into it
        else torch.cat([| first.unsqueeze(0L); xs.narrow(0L, 0L, time - 1L) |], 0L)

    /// The gru's backward pass. g: dL/dstates [time; batch; H], overwritten with dL/dh_t (every path).
    /// With G_t = dL/dh_t: dgh_t = [da_r, da_z, da_n r] = G_t k_t (k_t per block: (1 - z)(1 - n^2) gh_n
    /// r(1 - r), z(1 - z)(h_{t-1} - n), (1 - z)(1 - n^2) r, all computed before the loop), then
    /// G_{t-1} += dgh_t W_hh + G_t z_t: three ops per step. dW_hh and db_hh over all steps at the end.
    let private gruGradients (u: FusedUnroll) (g: Tensor) : FusedGradients =
        let w = u.WRec.detach () // [3H; H]
        let states = u.States.detach () // [time; batch; H]
        let h0 = u.H0.detach () // [batch; H]
        let gates, cand =
            match u.Saved with
            | [ gates; cand ] -> gates, cand
            | _ -> invalidArg "u" "a gru unroll keeps its gates (r, z, gh_n) and n"
        let time, batch, n = states.shape[0], states.shape[1], states.shape[2]
        let r, z, ghN = gates.narrow(2L, 0L, n), gates.narrow(2L, n, n), gates.narrow(2L, 2L * n, n) // [time; batch; H] each, views
        // The factors are written into one new buffer k, block by block, with in-place ops: every
        // new [time; batch; H] tensor costs about as much as two passes here (fresh pages from the
        // allocator), so the pass allocates three (k, kn, the previous states).
        let k = torch.empty([| time; batch; 3L * n |], states.dtype, device = states.device) // [time; batch; 3H], becomes dL/dgh
        let kR, kZ, kN = k.narrow(2L, 0L, n), k.narrow(2L, n, n), k.narrow(2L, 2L * n, n) // [time; batch; H] views
        let kn = Recurrence.oneMinusSquare cand // 1 - n^2 [time; batch; H]
        kn.addcmul_(z, kn, minusOne) |> ignore // (1 - z)(1 - n^2): dL/da_n = G kn
        kR.copy_(r).addcmul_(r, r, minusOne).mul_(ghN).mul_(kn) |> ignore // da_r = G kn gh_n r (1 - r)
        kZ.copy_(z).addcmul_(z, z, minusOne).mul_((shiftedBy h0 states).sub_(cand)) |> ignore // da_z = G z (1 - z)(h_{t-1} - n)
        kN.copy_(kn).mul_(r) |> ignore // dL/dgh_n = G kn r
        let blocks = k.view(time, batch, 3L, n).unbind 0 // time x [batch; 3; H]
        let ks, gs, gUp, zs = k.unbind 0, g.unbind 0, g.unsqueeze(2L).unbind 0, z.unbind 0 // time x [batch; ..]
        let last = int time - 1
        for t in last .. -1 .. 0 do
            if t < last then gs[t].addmm_(ks[t + 1], w, 1.0f, 1.0f).addcmul_(gs[t + 1], zs[t + 1], one) |> ignore
            blocks[t].mul_(gUp[t]) |> ignore
        let dW = weightGradient k states h0 // [3H; H]
        // The bias gradient as a product (a sum over rows of [time batch; 3H] is slower here).
        let dB = torch.ones([| 1L; time * batch |], k.dtype, device = k.device).mm(k.reshape(-1L, 3L * n)).reshape(-1L) // [3H]
        let dH0 = ks[0].mm(w).addcmul_(gs[0], zs[0], one) // [batch; H]
        // dL/ddrive in k's own buffer: the r and z blocks are those of gh; the n block is da_n,
        // without gh_n's factor r.
        kN.copy_(g).mul_(kn) |> ignore
        { Drive = k // [time; batch; 3H]
          Recurrent = dW
          RecurrentBias = Some dB
          InitialState = dH0 }

    /// The lstm's backward pass. g: dL/dstates [time; batch; 2H] (h then c), overwritten. With H_t and
    /// C_t the gradients of h_t and c_t along every path: H_t = g_h + da_{t+1} W_hh,
    /// C_t = g_c + H_t o (1 - tanh(c_t)^2) + C_{t+1} f_{t+1}, da_t = [C_t k_i, C_t k_f, C_t k_g, H_t k_o]
    /// (k computed before the loop, PyTorch's gate order i, f, g, o): five ops per step; dW_hh over all
    /// steps at the end.
    let private lstmGradients (u: FusedUnroll) (g: Tensor) : FusedGradients =
        let w = u.WRec.detach () // [4H; H]
        let states = u.States.detach () // [time; batch; 2H]
        let h0 = u.H0.detach () // [batch; 2H]
        let gates, tc =
            match u.Saved with
            | [ gates; tc ] -> gates, tc
            | _ -> invalidArg "u" "an lstm unroll keeps its gates and tanh(c)"
        let time, batch = states.shape[0], states.shape[1]
        let n = states.shape[2] / 2L
        let gate k = gates.narrow(2L, k * n, n) // [time; batch; H], order i, f, o, g
        let i, f, o, gg = gate 0L, gate 1L, gate 2L, gate 3L
        let hs, cs = states.narrow(2L, 0L, n), states.narrow(2L, n, n) // [time; batch; H] each
        let cPrev = shiftedBy (h0.narrow(1L, n, n)) cs // [time; batch; H]
        // g is this pass's own buffer: its h and c blocks become H_t and C_t in place.
        let gh, gc = g.narrow(2L, 0L, n), g.narrow(2L, n, n) // [time; batch; H] views
        let kc = tc.squared().neg_().add_(one).mul_(o) // o (1 - tanh(c)^2): dL/dc_t += H_t kc, [time; batch; H]
        // One new buffer for the factors, written block by block in place (see gruGradients).
        let k = torch.empty([| time; batch; 4L * n |], states.dtype, device = states.device) // [time; batch; 4H], becomes da
        let block b = k.narrow(2L, b * n, n) // [time; batch; H], PyTorch's order i, f, g, o
        block(0L).copy_(i).addcmul_(i, i, minusOne).mul_(gg) |> ignore // i (1 - i) g
        block(1L).copy_(f).addcmul_(f, f, minusOne).mul_(cPrev) |> ignore // f (1 - f) c_{t-1}
        block(2L).fill_(one).addcmul_(gg, gg, minusOne).mul_(i) |> ignore // i (1 - g^2)
        block(3L).copy_(o).addcmul_(o, o, minusOne).mul_(tc) |> ignore // o (1 - o) tanh(c)
        let cBlocks = k.view(time, batch, 4L, n).narrow(2L, 0L, 3L).unbind 0 // time x [batch; 3; H]: i, f, g
        let oBlock = k.narrow(2L, 3L * n, n).unbind 0 // time x [batch; H]
        let ks, hsG, csG, cUp, kcs, fs = k.unbind 0, gh.unbind 0, gc.unbind 0, gc.unsqueeze(2L).unbind 0, kc.unbind 0, f.unbind 0
        let last = int time - 1
        for t in last .. -1 .. 0 do
            if t < last then hsG[t].addmm_(ks[t + 1], w, 1.0f, 1.0f) |> ignore
            csG[t].addcmul_(hsG[t], kcs[t], one) |> ignore
            if t < last then csG[t].addcmul_(csG[t + 1], fs[t + 1], one) |> ignore
            cBlocks[t].mul_(cUp[t]) |> ignore
            oBlock[t].mul_(hsG[t]) |> ignore
        { Drive = k // [time; batch; 4H], PyTorch's order as the drive
          Recurrent = weightGradient k hs (h0.narrow(1L, 0L, n)) // [4H; H]
          RecurrentBias = None
          InitialState = torch.cat([| ks[0].mm w; csG[0] * fs[0] |], 1L) } // [batch; 2H]

    /// The rnn's and ctrnn's backward pass. buffer: dL/dstates [time; batch; units], overwritten and
    /// returned as dL/ddrive.
    let private vanillaGradients (u: FusedUnroll) (buffer: Tensor) : FusedGradients =
        let w = u.WRec.detach () // [units; units]
        let states = u.States.detach () // [time; batch; units]
        let h0 = u.H0.detach () // [batch; units]
        let time = int states.shape[0]
        let g = buffer.unbind 0 // time x [batch; units]: row t ends as dL/da_t (rnn) or dL/dh_t (ctrnn)
        match u.Recurrence with
        | FusedRecurrence.Ctrnn alpha ->
            // h_t = (1 - alpha) h_{t-1} + alpha (tanh(h_{t-1}) W' + drive_t): with G_t = dL/dh_t,
            // G_{t-1} = g_{t-1} + (1 - alpha) G_t + alpha (G_t W) (1 - tanh(h_{t-1})^2), dL/ddrive_t = alpha G_t.
            let rates = Recurrence.twiceMinusOne (states.mul((2.0).ToScalar()).sigmoid_()) // tanh(h) [time; batch; units]
            let slope = (Recurrence.oneMinusSquare rates).unbind 0 // time x [batch; units]
            let rate0 = torch.tanh h0 // [batch; units]
            let slope0 = Recurrence.oneMinusSquare rate0 // [batch; units]
            for t in time - 1 .. -1 .. 1 do
                g[t - 1].add_(g[t], (1.0 - alpha).ToScalar()).addcmul_(g[t].mm w, slope[t - 1], alpha.ToScalar()) |> ignore
            let dH0 = (g[0] * (1.0 - alpha)).addcmul_(g[0].mm w, slope0, alpha.ToScalar()) // [batch; units]
            let dW = (weightGradient buffer rates rate0).mul_(alpha.ToScalar())
            { Drive = buffer.mul_(alpha.ToScalar()); Recurrent = dW; RecurrentBias = None; InitialState = dH0 }
        | _ ->
            // a_t = h_{t-1} W' + drive_t, h_t = tanh(a_t): dL/da_t = (g_t + dL/da_{t+1} W) (1 - h_t^2).
            let slope = (Recurrence.oneMinusSquare states).unbind 0 // time x [batch; units]
            g[time - 1].mul_(slope[time - 1]) |> ignore
            for t in time - 2 .. -1 .. 0 do
                g[t].addmm_(g[t + 1], w, 1.0f, 1.0f).mul_(slope[t]) |> ignore
            { Drive = buffer; Recurrent = weightGradient buffer states h0; RecurrentBias = None; InitialState = g[0].mm w }

    /// `gradients` into a buffer it may overwrite: `buffer` holds dL/dstates [time; batch; state].
    let private gradientsInPlace (u: FusedUnroll) (buffer: Tensor) : FusedGradients =
        use _ = torch.no_grad ()
        match u.Recurrence with
        | FusedRecurrence.Gru -> gruGradients u buffer
        | FusedRecurrence.Lstm -> lstmGradients u buffer
        | FusedRecurrence.Rnn
        | FusedRecurrence.Ctrnn _ -> vanillaGradients u buffer

    /// Gradients of the loss with respect to the drive [time; batch; drive], the recurrent weights,
    /// the gru's b_hh and h0 [batch; state], given its gradient with respect to the states
    /// [time; batch; state] (only read).
    let gradients (u: FusedUnroll) (gradStates: Tensor) : FusedGradients =
        gradientsInPlace u (torch.empty(gradStates.shape, gradStates.dtype, device = gradStates.device).copy_(gradStates))

    /// The backward pass of a loss built on `u.States`: autograd from the loss to the states (and to
    /// whatever else the loss reads: readout weights, regularised weights), then the hand-written pass
    /// through the recurrence, then autograd from the drive, the recurrent weights (and b_hh) and h0
    /// to the parameters (constraint projections, input weights, a learnt initial state). Gradients
    /// accumulate in the leaves' .grad as `loss.backward()` would.
    let backward (loss: Tensor) (u: FusedUnroll) =
        // The graph is kept: a regularisation term can share W_rec's projection with the pass below.
        loss.backward(null, true, false, null)
        let gradStates = u.States.grad
        if not (isNull gradStates) then
            // The states' gradient belongs to this pass (the states are its own leaf): it is
            // overwritten instead of copied.
            let grads = gradientsInPlace u (if gradStates.is_contiguous () then gradStates else gradStates.contiguous ())
            // The buffer is now overwritten: cleared, so that a second backward on this unroll
            // (another loss, accumulation) starts from a fresh gradient instead of adding onto it.
            u.States.grad <- null
            let pairs =
                [ yield u.Drive, grads.Drive
                  yield u.WRec, grads.Recurrent
                  yield u.H0, grads.InitialState
                  match u.BRec, grads.RecurrentBias with
                  | Some b, Some db -> yield b, db
                  | _ -> () ]
                |> List.filter (fun (t, _) -> t.requires_grad)
            // Kept as well: a second loss on this unroll (another backward) goes through the drive's
            // graph again (the input weights' product saves its operands); it is small, and freed with the scope.
            if not pairs.IsEmpty then
                torch.autograd.backward(pairs |> List.map fst |> Array.ofList, pairs |> List.map snd |> Array.ofList, Nullable(true), false, null)
