module RnnFun.Tests.GatedCertificateTests

open System
open Expecto
open RnnFun

let private maxNorm (a: float[]) (b: float[]) = Array.fold2 (fun acc x y -> max acc (abs (x - y))) 0.0 a b
let private sigmoid x = 1.0 / (1.0 + exp (-x))
let private dot (row: float[]) (x: float[]) = Array.fold2 (fun acc a v -> acc + a * v) 0.0 row x

/// A gated network (one input, W_ih = 0, so the drive is the biases alone) with the given
/// weight_hh_l0 [blocks H][H] and biases, in float64.
let private gated (kind: Kind) (whh: float[][]) (biases: (string * float[]) list) =
    let h = whh[0].Length
    let values =
        Map.ofList (
            [ "weight_ih_l0", ParameterValue.Matrix(Array.init whh.Length (fun _ -> [| 0.0 |]))
              "weight_hh_l0", ParameterValue.Matrix whh
              "w_out", ParameterValue.Matrix [| Array.zeroCreate h |] ]
            @ (biases |> List.map (fun (name, b) -> name, ParameterValue.Vector b)))
    Network.ofValues kind { NetworkConfig.defaults with InputSize = 1; Units = h; OutputSize = 1; Precision = Precision.Float64 } values

let private block (whh: float[][]) (h: int) (k: int) = Array.sub whh (k * h) h

/// The test's own fixed-point equations (PyTorch's gate equations written out, at u = 0), in the
/// variables the enumeration solves for: h for every kind (the lstm's c follows from h).
let private gruResidual (whh: float[][]) (bih: float[]) (bhh: float[]) (h: float[]) =
    let n = h.Length
    Array.init n (fun i ->
        let r = sigmoid (bih[i] + bhh[i] + dot (whh[i]) h)
        tanh (bih[2 * n + i] + r * (bhh[2 * n + i] + dot (whh[2 * n + i]) h)) - h[i])

let private ugrnnResidual (whh: float[][]) (b: float[]) (h: float[]) =
    let n = h.Length
    Array.init n (fun i -> tanh (b[n + i] + dot (whh[n + i]) h) - h[i])

/// The lstm's cell state at a fixed point with hidden state h: c = i g / (1 - f).
let private lstmCell (whh: float[][]) (b: float[]) (h: float[]) =
    let n = h.Length
    Array.init n (fun k ->
        let a gate = b[gate * n + k] + dot (whh[gate * n + k]) h
        sigmoid (a 0) * tanh (a 2) / (1.0 - sigmoid (a 1)))

let private lstmResidual (whh: float[][]) (b: float[]) (h: float[]) =
    let n = h.Length
    let c = lstmCell whh b h
    Array.init n (fun k -> sigmoid (b[3 * n + k] + dot (whh[3 * n + k]) h) * tanh c[k] - h[k])

/// Every zero of g in [-1.1, 1.1]^n: the plain certificate tests' damped Newton
/// (`CertificateTests.dampedNewtonRoots`) with a central-difference Jacobian (independent of the
/// library).
let private enumerate (g: float[] -> float[]) (n: int) (per: int) =
    let jacobian (x: float[]) =
        let e = 1e-6
        let columns =
            Array.init n (fun j ->
                let plus = Array.mapi (fun k v -> if k = j then v + e else v) x
                let minus = Array.mapi (fun k v -> if k = j then v - e else v) x
                Array.map2 (fun a b -> (a - b) / (2.0 * e)) (g plus) (g minus))
        Array.init n (fun i -> Array.init n (fun j -> columns[j][i]))
    CertificateTests.dampedNewtonRoots g jacobian n per 60 1e-15

/// Every true point certified with a radius short of the nearest other point and an error bound
/// that holds it; and a state 1e-3 off each point is refused on a box of radius 1e-4.
let private expectAllCertified (what: string) (net: Network) (truth: float[][]) (truthError: float) =
    let inputs = Array.create truth.Length [| 0.0 |]
    let certificates = Certificates.ofStates CertificateConfig.defaults net truth inputs
    for p, c in Array.zip truth certificates do
        match c with
        | Certificate.Certified (radius, error) ->
            let nearestOther = truth |> Array.filter (fun t -> maxNorm t p > 1e-9) |> Array.map (maxNorm p) |> Array.fold min infinity
            Expect.isLessThan radius nearestOther (sprintf "%s: the box of radius %g around %A holds no other point (nearest at %g)" what radius p nearestOther)
            Expect.isGreaterThan radius 1e-4 (sprintf "%s: a useful uniqueness radius at %A" what p)
            Expect.isLessThan error (1e-12 + truthError) (sprintf "%s: a tight enclosure at %A" what p)
        | Certificate.NotCertified reason -> failtestf "%s: point %A not certified: %s" what p reason
        let off = Array.mapi (fun i v -> if i = 0 then v + 1e-3 else v) p
        Expect.isFalse (Certificates.krawczyk net off [| 0.0 |] 1e-4).Contained (sprintf "%s: a box of radius 1e-4 around a state 1e-3 off %A is refused" what p)
        match (Certificates.ofStates CertificateConfig.defaults net [| off |] [| [| 0.0 |] |])[0] with
        | Certificate.Certified (_, error) -> Expect.isGreaterThanOrEqual error 9e-4 (sprintf "%s: the error bound of a state 1e-3 off covers its distance" what)
        | Certificate.NotCertified _ -> ()

let private cube =
    let a = FixedPointTests.aStar
    [| for x in [ -a; 0.0; a ] do for y in [ -a; 0.0; a ] do for z in [ -a; 0.0; a ] -> [| x; y; z |] |]

let private gauss (random: Random) = sqrt (-2.0 * log (1.0 - random.NextDouble())) * cos (2.0 * Math.PI * random.NextDouble())

[<Tests>]
let tests =
    testList "Analysis.Certificates.Gated" [
        test "gru with r = 1/2 and n = tanh(2h) per unit (z coupled at random): the 27 points {-a*, 0, a*}^3 certified, and found by the search" {
            let h = 3
            let random = Random(7)
            // Rows: r block 0 (r = sigmoid(0) = 1/2), z block random (the zeros do not depend on z),
            // n block 4I (n = tanh(r 4 h) = tanh(2h)).
            let whh = Array.init (3 * h) (fun k -> Array.init h (fun j -> if k < h then 0.0 elif k < 2 * h then gauss random else (if k - 2 * h = j then 4.0 else 0.0)))
            let zeros = Array.zeroCreate (3 * h)
            use net = gated Kinds.gru whh [ "bias_ih_l0", zeros; "bias_hh_l0", zeros ]
            expectAllCertified "gru cube" net cube 1e-15
            let r = FixedPoints.find { FixedPointConfig.defaults with Certify = Some CertificateConfig.defaults } net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 256 -1.2 1.2 3 0)
            Expect.equal r.FixedPoints.Length 27 "the search finds 27 points"
            Expect.isTrue (r.Certificates |> Array.forall (function Certificate.Certified _ -> true | _ -> false)) "and certifies them"
        }

        test "ugrnn with c = tanh(2h) per unit (g coupled at random): the 27 points certified" {
            let h = 3
            let random = Random(8)
            let whh = Array.init (2 * h) (fun k -> Array.init h (fun j -> if k < h then gauss random else (if k - h = j then 2.0 else 0.0)))
            use net = gated Kinds.ugrnn whh [ "bias_l0", Array.zeroCreate (2 * h) ]
            expectAllCertified "ugrnn cube" net cube 1e-15
        }

        test "lstm with constant gates per unit: the products of each unit's three points, [h; c] packed, certified" {
            let h = 3
            // i = sigmoid(0.3), f = sigmoid(0.5), o = sigmoid(1), g = tanh(3 h): each unit solves
            // h = o tanh(i tanh(3h) / (1 - f)) alone.
            let bias = Array.init (4 * h) (fun k -> match k / h with 0 -> 0.3 | 1 -> 0.5 | 2 -> 0.0 | _ -> 1.0)
            let whh = Array.init (4 * h) (fun k -> Array.init h (fun j -> if k / h = 2 && k % h = j then 3.0 else 0.0))
            let i, f, o = sigmoid 0.3, sigmoid 0.5, sigmoid 1.0
            let phi x = o * tanh (i * tanh (3.0 * x) / (1.0 - f)) - x
            // The roots by bisection on sign changes of a fine scan.
            let roots =
                [| for k in 0 .. 3999 do
                       let a, b = -1.0 + 2.0 * float k / 4000.0, -1.0 + 2.0 * float (k + 1) / 4000.0
                       if phi a = 0.0 then yield a
                       elif phi a * phi b < 0.0 then
                           let mutable lo, hi = a, b
                           for _ in 1 .. 200 do
                               let mid = 0.5 * (lo + hi)
                               if phi lo * phi mid <= 0.0 then hi <- mid else lo <- mid
                           yield 0.5 * (lo + hi) |]
            Expect.equal roots.Length 3 "three points per unit"
            let cell x = i * tanh (3.0 * x) / (1.0 - f)
            let truth = [| for a in roots do for b in roots do for c in roots -> [| a; b; c; cell a; cell b; cell c |] |]
            use net = gated Kinds.lstm whh [ "bias_ih_l0", bias; "bias_hh_l0", Array.zeroCreate (4 * h) ]
            expectAllCertified "lstm decoupled" net truth 1e-14
        }

        test "random 2- and 3-unit gru, lstm and ugrnn: every point of the test's own enumeration certified, a state 1e-3 off refused" {
            let mutable nontrivial = 0
            for units, per in [ 2, 25; 3, 11 ] do
                for seed in 1 .. 2 do
                    let random = Random(1000 * units + seed)
                    let noise scale = Array.init units (fun _ -> scale * gauss random / sqrt (float units))
                    let diagonal (d: float) k = Array.init units (fun j -> (if k = j then d else 0.0)) |> Array.map2 (+) (noise 1.0)
                    let smallBias count = Array.init count (fun _ -> 0.1 * gauss random)
                    // gru: r coupled at random, n self-exciting (r is about 1/2, so 3.5 gives slope > 1).
                    let whh = Array.init (3 * units) (fun k -> if k < 2 * units then noise 0.8 else diagonal 3.5 (k - 2 * units))
                    let bih, bhh = smallBias (3 * units), smallBias (3 * units)
                    let truth = enumerate (gruResidual whh bih bhh) units per
                    use net = gated Kinds.gru whh [ "bias_ih_l0", bih; "bias_hh_l0", bhh ]
                    expectAllCertified (sprintf "gru n %d seed %d" units seed) net truth 1e-13
                    if truth.Length >= 3 then nontrivial <- nontrivial + 1
                    // ugrnn
                    let whh = Array.init (2 * units) (fun k -> if k < units then noise 1.0 else diagonal 1.6 (k - units))
                    let b = smallBias (2 * units)
                    let truth = enumerate (ugrnnResidual whh b) units per
                    use net = gated Kinds.ugrnn whh [ "bias_l0", b ]
                    expectAllCertified (sprintf "ugrnn n %d seed %d" units seed) net truth 1e-13
                    if truth.Length >= 3 then nontrivial <- nontrivial + 1
                    // lstm: the enumeration solves for h; the point is [h; i g / (1 - f)].
                    let whh = Array.init (4 * units) (fun k -> if k / units = 2 then diagonal 5.0 (k - 2 * units) else noise 0.8)
                    let b = smallBias (4 * units)
                    let hs = enumerate (lstmResidual whh b) units per
                    let truth = hs |> Array.map (fun hh -> Array.append hh (lstmCell whh b hh))
                    use net = gated Kinds.lstm whh [ "bias_ih_l0", b; "bias_hh_l0", Array.zeroCreate (4 * units) ]
                    expectAllCertified (sprintf "lstm n %d seed %d" units seed) net truth 1e-13
                    if truth.Length >= 3 then nontrivial <- nontrivial + 1
            Expect.isGreaterThanOrEqual nontrivial 8 "most of the 12 networks have 3 points or more"
        }

        test "a gated kind with a step of its own is not certified, with the reason" {
            let own = { Kinds.gru with Name = "own-gru"; Step = fun w h d -> Kinds.gru.Step w h d }
            use net = Network.create own { NetworkConfig.defaults with InputSize = 1; Units = 2; OutputSize = 1; Precision = Precision.Float64 }
            match (Certificates.ofStates CertificateConfig.defaults net [| Array.zeroCreate 2 |] [| [| 0.0 |] |])[0] with
            | Certificate.NotCertified reason -> Expect.stringContains reason "not supported" "names the limit"
            | c -> failtestf "a kind of one's own certified: %A" c
        }
    ]
