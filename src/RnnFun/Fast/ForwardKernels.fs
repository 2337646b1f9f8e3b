namespace RnnFun

open System
open System.Collections.Generic
open System.Threading
open TorchSharp

/// libtorch's own gru and lstm (`torch.nn.GRU` / `torch.nn.LSTM`, one layer, batch-first) for
/// forward passes without autograd: the whole sequence in one fused kernel instead of the
/// hand-written pass's ops per step. The built-in gru and lstm compute PyTorch's very equations,
/// so the kernel gets the network's effective weights, copied in on every call. It yields h for
/// every step (no c): what outputs need (`Network.outputsFrom`), not the packed lstm state.
///
/// Creating a module costs about as much as a short forward pass (its initialisation fills
/// weights that are then overwritten), so each thread keeps one module per kind and size and
/// reuses it. The cache never changes a result: every call overwrites all of a module's weights.
[<RequireQualifiedAccess>]
module ForwardKernels =
    [<NoEquality; NoComparison>]
    type private Kernel =
        | Gru of Modules.GRU * Tensor[]
        | Lstm of Modules.LSTM * Tensor[]

    // Key: (is lstm, inputs, units, dtype).
    let private cache =
        new ThreadLocal<Dictionary<struct (bool * int64 * int64 * torch.ScalarType), Kernel>>(fun () -> Dictionary())

    let private torchNames = [| "weight_ih_l0"; "weight_hh_l0"; "bias_ih_l0"; "bias_hh_l0" |]

    let private parametersOf (m: torch.nn.Module) =
        torchNames |> Array.map (fun n -> (m.get_parameter n :> Tensor).DetachFromDisposeScope())

    let private kernelFor (lstm: bool) (inputs: int64) (units: int64) (dtype: torch.ScalarType) : Kernel =
        let key = struct (lstm, inputs, units, dtype)
        let kernels = cache.Value
        match kernels.TryGetValue key with
        | true, k -> k
        | _ ->
            // Created outside any caller's dispose scope: the cache owns it.
            use _ = torch.NewDisposeScope()
            let k =
                if lstm then
                    let m = torch.nn.LSTM(inputs, units, 1L, true, true, 0.0, false, torch.CPU, Nullable dtype)
                    let p = parametersOf m
                    Lstm(m, p)
                else
                    let m = torch.nn.GRU(inputs, units, 1L, true, true, 0.0, false, torch.CPU, Nullable dtype)
                    let p = parametersOf m
                    Gru(m, p)
            kernels[key] <- k
            k

    /// The network's parameter names the kernel computes with, in torch's order (input blocks,
    /// recurrent blocks, input bias, recurrent bias), by role; None when the specs lack one.
    let names (blocks: int) (specs: ParameterSpec list) : string[] option =
        let one role =
            match specs |> List.filter (fun s -> s.Role = role) with
            | [ s ] -> Some s.Name
            | _ -> None
        match one (Role.InputBlocks blocks), one (Role.RecurrentBlocks blocks), one Role.InputBias, one Role.RecurrentBias with
        | Some a, Some b, Some c, Some d -> Some [| a; b; c; d |]
        | _ -> None

    /// h [batch; time; H] for x [batch; time; inputs] from h0 [batch; state] (the gru's h, or the
    /// lstm's packed [h; c]), with the effective weights w and the parameter names of `names`. None
    /// (the caller runs its own pass) when autograd is on, the tensors are not on the CPU, or the
    /// recurrence is not the gru's or the lstm's. Opens no scope.
    let tryHidden (recurrence: FusedRecurrence) (parameterNames: string[]) (w: Weights) (h0: Tensor) (x: Tensor) : Tensor option =
        let cpu = x.device_type = DeviceType.CPU && h0.device_type = DeviceType.CPU
        if torch.is_grad_enabled () || not cpu || x.dim () <> 3L || h0.dim () <> 2L then None
        else
            let copyIn (parameters: Tensor[]) =
                for i in 0 .. parameters.Length - 1 do
                    parameters[i].copy_(w[parameterNames[i]]) |> ignore
            match recurrence with
            | FusedRecurrence.Gru ->
                let units = w[parameterNames[1]].shape[1]
                match kernelFor false x.shape[2] units x.dtype with
                | Gru (m, parameters) ->
                    copyIn parameters
                    let struct (h, _) = m.forward(x.contiguous(), h0.unsqueeze(0L).contiguous())
                    Some h // [batch; time; H]
                | Lstm _ -> None
            | FusedRecurrence.Lstm ->
                let units = w[parameterNames[1]].shape[1]
                match kernelFor true x.shape[2] units x.dtype with
                | Lstm (m, parameters) ->
                    copyIn parameters
                    let hx = h0.narrow(1L, 0L, units).unsqueeze(0L).contiguous() // [1; batch; H]
                    let cx = h0.narrow(1L, units, units).unsqueeze(0L).contiguous() // [1; batch; H]
                    let struct (h, _, _) = m.forward(x.contiguous(), Nullable<struct (torch.Tensor * torch.Tensor)>(struct (hx, cx)))
                    Some h // [batch; time; H]
                | Gru _ -> None
            | _ -> None
