namespace RnnFun

open System
open TorchSharp

/// libtorch's own LSTM (`torch.nn.LSTM`, one layer): the whole sequence in one fused kernel (oneDNN
/// on the CPU), forward and backward, instead of the hand-written pass's seven ops a step. The
/// built-in lstm computes PyTorch's very equations, so a trainer hands the kernel the network's
/// effective weights (copied in before each pass) and takes the kernel's weight gradients back
/// through the effective weights to the free values (`pushGradients`): masks and trainable flags
/// hold as on every other path. It yields h for every step, not c: training and validation read
/// only h (the readout and the rates), while `Network.unroll` returns the packed [h; c].
type LstmKernel =
    internal
        { Module: Modules.LSTM
          /// The kernel's parameters in torch's order: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0.
          Parameters: Tensor[]
          /// The names of the network's parameters of the same roles, in the same order.
          Names: string[]
          Units: int64 }

    interface IDisposable with
        member k.Dispose() = k.Module.Dispose()

[<RequireQualifiedAccess>]
module LstmKernel =
    /// The network's parameters the kernel computes with, by role: input blocks, recurrent blocks,
    /// input bias, recurrent bias (None when a spec list lacks one of them).
    let private namesByRole (specs: ParameterSpec list) : string[] option =
        let one role =
            match specs |> List.filter (fun s -> s.Role = role) with
            | [ s ] -> Some s.Name
            | _ -> None
        match one (Role.InputBlocks 4), one (Role.RecurrentBlocks 4), one Role.InputBias, one Role.RecurrentBias with
        | Some a, Some b, Some c, Some d -> Some [| a; b; c; d |]
        | _ -> None

    /// A kernel for a network whose hand-written recurrence is the lstm's (`Recurrence.ofKind`),
    /// on the CPU; None for any other.
    let tryCreate (kind: Kind) (specs: ParameterSpec list) (sizes: Sizes) (dtype: torch.ScalarType) : LstmKernel option =
        match Recurrence.ofKind kind, namesByRole specs with
        | Some FusedRecurrence.Lstm, Some names ->
            let m = torch.nn.LSTM(int64 sizes.Inputs, int64 sizes.Units, 1L, true, false, 0.0, false, torch.CPU, Nullable dtype)
            let parameters = [| "weight_ih_l0"; "weight_hh_l0"; "bias_ih_l0"; "bias_hh_l0" |] |> Array.map (fun n -> (m.get_parameter n :> Tensor).DetachFromDisposeScope())
            Some { Module = m; Parameters = parameters; Names = names; Units = int64 sizes.Units }
        | _ -> None

    /// Runs the kernel over x [time; batch; inputs] from the packed h0 [batch; 2H] with the
    /// effective weights w: h [time; batch; H] for every step. With autograd on (training), the
    /// gradient flows to x, h0 and the kernel's own parameters (`pushGradients` takes it on).
    /// Opens no scope.
    let run (kernel: LstmKernel) (w: Weights) (h0: Tensor) (x: Tensor) : Tensor =
        let n = kernel.Units
        if x.dim () <> 3L || h0.dim () <> 2L || h0.shape[1] <> 2L * n || h0.shape[0] <> x.shape[1] then
            Check.fail "inputs" (sprintf "the lstm kernel expects x [time; batch; inputs] and h0 [batch; %d], got [%s] and [%s]" (2L * n) (String.Join("; ", x.shape)) (String.Join("; ", h0.shape)))
        do
            use _ = torch.no_grad ()
            for i in 0 .. kernel.Parameters.Length - 1 do
                kernel.Parameters[i].copy_(w[kernel.Names[i]]) |> ignore
        let hx = h0.narrow(1L, 0L, n).unsqueeze(0L).contiguous() // [1; batch; H]
        let cx = h0.narrow(1L, n, n).unsqueeze(0L).contiguous() // [1; batch; H]
        let struct (h, _, _) = kernel.Module.forward(x.contiguous(), Nullable<struct (torch.Tensor * torch.Tensor)>(struct (hx, cx)))
        h // [time; batch; H]

    /// Clears the kernel's gradients before a step.
    let zeroGradients (kernel: LstmKernel) : unit = kernel.Module.zero_grad true

    /// After the loss's backward pass (`retain_graph` on, since the effective weights' graph may be
    /// part of it): back-propagates the kernel's weight gradients through the effective weights w to
    /// the free values. Opens its own scope.
    let pushGradients (kernel: LstmKernel) (w: Weights) : unit =
        use _ = torch.NewDisposeScope()
        let pairs =
            [ for i in 0 .. kernel.Parameters.Length - 1 do
                let effective = w[kernel.Names[i]]
                let grad = kernel.Parameters[i].grad
                if effective.requires_grad && not (isNull grad) then yield effective, grad ]
        if not pairs.IsEmpty then
            torch.autograd.backward(ResizeArray(pairs |> List.map fst), ResizeArray(pairs |> List.map snd), Nullable false, false, null)
