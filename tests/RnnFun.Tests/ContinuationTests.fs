module RnnFun.Tests.ContinuationTests

open System
open System.Numerics
open Expecto
open TorchSharp
open RnnFun

/// A float64 vanilla network of a given kind with W_rec, W_in and b_rec given (readout zero).
let internal vanillaNet (kind: Kind) (wRec: float[][]) (wIn: float[][]) (bias: float[]) =
    let units = wRec.Length
    let config = { NetworkConfig.defaults with InputSize = wIn[0].Length; Units = units; OutputSize = 1; Precision = Precision.Float64 }
    Network.ofValues
        kind
        config
        (Map.ofList
            [ "w_in", ParameterValue.Matrix wIn
              "w_rec", ParameterValue.Matrix wRec
              "b_rec", ParameterValue.Vector bias
              "w_out", ParameterValue.Matrix [| Array.zeroCreate units |] ])

/// The positive root of r = tanh(g r) for g > 1, by bisection (independent of the library).
let internal tanhRoot (g: float) =
    let mutable lo, hi = 1e-12, 1.0
    for _ in 1 .. 200 do
        let mid = 0.5 * (lo + hi)
        if tanh (g * mid) - mid > 0.0 then lo <- mid else hi <- mid
    lo

let private atanh (x: float) = 0.5 * log ((1.0 + x) / (1.0 - x))

let private config start finish = { ContinuationConfig.defaults with Start = start; End = finish }

let private eventsOf kind (r: ContinuationResult) = r.Events |> Array.filter (fun e -> e.Kind = kind)

let private sortedStates (r: ContinuationResult) p =
    Continuation.statesAt 1e-6 r p |> Array.map (fun x -> x[0]) |> Array.sort

[<Tests>]
let tests =
    testList "Analysis.Continuation" [
        test "h' = tanh(w h): one point for w < 1, three for w > 1, a pitchfork at w = 1 (traced up, switching onto the new branches)" {
            use net = vanillaNet Kinds.rnn [| [| 1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
            let r = Continuation.run (config 0.5 1.5) net (ContinuationParameter.RecurrentScale [| 0.0 |])
            Expect.equal r.StartPoints 1 "one point at w = 0.5"
            let pitchforks = eventsOf BifurcationKind.Pitchfork r
            Expect.equal r.Events.Length 1 (sprintf "one event: %A" (r.Events |> Array.map (fun e -> e.Kind, e.Parameter)))
            Expect.equal pitchforks.Length 1 "a pitchfork"
            let e = pitchforks[0]
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } e.Parameter 1.0 "at w = 1"
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } e.State[0] 0.0 "at h = 0"
            Expect.floatClose { absolute = 1e-6; relative = 0.0 } e.Eigenvalue.Real 1.0 "lambda = 1"
            Expect.equal e.Crossing 1 "one eigenvalue leaves the disc"
            Expect.equal e.NewBranches.Length 2 "both halves of the second branch traced"
            Expect.equal r.Branches.Length 3 "the trivial branch and the two halves"
            Expect.equal (sortedStates r 0.75) [| 0.0 |] "one point at w = 0.75"
            let root = tanhRoot 1.5
            let at15 = sortedStates r 1.5
            Expect.equal at15.Length 3 (sprintf "three points at w = 1.5: %A" at15)
            Expect.floatClose { absolute = 1e-9; relative = 0.0 } at15[0] -root "-r"
            Expect.floatClose { absolute = 1e-9; relative = 0.0 } at15[1] 0.0 "0"
            Expect.floatClose { absolute = 1e-9; relative = 0.0 } at15[2] root "r"
            // Stability: 0 is stable below 1 and unstable above; the new points are stable.
            let trivial = r.Branches[0]
            for k in 0 .. trivial.Parameter.Length - 1 do
                let w = trivial.Parameter[k]
                Expect.floatClose { absolute = 1e-9; relative = 0.0 } (trivial.States[k][0]) 0.0 "trivial branch at 0"
                Expect.floatClose { absolute = 1e-9; relative = 0.0 } (trivial.Eigenvalues.[k].[0].Real) w "lambda = w on it"
                if w < 0.99 then Expect.isTrue trivial.Stable[k] "stable below 1"
                if w > 1.01 then Expect.equal trivial.UnstableModes[k] 1 "unstable above 1"
            for b in r.Branches |> Array.filter (fun b -> b.Parent = 0) do
                Expect.isTrue (b.Parameter |> Array.forall (fun w -> w >= 1.0 - 1e-9)) "the halves lie at w >= 1"
                for k in 0 .. b.Parameter.Length - 1 do
                    let h, w = b.States[k][0], b.Parameter[k]
                    Expect.floatClose { absolute = 1e-9; relative = 0.0 } (tanh (w * h)) h "on the branch: a fixed point"
                    if abs h > 0.05 then Expect.isTrue b.Stable[k] "the new points are stable"
        }

        test "h' = tanh(w h) traced down from w = 1.5: the three points meet at w = 1, one below" {
            use net = vanillaNet Kinds.rnn [| [| 1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
            let r = Continuation.run (config 1.5 0.5) net (ContinuationParameter.RecurrentScale [| 0.0 |])
            Expect.equal r.StartPoints 3 "three points at w = 1.5"
            Expect.equal r.Branches.Length 2 (sprintf "0, and one branch through 0 from r to -r: %A" (r.Branches |> Array.map (fun b -> b.Ending)))
            Expect.equal (r.Branches |> Array.filter (fun b -> b.Ending <> BranchEnding.Range) |> Array.length) 1 "the nonzero branch merges into the other start point"
            let e = eventsOf BifurcationKind.Pitchfork r
            Expect.equal e.Length 1 (sprintf "a pitchfork: %A" (r.Events |> Array.map (fun e -> e.Kind, e.Parameter)))
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } e[0].Parameter 1.0 "at w = 1"
            Expect.equal e[0].Crossing -1 "the eigenvalue enters the disc as w falls"
            Expect.equal (sortedStates r 0.5) [| 0.0 |] "one point at w = 0.5"
            Expect.equal (sortedStates r 1.25).Length 3 "three at w = 1.25"
        }

        test "h' = tanh(s R(theta) h): the complex pair s e^(+-i theta) at 0 crosses the circle at s = 1 (Neimark-Sacker)" {
            let theta = 0.7
            let rot = [| [| cos theta; -sin theta |]; [| sin theta; cos theta |] |]
            use net = vanillaNet Kinds.rnn rot [| [| 0.0 |]; [| 0.0 |] |] [| 0.0; 0.0 |]
            let r = Continuation.run (config 0.5 1.3) net (ContinuationParameter.RecurrentScale [| 0.0 |])
            Expect.equal r.Branches.Length 1 "the one branch at 0"
            let b = r.Branches[0]
            for k in 0 .. b.Parameter.Length - 1 do
                let s = b.Parameter[k]
                let l = b.Eigenvalues[k]
                Expect.floatClose { absolute = 1e-9; relative = 0.0 } l[0].Magnitude s "|lambda| = s"
                Expect.floatClose { absolute = 1e-9; relative = 0.0 } (abs l[0].Phase) theta "arg lambda = theta"
            Expect.equal r.Events.Length 1 "one event"
            let e = r.Events[0]
            Expect.equal e.Kind BifurcationKind.NeimarkSacker "Neimark-Sacker"
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } e.Parameter 1.0 "at s = 1"
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } e.Eigenvalue.Imaginary (sin theta) "lambda = e^(i theta)"
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } e.Eigenvalue.Real (cos theta) "lambda = e^(i theta)"
            Expect.equal e.Crossing 2 "a pair leaves the disc"
        }

        test "h' = tanh(-s h): lambda = -s crosses -1 at s = 1 (flip)" {
            use net = vanillaNet Kinds.rnn [| [| -1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
            let r = Continuation.run (config 0.5 1.5) net (ContinuationParameter.RecurrentScale [| 0.0 |])
            Expect.equal (r.Events |> Array.map (fun e -> e.Kind)) [| BifurcationKind.Flip |] "one flip"
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } r.Events[0].Parameter 1.0 "at s = 1"
            Expect.floatClose { absolute = 1e-6; relative = 0.0 } r.Events[0].Eigenvalue.Real -1.0 "lambda = -1"
        }

        test "h' = tanh(2 h + b) as the input b varies: folds at b = +-(atanh(1/sqrt 2) - sqrt 2), h = -+1/sqrt 2" {
            use net = vanillaNet Kinds.rnn [| [| 2.0 |] |] [| [| 1.0 |] |] [| 0.0 |]
            let r = Continuation.run (config -1.0 1.0) net (Continuation.inputComponent [| 0.0 |] 0)
            // Fixed points satisfy b = atanh(h) - 2 h; folds where db/dh = 1 / (1 - h^2) - 2 = 0.
            let hFold = 1.0 / sqrt 2.0
            let bFold = atanh hFold - 2.0 * hFold // at h = +1/sqrt 2 (negative)
            let folds = eventsOf BifurcationKind.Fold r |> Array.sortBy (fun e -> e.Parameter)
            Expect.equal r.Events.Length 2 (sprintf "two events: %A" (r.Events |> Array.map (fun e -> e.Kind, e.Parameter)))
            Expect.equal folds.Length 2 "two folds"
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } folds[0].Parameter bFold "lower fold b"
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } folds[1].Parameter -bFold "upper fold b"
            Expect.floatClose { absolute = 1e-4; relative = 0.0 } folds[0].State[0] hFold "lower fold h"
            Expect.floatClose { absolute = 1e-4; relative = 0.0 } folds[1].State[0] -hFold "upper fold h"
            for f in folds do
                Expect.floatClose { absolute = 1e-6; relative = 0.0 } f.Eigenvalue.Real 1.0 "lambda = 1 at a fold"
            Expect.equal r.Branches.Length 1 "one S-shaped branch"
            let b = r.Branches[0]
            for k in 0 .. b.Parameter.Length - 1 do
                let h = b.States[k][0]
                Expect.floatClose { absolute = 1e-9; relative = 0.0 } (atanh h - 2.0 * h) b.Parameter[k] "on the curve b = atanh(h) - 2h"
                if abs h > hFold + 0.01 then Expect.isTrue b.Stable[k] "outer parts stable"
                if abs h < hFold - 0.01 then Expect.equal b.UnstableModes[k] 1 "middle part unstable"
            Expect.equal (sortedStates r 0.0).Length 3 "three points at b = 0"
            Expect.equal (sortedStates r 0.9).Length 1 "one at b = 0.9"
            Expect.equal (sortedStates r -0.9).Length 1 "one at b = -0.9"
        }

        test "the decoupled cube W = g I from g = 1.5 to 0.5: 27 points, 13 branches through 0 and 0 itself, 1 point below g = 1" {
            use net = Network.scaledIdentity Kinds.rnn 3 1.0
            let r = Continuation.run (config 1.5 0.5) net (ContinuationParameter.RecurrentScale [| 0.0 |])
            Expect.equal r.StartPoints 27 "27 points at g = 1.5"
            Expect.equal r.Branches.Length 14 (sprintf "branches: %A" (r.Branches |> Array.map (fun b -> b.Ending)))
            Expect.equal (Continuation.statesAt 1e-6 r 1.5).Length 27 "27 at g = 1.5"
            Expect.equal (Continuation.statesAt 1e-6 r 1.2).Length 27 "27 at g = 1.2"
            let below = Continuation.statesAt 1e-6 r 0.5
            Expect.equal below.Length 1 "1 at g = 0.5"
            Expect.isLessThan (below[0] |> Array.map abs |> Array.max) 1e-9 "the origin"
            let e = r.Events
            Expect.equal e.Length 1 (sprintf "one event: %A" (e |> Array.map (fun e -> e.Kind, e.Parameter, e.Branch)))
            Expect.equal e[0].Kind BifurcationKind.Pitchfork "three pitchforks at once: a symmetric branch point"
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } e[0].Parameter 1.0 "at g = 1"
            Expect.equal e[0].Crossing -3 "three eigenvalues enter the disc"
            // Every branch point is a fixed point of the cube: each coordinate solves x = tanh(g x).
            for b in r.Branches do
                for k in 0 .. b.Parameter.Length - 1 do
                    for x in b.States[k] do
                        Expect.floatClose { absolute = 1e-9; relative = 0.0 } (tanh (b.Parameter[k] * x)) x "a fixed point"
        }

        test "a user kind x' = s x - x^2 (autograd Jacobian): a transcritical at s = 1, both branches traced once" {
            let step: Weights -> Tensor -> Tensor -> Tensor = fun w h _ -> torch.matmul(h, w["w_rec"].t ()) - torch.mul(h, h)
            let kind = { Kinds.rnn with Name = "quadratic"; Step = step; Jacobian = None; HandWritten = None }
            use net = vanillaNet kind [| [| 1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
            let c = { config 0.5 1.5 with InitialStates = Some [| for x in -1.0 .. 0.1 .. 1.0 -> [| x |] |] }
            let r = Continuation.run c net (ContinuationParameter.RecurrentScale [| 0.0 |])
            Expect.equal r.StartPoints 2 "0 and s - 1 at s = 0.5"
            Expect.equal r.Branches.Length 2 (sprintf "no branch twice: %A" (r.Branches |> Array.map (fun b -> b.Parent, b.Parameter.Length)))
            let t = r.Events |> Array.filter (fun e -> e.Kind = BifurcationKind.Transcritical)
            Expect.isGreaterThanOrEqual t.Length 1 (sprintf "a transcritical: %A" (r.Events |> Array.map (fun e -> e.Kind, e.Parameter, e.Branch)))
            for e in r.Events do
                Expect.equal e.Kind BifurcationKind.Transcritical "every event is the transcritical"
                Expect.floatClose { absolute = 1e-8; relative = 0.0 } e.Parameter 1.0 "at s = 1"
            for b in r.Branches do
                for k in 0 .. b.Parameter.Length - 1 do
                    let x, s = b.States[k][0], b.Parameter[k]
                    Expect.isTrue (abs x < 1e-9 || abs (x - (s - 1.0)) < 1e-9) "x = 0 or x = s - 1"
        }

        test "a ctrnn under a direction in input space: the same folds as its rnn, on the continuous-time kind" {
            // x' = x + alpha (-x + 2 tanh(x) + b): fixed points b = x - 2 tanh(x), folds where 1 - 2 (1 - tanh^2 x) = 0.
            let kind = Kinds.ctrnnWith { CtrnnConfig.defaults with Dt = 1.0; Tau = 4.0 }
            use net = vanillaNet kind [| [| 2.0 |] |] [| [| 0.5; 0.5 |] |] [| 0.0 |]
            let parameter = ContinuationParameter.Input([| 0.0; 0.0 |], [| 1.0; 1.0 |]) // b = p (0.5 + 0.5)
            let r = Continuation.run (config -1.0 1.0) net parameter
            let tFold = sqrt 0.5 // tanh x at the fold
            let xFold = atanh tFold
            let bFold = xFold - 2.0 * tFold
            let folds = eventsOf BifurcationKind.Fold r |> Array.sortBy (fun e -> e.Parameter)
            Expect.equal folds.Length 2 (sprintf "two folds: %A" (r.Events |> Array.map (fun e -> e.Kind, e.Parameter)))
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } folds[0].Parameter bFold "lower fold"
            Expect.floatClose { absolute = 1e-8; relative = 0.0 } folds[1].Parameter -bFold "upper fold"
        }

        test "gru and lstm under an input: every branch point is a fixed point of Network.step, with FixedPoints.analyse's eigenvalues" {
            for kind in [ Kinds.gru; Kinds.lstm ] do
                use net = Network.create kind { NetworkConfig.defaults with InputSize = 2; Units = 4; OutputSize = 1; Seed = 3L; Precision = Precision.Float64 }
                let n = Network.stateSize net
                let c = { config -1.0 1.0 with InitialStates = Some(InitialStates.uniformBox 64 -0.5 0.5 n 0) }
                let parameter = ContinuationParameter.Input([| 0.0; 0.3 |], [| 1.0; -1.0 |])
                let r = Continuation.run c net parameter
                Expect.isGreaterThanOrEqual r.Branches.Length 1 (sprintf "%s: a branch" kind.Name)
                for b in r.Branches do
                    for k in 0 .. max 1 (b.Parameter.Length / 5) .. b.Parameter.Length - 1 do
                        let p = b.Parameter[k]
                        let u = Continuation.inputAt parameter p
                        use _ = torch.NewDisposeScope()
                        let h = Arrays.toTensor Precision.Float64 [| 1L; int64 n |] b.States[k]
                        let x = Arrays.toTensor Precision.Float64 [| 1L; 2L |] u
                        let next = Arrays.ofTensor (Network.step net h x)
                        Expect.isLessThan (maxAbsDiff next b.States[k]) 1e-9 (sprintf "%s: a fixed point at p = %g" kind.Name p)
                        let point =
                            { Id = 0; State = b.States[k]; Input = u; Q = 0.0; Speed = 0.0; Search = None; Eigenvalues = [||]; Linearisation = None
                              UnstableModes = 0; Stable = false; Kind = FixedPointKind.Marginal; ContinuousEigenvalues = None }
                        let analysed = FixedPoints.analyse 1e-3 net [| point |]
                        let expected = analysed[0].Eigenvalues |> Array.map (fun l -> l.Magnitude)
                        let actual = b.Eigenvalues[k] |> Array.map (fun l -> l.Magnitude)
                        Expect.isLessThan (maxAbsDiff actual expected) 1e-9 (sprintf "%s: eigenvalue moduli at p = %g" kind.Name p)
                        Expect.equal b.UnstableModes[k] analysed[0].UnstableModes "unstable modes"
        }

        test "refuses a bad range, a zero direction, a wrong input size and a kind with nothing to scale" {
            use net = vanillaNet Kinds.rnn [| [| 1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
            let arg, _ = expectInvalid (fun () -> Continuation.run (config 1.0 1.0) net (ContinuationParameter.RecurrentScale [| 0.0 |])) "empty range"
            Expect.equal arg "range" "range"
            let arg, _ = expectInvalid (fun () -> Continuation.run (config 0.0 1.0) net (ContinuationParameter.Input([| 0.0 |], [| 0.0 |]))) "zero direction"
            Expect.equal arg "direction" "direction"
            let arg, _ = expectInvalid (fun () -> Continuation.run (config 0.0 1.0) net (ContinuationParameter.RecurrentScale [| 0.0; 1.0 |])) "two inputs"
            Expect.equal arg "input" "input"
            let arg, _ = expectInvalid (fun () -> Continuation.inputComponent [| 0.0 |] 3) "index"
            Expect.equal arg "input" "index"
            let free =
                { Kinds.rnn with
                    Name = "free-recurrent"
                    HandWritten = None
                    Parameters = fun sizes -> Kinds.vanillaParameters sizes |> List.map (fun p -> if p.Role = Role.Recurrent then { p with Role = Role.Free } else p) }
            use freeNet = vanillaNet free [| [| 1.0 |] |] [| [| 0.0 |] |] [| 0.0 |]
            let arg, problem = expectInvalid (fun () -> Continuation.run (config 0.5 1.5) freeNet (ContinuationParameter.RecurrentScale [| 0.0 |])) "nothing to scale"
            Expect.equal arg "parameter" "parameter"
            Expect.stringContains problem "free-recurrent" "names the kind"
        }
    ]
