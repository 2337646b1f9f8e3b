/// BenchmarkDotNet benchmarks (full mode): one class per group, torch.nn.RNN as the baseline of
/// each (N, threads) group so that the Ratio column compares within the same table. Run in process
/// (no generated project, no second copy of the native runtime).
module RnnFun.Benchmarks.Full

open System
open BenchmarkDotNet.Attributes
open BenchmarkDotNet.Columns
open BenchmarkDotNet.Configs
open BenchmarkDotNet.Engines
open BenchmarkDotNet.Exporters
open BenchmarkDotNet.Jobs
open BenchmarkDotNet.Loggers
open BenchmarkDotNet.Reports
open BenchmarkDotNet.Running
open BenchmarkDotNet.Toolchains.InProcess.Emit
open RnnFun.Benchmarks.Workloads

[<Literal>]
let StepsPerInvoke = 3

[<Literal>]
let PassesPerInvoke = 4

/// Training step: Training.fit (per step), the reproduced inner step and torch.nn.RNN + Linear.
type TrainingStep() =
    let mutable fit: FitSteps option = None
    let mutable inner: InnerSteps option = None
    let mutable fused: FusedSteps option = None

    [<Params(64, 128, 256)>]
    member val N = 64 with get, set

    [<Params(1, 2)>]
    member val Threads = 1 with get, set

    [<GlobalSetup>]
    member this.Setup() =
        TorchSharp.torch.set_num_threads this.Threads
        fit <- Some(new FitSteps(this.N, Some this.Threads, StepsPerInvoke))
        inner <- Some(new InnerSteps(this.N, this.Threads, StepsPerInvoke))
        fused <- Some(new FusedSteps(this.N, this.Threads, StepsPerInvoke))

    [<GlobalCleanup>]
    member _.Cleanup() =
        fit |> Option.iter (fun f -> (f :> IDisposable).Dispose())
        inner |> Option.iter (fun f -> (f :> IDisposable).Dispose())
        fused |> Option.iter (fun f -> (f :> IDisposable).Dispose())

    [<Benchmark(Baseline = true, OperationsPerInvoke = StepsPerInvoke)>]
    member _.TorchRnn() = fused.Value.Run()

    [<Benchmark(OperationsPerInvoke = StepsPerInvoke)>]
    member _.RnnFunFit() = fit.Value.Run()

    [<Benchmark(OperationsPerInvoke = StepsPerInvoke)>]
    member _.RnnFunInnerStep() = inner.Value.Run()

/// Forward pass without gradients: Network.unroll and torch.nn.RNN + Linear.
type Forward() =
    let mutable ours: RnnFunForward option = None
    let mutable theirs: FusedForward option = None

    [<Params(64, 128, 256)>]
    member val N = 64 with get, set

    [<Params(1, 2)>]
    member val Threads = 1 with get, set

    [<GlobalSetup>]
    member this.Setup() =
        TorchSharp.torch.set_num_threads this.Threads
        ours <- Some(new RnnFunForward(this.N, this.Threads, PassesPerInvoke))
        theirs <- Some(new FusedForward(this.N, this.Threads, PassesPerInvoke))

    [<GlobalCleanup>]
    member _.Cleanup() =
        ours |> Option.iter (fun f -> (f :> IDisposable).Dispose())
        theirs |> Option.iter (fun f -> (f :> IDisposable).Dispose())

    [<Benchmark(Baseline = true, OperationsPerInvoke = PassesPerInvoke)>]
    member _.TorchRnn() = theirs.Value.Run()

    [<Benchmark(OperationsPerInvoke = PassesPerInvoke)>]
    member _.RnnFunUnroll() = ours.Value.Run()

/// The problems, built once per process (the flip-flop network is trained once).
let private w2i = lazy (w2iProblem ())
let private flipFlop = lazy (flipFlopProblem ())

/// Fixed-point search: FixedPoints.find and the FixedPointFinder-style Adam search.
type FixedPointSearch() =
    let mutable problem: FixedPointProblem option = None

    [<Params("w2i", "flipflop")>]
    member val Problem = "w2i" with get, set

    [<GlobalSetup>]
    member this.Setup() =
        problem <- Some(if this.Problem = "w2i" then w2i.Value else fst flipFlop.Value)

    [<Benchmark(Baseline = true)>]
    member _.FixedPointFinderAdam() = fixedPointFinderSearch true problem.Value

    [<Benchmark>]
    member _.RnnFunFind() = rnnfunSearch problem.Value

/// A BenchmarkDotNet row: group, method, parameters and the median in seconds per operation.
type BdnRow =
    { Group: string
      Method: string
      N: int option
      Threads: int option
      Problem: string option
      Median: float
      StdDev: float
      Ratio: float option }

let private config (artifacts: string) (job: Job) =
    ManualConfig
        .CreateEmpty()
        .AddJob(job.WithToolchain(InProcessEmitToolchain.Instance))
        .AddColumnProvider(DefaultColumnProviders.Instance)
        .AddColumn(StatisticColumn.Median)
        .AddLogger(ConsoleLogger.Default)
        .AddExporter(MarkdownExporter.GitHub)
        .AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByParams)
        .WithArtifactsPath(artifacts)
        .WithOptions(ConfigOptions.DisableOptimizationsValidator)

let private rows (group: string) (summary: Summary) : BdnRow list =
    let raw =
        [ for report in summary.Reports do
            let case = report.BenchmarkCase
            let param name =
                case.Parameters.Items |> Seq.tryFind (fun p -> p.Name = name) |> Option.map (fun p -> p.Value)
            if not (isNull report.ResultStatistics) then
                yield
                    { Group = group
                      Method = case.Descriptor.WorkloadMethod.Name
                      N = param "N" |> Option.map unbox<int>
                      Threads = param "Threads" |> Option.map unbox<int>
                      Problem = param "Problem" |> Option.map unbox<string>
                      Median = report.ResultStatistics.Median / 1e9
                      StdDev = report.ResultStatistics.StandardDeviation / 1e9
                      Ratio = None } ]
    let baselineOf (r: BdnRow) =
        raw
        |> List.tryFind (fun b ->
            (b.Method = "TorchRnn" || b.Method = "FixedPointFinderAdam") && b.N = r.N && b.Threads = r.Threads && b.Problem = r.Problem)
    raw |> List.map (fun r -> { r with Ratio = baselineOf r |> Option.map (fun b -> r.Median / b.Median) })

/// Runs the three BenchmarkDotNet groups; artifacts (logs, GitHub-markdown tables) go under `artifacts`.
let run (artifacts: string) : BdnRow list =
    let measured = Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(9)
    let slow =
        Job.Default
            .WithStrategy(RunStrategy.Monitoring)
            .WithLaunchCount(1)
            .WithWarmupCount(1)
            .WithIterationCount(5)
            .WithInvocationCount(1)
            .WithUnrollFactor(1)
    let training = BenchmarkRunner.Run<TrainingStep>(config artifacts measured)
    let forward = BenchmarkRunner.Run<Forward>(config artifacts measured)
    let search = BenchmarkRunner.Run<FixedPointSearch>(config artifacts slow)
    rows "training" training @ rows "forward" forward @ rows "fixed points" search
