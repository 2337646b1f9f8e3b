module RnnFun.Tests.SelectionTests

open System
open System.Numerics
open Expecto
open TorchSharp
open RnnFun

/// x' = A x + B u as a continuous-time kind: its Euler map h + dt (A h + B u), A in w_rec, B in
/// w_in (Vanilla's parameters and drive), alpha = dt.
let internal linearKind (dt: float) =
    { Kinds.ctrnn with
        Name = "linear"
        Settings = []
        WithSettings = None
        Step = fun w h drive -> h + torch.addmm(drive, h, w["w_rec"].t (), 1.0f, 1.0f) * dt
        Jacobian = None
        HandWritten = None
        TimeScale = Some dt
        Rates = fun h -> h.alias () }

/// The issue's system: A = [[0, 1], [0, -1]], and one input per b of the oracle.
let internal oracleNet (dt: float) =
    let bs = [| [| 0.0; 1.0 |]; [| 1.0; -1.0 |]; [| 1.0; 1.0 |] |]
    let values =
        Map.ofList
            [ "w_in", ParameterValue.Matrix(Array.init 2 (fun i -> bs |> Array.map (fun b -> b[i]))) // [2; 3]: column j is b_j
              "w_rec", ParameterValue.Matrix [| [| 0.0; 1.0 |]; [| 0.0; -1.0 |] |]
              "b_rec", ParameterValue.Vector [| 0.0; 0.0 |]
              "w_out", ParameterValue.Matrix [| [| 1.0; 0.0 |]; [| 0.0; 1.0 |] |] ]
    Network.ofValues (linearKind dt) { NetworkConfig.defaults with InputSize = 3; Units = 2; OutputSize = 2; Precision = Precision.Float64 } values

let private pointAt (state: float[]) (input: float[]) =
    { Id = 0; State = state; Input = input; Q = 0.0; Speed = 0.0; Search = None; Eigenvalues = [||]; Linearisation = None
      UnstableModes = 0; Stable = false; Kind = FixedPointKind.Marginal; ContinuousEigenvalues = None }

let internal close (tolerance: float) (expected: float[]) (actual: float[]) (what: string) =
    Expect.equal actual.Length expected.Length (what + ": length")
    Array.iter2 (fun (e: float) a -> Expect.isLessThan (abs (e - a)) tolerance (sprintf "%s: %A, expected %A" what actual expected)) expected actual

let private randomNet seed kind units =
    Network.create kind { NetworkConfig.defaults with InputSize = 2; Units = units; OutputSize = 1; Seed = int64 seed; Precision = Precision.Float64; InputBias = true }

[<Tests>]
let tests =
    testList "Analysis.Selection" [
        test "the issue's oracle: x' = A x + b u, A = [[0, 1], [0, -1]]: l = (1, 1), r = (1, 0), end states (1, 0), (0, 0), (2, 0), predicted and simulated" {
            let dt = 0.01
            use net = oracleNet dt
            let p = (FixedPoints.analyse 1e-6 net [| pointAt [| 0.0; 0.0 |] [| 0.0; 0.0; 0.0 |] |])[0]
            let continuous = p.ContinuousEigenvalues.Value
            Expect.floatClose Accuracy.high continuous[0].Real 0.0 "eigenvalue 0"
            Expect.floatClose Accuracy.high continuous[1].Real -1.0 "eigenvalue -1"
            let modes = Selection.ofPoint SelectionConfig.defaults net.Kind.TimeScale p
            Expect.equal modes.Length 1 "the slow mode"
            let slow = modes[0]
            Expect.floatClose Accuracy.high slow.ContinuousEigenvalue.Value.Real 0.0 "the slow mode is the integrator"
            // r l' is invariant to the eigenvectors' scale: [[1, 1], [0, 0]].
            let outer = Array.init 2 (fun i -> Array.init 2 (fun j -> (slow.Right[i] * slow.Left[j]).Real))
            close 1e-12 [| 1.0; 1.0 |] outer[0] "r l' row 0"
            close 1e-12 [| 0.0; 0.0 |] outer[1] "r l' row 1"
            let lr = Array.fold2 (fun (acc: Complex) (l: Complex) r -> acc + l * r) Complex.Zero slow.Left slow.Right
            Expect.floatClose Accuracy.high lr.Real 1.0 "l' r = 1"
            let expected = [| [| 1.0; 0.0 |]; [| 0.0; 0.0 |]; [| 2.0; 0.0 |] |]
            Array.iteri2 (fun j (e: float[]) (s: InputSelection) -> close 1e-12 e s.Displacement (sprintf "predicted end state for b_%d" j)) expected slow.Inputs
            close 1e-12 [| 1.0; 0.0; 2.0 |] (slow.Inputs |> Array.map (fun s -> s.Integrated.Real)) "l' b"
            // Simulation: a unit pulse of length 1 (1 / dt steps) on input j, then 30 time units of relaxation.
            let pulse, relax = int (1.0 / dt), int (30.0 / dt)
            let time = pulse + relax
            let inputs = Array.init (3 * time * 3) (fun k -> let trial, t, j = k / (time * 3), (k / 3) % time, k % 3 in if j = trial && t < pulse then 1.0 else 0.0)
            use _ = torch.NewDisposeScope()
            use rollout = Network.unroll net (Arrays.toTensor Precision.Float64 [| 3L; int64 time; 3L |] inputs)
            let states = Arrays.ofTensor (rollout.States.select(1L, int64 (time - 1))) // [3; 2]
            for j in 0 .. 2 do
                let simulated = Array.sub states (2 * j) 2
                close 1e-9 expected[j] simulated (sprintf "simulated end state for b_%d" j)
                close 1e-9 slow.Inputs[j].Displacement simulated (sprintf "prediction against simulation for b_%d" j)
        }

        test "left eigenvectors: l_i' r_j = delta_ij and l_i' J = lambda_i l_i' at every point of random networks (rnn, ctrnn, gru)" {
            for kind in [ Kinds.rnn; Kinds.ctrnn; Kinds.gru ] do
                for seed in 0 .. 1 do
                    use net = randomNet seed kind 4
                    let r = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.2; -0.1 |]) (InitialStates.uniformBox 64 -1.0 1.0 4 seed)
                    Expect.isNonEmpty r.FixedPoints (sprintf "%s seed %d: some point" kind.Name seed)
                    for p in r.FixedPoints do
                        let l = p.Linearisation.Value
                        let n = p.State.Length
                        for i in 0 .. n - 1 do
                            for j in 0 .. n - 1 do
                                let dot = Array.fold2 (fun (acc: Complex) (a: Complex) b -> acc + a * b) Complex.Zero l.LeftEigenvectors[i] l.Eigenvectors[j]
                                let target = if i = j then Complex.One else Complex.Zero
                                Expect.isLessThan (dot - target).Magnitude 1e-9 (sprintf "%s: l_%d' r_%d" kind.Name i j)
                            // l' J = lambda l'
                            let lJ = Array.init n (fun c -> Seq.fold (fun (acc: Complex) k -> acc + l.LeftEigenvectors[i][k] * Complex(l.Jacobian[k][c], 0.0)) Complex.Zero (seq { 0 .. n - 1 }))
                            for c in 0 .. n - 1 do
                                Expect.isLessThan (lJ[c] - p.Eigenvalues[i] * l.LeftEigenvectors[i][c]).Magnitude 1e-9 (sprintf "%s: l_%d' J" kind.Name i)
        }

        test "the input Jacobian B = dF/du agrees with central differences of the step (rnn, ctrnn, gru, lstm)" {
            for kind in [ Kinds.rnn; Kinds.ctrnn; Kinds.gru; Kinds.lstm ] do
                use net = randomNet 3 kind 3
                let n = Network.stateSize net
                let random = Random(5)
                let state = Array.init n (fun _ -> random.NextDouble() - 0.5)
                let input = [| 0.3; -0.4 |]
                let b = (Jacobian.inputAtStates net [| state |] [| input |])[0]
                use _ = torch.NewDisposeScope()
                let f (u: float[]) = Arrays.ofTensor (Network.step net (Arrays.toTensor Precision.Float64 [| 1L; int64 n |] state) (Arrays.toTensor Precision.Float64 [| 1L; 2L |] u))
                for j in 0 .. 1 do
                    let e = 1e-6
                    let plus = Array.mapi (fun k v -> if k = j then v + e else v) input
                    let minus = Array.mapi (fun k v -> if k = j then v - e else v) input
                    let column = Array.map2 (fun a c -> (a - c) / (2.0 * e)) (f plus) (f minus)
                    close 1e-7 column (b |> Array.map (fun row -> row[j])) (sprintf "%s: column %d" kind.Name j)
        }

        test "fixed-point files keep linearisations and certificates when asked, and old files load without them" {
            use net = Network.scaledIdentity Kinds.rnn 2 2.0
            let r = FixedPoints.find { FixedPointConfig.defaults with Certify = Some CertificateConfig.defaults } net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 64 -1.5 1.5 2 0)
            Expect.equal r.FixedPoints.Length 9 "9 points"
            withTempDir (fun dir ->
                let full = IO.Path.Combine(dir, "full.json")
                let plain = IO.Path.Combine(dir, "plain.json")
                FixedPointFile.saveWith { FixedPointFileOptions.defaults with Linearisation = true; Certificates = r.Certificates } full r.FixedPoints
                FixedPointFile.save plain r.FixedPoints
                let loaded = FixedPointFile.load full
                for a, b in Array.zip r.FixedPoints loaded do
                    Expect.equal b.Linearisation a.Linearisation (sprintf "point %d: linearisation round trip" a.Id)
                Expect.equal (FixedPointFile.loadCertificates full) (r.Certificates |> Array.map Some) "certificates round trip"
                Expect.isTrue ((FixedPointFile.load plain) |> Array.forall (fun p -> p.Linearisation.IsNone)) "a plain file has no linearisation"
                Expect.isTrue ((FixedPointFile.loadCertificates plain) |> Array.forall Option.isNone) "nor certificates"
                let text = IO.File.ReadAllText full
                Expect.stringContains text "\"left_eigenvectors\"" "left eigenvectors written"
                Expect.stringContains text "\"certified\": true" "certificates written")
        }

        test "participation ratio: the cube's 8 corners give 3, points on a line 1, equal to (sum lambda)^2 / sum lambda^2 of the covariance" {
            let corners = [| for a in [ -1.0; 1.0 ] do for b in [ -1.0; 1.0 ] do for c in [ -1.0; 1.0 ] -> [| a; b; c |] |]
            Expect.floatClose Accuracy.veryHigh (Dimensionality.participationRatio corners) 3.0 "cube corners"
            let line = Array.init 20 (fun i -> let t = float i * 0.37 - 2.0 in [| 1.0 + 2.0 * t; -t; 0.5 * t; 3.0 |])
            Expect.floatClose Accuracy.veryHigh (Dimensionality.participationRatio line) 1.0 "a line in 4 dimensions"
            // Against the covariance's eigenvalues, with more units than states (the Gram branch) and fewer.
            let random = Random(2)
            for samples, units in [ 5, 12; 40, 6 ] do
                let states = Array.init samples (fun _ -> Array.init units (fun j -> random.NextDouble() * float (j + 1)))
                use _ = torch.NewDisposeScope()
                let x = Arrays.matrixToTensor Precision.Float64 states
                let c = (x - x.mean([| 0L |], keepdim = true)).t().mm(x - x.mean([| 0L |], keepdim = true)) / float (samples - 1)
                let lambdas = Arrays.ofTensor (torch.linalg.eigvalsh c)
                let expected = (Array.sum lambdas) ** 2.0 / (lambdas |> Array.sumBy (fun l -> l * l))
                Expect.floatClose Accuracy.high (Dimensionality.participationRatio states) expected (sprintf "%d states of %d units" samples units)
            expectInvalid (fun () -> Dimensionality.participationRatio [| [| 1.0 |] |]) "one state" |> ignore
        }

        test "perturbation checks: exact for a linear system; at the origin of W = 2I the error is 1 - tanh(2 eps) / (2 eps) after one step, in both signs" {
            use linear = oracleNet 0.1
            let lp = (FixedPoints.analyse 1e-6 linear [| pointAt [| 0.0; 0.0 |] [| 0.0; 0.0; 0.0 |] |])[0]
            let lr = Perturbation.check PerturbationConfig.defaults linear lp
            Expect.isNonEmpty lr.Pushes "pushes"
            for push in lr.Pushes do
                for v in push.Validity do Expect.isGreaterThan v (1.0 - 1e-9) (sprintf "linear: mode %d %A validity 1" push.Mode push.Direction)
            use net = Network.scaledIdentity Kinds.rnn 3 2.0
            let p = (FixedPoints.analyse 1e-3 net [| pointAt [| 0.0; 0.0; 0.0 |] [| 0.0 |] |])[0]
            let eps = 1e-2
            let r = Perturbation.check { PerturbationConfig.defaults with Epsilon = eps; Steps = [| 1; 2 |] } net p
            let kinds = r.Pushes |> Array.map (fun c -> c.Direction) |> Array.distinct
            Expect.containsAll kinds [ PushDirection.Right; PushDirection.Left; PushDirection.Unstable 1.0; PushDirection.Unstable -1.0 ] "right, left and unstable pushes"
            Expect.equal (r.Pushes |> Array.filter (fun c -> c.Direction = PushDirection.Unstable 1.0)).Length 3 "three unstable modes"
            for push in r.Pushes do
                // Every direction is a unit vector of an eigenspace of 2I: one step is tanh(2 eps v) coordinatewise.
                let step1 (d: float[]) = d |> Array.map (fun x -> tanh (2.0 * x))
                let delta = push.Vector |> Array.map (fun x -> eps * x)
                let norm (v: float[]) = sqrt (Array.sumBy (fun x -> x * x) v)
                let expected k =
                    let actual = if k = 1 then step1 delta else step1 (step1 delta)
                    let linear = delta |> Array.map (fun x -> (pown 2.0 k) * x)
                    norm (Array.map2 (-) actual linear) / norm linear
                Expect.floatClose Accuracy.high push.RelativeError[0] (expected 1) (sprintf "%A: relative error after 1 step" push.Direction)
                Expect.floatClose Accuracy.high push.RelativeError[1] (expected 2) (sprintf "%A: relative error after 2 steps" push.Direction)
                Expect.isLessThan push.Validity[1] push.Validity[0] "validity falls as the unstable mode grows"
            expectInvalid (fun () -> Perturbation.check PerturbationConfig.defaults net (pointAt [| 0.0; 0.0; 0.0 |] [| 0.0 |])) "no linearisation" |> ignore
        }

        test "lesions: silenced units' rows and columns are 0, every other weight is unchanged, the network's own weights too (rnn, ctrnn, gru, lstm)" {
            for kind in [ Kinds.rnn; Kinds.ctrnn; Kinds.gru; Kinds.lstm ] do
                use net = randomNet 7 kind 5
                let before = Network.values net
                let units = [| 1; 3 |]
                use lesioned = Lesion.silence { LesionConfig.defaults with Units = units } net
                Expect.equal (Network.values net) before (kind.Name + ": the network itself is unchanged")
                let after = Network.values lesioned |> Map.ofList
                let roles = net.Parameters |> List.map (fun p -> p.Spec.Name, p.Spec.Role) |> Map.ofList
                let hit (r: int) = Array.contains (r % 5) units
                for name, value in before do
                    match value, after[name] with
                    | ParameterValue.Matrix m, ParameterValue.Matrix m2 ->
                        for r in 0 .. m.Length - 1 do
                            for c in 0 .. m[r].Length - 1 do
                                let zeroed =
                                    match roles[name] with
                                    | Role.Recurrent | Role.RecurrentBlocks _ -> hit r || Array.contains c units
                                    | Role.Input | Role.InputBlocks _ -> hit r
                                    | Role.Output -> Array.contains c units
                                    | _ -> false
                                if zeroed then Expect.equal (m2[r][c]) 0.0 (sprintf "%s %s[%d][%d] silenced" kind.Name name r c)
                                else Expect.equal (m2[r][c]) (m[r][c]) (sprintf "%s %s[%d][%d] unchanged" kind.Name name r c)
                    | ParameterValue.Vector v, ParameterValue.Vector v2 ->
                        for r in 0 .. v.Length - 1 do
                            let zeroed = (roles[name] = Role.InputBias || roles[name] = Role.RecurrentBias) && hit r
                            Expect.equal (v2[r]) (if zeroed then 0.0 else v[r]) (sprintf "%s %s[%d]" kind.Name name r)
                    | _ -> failtest "a parameter changed shape"
            expectInvalid (fun () -> Lesion.silence { LesionConfig.defaults with Units = [| 9 |] } (randomNet 0 Kinds.rnn 3)) "out of range" |> ignore
        }

        test "a lesion re-run: a hand-made 3-bit memory (W = 2I, W_in = 3I) loses exactly the silenced bit, its fixed points go from 27 to 9" {
            use plain = Network.scaledIdentity Kinds.rnn 3 2.0
            let values = Network.values plain |> Map.ofList |> Map.add "w_in" (ParameterValue.Matrix(Array.init 3 (fun i -> Array.init 3 (fun j -> if i = j then 3.0 else 0.0))))
            use net = Network.ofValues Kinds.rnn { NetworkConfig.defaults with InputSize = 3; Units = 3; OutputSize = 3; Precision = Precision.Float64 } values
            use lesioned = Lesion.silence { LesionConfig.defaults with Units = [| 2 |] } net
            let batch = (Presets.flipFlop 0).Task.Generate 8 1
            use _ = torch.NewDisposeScope()
            let x, _, _ = Training.toTensors Precision.Float64 batch
            use a = Network.unroll net x
            use b = Network.unroll lesioned x
            let oa, ob = a.Outputs.narrow(2L, 0L, 2L), b.Outputs.narrow(2L, 0L, 2L)
            Expect.equal (Arrays.ofTensor ob) (Arrays.ofTensor oa) "bits 0 and 1 exactly as before"
            Expect.isTrue (Arrays.ofTensor (b.Outputs.select(2L, 2L)) |> Array.forall ((=) 0.0)) "bit 2 silent"
            Expect.isGreaterThan (Lesion.loss lesioned batch) (Lesion.loss net batch) "the task loss rises"
            let found = FixedPoints.find FixedPointConfig.defaults lesioned (ConstantInput.Same [| 0.0; 0.0; 0.0 |]) (InitialStates.uniformBox 256 -1.5 1.5 3 0)
            Expect.equal found.FixedPoints.Length 9 "9 fixed points"
            Expect.isTrue (found.FixedPoints |> Array.forall (fun p -> abs p.State[2] < 1e-12)) "the silenced unit at 0"
        }
    ]
