/// Code shown in the docs is code that runs in CI: these tests fail when the two drift apart.
module RnnFun.Tests.DocsTests

open System
open System.IO
open Expecto
open RnnFun

let private repositoryRoot =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then failwith "RnnFun.sln not found above the test binaries"
        elif File.Exists(Path.Combine(dir.FullName, "RnnFun.sln")) then dir.FullName
        else up dir.Parent
    lazy (up (DirectoryInfo(System.AppContext.BaseDirectory)))

/// The first fenced block of a language in a markdown file.
let private firstBlock (language: string) (markdown: string) =
    let start = markdown.IndexOf("```" + language + "\n")
    if start < 0 then failwithf "no ```%s block" language
    let body = start + language.Length + 4
    markdown.Substring(body, markdown.IndexOf("```", body) - body)

/// The README's F# example, verbatim between the markers (but its `open RnnFun`, which is above),
/// run as a test; a test below checks the two are the same.
let private readmeExample () =
    // README:begin
    let preset = Presets.flipFlop 0
    use fit = Presets.train preset                                   // FitResult: network, losses, ...
    let trials = preset.Task.Generate 64 1                           // plain arrays, batch-first
    let run = Pipeline.trajectories None fit.Network trials          // outputs, states [trial][time][units]
    let found =
        FixedPoints.find FixedPointConfig.defaults fit.Network (ConstantInput.Same [| 0.0; 0.0; 0.0 |])
            (InitialStates.fromStates 1024 0.5 0 run.AllStates)
    for p in found.FixedPoints do
        printfn "%d %A unstable modes %d |lambda1| %.3f" p.Id p.Kind p.UnstableModes p.Eigenvalues[0].Magnitude
    // README:end
    found

/// The body of the first fenced block that starts after `marker` (a fence with or without a language).
let private blockAfter (marker: string) (markdown: string) =
    let at = markdown.IndexOf marker
    if at < 0 then failwithf "%s not found" marker
    let fence = markdown.IndexOf("```", at)
    let body = markdown.IndexOf('\n', fence) + 1
    markdown.Substring(body, markdown.IndexOf("\n```", body) + 1 - body)

/// Durations change from run to run: "3.5s" and "0.54s" become "#s"; docs may quote any.
let private maskTimes (text: string) = Text.RegularExpressions.Regex.Replace(text, @"\b\d+(\.\d+)?s\b", "#s")

/// Runs the built rnnfun (the app host beside the tests) in `dir`: exit code, stdout, stderr.
let private rnnfunIn (dir: string) (args: string list) =
    let info = Diagnostics.ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "RnnFun.Cli"), args, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir)
    use p = Diagnostics.Process.Start info
    let err = p.StandardError.ReadToEndAsync()
    let out = p.StandardOutput.ReadToEnd()
    p.WaitForExit()
    p.ExitCode, out, err.Result

/// Every line the doc shows (but "..." lines, which elide) is a line of the run's output, in order;
/// `doc` and `output` are compared with their times masked.
let private expectExcerpt (doc: string) (output: string) (what: string) =
    // A residual at rounding level (q of 1e-31) and the order it gives points of one kind differ
    // between CPUs: such q and the ids are masked, long figures rounded, and the lines matched as
    // a multiset.
    let normalise (line: string) =
        let q = Text.RegularExpressions.Regex.Replace(line, @"\b\d\.\d+e-(1[6-9]|[2-9]\d)\b", "#q")
        let ids = Text.RegularExpressions.Regex.Replace(q, @"^(\s*)\d+(\s+(attractor|saddle|marginal|repeller)\b)", "$1#$2")
        // Six-digit figures (an exponent, a modulus) to four significant digits: the last ones
        // follow the CPU's rounding.
        Text.RegularExpressions.Regex.Replace(ids, @"-?\d+\.\d{4,}", fun m ->
            Double.Parse(m.Value, Globalization.CultureInfo.InvariantCulture).ToString("G4", Globalization.CultureInfo.InvariantCulture))
    let actual = ResizeArray((maskTimes output).Replace("\r", "").Split('\n') |> Array.map normalise)
    for line in (maskTimes doc).Split('\n') |> Array.filter (fun l -> l.Trim() <> "" && l.Trim() <> "...") |> Array.map normalise do
        match Seq.tryFindIndex ((=) line) actual with
        | Some i -> actual.RemoveAt i
        | None -> failtestf "%s shows a line the run does not print:\n%s\nThe run printed:\n%s" what line output

/// A row of a markdown table whose cells start with `first` (for example [ "integrator"; "0" ]).
let private tableRow (first: string list) (markdown: string) =
    markdown.Split('\n')
    |> Array.map (fun l -> l.Trim().Trim('|').Split('|') |> Array.map (fun c -> c.Trim()))
    |> Array.tryFind (fun cells -> cells.Length > first.Length && List.ofArray cells[.. first.Length - 1] = first)
    |> Option.defaultWith (fun () -> failwithf "no table row %A" first)

/// `actual` rounded to the significant digits the doc gives `shown` with ("0.0074": 2) is `shown`.
let private sameToShownDigits (shown: string) (actual: float) =
    let digits = shown.TrimStart('0', '.').Replace(".", "").Length
    let rounded = Double.Parse(actual.ToString("G" + string digits, Globalization.CultureInfo.InvariantCulture), Globalization.CultureInfo.InvariantCulture)
    rounded = Double.Parse(shown, Globalization.CultureInfo.InvariantCulture)

/// The figures the docs quote from runs of the command line, checked against the same runs here so
/// that they cannot drift from the code (training, the search and the topology are deterministic on
/// one machine; another CPU may round differently, and then the docs need the figures of CI's
/// machine). Durations are not checked.
let private figureTests =
    testSequenced <| testList "figures" [
        test "the README's demo output, docs/training.md's seed-0 rows and docs/analysis.md's command outputs are what the commands print" {
            let root = repositoryRoot.Force()
            let readme = File.ReadAllText(Path.Combine(root, "README.md"))
            let training = File.ReadAllText(Path.Combine(root, "docs", "training.md"))
            let analysis = File.ReadAllText(Path.Combine(root, "docs", "analysis.md"))
            let dir = Path.Combine(Path.GetTempPath(), "rnnfun-docs-" + Guid.NewGuid().ToString("N"))
            Directory.CreateDirectory dir |> ignore
            try
                let run args =
                    let code, out, err = rnnfunIn dir args
                    Expect.equal code 0 (sprintf "rnnfun %s: exit code; stderr: %s" (String.concat " " args) err)
                    out.Replace(dir, "/home/me")
                // README: `rnnfun demo`, full size (the demo writes to ./rnnfun-demo by default).
                let demo = run [ "demo"; "--quiet" ]
                let shown = blockAfter "## What the demo shows" readme
                // The topology's edges come from noisy runs whose ends can change with the CPU's
                // rounding (133 and 134 on two machines): within 3 of the README's, then masked.
                let edgesPattern = @"(topology\s+)(\d+)( edges)"
                let edgesOf (text: string) = int (Text.RegularExpressions.Regex.Match(text, edgesPattern).Groups[2].Value)
                Expect.isLessThanOrEqual (abs (edgesOf demo - edgesOf shown)) 3 "the demo's topology edges are within 3 of the README's"
                let maskEdges (text: string) = Text.RegularExpressions.Regex.Replace(text, edgesPattern, "$1#$3")
                Expect.equal (maskEdges (maskTimes (demo.Replace("/home/me/", "./").TrimStart('\n')))) (maskEdges (maskTimes shown)) "README.md shows what `rnnfun demo` prints (times and the edge count aside)"
                // training.md's measured table: whole `rnnfun train` commands.
                for task in [ "flipflop"; "integrator" ] do
                    let out = run [ "train"; "--task"; task; "--out"; task + ".json"; "--quiet" ]
                    let m = Text.RegularExpressions.Regex.Match(out, @"^(\S+) after (\d+) epochs \((\d+) steps, [^)]*\): .*best validation loss ([^ ]+) ")
                    Expect.isTrue m.Success (sprintf "train's summary line: %s" out)
                    let log = TrainingLogFile.load (task + ".training-log.json" |> fun f -> Path.Combine(dir, f))
                    let row = tableRow [ task; "0" ] training
                    let reason = if m.Groups[1].Value = "stop-loss" then ", stop-loss" else ""
                    let best = log.ValidationLosses[log.BestEpoch - 1]
                    if task = "flipflop" then
                        Expect.equal row[2] (sprintf "%s (%s)%s" m.Groups[2].Value m.Groups[3].Value reason) (sprintf "docs/training.md: %s seed 0's epochs (steps)" task)
                        Expect.isTrue (sameToShownDigits row[3] best) (sprintf "docs/training.md: %s seed 0's best validation MSE is %s, the run's %g" task row[3] best)
                    else
                        // The integrator's 1,700 steps carry a CPU's rounding far enough to move its stop
                        // by a few epochs (80 and 86 on two machines): the same stop reason, epochs
                        // within 15 % and the best MSE within a factor of 1.5 of the doc's.
                        let shown = Text.RegularExpressions.Regex.Match(row[2], @"^(\d+) \((\d+)\)(, stop-loss)?$")
                        Expect.isTrue shown.Success (sprintf "docs/training.md: %s seed 0's epochs cell %s" task row[2])
                        Expect.equal (if shown.Groups[3].Success then ", stop-loss" else "") reason (sprintf "docs/training.md: %s seed 0's stop reason" task)
                        let shownEpochs, epochs = float shown.Groups[1].Value, float m.Groups[2].Value
                        Expect.isLessThanOrEqual (abs (epochs - shownEpochs)) (0.15 * shownEpochs) (sprintf "docs/training.md: %s seed 0's epochs %s, the run's %g" task row[2] epochs)
                        let shownBest = Double.Parse(row[3], Globalization.CultureInfo.InvariantCulture)
                        Expect.isTrue (best <= 1.5 * shownBest && best >= shownBest / 1.5) (sprintf "docs/training.md: %s seed 0's best validation MSE is %s, the run's %g" task row[3] best)
                // analysis.md: the fixed-points and topology commands on the flip-flop trained above,
                // each run as the doc's own command line.
                for command in [ "$ rnnfun fixed-points "; "$ rnnfun topology "; "$ rnnfun lyapunov " ] do
                    let at = analysis.IndexOf command
                    Expect.isGreaterThanOrEqual at 0 (sprintf "docs/analysis.md shows `%s`" command)
                    let block = analysis.Substring(at, analysis.IndexOf("\n```", at) + 1 - at)
                    let lines = block.Split('\n')
                    let args = lines[0].Substring(2).Split(' ', StringSplitOptions.RemoveEmptyEntries) |> List.ofArray |> List.tail
                    let out = run args
                    let what = sprintf "docs/analysis.md's `%s` output" (lines[0].Substring 2)
                    if command = "$ rnnfun topology " then
                        // Its edges join ids the search numbers by q, which is at rounding level and
                        // orders the points differently on another CPU, and their counts come from
                        // noisy runs: the numbers are masked, the lines' form kept.
                        let masked (text: string) = Text.RegularExpressions.Regex.Replace(text, @"\d+(\.\d+)?", "#")
                        let rows (text: string) = text.Split('\n') |> Array.filter (fun l -> not (Text.RegularExpressions.Regex.IsMatch(l, @"^\s*\d+\s+\d+\s")))
                        expectExcerpt (masked (String.concat "\n" (rows (String.concat "\n" lines[1..])))) (masked out) what
                    else expectExcerpt (String.concat "\n" lines[1..]) out what
            finally
                if Directory.Exists dir then Directory.Delete(dir, true)
        }

        test "train --help gives each task's own preset learning rate, batch size and epochs" {
            let _, help, _ = rnnfunIn (Path.GetTempPath()) [ "train"; "--help" ]
            let words = Text.RegularExpressions.Regex.Replace(help, @"\s+", " ")
            for task in [ "flipflop"; "integrator"; "sine" ] do
                let preset = Presets.byName task 0
                for value in [ sprintf "%g" preset.Fit.LearningRate; string preset.Fit.BatchSize; string preset.Fit.Epochs ] do
                    Expect.stringContains words (sprintf "%s %s" task value) (sprintf "train --help gives %s's preset value %s" task value)
        }

        test "where --slow-points writes is the file name --help, analysis.md and formats.md give" {
            let root = repositoryRoot.Force()
            let dir = Path.Combine(Path.GetTempPath(), "rnnfun-docs-" + Guid.NewGuid().ToString("N"))
            Directory.CreateDirectory dir |> ignore
            try
                do
                    use net = Network.scaledIdentity Kinds.rnn 2 2.0
                    ModelFile.save (Path.Combine(dir, "m.json")) net
                let code, _, err = rnnfunIn dir [ "fixed-points"; "--model"; "m.json"; "--box"; "-1.5,1.5"; "--n-init"; "32"; "--slow-points"; "--out"; "fps.json"; "--quiet" ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                let written = Directory.GetFiles dir |> Array.map Path.GetFileName |> Array.except [ "m.json"; "fps.json" ]
                Expect.hasLength written 1 (sprintf "one slow-point file beside fps.json: %A" written)
                FixedPointFile.load (Path.Combine(dir, written[0])) |> ignore
                let _, help, _ = rnnfunIn dir [ "fixed-points"; "--help" ]
                for name, text in [ "--help", help
                                    "docs/analysis.md", File.ReadAllText(Path.Combine(root, "docs", "analysis.md"))
                                    "docs/formats.md", File.ReadAllText(Path.Combine(root, "docs", "formats.md")) ] do
                    // Argu wraps the help, markdown quotes with backticks: compare the words.
                    let words = Text.RegularExpressions.Regex.Replace(text.Replace("`", ""), @"\s+", " ")
                    Expect.stringContains words ("--out fps.json: " + written[0]) (sprintf "%s names the file --out fps.json --slow-points writes" name)
            finally
                if Directory.Exists dir then Directory.Delete(dir, true)
        }
    ]

[<Tests>]
let tests =
    testList "Docs" [
        test "the README's F# example is the code between the markers in DocsTests.fs" {
            let root = repositoryRoot.Force()
            let readme = File.ReadAllText(Path.Combine(root, "README.md"))
            let source = File.ReadAllText(Path.Combine(root, "tests", "RnnFun.Tests", "DocsTests.fs"))
            let begin' = source.IndexOf("// README:begin\n") + "// README:begin\n".Length
            let region = source.Substring(begin', source.IndexOf("    // README:end") - begin')
            let dedented = region.Split('\n') |> Array.map (fun l -> if l.StartsWith "    " then l.Substring 4 else l) |> String.concat "\n"
            // The README's block opens the namespace first; this file opens it at the top.
            let shown = (firstBlock "fsharp" readme).Replace("open RnnFun\n\n", "")
            Expect.equal dedented shown "README.md shows the code this file runs"
        }

        test "the README's C# lines are lines of the package check's program" {
            let root = repositoryRoot.Force()
            let readme = File.ReadAllText(Path.Combine(root, "README.md"))
            let program = File.ReadAllText(Path.Combine(root, "tests", "package-check", "Program.cs")).Split('\n') |> Array.map (fun l -> l.Trim())
            for line in (firstBlock "csharp" readme).Split('\n') |> Array.map (fun l -> l.Trim()) |> Array.filter ((<>) "") do
                Expect.contains program line (sprintf "README's C# line is in tests/package-check/Program.cs: %s" line)
        }

        testSequenced <| test "the README's F# example runs and finds the flip-flop's 8 attractors" {
            let found = readmeExample ()
            Expect.equal (found.FixedPoints |> Array.filter (fun p -> p.Kind = RnnFun.FixedPointKind.Attractor) |> Array.length) 8 "8 attractors"
        }

        test "getting-started's C# program is the package check's program" {
            let root = repositoryRoot.Force()
            let doc = File.ReadAllText(Path.Combine(root, "docs", "getting-started.md"))
            let program = File.ReadAllText(Path.Combine(root, "tests", "package-check", "Program.cs"))
            Expect.equal (firstBlock "csharp" doc) program "docs/getting-started.md shows tests/package-check/Program.cs"
        }

        figureTests
    ]
