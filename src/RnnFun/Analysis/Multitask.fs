namespace RnnFun

open System
open TorchSharp

/// How often a network gets one rule's trials right.
type RuleAccuracy = { Rule: string; Accuracy: float; Trials: int }

/// Each unit's variance across the trials of each rule (Yang et al. 2019's task variance).
type TaskVariance =
    { Rules: string[]
      /// [units][rules]: the variance of each unit's rate across a rule's trials, averaged over the
      /// steps from 500 ms on.
      Variance: float[][]
      /// The units whose variance summed over the rules is above `Threshold` (their 1e-3).
      Active: int[]
      Threshold: float
      /// [active units][rules]: each active unit's variances divided by its largest (their 'max' normalisation).
      Normalized: float[][] }

/// The active units clustered by their normalised task variance (k-means, k by silhouette score).
type UnitClusters =
    { /// The number of clusters chosen: the k of the highest silhouette score.
      K: int
      /// (k, silhouette score) for every k tried.
      Scores: (int * float)[]
      /// The cluster of each active unit (in `TaskVariance.Active`'s order), 0 .. K - 1.
      Labels: int[]
      /// The units (network indices) of each cluster.
      Members: int[][]
      /// [clusters][rules]: each cluster's mean normalised task variance.
      Centroids: float[][] }

/// The fractional task variance (FTV) of the active units between two rules:
/// (var_a - var_b) / (var_a + var_b), from -1 (only rule b) to 1 (only rule a).
type FractionalVariance =
    { RuleA: string
      RuleB: string
      /// The active units (network indices) with some variance in either rule.
      Units: int[]
      Ftv: float[]
      /// Counts in 20 bins of width 0.1 over [-1, 1] (their histogram).
      Histogram: int[] }

/// Each rule's accuracy with a cluster's units silenced (their outgoing recurrent and readout weights 0).
type ClusterLesion =
    { Cluster: int
      Units: int[]
      Accuracy: RuleAccuracy[] }

/// Yang et al. 2019's analysis of a network trained on the battery.
type MultitaskAnalysis =
    { Accuracy: RuleAccuracy[]
      Variance: TaskVariance
      Clusters: UnitClusters
      Lesions: ClusterLesion[] }

/// Settings of `Multitask.analyse`.
type MultitaskAnalysisConfig =
    { /// Trials per rule for the task variance (each rule's batch shares one timing, as theirs).
      VarianceTrials: int
      /// Trials per rule for each accuracy.
      AccuracyTrials: int
      /// Their threshold on a unit's summed task variance.
      ActiveThreshold: float
      /// The k tried (their 2 .. 29), at most the active units less one.
      ClusterCounts: int list
      /// k-means restarts per k (their n_init = 20).
      Restarts: int
      Seed: int }

    static member defaults =
        { VarianceTrials = 128; AccuracyTrials = 256; ActiveThreshold = 1e-3; ClusterCounts = [ 2 .. 29 ]; Restarts = 20; Seed = 0 }

/// Yang et al. 2019's analysis of a multitask network (gyyang/multitask, analysis/variance.py and
/// analysis/clustering.py): task variance, active units, clusters, FTV and lesions.
[<RequireQualifiedAccess>]
module Multitask =
    /// The fraction of trials of each rule the network gets right (`YangTasks.correct`): `trials`
    /// fresh trials a rule (drawn with `seed`), run without noise from a zero state.
    let accuracyByRule (config: YangConfig) (net: Network) (trials: int) (seed: int) : RuleAccuracy[] =
        config.Rules
        |> List.toArray
        |> Array.map (fun rule ->
            let batch, conditions = YangTasks.generate config rule trials seed
            let run = Pipeline.trajectories None net batch
            let right = YangTasks.correct config run.Outputs batch.Time conditions
            { Rule = rule; Accuracy = float (right |> Array.filter id |> Array.length) / float trials; Trials = trials })

    /// The rates of a batch, [trials; time; units] row-major (the kind's rates: tanh h for the ctrnn).
    let private rates (net: Network) (batch: Batch) : float[] =
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        let x, _, _ = Training.toTensors net.Precision batch // [trials; time; inputs]
        use run = Network.unrollFrom net None x
        Arrays.ofTensor (Network.ratesOf net run.States) // [trials; time; units]

    /// Each unit's task variance (their _compute_variance_bymodel): per rule, `trials` trials without
    /// input noise (one timing for the batch), the variance of each unit's rate across trials at each
    /// step, averaged over the steps from 500 ms on.
    let taskVariance (config: YangConfig) (net: Network) (trials: int) (threshold: float) (seed: int) : TaskVariance =
        if trials < 2 then Check.fail "trials" (sprintf "expected at least 2 trials a rule for a variance, got %d" trials)
        if not (Double.IsFinite threshold && threshold >= 0.0) then Check.fail "threshold" "expected a number >= 0"
        let quiet = { config with SigmaX = 0.0 }
        let units = net.Sizes.Units
        let perRule =
            config.Rules
            |> List.toArray
            |> Array.map (fun rule ->
                let batch, _ = YangTasks.generate quiet rule trials seed
                let r = rates net batch
                let start = min (batch.Time - 1) (int (Math.Floor(500.0 / config.Dt + 1e-9)))
                let v = Array.zeroCreate<float> units
                for t in start .. batch.Time - 1 do
                    for u in 0 .. units - 1 do
                        let mutable s = 0.0
                        let mutable s2 = 0.0
                        for b in 0 .. trials - 1 do
                            let x = r[(b * batch.Time + t) * units + u]
                            s <- s + x
                            s2 <- s2 + x * x
                        let mean = s / float trials
                        v[u] <- v[u] + max 0.0 (s2 / float trials - mean * mean)
                v |> Array.map (fun x -> x / float (batch.Time - start)))
        let variance = Array.init units (fun u -> perRule |> Array.map (fun v -> v[u]))
        let active = [| 0 .. units - 1 |] |> Array.filter (fun u -> Array.sum variance[u] > threshold)
        { Rules = Array.ofList config.Rules
          Variance = variance
          Active = active
          Threshold = threshold
          Normalized = active |> Array.map (fun u -> let m = Array.max variance[u] in variance[u] |> Array.map (fun v -> v / m)) }

    let private distance2 (a: float[]) (b: float[]) =
        let mutable s = 0.0
        for i in 0 .. a.Length - 1 do
            let d = a[i] - b[i]
            s <- s + d * d
        s

    /// k-means (Lloyd's iterations from a k-means++ start, `restarts` starts, the lowest inertia
    /// kept): the cluster of each point, 0 .. k - 1.
    let kMeans (points: float[][]) (k: int) (restarts: int) (seed: int) : int[] =
        if k < 1 || k > points.Length then Check.fail "k" (sprintf "expected 1 to %d clusters (the points), got %d" points.Length k)
        Check.positive "restarts" restarts
        let random = Random(seed)
        let dims = points[0].Length
        let once () =
            // k-means++: each next centre drawn with probability proportional to the squared distance.
            let centres = ResizeArray [ points[random.Next points.Length] ]
            while centres.Count < k do
                let d = points |> Array.map (fun p -> centres |> Seq.map (distance2 p) |> Seq.min)
                let total = Array.sum d
                if total <= 0.0 then centres.Add points[random.Next points.Length]
                else
                    let u = random.NextDouble() * total
                    let mutable acc = 0.0
                    let mutable i = 0
                    while i < d.Length - 1 && acc + d[i] <= u do
                        acc <- acc + d[i]
                        i <- i + 1
                    centres.Add points[i]
            let centres = centres |> Seq.map Array.copy |> Array.ofSeq
            let labels = Array.create points.Length -1
            let mutable changed = true
            let mutable iteration = 0
            while changed && iteration < 300 do
                changed <- false
                for i in 0 .. points.Length - 1 do
                    let best = [| 0 .. k - 1 |] |> Array.minBy (fun c -> distance2 points[i] centres[c])
                    if best <> labels[i] then
                        labels[i] <- best
                        changed <- true
                for c in 0 .. k - 1 do
                    let members = [| for i in 0 .. points.Length - 1 do if labels[i] = c then yield points[i] |]
                    if members.Length > 0 then
                        centres[c] <- Array.init dims (fun j -> members |> Array.averageBy (fun p -> p[j]))
                iteration <- iteration + 1
            let inertia = points |> Array.mapi (fun i p -> distance2 p centres[labels[i]]) |> Array.sum
            labels, inertia
        Array.init restarts (fun _ -> once ()) |> Array.minBy snd |> fst

    /// The mean silhouette score of a clustering (Euclidean; a point alone in its cluster scores 0,
    /// as scikit-learn's silhouette_score).
    let silhouette (points: float[][]) (labels: int[]) : float =
        let n = points.Length
        let d = Array.init n (fun i -> Array.init n (fun j -> sqrt (distance2 points[i] points[j])))
        let clusters = labels |> Array.distinct
        if clusters.Length < 2 then Check.fail "labels" "a silhouette needs at least two clusters"
        [| for i in 0 .. n - 1 ->
            let own = [| for j in 0 .. n - 1 do if j <> i && labels[j] = labels[i] then yield d[i][j] |]
            if own.Length = 0 then 0.0
            else
                let a = Array.average own
                let b =
                    clusters
                    |> Array.filter (fun c -> c <> labels[i])
                    |> Array.map (fun c -> [| for j in 0 .. n - 1 do if labels[j] = c then yield d[i][j] |] |> Array.average)
                    |> Array.min
                if max a b = 0.0 then 0.0 else (b - a) / max a b |]
        |> Array.average

    /// The active units clustered by their normalised task variance: k-means for each k of `counts`
    /// (at most the active units less one), the k of the highest silhouette score kept (their
    /// clustering.py: KMeans(n_init=20) over k = 2 .. 29).
    let clusterUnits (variance: TaskVariance) (counts: int list) (restarts: int) (seed: int) : UnitClusters =
        let points = variance.Normalized
        let counts = counts |> List.filter (fun k -> k >= 2 && k < points.Length)
        if List.isEmpty counts then
            Check.fail "cluster_counts" (sprintf "no k of 2 to %d to try with %d active units (a silhouette needs k >= 2 and more units than clusters)" (points.Length - 1) points.Length)
        let tried = counts |> List.map (fun k -> let labels = kMeans points k restarts seed in k, labels, silhouette points labels)
        let k, labels, _ = tried |> List.maxBy (fun (_, _, s) -> s)
        let members = Array.init k (fun c -> [| for i in 0 .. labels.Length - 1 do if labels[i] = c then yield variance.Active[i] |])
        { K = k
          Scores = tried |> List.map (fun (k, _, s) -> k, s) |> Array.ofList
          Labels = labels
          Members = members
          Centroids =
            Array.init k (fun c ->
                let ps = [| for i in 0 .. labels.Length - 1 do if labels[i] = c then yield points[i] |]
                Array.init variance.Rules.Length (fun j -> ps |> Array.averageBy (fun p -> p[j]))) }

    /// The FTV of the active units between two rules (their variance.py, plot_hist_varprop).
    let fractionalVariance (variance: TaskVariance) (ruleA: string) (ruleB: string) : FractionalVariance =
        let index rule =
            match variance.Rules |> Array.tryFindIndex ((=) rule) with
            | Some i -> i
            | None -> Check.fail "rule" (sprintf "'%s' is not among the analysed rules (%s)" rule (String.Join(", ", variance.Rules)))
        let ia, ib = index ruleA, index ruleB
        let units = variance.Active |> Array.filter (fun u -> variance.Variance[u][ia] + variance.Variance[u][ib] > 0.0)
        let ftv = units |> Array.map (fun u -> let a, b = variance.Variance[u][ia], variance.Variance[u][ib] in (a - b) / (a + b))
        let histogram = Array.zeroCreate<int> 20
        for f in ftv do
            let bin = max 0 (min 19 (int (Math.Floor((f + 1.0) / 0.1))))
            histogram[bin] <- histogram[bin] + 1
        { RuleA = ruleA; RuleB = ruleB; Units = units; Ftv = ftv; Histogram = histogram }

    /// A copy of the network with the given units silenced: their columns of the recurrent weights
    /// and of W_out set to 0, so that nothing reads them (their lesion_units). The caller disposes it.
    let lesion (net: Network) (units: int[]) : Network =
        for u in units do
            if u < 0 || u >= net.Sizes.Units then Check.fail "units" (sprintf "unit %d is not in 0 .. %d" u (net.Sizes.Units - 1))
        let recurrent =
            match Network.recurrentName net with
            | Some name -> name
            | None -> Check.fail "net" (sprintf "kind '%s' names no recurrent weight matrix to lesion" net.Kind.Name)
        let silenced =
            use _ = torch.NewDisposeScope()
            let w = Network.weights net
            let keep = Array.init net.Sizes.Units (fun u -> if Array.contains u units then 0.0f else 1.0f)
            let keep = torch.tensor(keep).to_type(w[recurrent].dtype) // [units]
            // Out of the scope: the new network copies them, then they go.
            [ for name in [ recurrent; "w_out" ] -> name, (w[name].detach() * keep.unsqueeze(0L)).DetachFromDisposeScope() ]
        try Network.withValues net (Map.ofList silenced)
        finally
            for _, t in silenced do t.Dispose()

    /// Each rule's accuracy with each cluster lesioned in turn.
    let lesions (config: YangConfig) (net: Network) (clusters: UnitClusters) (trials: int) (seed: int) : ClusterLesion[] =
        clusters.Members
        |> Array.mapi (fun c units ->
            use lesioned = lesion net units
            { Cluster = c; Units = units; Accuracy = accuracyByRule config lesioned trials seed })

    /// The whole analysis: accuracy per rule, task variance, clusters and a lesion of each cluster.
    let analyse (settings: MultitaskAnalysisConfig) (config: YangConfig) (net: Network) : MultitaskAnalysis =
        let variance = taskVariance config net settings.VarianceTrials settings.ActiveThreshold settings.Seed
        let clusters = clusterUnits variance settings.ClusterCounts settings.Restarts settings.Seed
        { Accuracy = accuracyByRule config net settings.AccuracyTrials (settings.Seed + 1)
          Variance = variance
          Clusters = clusters
          Lesions = lesions config net clusters settings.AccuracyTrials (settings.Seed + 1) }
