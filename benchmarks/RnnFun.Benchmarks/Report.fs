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
    if abs p < 1.0 then "about the same time (within 1%)"
    elif p > 0.0 then sprintf "%.0f%% more time" p
    else sprintf "%.0f%% less time" (-p)

/// Adam iterations of FixedPoints.find: progress is reported every 10 iterations, and the phase
/// runs at most `MaxAdamIterations`.
let private adamIterations (p: Workloads.SearchPhases) =
    let most = float RnnFun.FixedPointConfig.defaults.MaxAdamIterations
    if float p.AdamIterations >= most - 10.0 then most else float p.AdamIterations + 5.0

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
          "How fast RnnFun trains, runs and analyses networks, measured against libtorch's built-in"
          "recurrent layer (`torch.nn.RNN`, whose time loop runs inside libtorch), against the same layer in"
          "Python PyTorch (a child process, where `/usr/bin/python3` has torch) and against a"
          "FixedPointFinder-style fixed-point search, on the same data and sizes."
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
          sprintf "| load average (1, 5, 15 min) | %s at the start, %s after the interleaved measurements |" m.LoadAverage r.LoadAverageAfter
          ""
          "The load average counts other work on the machine during the run. On 2 cores shared with other"
          "processes, two libtorch threads suffer most: a parallel op waits for its slowest thread, so the"
          "two-thread rows below vary far more from run to run than the one-thread rows."
          ""
          "## How to reproduce"
          ""
          "From the repository root:"
          ""
          "```sh"
          "dotnet build -c Release src/RnnFun.Cli        # the demo benchmark runs the built CLI"
          "dotnet run -c Release --project benchmarks/RnnFun.Benchmarks -- --quick   # 1 to 3 minutes"
          "dotnet run -c Release --project benchmarks/RnnFun.Benchmarks              # full mode, rewrites this page"
          "```"
          ""
          "The quick mode prints one `name: value` line per result on stdout (details go to stderr);"
          "`--quick --write-docs` also rewrites this page from its numbers. Other options: `--no-demo`,"
          "`--only gemm,training,forward,gated,fixed-points,demo` (some sections only), `--cli PATH` (the `rnnfun`"
          "executable), `--docs PATH` (where the page goes), `--preset-md PATH` (the preset-path section alone),"
          "`--profile-preset N` (the preset path's pieces at N units). The full mode runs the interleaved harness with"
          "more rounds, then BenchmarkDotNet in process, and keeps BenchmarkDotNet's logs and tables under"
          "`benchmarks/RnnFun.Benchmarks/BenchmarkDotNet.Artifacts/`."
          "" ]
    // Summary.
    // Headline ratios: one thread on both sides (equal thread counts, the least sensitive to outside load).
    let defaultTraining = r.Training |> List.filter (fun x -> x.Threads = 1)
    let defaultForward = r.Forward |> List.filter (fun x -> x.Threads = 1)
    let flip = r.FixedPoints |> List.tryFind (fun x -> x.Problem.StartsWith "trained")
    let at64 = defaultTraining |> List.tryFind (fun x -> x.N = 64)
    lines [ "## Summary"; ""; "Interleaved medians, one thread on both sides (RnnFun's default for training below 256 units, `Training.defaultThreads`, and for the fixed-point search):"; "" ]
    lines [ "```" ]
    for x in defaultTraining do line (sprintf "training-step ratio N=%d: %s" x.N (f3 x.Ratio))
    match r.Preset with
    | Some p ->
        for x in p.Rows |> List.filter (fun x -> x.Threads = 1) do
            line (sprintf "preset-step ratio to Training.fit N=%d: %s" x.N (f3 x.PresetOverFit))
            x.PresetOverPython |> Option.iter (fun v -> line (sprintf "preset-step ratio to Python nn.RNN N=%d: %s" x.N (f3 v)))
            x.FitOverPython |> Option.iter (fun v -> line (sprintf "training-step ratio to Python nn.RNN N=%d: %s" x.N (f3 v)))
    | None -> ()
    for x in defaultForward do line (sprintf "forward ratio N=%d: %s" x.N (f3 x.Ratio))
    for x in r.GatedTraining |> List.filter (fun x -> x.IsHeadline) do line (sprintf "%s training-step ratio N=%d: %s" x.Kind x.N (f3 x.Ratio))
    for x in r.GatedForward |> List.filter (fun x -> x.IsHeadline) do line (sprintf "%s forward ratio N=%d: %s" x.Kind x.N (f3 x.Ratio))
    match flip with
    | Some f ->
        line (sprintf "fixed-points speedup: %s" (f2 f.Speedup))
        line (sprintf "fixed-points speedup against the search alone: %s" (f2 f.SearchOnlySpeedup))
        line (sprintf "fixed-points found (flip-flop, unique, q < 1e-12): rnnfun %d, baseline %d" f.RnnFun.Unique f.Baseline.Unique)
    | None -> ()
    for t, rate in r.Gemm do line (sprintf "gemm GFLOP/s %d thread%s: %s" t (if t = 1 then "" else "s") (f1 rate))
    match r.Demo with
    | Some d ->
        line (sprintf "demo wall time s: %s" (f1 d.Seconds))
        line (sprintf "demo peak memory MiB: %.0f" (float d.PeakBytes / 1024.0 / 1024.0))
    | None -> ()
    lines
        [ "```"
          ""
          "Ratios are RnnFun's time over the baseline's (above 1, RnnFun is slower); the speedup is the"
          "baseline's time over RnnFun's. Each is the median over rounds of the ratio within a round, where"
          "the contestants ran back to back; the times in the tables are medians over rounds."
          "" ]
    match mode with
    | Full (rows, _) ->
        let ratioOf group methodName n =
            rows
            |> List.tryFind (fun x -> x.Group = group && x.Method = methodName && x.N = Some n && x.Threads = Some(defaultThreads n))
            |> Option.bind (fun x -> x.Ratio)
            |> Option.map f3
            |> Option.defaultValue "n/a"
        lines
            [ "The same ratios from BenchmarkDotNet (contestants one after the other, medians of its iterations):"
              ""
              "| N | training step (Training.fit / torch.nn.RNN) | forward (Network.unroll / torch.nn.RNN) |"
              "|---|---|---|" ]
        for n in unitCounts do
            line (sprintf "| %d | %s | %s |" n (ratioOf "training" "RnnFunFit" n) (ratioOf "forward" "RnnFunUnroll" n))
        line ""
    | Quick -> ()
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
          sprintf "One tiny TorchSharp op (tanh of an 8 x 8 tensor, in a dispose scope) costs %s microseconds: the" (f2 r.TinyOpMicroseconds)
          "price of each op RnnFun's time loop issues from F# (see \"Reading the numbers\")."
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
          "  trainable leaves, `InputDrive` once, `FusedBptt.unroll`, `Readout`, `Training.mse`,"
          "  `FusedBptt.backward`, Adam): what the loop costs without fit's bookkeeping."
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
            match x.Inner, x.InnerRatio with
            | Some inner, Some ratio -> ms inner, f3 ratio
            | _ -> "-", "-"
        line (
            sprintf "| %d | %d%s | %s | %s | %s | %s | %s | %s | %s |" x.N x.Threads (if x.IsDefault then " (default)" else "")
                (ms x.RnnFun) innerMs (ms x.Fused) (f3 x.Ratio) innerRatio
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
                let last = List.last methods
                line (sprintf "| N | threads | %s | GFLOP/s (%s) | GFLOP/s (%s) |" header (snd methods.Head) (snd last))
                line (sprintf "|---|---|%s---|---|" (String.replicate (2 * methods.Length) "---|"))
                for n in unitCounts do
                    for t in [ 1; 2 ] do
                        let cell (methodName: string) =
                            match rows |> List.tryFind (fun x -> x.Method = methodName && x.N = Some n && x.Threads = Some t) with
                            | Some x -> sprintf "%s ± %s | %s" (ms x.Median) (ms x.StdDev) (x.Ratio |> Option.map f3 |> Option.defaultValue "")
                            | None -> "n/a | "
                        let rate (methodName: string) =
                            match rows |> List.tryFind (fun x -> x.Method = methodName && x.N = Some n && x.Threads = Some t) with
                            | Some x -> gflops (flops n) x.Median
                            | None -> "n/a"
                        line (
                            sprintf "| %d | %d%s | %s | %s | %s |" n t (if t = defaultThreads n then " (default)" else "")
                                (methods |> List.map (fst >> cell) |> String.concat " | ") (rate (fst methods.Head)) (rate (fst last)))
                line ""
    bdnTable "training" [ "RnnFunFit", "Training.fit"; "RnnFunInnerStep", "inner step"; "TorchRnn", "torch.nn.RNN" ] stepFlops
    // The preset path against Python PyTorch (PresetPath.fs).
    r.Preset |> Option.iter (PresetPath.markdown >> lines)
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
                (ms x.RnnFun) (ms x.Fused) (f3 x.Ratio) (gflops (forwardFlops x.N) x.RnnFun) (gflops (forwardFlops x.N) x.Fused))
    line ""
    bdnTable "forward" [ "RnnFunUnroll", "Network.unroll"; "TorchRnn", "torch.nn.RNN" ] forwardFlops
    // Gated kinds.
    let gemm1 = r.Gemm |> List.tryFind (fun (t, _) -> t = 1) |> Option.map snd
    let kindOf name = if name = "gru" then RnnFun.Kinds.gru else RnnFun.Kinds.lstm
    let torchName name = if name = "gru" then "torch.nn.GRU" else "torch.nn.LSTM"
    lines
        [ "## Gated cells: gru and lstm"
          ""
          sprintf "The same training step and forward pass (B = %d, T = %d, 3 inputs, 3 outputs) for the built-in" BatchSize Time
          "`gru` and `lstm` kinds against TorchSharp's own `torch.nn.GRU` / `torch.nn.LSTM` (batch_first) +"
          "`torch.nn.Linear` (+ Adam), both starting from the very same weights (RnnFun's network, copied"
          "into torch's modules by their shared state_dict names; the first batch's loss is checked to agree"
          "before timing). All weights are trained on both sides (weight_ih_l0, weight_hh_l0, bias_ih_l0,"
          "bias_hh_l0, w_out, b_out). Contestants:"
          ""
          "- **Training.fit**: the library's path, with the hand-written pass for gated cells (`FusedBptt`,"
          "  `FitConfig.FusedBackward = true`, the default)."
          "- **autograd path**: `Training.fit` with `FusedBackward = false`: autograd through every `kind.Step`,"
          "  which is how gated kinds trained before the hand-written pass (one-thread rows only)."
          "- **torch**: `torch.nn.GRU` / `torch.nn.LSTM` + `torch.nn.Linear` + Adam, `mse_loss`, the loss read back."
          ""
          "Rows at one thread on both sides are the headline (equal thread counts, the least sensitive to"
          "other load on the machine); rows at RnnFun's default thread count follow where it differs."
          "FLOP rates count the matrix products only: forward 2BTGN(N+I) + 2BTNO with G = 3 (gru) or 4 (lstm)"
          "gate blocks, a step three times that;"
          (match gemm1 with
           | Some g -> sprintf "the machine's one-thread 1024 x 1024 GEMM runs at %s GFLOP/s." (f1 g)
           | None -> "the GEMM rate was not measured in this run.")
          ""
          "Interleaved Stopwatch medians, training step, ms per step:"
          ""
          "| kind | N | threads | Training.fit | autograd path | torch | fit / torch | autograd / torch | fit GFLOP/s | torch GFLOP/s |"
          "|---|---|---|---|---|---|---|---|---|---|" ]
    for x in r.GatedTraining do
        let kind = kindOf x.Kind
        line (
            sprintf "| %s | %d | %d%s | %s | %s | %s | %s | %s | %s | %s |" x.Kind x.N x.Threads (if x.IsHeadline then "" else " (default)")
                (ms x.RnnFun) (x.Autograd |> Option.map ms |> Option.defaultValue "-") (ms x.Torch) (f3 x.Ratio)
                (x.AutogradRatio |> Option.map f3 |> Option.defaultValue "-")
                (gflops (gatedStepFlops kind x.N) x.RnnFun) (gflops (gatedStepFlops kind x.N) x.Torch))
    if r.GatedTraining.IsEmpty then line "Not measured in this run."
    lines
        [ ""
          "Forward pass, no gradient, against the module and its Linear, ms per pass: `Network.outputs` (the outputs"
          "alone, what the module and its Linear give: libtorch's own gru and lstm kernels with the effective weights"
          "copied in) and `Network.unroll` (outputs and every step's packed state, the lstm's c included, which the"
          "kernel does not give: the hand-written pass):"
          ""
          "| kind | N | threads | Network.outputs | Network.unroll | torch | outputs / torch | unroll / torch | outputs GFLOP/s | torch GFLOP/s |"
          "|---|---|---|---|---|---|---|---|---|---|" ]
    for x in r.GatedForward do
        let kind = kindOf x.Kind
        line (
            sprintf "| %s | %d | %d%s | %s | %s | %s | %s | %s | %s | %s |" x.Kind x.N x.Threads (if x.IsHeadline then "" else " (default)")
                (ms x.RnnFun) (x.Unroll |> Option.map ms |> Option.defaultValue "-") (ms x.Torch) (f3 x.Ratio)
                (x.UnrollRatio |> Option.map f3 |> Option.defaultValue "-")
                (gflops (gatedForwardFlops kind x.N) x.RnnFun) (gflops (gatedForwardFlops kind x.N) x.Torch))
    if r.GatedForward.IsEmpty then line "Not measured in this run."
    line ""
    if not r.GatedTraining.IsEmpty then
        let headline = r.GatedTraining |> List.filter (fun x -> x.IsHeadline)
        let forwardHeadline = r.GatedForward |> List.filter (fun x -> x.IsHeadline)
        let range (xs: float list) = if xs.IsEmpty then "n/a" else sprintf "%s to %s" (f3 (List.min xs)) (f3 (List.max xs))
        lines
            [ sprintf "At one thread the training-step ratios (RnnFun over %s) range from %s, and the forward ratios from %s;"
                  "torch" (range (headline |> List.map (fun x -> x.Ratio))) (range (forwardHeadline |> List.map (fun x -> x.Ratio)))
              sprintf "the autograd path took %s times torch's time." (range (headline |> List.choose (fun x -> x.AutogradRatio)))
              "The hand-written gated pass (`Recurrence.gruForward` / `lstmForward`, `FusedBptt`) works on time-major"
              "buffers: the input projection of all steps is one product (the kind's `InputDrive`), each step one"
              "[batch; H] x [H; 3H or 4H] product into its slice of a preallocated buffer and a few in-place gate ops"
              "(gru: five ops forward, three backward; lstm: seven and five), the backward factors that do not depend"
              "on the incoming gradient are computed for all steps at once before its loop, and the weight_hh"
              "gradient is one product over all steps at the end (weight_ih's follows through autograd from the"
              "drive's gradient, also one product). libtorch's `torch.nn.GRU` runs its loop in C++, recording every"
              "gate op for autograd and replaying them, one weight-gradient product per step. Its `torch.nn.LSTM`"
              "runs far faster than per-op work allows at small N (its forward pass reaches several times the"
              "GFLOP/s of `Network.unroll`), consistent with libtorch's fused oneDNN LSTM kernel on CPU (not"
              "verified from TorchSharp); `Network.unroll` also returns the packed state with every step's c,"
              "which the module does not."
              "" ]
    // Fixed points.
    lines
        [ "## Fixed-point search"
          ""
          "From the same 1024 initial states:"
          ""
          "- **FixedPoints.find** with `FixedPointConfig.defaults`: Adam with FixedPointFinder's PyTorch rule"
          "  (lr 1.0 on the mean q, `ReduceLROnPlateau(0.95, 2)`, no clipping; float32, at most 200"
          "  iterations, a state leaves once its q < 1e-6); then, in float64, batched Newton /"
          "  Levenberg-Marquardt steps on one state per neighbourhood of radius 0.1 and chord steps with the"
          "  converged point's Jacobian for the others (Newton for any that fail), every state to q < 1e-20;"
          "  outlier exclusion, uniqueness; deflation from the midpoints of pairs of the points found (64"
          "  starts, 10 iterations a round); and the Jacobian and eigen-decomposition of every unique point."
          "- **FixedPointFinder-style Adam**: FixedPointFinder's Torch defaults written with TorchSharp: Adam"
          "  (lr 1.0) on all states jointly, `ReduceLROnPlateau(factor 0.95, patience 2)` on the mean q, no"
          "  clipping, at most 5000 iterations, stop when every state has q < 1e-12 or dq < 1e-20 lr,"
          "  float32 (its default dtype), the step of a `torch.nn.RNN` loaded with the network's weights;"
          "  then, as FixedPointFinder does by default, uniqueness at 1e-3 keeping the lowest q, exclusion of"
          "  distance outliers, uniqueness again, the Jacobians of the unique points by autograd and their"
          "  eigen-decompositions (float32). The speedup is measured against this whole pipeline and, in the"
          "  last column, against the search alone (Adam and the first uniqueness pass), which favours the"
          "  baseline: `FixedPoints.find` still linearises every point there."
          ""
          "Problems: the 3-unit network W = 2I (27 fixed points: 8 attractors, 12 + 6 saddles, 1 repeller)"
          "from 1024 states uniform in [-1.5, 1.5]^3; and the 64-unit flip-flop network trained by"
          "`Presets.train (Presets.flipFlop 0)`, from `InitialStates.fromStates 1024 0.5 0` of its"
          "trajectories on 64 fresh trials (as `rnnfun demo` does). A point counts when its q < 1e-12."
          ""
          "Interleaved Stopwatch medians:"
          ""
          "| problem | FixedPoints.find s | unique points | baseline s | unique points | baseline iterations | speedup (baseline / find) | baseline search alone s | speedup against it |"
          "|---|---|---|---|---|---|---|---|---|" ]
    for x in r.FixedPoints do
        line (
            sprintf "| %s | %s | %d | %s | %d | %d | %s | %s | %s |" x.Problem (f3 x.RnnFunSeconds) x.RnnFun.Unique (f3 x.BaselineSeconds)
                x.Baseline.Unique x.Baseline.Iterations (f2 x.Speedup) (f3 x.BaselineSearchSeconds) (f2 x.SearchOnlySpeedup))
    line ""
    for x in r.FixedPoints do
        let p = x.Phases
        let t = p.Timings
        line (
            sprintf "- %s: one extra run of `FixedPoints.find` (%s s, its `Timings`) spent %s s in its Adam phase (about %.0f iterations), %s s in %d Newton and %d chord iterations, %s s in uniqueness, %s s in deflation (%d iterations, %d new points) and %s s in Jacobians and eigen-decompositions."
                x.Problem (f3 p.Seconds) (f3 t.Adam.TotalSeconds) (adamIterations p) (f3 t.Newton.TotalSeconds) p.NewtonIterations p.ChordIterations
                (f3 t.Uniqueness.TotalSeconds) (f3 t.Deflation.TotalSeconds) p.DeflationIterations p.Deflated (f3 t.Linearisation.TotalSeconds))
        line (
            sprintf "  Re-evaluated in float64, %d of the baseline's %d unique points have q < 1e-12 (largest q %s). %s"
                x.BaselineVerified x.Baseline.Unique (x.BaselineWorstQ64.ToString("0.0e0", inv))
                (if x.BaselineUnmatched = 0 then "Each of them lies within 1e-2 of a point of `FixedPoints.find`'s set."
                 elif x.ConfirmedExtra > 0 then
                     sprintf "%d of them %s not in `FixedPoints.find`'s set, and `FixedPoints.find` started there converges to %s (q < 1e-20): from these initial states the library's search misses %s that plain Adam finds."
                         x.ConfirmedExtra (if x.ConfirmedExtra = 1 then "is" else "are") (if x.ConfirmedExtra = 1 then "it" else "them")
                         (if x.ConfirmedExtra = 1 then "a genuine fixed point" else "genuine fixed points")
                 else sprintf "%d of them %s not in `FixedPoints.find`'s set, and `FixedPoints.find` started there does not confirm %s as distinct fixed points." x.BaselineUnmatched (if x.BaselineUnmatched = 1 then "is" else "are") (if x.BaselineUnmatched = 1 then "it" else "them")))
    line ""
    if not r.FixedPointUnion.IsEmpty then
        let runs = r.FixedPointUnion
        let count f = runs |> List.filter f |> List.length
        let networks = runs |> List.map (fun u -> u.NetworkSeed) |> List.distinct
        let seeds = runs |> List.map (fun u -> u.StateSeed) |> List.distinct
        lines
            [ "### Every point the baseline finds"
              ""
              sprintf "The flip-flop preset trained with seeds %s (`rnnfun train --task flipflop --seed S`), each searched"
                  (String.Join(", ", networks))
              sprintf "from 1024 states `InitialStates.fromStates 1024 0.5 s` of its trajectories for s = %s (FixedPointFinder's"
                  (String.Join(", ", seeds))
              "`sample_states`: states drawn with replacement, plus N(0, 0.5^2)), by the FixedPointFinder-style search"
              "(`tests/Baselines/FixedPointFinderStyle.fs`, shared with the tests) and by `FixedPoints.find` at its"
              "defaults. A point of one matches a point of the other within 1e-4; a state ends at a point when it"
              "lies within 1e-3 of it."
              ""
              "| | FixedPointFinder-style | FixedPoints.find |"
              "|---|---|---|"
              sprintf "| runs with all 27 points (8 / 12 / 6 / 1) | %d of %d | %d of %d |" (count (fun u -> u.BaselinePoints = 27)) runs.Length (count (fun u -> u.RnnFunPoints = 27)) runs.Length
              sprintf "| points only this search found, over all runs | %d | %d |" (runs |> List.sumBy (fun u -> u.BaselineOnly)) (runs |> List.sumBy (fun u -> u.RnnFunOnly))
              sprintf "| median time of a run (search, uniqueness, outliers, Jacobians and eigen-decompositions), s | %s | %s |" (f3 (median (runs |> List.map (fun u -> u.BaselineSeconds) |> Array.ofList))) (f3 (median (runs |> List.map (fun u -> u.RnnFunSeconds) |> Array.ofList)))
              ""
              sprintf "States both searches converged from: %d; of these, %d end at the same point. Points found by"
                  (runs |> List.sumBy (fun u -> u.StatesCompared)) (runs |> List.sumBy (fun u -> u.StatesSame))
              sprintf "deflation, from no state: %d in all (%s)."
                  (runs |> List.sumBy (fun u -> u.Deflated))
                  (match [ for u in runs do if u.Deflated > 0 then yield sprintf "network %d, states %d: %d" u.NetworkSeed u.StateSeed u.Deflated ] with
                   | [] -> "none"
                   | xs -> String.Join("; ", xs))
              "" ]
    if not r.FixedPointScaling.IsEmpty then
        lines
            [ "### Scaling with the number of units"
              ""
              "`rnnfun fixed-points --box -1,1 --n-init 256` on random networks (W_rec ~ N(0, g^2 / N), no input"
              "weights; g = 1.2 is past the edge of chaos, with several points, g = 0.9 has the origin alone, so"
              "that its rows show the machinery's cost), and `rnnfun fixed-points` (1024 states from its trajectories) on the flip-flop preset"
              "trained at 256 units and more (`Presets.withUnits`), run as a child process: the search's own time as the command prints it, the whole"
              "command's wall time, and the child's peak resident memory (VmHWM, which includes libtorch's"
              "mapped libraries, about 0.4 GB). Newton's Jacobians go `FixedPoints.matrixRows N` states at a time,"
              "so memory grows with the states' own size, not with states x N^2."
              ""
              "| network | N | states | points | search s | command s | peak MiB |"
              "|---|---|---|---|---|---|---|" ]
        for x in r.FixedPointScaling do
            line (sprintf "| %s | %d | %d | %d | %s | %s | %.0f |" x.Network x.Units x.States x.Points (f2 x.SearchSeconds) (f2 x.CommandSeconds) (float x.PeakBytes / 1048576.0))
        line ""
        let random = r.FixedPointScaling |> List.filter (fun x -> x.Network = "random, gain 0.9")
        match random |> List.tryFind (fun x -> x.Units = 64), random |> List.tryLast with
        | Some a, Some b when b.Units > a.Units && a.SearchSeconds > 0.0 ->
            line (
                sprintf "With gain 0.9, from N = %d to N = %d (x%d) the search's time grew x%.0f, as N^%.1f (a dense LU and an eigen-decomposition are N^3)."
                    a.Units b.Units (b.Units / a.Units) (b.SearchSeconds / a.SearchSeconds)
                    (log (b.SearchSeconds / a.SearchSeconds) / log (float b.Units / float a.Units)))
            line ""
        | _ -> ()
    match r.FixedPointCommand with
    | Some (whole, search) ->
        line (
            sprintf "The whole command on the trained flip-flop (`rnnfun fixed-points --model M`, 1024 states from its trajectories): %s s, of which the search takes %s s; the rest is the runtime's start, loading libtorch and the model, sampling the trajectories and writing the file."
                (f2 whole) (f2 search))
        line ""
    | None -> ()
    match r.FlipFlop with
    | Some t ->
        line (
            sprintf "The flip-flop network trained in %s s (%d steps, %d epochs; last validation loss %s)." (f1 t.Seconds) t.Steps t.Epochs
                (t.ValidationLoss.ToString("0.0e0", inv)))
        line ""
    | None -> ()
    if not r.GatedFixedPoints.IsEmpty then
        lines
            [ "Gated kinds (`FixedPoints.find` alone: the baseline above is written for `torch.nn.RNN`). The"
              "gru solves its own fixed-point equations n(h) - h = 0 (`Kind.FixedPointResidual`; docs/analysis.md):"
              ""
              "| problem | FixedPoints.find s | unique points (by unstable modes) | starts converged | training |"
              "|---|---|---|---|---|" ]
        for x in r.GatedFixedPoints do
            line (
                sprintf "| %s | %s | %d (%s) | %d of 1024 | %s s, %d epochs, validation loss %s |" x.Problem (f3 x.Seconds) x.Unique x.ByModes x.Converged
                    (f1 x.Training.Seconds) x.Training.Epochs (x.Training.ValidationLoss.ToString("0.0e0", inv)))
        line ""
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
              "Peak memory is the child's high-water mark (`VmHWM`, kept by the kernel, polled from `/proc`"
              "every 20 ms while it runs). `getrusage`'s `ru_maxrss` of the children is not used: a child"
              "created by fork counts the parent's resident pages until it execs, so it grows with the"
              "benchmark process itself. Resident memory also counts the pages of libtorch's shared"
              "libraries (about 0.5 GB on disk) that the process maps: when they are already in the page"
              "cache, the kernel maps neighbouring pages too, so the same demo read 370-390 MiB when run"
              "alone and 550-670 MiB right after the benchmark's own training section, here."
              "" ]
    | None -> lines [ "Not measured in this run (the CLI was not built, or `--no-demo` was given)."; "" ]
    // Memory.
    lines
        [ "## Memory against T x B x N"
          ""
          "Each size runs in a fresh child process of the benchmark (`--memory-probe`), after a small warm-up"
          "of the same code path; the figure is the peak resident memory (`VmHWM`) minus the resident memory"
          "after the warm-up. **train**: `Training.fit`, 3 steps on batches of B flip-flop trials of T steps,"
          "N units, one thread (the fused pass). **analyse**: `Network.unroll` of B trials, then a PCA of all"
          "B x T states (as float64 rows, as `InitialStates.ofTrajectories` gives them)."
          ""
          "| workload | T | B | N | T x B x N | extra peak MiB | bytes per T x B x N element |"
          "|---|---|---|---|---|---|---|" ]
    for x in r.Memory do
        let elements = x.Time * x.Batch * x.N
        line (sprintf "| %s | %d | %d | %d | %d | %s | %.0f |" x.What x.Time x.Batch x.N elements (f1 (float x.Bytes / 1048576.0)) (float x.Bytes / float elements))
    if r.Memory.IsEmpty then line "Not measured in this run."
    lines
        [ ""
          "Linear growth shows as a roughly constant last column once the sizes are large enough for the"
          "allocator's and runtime's fixed costs to fade; a float32 copy of the states costs 4 bytes per"
          "element, so the column counts how many such copies a step keeps alive at its peak."
          "" ]
    // Reading.
    let ratios (rows: Row list) = if rows.IsEmpty then [ nan ] else rows |> List.map (fun x -> x.Ratio)
    lines [ "## Reading the numbers"; "" ]
    for x in defaultTraining do
        line (
            sprintf "- Training step, N = %d, %d thread%s: `Training.fit` %s ms, `torch.nn.RNN` %s ms: RnnFun takes %s (difference %s ms per step, %s microseconds per time step)."
                x.N x.Threads (if x.Threads = 1 then "" else "s") (ms x.RnnFun) (ms x.Fused) (percent x.Ratio)
                (f2 ((x.RnnFun - x.Fused) * 1e3)) (f1 ((x.RnnFun - x.Fused) * 1e6 / float Time)))
    for x in defaultForward do
        line (
            sprintf "- Forward pass, N = %d: `Network.unroll` %s ms, `torch.nn.RNN` %s ms: RnnFun takes %s."
                x.N (ms x.RnnFun) (ms x.Fused) (percent x.Ratio))
    lines
        [ ""
          "On the CPU, libtorch's `torch.nn.RNN` is not one fused kernel: it projects the inputs of all time"
          "steps at once, then loops over time in C++, each step a `linear` of the hidden state, an add of the"
          "projected input and a `tanh`, all recorded for autograd; its backward pass replays those nodes, one"
          "weight-gradient product per step. RnnFun's training step (`FusedBptt`, the default of"
          "`Training.fit` for `rnn` and `ctrnn`) and its gradient-free `Network.unroll` (`Recurrence.forward`)"
          "write the recurrence by hand: the drive of all steps in one time-major buffer, each step two"
          "in-place ops on its slice (`addmm_` with W' as a contiguous copy, `sigmoid_`, using"
          "tanh(x) = 2 sigmoid(2x) - 1 because libtorch's CPU `tanh` is about 4 times slower than its vectorised"
          "`sigmoid` here), and for training a backward loop of two in-place ops per step and the W_rec"
          "gradient as one product over all steps. Readout, loss, constraints and the input weights stay with"
          "autograd."
          sprintf "In this run the ratios at the default thread count lie between %s and %s for a training step and"
              (f3 (ratios defaultTraining |> List.min)) (f3 (ratios defaultTraining |> List.max))
          sprintf "between %s and %s for a forward pass." (f3 (ratios defaultForward |> List.min)) (f3 (ratios defaultForward |> List.max))
          sprintf "One tiny op costs %s microseconds through TorchSharp on this run; the hand-written loops issue" (f2 r.TinyOpMicroseconds)
          sprintf "about four per time step in a training step (two forward, two backward), about %s ms per %d-step sequence" (f2 (4.0 * float Time * r.TinyOpMicroseconds / 1e3)) Time
          (match at64 with
           | Some x -> sprintf "(%s%% of a training step at N = 64); the rest is the small matrix products themselves and passes over the [time; batch; units] buffers." (f1 (4.0 * float Time * r.TinyOpMicroseconds / 1e6 / x.RnnFun * 100.0))
           | None -> ".")
          "" ]
    match at64 with
    | Some x when not r.Gemm.IsEmpty ->
        lines
            [ sprintf "At N = 64 a training step reaches %s GFLOP/s in `Training.fit` (%s in `torch.nn.RNN`), against %s GFLOP/s"
                  (gflops (stepFlops 64) x.RnnFun) (gflops (stepFlops 64) x.Fused) (f1 (r.Gemm |> List.head |> snd))
              "for one thread's 1024 x 1024 GEMM: the products of a recurrent step are small (64 rows) and"
              "sequential, so neither contestant comes near the machine's GEMM rate; at N = 256 both get closer."
              "" ]
    | _ -> ()
    match flip with
    | Some f ->
        lines
            [ sprintf "Fixed points of the trained flip-flop: `FixedPoints.find` takes %s s, the FixedPointFinder-style Adam search %s s"
                  (f3 f.RnnFunSeconds) (f3 f.BaselineSeconds)
              sprintf "(speedup %s; %s against its search alone, %s s). `FixedPoints.find` ends with every converged state at"
                  (f2 f.Speedup) (f2 f.SearchOnlySpeedup) (f3 f.BaselineSearchSeconds)
              "q < 1e-20 in float64, then computes Jacobians and eigenvalues (about 30-40 ms of 64 x 64 float64"
              "eigen-decompositions alone for 27 points); the baseline stops in float32 once every state is below"
              "1e-12 or stops moving. An iteration of `FixedPoints.find`'s Adam phase (float32, closed-form gradient,"
              sprintf "the Adam update in place, a read-back of q per iteration) takes about %s ms, one of the baseline's search (float32, autograd, `torch.optim.Adam`) %s ms."
                  (f2 (f.Phases.Timings.Adam.TotalSeconds / adamIterations f.Phases * 1e3)) (f2 (f.BaselineSearchSeconds / float (max 1 f.Baseline.Iterations) * 1e3))
              "" ]
    | None -> ()
    // Sections measured by the separate modes (--certificates, --dynamics) follow a marker in the
    // page: they are kept as they are.
    let marker = "<!-- measured separately: kept when this page is regenerated -->"
    if File.Exists path then
        let old = File.ReadAllText path
        let at = old.IndexOf(marker, StringComparison.Ordinal)
        if at >= 0 then b.Append("\n").Append(old.Substring at) |> ignore
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath path)) |> ignore
    File.WriteAllText(path, b.ToString())
