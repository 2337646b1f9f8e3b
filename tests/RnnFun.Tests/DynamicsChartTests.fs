module RnnFun.Tests.DynamicsChartTests

open System.Text.Json
open Expecto
open Plotly.NET
open RnnFun
open RnnFun.Plotting
open RnnFun.Tests.ContinuationTests

let private traces (chart: GenericChart) =
    let root = JsonDocument.Parse(GenericChart.toJson chart).RootElement.Clone()
    [ for t in root.GetProperty("data").EnumerateArray() -> t ]

let private name (t: JsonElement) = match t.TryGetProperty "name" with | true, v -> v.GetString() | _ -> ""

let private dash (t: JsonElement) =
    match t.TryGetProperty "line" with
    | true, l -> (match l.TryGetProperty "dash" with | true, d -> d.GetString() | _ -> "")
    | _ -> ""

[<Tests>]
let tests =
    testList "Plotting.dynamics" [
        test "the bifurcation diagram of h' = tanh(w h): stable stretches solid, unstable dashed, the pitchfork marked where it was located" {
            use net = vanillaNet Kinds.rnn [| [| 1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
            let r = Continuation.run { ContinuationConfig.defaults with Start = 0.5; End = 1.5 } net (ContinuationParameter.RecurrentScale [| 0.0 |])
            let ts = traces (DynamicsCharts.bifurcationDiagram r [||] "w")
            let stable = ts |> List.filter (fun t -> name t = "stable")
            let unstable = ts |> List.filter (fun t -> name t = "unstable")
            // The trivial branch: stable to w = 1, unstable after; the two halves: stable.
            Expect.equal stable.Length 3 "three stable stretches"
            Expect.equal unstable.Length 1 "one unstable stretch"
            Expect.isTrue (stable |> List.forall (fun t -> dash t = "solid")) "stable solid"
            Expect.isTrue (unstable |> List.forall (fun t -> dash t = "dash")) "unstable dashed"
            let xs (t: JsonElement) = [ for x in t.GetProperty("x").EnumerateArray() -> x.GetDouble() ]
            Expect.isTrue (xs unstable[0] |> List.forall (fun w -> w >= 1.0 - 1e-9)) "unstable only beyond w = 1"
            let marker = ts |> List.find (fun t -> name t = "pitchfork")
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } (xs marker).[0] 1.0 "marked at w = 1"
            let moduli = traces (DynamicsCharts.eigenvaluesAlongBranches r 1 "w")
            Expect.equal (moduli |> List.filter (fun t -> (name t).StartsWith "branch") |> List.length) 3 "one line per branch"
        }

        test "the spectra figure: one line per spectrum and their mean; no spectra: the no-data figure" {
            let s (l: float[]) =
                { Exponents = l; PerTimeConstant = None; KaplanYorke = Lyapunov.kaplanYorke l; Steps = 10; Transient = 0; RunningSteps = [||]; Running = [||]; FinalState = [||] }
            let ts = traces (DynamicsCharts.lyapunovSpectra [| "a"; "b" |] [| s [| 0.1; -1.0 |]; s [| -0.1; -2.0 |] |])
            Expect.equal ts.Length 3 "two spectra and the mean"
            let mean = ts |> List.find (fun t -> (name t).StartsWith "mean")
            let ys = [ for y in mean.GetProperty("y").EnumerateArray() -> y.GetDouble() ]
            Expect.equal ys [ 0.0; -1.5 ] "the mean of each exponent"
            let empty = GenericChart.toJson (DynamicsCharts.lyapunovSpectra [||] [||])
            Expect.stringContains empty Charts.NoDataText "no data"
        }
    ]
