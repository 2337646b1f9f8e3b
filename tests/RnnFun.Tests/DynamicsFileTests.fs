module RnnFun.Tests.DynamicsFileTests

open System
open System.IO
open System.Numerics
open Expecto
open RnnFun
open RnnFun.Tests.ContinuationTests

/// h' = tanh(w h) continued in w from 0.5 to 1.5: three branches and the pitchfork at 1.
let private pitchfork () =
    use net = vanillaNet Kinds.rnn [| [| 1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
    Continuation.run { ContinuationConfig.defaults with Start = 0.5; End = 1.5 } net (ContinuationParameter.RecurrentScale [| 0.0 |])

[<Tests>]
let tests =
    testSequenced <| testList "Formats.dynamics" [
        test "rnnfun.continuation: write, read, equal (branches, eigenvalues, events; Elapsed is not stored); an input parameter too" {
            let r = { pitchfork () with Elapsed = TimeSpan.Zero }
            Expect.isGreaterThanOrEqual r.Branches.Length 3 "three branches"
            Expect.isNonEmpty r.Events "the pitchfork"
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "c.json")
                ContinuationFile.save path r
                Expect.equal (ContinuationFile.load path) r "every field back"
                let other = { r with Parameter = ContinuationParameter.Input([| 0.5; 0.0 |], [| 0.0; 1.0 |]); Branches = [| { r.Branches[0] with Ending = BranchEnding.Merged 2 } |] }
                ContinuationFile.save path other
                Expect.equal (ContinuationFile.load path) other "an input parameter and a merged ending"
                File.WriteAllText(path, File.ReadAllText(path).Replace("\"merged\"", "\"lost\""))
                Expect.throwsT<FileFormatError> (fun () -> ContinuationFile.load path |> ignore) "an unknown ending is refused")
        }

        test "the continuation writer: a NaN eigenvalue is written as null and read back as NaN; a NaN state or parameter is refused, naming it" {
            let r = { pitchfork () with Elapsed = TimeSpan.Zero }
            let b = r.Branches[0]
            let eigen = b.Eigenvalues |> Array.mapi (fun k ls -> if k = 2 then [| Complex(nan, 0.0) |] else ls)
            let withNan = { r with Branches = Array.append [| { b with Eigenvalues = eigen } |] r.Branches[1..] }
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "c.json")
                ContinuationFile.save path withNan
                Expect.stringContains (File.ReadAllText path) "\"re\": null" "null in the file"
                let back = ContinuationFile.load path
                Expect.isTrue (Double.IsNaN (back.Branches[0].Eigenvalues[2][0]).Real) "NaN back"
                Expect.equal back.Branches[0].Eigenvalues[3] b.Eigenvalues[3] "the others unchanged"
                let states = b.States |> Array.mapi (fun k x -> if k = 4 then [| nan |] else x)
                let badState = { r with Branches = [| { b with States = states } |] }
                let name, _ = expectInvalid (fun () -> ContinuationFile.save path badState) "a NaN state"
                Expect.equal name (sprintf "branches[%d].states[4]" b.Id) "names the state"
                let badParameter = { r with Branches = [| { b with Parameter = b.Parameter |> Array.mapi (fun k v -> if k = 1 then infinity else v) } |] }
                let name, _ = expectInvalid (fun () -> ContinuationFile.save path badParameter) "an infinite parameter"
                Expect.equal name (sprintf "branches[%d].parameter" b.Id) "names the parameter"
                Expect.equal (ContinuationFile.load path) back "the refused writes left the file as it was")
        }

        test "rnnfun.lyapunov: write, read, equal (running estimates, per time constant, inputs); a null exponent reads back as -infinity" {
            let theta = 0.9
            let rot = [| [| 0.9 * cos theta; -0.9 * sin theta |]; [| 0.9 * sin theta; 0.9 * cos theta |] |]
            use net = vanillaNet Kinds.rnn rot [| [| 0.0 |]; [| 0.0 |] |] [| 0.0; 0.0 |]
            let config = { LyapunovConfig.defaults with Steps = 300; Transient = 20; RecordEvery = 100 }
            let s = Lyapunov.spectrum config net (LyapunovInput.Constant [| 0.0 |]) [| 0.3; -0.2 |]
            Expect.isNonEmpty s.RunningSteps "running estimates recorded"
            let collapsed = { s with Exponents = [| s.Exponents[0]; -infinity |]; PerTimeConstant = Some [| 1.0; 2.0 |] }
            let conditions : LyapunovFile.Condition[] =
                [| { Label = "input"; Input = Some [| 0.0 |]; Spectrum = s }
                   { Label = "trial"; Input = None; Spectrum = collapsed } |]
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "l.json")
                LyapunovFile.save path config conditions
                let back = LyapunovFile.load path
                Expect.equal (back.Transient, back.Reorthonormalise, back.Seed) (config.Transient, config.Reorthonormalise, config.Seed) "the settings"
                Expect.equal back.Conditions conditions "every spectrum back"
                Expect.isTrue (Double.IsNegativeInfinity back.Conditions[1].Spectrum.Exponents[1]) "-infinity through null")
        }

        test "rnnfun report --continuation reads a continue file back into its section; a file of another model's size exits 2" {
            use net = vanillaNet Kinds.rnn [| [| 1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
            withTempDir (fun dir ->
                let model = Path.Combine(dir, "m.json")
                ModelFile.save model net
                let c = Path.Combine(dir, "c.json")
                let code, _, err = rnnfun [ "continue"; "--model"; model; "--recurrent-scale"; "--from"; "0.5"; "--to"; "1.5"; "--out"; c; "--quiet" ]
                Expect.equal code 0 ("continue; stderr: " + err)
                let html = Path.Combine(dir, "r.html")
                let code, _, err = rnnfun [ "report"; "-m"; model; "--continuation"; c; "--out"; html ]
                Expect.equal code 0 ("report; stderr: " + err)
                let text = File.ReadAllText html
                Expect.stringContains text "<h2>Continuation and bifurcations</h2>" "the section"
                Expect.stringContains text "pitchfork" "the bifurcation in its table"
                use wide = Network.scaledIdentity Kinds.rnn 2 1.0
                let other = Path.Combine(dir, "wide.json")
                ModelFile.save other wide
                let code, _, err = rnnfun [ "report"; "-m"; other; "--continuation"; c; "--out"; html ]
                Expect.equal code 2 "another model's size exits 2"
                Expect.stringContains err "--continuation" "names the option")
        }
    ]
