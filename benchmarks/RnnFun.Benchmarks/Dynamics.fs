/// The dynamics entries: a Lyapunov spectrum of a 64-unit network over 1,000 steps (target: under
/// 1 s), against the 1,000 steps of the trajectory alone in the same run, and a continuation of the
/// same network's fixed points as a scale on W_rec varies.
module RnnFun.Benchmarks.Dynamics

open System
open System.Diagnostics
open TorchSharp
open RnnFun

let private median (xs: float[]) = let s = Array.sort xs in s[s.Length / 2]

let private time (repeats: int) (f: unit -> unit) =
    f ()
    Array.init repeats (fun _ ->
        let w = Stopwatch.StartNew()
        f ()
        w.Elapsed.TotalSeconds)
    |> median

/// `name: value` lines, as the quick harness prints them.
let run (units: int) (steps: int) =
    use _ = LibtorchThreads.lease 1
    use net = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 1; Units = units; OutputSize = 1; Seed = 7L; Precision = Precision.Float64 }
    let h0 = Array.init units (fun i -> 0.5 * sin (float i))
    let config = { LyapunovConfig.defaults with Steps = steps; Transient = 0 }
    let spectrum () = Lyapunov.spectrum config net (LyapunovInput.Constant [| 0.0 |]) h0 |> ignore
    // The trajectory alone: the same steps of the kind's own step, one at a time.
    let trajectory () =
        use _ = torch.NewDisposeScope()
        let w = Network.weights net
        let drive = net.Kind.InputDrive w (torch.zeros([| 1L; 1L |], dtype = torch.ScalarType.Float64))
        let mutable x = Arrays.toTensor Precision.Float64 [| 1L; int64 units |] h0
        for _ in 1 .. steps do
            x <- net.Kind.Step w x drive
    let tSpectrum = time 5 spectrum
    let tTrajectory = time 5 trajectory
    printfn "lyapunov_spectrum_%du_%dsteps_s: %.4f" units steps tSpectrum
    printfn "trajectory_%du_%dsteps_s: %.4f" units steps tTrajectory
    printfn "lyapunov_over_trajectory_ratio: %.1f" (tSpectrum / tTrajectory)
    printfn "lyapunov_under_1s: %b" (tSpectrum < 1.0)
    let c = { ContinuationConfig.defaults with Start = 0.5; End = 3.0; InitialStates = Some(InitialStates.uniformBox 64 -1.0 1.0 units 0) }
    let w = Stopwatch.StartNew()
    let r = Continuation.run c net (ContinuationParameter.RecurrentScale [| 0.0 |])
    printfn "continuation_%du_scale_0.5_to_3_s: %.3f (%d branches, %d points, %d bifurcations)" units w.Elapsed.TotalSeconds r.Branches.Length (r.Branches |> Array.sumBy (fun b -> b.Parameter.Length)) r.Events.Length
