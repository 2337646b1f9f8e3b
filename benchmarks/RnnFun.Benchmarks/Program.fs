/// RnnFun's benchmark suite.
///   --quick              interleaved Stopwatch harness only (about 3 minutes); prints `name: value` lines
///   --write-docs         with --quick: also write docs/performance.md from the quick numbers
///   (no --quick)         full mode: the quick harness, then BenchmarkDotNet; writes docs/performance.md
///   --no-demo            skip the `rnnfun demo` measurement
///   --only A,B           run only these sections: gemm, training, forward, gated, fixed-points, demo, memory
///   --profile-step [KIND] N  where one fused training step at N units spends its time (rnn, or
///                        the gated KIND gru / lstm; then exits)
///   --profile-preset N   the preset path's cost per step at N units, part by part (then exits)
///   --certificates       certificates for the 27 points of the W = 2I cube (rnn, ctrnn; gru, ugrnn cubes) against their
///                        linearisation in the same run (median of 21; then exits)
///   --cli PATH           the rnnfun executable (default: src/RnnFun.Cli/bin/Release/net10.0/rnnfun)
///   --preset-md PATH     with --quick: also write the preset-path section (markdown) alone to PATH
///   --docs PATH          where to write the page (default: docs/performance.md of the repository)
///   --population [--quick]  K = 32 networks of 64 units trained as one program (Population.fit)
///                        against the same networks one after another (Training.fit): the
///                        throughput ratio, GFLOP/s against the GEMM rate, memory at K = 8, 16, 32
///   --dynamics [N STEPS] a Lyapunov spectrum of an N-unit network over STEPS steps (default 64,
///                        1000) against the trajectory alone, and a continuation (then exits)
module RnnFun.Benchmarks.Program

open System
open System.IO
open RnnFun.Benchmarks

let private usage =
    "usage: dotnet run -c Release --project benchmarks/RnnFun.Benchmarks -- [--quick [--write-docs]] [--no-demo] [--only gemm,training,forward,gated,fixed-points,demo,memory] [--cli PATH] [--docs PATH]"

[<EntryPoint>]
let main argv =
    let args = List.ofArray argv
    let has flag = List.contains flag args
    match args with
    | "--memory-probe" :: what :: t :: b :: n :: [] ->
        // Child mode of the memory section: prints the extra peak bytes on the last line.
        printfn "%d" (Workloads.memoryProbe what (int t) (int b) (int n))
        exit 0
    | "--population-memory" :: k :: [] ->
        // Child mode of the population benchmark: the extra peak bytes on the last line.
        printfn "%d" (PopulationBench.memoryProbe (int k))
        exit 0
    | [ "--population" ] | [ "--population"; "--quick" ] | [ "--quick"; "--population" ] ->
        PopulationBench.run (has "--quick")
        exit 0
    | [ "--dynamics" ] ->
        Dynamics.run 64 1000
        exit 0
    | "--dynamics" :: n :: steps :: [] ->
        Dynamics.run (int n) (int steps)
        exit 0
    | "--certificates" :: [] ->
        for name, value in Certificates.run 21 do printfn "%s: %.6g" name value
        exit 0
    | "--profile-preset" :: n :: [] ->
        // Where the preset path's extra time per step goes (clipping, validation, fresh data; one thread).
        printfn "%-40s %7.1f us" "tryClipGradients (global norm)" (PresetPath.clippingMicroseconds (int n) 1000)
        for name, ms in PresetPath.components (int n) 15 do printfn "%-40s %7.3f ms" name ms
        for name, ms in PresetPath.profile (int n) 15 do printfn "%-40s %7.3f ms/step" name ms
        exit 0
    | "--profile-step" :: kind :: n :: [] ->
        // The same for a gated kind (gru, lstm).
        let phases = Workloads.profileGatedStep (RnnFun.Presets.kindByName kind) (int n) 200
        for name, ms in phases do printfn "%-40s %7.3f ms" name ms
        printfn "%-40s %7.3f ms" "total" (phases |> List.sumBy snd)
        exit 0
    | "--profile-step" :: n :: [] ->
        // Where one fused training step spends its time (one thread), for work on the fused pass.
        let phases = Workloads.profileInnerStep (int n) 200
        for name, ms in phases do printfn "%-40s %7.3f ms" name ms
        printfn "%-40s %7.3f ms" "total" (phases |> List.sumBy snd)
        exit 0
    | _ -> ()
    let value flag =
        args |> List.pairwise |> List.tryPick (fun (a, b) -> if a = flag then Some b else None)
    let known = set [ "--quick"; "--write-docs"; "--no-demo"; "--only"; "--cli"; "--docs"; "--preset-md"; "--help"; "-h" ]
    let unknown =
        args
        |> List.indexed
        |> List.filter (fun (i, a) -> not (known.Contains a) && not (i > 0 && (args[i - 1] = "--cli" || args[i - 1] = "--docs" || args[i - 1] = "--only" || args[i - 1] = "--preset-md")))
    if has "--help" || has "-h" then
        printfn "%s" usage
        0
    elif not unknown.IsEmpty then
        eprintfn "unknown argument: %s\n%s" (snd unknown.Head) usage
        2
    else
        let root = Harness.repositoryRoot ()
        let cli = Harness.cliPath root (value "--cli")
        let docs =
            match value "--docs", root with
            | Some p, _ -> Some(Path.GetFullPath p)
            | None, Some r -> Some(Path.Combine(r, "docs", "performance.md"))
            | None, None -> None
        let sections =
            let chosen =
                match value "--only" with
                | Some list -> list.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries) |> Set.ofArray
                | None -> Set.ofList Measure.allSections
            if has "--no-demo" then chosen.Remove "demo" else chosen
        let badSections = sections |> Set.filter (fun s -> not (List.contains s Measure.allSections))
        let writePage mode results =
            match docs with
            | Some path ->
                Report.write path mode results
                eprintfn "wrote %s" path
            | None -> eprintfn "repository root not found: give --docs PATH to write the page"
        if not badSections.IsEmpty then
            eprintfn "unknown section(s): %s (expected %s)" (String.Join(", ", badSections)) (String.Join(", ", Measure.allSections))
            2
        elif has "--quick" then
            let results = Measure.run Measure.quickPlan root cli sections
            if has "--write-docs" then writePage Report.Quick results
            match value "--preset-md", results.Preset with
            | Some path, Some p ->
                // The preset-path section alone, for a page that keeps the other sections' figures.
                IO.File.WriteAllLines(path, PresetPath.markdown p)
                eprintfn "wrote %s" path
            | _ -> ()
            0
        else
            let watch = Diagnostics.Stopwatch.StartNew()
            let results = Measure.run Measure.fullPlan root cli sections
            let artifacts =
                match root with
                | Some r -> Path.Combine(r, "benchmarks", "RnnFun.Benchmarks", "BenchmarkDotNet.Artifacts")
                | None -> Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts")
            let bdn = Full.run artifacts
            watch.Stop()
            eprintfn "full run took %.1f minutes" watch.Elapsed.TotalMinutes
            writePage (Report.Full(bdn, watch.Elapsed.TotalSeconds)) results
            0
