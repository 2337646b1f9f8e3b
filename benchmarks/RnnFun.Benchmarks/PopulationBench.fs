/// K networks trained as one program (`Population.fit`) against the same K networks trained one
/// after another with `Training.fit`, in the same run: the flip-flop workload of the training rows
/// (B = 64, T = 100, 3 bits), 64 units, K = 32. Prints `name: value` lines.
module RnnFun.Benchmarks.PopulationBench

open System
open RnnFun
open RnnFun.Benchmarks.Workloads
open RnnFun.Benchmarks.Harness

/// K members that differ in initial weights (seed), initial scale and learning rate, sharing the
/// data order (FitConfig.Seed): the sweep a user runs over seeds and rates.
let private members (k: int) (n: int) =
    [ for i in 0 .. k - 1 ->
        let net = Network.create Kinds.rnn { networkConfig n with Seed = int64 (100 + i) }
        // Initial scales 0.8 to 1.4 of the recurrent weights, by member.
        let scale = 0.8 + 0.2 * float (i % 4)
        let scaled =
            use wRec = (net.Parameters |> List.find (fun p -> p.Spec.Name = "w_rec")).Value * scale
            Network.withValues net (Map.ofList [ "w_rec", wRec ])
        (net :> IDisposable).Dispose()
        { Network = scaled
          Config =
            { FitConfig.defaults with
                BatchSize = BatchSize
                Epochs = 1
                LearningRate = 1e-3 * (1.0 + float (i % 3))
                Clipping = GradientClipping.GlobalNorm 1.0
                Seed = 0 } } ]

let private dataset (steps: int) =
    let parts = batches steps
    { parts[0] with
        Inputs = parts |> Array.collect (fun b -> b.Inputs)
        Targets = parts |> Array.collect (fun b -> b.Targets)
        Mask = (if parts |> Array.forall (fun b -> b.Mask.IsSome) then Some(parts |> Array.collect (fun b -> b.Mask.Value)) else None)
        Trials = BatchSize * steps }

let private selfPeak () =
    let lines = try IO.File.ReadAllLines "/proc/self/status" with _ -> [||]
    match lines |> Array.tryFind (fun l -> l.StartsWith "VmHWM:") with
    | Some l -> (match Int64.TryParse(l.Substring(6).Replace("kB", "").Trim()) with | true, kb -> kb * 1024L | _ -> 0L)
    | None -> 0L

/// Child mode: the extra peak resident bytes of one batched epoch of K networks (2 steps), over the
/// process after the same epoch at K = 1.
let memoryProbe (k: int) : int64 =
    let data = TrainingData.Dataset(dataset 2)
    let run (k: int) =
        let ms = members k 64
        for r in Population.fitWith { PopulationHooks.none with Threads = Some 1 } ms data do (r :> IDisposable).Dispose()
        for m in ms do (m.Network :> IDisposable).Dispose()
    run 1
    GC.Collect()
    let before = selfPeak ()
    run k
    max 0L (selfPeak () - before)

/// The measurement; `quick`: fewer rounds.
let run (quick: bool) =
    let k, n = 32, 64
    let steps = if quick then 6 else 12
    let rounds = if quick then 3 else 7
    let ms = members k n
    let data = TrainingData.Dataset(dataset steps)
    let sequential (threads: int option) () =
        for m in ms do
            use r = Training.fitWith { FitHooks.none with Threads = threads } m.Config m.Network data
            if r.Steps <> steps then failwithf "Training.fit ran %d steps, expected %d" r.Steps steps
    let batched (threads: int option) () =
        let results = Population.fitWith { PopulationHooks.none with Threads = threads } ms data
        let taken = results |> List.sumBy (fun r -> r.Steps)
        for r in results do (r :> IDisposable).Dispose()
        if taken <> k * steps then failwithf "Population.fit ran %d network steps, expected %d" taken (k * steps)
    let ops = k * steps
    // Population.fit's default is fit's (1 thread at 64 units); a second thread is measured beside it.
    let defaultPopulation = if Environment.ProcessorCount > 1 then 2 else 1
    eprintfn "population: K = %d, N = %d, B = %d, T = %d, %d steps per call, %d rounds; load average %s" k n BatchSize Time steps rounds (loadAverage ())
    let samples =
        interleave 1 rounds
            [ { Name = "fit"; OperationsPerCall = ops; Call = sequential None }
              { Name = "population-1"; OperationsPerCall = ops; Call = batched (Some 1) }
              if defaultPopulation <> 1 then { Name = "population"; OperationsPerCall = ops; Call = batched (Some defaultPopulation) } ]
    let fitThreads = Training.defaultThreads n
    let gemm = Measure.gemm { Measure.quickPlan with GemmRounds = (if quick then 5 else 15) }
    let gemmAt t = gemm |> List.tryPick (fun (threads, rate) -> if threads = t then Some rate else None) |> Option.defaultValue nan
    let line name (seconds: float[]) threads =
        let perStep = median seconds
        let gflops = stepFlops n / perStep / 1e9
        Measure.report "population %s: %.3f ms per network step, %.0f network steps/s, %.1f GFLOP/s (%d thread(s); GEMM %.1f GFLOP/s, %.0f %%)"
            name (perStep * 1e3) (1.0 / perStep) gflops threads (gemmAt threads) (100.0 * gflops / gemmAt threads)
    line "sequential Training.fit" samples["fit"] fitThreads
    line "Population.fit" samples["population-1"] 1
    Measure.report "population training ratio K=%d N=%d (1 thread each): %.2f" k n (Measure.pairedRatio samples["fit"] samples["population-1"])
    if defaultPopulation <> 1 then
        line "Population.fit" samples["population"] defaultPopulation
        Measure.report "population training ratio K=%d N=%d (fit %d thread, population %d threads): %.2f" k n fitThreads defaultPopulation (Measure.pairedRatio samples["fit"] samples["population"])
    for m in ms do (m.Network :> IDisposable).Dispose()
    let memory = [ for k in [ 8; 16; 32 ] -> k, runSelf [ "--population-memory"; string k ] ]
    for k, bytes in memory do
        match bytes with
        | Some b -> Measure.report "population memory K=%d: %.1f MB (%.2f MB per network)" k (float b / 1e6) (float b / 1e6 / float k)
        | None -> Measure.report "population memory K=%d: probe failed" k
    eprintfn "load average at the end: %s" (loadAverage ())
