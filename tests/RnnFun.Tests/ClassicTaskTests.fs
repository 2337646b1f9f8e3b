/// The classic tasks (perceptual decision making, context-dependent integration): properties over
/// random settings and seeds, each checked by a rule written here, apart from the generator.
module RnnFun.Tests.ClassicTaskTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open RnnFun

let private input (b: Batch) trial t k = b.Inputs[(trial * b.Time + t) * b.InputSize + k]
let private target (b: Batch) trial t k = b.Targets[(trial * b.Time + t) * b.OutputSize + k]
let private weight (b: Batch) trial t k = b.Mask.Value[(trial * b.Time + t) * b.OutputSize + k]

/// Durations that are whole numbers of 20 ms steps, and a mask rule.
let private genPerceptual =
    gen {
        let! fixation = Gen.choose (1, 8)
        let! stimulus = Gen.choose (1, 30)
        let! delay = Gen.choose (0, 10)
        let! yang = Gen.elements [ false; true ]
        // The Yang mask needs a decision past its 100 ms (5 steps) of grace.
        let! decision = Gen.choose ((if yang then 6 else 1), 12)
        let! coherences = Gen.nonEmptyListOf (Gen.elements [ 0.0; 3.2; 6.4; 12.8; 25.6; 51.2; 100.0 ])
        let! seed = Gen.choose (0, 100000)
        let config =
            { PerceptualDecisionConfig.defaults with
                Fixation = 20.0 * float fixation; Stimulus = 20.0 * float stimulus; Delay = 20.0 * float delay; Decision = 20.0 * float decision
                Coherences = coherences; Mask = if yang then TrialMask.Yang else TrialMask.Uniform }
        return config, seed
    }

let private genContext =
    gen {
        let! fixation = Gen.choose (1, 8)
        let! stimulus = Gen.choose (1, 20)
        let! delayMin = Gen.choose (0, 5)
        let! delaySpan = Gen.choose (0, 10)
        let! yang = Gen.elements [ false; true ]
        let! decision = Gen.choose ((if yang then 6 else 1), 10)
        let! coherences = Gen.nonEmptyListOf (Gen.elements [ 5.0; 15.0; 50.0; 80.0 ])
        let! seed = Gen.choose (0, 100000)
        let config =
            { ContextDecisionConfig.defaults with
                Fixation = 20.0 * float fixation; Stimulus = 20.0 * float stimulus; Decision = 20.0 * float decision
                DelayMin = 20.0 * float delayMin; DelayMax = 20.0 * float (delayMin + delaySpan); DelayMean = 20.0 * float (delayMin + 1)
                Coherences = coherences; Mask = if yang then TrialMask.Yang else TrialMask.Uniform }
        return config, seed
    }

/// The properties every classic task has (issue 20, section 4), for trials of a task.
let private commonProperties (task: ClassicTask) (mask: TrialMask) (b: Batch) (conditions: TrialCondition[]) =
    Batch.validate "b" b
    Expect.equal conditions.Length b.Trials "one condition per trial"
    for trial in 0 .. b.Trials - 1 do
        let c = conditions[trial]
        // Epochs: contiguous from step 0 to the trial's length, which the padded time holds.
        Expect.equal (c.Epochs |> List.head).Start 0 "epochs start at 0"
        for e1, e2 in List.pairwise c.Epochs do Expect.equal e2.Start e1.Stop "epochs are contiguous"
        Expect.equal (c.Epochs |> List.last).Stop c.Length "epochs end at the trial's length"
        Expect.isLessThanOrEqual c.Length b.Time "the batch holds the trial"
        let go = (c.Epoch "decision").Start
        for t in 0 .. b.Time - 1 do
            let fixIn = input b trial t 0
            // The fixation input is on exactly until the go cue (neurogym #231, #279).
            Expect.equal fixIn (if t < go then 1.0f else 0.0f) (sprintf "fixation input at %d (go %d)" t go)
            if t < c.Length then
                // The fixation output follows the fixation input; then exactly the right choice.
                Expect.equal (target b trial t 0) fixIn "fixation output = fixation input"
                let expectedChoice k = if t >= go && k = c.Choice then 1.0f else 0.0f
                for k in 0 .. 1 do Expect.equal (target b trial t (1 + k)) (expectedChoice k) (sprintf "choice output %d at %d" k t)
            else
                // Padding: nothing in, nothing wanted, nothing scored.
                for k in 0 .. b.InputSize - 1 do Expect.equal (input b trial t k) 0.0f "padding input"
                for k in 0 .. 2 do
                    Expect.equal (target b trial t k) 0.0f "padding target"
                    Expect.equal (weight b trial t k) 0.0f "padding mask"
            match mask with
            | TrialMask.Uniform -> if t < c.Length then for k in 0 .. 2 do Expect.equal (weight b trial t k) 1.0f "uniform"
            | TrialMask.Yang when t < c.Length ->
                // gyyang/multitask: nothing scored in the first 100 ms (5 steps) nor in the 100 ms after the go cue.
                let expected = if t < 5 || (t >= go && t < go + 5) then 0.0f elif t < go then 1.0f else 5.0f
                Expect.equal (weight b trial t 1) expected (sprintf "Yang mask at %d (go %d)" t go)
                Expect.equal (weight b trial t 0) (2.0f * expected) "fixation output weighs twice"
            | TrialMask.Yang -> ()
    // An observer that answers with the targets is right on every trial; one that breaks fixation or
    // picks the other choice is wrong on every trial (the rule can fail).
    let asOutputs (b: Batch) = b.Targets |> Array.map float
    Expect.isTrue (task.Correct (asOutputs b) conditions |> Array.forall id) "the targets score 100 %"
    let swapped = asOutputs b |> Array.mapi (fun i v -> if i % 3 = 1 then float b.Targets[i + 1] elif i % 3 = 2 then float b.Targets[i - 1] else v)
    Expect.isTrue (task.Correct swapped conditions |> Array.forall not) "the other choice scores 0 %"
    let fixating = asOutputs b |> Array.mapi (fun i v -> if i % 3 = 0 then 1.0 else v)
    Expect.isTrue (task.Correct fixating conditions |> Array.forall not) "fixating through the decision scores 0 %"

[<Tests>]
let tests =
    testList "ClassicTasks" [
        testProp "perceptual decision: epochs, fixation until the go cue, targets, mask, and an ideal observer on the evidence" (fun () ->
            Prop.forAll (Arb.fromGen genPerceptual) (fun (config, seed) ->
                let task = ClassicTasks.perceptualDecision config
                let b, conditions = task.GenerateTrials 6 seed
                commonProperties task config.Mask b conditions
                let steps ms = int (Math.Round(ms / 20.0))
                for trial in 0 .. 5 do
                    let c = conditions[trial]
                    Expect.equal (c.Epochs |> List.map (fun e -> e.Name, e.Stop - e.Start))
                        [ "fixation", steps config.Fixation; "stimulus", steps config.Stimulus; "delay", steps config.Delay; "decision", steps config.Decision ] "epochs as configured"
                    let coherence = c.Parameters |> List.find (fun (n, _) -> n = "coherence") |> snd
                    Expect.contains config.Coherences coherence "a configured coherence"
                    // Evidence only during the stimulus.
                    for t in 0 .. b.Time - 1 do
                        let s = c.Epoch "stimulus"
                        if t < s.Start || t >= s.Stop then
                            Expect.equal (input b trial t 1, input b trial t 2) (0.0f, 0.0f) "no evidence outside the stimulus"
                // Without noise, the observer that sums the evidence picks the target's choice whenever
                // there is evidence to pick from.
                let clean, cleanConditions = (ClassicTasks.perceptualDecision { config with Sigma = 0.0 }).GenerateTrials 6 seed
                Expect.equal cleanConditions conditions "noise leaves the conditions as they are"
                for trial in 0 .. 5 do
                    let c = cleanConditions[trial]
                    let sum k = seq { for t in 0 .. clean.Time - 1 -> float (input clean trial t k) } |> Seq.sum
                    let coherence = c.Parameters |> List.find (fun (n, _) -> n = "coherence") |> snd
                    if coherence > 0.0 then
                        let observed = if sum 1 > sum 2 then 0 else 1
                        Expect.equal observed c.Choice "the ideal observer's choice is the target's"))
        testProp "context decision: the context picks the modality whose evidence the target follows" (fun () ->
            Prop.forAll (Arb.fromGen genContext) (fun (config, seed) ->
                let task = ClassicTasks.contextDecision config
                let b, conditions = task.GenerateTrials 6 seed
                commonProperties task config.Mask b conditions
                Expect.equal b.Time (List.sum [ config.Fixation; config.Stimulus; config.DelayMax; config.Decision ] / 20.0 |> int) "padded to the longest delay"
                let clean, _ = (ClassicTasks.contextDecision { config with Sigma = 0.0 }).GenerateTrials 6 seed
                for trial in 0 .. 5 do
                    let c = conditions[trial]
                    let delay = (c.Epoch "delay").Stop - (c.Epoch "delay").Start
                    Expect.isTrue (delay >= int (config.DelayMin / 20.0) && delay <= int (config.DelayMax / 20.0)) (sprintf "delay %d steps in range" delay)
                    // The independent rule: the context input that is on names the modality; the
                    // channel of that modality with more evidence is the answer.
                    let context = if input clean trial 0 5 = 1.0f then 0 else 1
                    Expect.equal (input clean trial 0 (6 - context)) 0.0f "one context at a time"
                    for t in 0 .. c.Length - 1 do Expect.equal (input clean trial t (5 + context)) 1.0f "the context is on all trial"
                    let sum k = seq { for t in 0 .. clean.Time - 1 -> float (input clean trial t k) } |> Seq.sum
                    let observed = if sum (1 + 2 * context) > sum (2 + 2 * context) then 0 else 1
                    Expect.equal observed c.Choice "the target follows the context's modality"
                    let irrelevant = if sum (1 + 2 * (1 - context)) > sum (2 + 2 * (1 - context)) then 0 else 1
                    let named name = c.Parameters |> List.find (fun (n, _) -> n = name) |> snd |> int
                    Expect.equal irrelevant (named (if context = 0 then "choice2" else "choice1")) "the other modality points to its own choice"))
        testProp "parametric working memory: f1 before the delay, f2 after it, the target says whether f1 > f2" (fun () ->
            let gen =
                gen {
                    let! durations = Gen.arrayOfLength 5 (Gen.choose (1, 12))
                    let! yang = Gen.elements [ false; true ]
                    let! pairs = Gen.nonEmptyListOf (Gen.map2 (fun a d -> float a, float (a - d)) (Gen.choose (10, 40)) (Gen.choose (1, 10)))
                    let! seed = Gen.choose (0, 100000)
                    let ms i = 20.0 * float durations[i]
                    let config =
                        { ParametricWorkingMemoryConfig.defaults with
                            Fixation = ms 0; Stimulus1 = ms 1; Delay = ms 2 - 20.0; Stimulus2 = ms 3
                            Decision = (if yang then 20.0 * float (max 6 durations[4]) else ms 4)
                            Pairs = pairs; Mask = if yang then TrialMask.Yang else TrialMask.Uniform }
                    return config, seed
                }
            Prop.forAll (Arb.fromGen gen) (fun (config, seed) ->
                let task = ClassicTasks.parametricWorkingMemory config
                let b, conditions = task.GenerateTrials 6 seed
                commonProperties task config.Mask b conditions
                let clean, _ = (ClassicTasks.parametricWorkingMemory { config with Sigma = 0.0 }).GenerateTrials 6 seed
                for trial in 0 .. 5 do
                    let c = conditions[trial]
                    let named name = c.Parameters |> List.find (fun (n, _) -> n = name) |> snd
                    Expect.contains (config.Pairs |> List.collect (fun (a, b) -> [ a, b; b, a ])) (named "f1", named "f2") "a configured pair, either way round"
                    // The independent rule: the stimulus input during each stimulus epoch, compared.
                    let valuesIn name = let e = c.Epoch name in [ for t in e.Start .. e.Stop - 1 -> input clean trial t 1 ]
                    Expect.equal (valuesIn "stimulus1" |> List.distinct |> List.length) 1 "a constant f1 without noise"
                    let shown1, shown2 = List.head (valuesIn "stimulus1"), List.head (valuesIn "stimulus2")
                    Expect.equal (if shown1 > shown2 then 0 else 1) c.Choice "choice 1 when f1 > f2"
                    Expect.equal ((input clean trial ((c.Epoch "delay").Start) 1)) (if (c.Epoch "delay").Stop > (c.Epoch "delay").Start then 0.0f else shown2) "nothing shown in the delay"
                Expect.equal (Scoring.idealAccuracy task clean conditions) 1.0 "the ideal observer is right without noise"))
        testProp "delayed match-to-sample: the target says whether the test is the sample" (fun () ->
            let gen =
                gen {
                    let! durations = Gen.arrayOfLength 5 (Gen.choose (1, 12))
                    let! yang = Gen.elements [ false; true ]
                    let! seed = Gen.choose (0, 100000)
                    let ms i = 20.0 * float durations[i]
                    let config =
                        { DelayedMatchConfig.defaults with
                            Fixation = ms 0; Sample = ms 1; Delay = ms 2 - 20.0; Test = ms 3
                            Decision = (if yang then 20.0 * float (max 6 durations[4]) else ms 4)
                            Mask = if yang then TrialMask.Yang else TrialMask.Uniform }
                    return config, seed
                }
            Prop.forAll (Arb.fromGen gen) (fun (config, seed) ->
                let task = ClassicTasks.delayedMatchToSample config
                let b, conditions = task.GenerateTrials 8 seed
                commonProperties task config.Mask b conditions
                let clean, _ = (ClassicTasks.delayedMatchToSample { config with Sigma = 0.0 }).GenerateTrials 8 seed
                for trial in 0 .. 7 do
                    let c = conditions[trial]
                    // The independent rule: the direction shown in the sample and in the test, compared.
                    let shownIn name = let e = c.Epoch name in [ for t in e.Start .. e.Stop - 1 -> input clean trial t 1, input clean trial t 2 ] |> List.distinct
                    match shownIn "sample", shownIn "test" with
                    | [ s ], [ t ] ->
                        Expect.contains [ (1.0f, 0.0f); (0.0f, 1.0f) ] s "one of two directions"
                        Expect.equal (if s = t then 0 else 1) c.Choice "match: choice 1; non-match: choice 2"
                    | s, t -> failtestf "constant stimuli expected without noise, got %A and %A" s t
                Expect.equal (Scoring.idealAccuracy task clean conditions) 1.0 "the ideal observer is right without noise"))
        test "the same seed gives the same trials, different seeds differ; noise is there by default" {
            for task in [ ClassicTasks.perceptualDecision PerceptualDecisionConfig.defaults; ClassicTasks.contextDecision ContextDecisionConfig.defaults
                          ClassicTasks.parametricWorkingMemory ParametricWorkingMemoryConfig.defaults; ClassicTasks.delayedMatchToSample DelayedMatchConfig.defaults ] do
                let a, ca = task.GenerateTrials 16 3
                let again, cagain = task.GenerateTrials 16 3
                Expect.equal (a, ca) (again, cagain) (task.Task.Name + ": same seed")
                let other, _ = task.GenerateTrials 16 4
                Expect.notEqual other.Inputs a.Inputs (task.Task.Name + ": other seed")
                Expect.equal (task.Task.Generate 16 3) a (task.Task.Name + ": Generate is GenerateTrials' batch")
        }
        test "the library's ideal observer: right on every clean trial with evidence, near the noise's bound on noisy ones" {
            let clean = ClassicTasks.contextDecision { ContextDecisionConfig.defaults with Sigma = 0.0 }
            let b, conditions = clean.GenerateTrials 64 1
            Expect.equal (Scoring.idealAccuracy clean b conditions) 1.0 "context decision without noise"
            let pdm = ClassicTasks.perceptualDecision { PerceptualDecisionConfig.defaults with Sigma = 0.0; Coherences = [ 3.2; 51.2 ] }
            let b, conditions = pdm.GenerateTrials 64 1
            Expect.equal (Scoring.idealAccuracy pdm b conditions) 1.0 "perceptual decision without noise"
            // Zero coherence holds no evidence: the observer is at chance there.
            let zero = ClassicTasks.perceptualDecision { PerceptualDecisionConfig.defaults with Coherences = [ 0.0 ] }
            let b, conditions = zero.GenerateTrials 400 1
            let a = Scoring.idealAccuracy zero b conditions
            Expect.isTrue (a > 0.4 && a < 0.6) (sprintf "chance at zero coherence: %.2f" a)
        }
        test "context decision: both contexts, both choices and every coherence come up; the irrelevant choice is independent" {
            let _, conditions = (ClassicTasks.contextDecision ContextDecisionConfig.defaults).GenerateTrials 400 0
            let values name = conditions |> Array.map (fun c -> c.Parameters |> List.find (fun (n, _) -> n = name) |> snd) |> Array.distinct |> Array.sort
            Expect.equal (values "context") [| 0.0; 1.0 |] "contexts"
            Expect.equal (values "choice") [| 0.0; 1.0 |] "choices"
            Expect.equal (values "coherence1") [| 5.0; 15.0; 50.0 |] "coherences"
            let named name (c: TrialCondition) = c.Parameters |> List.find (fun (n, _) -> n = name) |> snd
            let congruent = conditions |> Array.filter (fun c -> named "choice1" c = named "choice2" c)
            Expect.isTrue (congruent.Length > 120 && congruent.Length < 280) (sprintf "about half the trials congruent: %d of 400" congruent.Length)
            let delays = values "delay"
            Expect.isTrue (delays |> Array.forall (fun d -> d >= 300.0 && d <= 3000.0)) "delays in [300, 3000] ms"
        }
        // The whole preset (a few seconds): its target is 90 % correct. A 32-unit, 30-epoch version
        // stays at chance on some seeds, so it would not test the preset.
        test "the perceptual decision preset learns the task: at least 90 % correct, near the ideal observer" {
            use r = Presets.train (Presets.perceptualDecision 0)
            let batch, conditions = Presets.perceptualDecisionTask.GenerateTrials 256 (Presets.validationSeed 0)
            let right = Scoring.correct Presets.perceptualDecisionTask r.Network batch conditions
            let accuracy = float (right |> Array.filter id |> Array.length) / 256.0
            let ideal = Scoring.idealAccuracy Presets.perceptualDecisionTask batch conditions
            Expect.isGreaterThanOrEqual accuracy 0.9 (sprintf "accuracy %.3f (chance 0.5, ideal observer %.3f)" accuracy ideal)
            Expect.isGreaterThan accuracy (ideal - 0.05) "near the ideal observer"
        }
        test "bad settings are refused by name" {
            let refused f name =
                Expect.throwsC (fun () -> f () |> ignore) (fun e -> match e with InvalidArgument (a, _) -> Expect.equal a name "names the setting" | e -> failtestf "got %O" e)
            refused (fun () -> ClassicTasks.perceptualDecision { PerceptualDecisionConfig.defaults with Decision = 5.0 }) "decision"
            refused (fun () -> ClassicTasks.perceptualDecision { PerceptualDecisionConfig.defaults with Coherences = [] }) "coherences"
            refused (fun () -> ClassicTasks.perceptualDecision { PerceptualDecisionConfig.defaults with Sigma = -1.0 }) "sigma"
            refused (fun () -> ClassicTasks.contextDecision { ContextDecisionConfig.defaults with DelayMax = 100.0 }) "delay_max"
            refused (fun () -> ClassicTasks.contextDecision { ContextDecisionConfig.defaults with DelayMax = infinity }) "delay_max"
            refused (fun () -> ClassicTasks.contextDecision { ContextDecisionConfig.defaults with Mask = TrialMask.Yang }) "decision"
            refused (fun () -> ClassicTasks.parametricWorkingMemory { ParametricWorkingMemoryConfig.defaults with Pairs = [ 10.0, 18.0 ] }) "pairs"
            refused (fun () -> ClassicTasks.parametricWorkingMemory { ParametricWorkingMemoryConfig.defaults with Stimulus2 = 0.0 }) "stimulus2"
        }
    ]
