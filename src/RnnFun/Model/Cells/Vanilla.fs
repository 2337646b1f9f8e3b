namespace RnnFun

open TorchSharp

/// What a continuous-time network reads out.
[<RequireQualifiedAccess>]
type Readout =
    /// o = W_out h, h the pre-activation state (pyrnn's CTRNN).
    | State
    /// o = W_out tanh(h), the firing rates (PsychRNN).
    | Rate

/// Settings of the continuous-time kind.
type CtrnnConfig =
    { Dt: float
      Tau: float
      Readout: Readout }

    /// dt = 5, tau = 100 (alpha = 0.05), readout of the state (pyrnn's defaults).
    static member defaults = { Dt = 5.0; Tau = 100.0; Readout = Readout.State }

/// The vanilla cells: the discrete tanh network and the continuous-time one, with the pieces a
/// kind of one's own can reuse (parameters, state, drive, readout). `Kinds` lists them.
[<RequireQualifiedAccess>]
module Vanilla =
    /// The parameters of a vanilla network: W_in, W_rec, b_rec, W_out and optional b_in, b_out.
    /// By default only W_rec and b_rec are trained (pyrnn's default).
    let parameters (sizes: Sizes) : ParameterSpec list =
        let spec name shape fanIn role optional trainable =
            { Name = name; Shape = shape; FanIn = fanIn; Role = role; Optional = optional; Trainable = trainable }
        [ spec "w_in" [| sizes.Units; sizes.Inputs |] sizes.Inputs Role.Input false false
          spec "w_rec" [| sizes.Units; sizes.Units |] sizes.Units Role.Recurrent false true
          spec "b_rec" [| sizes.Units |] sizes.Units Role.RecurrentBias false true
          spec "w_out" [| sizes.Outputs; sizes.Units |] sizes.Units Role.Output false false
          spec "b_in" [| sizes.Units |] sizes.Inputs Role.InputBias true false
          spec "b_out" [| sizes.Outputs |] sizes.Units Role.OutputBias true false ]

    /// One block `h` of `Units` values, read by the readout and the rates.
    let state (sizes: Sizes) : StateLayout =
        { Blocks = [ { Name = "h"; Size = sizes.Units } ]; Readout = "h"; Rates = "h" }


    let private tryGet (w: Weights) name =
        match w.TryGetValue name with
        | true, t -> Some t
        | _ -> None

    /// W_in x + b_in + b_rec for every step at once: x [..; inputs] -> [..; units].
    /// b_rec is folded in here so that a step is a single addmm.
    let drive (w: Weights) (x: Tensor) : Tensor =
        let bias =
            match tryGet w "b_in" with
            | Some bIn -> w["b_rec"] + bIn // [units]
            | None -> w["b_rec"]
        // x W_in' with W_in' made contiguous: autograd then forms W_in's gradient as x' G, a product
        // with few rows, about 6 times faster on CPU than linear's G' x (few columns).
        torch.matmul(x, w["w_in"].t().contiguous()).add_(bias) // [..; units]

    /// W_out s (+ b_out): [..; units] -> [..; outputs].
    let linearReadout (w: Weights) (s: Tensor) : Tensor =
        torch.nn.functional.linear(s, w["w_out"], (tryGet w "b_out" |> Option.toObj))

    /// The discrete vanilla network: h' = tanh(W_rec h + b_rec + W_in x (+ b_in)), o = W_out h (+ b_out).
    let rnn: Kind =
        // One function value: the hand-written recurrence stands for exactly this step.
        let step: Weights -> Tensor -> Tensor -> Tensor =
            fun w h drive -> torch.tanh (torch.addmm(drive, h, w["w_rec"].t (), 1.0f, 1.0f)) // [batch; units]
        { Name = "rnn"
          Settings = []
          WithSettings = None
          Parameters = parameters
          State = state
          InputDrive = drive
          Step = step
          Readout = linearReadout
          Rates = fun h -> h.alias ()
          NoiseGain = 1.0
          // F = tanh(W h + drive): J = diag(1 - F^2) W.
          Jacobian =
            Some
                { Step = step
                  Jacobian =
                    fun w h drive ->
                        let f = torch.tanh (torch.addmm(drive, h, w["w_rec"].t (), 1.0f, 1.0f)) // [batch; units]
                        (1.0 - f.squared()).unsqueeze(2L) * w["w_rec"].unsqueeze(0L) } // [batch; units; units]
          HandWritten = Some { Recurrence = FusedRecurrence.Rnn; Step = step }
          TimeScale = None
          FixedPointResidual = None
          FixedPointLearningRate = None }

    let private readoutText (r: Readout) = match r with Readout.State -> "state" | Readout.Rate -> "rate"

    /// The ctrnn's settings as read from a model file: dt and tau required, readout "state" when absent.
    let private ctrnnConfigOf (settings: (string * KindSetting) list) : CtrnnConfig =
        let find name = settings |> List.tryPick (fun (n, v) -> if n = name then Some v else None)
        for (name, _) in settings do
            if not (List.contains name [ "dt"; "tau"; "readout" ]) then Check.fail name "kind 'ctrnn' has no such setting (it has: dt, tau, readout)"
        let number name =
            match find name with
            | Some (KindSetting.Number v) -> v
            | Some _ -> Check.fail name "expected a number"
            | None -> Check.fail name "missing (a ctrnn needs dt and tau)"
        let readout =
            match find "readout" with
            | None
            | Some (KindSetting.Text "state") -> Readout.State
            | Some (KindSetting.Text "rate") -> Readout.Rate
            | Some (KindSetting.Text t) -> Check.fail "readout" (sprintf "expected \"state\" or \"rate\", got \"%s\"" t)
            | Some (KindSetting.Number v) -> Check.fail "readout" (sprintf "expected \"state\" or \"rate\", got %g" v)
        { Dt = number "dt"; Tau = number "tau"; Readout = readout }

    /// The continuous-time network (Euler step, pyrnn semantics: h is the pre-activation):
    /// h' = h + (dt/tau) (-h + W_rec tanh(h) + b_rec + W_in x (+ b_in)); o = W_out h or W_out tanh(h).
    let rec ctrnnWith (config: CtrnnConfig) : Kind =
        Check.finitePositive "dt" config.Dt
        Check.finitePositive "tau" config.Tau
        let alpha = config.Dt / config.Tau
        // One function value: the hand-written recurrence stands for exactly this step.
        let step: Weights -> Tensor -> Tensor -> Tensor =
            fun w h drive ->
                let target = torch.addmm(drive, torch.tanh h, w["w_rec"].t (), 1.0f, 1.0f) // [batch; units]
                h.add(target - h, alpha.ToScalar()) // h + alpha (target - h)
        { Name = "ctrnn"
          Settings =
            [ "dt", KindSetting.Number config.Dt
              "tau", KindSetting.Number config.Tau
              "readout", KindSetting.Text(readoutText config.Readout) ]
          WithSettings = Some(fun settings -> ctrnnWith (ctrnnConfigOf settings))
          Parameters = parameters
          State = state
          InputDrive = drive
          Step = step
          Readout =
            match config.Readout with
            | Readout.State -> linearReadout
            | Readout.Rate -> fun w h -> linearReadout w (torch.tanh h)
          Rates = torch.tanh
          NoiseGain = sqrt (2.0 / alpha)
          // F = h + alpha (-h + W tanh(h) + drive): J = (1 - alpha) I + alpha W diag(1 - tanh(h)^2).
          Jacobian =
            Some
                { Step = step
                  Jacobian =
                    fun w h _ ->
                        let n = h.shape[1]
                        let slope = 1.0 - torch.tanh(h).squared() // [batch; units]
                        let eye = torch.eye(n, dtype = h.dtype).unsqueeze(0L) * (1.0 - alpha) // [1; units; units]
                        eye + w["w_rec"].unsqueeze(0L) * slope.unsqueeze(1L) * alpha }
          HandWritten = Some { Recurrence = FusedRecurrence.Ctrnn alpha; Step = step }
          TimeScale = Some alpha
          FixedPointResidual = None
          FixedPointLearningRate = None }

    /// The continuous-time network with pyrnn's defaults (dt = 5, tau = 100, state readout).
    let ctrnn: Kind = ctrnnWith CtrnnConfig.defaults

    /// The settings of a ctrnn kind, read back by its own codec (None for another kind).
    let ctrnnConfig (kind: Kind) : CtrnnConfig option =
        // The built-in ctrnn: its name, and its own hand-written step still in place.
        if kind.Name <> ctrnn.Name || (Recurrence.ofKind kind).IsNone then None
        else
            try Some(ctrnnConfigOf kind.Settings) with :? InvalidArgument -> None
