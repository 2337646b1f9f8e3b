module RnnFun.Tests.SimilarityTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open RnnFun

/// n x d samples, Gaussian (Box-Muller), from a seed.
let private gaussian (seed: int) (n: int) (d: int) : float[][] =
    let random = Random(seed)
    let next () = sqrt (-2.0 * log (1.0 - random.NextDouble())) * cos (2.0 * Math.PI * random.NextDouble())
    Array.init n (fun _ -> Array.init d (fun _ -> next ()))

let private matMul (x: float[][]) (m: float[][]) : float[][] =
    let k = m.Length
    x |> Array.map (fun row -> Array.init m[0].Length (fun j -> Seq.sum (seq { for i in 0 .. k - 1 -> row[i] * m[i][j] })))

let private transpose (m: float[][]) = Array.init m[0].Length (fun j -> Array.init m.Length (fun i -> m[i][j]))

/// A random orthogonal d x d matrix: Gram-Schmidt on Gaussian columns (written here, not the library's).
let private orthogonal (seed: int) (d: int) : float[][] =
    let columns = transpose (gaussian seed d d)
    let basis = ResizeArray<float[]>()
    for c in columns do
        let mutable v = Array.copy c
        for b in basis do
            let p = Array.fold2 (fun s x y -> s + x * y) 0.0 v b
            v <- Array.map2 (fun x y -> x - p * y) v b
        let n = sqrt (Array.sumBy (fun x -> x * x) v)
        basis.Add(Array.map (fun x -> x / n) v)
    transpose (basis.ToArray())

/// A random invertible d x d matrix: the identity plus small noise, diagonally dominant.
let private invertible (seed: int) (d: int) : float[][] =
    gaussian seed d d |> Array.mapi (fun i row -> row |> Array.mapi (fun j v -> (if i = j then 3.0 else 0.0) + 0.5 * v))

/// Trajectories of x' = A x from random initial states: [trials][time][units].
let private simulate (a: float[][]) (trials: int) (time: int) (seed: int) : float[][][] =
    let starts = gaussian seed trials a.Length
    starts |> Array.map (fun x0 ->
        let states = Array.zeroCreate<float[]> time
        let mutable x = x0
        for t in 0 .. time - 1 do
            states[t] <- x
            x <- Array.init a.Length (fun i -> Array.fold2 (fun s w v -> s + w * v) 0.0 a[i] x)
        states)

let private seeds = Arb.fromGen (Gen.choose (0, 100000))

[<Tests>]
let tests =
    testList "Analysis.Similarity" [
        testProp "SVCCA distance between X and X M is 0 for an invertible M, and symmetric" (fun () ->
            Prop.forAll seeds (fun seed ->
                let x = gaussian seed 200 6
                let xm = matMul x (invertible (seed + 1) 6)
                Expect.isLessThan (abs (Similarity.svccaDistance x xm)) 1e-9 "X against X M"
                let y = gaussian (seed + 2) 200 4
                Expect.floatClose Accuracy.high (Similarity.svccaDistance x y) (Similarity.svccaDistance y x) "symmetric"
                true))

        test "SVCCA: independent random states are far apart; 99 % of the variance drops a tiny direction" {
            let x = gaussian 1 400 5
            let y = gaussian 2 400 5
            Expect.isGreaterThan (Similarity.svccaDistance x y) 0.8 "independent states share almost nothing"
            // A sixth column of tiny, independent noise on each side is cut by the SVD at 99 %.
            let pad seed = Array.map2 (fun (r: float[]) (n: float[]) -> Array.append r [| 1e-3 * n[0] |]) x (gaussian seed 400 1)
            let p1, p2 = pad 3, pad 4
            Expect.isLessThan (Similarity.svccaDistance p1 p2) 1e-9 "the tiny directions are dropped"
            Expect.isGreaterThan (Similarity.svccaDistanceWith 1.0 p1 p2) 0.1 "kept at 100 %, the unrelated sixth pair counts"
        }

        testProp "Procrustes distance: 0 between X and X Q for an orthogonal Q; symmetric; triangle inequality" (fun () ->
            Prop.forAll seeds (fun seed ->
                let x = gaussian seed 50 4
                let q = orthogonal (seed + 1) 4
                Expect.isLessThan (Similarity.procrustesDistance x (matMul x q)) 1e-6 "X against X Q"
                let y = gaussian (seed + 2) 50 4
                let z = gaussian (seed + 3) 50 3
                let d (a: float[][]) b = Similarity.procrustesDistance a b
                Expect.floatClose Accuracy.high (d x y) (d y x) "symmetric"
                Expect.isLessThanOrEqual (d x z) (d x y + d y z + 1e-12) "triangle inequality"
                true))

        test "Procrustes distance between the four axis points and their image under diag(2, 1) is 0.321751 rad" {
            let x = [| [| 1.0; 0.0 |]; [| 0.0; 1.0 |]; [| -1.0; 0.0 |]; [| 0.0; -1.0 |] |]
            let y = x |> Array.map (fun r -> [| 2.0 * r[0]; r[1] |])
            Expect.floatClose { absolute = 1e-6; relative = 0.0 } (Similarity.procrustesDistance x y) 0.321751 "acos(6 / (2 sqrt 10))"
        }

        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 20 } "dynamics: an operator and Q A Q' are less than 0.02 rad apart; a different operator is not" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.choose (0, 1000))) (fun seed ->
                let config = { DynamicsConfig.defaults with Seed = seed }
                let a = gaussian seed 4 4 |> Array.map (Array.map (fun v -> 0.4 * v))
                let q = orthogonal (seed + 1) 4
                let qaq = matMul (matMul q a) (transpose q)
                Expect.isLessThan (Similarity.operatorDistance config a qaq) 0.02 "A against Q A Q'"
                // A rotation-free, decaying diagonal operator is not orthogonally similar to a rotation.
                let rotation = [| [| 0.0; -0.9; 0.0; 0.0 |]; [| 0.9; 0.0; 0.0; 0.0 |]; [| 0.0; 0.0; 0.0; -0.9 |]; [| 0.0; 0.0; 0.9; 0.0 |] |]
                let decay = Array.init 4 (fun i -> Array.init 4 (fun j -> if i = j then 0.9 else 0.0))
                Expect.isGreaterThan (Similarity.operatorDistance config rotation decay) 1.0 "rotation against decay (orthogonal, pi/2 apart)"
                true))

        test "dynamics from trajectories: a linear system and the same system seen through a rotation are 0 apart" {
            let a = [| [| 0.9; -0.3; 0.0 |]; [| 0.3; 0.9; 0.0 |]; [| 0.0; 0.0; 0.5 |] |]
            let q = orthogonal 5 3
            let x = simulate a 20 30 1
            let rotated = x |> Array.map (fun trial -> matMul trial (transpose q))
            let config = { DynamicsConfig.defaults with Delays = 2; Rank = 3 }
            Expect.isLessThan (Similarity.dynamicsDistance config x rotated) 0.02 "same dynamics"
            let other = simulate [| [| 0.5; 0.0; 0.0 |]; [| 0.0; -0.8; 0.0 |]; [| 0.0; 0.0; 0.2 |] |] 20 30 1
            Expect.isGreaterThan (Similarity.dynamicsDistance config x other) 0.1 "other dynamics"
            let fitted = Similarity.linearOperator { config with Delays = 1 } x
            Expect.equal fitted.Length 3 "rank 3"
            // Its eigenvalues are A's: the trace and the determinant agree.
            let trace (m: float[][]) = m[0][0] + m[1][1] + m[2][2]
            Expect.floatClose { absolute = 1e-8; relative = 1e-8 } (trace fitted) (trace a) "same trace"
        }

        test "dynamics: with fewer samples than embedding dimensions the operator is still exact" {
            // 2 trials of 8 steps, 4 delays of 3 units: 10 samples in 12 dimensions (the samples' Gram path).
            let a = [| [| 0.9; -0.3; 0.0 |]; [| 0.3; 0.9; 0.0 |]; [| 0.0; 0.0; 0.5 |] |]
            let x = simulate a 2 8 3
            let config = { DynamicsConfig.defaults with Delays = 4; Rank = 3 }
            let fitted = Similarity.linearOperator config x
            let trace (m: float[][]) = m[0][0] + m[1][1] + m[2][2]
            Expect.floatClose { absolute = 1e-6; relative = 1e-6 } (trace fitted) (trace a) "same trace"
            let rotated = x |> Array.map (fun trial -> matMul trial (transpose (orthogonal 9 3)))
            Expect.isLessThan (Similarity.dynamicsDistance config x rotated) 0.02 "same dynamics through a rotation"
            // Both paths give the same coordinates: 30 samples in 12 dimensions (X'X), and the same
            // states padded with 6 silent units, 36 dimensions (X X'), fit the same operator entry by entry.
            let y = simulate a 6 8 4
            let padded = y |> Array.map (Array.map (fun state -> Array.append state (Array.zeroCreate 6)))
            let direct, gram = Similarity.linearOperator config y, Similarity.linearOperator { config with Delays = 4 } padded
            for i in 0 .. 2 do
                for j in 0 .. 2 do
                    Expect.floatClose { absolute = 1e-8; relative = 1e-8 } (gram[i][j]) (direct[i][j]) "the same operator"
        }

        test "topology: the W = 2I cube and a permuted, rescaled cube are isomorphic; a 9-point network is not" {
            let zero = [| 0.0 |]
            let topologyOf (gains: float[]) =
                use net0 = Network.scaledIdentity Kinds.rnn 3 1.0
                use _ = torch.NewDisposeScope()
                let w = Network.recurrentName net0 |> Option.get
                let diag = torch.diag(torch.tensor(gains, torch.ScalarType.Float64))
                use net = Network.withValues net0 (Map.ofList [ w, diag ])
                let found = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same zero) (InitialStates.uniformBox 512 -1.5 1.5 3 0)
                found.FixedPoints.Length, Topology.build TopologyConfig.defaults net zero found.FixedPoints
            let n1, cube = topologyOf [| 2.0; 2.0; 2.0 |]
            let n2, permuted = topologyOf [| 3.0; 2.0; 2.5 |]
            let n3, flat = topologyOf [| 2.0; 2.0; 0.5 |]
            Expect.equal (n1, n2, n3) (27, 27, 9) "27, 27 and 9 points"
            let same = Similarity.compareTopology cube permuted
            Expect.isTrue same.Isomorphic "isomorphic"
            Expect.equal same.Distance 0.0 "distance 0"
            let mapping = same.Mapping.Value
            Expect.equal mapping.Length 27 "a bijection of 27 vertices"
            let modes (t: Topology) id = (t.Vertices |> Array.find (fun v -> v.Id = id)).UnstableModes
            for (a, b) in mapping do Expect.equal (modes permuted b) (modes cube a) "unstable modes kept"
            let other = Similarity.compareTopology cube flat
            Expect.isFalse other.Isomorphic "not isomorphic"
            Expect.isGreaterThan other.Distance 0.0 "a positive distance"
            Expect.equal (Similarity.compareTopology flat cube).Distance other.Distance "symmetric"
        }

        test "MDS recovers the distances of points in the plane" {
            let points = [| [| 0.0; 0.0 |]; [| 3.0; 0.0 |]; [| 0.0; 4.0 |]; [| 1.0; 1.0 |]; [| -2.0; 0.5 |] |]
            let distance (a: float[]) (b: float[]) = sqrt ((a[0] - b[0]) ** 2.0 + (a[1] - b[1]) ** 2.0)
            let d = points |> Array.map (fun a -> points |> Array.map (distance a))
            let e = Similarity.mds 2 d
            for i in 0 .. 4 do
                for j in 0 .. 4 do
                    Expect.floatClose { absolute = 1e-9; relative = 1e-9 } (distance (e[i]) (e[j])) (d[i][j]) "pairwise distance kept"
        }

        test "compare: matrices of every metric over three networks, zero diagonal, symmetric; a copy is at distance 0" {
            use a = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 2; Units = 8; OutputSize = 2; Seed = 1L }
            use b = Network.create Kinds.gru { NetworkConfig.defaults with InputSize = 2; Units = 6; OutputSize = 2; Seed = 2L }
            let x = Array.init 6 (fun trial -> Array.init 25 (fun t -> [| sin (float (t + trial)); (if t % 7 = trial % 7 then 1.0 else 0.0) |]))
            let ta, tb = Similarity.trajectoriesOf a x, Similarity.trajectoriesOf b x
            let c = Similarity.compare { DynamicsConfig.defaults with Rank = 4; Delays = 2 } [| "a"; "b"; "a again" |] [| ta; tb; ta |] None
            for m in [ c.Svcca; c.Procrustes; c.Dynamics ] do
                Expect.equal m.Length 3 "3 x 3"
                for i in 0 .. 2 do
                    Expect.equal (m[i][i]) 0.0 "zero diagonal"
                    for j in 0 .. 2 do Expect.equal (m[i][j]) (m[j][i]) "symmetric"
                Expect.isLessThan (m[0][2]) 1e-6 "a network and itself"
                Expect.isGreaterThan (m[0][1]) 1e-3 "two different networks"
            Expect.equal (c.Embeddings |> Map.keys |> List.ofSeq) [ "dynamics"; "procrustes"; "svcca" ] "an embedding per metric"
            Expect.isEmpty c.Topology "no topologies given"
            Expect.throws (fun () -> Similarity.procrustesDistance (ta[0]) (Array.take 3 (tb[0])) |> ignore) "different samples are refused"
        }
    ]
