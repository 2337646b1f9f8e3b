#!/usr/bin/env -S dotnet fsi
// 01 - Quickstart: build a continuous-time network with Dale's law and no autapses, run it over
// random inputs, save it, load it back, and write an HTML report of its activity and weights.
//
//     dotnet fsi scripts/01-quickstart.fsx            (RNNFUN_QUICK=1 for a smaller run)
//
// Outputs: output/01-quickstart-model.json, output/01-quickstart-report.html

#load "_references.fsx"

open System
open TorchSharp
open RnnFun
open RnnFun.Plotting
open RnnFun.Scripts

// ---- Hyper-parameters ----
let seed = 0
let inputs = 3
let units = if Script.quick then 24 else 100
let outputs = 2
let daleRatio = 0.8 // the first 80 % of the units are excitatory
let trials = if Script.quick then 4 else 16
let steps = if Script.quick then 100 else 400
let modelPath = Script.output "01-quickstart-model.json"
let reportPath = Script.output "01-quickstart-report.html"

let main () =
    // A ctrnn (dt 5, tau 100): h' = h + dt/tau (-h + W_rec tanh(h) + b_rec + W_in x).
    let config =
        { NetworkConfig.defaults with
            InputSize = inputs
            Units = units
            OutputSize = outputs
            Constraints = { Constraints.none with DaleRatio = Some daleRatio; Autapses = false }
            Seed = int64 seed }
    use net = Network.create Kinds.ctrnn config
    let total, trainable = Network.parameterCount net
    printfn "network: %s, %d inputs, %d units, %d outputs; %d parameters (%d trainable)" net.Kind.Name net.Sizes.Inputs net.Sizes.Units net.Sizes.Outputs total trainable

    // Random inputs [trials; time; inputs], unrolled from the zero state.
    use generator = new torch.Generator(uint64 seed)
    use x = torch.randn([| int64 trials; int64 steps; int64 inputs |], generator = generator)
    use run = Network.unroll net x
    printfn "inputs  %s" (Script.shape x)
    printfn "states  %s" (Script.shape run.States)
    printfn "outputs %s" (Script.shape run.Outputs)
    // The states as plain arrays [trial][time][units] for the report.
    let states = InitialStates.ofTrajectories run.States |> Array.chunkBySize steps

    // Save, load back, and check that the loaded network computes the same outputs.
    ModelFile.save modelPath net
    use loaded = ModelFile.load modelPath
    use rerun = Network.unroll loaded x
    let difference = (rerun.Outputs - run.Outputs).abs().max().ToDouble()

    // The effective weights after the constraints, as plain data.
    let values = Network.values net |> Map.ofList
    let wRec = match values["w_rec"] with ParameterValue.Matrix m -> m | ParameterValue.Vector _ -> failwith "w_rec is a matrix"
    let excitatory = Constraints.excitatoryCount units daleRatio

    Report.save
        reportPath
        { ReportInputs.empty with
            Title = "RnnFun quickstart: an untrained ctrnn with Dale's law"
            Model = Some(ModelSummary.ofNetwork net)
            States = Some states
            Notes = [ ("inputs", sprintf "N(0, 1) noise, %d trials of %d steps, seed %d" trials steps seed) ] }

    printfn ""
    printfn "summary (%s mode, %.1f s)" Script.mode (Script.elapsed ())
    printfn "  %d excitatory and %d inhibitory units; wrote %s and %s" excitatory (units - excitatory) modelPath reportPath
    Script.check (run.States.shape = [| int64 trials; int64 steps; int64 units |]) "states have shape [trials; time; units]"
    Script.check (run.Outputs.shape = [| int64 trials; int64 steps; int64 outputs |]) "outputs have shape [trials; time; outputs]"
    Script.check (torch.isfinite(run.States).all().item<bool>()) "states are finite"
    Script.check (Seq.forall (fun i -> wRec[i][i] = 0.0) [ 0 .. units - 1 ]) "no autapses: the diagonal of W_rec is 0"
    Script.check
        (wRec |> Array.forall (fun row -> row |> Array.mapi (fun j w -> if j < excitatory then w >= 0.0 else w <= 0.0) |> Array.forall id))
        "Dale's law: excitatory columns >= 0, inhibitory columns <= 0"
    Script.check (difference < 1e-6) (sprintf "the saved and loaded model computes the same outputs (max difference %g)" difference)

main ()
Script.finish ()
