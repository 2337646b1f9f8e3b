namespace RnnFun

open System
open System.Collections.Generic
open TorchSharp

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
