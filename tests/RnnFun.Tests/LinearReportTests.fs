module RnnFun.Tests.LinearReportTests

open System
open System.Numerics
open System.Text.Json
open Expecto
open Plotly.NET
open RnnFun
open RnnFun.Plotting

let private traces (chart: GenericChart) =
    let root = JsonDocument.Parse(GenericChart.toJson chart).RootElement.Clone()
    [ for t in root.GetProperty("data").EnumerateArray() -> t ]

let private name (t: JsonElement) = match t.TryGetProperty "name" with | true, v -> v.GetString() | _ -> ""
let private numbers (t: JsonElement) (key: string) = [ for x in t.GetProperty(key).EnumerateArray() -> x.GetDouble() ]

let private push (direction: PushDirection) (actual: float[]) (predicted: float[]) =
    { Mode = 0; Eigenvalue = Complex(0.5, 0.0); Direction = direction; Vector = [| 1.0; 0.0 |]; Steps = [| 1; 3 |]
      Actual = actual; Predicted = predicted
      RelativeError = Array.map2 (fun (a: float) p -> if p = 0.0 then infinity else abs (a - p) / p) actual predicted
      Validity = Array.map2 (fun (a: float) p -> if p = 0.0 then 0.0 else max 0.0 (1.0 - abs (a - p) / p)) actual predicted }

let private checks =
    [| { PointId = 4; Epsilon = 0.01; Pushes = [| push PushDirection.Right [| 0.005; 0.00125 |] [| 0.005; 0.00125 |]; push (PushDirection.Unstable -1.0) [| 0.02; 0.0 |] [| 0.02; 0.0 |] |] }
       { PointId = 7; Epsilon = 0.01; Pushes = [| push PushDirection.Left [| 0.004; 0.001 |] [| 0.005; 0.00125 |] |] } |]

let private h2 (title: string) = sprintf "<h2>%s</h2>" title

[<Tests>]
let tests =
    testList "Plotting.linear" [
        test "rnnfun.perturbation-checks: write, read, equal (an infinite relative error round-trips through -1); a bad direction names the key" {
            withTempDir (fun dir ->
                let path = IO.Path.Combine(dir, "checks.json")
                PerturbationFile.save path checks
                let back = PerturbationFile.load path
                Expect.equal back checks "every field"
                Expect.isTrue (Double.IsPositiveInfinity back[0].Pushes[1].RelativeError[1]) "the prediction of 0 reads back as an infinite error"
                IO.File.WriteAllText(path, IO.File.ReadAllText(path).Replace("\"left\"", "\"sideways\""))
                let e = Expect.throwsT<FileFormatError> (fun () -> PerturbationFile.load path |> ignore) "a bad direction"
                ())
        }

        test "the figures hold the data: certificate radii and refusals, l' B u per input, one point per (push, k) with a displacement" {
            let certs = [| 0, Certificate.Certified(0.52, 1e-16); 1, Certificate.NotCertified "singular"; 2, Certificate.Certified(0.44, 2e-16) |]
            let ts = traces (LinearCharts.certificates certs)
            let ok = ts |> List.find (fun t -> (name t).StartsWith "certified")
            Expect.equal (numbers ok "x") [ 0.0; 2.0 ] "certified ids"
            Expect.equal (numbers ok "y") [ 0.52; 0.44 ] "their radii"
            let refused = ts |> List.find (fun t -> (name t).StartsWith "not certified")
            Expect.equal (numbers refused "x") [ 1.0 ] "the refused id"
            Expect.stringContains ((refused.GetProperty("text")[0]).GetString()) "singular" "the reason in the hover"
            let mode u1 u2 =
                { Mode = 1; Eigenvalue = Complex(0.99, 0.0); ContinuousEigenvalue = None; Right = [| Complex.One; Complex.Zero |]; Left = [| Complex.One; Complex.One |]
                  Inputs =
                    [| { Direction = [| 1.0; 0.0 |]; Integrated = Complex(u1, 0.0); Displacement = [| u1; 0.0 |]; EndState = [| u1; 0.0 |] }
                       { Direction = [| 0.0; 1.0 |]; Integrated = Complex(u2, 0.0); Displacement = [| u2; 0.0 |]; EndState = [| u2; 0.0 |] } |] }
            let ts = traces (LinearCharts.selectionVectors [| 3, [| mode 0.25 -1.5 |]; 5, [||]; 8, [| mode 2.0 0.0 |] |] 24)
            Expect.equal (ts |> List.map name) [ "input 1"; "input 2" ] "one bar series per input"
            Expect.equal (numbers ts[0] "y") [ 0.25; 2.0 ] "l' B u of input 1 per slow mode"
            Expect.equal (numbers ts[1] "y") [ -1.5; 0.0 ] "l' B u of input 2"
            let ts = traces (LinearCharts.perturbationChecks checks)
            let data = ts |> List.filter (fun t -> name t <> "simulated = predicted")
            // The unstable push's second step has no displacement (0 on a log axis): left out.
            Expect.equal (data |> List.sumBy (fun t -> (numbers t "x").Length)) 5 "one point per (push, k) with a displacement"
            let left = data |> List.find (fun t -> name t = "left")
            Expect.equal (numbers left "x") [ 0.005; 0.00125 ] "predicted on x"
            Expect.equal (numbers left "y") [ 0.004; 0.001 ] "simulated on y"
        }

        test "the report shows the three sections only when their data is given; rnnfun report reads them from the fixed-point and perturbation files" {
            let plain = Report.html ReportInputs.empty
            for t in [ "Selection vectors"; "Certificates"; "Perturbation checks" ] do
                Expect.isFalse (plain.Contains(h2 t)) (sprintf "no %s section without data" t)
            withTempDir (fun dir ->
                let model = IO.Path.Combine(dir, "w2i.json")
                use net = Network.scaledIdentity Kinds.rnn 3 2.0
                ModelFile.save model net
                let fps = IO.Path.Combine(dir, "fps.json")
                let code, _, err = rnnfun [ "fixed-points"; "-m"; model; "--box"; "-1.5,1.5"; "--n-init"; "128"; "--certify"; "--selection"; "--slow-tolerance"; "0.9"; "--quiet"; "--out"; fps ]
                Expect.equal code 0 ("fixed-points; stderr: " + err)
                let checksPath = IO.Path.Combine(dir, "checks.json")
                let code, _, err = rnnfun [ "perturb"; "-m"; model; "--fixed-points"; fps; "--steps"; "1,3"; "--quiet"; "--out"; checksPath ]
                Expect.equal code 0 ("perturb; stderr: " + err)
                let html = IO.Path.Combine(dir, "report.html")
                let code, _, err = rnnfun [ "report"; "-m"; model; "--fixed-points"; fps; "--perturbation"; checksPath; "--out"; html ]
                Expect.equal code 0 ("report; stderr: " + err)
                let text = IO.File.ReadAllText html
                for t in [ "Selection vectors"; "Certificates"; "Perturbation checks" ] do
                    Expect.isTrue (text.Contains(h2 t)) (sprintf "the %s section" t)
                Expect.stringContains text "27 of 27 points certified" "the certificates' summary"
                Expect.stringContains text "54 slow modes at 26 of 27 points" "the selection's summary"
                Expect.stringContains text "216 pushes from 27 fixed points" "the checks' summary")
        }
    ]
