namespace RnnFun

open System
open TorchSharp

/// Which units a lesion silences.
type LesionConfig =
    { /// Unit indices (0-based, distinct), e.g. a region's units (`MultiRegion`).
      Units: int[]
      /// Also zero what drives the silenced units (their rows of the recurrent and input weights and
      /// their biases), so that their state relaxes to 0 instead of following the rest of the
      /// network unseen. Their outgoing weights are zeroed either way.
      Incoming: bool }

    static member defaults = { Units = [||]; Incoming = true }

/// Lesions: silence a set of units and look again (task loss, fixed points).
[<RequireQualifiedAccess>]
module Lesion =
    /// A copy of the network with the units silenced: their columns of every recurrent parameter
    /// (`Role.Recurrent`, each block of `Role.RecurrentBlocks`) and of the readout (`Role.Output`) are
    /// 0, so nothing reads them; with `Incoming`, their rows of the recurrent and input parameters and
    /// their entries of the biases on the input and recurrent side are 0 as well. Every other
    /// effective weight is unchanged (`Role.Gate` and `Role.Free` parameters are left as they are).
    /// The network itself is unchanged. `InvalidArgument` for a unit out of range or given twice.
    let silence (config: LesionConfig) (net: Network) : Network =
        let h = net.Sizes.Units
        if isNull config.Units then Check.fail "units" "expected unit indices"
        for u in config.Units do
            if u < 0 || u >= h then Check.fail "units" (sprintf "unit %d is out of range (the network has units 0..%d)" u (h - 1))
        if (Array.distinct config.Units).Length <> config.Units.Length then Check.fail "units" "a unit is given twice"
        let silenced = Collections.Generic.HashSet<int>(config.Units)
        // Index r of a stacked parameter of blocks of h belongs to unit r % h.
        let lesioned (r: int) = silenced.Contains(r % h)
        let roles = net.Parameters |> List.map (fun p -> p.Spec.Name, p.Spec.Role) |> Map.ofList
        let values =
            Network.values net
            |> List.map (fun (name, value) ->
                let role = roles[name]
                let columns, rows, entries =
                    match role with
                    | Role.Recurrent | Role.RecurrentBlocks _ -> true, config.Incoming, false
                    | Role.Input | Role.InputBlocks _ -> false, config.Incoming, false
                    | Role.Output -> true, false, false
                    | Role.InputBias | Role.RecurrentBias -> false, false, config.Incoming
                    | Role.OutputBias | Role.Gate _ | Role.Free -> false, false, false
                let changed =
                    match value with
                    | ParameterValue.Matrix m ->
                        ParameterValue.Matrix(
                            m |> Array.mapi (fun r row ->
                                if rows && lesioned r then Array.zeroCreate row.Length
                                elif columns && row.Length = h then row |> Array.mapi (fun c v -> if silenced.Contains c then 0.0 else v)
                                else Array.copy row))
                    | ParameterValue.Vector v when entries && v.Length % h = 0 -> ParameterValue.Vector(v |> Array.mapi (fun r x -> if lesioned r then 0.0 else x))
                    | ParameterValue.Vector v -> ParameterValue.Vector(Array.copy v)
                name, changed)
            |> Map.ofList
        Network.ofValues net.Kind (Network.config net) values

    /// The network's masked mean squared error on a batch of trials (run from a zero state, without
    /// noise): the task loss to compare before and after a lesion.
    let loss (net: Network) (batch: Batch) : float =
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        let x, y, mask = Training.toTensors net.Precision batch
        use rollout = Network.unroll net x
        (Training.mse rollout.Outputs y mask).ToDouble()
