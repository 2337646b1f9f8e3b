module RnnFun.Tests.CertificateTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open RnnFun

/// A vanilla network (one input with W_in = 0) with the given W_rec and b_rec, in float64.
let internal vanilla (kind: Kind) (w: float[][]) (b: float[]) =
    let n = w.Length
    let values =
        Map.ofList
            [ "w_in", ParameterValue.Matrix(Array.init n (fun _ -> [| 0.0 |]))
              "w_rec", ParameterValue.Matrix w
              "b_rec", ParameterValue.Vector b
              "w_out", ParameterValue.Matrix [| Array.zeroCreate n |] ]
    Network.ofValues kind { NetworkConfig.defaults with InputSize = 1; Units = n; OutputSize = 1; Precision = Precision.Float64 } values

/// The roots of tanh(g x + c) = x in [-2, 2]: sign changes on a fine scan, then bisection
/// (independent of the library).
let internal roots1 (g: float) (c: float) =
    let f x = tanh (g * x + c) - x
    let cells = 4000
    [| for i in 0 .. cells - 1 do
           let a = -2.0 + 4.0 * float i / float cells
           let b = -2.0 + 4.0 * float (i + 1) / float cells
           if f a = 0.0 then yield a
           elif f a * f b < 0.0 then
               let mutable lo, hi = a, b
               for _ in 1 .. 200 do
                   let mid = 0.5 * (lo + hi)
                   if f lo * f mid <= 0.0 then hi <- mid else lo <- mid
               yield 0.5 * (lo + hi) |]

/// Solves A z = b by Gaussian elimination with partial pivoting (None when singular).
let internal solve (a: float[][]) (b: float[]) =
    let n = b.Length
    let m = Array.init n (fun i -> Array.append (Array.copy a[i]) [| b[i] |])
    let mutable ok = true
    for col in 0 .. n - 1 do
        if ok then
            let p = [ col .. n - 1 ] |> List.maxBy (fun r -> abs (m[r][col]))
            if abs (m[p][col]) < 1e-300 then ok <- false
            else
                let t = m[p]
                m[p] <- m[col]
                m[col] <- t
                for r in col + 1 .. n - 1 do
                    let f = m[r][col] / m[col][col]
                    for c in col .. n do m[r][c] <- m[r][c] - f * m[col][c]
    if not ok then None
    else
        let z = Array.zeroCreate n
        for i in n - 1 .. -1 .. 0 do
            z[i] <- (m[i][n] - (Seq.sum (seq { for c in i + 1 .. n - 1 -> m[i][c] * z[c] }))) / m[i][i]
        Some z

/// The zeros of g in R^n: damped Newton (Jacobian `jacobian`) from a grid of `per` starts per axis
/// over [-1.1, 1.1]^n, at most `iterations` steps each until |g| < `tolerance`, converged points
/// (|g| < 1e-13) deduplicated. The tests' own enumeration of fixed points.
let internal dampedNewtonRoots (g: float[] -> float[]) (jacobian: float[] -> float[][]) (n: int) (per: int) (iterations: int) (tolerance: float) =
    let norm (v: float[]) = v |> Array.fold (fun acc e -> max acc (abs e)) 0.0
    let found = ResizeArray<float[]>()
    for index in 0 .. pown per n - 1 do
        let mutable x = Array.init n (fun axis -> let k = (index / pown per axis) % per in -1.1 + 2.2 * float k / float (per - 1))
        let mutable go = true
        let mutable taken = 0
        while go && taken < iterations do
            let r = g x
            if norm r < tolerance then go <- false
            else
                match solve (jacobian x) (r |> Array.map (fun v -> -v)) with
                | None -> go <- false
                | Some d ->
                    let mutable step = 1.0
                    let mutable accepted = false
                    while not accepted && step > 1e-4 do
                        let y = Array.map2 (fun a dv -> a + step * dv) x d
                        if norm (g y) < norm r then
                            x <- y
                            accepted <- true
                        else step <- step / 2.0
                    if not accepted then go <- false
            taken <- taken + 1
        if norm (g x) < 1e-13 && not (found |> Seq.exists (fun f -> norm (Array.map2 (-) f x) < 1e-7)) then found.Add x
    found.ToArray()

/// Every fixed point of x = tanh(W x + b) (`dampedNewtonRoots` with the analytic Jacobian).
let internal enumerate (w: float[][]) (b: float[]) (per: int) =
    let n = b.Length
    let t (x: float[]) = Array.init n (fun i -> tanh (Array.fold2 (fun acc a v -> acc + a * v) (b[i]) (w[i]) x))
    let g (x: float[]) = Array.map2 (-) (t x) x
    let jacobian (x: float[]) =
        let t = t x
        Array.init n (fun i -> Array.init n (fun j -> (1.0 - t[i] * t[i]) * w[i][j] - (if i = j then 1.0 else 0.0)))
    dampedNewtonRoots g jacobian n per 100 1e-14

let private maxNorm (a: float[]) (b: float[]) = Array.fold2 (fun acc x y -> max acc (abs (x - y))) 0.0 a b

/// Every point certified, with a uniqueness radius below the distance to every other true point
/// and an error bound that holds the true point.
/// `truthError`: how far the given true points may be from the exact ones (an enumeration's own error).
let private expectCertifiedWithin (truthError: float) (what: string) (truth: float[][]) (points: FixedPoint[]) (certificates: Certificate[]) =
    Expect.equal certificates.Length points.Length (what + ": one certificate per point")
    for p, c in Array.zip points certificates do
        let exact = truth |> Array.minBy (maxNorm p.State)
        match c with
        | Certificate.Certified (radius, error) ->
            let nearestOther = truth |> Array.filter (fun t -> maxNorm t exact > 1e-9) |> Array.map (maxNorm exact) |> Array.fold min infinity
            Expect.isLessThan radius nearestOther (sprintf "%s: point %d: the box of radius %g holds no other point (nearest at %g)" what p.Id radius nearestOther)
            Expect.isGreaterThan radius 1e-3 (sprintf "%s: point %d: a useful uniqueness radius" what p.Id)
            Expect.isLessThanOrEqual (maxNorm p.State exact) (error + truthError) (sprintf "%s: point %d: the true point lies within the error bound %g" what p.Id error)
            Expect.isLessThan error 1e-9 (sprintf "%s: point %d: a tight enclosure" what p.Id)
        | Certificate.NotCertified reason -> failtestf "%s: point %d at %A not certified: %s" what p.Id p.State reason

/// Analytic true points (exact to an ulp or two).
let private expectCertified = expectCertifiedWithin 1e-15

let private cube (scale: float) =
    let a = FixedPointTests.aStar
    [| for x in [ -a; 0.0; a ] do for y in [ -a; 0.0; a ] do for z in [ -a; 0.0; a ] -> [| scale * x; scale * y; scale * z |] |]

let private byModes (points: FixedPoint[]) = [ 0 .. 3 ] |> List.map (fun u -> points |> Array.filter (fun p -> p.UnstableModes = u) |> Array.length)

let private certifyConfig = { FixedPointConfig.defaults with Certify = Some CertificateConfig.defaults }

/// Runs the rnnfun command in this process: exit code, stdout, stderr.
[<Tests>]
let tests =
    testList "Analysis.Certificates" [
        test "rnnfun fixed-points --certify --linearisation and --lesion, rnnfun perturb; user errors exit 2" {
            withTempDir (fun dir ->
                let model = IO.Path.Combine(dir, "w2i.json")
                use net = Network.scaledIdentity Kinds.rnn 3 2.0
                ModelFile.save model net
                let fps = IO.Path.Combine(dir, "fps.json")
                let code, out, err = rnnfun [ "fixed-points"; "-m"; model; "--box"; "-1.5,1.5"; "--n-init"; "128"; "--certify"; "--linearisation"; "--out"; fps ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                Expect.stringContains out "certified 27 of 27" "summary of the certificates"
                let certificates = FixedPointFile.loadCertificates fps
                Expect.equal certificates.Length 27 "27 points"
                Expect.isTrue (certificates |> Array.forall (function Some (Certificate.Certified _) -> true | _ -> false)) "every point certified in the file"
                Expect.isTrue (FixedPointFile.load fps |> Array.forall (fun p -> p.Linearisation.IsSome)) "linearisations in the file"
                let lesioned = IO.Path.Combine(dir, "lesioned.json")
                let code, out, err = rnnfun [ "fixed-points"; "-m"; model; "--box"; "-1.5,1.5"; "--n-init"; "128"; "--lesion"; "2"; "--quiet"; "--out"; lesioned ]
                Expect.equal code 0 ("lesion exit code; stderr: " + err)
                Expect.stringContains out "9 fixed points" "the lesioned network's points"
                let checks = IO.Path.Combine(dir, "checks.json")
                let code, out, err = rnnfun [ "perturb"; "-m"; model; "--fixed-points"; fps; "--steps"; "1,3"; "--quiet"; "--out"; checks ]
                Expect.equal code 0 ("perturb exit code; stderr: " + err)
                Expect.stringContains out "pushes from 27 fixed points" "perturb summary"
                use doc = Text.Json.JsonDocument.Parse(IO.File.ReadAllText checks)
                Expect.equal (doc.RootElement.GetProperty("format").GetString()) PerturbationFile.Format "format"
                Expect.equal (doc.RootElement.GetProperty("points").GetArrayLength()) 27 "one entry per point"
                for args, says in
                    [ [ "fixed-points"; "-m"; model; "--box"; "-1,1"; "--lesion"; "7"; "--out"; IO.Path.Combine(dir, "x.json") ], "out of range"
                      [ "fixed-points"; "-m"; model; "--box"; "-1,1"; "--no-deflation"; "--exhaustive-deflation"; "--out"; IO.Path.Combine(dir, "x.json") ], "give one of them"
                      [ "perturb"; "-m"; model; "--fixed-points"; fps; "--steps"; "0"; "--out"; IO.Path.Combine(dir, "y.json") ], "--steps" ] do
                    let code, _, err = rnnfun args
                    Expect.equal code 2 (sprintf "%A exits 2" args)
                    Expect.stringContains err says "says why")
        }

        testProp "interval enclosures of tanh, sigmoid and their derivatives hold every sampled value, 0 included" (fun (a: NormalFloat) (b: NormalFloat) ->
            let clamp (v: float) = max -30.0 (min 30.0 v)
            let lo, hi = min (clamp a.Get) (clamp b.Get), max (clamp a.Get) (clamp b.Get)
            let box = Interval.create lo hi
            let sigmoid x = 1.0 / (1.0 + exp (-x))
            let samples = Array.append [| lo; hi; 0.0 |] (Array.init 200 (fun i -> lo + (hi - lo) * float i / 199.0)) |> Array.filter (fun x -> lo <= x && x <= hi)
            let cases =
                [ "tanh", Interval.tanh box, tanh
                  "tanh'", Interval.tanhDerivative box, (fun x -> 1.0 - tanh x * tanh x)
                  "sigmoid", Interval.sigmoid box, sigmoid
                  "sigmoid'", Interval.sigmoidDerivative box, (fun x -> sigmoid x * (1.0 - sigmoid x)) ]
            for name, enclosure, f in cases do
                for x in samples do
                    Expect.isTrue (Interval.contains (f x) enclosure) (sprintf "%s(%.17g) = %.17g in %O" name x (f x) enclosure)
                // Not wider than the sampled range by more than a few ulps' worth.
                let values = samples |> Array.map f
                Expect.isLessThan (enclosure.Hi - enclosure.Lo) ((Array.max values - Array.min values) + 1e-12 + 1e-2 * (hi - lo)) (sprintf "%s: a tight enclosure" name))

        test "interval arithmetic rounds outward: 0.1 + 0.2 and 0.1 * 3 contain the exact decimal results" {
            let tenth = Interval.point 0.1 // 0.1 is the float nearest 1/10
            let s = Interval.add tenth (Interval.point 0.2)
            Expect.isTrue (s.Lo < 0.30000000000000004 && s.Hi >= 0.30000000000000004) "the float sum is inside, strictly above the lower end"
            let p = Interval.scale 3.0 tenth
            Expect.isTrue (p.Lo < p.Hi) "a product of floats is an interval of positive width"
            let sq = Interval.square (Interval.create -2.0 1.0)
            Expect.equal sq.Lo 0.0 "x^2 over [-2, 1] starts at 0"
            Expect.isGreaterThanOrEqual sq.Hi 4.0 "and reaches 4"
        }

        test "the W = 2I cube (rnn): all 27 points certified, 8 / 12 / 6 / 1 by unstable modes" {
            use net = Network.scaledIdentity Kinds.rnn 3 2.0
            let r = FixedPoints.find certifyConfig net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 256 -1.5 1.5 3 0)
            Expect.equal r.FixedPoints.Length 27 "27 points"
            Expect.equal (byModes r.FixedPoints) [ 8; 12; 6; 1 ] "8 / 12 / 6 / 1"
            expectCertified "cube" (cube 1.0) r.FixedPoints r.Certificates
        }

        test "the W = 2I cube as ctrnn (h = 2 tanh(h)): all 27 points at {-2a*, 0, 2a*}^3 certified" {
            use net = Network.scaledIdentity Kinds.ctrnn 3 2.0
            let r = FixedPoints.find certifyConfig net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 256 -3.0 3.0 3 0)
            Expect.equal r.FixedPoints.Length 27 "27 points"
            Expect.equal (byModes r.FixedPoints) [ 8; 12; 6; 1 ] "8 / 12 / 6 / 1"
            expectCertified "ctrnn cube" (cube 2.0) r.FixedPoints r.Certificates
        }

        test "block-diagonal network: a 2-unit block with 3 points and a 3-unit block with 9 give the 27 products, all certified" {
            // Triangular blocks, so that each block's points follow from one-dimensional roots.
            let w2 = [| [| 2.0; 0.3 |]; [| 0.0; 0.5 |] |]
            let b2 = [| 0.05; 0.0 |]
            let w3 = [| [| 2.0; 0.2; 0.0 |]; [| 0.0; 2.0; 0.1 |]; [| 0.0; 0.0; 0.5 |] |]
            let b3 = [| 0.0; -0.04; 0.0 |]
            // Back-substitution, last unit first: x = tanh(w_ii x + sum_{j > i} w_ij x_j + b_i).
            let rec blockPoints (w: float[][]) (b: float[]) (i: int) (tail: float list) : float list list =
                if i < 0 then [ tail ]
                else
                    let c = b[i] + (tail |> List.mapi (fun k v -> w[i][i + 1 + k] * v) |> List.sum)
                    [ for x in roots1 (w[i][i]) c do yield! blockPoints w b (i - 1) (x :: tail) ]
            let p2 = blockPoints w2 b2 1 [] |> List.map Array.ofList
            let p3 = blockPoints w3 b3 2 [] |> List.map Array.ofList
            Expect.equal p2.Length 3 "the 2-unit block has 3 points"
            Expect.equal p3.Length 9 "the 3-unit block has 9 points"
            let truth = [| for a in p2 do for c in p3 -> Array.append a c |]
            let w = Array.init 5 (fun i -> Array.init 5 (fun j -> if i < 2 && j < 2 then w2[i][j] elif i >= 2 && j >= 2 then w3[i - 2][j - 2] else 0.0))
            use net = vanilla Kinds.rnn w (Array.append b2 b3)
            let r = FixedPoints.find certifyConfig net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 512 -1.2 1.2 5 1)
            Expect.equal r.FixedPoints.Length 27 "27 points"
            for t in truth do
                Expect.equal (r.FixedPoints |> Array.filter (fun p -> maxNorm p.State t < 1e-9)).Length 1 (sprintf "one point at %A" t)
            expectCertifiedWithin 1e-14 "block-diagonal" truth r.FixedPoints r.Certificates
        }

        test "random 2- to 4-unit networks: every point of the test's own enumeration is certified, and deflation from one initial state finds them all" {
            let mutable nontrivial = 0
            let counts = ResizeArray<int>()
            for n, per in [ 2, 41; 3, 19; 4, 11 ] do
                for seed in 1 .. 4 do
                    let random = Random(100 * n + seed)
                    let gauss () = sqrt (-2.0 * log (1.0 - random.NextDouble())) * cos (2.0 * Math.PI * random.NextDouble())
                    // Self-excitation and random coupling: from 1 to 3^n points.
                    let w = Array.init n (fun i -> Array.init n (fun j -> (if i = j then 1.5 else 0.0) + 1.2 * gauss () / sqrt (float n)))
                    let b = Array.init n (fun _ -> 0.1 * gauss ())
                    let truth = enumerate w b per
                    if truth.Length >= 3 then nontrivial <- nontrivial + 1
                    counts.Add truth.Length
                    use net = vanilla Kinds.rnn w b
                    let certificates = Certificates.ofStates CertificateConfig.defaults net truth (Array.create truth.Length [| 0.0 |])
                    let asPoints = truth |> Array.mapi (fun i s -> { Id = i; State = s; Input = [| 0.0 |]; Q = 0.0; Speed = 0.0; Search = None; Eigenvalues = [||]; Linearisation = None; UnstableModes = 0; Stable = false; Kind = FixedPointKind.Saddle; ContinuousEigenvalues = None })
                    expectCertifiedWithin 1e-13 (sprintf "n %d seed %d" n seed) truth asPoints certificates
                    // One initial state, the network's rest state h0 = 0: the search reaches one point,
                    // deflation the others.
                    let config = { certifyConfig with Deflation = Some DeflationConfig.exhaustive }
                    let r = FixedPoints.find config net (ConstantInput.Same [| 0.0 |]) [| Array.zeroCreate n |]
                    let missing = truth |> Array.filter (fun t -> not (r.FixedPoints |> Array.exists (fun p -> maxNorm p.State t < 1e-8)))
                    Expect.isEmpty missing (sprintf "n %d seed %d: %d points, deflation found %d; missing %A" n seed truth.Length r.FixedPoints.Length missing)
                    Expect.equal r.FixedPoints.Length truth.Length (sprintf "n %d seed %d: no point beyond the enumeration" n seed)
                    Expect.isGreaterThanOrEqual r.Deflated (truth.Length - 1) (sprintf "n %d seed %d: all but at most the one the initial state reached from deflation" n seed)
                    expectCertifiedWithin 1e-13 (sprintf "n %d seed %d, search" n seed) truth r.FixedPoints r.Certificates
            Expect.isGreaterThanOrEqual nontrivial 6 (sprintf "most of the networks have 3 points or more (points: %A)" (List.ofSeq counts))
        }

        test "a wrong certificate is refused: a box off the point, a box holding two points, a perturbed point's error bound" {
            use net = Network.scaledIdentity Kinds.rnn 3 2.0
            let a = FixedPointTests.aStar
            let corner = [| a; a; a |]
            let off = [| a + 1e-3; a; a |]
            Expect.isTrue (Certificates.krawczyk net corner [| 0.0 |] 1e-6).Contained "the corner itself passes on a small box"
            Expect.isFalse (Certificates.krawczyk net off [| 0.0 |] 1e-4).Contained "a box of radius 1e-4 around a point 1e-3 off holds no fixed point: refused"
            // The box of radius 1 around the origin holds the origin and the points a* e_i.
            Expect.isFalse (Certificates.krawczyk net [| 0.0; 0.0; 0.0 |] [| 0.0 |] 1.0).Contained "a box with several points: refused"
            Expect.isFalse (Certificates.krawczyk net corner [| 0.0 |] (a + 0.01)).Contained "a corner's box reaching the edge point: refused"
            match (Certificates.ofStates CertificateConfig.defaults net [| off |] [| [| 0.0 |] |])[0] with
            | Certificate.Certified (radius, error) ->
                Expect.isGreaterThanOrEqual error 1e-3 "the error bound of a perturbed state covers its distance to the true point"
                Expect.isLessThan radius a "its uniqueness box stops before the next point"
            | Certificate.NotCertified reason -> failtestf "a state 1e-3 from a hyperbolic point is still certified (with its distance), got: %s" reason
        }

        test "not certified, with the reason: a marginal point, a kind with a step of its own" {
            use line = Network.scaledIdentity Kinds.rnn 2 1.0 // tanh(x) = x: lambda = 1 at 0
            match (Certificates.ofStates CertificateConfig.defaults line [| [| 0.0; 0.0 |] |] [| [| 0.0 |] |])[0] with
            | Certificate.NotCertified reason -> Expect.stringContains reason "singular" "says the Jacobian is singular"
            | c -> failtestf "a marginal point certified: %A" c
            let own = { Kinds.rnn with Name = "own"; Step = fun w h d -> Kinds.rnn.Step w h d }
            use ownNet = vanilla own [| [| 2.0 |] |] [| 0.0 |]
            match (Certificates.ofStates CertificateConfig.defaults ownNet [| [| 0.0 |] |] [| [| 0.0 |] |])[0] with
            | Certificate.NotCertified reason -> Expect.stringContains reason "not supported" "a step of its own is not the built-in one"
            | c -> failtestf "a kind of one's own certified: %A" c
            let argument, _ = expectInvalid (fun () -> Certificates.ofStates CertificateConfig.defaults line [| [| 0.0 |] |] [| [| 0.0 |] |]) "wrong state size"
            Expect.equal argument "state" "names the state"
        }
    ]
