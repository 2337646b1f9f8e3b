module RnnFun.Tests.SweepTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open RnnFun

/// A tiny sweep config: `kinds` x `seeds`, 8 units, 2 epochs of 64 trials of T = 16, a small analysis.
let private tinyConfig (kinds: string list) (seeds: int list) (extra: string) =
    let list (xs: string list) = "[" + String.Join(", ", xs) + "]"
    sprintf """{ "format": "rnnfun.sweep", "version": 1, "name": "tiny",
  "grid": { "kind": %s, "seed": %s, "units": 8, "epochs": 2, "sequence_length": 16, "trials_per_epoch": 64 }%s,
  "analysis": { "initial_states": 32, "runs_per_point": 4, "comparison_trials": 8 } }"""
        (list (kinds |> List.map (sprintf "\"%s\""))) (list (seeds |> List.map string)) extra

let private write (dir: string) (name: string) (text: string) =
    let path = Path.Combine(dir, name)
    File.WriteAllText(path, text)
    path

let private swap (find: string) (replace: string) (text: string) = replaceOnce text find replace

let private ids (c: SweepConfig) = c.Members |> Array.map (Sweep.memberId c.Analysis)

/// The error a config's text raises when loaded (`FileFormatError` problem text).
let private loadError (text: string) =
    withTextFile "sweep.json" text (fun path -> snd (expectFileError (fun () -> Sweep.load path) "a bad sweep config"))

let private repoRoot () =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then failwith "no repository root above the test binaries"
        elif File.Exists(Path.Combine(dir.FullName, "RnnFun.sln")) then dir.FullName
        else up dir.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// Runs a script with RNNFUN_SLURM_STATE set to `state`; (exit code, stdout + stderr).
let private bash (state: string) (script: string) =
    let info = Diagnostics.ProcessStartInfo("bash", [ script ], RedirectStandardOutput = true, RedirectStandardError = true)
    info.Environment["RNNFUN_SLURM_STATE"] <- state
    use p = Diagnostics.Process.Start info
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    p.WaitForExit()
    p.ExitCode, out.Result + err.Result

/// Three rnn members that differ in seed, learning rate, noise and epochs (one batched group), and a
/// gru (alone): 16 units, T = 16, 64 trials per epoch in batches of 32, a small analysis.
let private batchConfig (extra: string) =
    let common = "\"units\": 16, \"sequence_length\": 16, \"trials_per_epoch\": 64, \"batch_size\": 32"
    sprintf """{ "format": "rnnfun.sweep", "version": 1, "name": "batched"%s,
  "members": [
    { "kind": "rnn", "seed": 0, "learning_rate": 0.01, "epochs": 3, %s },
    { "kind": "rnn", "seed": 1, "learning_rate": 0.003, "epochs": 3, %s },
    { "kind": "rnn", "seed": 2, "learning_rate": 0.01, "recurrent_noise": 0.05, "epochs": 2, %s },
    { "kind": "gru", "seed": 0, "epochs": 2, %s } ],
  "analysis": { "initial_states": 32, "runs_per_point": 4, "comparison_trials": 8 } }""" extra common common common common

let private lines (log: Collections.Generic.List<string>) (text: string) = log |> Seq.filter (fun l -> l.Contains text) |> List.ofSeq

/// Runs rnnfun with a stand-in sbatch first on PATH that records its arguments (in DIR/sbatch-args) and
/// refuses the job as sbatch does: (exit code, stdout, stderr).
let private withFakeSbatch (dir: string) (args: string list) =
    let bin = Path.Combine(dir, "bin")
    Directory.CreateDirectory bin |> ignore
    let record = Path.Combine(dir, "sbatch-args")
    let fake = write bin "sbatch" (sprintf "#!/bin/sh\nprintf '%%s\\n' \"$@\" > '%s'\necho 'sbatch: error: resolving the controller' >&2\necho 'sbatch: error: Batch job submission failed: Invalid partition name specified' >&2\nexit 1\n" record)
    File.SetUnixFileMode(fake, UnixFileMode.UserRead ||| UnixFileMode.UserWrite ||| UnixFileMode.UserExecute)
    let oldPath = Environment.GetEnvironmentVariable "PATH"
    Environment.SetEnvironmentVariable("PATH", bin + ":" + oldPath)
    try rnnfun args
    finally Environment.SetEnvironmentVariable("PATH", oldPath)

/// The member a property varies: every setting drawn.
let private memberGen =
    gen {
        let! kind = Gen.elements [ "rnn"; "gru"; "lstm" ]
        let! seed = Gen.choose (0, 5)
        let! units = Gen.elements [ None; Some 8; Some 16 ]
        let! lr = Gen.elements [ None; Some 1e-2; Some 3e-3 ]
        let! epochs = Gen.elements [ None; Some 2; Some 3 ]
        let! noise = Gen.elements [ None; Some 0.0; Some 0.05 ]
        return { SweepMember.defaults with Kind = kind; Seed = seed; Units = units; LearningRate = lr; Epochs = epochs; RecurrentNoise = noise }
    }

[<Tests>]
let tests =
    testList "Sweep" [
        testList "ids" [
            test "a grid with its keys and values reordered gives the same members, the same ids" {
                let a = Sweep.parse "." (tinyConfig [ "rnn"; "gru" ] [ 0; 1 ] "")
                let b =
                    Sweep.parse "." """{ "format": "rnnfun.sweep", "version": 1, "name": "tiny",
                      "analysis": { "comparison_trials": 8, "runs_per_point": 4, "initial_states": 32 },
                      "grid": { "trials_per_epoch": 64, "sequence_length": 16, "seed": [1, 0], "epochs": 2, "kind": ["gru", "rnn"], "units": 8 } }"""
                Expect.equal (Set.ofArray (ids a)) (Set.ofArray (ids b)) "the same ids"
                Expect.equal (ids a).Length 4 "4 members"
                Expect.notEqual (ids a) (ids b) "in another order"
            }
            test "a member listed explicitly has the id of the same member in a grid" {
                let grid = Sweep.parse "." (tinyConfig [ "rnn" ] [ 0; 1 ] "")
                let listed =
                    Sweep.parse "." """{ "format": "rnnfun.sweep", "version": 1,
                      "members": [ { "seed": 1, "kind": "rnn", "units": 8, "epochs": 2, "sequence_length": 16, "trials_per_epoch": 64 } ],
                      "analysis": { "initial_states": 32, "runs_per_point": 4 } }"""
                Expect.equal ((ids listed)[0]) ((ids grid)[1]) "seed 1's id"
            }
            testProp "the id is a function of the settings: equal settings, equal ids; any change, another id" (fun () ->
                Prop.forAll (Arb.fromGen (Gen.two memberGen)) (fun (a, b) ->
                    let ia, ib = Sweep.memberId SweepAnalysis.defaults a, Sweep.memberId SweepAnalysis.defaults b
                    (ia = ib) = (Sweep.settings a = Sweep.settings b)))
            test "the committed example config is the flipflop-kinds preset: the same members, the same ids" {
                let example = Sweep.load (Path.Combine(repoRoot (), "scripts", "sweeps", "flipflop-kinds.json"))
                let preset = Sweep.flipFlopKinds false
                Expect.equal (Set.ofArray (ids example)) (Set.ofArray (ids preset)) "the same ids"
                Expect.equal example.Analysis preset.Analysis "the same analysis"
            }
            test "the analysis settings that shape a member's files change its id; the comparison's do not" {
                let m = { SweepMember.defaults with Kind = "gru" }
                let id (a: SweepAnalysis) = Sweep.memberId a m
                let d = SweepAnalysis.defaults
                Expect.notEqual (id { d with InitialStates = 64 }) (id d) "initial states"
                Expect.notEqual (id { d with RunsPerPoint = 8 }) (id d) "runs per point"
                Expect.equal (id { d with ComparisonTrials = 5; ComparisonSeed = 1 }) (id d) "comparison trials"
                Expect.stringStarts (id d) "gru-flipflop-s0-" "readable prefix"
            }
        ]

        testList "validation" [
            for name, text, expected in
                [ "unknown key", swap "\"units\"" "\"unit\"" (tinyConfig [ "rnn" ] [ 0; 1 ] ""), "grid: unknown key 'unit'"
                  "unknown kind", tinyConfig [ "rnn"; "vanilla" ] [ 0 ] "", "unknown kind 'vanilla'"
                  "unknown task", swap "\"units\": 8" "\"task\": \"flopflip\", \"units\": 8" (tinyConfig [ "rnn" ] [ 0; 1 ] ""), "unknown task 'flopflip'"
                  "empty grid list", tinyConfig [ "rnn" ] [] "", "grid.seed: an empty list gives a grid with no members"
                  "neither grid nor members", """{ "format": "rnnfun.sweep", "version": 1 }""", "give a grid"
                  "two tasks", swap "\"units\": 8" "\"task\": [\"flipflop\", \"sine\"], \"units\": 8" (tinyConfig [ "rnn" ] [ 0 ] ""), "all its members train on one task"
                  "duplicate members", tinyConfig [ "rnn" ] [ 0 ] ", \"members\": [ { \"kind\": \"rnn\", \"seed\": 0, \"units\": 8, \"epochs\": 2, \"sequence_length\": 16, \"trials_per_epoch\": 64 } ]", "have the same settings"
                  "negative units", swap "\"units\": 8" "\"units\": -3" (tinyConfig [ "rnn" ] [ 0; 1 ] ""), "units: expected a positive integer, got -3"
                  "a wrong type", swap "\"epochs\": 2" "\"epochs\": \"two\"" (tinyConfig [ "rnn" ] [ 0; 1 ] ""), "epochs: expected an integer"
                  "sequence length of a fixed-length task", swap "\"units\": 8" "\"task\": \"go-no-go\", \"units\": 8" (tinyConfig [ "gru" ] [ 0; 1 ] ""), "has its own trial length"
                  "task and data", tinyConfig [ "rnn" ] [ 0 ] ", \"members\": [ { \"task\": \"flipflop\", \"data\": \"x.npz\" } ]", "give task or data, not both"
                  "batched of a wrong type", tinyConfig [ "rnn" ] [ 0; 1 ] ", \"batched\": \"yes\"", "batched: expected true or false, got \"yes\""
                  "unknown analysis key", swap "\"initial_states\"" "\"n_init\"" (tinyConfig [ "rnn" ] [ 0; 1 ] ""), "analysis: unknown key 'n_init'" ] ->
                test name {
                    let problem = loadError text
                    Expect.stringContains problem expected "the message says what is wrong"
                    Expect.isFalse (problem.Contains "\n") "one line"
                }
            testSequenced <| test "rnnfun sweep: a bad config is one line on stderr and exit code 2" {
                withTempDir (fun dir ->
                    let path = write dir "bad.json" (tinyConfig [ "rnn"; "vanilla" ] [ 0 ] "")
                    let code, _, err = rnnfun [ "sweep"; "--config"; path; "--out"; Path.Combine(dir, "out") ]
                    Expect.equal code 2 "exit code"
                    Expect.stringContains err "unknown kind 'vanilla'" "the message"
                    Expect.equal (err.Trim().Split('\n').Length) 1 "one line"
                    let code, _, err = rnnfun [ "sweep"; "--preset"; "flipflop-kind"; "--out"; Path.Combine(dir, "out") ]
                    Expect.equal code 2 "unknown preset"
                    Expect.stringContains err "unknown sweep preset 'flipflop-kind'" "the message"
                    let code, _, err = rnnfun [ "sweep"; "--config"; path; "--out"; Path.Combine(dir, "out"); "--partition"; "gpu" ]
                    Expect.equal code 2 "a Slurm option without --engine slurm"
                    Expect.stringContains err "--partition applies to --engine slurm only" "the message")
            }
        ]

        testSequenced <| test "Slurm without a cluster: the options reach the script and sbatch, and sbatch's refusal is one line, exit code 2" {
            withTempDir (fun dir ->
                let path = write dir "c.json" (tinyConfig [ "rnn"; "gru" ] [ 0 ] "")
                let out = Path.Combine(dir, "out")
                let args = Path.Combine(dir, "sbatch-args")
                let code, _, err =
                    withFakeSbatch dir [ "sweep"; "--config"; path; "--out"; out; "--engine"; "slurm"; "--partition"; "nope"; "--time"; "01:00:00"; "--mem"; "4G"; "--cpus-per-task"; "2"; "--sbatch-arg=--account=lab"; "--sbatch-arg=--qos=short" ]
                Expect.equal code 2 "exit code 2"
                Expect.equal (err.Trim()) "rnnfun: slurm: sbatch refused the job (exit code 1): sbatch: error: Batch job submission failed: Invalid partition name specified" "sbatch's reason, one line"
                let script = File.ReadAllText(Path.Combine(out, "slurm", "sweep.sbatch"))
                for line in [ "#SBATCH --partition=nope"; "#SBATCH --time=01:00:00"; "#SBATCH --mem=4G"; "#SBATCH --cpus-per-task=2"
                              sprintf "#SBATCH --output=%s" (Path.Combine(Path.GetFullPath out, "slurm", "member-%a.out"))
                              "--member-index \"$SLURM_ARRAY_TASK_ID\"" ] do
                    Expect.stringContains script line line
                Expect.stringContains script (sprintf "'%s'" (Path.Combine(Path.GetFullPath out, "sweep.json"))) "the absolute sweep.json"
                let given = File.ReadAllLines args
                Expect.equal given [| "--parsable"; "--array=0,1"; "--account=lab"; "--qos=short"; Path.Combine(Path.GetFullPath out, "slurm", "sweep.sbatch") |] "sbatch's arguments")
        }

        testSequenced <| test "resume: a finished member is skipped, exactly the member without its marker reruns, a half-written one is redone, an added one alone trains" {
            withTempDir (fun dir ->
                let config = Sweep.parse dir (tinyConfig [ "rnn"; "gru" ] [ 0 ] "")
                let out = Path.Combine(dir, "out")
                let lines = Collections.Generic.List<string>()
                let hooks = { SweepHooks.none with Log = lines.Add }
                let first = Sweep.run hooks config out
                Expect.equal first.Members.Length 2 "both members finished"
                let idA, idB = first.Members[0].Id, first.Members[1].Id
                let model id = Path.Combine(Sweep.memberDir out id, "model.json")
                let stamp id = File.GetLastWriteTimeUtc(model id)
                // Stamps set far in the past: a rerun that rewrote a file could not leave them so.
                let old = DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc)
                for id in [ idA; idB ] do File.SetLastWriteTimeUtc(model id, old)
                File.Delete(Path.Combine(Sweep.memberDir out idB, "done"))
                File.WriteAllText(Path.Combine(Sweep.memberDir out idB, "partial.tmp"), "left by a killed run")
                lines.Clear()
                let second = Sweep.run hooks config out
                let trained = lines |> Seq.filter (fun l -> l.Contains ": training") |> List.ofSeq
                let skipped = lines |> Seq.filter (fun l -> l.Contains "skipped") |> List.ofSeq
                Expect.equal trained.Length 1 "one member trained again"
                Expect.stringContains trained.Head idB "the one without its marker"
                Expect.equal skipped.Length 1 "the other skipped"
                Expect.stringContains skipped.Head idA "the finished one"
                Expect.equal (stamp idA) old "the finished member's model is untouched"
                Expect.isGreaterThan (stamp idB) old "the redone member's model is new"
                Expect.isFalse (File.Exists(Path.Combine(Sweep.memberDir out idB, "partial.tmp"))) "the half-written folder was emptied"
                Expect.equal second.Members.Length 2 "both members in the summary"
                // The config in another order: nothing reruns.
                let reordered = { config with Members = Array.rev config.Members }
                lines.Clear()
                Sweep.run hooks reordered out |> ignore
                Expect.isEmpty (lines |> Seq.filter (fun l -> l.Contains ": training") |> List.ofSeq) "reordering reruns nothing"
                // A member added to the config: only it trains, and the comparison takes the three.
                let extended = { config with Members = Array.append config.Members [| { config.Members[0] with Seed = 1 } |] }
                lines.Clear()
                let third = Sweep.run hooks extended out
                let trained = lines |> Seq.filter (fun l -> l.Contains ": training") |> List.ofSeq
                Expect.equal trained.Length 1 "only the added member trains"
                Expect.stringContains trained.Head (Sweep.memberId config.Analysis extended.Members[2]) "the added one"
                Expect.equal third.Comparison.Value.Names.Length 3 "three compared")
        }

        testSequenced <| test "members trained on a trial file: trained on its trials, analysed, compared on its inputs" {
            withTempDir (fun dir ->
                let batch = (Presets.flipFlop 0 |> Presets.withSequenceLength 16).Task.Generate 40 7
                TrialFile.save (Path.Combine(dir, "trials.npz")) (Trials.ofBatch None batch)
                let path =
                    write dir "c.json" """{ "format": "rnnfun.sweep", "version": 1,
                      "grid": { "data": "trials.npz", "kind": ["rnn", "gru"], "units": 8, "epochs": 2 },
                      "analysis": { "initial_states": 32, "runs_per_point": 4, "comparison_trials": 8 } }"""
                let config = Sweep.load path
                Expect.equal config.Members[0].Data (Some(Path.Combine(dir, "trials.npz"))) "the data path, from the config's folder"
                Expect.isNone config.Members[0].Task "no task"
                let out = Path.Combine(dir, "out")
                let s = Sweep.run SweepHooks.none config out
                Expect.equal s.Members.Length 2 "both trained"
                Expect.isNone s.Members[0].FlipFlop "no flip-flop structure for a trial file"
                Expect.equal s.Comparison.Value.Names.Length 2 "compared"
                let log = TrainingLogFile.load (Path.Combine(Sweep.memberDir out s.Members[0].Id, "training-log.json"))
                Expect.equal log.Task "trials.npz" "trained on the file"
                Expect.equal log.Losses.Length 2 "its 2 epochs"
                Expect.stringStarts s.Members[0].Id "rnn-trials-s0-" "the id names the file")
        }

        testSequenced <| test "rnnfun sweep: a failing member is reported with its reason, the others are compared, exit code 1" {
            withTempDir (fun dir ->
                // 400,000 units cannot be allocated on a test machine: that member fails with InsufficientMemory.
                let members = ", \"members\": [ { \"kind\": \"rnn\", \"seed\": 0, \"units\": 400000, \"epochs\": 1, \"sequence_length\": 16, \"trials_per_epoch\": 64 } ]"
                let path = write dir "c.json" (tinyConfig [ "rnn" ] [ 0; 1 ] members)
                let config = Sweep.load path
                let out = Path.Combine(dir, "out")
                let code, stdout, _ = rnnfun [ "sweep"; "--config"; path; "--out"; out ]
                Expect.equal code 1 "exit code 1: a member failed"
                let failedId = Sweep.memberId config.Analysis config.Members[2]
                let error = Path.Combine(Sweep.memberDir out failedId, "error.txt")
                Expect.isTrue (File.Exists error) "the failed member's error.txt"
                Expect.stringContains (File.ReadAllText error) "memory" "its reason"
                Expect.isFalse (File.Exists(Path.Combine(Sweep.memberDir out failedId, "done"))) "no marker"
                Expect.stringContains stdout (failedId + ": failed") "the summary names it"
                let comparison = ComparisonFile.load (Path.Combine(out, "comparison.json"))
                Expect.equal comparison.Names.Length 2 "the two others compared"
                Expect.isTrue (File.Exists(Path.Combine(out, "report.html"))) "the report")
        }

        testSequenced <| test "rnnfun sweep --preset flipflop-kinds --quick: every output of the sweep, in structure (too little training for the science)" {
            withTempDir (fun dir ->
                let out = Path.Combine(dir, "out")
                let code, stdout, err = rnnfun [ "sweep"; "--preset"; "flipflop-kinds"; "--quick"; "--out"; out; "--quiet" ]
                Expect.equal code 0 (sprintf "exit code (stderr: %s)" err)
                let config = Sweep.load (Path.Combine(out, "sweep.json"))
                Expect.equal config.Members.Length 6 "rnn, gru and lstm x 2 seeds"
                Expect.equal (config.Members |> Array.map (fun m -> m.Kind) |> Array.distinct) [| "rnn"; "gru"; "lstm" |] "the three kinds"
                for m in config.Members do
                    let folder = Sweep.memberDir out (Sweep.memberId config.Analysis m)
                    for file in [ "model.json"; "training-log.json"; "fixed-points.json"; "done" ] do
                        Expect.isTrue (File.Exists(Path.Combine(folder, file))) (sprintf "%s of %s" file m.Kind)
                    let record = (Sweep.tryLoadRecord out (Sweep.memberId config.Analysis m)).Value
                    let points = FixedPointFile.load (Path.Combine(folder, "fixed-points.json"))
                    Expect.equal record.FixedPoints points.Length "the record counts the saved points"
                    Expect.equal record.Attractors (points |> Array.filter (fun p -> p.Kind = FixedPointKind.Attractor) |> Array.length) "and their attractors"
                    Expect.equal (Array.sum record.ByUnstableModes) points.Length "the histogram sums to the points"
                    let f = record.FlipFlop.Value
                    Expect.equal f.Attractors record.Attractors "the flip-flop structure counts the same attractors"
                    Expect.isLessThanOrEqual f.ConnectedPairs f.OneBitPairs "connected pairs are among the one-bit pairs"
                    Expect.isLessThanOrEqual f.Patterns (min 8 f.Attractors) "patterns"
                let c = ComparisonFile.load (Path.Combine(out, "comparison.json"))
                Expect.equal c.Names.Length 6 "6 x 6"
                for m in [ c.Svcca; c.Procrustes; c.Dynamics; c.Topology ] do
                    Expect.equal m.Length 6 "rows"
                    for i in 0 .. 5 do Expect.equal (m[i][i]) 0.0 "zero self-distance"
                Expect.stringContains stdout "SVCCA distance: mean" "the SVCCA means within and between kinds"
                Expect.stringContains stdout "within a kind" "within"
                Expect.stringContains stdout "one-bit-apart pairs joined by a saddle" "each network's connections"
                Expect.stringContains stdout (sprintf "flip-flop: %d of 6 networks have the full cube" (config.Members |> Array.filter (fun m -> (Sweep.tryLoadRecord out (Sweep.memberId config.Analysis m)).Value.FlipFlop.Value.Complete) |> Array.length)) "how many have the full cube"
                let summary = File.ReadAllText(Path.Combine(out, "summary.json"))
                for key in [ "svcca_within_kind"; "svcca_between_kinds"; "connected_pairs"; "flipflop_complete" ] do
                    Expect.stringContains summary key key
                let html = File.ReadAllText(Path.Combine(out, "report.html"))
                // Offline: plotly.js inline (it names URLs in its own strings); outside it, no URL, no script source.
                let outside = html.Replace(RnnFun.Plotting.Report.plotlyJs().Replace("</script", "<\\/script"), "")
                Expect.isLessThan outside.Length (html.Length - 3_000_000) "plotly.js is inside"
                for bad in [ "<script src"; "<link"; "http://"; "https://" ] do
                    Expect.isFalse (outside.Contains(bad, StringComparison.OrdinalIgnoreCase)) (sprintf "no %s outside plotly.js" bad)
                for title in RnnFun.Plotting.PopulationReport.sectionTitles do Expect.stringContains html title title
                // 4 heatmaps, 4 MDS (kind; only the seed varies besides) x 2 colourings, the counts, 6 graphs.
                let figures = Text.RegularExpressions.Regex.Matches(outside, "Plotly.newPlot\\('rnnfun-population-").Count
                Expect.equal figures (4 + 4 * 2 + 1 + 6) "figures"
                Expect.stringContains html "Coloured by seed" "MDS coloured by the varied seed")
        }

        testList "batched" [
            test "batched is off unless the config or the flag says so, is saved only when on, and leaves the ids alone" {
                let off = Sweep.parse "." (batchConfig "")
                let on = Sweep.parse "." (batchConfig ", \"batched\": true")
                Expect.isFalse off.Batched "off by default"
                Expect.isTrue on.Batched "on"
                Expect.equal (ids on) (ids off) "the same ids"
                withTempDir (fun dir ->
                    let path = Path.Combine(dir, "s.json")
                    Sweep.save path on
                    Expect.isTrue (Sweep.load path).Batched "saved on"
                    Sweep.save path off
                    Expect.isFalse (File.ReadAllText(path).Contains "\"batched\":") "not written when off")
            }
            test "batchGroups: the members that share a shape together, the others alone, in order" {
                let c = Sweep.parse "." (batchConfig "")
                Expect.equal (Sweep.batchGroups c [| 0; 1; 2; 3 |]) [| [| 0; 1; 2 |]; [| 3 |] |] "the three rnn, then the gru"
                Expect.equal (Sweep.batchGroups c [| 3; 2; 0 |]) [| [| 3 |]; [| 2; 0 |] |] "only the members given"
                let other = { c with Members = Array.append c.Members [| { c.Members[0] with Seed = 5; Units = Some 8 }; { c.Members[0] with Seed = 6; BatchSize = Some 16 }; { c.Members[0] with Seed = 7; TrialsPerEpoch = Some 128 }; { c.Members[0] with Seed = 8; SequenceLength = Some 32 } |] }
                Expect.equal (Sweep.batchGroups other [| 0 .. 7 |]) [| [| 0; 1; 2 |]; [| 3 |]; [| 4 |]; [| 5 |]; [| 6 |]; [| 7 |] |] "another size, batch, data or length: alone"
                withTempDir (fun dir ->
                    let batch = (Presets.flipFlop 0 |> Presets.withSequenceLength 16).Task.Generate 20 7
                    TrialFile.save (Path.Combine(dir, "trials.npz")) (Trials.ofBatch None batch)
                    let data = Sweep.parse dir """{ "format": "rnnfun.sweep", "version": 1, "grid": { "data": "trials.npz", "kind": "rnn", "seed": [0, 1], "units": 8 } }"""
                    Expect.equal (Sweep.batchGroups data [| 0; 1 |]) [| [| 0 |]; [| 1 |] |] "data members: alone")
            }
            testSequenced <| test "a batched sweep trains the same networks as one by one, logs one group of 3, and resumes by regrouping what is left" {
                withTempDir (fun dir ->
                    let config = Sweep.parse dir (batchConfig "")
                    let log = Collections.Generic.List<string>()
                    let hooks = { SweepHooks.none with Log = log.Add }
                    let plainDir, batchedDir = Path.Combine(dir, "plain"), Path.Combine(dir, "batched")
                    let plain = Sweep.run hooks config plainDir
                    Expect.isEmpty (lines log "batched group") "no group when off"
                    log.Clear()
                    let batched = Sweep.run hooks { config with Batched = true } batchedDir
                    let groups = lines log "batched group"
                    Expect.equal groups.Length 1 "one group"
                    Expect.stringContains groups.Head "batched group of 3 (rnn, task flipflop; members 1, 2, 3)" "the three rnn members"
                    Expect.equal (lines log ": training").Length 4 "each member trained once"
                    Expect.equal batched.Members.Length 4 "all finished"
                    let model (folder: string) (r: SweepMemberRecord) = ModelFile.load (Path.Combine(Sweep.memberDir folder r.Id, "model.json"))
                    for p, b in Array.zip plain.Members batched.Members do
                        Expect.equal b.Id p.Id "the same member"
                        Expect.isLessThan (abs (b.ValidationMse - p.ValidationMse) / p.ValidationMse) 1e-4 (sprintf "%s: validation MSE %g batched, %g alone" p.Id b.ValidationMse p.ValidationMse)
                        Expect.equal b.Epochs p.Epochs (p.Id + ": epochs")
                        use x = model plainDir p
                        use y = model batchedDir b
                        let d = weightDistance x y
                        Expect.isLessThan d 1e-5 (sprintf "%s: weights differ by %g" p.Id d)
                        Expect.equal (b.FixedPoints, b.Attractors, b.Saddles, b.ByUnstableModes) (p.FixedPoints, p.Attractors, p.Saddles, p.ByUnstableModes) (p.Id + ": fixed points")
                        for file in [ "training-log.json"; "fixed-points.json"; "done" ] do
                            Expect.isTrue (File.Exists(Path.Combine(Sweep.memberDir batchedDir b.Id, file))) (sprintf "%s: %s" b.Id file)
                    // Resume with two of the group's folders gone: those two, regrouped, are all that trains.
                    let gone = [ batched.Members[0].Id; batched.Members[2].Id ]
                    for id in gone do Directory.Delete(Sweep.memberDir batchedDir id, true)
                    log.Clear()
                    let resumed = Sweep.run hooks { config with Batched = true } batchedDir
                    let trained = lines log ": training"
                    Expect.equal trained.Length 2 "two members trained again"
                    for id in gone do Expect.isTrue (trained |> List.exists (fun l -> l.Contains id)) (id + " retrained")
                    Expect.equal (lines log "skipped").Length 2 "the others skipped"
                    Expect.stringContains (lines log "batched group").Head "batched group of 2 (rnn, task flipflop; members 1, 3)" "regrouped from what was left"
                    Expect.equal resumed.Members.Length 4 "all four in the summary"
                    for r in resumed.Members do
                        let before = plain.Members |> Array.find (fun p -> p.Id = r.Id)
                        Expect.isLessThan (abs (r.ValidationMse - before.ValidationMse) / before.ValidationMse) 1e-4 (r.Id + ": the same after resuming"))
            }
            testSequenced <| test "a batched group that throws falls back to one by one: logged, each member recorded alone, the others finish" {
                withTempDir (fun dir ->
                    // 400,000 units cannot be allocated on a test machine: the group of two fails, then each alone.
                    let huge = ", \"members\": [ { \"kind\": \"rnn\", \"seed\": 5, \"units\": 400000, \"epochs\": 1, \"sequence_length\": 16, \"trials_per_epoch\": 64 }, { \"kind\": \"rnn\", \"seed\": 6, \"units\": 400000, \"epochs\": 1, \"sequence_length\": 16, \"trials_per_epoch\": 64 } ], \"batched\": true"
                    let config = Sweep.parse dir (tinyConfig [ "rnn" ] [ 0; 1 ] huge)
                    let log = Collections.Generic.List<string>()
                    let s = Sweep.run { SweepHooks.none with Log = log.Add } config (Path.Combine(dir, "out"))
                    Expect.equal (lines log "as one program").Length 3 "two groups of two (the 8-unit pair, the huge pair) and the huge pair's fall-back"
                    Expect.equal (lines log "failed: ").Length 2 "the huge members failed alone, one line each"
                    Expect.equal (lines log "so each trains alone").Length 1 "the fall-back is logged"
                    Expect.equal s.Members.Length 2 "the 8-unit members finished"
                    Expect.equal s.Failed.Length 2 "the huge ones are failed"
                    for id, _ in s.Failed do
                        Expect.isTrue (File.Exists(Path.Combine(Sweep.memberDir (Path.Combine(dir, "out")) id, "error.txt"))) (id + ": error.txt"))
            }
            testSequenced <| test "Slurm, batched: one array task per group, each running its group's members" {
                withTempDir (fun dir ->
                    let path = write dir "c.json" (tinyConfig [ "rnn"; "gru" ] [ 0; 1 ] "")
                    let out = Path.Combine(dir, "out")
                    let args = Path.Combine(dir, "sbatch-args")
                    let code, _, _ = withFakeSbatch dir [ "sweep"; "--config"; path; "--out"; out; "--engine"; "slurm"; "--batched" ]
                    Expect.equal code 2 "sbatch refused"
                    let script = File.ReadAllText(Path.Combine(out, "slurm", "sweep.sbatch"))
                    // The grid's kind varies slowest: rnn seeds 0, 1 are members 0, 1; gru's are 2, 3.
                    Expect.stringContains script "groups=('0,1' '2,3')" "the groups"
                    Expect.stringContains script "--batched --members \"${groups[$SLURM_ARRAY_TASK_ID]}\"" "each task runs its group"
                    Expect.stringContains script (Path.Combine(Path.GetFullPath out, "slurm", "group-%a.out")) "one output per group"
                    Expect.contains (File.ReadAllLines args) "--array=0,1" "two array tasks"
                    Expect.isTrue (Sweep.load (Path.Combine(out, "sweep.json"))).Batched "the folder's config says batched")
            }
            testSequenced <| test "rnnfun sweep --members: a list of indices, and one sentence for a bad one" {
                withTempDir (fun dir ->
                    let path = write dir "c.json" (tinyConfig [ "rnn" ] [ 0; 1 ] "")
                    let out = Path.Combine(dir, "out")
                    let code, _, err = rnnfun [ "sweep"; "--config"; path; "--out"; out; "--members"; "0,x" ]
                    Expect.equal code 2 "a bad list"
                    Expect.stringContains err "--members: expected comma-separated member indices (e.g. 0,3,5), got '0,x'" "the message"
                    let code, _, err = rnnfun [ "sweep"; "--config"; path; "--out"; out; "--members"; "0,7" ]
                    Expect.equal code 2 "an index out of range"
                    Expect.stringContains err "member-index: expected 0 to 1 (the sweep has 2 members), got 7" "the message"
                    let code, _, err = rnnfun [ "sweep"; "--config"; path; "--out"; out; "--members"; "0"; "--member-index"; "1" ]
                    Expect.equal code 2 "both"
                    Expect.stringContains err "give one of them" "the message")
            }
        ]

        testSequenced <| test "Slurm: a small sweep through a one-machine cluster on localhost, end to end" {
            let root = repoRoot ()
            // This test's own record of what it started: a cluster started before it is left running.
            let state = Path.Combine(Path.GetTempPath(), "rnnfun-slurm-" + Guid.NewGuid().ToString("N"))
            let code, output = bash state (Path.Combine(root, "tests", "slurm", "start-cluster.sh"))
            try
                if code = 3 then
                    let why = output.Trim().Split('\n') |> Array.last
                    printfn "Sweep Slurm test skipped: %s" why
                    skiptest ("no Slurm cluster here: " + why)
                if code <> 0 then failtestf "tests/slurm/start-cluster.sh failed (exit %d): %s" code output
                withTempDir (fun dir ->
                    let members = ", \"members\": [ { \"kind\": \"rnn\", \"seed\": 2, \"units\": 400000, \"epochs\": 1, \"sequence_length\": 16, \"trials_per_epoch\": 64 } ]"
                    let path = write dir "c.json" (tinyConfig [ "rnn"; "gru" ] [ 0 ] members)
                    let config = Sweep.load path
                    let out = Path.Combine(dir, "out")
                    let code, stdout, err = rnnfun [ "sweep"; "--config"; path; "--out"; out; "--engine"; "slurm"; "--time"; "00:10:00"; "--sbatch-arg=--job-name=rnnfun-test" ]
                    let script = File.ReadAllText(Path.Combine(out, "slurm", "sweep.sbatch"))
                    Expect.stringContains script "#SBATCH --time=00:10:00" "the pass-through time"
                    Expect.stringContains stdout "submitted job array" (sprintf "submitted (stdout: %s, stderr: %s)" stdout err)
                    Expect.equal code 1 "exit code 1: the too-large member failed"
                    for i in 0 .. 1 do
                        let id = Sweep.memberId config.Analysis config.Members[i]
                        Expect.isTrue (File.Exists(Path.Combine(Sweep.memberDir out id, "done"))) (sprintf "member %d finished on the cluster" i)
                        Expect.stringContains (File.ReadAllText(Path.Combine(out, "slurm", sprintf "member-%d.out" i))) id "its task's output names it"
                    let failedId = Sweep.memberId config.Analysis config.Members[2]
                    Expect.stringContains stdout (failedId + " failed on Slurm") "the failed member, reported from its output"
                    Expect.stringContains (File.ReadAllText(Path.Combine(out, "slurm", "member-2.out"))) "memory" "its task's output says why"
                    Expect.equal (ComparisonFile.load (Path.Combine(out, "comparison.json"))).Names.Length 2 "gathered here: the two finished members"
                    Expect.isTrue (File.Exists(Path.Combine(out, "report.html"))) "the report"
                    // Resubmitting: only the unfinished member goes to the cluster.
                    let _, stdout, _ = rnnfun [ "sweep"; "--config"; path; "--out"; out; "--engine"; "slurm" ]
                    Expect.stringContains stdout "(1 tasks: members 2)" "only the failed member is resubmitted"
                    // Batched: the two rnn members are one array task, trained as one program on the node.
                    let path = write dir "b.json" (tinyConfig [ "rnn" ] [ 0; 1 ] "")
                    let out = Path.Combine(dir, "batched")
                    let code, stdout, err = rnnfun [ "sweep"; "--config"; path; "--out"; out; "--engine"; "slurm"; "--batched"; "--time"; "00:10:00" ]
                    Expect.equal code 0 (sprintf "exit code (stdout: %s, stderr: %s)" stdout err)
                    Expect.stringContains stdout "(1 tasks: groups of members 0,1)" "one task for the group"
                    Expect.stringContains (File.ReadAllText(Path.Combine(out, "slurm", "group-0.out"))) "batched group of 2" "the node trained them as one program"
                    Expect.equal (ComparisonFile.load (Path.Combine(out, "comparison.json"))).Names.Length 2 "both finished and compared")
            finally
                bash state (Path.Combine(root, "tests", "slurm", "stop-cluster.sh")) |> ignore
                if Directory.Exists state then Directory.Delete(state, true)
        }
    ]
