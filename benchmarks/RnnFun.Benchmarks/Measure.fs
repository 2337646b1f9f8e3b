/// The interleaved Stopwatch measurements (the whole of `--quick`; full mode runs them too, beside
/// BenchmarkDotNet): GEMM rate, per-op cost, training step, forward pass, fixed points, demo.
module RnnFun.Benchmarks.Measure

open System
open TorchSharp
open RnnFun.Benchmarks.Harness
open RnnFun.Benchmarks.Workloads

/// Seconds per operation of each contestant at one size and thread setting.
type Row =
    { N: int
      Threads: int
      /// RnnFun's default thread count for this N.
      IsDefault: bool
      /// Training.fit per step, or Network.unroll per pass.
      RnnFun: float
      /// The reproduced inner step (training only).
      Inner: float option
      /// torch.nn.RNN + Linear.
      Fused: float
      /// RnnFun / torch.nn.RNN: the median over rounds of the ratio within each round (the two ran
      /// back to back, so slow changes of the machine's load cancel).
      Ratio: float
      /// inner step / torch.nn.RNN, the same way.
      InnerRatio: float option }

/// Seconds per operation of a gated kind against torch's module at one size and thread count.
type GatedRow =
    { Kind: string
      N: int
      Threads: int
      /// The headline row: one thread on both sides (see docs/performance.md).
      IsHeadline: bool
      /// Training.fit per step (the hand-written pass), or Network.unroll per pass.
      RnnFun: float
      /// Training.fit with FusedBackward = false (autograd through every step), training only.
      Autograd: float option
      /// torch.nn.GRU / torch.nn.LSTM + Linear (+ Adam).
      Torch: float
      /// RnnFun / torch, median over rounds of the per-round ratio.
      Ratio: float
      /// autograd path / torch, the same way.
      AutogradRatio: float option
      /// Network.unroll per pass (outputs and every step's packed state), forward only.
      Unroll: float option
      /// Network.unroll / torch, the same way.
      UnrollRatio: float option }

type FixedPointRow =
    { Problem: string
      RnnFunSeconds: float
      BaselineSeconds: float
      /// Baseline / RnnFun, median over rounds of the per-round ratio.
      Speedup: float
      /// The baseline's search alone (no outlier exclusion, Jacobians or eigen-decompositions).
      BaselineSearchSeconds: float
      /// Baseline search alone / RnnFun (RnnFun still linearises every point).
      SearchOnlySpeedup: float
      RnnFun: SearchOutcome
      Baseline: SearchOutcome
      /// The baseline's unique points whose q, re-evaluated in float64, is below 1e-12.
      BaselineVerified: int
      BaselineWorstQ64: float
      /// Baseline points missing from RnnFun's set that FixedPoints.find, started from them,
      /// confirms as fixed points (q < 1e-20) distinct from RnnFun's set.
      ConfirmedExtra: int
      /// Baseline points with no RnnFun point within 1e-2.
      BaselineUnmatched: int
      Phases: SearchPhases }

/// `FixedPoints.find` on a trained gated flip-flop (no FixedPointFinder-style baseline: that one is
/// written for torch.nn.RNN).
type GatedFixedPointRow =
    { Problem: string
      Seconds: float
      Unique: int
      Converged: int
      /// Fixed points by number of unstable modes, "8 / 12 / 6 / 1".
      ByModes: string
      Training: FlipFlopTraining }

/// `rnnfun fixed-points` on a random network of `Units` units (Workloads.writeRandomNetwork) as a
/// child process: the search's own time (as the command prints it), the whole command's, its peak
/// resident memory.
type ScalingRow =
    { /// "random" or "trained flip-flop".
      Network: string
      Units: int
      States: int
      Points: int
      SearchSeconds: float
      CommandSeconds: float
      PeakBytes: int64 }

/// Extra peak resident memory of one workload size (see Workloads.memoryProbe).
type MemoryRow =
    { What: string
      Time: int
      Batch: int
      N: int
      Bytes: int64 }

type Results =
    { Machine: Machine
      /// (threads, GFLOP/s) of a 1024 x 1024 float32 torch.mm.
      Gemm: (int * float) list
      /// Microseconds of one tiny op (tanh of 8 x 8) through TorchSharp.
      TinyOpMicroseconds: float
      Training: Row list
      /// The preset path against Python PyTorch and TorchSharp, and the whole flip-flop command
      /// (with the training section).
      Preset: PresetPath.PresetResults option
      Forward: Row list
      /// Gated kinds: training steps and forward passes against torch.nn.GRU / torch.nn.LSTM.
      GatedTraining: GatedRow list
      GatedForward: GatedRow list
      FixedPoints: FixedPointRow list
      GatedFixedPoints: GatedFixedPointRow list
      /// Every point the FixedPointFinder-style search finds, over trained networks and state seeds.
      FixedPointUnion: UnionRun list
      FixedPointScaling: ScalingRow list
      /// `rnnfun fixed-points` on the trained flip-flop: (whole command s, the search's own s).
      FixedPointCommand: (float * float) option
      FlipFlop: FlipFlopTraining option
      Demo: DemoRun option
      Memory: MemoryRow list
      /// /proc/loadavg when the interleaved measurements ended.
      LoadAverageAfter: string
      Seconds: float }

/// Settings of the interleaved runs.
type Plan =
    { TrainingStepsPerCall: int
      ForwardPassesPerCall: int
      Warmup: int
      /// Rounds and time budget (s) of the group at RnnFun's default thread count.
      MinRounds: int
      MaxRounds: int
      TrainingBudget: float
      ForwardBudget: float
      /// Rounds and budget (s) of the group at the other thread count.
      OtherMinRounds: int
      OtherTrainingBudget: float
      OtherForwardBudget: float
      /// Time the reproduced inner step at the other thread count too.
      InnerAtOtherThreads: bool
      SearchWarmup: int
      SearchRounds: int
      /// The union comparison: flip-flop network seeds and initial-state seeds.
      UnionNetworkSeeds: int list
      UnionStateSeeds: int list
      /// Unit counts of the fixed-point scaling table (256 initial states each): random networks of
      /// gain 1.2 and 0.9, and trained flip-flops from 256 units.
      ScalingUnits: int list
      /// More unit counts for the gain-0.9 networks alone (one fixed point: the machinery's cost).
      ContractingUnits: int list
      GemmRounds: int
      /// After this many seconds of the run, groups stop at their minimum number of rounds (so that
      /// a loaded machine does not stretch the run).
      SoftDeadline: float
      /// Runs of the whole flip-flop command (and of its Python counterpart).
      CommandRounds: int }

let quickPlan =
    { TrainingStepsPerCall = 8
      ForwardPassesPerCall = 4
      Warmup = 1
      MinRounds = 3
      MaxRounds = 11
      TrainingBudget = 8.0
      ForwardBudget = 3.0
      OtherMinRounds = 1
      OtherTrainingBudget = 4.0
      OtherForwardBudget = 2.0
      InnerAtOtherThreads = false
      SearchWarmup = 1
      SearchRounds = 3
      UnionNetworkSeeds = [ 0; 1; 2; 3 ]
      UnionStateSeeds = [ 0 .. 5 ]
      ScalingUnits = [ 64; 128; 256 ]
      ContractingUnits = [ 512 ]
      GemmRounds = 15
      SoftDeadline = 100.0
      CommandRounds = 3 }

/// The full mode's plan: more rounds and larger budgets (the run may take longer).
let fullPlan =
    { quickPlan with
        MinRounds = 5
        MaxRounds = 15
        TrainingBudget = 25.0
        ForwardBudget = 8.0
        OtherMinRounds = 3
        OtherTrainingBudget = 10.0
        OtherForwardBudget = 5.0
        InnerAtOtherThreads = true
        SearchRounds = 5
        ScalingUnits = [ 64; 128; 256; 512 ]
        ContractingUnits = [ 1024 ]
        SoftDeadline = 300.0
        CommandRounds = 5 }

/// The run's clock, for the soft deadline.
let private runClock = Diagnostics.Stopwatch()

/// A group's budget: its own, or nothing once the run is past the soft deadline.
let private budget (plan: Plan) (own: float) =
    if runClock.IsRunning && runClock.Elapsed.TotalSeconds > plan.SoftDeadline then 0.0 else own

/// Median over rounds of a / b, the samples paired by round.
let pairedRatio (a: float[]) (b: float[]) = median (Array.map2 (/) a b)

let private say format = Printf.kprintf (fun s -> eprintfn "%s" s) format

/// Prints a line a script reads (stdout, flushed at once).
let report format =
    Printf.kprintf (fun (s: string) ->
        Console.Out.WriteLine s
        Console.Out.Flush()) format

let gemm (plan: Plan) =
    use g = new Gemm(1024)
    let threads = [ 1; 2 ]
    let samples =
        interleave 3 plan.GemmRounds
            [ for t in threads -> { Name = string t; OperationsPerCall = 1; Call = fun () -> g.Run t } ]
    threads |> List.map (fun t -> t, g.Flops / median samples[string t] / 1e9)

let tinyOp () =
    use op = new TinyOp(2000)
    let samples = interleave 2 7 [ { Name = "tiny"; OperationsPerCall = op.Count; Call = op.Run } ]
    median samples["tiny"] * 1e6

/// Contestants at one thread count are interleaved among themselves, with libtorch already at that
/// count, so that no timed call pays for a change of thread count (Training.fit sets its count and
/// restores the previous one: here both are the same).
let training (plan: Plan) (n: int) : Row list =
    let steps = plan.TrainingStepsPerCall
    [ for threads, isDefault in [ defaultThreads n, true; otherThreads n, false ] do
        use fit = new FitSteps(n, (if isDefault then None else Some threads), steps)
        use fused = new FusedSteps(n, threads, steps)
        use inner = new InnerSteps(n, threads, steps)
        let withInner = isDefault || plan.InnerAtOtherThreads
        torch.set_num_threads threads
        let samples =
            interleaveWithin plan.Warmup
                (if isDefault then plan.MinRounds else plan.OtherMinRounds) plan.MaxRounds
                (budget plan (if isDefault then plan.TrainingBudget else plan.OtherTrainingBudget))
                [ { Name = "fit"; OperationsPerCall = steps; Call = fit.Run }
                  { Name = "fused"; OperationsPerCall = steps; Call = fused.Run }
                  if withInner then { Name = "inner"; OperationsPerCall = steps; Call = inner.Run } ]
        let m name = median samples[name]
        yield
            { N = n
              Threads = threads
              IsDefault = isDefault
              RnnFun = m "fit"
              Inner = (if withInner then Some(m "inner") else None)
              Fused = m "fused"
              Ratio = pairedRatio samples["fit"] samples["fused"]
              InnerRatio = (if withInner then Some(pairedRatio samples["inner"] samples["fused"]) else None) } ]

let forward (plan: Plan) (n: int) : Row list =
    let passes = plan.ForwardPassesPerCall
    [ for threads, isDefault in [ defaultThreads n, true; otherThreads n, false ] do
        use ours = new RnnFunForward(n, threads, passes)
        use theirs = new FusedForward(n, threads, passes)
        torch.set_num_threads threads
        let samples =
            interleaveWithin plan.Warmup
                (if isDefault then plan.MinRounds else plan.OtherMinRounds) (plan.MaxRounds + 2)
                (budget plan (if isDefault then plan.ForwardBudget else plan.OtherForwardBudget))
                [ { Name = "rnnfun"; OperationsPerCall = passes; Call = ours.Run }
                  { Name = "fused"; OperationsPerCall = passes; Call = theirs.Run } ]
        let m name = median samples[name]
        yield
            { N = n
              Threads = threads
              IsDefault = isDefault
              RnnFun = m "rnnfun"
              Inner = None
              Fused = m "fused"
              Ratio = pairedRatio samples["rnnfun"] samples["fused"]
              InnerRatio = None } ]

/// Thread counts of the gated comparison: one thread (the headline, equal on both sides), then
/// RnnFun's default where it differs (both sides at that count).
let private gatedThreads (n: int) =
    [ yield 1, true
      if defaultThreads n <> 1 then yield defaultThreads n, false ]

let gatedTraining (plan: Plan) (kind: RnnFun.Kind) (n: int) : GatedRow list =
    let steps = plan.TrainingStepsPerCall
    let a, b = checkGatedAgree kind n
    say "  %s N=%d: first-batch loss from the same weights: RnnFun %.6f, torch %.6f" kind.Name n a b
    [ for threads, headline in gatedThreads n do
        use fit = new GatedFitSteps(kind, n, Some threads, steps, true)
        use autograd = new GatedFitSteps(kind, n, Some threads, steps, false)
        use theirs = new TorchGatedSteps(kind, n, threads, steps)
        torch.set_num_threads threads
        let samples =
            interleaveWithin plan.Warmup
                (if headline then plan.MinRounds else plan.OtherMinRounds) plan.MaxRounds
                (budget plan (if headline then plan.TrainingBudget else plan.OtherTrainingBudget))
                [ { Name = "fit"; OperationsPerCall = steps; Call = fit.Run }
                  { Name = "torch"; OperationsPerCall = steps; Call = theirs.Run }
                  // The autograd path (what gated training cost before the hand-written pass) on the headline rows.
                  if headline then { Name = "autograd"; OperationsPerCall = steps; Call = autograd.Run } ]
        let m name = median samples[name]
        yield
            { Kind = kind.Name
              N = n
              Threads = threads
              IsHeadline = headline
              RnnFun = m "fit"
              Autograd = (if headline then Some(m "autograd") else None)
              Torch = m "torch"
              Ratio = pairedRatio samples["fit"] samples["torch"]
              AutogradRatio = (if headline then Some(pairedRatio samples["autograd"] samples["torch"]) else None)
              Unroll = None
              UnrollRatio = None } ]

let gatedForward (plan: Plan) (kind: RnnFun.Kind) (n: int) : GatedRow list =
    let passes = plan.ForwardPassesPerCall
    [ for threads, headline in gatedThreads n do
        use ours = new GatedForward(kind, n, threads, passes, false)
        use unroll = new GatedForward(kind, n, threads, passes, true)
        use theirs = new TorchGatedForward(kind, n, threads, passes)
        torch.set_num_threads threads
        let samples =
            interleaveWithin plan.Warmup
                (if headline then plan.MinRounds else plan.OtherMinRounds) (plan.MaxRounds + 2)
                (budget plan (if headline then plan.ForwardBudget else plan.OtherForwardBudget))
                [ { Name = "rnnfun"; OperationsPerCall = passes; Call = ours.Run }
                  { Name = "unroll"; OperationsPerCall = passes; Call = unroll.Run }
                  { Name = "torch"; OperationsPerCall = passes; Call = theirs.Run } ]
        yield
            { Kind = kind.Name
              N = n
              Threads = threads
              IsHeadline = headline
              RnnFun = median samples["rnnfun"]
              Autograd = None
              Torch = median samples["torch"]
              Ratio = pairedRatio samples["rnnfun"] samples["torch"]
              AutogradRatio = None
              Unroll = Some(median samples["unroll"])
              UnrollRatio = Some(pairedRatio samples["unroll"] samples["torch"]) } ]

let fixedPoints (plan: Plan) (problem: FixedPointProblem) : FixedPointRow =
    let mutable ours = Unchecked.defaultof<SearchOutcome>
    let mutable theirs = Unchecked.defaultof<SearchOutcome>
    // Both searches use RnnFun's default thread count: start there, so that neither pays a change.
    torch.set_num_threads (fixedPointThreads problem.Network.Sizes.Units)
    let samples =
        interleave plan.SearchWarmup plan.SearchRounds
            [ { Name = "rnnfun"; OperationsPerCall = 1; Call = fun () -> ours <- rnnfunSearch problem }
              { Name = "baseline"; OperationsPerCall = 1; Call = fun () -> theirs <- fixedPointFinderSearch true problem }
              { Name = "search"; OperationsPerCall = 1; Call = fun () -> fixedPointFinderSearch false problem |> ignore } ]
    let check = q64 problem theirs.Points
    let near (a: float[]) (b: float[]) = sqrt (Array.fold2 (fun acc x y -> acc + (x - y) ** 2.0) 0.0 a b) <= 1e-2
    let extra = theirs.Points |> Array.filter (fun p -> not (ours.Points |> Array.exists (near p)))
    { Problem = problem.Name
      RnnFunSeconds = median samples["rnnfun"]
      BaselineSeconds = median samples["baseline"]
      Speedup = pairedRatio samples["baseline"] samples["rnnfun"]
      BaselineSearchSeconds = median samples["search"]
      SearchOnlySpeedup = pairedRatio samples["search"] samples["rnnfun"]
      RnnFun = ours
      Baseline = theirs
      BaselineVerified = check |> Array.filter (fun q -> q < CountTolQ) |> Array.length
      BaselineWorstQ64 = (if check.Length = 0 then nan else Array.max check)
      ConfirmedExtra = newPointsFrom problem 1e-2 ours.Points extra
      BaselineUnmatched = extra.Length
      Phases = rnnfunSearchPhases problem }

let private ms (s: float) = s * 1e3

/// The sections of a run, in order.
let allSections = [ "gemm"; "training"; "forward"; "gated"; "fixed-points"; "demo"; "memory" ]

/// The sizes of the memory probes: T doubles at B = 64, N = 64; then N doubles at T = 100, B = 64.
let memorySizes =
    [ for t in [ 100; 200; 400; 800 ] -> t, 64, 64
      for n in [ 128; 256 ] -> 100, 64, n ]

/// Runs the interleaved measurements of the given sections, printing the lines a script reads as
/// results come in.
let run (plan: Plan) (root: string option) (cli: string option) (sections: Set<string>) : Results =
    let on name = sections.Contains name
    let total = Diagnostics.Stopwatch.StartNew()
    runClock.Restart()
    let machine = Harness.machine root
    say "machine: %d processors, %s, %.1f GiB, %s, %s, TorchSharp %s, libtorch %s, load average %s" machine.Processors machine.CpuModel machine.MemoryGiB machine.OperatingSystem machine.Runtime machine.TorchSharp machine.LibTorch machine.LoadAverage
    // 1. GEMM rate and per-op cost.
    let gemmRates = if on "gemm" then gemm plan else []
    for t, rate in gemmRates do
        report "gemm GFLOP/s %d thread%s: %.1f" t (if t = 1 then "" else "s") rate
    let tiny = if on "gemm" then tinyOp () else nan
    if on "gemm" then report "tiny-op microseconds: %.2f" tiny
    // 2. Training step.
    let trainingRows =
        [ for n in (if on "training" then unitCounts else []) do
            say "training step, N = %d ..." n
            let rows = training plan n
            for r in rows do
                say "  N=%d threads=%d%s: Training.fit %.2f ms/step (%.1f GFLOP/s), inner step %s ms, torch.nn.RNN %.2f ms (%.1f GFLOP/s), ratio %.3f"
                    r.N r.Threads (if r.IsDefault then " (default)" else "") (ms r.RnnFun) (stepFlops n / r.RnnFun / 1e9)
                    (r.Inner |> Option.map (fun t -> sprintf "%.2f" (ms t)) |> Option.defaultValue "-") (ms r.Fused) (stepFlops n / r.Fused / 1e9) r.Ratio
            // The headline: one thread on both sides (a two-thread baseline collapses under outside load).
            let h = rows |> List.find (fun r -> r.Threads = 1)
            report "training-step ratio N=%d: %.3f" n h.Ratio
            yield! rows ]
    // 2b. The preset path against Python PyTorch, and the whole flip-flop command.
    let presetResults =
        if not (on "training") then None
        else Some(PresetPath.run plan.Warmup plan.MinRounds plan.MaxRounds (budget plan plan.TrainingBudget) plan.CommandRounds root cli)
    // 3. Forward pass.
    let forwardRows =
        [ for n in (if on "forward" then unitCounts else []) do
            say "forward, N = %d ..." n
            let rows = forward plan n
            for r in rows do
                say "  N=%d threads=%d%s: Network.unroll %.3f ms (%.1f GFLOP/s), torch.nn.RNN %.3f ms (%.1f GFLOP/s), ratio %.3f"
                    r.N r.Threads (if r.IsDefault then " (default)" else "") (ms r.RnnFun) (forwardFlops n / r.RnnFun / 1e9)
                    (ms r.Fused) (forwardFlops n / r.Fused / 1e9) r.Ratio
            let h = rows |> List.find (fun r -> r.Threads = 1)
            report "forward ratio N=%d: %.3f" n h.Ratio
            yield! rows ]
    // 3b. Gated kinds against torch.nn.GRU / torch.nn.LSTM.
    let gatedTrainingRows, gatedForwardRows =
        if not (on "gated") then [], []
        else
            let training =
                [ for kind in gatedKinds do
                    for n in unitCounts do
                        say "%s training step, N = %d ..." kind.Name n
                        let rows = gatedTraining plan kind n
                        for r in rows do
                            say "  %s N=%d threads=%d%s: Training.fit %.2f ms/step (%.1f GFLOP/s), autograd path %s ms, torch.nn.%s %.2f ms (%.1f GFLOP/s), ratio %.3f"
                                r.Kind r.N r.Threads (if r.IsHeadline then " (headline)" else " (default)") (ms r.RnnFun) (gatedStepFlops kind n / r.RnnFun / 1e9)
                                (r.Autograd |> Option.map (fun t -> sprintf "%.2f" (ms t)) |> Option.defaultValue "-") (kind.Name.ToUpperInvariant()) (ms r.Torch) (gatedStepFlops kind n / r.Torch / 1e9) r.Ratio
                        let h = rows |> List.find (fun r -> r.IsHeadline)
                        report "%s training-step ratio N=%d: %.3f" kind.Name n h.Ratio
                        h.AutogradRatio |> Option.iter (report "%s training-step ratio, autograd path, N=%d: %.3f" kind.Name n)
                        yield! rows ]
            let forward =
                [ for kind in gatedKinds do
                    for n in unitCounts do
                        say "%s forward, N = %d ..." kind.Name n
                        let rows = gatedForward plan kind n
                        for r in rows do
                            say "  %s N=%d threads=%d%s: Network.outputs %.3f ms (%.1f GFLOP/s), Network.unroll %s ms, torch.nn.%s %.3f ms (%.1f GFLOP/s), ratio %.3f"
                                r.Kind r.N r.Threads (if r.IsHeadline then " (headline)" else " (default)") (ms r.RnnFun) (gatedForwardFlops kind n / r.RnnFun / 1e9)
                                (r.Unroll |> Option.map (fun t -> sprintf "%.3f" (ms t)) |> Option.defaultValue "-")
                                (kind.Name.ToUpperInvariant()) (ms r.Torch) (gatedForwardFlops kind n / r.Torch / 1e9) r.Ratio
                        let h = rows |> List.find (fun r -> r.IsHeadline)
                        report "%s forward ratio N=%d: %.3f" kind.Name n h.Ratio
                        h.UnrollRatio |> Option.iter (report "%s forward ratio, Network.unroll (every state), N=%d: %.3f" kind.Name n)
                        yield! rows ]
            training, forward
    // 4. Fixed points.
    let fixedPointRows, flipFlopTraining =
        if not (on "fixed-points") then [], None
        else
            say "fixed points: W = 2I ..."
            let w2i = w2iProblem ()
            let w2iRow = fixedPoints plan w2i
            (w2i.Network :> IDisposable).Dispose()
            say "fixed points: training the flip-flop preset ..."
            let flipFlop, flipFlopTraining = flipFlopProblem ()
            say "  trained in %.1f s (%d steps, %d epochs, validation loss %.2e)" flipFlopTraining.Seconds flipFlopTraining.Steps flipFlopTraining.Epochs flipFlopTraining.ValidationLoss
            let flipFlopRow = fixedPoints plan flipFlop
            (flipFlop.Network :> IDisposable).Dispose()
            for r in [ w2iRow; flipFlopRow ] do
                say "  %s: FixedPoints.find %.3f s (%d unique, %d converged, %d outliers, %d linearised), FixedPointFinder-style Adam %.3f s (%d unique, %d converged, %d outliers, %d linearised, %d iterations; %.3f s without the linearisation); baseline points with no RnnFun point within 1e-2: %d, RnnFun points with no baseline point within 1e-2: %d"
                    r.Problem r.RnnFunSeconds r.RnnFun.Unique r.RnnFun.Converged r.RnnFun.Outliers r.RnnFun.Decomposed r.BaselineSeconds r.Baseline.Unique r.Baseline.Converged r.Baseline.Outliers r.Baseline.Decomposed r.Baseline.Iterations r.BaselineSearchSeconds
                    (unmatched 1e-2 r.Baseline.Points r.RnnFun.Points) (unmatched 1e-2 r.RnnFun.Points r.Baseline.Points)
                say "    baseline's unique points re-evaluated in float64: %d of %d have q < 1e-12 (largest q %.2e); baseline points missing from RnnFun's set that FixedPoints.find confirms when started there: %d"
                    r.BaselineVerified r.Baseline.Unique r.BaselineWorstQ64 r.ConfirmedExtra
                let t = r.Phases.Timings
                say "    FixedPoints.find phases (one run, %.3f s): Adam %.3f s (last progress report at iteration %d), Newton and chord %.3f s (%d and %d iterations), uniqueness %.3f s, deflation %.3f s (%d iterations, %d points), Jacobians + eigen %.3f s"
                    r.Phases.Seconds t.Adam.TotalSeconds r.Phases.AdamIterations t.Newton.TotalSeconds r.Phases.NewtonIterations r.Phases.ChordIterations
                    t.Uniqueness.TotalSeconds t.Deflation.TotalSeconds r.Phases.DeflationIterations r.Phases.Deflated t.Linearisation.TotalSeconds
            report "fixed-points speedup: %.2f" flipFlopRow.Speedup
            report "fixed-points speedup against the search alone: %.2f" flipFlopRow.SearchOnlySpeedup
            report "fixed-points found (flip-flop, unique, q < 1e-12): rnnfun %d, baseline %d" flipFlopRow.RnnFun.Unique flipFlopRow.Baseline.Unique
            report "fixed-points speedup W=2I: %.2f" w2iRow.Speedup
            report "fixed-points speedup W=2I against the search alone: %.2f" w2iRow.SearchOnlySpeedup
            report "fixed-points found (W=2I, unique, q < 1e-12): rnnfun %d, baseline %d" w2iRow.RnnFun.Unique w2iRow.Baseline.Unique
            [ w2iRow; flipFlopRow ], Some flipFlopTraining
    let gatedFixedPointRows =
        if not (on "fixed-points") then []
        else
            [ for kind in [ RnnFun.Kinds.gru ] do
                say "fixed points: training the %s flip-flop preset ..." kind.Name
                let problem, training = flipFlopProblemOf kind
                torch.set_num_threads (fixedPointThreads problem.Network.Sizes.Units)
                let mutable last = Unchecked.defaultof<RnnFun.FixedPointResult>
                let samples =
                    interleave plan.SearchWarmup plan.SearchRounds
                        [ { Name = "rnnfun"; OperationsPerCall = 1; Call = fun () -> last <- RnnFun.FixedPoints.find RnnFun.FixedPointConfig.defaults problem.Network (RnnFun.ConstantInput.Same problem.Input) problem.Initial } ]
                let found: RnnFun.FixedPointResult = last
                let byModes =
                    let counts = found.FixedPoints |> Array.countBy (fun p -> p.UnstableModes) |> Map.ofArray
                    let top = if counts.IsEmpty then 0 else counts |> Map.toSeq |> Seq.map fst |> Seq.max
                    String.Join(" / ", [ for m in 0 .. top -> string (counts |> Map.tryFind m |> Option.defaultValue 0) ])
                let row =
                    { Problem = problem.Name
                      Seconds = median samples["rnnfun"]
                      Unique = found.FixedPoints.Length
                      Converged = found.Converged
                      ByModes = byModes
                      Training = training }
                say "  %s: FixedPoints.find %.3f s (%d unique: %s by unstable modes; %d of %d converged)" row.Problem row.Seconds row.Unique row.ByModes row.Converged problem.Initial.Length
                report "fixed-points %s s: %.3f" kind.Name row.Seconds
                (problem.Network :> IDisposable).Dispose()
                yield row ]

    let union =
        if not (on "fixed-points") then []
        else
            say "fixed points: the union comparison, flip-flop networks %A x state seeds %A ..." plan.UnionNetworkSeeds plan.UnionStateSeeds
            let runs = fixedPointUnion plan.UnionNetworkSeeds plan.UnionStateSeeds
            for u in runs do
                say "  network %d, states %d: baseline %d points (%.3f s), FixedPoints.find %d (%.3f s, %d by deflation); baseline-only %d, RnnFun-only %d; %d of %d states at the same point"
                    u.NetworkSeed u.StateSeed u.BaselinePoints u.BaselineSeconds u.RnnFunPoints u.RnnFunSeconds u.Deflated u.BaselineOnly u.RnnFunOnly u.StatesSame u.StatesCompared
            let count f = runs |> List.filter f |> List.length
            report "fixed-points union runs with all 27: baseline %d, rnnfun %d of %d" (count (fun u -> u.BaselinePoints = 27)) (count (fun u -> u.RnnFunPoints = 27)) runs.Length
            report "fixed-points union baseline-only points: %d" (runs |> List.sumBy (fun u -> u.BaselineOnly))
            report "fixed-points union states at the baseline's point: %d of %d" (runs |> List.sumBy (fun u -> u.StatesSame)) (runs |> List.sumBy (fun u -> u.StatesCompared))
            runs
    let scaling, command =
        match cli with
        | Some path when on "fixed-points" ->
            let folder = IO.Path.Combine(IO.Path.GetTempPath(), "rnnfun-bench-fp-" + Guid.NewGuid().ToString("N"))
            IO.Directory.CreateDirectory folder |> ignore
            // "27 fixed points (...) from 256 initial states in 1.23s" -> (27, 1.23)
            let parse (stdout: string) =
                let m = Text.RegularExpressions.Regex.Match(stdout, @"^(\d+) fixed points .* in ([0-9.]+)s", Text.RegularExpressions.RegexOptions.Multiline)
                if m.Success then Some(int m.Groups[1].Value, float m.Groups[2].Value) else None
            try
                let rows =
                    [ for gain, n in [ for n in plan.ScalingUnits -> 1.2, n ] @ [ for n in plan.ScalingUnits @ plan.ContractingUnits -> 0.9, n ] do
                        say "fixed points: rnnfun fixed-points on a random %d-unit network (gain %g) ..." n gain
                        let model = IO.Path.Combine(folder, sprintf "random-%g-%d.json" gain n)
                        writeRandomNetwork gain n 0 model
                        let run = Harness.runCli path [ "fixed-points"; "--model"; model; "--box"; "-1,1"; "--n-init"; "256"; "--quiet"; "--out"; IO.Path.Combine(folder, "fps.json") ]
                        match run.ExitCode, parse run.Stdout with
                        | 0, Some (points, search) ->
                            say "  N = %d: %d points, search %.2f s, command %.2f s, peak %.0f MiB" n points search run.Seconds (float run.PeakBytes / 1048576.0)
                            report "fixed-points scaling N=%d: search %.2f s, command %.2f s, peak MiB %.0f" n search run.Seconds (float run.PeakBytes / 1048576.0)
                            yield { Network = sprintf "random, gain %g" gain; Units = n; States = 256; Points = points; SearchSeconds = search; CommandSeconds = run.Seconds; PeakBytes = run.PeakBytes }
                        | _ -> say "  N = %d: the command failed" n
                      // Trained flip-flops above 64 units (`Presets.withUnits`), from 1024 trajectory states.
                      for n in plan.ScalingUnits |> List.filter (fun n -> n >= 256) do
                        say "fixed points: training a %d-unit flip-flop ..." n
                        let model = IO.Path.Combine(folder, sprintf "flipflop-%d.json" n)
                        do
                            use fit = RnnFun.Presets.train (RnnFun.Presets.withUnits n (RnnFun.Presets.flipFlop 0))
                            RnnFun.ModelFile.save model fit.Network
                        let run = Harness.runCli path [ "fixed-points"; "--model"; model; "--quiet"; "--out"; IO.Path.Combine(folder, "fps.json") ]
                        match run.ExitCode, parse run.Stdout with
                        | 0, Some (points, search) ->
                            say "  trained N = %d: %d points, search %.2f s, command %.2f s, peak %.0f MiB" n points search run.Seconds (float run.PeakBytes / 1048576.0)
                            report "fixed-points trained flip-flop N=%d: %d points, search %.2f s, command %.2f s" n points search run.Seconds
                            yield { Network = "trained flip-flop"; Units = n; States = 1024; Points = points; SearchSeconds = search; CommandSeconds = run.Seconds; PeakBytes = run.PeakBytes }
                        | _ -> say "  trained N = %d: the command failed" n ]
                let command =
                    let model = IO.Path.Combine(folder, "flipflop.json")
                    let net, _ = trainedFlipFlopNetwork 0
                    RnnFun.ModelFile.save model net
                    (net :> IDisposable).Dispose()
                    let runs =
                        [ for _ in 1 .. plan.CommandRounds do
                            let run = Harness.runCli path [ "fixed-points"; "--model"; model; "--quiet"; "--out"; IO.Path.Combine(folder, "fps.json") ]
                            match run.ExitCode, parse run.Stdout with
                            | 0, Some (_, search) -> yield run.Seconds, search
                            | _ -> () ]
                    if runs.IsEmpty then None
                    else
                        let whole = runs |> List.map fst |> Array.ofList |> median
                        let search = runs |> List.map snd |> Array.ofList |> median
                        report "fixed-points command (trained flip-flop, 1024 states): %.2f s, its search %.2f s" whole search
                        Some(whole, search)
                rows, command
            finally
                try IO.Directory.Delete(folder, true) with _ -> ()
        | _ -> [], None

    // 5. The demo pipeline.
    let demo =
        if not (on "demo") then None
        else
            match cli with
            | None ->
                report "demo wall time s: n/a (CLI not built: dotnet build -c Release src/RnnFun.Cli)"
                report "demo peak memory MiB: n/a"
                None
            | Some path ->
                say "rnnfun demo (%s) ..." path
                let d = runDemo path
                report "demo wall time s: %.1f%s" d.Seconds (if d.ExitCode <> 0 then sprintf " (exit code %d)" d.ExitCode else "")
                report "demo peak memory MiB: %.0f" (float d.PeakBytes / 1024.0 / 1024.0)
                Some d
    // 6. Peak memory against T x B x N, each size in a fresh child process.
    let memory =
        [ for what in (if on "memory" then [ "train"; "analyse" ] else []) do
            for (t, b, n) in memorySizes do
                match Harness.runSelf [ "--memory-probe"; what; string t; string b; string n ] with
                | Some bytes ->
                    say "  memory %s T=%d B=%d N=%d: %.1f MiB" what t b n (float bytes / 1048576.0)
                    yield { What = what; Time = t; Batch = b; N = n; Bytes = bytes }
                | None -> () ]
    for what in [ "train"; "analyse" ] do
        let rows = memory |> List.filter (fun r -> r.What = what)
        if not rows.IsEmpty then
            // Bytes per (T x B x N) element, from the largest size: linear growth keeps it flat.
            let perElement (r: MemoryRow) = float r.Bytes / float (r.Time * r.Batch * r.N)
            report "%s peak memory bytes per T*B*N element: %s" what (String.Join(" ", rows |> List.map (fun r -> sprintf "%.0f" (perElement r))))
    total.Stop()
    say "interleaved measurements took %.0f s (load average now %s)" total.Elapsed.TotalSeconds (loadAverage ())
    { Machine = machine
      Gemm = gemmRates
      TinyOpMicroseconds = tiny
      Training = trainingRows
      Preset = presetResults
      Forward = forwardRows
      GatedTraining = gatedTrainingRows
      GatedForward = gatedForwardRows
      FixedPoints = fixedPointRows
      GatedFixedPoints = gatedFixedPointRows
      FixedPointUnion = union
      FixedPointScaling = scaling
      FixedPointCommand = command
      FlipFlop = flipFlopTraining
      Demo = demo
      Memory = memory
      LoadAverageAfter = loadAverage ()
      Seconds = total.Elapsed.TotalSeconds }
