namespace RnnFun

open System
open System.Collections.Generic
open TorchSharp

/// Settings of the dynamical similarity (`Similarity.dynamicsDistance`), in the spirit of DSA
/// (Ostrow et al. 2023): delay-embed each network's states, reduce to `Rank` components, fit one
/// linear operator per network, and compare the operators up to an orthogonal change of basis.
type DynamicsConfig =
    { /// Delays in the embedding (1: the states themselves).
      Delays: int
      /// Components kept of the delay-embedded states (the operators' size), at most the embedding's
      /// dimension: both networks of a pair are reduced to the same rank.
      Rank: int
      /// Projected gradient iterations over the orthogonal group per start.
      Iterations: int
      /// Random starts on top of the deterministic ones (identity, a reflection, eigenbasis alignments).
      RandomStarts: int
      Seed: int }

    static member defaults =
        { Delays = 5; Rank = 10; Iterations = 300; RandomStarts = 2; Seed = 0 }

/// A comparison of two topology graphs (`Similarity.compareTopology`).
type TopologyComparison =
    { /// Whether a bijection of the vertices keeps every vertex's number of unstable modes and maps
      /// the edges of the unstable-mode runs exactly onto each other (directions kept).
      Isomorphic: bool
      /// Half the L1 distance between the two graphs' histograms of vertex types (by unstable modes)
      /// and of edge types (by the endpoints' unstable modes): 0 for isomorphic graphs, and a lower
      /// bound on the unit-cost graph edit distance.
      Distance: float
      /// The vertex mapping (ids of the first graph -> ids of the second) when isomorphic.
      Mapping: (int * int)[] option }

/// Distance matrices between networks, one per metric, with a classical MDS embedding of each.
type Comparison =
    { /// The compared networks' names (model files, or given names), in matrix order.
      Names: string[]
      /// 1 - mean canonical correlation after the SVD to 99 % of the variance, [K][K].
      Svcca: float[][]
      /// Angular Procrustes shape distance (Williams et al. 2021), radians, [K][K].
      Procrustes: float[][]
      /// Angular distance between the fitted linear operators up to an orthogonal change of basis, radians, [K][K].
      Dynamics: float[][]
      /// Topology graph distances, [K][K]; empty when no topologies were given.
      Topology: float[][]
      /// Whether each pair's topology graphs are isomorphic; empty when no topologies were given.
      Isomorphic: bool[][]
      /// Two-dimensional classical MDS coordinates [K][2] of each matrix, by metric name.
      Embeddings: Map<string, float[][]> }

/// Geometry, dynamics and topology distances between networks computed from their states on the
/// same trials. States are plain arrays [samples][units] (geometry) or [trials][time][units]
/// (dynamics); the networks may differ in size and kind. Everything is computed in float64.
[<RequireQualifiedAccess>]
module Similarity =
    let private f64 = torch.ScalarType.Float64

    let private matrix (argument: string) (rows: float[][]) : Tensor =
        if isNull rows || rows.Length = 0 then Check.fail argument "expected at least one sample"
        let d = rows[0].Length
        if d = 0 then Check.fail argument "expected samples with at least one value"
        rows |> Array.iteri (fun i r ->
            if r.Length <> d then Check.fail argument (sprintf "sample %d has %d values, sample 0 has %d" i r.Length d)
            if r |> Array.exists (fun v -> Double.IsNaN v || Double.IsInfinity v) then Check.fail argument (sprintf "sample %d has a value that is not finite" i))
        Arrays.toTensor Precision.Float64 [| int64 rows.Length; int64 d |] (Array.concat rows)

    let private sameSamples (x: float[][]) (y: float[][]) =
        if x.Length <> y.Length then
            Check.fail "y" (sprintf "the two sets of states must have the same samples (the same trials and steps), got %d and %d" x.Length y.Length)
        if x.Length < 2 then Check.fail "x" "expected at least 2 samples"

    /// The centred samples' left singular vectors that explain `variance` of the variance: [n; k].
    let private reduced (variance: float) (x: Tensor) : Tensor =
        let centred = x - x.mean([| 0L |], true) // [n; d]
        // The SVD from the eigen-decomposition of X'X [d; d] (n is the larger by far): U = X V / s.
        let struct (values, vectors) = torch.linalg.eigh(centred.t().matmul(centred)) // ascending
        let values, vectors = values.flip(0L).clamp_min(0.0), vectors.flip(1L)
        let energy = values.cumsum(0L) // [d]
        let total = energy[-1L].ToDouble()
        if total <= 0.0 then Check.fail "states" "the states do not vary: canonical correlations are undefined"
        let shares = Arrays.ofTensor (energy / total)
        let k = (shares |> Array.tryFindIndex (fun r -> r >= variance - 1e-12) |> Option.defaultValue (shares.Length - 1)) + 1
        let k = min k (int x.shape[0] - 1)
        let u = centred.matmul(vectors.narrow(1L, 0L, int64 k)) / values.narrow(0L, 0L, int64 k).sqrt() // [n; k]
        // One QR pass restores orthonormality lost to rounding in the small components.
        let struct (q, _) = torch.linalg.qr(u)
        q

    /// Canonical correlations (decreasing) between two sets of states on the same samples, after
    /// each is reduced by SVD to the components explaining `variance` of its variance (SVCCA,
    /// Raghu et al. 2017). x [samples][units x], y [samples][units y].
    let canonicalCorrelations (variance: float) (x: float[][]) (y: float[][]) : float[] =
        if Double.IsNaN variance || variance <= 0.0 || variance > 1.0 then Check.fail "variance" (sprintf "expected a share in (0, 1], got %g" variance)
        sameSamples x y
        use _ = torch.NewDisposeScope()
        // The left singular vectors are orthonormal bases of the two reduced subspaces: the canonical
        // correlations are the singular values of Ux' Uy (the cosines of the principal angles).
        let ux = reduced variance (matrix "x" x)
        let uy = reduced variance (matrix "y" y)
        let s = torch.linalg.svdvals(ux.t().matmul(uy))
        Arrays.ofTensor s |> Array.map (fun v -> max 0.0 (min 1.0 v))

    /// SVCCA distance: 1 - the mean canonical correlation after the SVD to 99 % of the variance.
    /// 0 between x and x M for any invertible M.
    let svccaDistanceWith (variance: float) (x: float[][]) (y: float[][]) : float =
        let c = canonicalCorrelations variance x y
        1.0 - Array.average c

    /// `svccaDistanceWith 0.99`.
    let svccaDistance (x: float[][]) (y: float[][]) : float = svccaDistanceWith 0.99 x y

    /// The angular Procrustes shape distance of Williams et al. (2021): arccos(||X' Y||_* / (||X|| ||Y||))
    /// on centred states (X [samples; units x], Y [samples; units y], the narrower one padded with
    /// zeros). A metric: symmetric, 0 between X and X Q for an orthogonal Q, triangle inequality.
    let procrustesDistance (x: float[][]) (y: float[][]) : float =
        sameSamples x y
        use _ = torch.NewDisposeScope()
        let centre (t: Tensor) = t - t.mean([| 0L |], true)
        let a, b = centre (matrix "x" x), centre (matrix "y" y)
        let na, nb = torch.linalg.norm(a).ToDouble(), torch.linalg.norm(b).ToDouble()
        if na = 0.0 || nb = 0.0 then Check.fail (if na = 0.0 then "x" else "y") "the states do not vary: the shape distance is undefined"
        let nuclear = torch.linalg.svdvals(a.t().matmul(b)).sum().ToDouble()
        acos (min 1.0 (nuclear / (na * nb)))

    // -----------------------------------------------------------------------------------------
    // Dynamics

    let private checkDynamics (c: DynamicsConfig) =
        if c.Delays < 1 then Check.fail "delays" (sprintf "expected at least 1, got %d" c.Delays)
        if c.Rank < 1 then Check.fail "rank" (sprintf "expected at least 1, got %d" c.Rank)
        if c.Iterations < 0 then Check.fail "iterations" (sprintf "expected 0 or more, got %d" c.Iterations)
        if c.RandomStarts < 0 then Check.fail "random_starts" (sprintf "expected 0 or more, got %d" c.RandomStarts)

    /// The linear operator A [rank][rank] with z_{t+1} ~ A z_t, fitted by least squares to the
    /// delay-embedded states of every trial (embeddings never cross trials), reduced to their first
    /// `Rank` principal coordinates. Each coordinate's sign is fixed (its largest-magnitude sample
    /// positive), so that the same dynamics seen through a rotation give operators that differ by an
    /// orthogonal change of basis only. trajectories [trials][time][units].
    let linearOperator (config: DynamicsConfig) (trajectories: float[][][]) : float[][] =
        checkDynamics config
        if isNull trajectories || trajectories.Length = 0 then Check.fail "trajectories" "expected at least one trial"
        let d = config.Delays
        let time = trajectories[0].Length
        if time < d + 1 then Check.fail "trajectories" (sprintf "expected trials of at least %d steps (delays + 1), got %d" (d + 1) time)
        trajectories |> Array.iteri (fun i tr -> if tr.Length <> time then Check.fail "trajectories" (sprintf "trial %d has %d steps, trial 0 has %d" i tr.Length time))
        use _ = torch.NewDisposeScope()
        let states = trajectories |> Array.map (fun tr -> matrix "trajectories" tr) // trials x [time; units]
        let units = states[0].shape[1]
        if states |> Array.exists (fun s -> s.shape[1] <> units) then Check.fail "trajectories" "every step must have the same number of units"
        // [trials; time - d + 1; d units]: row t holds x_t, x_{t-1}, ..., x_{t-d+1}.
        let embedded =
            states |> Array.map (fun s ->
                torch.cat([| for lag in 0 .. d - 1 -> s.narrow(0L, int64 (d - 1 - lag), int64 (time - d + 1)) |], 1L))
        let all = torch.cat(embedded, 0L) // [samples; d units]
        let mean = all.mean([| 0L |], true)
        let centred = all - mean
        // The principal coordinates, from the smaller of the two scatter matrices: X'X [d units;
        // d units] gives the axes V (z = X V); X X' [samples; samples] gives z = U s directly (a
        // 512-unit lstm with 5 delays embeds in 5,120 dimensions, more than its samples).
        let samples, dims = centred.shape[0], centred.shape[1]
        let rank = min config.Rank (int (min samples dims))
        let z =
            if dims <= samples then
                let struct (_, vectors) = torch.linalg.eigh(centred.t().matmul(centred)) // ascending
                centred.matmul(vectors.flip(1L).narrow(1L, 0L, int64 rank)) // [samples; rank]
            else
                let struct (values, vectors) = torch.linalg.eigh(centred.matmul(centred.t())) // ascending
                let top = values.flip(0L).narrow(0L, 0L, int64 rank).clamp_min(0.0).sqrt() // s [rank]
                vectors.flip(1L).narrow(1L, 0L, int64 rank) * top // [samples; rank]
        // Sign convention per coordinate: the largest-magnitude sample positive.
        let index = z.abs().argmax(0L) // [rank]
        let signs = z.gather(0L, index.unsqueeze(0L)).sign().clamp_min(0.0) * 2.0 - 1.0 // [1; rank]
        let zs = (z * signs).split(embedded |> Array.map (fun e -> e.shape[0])) // trials x [steps; rank]
        let now = torch.cat(zs |> Array.map (fun t -> t.narrow(0L, 0L, t.shape[0] - 1L)), 0L)
        let next = torch.cat(zs |> Array.map (fun t -> t.narrow(0L, 1L, t.shape[0] - 1L)), 0L)
        // next ~ now A' + c by least squares (the offset c absorbs the centring: a linear system's A
        // comes back exactly).
        let ones = torch.ones([| now.shape[0]; 1L |], f64)
        let struct (solution, _, _, _) = torch.linalg.lstsq(torch.cat([| now; ones |], 1L), next) // [rank + 1; rank]
        let a = solution.narrow(0L, 0L, int64 rank).t() // [rank; rank]
        Arrays.ofMatrix a

    /// max over orthogonal C of <A, C B C'> / (||A|| ||B||) by gradient ascent over C = C0 exp(S - S')
    /// from several starts.
    let private bestAlignment (config: DynamicsConfig) (a: Tensor) (b: Tensor) : float =
        let n = a.shape[0]
        let na, nb = torch.linalg.norm(a).ToDouble(), torch.linalg.norm(b).ToDouble()
        if na = 0.0 || nb = 0.0 then (if na = nb then 1.0 else 0.0)
        else
            let eye = torch.eye(n, dtype = f64)
            let reflection = eye.clone()
            reflection[n - 1L, n - 1L] <- torch.tensor(-1.0, f64)
            // Eigenbases of the symmetric parts: B = Q A Q' has sym(B) = Q sym(A) Q', so C = V_A D V_B'
            // undoes Q for the right signs D of the eigenvectors: all 2^n signs up to n = 8, else
            // flipped one at a time while the score improves.
            let eigenbasis (m: Tensor) = let struct (_, v) = torch.linalg.eigh((m + m.t()) * 0.5) in v
            let va, vb = eigenbasis a, eigenbasis b
            let score (c: Tensor) = (a * c.matmul(b).matmul(c.t())).sum().ToDouble() / (na * nb)
            let aligned (signs: float[]) =
                va.matmul(torch.diag(Arrays.toTensor Precision.Float64 [| n |] signs)).matmul(vb.t())
            let signStart =
                if n <= 8L then
                    [ 0 .. (1 <<< int n) - 1 ]
                    |> List.map (fun bits -> Array.init (int n) (fun i -> if (bits >>> i) &&& 1 = 1 then -1.0 else 1.0))
                    |> List.maxBy (fun signs -> use _ = torch.NewDisposeScope() in score (aligned signs))
                else
                    let signs = Array.create (int n) 1.0
                    let mutable current = score (aligned signs)
                    let mutable improved = true
                    while improved do
                        improved <- false
                        for i in 0 .. int n - 1 do
                            signs[i] <- -signs[i]
                            let s = score (aligned signs)
                            if s > current + 1e-12 then
                                current <- s
                                improved <- true
                            else signs[i] <- -signs[i]
                    signs
            let generator = new torch.Generator(uint64 config.Seed)
            let randomOrthogonal () = let struct (q, _) = torch.linalg.qr(torch.randn([| n; n |], f64, generator = generator)) in q
            let candidates = [ eye; reflection; aligned signStart ] @ List.init config.RandomStarts (fun _ -> randomOrthogonal ())
            // Projected gradient ascent from the two best starts: C <- polar(C + eta G), G the
            // gradient A C B' + A' C B of <A, C B C'>, eta grown on success and halved on failure.
            let starts = candidates |> List.sortByDescending score |> List.truncate 2
            let mutable best = candidates |> List.map score |> List.max
            let polar (m: Tensor) = let struct (u, _, vh) = torch.linalg.svd(m, false) in u.matmul(vh)
            for c0 in starts do
                let mutable c = c0
                let mutable current = score c
                let mutable eta = 0.5
                let mutable iteration = 0
                while iteration < config.Iterations && eta > 1e-10 do
                    use scope = torch.NewDisposeScope()
                    let g = (a.matmul(c).matmul(b.t()) + a.t().matmul(c).matmul(b)) / (na * nb)
                    let candidate = polar (c + g * eta)
                    let s = score candidate
                    if s > current + 1e-15 then
                        c <- candidate.MoveToOuterDisposeScope()
                        current <- s
                        eta <- eta * 1.5
                    else eta <- eta * 0.5
                    iteration <- iteration + 1
                best <- max best current
            best

    /// The angular distance between two operators up to an orthogonal change of basis:
    /// arccos of max over orthogonal C of <A, C B C'> / (||A|| ||B||), radians (0 between A and Q A Q').
    let operatorDistance (config: DynamicsConfig) (a: float[][]) (b: float[][]) : float =
        checkDynamics config
        use _ = torch.NewDisposeScope()
        let ta, tb = matrix "a" a, matrix "b" b
        if ta.shape[0] <> ta.shape[1] || tb.shape <> ta.shape then
            Check.fail "b" (sprintf "expected two square operators of the same size, got [%d; %d] and [%d; %d]" ta.shape[0] ta.shape[1] tb.shape[0] tb.shape[1])
        acos (max -1.0 (min 1.0 (bestAlignment config ta tb)))

    /// The dynamical distance between two networks' trajectories on the same trials: the operators
    /// of `linearOperator` compared by `operatorDistance`.
    let dynamicsDistance (config: DynamicsConfig) (x: float[][][]) (y: float[][][]) : float =
        let a, b = linearOperator config x, linearOperator config y
        if a.Length <> b.Length then
            // Reduced to the same rank: the smaller of the two.
            let r = min a.Length b.Length
            operatorDistance config (a |> Array.take r |> Array.map (Array.take r)) (b |> Array.take r |> Array.map (Array.take r))
        else operatorDistance config a b

    // -----------------------------------------------------------------------------------------
    // Topology

    /// The graph compared: vertex id -> unstable modes, and the directed edges of the
    /// unstable-mode runs (self-loops dropped, duplicates merged).
    let private graphOf (t: Topology) =
        let modes = t.Vertices |> Array.map (fun v -> v.Id, v.UnstableModes) |> Map.ofArray
        let edges =
            t.Edges
            |> Array.filter (fun e -> e.Method = RunMethod.UnstableMode && e.From <> e.To)
            |> Array.map (fun e -> e.From, e.To)
            |> Array.distinct
        modes, edges

    /// Compares two topology graphs: isomorphic or not (a backtracking search over vertex
    /// bijections that keep unstable modes, degrees and edges), and a histogram graph distance.
    let compareTopology (a: Topology) (b: Topology) : TopologyComparison =
        let modesA, edgesA = graphOf a
        let modesB, edgesB = graphOf b
        let histogram (modes: Map<int, int>) (edges: (int * int)[]) =
            let vertexTypes = modes |> Map.toSeq |> Seq.countBy snd |> Seq.map (fun (k, c) -> sprintf "v%d" k, c)
            let edgeTypes = edges |> Seq.countBy (fun (f, t) -> modes[f], modes[t]) |> Seq.map (fun ((f, t), c) -> sprintf "e%d-%d" f t, c)
            Seq.append vertexTypes edgeTypes |> Map.ofSeq
        let ha, hb = histogram modesA edgesA, histogram modesB edgesB
        let keys = Set.union (ha |> Map.keys |> Set.ofSeq) (hb |> Map.keys |> Set.ofSeq)
        let get (h: Map<string, int>) k = h |> Map.tryFind k |> Option.defaultValue 0
        let distance = 0.5 * (keys |> Seq.sumBy (fun k -> float (abs (get ha k - get hb k))))
        let mapping =
            if distance > 0.0 || modesA.Count <> modesB.Count then None
            else
                let out (edges: (int * int)[]) = edges |> Array.groupBy fst |> Array.map (fun (k, v) -> k, v |> Array.map snd |> Set.ofArray) |> Map.ofArray
                let inn (edges: (int * int)[]) = edges |> Array.groupBy snd |> Array.map (fun (k, v) -> k, v |> Array.map fst |> Set.ofArray) |> Map.ofArray
                let outA, outB, inA, inB = out edgesA, out edgesB, inn edgesA, inn edgesB
                let setOf (m: Map<int, Set<int>>) v = m |> Map.tryFind v |> Option.defaultValue Set.empty
                let signature (modes: Map<int, int>) o i v = modes[v], (setOf o v).Count, (setOf i v).Count
                let verticesA = modesA |> Map.keys |> Array.ofSeq
                let verticesB = modesB |> Map.keys |> Array.ofSeq
                let edgeSetB = Set.ofArray edgesB
                let assigned = Dictionary<int, int>()
                let used = HashSet<int>()
                let consistent va vb =
                    // Every edge between va and an assigned vertex must have its image.
                    assigned |> Seq.forall (fun kv ->
                        let ua, ub = kv.Key, kv.Value
                        (Set.contains ua (setOf outA va) = Set.contains (vb, ub) edgeSetB)
                        && (Set.contains ua (setOf inA va) = Set.contains (ub, vb) edgeSetB))
                    && (Set.contains va (setOf outA va) = Set.contains (vb, vb) edgeSetB)
                let rec search i =
                    if i = verticesA.Length then true
                    else
                        let va = verticesA[i]
                        let sa = signature modesA outA inA va
                        verticesB |> Array.exists (fun vb ->
                            if used.Contains vb || signature modesB outB inB vb <> sa || not (consistent va vb) then false
                            else
                                assigned[va] <- vb
                                used.Add vb |> ignore
                                if search (i + 1) then true
                                else
                                    assigned.Remove va |> ignore
                                    used.Remove vb |> ignore
                                    false)
                if search 0 then Some(assigned |> Seq.map (fun kv -> kv.Key, kv.Value) |> Seq.sortBy fst |> Array.ofSeq) else None
        { Isomorphic = mapping.IsSome; Distance = distance; Mapping = mapping }

    // -----------------------------------------------------------------------------------------
    // Embedding and the whole comparison

    /// Classical (Torgerson) MDS of a symmetric distance matrix [K][K] into `dimensions`
    /// coordinates per item (negative eigenvalues, from non-Euclidean distances, give 0).
    let mds (dimensions: int) (distances: float[][]) : float[][] =
        let k = distances.Length
        if dimensions < 1 then Check.fail "dimensions" (sprintf "expected at least 1, got %d" dimensions)
        if k = 0 then [||]
        else
            use _ = torch.NewDisposeScope()
            let d = matrix "distances" distances
            if d.shape[1] <> int64 k then Check.fail "distances" (sprintf "expected a square matrix, got [%d; %d]" k d.shape[1])
            let j = torch.eye(int64 k, dtype = f64) - 1.0 / float k
            let b = j.matmul(d * d).matmul(j) * -0.5
            let struct (values, vectors) = torch.linalg.eigh((b + b.t()) * 0.5) // ascending
            let m = min dimensions k
            let top = values.flip(0L).narrow(0L, 0L, int64 m).clamp_min(0.0).sqrt() // [m]
            let vecs = vectors.flip(1L).narrow(1L, 0L, int64 m) // [k; m]
            // Sign convention: each axis's largest-magnitude coordinate positive.
            let index = vecs.abs().argmax(0L)
            let signs = vecs.gather(0L, index.unsqueeze(0L)).sign().clamp_min(0.0) * 2.0 - 1.0
            let coordinates = Arrays.ofMatrix (vecs * signs * top)
            if m < dimensions then coordinates |> Array.map (fun r -> Array.append r (Array.zeroCreate (dimensions - m))) else coordinates

    let private pairwise (k: int) (f: int -> int -> float) : float[][] =
        let m = Array.init k (fun _ -> Array.zeroCreate<float> k)
        for i in 0 .. k - 1 do
            for j in i + 1 .. k - 1 do
                let v = f i j
                m[i][j] <- v
                m[j][i] <- v
        m

    /// Every metric between every pair of networks: trajectories[k] [trials][time][units] are network
    /// k's states on the same trials; topologies, when given, one per network.
    let compare (dynamics: DynamicsConfig) (names: string[]) (trajectories: float[][][][]) (topologies: Topology[] option) : Comparison =
        // Small dense problems: one libtorch thread (two lose badly on a shared machine).
        use _ = LibtorchThreads.lease 1
        let k = trajectories.Length
        if names.Length <> k then Check.fail "names" (sprintf "expected %d names, one per network, got %d" k names.Length)
        if k < 2 then Check.fail "networks" (sprintf "expected at least 2 networks to compare, got %d" k)
        let flat = trajectories |> Array.map Array.concat // [samples][units]
        let svcca = pairwise k (fun i j -> svccaDistance (flat[i]) (flat[j]))
        let procrustes = pairwise k (fun i j -> procrustesDistance (flat[i]) (flat[j]))
        let operators = trajectories |> Array.map (linearOperator dynamics)
        let dyn =
            pairwise k (fun i j ->
                let r = min (operators[i].Length) (operators[j].Length)
                let cut (a: float[][]) = a |> Array.take r |> Array.map (Array.take r)
                operatorDistance dynamics (cut (operators[i])) (cut (operators[j])))
        let topo, iso =
            match topologies with
            | None -> [||], [||]
            | Some ts ->
                if ts.Length <> k then Check.fail "topologies" (sprintf "expected %d topologies, one per network, got %d" k ts.Length)
                let results = Array.init k (fun i -> Array.init k (fun j -> if i = j then None else Some(compareTopology (ts[i]) (ts[j]))))
                results |> Array.map (Array.map (function Some r -> r.Distance | None -> 0.0)),
                results |> Array.map (Array.map (function Some r -> r.Isomorphic | None -> true))
        let embeddings =
            [ "svcca", mds 2 svcca; "procrustes", mds 2 procrustes; "dynamics", mds 2 dyn ]
            @ (if topo.Length > 0 then [ "topology", mds 2 topo ] else [])
            |> Map.ofList
        { Names = names; Svcca = svcca; Procrustes = procrustes; Dynamics = dyn; Topology = topo; Isomorphic = iso; Embeddings = embeddings }

    /// Each network's states [trials][time][state] on the same inputs x [trials][time][inputs].
    let trajectoriesOf (net: Network) (x: float[][][]) : float[][][] =
        use _ = torch.NewDisposeScope()
        if isNull x || x.Length = 0 then Check.fail "inputs" "expected at least one trial"
        let time = x[0].Length
        let inputs = if time > 0 then x[0].[0].Length else 0
        let flat = x |> Array.collect (fun trial -> trial |> Array.collect id)
        if flat.Length <> x.Length * time * inputs then Check.fail "inputs" "every trial must have the same steps and inputs"
        let tensor = Arrays.toTensor net.Precision [| int64 x.Length; int64 time; int64 inputs |] flat
        use rollout = Network.unroll net tensor
        let states = rollout.States // [trials; time; state]
        let width = int states.shape[2]
        let values = Arrays.ofTensor states
        Array.init x.Length (fun trial -> Array.init time (fun t -> Array.sub values ((trial * time + t) * width) width))
