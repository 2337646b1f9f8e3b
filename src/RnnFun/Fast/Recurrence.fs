namespace RnnFun

open System
open System.Collections.Generic
open TorchSharp

/// The forward pass of the built-in recurrences (rnn, ctrnn, gru, lstm) written as in-place ops on
/// time-major buffers ([time; batch; ..], unlike the batch-first rest of the library, so that every
/// step reads and writes contiguous [batch; ..] slices): used by `Network.unroll` when no gradient
/// is wanted and by `FusedBptt` for training.
[<RequireQualifiedAccess>]
module Recurrence =
    let private two = 2.0.ToScalar()
    let private one = 1.0.ToScalar()

    /// The hand-written recurrence of a kind: its `HandWritten` capability, while the kind's `Step`
    /// is the very function that capability stands for.
    let ofKind (kind: Kind) : FusedRecurrence option =
        match kind.HandWritten with
        | Some h when obj.ReferenceEquals(h.Step, kind.Step) -> Some h.Recurrence
        | _ -> None

    /// The names of the parameters a hand-written recurrence computes with, from the kind's specs:
    /// the recurrent weights (`Role.Recurrent` for rnn and ctrnn, `Role.RecurrentBlocks` for gru and
    /// lstm) and the gru's recurrent bias (`Role.RecurrentBias`); None when the specs lack them
    /// (`Kind.validate` refuses such a kind).
    let parameterNames (recurrence: FusedRecurrence) (specs: ParameterSpec list) : (string * string option) option =
        let one (role: Role) =
            match specs |> List.filter (fun s -> s.Role = role) with
            | [ s ] -> Some s.Name
            | _ -> None
        match recurrence with
        | FusedRecurrence.Rnn
        | FusedRecurrence.Ctrnn _ -> one Role.Recurrent |> Option.map (fun w -> w, None)
        | FusedRecurrence.Gru ->
            match one (Role.RecurrentBlocks 3), one Role.RecurrentBias with
            | Some w, Some b -> Some(w, Some b)
            | _ -> None
        | FusedRecurrence.Lstm -> one (Role.RecurrentBlocks 4) |> Option.map (fun w -> w, None)

    /// 2 s - 1 in place (two vectorised passes: faster here than one lerp_ pass).
    let internal twiceMinusOne (s: Tensor) : Tensor = s.mul_(two).sub_(1.0.ToScalar())

    /// 1 - x^2 in one pass, as a new tensor.
    let internal oneMinusSquare (x: Tensor) : Tensor =
        use _ = torch.NewDisposeScope()
        torch.addcmul(torch.ones([| 1L |], x.dtype, device = x.device), x, x, (-1.0).ToScalar()).MoveToOuterDisposeScope()

    /// A new contiguous buffer with t's values (`contiguous()` may return t itself, or a view of the
    /// caller's tensor when the narrowed dimensions have size 1, which the steps must not write into).
    let private ownCopy (t: Tensor) : Tensor = torch.empty(t.shape, t.dtype, device = t.device).copy_(t)

    let private checkDrive (what: string) (blocks: int64) (units: int64) (drive: Tensor) =
        if drive.dim () <> 3L || drive.shape[2] <> blocks * units then
            Check.fail "drive" (sprintf "the %s recurrence expects a drive [time; batch; %d] (%d gate blocks of %d units), got [%s]" what (blocks * units) blocks units (String.Join("; ", drive.shape)))

    /// The GRU's forward pass and what its backward pass reads, without autograd: h0 [batch; H],
    /// drive = x W_ih' + b_ih [time; batch; 3H] (only read), weight_hh [3H; H], b_hh [3H] ->
    /// states [time; batch; H], the gate buffer [time; batch; 3H] (r and z after the sigmoid, then
    /// gh_n = h W_hn' + b_hn), and n [time; batch; H] (after the tanh). Time-major buffers, new
    /// tensors. The gate buffer starts as [drive_rz + b_hh_rz; b_hh_n], so that one
    /// [batch; H] x [H; 3H] product into the step's slice gives the r and z pre-activations and
    /// gh_n at once; then five ops per step: sigmoid on r and z, addcmul and tanh on n, and
    /// h' = lerp(n, h, z) = n + z (h - n). (Plain tanh: on fresh [64; 64] slices it took no longer
    /// than sigmoid, so the vanilla pass's 2 sigmoid(2x) - 1 form only added ops here.) Opens no scope.
    let internal gruForward (wHh: Tensor) (bHh: Tensor) (h0: Tensor) (drive: Tensor) : Tensor * Tensor * Tensor =
        use _ = torch.no_grad ()
        let n = h0.shape[1]
        checkDrive "gru" 3L n drive
        let time, batch = drive.shape[0], drive.shape[1]
        let drive = drive.detach ()
        let bHh = bHh.detach () // [3H]
        let wT = wHh.detach().t().contiguous() // [H; 3H]: contiguous for the small products
        // New buffers (the steps overwrite them): the gates and the candidate's input part.
        // (Filled in place: each new [time; batch; ..] tensor costs about two passes, fresh pages.)
        let gates = torch.empty([| time; batch; 3L * n |], drive.dtype, device = drive.device) // [time; batch; 3H]
        gates.narrow(2L, 0L, 2L * n).copy_(drive.narrow(2L, 0L, 2L * n)).add_(bHh.narrow(0L, 0L, 2L * n)) |> ignore
        gates.narrow(2L, 2L * n, n).copy_(bHh.narrow(0L, 2L * n, n)) |> ignore // broadcast over time and batch
        let cand = ownCopy (drive.narrow(2L, 2L * n, n)) // [time; batch; H]
        // Views of every step's slice, made once (an op each through TorchSharp).
        let gs, rzs, rs, zs, ghNs = gates.unbind 0, gates.narrow(2L, 0L, 2L * n).unbind 0, gates.narrow(2L, 0L, n).unbind 0, gates.narrow(2L, n, n).unbind 0, gates.narrow(2L, 2L * n, n).unbind 0
        let ns = cand.unbind 0 // time x [batch; H]
        let states = Array.zeroCreate<Tensor> (int time)
        let mutable h = h0.detach () // [batch; H]
        for t in 0 .. int time - 1 do
            gs[t].addmm_(h, wT, 1.0f, 1.0f) |> ignore
            rzs[t].sigmoid_() |> ignore
            ns[t].addcmul_(rs[t], ghNs[t], one).tanh_() |> ignore
            h <- torch.lerp(ns[t], h, zs[t]) // [batch; H]
            states[t] <- h
        let states = if time = 0L then torch.empty([| 0L; batch; n |], drive.dtype, device = drive.device) else torch.stack(states, 0L) // [time; batch; H]
        states, gates, cand

    /// Gate order of the LSTM's forward buffers: i, f, o, g (PyTorch's is i, f, g, o), so that one
    /// sigmoid covers the three sigmoid gates. [..; 4H] along `dim` -> reordered copy.
    let internal lstmOrder (dim: int64) (n: int64) (t: Tensor) : Tensor =
        torch.cat([| t.narrow(dim, 0L, 2L * n); t.narrow(dim, 3L * n, n); t.narrow(dim, 2L * n, n) |], dim)

    /// The LSTM's forward pass and what its backward pass reads, without autograd: packed h0
    /// [batch; 2H] (h then c), drive = x W_ih' + b_ih + b_hh [time; batch; 4H] (only read),
    /// weight_hh [4H; H] -> packed states [time; batch; 2H], the gates [time; batch; 4H] after their
    /// nonlinearities in the order i, f, o, g (`lstmOrder`), and tanh(c) [time; batch; H].
    /// Time-major buffers, new tensors. Seven ops per step: one [batch; H] x [H; 4H] product into
    /// the step's slice of the gates, one sigmoid (i, f, o), one tanh (g), c' = f c + i g (two),
    /// tanh(c'), h' = o tanh(c'). Opens no scope.
    let internal lstmForward (wHh: Tensor) (h0: Tensor) (drive: Tensor) : Tensor * Tensor * Tensor =
        use _ = torch.no_grad ()
        let n = h0.shape[1] / 2L
        checkDrive "lstm" 4L n drive
        let time, batch = drive.shape[0], drive.shape[1]
        let wT = (lstmOrder 0L n (wHh.detach ())).t().contiguous() // [H; 4H], columns i, f, o, g
        let gates = lstmOrder 2L n (drive.detach ()) // [time; batch; 4H], i, f, o, g: a new buffer
        let gs, sigmoids, tanhs = gates.unbind 0, gates.narrow(2L, 0L, 3L * n).unbind 0, gates.narrow(2L, 3L * n, n).unbind 0
        let inputs, forgets, outs = gates.narrow(2L, 0L, n).unbind 0, gates.narrow(2L, n, n).unbind 0, gates.narrow(2L, 2L * n, n).unbind 0
        let hs, cs, tcs = Array.zeroCreate<Tensor> (int time), Array.zeroCreate<Tensor> (int time), Array.zeroCreate<Tensor> (int time)
        let h0 = h0.detach ()
        let mutable h = h0.narrow(1L, 0L, n) // [batch; H]
        let mutable c = h0.narrow(1L, n, n) // [batch; H]
        for t in 0 .. int time - 1 do
            gs[t].addmm_(h, wT, 1.0f, 1.0f) |> ignore
            sigmoids[t].sigmoid_() |> ignore
            tanhs[t].tanh_() |> ignore
            c <- torch.mul(forgets[t], c).addcmul_(inputs[t], tanhs[t], one) // [batch; H]
            let tc = torch.tanh c // [batch; H]
            h <- torch.mul(outs[t], tc) // [batch; H]
            hs[t] <- h
            cs[t] <- c
            tcs[t] <- tc
        if time = 0L then
            torch.empty([| 0L; batch; 2L * n |], drive.dtype, device = drive.device), gates, torch.empty([| 0L; batch; n |], drive.dtype, device = drive.device)
        else
            torch.cat([| torch.stack(hs, 0L); torch.stack(cs, 0L) |], 2L), gates, torch.stack(tcs, 0L) // [time; batch; 2H], .., [time; batch; H]

    /// The states [time; batch; units] from h0 [batch; units] and the drive [time; batch; units],
    /// without autograd, in a new buffer (the inputs are only read). tanh(x) = 2 sigmoid(2x) - 1:
    /// libtorch's CPU sigmoid is vectorised, its tanh is about 4 times slower here, and the affine
    /// part folds into the matrix products. Each step is two (rnn) or four (ctrnn, one allocating) ops on
    /// the step's slice. Opens no scope.
    let private vanillaForward (recurrence: FusedRecurrence) (wRec: Tensor) (h0: Tensor) (drive: Tensor) : Tensor =
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
        | FusedRecurrence.Gru
        | FusedRecurrence.Lstm -> invalidArg "recurrence" "a gated recurrence has its own forward pass"

    /// `forward` with the recurrence's bias: the gru needs its b_hh [3H] (`parameterNames`); the
    /// others take None. h0 [batch; state], drive [time; batch; drive] -> states [time; batch; state].
    let forwardWith (recurrence: FusedRecurrence) (wRec: Tensor) (bRec: Tensor option) (h0: Tensor) (drive: Tensor) : Tensor =
        match recurrence, bRec with
        | FusedRecurrence.Gru, Some b ->
            let states, _, _ = gruForward wRec b h0 drive
            states
        | FusedRecurrence.Gru, None -> Check.fail "bias" "the gru recurrence needs its recurrent bias b_hh (bias_hh_l0)"
        | FusedRecurrence.Lstm, _ ->
            let states, _, _ = lstmForward wRec h0 drive
            states
        | _ -> vanillaForward recurrence wRec h0 drive

    /// The states [time; batch; state] from h0 [batch; state] and the drive [time; batch; drive],
    /// without autograd, in a new buffer (the inputs are only read): the hand-written forward pass
    /// of rnn, ctrnn and lstm (the gru needs its bias: `forwardWith`). Opens no scope.
    let forward (recurrence: FusedRecurrence) (wRec: Tensor) (h0: Tensor) (drive: Tensor) : Tensor =
        forwardWith recurrence wRec None h0 drive
