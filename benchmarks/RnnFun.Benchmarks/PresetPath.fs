/// The training path users run: `Training.fit` with a preset's settings (global-norm clipping,
/// validation, best checkpoint, fresh data), Python PyTorch's torch.nn.RNN step as a baseline, and
/// the whole `rnnfun train --task flipflop` command to a validation MSE of 1e-3.
module RnnFun.Benchmarks.PresetPath

open System
open TorchSharp
open RnnFun
open RnnFun.Benchmarks.Workloads

/// Which of the preset's settings a `PresetSteps` run switches on (all: the preset path).
type PresetParts =
    { Clipping: bool
      Validation: bool
      Fresh: bool }

    static member all = { Clipping = true; Validation = true; Fresh = true }
    static member none = { Clipping = false; Validation = false; Fresh = false }

/// Validation trials of the flip-flop preset.
[<Literal>]
let ValidationTrials = 256

/// `Training.fit` for `epochs` epochs of `steps` batches with the flip-flop preset's settings, at
/// the benchmark's sizes (B = 64, T = 100, all weights trained): global-norm clipping at 1,
/// validation on 256 held-out trials at the end of each epoch (the best checkpoint kept), fresh
/// trials each batch. With 10 steps an epoch holds as many batches as the preset's (640 trials), so
/// the validation pass weighs per step what it weighs there. Several epochs a call, because the
/// validation of an epoch overlaps the next one (`FitHooks.OverlapValidation`): only the last
/// epoch's pass is waited for, once a call (once a training in the presets, after 30-40 epochs).
type PresetSteps(n: int, threads: int option, steps: int, epochs: int, parts: PresetParts) =
    let net = Network.create Kinds.rnn (networkConfig n)
    let fixedData =
        let all = batches steps
        { all[0] with
            Inputs = all |> Array.collect (fun b -> b.Inputs)
            Targets = all |> Array.collect (fun b -> b.Targets)
            Mask = None
            Trials = BatchSize * steps }
    let config =
        { FitConfig.defaults with
            BatchSize = BatchSize
            Epochs = epochs
            LearningRate = 1e-3
            Clipping = (if parts.Clipping then GradientClipping.GlobalNorm 1.0 else GradientClipping.Off)
            Validation = (if parts.Validation then Some(task.Generate ValidationTrials (Presets.validationSeed 0)) else None)
            Seed = 0 }
    let data = if parts.Fresh then TrainingData.Fresh(task, BatchSize * steps) else TrainingData.Dataset fixedData
    let hooks = { FitHooks.none with Threads = threads }
    member _.Run() =
        use result = Training.fitWith hooks config net data
        if result.Steps <> steps * epochs then failwithf "Training.fit ran %d steps, expected %d" result.Steps (steps * epochs)
    /// Optimiser steps a call takes.
    member _.Steps = steps * epochs
    interface IDisposable with
        member _.Dispose() = (net :> IDisposable).Dispose()

/// Milliseconds per step of each variant of the preset path at n units and one thread (the
/// variants interleaved round by round, medians): where the preset path's extra time goes.
let profile (n: int) (rounds: int) : (string * float) list =
    let steps = 10
    let variants =
        [ "plain fit", PresetParts.none
          "+ clipping", { PresetParts.none with Clipping = true }
          "+ validation", { PresetParts.none with Validation = true }
          "+ fresh data", { PresetParts.none with Fresh = true }
          "preset path (all three)", PresetParts.all ]
    let runs = variants |> List.map (fun (name, parts) -> name, new PresetSteps(n, Some 1, steps, 4, parts))
    try
        torch.set_num_threads 1
        let samples =
            Harness.interleave 1 rounds
                [ for name, r in runs -> { Harness.Name = name; Harness.OperationsPerCall = r.Steps; Harness.Call = r.Run } ]
        [ for name, _ in variants -> name, Harness.median samples[name] * 1e3 ]
    finally
        for _, r in runs do (r :> IDisposable).Dispose()

/// Milliseconds of each of the preset path's pieces on its own at n units, one thread (medians):
/// generating a batch, one step without and with clipping, one validation pass.
let components (n: int) (rounds: int) : (string * float) list =
    torch.set_num_threads 1
    use net = Network.create Kinds.rnn (networkConfig n)
    let plain = { FitConfig.defaults with BatchSize = BatchSize; LearningRate = 1e-3 }
    use t0 = Training.start plain net
    use t1 = Training.start { plain with Clipping = GradientClipping.GlobalNorm 1.0 } net
    let data = batches 4
    let validation = task.Generate ValidationTrials (Presets.validationSeed 0)
    let mutable k = 0
    let samples =
        Harness.interleave 2 rounds
            [ { Harness.Name = "generate a batch"; Harness.OperationsPerCall = 10; Harness.Call = fun () -> for s in 1 .. 10 do task.Generate BatchSize s |> ignore }
              { Harness.Name = "step"; Harness.OperationsPerCall = 4; Harness.Call = fun () -> for b in data do Training.step t0 b |> ignore }
              { Harness.Name = "step with clipping"; Harness.OperationsPerCall = 4; Harness.Call = fun () -> for b in data do Training.step t1 b |> ignore }
              { Harness.Name = "validation pass (256 trials)"; Harness.OperationsPerCall = 1; Harness.Call = fun () -> Training.evaluate t0 validation |> ignore } ]
    [ for name in [ "generate a batch"; "step"; "step with clipping"; "validation pass (256 trials)" ] -> name, Harness.median samples[name] * 1e3 ]

/// Microseconds of one `Training.tryClipGradients` (global norm 1) over the benchmark network's
/// five parameters at n units, with random gradients (one thread).
let clippingMicroseconds (n: int) (calls: int) =
    torch.set_num_threads 1
    use net = Network.create Kinds.rnn (networkConfig n)
    let leaves =
        net.Parameters
        |> List.map (fun p ->
            let leaf = torch.nn.Parameter(p.Value.detach().clone(), true)
            leaf.grad <- torch.randn(leaf.shape) * 10.0
            leaf :> Tensor)
    let once () =
        use _ = torch.NewDisposeScope()
        Training.tryClipGradients (GradientClipping.GlobalNorm 1.0) leaves |> ignore
    for _ in 1 .. 100 do once ()
    let samples =
        Harness.interleave 1 7 [ { Harness.Name = "clip"; Harness.OperationsPerCall = calls; Harness.Call = fun () -> for _ in 1 .. calls do once () } ]
    for l in leaves do l.Dispose()
    Harness.median samples["clip"] * 1e6

// ---------------------------------------------------------------------------------------------
// Python PyTorch baseline (a child process: benchmarks/RnnFun.Benchmarks/python/rnn_baseline.py)

/// The Python that has Debian's PyTorch (`apt-get install python3-torch`; not a pyenv python on PATH).
[<Literal>]
let Python = "/usr/bin/python3"

/// The baseline script, found from the repository root or beside the executable.
let scriptPath (root: string option) =
    [ match root with
      | Some r -> yield IO.Path.Combine(r, "benchmarks", "RnnFun.Benchmarks", "python", "rnn_baseline.py")
      | None -> ()
      yield IO.Path.Combine(AppContext.BaseDirectory, "python", "rnn_baseline.py") ]
    |> List.tryFind IO.File.Exists

let private startPython (script: string) (threads: int) (args: string list) =
    let psi = Diagnostics.ProcessStartInfo(Python)
    psi.ArgumentList.Add script
    for a in args do psi.ArgumentList.Add a
    // Debian's OpenBLAS ignores torch.set_num_threads: its threads come from the environment.
    psi.Environment["OPENBLAS_NUM_THREADS"] <- string threads
    psi.Environment["OMP_NUM_THREADS"] <- string threads
    psi.Environment["MKL_NUM_THREADS"] <- string threads
    psi.UseShellExecute <- false
    psi.RedirectStandardInput <- true
    psi.RedirectStandardOutput <- true
    psi.RedirectStandardError <- true
    Diagnostics.Process.Start psi

/// A Python process serving timed torch.nn.RNN + Linear + Adam steps at one thread count. Its first
/// line describes the runtime (torch version, the BLAS library loaded, threads), kept as `Runtime`.
type PythonSteps(script: string, threads: int) =
    let p = startPython script threads [ "steps" ]
    let stderr = p.StandardError.ReadToEndAsync()
    let runtime =
        match p.StandardOutput.ReadLine() with
        | null -> failwithf "python baseline did not start: %s" (stderr.Result.Trim())
        | line -> line
    member _.Runtime = runtime
    member _.Threads = threads
    /// Seconds that `steps` steps at n units took, as Python measured them.
    member _.Run(n: int, steps: int) : float =
        p.StandardInput.WriteLine(sprintf "%d %d" n steps)
        p.StandardInput.Flush()
        match p.StandardOutput.ReadLine() with
        | null -> failwithf "python baseline ended: %s" (stderr.Result.Trim())
        | line -> Double.Parse(line, Globalization.CultureInfo.InvariantCulture)
    interface IDisposable with
        member _.Dispose() =
            try
                p.StandardInput.WriteLine "quit"
                p.StandardInput.Close()
                p.WaitForExit 10000 |> ignore
            with _ -> ()
            p.Dispose()

/// The runtime description of the baseline when /usr/bin/python3 has torch (None otherwise, with why).
let pythonRuntime (script: string option) : Result<string, string> =
    match script with
    | None -> Error "script not found"
    | Some _ when not (IO.File.Exists Python) -> Error(sprintf "%s not found" Python)
    | Some s ->
        try
            use probe = new PythonSteps(s, 1)
            Ok probe.Runtime
        with e -> Error e.Message

/// Step times of one size and thread count: the plain `Training.fit` step, the preset path's, and
/// the two torch.nn.RNN baselines (TorchSharp in process, Python PyTorch in a child), interleaved.
type PresetRow =
    { N: int
      Threads: int
      Fit: float
      Preset: float
      TorchSharp: float
      Python: float option
      /// Median over rounds of the per-round ratio.
      PresetOverFit: float
      PresetOverPython: float option
      FitOverPython: float option
      TorchSharpOverPython: float option
      PresetOverTorchSharp: float }

/// One size at one thread count on both sides: `Training.fit` (benchmark settings), the preset path
/// (`PresetSteps`, 4 epochs of 10 steps, each with its validation), TorchSharp's and Python's torch.nn.RNN.
let measure (warmup: int) (minRounds: int) (maxRounds: int) (budget: float) (python: PythonSteps option) (n: int) (threads: int) : PresetRow =
    let steps = 8
    use fit = new FitSteps(n, Some threads, steps)
    use preset = new PresetSteps(n, Some threads, 10, 4, PresetParts.all)
    use torchSharp = new FusedSteps(n, threads, steps)
    torch.set_num_threads threads
    let samples =
        Harness.interleaveWithin warmup minRounds maxRounds budget
            [ { Harness.Name = "fit"; Harness.OperationsPerCall = steps; Harness.Call = fit.Run }
              { Harness.Name = "preset"; Harness.OperationsPerCall = preset.Steps; Harness.Call = preset.Run }
              { Harness.Name = "torchsharp"; Harness.OperationsPerCall = steps; Harness.Call = torchSharp.Run }
              match python with
              | Some py -> { Harness.Name = "python"; Harness.OperationsPerCall = steps; Harness.Call = fun () -> py.Run(n, steps) |> ignore }
              | None -> () ]
    let m name = Harness.median samples[name]
    let ratio a b = Harness.median (Array.map2 (/) samples[a] samples[b])
    let hasPython = python.IsSome
    { N = n
      Threads = threads
      Fit = m "fit"
      Preset = m "preset"
      TorchSharp = m "torchsharp"
      Python = (if hasPython then Some(m "python") else None)
      PresetOverFit = ratio "preset" "fit"
      PresetOverPython = (if hasPython then Some(ratio "preset" "python") else None)
      FitOverPython = (if hasPython then Some(ratio "fit" "python") else None)
      TorchSharpOverPython = (if hasPython then Some(ratio "torchsharp" "python") else None)
      PresetOverTorchSharp = ratio "preset" "torchsharp" }

// ---------------------------------------------------------------------------------------------
// The whole `rnnfun train --task flipflop` command, and Python with the same preset logic

/// One run of a whole training command (a child process).
type CommandRun =
    { /// The process's wall time, start-up and file writing included.
      WallSeconds: float
      /// Seconds from the start of training to the end of the first epoch whose validation MSE was
      /// <= 1e-3 (None: never).
      ToTarget: float option
      /// The epoch (1-based) that reached it.
      TargetEpoch: int option
      BestValidation: float }

let private firstBelow (target: float) (validation: float[]) (ends: float[]) =
    match validation |> Array.tryFindIndex (fun v -> v <= target) with
    | Some i when i < ends.Length -> Some ends[i], Some(i + 1)
    | _ -> None, None

let private runProcess (psi: Diagnostics.ProcessStartInfo) =
    psi.UseShellExecute <- false
    psi.RedirectStandardOutput <- true
    psi.RedirectStandardError <- true
    let sw = Diagnostics.Stopwatch.StartNew()
    use p = Diagnostics.Process.Start psi
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    p.WaitForExit()
    sw.Stop()
    if p.ExitCode <> 0 then failwithf "%s exited with %d: %s" psi.FileName p.ExitCode (err.Result.Trim())
    out.Result, sw.Elapsed.TotalSeconds

/// `rnnfun train --task flipflop --quiet` (seed 0, default threads) into a temporary folder: its wall
/// time, and the time to validation MSE 1e-3 read from its training log (`epoch_end_s`).
let rnnfunFlipFlop (cli: string) : CommandRun =
    let dir = IO.Path.Combine(IO.Path.GetTempPath(), "rnnfun-bench-train-" + Guid.NewGuid().ToString("N"))
    IO.Directory.CreateDirectory dir |> ignore
    try
        let psi =
            if cli.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) then
                let p = Diagnostics.ProcessStartInfo("dotnet")
                p.ArgumentList.Add cli
                p
            else Diagnostics.ProcessStartInfo(cli)
        for a in [ "train"; "--task"; "flipflop"; "--out"; IO.Path.Combine(dir, "flipflop.json"); "--quiet" ] do psi.ArgumentList.Add a
        let _, wall = runProcess psi
        let log = TrainingLogFile.load (IO.Path.Combine(dir, "flipflop.training-log.json"))
        let toTarget, epoch = firstBelow 1e-3 log.ValidationLosses log.EpochEndSeconds
        { WallSeconds = wall; ToTarget = toTarget; TargetEpoch = epoch; BestValidation = Array.min log.ValidationLosses }
    finally
        try IO.Directory.Delete(dir, true) with _ -> ()

/// `rnn_baseline.py flipflop 0` on one thread: the same preset logic in plain PyTorch.
let pythonFlipFlop (script: string) : CommandRun =
    let psi = Diagnostics.ProcessStartInfo(Python)
    psi.ArgumentList.Add script
    psi.ArgumentList.Add "flipflop"
    psi.ArgumentList.Add "0"
    for v in [ "OPENBLAS_NUM_THREADS"; "OMP_NUM_THREADS"; "MKL_NUM_THREADS" ] do psi.Environment[v] <- "1"
    let out, wall = runProcess psi
    let last = out.Trim().Split('\n') |> Array.last
    use doc = Text.Json.JsonDocument.Parse last
    let numbers (key: string) = [| for e in doc.RootElement.GetProperty(key).EnumerateArray() -> e.GetDouble() |]
    let validation = numbers "validation_loss"
    let toTarget, epoch = firstBelow 1e-3 validation (numbers "epoch_end_s")
    { WallSeconds = wall; ToTarget = toTarget; TargetEpoch = epoch; BestValidation = Array.min validation }

/// What the preset-path section of a run measured.
type PresetResults =
    { Rows: PresetRow list
      /// The Python baseline's runtime description (JSON), or why it is missing.
      PythonRuntime: Result<string, string>
      RnnFunCommand: CommandRun list
      PythonCommand: CommandRun list }

let private medianOf (f: CommandRun -> float option) (runs: CommandRun list) =
    let xs = runs |> List.choose f |> Array.ofList
    if xs.Length = 0 then None else Some(Harness.median xs)

let private say format = Printf.kprintf (fun (s: string) -> eprintfn "%s" s) format

let private report format =
    Printf.kprintf (fun (s: string) ->
        Console.Out.WriteLine s
        Console.Out.Flush()) format

/// The section: at each size, one thread on both sides (the headline rows) and two threads on both
/// sides; then the whole flip-flop command against Python, `commandRounds` times each, alternating.
/// Prints the `name: value` lines a script reads (ratios from the one-thread rows).
let run (warmup: int) (minRounds: int) (maxRounds: int) (budget: float) (commandRounds: int) (root: string option) (cli: string option) : PresetResults =
    let script = scriptPath root
    let runtime = pythonRuntime script
    match runtime with
    | Ok description -> say "python baseline: %s" description
    | Error why -> say "python baseline not available (%s): Python rows left out" why
    let pythons = Collections.Generic.Dictionary<int, PythonSteps>()
    let pythonAt threads =
        match runtime, script with
        | Ok _, Some s ->
            if not (pythons.ContainsKey threads) then pythons[threads] <- new PythonSteps(s, threads)
            Some pythons[threads]
        | _ -> None
    try
        let rows =
            [ for n in unitCounts do
                for threads in [ 1; 2 ] do
                    say "preset path, N = %d, %d thread%s on both sides ..." n threads (if threads = 1 then "" else "s")
                    let r = measure warmup (if threads = 1 then minRounds else 1) maxRounds (if threads = 1 then budget else budget / 2.0) (pythonAt threads) n threads
                    let opt (x: float option) = x |> Option.map (fun v -> sprintf "%.2f" (v * 1e3)) |> Option.defaultValue "-"
                    let optRatio (x: float option) = x |> Option.map (sprintf "%.3f") |> Option.defaultValue "-"
                    say "  N=%d threads=%d: Training.fit %.2f ms, preset path %.2f ms (x%.3f), TorchSharp nn.RNN %.2f ms, Python nn.RNN %s ms; preset/python %s, fit/python %s, torchsharp/python %s"
                        n threads (r.Fit * 1e3) (r.Preset * 1e3) r.PresetOverFit (r.TorchSharp * 1e3) (opt r.Python) (optRatio r.PresetOverPython) (optRatio r.FitOverPython) (optRatio r.TorchSharpOverPython)
                    if threads = 1 then
                        report "preset-step ratio to Training.fit N=%d: %.3f" n r.PresetOverFit
                        report "preset-step ratio to TorchSharp nn.RNN N=%d: %.3f" n r.PresetOverTorchSharp
                        r.PresetOverPython |> Option.iter (report "preset-step ratio to Python nn.RNN N=%d: %.3f" n)
                        r.FitOverPython |> Option.iter (report "training-step ratio to Python nn.RNN N=%d: %.3f" n)
                        r.TorchSharpOverPython |> Option.iter (report "TorchSharp nn.RNN ratio to Python nn.RNN N=%d: %.3f" n)
                    yield r ]
        for p in pythons.Values do (p :> IDisposable).Dispose()
        pythons.Clear()
        let ours, theirs =
            match cli with
            | None ->
                say "rnnfun CLI not built: the whole-command rows are left out"
                [], []
            | Some path ->
                let pyScript = match runtime, script with | Ok _, Some s -> Some s | _ -> None
                let runs =
                    [ for k in 1 .. commandRounds do
                        say "whole flip-flop command, round %d of %d ..." k commandRounds
                        let a = rnnfunFlipFlop path
                        let b = pyScript |> Option.map pythonFlipFlop
                        yield a, b ]
                runs |> List.map fst, runs |> List.choose snd
        let show (what: string) (runs: CommandRun list) =
            match medianOf (fun r -> r.ToTarget) runs, medianOf (fun r -> Some r.WallSeconds) runs with
            | Some t, Some w -> report "flipflop %s s to validation 1e-3: %.2f (whole command %.2f)" what t w
            | None, Some w -> report "flipflop %s s to validation 1e-3: never (whole command %.2f)" what w
            | _ -> ()
        show "rnnfun train" ours
        show "python" theirs
        { Rows = rows; PythonRuntime = runtime; RnnFunCommand = ours; PythonCommand = theirs }
    finally
        for p in pythons.Values do (p :> IDisposable).Dispose()

let private inv = Globalization.CultureInfo.InvariantCulture
let private ms (s: float) = (s * 1e3).ToString((if s * 1e3 < 10.0 then "0.00" else "0.0"), inv)
let private f3 (x: float) = x.ToString("0.000", inv)
let private f2 (x: float) = x.ToString("0.00", inv)

/// The page's section on the preset path and Python PyTorch (markdown lines).
let markdown (r: PresetResults) : string list =
    let opt f (x: float option) = x |> Option.map f |> Option.defaultValue "-"
    let blas =
        match r.PythonRuntime with
        | Ok json ->
            use doc = Text.Json.JsonDocument.Parse json
            let root = doc.RootElement
            let libs = [ for e in root.GetProperty("blas").EnumerateArray() -> IO.Path.GetFileName(e.GetString()) ]
            sprintf "Python PyTorch %s (Debian `python3-torch`), BLAS loaded: %s" (root.GetProperty("torch").GetString()) (if libs.IsEmpty then "none found" else String.Join(", ", libs))
        | Error why -> sprintf "Python PyTorch was not available (%s): its columns are empty" why
    [ yield "## The preset path, against Python PyTorch"
      yield ""
      yield "What users run: `Training.fit` with the flip-flop preset's settings (global-norm clipping at 1, a"
      yield "validation pass on 256 held-out trials after every epoch of 10 steps, the best checkpoint kept,"
      yield "fresh trials for every batch), at the benchmark's sizes (B = 64, T = 100, 3 inputs and outputs,"
      yield "all weights trained). Contestants, interleaved round by round at the same thread count on both sides:"
      yield ""
      yield "- **Training.fit**: the plain step of the table above (fixed data, no clipping, no validation)."
      yield "- **preset path**: four epochs of 10 steps with those settings, time divided by the steps. Each"
      yield "  epoch's validation pass runs on a free core while the next epoch trains (`FitHooks.OverlapValidation`);"
      yield "  the last one is waited for, so a call pays one pass in four (a preset run, one in 30-40)."
      yield "- **TorchSharp nn.RNN**: the `torch.nn.RNN` + Linear + Adam step of the table above."
      yield sprintf "- **Python nn.RNN**: the same step in Python (`benchmarks/RnnFun.Benchmarks/python/rnn_baseline.py`), %s;" blas
      yield "  `OPENBLAS_NUM_THREADS` and `OMP_NUM_THREADS` set to the row's thread count (Debian's OpenBLAS"
      yield "  ignores `torch.set_num_threads`). A long-lived child process, timed from this side per call."
      yield ""
      yield "Interleaved Stopwatch medians, ms per step; ratios are medians of the per-round ratios:"
      yield ""
      yield "| N | threads | Training.fit | preset path | TorchSharp nn.RNN | Python nn.RNN | preset / fit | preset / Python | fit / Python | TorchSharp / Python |"
      yield "|---|---|---|---|---|---|---|---|---|---|"
      for x in r.Rows do
          yield
              sprintf "| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s |" x.N x.Threads (ms x.Fit) (ms x.Preset) (ms x.TorchSharp)
                  (opt ms x.Python) (f3 x.PresetOverFit) (opt f3 x.PresetOverPython) (opt f3 x.FitOverPython) (opt f3 x.TorchSharpOverPython)
      yield ""
      let ours, theirs = r.RnnFunCommand, r.PythonCommand
      if not ours.IsEmpty then
          yield "The whole command, `rnnfun train --task flipflop` (seed 0: 64 units, T = 64, the preset above,"
          yield "default threads), as a child process, against `rnn_baseline.py flipflop 0`: the same preset logic"
          yield "in plain PyTorch (64-unit `torch.nn.RNN` + Linear, its own initial weights and data, one thread)."
          yield "Time to validation MSE 1e-3 is read from each run's own per-epoch end times (the training log's"
          yield sprintf "`epoch_end_s` for RnnFun); medians of %d alternating runs:" ours.Length
          yield ""
          yield "| contestant | s to validation MSE 1e-3 | epoch reaching it | whole command s | best validation MSE |"
          yield "|---|---|---|---|---|"
          let row (name: string) (runs: CommandRun list) =
              if runs.IsEmpty then None
              else
                  let epoch = runs |> List.choose (fun r -> r.TargetEpoch) |> List.map float |> Array.ofList
                  Some(
                      sprintf "| %s | %s | %s | %s | %s |" name
                          (opt f2 (medianOf (fun r -> r.ToTarget) runs))
                          (if epoch.Length = 0 then "never" else sprintf "%.0f" (Harness.median epoch))
                          (opt f2 (medianOf (fun r -> Some r.WallSeconds) runs))
                          ((runs |> List.map (fun r -> r.BestValidation) |> Array.ofList |> Harness.median).ToString("0.0e+0", inv)))
          match row "`rnnfun train --task flipflop`" ours with Some l -> yield l | None -> ()
          match row "Python PyTorch, same preset logic" theirs with Some l -> yield l | None -> ()
          yield "" ]
