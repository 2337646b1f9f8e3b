/// Trials of your own (`TrialData`, `Trials`, `TrialFile`): files NumPy itself wrote
/// (tests/fixtures/numpy/make_trial_fixtures.py), one sentence per bad file, lengths and masks in
/// the loss, the validation split, and the states a search starts from.
module RnnFun.Tests.TrialFileTests

open System
open System.IO
open Expecto
open RnnFun

let private fixture name = Path.Combine(__SOURCE_DIRECTORY__, "..", "fixtures", "numpy", "trials", name)

// The fixtures' values, computed here independently of the Python script's expressions' evaluation.
let private trials, time = 6, 8
let private expectedInputs =
    [| for i in 0 .. trials - 1 do for t in 0 .. time - 1 do for k in 0 .. 1 -> float32 (((i * 7 + t * 3 + k) % 5) - 2) / 4.0f |]
let private expectedTargets = [| for i in 0 .. trials - 1 do for t in 0 .. time - 1 -> float32 (float (i + t) / 8.0) |]
let private expectedLengths = [| 8; 5; 8; 3; 1; 6 |]
let private expectedMask = [| for _ in 0 .. trials - 1 do for t in 0 .. time - 1 -> if t < 2 then 0.0f else 1.0f |]

let private problemOf (f: unit -> 'a) =
    try
        f () |> ignore
        None
    with
    | FileFormatError (_, problem) -> Some problem
    | InvalidArgument (_, problem) -> Some problem

/// A small network and trials for it: random inputs and targets, per-value mask and lengths.
let private randomTrials (seed: int) =
    let random = Random(seed)
    let trials, time, inputs, outputs = 5, 6, 2, 2
    let draw () = float32 (random.NextDouble() * 2.0 - 1.0)
    let x = Array3D.init trials time inputs (fun _ _ _ -> draw ())
    let y = Array3D.init trials time outputs (fun _ _ _ -> draw ())
    // At least the first step of each output counts, so that no trial is all zero by chance.
    let m = Array3D.init trials time outputs (fun _ t _ -> if t = 0 || random.NextDouble() < 0.6 then 1.0f else 0.0f)
    let lengths = [| 6; 3; 1; 4; 2 |]
    x, y, m, lengths

[<Tests>]
let tests =
    testList "TrialFile" [
        test "NumPy's savez and savez_compressed files read back exactly: float32 and float64, a bool mask, int64 lengths" {
            for name in [ "good.npz"; "good_compressed.npz" ] do
                let d = TrialFile.load (fixture name)
                Expect.equal (d.Trials, d.Time, d.InputSize, d.OutputSize) (trials, time, 2, 1) (name + ": sizes")
                Expect.equal d.Inputs expectedInputs (name + ": inputs")
                Expect.equal d.Targets (Some expectedTargets) (name + ": targets")
                Expect.equal d.Mask (Some expectedMask) (name + ": mask")
                Expect.equal d.Lengths (Some expectedLengths) (name + ": lengths")
            let step = TrialFile.load (fixture "step_mask.npz")
            Expect.equal step.Mask (Some expectedMask) "a [trials; time] mask"
            Expect.isNone step.Lengths "no lengths"
            for name in [ "inputs_only.npz"; "inputs_only.npy" ] do
                let d = TrialFile.load (fixture name)
                Expect.equal d.Inputs expectedInputs (name + ": inputs")
                Expect.isNone d.Targets (name + ": no targets")
                Expect.equal d.OutputSize 0 (name + ": no outputs")
        }
        test "each bad file is refused with one sentence that says what is wrong" {
            let cases =
                [ "positional.npz", "unknown array 'arr_0' (numpy.savez names positional arrays"
                  "no_inputs.npz", "no array 'inputs' [trials; time; inputs] (found targets)"
                  "targets_time.npz", "'targets' has shape (6, 7, 1) but 'inputs' (6, 8, 2)"
                  "inputs_2d.npz", "'inputs' has shape (6, 8): expected 3 dimensions"
                  "zero_trials.npz", "'inputs' has shape (0, 8, 2): expected at least one trial"
                  "nan_inputs.npz", "'inputs' holds NaN at [2, 3, 1]"
                  "inf_targets.npz", "'targets' holds Infinity at [1, 0, 0]"
                  "complex.npz", "array 'inputs': dtype '<c8' is not supported"
                  "strings.npz", "array 'targets': dtype '<U1' is not supported"
                  "big_endian.npz", "dtype '>f4' is not supported"
                  "mask_shape.npz", "'mask' has shape (6, 8, 1, 1): expected the targets' shape (6, 8, 1)"
                  "mask_negative.npz", "'mask' holds -1 at [0, 2, 0]: expected weights >= 0"
                  "mask_zero.npz", "the mask is zero everywhere"
                  "lengths_long.npz", "'lengths'[2] is 9: expected a whole number of steps in 1..8"
                  "lengths_zero.npz", "'lengths'[2] is 0"
                  "lengths_fraction.npz", "'lengths'[0] is 8.5"
                  "lengths_count.npz", "'lengths' has shape (5,): expected (6,)"
                  "typo.npz", "unknown array 'lenghts'"
                  "empty.npz", "the file is empty"
                  "not_numpy.npz", "neither a .npz archive nor a .npy file"
                  "missing.npz", "no such file" ]
            for name, fragment in cases do
                match problemOf (fun () -> TrialFile.load (fixture name)) with
                | Some problem ->
                    Expect.stringContains problem fragment (name + ": the sentence")
                    Expect.isFalse (problem.Contains '\n') (name + ": one line")
                | None -> failtestf "%s was read, expected a FileFormatError" name
            // Inputs alone are trials (for a fixed-point search), but not training data.
            Expect.isNone (problemOf (fun () -> TrialFile.load (fixture "no_targets.npz"))) "load takes inputs alone"
            for name, fragment in [ "no_targets.npz", "no array 'targets': training needs targets"; "inputs_only.npy", "a .npy file holds one array (the inputs)" ] do
                Expect.stringContains (defaultArg (problemOf (fun () -> TrialFile.loadForTraining (fixture name))) "") fragment (name + ": for training")
        }
        test "lengths and a per-value mask weight the loss: steps beyond a trial's length count for nothing" {
            let x, y, m, lengths = randomTrials 3
            use net = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 2; Units = 4; OutputSize = 2; Seed = 5L }
            use trainer = Training.start FitConfig.defaults net
            let run = Pipeline.trajectories None net (Trials.toBatch (Trials.create x (Some y) None None))
            // The weighted mean, by hand, over the steps within each length.
            let expected (useMask: bool) =
                let mutable sum, weight = 0.0, 0.0
                for b in 0 .. 4 do
                    for t in 0 .. lengths[b] - 1 do
                        for k in 0 .. 1 do
                            let w = if useMask then float m[b, t, k] else 1.0
                            let e = float run.Outputs[(b * 6 + t) * 2 + k] - float y[b, t, k]
                            sum <- sum + w * e * e
                            weight <- weight + w
                sum / weight
            let withLengths = Trials.create x (Some y) None (Some lengths)
            Expect.floatClose Accuracy.medium (Training.evaluate trainer (Trials.toBatch withLengths)) (expected false) "lengths alone"
            let both = Trials.create x (Some y) (Some m) (Some lengths)
            Expect.floatClose Accuracy.medium (Training.evaluate trainer (Trials.toBatch both)) (expected true) "mask and lengths"
            // Padding holds anything: changing the targets beyond the lengths changes nothing.
            let padded = Array3D.mapi (fun b t _ v -> if t >= lengths[b] then 100.0f else v) y
            let again = Trials.create x (Some padded) (Some m) (Some lengths)
            Expect.equal (Training.evaluate trainer (Trials.toBatch again)) (Training.evaluate trainer (Trials.toBatch both)) "padding ignored"
            Expect.isGreaterThan (abs (Training.evaluate trainer (Trials.toBatch (Trials.create x (Some padded) None None)) - expected false)) 1.0 "without lengths it counts"
        }
        test "training on trials with lengths: fit runs on them (a dataset) and its loss falls" {
            let task = Tasks.flipFlop { FlipFlopConfig.defaults with Bits = 2; Time = 16 }
            let batch = task.Generate 64 1
            let lengths = Array.init 64 (fun i -> 8 + i % 9)
            let data = Trials.ofBatch (Some lengths) batch
            use net = Network.create Kinds.rnn (Trials.networkConfig 0 data |> fun c -> { c with Units = 16 })
            let config = { Trials.fitConfig 0 with Epochs = 15; LearningRate = 1e-2; BatchSize = 16 }
            use r = Training.fit config net (TrainingData.Dataset(Trials.toBatch data))
            Expect.isLessThan r.Losses[r.Losses.Length - 1] (0.7 * r.Losses[0]) "the loss falls"
        }
        test "arrays from the API are checked as files are, and make the same trials" {
            let d = TrialFile.load (fixture "good.npz")
            let x = Array3D.init trials time 2 (fun i t k -> expectedInputs[(i * time + t) * 2 + k])
            let y = Array3D.init trials time 1 (fun i t _ -> expectedTargets[i * time + t])
            let m = Array3D.init trials time 1 (fun i t _ -> expectedMask[i * time + t])
            Expect.equal (Trials.create x (Some y) (Some m) (Some expectedLengths)) d "the same trials"
            let short = Array3D.init trials (time - 1) 1 (fun _ _ _ -> 0.0f)
            Expect.stringContains (defaultArg (problemOf (fun () -> Trials.create x (Some short) None None)) "") "'targets' has shape (6, 7, 1)" "mismatched targets"
            Expect.stringContains (defaultArg (problemOf (fun () -> Trials.create x (Some y) None (Some [| 1; 2 |]))) "") "'lengths' has shape (2,)" "lengths count"
            let nan = Array3D.map id x
            nan[1, 2, 0] <- Single.NaN
            Expect.stringContains (defaultArg (problemOf (fun () -> Trials.create nan (Some y) None None)) "") "'inputs' holds NaN at [1, 2, 0]" "NaN"
            Expect.stringContains (defaultArg (problemOf (fun () -> Trials.toBatch (Trials.create x None None None))) "") "no targets" "no targets, no batch"
        }
        test "save writes a .npz that load (and NumPy) reads back" {
            withTempDir (fun dir ->
                let d = TrialFile.load (fixture "good.npz")
                let path = Path.Combine(dir, "back.npz")
                TrialFile.save path d
                Expect.equal (TrialFile.load path) d "round trip"
                let step = TrialFile.load (fixture "step_mask.npz")
                TrialFile.save path step
                Expect.equal (TrialFile.load path) step "a per-step mask, no lengths"
                let python = "/usr/bin/python3"
                if File.Exists python then
                    TrialFile.save path d
                    let info = Diagnostics.ProcessStartInfo(python, [ "-c"; "import sys, numpy as np; f = np.load(sys.argv[1]); print(sorted(f.files), f['inputs'].shape, f['lengths'].dtype, float(f['targets'].sum()))"; path ], RedirectStandardOutput = true, RedirectStandardError = true)
                    use p = Diagnostics.Process.Start info
                    let out = p.StandardOutput.ReadToEnd()
                    p.WaitForExit()
                    if p.ExitCode = 0 then
                        let sum = expectedTargets |> Array.sumBy float
                        Expect.equal (out.Trim()) (sprintf "['inputs', 'lengths', 'mask', 'targets'] (6, 8, 2) int64 %s" (sum.ToString("0.0###", Globalization.CultureInfo.InvariantCulture))) "NumPy reads it"
                    else eprintfn "NumPy check skipped: %s" (p.StandardError.ReadToEnd().Trim())
            )
        }
        test "the validation split: seeded, disjoint, covering, at least one trial each side" {
            let d = TrialFile.load (fixture "good.npz")
            let training, validation = Trials.split 0.34 7 d
            Expect.equal (training.Trials, validation.Trials) (4, 2) "round(0.34 * 6) = 2 held out"
            let ids (part: TrialData) = part.Lengths.Value |> Array.toList
            Expect.equal (List.sort (ids training @ ids validation)) (List.sort (List.ofArray expectedLengths)) "every trial once"
            Expect.equal (Trials.split 0.34 7 d) (training, validation) "same seed, same split"
            let splits = [ for s in 0 .. 9 -> snd (Trials.split 0.34 s d) |> fun v -> v.Inputs ] |> List.distinct
            Expect.isGreaterThan splits.Length 1 "seeds differ"
            let _, one = Trials.split 0.01 0 d
            Expect.equal one.Trials 1 "at least one"
            Expect.isSome (problemOf (fun () -> Trials.split 1.0 0 d)) "a fraction of 1 is refused"
        }
        test "a search starts from the states within each trial's length" {
            let d = TrialFile.load (fixture "good.npz")
            use net = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 2; Units = 3; OutputSize = 1 }
            let run = Trials.trajectories None net d
            let states = Trials.statesWithin d run
            Expect.equal states.Length (Array.sum expectedLengths) "sum of the lengths"
            Expect.equal (states[8]) (run.States[1][0]) "trial 1 starts after trial 0's 8 steps"
            Expect.equal (states[8 + 5]) (run.States[2][0]) "trial 1 has 5"
            use wide = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 3; Units = 3; OutputSize = 1 }
            Expect.stringContains (defaultArg (problemOf (fun () -> Trials.trajectories None wide d)) "") "2 inputs per step but the network has 3" "sizes"
        }
    ]
