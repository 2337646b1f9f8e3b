module RnnFun.Tests.FixedPointTests

open System
open System.Numerics
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open RnnFun

let private countBy (fps: FixedPoint[]) =
    [ 0 .. 3 ] |> List.map (fun u -> fps |> Array.filter (fun p -> p.UnstableModes = u) |> Array.length)

/// a* solves a = tanh(2a): found by bisection, independent of the finder.
let internal aStar =
    let mutable lo, hi = 0.5, 1.0
    for _ in 1 .. 200 do
        let mid = (lo + hi) / 2.0
        if mid - tanh (2.0 * mid) < 0.0 then lo <- mid else hi <- mid
    lo

let private randomNet seed kind units =
    Network.create kind { NetworkConfig.defaults with InputSize = 2; Units = units; OutputSize = 1; Seed = int64 seed; Precision = Precision.Float64; InputBias = true }

[<Tests>]
let tests =
    testList "Analysis.FixedPoints" [
        test "Network.scaledIdentity: float64, 1 input, units outputs; gain I by Role.Recurrent, I by Role.Output, zeros elsewhere" {
            use net = Network.scaledIdentity Kinds.ctrnn 3 -0.5
            Expect.equal net.Sizes { Inputs = 1; Units = 3; Outputs = 3 } "sizes"
            Expect.equal net.Precision Precision.Float64 "float64"
            Expect.equal (net.Parameters |> List.map (fun p -> p.Spec.Role)) [ Role.Input; Role.Recurrent; Role.RecurrentBias; Role.Output ] "no optional biases"
            use _ = torch.NewDisposeScope()
            let w = Network.weights net
            let eye g = Array.init 9 (fun k -> if k / 3 = k % 3 then g else 0.0) // [3; 3] row-major
            for p in net.Parameters do
                let expected =
                    match p.Spec.Role with
                    | Role.Recurrent -> eye -0.5
                    | Role.Output -> eye 1.0
                    | _ -> Array.zeroCreate (Array.fold (*) 1 p.Spec.Shape)
                Expect.equal (Arrays.ofTensor w[p.Spec.Name]) expected (sprintf "effective %s (%A)" p.Spec.Name p.Spec.Role)
        }

        test "Network.scaledIdentity refuses units <= 0, a non-finite gain and a kind without a square Role.Recurrent parameter" {
            for units in [ 0; -2 ] do
                let argument, _ = expectInvalid (fun () -> Network.scaledIdentity Kinds.rnn units 2.0) "units"
                Expect.equal argument "units" (sprintf "units %d" units)
            for gain in [ nan; infinity; -infinity ] do
                let argument, _ = expectInvalid (fun () -> Network.scaledIdentity Kinds.rnn 3 gain) "gain"
                Expect.equal argument "gain" (sprintf "gain %g" gain)
            let noRecurrent =
                { Kinds.rnn with
                    Name = "no-recurrent"
                    Parameters = fun sizes -> Kinds.vanillaParameters sizes |> List.map (fun p -> if p.Role = Role.Recurrent then { p with Role = Role.Free } else p) }
            let argument, _ = expectInvalid (fun () -> Network.scaledIdentity noRecurrent 3 2.0) "no Role.Recurrent"
            Expect.equal argument "kind" "names the kind"
            let wide =
                { Kinds.rnn with
                    Name = "wide-recurrent"
                    Parameters = fun sizes -> Kinds.vanillaParameters sizes |> List.map (fun p -> if p.Role = Role.Recurrent then { p with Shape = [| sizes.Units; 2 * sizes.Units |] } else p) }
            let argument, problem = expectInvalid (fun () -> Network.scaledIdentity wide 3 2.0) "a [units; 2 units] Role.Recurrent"
            Expect.equal argument "w_rec" "names the parameter"
            Expect.stringContains problem "[3; 3]" "says the shape it needs"
        }

        test "deflation finds the points no state reached: from states at the 8 corners of the W = 2I cube, all 27 of {-a*, 0, a*}^3" {
            use net = Network.scaledIdentity Kinds.rnn 3 2.0
            let random = Random(3)
            // Each state within 1e-4 of a corner (q below AdamSwitchQ, so Newton's steps alone take it
            // there): the search alone reaches the 8 attractors only.
            let corners = [| for a in [ -aStar; aStar ] do for b in [ -aStar; aStar ] do for c in [ -aStar; aStar ] -> [| a; b; c |] |]
            let initial = Array.init 64 (fun i -> corners[i % 8] |> Array.map (fun v -> v + 1e-4 * (random.NextDouble() - 0.5)))
            let alone = FixedPoints.find { FixedPointConfig.defaults with Deflation = None } net (ConstantInput.Same [| 0.0 |]) initial
            Expect.equal alone.FixedPoints.Length 8 "without deflation, the 8 attractors"
            Expect.equal alone.Deflated 0 "none deflated"
            let r = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) initial
            let expected = [ for a in [ -aStar; 0.0; aStar ] do for b in [ -aStar; 0.0; aStar ] do for c in [ -aStar; 0.0; aStar ] -> [| a; b; c |] ]
            Expect.equal r.FixedPoints.Length 27 "27 fixed points"
            for e in expected do
                let near = r.FixedPoints |> Array.filter (fun f -> maxAbsDiff f.State e < 1e-9)
                Expect.equal near.Length 1 (sprintf "one point at %A" e)
                let zeros = e |> Array.filter (fun v -> v = 0.0) |> Array.length
                Expect.equal near[0].UnstableModes zeros "a zero coordinate is an unstable mode"
                Expect.equal near[0].Search.Value.Deflated (zeros > 0) "the saddles and the repeller come from deflation"
                Expect.isLessThan near[0].Q 1e-20 "converged"
            Expect.equal r.Deflated 19 "19 found by deflation"
            Expect.equal (r.PointOfState |> Array.filter (fun id -> id >= 0 && r.FixedPoints[id].Kind = FixedPointKind.Attractor) |> Array.length) 64 "every state ends at its corner"
        }

        testProp "the deflated step is Newton's step on m(x) R(x), by central differences (float64, random rnn, known points and powers)" (fun (seed: int) ->
            let seed = abs (seed % 10000)
            use net = randomNet seed Kinds.rnn 3
            let random = Random(seed)
            let n = 3
            let u = [| 0.3; -0.2 |]
            let power = [| 1.0; 2.0; 3.0 |][seed % 3]
            let d = { DeflationConfig.defaults with Power = power; Shift = 0.5 + random.NextDouble() }
            let x = Array.init n (fun _ -> random.NextDouble() * 1.6 - 0.8)
            let known = Array.init 3 (fun _ -> Array.init n (fun _ -> random.NextDouble() * 1.6 - 0.8))
            use _ = torch.NewDisposeScope()
            let residual (y: float[]) =
                let h = Arrays.toTensor Precision.Float64 [| 1L; int64 n |] y
                let input = Arrays.toTensor Precision.Float64 [| 1L; 2L |] u
                Array.map2 (-) (values (Network.step net h input)) y
            // The test's own m(x) = prod_j (1 / ||x - x_j||^p + shift) and G = m R.
            let m (y: float[]) =
                known |> Array.fold (fun acc k -> acc * (1.0 / (sqrt (Array.fold2 (fun s a b -> s + (a - b) ** 2.0) 0.0 y k)) ** power + d.Shift)) 1.0
            let g (y: float[]) = residual y |> Array.map (fun r -> m y * r)
            // Central differences: J[i][j] = dF_i / dy_j.
            let jacobianOf (f: float[] -> float[]) (y: float[]) =
                let step = 1e-6
                let columns = Array.init n (fun j ->
                    let plus = Array.copy y
                    let minus = Array.copy y
                    plus[j] <- plus[j] + step
                    minus[j] <- minus[j] - step
                    Array.map2 (fun a b -> (a - b) / (2.0 * step)) (f plus) (f minus))
                Array.init n (fun i -> Array.init n (fun j -> columns[j][i]))
            // Solves A z = b by Gaussian elimination with partial pivoting.
            let solve (a: float[][]) (b: float[]) =
                let a = a |> Array.map Array.copy
                let b = Array.copy b
                for c in 0 .. n - 1 do
                    let pivot = [ c .. n - 1 ] |> List.maxBy (fun r -> abs (a[r][c]))
                    let t = a[c] in a[c] <- a[pivot]; a[pivot] <- t
                    let t = b[c] in b[c] <- b[pivot]; b[pivot] <- t
                    for r in c + 1 .. n - 1 do
                        let f = a[r][c] / a[c][c]
                        for k in c .. n - 1 do a[r][k] <- a[r][k] - f * a[c][k]
                        b[r] <- b[r] - f * b[c]
                let z = Array.zeroCreate n
                for r in n - 1 .. -1 .. 0 do
                    z[r] <- (b[r] - Seq.sum (seq { for k in r + 1 .. n - 1 -> a[r][k] * z[k] })) / a[r][r]
                z
            let newton = solve (jacobianOf residual x) (residual x |> Array.map (fun v -> -v))
            let expected = solve (jacobianOf g x) (g x |> Array.map (fun v -> -v))
            let toT (rows: float[][]) = Arrays.matrixToTensor Precision.Float64 rows
            let actual = values (FixedPoints.deflatedStep d (toT known) (toT [| x |]) (toT [| newton |]))
            let scale = expected |> Array.map abs |> Array.max
            maxAbsDiff actual expected / max scale 1e-3 < 1e-5)

        test "a search with deflation never reports a point twice, and its settings are checked" {
            use net = Network.scaledIdentity Kinds.rnn 2 2.0
            let r = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 32 -1.5 1.5 2 1)
            for i in 0 .. r.FixedPoints.Length - 1 do
                for j in i + 1 .. r.FixedPoints.Length - 1 do
                    Expect.isGreaterThan (maxAbsDiff r.FixedPoints[i].State r.FixedPoints[j].State) 1e-3 (sprintf "points %d and %d are distinct" i j)
            Expect.equal r.FixedPoints.Length 9 "the 9 points of the square"
            let bad config = expectInvalid (fun () -> FixedPoints.find config net (ConstantInput.Same [| 0.0 |]) [| [| 0.1; 0.2 |] |] |> ignore)
            let argument, _ = bad { FixedPointConfig.defaults with Deflation = Some { DeflationConfig.defaults with Power = 0.5 } } "Power 0.5"
            Expect.equal argument "deflation" "names deflation"
            let argument, _ = bad { FixedPointConfig.defaults with InitialLearningRate = Some -1.0 } "a negative rate"
            Expect.equal argument "initial_learning_rate" "names the rate"
            let argument, _ = bad { FixedPointConfig.defaults with AdamRule = AdamRule.Plateau(1.5, 2) } "factor 1.5"
            Expect.equal argument "adam_rule" "names the rule"
        }

        test "Network.scaledIdentity (rnn) is the oracle: fixed points exactly {-a*, 0, a*}^2 for gain 2, the origin alone for gain 0.5" {
            use net = Network.scaledIdentity Kinds.rnn 2 2.0
            let r = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 256 -1.5 1.5 2 0)
            let expected = [ for a in [ -aStar; 0.0; aStar ] do for b in [ -aStar; 0.0; aStar ] -> [| a; b |] ]
            let found = r.FixedPoints |> Array.map (fun p -> p.State)
            Expect.equal found.Length 9 "9 fixed points"
            // The expected points lie 0.96 apart: each has exactly one found point within 1e-8.
            for e in expected do
                let near = found |> Array.filter (fun f -> maxAbsDiff f e < 1e-8)
                Expect.equal near.Length 1 (sprintf "one point at %A (found %A)" e found)
            use weak = Network.scaledIdentity Kinds.rnn 2 0.5
            let r = FixedPoints.find FixedPointConfig.defaults weak (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 64 -1.5 1.5 2 0)
            Expect.equal r.FixedPoints.Length 1 "one fixed point"
            Expect.isLessThan (maxAbsDiff r.FixedPoints[0].State [| 0.0; 0.0 |]) 1e-8 "the origin"
        }

        test "W = 2I (3 units, discrete): exactly 27 points at {-a*, 0, a*}^3, eigenvalues and 8/12/6/1" {
            Expect.floatClose Accuracy.veryHigh aStar 0.9575040241 "a* of the issue"
            use net = Network.scaledIdentity Kinds.rnn 3 2.0
            let initial = InitialStates.uniformBox 1024 -1.5 1.5 3 0
            let r = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) initial
            Expect.equal r.FixedPoints.Length 27 "27 fixed points"
            for p in r.FixedPoints do
                Expect.isLessThan p.Q 1e-20 "q < 1e-20"
                for c in p.State do
                    let d = min (abs c) (abs (abs c - aStar))
                    Expect.isLessThan d 1e-8 (sprintf "coordinate %g in {-a*, 0, a*}" c)
                // Eigenvalues: 1 - tanh^2(2a)*2 ... on a +-a* coordinate 2(1 - a*^2), on 0: 2.
                let expected =
                    p.State |> Array.map (fun c -> if abs c < 1e-6 then 2.0 else 2.0 * (1.0 - aStar * aStar)) |> Array.sortDescending
                let moduli = p.Eigenvalues |> Array.map (fun l -> l.Magnitude)
                Expect.isLessThan (maxAbsDiff moduli expected) 1e-8 "eigenvalue moduli"
                Expect.equal p.UnstableModes (p.State |> Array.filter (fun c -> abs c < 1e-6) |> Array.length) "unstable modes = zero coordinates"
            Expect.floatClose Accuracy.high (2.0 * (1.0 - aStar * aStar)) 0.1663720878 "stable eigenvalue of the issue"
            Expect.equal (countBy r.FixedPoints) [ 8; 12; 6; 1 ] "8 / 12 / 6 / 1"
            let kinds = r.FixedPoints |> Array.countBy (fun p -> p.Kind) |> Map.ofArray
            Expect.equal kinds (Map.ofList [ FixedPointKind.Attractor, 8; FixedPointKind.Saddle, 18; FixedPointKind.Repeller, 1 ]) "kinds"
        }

        test "W = 2I as ctrnn (dt 5, tau 100): coordinates {-2a*, 0, 2a*}, eigenvalues 0.9583186044 and 1.05" {
            use net = Network.scaledIdentity Kinds.ctrnn 3 2.0
            let initial = InitialStates.uniformBox 1024 -3.0 3.0 3 1
            let r = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) initial
            Expect.equal r.FixedPoints.Length 27 "27 fixed points"
            for p in r.FixedPoints do
                for c in p.State do
                    let d = min (abs c) (abs (abs c - 1.9150080482))
                    Expect.isLessThan d 1e-8 (sprintf "coordinate %g" c)
                let expected = p.State |> Array.map (fun c -> if abs c < 1e-6 then 1.05 else 0.9583186044) |> Array.sortDescending
                Expect.isLessThan (maxAbsDiff (p.Eigenvalues |> Array.map (fun l -> l.Magnitude)) expected) 1e-8 "discrete-map eigenvalues"
                let continuous = p.ContinuousEigenvalues.Value |> Array.map (fun l -> l.Real)
                let expectedCt = expected |> Array.map (fun l -> (l - 1.0) / 0.05)
                Expect.isLessThan (maxAbsDiff continuous expectedCt) 1e-6 "continuous-time eigenvalues (lambda - 1) / alpha"
            Expect.equal (countBy r.FixedPoints) [ 8; 12; 6; 1 ] "8 / 12 / 6 / 1"
        }

        testProp "Jacobian: closed form = autograd = central finite differences (rnn and ctrnn)" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (1, 7)) (Gen.choose (0, 10000)) (Gen.elements [ Kinds.rnn; Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 20.0 } ]))) (fun (n, seed, kind) ->
                use net = randomNet seed kind n
                use _ = torch.NewDisposeScope()
                let random = Random(seed)
                let states = Array.init 4 (fun _ -> Array.init n (fun _ -> random.NextDouble() * 4.0 - 2.0))
                let inputs = Array.init 4 (fun _ -> [| random.NextDouble(); random.NextDouble() - 0.5 |])
                let closed = Jacobian.atStates net states inputs
                let w = Network.weights net
                let h = Arrays.matrixToTensor Precision.Float64 states
                let drive = kind.InputDrive w (Arrays.matrixToTensor Precision.Float64 inputs)
                let auto = values (Jacobian.autograd kind w h drive)
                let closedFlat = closed |> Array.collect Array.concat
                Expect.isLessThan (maxAbsDiff closedFlat auto) 1e-12 "closed form = autograd"
                // Central differences on the step, column by column.
                let eps = 1e-6
                for b in 0 .. 3 do
                    for j in 0 .. n - 1 do
                        let shifted (delta: float) =
                            let s = Array.copy states[b]
                            s[j] <- s[j] + delta
                            use step = Network.step net (Arrays.matrixToTensor Precision.Float64 [| s |]) (Arrays.matrixToTensor Precision.Float64 [| inputs[b] |])
                            values step
                        let column = Array.map2 (fun a c -> (a - c) / (2.0 * eps)) (shifted eps) (shifted -eps)
                        for i in 0 .. n - 1 do
                            let expected = closed.[b].[i].[j]
                            Expect.isLessThan (abs (column[i] - expected)) 1e-7 (sprintf "dF_%d/dh_%d (row i = output, not pyrnn's transpose)" i j)
                true))

        testProp "random small networks: every reported point is a fixed point, and eigen-data is consistent" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (1, 6)) (Gen.choose (0, 10000)))) (fun (n, seed) ->
                use net = randomNet seed Kinds.rnn n
                let initial = InitialStates.uniformBox 64 -1.0 1.0 n seed
                let u = [| 0.3; -0.2 |]
                let r = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same u) initial
                Expect.isGreaterThan r.FixedPoints.Length 0 "a tanh network has at least one fixed point"
                for p in r.FixedPoints do
                    Expect.isLessThan p.Q 1e-20 "converged"
                    use s = Network.step net (Arrays.matrixToTensor Precision.Float64 [| p.State |]) (Arrays.matrixToTensor Precision.Float64 [| u |])
                    Expect.isLessThan (maxAbsDiff (values s) p.State) 1e-9 "F(x*) = x*"
                    let moduli = p.Eigenvalues |> Array.map (fun l -> l.Magnitude)
                    Expect.equal moduli (Array.sortDescending moduli) "sorted by modulus"
                    Expect.equal p.UnstableModes (moduli |> Array.filter (fun m -> m > 1.0 + 1e-3) |> Array.length) "unstable modes"
                    // J v = lambda v for each right eigenvector.
                    for (l, v) in Array.zip p.Eigenvalues (eigenvectorsOf p) do
                        let jv = jacobianOf p |> Array.map (fun row -> Array.fold2 (fun acc a (b: Complex) -> acc + Complex(a, 0.0) * b) Complex.Zero row v)
                        let err = Array.map2 (fun (a: Complex) (b: Complex) -> (a - l * b).Magnitude) jv v |> Array.max
                        Expect.isLessThan err 1e-8 "right eigenvector"
                // Uniqueness is idempotent and separates points.
                Expect.equal (FixedPoints.unique 1e-3 r.FixedPoints |> Array.map (fun p -> p.State)) (r.FixedPoints |> Array.sortBy (fun p -> p.Q) |> Array.map (fun p -> p.State)) "idempotent"
                true))

        testProp "permuting the units permutes the fixed points and keeps their eigenvalues" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (2, 5)) (Gen.choose (0, 10000)))) (fun (n, seed) ->
                use net = randomNet seed Kinds.rnn n
                let perm = Array.init n id |> Array.sortBy (fun i -> (i * 7 + seed) % n, i)
                let values' = Network.values net |> Map.ofList
                let permuteRows (m: float[][]) = perm |> Array.map (fun i -> m[i])
                let permuteCols (m: float[][]) = m |> Array.map (fun row -> perm |> Array.map (fun i -> row[i]))
                let mat name = match values'[name] with ParameterValue.Matrix m -> m | _ -> failwith name
                let vec name = match values'[name] with ParameterValue.Vector v -> v | _ -> failwith name
                let permuted =
                    Map.ofList
                        [ "w_in", ParameterValue.Matrix(permuteRows (mat "w_in"))
                          "w_rec", ParameterValue.Matrix(permuteCols (permuteRows (mat "w_rec")))
                          "b_rec", ParameterValue.Vector(perm |> Array.map (fun i -> (vec "b_rec")[i]))
                          "b_in", ParameterValue.Vector(perm |> Array.map (fun i -> (vec "b_in")[i]))
                          "w_out", ParameterValue.Matrix(permuteCols (mat "w_out")) ]
                use other = Network.ofValues Kinds.rnn (Network.config net) permuted
                let initial = InitialStates.uniformBox 128 -1.0 1.0 n seed
                let find network starts = (FixedPoints.find FixedPointConfig.defaults network (ConstantInput.Same [| 0.1; 0.2 |]) starts).FixedPoints
                let a = find net initial
                let b = find other (initial |> Array.map (fun s -> perm |> Array.map (fun i -> s[i])))
                Expect.equal a.Length b.Length "same number"
                for p in a do
                    let image = perm |> Array.map (fun i -> p.State[i])
                    let twin = b |> Array.minBy (fun q -> maxAbsDiff q.State image)
                    Expect.isLessThan (maxAbsDiff twin.State image) 1e-8 "permuted point"
                    Expect.isLessThan (maxAbsDiff (twin.Eigenvalues |> Array.map (fun l -> l.Magnitude)) (p.Eigenvalues |> Array.map (fun l -> l.Magnitude))) 1e-8 "same eigenvalues"
                true))

        testProp "speedGradient: closed form for rnn and ctrnn = autograd of q; a user kind uses autograd" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.choose (0, 100000))) (fun seed ->
                let random = Random(seed)
                let units = random.Next(1, 10)
                let relu = { Kinds.rnn with Name = "relu-rnn"; Step = (fun w h d -> torch.addmm(d, h, w["w_rec"].t (), 1.0f, 1.0f).relu ()); Jacobian = None }
                let kind =
                    match random.Next 3 with
                    | 0 -> Kinds.rnn
                    | 1 -> Kinds.ctrnnWith { CtrnnConfig.defaults with Tau = 5.0 + 50.0 * random.NextDouble() }
                    | _ -> relu
                use net =
                    Network.create kind
                        { NetworkConfig.defaults with
                            InputSize = 2; Units = units; OutputSize = 1; InputBias = true; Precision = Precision.Float64; Seed = int64 seed
                            Constraints = { Constraints.none with DaleRatio = (if random.Next 2 = 0 then Some 0.5 else None) } }
                use _ = torch.NewDisposeScope()
                let generator = new torch.Generator(uint64 seed)
                let w = Network.weights net
                let x = torch.randn([| 7L; int64 units |], torch.ScalarType.Float64, generator = generator) * 1.5 // [states; units]
                let drive = kind.InputDrive w (torch.randn([| 7L; 2L |], torch.ScalarType.Float64, generator = generator)) // [states; units]
                let q, g = FixedPoints.speedGradient net w x drive
                let xg = x.clone().requires_grad_(true)
                let expectedQ = (kind.Step w xg drive - xg).square().sum(1L) * 0.5 // [states]
                let expectedG = torch.autograd.grad([| expectedQ.sum () |], [| xg |])[0] // [states; units]
                let close (a: Tensor) (b: Tensor) = (a - b.detach()).abs().max().ToDouble() <= 1e-12 * (1.0 + b.detach().abs().max().ToDouble())
                close q expectedQ && close g expectedG))

        test "with two libtorch threads, the batched solves of 160-unit Jacobians finish (libtorch's threaded batched LU does not)" {
            use net = Network.scaledIdentity Kinds.rnn 160 2.0
            let initial = InitialStates.uniformBox 24 -1.5 1.5 160 4
            let r = FixedPoints.find { FixedPointConfig.defaults with Threads = Some 2; MaxAdamIterations = 20 } net (ConstantInput.Same [| 0.0 |]) initial
            Expect.isGreaterThan r.FixedPoints.Length 1 "several points"
            for p in r.FixedPoints do
                Expect.isLessThan p.Q 1e-20 "converged"
                // Every coordinate of a fixed point of tanh(2x) is 0 or +-a*.
                Expect.isTrue (p.State |> Array.forall (fun v -> abs v < 1e-8 || abs (abs v - 0.9575040241) < 1e-8)) "coordinates in {-a*, 0, a*}"
        }

        test "above matrixRows states, Newton's Jacobians go in chunks and every state still converges (300 units)" {
            let n = 300
            Expect.isLessThan (FixedPoints.matrixRows (int64 n)) 64 "64 states are more than one chunk at 300 units"
            Expect.isLessThanOrEqual (float (FixedPoints.matrixRows 1024L) * 6.0 * 8.0 * 1024.0 * 1024.0) 256e6 "a chunk at 1,024 units stays within 256 MB"
            use net = Network.scaledIdentity Kinds.rnn n 2.0
            let initial = InitialStates.uniformBox 64 -1.5 1.5 n 5
            // No Adam and no shared Jacobians: all 64 states take their own Newton steps.
            let r = FixedPoints.find { FixedPointConfig.defaults with MaxAdamIterations = 0; SharedJacobianRadius = 0.0; NewtonIterations = 60 } net (ConstantInput.Same [| 0.0 |]) initial
            Expect.equal r.Converged 64 "every state converged"
            for p in r.FixedPoints do
                Expect.isLessThan p.Q 1e-20 "q < 1e-20"
                Expect.isTrue (p.State |> Array.forall (fun v -> abs v < 1e-8 || abs (abs v - aStar) < 1e-8)) "coordinates in {-a*, 0, a*}"
        }

        test "the shared-Jacobian radius and the chord budget change the work, not the points found" {
            use net = Network.scaledIdentity Kinds.rnn 3 2.0
            let initial = InitialStates.uniformBox 1024 -1.5 1.5 3 0
            let states (r: FixedPointResult) = r.FixedPoints |> Array.map (fun p -> p.State |> Array.map (fun v -> Math.Round(v, 8))) |> Array.sort
            let alone = FixedPoints.find { FixedPointConfig.defaults with SharedJacobianRadius = 0.0 } net (ConstantInput.Same [| 0.0 |]) initial
            Expect.equal alone.FixedPoints.Length 27 "every state on its own: 27 points"
            // A radius of 10 puts all 1024 states in one neighbourhood: most chord steps with that one
            // Jacobian fail and fall back to Newton; one chord step leaves most to Newton too.
            for radius, chordSteps in [ 0.1, 8; 0.1, 1; 10.0, 8; 0.5, 0 ] do
                let r = FixedPoints.find { FixedPointConfig.defaults with SharedJacobianRadius = radius; ChordIterations = chordSteps } net (ConstantInput.Same [| 0.0 |]) initial
                Expect.equal (states r) (states alone) (sprintf "radius %g, %d chord steps: the same 27 points" radius chordSteps)
                Expect.equal r.Converged 1024 "every state converged"
                Expect.equal (r.Duplicates + r.FixedPoints.Length + r.Outliers + r.NotConverged) 1024 "every state accounted for"
        }

        test "input-conditioned search: uniqueness is judged on [x, u]" {
            use net = Network.scaledIdentity Kinds.rnn 2 2.0
            let initial = InitialStates.uniformBox 200 -1.5 1.5 2 3
            // The same states under two inputs: every fixed point appears once per input.
            let inputs = Array.init 200 (fun i -> if i % 2 = 0 then [| 0.0 |] else [| 1.0 |])
            let r = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.PerState inputs) initial
            Expect.equal r.FixedPoints.Length 18 "9 points x 2 inputs (W_in = 0: same states)"
        }

        test "fixed-point files: save -> load keeps every stored field; bad files fail naming the problem" {
            use net = Network.scaledIdentity Kinds.rnn 3 2.0
            let r = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 256 -1.5 1.5 3 0)
            let dir = IO.Path.Combine(IO.Path.GetTempPath(), "rnnfun-fp-" + Guid.NewGuid().ToString("N"))
            IO.Directory.CreateDirectory dir |> ignore
            try
                let path = IO.Path.Combine(dir, "fps.json")
                FixedPointFile.save path r.FixedPoints
                let back = FixedPointFile.load path
                let stored (p: FixedPoint) = p.Id, p.State, p.Input, p.Q, p.Speed, p.Eigenvalues, p.UnstableModes, p.Stable, p.Kind
                Expect.equal (back |> Array.map stored) (r.FixedPoints |> Array.map stored) "round trip"
                // Re-analysing the loaded points with the model restores Jacobians and eigenvectors.
                let again = FixedPoints.analyse 1e-3 net back
                Expect.equal (again |> Array.map jacobianOf) (r.FixedPoints |> Array.map jacobianOf) "Jacobians"
                Expect.isTrue (back |> Array.forall (fun p -> p.Linearisation.IsNone && p.Search.IsNone)) "a loaded point has no linearisation and no search record"
                let text = IO.File.ReadAllText path
                for key in [ "\"format\": \"rnnfun.fixed-points\""; "\"n_unstable_modes\""; "\"re\""; "\"kind\": \"saddle\"" ] do
                    Expect.stringContains text key (sprintf "file has %s" key)
                let bad =
                    [ "wrong format", text.Replace("rnnfun.fixed-points", "fpf"), "format"
                      "wrong version", text.Replace("\"version\": 1", "\"version\": 2"), "version"
                      "truncated", text.Substring(0, text.Length / 2), "JSON"
                      "bad kind", text.Replace("\"kind\": \"saddle\"", "\"kind\": \"spiral\""), "kind"
                      "stable saddle", text.Replace("\"stable\": false", "\"stable\": true"), "stable"
                      "missing q", text.Replace("\"q\":", "\"qq\":"), "q" ]
                for (name, content, expected) in bad do
                    let badPath = IO.Path.Combine(dir, "bad.json")
                    IO.File.WriteAllText(badPath, content)
                    let file, problem = expectFileError (fun () -> FixedPointFile.load badPath) name
                    Expect.equal file badPath (sprintf "%s: names the file" name)
                    Expect.stringContains problem expected (sprintf "%s: names the problem" name)
            finally
                IO.Directory.Delete(dir, true)
        }

        test "bad arguments fail with a message naming them" {
            use net = Network.scaledIdentity Kinds.rnn 3 2.0
            let arg, _ = expectInvalid (fun () -> FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) [| [| 1.0 |] |]) "state size"
            Expect.equal arg "initial_states" "names the states"
            let arg, _ = expectInvalid (fun () -> FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0; 1.0 |]) [| [| 1.0; 0.0; 0.0 |] |]) "input size"
            Expect.equal arg "inputs" "names the inputs"
            let arg, _ = expectInvalid (fun () -> InitialStates.uniformBox 10 1.0 -1.0 3 0) "box"
            Expect.equal arg "box" "names the box"
        }
    ]
