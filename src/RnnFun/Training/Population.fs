namespace RnnFun

open System
open System.Diagnostics
open System.Threading
open TorchSharp

/// One network of a population: the network training starts from (its kind, size, constraints and
/// initial weights, hence its seed and initial scale) and its own training settings.
type PopulationMember = { Network: Network; Config: FitConfig }

/// Reported after every batched optimiser step.
type PopulationProgress =
    { /// 1-based
      Epoch: int
      /// The most epochs of any member.
      Epochs: int
      /// 1-based, within the epoch
      Batch: int
      Batches: int
      /// Each member's loss of this batch (with regularisation), in the members' order; NaN for a
      /// member that has stopped or did not step.
      Losses: float[]
      /// Members still training.
      Active: int
      /// Optimiser steps of all members together per second (networks x steps per second).
      NetworkStepsPerSecond: float
      Elapsed: TimeSpan }

/// What `Population.fitWith` does besides training. None of it changes the result.
type PopulationHooks =
    { Progress: (PopulationProgress -> unit) option
      /// Checked after every step: every member still training stops as `Cancelled`.
      Cancellation: CancellationToken
      /// Called with a member's index and its best weights so far whenever they improve (the network
      /// is disposed after the call).
      OnBest: (int -> Network -> unit) option
      /// libtorch threads; None: `Training.defaultThreads` of one member's units (fit's default).
      Threads: int option }

    static member none = { Progress = None; Cancellation = CancellationToken.None; OnBest = None; Threads = None }

/// K networks of one kind and size trained as one program: the weights stacked [K; ..], one batched
/// product per step for all of them (bmm), Adam over the stacked parameters with each member's own
/// learning rate, weight decay and amsgrad, each member's loss, noise, regularisation, clipping (its
/// own global norm), schedule, early stop, best checkpoint and divergence handled as `Training.fit`
/// handles them for one network. A member that stops or diverges is frozen (its update masked, its
/// best or last finite weights kept) and the others go on as if it were not there.
[<RequireQualifiedAccess>]
module Population =
    /// The batched forms of the built-in cells (the same equations as the kinds' steps).
    [<RequireQualifiedAccess>]
    type private Cell =
        | Rnn
        | Ctrnn of alpha: float * rateReadout: bool
        | Gru
        | Lstm
        | Ugrnn

    let private cellOf (kind: Kind) : Cell option =
        let same (builtIn: Kind) =
            obj.ReferenceEquals(kind.InputDrive, builtIn.InputDrive)
            && obj.ReferenceEquals(kind.Readout, builtIn.Readout)
            && obj.ReferenceEquals(kind.Rates, builtIn.Rates)
        match Recurrence.ofKind kind with
        | Some FusedRecurrence.Rnn when kind.Name = "rnn" && same Kinds.rnn -> Some Cell.Rnn
        | Some (FusedRecurrence.Ctrnn alpha) when kind.Name = "ctrnn" ->
            Kinds.ctrnnConfig kind |> Option.map (fun c -> Cell.Ctrnn(alpha, (c.Readout = Readout.Rate)))
        | Some FusedRecurrence.Gru when kind.Name = "gru" && same Kinds.gru -> Some Cell.Gru
        | Some FusedRecurrence.Lstm when kind.Name = "lstm" && same Kinds.lstm -> Some Cell.Lstm
        | _ when kind.Name = "ugrnn" && obj.ReferenceEquals(kind.Step, Kinds.ugrnn.Step) && same Kinds.ugrnn -> Some Cell.Ugrnn
        | _ -> None

    /// The names of the cells `fit` batches.
    let supportedKinds = [ "rnn"; "ctrnn"; "gru"; "lstm"; "ugrnn" ]

    /// Whether `fit` can batch networks of this kind (a built-in kind with its own step, drive and readout).
    let supports (kind: Kind) : bool = (cellOf kind).IsSome

    let private transposed (w: Tensor) = w.transpose(-1L, -2L) // [K; a; b] -> [K; b; a]

    /// x [K; a; b; in] times the stacked w [K; out; in]' -> [K; a; b; out].
    let private stackedProduct (x: Tensor) (w: Tensor) =
        let k, b, t = x.shape[0], x.shape[1], x.shape[2]
        torch.bmm(x.reshape(k, b * t, x.shape[3]), transposed w).view(k, b, t, w.shape[1])

    /// [K; n] -> [K; 1; 1; n], to add to [K; T; B; n].
    let private perStep (v: Tensor) = v.unsqueeze(1L).unsqueeze(1L)

    let private drive (cell: Cell) (w: Weights) (x: Tensor) : Tensor =
        let has name = w.ContainsKey name
        match cell with
        // The bias added in place: the product's backward does not read its output.
        | Cell.Rnn
        | Cell.Ctrnn _ ->
            let bias = if has "b_in" then w["b_rec"] + w["b_in"] else w["b_rec"] // [K; units]
            (stackedProduct x w["w_in"]).add_(perStep bias)
        | Cell.Gru -> (stackedProduct x w["weight_ih_l0"]).add_(perStep w["bias_ih_l0"])
        | Cell.Lstm -> (stackedProduct x w["weight_ih_l0"]).add_(perStep (w["bias_ih_l0"] + w["bias_hh_l0"]))
        | Cell.Ugrnn -> (stackedProduct x w["weight_ih_l0"]).add_(perStep w["bias_l0"]) // [K; T; B; drive]

    /// One step of every member: h [K; B; state], drive [K; B; drive] -> [K; B; state].
    let private step (cell: Cell) (w: Weights) (whhT: Tensor) (h: Tensor) (d: Tensor) : Tensor =
        let part (n: int64) (i: int64) (t: Tensor) = t.narrow(-1L, i * n, n)
        match cell with
        | Cell.Rnn -> torch.tanh (torch.bmm(h, whhT).add_(d))
        | Cell.Ctrnn (alpha, _) ->
            let target = torch.bmm(torch.tanh h, whhT).add_(d) // [K; B; units]
            h.add(target - h, alpha.ToScalar())
        | Cell.Gru ->
            let n = h.shape[2]
            let gh = torch.bmm(h, whhT).add_(w["bias_hh_l0"].unsqueeze(1L)) // [K; B; 3H]
            let rz = torch.sigmoid (d.narrow(-1L, 0L, 2L * n) + gh.narrow(-1L, 0L, 2L * n)) // [K; B; 2H]
            let candidate = torch.tanh (part n 2L d + part n 0L rz * part n 2L gh) // [K; B; H]
            candidate + part n 1L rz * (h - candidate)
        | Cell.Lstm ->
            let n = h.shape[2] / 2L
            let a = torch.bmm(part n 0L h, whhT).add_(d) // [K; B; 4H]
            let i, f, g, o = torch.sigmoid (part n 0L a), torch.sigmoid (part n 1L a), torch.tanh (part n 2L a), torch.sigmoid (part n 3L a)
            let c2 = f * part n 1L h + i * g // [K; B; H]
            torch.cat([| o * torch.tanh c2; c2 |], -1L) // [K; B; 2H]
        | Cell.Ugrnn ->
            let n = h.shape[2]
            let a = torch.bmm(h, whhT).add_(d) // [K; B; 2H]
            let g, c = torch.sigmoid (part n 0L a), torch.tanh (part n 1L a)
            c + g * (h - c)

    let private recurrentName (cell: Cell) = match cell with Cell.Rnn | Cell.Ctrnn _ -> "w_rec" | _ -> "weight_hh_l0"

    /// h0 [K; B; state], drive [K; T; B; drive] -> states [K; T; B; state].
    let private unroll (cell: Cell) (w: Weights) (h0: Tensor) (drive: Tensor) : Tensor =
        let whhT = transposed w[recurrentName cell] // [K; units; rows]
        let steps = drive.unbind 1 // time x [K; B; drive], views
        let states = Array.zeroCreate<Tensor> steps.Length
        let mutable h = h0
        for t in 0 .. steps.Length - 1 do
            h <- step cell w whhT h steps[t]
            states[t] <- h
        torch.stack(states, 1L) // [K; T; B; state]

    /// The states of the vanilla cells unrolled without autograd, as a leaf, with what the
    /// hand-written backward pass reads: `FusedBptt` for K networks at once.
    type private StackedUnroll =
        { /// [K; time; B; units], a leaf that requires grad.
          States: Tensor
          /// The effective W_rec [K; units; units].
          WRec: Tensor
          /// [K; B; units]
          H0: Tensor
          /// The inputs [K; time B; inputs] the drive was formed from.
          X: Tensor
          /// The effective W_in [K; units; inputs] and the drive's bias [K; units] (b_rec + b_in).
          WIn: Tensor
          Bias: Tensor
          /// None: rnn; Some alpha: ctrnn.
          Alpha: float option }

    /// h0 [K; B; units], x [K; time; B; inputs], W_in, the drive's bias and the recurrent noise
    /// ([K; time; B; units], scaled) -> the states [K; time; B; units], in the drive's own buffer
    /// (drive = x W_in' + bias + noise): each step one batched product into the step's slice and
    /// one or two in-place ops (rnn: tanh(h W' + d); ctrnn: (1 - alpha) h + alpha (tanh(h) W' + d)).
    let private vanillaForward (alpha: float option) (wRec: Tensor) (h0: Tensor) (x: Tensor) (wIn: Tensor) (bias: Tensor) (noise: Tensor option) : StackedUnroll =
        let k, time, b = x.shape[0], x.shape[1], x.shape[2]
        let x = x.reshape(k, time * b, x.shape[3]) // [K; time B; inputs]
        let states =
            use _ = torch.no_grad ()
            let wT = transposed(wRec.detach ()).contiguous() // [K; units; units]
            let buffer = torch.bmm(x, transposed (wIn.detach ())).view(k, time, b, wRec.shape[1]).add_(perStep (bias.detach ())) // [K; time; B; units]
            noise |> Option.iter (fun n -> buffer.add_(n) |> ignore)
            let steps = buffer.unbind 1 // time x [K; B; units], views of the buffer
            let mutable prev = h0.detach ()
            match alpha with
            | None ->
                for t in 0 .. steps.Length - 1 do
                    prev <- steps[t].add_(torch.bmm(prev, wT)).tanh_()
            | Some a ->
                buffer.mul_(a.ToScalar()) |> ignore
                for t in 0 .. steps.Length - 1 do
                    prev <- steps[t].add_(torch.bmm(torch.tanh prev, wT), a.ToScalar()).add_(prev, (1.0 - a).ToScalar())
            buffer
        { States = states.requires_grad_(true); WRec = wRec; H0 = h0; X = x; WIn = wIn; Bias = bias; Alpha = alpha }

    /// The hand-written backward pass: autograd from the loss to the states, BPTT by hand to the
    /// drive, W_rec and h0 (the recurrent weights' gradient one batched product over all steps),
    /// then autograd on to the parameters.
    let private vanillaBackward (objective: Tensor) (u: StackedUnroll) =
        let minusOne = (-1.0).ToScalar()
        objective.backward(null, true, false, null)
        let gradStates = u.States.grad
        if not (isNull gradStates) then
            let pairs =
                use _ = torch.no_grad ()
                // The states' gradient belongs to this pass (the states are its own leaf): overwritten.
                let buffer = if gradStates.is_contiguous () then gradStates else gradStates.contiguous () // [K; time; B; units], becomes dL/ddrive
                u.States.grad <- null
                let w = u.WRec.detach () // [K; units; units]
                let states = u.States.detach ()
                let h0 = u.H0.detach ()
                let g = buffer.unbind 1 // time x [K; B; units]
                let k, time, b, n = states.shape[0], int states.shape[1], states.shape[2], states.shape[3]
                // sum_t left_t' right_{t-1} (right_{-1} = first) for every network, [K; units; units]:
                // two batched products on views of the [K; time B; units] buffers, no copy.
                let weightGradient (left: Tensor) (right: Tensor) (first: Tensor) =
                    let rows = int64 time * b
                    let l, r = left.view(k, rows, n), right.view(k, rows, n)
                    let head = torch.bmm(transposed (l.narrow(1L, 0L, b)), first) // [K; units; units]
                    if time = 1 then head
                    else head.add_(torch.bmm(transposed (l.narrow(1L, b, rows - b)), r.narrow(1L, 0L, rows - b)))
                let dDrive, dW, dH0 =
                    match u.Alpha with
                    | None ->
                        // dL/da_t = (g_t + dL/da_{t+1} W) (1 - h_t^2), the slope formed step by step.
                        let hs = states.unbind 1
                        let bySlope (t: int) = g[t].addcmul_(g[t] * hs[t], hs[t], minusOne) |> ignore
                        bySlope (time - 1)
                        for t in time - 2 .. -1 .. 0 do
                            g[t].add_(torch.bmm(g[t + 1], w)) |> ignore
                            bySlope t
                        buffer, weightGradient buffer states h0, torch.bmm(g[0], w)
                    | Some alpha ->
                        // G_{t-1} = g_{t-1} + (1 - alpha) G_t + alpha (G_t W) (1 - tanh(h_{t-1})^2).
                        let hs = states.unbind 1
                        let keep, scale = (1.0 - alpha).ToScalar(), alpha.ToScalar()
                        let through (t: int) (h: Tensor) =
                            let r = torch.tanh h // [K; B; units]
                            let gw = torch.bmm(g[t], w)
                            gw.addcmul_(gw * r, r, minusOne) // (G_t W) (1 - tanh(h)^2)
                        for t in time - 1 .. -1 .. 1 do
                            g[t - 1].add_(g[t], keep).add_(through t (hs[t - 1]), scale) |> ignore
                        let dH0 = (g[0] * (1.0 - alpha)).add_(through 0 h0, scale)
                        // The states are read no more: their rates are formed in place.
                        let rates = states.tanh_ () // [K; time; B; units]
                        let dW = (weightGradient buffer rates (torch.tanh h0)).mul_(scale)
                        buffer.mul_(alpha.ToScalar()), dW, dH0
                // The drive's parameters by hand too: dW_in = dD' x, db = 1' dD, each one batched
                // product (a sum over the [K; time B] rows is several times slower here).
                let rows = u.X.shape[1]
                let dD = dDrive.view(k, rows, n) // [K; time B; units]
                let needs (t: Tensor) = t.requires_grad
                [ if needs u.WIn then yield u.WIn, torch.bmm(transposed dD, u.X) // [K; units; inputs]
                  if needs u.Bias then yield u.Bias, torch.bmm(torch.ones([| k; 1L; rows |], dD.dtype), dD).view(k, n)
                  yield u.WRec, dW
                  yield u.H0, dH0 ]
                |> List.filter (fun (t, _) -> t.requires_grad)
            if not pairs.IsEmpty then
                torch.autograd.backward(pairs |> List.map fst |> Array.ofList, pairs |> List.map snd |> Array.ofList, Nullable(true), false, null)

    /// The readout and rates block (h): [K; T; B; state] -> [K; T; B; units].
    let private hBlock (cell: Cell) (units: int) (states: Tensor) =
        match cell with
        | Cell.Lstm -> states.narrow(-1L, 0L, int64 units)
        | _ -> states

    let private readout (cell: Cell) (w: Weights) (h: Tensor) : Tensor =
        let s = match cell with Cell.Ctrnn (_, true) -> torch.tanh h | _ -> h
        let o = stackedProduct s w["w_out"] // [K; T; B; outputs]
        if w.ContainsKey "b_out" then o + perStep w["b_out"] else o

    let private rates (cell: Cell) (h: Tensor) = match cell with Cell.Ctrnn _ -> torch.tanh h | _ -> h

    /// Each member's `Training.mse`: outputs, targets [K; T; B; outputs], mask [K; T; B] or
    /// [K; T; B; outputs] -> [K].
    let private mse (outputs: Tensor) (targets: Tensor) (mask: Tensor option) : Tensor =
        let err = (outputs - targets).squared() // [K; T; B; outputs]
        let dims = [| 1L; 2L; 3L |]
        match mask with
        | None -> err.mean(dims)
        | Some m when m.dim () = 4L -> (err * m).sum(dims) / m.sum(dims).clamp_min(1e-12)
        | Some m -> (err * m.unsqueeze(-1L)).sum(dims) / (m.sum([| 1L; 2L |]) * float outputs.shape[3]).clamp_min(1e-12)

    /// The mean over all but the first dimension: [K; ..] -> [K].
    let private meanPer (t: Tensor) = t.reshape(t.shape[0], -1L).mean([| 1L |])
    let private sumPer (t: Tensor) = t.reshape(t.shape[0], -1L).sum([| 1L |])

    /// Per-member numbers as a tensor [K; 1; ..] broadcasting against [K; ..] of `dims` dimensions.
    let private column (precision: Precision) (dims: int) (values: float[]) =
        let shape = Array.append [| int64 values.Length |] (Array.create (dims - 1) 1L)
        torch.tensor(values, ReadOnlySpan<int64>(shape)).to_type(precision.ScalarType)

    /// What every member must share to be stacked, checked before anything is allocated.
    let private validate (hooks: PopulationHooks) (members: PopulationMember list) (data: TrainingData) : Cell =
        if members.IsEmpty then Check.fail "members" "expected at least one network"
        match hooks.Threads with
        | Some t -> Check.positive "threads" t
        | None -> ()
        let first = members.Head
        let net = first.Network
        let cell =
            match cellOf net.Kind with
            | Some c -> c
            | None ->
                Check.fail "kind" (sprintf "Population.fit batches the built-in kinds %s with their own steps; kind '%s' is not one of them: train its networks one at a time with Training.fit" (String.Join(", ", supportedKinds)) net.Kind.Name)
        let names (n: Network) = n.Parameters |> List.map (fun p -> p.Spec.Name, p.Trainable)
        members
        |> List.iteri (fun i m ->
            let where = sprintf "member %d" i
            Training.validate m.Config FitHooks.none m.Network data
            let n = m.Network
            if n.Kind.Name <> net.Kind.Name || cellOf n.Kind <> Some cell then
                Check.fail "members" (sprintf "%s is a '%s' network but member 0 is a '%s' one (with these settings): a population is one kind" where n.Kind.Name net.Kind.Name)
            if n.Sizes <> net.Sizes then
                Check.fail "members" (sprintf "%s has %d inputs, %d units, %d outputs but member 0 has %d, %d, %d: a population is one size" where n.Sizes.Inputs n.Sizes.Units n.Sizes.Outputs net.Sizes.Inputs net.Sizes.Units net.Sizes.Outputs)
            if n.Precision <> net.Precision then Check.fail "members" (sprintf "%s has another precision than member 0" where)
            if names n <> names net then
                Check.fail "members" (sprintf "%s has other parameters or trainable flags than member 0 (optional biases and trainable flags must agree)" where)
            let c = m.Config
            if c.BatchSize <> first.Config.BatchSize then
                Check.fail "batch_size" (sprintf "%s trains on batches of %d but member 0 on batches of %d: the members' batches are stacked" where c.BatchSize first.Config.BatchSize)
            if c.TrainInitialState <> first.Config.TrainInitialState then
                Check.fail "train_initial_state" (sprintf "%s and member 0 differ in learning the initial state" where)
            match c.Validation, first.Config.Validation with
            | None, None -> ()
            | Some v, Some v0 when v.Trials = v0.Trials && v.Time = v0.Time && (v.Mask.IsSome = v0.Mask.IsSome) && (v.Mask |> Option.map Array.length) = (v0.Mask |> Option.map Array.length) -> ()
            | _ -> Check.fail "validation" (sprintf "%s and member 0 differ in validation data: every member needs validation batches of the same shape, or none" where))
        cell

    /// Per-member training state, the bookkeeping of `Training.fitWith` for each network.
    type private Book =
        { Config: FitConfig
          Losses: ResizeArray<float>
          Rates: ResizeArray<float>
          ValidationLosses: ResizeArray<float>
          EpochEnds: ResizeArray<float>
          mutable HasBest: bool
          mutable BestLoss: float
          mutable BestEpoch: int
          mutable Reason: StopReason
          mutable StoppedAt: int
          mutable Lr: float
          mutable PlateauBest: float
          mutable PlateauBad: int
          mutable Steps: int
          mutable Sum: float
          mutable Count: int
          Generator: torch.Generator }

    /// The batches of one epoch for one data seed, exactly as `Training.fitWith` draws them.
    let private batchesOf (data: TrainingData) (batchSize: int) (seed: int) (epoch: int) : (unit -> Batch)[] =
        match data with
        | TrainingData.Dataset b ->
            let random = Random(seed + 7919 * epoch)
            let order = Array.init b.Trials id
            for i in order.Length - 1 .. -1 .. 1 do
                let j = random.Next(i + 1)
                let tmp = order[i]
                order[i] <- order[j]
                order[j] <- tmp
            let size = min batchSize b.Trials
            [| for start in 0 .. size .. b.Trials - 1 -> fun () -> Batch.select (Array.sub order start (min size (b.Trials - start))) b |]
        | TrainingData.Fresh (task, trials) ->
            let count = (trials + batchSize - 1) / batchSize
            [| for k in 0 .. count - 1 -> fun () -> task.Generate batchSize (seed * 1000003 + epoch * 10007 + k) |]

    /// Trains the members as one batched program and returns one `FitResult` per member, in the
    /// members' order, each as `Training.fit` would give for that member alone (same batches, same
    /// noise draws, same stops; the weights equal up to rounding). Members share kind (rnn, ctrnn,
    /// gru, lstm or ugrnn), sizes, precision, parameters and trainable flags, batch size, data and
    /// whether they learn an initial state; everything else in `FitConfig` is per member (seed, learning
    /// rate, schedule, Adam's options, clipping, noise, regularisation, stop loss, epochs, best
    /// checkpoint, validation batches), as are the networks' constraints. `WallTime` and
    /// `EpochEndSeconds` are the population's clock. Raises `InvalidArgument` before the first step
    /// when the members cannot be stacked or a config does not fit its network.
    let fitWith (hooks: PopulationHooks) (members: PopulationMember list) (data: TrainingData) : FitResult list =
        let cell = validate hooks members data
        let stopwatch = Stopwatch.StartNew()
        let members = Array.ofList members
        let k = members.Length
        let net0 = members[0].Network
        let precision = net0.Precision
        let dtype = precision.ScalarType
        let sizes = net0.Sizes
        let stateSize = Network.stateSize net0
        let batchSize = members[0].Config.BatchSize
        let time, outputs =
            match data with
            | TrainingData.Dataset b -> b.Time, b.OutputSize
            | TrainingData.Fresh (task, _) -> (task.Generate 1 (members[0].Config.Seed)).Time, task.OutputSize
        let driveRows =
            net0.Parameters
            |> List.tryPick (fun p -> match p.Spec.Role with Role.Recurrent | Role.RecurrentBlocks _ -> Some(float p.Spec.Shape[0]) | _ -> None)
            |> Option.defaultValue (float sizes.Units)
        // Backpropagation through time keeps about 4 tensors of [K; batch; time; state + drive + outputs].
        Memory.require
            (sprintf "a batched training step of %d networks on %d trials of %d steps" k batchSize time)
            (float k * float batchSize * float time * (float stateSize + driveRows + float outputs) * Memory.elementBytes precision * 4.0)
        // Fit's default for one member's size: on a shared machine a second thread costs several
        // times what it gains (docs/performance.md), batched or not.
        use _ = LibtorchThreads.lease (hooks.Threads |> Option.defaultValue (Training.defaultThreads sizes.Units))
        let specs = net0.Parameters |> List.map (fun p -> p.Spec, p.Trainable)
        // Long-lived tensors, owned here and disposed in the finally below.
        let owned = ResizeArray<Tensor>()
        let own (t: Tensor) =
            let t = t.DetachFromDisposeScope()
            owned.Add t
            t
        let leaves, patterns =
            use _ = torch.NewDisposeScope()
            let leaves =
                specs
                |> List.map (fun (spec, trainable) ->
                    let values = members |> Array.map (fun m -> (m.Network.Parameters |> List.find (fun p -> p.Spec.Name = spec.Name)).Value)
                    let stacked = torch.stack(values, 0L).detach().clone() // [K; shape]
                    spec.Name, own (if trainable then torch.nn.Parameter(stacked, true) :> Tensor else stacked))
            // A member without a pattern on a parameter that others constrain keeps every entry free
            // (FreeKeep 1, FixedSign 0), which projects to the value itself.
            let patterns =
                specs
                |> List.choose (fun (spec, _) ->
                    let ofMember = members |> Array.map (fun m -> m.Network.patterns |> Map.tryFind spec.Name)
                    if ofMember |> Array.forall Option.isNone then None
                    else
                        let shape = spec.Shape |> Array.map int64
                        let free = ofMember |> Array.map (function Some p -> p.FreeKeep | None -> torch.ones(shape, dtype))
                        let sign = ofMember |> Array.map (function Some p -> p.FixedSign | None -> torch.zeros(shape, dtype))
                        let hasSigns = ofMember |> Array.exists (function Some p -> p.HasSigns | None -> false)
                        Some(spec.Name, (own (torch.stack(free, 0L)), own (torch.stack(sign, 0L)), hasSigns)))
                |> Map.ofList
            leaves, patterns
        let learnt =
            if members[0].Config.TrainInitialState then
                Some(own (torch.nn.Parameter(torch.zeros([| int64 k; int64 stateSize |], dtype), true) :> Tensor))
            else None
        let optimised =
            [ for (spec, trainable), (_, leaf) in List.zip specs leaves do if trainable then yield spec.Name, leaf
              match learnt with
              | Some h -> yield "initial_state", h
              | None -> () ]
        let zerosLike (t: Tensor) = own (torch.zeros_like t)
        let moments = optimised |> List.map (fun (_, p) -> zerosLike p, zerosLike p, zerosLike p) // Adam's m, v and max v
        let books =
            members
            |> Array.map (fun m ->
                { Config = m.Config
                  Losses = ResizeArray()
                  Rates = ResizeArray()
                  ValidationLosses = ResizeArray()
                  EpochEnds = ResizeArray()
                  HasBest = false
                  BestLoss = Double.PositiveInfinity
                  BestEpoch = 0
                  Reason = StopReason.Completed
                  StoppedAt = m.Config.Epochs
                  Lr = m.Config.LearningRate
                  PlateauBest = Double.PositiveInfinity
                  PlateauBad = 0
                  Steps = 0
                  Sum = 0.0
                  Count = 0
                  Generator = new torch.Generator(uint64 (uint32 m.Config.Seed)) })
        let kindGain = net0.Kind.NoiseGain
        let reg (f: Regularization -> float) = books |> Array.map (fun b -> f b.Config.Regularization)
        let weights () : Weights =
            let d = Collections.Generic.Dictionary<string, Tensor>()
            for (name, v) in leaves do
                d[name] <-
                    match patterns |> Map.tryFind name with
                    | None -> v.alias ()
                    | Some (free, sign, true) -> torch.addcmul(free * v, sign, v.abs (), (1.0).ToScalar())
                    | Some (free, _, false) -> free * v
            d :> Weights
        let allLeaves = (leaves |> List.map snd) @ (learnt |> Option.toList)
        let snapshot () =
            use _ = torch.NewDisposeScope()
            allLeaves |> List.map (fun t -> t.detach().clone().DetachFromDisposeScope())
        let disposeAll (ts: Tensor list) = for t in ts do t.Dispose()
        /// Copies the members flagged into a snapshot.
        let updateSnapshot (snap: Tensor list) (flags: bool[]) =
            if Array.exists id flags then
                use _ = torch.NewDisposeScope()
                use _ = torch.no_grad ()
                let mask = torch.tensor(flags)
                for (s, leaf) in List.zip snap allLeaves do
                    let m = mask.view(Array.append [| int64 k |] (Array.create (int (leaf.dim ()) - 1) 1L))
                    s.copy_(torch.where(m, leaf.detach (), s)) |> ignore
        let finitePer () : bool[] =
            use _ = torch.NewDisposeScope()
            let ok = allLeaves |> List.map (fun t -> torch.isfinite(t.detach ()).reshape(int64 k, -1L).all(1L)) |> List.reduce (fun a b -> a.logical_and(b))
            ok.data<bool>().ToArray()
        let toStack (batches: Batch[]) =
            let b0 = batches[0]
            for b in batches do
                if b.Trials <> b0.Trials || b.Time <> b0.Time || b.Mask.IsSome <> b0.Mask.IsSome then
                    Check.fail "data" (sprintf "the members' batches differ (%d trials of %d steps against %d of %d, or a mask in one only): a task whose trials vary in length with the seed cannot be stacked; give the members one data seed (FitConfig.Seed)" b.Trials b.Time b0.Trials b0.Time)
            // Members that share a seed share a batch: converted once, stacked by reference.
            let distinct = Collections.Generic.Dictionary<obj, Tensor * Tensor * Tensor option>(HashIdentity.Reference)
            let parts =
                batches
                |> Array.map (fun b ->
                    match distinct.TryGetValue(box b) with
                    | true, t -> t
                    | _ ->
                        let t = Training.toTensors precision b
                        distinct[box b] <- t
                        t)
            let x = torch.stack(parts |> Array.map (fun (x, _, _) -> x), 0L) // [K; B; T; inputs]
            let y = torch.stack(parts |> Array.map (fun (_, y, _) -> y), 0L) // [K; B; T; outputs]
            let mask = if b0.Mask.IsSome then Some(torch.stack(parts |> Array.map (fun (_, _, m) -> m.Value), 0L)) else None
            x, y, mask
        let driveWidth = match cell with Cell.Gru -> 3 * sizes.Units | Cell.Lstm -> 4 * sizes.Units | Cell.Ugrnn -> 2 * sizes.Units | _ -> sizes.Units
        // The hand-written backward pass unless a member asks for autograd through every step.
        let useFused = members |> Array.forall (fun m -> m.Config.FusedBackward)
        /// Every member's loss [K] (with noise and regularisation when training) and the fused unroll.
        let lossOf (w: Weights) (x: Tensor) (y: Tensor) (mask: Tensor option) (training: bool) (active: bool[]) =
            let batch = x.shape[1]
            let h0 =
                match learnt with
                | Some h -> h.unsqueeze(1L).expand([| int64 k; batch; int64 stateSize |])
                | None -> torch.zeros([| int64 k; batch; int64 stateSize |], dtype)
            // Noise drawn member by member from each member's generator, in fit's order (input
            // noise, then recurrent noise), so that each sees fit's numbers.
            let noiseOf (sigma: FitConfig -> float) (shape: int64[]) =
                let sigmas = books |> Array.mapi (fun i b -> if active[i] then sigma b.Config else 0.0)
                if not training || sigmas |> Array.forall (fun s -> s = 0.0) then None
                else
                    let draws =
                        books
                        |> Array.mapi (fun i b ->
                            if sigmas[i] > 0.0 then torch.randn(shape, dtype, generator = b.Generator) else torch.zeros(shape, dtype))
                    Some(torch.stack(draws, 0L), sigmas)
            let x =
                match noiseOf (fun c -> c.InputNoise) [| batch; x.shape[2]; x.shape[3] |] with
                | Some (noise, sigmas) -> x + noise * column precision 4 sigmas
                | None -> x
            // Each network time-major from here on, [K; time; B; ..]: a step's slice of every
            // network is one [K; B; ..] view, and the states are [K; time B; units] matrices.
            let time = x.shape[2]
            let xT = x.transpose(1L, 2L) // [K; T; B; inputs]
            // Drawn batch-first as fit draws it, then turned: [K; T; B; drive], scaled.
            let recurrentNoise =
                noiseOf (fun c -> c.RecurrentNoise) [| batch; time; int64 driveWidth |]
                |> Option.map (fun (noise, sigmas) -> (noise * column precision 4 (sigmas |> Array.map (fun s -> kindGain * s))).transpose(1L, 2L))
            let handWritten =
                match cell with
                | Cell.Rnn when useFused -> Some None
                | Cell.Ctrnn (alpha, _) when useFused -> Some(Some alpha)
                | _ -> None
            let fused, states =
                match handWritten with
                | Some alpha ->
                    let bias = if w.ContainsKey "b_in" then w["b_rec"] + w["b_in"] else w["b_rec"] // [K; units]
                    let u = vanillaForward alpha w["w_rec"] h0 xT w["w_in"] bias recurrentNoise
                    Some u, u.States
                | None ->
                    let d = drive cell w xT // [K; T; B; drive]
                    let d = match recurrentNoise with Some noise -> d + noise | None -> d
                    None, unroll cell w h0 d // [K; T; B; state]
            let h = hBlock cell sizes.Units states
            let loss = mse (readout cell w h) (y.transpose(1L, 2L)) (mask |> Option.map (fun m -> m.transpose(1L, 2L))) // [K]
            if not training then loss, fused
            else
                let mutable total = loss
                let isInput role = match role with Role.Input | Role.InputBlocks _ -> true | _ -> false
                let isRecurrent role = match role with Role.Recurrent | Role.RecurrentBlocks _ -> true | _ -> false
                let isOutput role = role = Role.Output
                let term (coefficients: float[]) (roles: Role -> bool) (f: Tensor -> Tensor) =
                    if coefficients |> Array.exists (fun c -> c > 0.0) then
                        let tensors = specs |> List.filter (fun (s, _) -> roles s.Role) |> List.map (fun (s, _) -> w[s.Name])
                        match tensors with
                        | [] -> ()
                        | [ t ] -> total <- total + meanPer (f t) * column precision 1 coefficients
                        | _ ->
                            let count = tensors |> List.sumBy (fun t -> t.numel () / int64 k)
                            let sum = tensors |> List.map (fun t -> sumPer (f t)) |> List.reduce (+)
                            total <- total + sum * column precision 1 (coefficients |> Array.map (fun c -> c / float count))
                term (reg (fun r -> r.L1In)) isInput (fun t -> t.abs ())
                term (reg (fun r -> r.L1Rec)) isRecurrent (fun t -> t.abs ())
                term (reg (fun r -> r.L1Out)) isOutput (fun t -> t.abs ())
                term (reg (fun r -> r.L2In)) isInput (fun t -> t.squared ())
                term (reg (fun r -> r.L2Rec)) isRecurrent (fun t -> t.squared ())
                term (reg (fun r -> r.L2Out)) isOutput (fun t -> t.squared ())
                let rateCoefficients = reg (fun r -> r.L2Rate)
                if rateCoefficients |> Array.exists (fun c -> c > 0.0) then
                    total <- total + meanPer ((rates cell h).squared ()) * column precision 1 rateCoefficients
                total, fused
        let beta1, beta2, eps = 0.9, 0.999, 1e-8
        /// One batched step: each active member's loss, and whether it stepped (false: not finite).
        let stepAll (batches: Batch[]) (active: bool[]) : (float * bool)[] =
            use _ = torch.NewDisposeScope()
            let x, y, mask = toStack batches
            for (_, p) in optimised do p.grad <- null
            let w = weights ()
            let loss, fused = lossOf w x y mask true active // [K]
            let values = loss.detach().to_type(torch.ScalarType.Float64).data<float>().ToArray()
            let finiteLoss = Array.init k (fun i -> active[i] && Double.IsFinite(values[i]))
            let outcome = Array.init k (fun i -> values[i], false)
            if finiteLoss |> Array.exists id then
                // Only members that may step contribute: the others get zero gradients, never NaN.
                let take = torch.tensor(finiteLoss)
                let objective = torch.where(take, loss, torch.zeros_like loss).sum()
                match fused with
                | Some u -> vanillaBackward objective u
                | None -> objective.backward ()
                use _ = torch.no_grad ()
                let grads = optimised |> List.map (fun (_, p) -> if isNull p.grad then torch.zeros_like p else p.grad)
                let dims (g: Tensor) = int (g.dim ())
                let valueClip = books |> Array.map (fun b -> match b.Config.Clipping with GradientClipping.Value c -> c | _ -> Double.PositiveInfinity)
                if valueClip |> Array.exists Double.IsFinite then
                    for g in grads do
                        let c = column precision (dims g) valueClip
                        g.copy_(torch.minimum(torch.maximum(g, -c), c)) |> ignore
                let normClip = books |> Array.map (fun b -> match b.Config.Clipping with GradientClipping.GlobalNorm c -> Some c | _ -> None)
                let stepping = Array.copy finiteLoss
                if normClip |> Array.exists Option.isSome then
                    let squares = grads |> List.map (fun g -> sumPer (g.squared ())) |> List.reduce (+)
                    let norms = squares.sqrt().to_type(torch.ScalarType.Float64).data<float>().ToArray()
                    let scale =
                        Array.init k (fun i ->
                            match normClip[i] with
                            | Some c when stepping[i] ->
                                // A norm that is not finite has no direction to keep: no step (fit's rule).
                                if not (Double.IsFinite(norms[i])) then
                                    stepping[i] <- false
                                    1.0
                                elif norms[i] > c then c / (norms[i] + 1e-12)
                                else 1.0
                            | _ -> 1.0)
                    if scale |> Array.exists (fun s -> s <> 1.0) then
                        for g in grads do g.mul_(column precision (dims g) scale) |> ignore
                if stepping |> Array.exists id then
                    for i in 0 .. k - 1 do
                        if stepping[i] then books[i].Steps <- books[i].Steps + 1
                    let stepSize = books |> Array.mapi (fun i b -> if stepping[i] then b.Lr / (1.0 - Math.Pow(beta1, float b.Steps)) else 0.0)
                    let correction2 = books |> Array.mapi (fun i b -> if stepping[i] then sqrt (1.0 - Math.Pow(beta2, float b.Steps)) else 1.0)
                    let decay = books |> Array.map (fun b -> b.Config.WeightDecay)
                    let amsgrad = books |> Array.map (fun b -> b.Config.Amsgrad)
                    let takeMask = torch.tensor(stepping)
                    let amsMask = torch.tensor(amsgrad)
                    for ((_, p), g), (m, v, vmax) in List.zip (List.zip optimised grads) moments do
                        let n = dims p
                        let shape = Array.append [| int64 k |] (Array.create (n - 1) 1L)
                        let g = if decay |> Array.exists (fun d -> d > 0.0) then g + p.detach () * column precision n decay else g
                        let mNew = m * beta1 + g * (1.0 - beta1)
                        let vNew = v * beta2 + g * g * (1.0 - beta2)
                        let vmaxNew = torch.maximum(vmax, vNew)
                        let second = torch.where(amsMask.view(shape), vmaxNew, vNew)
                        let denom = second.sqrt() / column precision n correction2 + eps
                        let pNew = p.detach () - column precision n stepSize * mNew / denom
                        let take = takeMask.view(shape)
                        m.copy_(torch.where(take, mNew, m)) |> ignore
                        v.copy_(torch.where(take, vNew, v)) |> ignore
                        vmax.copy_(torch.where(take, vmaxNew, vmax)) |> ignore
                        p.detach().copy_(torch.where(take, pNew, p.detach ())) |> ignore
                for i in 0 .. k - 1 do outcome[i] <- values[i], stepping[i]
            outcome
        let evaluate (vx: Tensor, vy: Tensor, vm: Tensor option) : float[] =
            use _ = torch.NewDisposeScope()
            use _ = torch.no_grad ()
            let loss, _ = lossOf (weights ()) vx vy vm false (Array.create k false)
            loss.to_type(torch.ScalarType.Float64).data<float>().ToArray()
        let validation =
            if members[0].Config.Validation.IsNone then None
            else
                use _ = torch.NewDisposeScope()
                let x, y, m = toStack (members |> Array.map (fun m -> m.Config.Validation.Value))
                Some(own x, own y, m |> Option.map own)
        let networkOf (i: int) (values: Tensor list) =
            use _ = torch.NewDisposeScope()
            let named = List.zip (leaves |> List.map fst) (List.truncate leaves.Length values) |> List.map (fun (name, t) -> name, t.select(0L, int64 i))
            let net = Network.withValues members[i].Network (Map.ofList named)
            // Kept out of this scope: the caller owns the network.
            for p in net.parameters do p.Value.DetachFromDisposeScope() |> ignore
            for KeyValue (_, t) in net.patterns do
                t.FixedSign.DetachFromDisposeScope() |> ignore
                t.FreeKeep.DetachFromDisposeScope() |> ignore
            net
        let best = snapshot ()
        let lastFinite = snapshot ()
        try
            let maxEpochs = books |> Array.map (fun b -> b.Config.Epochs) |> Array.max
            let seeds = books |> Array.map (fun b -> b.Config.Seed) |> Array.distinct
            let mutable epoch = 0
            let runningAt (e: int) = books |> Array.map (fun b -> b.Reason = StopReason.Completed && e < b.Config.Epochs)
            while epoch < maxEpochs && (runningAt epoch |> Array.exists id) do
                let inEpoch = runningAt epoch
                let epochIndex = epoch
                for i in 0 .. k - 1 do
                    let b = books[i]
                    if inEpoch[i] then
                        b.Lr <-
                            match b.Config.Schedule with
                            | LearningRateSchedule.ReduceOnPlateau _ -> b.Lr
                            | s -> Training.scheduledRate b.Config.LearningRate s epoch
                        b.Sum <- 0.0
                        b.Count <- 0
                let batchesBySeed = seeds |> Array.map (fun s -> s, batchesOf data batchSize s epoch) |> Map.ofArray
                let count = (batchesBySeed |> Seq.head).Value.Length
                let mutable kBatch = 0
                let stillGoing () = Array.init k (fun i -> inEpoch[i] && books[i].Reason = StopReason.Completed)
                while kBatch < count && (stillGoing () |> Array.exists id) do
                    let active = stillGoing ()
                    let drawn = seeds |> Array.map (fun s -> s, batchesBySeed[s][kBatch] ()) |> Map.ofArray
                    let outcome = stepAll (books |> Array.map (fun b -> drawn[b.Config.Seed])) active
                    for i in 0 .. k - 1 do
                        if active[i] then
                            let b = books[i]
                            match outcome[i] with
                            | _, false ->
                                b.Reason <- StopReason.Diverged
                                b.StoppedAt <- epoch + 1
                            | value, true ->
                                b.Sum <- b.Sum + value
                                b.Count <- b.Count + 1
                                if hooks.Cancellation.IsCancellationRequested then
                                    b.Reason <- StopReason.Cancelled
                                    b.StoppedAt <- epoch + 1
                    let batchIndex = kBatch
                    hooks.Progress
                    |> Option.iter (fun report ->
                        let elapsed = stopwatch.Elapsed
                        report
                            { Epoch = epochIndex + 1
                              Epochs = maxEpochs
                              Batch = batchIndex + 1
                              Batches = count
                              Losses = Array.init k (fun i -> if active[i] && snd (outcome[i]) then fst (outcome[i]) else nan)
                              Active = stillGoing () |> Array.filter id |> Array.length
                              NetworkStepsPerSecond = float (books |> Array.sumBy (fun b -> b.Steps)) / max elapsed.TotalSeconds 1e-9
                              Elapsed = elapsed })
                    kBatch <- kBatch + 1
                // The end of the epoch, member by member, as fit ends it.
                let closing = Array.init k (fun i -> inEpoch[i] && books[i].Count > 0)
                if closing |> Array.exists id then
                    let weightsFinite = finitePer ()
                    updateSnapshot lastFinite (Array.init k (fun i -> closing[i] && weightsFinite[i]))
                    let completed i = books[i].Reason = StopReason.Completed || books[i].Reason = StopReason.StopLoss
                    let wantsValidation = Array.init k (fun i -> closing[i] && completed i && weightsFinite[i])
                    let validationLosses =
                        match validation with
                        | Some v when wantsValidation |> Array.exists id -> Some(evaluate v)
                        | _ -> None
                    let improved = Array.create k false
                    for i in 0 .. k - 1 do
                        if closing[i] then
                            let b = books[i]
                            let epochLoss = b.Sum / float b.Count
                            b.Losses.Add epochLoss
                            b.Rates.Add b.Lr
                            let v = if wantsValidation[i] then validationLosses |> Option.map (fun l -> l[i]) else None
                            v |> Option.iter b.ValidationLosses.Add
                            let monitored = v |> Option.defaultValue epochLoss
                            if completed i && weightsFinite[i] && monitored < b.BestLoss then
                                b.BestLoss <- monitored
                                b.BestEpoch <- epoch + 1
                                b.HasBest <- true
                                improved[i] <- true
                            match b.Config.Schedule with
                            | LearningRateSchedule.ReduceOnPlateau (factor, patience, minimum) ->
                                if monitored < b.PlateauBest * (1.0 - 1e-4) then
                                    b.PlateauBest <- monitored
                                    b.PlateauBad <- 0
                                else
                                    b.PlateauBad <- b.PlateauBad + 1
                                    if b.PlateauBad > patience then
                                        b.Lr <- max (b.Lr * factor) minimum
                                        b.PlateauBad <- 0
                            | _ -> ()
                            match b.Config.StopLoss with
                            | Some stop when b.Reason = StopReason.Completed && epochLoss <= stop ->
                                b.Reason <- StopReason.StopLoss
                                b.StoppedAt <- epoch + 1
                            | _ -> ()
                    updateSnapshot best improved
                    match hooks.OnBest with
                    | Some onBest ->
                        for i in 0 .. k - 1 do
                            if improved[i] then
                                use n = networkOf i best
                                onBest i n
                    | None -> ()
                    let seconds = stopwatch.Elapsed.TotalSeconds
                    for i in 0 .. k - 1 do
                        if closing[i] then books[i].EpochEnds.Add seconds
                epoch <- epoch + 1
            for b in books do
                if b.Reason = StopReason.Completed then b.StoppedAt <- min epoch b.Config.Epochs
            let currentFinite = finitePer ()
            let current = allLeaves
            [ for i in 0 .. k - 1 ->
                let b = books[i]
                let chosen =
                    if b.HasBest && b.Config.KeepBest then best
                    elif currentFinite[i] && b.Reason <> StopReason.Diverged then current
                    else lastFinite
                let network = networkOf i chosen
                let initial =
                    learnt
                    |> Option.map (fun _ ->
                        use _ = torch.NewDisposeScope()
                        Arrays.ofTensor ((List.last chosen).detach().select(0L, int64 i)))
                { Network = network
                  InitialState = initial
                  Losses = b.Losses.ToArray()
                  LearningRates = b.Rates.ToArray()
                  ValidationLosses = b.ValidationLosses.ToArray()
                  EpochEndSeconds = b.EpochEnds.ToArray()
                  BestEpoch = (if b.Config.KeepBest then b.BestEpoch else 0)
                  StopReason = b.Reason
                  StoppedAtEpoch = b.StoppedAt
                  Steps = b.Steps
                  WallTime = stopwatch.Elapsed } ]
        finally
            disposeAll best
            disposeAll lastFinite
            for t in owned do t.Dispose()
            for b in books do b.Generator.Dispose()

    /// `fitWith PopulationHooks.none`.
    let fit (members: PopulationMember list) (data: TrainingData) : FitResult list = fitWith PopulationHooks.none members data
