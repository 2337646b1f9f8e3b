#!/usr/bin/env -S dotnet fsi
// 09 - Continuation and bifurcations: fixed points traced as one parameter varies.
//   a) h' = tanh(w h), w from 0.5 to 1.5: one fixed point below w = 1, three above, a pitchfork at 1
//      (the two new branches are traced by branch switching);
//   b) h' = tanh(2 h + b), the input b from -1 to 1: an S-shaped branch with two folds at
//      b = +-(atanh(1/sqrt 2) - sqrt 2) (hysteresis: two attractors between them);
//   c) h' = tanh(s R(theta) h): the complex pair s e^(+-i theta) crosses the unit circle at s = 1
//      (Neimark-Sacker);
//   d) the decoupled cube W = g I from g = 1.5 down to 0.5: 27 points, which meet at 0 at g = 1;
//   d2) h' = tanh(-s h), s from 0.5 to 1.5: a flip at s = 1 and the period-2 orbit {a, -a} born there,
//      traced as fixed points of the map applied twice (closed form: s = atanh(a) / a);
//   e) full mode only: a trained 3-bit flip-flop as its first input varies (its memory of bit 1 is
//      a hysteresis loop between two folds).
//
//     dotnet fsi scripts/09-continuation.fsx          (RNNFUN_QUICK=1 for a smaller run)
//
// Outputs: output/09-pitchfork.json, output/09-fold-report.html, output/09-cube-diagram.html,
//          output/09-flip.json (with the period-2 orbit),
//          output/09-flipflop-report.html (full mode)

#load "_references.fsx"

open System
open RnnFun
open RnnFun.Plotting
open RnnFun.Scripts

// ---- Hyper-parameters ----
let seed = 0
let theta = 0.7
let flipFlopUnits = 32
let flipFlopEpochs = 30

/// A float64 vanilla network with given W_rec, W_in and b_rec (readout zero).
let vanilla (wRec: float[][]) (wIn: float[][]) (bias: float[]) =
    let units = wRec.Length
    Network.ofValues
        Kinds.rnn
        { NetworkConfig.defaults with InputSize = wIn[0].Length; Units = units; OutputSize = 1; Precision = Precision.Float64 }
        (Map.ofList
            [ "w_in", ParameterValue.Matrix wIn
              "w_rec", ParameterValue.Matrix wRec
              "b_rec", ParameterValue.Vector bias
              "w_out", ParameterValue.Matrix [| Array.zeroCreate units |] ])

let printEvents (r: ContinuationResult) =
    printfn "  %d branches from %d start points; %d bifurcations in %.2f s" r.Branches.Length r.StartPoints r.Events.Length r.Elapsed.TotalSeconds
    for e in r.Events do
        printfn "    %-15s branch %d at %.10f, lambda = %.6f%+.6fi, %+d crossing" (Continuation.kindName e.Kind) e.Branch e.Parameter e.Eigenvalue.Real e.Eigenvalue.Imaginary e.Crossing

let main () =
    let config start finish = { ContinuationConfig.defaults with Start = start; End = finish; Seed = seed }

    printfn "a) h' = tanh(w h), w from 0.5 to 1.5"
    use one = vanilla [| [| 1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
    let pitchfork = Continuation.run (config 0.5 1.5) one (ContinuationParameter.RecurrentScale [| 0.0 |])
    printEvents pitchfork
    ContinuationFile.save (Script.output "09-pitchfork.json") pitchfork
    let below, above = (Continuation.statesAt 1e-6 pitchfork 0.8).Length, (Continuation.statesAt 1e-6 pitchfork 1.5).Length
    printfn "  fixed points at w = 0.8: %d, at w = 1.5: %d" below above
    Script.check (below = 1 && above = 3) "one fixed point below w = 1, three above"
    Script.check
        (pitchfork.Events |> Array.exists (fun e -> e.Kind = BifurcationKind.Pitchfork && abs (e.Parameter - 1.0) < 1e-8))
        "a pitchfork at w = 1"
    Script.saveChart (Script.output "09-pitchfork-diagram.html") "h' = tanh(w h)" (DynamicsCharts.bifurcationDiagram pitchfork [||] "w")

    printfn "b) h' = tanh(2 h + b), b from -1 to 1"
    use folded = vanilla [| [| 2.0 |] |] [| [| 1.0 |] |] [| 0.0 |]
    let fold = Continuation.run (config -1.0 1.0) folded (Continuation.inputComponent [| 0.0 |] 0)
    printEvents fold
    let bFold = let h = 1.0 / sqrt 2.0 in 0.5 * log ((1.0 + h) / (1.0 - h)) - 2.0 * h
    let folds = fold.Events |> Array.filter (fun e -> e.Kind = BifurcationKind.Fold) |> Array.map (fun e -> e.Parameter) |> Array.sort
    printfn "  closed form: folds at b = %.10f and %.10f" bFold -bFold
    Script.check (folds.Length = 2 && abs (folds[0] - bFold) < 1e-8 && abs (folds[1] + bFold) < 1e-8) "two folds at the closed-form inputs"
    Report.save
        (Script.output "09-fold-report.html")
        { ReportInputs.empty with
            Title = "RnnFun: h' = tanh(2h + b), continuation in b"
            Model = Some(ModelSummary.ofNetwork folded)
            Continuation = Some(fold, "b (input 0)") }

    printfn "c) h' = tanh(s R(%.1f) h), s from 0.5 to 1.3" theta
    use rotation = vanilla [| [| cos theta; -sin theta |]; [| sin theta; cos theta |] |] [| [| 0.0 |]; [| 0.0 |] |] [| 0.0; 0.0 |]
    let ns = Continuation.run (config 0.5 1.3) rotation (ContinuationParameter.RecurrentScale [| 0.0 |])
    printEvents ns
    Script.check
        (ns.Events |> Array.exists (fun e -> e.Kind = BifurcationKind.NeimarkSacker && abs (e.Parameter - 1.0) < 1e-8 && abs (e.Eigenvalue.Phase - theta) < 1e-8))
        "a Neimark-Sacker crossing at s = 1 with lambda = e^(i theta)"

    printfn "d) the cube W = g I, g from 1.5 down to 0.5"
    use cube = Network.scaledIdentity Kinds.rnn 3 1.0
    let c = Continuation.run (config 1.5 0.5) cube (ContinuationParameter.RecurrentScale [| 0.0 |])
    printEvents c
    let at15, at05 = (Continuation.statesAt 1e-6 c 1.5).Length, (Continuation.statesAt 1e-6 c 0.5).Length
    printfn "  fixed points at g = 1.5: %d, at g = 0.5: %d" at15 at05
    Script.check (at15 = 27 && at05 = 1) "27 fixed points above g = 1, one below"
    Script.saveChart (Script.output "09-cube-diagram.html") "W = g I" (DynamicsCharts.bifurcationDiagram c [| 1.0; 0.0; 0.0 |] "g")

    printfn "d2) h' = tanh(-s h), s from 0.5 to 1.5: the flip and its period-2 orbit"
    use flipping = vanilla [| [| -1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
    let flipConfig = config 0.5 1.5
    let fr = Continuation.run flipConfig flipping (ContinuationParameter.RecurrentScale [| 0.0 |])
    printEvents fr
    let orbits = PeriodTwo.ofContinuation flipConfig flipping fr
    ContinuationFile.saveWith orbits (Script.output "09-flip.json") fr
    // The closed form of the orbit {a, -a}: a = tanh(s a), so s = atanh(a) / a.
    let worst =
        orbits
        |> Array.collect (fun b -> Array.init (b.States.Length - 1) (fun k -> let a = abs (b.States[k + 1]).[0] in abs (0.5 * log ((1.0 + a) / (1.0 - a)) / a - b.Parameter[k + 1])))
        |> Array.fold max 0.0
    for b in orbits do
        let last = b.Parameter.Length - 1
        printfn "  period-2 orbit from s = %.8f: %d points to s = %.4f, {%.6f, %.6f} there, multiplier %.6f" b.FlipParameter b.Parameter.Length b.Parameter[last] (b.States[last]).[0] (b.Partners[last]).[0] (b.Multipliers[last]).[0].Real
    printfn "  largest |atanh(a)/a - s| on the orbit: %.2e" worst
    Script.check (orbits.Length = 1 && abs (orbits[0].FlipParameter - 1.0) < 1e-8) "one flip, at s = 1"
    Script.check (orbits.Length = 1 && worst < 1e-9 && orbits[0].Ending = BranchEnding.Range) "the period-2 orbit on its closed form, to s = 1.5"

    if not Script.quick then
        printfn "e) a trained 3-bit flip-flop (%d units), input 0 from -1 to 1" flipFlopUnits
        let preset = Presets.flipFlop seed
        let preset = { preset with Network = { preset.Network with Units = flipFlopUnits }; Fit = { preset.Fit with Epochs = flipFlopEpochs } }
        use fit = Presets.train preset
        let ff = Continuation.run { config -1.0 1.0 with InitialStates = Some(InitialStates.uniformBox 512 -1.0 1.0 flipFlopUnits seed) } fit.Network (Continuation.inputComponent [| 0.0; 0.0; 0.0 |] 0)
        printEvents ff
        Report.save
            (Script.output "09-flipflop-report.html")
            { ReportInputs.empty with
                Title = "RnnFun: a trained flip-flop as input 0 varies"
                Model = Some(ModelSummary.ofNetwork fit.Network)
                Continuation = Some(ff, "input 0") }
        Script.check (ff.Events |> Array.exists (fun e -> e.Kind = BifurcationKind.Fold)) "the flip-flop's memory of bit 1 ends at folds"

    printfn ""
    printfn "summary (%s mode, %.1f s)" Script.mode (Script.elapsed ())

main ()
Script.finish ()
