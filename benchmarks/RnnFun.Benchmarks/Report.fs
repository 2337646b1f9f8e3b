/// Writes docs/performance.md from a run's numbers.
module RnnFun.Benchmarks.Report

open System
open System.Globalization
open System.IO
open System.Text
open RnnFun.Benchmarks.Harness
open RnnFun.Benchmarks.Measure
open RnnFun.Benchmarks.Workloads
open RnnFun.Benchmarks.Full

let private inv = CultureInfo.InvariantCulture
let private f1 (x: float) = x.ToString("0.0", inv)
let private f2 (x: float) = x.ToString("0.00", inv)
let private f3 (x: float) = x.ToString("0.000", inv)
let private ms (s: float) = (s * 1e3).ToString((if s * 1e3 < 10.0 then "0.00" else "0.0"), inv)
let private gflops flops (s: float) = f1 (flops / s / 1e9)

/// How the numbers of the page were produced.
type Mode =
    | Quick
    | Full of BdnRow list * fullSeconds: float

let private percent (ratio: float) =
    let p = (ratio - 1.0) * 100.0
    if p >= 0.0 then sprintf "%.0f%% slower" p else sprintf "%.0f%% faster" (-p)

let write (path: string) (mode: Mode) (r: Results) =
    let b = StringBuilder()
    let line (s: string) = b.AppendLine s |> ignore
    let lines (xs: string list) = for x in xs do line x
    let m = r.Machine
    let modeText =
        match mode with
        | Quick ->
            "the quick mode (`--quick`: a plain Stopwatch harness, contestants interleaved round by round, medians); BenchmarkDotNet was not run for this page"
        | Full (_, seconds) ->
            sprintf "the full mode (BenchmarkDotNet, in process, plus the interleaved Stopwatch harness of the quick mode), %.0f minutes in all" (seconds / 60.0)
    lines
        [ "# Performance"
          ""
          "How fast RnnFun trains, runs and analyses networks, measured against libtorch's own fused"
          "recurrent layer (`torch.nn.RNN`) and against a FixedPointFinder-style fixed-point search, in one"
          "process, on the same data and sizes."
          ""
          sprintf "This page was produced by %s, on %s." modeText (m.Date.ToString("yyyy-MM-dd HH:mm 'UTC'", inv))
          "Absolute times depend on the machine and its load; the ratios, measured side by side, are the"
          "figures to compare."
          ""
          "## Machine"
          ""
          "| | |"
          "|---|---|"
          sprintf "| processors (`nproc`) | %d |" m.Processors
          sprintf "| CPU (`/proc/cpuinfo` model name) | %s |" m.CpuModel
          sprintf "| memory | %s GiB |" (f1 m.MemoryGiB)
          sprintf "| operating system | %s |" m.OperatingSystem
          sprintf "| runtime | %s |" m.Runtime
          sprintf "| TorchSharp / libtorch | %s / %s (CPU) |" m.TorchSharp m.LibTorch
          sprintf "| date | %s |" (m.Date.ToString("yyyy-MM-dd", inv))
          ""
          "## How to reproduce"
          ""
          "From the repository root:"
          ""
          "```sh"
          "dotnet build -c Release src/RnnFun.Cli        # the demo benchmark runs the built CLI"
          "dotnet run -c Release --project benchmarks/RnnFun.Benchmarks -- --quick   # about 3 minutes"
          "dotnet run -c Release --project benchmarks/RnnFun.Benchmarks              # full mode, rewrites this page"
          "```"
          ""
          "The quick mode prints one `name: value` line per result on stdout (details go to stderr);"
          "`--quick --write-docs` also rewrites this page from its numbers. Other options: `--no-demo`,"
          "`--cli PATH` (the `rnnfun` executable), `--docs PATH` (where the page goes). The full mode keeps"
          "BenchmarkDotNet's logs and tables under `benchmarks/RnnFun.Benchmarks/BenchmarkDotNet.Artifacts/`."
          "" ]
    // Summary.
    let defaultTraining = r.Training |> List.filter (fun x -> x.IsDefault)
    let defaultForward = r.Forward |> List.filter (fun x -> x.IsDefault)
    let flip = r.FixedPoints |> List.tryFind (fun x -> x.Problem.StartsWith "trained")
    lines [ "## Summary"; ""; "Interleaved medians, RnnFun's default thread count (1 up to 128 units, all cores above):"; "" ]
    lines [ "```" ]
    for x in defaultTraining do line (sprintf "training-step ratio N=%d: %s" x.N (f3 (x.RnnFun / x.Fused)))
    for x in defaultForward do line (sprintf "forward ratio N=%d: %s" x.N (f3 (x.RnnFun / x.Fused)))
    match flip with
    | Some f ->
        line (sprintf "fixed-points speedup: %s" (f2 (f.BaselineSeconds / f.RnnFunSeconds)))
        line (sprintf "fixed-points found (flip-flop, unique, q < 1e-12): rnnfun %d, baseline %d" f.RnnFun.Unique f.Baseline.Unique)
    | None -> ()
    for t, rate in r.Gemm do line (sprintf "gemm GFLOP/s %d thread%s: %s" t (if t = 1 then "" else "s") (f1 rate))
    match r.Demo with
    | Some d ->
        line (sprintf "demo wall time s: %s" (f1 d.Seconds))
        line (sprintf "demo peak memory MiB: %.0f" (float d.PeakBytes / 1024.0 / 1024.0))
    | None -> ()
    lines [ "```"; ""; "Ratios are RnnFun's time over the baseline's: above 1, RnnFun is slower." ; "" ]
    // GEMM.
    lines
        [ "## The machine's matrix-product rate"
          ""
          "A 1024 x 1024 float32 `torch.mm` (2 x 1024^3 FLOPs), median of interleaved rounds:"
          ""
          "| threads | GFLOP/s |"
          "|---|---|" ]
    for t, rate in r.Gemm do line (sprintf "| %d | %s |" t (f1 rate))
    lines
        [ ""
          sprintf "One tiny TorchSharp op (tanh of an 8 x 8 tensor, in a dispose scope) costs %s microseconds: at" (f2 r.TinyOpMicroseconds)
          "the sizes below, that per-op cost rather than arithmetic sets much of the time of a step."
          "" ]
    // Training.
    lines
        [ "## Training step"
          ""
          sprintf "One optimiser step on a batch of %d flip-flop trials of %d steps, 3 inputs, 3 outputs: forward," BatchSize Time
          "mean squared error, backward, Adam. Contestants:"
          ""
          "- **Training.fit**: the library's real code path, `Training.fit` for one epoch over a fixed dataset"
          sprintf "  of %d batches, time divided by the steps; its per-call work (copying weights in and out," Measure.quickPlan.TrainingStepsPerCall
          "  the end-of-epoch snapshot) is included, nothing is subtracted."
          "- **inner step**: the same step reproduced outside `Training.fit` (effective weights of the"
          "  trainable leaves, `InputDrive` once, `Network.unrollDrive`, `Readout`, `Training.mse`, backward,"
          "  Adam): what the loop costs without fit's bookkeeping."
          "- **torch.nn.RNN**: `torch.nn.RNN(3, N, tanh, batch_first)` + `torch.nn.Linear(N, 3)` + Adam, same"
          "  batches, `mse_loss`, the loss read back as `Training.fit` does."
          ""
          "All weights are trained in both (RnnFun: `w_in`, `w_rec`, `b_rec`, `w_out`, `b_out`)."
          "FLOP rates count the matrix products only: forward 2BTN(N+I) + 2BTNO, a step three times that."
          ""
          "Interleaved Stopwatch medians, ms per step:"
          ""
          "| N | threads | Training.fit | inner step | torch.nn.RNN | fit / RNN | inner / RNN | fit GFLOP/s | RNN GFLOP/s |"
          "|---|---|---|---|---|---|---|---|---|" ]
    for x in r.Training do
        let innerMs, innerRatio =
            match x.Inner with
            | Some inner -> ms inner, f3 (inner / x.Fused)
            | None -> "-", "-"
        line (
            sprintf "| %d | %d%s | %s | %s | %s | %s | %s | %s | %s |" x.N x.Threads (if x.IsDefault then " (default)" else "")
                (ms x.RnnFun) innerMs (ms x.Fused) (f3 (x.RnnFun / x.Fused)) innerRatio
                (gflops (stepFlops x.N) x.RnnFun) (gflops (stepFlops x.N) x.Fused))
    line ""
    let bdnTable (group: string) (methods: (string * string) list) (flops: int -> float) =
        match mode with
        | Quick -> ()
        | Full (rows, _) ->
            let rows = rows |> List.filter (fun x -> x.Group = group)
            if not rows.IsEmpty then
                line "BenchmarkDotNet (in process, median and standard deviation, ms per operation; ratio to torch.nn.RNN):"
                line ""
                let header = methods |> List.map (fun (_, title) -> sprintf "%s | ratio" title) |> String.concat " | "
                line (sprintf "| N | threads | %s | GFLOP/s (%s) |" header (snd methods.Head))
                line (sprintf "|---|---|%s---|" (String.replicate (2 * methods.Length) "---|"))
                for n in unitCounts do
                    for t in [ 1; 2 ] do
                        let cell (methodName: string) =
                            match rows |> List.tryFind (fun x -> x.Method = methodName && x.N = Some n && x.Threads = Some t) with
                            | Some x -> sprintf "%s ± %s | %s" (ms x.Median) (ms x.StdDev) (x.Ratio |> Option.map f3 |> Option.defaultValue "")
                            | None -> "n/a | "
                        let baseRate =
                            match rows |> List.tryFind (fun x -> x.Method = fst methods.Head && x.N = Some n && x.Threads = Some t) with
                            | Some x -> gflops (flops n) x.Median
                            | None -> "n/a"
                        line (sprintf "| %d | %d%s | %s | %s |" n t (if t = defaultThreads n then " (default)" else "") (methods |> List.map (fst >> cell) |> String.concat " | ") baseRate)
                line ""
    bdnTable "training" [ "RnnFunFit", "Training.fit"; "RnnFunInnerStep", "inner step"; "TorchRnn", "torch.nn.RNN" ] stepFlops
    // Forward.
    lines
        [ "## Forward pass"
          ""
          "`Network.unroll` (outputs and states) against `torch.nn.RNN` + `torch.nn.Linear`, same batch, no"
          "gradients. Interleaved Stopwatch medians, ms per pass:"
          ""
          "| N | threads | Network.unroll | torch.nn.RNN | ratio | unroll GFLOP/s | RNN GFLOP/s |"
          "|---|---|---|---|---|---|---|" ]
    for x in r.Forward do
        line (
            sprintf "| %d | %d%s | %s | %s | %s | %s | %s |" x.N x.Threads (if x.IsDefault then " (default)" else "")
                (ms x.RnnFun) (ms x.Fused) (f3 (x.RnnFun / x.Fused)) (gflops (forwardFlops x.N) x.RnnFun) (gflops (forwardFlops x.N) x.Fused))
    line ""
    bdnTable "forward" [ "RnnFunUnroll", "Network.unroll"; "TorchRnn", "torch.nn.RNN" ] forwardFlops
    // Fixed points.
    lines
        [ "## Fixed-point search"
          ""
          "From the same 1024 initial states:"
          ""
          "- **FixedPoints.find** with `FixedPointConfig.defaults` (float64; Adam with FixedPointFinder's adaptive"
          "  rate and clipping for at most 100 iterations, then batched Newton / Levenberg-Marquardt steps;"
          "  outlier exclusion, uniqueness, and the Jacobian and eigen-decomposition of every unique point)."
          "- **FixedPointFinder-style Adam**: FixedPointFinder's Torch defaults written with TorchSharp: Adam"
          "  (lr 1.0) on all states jointly, `ReduceLROnPlateau(factor 0.95, patience 2)` on the mean q, no"
          "  clipping, at most 5000 iterations, stop when every state has q < 1e-12 or dq < 1e-20 lr,"
          "  float32 (its default dtype), the step of a `torch.nn.RNN` loaded with the network's weights;"
          "  then uniqueness at 1e-3 keeping the lowest q. It computes no Jacobians, so the comparison"
          "  favours it."
          ""
          "Problems: the 3-unit network W = 2I (27 fixed points: 8 attractors, 12 + 6 saddles, 1 repeller)"
          "from 1024 states uniform in [-1.5, 1.5]^3; and the 64-unit flip-flop network trained by"
          "`Presets.train (Presets.flipFlop 0)`, from `InitialStates.fromStates 1024 0.5 0` of its"
          "trajectories on 64 fresh trials (as `rnnfun demo` does). A point counts when its q < 1e-12."
          ""
          "Interleaved Stopwatch medians:"
          ""
          "| problem | FixedPoints.find s | unique points | baseline s | unique points | baseline iterations | speedup (baseline / find) |"
          "|---|---|---|---|---|---|---|" ]
    for x in r.FixedPoints do
        line (
            sprintf "| %s | %s | %d | %s | %d | %d | %s |" x.Problem (f3 x.RnnFunSeconds) x.RnnFun.Unique (f3 x.BaselineSeconds)
                x.Baseline.Unique x.Baseline.Iterations (f2 (x.BaselineSeconds / x.RnnFunSeconds)))
    line ""
    match r.FlipFlop with
    | Some t ->
        line (
            sprintf "The flip-flop network trained in %s s (%d steps, %d epochs; last validation loss %s)." (f1 t.Seconds) t.Steps t.Epochs
                (t.ValidationLoss.ToString("0.0e0", inv)))
        line ""
    | None -> ()
    match mode with
    | Quick -> ()
    | Full (rows, _) ->
        let rows = rows |> List.filter (fun x -> x.Group = "fixed points")
        if not rows.IsEmpty then
            lines
                [ "BenchmarkDotNet (monitoring strategy, 1 warm-up, 5 iterations, median ± standard deviation, s):"
                  ""
                  "| problem | method | median s | ratio to baseline |"
                  "|---|---|---|---|" ]
            for x in rows do
                line (sprintf "| %s | %s | %s ± %s | %s |" (defaultArg x.Problem "") x.Method (f3 x.Median) (f3 x.StdDev) (x.Ratio |> Option.map f3 |> Option.defaultValue ""))
            line ""
    // Demo.
    lines [ "## The demo pipeline"; "" ]
    match r.Demo with
    | Some d ->
        lines
            [ "`rnnfun demo --quiet --out <temporary folder>` run as a child process (train the flip-flop preset,"
              "find and classify its fixed points, build the topology, write the report):"
              ""
              "| wall time | peak resident memory |"
              "|---|---|"
              sprintf "| %s s | %.0f MiB |" (f1 d.Seconds) (float d.PeakBytes / 1024.0 / 1024.0)
              ""
              "Peak memory is the child's high-water mark (`VmHWM` polled from `/proc` while it runs, and"
              "`ru_maxrss` of the waited-for child)."
              "" ]
    | None -> lines [ "Not measured in this run (the CLI was not built, or `--no-demo` was given)."; "" ]
    // Reading.
    let at n = defaultTraining |> List.tryFind (fun x -> x.N = n)
    lines [ "## Reading the numbers"; "" ]
    for x in defaultTraining do
        let inner = x.Inner |> Option.defaultValue nan
        line (
            sprintf "- Training step, N = %d: `Training.fit` is %s than `torch.nn.RNN` (the reproduced inner step %s);"
                x.N (percent (x.RnnFun / x.Fused)) (percent (inner / x.Fused)))
        line (
            sprintf "  the gap is %s ms per step, %s microseconds per time step of the %d-step sequence."
                (f2 ((x.RnnFun - x.Fused) * 1e3)) (f1 ((x.RnnFun - x.Fused) * 1e6 / float Time)) Time)
    match at 64 with
    | Some x ->
        lines
            [ ""
              "Both contestants run the same matrix products; `torch.nn.RNN` runs its time loop inside libtorch,"
              "while RnnFun issues each time step's ops from .NET (an `addmm` and a `tanh` per step forward,"
              "plus a transpose view of `w_rec` per step, then `stack`). Each such call costs about"
              sprintf "%s microseconds here whatever its size, so at small N the per-step call cost is a visible" (f2 r.TinyOpMicroseconds)
              "share of a step, and at large N the matrix products dominate and the ratio tends to 1."
              sprintf "At N = 64 a step reaches %s GFLOP/s in `Training.fit` against %s GFLOP/s for one thread's" (gflops (stepFlops 64) x.RnnFun) (f1 (r.Gemm |> List.head |> snd))
              "1024 x 1024 GEMM: these products are small (64-row batches), so neither contestant comes near"
              "the machine's GEMM rate."
              "" ]
    | None -> ()
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath path)) |> ignore
    File.WriteAllText(path, b.ToString())
