module RnnFun.Tests.DynamicsCliTests

open System
open System.IO
open System.Text.Json
open Expecto
open RnnFun
open RnnFun.Tests.ContinuationTests

let private withModel (net: Network) (f: string -> string -> unit) =
    withTempDir (fun dir ->
        let path = Path.Combine(dir, "m.json")
        ModelFile.save path net
        f dir path)

[<Tests>]
let tests =
    testSequenced <| testList "Cli.dynamics" [
        test "continue --recurrent-scale on h' = tanh(w h): the JSON holds the pitchfork at 1 and three branches; the report its section" {
            use net = vanillaNet Kinds.rnn [| [| 1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
            withModel net (fun dir model ->
                let out, report = Path.Combine(dir, "c.json"), Path.Combine(dir, "c.html")
                let code, stdout, err = rnnfun [ "continue"; "--model"; model; "--recurrent-scale"; "--from"; "0.5"; "--to"; "1.5"; "--out"; out; "--report"; report ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                Expect.stringContains stdout "pitchfork" "prints the bifurcation"
                use doc = JsonDocument.Parse(File.ReadAllText out)
                let root = doc.RootElement
                Expect.equal (root.GetProperty("format").GetString()) ContinuationFile.Format "format"
                Expect.equal (root.GetProperty("parameter").GetProperty("kind").GetString()) "recurrent_scale" "parameter"
                let events = root.GetProperty("events")
                Expect.equal (events.GetArrayLength()) 1 "one event"
                Expect.equal (events[0].GetProperty("kind").GetString()) "pitchfork" "pitchfork"
                Expect.floatClose { absolute = 1e-8; relative = 0.0 } (events[0].GetProperty("parameter").GetDouble()) 1.0 "at 1"
                let branches = root.GetProperty("branches")
                Expect.equal (branches.GetArrayLength()) 3 "three branches"
                for b in branches.EnumerateArray() do
                    let points = b.GetProperty("parameter").GetArrayLength()
                    for key in [ "states"; "eigenvalues"; "n_unstable_modes"; "stable" ] do
                        Expect.equal (b.GetProperty(key).GetArrayLength()) points (sprintf "one %s per point" key)
                let html = File.ReadAllText report
                Expect.stringContains html "Continuation and bifurcations" "the report's section"
                Expect.stringContains html "Bifurcation diagram" "the diagram")
        }

        test "lyapunov on h' = tanh(0.9 R h): both exponents ln 0.9 in the JSON; two constant inputs give two spectra" {
            let t = 0.9
            use net = vanillaNet Kinds.rnn [| [| 0.9 * cos t; -0.9 * sin t |]; [| 0.9 * sin t; 0.9 * cos t |] |] [| [| 0.0 |]; [| 0.0 |] |] [| 0.0; 0.0 |]
            withModel net (fun dir model ->
                let out = Path.Combine(dir, "l.json")
                let code, _, err = rnnfun [ "lyapunov"; "--model"; model; "--initial-state"; "0.3,-0.2"; "--out"; out ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                use doc = JsonDocument.Parse(File.ReadAllText out)
                let spectra = doc.RootElement.GetProperty("spectra")
                Expect.equal (spectra.GetArrayLength()) 1 "one spectrum"
                for l in spectra[0].GetProperty("exponents").EnumerateArray() do
                    Expect.floatClose { absolute = 1e-6; relative = 0.0 } (l.GetDouble()) (log 0.9) "ln 0.9"
                let code, _, err = rnnfun [ "lyapunov"; "--model"; model; "--inputs"; "0;0.5"; "--out"; out; "--quiet" ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                use doc = JsonDocument.Parse(File.ReadAllText out)
                Expect.equal (doc.RootElement.GetProperty("spectra").GetArrayLength()) 2 "two spectra")
        }

        test "user errors of continue and lyapunov print one line and exit 2" {
            use net = vanillaNet Kinds.rnn [| [| 0.5 |] |] [| [| 1.0 |] |] [| 0.0 |]
            withModel net (fun dir model ->
                let out = Path.Combine(dir, "x.json")
                let cases =
                    [ [ "continue"; "--model"; model; "--from"; "0"; "--to"; "1"; "--out"; out ]
                      [ "continue"; "--model"; model; "--recurrent-scale"; "--input-index"; "0"; "--from"; "0"; "--to"; "1"; "--out"; out ]
                      [ "continue"; "--model"; model; "--recurrent-scale"; "--from"; "1"; "--to"; "1"; "--out"; out ]
                      [ "continue"; "--model"; model; "--input-index"; "4"; "--from"; "0"; "--to"; "1"; "--out"; out ]
                      [ "continue"; "--model"; model; "--direction"; "0"; "--from"; "0"; "--to"; "1"; "--out"; out ]
                      [ "lyapunov"; "--model"; model; "--exponents"; "9"; "--out"; out ]
                      [ "lyapunov"; "--model"; model; "--trials"; "3"; "--out"; out ]
                      [ "lyapunov"; "--model"; model; "--task"; "flipflop"; "--out"; out ]
                      [ "lyapunov"; "--model"; model; "--inputs"; "1,2"; "--out"; out ]
                      [ "lyapunov"; "--model"; model; "--initial-state"; "1,2"; "--out"; out ] ]
                for args in cases do
                    let code, _, err = rnnfun args
                    Expect.equal code 2 (sprintf "exit code of %A (stderr %s)" args err)
                    Expect.equal (err.Trim().Split('\n').Length) 1 (sprintf "one line for %A: %s" args err)
                    Expect.isFalse (err.Contains "   at ") "no stack trace"
                Expect.isFalse (File.Exists out) "nothing written")
        }
    ]
