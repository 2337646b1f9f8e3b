/// Yang et al. 2019's battery: every rule's inputs, targets and mask against rules written here from
/// gyyang/multitask's task.py, over random seeds; and the analysis of a multitask network.
module RnnFun.Tests.YangTaskTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open RnnFun

let private config = YangConfig.defaults
let private n = config.RingUnits
let private input (b: Batch) trial t k = float b.Inputs[(trial * b.Time + t) * b.InputSize + k]
let private target (b: Batch) trial t k = float b.Targets[(trial * b.Time + t) * b.OutputSize + k]
let private weight (b: Batch) trial t k = float b.Mask.Value[(trial * b.Time + t) * b.OutputSize + k]
let private named name (c: YangTrial) = c.Parameters |> List.find (fun (p, _) -> p = name) |> snd
let private twoPi = 2.0 * Math.PI

/// A ring's bump, written out: 0.8 exp(-d^2 / 2), d the circular distance in units of pi / 8.
let private bump (angle: float) (unit: int) =
    let p = twoPi * float unit / float n
    let d = abs (angle - p) % twoPi
    let d = (min d (twoPi - d)) / (Math.PI / 8.0)
    0.8 * exp (-d * d / 2.0)

/// The response each rule asks for, from the trial's parameters (task.py's rules, written again).
let private expectedResponse (c: YangTrial) : float option =
    let anti a = (a + Math.PI) % twoPi
    match c.Rule with
    | "fdgo" | "reactgo" | "delaygo" -> Some(named "stim_angle" c)
    | "fdanti" | "reactanti" | "delayanti" -> Some(anti (named "stim_angle" c))
    | "dm1" | "dm2" | "delaydm1" | "delaydm2" ->
        Some(if named "stim1_strength" c > named "stim2_strength" c then named "stim1_angle" c else named "stim2_angle" c)
    | "contextdm1" | "contextdelaydm1" -> Some(if named "stim1_mod1_strength" c > named "stim2_mod1_strength" c then named "stim1_angle" c else named "stim2_angle" c)
    | "contextdm2" | "contextdelaydm2" -> Some(if named "stim1_mod2_strength" c > named "stim2_mod2_strength" c then named "stim1_angle" c else named "stim2_angle" c)
    | "multidm" | "multidelaydm" ->
        let s1 = named "stim1_mod1_strength" c + named "stim1_mod2_strength" c
        let s2 = named "stim2_mod1_strength" c + named "stim2_mod2_strength" c
        Some(if s1 > s2 then named "stim1_angle" c else named "stim2_angle" c)
    | "dmsgo" | "dmsnogo" | "dmcgo" | "dmcnogo" ->
        let a1, a2 = named "stim1_angle" c, named "stim2_angle" c
        let isMatch =
            if c.Rule.StartsWith "dmc" then (a1 < Math.PI) = (a2 < Math.PI)
            else abs (a1 - a2) < 1e-12
        Expect.equal (named "match" c) (if isMatch then 1.0 else 0.0) "match as the angles say"
        let go = if c.Rule.EndsWith "nogo" then not isMatch else isMatch
        if go then Some a2 else None
    | other -> failwithf "rule %s" other

/// The fixation input stays on to the end in the reaction-time and match tasks (their fix_in with no offset).
let private fixationKept (rule: string) = rule.StartsWith "react" || rule.StartsWith "dm" && (rule.StartsWith "dms" || rule.StartsWith "dmc")

/// Their stimulus layout, per rule: (ring, angle parameter, strength, epoch) of each stimulus.
let private stimuliOf (c: YangTrial) =
    let epoch name = c.Epochs |> List.find (fun e -> e.Name = name)
    let untilEnd name = let e = epoch name in e.Start, c.Length
    let span name = let e = epoch name in e.Start, e.Stop
    let stimSpan = if c.Rule.StartsWith "react" then untilEnd "go1" elif c.Rule.StartsWith "fd" then untilEnd "stim1" else span "stim1"
    match c.Rule with
    | "fdgo" | "fdanti" | "reactgo" | "reactanti" | "delaygo" | "delayanti" -> [ int (named "stim_ring" c), named "stim_angle" c, 1.0, stimSpan ]
    | "dm1" | "dm2" ->
        let m = if c.Rule = "dm1" then 1 else 2
        [ m, named "stim1_angle" c, named "stim1_strength" c, span "stim1"; m, named "stim2_angle" c, named "stim2_strength" c, span "stim1" ]
    | "delaydm1" | "delaydm2" ->
        let m = if c.Rule = "delaydm1" then 1 else 2
        [ m, named "stim1_angle" c, named "stim1_strength" c, span "stim1"; m, named "stim2_angle" c, named "stim2_strength" c, span "stim2" ]
    | "contextdm1" | "contextdm2" | "multidm" ->
        [ for m in 1 .. 2 do
            for i in 1 .. 2 -> m, named (sprintf "stim%d_angle" i) c, named (sprintf "stim%d_mod%d_strength" i m) c, span "stim1" ]
    | "contextdelaydm1" | "contextdelaydm2" | "multidelaydm" ->
        [ for m in 1 .. 2 do
            for i in 1 .. 2 -> m, named (sprintf "stim%d_angle" i) c, named (sprintf "stim%d_mod%d_strength" i m) c, span (sprintf "stim%d" i) ]
    | _ -> [ int (named "stim1_ring" c), named "stim1_angle" c, 1.0, span "stim1"; int (named "stim2_ring" c), named "stim2_angle" c, 1.0, untilEnd "go1" ]

let private checkRule (rule: string) (seed: int) =
    let quiet = { config with SigmaX = 0.0 }
    let b, trials = YangTasks.generate quiet rule 6 seed
    Batch.validate "b" b
    Expect.equal (b.InputSize, b.OutputSize) (1 + 2 * n + 20, 1 + n) "85 inputs, 33 outputs"
    let ruleIndex = config.Rules |> List.findIndex ((=) rule)
    let lengths = trials |> Array.map (fun c -> c.Length) |> Array.distinct
    Expect.equal lengths [| b.Time |] "one timing for a rule's batch (theirs)"
    for trial in 0 .. trials.Length - 1 do
        let c = trials[trial]
        Expect.equal c.Rule rule "the rule"
        Expect.equal (c.Epochs |> List.head).Start 0 "epochs start at 0"
        for e1, e2 in List.pairwise c.Epochs do Expect.equal e2.Start e1.Stop "epochs are contiguous"
        Expect.equal (c.Epochs |> List.last).Stop c.Length "epochs end at the trial's length"
        Expect.equal (c.Epochs |> List.last).Name "go1" "the last epoch is the response"
        Expect.equal c.Go (c.Epochs |> List.last).Start "the go cue starts go1"
        let response = expectedResponse c
        Expect.equal c.Response response "the response the rule asks for"
        let stimuli = stimuliOf c
        for t in 0 .. b.Time - 1 do
            // Fixation input until the go cue, or on all trial where the go cue is a stimulus.
            let fixOn = if fixationKept rule then t < c.Length else t < c.Go
            Expect.equal (input b trial t 0) (if fixOn then 1.0 else 0.0) (sprintf "%s: fixation input at %d (go %d)" rule t c.Go)
            for r in 0 .. 19 do Expect.equal (input b trial t (1 + 2 * n + r)) (if r = ruleIndex && t < c.Length then 1.0 else 0.0) "the one-hot rule input"
            for m in 1 .. 2 do
                for u in 0 .. n - 1 do
                    let expected = stimuli |> List.sumBy (fun (ring, a, s, (on, off)) -> if ring = m && t >= on && t < off then bump a u * s else 0.0)
                    Expect.floatClose Accuracy.medium (input b trial t (1 + (m - 1) * n + u)) expected (sprintf "%s: ring %d unit %d at %d" rule m u t)
            // The fixation output follows the fixation cue: 0.8 until the go cue (to the end when kept).
            let fixOut = if t >= c.Length then 0.0 elif t < c.Go || response.IsNone then 0.8 else 0.05
            Expect.floatClose Accuracy.medium (target b trial t 0) fixOut (sprintf "fixation output at %d" t)
            for u in 0 .. n - 1 do
                let expected = if t >= c.Length then 0.0 else match response with Some a when t >= c.Go -> 0.05 + bump a u | _ -> 0.05
                Expect.floatClose Accuracy.medium (target b trial t (1 + u)) expected "the output ring"
            // Their cost mask, squared: 0 first 100 ms, 1 to the go cue, 0 for 100 ms, 25 on; fixation x4.
            for k in 0 .. b.OutputSize - 1 do
                let w = if t >= c.Length || t < 5 then 0.0 elif t < c.Go then 1.0 elif t < c.Go + 5 then 0.0 else 25.0
                Expect.equal (weight b trial t k) (if k = 0 then 4.0 * w else w) (sprintf "mask at %d" t)
    // The targets score 100 %; so does an observer that answers the rule's response (a bump there,
    // fixation off) or keeps fixating.
    let outputs = b.Targets |> Array.map float
    Expect.isTrue (YangTasks.correct config outputs b.Time trials |> Array.forall id) (rule + ": the targets score 100 %")
    let observer =
        [| for trial in 0 .. trials.Length - 1 do
             for t in 0 .. b.Time - 1 do
                 match expectedResponse trials[trial] with
                 | Some a ->
                     yield 0.0
                     for u in 0 .. n - 1 -> bump a u
                 | None ->
                     yield 1.0
                     for _ in 0 .. n - 1 -> 0.0 |]
    Expect.isTrue (YangTasks.correct config observer b.Time trials |> Array.forall id) (rule + ": the ideal observer scores 100 %")
    // Responding 0.25 pi away is wrong (their tolerance is 0.2 pi), and so is fixating on a go trial.
    let off =
        [| for trial in 0 .. trials.Length - 1 do
             for t in 0 .. b.Time - 1 do
                 let a = defaultArg (expectedResponse trials[trial]) 0.0
                 yield (if trials[trial].Response.IsNone then 0.0 else 1.0)
                 for u in 0 .. n - 1 -> bump (a + 0.25 * Math.PI) u |]
    Expect.isTrue (YangTasks.correct config off b.Time trials |> Array.forall not) (rule + ": the wrong answer scores 0 %")

[<Tests>]
let tests =
    testList "YangTasks" [
        testProp "every rule: inputs, targets, mask and response as task.py writes them" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.elements config.Rules) (Gen.choose (0, 100000)))) (fun (rule, seed) -> checkRule rule seed))
        test "every rule comes up, in both modalities and both answers of the match tasks" {
            for rule in config.Rules do checkRule rule 7
            let _, trials = YangTasks.generateMixed config 2000 1
            let rules = trials |> Array.map (fun c -> c.Rule) |> Array.distinct |> Array.sort
            Expect.equal rules (List.sort config.Rules |> Array.ofList) "every rule in a mixed batch"
            for rule in [ "dmsgo"; "dmsnogo"; "dmcgo"; "dmcnogo" ] do
                let kept = trials |> Array.filter (fun c -> c.Rule = rule) |> Array.countBy (fun c -> c.Response.IsNone)
                Expect.equal kept.Length 2 (rule + ": go and no-go trials")
            let weighted, wt = YangTasks.generateMixed { config with Rules = [ "fdgo"; "dm1" ]; RuleWeights = [ "dm1", 3.0 ] } 800 2
            let dm1 = wt |> Array.filter (fun c -> c.Rule = "dm1") |> Array.length
            Expect.isTrue (dm1 > 540 && dm1 < 660) (sprintf "weight 3 : 1 gives about 600 of 800: %d" dm1)
            Expect.equal weighted.InputSize (1 + 2 * n + 2) "two rule inputs"
        }
        test "the same seed gives the same trials, different seeds differ; mixed batches are padded and masked" {
            Expect.equal (YangTasks.generateMixed config 32 5) (YangTasks.generateMixed config 32 5) "same seed"
            let b, trials = YangTasks.generateMixed config 32 5
            let other, _ = YangTasks.generateMixed config 32 6
            Expect.notEqual other.Inputs b.Inputs "other seed"
            Expect.equal b.Time (trials |> Array.map (fun c -> c.Length) |> Array.max) "padded to the longest trial"
            for trial in 0 .. 31 do
                for t in trials[trial].Length .. b.Time - 1 do
                    for k in 0 .. b.InputSize - 1 do Expect.equal (input b trial t k) 0.0 "padding input"
                    for k in 0 .. b.OutputSize - 1 do Expect.equal (weight b trial t k) 0.0 "padding mask"
            // The input noise: sigma_x sqrt(2 / alpha) = 0.0316 on every input of the trial.
            let noisy, nt = YangTasks.generate config "fdgo" 64 3
            let clean, _ = YangTasks.generate { config with SigmaX = 0.0 } "fdgo" 64 3
            let diffs = [| for trial in 0 .. 63 do for t in 0 .. nt[trial].Length - 1 do for k in 0 .. noisy.InputSize - 1 -> input noisy trial t k - input clean trial t k |]
            let sd = sqrt (diffs |> Array.averageBy (fun d -> d * d))
            Expect.floatClose { absolute = 0.001; relative = 0.0 } sd (0.01 * sqrt 10.0) "the noise's sd"
        }
        test "refused settings are named" {
            let refused f name =
                Expect.throwsC (fun () -> f () |> ignore) (fun e -> match e with InvalidArgument (a, _) -> Expect.equal a name "names the setting" | e -> failtestf "got %O" e)
            refused (fun () -> YangTasks.generate { config with Rules = [ "fdgo"; "nope" ] } "fdgo" 1 0) "rules"
            refused (fun () -> YangTasks.generate config "oic" 1 0) "rule"
            refused (fun () -> YangTasks.generate { config with Rules = [ "fdgo" ] } "dm1" 1 0) "rule"
            refused (fun () -> YangTasks.generateMixed { config with RuleWeights = [ "dm1", -1.0 ] } 1 0) "rule_weights"
        }
        test "k-means and the silhouette find planted clusters; FTV and lesions follow their definitions" {
            // Three well-separated groups of points.
            let random = Random(3)
            let centres = [| [| 1.0; 0.0; 0.0 |]; [| 0.0; 1.0; 0.0 |]; [| 0.0; 0.0; 1.0 |] |]
            let points = Array.init 60 (fun i -> centres[i % 3] |> Array.map (fun c -> abs (c + 0.05 * (random.NextDouble() - 0.5))))
            let variance =
                { Rules = [| "a"; "b"; "c" |]; Variance = points; Active = [| 0 .. 59 |]; Threshold = 1e-3
                  Normalized = points |> Array.map (fun p -> let m = Array.max p in p |> Array.map (fun v -> v / m)) }
            let clusters = Multitask.clusterUnits variance [ 2 .. 6 ] 5 0
            Expect.equal clusters.K 3 "k = 3 has the best silhouette"
            for c in clusters.Members do
                Expect.equal (c |> Array.map (fun u -> u % 3) |> Array.distinct).Length 1 "each cluster one planted group"
            let s2 = clusters.Scores |> Array.find (fun (k, _) -> k = 2) |> snd
            let s3 = clusters.Scores |> Array.find (fun (k, _) -> k = 3) |> snd
            Expect.isGreaterThan s3 0.9 "tight clusters score near 1"
            Expect.isLessThan s2 s3 "two clusters score lower"
            let ftv = Multitask.fractionalVariance variance "a" "b"
            for u, f in Array.zip ftv.Units ftv.Ftv do
                let a, b = points[u][0], points[u][1]
                Expect.floatClose Accuracy.high f ((a - b) / (a + b)) "FTV = (a - b) / (a + b)"
            Expect.equal (Array.sum ftv.Histogram) ftv.Units.Length "every unit in the histogram"
            Expect.isTrue (ftv.Histogram[19] >= 15 && ftv.Histogram[0] >= 15) "the a-only and b-only units at the ends"
            // A lesion zeroes the silenced units' columns of W_rec and W_out, and nothing else.
            use net = Network.create Presets.yangKind { NetworkConfig.defaults with InputSize = 3; Units = 8; OutputSize = 2; Seed = 1L }
            use lesioned = Multitask.lesion net [| 2; 5 |]
            let matrix (x: Network) name =
                match Network.values x |> List.find (fun (m, _) -> m = name) |> snd with
                | ParameterValue.Matrix m -> m
                | ParameterValue.Vector _ -> failtest "a matrix"
            for name in [ "w_rec"; "w_out" ] do
                let before, after = matrix net name, matrix lesioned name
                for i in 0 .. before.Length - 1 do
                    for j in 0 .. 7 do
                        let expected = if j = 2 || j = 5 then 0.0 else before[i][j]
                        Expect.equal (after[i][j]) expected (sprintf "%s[%d][%d]" name i j)
        }
        test "the small battery preset trains and the analysis runs on it: fixation learnt, clusters and lesions" {
            let preset = Presets.yangBatterySmall 0
            let small = { preset with Network = { preset.Network with Units = 32 }; Fit = { preset.Fit with Epochs = 4 }; TrialsPerEpoch = 256; ValidationTrials = 64 }
            use r = Presets.train small
            let analysis =
                Multitask.analyse { MultitaskAnalysisConfig.defaults with VarianceTrials = 16; AccuracyTrials = 16; ClusterCounts = [ 2 .. 6 ]; Restarts = 3 } config r.Network
            Expect.equal analysis.Accuracy.Length 20 "an accuracy per rule"
            Expect.equal (analysis.Variance.Variance.Length, analysis.Variance.Variance[0].Length) (32, 20) "[units][rules]"
            for u in analysis.Variance.Active do Expect.isGreaterThan (Array.sum analysis.Variance.Variance[u]) 1e-3 "active units above 1e-3"
            for row in analysis.Variance.Normalized do Expect.floatClose Accuracy.high (Array.max row) 1.0 "normalised by each unit's largest"
            Expect.equal (analysis.Clusters.Members |> Array.sumBy Array.length) analysis.Variance.Active.Length "every active unit in one cluster"
            Expect.equal analysis.Lesions.Length analysis.Clusters.K "a lesion per cluster"
            Expect.isLessThan r.ValidationLosses[r.ValidationLosses.Length - 1] r.ValidationLosses[0] "training lowers the validation loss"
        }
    ]
