#!/usr/bin/env -S dotnet fsi
// 03 - Fixed points of a network known by hand: W_rec = 2I, 3 units, discrete tanh RNN.
// Each unit follows x' = tanh(2x) on its own, with fixed points -a*, 0 and a* (a* = tanh(2a*) ~ 0.957),
// so the network has 3^3 = 27 fixed points: 8 attractors (no zero coordinate), 12 saddles with one
// unstable mode, 6 with two, and the repelling centre.
//
//     dotnet fsi scripts/03-fixed-points.fsx          (RNNFUN_QUICK=1 for a smaller run)
//
// Outputs: output/03-fixed-points.json, output/03-fixed-points-report.html,
//          output/03-eigenvalue-moduli.html

#load "_references.fsx"

open System
open RnnFun
open RnnFun.Plotting
open RnnFun.Scripts

// ---- Hyper-parameters ----
let seed = 0
let units = 3
let gain = 2.0
let initialStateCount = if Script.quick then 512 else 1024
let boxLow, boxHigh = -1.5, 1.5

let main () =
    use net = Network.scaledIdentity Kinds.rnn units gain // W_rec = gain I, W_out = I, W_in = 0, no biases (float64)
    let initial = InitialStates.uniformBox initialStateCount boxLow boxHigh units seed
    let found = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) initial
    let points = found.FixedPoints
    printfn "%d fixed points from %d initial states uniform in [%g, %g]^%d (%.2f s)" points.Length found.InitialStates boxLow boxHigh units found.Elapsed.TotalSeconds
    printfn ""
    printfn "  %-3s %-10s %8s %10s  %-26s %s" "id" "kind" "unstable" "q" "state" "|lambda| (descending)"
    for p in points do
        printfn "  %-3d %-10s %8d %10s  %-26s %s"
            p.Id (FixedPointFile.kindName p.Kind) p.UnstableModes (Script.sci p.Q)
            (String.Join(" ", p.State |> Array.map (sprintf "%+.4f")))
            (String.Join(" ", p.Eigenvalues |> Array.map (fun l -> sprintf "%.4f" l.Magnitude)))
    FixedPointFile.save (Script.output "03-fixed-points.json") points

    // The report shows the table, the points in state space and Charts.eigenvalueModuli.
    Report.save
        (Script.output "03-fixed-points-report.html")
        { ReportInputs.empty with
            Title = "RnnFun: the 27 fixed points of W = 2I"
            Model = Some(ModelSummary.ofNetwork net)
            FixedPoints = Some points
            Notes = [ ("initial states", sprintf "%d uniform in [%g, %g]^%d, seed %d" initialStateCount boxLow boxHigh units seed) ] }
    // One chart on its own page: every point's eigenvalue moduli, coloured by unstable modes.
    Script.saveChart (Script.output "03-eigenvalue-moduli.html") "W = 2I: eigenvalue moduli" (Charts.eigenvalueModuli points)

    // a* solves a = tanh(2a): by bisection, independently of the finder.
    let aStar =
        let mutable lo, hi = 0.5, 1.0
        for _ in 1 .. 200 do
            let mid = (lo + hi) / 2.0
            if mid - tanh (gain * mid) < 0.0 then lo <- mid else hi <- mid
        lo
    let byModes = [ 0 .. 3 ] |> List.map (fun m -> points |> Array.filter (fun p -> p.UnstableModes = m) |> Array.length)
    printfn ""
    printfn "summary (%s mode, %.1f s)" Script.mode (Script.elapsed ())
    printfn "  %d fixed points; by unstable modes 0/1/2/3: %s; a* = %.10f" points.Length (String.Join(" / ", byModes)) aStar
    Script.check (points.Length = 27) (sprintf "27 fixed points (found %d)" points.Length)
    Script.check (byModes = [ 8; 12; 6; 1 ]) "8 attractors, 12 + 6 saddles, 1 repeller"
    Script.check
        (points |> Array.forall (fun p -> p.State |> Array.forall (fun c -> min (abs c) (abs (abs c - aStar)) < 1e-8)))
        "every coordinate is -a*, 0 or a*"
    Script.check
        (points |> Array.forall (fun p -> p.UnstableModes = (p.State |> Array.filter (fun c -> abs c < 1e-6) |> Array.length)))
        "unstable modes = number of zero coordinates"

main ()
Script.finish ()
