#!/usr/bin/env -S dotnet fsi
// 07 - Analyse any model file: no F# of your own, only an `rnnfun.model` file (from `rnnfun train`,
// `ModelFile.save`, or a converter). Probes the network with random input pulses, then fits a PCA,
// finds the fixed points and their stability, builds the topology and writes a report.
//
//     dotnet fsi scripts/07-load-and-analyse.fsx path/to/model.json
//     dotnet fsi scripts/07-load-and-analyse.fsx      (no model: trains a tiny flip-flop first)
//
// Outputs: output/07-fixed-points.json, output/07-topology.{json,dot}, output/07-report.html
//          (and output/07-model.json when it trained one)

#load "_references.fsx"

open System
open System.IO
open RnnFun
open RnnFun.Plotting
open RnnFun.Scripts

// ---- Hyper-parameters ----
let seed = 0
// The tiny flip-flop trained when no model file is given.
let tinyUnits = if Script.quick then 24 else 32
let tinyEpochs = if Script.quick then 12 else 20
// The probe: trials of random pulses (+1 or -1 with this probability per step and input).
let probeTrials = if Script.quick then 32 else 128
let probeSteps = 64
let pulseProbability = 0.2
let initialStateCount = if Script.quick then 256 else 1024
let initialStateNoise = 0.5
let varianceThreshold = Pca.defaultVarianceThreshold // 0.85
let runsPerPoint = if Script.quick then 16 else 64
let file name = Script.output ("07-" + name)

/// The model given as the first script argument, or a tiny flip-flop trained and saved here.
let modelPath =
    match fsi.CommandLineArgs |> Array.skip 1 |> Array.tryHead with
    | Some path -> Path.GetFullPath path
    | None ->
        let path = file "model.json"
        printfn "no model file given: training a tiny %d-unit flip-flop (%d epochs) into %s" tinyUnits tinyEpochs path
        let preset = Presets.flipFlop seed |> Presets.withSequenceLength 32
        let preset =
            { preset with
                Network = { preset.Network with Units = tinyUnits }
                Fit = { preset.Fit with Epochs = tinyEpochs; StopLoss = None }
                ValidationTrials = 64 }
        use fit = Presets.train preset
        ModelFile.save path fit.Network
        printfn "  validation MSE %s" (Script.sci (Array.min fit.ValidationLosses))
        path

let main () =
    // Everything below uses the model file only.
    use net =
        try ModelFile.load modelPath
        with FileFormatError (path, problem) ->
            eprintfn "cannot read the model: %s: %s" path problem
            exit 2
    let total, trainable = Network.parameterCount net
    printfn "model %s" modelPath
    printfn "  %s, %d inputs, %d units, %d outputs, %d parameters (%d trainable)" net.Kind.Name net.Sizes.Inputs net.Sizes.Units net.Sizes.Outputs total trainable
    printfn "  Dale's law %s, autapses %b" (match net.Constraints.DaleRatio with Some r -> string r | None -> "off") net.Constraints.Autapses

    // 1. Probe: random pulses [trials; time; inputs] from the zero state.
    let random = Random(seed)
    let pulses =
        Array.init (probeTrials * probeSteps * net.Sizes.Inputs) (fun _ ->
            if random.NextDouble() < pulseProbability then (if random.NextDouble() < 0.5 then -1.0 else 1.0) else 0.0)
    let probe =
        { Inputs = pulses |> Array.map float32 // [trials; time; inputs]
          Targets = Array.zeroCreate (probeTrials * probeSteps * net.Sizes.Outputs) // no targets: zeros
          Mask = None
          Trials = probeTrials
          Time = probeSteps
          InputSize = net.Sizes.Inputs
          OutputSize = net.Sizes.Outputs }
    let run = Pipeline.trajectories None net probe
    let states = run.AllStates // [trials * time][units]
    let trajectories = run.States // [trial][time][units]

    // 2. Dimensionality.
    let pca = Pca.fitAll states
    let components = Pca.componentsForVariance varianceThreshold pca
    printfn "PCA: %d components explain %.0f %% of the variance (first ratios %s)"
        components (100.0 * varianceThreshold)
        (String.Join(", ", pca.ExplainedVarianceRatio |> Array.truncate 5 |> Array.map (sprintf "%.3f")))

    // 3. Fixed points under zero input, and their stability.
    let input = Array.zeroCreate<float> net.Sizes.Inputs
    let initial = InitialStates.fromStates initialStateCount initialStateNoise seed states
    let found = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same input) initial
    let points = found.FixedPoints
    printfn "fixed points: %d from %d initial states (%d converged, %d duplicates, %d outliers) in %.1f s"
        points.Length found.InitialStates found.Converged found.Duplicates found.Outliers found.Elapsed.TotalSeconds
    printfn "  %-4s %-10s %8s %10s %10s" "id" "kind" "unstable" "q" "|lambda_1|"
    for p in points |> Array.truncate 30 do
        printfn "  %-4d %-10s %8d %10s %10.4f" p.Id (FixedPointFile.kindName p.Kind) p.UnstableModes (Script.sci p.Q) p.Eigenvalues[0].Magnitude
    if points.Length > 30 then printfn "  ... (%d more in %s)" (points.Length - 30) (file "fixed-points.json")
    FixedPointFile.save (file "fixed-points.json") points

    // 4. Topology between the fixed points.
    let topology =
        if points.Length = 0 then None
        else Some(Topology.build { TopologyConfig.defaults with RunsPerPoint = runsPerPoint; Seed = seed } net input points)
    topology
    |> Option.iter (fun t ->
        TopologyFile.save (file "topology.json") t
        File.WriteAllText(file "topology.dot", Topology.toDot t)
        printfn "topology: %d edges, %d runs unreached" t.Edges.Length t.Unreached)

    // 5. The report.
    Report.save
        (file "report.html")
        { ReportInputs.empty with
            Title = sprintf "RnnFun analysis of %s" (Path.GetFileName modelPath)
            Model = Some(ModelSummary.ofNetwork net)
            States = Some trajectories
            Pca = Some pca
            VarianceThreshold = varianceThreshold
            FixedPoints = Some points
            Topology = topology
            Notes =
                [ ("model file", modelPath)
                  ("probe", sprintf "%d trials of %d steps, pulses of +-1 with probability %g, seed %d" probeTrials probeSteps pulseProbability seed) ] }

    let attractors = points |> Array.filter (fun p -> p.Kind = FixedPointKind.Attractor) |> Array.length
    printfn ""
    printfn "summary (%s mode, %.1f s)" Script.mode (Script.elapsed ())
    printfn "  %d fixed points (%d attractors), %d PCA components for %.0f %% variance; report %s"
        points.Length attractors components (100.0 * varianceThreshold) (file "report.html")
    Script.check (points.Length >= 1) (sprintf "at least one fixed point (found %d)" points.Length)
    Script.check (points |> Array.forall (fun p -> p.Q < FixedPointConfig.defaults.TolQ)) "every fixed point has q below the tolerance"
    Script.check (components >= 1 && components <= net.Sizes.Units) (sprintf "1 <= components (%d) <= units" components)
    Script.check (topology |> Option.forall (fun t -> t.Vertices.Length = points.Length)) "one topology vertex per fixed point"

main ()
Script.finish ()
