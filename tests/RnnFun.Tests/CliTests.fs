module RnnFun.Tests.CliTests

open System
open System.IO
open Expecto
open RnnFun

let private oneLine (text: string) = text.Trim().Split('\n').Length = 1

[<System.Runtime.InteropServices.DllImport("libc", SetLastError = true)>]
extern int kill(int pid, int signal)

/// Whether this process ignores SIGINT (a shell's background job): its children would too.
let private sigintIgnored () =
    try
        IO.File.ReadAllLines "/proc/self/status"
        |> Array.tryFind (fun l -> l.StartsWith "SigIgn:")
        |> Option.exists (fun l -> (Convert.ToUInt64(l.Substring(7).Trim(), 16) &&& 2UL) <> 0UL)
    with _ -> false

/// Starts the built rnnfun (the app host beside the tests) with stderr read line by line into `err`.
let private startRnnfun (args: string list) (err: Collections.Concurrent.ConcurrentQueue<string>) =
    let info = Diagnostics.ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "RnnFun.Cli"), args, RedirectStandardError = true, RedirectStandardOutput = true)
    let p = new Diagnostics.Process(StartInfo = info)
    p.ErrorDataReceived.Add(fun e -> if not (isNull e.Data) then err.Enqueue e.Data)
    p.OutputDataReceived.Add(fun _ -> ())
    p.Start() |> ignore
    p.BeginErrorReadLine()
    p.BeginOutputReadLine()
    p

/// Waits until `ready` holds or `seconds` pass.
let private waitFor (seconds: float) (ready: unit -> bool) =
    let watch = Diagnostics.Stopwatch.StartNew()
    while not (ready ()) && watch.Elapsed.TotalSeconds < seconds do Threading.Thread.Sleep 50
    ready ()

[<Tests>]
let tests =
    testSequenced <| testList "Cli" [
        test "--help lists the verbs and exits 0" {
            let code, out, _ = rnnfun [ "--help" ]
            Expect.equal code 0 "exit code"
            for verb in [ "info"; "demo" ] do Expect.stringContains out verb (sprintf "lists %s" verb)
        }
        test "info describes a model file" {
            let dir = Path.Combine(Path.GetTempPath(), "rnnfun-cli-" + Guid.NewGuid().ToString("N"))
            try
                let path = Path.Combine(dir, "m.json")
                use net =
                    Network.create Kinds.ctrnn
                        { NetworkConfig.defaults with InputSize = 3; Units = 10; OutputSize = 2; Constraints = { Constraints.none with DaleRatio = Some 0.8; Autapses = false } }
                ModelFile.save path net
                let code, out, err = rnnfun [ "info"; "--model"; path ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                for expected in [ "ctrnn"; "3 inputs, 10 units, 2 outputs"; "8 excitatory, 2 inhibitory"; "tau"; "parameters 160 in all, 110 trainable" ] do
                    Expect.stringContains out expected (sprintf "mentions %s" expected)
            finally
                if Directory.Exists dir then Directory.Delete(dir, true)
        }
        test "user errors print one line on stderr and exit 2" {
            for args in [ [ "info"; "--model"; "/nonexistent/model.json" ]; [ "info" ]; [ "frobnicate" ]; [ "demo"; "--task"; "chess" ]; [ "demo"; "--seed"; "abc" ] ] do
                let code, _, err = rnnfun args
                Expect.equal code 2 (sprintf "exit code of %A" args)
                Expect.isTrue (oneLine err) (sprintf "one line for %A: %s" args err)
                Expect.isFalse (err.Contains "   at ") "no stack trace"
        }
        test "train writes the model and a training log, and prints one final line" {
            let dir = Path.Combine(Path.GetTempPath(), "rnnfun-cli-" + Guid.NewGuid().ToString("N"))
            try
                let path = Path.Combine(dir, "ff.json")
                let code, out, err =
                    rnnfun [ "train"; "--task"; "flipflop"; "--units"; "12"; "--epochs"; "2"; "--seq-len"; "16"; "--dale-ratio"; "0.75"; "--no-autapses"; "--kind"; "ctrnn"; "--quiet"; "--out"; path ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                Expect.isTrue (oneLine out) "one final line"
                Expect.stringContains out "completed after 2 epochs" "stop reason and epochs"
                use net = ModelFile.load path
                Expect.equal (net.Kind.Name, net.Sizes.Units) ("ctrnn", 12) "kind and size from the flags"
                Expect.equal net.Constraints.DaleRatio (Some 0.75) "dale ratio"
                Expect.isFalse net.Constraints.Autapses "no autapses"
                let log = File.ReadAllText(Path.Combine(dir, "ff.training-log.json"))
                for key in [ "\"loss\""; "\"validation_loss\""; "\"stop_reason\": \"completed\"" ] do
                    Expect.stringContains log key (sprintf "log has %s" key)
                let logPath = Path.Combine(dir, "ff.training-log.json")
                let record = TrainingLogFile.load logPath
                Expect.equal (record.Task, record.KindName, record.Units, record.StopReason) ("flipflop", "ctrnn", 12, StopReason.Completed) "the log reads back"
                Expect.equal record.Losses.Length 2 "two epochs"
                // The report reads the log with the strict reader: a bad key is one line naming it.
                let html = Path.Combine(dir, "report.html")
                let code, _, err = rnnfun [ "report"; "--model"; path; "--training-log"; logPath; "--out"; html ]
                Expect.equal code 0 ("report exit code; stderr: " + err)
                File.WriteAllText(logPath, File.ReadAllText(logPath).Replace("\"stop_reason\": \"completed\"", "\"stop_reason\": 3"))
                let code, _, err = rnnfun [ "report"; "--model"; path; "--training-log"; logPath; "--out"; html ]
                Expect.equal code 2 "bad log: exit code"
                Expect.isTrue (oneLine err) (sprintf "bad log: one line: %s" err)
                Expect.stringContains err "stop_reason" "names the key"
            finally
                if Directory.Exists dir then Directory.Delete(dir, true)
        }
        test "train --kind gru|lstm|ugrnn writes a model of that kind; the report draws it; Dale's law is refused" {
            let dir = Path.Combine(Path.GetTempPath(), "rnnfun-cli-" + Guid.NewGuid().ToString("N"))
            try
                for kind in [ "gru"; "lstm"; "ugrnn" ] do
                    let path = Path.Combine(dir, kind + ".json")
                    let code, out, err = rnnfun [ "train"; "--task"; "flipflop"; "--units"; "8"; "--epochs"; "1"; "--seq-len"; "8"; "--kind"; kind; "--quiet"; "--out"; path ]
                    Expect.equal code 0 (sprintf "%s: exit code; stderr: %s" kind err)
                    Expect.isTrue (oneLine out) "one final line"
                    use net = ModelFile.load path
                    Expect.equal (net.Kind.Name, net.Sizes.Units) (kind, 8) "kind and size from the flags"
                    Expect.isTrue (net.Parameters |> List.forall (fun p -> p.Trainable)) "the kind's defaults: all trained"
                let html = Path.Combine(dir, "report.html")
                let code, _, err = rnnfun [ "report"; "--model"; Path.Combine(dir, "lstm.json"); "--out"; html ]
                Expect.equal code 0 ("lstm report exit code; stderr: " + err)
                let code, _, err = rnnfun [ "train"; "--task"; "flipflop"; "--kind"; "gru"; "--dale-ratio"; "0.8"; "--epochs"; "1"; "--out"; Path.Combine(dir, "dale.json") ]
                Expect.equal code 2 "Dale's law on a gru: exit code"
                Expect.isTrue (oneLine err) (sprintf "one line: %s" err)
                Expect.stringContains err "dale_ratio" "names the constraint"
                // The whole pipeline on the packed [h; c] state of an LSTM.
                let demo = Path.Combine(dir, "demo")
                let code, _, err = rnnfun [ "demo"; "--quick"; "--quiet"; "--kind"; "lstm"; "--out"; demo ]
                Expect.equal code 0 ("demo --kind lstm exit code; stderr: " + err)
                use doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(demo, "summary.json")))
                Expect.equal (doc.RootElement.GetProperty("kind").GetString()) "lstm" "summary names the kind"
                let fps = FixedPointFile.load (Path.Combine(demo, "fixed-points.json"))
                Expect.isNonEmpty fps "fixed points found"
                Expect.isTrue (fps |> Array.forall (fun p -> p.State.Length = 64)) "points in the packed [h; c] state (2 x 32)"
                let code, _, _ = rnnfun [ "demo"; "--quick"; "--kind"; "esn"; "--out"; demo ]
                Expect.equal code 2 "unknown demo kind"
            finally
                if Directory.Exists dir then Directory.Delete(dir, true)
        }
        test "train refuses bad values with one line and exit 2" {
            for args in [ [ "train"; "--task"; "chess"; "--out"; "x.json" ]; [ "train"; "--task"; "flipflop"; "--kind"; "esn"; "--out"; "x.json" ]
                          [ "train"; "--task"; "flipflop"; "--dale-ratio"; "3"; "--out"; "x.json" ]; [ "train"; "--task"; "flipflop"; "--units"; "0"; "--out"; "x.json" ]
                          [ "train"; "--task"; "flipflop" ]; [ "train"; "--task"; "flipflop"; "--epochs"; "0"; "--out"; "x.json" ]
                          [ "train"; "--task"; "flipflop"; "--epochs"; "-3"; "--out"; "x.json" ] ] do
                let code, _, err = rnnfun args
                Expect.equal code 2 (sprintf "exit code of %A (stderr %s)" args err)
                Expect.isTrue (oneLine err) (sprintf "one line for %A: %s" args err)
                Expect.isFalse (File.Exists "x.json") "nothing written"
        }
        test "fixed-points and topology on W = 2I: 27 points, then a graph over them; mismatches exit 2" {
            let dir = Path.Combine(Path.GetTempPath(), "rnnfun-cli-" + Guid.NewGuid().ToString("N"))
            Directory.CreateDirectory dir |> ignore
            try
                let model = Path.Combine(dir, "w2i.json")
                use net = Network.scaledIdentity Kinds.rnn 3 2.0
                ModelFile.save model net
                let fps = Path.Combine(dir, "fps.json")
                let code, out, err = rnnfun [ "fixed-points"; "--model"; model; "--box"; "-1.5,1.5"; "--n-init"; "512"; "--quiet"; "--out"; fps ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                Expect.stringContains out "27 fixed points" "summary"
                Expect.stringContains out "8 with 0, 12 with 1, 6 with 2, 1 with 3" "by unstable modes"
                Expect.equal (FixedPointFile.load fps).Length 27 "file"
                let topo = Path.Combine(dir, "topology.json")
                let dot = Path.Combine(dir, "graph.dot")
                let code, out, err = rnnfun [ "topology"; "--model"; model; "--fixed-points"; fps; "--out"; topo; "--dot"; dot; "--quiet" ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                Expect.stringContains out "27 vertices" "summary"
                Expect.equal (TopologyFile.load topo).Vertices.Length 27 "topology file"
                Expect.stringContains (File.ReadAllText dot) "digraph" "DOT file"
                let html = Path.Combine(dir, "report.html")
                let code, out, err = rnnfun [ "report"; "--model"; model; "--fixed-points"; fps; "--topology"; topo; "--out"; html ]
                Expect.equal code 0 ("report exit code; stderr: " + err)
                Expect.stringContains out "wrote" "says what it wrote"
                let page = File.ReadAllText html
                for section in RnnFun.Plotting.Report.sectionTitles do
                    Expect.stringContains page section (sprintf "report has section %s" section)
                Expect.isFalse (page.Contains "<script src=") "no external script"
                // A model whose size does not match the fixed points.
                let other = Path.Combine(dir, "other.json")
                use small = Network.create Kinds.rnn { NetworkConfig.defaults with Units = 5 }
                ModelFile.save other small
                for args in [ [ "topology"; "--model"; other; "--fixed-points"; fps; "--out"; topo ]
                              [ "report"; "--model"; other; "--fixed-points"; fps; "--out"; html ]
                              [ "report"; "--model"; model; "--task"; "sine"; "--out"; html ]
                              [ "topology"; "--model"; model; "--fixed-points"; Path.Combine(dir, "missing.json"); "--out"; topo ]
                              [ "fixed-points"; "--model"; model; "--box"; "1,-1"; "--out"; fps ]
                              [ "fixed-points"; "--model"; model; "--inputs"; "1,2"; "--out"; fps ] ] do
                    let code, _, err = rnnfun args
                    Expect.equal code 2 (sprintf "exit code of %A (stderr %s)" args err)
                    Expect.isTrue (oneLine err) (sprintf "one line: %s" err)
            finally
                Directory.Delete(dir, true)
        }
        test "topology and report refuse another model's fixed points unless --allow-foreign-points; q is recomputed" {
            withTempDir (fun dir ->
                let modelA, modelB = Path.Combine(dir, "a.json"), Path.Combine(dir, "b.json")
                use a = Network.scaledIdentity Kinds.rnn 3 2.0
                use b = Network.scaledIdentity Kinds.rnn 3 2.5
                ModelFile.save modelA a
                ModelFile.save modelB b
                let find (net: Network) = (FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 512 -1.5 1.5 3 0)).FixedPoints
                let fpsB = Path.Combine(dir, "fps-b.json")
                FixedPointFile.save fpsB (find b)
                let topo, html = Path.Combine(dir, "t.json"), Path.Combine(dir, "r.html")
                for args in [ [ "topology"; "--model"; modelA; "--fixed-points"; fpsB; "--out"; topo; "--quiet" ]
                              [ "report"; "--model"; modelA; "--fixed-points"; fpsB; "--out"; html ] ] do
                    for f in [ topo; html ] do File.Delete f
                    let code, _, err = rnnfun args
                    Expect.equal code 2 (sprintf "exit code of %A (stderr %s)" args err)
                    Expect.isTrue (oneLine err) (sprintf "one line: %s" err)
                    Expect.stringContains err "not fixed points of this model" "says why"
                    Expect.stringContains err "q = " "names the q"
                    Expect.stringContains err "--allow-foreign-points" "says how to go on"
                    Expect.isFalse (File.Exists topo || File.Exists html) "nothing written"
                    let code, _, err = rnnfun (args @ [ "--allow-foreign-points" ])
                    Expect.equal code 0 (sprintf "with --allow-foreign-points: exit code of %A (stderr %s)" args err)
                    Expect.stringContains err "warning" "warns"
                // Its own points with a q from elsewhere in the file: the report shows the q under the model.
                let own = find a
                let fpsA = Path.Combine(dir, "fps-a.json")
                FixedPointFile.save fpsA (own |> Array.map (fun p -> { p with Q = 1.23e-10; Speed = sqrt 2.46e-10 }))
                let code, _, err = rnnfun [ "report"; "--model"; modelA; "--fixed-points"; fpsA; "--out"; html ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                let page = File.ReadAllText html
                Expect.isFalse (page.Contains "1.23e-10") "the file's q is not shown"
                Expect.stringContains page "<th>input</th>" "an input column")
        }
        test "topology runs each point of a file under its own input" {
            withTempDir (fun dir ->
                let model, fps, topo = Path.Combine(dir, "m.json"), Path.Combine(dir, "fps.json"), Path.Combine(dir, "t.json")
                use net = drivenIdentity 3
                ModelFile.save model net
                let points = drivenPoints net [ 0.0; 0.3 ]
                FixedPointFile.save fps points
                let code, _, err = rnnfun [ "topology"; "--model"; model; "--fixed-points"; fps; "--runs-per-point"; "8"; "--out"; topo; "--quiet" ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                let t = TopologyFile.load topo
                let inputOf = points |> Array.map (fun p -> p.Id, p.Input[0]) |> Map.ofArray
                Expect.equal t.Vertices.Length 54 "every point"
                for e in t.Edges do
                    Expect.equal inputOf[e.To] inputOf[e.From] (sprintf "edge %d -> %d stays under one input" e.From e.To)
                Expect.equal t.Unreached 0 "every run arrives")
        }
        test "bad output paths are refused before the work, with one line naming the path" {
            withTempDir (fun dir ->
                let model, fps = Path.Combine(dir, "m.json"), Path.Combine(dir, "fps.json")
                use net = Network.scaledIdentity Kinds.rnn 3 2.0
                ModelFile.save model net
                FixedPointFile.save fps (FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 256 -1.5 1.5 3 0)).FixedPoints
                let aFile = Path.Combine(dir, "a-file.txt")
                File.WriteAllText(aFile, "x")
                let underFile = Path.Combine(aFile, "out.json")
                let cases =
                    [ [ "train"; "--task"; "flipflop"; "--quiet"; "--out"; dir ], dir
                      [ "train"; "--task"; "flipflop"; "--quiet"; "--out"; "/proc/rnnfun-model.json" ], "/proc/rnnfun-model.json"
                      [ "train"; "--task"; "flipflop"; "--quiet"; "--out"; underFile ], underFile
                      [ "fixed-points"; "--model"; model; "--quiet"; "--out"; dir ], dir
                      [ "fixed-points"; "--model"; model; "--quiet"; "--slow-points"; "--out"; "/proc/fps.json" ], "/proc/fps.json"
                      [ "topology"; "--model"; model; "--fixed-points"; fps; "--quiet"; "--out"; dir ], dir
                      [ "topology"; "--model"; model; "--fixed-points"; fps; "--quiet"; "--out"; Path.Combine(dir, "t.json"); "--dot"; "/proc/g.dot" ], "/proc/g.dot"
                      [ "report"; "--model"; model; "--out"; "/proc/r.html" ], "/proc/r.html"
                      [ "report"; "--model"; model; "--out"; Path.Combine(dir, "r.html"); "--png"; aFile ], aFile
                      [ "demo"; "--quiet"; "--out"; aFile ], aFile
                      [ "demo"; "--quiet"; "--out"; "/proc/rnnfun-demo" ], "/proc/rnnfun-demo" ]
                for args, path in cases do
                    let watch = Diagnostics.Stopwatch.StartNew()
                    let code, _, err = rnnfun args
                    Expect.equal code 2 (sprintf "exit code of %A (stderr %s)" args err)
                    Expect.isTrue (oneLine err) (sprintf "one line for %A: %s" args err)
                    Expect.stringContains err path "names the path"
                    for bad in [ "unexpected"; ".tmp"; "rnnfun-write-check" ] do
                        Expect.isFalse (err.Contains bad) (sprintf "no '%s' in %s" bad err)
                    // Before the work: a full training run or search takes far longer.
                    Expect.isLessThan watch.Elapsed.TotalSeconds 5.0 (sprintf "refused at once: %A" args)
                Expect.isFalse (File.Exists(Path.Combine(dir, "t.json")) || File.Exists(Path.Combine(dir, "r.html"))) "nothing written")
        }
        test "a model file with NaN or Infinity says that non-finite weights are refused" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "m.json")
                use net = Network.scaledIdentity Kinds.rnn 3 2.0
                ModelFile.save path net
                let text = File.ReadAllText path
                let at = text.IndexOf "\"w_rec\""
                for token in [ "NaN"; "Infinity"; "-Infinity" ] do
                    let number = Text.RegularExpressions.Regex(@"-?\d+(\.\d+)?([eE][-+]?\d+)?").Match(text, at + 7)
                    File.WriteAllText(path, text.Substring(0, number.Index) + token + text.Substring(number.Index + number.Length))
                    let code, _, err = rnnfun [ "info"; "--model"; path ]
                    Expect.equal code 2 (sprintf "exit code (%s): %s" token err)
                    Expect.isTrue (oneLine err) (sprintf "one line: %s" err)
                    Expect.stringContains err "non-finite weights are refused" (sprintf "says why for %s" token)
                    Expect.stringContains err token "names the token"
                    let _, problem = expectFileError (fun () -> ModelFile.load path) "the core says it too"
                    Expect.stringContains problem "non-finite weights" "core message")
        }
        test "--version, -h and --name=value" {
            let code, out, err = rnnfun [ "--version" ]
            Expect.equal code 0 ("--version exit code; stderr: " + err)
            Expect.stringStarts out "rnnfun " "prints the version"
            for args in [ [ "-h" ]; [ "train"; "-h" ]; [ "topology"; "-h" ] ] do
                let code, out, err = rnnfun args
                Expect.equal code 0 (sprintf "exit code of %A; stderr: %s" args err)
                Expect.stringContains out "USAGE" (sprintf "usage for %A" args)
            withTempDir (fun dir ->
                let model, fps = Path.Combine(dir, "m.json"), Path.Combine(dir, "fps.json")
                use net = Network.scaledIdentity Kinds.rnn 3 2.0
                ModelFile.save model net
                let code, out, err = rnnfun [ "fixed-points"; "--model=" + model; "--box=-1.5,1.5"; "--n-init=256"; "--inputs=0"; "--quiet"; "--out=" + fps ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                Expect.stringContains out "27 fixed points" "ran with the values given by ="
                let code, _, err = rnnfun [ "fixed-points"; "--model"; model; "--inputs=0,0,0"; "--out"; fps ]
                Expect.equal code 2 "a bad value given by = is refused as with a space"
                Expect.stringContains err "--inputs" "names the option")
        }
        test "Ctrl-C: the first interrupt during training cancels it, any other ends the process" {
            use i = new RnnFun.Cli.Common.Interrupts()
            Expect.isTrue (i.Interrupt()) "the first one keeps the process"
            Expect.isTrue i.Token.IsCancellationRequested "and cancels the training"
            Expect.isFalse (i.Interrupt()) "the second one ends it"
            use after = new RnnFun.Cli.Common.Interrupts()
            after.EndTraining()
            Expect.isFalse (after.Interrupt()) "after training, the first one ends it"
            Expect.isFalse after.Cancelled "and cancels nothing"
        }
        test "train stopped by an interrupt keeps the best model and exits 130" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "m.json")
                use i = new RnnFun.Cli.Common.Interrupts()
                i.Interrupt() |> ignore
                let args = Argu.ArgumentParser.Create<RnnFun.Cli.Args.TrainArgs>().ParseCommandLine [| "--task"; "flipflop"; "--units"; "8"; "--seq-len"; "16"; "--quiet"; "--out"; path |]
                let out, oldOut = new StringWriter(), Console.Out
                Console.SetOut out
                let code = try RnnFun.Cli.TrainCommand.runWith i args finally Console.SetOut oldOut
                Expect.stringContains (out.ToString()) "cancelled after" "says it was cancelled"
                Expect.equal code 130 "exit code"
                Expect.isTrue (File.Exists path) "the model is written"
                Expect.equal (TrainingLogFile.load (RnnFun.Cli.Common.trainingLogPath path)).StopReason StopReason.Cancelled "the log says cancelled")
        }
        test "SIGINT to rnnfun train stops training with the model kept and exit 130; a second one ends demo at once" {
            if sigintIgnored () then skiptest "this process ignores SIGINT (a background job), so its children would not see one"
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "m.json")
                let err = Collections.Concurrent.ConcurrentQueue<string>()
                use p = startRnnfun [ "train"; "--task"; "flipflop"; "--epochs"; "500"; "--out"; path ] err
                Expect.isTrue (waitFor 60.0 (fun () -> File.Exists path)) "training runs (a best model written)"
                kill (p.Id, 2) |> ignore
                Expect.isTrue (p.WaitForExit 30_000) "stops after the interrupt"
                Expect.equal p.ExitCode 130 (sprintf "exit code; stderr: %s" (String.Join("\n", err)))
                Expect.equal (TrainingLogFile.load (RnnFun.Cli.Common.trainingLogPath path)).StopReason StopReason.Cancelled "the log says cancelled"
                use _ = ModelFile.load path
                // demo: the first interrupt stops training, the second ends the process during the analysis.
                let demoDir = Path.Combine(dir, "demo")
                let err = Collections.Concurrent.ConcurrentQueue<string>()
                use d = startRnnfun [ "demo"; "--out"; demoDir ] err
                Expect.isTrue (waitFor 60.0 (fun () -> err |> Seq.exists (fun l -> l.Contains "epoch"))) "training runs"
                kill (d.Id, 2) |> ignore
                Expect.isTrue (waitFor 30.0 (fun () -> err |> Seq.exists (fun l -> l.Contains "interrupted"))) "the first interrupt is acknowledged"
                kill (d.Id, 2) |> ignore
                Expect.isTrue (d.WaitForExit 10_000) (sprintf "the second interrupt ends it; stderr: %s" (String.Join("\n", err)))
                Expect.equal d.ExitCode 130 "exit code"
                Expect.isFalse (File.Exists(Path.Combine(demoDir, "report.html"))) "ended before the report")
        }
        test "demo --quick runs the whole pipeline and writes every file and summary.json" {
            let dir = Path.Combine(Path.GetTempPath(), "rnnfun-demo-" + Guid.NewGuid().ToString("N"))
            try
                let code, out, err = rnnfun [ "demo"; "--quick"; "--quiet"; "--out"; dir ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                Expect.stringContains out "report: " "prints the report's path"
                for name in [ "model.json"; "training-log.json"; "fixed-points.json"; "topology.json"; "report.html"; "summary.json" ] do
                    Expect.isTrue (File.Exists(Path.Combine(dir, name))) (sprintf "%s written" name)
                use doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))
                let root = doc.RootElement
                for key in [ "task"; "kind"; "n_units"; "epochs"; "stop_reason"; "final_loss"; "validation_mse"; "train_seconds"; "analysis_seconds"; "fixed_points"; "topology" ] do
                    Expect.isTrue (fst (root.TryGetProperty key)) (sprintf "summary has %s" key)
                Expect.equal (root.GetProperty("task").GetString()) "flipflop" "task"
                let fps = FixedPointFile.load (Path.Combine(dir, "fixed-points.json"))
                Expect.equal (root.GetProperty("fixed_points").GetProperty("total").GetInt32()) fps.Length "total = file"
                let byModes = root.GetProperty("fixed_points").GetProperty("by_unstable_modes")
                Expect.equal (byModes.GetProperty("0").GetInt32()) (fps |> Array.filter (fun p -> p.UnstableModes = 0) |> Array.length) "attractor count"
                let topology = TopologyFile.load (Path.Combine(dir, "topology.json"))
                Expect.equal (root.GetProperty("topology").GetProperty("edges").GetInt32()) topology.Edges.Length "edges = file"
                use net = ModelFile.load (Path.Combine(dir, "model.json"))
                Expect.equal (root.GetProperty("n_units").GetInt32()) net.Sizes.Units "units = model"
            finally
                if Directory.Exists dir then Directory.Delete(dir, true)
        }
        test "sizes that cannot fit in memory: one line with the estimate, exit 2, nothing written" {
            let dir = Path.Combine(Path.GetTempPath(), "rnnfun-memory-" + Guid.NewGuid().ToString("N"))
            Directory.CreateDirectory dir |> ignore
            try
                let model = Path.Combine(dir, "m.json")
                for args in
                    [ [ "train"; "--task"; "flipflop"; "--units"; "1000000"; "--epochs"; "1"; "--out"; model ]
                      [ "train"; "--task"; "flipflop"; "--units"; "8"; "--batch-size"; "2000000000"; "--epochs"; "1"; "--out"; model ] ] do
                    let code, _, err = rnnfun args
                    Expect.equal code 2 (sprintf "%A: exit code; stderr: %s" args err)
                    Expect.isTrue (oneLine err) (sprintf "one line: %s" err)
                    Expect.stringContains err "would need about" "the estimate"
                    Expect.stringContains err "is available" "what the machine has"
                    Expect.isFalse (File.Exists model) "no model written"
                // A model, then a search from far too many states (64 values each: about 1 TB).
                let code, _, err = rnnfun [ "train"; "--task"; "flipflop"; "--units"; "64"; "--epochs"; "1"; "--quiet"; "--out"; model ]
                Expect.equal code 0 ("a small model trains; stderr: " + err)
                let fps = Path.Combine(dir, "fps.json")
                let code, _, err = rnnfun [ "fixed-points"; "--model"; model; "--n-init"; "2000000000"; "--box"; "-1,1"; "--out"; fps ]
                Expect.equal code 2 ("exit code; stderr: " + err)
                Expect.isTrue (oneLine err) (sprintf "one line: %s" err)
                Expect.stringContains err "2000000000 initial states would need about" "the estimate names the states"
                Expect.isFalse (File.Exists fps) "nothing written"
            finally
                if Directory.Exists dir then Directory.Delete(dir, true)
        }
        test "import a PyTorch fixture, info and fixed-points on it, export it back; errors are one line with exit 2" {
            let fixtures = Path.Combine(__SOURCE_DIRECTORY__, "..", "fixtures", "pytorch")
            withTempDir (fun dir ->
                let model = Path.Combine(dir, "ct.json")
                let code, out, err =
                    rnnfun [ "import"; "--from"; Path.Combine(fixtures, "pyrnn_ctrnn.pt"); "--arch"; "pyrnn-ctrnn"
                             "--params"; Path.Combine(fixtures, "pyrnn_ctrnn.params.json"); "--out"; model ]
                Expect.equal code 0 ("import exit code; stderr: " + err)
                Expect.stringContains out "kind ctrnn, 3 inputs, 5 units, 2 outputs, dt 10, tau 50" "says what it imported"
                let code, out, _ = rnnfun [ "info"; "--model"; model ]
                Expect.equal code 0 "info on the import"
                Expect.stringContains out "3 excitatory, 2 inhibitory" "Dale's law from the params"
                let code, _, err = rnnfun [ "fixed-points"; "--model"; model; "--box"; "-2,2"; "--n-init"; "64"; "--quiet"; "--out"; Path.Combine(dir, "fps.json") ]
                Expect.equal code 0 ("fixed-points on the import; stderr: " + err)
                let pt = Path.Combine(dir, "back.pt")
                let code, out, err = rnnfun [ "export"; "--model"; model; "--out"; pt ]
                Expect.equal code 0 ("export exit code; stderr: " + err)
                Expect.stringContains out "back.params.json" "pyrnn's params beside it"
                use a = ModelFile.load model
                use b = TorchFile.importWith { TorchImportOptions.defaults TorchArchitecture.PyrnnCtrnn with Params = Some(Path.Combine(dir, "back.params.json")) } pt
                Expect.equal (Network.values b) (Network.values a) "the export holds the model's weights"
                let code, _, err = rnnfun [ "import"; "--from"; Path.Combine(fixtures, "gru.pt"); "--arch"; "gru"; "--out"; Path.Combine(dir, "gru.json") ]
                Expect.equal code 0 ("gru import; stderr: " + err)
                for args in [ [ "import"; "--from"; Path.Combine(fixtures, "errors", "rnn_two_layers.pt"); "--arch"; "rnn"; "--out"; Path.Combine(dir, "x.json") ]
                              [ "import"; "--from"; Path.Combine(fixtures, "errors", "gru_two_modules.pt"); "--arch"; "gru"; "--out"; Path.Combine(dir, "x.json") ]
                              [ "import"; "--from"; Path.Combine(fixtures, "gru.pt"); "--arch"; "ugrnn"; "--out"; Path.Combine(dir, "x.json") ]
                              [ "import"; "--from"; Path.Combine(fixtures, "rnn.pt"); "--arch"; "rnn"; "--nonlinearity"; "relu"; "--out"; Path.Combine(dir, "x.json") ]
                              [ "export"; "--model"; Path.Combine(dir, "gru.json"); "--layout"; "pyrnn"; "--out"; Path.Combine(dir, "x.pt") ] ] do
                    let code, _, err = rnnfun args
                    Expect.equal code 2 (sprintf "%A: exit code" args)
                    Expect.isTrue (oneLine err) (sprintf "%A: one line, got %s" args err)
                    Expect.stringStarts err "rnnfun: " "prefixed"
                Expect.isFalse (File.Exists(Path.Combine(dir, "x.json")) || File.Exists(Path.Combine(dir, "x.pt"))) "nothing written")
        }
        test "train --data and fixed-points --data: trials of your own; a bad file or size is one line, exit 2" {
            withTempDir (fun dir ->
                let trialsDir = Path.Combine(__SOURCE_DIRECTORY__, "..", "fixtures", "numpy", "trials")
                // A 2-bit flip-flop written as a file, with lengths: the CLI knows nothing of the task.
                let task = Tasks.flipFlop { FlipFlopConfig.defaults with Bits = 2; Time = 16 }
                let data = Trials.ofBatch (Some(Array.init 96 (fun i -> 10 + i % 7))) (task.Generate 96 3)
                let file = Path.Combine(dir, "trials.npz")
                TrialFile.save file data
                let model = Path.Combine(dir, "model.json")
                let code, out, err = rnnfun [ "train"; "--data"; file; "--validation-split"; "0.25"; "--units"; "12"; "--epochs"; "3"; "--quiet"; "--out"; model ]
                Expect.equal code 0 ("train exit code; stderr: " + err)
                Expect.stringContains out "completed after 3 epochs (6 steps" "72 training trials in batches of 64: 2 steps an epoch"
                Expect.stringContains out "best validation loss" "validated on the held-out quarter"
                use net = ModelFile.load model
                Expect.equal (net.Sizes.Inputs, net.Sizes.Units, net.Sizes.Outputs) (2, 12, 2) "sizes from the file and --units"
                let record = TrainingLogFile.load (RnnFun.Cli.Common.trainingLogPath model)
                Expect.equal (record.Task, record.ValidationLosses.Length) ("trials.npz", 3) "the log names the file"
                let code, _, err = rnnfun [ "train"; "--data"; file; "--validation"; file; "--kind"; "gru"; "--units"; "6"; "--epochs"; "1"; "--quiet"; "--out"; Path.Combine(dir, "gru.json") ]
                Expect.equal code 0 ("--validation FILE with a gru; stderr: " + err)
                let fps = Path.Combine(dir, "fps.json")
                let code, out, err = rnnfun [ "fixed-points"; "--model"; model; "--data"; file; "--n-init"; "32"; "--quiet"; "--out"; fps ]
                Expect.equal code 0 ("fixed-points exit code; stderr: " + err)
                Expect.stringContains out "from 32 initial states" "sampled from the file's trajectories"
                let code, _, err = rnnfun [ "fixed-points"; "--model"; model; "--data"; Path.Combine(trialsDir, "inputs_only.npy"); "--n-init"; "16"; "--quiet"; "--out"; fps ]
                Expect.equal code 0 ("a .npy of inputs; stderr: " + err)
                let refused =
                    [ [ "train"; "--data"; Path.Combine(trialsDir, "targets_time.npz"); "--out"; Path.Combine(dir, "x.json") ], "'targets' has shape (6, 7, 1)"
                      [ "train"; "--data"; Path.Combine(trialsDir, "nan_inputs.npz"); "--out"; Path.Combine(dir, "x.json") ], "NaN"
                      [ "train"; "--data"; Path.Combine(trialsDir, "empty.npz"); "--out"; Path.Combine(dir, "x.json") ], "the file is empty"
                      [ "train"; "--data"; Path.Combine(trialsDir, "inputs_only.npy"); "--out"; Path.Combine(dir, "x.json") ], "training needs targets"
                      [ "train"; "--data"; file; "--validation"; Path.Combine(trialsDir, "good.npz"); "--out"; Path.Combine(dir, "x.json") ], "--validation:"
                      [ "train"; "--data"; file; "--validation-split"; "1.5"; "--out"; Path.Combine(dir, "x.json") ], "--validation-split: expected a fraction"
                      [ "train"; "--data"; file; "--task"; "flipflop"; "--out"; Path.Combine(dir, "x.json") ], "give one of them"
                      [ "train"; "--data"; file; "--seq-len"; "8"; "--out"; Path.Combine(dir, "x.json") ], "--seq-len does not apply"
                      [ "train"; "--out"; Path.Combine(dir, "x.json") ], "--task or --data"
                      [ "fixed-points"; "--model"; model; "--data"; file; "--box"; "-1,1"; "--out"; Path.Combine(dir, "x.json") ], "give one of them" ]
                for args, fragment in refused do
                    let code, _, err = rnnfun args
                    Expect.equal code 2 (sprintf "%A: exit code" args)
                    Expect.isTrue (oneLine err) (sprintf "%A: one line, got %s" args err)
                    Expect.stringContains err fragment (sprintf "%A: the sentence" args)
                use wide = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 3; Units = 4; OutputSize = 2 }
                let wideModel = Path.Combine(dir, "wide.json")
                ModelFile.save wideModel wide
                let code, _, err = rnnfun [ "fixed-points"; "--model"; wideModel; "--data"; file; "--out"; Path.Combine(dir, "x.json") ]
                Expect.equal code 2 "sizes that do not match --model"
                Expect.stringContains err "has 2 inputs per step but the model has 3" "says both sizes"
                Expect.isFalse (File.Exists(Path.Combine(dir, "x.json"))) "nothing written")
        }
        test "compare: distance matrices of three models with the topology; the file loads back; mistakes are one line" {
            let dir = Path.Combine(Path.GetTempPath(), "rnnfun-cli-" + Guid.NewGuid().ToString("N"))
            try
                Directory.CreateDirectory dir |> ignore
                let save name kind units seed =
                    let path = Path.Combine(dir, name)
                    use net = Network.create kind { NetworkConfig.defaults with InputSize = 3; Units = units; OutputSize = 3; Seed = seed }
                    ModelFile.save path net
                    path
                let a, b = save "a.json" Kinds.rnn 8 1L, save "b.json" Kinds.gru 6 2L
                let out = Path.Combine(dir, "cmp.json")
                let code, stdout, err = rnnfun [ "compare"; "-m"; a; "-m"; b; "-m"; a; "--trials"; "4"; "--rank"; "4"; "--with-topology"; "--n-init"; "64"; "--out"; out ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                for fragment in [ "compared 3 models on 4 trials"; "SVCCA distance"; "Procrustes shape distance"; "dynamical distance"; "isomorphic topologies: "; "a.json ~ a.json" ] do
                    Expect.stringContains stdout fragment fragment
                let c = ComparisonFile.load out
                Expect.equal c.Names [| "a.json"; "b.json"; "a.json" |] "names"
                Expect.isLessThan (c.Procrustes[0][2]) 1e-6 "a model and itself"
                Expect.isGreaterThan (c.Procrustes[0][1]) 1e-3 "two models"
                Expect.isTrue (c.Isomorphic[0][2]) "a topology is isomorphic to itself"
                Expect.equal (c.Embeddings |> Map.keys |> List.ofSeq) [ "dynamics"; "procrustes"; "svcca"; "topology" ] "embeddings"
                use wide = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 2; Units = 4; OutputSize = 2 }
                let widePath = Path.Combine(dir, "wide.json")
                ModelFile.save widePath wide
                for args, fragment in
                    [ [ "compare"; "-m"; a; "--out"; out ], "at least two models"
                      [ "compare"; "-m"; a; "-m"; widePath; "--out"; out ], "need the same inputs"
                      [ "compare"; "-m"; a; "-m"; b; "--delays"; "0"; "--out"; out ], "--delays"
                      [ "compare"; "-m"; a; "-m"; b; "--task"; "chess"; "--out"; out ], "--task" ] do
                    let code, _, err = rnnfun args
                    Expect.equal code 2 (sprintf "%A: exit code" args)
                    Expect.isTrue (oneLine err) (sprintf "%A: one line, got %s" args err)
                    Expect.stringContains err fragment (sprintf "%A: the sentence" args)
            finally
                if Directory.Exists dir then Directory.Delete(dir, true)
        }
        test "multitask: the battery's analysis of a briefly trained network as JSON; a model of other sizes exits 2" {
            let dir = Path.Combine(Path.GetTempPath(), "rnnfun-cli-" + Guid.NewGuid().ToString("N"))
            Directory.CreateDirectory dir |> ignore
            try
                let model, analysis = Path.Combine(dir, "battery.json"), Path.Combine(dir, "analysis.json")
                let code, out, err = rnnfun [ "train"; "--task"; "yang-battery-small"; "--units"; "16"; "--epochs"; "1"; "--quiet"; "--out"; model ]
                Expect.equal code 0 (sprintf "train (stderr %s)" err)
                Expect.stringContains out "correct over the 20 tasks on 64 held-out trials each" "train prints the battery's accuracy"
                let code, out, err = rnnfun [ "multitask"; "--model"; model; "--trials"; "4"; "--out"; analysis ]
                Expect.equal code 0 (sprintf "multitask (stderr %s)" err)
                Expect.stringContains out "correct over 20 tasks" "the summary line"
                Expect.stringContains out "contextdelaydm1" "the table of tasks"
                use doc = Text.Json.JsonDocument.Parse(File.ReadAllText analysis)
                let root = doc.RootElement
                Expect.equal (root.GetProperty("format").GetString()) "rnnfun.multitask" "the format"
                Expect.equal (root.GetProperty("accuracy").GetArrayLength()) 20 "an accuracy per task"
                Expect.equal (root.GetProperty("ftv").GetArrayLength()) 190 "the FTV of every pair of tasks"
                Expect.equal (root.GetProperty("lesions").GetArrayLength()) (root.GetProperty("clusters").GetProperty("k").GetInt32()) "a lesion per cluster"
                let other = Path.Combine(dir, "w2i.json")
                use net = Network.scaledIdentity Kinds.rnn 3 2.0
                ModelFile.save other net
                let code, _, err = rnnfun [ "multitask"; "--model"; other ]
                Expect.equal code 2 "a model of other sizes"
                Expect.isTrue (oneLine err) (sprintf "one line: %s" err)
                Expect.stringContains err "85 inputs and 33 outputs" "says the battery's sizes"
            finally
                if Directory.Exists dir then Directory.Delete(dir, true)
        }
    ]
