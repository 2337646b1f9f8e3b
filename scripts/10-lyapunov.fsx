#!/usr/bin/env -S dotnet fsi
// 10 - Lyapunov spectra by QR re-orthonormalisation along a trajectory.
//   a) h' = tanh(0.9 R h): both exponents ln 0.9; the non-normal W = [[0.5, 10], [0, 0.5]]: both
//      ln 0.5 despite its transient growth; the spectrum (0.5, 0, -1, -2): Kaplan-Yorke 2.5;
//   b) random networks x' = tanh(g W x / sqrt N), W ~ N(0, 1): the largest exponent against g; it
//      crosses 0 near g = 1 (below 1 the trajectories fall onto the fixed point 0, above it they are
//      chaotic), more sharply as N grows (a soft check);
//   c) a trained 3-bit flip-flop: input-conditioned spectra over its task's trials, in its report.
//
//     dotnet fsi scripts/10-lyapunov.fsx          (RNNFUN_QUICK=1 for a smaller run)
//
// Outputs: output/10-random-networks.html, output/10-flipflop-report.html, output/10-flipflop-lyapunov.json

#load "_references.fsx"

open System
open RnnFun
open RnnFun.Plotting
open RnnFun.Scripts
open Plotly.NET

// ---- Hyper-parameters ----
let seed = 0
let sizes = if Script.quick then [ 100 ] else [ 50; 100; 200 ]
let gains = if Script.quick then [ 0.6; 0.9; 1.1; 1.4; 1.8 ] else [ 0.5 .. 0.1 .. 2.0 ]
let steps = if Script.quick then 300 else 1000
let flipFlopUnits = if Script.quick then 24 else 64
let flipFlopEpochs = if Script.quick then 5 else 40
let trials = if Script.quick then 4 else 16

/// A float64 rnn with W_rec given, one zero input, zero biases.
let withRecurrent (w: float[][]) =
    let n = w.Length
    Network.ofValues
        Kinds.rnn
        { NetworkConfig.defaults with InputSize = 1; Units = n; OutputSize = 1; Precision = Precision.Float64 }
        (Map.ofList
            [ "w_in", ParameterValue.Matrix(Array.init n (fun _ -> [| 0.0 |]))
              "w_rec", ParameterValue.Matrix w
              "b_rec", ParameterValue.Vector(Array.zeroCreate n)
              "w_out", ParameterValue.Matrix [| Array.zeroCreate n |] ])

let main () =
    let config = { LyapunovConfig.defaults with Steps = steps; Seed = seed }
    printfn "a) oracles"
    let t = 0.9
    use rotation = withRecurrent [| [| 0.9 * cos t; -0.9 * sin t |]; [| 0.9 * sin t; 0.9 * cos t |] |]
    let r = Lyapunov.spectrum config rotation (LyapunovInput.Constant [| 0.0 |]) [| 0.3; -0.2 |]
    printfn "  0.9 R: %s (ln 0.9 = %.6f)" (String.Join(", ", r.Exponents |> Array.map (sprintf "%.6f"))) (log 0.9)
    Script.check (r.Exponents |> Array.forall (fun l -> abs (l - log 0.9) < 1e-6)) "0.9 R: both ln 0.9"
    use nonNormal = withRecurrent [| [| 0.5; 10.0 |]; [| 0.0; 0.5 |] |]
    let nn = Lyapunov.spectrum { config with Steps = 1000; Transient = 1000 } nonNormal (LyapunovInput.Constant [| 0.0 |]) [| 0.0; 0.0 |]
    printfn "  [[0.5, 10], [0, 0.5]]: %s (ln 0.5 = %.6f)" (String.Join(", ", nn.Exponents |> Array.map (sprintf "%.6f"))) (log 0.5)
    Script.check (nn.Exponents |> Array.forall (fun l -> abs (l - log 0.5) < 2e-3)) "non-normal: both ln 0.5"
    let ky = Lyapunov.kaplanYorke [| 0.5; 0.0; -1.0; -2.0 |]
    printfn "  Kaplan-Yorke of (0.5, 0, -1, -2): %g" ky
    Script.check (ky = 2.5) "Kaplan-Yorke 2.5"

    printfn "b) random networks x' = tanh(g W x / sqrt N): the largest exponent (per step)"
    let random = Random(seed)
    let curves =
        [ for n in sizes do
              let w = Array.init n (fun _ -> Array.init n (fun _ -> Sampling.standardNormal random / sqrt (float n)))
              let h0 = Array.init n (fun _ -> Sampling.standardNormal random)
              let largest =
                  [ for g in gains do
                        use net = withRecurrent (w |> Array.map (Array.map (fun v -> g * v)))
                        let s = Lyapunov.spectrum { config with Exponents = Some 1 } net (LyapunovInput.Constant [| 0.0 |]) h0
                        yield g, s.Exponents[0] ]
              printfn "  N = %3d: %s" n (String.Join("  ", largest |> List.map (fun (g, l) -> sprintf "g %.1f: %+.3f" g l)))
              yield n, largest ]
    let crossing (points: (float * float) list) =
        points
        |> List.pairwise
        |> List.tryPick (fun ((g0, l0), (g1, l1)) -> if l0 < 0.0 && l1 >= 0.0 then Some(g0 + (g1 - g0) * (-l0) / (l1 - l0)) else None)
    for n, points in curves do
        match crossing points with
        | Some g -> printfn "  N = %3d: the largest exponent crosses 0 at g = %.2f" n g
        | None -> printfn "  N = %3d: no crossing within the gains" n
    let largestN, points = List.last curves
    let gStar = crossing points
    Script.check (gStar |> Option.exists (fun g -> abs (g - 1.0) < 0.35)) (sprintf "soft: the largest exponent crosses 0 near g = 1 at N = %d" largestN)
    let chart =
        [ for n, points in curves -> Chart.Line(points |> List.map fst, points |> List.map snd, Name = sprintf "N = %d" n, ShowMarkers = true) ]
        |> Chart.combine
        |> Chart.withXAxisStyle (TitleText = "g")
        |> Chart.withYAxisStyle (TitleText = "largest Lyapunov exponent (per step)")
        |> Chart.withTitle "x' = tanh(g W x / sqrt N): the largest exponent crosses 0 near g = 1"
    Script.saveChart (Script.output "10-random-networks.html") "Random tanh networks" chart

    printfn "c) a trained %d-unit flip-flop: spectra over %d of its trials" flipFlopUnits trials
    let preset = Presets.flipFlop seed
    let preset = { preset with Network = { preset.Network with Units = flipFlopUnits }; Fit = { preset.Fit with Epochs = flipFlopEpochs; StopLoss = None } }
    use fit = Presets.train preset
    let batch = preset.Task.Generate trials (seed + 1)
    let sequences =
        Array.init batch.Trials (fun b ->
            Array.init batch.Time (fun t -> Array.init batch.InputSize (fun i -> float batch.Inputs[(b * batch.Time + t) * batch.InputSize + i])))
    let conditioned = Lyapunov.ofTrials { config with Transient = 0 } fit.Network sequences (Array.zeroCreate flipFlopUnits)
    printfn "  mean largest %.4f, mean sum %.4f, Kaplan-Yorke of the mean %.3f" conditioned.Mean[0] (Array.sum conditioned.Mean) conditioned.KaplanYorke
    let autonomous = Lyapunov.spectrum config fit.Network (LyapunovInput.Constant [| 0.0; 0.0; 0.0 |]) (Array.create flipFlopUnits 0.1)
    printfn "  autonomous from a state near 0: largest %.4f (a memory is an attractor: < 0)" autonomous.Exponents[0]
    Script.check (autonomous.Exponents[0] < 0.0) "the autonomous flip-flop settles: its largest exponent is negative"
    let conditions: LyapunovFile.Condition[] =
        conditioned.Spectra |> Array.map (fun s -> { Label = "trial"; Input = None; Spectrum = s })
    LyapunovFile.save (Script.output "10-flipflop-lyapunov.json") { config with Transient = 0 } conditions
    Report.save
        (Script.output "10-flipflop-report.html")
        { ReportInputs.empty with
            Title = "RnnFun: Lyapunov spectra of a trained flip-flop"
            Model = Some(ModelSummary.ofNetwork fit.Network)
            Lyapunov = Some(Array.append [| "autonomous", autonomous |] (conditioned.Spectra |> Array.mapi (fun i s -> sprintf "trial %d" (i + 1), s))) }

    printfn ""
    printfn "summary (%s mode, %.1f s)" Script.mode (Script.elapsed ())

main ()
Script.finish ()
