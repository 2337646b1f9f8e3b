/// Code shown in the docs is code that runs in CI: these tests fail when the two drift apart.
module RnnFun.Tests.DocsTests

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
    ]
