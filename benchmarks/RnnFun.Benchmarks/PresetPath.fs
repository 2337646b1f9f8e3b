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

/// `Training.fit` for one epoch of `steps` batches with the flip-flop preset's settings, at the
/// benchmark's sizes (B = 64, T = 100, all weights trained): global-norm clipping at 1, validation
/// on 256 held-out trials at the end of the epoch (the best checkpoint kept), fresh trials each
/// batch. With 10 steps an epoch holds as many batches as the preset's (640 trials), so the
/// validation pass weighs per step what it weighs there.
type PresetSteps(n: int, threads: int option, steps: int, parts: PresetParts) =
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
            Epochs = 1
            LearningRate = 1e-3
            Clipping = (if parts.Clipping then GradientClipping.GlobalNorm 1.0 else GradientClipping.Off)
            Validation = (if parts.Validation then Some(task.Generate ValidationTrials (Presets.validationSeed 0)) else None)
            Seed = 0 }
    let data = if parts.Fresh then TrainingData.Fresh(task, BatchSize * steps) else TrainingData.Dataset fixedData
    let hooks = { FitHooks.none with Threads = threads }
    member _.Run() =
        use result = Training.fitWith hooks config net data
        if result.Steps <> steps then failwithf "Training.fit ran %d steps, expected %d" result.Steps steps
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
    let runs = variants |> List.map (fun (name, parts) -> name, new PresetSteps(n, Some 1, steps, parts))
    try
        torch.set_num_threads 1
        let samples =
            Harness.interleave 1 rounds
                [ for name, r in runs -> { Harness.Name = name; Harness.OperationsPerCall = steps; Harness.Call = r.Run } ]
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
