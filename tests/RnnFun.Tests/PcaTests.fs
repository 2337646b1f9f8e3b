module RnnFun.Tests.PcaTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open RnnFun

let private dot (a: float[]) (b: float[]) = Array.fold2 (fun s x y -> s + x * y) 0.0 a b
let private norm (a: float[]) = sqrt (dot a a)
let private add (a: float[]) (b: float[]) = Array.map2 (+) a b
let private scale (s: float) (a: float[]) = Array.map ((*) s) a
let private unitVector d i = Array.init d (fun j -> if j = i then 1.0 else 0.0)

/// Sample variance (n - 1 denominator) of values, two-pass: an oracle independent of the library.
let private variance (xs: float[]) =
    let m = Array.average xs
    (xs |> Array.sumBy (fun x -> (x - m) * (x - m))) / float (xs.Length - 1)

let private column (data: float[][]) j = data |> Array.map (fun r -> r[j])

/// Sample covariance of two equally long series.
let private covariance (xs: float[]) (ys: float[]) =
    let mx = Array.average xs
    let my = Array.average ys
    Array.fold2 (fun s x y -> s + (x - mx) * (y - my)) 0.0 xs ys / float (xs.Length - 1)

/// Two orthonormal vectors in R^d from a seed (Gram-Schmidt on uniform random vectors).
let private orthonormalPair (d: int) (seed: int) =
    let random = Random(seed)
    let draw () = Array.init d (fun _ -> random.NextDouble() * 2.0 - 1.0)
    let v1 = draw ()
    let u1 = scale (1.0 / norm v1) v1
    let v2 = draw ()
    let w = add v2 (scale (-(dot v2 u1)) u1)
    u1, scale (1.0 / norm w) w

/// Points mean + a * s1 * u1 + b * s2 * u2 for (a, b) on the grid {-1, 0, 1}^2, whose sample covariance
/// is exactly 0.75 * (s1^2 u1 u1' + s2^2 u2 u2'): var(a) = var(b) = 6/8 and cov(a, b) = 0.
let private gridOnPlane (mean: float[]) (u1: float[]) (u2: float[]) (s1: float) (s2: float) =
    [| for a in -1.0 .. 1.0 do
           for b in -1.0 .. 1.0 do
               yield add mean (add (scale (a * s1) u1) (scale (b * s2) u2)) |]

/// Random n x d data (2 <= n <= 12, 1 <= d <= 6), entries in [-10, 10], rows not all equal.
let private genData =
    gen {
        let! n = Gen.choose (2, 12)
        let! d = Gen.choose (1, 6)
        let! rows = Gen.choose (-1000, 1000) |> Gen.map (fun i -> float i / 100.0) |> Gen.arrayOfLength d |> Gen.arrayOfLength n
        // Equal rows have no principal directions (fit rejects them; a test below checks that).
        if rows |> Array.forall (fun r -> r = rows[0]) then rows[1][0] <- rows[0][0] + 1.0
        return rows
    }

let private genShift = Gen.choose (-100, 100) |> Gen.map float |> Gen.arrayOfLength 6

let private isSortedDescending (xs: float[]) = xs |> Array.pairwise |> Array.forall (fun (a, b) -> a >= b)

/// The covariance as the fit describes it: sum over components of variance * c c'.
let private covarianceOfFit (pca: PcaFit) =
    let d = pca.Mean.Length
    Array.init d (fun i -> Array.init d (fun j ->
        Array.fold2 (fun s (c: float[]) l -> s + l * c[i] * c[j]) 0.0 pca.Components pca.ExplainedVariance))

let private maxAbsDiffMatrix (a: float[][]) (b: float[][]) = Array.fold2 (fun m x y -> max m (maxAbsDiff x y)) 0.0 a b

[<Tests>]
let tests =
    testList "Analysis.Pca" [
        testProp "points on a known plane: components = ±u1, ±u2, variances 0.75 s^2, ratios s1^2 / (s1^2 + s2^2)" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (0, 100000)) (Gen.choose (50, 200)) (Gen.choose (150, 500)))) (fun (seed, s2Percent, ratioPercent) ->
                let d = 5
                let u1, u2 = orthonormalPair d seed
                let random = Random(seed + 1)
                let mean = Array.init d (fun _ -> random.NextDouble() * 100.0 - 50.0)
                let s2 = float s2Percent / 100.0
                let s1 = s2 * float ratioPercent / 100.0
                let pca = Pca.fitAll (gridOnPlane mean u1 u2 s1 s2)
                Expect.isLessThan (maxAbsDiff pca.Mean mean) 1e-9 "mean"
                Expect.isGreaterThan (abs (dot pca.Components[0] u1)) (1.0 - 1e-9) "first component = ±u1"
                Expect.isGreaterThan (abs (dot pca.Components[1] u2)) (1.0 - 1e-9) "second component = ±u2"
                Expect.floatClose Accuracy.high pca.ExplainedVariance[0] (0.75 * s1 * s1) "first variance"
                Expect.floatClose Accuracy.high pca.ExplainedVariance[1] (0.75 * s2 * s2) "second variance"
                for j in 2 .. d - 1 do
                    Expect.isLessThan pca.ExplainedVariance[j] 1e-9 "no variance off the plane"
                Expect.floatClose Accuracy.high pca.TotalVariance (0.75 * (s1 * s1 + s2 * s2)) "total variance"
                Expect.floatClose Accuracy.high pca.ExplainedVarianceRatio[0] (s1 * s1 / (s1 * s1 + s2 * s2)) "first ratio"
                Expect.equal (Pca.componentsForVariance 1.0 pca) 2 "the plane holds all the variance"
                true))

        test "scales 3 and 1: ratios (0.9, 0.1), 1 component for 85%, 2 for 95%" {
            let u1, u2 = orthonormalPair 5 7
            let mean = [| 1.0; -2.0; 3.0; 0.5; 10.0 |]
            let pca = Pca.fitAll (gridOnPlane mean u1 u2 3.0 1.0)
            Expect.floatClose Accuracy.high pca.ExplainedVarianceRatio[0] 0.9 "first ratio"
            Expect.floatClose Accuracy.high pca.ExplainedVarianceRatio[1] 0.1 "second ratio"
            Expect.equal (Pca.componentsForVariance Pca.defaultVarianceThreshold pca) 1 "default threshold 0.85"
            Expect.equal Pca.defaultVarianceThreshold 0.85 "pyrnn's default"
            Expect.equal (Pca.componentsForVariance 0.85 pca) 1 "85%"
            Expect.equal (Pca.componentsForVariance 0.9 pca) 1 "90% exactly"
            Expect.equal (Pca.componentsForVariance 0.95 pca) 2 "95%"
            Expect.equal (Pca.componentsForVarianceOf 0.95 (gridOnPlane mean u1 u2 3.0 1.0)) 2 "from the data"
        }

        test "scales 3 and 1 with tiny noise: the same components and counts" {
            let u1, u2 = orthonormalPair 5 11
            let random = Random(3)
            let noise () = (random.NextDouble() * 2.0 - 1.0) * 1e-4
            let data =
                [| for _ in 1 .. 10 do
                       for p in gridOnPlane (Array.zeroCreate 5) u1 u2 3.0 1.0 -> Array.map (fun x -> x + noise ()) p |]
            let pca = Pca.fit 2 data
            Expect.isGreaterThan (abs (dot pca.Components[0] u1)) (1.0 - 1e-6) "first component = ±u1"
            Expect.isGreaterThan (abs (dot pca.Components[1] u2)) (1.0 - 1e-6) "second component = ±u2"
            Expect.floatClose { absolute = 1e-4; relative = 0.0 } pca.ExplainedVarianceRatio[0] 0.9 "first ratio"
            Expect.floatClose { absolute = 1e-4; relative = 0.0 } pca.ExplainedVarianceRatio[1] 0.1 "second ratio"
            Expect.equal (Pca.componentsForVariance 0.85 pca) 1 "85%"
            Expect.equal (Pca.componentsForVariance 0.95 pca) 2 "95%"
        }

        test "components are sorted by variance, largest on the last axis first (pyrnn's are not sorted)" {
            // Points ±s_i e_i: covariance diag(2 s_i^2 / (n - 1)); the solver's raw order is ascending.
            let s = [| 1.0; 2.0; 3.0; 4.0 |]
            let d = s.Length
            let data = [| for i in 0 .. d - 1 do
                              yield scale s[i] (unitVector d i)
                              yield scale (-s[i]) (unitVector d i) |]
            let pca = Pca.fitAll data
            let n = float data.Length
            for j in 0 .. d - 1 do
                let axis = d - 1 - j
                Expect.isLessThan (maxAbsDiff pca.Components[j] (unitVector d axis)) 1e-12 (sprintf "component %d = +e%d" j axis)
                Expect.floatClose Accuracy.veryHigh pca.ExplainedVariance[j] (2.0 * s[axis] * s[axis] / (n - 1.0)) (sprintf "variance %d" j)
                Expect.floatClose Accuracy.veryHigh pca.ExplainedVarianceRatio[j] (s[axis] * s[axis] / 30.0) (sprintf "ratio %d" j)
            let top2 = Pca.fit 2 data
            Expect.equal top2.Components pca.Components[0..1] "the top 2 of the same ordering"
        }

        test "a mean far from 0 gives the components of the centred data (pyrnn does not centre)" {
            // Variance 4.5 along e1 and 0.5 along e2, offset 100 (1, ..., 1): the uncentred second moment
            // would point along the offset.
            let d = 5
            let centred = [| for a in [ -3.0; 0.0; 3.0 ] do
                                 for b in [ -1.0; 1.0 ] -> [| a; b; 0.0; 0.0; 0.0 |] |]
            let offset = Array.create d 100.0
            let shifted = centred |> Array.map (add offset)
            let pca = Pca.fit 2 shifted
            let reference = Pca.fit 2 centred
            Expect.isLessThan (maxAbsDiff pca.Components[0] (unitVector d 0)) 1e-9 "first component = e1"
            Expect.isLessThan (maxAbsDiff pca.Components[1] (unitVector d 1)) 1e-9 "second component = e2"
            for j in 0 .. 1 do
                Expect.isLessThan (maxAbsDiff pca.Components[j] reference.Components[j]) 1e-9 (sprintf "component %d as centred" j)
            Expect.isLessThan (maxAbsDiff pca.ExplainedVariance reference.ExplainedVariance) 1e-9 "variances as centred"
            Expect.isLessThan (maxAbsDiff pca.Mean offset) 1e-12 "mean = the offset"
            // The test discriminates: the uncentred second moment's top eigenvector (power iteration) is
            // nearly the offset direction, far from e1.
            let moment = Array.init d (fun i -> Array.init d (fun j -> shifted |> Array.sumBy (fun r -> r[i] * r[j])))
            let mutable v = Array.init d (fun i -> float (i + 1))
            for _ in 1 .. 200 do
                let w = Array.init d (fun i -> dot moment[i] v)
                v <- scale (1.0 / norm w) w
            Expect.isLessThan (abs v[0] - 1.0 / sqrt 5.0 |> abs) 0.01 "uncentred PC1 ~ the offset direction"
        }

        testProp "random data: components orthonormal, largest-magnitude entry positive" (fun () ->
            Prop.forAll (Arb.fromGen genData) (fun data ->
                let pca = Pca.fitAll data
                let d = data[0].Length
                Expect.equal pca.Components.Length d "d components"
                for i in 0 .. d - 1 do
                    Expect.equal pca.Components[i].Length d "length d"
                    for j in 0 .. d - 1 do
                        let expected = if i = j then 1.0 else 0.0
                        Expect.isLessThan (abs (dot pca.Components[i] pca.Components[j] - expected)) 1e-10 (sprintf "c%d . c%d" i j)
                    let c = pca.Components[i]
                    let largest = c |> Array.maxBy abs
                    Expect.isTrue (c |> Array.exists (fun x -> x = abs largest)) "largest-magnitude entry positive"
                true))

        testProp "random data: variances descending, ratios in [0, 1] descending and summing to 1, total = sum of column variances" (fun () ->
            Prop.forAll (Arb.fromGen genData) (fun data ->
                let pca = Pca.fitAll data
                let d = data[0].Length
                Expect.isTrue (isSortedDescending pca.ExplainedVariance) (sprintf "variances %A" pca.ExplainedVariance)
                Expect.isTrue (isSortedDescending pca.ExplainedVarianceRatio) "ratios descending"
                Expect.isTrue (pca.ExplainedVarianceRatio |> Array.forall (fun r -> r >= 0.0 && r <= 1.0)) "ratios in [0, 1]"
                Expect.floatClose Accuracy.high (Array.sum pca.ExplainedVarianceRatio) 1.0 "ratios sum to 1"
                let columnTotal = Array.init d (column data >> variance) |> Array.sum
                Expect.floatClose Accuracy.high pca.TotalVariance columnTotal "total = trace of the covariance"
                for j in 0 .. d - 1 do
                    Expect.floatClose Accuracy.high (pca.ExplainedVariance[j] / pca.TotalVariance) pca.ExplainedVarianceRatio[j] "ratio = variance / total"
                true))

        testProp "random data: projections are uncorrelated with variances = explained variances; PC1 beats any direction" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip genData (Gen.choose (0, 100000)))) (fun (data, seed) ->
                let pca = Pca.fitAll data
                let d = data[0].Length
                let projected = Pca.transform pca data
                let tolerance = 1e-9 * (1.0 + pca.TotalVariance)
                for i in 0 .. d - 1 do
                    for j in 0 .. d - 1 do
                        let expected = if i = j then pca.ExplainedVariance[i] else 0.0
                        Expect.isLessThan (abs (covariance (column projected i) (column projected j) - expected)) tolerance (sprintf "cov(p%d, p%d)" i j)
                // The variance along any unit vector lies between the smallest and the largest eigenvalue.
                let random = Random(seed)
                for _ in 1 .. 5 do
                    let w = Array.init d (fun _ -> random.NextDouble() * 2.0 - 1.0)
                    let w = if norm w = 0.0 then unitVector d 0 else scale (1.0 / norm w) w
                    let v = variance (data |> Array.map (dot w))
                    Expect.isLessThanOrEqual v (pca.ExplainedVariance[0] + tolerance) "variance along w <= PC1's"
                    Expect.isGreaterThanOrEqual v (pca.ExplainedVariance[d - 1] - tolerance) "variance along w >= the last PC's"
                true))

        testProp "random data: the mean projects to 0 and all-d reconstruction returns the data" (fun () ->
            Prop.forAll (Arb.fromGen genData) (fun data ->
                let pca = Pca.fitAll data
                Expect.isTrue (Pca.transformPoint pca pca.Mean |> Array.forall ((=) 0.0)) "transform of the mean = 0"
                let back = Pca.reconstruct pca (Pca.transform pca data)
                Expect.isLessThan (maxAbsDiffMatrix back data) 1e-9 "reconstruction"
                Expect.isLessThan (maxAbsDiff (Pca.reconstructPoint pca (Pca.transformPoint pca data[0])) data[0]) 1e-9 "one point"
                true))

        testProp "random data: reconstruction from k components is the orthogonal projection onto their span" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip genData (Gen.choose (1, 6)))) (fun (data, k) ->
                let d = data[0].Length
                let k = min k d
                let pca = Pca.fit k data
                let back = Pca.reconstruct pca (Pca.transform pca data)
                for i in 0 .. data.Length - 1 do
                    // The residual is orthogonal to every kept component.
                    let residual = Array.map2 (-) data[i] back[i]
                    for c in pca.Components do
                        Expect.isLessThan (abs (dot residual c)) 1e-9 "residual orthogonal to the components"
                true))

        testProp "random data: fitting k components gives the first k of fitting all d" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip genData (Gen.choose (1, 6)))) (fun (data, k) ->
                let k = min k data[0].Length
                let all = Pca.fitAll data
                let some = Pca.fit k data
                Expect.equal some.Mean all.Mean "mean"
                Expect.equal some.Components all.Components[0 .. k - 1] "components"
                Expect.equal some.ExplainedVariance all.ExplainedVariance[0 .. k - 1] "variances"
                Expect.equal some.ExplainedVarianceRatio all.ExplainedVarianceRatio[0 .. k - 1] "ratios"
                Expect.equal some.TotalVariance all.TotalVariance "total"
                true))

        testProp "random data: adding a constant vector to every row moves only the mean" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip genData genShift)) (fun (data, shift) ->
                let d = data[0].Length
                let c = Array.sub shift 0 d
                let pca = Pca.fitAll data
                let moved = Pca.fitAll (data |> Array.map (add c))
                Expect.isLessThan (maxAbsDiff moved.Mean (add pca.Mean c)) 1e-9 "mean shifted"
                let tolerance = 1e-9 * (1.0 + pca.TotalVariance)
                Expect.isLessThan (maxAbsDiff moved.ExplainedVariance pca.ExplainedVariance) tolerance "variances"
                Expect.isLessThan (maxAbsDiffMatrix (covarianceOfFit moved) (covarianceOfFit pca)) tolerance "covariance"
                // A component is determined (up to sign) only when its variance is apart from the others.
                let gap = 1e-3 * (1.0 + pca.ExplainedVariance[0])
                for j in 0 .. d - 1 do
                    let isolated = pca.ExplainedVariance |> Array.indexed |> Array.forall (fun (i, v) -> i = j || abs (v - pca.ExplainedVariance[j]) > gap)
                    if isolated then
                        Expect.isGreaterThan (abs (dot moved.Components[j] pca.Components[j])) (1.0 - 1e-9) (sprintf "component %d" j)
                true))

        testProp "fitTensor on [batch; time; units] = fit on the flattened rows (float64 and float32)" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (1, 4)) (Gen.choose (1, 6)) (Gen.zip (Gen.choose (1, 5)) (Gen.choose (0, 100000))))) (fun (batch, time, (units, seed)) ->
                let random = Random(seed)
                let rows = Array.init (batch * time) (fun _ -> Array.init units (fun _ -> random.NextDouble() * 2.0 - 1.0))
                if batch * time >= 2 then
                    let k = max 1 (units - 1)
                    let expected = Pca.fit k rows
                    use states = Arrays.toTensor Precision.Float64 [| int64 batch; int64 time; int64 units |] (Array.concat rows)
                    let fromTensor = Pca.fitTensor k states
                    Expect.isLessThan (maxAbsDiff fromTensor.Mean expected.Mean) 1e-12 "mean"
                    Expect.isLessThan (maxAbsDiffMatrix fromTensor.Components expected.Components) 1e-12 "components"
                    Expect.isLessThan (maxAbsDiff fromTensor.ExplainedVariance expected.ExplainedVariance) 1e-12 "variances"
                    use flat = states.reshape(int64 (batch * time), int64 units)
                    Expect.equal (Pca.fitTensor k flat) fromTensor "[samples; units] gives the same fit"
                    use single = states.to_type(torch.ScalarType.Float32)
                    let rows32 = rows |> Array.map (Array.map (float32 >> float))
                    let expected32 = Pca.fit k rows32
                    let fromTensor32 = Pca.fitTensor k single
                    Expect.isLessThan (maxAbsDiffMatrix fromTensor32.Components expected32.Components) 1e-12 "float32 states: computed in float64"
                else
                    use states = torch.zeros(int64 batch, int64 time, int64 units)
                    let argument, _ = expectInvalid (fun () -> Pca.fitTensor 1 states) "one state"
                    Expect.equal argument "states" "names states"
                true))

        test "transformTensor = transform, in the states' precision, shape [..; k]" {
            let random = Random(5)
            let rows = Array.init 24 (fun _ -> Array.init 4 (fun _ -> random.NextDouble()))
            let pca = Pca.fit 2 rows
            use states = Arrays.toTensor Precision.Float64 [| 3L; 8L; 4L |] (Array.concat rows)
            use projected = Pca.transformTensor pca states
            Expect.equal projected.shape [| 3L; 8L; 2L |] "shape"
            Expect.equal projected.dtype torch.ScalarType.Float64 "float64 in, float64 out"
            Expect.isLessThan (maxAbsDiff (values projected) (Array.concat (Pca.transform pca rows))) 1e-12 "values"
            use single = states.to_type(torch.ScalarType.Float32)
            use projected32 = Pca.transformTensor pca single
            Expect.equal projected32.dtype torch.ScalarType.Float32 "float32 in, float32 out"
            Expect.isLessThan (maxAbsDiff (values projected32) (Array.concat (Pca.transform pca rows))) 1e-5 "float32 values"
        }

        testSequenced <| test "no tensor leak: fitTensor and transformTensor leave the live tensor count as it was" {
            use states = randomInputs 1 3 10 6 Precision.Float32
            let run () =
                let pca = Pca.fitTensor 3 states
                use p = Pca.transformTensor pca states
                use flat = states.reshape(30L, 6L)
                Pca.fit 2 (Arrays.ofMatrix flat) |> ignore
            run ()
            let baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount
            for _ in 1 .. 50 do run ()
            Expect.equal DisposeScopeManager.Statistics.ThreadTotalLiveCount baseline "live tensors"
        }

        test "componentsForRatios: the smallest k reaching the threshold" {
            let ratios = [| 0.5; 0.3; 0.2 |]
            Expect.equal (Pca.componentsForRatios 0.1 ratios) 1 "0.1"
            Expect.equal (Pca.componentsForRatios 0.5 ratios) 1 "0.5 exactly"
            Expect.equal (Pca.componentsForRatios 0.8 ratios) 2 "0.8 = 0.5 + 0.3"
            Expect.equal (Pca.componentsForRatios 0.81 ratios) 3 "0.81"
            Expect.equal (Pca.componentsForRatios 1.0 ratios) 3 "1"
            Expect.equal (Pca.componentsForRatios 1.0 [| 0.7; 0.3 - 1e-15; 0.0 |]) 2 "rounding below 1 still reaches 1; zero ratios not counted"
        }

        testProp "componentsForVariance: minimal k on random data" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip genData (Gen.choose (1, 100)))) (fun (data, percent) ->
                let threshold = float percent / 100.0
                let pca = Pca.fitAll data
                let k = Pca.componentsForVariance threshold pca
                let cumulative j = Array.sum pca.ExplainedVarianceRatio[0 .. j - 1]
                Expect.isGreaterThanOrEqual (cumulative k) (threshold - 1e-12) "k components reach the threshold"
                if k > 1 then Expect.isLessThan (cumulative (k - 1)) (threshold - 1e-12) "k - 1 do not"
                Expect.equal (Pca.componentsForVarianceOf threshold data) k "from the data"
                Expect.equal (Pca.componentsForRatios threshold pca.ExplainedVarianceRatio) k "from the ratios"
                true))

        test "componentsForVariance on a fit with fewer components: answers when reached, else names pca" {
            let u1, u2 = orthonormalPair 5 7
            let pca = Pca.fit 1 (gridOnPlane (Array.zeroCreate 5) u1 u2 3.0 1.0)
            Expect.equal (Pca.componentsForVariance 0.85 pca) 1 "0.9 of the variance in 1 component"
            let argument, problem = expectInvalid (fun () -> Pca.componentsForVariance 0.95 pca) "not reached"
            Expect.equal argument "pca" "names pca"
            Expect.stringContains problem "fitAll" "says how to fix it"
        }

        test "bad inputs raise InvalidArgument naming the argument" {
            let good = [| [| 1.0; 2.0; 3.0 |]; [| 2.0; 0.0; 1.0 |]; [| 0.0; 1.0; 5.0 |] |]
            let pca = Pca.fitAll good
            let check name (f: unit -> obj) argument (expected: string) =
                let a, problem = expectInvalid f name
                Expect.equal a argument (sprintf "%s: names %s" name argument)
                Expect.stringContains problem expected (sprintf "%s: says what was expected" name)
            check "no rows" (fun () -> box (Pca.fit 1 [||])) "data" "at least 2 samples"
            check "null data" (fun () -> box (Pca.fit 1 null)) "data" "at least 2 samples"
            check "one row" (fun () -> box (Pca.fit 1 [| [| 1.0; 2.0 |] |])) "data" "at least 2 samples"
            check "empty rows" (fun () -> box (Pca.fit 1 [| [||]; [||] |])) "data" "at least 1 dimension"
            check "ragged" (fun () -> box (Pca.fit 1 [| [| 1.0; 2.0 |]; [| 1.0 |] |])) "data" "2 rows of 2"
            check "NaN" (fun () -> box (Pca.fit 1 [| [| 1.0; nan |]; [| 1.0; 2.0 |] |])) "data" "finite"
            check "infinity" (fun () -> box (Pca.fit 1 [| [| 1.0; infinity |]; [| 1.0; 2.0 |] |])) "data" "finite"
            check "equal rows" (fun () -> box (Pca.fit 1 [| [| 1.0; 2.0 |]; [| 1.0; 2.0 |] |])) "data" "vary"
            check "0 components" (fun () -> box (Pca.fit 0 good)) "components" "1 <= components <= 3"
            check "too many components" (fun () -> box (Pca.fit 4 good)) "components" "1 <= components <= 3"
            use vector = torch.zeros(5L)
            check "1-D states" (fun () -> box (Pca.fitTensor 1 vector)) "states" "[batch; time; units]"
            use nanStates = Arrays.toTensor Precision.Float64 [| 2L; 3L; 2L |] (Array.create 12 nan)
            check "NaN states" (fun () -> box (Pca.fitTensor 1 nanStates)) "states" "finite"
            use states = torch.rand(2L, 3L, 2L)
            check "too many components (tensor)" (fun () -> box (Pca.fitTensor 3 states)) "components" "<= 2"
            check "transform: wrong width" (fun () -> box (Pca.transform pca [| [| 1.0; 2.0 |] |])) "data" "1 x 3"
            check "transformPoint: wrong length" (fun () -> box (Pca.transformPoint pca [| 1.0 |])) "x" "length 3"
            check "transformPoint: NaN" (fun () -> box (Pca.transformPoint pca [| 1.0; nan; 0.0 |])) "x" "finite"
            check "reconstructPoint: wrong length" (fun () -> box (Pca.reconstructPoint pca [| 1.0 |])) "coordinates" "length 3"
            check "transformTensor: wrong units" (fun () -> box (Pca.transformTensor pca states)) "states" "last dimension is 3"
            for t in [ 0.0; -0.1; 1.5; nan ] do
                check (sprintf "threshold %g" t) (fun () -> box (Pca.componentsForVariance t pca)) "threshold" "(0, 1]"
                check (sprintf "threshold %g (data)" t) (fun () -> box (Pca.componentsForVarianceOf t good)) "threshold" "(0, 1]"
                check (sprintf "threshold %g (ratios)" t) (fun () -> box (Pca.componentsForRatios t [| 1.0 |])) "threshold" "(0, 1]"
            check "ratios out of range" (fun () -> box (Pca.componentsForRatios 0.5 [| 1.5 |])) "ratios" "[0, 1]"
            check "ratios that never reach" (fun () -> box (Pca.componentsForRatios 0.9 [| 0.5; 0.2 |])) "ratios" "reach 0.9"
        }
    ]
