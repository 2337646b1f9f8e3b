/// The gated kinds' fixed-point equations (`Kind.FixedPointResidual`): the same zeros as F(h) - h,
/// without the (1 - gate) factor, and a search that finds the points where gates are shut.
module RnnFun.Tests.FixedPointResidualTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open RnnFun
open RnnFun.Tests.GatedTests

let private residualKinds = [ Kinds.gru; Kinds.ugrnn ]

/// The gate g and the candidate c of h' = g h + (1 - g) c, on plain arrays from PyTorch's GRU
/// equations (g = z, c = n) and Collins et al.'s UGRNN.
let private gateAndCandidate (kindName: string) (v: Map<string, ParameterValue>) (n: int) (h: float[]) (x: float[]) =
    let wih, whh = matrixOf v "weight_ih_l0", matrixOf v "weight_hh_l0"
    let pre k (b: float[]) = add (add (matVec (rowsOf wih n k) x) (segment b n k)) (matVec (rowsOf whh n k) h)
    match kindName with
    | "gru" ->
        let bih, bhh = vectorOf v "bias_ih_l0", vectorOf v "bias_hh_l0"
        let r = add (pre 0 bih) (segment bhh n 0) |> Array.map sigmoid
        let z = add (pre 1 bih) (segment bhh n 1) |> Array.map sigmoid
        let hn = add (matVec (rowsOf whh n 2) h) (segment bhh n 2)
        z, add (add (matVec (rowsOf wih n 2) x) (segment bih n 2)) (mul r hn) |> Array.map tanh
    | "ugrnn" ->
        let b = vectorOf v "bias_l0"
        (pre 0 b |> Array.map sigmoid), (pre 1 b |> Array.map tanh)
    | other -> failwithf "no gate for %s" other

let private genCase =
    Gen.zip3 (Gen.zip3 (Gen.choose (1, 5)) (Gen.choose (1, 6)) (Gen.choose (1, 4))) (Gen.choose (0, 100000)) (Gen.elements residualKinds)

/// The residual and its declared Jacobian at states x [batch; units] under inputs u [batch; inputs].
let private residualAt (net: Network) (x: torch.Tensor) (u: torch.Tensor) =
    let w = Network.weights net
    let r = (Kind.fixedPointResidual net.Kind).Value
    let drive = net.Kind.InputDrive w u // [batch; drive]
    r, w, drive

/// A 3-unit cell whose candidate is tanh(2 h) (fixed points {-a*, 0, a*}^3, as the vanilla W = 2I)
/// and whose gate g_i = sigmoid(10 + 4 h_i) is nearly shut: 1 - g is 2e-3 to 1e-6 at the points,
/// and depends on the state, so that q = |F(h) - h|^2 / 2 is flat and curved where Newton goes.
let private shutGateCell (kind: Kind) =
    let n = 3
    let eye (scale: float) = Array.init n (fun i -> Array.init n (fun j -> if i = j then scale else 0.0))
    let zeros rows cols = Array.init rows (fun _ -> Array.zeroCreate<float> cols)
    let config = { NetworkConfig.defaults with InputSize = 1; Units = n; OutputSize = 1; OutputBias = true; Precision = Precision.Float64 }
    let readout = [ "w_out", ParameterValue.Matrix [| Array.create n 1.0 |]; "b_out", ParameterValue.Vector [| 0.0 |] ]
    let values =
        match kind.Name with
        | "gru" ->
            // Blocks r, z, n: r = sigmoid(40) = 1 in float64, z = sigmoid(10 + 4 h), n = tanh(2 h).
            [ "weight_ih_l0", ParameterValue.Matrix(zeros (3 * n) 1)
              "weight_hh_l0", ParameterValue.Matrix(Array.concat [ zeros n n; eye 4.0; eye 2.0 ])
              "bias_ih_l0", ParameterValue.Vector(Array.zeroCreate (3 * n))
              "bias_hh_l0", ParameterValue.Vector(Array.concat [ Array.create n 40.0; Array.create n 10.0; Array.zeroCreate n ]) ]
        | _ ->
            // Blocks g, c: g = sigmoid(10 + 4 h), c = tanh(2 h).
            [ "weight_ih_l0", ParameterValue.Matrix(zeros (2 * n) 1)
              "weight_hh_l0", ParameterValue.Matrix(Array.append (eye 4.0) (eye 2.0))
              "bias_l0", ParameterValue.Vector(Array.append (Array.create n 10.0) (Array.zeroCreate n)) ]
    Network.ofValues kind config (Map.ofList (values @ readout))

/// A 1-unit gru with r = 1, z = sigmoid(3 + 2 h) and n = tanh(2 h + b), b = -0.56 past the
/// saddle-node (tangency at b = atanh(1/sqrt 2) - sqrt 2): one fixed point below zero and, on the
/// upper branch, a ghost where q = (1 - z)^2 (n - h)^2 / 2 has a minimum of about 1e-8. Since z
/// depends on h, that minimum is not where |n - h| is least (the residual's).
let private ghostBias = -0.56

let private ghostGru () =
    let config = { NetworkConfig.defaults with InputSize = 1; Units = 1; OutputSize = 1; Precision = Precision.Float64 }
    Network.ofValues Kinds.gru config
        (Map.ofList
            [ "weight_ih_l0", ParameterValue.Matrix [| [| 0.0 |]; [| 0.0 |]; [| 0.0 |] |]
              "weight_hh_l0", ParameterValue.Matrix [| [| 0.0 |]; [| 2.0 |]; [| 2.0 |] |]
              "bias_ih_l0", ParameterValue.Vector [| 0.0; 0.0; ghostBias |]
              "bias_hh_l0", ParameterValue.Vector [| 40.0; 3.0; 0.0 |]
              "w_out", ParameterValue.Matrix [| [| 1.0 |] |] ])

[<Tests>]
let tests =
    testList "Analysis.FixedPointResidual" [
        testProp "F(h) - h = (1 - g) (c - h) and the residual is c - h (gru, ugrnn; float64, 1e-12)" (fun () ->
            Prop.forAll (Arb.fromGen genCase) (fun ((inputs, units, batch), seed, kind) ->
                use net = randomGated kind inputs units Precision.Float64 seed
                let v = Network.values net |> Map.ofList
                let random = Random(seed + 7)
                let states = randomRows random batch units 2.0
                let xs = randomRows random batch inputs 1.5
                use _ = torch.NewDisposeScope()
                let x = Arrays.matrixToTensor Precision.Float64 states // [batch; units]
                let u = Arrays.matrixToTensor Precision.Float64 xs // [batch; inputs]
                let r, w, drive = residualAt net x u
                let expectedResidual, expectedStep =
                    Array.map2 (fun h x ->
                        let g, c = gateAndCandidate kind.Name v units h x
                        Array.map2 (-) c h, Array.init units (fun i -> (1.0 - g[i]) * (c[i] - h[i])))
                        states xs
                    |> Array.unzip
                Expect.isLessThan (maxAbsDiff (values (r.Residual w x drive)) (Array.concat expectedResidual)) 1e-12 (sprintf "%s: residual = c - h" kind.Name)
                Expect.isLessThan (maxAbsDiff (values (net.Kind.Step w x drive - x)) (Array.concat expectedStep)) 1e-12 (sprintf "%s: F(h) - h = (1 - g)(c - h)" kind.Name)
                true))

        testProp "the residual's closed-form Jacobian = autograd = central finite differences (gru, ugrnn)" (fun () ->
            Prop.forAll (Arb.fromGen genCase) (fun ((inputs, units, batch), seed, kind) ->
                use net = randomGated kind inputs units Precision.Float64 seed
                let random = Random(seed + 11)
                use _ = torch.NewDisposeScope()
                let x = Arrays.matrixToTensor Precision.Float64 (randomRows random batch units 2.0) // [batch; units]
                let u = Arrays.matrixToTensor Precision.Float64 (randomRows random batch inputs 1.5) // [batch; inputs]
                let r, w, drive = residualAt net x u
                let closed = values (r.Jacobian.Value w x drive) // [batch; units; units]
                let auto = values (Jacobian.autogradOf (fun y -> r.Residual w y drive) x)
                Expect.isLessThan (maxAbsDiff closed auto) 1e-10 (sprintf "%s: closed form = autograd" kind.Name)
                // Central differences, column j: (R(x + e e_j) - R(x - e e_j)) / 2e.
                let e = 1e-6
                let columns =
                    Array.init units (fun j ->
                        let step = torch.zeros([| 1L; int64 units |], torch.ScalarType.Float64)
                        step[0L, int64 j] <- torch.tensor(e, torch.ScalarType.Float64)
                        values ((r.Residual w (x + step) drive - r.Residual w (x - step) drive) / (2.0 * e)) |> Array.chunkBySize units) // [batch][units(i)]
                let fd = Array.init batch (fun b -> Array.init units (fun i -> Array.init units (fun j -> columns[j][b][i]))) |> Array.collect Array.concat
                Expect.isLessThan (maxAbsDiff closed fd) 1e-6 (sprintf "%s: closed form = central differences" kind.Name)
                true))

        testProp "the residual's closed-form v' dR/dh = autograd's (gru, ugrnn)" (fun () ->
            Prop.forAll (Arb.fromGen genCase) (fun ((inputs, units, batch), seed, kind) ->
                use net = randomGated kind inputs units Precision.Float64 seed
                let random = Random(seed + 13)
                use _ = torch.NewDisposeScope()
                let x = Arrays.matrixToTensor Precision.Float64 (randomRows random batch units 2.0) // [batch; units]
                let u = Arrays.matrixToTensor Precision.Float64 (randomRows random batch inputs 1.5) // [batch; inputs]
                let v = Arrays.matrixToTensor Precision.Float64 (randomRows random batch units 1.0) // [batch; units]
                let r, w, drive = residualAt net x u
                let closed = values (r.VectorJacobian.Value w x drive v)
                let xg = x.detach().requires_grad_(true)
                let product = (r.Residual w xg drive * v).sum()
                let auto = torch.autograd.grad([| product |], [| xg |])
                Expect.isLessThan (maxAbsDiff closed (values auto[0])) 1e-12 (sprintf "%s: v' dR/dh" kind.Name)
                true))

        test "the residual is used only with the step it was written for" {
            for kind in residualKinds do
                Expect.isSome (Kind.fixedPointResidual kind) (sprintf "%s declares it" kind.Name)
                let wrapped = { kind with Step = fun w h d -> kind.Step w h d }
                Expect.isNone (Kind.fixedPointResidual wrapped) (sprintf "%s with another step: the search solves F(h) = h" kind.Name)
            for kind in [ Kinds.rnn; Kinds.ctrnn; Kinds.lstm ] do
                Expect.isNone (Kind.fixedPointResidual kind) (sprintf "%s: none" kind.Name)
        }

        test "slow points of a gated kind are minima of q of the map: a 1-unit gru's ghost past a saddle-node" {
            use net = ghostGru ()
            let initial = InitialStates.uniformBox 256 -1.5 1.5 1 0
            let r = FixedPoints.find { FixedPointConfig.defaults with IncludeSlowPoints = true } net (ConstantInput.Same [| 0.0 |]) initial
            // The fixed point: h = tanh(2 h + b) below zero, by bisection.
            let mutable lo, hi = -1.0, 0.0
            for _ in 1 .. 200 do
                let mid = (lo + hi) / 2.0
                if tanh (2.0 * mid + ghostBias) - mid > 0.0 then lo <- mid else hi <- mid
            Expect.equal r.FixedPoints.Length 1 "one fixed point"
            Expect.isLessThan (abs (r.FixedPoints[0].State[0] - lo)) 1e-9 "at the root of tanh(2h + b) = h"
            // The ghost: the least q of the map on the upper branch, by golden-section search.
            let q h = 0.5 * ((1.0 - sigmoid (3.0 + 2.0 * h)) * (tanh (2.0 * h + ghostBias) - h)) ** 2.0
            let mutable a, b = 0.5, 0.95
            let ratio = (sqrt 5.0 - 1.0) / 2.0
            for _ in 1 .. 200 do
                let c, d = b - ratio * (b - a), a + ratio * (b - a)
                if q c < q d then b <- d else a <- c
            let ghost = (a + b) / 2.0
            let leastResidual = (0.5 * log ((1.0 + 1.0 / sqrt 2.0) / (1.0 - 1.0 / sqrt 2.0)) - ghostBias) / 2.0
            Expect.isGreaterThan (abs (ghost - leastResidual)) 5e-3 "the map's slow point is not the residual's"
            Expect.isLessThan (q ghost) 1e-6 "the ghost is a slow point by the default bound"
            let near = r.SlowPoints |> Array.filter (fun p -> abs (p.State[0] - ghost) < 1e-3)
            Expect.equal near.Length 1 (sprintf "one slow point at the ghost h = %.6f (slow points: %A)" ghost (r.SlowPoints |> Array.map (fun p -> p.State[0], p.Q)))
            Expect.isLessThan (abs (near[0].State[0] - ghost)) 1e-4 "at the least q"
            Expect.isLessThan (abs (near[0].Q - q ghost) / q ghost) 1e-3 "with the map's q"
        }

        test "shut gates (1 - g from 2e-3 to 1e-6): exactly the 27 points {-a*, 0, a*}^3, to 1e-8, with the map's eigenvalues" {
            for kind in residualKinds do
                use net = shutGateCell kind
                let initial = InitialStates.uniformBox 1024 -1.5 1.5 3 0
                let r = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) initial
                Expect.equal r.FixedPoints.Length 27 (sprintf "%s: 27 fixed points" kind.Name)
                for p in r.FixedPoints do
                    Expect.isLessThan p.Q 1e-20 "q of the map < 1e-20"
                    for c in p.State do
                        Expect.isLessThan (min (abs c) (abs (abs c - FixedPointTests.aStar))) 1e-8 (sprintf "%s: coordinate %g in {-a*, 0, a*}" kind.Name c)
                    // At h = c(h): dF/dh = diag(g + (1 - g) 2 (1 - h^2)), g = sigmoid(10 + 4 h).
                    let expected =
                        p.State
                        |> Array.map (fun h -> let g = sigmoid (10.0 + 4.0 * h) in g + (1.0 - g) * 2.0 * (1.0 - h * h))
                        |> Array.sortDescending
                    let moduli = p.Eigenvalues |> Array.map (fun l -> l.Magnitude)
                    Expect.isLessThan (maxAbsDiff moduli expected) 1e-8 (sprintf "%s: eigenvalues" kind.Name)
                let distinct = r.FixedPoints |> Array.map (fun p -> p.State |> Array.map (fun c -> Math.Round(c / FixedPointTests.aStar))) |> Array.distinct
                Expect.equal distinct.Length 27 "one point per pattern"
        }
    ]
