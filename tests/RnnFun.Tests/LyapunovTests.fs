module RnnFun.Tests.LyapunovTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open RnnFun
open RnnFun.Tests.ContinuationTests

let private close tol (actual: float) (expected: float) message =
    Expect.floatClose { absolute = tol; relative = 0.0 } actual expected message

let private cfg = { LyapunovConfig.defaults with Steps = 1000; Transient = 200 }

[<Tests>]
let tests =
    testList "Analysis.Lyapunov" [
        test "h' = tanh(0.9 R h): both exponents ln 0.9" {
            let theta = 0.9
            let rot = [| [| 0.9 * cos theta; -0.9 * sin theta |]; [| 0.9 * sin theta; 0.9 * cos theta |] |]
            use net = vanillaNet Kinds.rnn rot [| [| 0.0 |]; [| 0.0 |] |] [| 0.0; 0.0 |]
            let s = Lyapunov.spectrum cfg net (LyapunovInput.Constant [| 0.0 |]) [| 0.3; -0.2 |]
            Expect.equal s.Exponents.Length 2 "two exponents"
            for l in s.Exponents do close 1e-6 l (log 0.9) "ln 0.9 = -0.105361"
            Expect.equal s.KaplanYorke 0.0 "a fixed point: dimension 0"
            Expect.isNone s.PerTimeConstant "a map"
        }

        test "non-normal W = [[0.5, 10], [0, 0.5]]: both ln 0.5 despite the transient growth" {
            use net = vanillaNet Kinds.rnn [| [| 0.5; 10.0 |]; [| 0.0; 0.5 |] |] [| [| 0.0 |]; [| 0.0 |] |] [| 0.0; 0.0 |]
            let s = Lyapunov.spectrum { cfg with Transient = 1000 } net (LyapunovInput.Constant [| 0.0 |]) [| 0.0; 0.0 |]
            // J^t = 0.5^t [[1, 20 t], [0, 1]]: the exponents approach ln 0.5 as log(t) / t; over steps
            // 1000 to 2000 the difference is log 2 / 1000.
            for l in s.Exponents do close 2e-3 l (log 0.5) "ln 0.5 = -0.693147"
            close 1e-9 (Array.sum s.Exponents) (2.0 * log 0.5) "their sum is log |det J| exactly"
        }

        test "a stable corner of the W = 2I cube: every per-step exponent ln 0.1663720878" {
            use net = Network.scaledIdentity Kinds.rnn 3 2.0
            let a = FixedPointTests.aStar
            let s = Lyapunov.spectrum cfg net (LyapunovInput.Constant [| 0.0 |]) [| 0.9; -0.8; 0.7 |]
            let expected = log (2.0 * (1.0 - a * a))
            close 1e-8 expected (log 0.1663720878) "the closed form (the issue gives 10 digits)"
            for l in s.Exponents do
                close 1e-10 l expected "ln(2 (1 - a*^2))"
                close 1e-6 l -1.793529 "ln 0.1663720878 = -1.793529 (six decimals)"
            for x in s.FinalState do close 1e-9 (abs x) a "at a corner"
        }

        test "leaky map x' = (1 - d) x + d J tanh(x) at 0: log|1 - d + d mu| / d per time constant" {
            // alpha = dt / tau = 0.5; J = diag(0.5, -0.5, 0.2).
            let kind = Kinds.ctrnnWith { CtrnnConfig.defaults with Dt = 1.0; Tau = 2.0 }
            let mu = [| 0.5; -0.5; 0.2 |]
            use net = vanillaNet kind (Array.init 3 (fun i -> Array.init 3 (fun j -> if i = j then mu[i] else 0.0))) (Array.init 3 (fun _ -> [| 0.0 |])) [| 0.0; 0.0; 0.0 |]
            let s = Lyapunov.spectrum cfg net (LyapunovInput.Constant [| 0.0 |]) [| 0.1; 0.2; -0.3 |]
            let d = 0.5
            let expected = mu |> Array.map (fun m -> log (abs (1.0 - d + d * m)) / d) |> Array.sortDescending
            close 1e-6 expected[0] -0.575364 "d = 0.5, mu = 0.5"
            let perTau = s.PerTimeConstant |> Option.defaultWith (fun () -> failtest "a ctrnn has per-time-constant exponents")
            for i in 0 .. 2 do
                close 1e-6 perTau[i] expected[i] (sprintf "exponent %d" i)
                close 1e-6 s.Exponents[i] (expected[i] * d) (sprintf "per step %d" i)
        }

        test "under an input sequence: one unit's exponent is the mean of log |w (1 - h'^2)| along its own trajectory" {
            let w = 1.7
            use net = vanillaNet Kinds.rnn [| [| w |] |] [| [| 1.0 |] |] [| 0.0 |]
            let random = Random(3)
            let us = Array.init 600 (fun _ -> [| 2.0 * random.NextDouble() - 1.0 |])
            let c = { cfg with Transient = 100 }
            let s = Lyapunov.spectrum c net (LyapunovInput.Sequence us) [| 0.2 |]
            // Independent scalar simulation.
            let mutable h = 0.2
            let mutable sum = 0.0
            for t in 0 .. us.Length - 1 do
                let next = tanh (w * h + us[t][0])
                if t >= c.Transient then sum <- sum + log (abs (w * (1.0 - next * next)))
                h <- next
            Expect.equal s.Steps 500 "averaged over the sequence less the transient"
            close 1e-10 s.Exponents[0] (sum / 500.0) "the scalar oracle"
            close 1e-12 s.FinalState[0] h "the same trajectory"
            let trials = Lyapunov.ofTrials c net [| us; Array.rev us |] [| 0.2 |]
            Expect.equal trials.Spectra.Length 2 "two trials"
            close 1e-12 trials.Mean[0] ((trials.Spectra[0].Exponents[0] + trials.Spectra[1].Exponents[0]) / 2.0) "mean of the trials"
        }

        test "gru and lstm: the exponents' sum is the mean of log |det J_t| along the trajectory (Jacobian.atStates, Network.step)" {
            for kind in [ Kinds.gru; Kinds.lstm ] do
                use net = Network.create kind { NetworkConfig.defaults with InputSize = 2; Units = 5; OutputSize = 1; Seed = 11L; Precision = Precision.Float64 }
                let n = Network.stateSize net
                let random = Random(5)
                let us = Array.init 80 (fun _ -> [| random.NextDouble() - 0.5; random.NextDouble() - 0.5 |])
                let h0 = Array.init n (fun i -> 0.1 * float (i % 3))
                let c = { cfg with Transient = 10 }
                let s = Lyapunov.spectrum c net (LyapunovInput.Sequence us) h0
                Expect.equal s.Exponents.Length n (sprintf "%s: one exponent per state value" kind.Name)
                // Independently: the states by Network.step, log |det J| by LU of each Jacobian.
                let mutable h = h0
                let mutable sum = 0.0
                for t in 0 .. us.Length - 1 do
                    use _ = torch.NewDisposeScope()
                    if t >= c.Transient then
                        let j = (Jacobian.atStates net [| h |] [| us[t] |])[0]
                        let det = torch.linalg.det(Arrays.matrixToTensor Precision.Float64 j).item<float>()
                        sum <- sum + log (abs det)
                    h <- Arrays.ofTensor (Network.step net (Arrays.toTensor Precision.Float64 [| 1L; int64 n |] h) (Arrays.toTensor Precision.Float64 [| 1L; 2L |] us[t]))
                close 1e-8 (Array.sum s.Exponents) (sum / float s.Steps) (sprintf "%s: sum = mean log |det J|" kind.Name)
                Expect.isLessThan (maxAbsDiff s.FinalState h) 1e-10 (sprintf "%s: the same trajectory" kind.Name)
        }

        test "Kaplan-Yorke: (0.5, 0, -1, -2) gives 2.5; all negative 0; sum never negative the count" {
            Expect.equal (Lyapunov.kaplanYorke [| 0.5; 0.0; -1.0; -2.0 |]) 2.5 "2.5"
            Expect.equal (Lyapunov.kaplanYorke [| -2.0; 0.5; -1.0; 0.0 |]) 2.5 "order does not matter"
            Expect.equal (Lyapunov.kaplanYorke [| -0.1; -1.0 |]) 0.0 "0"
            Expect.equal (Lyapunov.kaplanYorke [| 0.3; 0.1 |]) 2.0 "2"
            Expect.equal (Lyapunov.kaplanYorke [| 0.5; -1.0 |]) 1.5 "1.5"
        }

        testProp "Kaplan-Yorke lies in [j, j + 1) for j the last index with a non-negative partial sum" (fun (raw: NormalFloat list) ->
            let l = raw |> List.map (fun x -> x.Get) |> List.filter (fun x -> abs x < 1e6) |> Array.ofList
            let d = Lyapunov.kaplanYorke l
            let sorted = Array.sortDescending l
            let sums = Array.scan (+) 0.0 sorted |> Array.tail
            let j = sums |> Array.takeWhile (fun s -> s >= 0.0) |> Array.length
            if l.Length = 0 || sorted[0] < 0.0 then d = 0.0
            elif j = l.Length then d = float j
            else d >= float j && d < float (j + 1))

        test "the largest k exponents alone equal the first k of the full spectrum; running estimates converge to the result" {
            use net = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 1; Units = 12; OutputSize = 1; Seed = 4L; Precision = Precision.Float64 }
            let c = { cfg with Steps = 400; Transient = 100; RecordEvery = 100 }
            let h0 = Array.init 12 (fun i -> 0.1 * float (i - 6))
            let full = Lyapunov.spectrum c net (LyapunovInput.Constant [| 0.3 |]) h0
            let top = Lyapunov.spectrum { c with Exponents = Some 3 } net (LyapunovInput.Constant [| 0.3 |]) h0
            Expect.equal top.Exponents.Length 3 "three"
            for i in 0 .. 2 do close 1e-3 top.Exponents[i] full.Exponents[i] (sprintf "exponent %d" i)
            Expect.equal full.RunningSteps [| 100; 200; 300; 400 |] "records"
            for i in 0 .. 11 do close 1e-12 (full.Running[3][i]) full.Exponents[i] "the last record is the result"
        }

        test "refuses a wrong input size, a short sequence, too many exponents and a wrong initial state" {
            use net = vanillaNet Kinds.rnn [| [| 0.5 |] |] [| [| 1.0 |] |] [| 0.0 |]
            let arg, _ = expectInvalid (fun () -> Lyapunov.spectrum cfg net (LyapunovInput.Constant [| 0.0; 1.0 |]) [||]) "input size"
            Expect.equal arg "inputs" "inputs"
            let arg, _ = expectInvalid (fun () -> Lyapunov.spectrum cfg net (LyapunovInput.Sequence [| [| 0.0 |] |]) [||]) "short"
            Expect.equal arg "inputs" "short"
            let arg, _ = expectInvalid (fun () -> Lyapunov.spectrum { cfg with Exponents = Some 2 } net (LyapunovInput.Constant [| 0.0 |]) [||]) "exponents"
            Expect.equal arg "exponents" "exponents"
            let arg, _ = expectInvalid (fun () -> Lyapunov.spectrum cfg net (LyapunovInput.Constant [| 0.0 |]) [| 1.0; 2.0 |]) "state"
            Expect.equal arg "initial_state" "state"
        }
    ]
