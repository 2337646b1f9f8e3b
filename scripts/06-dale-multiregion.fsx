#!/usr/bin/env -S dotnet fsi
// 06 - A multi-region network with Dale's law: three regions with their own excitatory/inhibitory
// ratios, sparse random projections between them (one cell-type specific), inputs into the first
// region and outputs read from the last. Train it briefly on flip-flop trials, then verify from the
// effective weights that every constraint still holds.
//
//     dotnet fsi scripts/06-dale-multiregion.fsx      (RNNFUN_QUICK=1 for a smaller run)
//
// Outputs: output/06-multiregion-model.json, output/06-multiregion-weights.html (region borders solid,
//          excitatory/inhibitory borders dashed), output/06-multiregion-report.html

#load "_references.fsx"

open System
open RnnFun
open RnnFun.Plotting
open RnnFun.Scripts

// ---- Hyper-parameters ----
let seed = 0
let scale = if Script.quick then 1 else 2
// name, units, autapses, Dale ratio (None: signs free)
let sensory = { Name = "sensory"; Units = 10 * scale; Autapses = false; DaleRatio = Some 0.8 }
let association = { Name = "association"; Units = 12 * scale; Autapses = true; DaleRatio = Some 0.5 }
let motor = { Name = "motor"; Units = 8 * scale; Autapses = false; DaleRatio = None }
let projections =
    [ MultiRegion.projection "sensory" "association" 0.3
      MultiRegion.projection "association" "motor" 0.3
      MultiRegion.projection "motor" "association" 0.1
      // Cell-type specific feedback: excitatory association cells onto inhibitory sensory cells.
      { MultiRegion.projection "association" "sensory" 0.25 with FromCells = CellType.Excitatory; ToCells = CellType.Inhibitory } ]
let bits = 3
let sequenceLength = 32
let trials = if Script.quick then 128 else 512
let epochs = if Script.quick then 15 else 40
let learningRate = 1e-2
let kind = Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 25.0 } // dt 5: alpha = 0.2
let file name = Script.output ("06-multiregion-" + name)

let matrixOf (values: Map<string, ParameterValue>) name =
    match values[name] with
    | ParameterValue.Matrix m -> m
    | ParameterValue.Vector _ -> failwithf "%s is not a matrix" name

let main () =
    let regions = [ sensory; association; motor ]
    let connectivity =
        MultiRegion.build
            { MultiRegion.empty with
                Regions = regions
                Projections = projections
                Inputs = List.replicate bits [ "sensory" ] // every input channel reaches the sensory region only
                Outputs = List.replicate bits [ "motor" ] // every output channel reads the motor region only
                Seed = seed }
    for r in connectivity.Regions do
        printfn "region %-12s units %2d-%2d" r.Name r.Start (r.Start + r.Units - 1)
    let config =
        { NetworkConfig.defaults with
            InputSize = connectivity.InputSize
            Units = connectivity.Units
            OutputSize = connectivity.OutputSize
            Constraints = connectivity.Constraints
            Trainable = Map.ofList [ "w_in", true; "w_out", true ] // train the masked inputs and outputs too
            Seed = int64 seed }
    use initial = Network.create kind config

    // Train briefly on a fixed set of flip-flop trials.
    let task = Tasks.flipFlop { FlipFlopConfig.defaults with Bits = bits; Time = sequenceLength }
    let data = task.Generate trials seed
    let fitConfig = { FitConfig.defaults with Epochs = epochs; LearningRate = learningRate; BatchSize = 64; Clipping = GradientClipping.GlobalNorm 1.0; Seed = seed }
    use fit = Training.fit fitConfig initial (TrainingData.Dataset data)
    let net = fit.Network
    printfn "trained %d epochs (%d steps) in %.1f s: loss %.4f -> %.4f" fit.Losses.Length fit.Steps fit.WallTime.TotalSeconds fit.Losses[0] (Array.last fit.Losses)
    ModelFile.save (file "model.json") net

    // Verify every constraint from the effective weights, against the wiring described above
    // (not against the constraints the builder wrote).
    let before = Network.values initial |> Map.ofList
    let after = Network.values net |> Map.ofList
    let wIn, wRec, wOut = matrixOf after "w_in", matrixOf after "w_rec", matrixOf after "w_out"
    let regionOf unit = connectivity.Regions |> List.find (fun r -> unit >= r.Start && unit < r.Start + r.Units)
    let regionConfig (s: RegionSpan) = regions |> List.find (fun r -> r.Name = s.Name)
    let inRegion name unit = (regionOf unit).Name = name
    let n = connectivity.Units
    // The sign unit j must give its outgoing weights (column j): its region's Dale ratio.
    let expectedSign j =
        let s = regionOf j
        match (regionConfig s).DaleRatio with
        | Some ratio -> if j - s.Start < Constraints.excitatoryCount s.Units ratio then 1 else -1
        | None -> 0
    let isExcitatory j = expectedSign j = 1
    let isInhibitory j = expectedSign j = -1
    // Which (to, from) pairs may connect: within a region, or along a projection.
    let mayConnect i j =
        let a, b = (regionOf i).Name, (regionOf j).Name
        a = b
        || (b = "sensory" && a = "association")
        || (b = "association" && a = "motor")
        || (b = "motor" && a = "association")
        || (b = "association" && a = "sensory" && isExcitatory j && isInhibitory i)
    let all (f: int -> int -> bool) rows cols = Seq.forall (fun i -> Seq.forall (fun j -> f i j) [ 0 .. cols - 1 ]) [ 0 .. rows - 1 ]
    let changed name =
        Array.exists2 (Array.exists2 (fun a b -> a <> b)) (matrixOf before name) (matrixOf after name)
    let count f = Seq.sum [ for i in 0 .. n - 1 do for j in 0 .. n - 1 do if f i j then 1 else 0 ]
    let nonZero = count (fun i j -> wRec[i][j] <> 0.0)
    let between = count (fun i j -> wRec[i][j] <> 0.0 && (regionOf i).Name <> (regionOf j).Name)

    Script.saveChart (file "weights.html") "Multi-region weights" (Charts.weights (ModelSummary.ofNetwork net) (Some connectivity.Regions))
    Report.save
        (file "report.html")
        { ReportInputs.empty with
            Title = sprintf "RnnFun: multi-region network with Dale's law (%s mode)" Script.mode
            Model = Some(ModelSummary.ofNetwork net)
            Regions = Some connectivity.Regions
            FitConfig = Some fitConfig
            Training = Some(TrainingSummary.ofFit fit) }

    printfn ""
    printfn "summary (%s mode, %.1f s)" Script.mode (Script.elapsed ())
    printfn "  %d units in %d regions; W_rec has %d non-zero weights of %d, %d of them between regions" n regions.Length nonZero (n * n) between
    Script.check (changed "w_rec" && changed "w_in" && changed "w_out") "training changed W_rec, W_in and W_out"
    Script.check (Array.forall Double.IsFinite fit.Losses && Array.last fit.Losses < fit.Losses[0]) "the loss fell"
    Script.check (all (fun i j -> match expectedSign j with 1 -> wRec[i][j] >= 0.0 | -1 -> wRec[i][j] <= 0.0 | _ -> true) n n) "Dale's law per region: excitatory columns >= 0, inhibitory <= 0"
    Script.check (all (fun i j -> mayConnect i j || wRec[i][j] = 0.0) n n) "W_rec is zero between regions without a projection"
    Script.check
        (Seq.forall (fun i -> (regionConfig (regionOf i)).Autapses || wRec[i][i] = 0.0) [ 0 .. n - 1 ])
        "no autapses in the sensory and motor regions"
    Script.check (all (fun i _ -> inRegion "sensory" i || wIn[i] |> Array.forall ((=) 0.0)) n 1) "inputs reach the sensory region only"
    Script.check (all (fun k j -> inRegion "motor" j || wOut[k][j] = 0.0) bits n) "outputs read the motor region only"
    Script.check (between > 0) "some weights connect different regions"

main ()
Script.finish ()
