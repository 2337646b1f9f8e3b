namespace RnnFun

open System
open TorchSharp

/// The states of a recurrence unrolled without autograd, as a leaf of the autograd graph, with the
/// hand-written backward pass that takes their gradient on to the drive, W_rec and the initial state.
/// Time-major, unlike the rest of the library: every step then reads and writes one contiguous
/// [batch; units] block, and no layout change is needed on the way in or out.
type FusedUnroll =
    { Recurrence: FusedRecurrence
      /// [time; batch; units], a leaf that requires grad: build the readout and the loss on these.
      States: Tensor
      /// The effective W_rec the states were computed with [units; units].
      WRec: Tensor
      /// [batch; units]
      H0: Tensor
      /// [time; batch; units]
      Drive: Tensor }

/// Back-propagation through time written by hand for the built-in kinds (rnn, ctrnn): the time loop
/// issues 2-4 in-place tensor ops per step on slices of one buffer and no autograd nodes, and the
/// weight gradient is one matrix product over all steps instead of one per step. Everything outside the recurrence (input drive,
/// constraints, readout, loss, regularisation, learnt initial state) stays with autograd, so every
/// constraint and trainable flag holds as on the general path.
[<RequireQualifiedAccess>]
module FusedBptt =
    /// The hand-written recurrence of a kind, when it has one (`Kind.HandWritten`, while the kind's
    /// step is the one it stands for).
    let recurrenceOf (kind: Kind) : FusedRecurrence option = Recurrence.ofKind kind

    /// Unrolls without autograd (`Recurrence.forward`): h0 [batch; units], drive [time; batch; units]
    /// (both may require grad) -> the states [time; batch; units] as a new leaf that requires grad.
    /// Opens no scope.
    let unroll (recurrence: FusedRecurrence) (wRec: Tensor) (h0: Tensor) (drive: Tensor) : FusedUnroll =
        { Recurrence = recurrence
          States = (Recurrence.forward recurrence wRec h0 drive).requires_grad_(true)
          WRec = wRec
          H0 = h0
          Drive = drive }

    /// `gradients` into a buffer it may overwrite: `buffer` holds dL/dstates [time; batch; units] and
    /// is returned as dL/ddrive.
    let private gradientsInPlace (u: FusedUnroll) (buffer: Tensor) : Tensor * Tensor * Tensor =
        use _ = torch.no_grad ()
        let w = u.WRec.detach () // [units; units]
        let states = u.States.detach () // [time; batch; units]
        let h0 = u.H0.detach () // [batch; units]
        let time = int states.shape[0]
        let units = states.shape[2]
        let g = buffer.unbind 0 // time x [batch; units]: row t ends as dL/da_t (rnn) or dL/dh_t (ctrnn)
        // sum_t left_t' right_{t-1}, with right_{-1} = first: the weight gradient in one matrix product.
        let weightGradient (left: Tensor) (right: Tensor) (first: Tensor) = // [time; batch; units] x2, [batch; units]
            let head = left.narrow(0L, 0L, 1L).reshape(-1L, units).t().mm(first) // [units; units]
            if time = 1 then head
            else head.addmm_(left.narrow(0L, 1L, int64 (time - 1)).reshape(-1L, units).t(), right.narrow(0L, 0L, int64 (time - 1)).reshape(-1L, units), 1.0f, 1.0f)
        match u.Recurrence with
        | FusedRecurrence.Rnn ->
            // a_t = h_{t-1} W' + drive_t, h_t = tanh(a_t): dL/da_t = (g_t + dL/da_{t+1} W) (1 - h_t^2).
            let slope = (Recurrence.oneMinusSquare states).unbind 0 // time x [batch; units]
            g[time - 1].mul_(slope[time - 1]) |> ignore
            for t in time - 2 .. -1 .. 0 do
                g[t].addmm_(g[t + 1], w, 1.0f, 1.0f).mul_(slope[t]) |> ignore
            buffer, weightGradient buffer states h0, g[0].mm w
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
            buffer.mul_(alpha.ToScalar()), dW, dH0

    /// Gradients of the loss with respect to the drive [time; batch; units], W_rec [units; units] and
    /// h0 [batch; units], given its gradient with respect to the states [time; batch; units] (only read).
    let gradients (u: FusedUnroll) (gradStates: Tensor) : Tensor * Tensor * Tensor =
        gradientsInPlace u (torch.empty(gradStates.shape, gradStates.dtype, device = gradStates.device).copy_(gradStates))

    /// The backward pass of a loss built on `u.States`: autograd from the loss to the states (and to
    /// whatever else the loss reads: readout weights, regularised weights), then the hand-written pass
    /// through the recurrence, then autograd from the drive, W_rec and h0 to the parameters (constraint
    /// projections, input weights, a learnt initial state). Gradients accumulate in the leaves' .grad
    /// as `loss.backward()` would.
    let backward (loss: Tensor) (u: FusedUnroll) =
        // The graph is kept: a regularisation term can share W_rec's projection with the pass below.
        loss.backward(null, true, false, null)
        let gradStates = u.States.grad
        if not (isNull gradStates) then
            // The states' gradient belongs to this pass (the states are its own leaf): it is
            // overwritten with the drive's gradient instead of copied.
            let dDrive, dW, dH0 = gradientsInPlace u (if gradStates.is_contiguous () then gradStates else gradStates.contiguous ())
            // The buffer now holds dL/ddrive: cleared, so that a second backward on this unroll
            // (another loss, accumulation) starts from a fresh gradient instead of adding onto it.
            u.States.grad <- null
            let pairs =
                [ u.Drive, dDrive
                  u.WRec, dW
                  u.H0, dH0 ]
                |> List.filter (fun (t, _) -> t.requires_grad)
            if not pairs.IsEmpty then
                torch.autograd.backward(pairs |> List.map fst |> Array.ofList, pairs |> List.map snd |> Array.ofList, Nullable(false), false, null)
