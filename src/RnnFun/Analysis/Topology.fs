namespace RnnFun

open System
open System.Collections.Generic
open System.Globalization
open System.Numerics
open System.Text
open TorchSharp

/// How a topology run leaves its fixed point. The two kinds of runs are counted separately.
[<RequireQualifiedAccess>]
type RunMethod =
    /// Noise runs (pyrnn's `FixedPointsConnectivity`): start at x* + N(0, Noise^2 I).
    | Noise
    /// Unstable-mode runs (heteroclinic orbits, Maheswaranathan et al. 2019): start at
    /// x* +- UnstableStep * v for each unstable eigen-direction v of the fixed point.
    | UnstableMode

/// A number of runs per run method.
type RunCounts =
    { /// Noise runs.
      Noise: int
      /// Unstable-mode runs.
      Unstable: int }

/// Settings of `Topology.build`. `TopologyConfig.defaults` follows pyrnn where pyrnn has a setting.
type TopologyConfig =
    { /// Noise runs per fixed point.
      RunsPerPoint: int
      /// Standard deviation of the isotropic Gaussian added to a fixed point's state for a noise run.
      Noise: float
      /// Length of the step along each unstable eigen-direction (both signs) for an unstable-mode run.
      UnstableStep: float
      /// A run arrives at a fixed point when its state is within this Euclidean distance of it
      /// (pyrnn's `dist_th`). See `Topology.build` for the exact rule.
      ArrivalDistance: float
      /// A run that has arrived nowhere after this many steps ends there (see `Topology.build`).
      MaxSteps: int
      /// Seed of the noise: the same seed gives the same topology.
      Seed: int
      /// Precision the runs are stepped in.
      Precision: Precision }

    /// 64 noise runs per point, noise 0.1 (pyrnn's `noise_scale`), unstable step 0.01, arrival
    /// distance 0.15 (pyrnn's `dist_th`), at most 1000 steps, seed 0, float64.
    static member defaults =
        { RunsPerPoint = 64
          Noise = 0.1
          UnstableStep = 0.01
          ArrivalDistance = 0.15
          MaxSteps = 1000
          Seed = 0
          Precision = Precision.Float64 }

/// A fixed point as a vertex of the topology graph.
type TopologyVertex =
    { /// The fixed point's id (`FixedPoint.Id`).
      Id: int
      /// The fixed point's number of unstable modes (`FixedPoint.UnstableModes`).
      UnstableModes: int
      /// The fixed point's kind (`FixedPoint.Kind`).
      Kind: FixedPointKind
      /// Runs started from this point, per method (unstable: 2 x UnstableModes).
      Runs: RunCounts
      /// Of those, the runs that reached no fixed point within MaxSteps, per method.
      Unreached: RunCounts }

/// Runs from one fixed point that ended at another (or at itself), for one run method.
type TopologyEdge =
    { /// Id of the fixed point the runs started from.
      From: int
      /// Id of the fixed point they arrived at (= From for a self-loop).
      To: int
      /// Which kind of runs this edge counts.
      Method: RunMethod
      /// Number of such runs (>= 1).
      Count: int
      /// Count / the number of runs of this method from `From`.
      Probability: float }

/// The fixed-point topology graph, as plain data (no tensors): safe to keep, compare and save.
type Topology =
    { /// The settings it was built with.
      Config: TopologyConfig
      /// The constant input [inputs] the runs were stepped under (`Topology.buildUnderOwnInputs`: the
      /// first point's; each run was stepped under its own point's input).
      Input: float[]
      /// One per fixed point, in the order the points were given.
      Vertices: TopologyVertex[]
      /// Ordered by From (vertex order), Method (noise first), To (vertex order).
      Edges: TopologyEdge[]
      /// Runs of all points and methods that reached no fixed point within MaxSteps.
      Unreached: int }

/// The fixed-point topology: which fixed points the flow leads to from each fixed point.
[<RequireQualifiedAccess>]
module Topology =
    /// Steps between host synchronisations (early stop and compaction of finished runs).
    let private chunkSteps = 10

    /// Checks the settings; raises `InvalidArgument` naming the first bad one.
    let internal checkConfig (prefix: string) (config: TopologyConfig) =
        Check.positive (prefix + "runs_per_point") config.RunsPerPoint
        Check.finitePositive (prefix + "noise") config.Noise
        Check.finitePositive (prefix + "unstable_step") config.UnstableStep
        Check.finitePositive (prefix + "arrival_distance") config.ArrivalDistance
        Check.positive (prefix + "max_steps") config.MaxSteps

    let private norm (v: float[]) = sqrt (Array.sumBy (fun x -> x * x) v)

    /// The real unit directions of a point's unstable modes (`FixedPoints.directions`), checked: a
    /// point must carry an eigenvector of the right size for each unstable mode.
    let private unstableDirections (units: int) (p: FixedPoint) : float[][] =
        let bad problem = Check.fail "fixed_points" (sprintf "fixed point %d: %s" p.Id problem)
        if p.UnstableModes < 0 then bad (sprintf "expected UnstableModes >= 0, got %d" p.UnstableModes)
        let eigenvalues = if isNull p.Eigenvalues then [||] else p.Eigenvalues
        let eigenvectors =
            match p.Linearisation with
            | Some l when not (isNull l.Eigenvectors) -> l.Eigenvectors
            | Some _ -> [||]
            | None when p.UnstableModes = 0 -> [||]
            | None -> bad (sprintf "has %d unstable modes but no linearisation (a point read from a file has none: run FixedPoints.analyse on it first)" p.UnstableModes)
        if eigenvalues.Length < p.UnstableModes || eigenvectors.Length < p.UnstableModes then
            bad (sprintf "has %d unstable modes but %d eigenvalues and %d eigenvectors (run FixedPoints.analyse on it first)" p.UnstableModes eigenvalues.Length eigenvectors.Length)
        for i in 0 .. p.UnstableModes - 1 do
            let v = eigenvectors[i]
            if isNull v || v.Length <> units then
                bad (sprintf "eigenvector %d: expected %d entries, got %d" i units (if isNull v then 0 else v.Length))
        let directions = FixedPoints.directions p.UnstableModes eigenvalues eigenvectors
        directions |> Array.iteri (fun i d -> if d.Length = 0 then bad (sprintf "eigenvector %d is zero or not finite" i))
        directions

    /// Builds the topology graph of fixed points of `net` under the constant input `input` [inputs].
    ///
    /// Runs: from each fixed point, `RunsPerPoint` noise runs starting at x* + N(0, Noise^2 I) (one
    /// `System.Random(Seed)` draws all the noise, point by point), and for each of its
    /// `UnstableModes` unstable eigen-directions v two unstable-mode runs starting at
    /// x* + UnstableStep v and x* - UnstableStep v (v: the normalised real part of the right
    /// eigenvector; the imaginary part for the second eigenvalue of a complex pair). All runs of all
    /// points are one batch [runs; units], stepped together with `net.Kind.Step` under the drive of
    /// `input`, computed once, in `config.Precision`.
    ///
    /// Arrival rule, checked after every step t = 1 .. MaxSteps (not at the start state, like pyrnn):
    /// - the fixed points within ArrivalDistance (Euclidean, states only) of the run's state are
    ///   candidates, except the run's own start point, which is a candidate only once the run has
    ///   been farther than ArrivalDistance from it after some step (this one or an earlier one). The
    ///   placed start state does not count: a noise run placed outside a saddle's ball and pulled
    ///   back in along the stable directions has not left, and goes on until the unstable
    ///   directions take it away;
    /// - the run ends at the closest candidate, at the first step that has one;
    /// - a run that has not ended after MaxSteps steps and is within ArrivalDistance of its start
    ///   point (it never left) counts as a return to its start (a self-loop);
    /// - any other run that has not ended counts as unreached: it is reported per vertex and method
    ///   (`TopologyVertex.Unreached`) and in total, not dropped.
    /// Stepping stops as soon as every run has ended. A run whose state stops changing exactly
    /// (F(x) = x in floating point, e.g. converged onto an attractor) would stay so until MaxSteps,
    /// so it ends at once with the outcome it would have there (self-loop or unreached).
    ///
    /// Edges: one per (from, to, method) with at least one run; probability = count / runs of that
    /// method from that point, so the probabilities of a (from, method) sum to 1 minus its
    /// unreached share. `InvalidArgument` for an empty point list, a state of the wrong size or not
    /// finite, repeated ids, an input of the wrong size, a setting that is not positive, or an
    /// unstable point without eigenvectors. The points' own `Input` fields are not used: every run is
    /// stepped under `input` (`buildUnderOwnInputs` steps each point under its own). The network is
    /// unchanged.
    let build (config: TopologyConfig) (net: Network) (input: float[]) (fixedPoints: FixedPoint[]) : Topology =
        checkConfig "" config
        let units = Network.stateSize net
        if isNull input || input.Length <> net.Sizes.Inputs then
            Check.fail "input" (sprintf "expected %d values (one per network input), got %d" net.Sizes.Inputs (if isNull input then 0 else input.Length))
        Check.allFinite "input" input
        if isNull fixedPoints || fixedPoints.Length = 0 then Check.fail "fixed_points" "expected at least one fixed point"
        // Many small steps: one libtorch thread (on a shared 2-core machine two took 9 s against 0.5 s).
        use _ = LibtorchThreads.lease 1
        for p in fixedPoints do
            if isNull p.State || p.State.Length <> units then
                Check.fail "fixed_points" (sprintf "fixed point %d: expected a state of %d values (the network's packed state), got %d" p.Id units (if isNull p.State then 0 else p.State.Length))
            Check.allFinite "fixed_points" p.State
        match fixedPoints |> Array.countBy (fun p -> p.Id) |> Array.tryFind (fun (_, n) -> n > 1) with
        | Some (id, n) -> Check.fail "fixed_points" (sprintf "fixed point ids must be distinct, id %d appears %d times" id n)
        | None -> ()
        let directions = fixedPoints |> Array.map (unstableDirections units)
        let pointCount = fixedPoints.Length
        // The runs: noise runs of every point, then unstable-mode runs of every point.
        let random = Random(config.Seed)
        let noiseRuns =
            [| for i in 0 .. pointCount - 1 do
                   for _ in 1 .. config.RunsPerPoint do
                       let x = fixedPoints[i].State
                       yield i, RunMethod.Noise, Array.init units (fun j -> x[j] + config.Noise * Sampling.standardNormal random) |]
        let unstableRuns =
            [| for i in 0 .. pointCount - 1 do
                   let x = fixedPoints[i].State
                   for v in directions[i] do
                       for sign in [ 1.0; -1.0 ] do
                           yield i, RunMethod.UnstableMode, Array.init units (fun j -> x[j] + sign * config.UnstableStep * v[j]) |]
        let runs = Array.append noiseRuns unstableRuns
        let runCount = runs.Length
        let starts = runs |> Array.map (fun (i, _, _) -> i)
        // The outcome of each run: the index of the point it arrived at, or -1 (unreached).
        let outcome = Array.create runCount -1
        let distance = config.ArrivalDistance
        do
            use work = Network.toPrecision config.Precision net
            use scope = torch.NewDisposeScope()
            let kind = work.Kind
            let w = Network.weights work
            let points = Arrays.matrixToTensor config.Precision (fixedPoints |> Array.map (fun p -> p.State)) // [points; units]
            let u = Arrays.toTensor config.Precision [| 1L; int64 input.Length |] input // [1; inputs]
            let drive1 = kind.InputDrive w u // [1; drive]
            let columns = torch.arange(int64 pointCount, dtype = torch.ScalarType.Int64).unsqueeze(0L) // [1; points]
            // Carried between chunks, over the runs still going (compacted after each chunk).
            let mutable h = Arrays.matrixToTensor config.Precision (runs |> Array.map (fun (_, _, x) -> x)) // [active; units]
            let mutable start = torch.tensor(starts |> Array.map int64, dtype = torch.ScalarType.Int64) // [active]
            // Whether the run has been farther than the distance from its start after some step (the
            // placed start state does not count).
            let mutable left = torch.zeros([| int64 runCount |], dtype = torch.ScalarType.Bool) // [active]
            let mutable origin = Array.init runCount id // [active] on the host: run index of each row
            let mutable steps = 0
            while origin.Length > 0 && steps < config.MaxSteps do
                use chunk = torch.NewDisposeScope()
                let active = int64 origin.Length
                let k = min chunkSteps (config.MaxSteps - steps)
                let drive = drive1.expand(active, -1L) // [active; drive]
                let isStart = columns.eq(start.unsqueeze(1L)) // [active; points]
                let mutable x = h // [active; units]
                let mutable running = torch.ones([| active |], dtype = torch.ScalarType.Bool) // [active]
                let mutable arrivedAt = torch.full([| active |], (-1L).ToScalar(), dtype = torch.ScalarType.Int64) // [active]
                let mutable hasLeft = left // [active] bool
                let mutable own = Unchecked.defaultof<Tensor>
                for _ in 1 .. k do
                    let previous = x // [active; units]
                    x <- kind.Step w x drive // [active; units]
                    let d = torch.cdist(x, points) // [active; points]
                    own <- d.gather(1L, start.unsqueeze(1L)).squeeze(1L) // [active]
                    // Not a candidate: too far, or the own start point before the run has left it.
                    let blocked = d.gt(distance.ToScalar()).logical_or(isStart.logical_and(hasLeft.logical_not().unsqueeze(1L))) // [active; points]
                    let struct (nearest, index) = d.masked_fill(blocked, Double.PositiveInfinity.ToScalar()).min(1L) // [active], [active]
                    let arrived = nearest.le(distance.ToScalar()).logical_and(running) // [active]
                    // A state that no longer changes (F(x) = x exactly) stays: decided now as at MaxSteps,
                    // a self-loop within the distance of its start (-2: unreached otherwise).
                    let stuck = x.eq(previous).all(1L).logical_and(running).logical_and(arrived.logical_not()) // [active]
                    let stuckAt = start.masked_fill(own.gt(distance.ToScalar()), (-2L).ToScalar()) // [active]
                    arrivedAt <- torch.where(arrived, index, torch.where(stuck, stuckAt, arrivedAt))
                    running <- running.logical_and(arrived.logical_or(stuck).logical_not())
                    hasLeft <- hasLeft.logical_or(own.gt(distance.ToScalar()))
                steps <- steps + k
                let finished = steps >= config.MaxSteps
                let runningHost = Arrays.ofTensor running
                let arrivedHost = Arrays.ofTensor arrivedAt
                let ownHost = if finished then Arrays.ofTensor own else [||]
                let keep = ResizeArray<int>()
                for row in 0 .. origin.Length - 1 do
                    let r = origin[row]
                    if runningHost[row] = 0.0 then outcome[r] <- max -1 (int arrivedHost[row])
                    elif finished then outcome[r] <- (if ownHost[row] <= distance then starts[r] else -1)
                    else keep.Add row
                if keep.Count > 0 then
                    let rows = torch.tensor(keep.ToArray() |> Array.map int64, dtype = torch.ScalarType.Int64) // [kept]
                    let old = [ h; start; left ]
                    h <- x.index_select(0L, rows).MoveToOuterDisposeScope() // [kept; units]
                    start <- start.index_select(0L, rows).MoveToOuterDisposeScope() // [kept]
                    left <- hasLeft.index_select(0L, rows).MoveToOuterDisposeScope() // [kept]
                    for t in old do t.Dispose()
                let previous = origin
                origin <- keep.ToArray() |> Array.map (fun row -> previous[row])
        // Counting.
        let methods = [ RunMethod.Noise; RunMethod.UnstableMode ]
        let runsOf = Dictionary<int * RunMethod, int>()
        let arrivals = Dictionary<int * RunMethod * int, int>()
        let unreached = Dictionary<int * RunMethod, int>()
        let bump (d: Dictionary<'k, int>) key = d[key] <- (match d.TryGetValue key with | true, n -> n + 1 | _ -> 1)
        for r in 0 .. runCount - 1 do
            let i, m, _ = runs[r]
            bump runsOf (i, m)
            if outcome[r] < 0 then bump unreached (i, m) else bump arrivals (i, m, outcome[r])
        let get (d: Dictionary<'k, int>) key = match d.TryGetValue key with | true, n -> n | _ -> 0
        let vertices =
            fixedPoints
            |> Array.mapi (fun i p ->
                { Id = p.Id
                  UnstableModes = p.UnstableModes
                  Kind = p.Kind
                  Runs = { Noise = get runsOf (i, RunMethod.Noise); Unstable = get runsOf (i, RunMethod.UnstableMode) }
                  Unreached = { Noise = get unreached (i, RunMethod.Noise); Unstable = get unreached (i, RunMethod.UnstableMode) } })
        let edges =
            [| for i in 0 .. pointCount - 1 do
                   for m in methods do
                       let total = get runsOf (i, m)
                       for j in 0 .. pointCount - 1 do
                           let count = get arrivals (i, m, j)
                           if count > 0 then
                               yield
                                   { From = fixedPoints[i].Id
                                     To = fixedPoints[j].Id
                                     Method = m
                                     Count = count
                                     Probability = float count / float total } |]
        { Config = config
          Input = Array.copy input
          Vertices = vertices
          Edges = edges
          Unreached = outcome |> Array.filter (fun o -> o < 0) |> Array.length }

    /// `build` with every point under its own constant input (`FixedPoint.Input`), for points found
    /// under several inputs: the points are grouped by input (equal values), and each group is built
    /// as `build` does under that input, with seed `config.Seed + g` for the g-th group in order of
    /// first appearance. A run can only arrive at a point of its own group: a point under another
    /// input is no fixed point of the flow the run follows. Vertices keep the points' order; edges are
    /// ordered as `build` orders them; `Input` is the first point's input (the others are on the
    /// points). With a single input this is `build config net fixedPoints[0].Input fixedPoints`.
    /// `InvalidArgument` as for `build`, and for a point's input of the wrong size or not finite.
    let buildUnderOwnInputs (config: TopologyConfig) (net: Network) (fixedPoints: FixedPoint[]) : Topology =
        if isNull fixedPoints || fixedPoints.Length = 0 then Check.fail "fixed_points" "expected at least one fixed point"
        for p in fixedPoints do
            if isNull p.Input || p.Input.Length <> net.Sizes.Inputs then
                Check.fail "fixed_points" (sprintf "fixed point %d: expected an input of %d values (one per network input), got %d" p.Id net.Sizes.Inputs (if isNull p.Input then 0 else p.Input.Length))
            Check.allFinite "fixed_points" p.Input
        // Grouped on the values (a list compares structurally, an array would not).
        let groups = fixedPoints |> Array.groupBy (fun p -> List.ofArray p.Input)
        if groups.Length = 1 then build config net fixedPoints[0].Input fixedPoints
        else
            match fixedPoints |> Array.countBy (fun p -> p.Id) |> Array.tryFind (fun (_, n) -> n > 1) with
            | Some (id, n) -> Check.fail "fixed_points" (sprintf "fixed point ids must be distinct, id %d appears %d times" id n)
            | None -> ()
            let parts = groups |> Array.mapi (fun g (input, points) -> build { config with Seed = config.Seed + g } net (Array.ofList input) points)
            let order = fixedPoints |> Array.mapi (fun i p -> p.Id, i) |> dict
            let vertices = parts |> Array.collect (fun t -> t.Vertices) |> Array.sortBy (fun v -> order[v.Id])
            let methodOrder m = match m with RunMethod.Noise -> 0 | RunMethod.UnstableMode -> 1
            let edges = parts |> Array.collect (fun t -> t.Edges) |> Array.sortBy (fun e -> order[e.From], methodOrder e.Method, order[e.To])
            { Config = config
              Input = Array.copy fixedPoints[0].Input
              Vertices = vertices
              Edges = edges
              Unreached = parts |> Array.sumBy (fun t -> t.Unreached) }

    /// `toGraph` with each edge tagged by `tag` of its record (the C# facade tags with its own edge
    /// type), vertices and edges in the record's order.
    let toGraphWith (tag: TopologyEdge -> 'Tag) (t: Topology) : QuikGraph.BidirectionalGraph<int, QuikGraph.TaggedEdge<int, 'Tag>> =
        let graph = QuikGraph.BidirectionalGraph<int, QuikGraph.TaggedEdge<int, 'Tag>>(true)
        for v in t.Vertices do graph.AddVertex v.Id |> ignore
        for e in t.Edges do graph.AddEdge(QuikGraph.TaggedEdge<int, 'Tag>(e.From, e.To, tag e)) |> ignore
        graph

    /// The topology as a QuikGraph graph: vertices are the fixed points' ids, and each edge of the
    /// record is one tagged edge (parallel edges allowed: noise and unstable-mode runs between the
    /// same two points are two edges; self-loops are edges too).
    let toGraph (t: Topology) : QuikGraph.BidirectionalGraph<int, QuikGraph.TaggedEdge<int, TopologyEdge>> =
        toGraphWith id t

    /// pyrnn's palette by number of unstable modes: 0 seagreen, 1 salmon, 2 skyblue, 3 or more magenta.
    /// The one definition: the DOT output, the C# facade and the Plotting charts all use it.
    let colour (unstableModes: int) =
        match unstableModes with
        | m when m <= 0 -> "seagreen"
        | 1 -> "salmon"
        | 2 -> "skyblue"
        | _ -> "magenta"

    let private kindText = FixedPoints.kindName

    /// The topology as a GraphViz DOT digraph (`dot -Tsvg`). One line per vertex (node "fp<id>",
    /// labelled with the id and the number of unstable modes, filled with `colour`) and one line per
    /// edge (labelled with its probability, pen width 1 + 4 x probability; noise edges dashed,
    /// unstable-mode edges solid).
    let toDot (t: Topology) : string =
        let sb = StringBuilder()
        let line (s: string) = sb.Append(s).Append('\n') |> ignore
        let f (x: float) = x.ToString("0.###", CultureInfo.InvariantCulture)
        line "digraph topology {"
        line (sprintf "  // RnnFun fixed-point topology: %d noise runs per point (noise %s), unstable step %s, arrival distance %s, at most %d steps; %d runs unreached"
                  t.Config.RunsPerPoint (f t.Config.Noise) (f t.Config.UnstableStep) (f t.Config.ArrivalDistance) t.Config.MaxSteps t.Unreached)
        line "  graph [overlap=false];"
        line "  node [shape=circle, style=filled, fontname=\"Helvetica\"];"
        line "  edge [fontname=\"Helvetica\", fontsize=10];"
        for v in t.Vertices do
            line (sprintf "  \"fp%d\" [label=\"%d\\n%d unstable\", fillcolor=%s, tooltip=\"fixed point %d: %s, %d unstable modes\"];"
                      v.Id v.Id v.UnstableModes (colour v.UnstableModes) v.Id (kindText v.Kind) v.UnstableModes)
        for e in t.Edges do
            let style, method = match e.Method with RunMethod.Noise -> "dashed", "noise" | RunMethod.UnstableMode -> "solid", "unstable"
            line (sprintf "  \"fp%d\" -> \"fp%d\" [label=\"%s\", penwidth=%s, style=%s, tooltip=\"%s: %d runs\"];"
                      e.From e.To (e.Probability.ToString("0.00", CultureInfo.InvariantCulture)) (f (1.0 + 4.0 * e.Probability)) style method e.Count)
        line "}"
        sb.ToString()
