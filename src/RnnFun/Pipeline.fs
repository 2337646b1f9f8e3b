namespace RnnFun

open System
open System.Diagnostics
open TorchSharp

/// A network as plain data (no tensors): what reports and tables show of a model.
/// Built from a network by `ModelSummary.ofNetwork`; safe to keep after the network is disposed.
type ModelSummary =
    { KindName: string
      KindSettings: (string * KindSetting) list
      /// Sizes, biases, constraints, precision and every parameter's trainable flag (`Network.config`).
      NetworkConfig: NetworkConfig
      /// Every parameter's spec, in the network's order.
      Specs: ParameterSpec list
      /// The effective weights (free values projected onto the constraints) by parameter name, in
      /// the same order (`Network.values`).
      Values: (string * ParameterValue) list
      /// Number of scalar parameters.
      ParameterCount: int
      /// Of those, the trainable ones.
      TrainableCount: int }

    member m.Sizes = { Inputs = m.NetworkConfig.InputSize; Units = m.NetworkConfig.Units; Outputs = m.NetworkConfig.OutputSize }

    member m.Constraints = m.NetworkConfig.Constraints

    /// The first matrix parameter of a role (the kind's order), when there is one.
    member m.MatrixOfRole(role: Role) : float[][] option = m.MatrixWhere((=) role)

    /// The first matrix parameter whose role satisfies a test (the kind's order), when there is one.
    member m.MatrixWhere(isRole: Role -> bool) : float[][] option =
        m.Specs
        |> List.tryFind (fun s -> isRole s.Role && s.Shape.Length = 2)
        |> Option.bind (fun s -> m.Values |> List.tryPick (fun (name, v) -> match v with ParameterValue.Matrix x when name = s.Name -> Some x | _ -> None))

    /// Whether training may change a parameter (false for a name the model does not have).
    member m.IsTrainable(name: string) = m.NetworkConfig.Trainable |> Map.tryFind name |> Option.defaultValue false

    /// The summary of a network (its weights are copied out).
    static member ofNetwork(net: Network) : ModelSummary =
        let all, trainable = Network.parameterCount net
        { KindName = net.Kind.Name
          KindSettings = net.Kind.Settings
          NetworkConfig = Network.config net
          Specs = net.Parameters |> List.map (fun p -> p.Spec)
          Values = Network.values net
          ParameterCount = all
          TrainableCount = trainable }

/// A training run as plain data: its curves and outcome, without the network.
type TrainingSummary =
    { /// Mean training loss per epoch.
      Losses: float[]
      /// Learning rate used in each epoch.
      LearningRates: float[]
      /// Validation loss per epoch (empty without validation data).
      ValidationLosses: float[]
      /// Seconds since training started at the end of each epoch (`FitResult.EpochEndSeconds`).
      EpochEndSeconds: float[]
      /// 1-based epoch whose weights were kept as best (0: none completed).
      BestEpoch: int
      StopReason: StopReason
      /// 1-based epoch in which training stopped.
      StoppedAtEpoch: int
      Steps: int
      WallTime: TimeSpan
      /// The learnt initial state [units], when it was trained.
      InitialState: float[] option }

    /// The summary of a training run (the run keeps owning its network).
    static member ofFit(r: FitResult) : TrainingSummary =
        { Losses = r.Losses
          LearningRates = r.LearningRates
          ValidationLosses = r.ValidationLosses
          EpochEndSeconds = r.EpochEndSeconds
          BestEpoch = r.BestEpoch
          StopReason = r.StopReason
          StoppedAtEpoch = r.StoppedAtEpoch
          Steps = r.Steps
          WallTime = r.WallTime
          InitialState = r.InitialState }

/// A network's run over trials, as plain arrays.
type Trajectories =
    { /// [trials; time; outputs] row-major (a `Batch`'s layout).
      Outputs: float[]
      /// [trial][time][units]
      States: float[][][] }

    /// Every state of every trial: [trials * time][units] (e.g. for `InitialStates.fromStates`).
    member t.AllStates = Array.concat t.States

/// Settings of the analysis stage of `Pipeline`. `PipelineConfig.defaults` is FixedPointFinder's
/// flip-flop recipe: 1,024 trajectory states with noise 0.5, zero input.
type PipelineConfig =
    { /// Initial states of the search, drawn from the held-out trials' states.
      InitialStateCount: int
      /// Standard deviation of the Gaussian noise added to each drawn state.
      InitialStateNoise: float
      /// Seed of the drawing and the noise.
      Seed: int
      /// The constant input [inputs] of the search and the topology; None: zeros.
      SearchInput: float[] option
      Search: FixedPointConfig
      Topology: TopologyConfig }

    static member defaults =
        { InitialStateCount = 1024
          InitialStateNoise = 0.5
          Seed = 0
          SearchInput = None
          Search = FixedPointConfig.defaults
          Topology = TopologyConfig.defaults }

/// What the analysis of a trained network found, as plain data.
type PipelineAnalysis =
    { /// The held-out trials' outputs and states.
      Trajectories: Trajectories
      /// A PCA with every component, fitted on all of the held-out trials' states; None when they do
      /// not vary (a single state, or a network that stays where it starts).
      Pca: PcaFit option
      /// The constant input [inputs] of the search and the topology.
      SearchInput: float[]
      Search: FixedPointResult
      /// The topology of `Search.FixedPoints`; None when the search found no fixed point.
      Topology: Topology option
      Elapsed: TimeSpan }

/// The outcome of `Pipeline.run`. Owns the trained network: dispose it.
type PipelineResult =
    { Network: Network
      Training: TrainingSummary
      /// The held-out trials (the validation trials of training).
      HeldOut: Batch
      Analysis: PipelineAnalysis }

    interface IDisposable with
        member r.Dispose() = (r.Network :> IDisposable).Dispose()

/// Train, roll out held-out trials, search fixed points, build the topology: the steps of
/// `rnnfun demo`, as functions of plain data (except the network, which owns its tensors).
[<RequireQualifiedAccess>]
module Pipeline =
    /// The held-out trials of a preset: the trials `Presets.train` validates on (a seed no training
    /// batch uses).
    let heldOut (preset: Preset) : Batch = preset.Task.Generate preset.ValidationTrials (Presets.validationSeed preset.Fit.Seed)

    /// The outputs and states of a network on trials, from a given initial state [state] (None: zeros;
    /// a trained one is `FitResult.InitialState`). The one place that turns a rollout into arrays.
    let trajectories (initialState: float[] option) (net: Network) (trials: Batch) : Trajectories =
        Batch.validate "trials" trials
        if trials.InputSize <> net.Sizes.Inputs then
            Check.fail "trials" (sprintf "the trials have %d inputs but the network has %d: generate them with a task of the network's input size" trials.InputSize net.Sizes.Inputs)
        let width = Network.stateSize net
        match initialState with
        | Some h when isNull h || h.Length <> width ->
            Check.fail "initial_state" (sprintf "expected %d values (the network's state), got %d" width (if isNull h then 0 else h.Length))
        | _ -> ()
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        let x, _, _ = Training.toTensors net.Precision trials // [trials; time; inputs]
        let h0 = initialState |> Option.map (fun h -> Arrays.toTensor net.Precision [| int64 h.Length |] h) // [units]
        use run = Network.unrollFrom net h0 x
        let units = width
        let flat = Arrays.ofTensor run.States // [trials; time; state] row-major
        { Outputs = Arrays.ofTensor run.Outputs // [trials; time; outputs] row-major
          States = Array.init trials.Trials (fun b -> Array.init trials.Time (fun t -> Array.sub flat ((b * trials.Time + t) * units) units)) }

    /// Fixed points from the held-out trials' states (`config.InitialStateCount` of them drawn, plus
    /// noise), and the topology between them.
    let analyse (config: PipelineConfig) (net: Network) (initialState: float[] option) (heldOut: Batch) : PipelineAnalysis =
        Check.positive "initial_state_count" config.InitialStateCount
        let watch = Stopwatch.StartNew()
        let input =
            match config.SearchInput with
            | Some u when isNull u || u.Length <> net.Sizes.Inputs ->
                Check.fail "input" (sprintf "expected %d values (one per network input), got %d" net.Sizes.Inputs (if isNull u then 0 else u.Length))
            | Some u -> u
            | None -> Array.zeroCreate net.Sizes.Inputs
        let run = trajectories initialState net heldOut
        let states = run.AllStates
        let starts = InitialStates.fromStates config.InitialStateCount config.InitialStateNoise config.Seed states
        let search = FixedPoints.find config.Search net (ConstantInput.Same input) starts
        // Topology needs at least one fixed point to start runs from.
        let topology =
            if search.FixedPoints.Length = 0 then None
            else Some(Topology.build config.Topology net input search.FixedPoints)
        { Trajectories = run
          Pca = (try Some(Pca.fitAll states) with InvalidArgument _ -> None)
          SearchInput = input
          Search = search
          Topology = topology
          Elapsed = watch.Elapsed }

    /// Trains a preset with hooks (`Presets.trainWith`: fresh trials every epoch, validation on
    /// `heldOut preset`), then `analyse`s the trained network on the held-out trials from its learnt
    /// initial state, if any.
    let runWith (hooks: FitHooks) (config: PipelineConfig) (preset: Preset) : PipelineResult =
        let trials = heldOut preset
        let fit = Presets.trainWith hooks preset
        try
            let analysis = analyse config fit.Network fit.InitialState trials
            { Network = fit.Network
              Training = TrainingSummary.ofFit fit
              HeldOut = trials
              Analysis = analysis }
        with _ ->
            (fit :> IDisposable).Dispose()
            reraise ()

    /// `runWith FitHooks.none`.
    let run (config: PipelineConfig) (preset: Preset) : PipelineResult = runWith FitHooks.none config preset
