module RnnFun.Tests.PeriodTwoTests

open System
open Expecto
open RnnFun
open RnnFun.Tests.ContinuationTests

let private atanh (a: float) = 0.5 * log ((1.0 + a) / (1.0 - a))

[<Tests>]
let tests =
    testList "Analysis.PeriodTwo" [
        test "h' = tanh(-s h): the flip at s = 1 and the period-2 orbit {a, -a} with s = atanh(a) / a, multiplier (s (1 - a^2))^2 < 1, to the range's end" {
            use net = vanillaNet Kinds.rnn [| [| -1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
            let config = { ContinuationConfig.defaults with Start = 0.5; End = 1.5 }
            let r = Continuation.run config net (ContinuationParameter.RecurrentScale [| 0.0 |])
            let flip = r.Events |> Array.filter (fun e -> e.Kind = BifurcationKind.Flip)
            Expect.equal flip.Length 1 "one flip"
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } flip[0].Parameter 1.0 "at s = 1"
            let b = PeriodTwo.trace config net r.Parameter flip[0]
            Expect.equal b.Ending BranchEnding.Range "traced to the end of the range"
            Expect.isGreaterThan b.States.Length 10 "a traced branch"
            Expect.isGreaterThan (Array.last b.Parameter) 1.45 "reaches s = 1.5"
            for k in 1 .. b.States.Length - 1 do
                let s, x = b.Parameter[k], (b.States[k]).[0]
                let a = abs x
                Expect.isGreaterThan s 1.0 "the orbit exists beyond the flip only"
                // The closed form of the branch, a = tanh(s a) (F(F(a)) = a with F(a) = -a).
                Expect.floatClose { absolute = 1e-9; relative = 1e-9 } (atanh a / a) s (sprintf "point %d: s = atanh(a)/a" k)
                Expect.floatClose { absolute = 1e-9; relative = 0.0 } (b.Partners[k]).[0] (-x) "the partner is -a"
                let mu = (s * (1.0 - a * a)) ** 2.0
                Expect.floatClose { absolute = 1e-8; relative = 0.0 } (b.Multipliers[k]).[0].Real mu "the multiplier (s (1 - a^2))^2"
                // Born with multiplier 1, then stable: marginal within the eigenvalue tolerance only.
                Expect.isLessThan mu 1.0 "the multiplier is below 1"
                Expect.equal b.Stable[k] (mu < 1.0 - config.EigenTolerance) "stable beyond the tolerance"
            Expect.isTrue (Array.last b.Stable) "stable at s = 1.5 (multiplier 0.156)"
            let name, _ = expectInvalid (fun () -> PeriodTwo.trace config net r.Parameter { flip[0] with Kind = BifurcationKind.Fold }) "a fold is no flip"
            Expect.equal name "event" "names the event"
        }

        test "a 2-unit network with the flip in one unit only (tanh(-s h1), tanh(0.3 s h2)): the orbit lies along h1, h2 = 0 on it" {
            use net = vanillaNet Kinds.rnn [| [| -1.0; 0.0 |]; [| 0.0; 0.3 |] |] [| [| 0.0 |]; [| 0.0 |] |] [| 0.0; 0.0 |]
            let config = { ContinuationConfig.defaults with Start = 0.5; End = 1.4 }
            let r = Continuation.run config net (ContinuationParameter.RecurrentScale [| 0.0 |])
            let branches = PeriodTwo.ofContinuation config net r
            Expect.equal branches.Length 1 "one flip, one orbit branch"
            let b = branches[0]
            for k in 1 .. b.States.Length - 1 do
                let s, a = b.Parameter[k], abs (b.States[k]).[0]
                Expect.floatClose { absolute = 1e-9; relative = 1e-9 } (atanh a / a) s "h1 on the closed form"
                Expect.isLessThan (abs (b.States[k]).[1]) 1e-10 "h2 = 0"
        }
    
        test "the continuation file keeps the period-2 branches: write, read, equal; rnnfun continue --period-two writes and prints them" {
            use net = vanillaNet Kinds.rnn [| [| -1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
            let config = { ContinuationConfig.defaults with Start = 0.5; End = 1.5 }
            let r = { Continuation.run config net (ContinuationParameter.RecurrentScale [| 0.0 |]) with Elapsed = TimeSpan.Zero }
            let orbits = PeriodTwo.ofContinuation config net r
            withTempDir (fun dir ->
                let path = IO.Path.Combine(dir, "c.json")
                ContinuationFile.saveWith orbits path r
                Expect.equal (ContinuationFile.loadPeriodTwo path) orbits "every orbit back"
                Expect.equal (ContinuationFile.load path) r "the continuation itself unchanged"
                ContinuationFile.save path r
                Expect.isEmpty (ContinuationFile.loadPeriodTwo path) "none in a file without them"
                let model = IO.Path.Combine(dir, "m.json")
                ModelFile.save model net
                let out = IO.Path.Combine(dir, "cli.json")
                let html = IO.Path.Combine(dir, "cli.html")
                let code, stdout, err = rnnfun [ "continue"; "--model"; model; "--recurrent-scale"; "--from"; "0.5"; "--to"; "1.5"; "--period-two"; "--out"; out; "--report"; html ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                Expect.stringContains stdout "period-2 orbit from the flip at 1" "prints the orbit"
                Expect.stringContains (IO.File.ReadAllText html) "A period-2 orbit is born at the flip" "the report names the orbit"
                let back = ContinuationFile.loadPeriodTwo out
                Expect.equal back.Length 1 "one orbit branch in the file"
                Expect.equal back[0].Ending BranchEnding.Range "to the range's end"
                let again = IO.Path.Combine(dir, "again.html")
                let code, _, err = rnnfun [ "report"; "-m"; model; "--continuation"; out; "--out"; again ]
                Expect.equal code 0 ("report; stderr: " + err)
                Expect.stringContains (IO.File.ReadAllText again) "A period-2 orbit is born at the flip" "rnnfun report --continuation reads the orbits back")
        }

        test "the bifurcation diagram draws both points of the orbit, green, solid where stable" {
            use net = vanillaNet Kinds.rnn [| [| -1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
            let config = { ContinuationConfig.defaults with Start = 0.5; End = 1.5 }
            let r = Continuation.run config net (ContinuationParameter.RecurrentScale [| 0.0 |])
            let orbits = PeriodTwo.ofContinuation config net r
            let json = Text.Json.JsonDocument.Parse(Plotly.NET.GenericChart.toJson (RnnFun.Plotting.DynamicsCharts.bifurcationDiagramWith orbits r [||] "s")).RootElement
            let traces = [ for t in json.GetProperty("data").EnumerateArray() -> t ]
            let name (t: Text.Json.JsonElement) = match t.TryGetProperty "name" with | true, v -> v.GetString() | _ -> ""
            let stable = traces |> List.filter (fun t -> name t = "period 2, stable")
            Expect.equal stable.Length 2 "x and F(x), one stable stretch each"
            let ys (t: Text.Json.JsonElement) = [ for y in t.GetProperty("y").EnumerateArray() -> y.GetDouble() ]
            // The one-unit diagram plots the state itself: the two lines are a and -a.
            List.iter2 (fun (a: float) b -> Expect.floatClose { absolute = 1e-12; relative = 0.0 } a (-b) "mirror images") (ys stable[0]) (ys stable[1])
            Expect.isTrue (List.last (ys stable[0]) |> abs > 0.85) "reaching |a| = 0.8586 at s = 1.5"
        }
    ]
