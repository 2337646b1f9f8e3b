/// Delayed match-to-category, go / no-go and ready-set-go: properties over random settings and
/// seeds, each checked by a rule written here, apart from the generator.
module RnnFun.Tests.ClassicTaskMoreTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open RnnFun

let private input (b: Batch) trial t k = b.Inputs[(trial * b.Time + t) * b.InputSize + k]
let private target (b: Batch) trial t k = b.Targets[(trial * b.Time + t) * b.OutputSize + k]
let private weight (b: Batch) trial t k = b.Mask.Value[(trial * b.Time + t) * b.OutputSize + k]

/// gyyang/multitask's mask written out for 20 ms steps: 0 in the first 5 steps, 1 until the go step,
/// 0 for 5 steps, then 5; the fixation output's doubled; the uniform mask 1 in the trial; 0 after it.
let private expectedWeight (yang: bool) (length: int) (go: int) (t: int) (k: int) =
    if t >= length then 0.0f
    elif not yang then 1.0f
    else
        let w = if t < 5 then 0.0f elif t < go then 1.0f elif t < go + 5 then 0.0f else 5.0f
        if k = 0 then 2.0f * w else w

let private checkEpochs (b: Batch) (c: TrialCondition) (names: string list) =
    Expect.equal (c.Epochs |> List.map (fun e -> e.Name)) names "the epochs, in order"
    Expect.equal (c.Epochs |> List.head).Start 0 "epochs start at 0"
    for e1, e2 in List.pairwise c.Epochs do Expect.equal e2.Start e1.Stop "epochs are contiguous"
    Expect.equal (c.Epochs |> List.last).Stop c.Length "epochs end at the trial's length"
    Expect.isLessThanOrEqual c.Length b.Time "the batch holds the trial"

let private checkMask (yang: bool) (b: Batch) (conditions: TrialCondition[]) (goOf: TrialCondition -> int) =
    for trial in 0 .. b.Trials - 1 do
        let c = conditions[trial]
        for t in 0 .. b.Time - 1 do
            for k in 0 .. b.OutputSize - 1 do
                Expect.equal (weight b trial t k) (expectedWeight yang c.Length (goOf c) t k) (sprintf "mask at step %d, output %d" t k)

let private checkSeeds (task: ClassicTask) =
    let a, ca = task.GenerateTrials 16 3
    let again, cagain = task.GenerateTrials 16 3
    Expect.equal (a, ca) (again, cagain) (task.Task.Name + ": same seed")
    let other, _ = task.GenerateTrials 16 4
    Expect.notEqual other.Inputs a.Inputs (task.Task.Name + ": other seed")
    Expect.equal (task.Task.Generate 16 3) a (task.Task.Name + ": Generate is GenerateTrials' batch")

let private asOutputs (b: Batch) = b.Targets |> Array.map float

[<Tests>]
let tests =
    testList "ClassicTasks, more" [
        testProp "delayed match-to-category: fixation until the go cue, and the target says whether both stimuli are in one half of the circle" (fun () ->
            let gen =
                gen {
                    let! durations = Gen.arrayOfLength 5 (Gen.choose (1, 12))
                    let! yang = Gen.elements [ false; true ]
                    let! seed = Gen.choose (0, 100000)
                    let ms i = 20.0 * float durations[i]
                    let config =
                        { DelayedMatchCategoryConfig.defaults with
                            Fixation = ms 0; Sample = ms 1; Delay = ms 2 - 20.0; Test = ms 3
                            Decision = (if yang then 20.0 * float (max 6 durations[4]) else ms 4)
                            Mask = if yang then TrialMask.Yang else TrialMask.Uniform }
                    return config, seed
                }
            Prop.forAll (Arb.fromGen gen) (fun (config, seed) ->
                let task = ClassicTasks.delayedMatchToCategory config
                let b, conditions = task.GenerateTrials 8 seed
                Batch.validate "b" b
                let clean, cleanConditions = (ClassicTasks.delayedMatchToCategory { config with Sigma = 0.0 }).GenerateTrials 8 seed
                Expect.equal cleanConditions conditions "noise leaves the conditions as they are"
                let steps ms = int (Math.Round(ms / 20.0))
                for trial in 0 .. 7 do
                    let c = conditions[trial]
                    checkEpochs b c [ "fixation"; "sample"; "delay"; "test"; "decision" ]
                    Expect.equal (c.Epochs |> List.map (fun e -> e.Stop - e.Start)) [ steps config.Fixation; steps config.Sample; steps config.Delay; steps config.Test; steps config.Decision ] "durations as configured"
                    let go = (c.Epoch "decision").Start
                    for t in 0 .. b.Time - 1 do
                        Expect.equal (input b trial t 0) (if t < go then 1.0f else 0.0f) "fixation input until the go cue"
                        Expect.equal (target b trial t 0) (input b trial t 0) "the fixation output follows it"
                    // The independent rule: the half of the circle each clean stimulus lies in.
                    let shownIn name = let e = c.Epoch name in [ for t in e.Start .. e.Stop - 1 -> input clean trial t 1, input clean trial t 2 ] |> List.distinct
                    match shownIn "sample", shownIn "test" with
                    | [ (sx, sy) ], [ (tx, ty) ] ->
                        Expect.floatClose Accuracy.low (float (sx * sx + sy * sy)) 1.0 "a direction on the unit circle"
                        let match' = (sy > 0.0f) = (ty > 0.0f)
                        let choice = if match' then 0 else 1
                        Expect.equal c.Choice choice "match: choice 1; non-match: choice 2"
                        for t in go .. c.Length - 1 do
                            Expect.equal (target b trial t (1 + choice), target b trial t (2 - choice)) (1.0f, 0.0f) "the choice after the go cue"
                    | s, t -> failtestf "constant stimuli expected without noise, got %A and %A" s t
                    for name in [ "fixation"; "delay"; "decision" ] do
                        let e = c.Epoch name
                        for t in e.Start .. e.Stop - 1 do Expect.equal (input b trial t 1, input b trial t 2) (0.0f, 0.0f) ("nothing shown in the " + name)
                checkMask (config.Mask = TrialMask.Yang) b conditions (fun c -> (c.Epoch "decision").Start)
                Expect.equal (Scoring.idealAccuracy task clean conditions) 1.0 "the ideal observer is right without noise"
                Expect.isTrue (task.Correct (asOutputs b) conditions |> Array.forall id) "the targets score 100 %"))
        testProp "go / no-go: respond after the go cue on go trials only, withhold on no-go trials" (fun () ->
            let gen =
                gen {
                    let! durations = Gen.arrayOfLength 4 (Gen.choose (1, 12))
                    let! yang = Gen.elements [ false; true ]
                    let! sigma = Gen.elements [ 0.0; 0.5 ]
                    let! seed = Gen.choose (0, 100000)
                    let ms i = 20.0 * float durations[i]
                    let config =
                        { GoNoGoConfig.defaults with
                            Fixation = ms 0 - 20.0; Stimulus = ms 1; Delay = ms 2 - 20.0
                            Decision = (if yang then 20.0 * float (max 6 durations[3]) else ms 3)
                            Sigma = sigma; Mask = if yang then TrialMask.Yang else TrialMask.Uniform }
                    return config, seed
                }
            Prop.forAll (Arb.fromGen gen) (fun (config, seed) ->
                let task = ClassicTasks.goNoGo config
                let b, conditions = task.GenerateTrials 8 seed
                Batch.validate "b" b
                Expect.equal (b.InputSize, b.OutputSize) (3, 2) "inputs [fixation; no-go; go], outputs [fixation; go]"
                let clean, _ = (ClassicTasks.goNoGo { config with Sigma = 0.0 }).GenerateTrials 8 seed
                for trial in 0 .. 7 do
                    let c = conditions[trial]
                    checkEpochs b c [ "fixation"; "stimulus"; "delay"; "decision" ]
                    let go = (c.Epoch "decision").Start
                    let s = c.Epoch "stimulus"
                    // The independent rule: the cue input that is on in the clean stimulus.
                    let cues = [ for t in s.Start .. s.Stop - 1 -> input clean trial t 1, input clean trial t 2 ] |> List.distinct
                    let isGo =
                        match cues with
                        | [ (0.0f, 1.0f) ] -> true
                        | [ (1.0f, 0.0f) ] -> false
                        | other -> failtestf "one cue at a time expected, got %A" other
                    Expect.equal c.Choice (if isGo then 0 else 1) "choice 0 is go"
                    for t in 0 .. b.Time - 1 do
                        Expect.equal (input b trial t 0) (if t < go then 1.0f else 0.0f) "fixation input until the go cue"
                        if t < s.Start || t >= s.Stop then Expect.equal (input b trial t 1, input b trial t 2) (0.0f, 0.0f) "no cue outside the stimulus"
                        let fixOut, goOut = if t < go then 1.0f, 0.0f elif isGo then 0.0f, 1.0f else 1.0f, 0.0f
                        Expect.equal (target b trial t 0, target b trial t 1) (fixOut, goOut) (sprintf "targets at step %d (go cue %d)" t go)
                        if isGo then Expect.equal (target b trial t 0) (input b trial t 0) "on go trials the fixation output follows the fixation input"
                checkMask (config.Mask = TrialMask.Yang) b conditions (fun c -> (c.Epoch "decision").Start)
                Expect.equal (Scoring.idealAccuracy task clean conditions) 1.0 "the ideal observer is right without noise"
                let outputs = asOutputs b
                Expect.isTrue (task.Correct outputs conditions |> Array.forall id) "the targets score 100 %"
                let swapped = outputs |> Array.mapi (fun i _ -> outputs[i ^^^ 1])
                Expect.isTrue (task.Correct swapped conditions |> Array.forall not) "fixation and go swapped score 0 %"))
        testProp "ready-set-go: respond Gain ts after the set flash, ts read off the ready and set inputs" (fun () ->
            let gen =
                gen {
                    let! fixation = Gen.choose (0, 6)
                    let! flash = Gen.choose (1, 5)
                    let! intervals = Gen.nonEmptyListOf (Gen.choose (flash + 1, 40))
                    let! gain = Gen.elements [ 0.5; 1.0; 1.5 ]
                    let! yang = Gen.elements [ false; true ]
                    let! seed = Gen.choose (0, 100000)
                    let intervals = if yang then intervals |> List.map (fun i -> max i 20) else intervals
                    let config =
                        { ReadySetGoConfig.defaults with
                            Fixation = 20.0 * float fixation; Flash = 20.0 * float flash; Intervals = intervals |> List.map (fun i -> 20.0 * float i)
                            Gain = gain; Mask = if yang then TrialMask.Yang else TrialMask.Uniform }
                    return config, seed
                }
            Prop.forAll (Arb.fromGen gen) (fun (config, seed) ->
                let task = ClassicTasks.readySetGo config
                let b, conditions = task.GenerateTrials 8 seed
                Batch.validate "b" b
                for trial in 0 .. 7 do
                    let c = conditions[trial]
                    checkEpochs b c [ "fixation"; "ready"; "measure"; "set"; "production" ]
                    let interval = c.Parameters |> List.find (fun (n, _) -> n = "interval") |> snd
                    Expect.contains config.Intervals interval "a configured interval"
                    // The independent rule: onsets of the ready and set inputs, the interval between
                    // them, and the response Gain times that after the set onset.
                    let onset k = [ 0 .. b.Time - 1 ] |> List.find (fun t -> input b trial t k = 1.0f)
                    let readyOn, setOn = onset 1, onset 2
                    Expect.equal (setOn - readyOn) (int (Math.Round(interval / 20.0))) "ts between the onsets"
                    let respond = setOn + int (Math.Round(config.Gain * float (setOn - readyOn)))
                    Expect.equal c.Choice respond "the response step"
                    Expect.equal c.Length (respond + int (Math.Round(config.Gain * float (setOn - readyOn))) |> max (setOn + int (Math.Round(config.Flash / 20.0)) + 1)) "the trial lasts 2 Gain ts after the set onset"
                    for t in 0 .. b.Time - 1 do
                        let inTrial = t < c.Length
                        Expect.equal (input b trial t 0) (if inTrial then 1.0f else 0.0f) "the fixation input is on all trial (no go cue)"
                        let flashOn (k: int) = let e = c.Epoch (if k = 1 then "ready" else "set") in t >= e.Start && t < e.Stop
                        for k in 1 .. 2 do Expect.equal (input b trial t k) (if flashOn k then 1.0f else 0.0f) "the flashes in their epochs"
                        let expected = if not inTrial then 0.0f, 0.0f elif t < respond then 1.0f, 0.0f else 0.0f, 1.0f
                        Expect.equal (target b trial t 0, target b trial t 1) expected (sprintf "targets at step %d (respond at %d)" t respond)
                checkMask (config.Mask = TrialMask.Yang) b conditions (fun c -> c.Choice)
                Expect.equal (Scoring.idealAccuracy task b conditions) 1.0 "the ideal observer times every trial"
                let outputs = asOutputs b
                Expect.isTrue (task.Correct outputs conditions |> Array.forall id) "the targets score 100 %"
                // A response 40 % of ts + 25 ms late (beyond neurogym's 20 % + 25 ms) is wrong.
                let late =
                    [| for trial in 0 .. 7 do
                         let c = conditions[trial]
                         let ts = c.Parameters |> List.find (fun (n, _) -> n = "interval") |> snd
                         let shift = int (Math.Ceiling((0.4 * config.Gain * ts + 25.0) / 20.0)) + 1
                         for t in 0 .. b.Time - 1 do
                             let goNow = t < c.Length && t >= c.Choice + shift
                             yield (if t < c.Length && not goNow then 1.0 else 0.0)
                             yield (if goNow then 1.0 else 0.0) |]
                let lateRight = task.Correct late conditions
                Expect.isTrue (Array.forall not lateRight) (sprintf "late responses are wrong: %A" lateRight)
                let early = outputs |> Array.mapi (fun i v -> if i % 2 = 1 then 1.0 else 0.0)
                Expect.isTrue (task.Correct early conditions |> Array.forall not) "responding from the start is wrong"))
        test "the same seed gives the same trials, different seeds differ" {
            for task in [ ClassicTasks.delayedMatchToCategory DelayedMatchCategoryConfig.defaults; ClassicTasks.goNoGo GoNoGoConfig.defaults
                          ClassicTasks.readySetGo ReadySetGoConfig.defaults ] do
                checkSeeds task
        }
        test "delayed match-to-category: both categories, both answers and directions all round the circle come up" {
            let _, conditions = (ClassicTasks.delayedMatchToCategory DelayedMatchCategoryConfig.defaults).GenerateTrials 400 0
            let named name (c: TrialCondition) = c.Parameters |> List.find (fun (n, _) -> n = name) |> snd
            let angles = conditions |> Array.map (named "sample_angle")
            Expect.isTrue (angles |> Array.forall (fun a -> a >= 0.0 && a < 2.0 * Math.PI)) "angles in [0, 2 pi)"
            let sectors = angles |> Array.map (fun a -> int (a / (Math.PI / 4.0))) |> Array.distinct
            Expect.equal sectors.Length 8 "every eighth of the circle"
            let matches = conditions |> Array.filter (fun c -> c.Choice = 0) |> Array.length
            Expect.isTrue (matches > 150 && matches < 250) (sprintf "about half match: %d of 400" matches)
            for c in conditions do
                Expect.equal (named "sample_category" c) (if named "sample_angle" c < Math.PI then 0.0 else 1.0) "the category is the half of the circle"
        }
        test "bad settings are refused by name" {
            let refused f name =
                Expect.throwsC (fun () -> f () |> ignore) (fun e -> match e with InvalidArgument (a, _) -> Expect.equal a name "names the setting" | e -> failtestf "got %O" e)
            refused (fun () -> ClassicTasks.delayedMatchToCategory { DelayedMatchCategoryConfig.defaults with Test = 0.0 }) "test"
            refused (fun () -> ClassicTasks.goNoGo { GoNoGoConfig.defaults with Sigma = nan }) "sigma"
            refused (fun () -> ClassicTasks.goNoGo { GoNoGoConfig.defaults with Decision = 100.0; Mask = TrialMask.Yang }) "decision"
            refused (fun () -> ClassicTasks.readySetGo { ReadySetGoConfig.defaults with Intervals = [] }) "intervals"
            refused (fun () -> ClassicTasks.readySetGo { ReadySetGoConfig.defaults with Intervals = [ 60.0 ] }) "intervals"
            refused (fun () -> ClassicTasks.readySetGo { ReadySetGoConfig.defaults with Gain = 0.0 }) "gain"
        }
    ]
