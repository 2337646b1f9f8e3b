#!/usr/bin/env -S dotnet fsi
// 12 - Beyond the fixed points: every fixed point of W = 2I from one initial state (deflation),
// each proved by an interval-Newton certificate; the selection vector of a slow mode (Mante et al.
// 2013) on the issue's linear system, predicted and simulated; perturbation checks of a
// linearisation; a lesion; the participation ratio; certificates of a gated network (a gru whose
// points are known in closed form); the slow modes' selection vectors in the fixed-point file and a
// report with the selection, certificate and perturbation sections. Full mode also trains the 3-bit
// flip-flop and certifies its fixed points.
//
//     dotnet fsi scripts/12-beyond-fixed-points.fsx          (RNNFUN_QUICK=1 for the quick run)
//
// Outputs: output/09-cube.fixed-points.json (with certificates and linearisations),
//          output/09-cube.perturbation-checks.json, output/12-cube.selection.fixed-points.json,
//          output/12-report.html

#load "_references.fsx"

open System
open TorchSharp
open RnnFun
open RnnFun.Scripts

// ---- Hyper-parameters ----
let seed = 0
let start = [| 0.1; 0.2; 0.3 |] // the one initial state
let dt = 0.01 // Euler step of the linear system
let epsilon = 1e-2
let steps = [| 1; 2; 5; 10 |]

let main () =
    // 1. All 27 points from one state, certified.
    use cube = Network.scaledIdentity Kinds.rnn 3 2.0
    let config = { FixedPointConfig.defaults with Deflation = Some DeflationConfig.exhaustive; Certify = Some CertificateConfig.defaults }
    let found = FixedPoints.find config cube (ConstantInput.Same [| 0.0 |]) [| start |]
    let points = found.FixedPoints
    printfn "W = 2I from one initial state: %d fixed points (%d by deflation) in %.2f s, certificates %.3f s" points.Length found.Deflated found.Elapsed.TotalSeconds found.Timings.Certificates.TotalSeconds
    printfn "  %-3s %-10s %-26s %s" "id" "kind" "state" "certificate"
    for p, c in Array.zip points found.Certificates do
        printfn "  %-3d %-10s %-26s %s" p.Id (FixedPoints.kindName p.Kind) (String.Join(" ", p.State |> Array.map (sprintf "%+.4f"))) (Certificates.describe c)
    FixedPointFile.saveWith { FixedPointFileOptions.defaults with Linearisation = true; Certificates = found.Certificates } (Script.output "09-cube.fixed-points.json") points
    let certified = found.Certificates |> Array.filter (function Certificate.Certified _ -> true | _ -> false) |> Array.length

    // 2. Selection vectors: x' = A x + b u, A = [[0, 1], [0, -1]], as a continuous-time kind (Euler map).
    let linear =
        { Kinds.ctrnn with
            Name = "linear"
            Settings = []
            WithSettings = None
            Step = fun w h drive -> h + torch.addmm(drive, h, w["w_rec"].t (), 1.0f, 1.0f) * dt
            Jacobian = None
            HandWritten = None
            TimeScale = Some dt
            Rates = fun h -> h.alias () }
    let bs = [| [| 0.0; 1.0 |]; [| 1.0; -1.0 |]; [| 1.0; 1.0 |] |]
    use system =
        Network.ofValues linear { NetworkConfig.defaults with InputSize = 3; Units = 2; OutputSize = 2; Precision = Precision.Float64 }
            (Map.ofList
                [ "w_in", ParameterValue.Matrix(Array.init 2 (fun i -> bs |> Array.map (fun b -> b[i])))
                  "w_rec", ParameterValue.Matrix [| [| 0.0; 1.0 |]; [| 0.0; -1.0 |] |]
                  "b_rec", ParameterValue.Vector [| 0.0; 0.0 |]
                  "w_out", ParameterValue.Matrix [| [| 1.0; 0.0 |]; [| 0.0; 1.0 |] |] ])
    let origin =
        { Id = 0; State = [| 0.0; 0.0 |]; Input = [| 0.0; 0.0; 0.0 |]; Q = 0.0; Speed = 0.0; Search = None; Eigenvalues = [||]; Linearisation = None
          UnstableModes = 0; Stable = false; Kind = FixedPointKind.Marginal; ContinuousEigenvalues = None }
    let analysed = (FixedPoints.analyse 1e-6 system [| origin |])[0]
    let slow = (Selection.ofPoint SelectionConfig.defaults system.Kind.TimeScale analysed)[0]
    let pulse, relax = int (1.0 / dt), int (30.0 / dt)
    let time = pulse + relax
    let simulated =
        use _ = torch.NewDisposeScope()
        let inputs = Array.init (3 * time * 3) (fun k -> let trial, t, j = k / (time * 3), (k / 3) % time, k % 3 in if j = trial && t < pulse then 1.0 else 0.0)
        use rollout = Network.unroll system (Arrays.toTensor Precision.Float64 [| 3L; int64 time; 3L |] inputs)
        let last = Arrays.ofTensor (rollout.States.select(1L, int64 (time - 1)))
        Array.init 3 (fun j -> Array.sub last (2 * j) 2)
    printfn ""
    printfn "slow mode of x' = A x + b u: continuous eigenvalue %.3g, r = %A, l = %A" slow.ContinuousEigenvalue.Value.Real
        (slow.Right |> Array.map (fun c -> Math.Round(c.Real, 6))) (slow.Left |> Array.map (fun c -> Math.Round(c.Real, 6)))
    printfn "  %-10s %8s %-22s %s" "b" "l'b" "predicted r (l'b)" "simulated end state"
    for j in 0 .. 2 do
        printfn "  %-10s %8.4f %-22s %s" (sprintf "%A" bs[j]) slow.Inputs[j].Integrated.Real
            (String.Join(" ", slow.Inputs[j].Displacement |> Array.map (sprintf "%+.6f"))) (String.Join(" ", simulated[j] |> Array.map (sprintf "%+.6f")))
    let expected = [| [| 1.0; 0.0 |]; [| 0.0; 0.0 |]; [| 2.0; 0.0 |] |]
    let agree (a: float[]) (b: float[]) = Array.forall2 (fun (x: float) y -> abs (x - y) < 1e-6) a b

    // 3. Perturbation checks at a one-mode saddle of the cube.
    let saddle = points |> Array.find (fun p -> p.UnstableModes = 1)
    let checks = Perturbation.check { PerturbationConfig.defaults with Epsilon = epsilon; Steps = steps } cube saddle
    PerturbationFile.save (Script.output "09-cube.perturbation-checks.json") [| checks |]
    printfn ""
    printfn "perturbation checks at saddle %d (epsilon %g): validity per k = %s" saddle.Id epsilon (String.Join(", ", steps))
    for push in checks.Pushes do
        printfn "  mode %d (lambda %.4f) %-14s %s" push.Mode push.Eigenvalue.Real (sprintf "%A" push.Direction) (String.Join(" ", push.Validity |> Array.map (sprintf "%.4f")))

    // 4. A lesion: unit 2 silenced.
    use lesioned = Lesion.silence { LesionConfig.defaults with Units = [| 2 |] } cube
    let afterLesion = FixedPoints.find FixedPointConfig.defaults lesioned (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 256 -1.5 1.5 3 seed)
    printfn ""
    printfn "lesion of unit 2: %d fixed points (from 27)" afterLesion.FixedPoints.Length

    // 5. The participation ratio of the 27 points (the cube's, 3).
    let pr = Dimensionality.participationRatio (points |> Array.map (fun p -> p.State))
    printfn "participation ratio of the fixed points: %.4f" pr

    // 6. A gated network: a gru with r = 1/2 (W_hr = 0) and n = tanh(2h) per unit (W_hn = 4I), its z
    // gate coupled at random (the fixed points do not depend on z): the 27 points {-a*, 0, a*}^3.
    let random = Random(seed)
    let whh = Array.init 9 (fun k -> Array.init 3 (fun j -> if k < 3 then 0.0 elif k < 6 then random.NextDouble() - 0.5 else (if k - 6 = j then 4.0 else 0.0)))
    use gru =
        Network.ofValues Kinds.gru { NetworkConfig.defaults with InputSize = 1; Units = 3; OutputSize = 1; Precision = Precision.Float64 }
            (Map.ofList
                [ "weight_ih_l0", ParameterValue.Matrix(Array.init 9 (fun _ -> [| 0.0 |]))
                  "weight_hh_l0", ParameterValue.Matrix whh
                  "bias_ih_l0", ParameterValue.Vector(Array.zeroCreate 9)
                  "bias_hh_l0", ParameterValue.Vector(Array.zeroCreate 9)
                  "w_out", ParameterValue.Matrix [| Array.zeroCreate 3 |] ])
    let gruFound = FixedPoints.find { FixedPointConfig.defaults with Certify = Some CertificateConfig.defaults } gru (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 256 -1.2 1.2 3 seed)
    let gruCertified = gruFound.Certificates |> Array.filter (function Certificate.Certified _ -> true | _ -> false) |> Array.length
    let radii = gruFound.Certificates |> Array.choose (function Certificate.Certified (r, _) -> Some r | _ -> None)
    printfn ""
    printfn "gru with known points: %d fixed points, %d certified in %.3f s (radii %.3g to %.3g)" gruFound.FixedPoints.Length gruCertified gruFound.Timings.Certificates.TotalSeconds
        (if radii.Length > 0 then Array.min radii else nan) (if radii.Length > 0 then Array.max radii else nan)

    // 7. Slow modes in the fixed-point file (|lambda - 1| <= 0.9: the cube's stable eigenvalue 0.166),
    // and a report with the selection, certificate and perturbation sections.
    let selection = FixedPointSelection.ofPoints { SlowSelectionConfig.defaults with Tolerance = 0.9 } cube.Kind.TimeScale points
    let selectionPath = Script.output "12-cube.selection.fixed-points.json"
    FixedPointFile.saveWith { FixedPointFileOptions.defaults with Certificates = found.Certificates; Selection = Some selection } selectionPath points
    let slowCount = (FixedPointFile.loadSelection selectionPath).Value.Modes |> Array.sumBy Array.length
    printfn "slow modes within 0.9 of 1 in %s: %d" (IO.Path.GetFileName selectionPath) slowCount
    RnnFun.Plotting.Report.save
        (Script.output "12-report.html")
        { RnnFun.Plotting.ReportInputs.empty with
            Title = "RnnFun: beyond the fixed points of W = 2I"
            Model = Some(ModelSummary.ofNetwork cube)
            FixedPoints = Some points
            Selections = Some(Array.zip (points |> Array.map (fun p -> p.Id)) selection.Modes)
            Certificates = Some(Array.zip (points |> Array.map (fun p -> p.Id)) found.Certificates)
            Perturbation = Some [| checks |] }

    // Full mode: a trained flip-flop's points, certified.
    let trained =
        if Script.quick then None
        else
            use fit = Presets.train (Presets.flipFlop seed)
            let trials = (Presets.flipFlop seed).Task.Generate 64 1
            let run = Pipeline.trajectories None fit.Network trials
            let r =
                FixedPoints.find { FixedPointConfig.defaults with Certify = Some CertificateConfig.defaults } fit.Network (ConstantInput.Same [| 0.0; 0.0; 0.0 |])
                    (InitialStates.fromStates 1024 0.5 seed run.AllStates)
            let ok = r.Certificates |> Array.filter (function Certificate.Certified _ -> true | _ -> false) |> Array.length
            printfn ""
            printfn "trained flip-flop (64 units): %d fixed points, %d certified in %.2f s" r.FixedPoints.Length ok r.Timings.Certificates.TotalSeconds
            Some(r.FixedPoints.Length, ok)

    printfn ""
    printfn "summary (%s mode, %.1f s)" Script.mode (Script.elapsed ())
    Script.check (points.Length = 27) (sprintf "27 fixed points from one initial state (found %d)" points.Length)
    Script.check (certified = 27) (sprintf "all 27 certified (%d)" certified)
    Script.check (Array.forall2 (fun (s: InputSelection) e -> agree s.Displacement e) slow.Inputs expected) "predicted end states (1, 0), (0, 0), (2, 0)"
    Script.check (Array.forall2 agree simulated expected) "simulated end states agree"
    Script.check (checks.Pushes |> Array.forall (fun p -> p.Validity[0] > 0.9)) "one step: the linearisation holds (validity > 0.9)"
    Script.check (afterLesion.FixedPoints.Length = 9) "the lesioned cube has 9 points"
    Script.check (abs (pr - 3.0) < 1e-9) "participation ratio 3"
    Script.check (gruFound.FixedPoints.Length = 27 && gruCertified = 27) (sprintf "the gru's 27 points found and certified (%d, %d)" gruFound.FixedPoints.Length gruCertified)
    Script.check (slowCount = 54) (sprintf "54 slow modes within 0.9 (3 a corner, 2 an edge point, 1 a face; got %d)" slowCount)
    match trained with
    | Some (count, ok) -> Script.check (count > 0 && ok = count) "every point of the trained flip-flop certified"
    | None -> ()

main ()
Script.finish ()
