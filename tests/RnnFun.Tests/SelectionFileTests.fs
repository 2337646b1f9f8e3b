module RnnFun.Tests.SelectionFileTests

open System
open System.Numerics
open Expecto
open TorchSharp
open RnnFun

// The issue's linear system and its helpers, shared with the selection tests.
let private oracleNet = SelectionTests.oracleNet
let private close = SelectionTests.close

let private pointAt (id: int) (state: float[]) =
    { Id = id; State = state; Input = [| 0.0; 0.0; 0.0 |]; Q = 0.0; Speed = 0.0; Search = None; Eigenvalues = [||]; Linearisation = None
      UnstableModes = 0; Stable = false; Kind = FixedPointKind.Marginal; ContinuousEigenvalues = None }

[<Tests>]
let tests =
    testList "Analysis.Selection.SlowModes" [
        test "the issue's oracle at x* = (0, 0) and (0.5, 0): the slow mode only (mu = 0, not -1), end states x* + (1, 0), x* + (0, 0), x* + (2, 0); the map's measure at 0.05 takes both modes" {
            let dt = 0.01
            use net = oracleNet dt
            let points = FixedPoints.analyse 1e-6 net [| pointAt 0 [| 0.0; 0.0 |]; pointAt 1 [| 0.5; 0.0 |] |]
            let selection = FixedPointSelection.ofPoints SlowSelectionConfig.defaults net.Kind.TimeScale points
            Expect.equal selection.Measure SlowModeMeasure.Continuous "a continuous-time kind's measure by default"
            for p, modes in Array.zip points selection.Modes do
                Expect.equal modes.Length 1 "one mode with |mu| <= 0.05"
                Expect.isLessThan modes[0].ContinuousEigenvalue.Value.Magnitude 1e-9 "mu = 0"
                let offsets = [| [| 1.0; 0.0 |]; [| 0.0; 0.0 |]; [| 2.0; 0.0 |] |]
                for j in 0 .. 2 do
                    close 1e-12 (Array.map2 (+) p.State offsets[j]) modes[0].Inputs[j].EndState (sprintf "end state for b_%d at %A" j p.State)
            // |lambda - 1| = dt |mu|: 0 and 0.01, both within 0.05.
            let byMap = Selection.slowModes { SlowSelectionConfig.defaults with Measure = Some SlowModeMeasure.Map } net.Kind.TimeScale points[0]
            Expect.equal byMap.Length 2 "the map's measure: both modes"
            let tight = Selection.slowModes { SlowSelectionConfig.defaults with Measure = Some SlowModeMeasure.Map; Tolerance = 0.005 } net.Kind.TimeScale points[0]
            Expect.equal tight.Length 1 "0.005: the integrator alone"
            use rnn = Network.scaledIdentity Kinds.rnn 2 2.0
            expectInvalid (fun () -> Selection.slowModes { SlowSelectionConfig.defaults with Measure = Some SlowModeMeasure.Continuous } rnn.Kind.TimeScale points[0]) "continuous on a map" |> ignore
        }

        test "a complex pair counts once (the member with Im lambda > 0): h' = tanh(s R(theta) h) at 0" {
            let s, theta = 1.01, 0.05
            let w = [| [| s * cos theta; -s * sin theta |]; [| s * sin theta; s * cos theta |] |]
            use net = CertificateTests.vanilla Kinds.rnn w [| 0.0; 0.0 |]
            let p = (FixedPoints.analyse 1e-6 net [| { pointAt 0 [| 0.0; 0.0 |] with Input = [| 0.0 |] } |])[0]
            let modes = Selection.slowModes { SlowSelectionConfig.defaults with Tolerance = 0.1 } None p
            Expect.equal modes.Length 1 "one entry for the pair"
            Expect.isGreaterThan modes[0].Eigenvalue.Imaginary 0.0 "the member with Im > 0"
            Expect.floatClose Accuracy.high modes[0].Eigenvalue.Magnitude s "|lambda| = s"
        }

        test "the fixed-point file keeps the selection: write, read, equal; a file without one reads None; a broken one names the key" {
            withTempDir (fun dir ->
                use net = oracleNet 0.01
                let points = FixedPoints.analyse 1e-6 net [| pointAt 0 [| 0.0; 0.0 |]; pointAt 1 [| 0.5; 0.0 |] |]
                let selection = FixedPointSelection.ofPoints { SlowSelectionConfig.defaults with Tolerance = 2.0 } net.Kind.TimeScale points
                Expect.equal (selection.Modes |> Array.map Array.length) [| 2; 2 |] "tolerance 2: both modes at both points"
                let path = IO.Path.Combine(dir, "fps.json")
                FixedPointFile.saveWith { FixedPointFileOptions.defaults with Selection = Some selection } path points
                let back = (FixedPointFile.loadSelection path).Value
                Expect.equal back.Measure selection.Measure "measure"
                Expect.equal back.Tolerance selection.Tolerance "tolerance"
                Expect.equal back.Modes selection.Modes "every mode, vector and number exactly"
                let plain = IO.Path.Combine(dir, "plain.json")
                FixedPointFile.save plain points
                Expect.isNone (FixedPointFile.loadSelection plain) "none without one"
                let broken = IO.Path.Combine(dir, "broken.json")
                IO.File.WriteAllText(broken, IO.File.ReadAllText(path).Replace("\"end_state\"", "\"end_stat\""))
                let e = Expect.throwsT<FileFormatError> (fun () -> FixedPointFile.loadSelection broken |> ignore) "a missing end_state"
                ())
        }

        test "rnnfun fixed-points --selection on the W = 2I cube: 54 slow modes within 0.9 (3 a corner, 2 an edge point, 1 a face), end state = x* (B = 0); user errors exit 2" {
            withTempDir (fun dir ->
                let model = IO.Path.Combine(dir, "w2i.json")
                use net = Network.scaledIdentity Kinds.rnn 3 2.0
                ModelFile.save model net
                let fps = IO.Path.Combine(dir, "fps.json")
                let code, out, err = rnnfun [ "fixed-points"; "-m"; model; "--box"; "-1.5,1.5"; "--n-init"; "128"; "--selection"; "--slow-tolerance"; "0.9"; "--out"; fps ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                Expect.stringContains out "slow modes (|lambda - 1|, tolerance 0.9): 54 at 26 of 27 points" "summary"
                let points = FixedPointFile.load fps
                let selection = (FixedPointFile.loadSelection fps).Value
                for p, modes in Array.zip points selection.Modes do
                    Expect.equal modes.Length (3 - p.UnstableModes) (sprintf "point %d: its stable modes (lambda = 0.166) are the slow ones" p.Id)
                    for m in modes do
                        close 1e-12 p.State m.Inputs[0].EndState "no input weight: the end state is the point"
                for args, says in
                    [ [ "fixed-points"; "-m"; model; "--box"; "-1,1"; "--slow-tolerance"; "0.1"; "--out"; IO.Path.Combine(dir, "x.json") ], "--selection"
                      [ "fixed-points"; "-m"; model; "--box"; "-1,1"; "--selection"; "--slow-measure"; "continuous"; "--out"; IO.Path.Combine(dir, "x.json") ], "continuous-time"
                      [ "fixed-points"; "-m"; model; "--box"; "-1,1"; "--selection"; "--slow-measure"; "fast"; "--out"; IO.Path.Combine(dir, "x.json") ], "map or continuous" ] do
                    let code, _, err = rnnfun args
                    Expect.equal code 2 (sprintf "%A exits 2" args)
                    Expect.stringContains err says "says why")
        }
    ]
