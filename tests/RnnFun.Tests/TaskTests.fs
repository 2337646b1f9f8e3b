module RnnFun.Tests.TaskTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open RnnFun

let private at (b: Batch) width trial t k = (trial * b.Time + t) * width + k

/// The last non-zero input of channel k at or before t: the flip-flop's definition of its target.
let private lastPulse (b: Batch) trial t k =
    let mutable last = 0.0f
    for s in 0 .. t do
        let x = b.Inputs[at b b.InputSize trial s k]
        if x <> 0.0f then last <- x
    last

/// The FixedPointFinder-form flip-flop as first written, with `System.Random`: the batches of the
/// library's faster loop (its own draw of the same stream) must equal these, value for value, so that
/// every seeded result stays as it was.
let private flipFlopReference (bits: int) (time: int) (p: float) (trials: int) (seed: int) =
    let random = Random(seed)
    let inputs = Array.zeroCreate<float32> (trials * time * bits)
    let targets = Array.zeroCreate<float32> (trials * time * bits)
    let at trial t k = (trial * time + t) * bits + k
    for trial in 0 .. trials - 1 do
        for k in 0 .. bits - 1 do
            for t in 0 .. time - 1 do
                let pulse = t = 0 || random.NextDouble() < p
                let sign = if random.NextDouble() < 0.5 then -1.0f else 1.0f
                if pulse then inputs[at trial t k] <- sign
            let mutable last = 0.0f
            for t in 0 .. time - 1 do
                let x = inputs[at trial t k]
                if x <> 0.0f then last <- x
                targets[at trial t k] <- last
    inputs, targets

[<Tests>]
let tests =
    testList "Tasks" [
        test "flip-flop (FixedPointFinder form): the batches System.Random(seed) gives, for every seed form" {
            // Negative seeds are the presets' validation seeds; Int32.MinValue is System.Random's special case.
            for seed in [ 0; 1; 2; 7; 12345; -1; -5; Int32.MaxValue; Int32.MinValue; Int32.MinValue + 1 ] do
                for bits, time, p, trials in [ 3, 64, 0.2, 64; 1, 1, 0.5, 3; 5, 37, 0.9, 7 ] do
                    let b = (Tasks.flipFlop { FlipFlopConfig.defaults with Bits = bits; Time = time; PulseProbability = p }).Generate trials seed
                    let inputs, targets = flipFlopReference bits time p trials seed
                    Expect.equal b.Inputs inputs (sprintf "inputs, seed %d, %d bits, T = %d" seed bits time)
                    Expect.equal b.Targets targets (sprintf "targets, seed %d, %d bits, T = %d" seed bits time)
        }

        testProp "flip-flop (FixedPointFinder form): values, first step, target = last pulse" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (1, 5)) (Gen.choose (1, 40)) (Gen.choose (0, 10000)))) (fun (bits, time, seed) ->
                let task = Tasks.flipFlop { FlipFlopConfig.defaults with Bits = bits; Time = time; PulseProbability = 0.3 }
                let b = task.Generate 4 seed
                Batch.validate "b" b
                Expect.isTrue (b.Inputs |> Array.forall (fun x -> x = -1.0f || x = 0.0f || x = 1.0f)) "inputs in {-1,0,1}"
                Expect.isTrue (b.Targets |> Array.forall (fun y -> y = -1.0f || y = 1.0f)) "targets in {-1,1}"
                for trial in 0 .. 3 do
                    for k in 0 .. bits - 1 do
                        Expect.notEqual b.Inputs[at b bits trial 0 k] 0.0f "t = 0 always pulses"
                        for t in 0 .. time - 1 do
                            Expect.equal b.Targets[at b bits trial t k] (lastPulse b trial t k) "target = sign of the last pulse"
                Expect.equal (task.Generate 4 seed) b "same seed, same batch"
                true))

        test "flip-flop (FixedPointFinder form): pulse rate ~ p and signs balanced" {
            let p = 0.2
            let b = (Tasks.flipFlop { FlipFlopConfig.defaults with Time = 200; PulseProbability = p }).Generate 50 1
            // Steps after t = 0 pulse with probability p.
            let later = [| for trial in 0 .. 49 do for t in 1 .. 199 do for k in 0 .. 2 -> b.Inputs[at b 3 trial t k] |]
            let n = float later.Length
            let rate = float (later |> Array.filter ((<>) 0.0f) |> Array.length) / n
            Expect.isLessThan (abs (rate - p)) (4.0 * sqrt (p * (1.0 - p) / n)) (sprintf "rate %g" rate)
            let pulses = later |> Array.filter ((<>) 0.0f)
            let plus = float (pulses |> Array.filter ((=) 1.0f) |> Array.length) / float pulses.Length
            Expect.isLessThan (abs (plus - 0.5)) (4.0 * sqrt (0.25 / float pulses.Length)) (sprintf "share of +1 %g" plus)
        }

        testProp "flip-flop (pyrnn form): first step +1, at most floor(T/200) pulses of each sign, target = last pulse" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (2, 1500)) (Gen.choose (0, 10000)))) (fun (time, seed) ->
                let b = (Tasks.flipFlop { FlipFlopConfig.defaults with Time = time; Form = FlipFlopForm.Pyrnn }).Generate 3 seed
                for trial in 0 .. 2 do
                    for k in 0 .. 2 do
                        Expect.equal b.Inputs[at b 3 trial 0 k] 1.0f "X[0] = 1"
                        Expect.equal b.Targets[at b 3 trial 0 k] 1.0f "Y[0] = 1"
                        let later = [| for t in 1 .. time - 1 -> b.Inputs[at b 3 trial t k] |]
                        Expect.isLessThanOrEqual (later |> Array.filter ((=) 1.0f) |> Array.length) (time / 200) "+1 pulses"
                        Expect.isLessThanOrEqual (later |> Array.filter ((=) -1.0f) |> Array.length) (time / 200) "-1 pulses"
                        for t in 0 .. time - 1 do
                            Expect.equal b.Targets[at b 3 trial t k] (lastPulse b trial t k) "target"
                true))

        test "flip-flop (pyrnn form): T = 2048 gives 10 pulses of each sign barring collisions" {
            let b = (Tasks.flipFlop { FlipFlopConfig.defaults with Time = 2048; Form = FlipFlopForm.Pyrnn }).Generate 20 3
            let counts = [ for trial in 0 .. 19 do for k in 0 .. 2 -> [| for t in 1 .. 2047 -> b.Inputs[at b 3 trial t k] |] |> Array.filter ((<>) 0.0f) |> Array.length ]
            Expect.isTrue (counts |> List.forall (fun c -> c <= 20 && c >= 16)) (sprintf "pulse counts %A" counts)
        }

        testProp "integrator: speeds from the set, heading in (-1, 1] = atan2(sin y, cos y)/pi, (cos, sin) consistent" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (1, 3)) (Gen.choose (1, 120)) (Gen.choose (0, 10000)))) (fun (channels, time, seed) ->
                let config = { IntegratorConfig.defaults with Channels = channels; Time = time }
                let angle = (Tasks.integrator { config with Encoding = HeadingEncoding.Angle }).Generate 3 seed
                let cosSin = (Tasks.integrator config).Generate 3 seed
                Expect.equal angle.Inputs cosSin.Inputs "same inputs for the same seed"
                Expect.equal cosSin.OutputSize (2 * channels) "two outputs per channel"
                let speeds = config.Speeds |> List.map float32
                Expect.isTrue (angle.Inputs |> Array.forall (fun x -> List.contains x speeds)) "speeds from the set"
                for trial in 0 .. 2 do
                    for c in 0 .. channels - 1 do
                        let mutable y = 0.0
                        for t in 0 .. time - 1 do
                            y <- y + float angle.Inputs[at angle channels trial t c]
                            let heading = float angle.Targets[at angle channels trial t c]
                            Expect.isTrue (heading > -1.0 && heading <= 1.0) "heading in (-1, 1]"
                            // Compare on the circle: headings near +-1 are the same angle.
                            let expected = atan2 (sin y) (cos y) / Math.PI
                            let d = abs (heading - expected)
                            Expect.isLessThan (min d (2.0 - d)) 1e-4 "heading = atan2(sin y, cos y)/pi"
                            let co = float cosSin.Targets[at cosSin (2 * channels) trial t (2 * c)]
                            let si = float cosSin.Targets[at cosSin (2 * channels) trial t (2 * c + 1)]
                            Expect.isLessThan (abs (co * co + si * si - 1.0)) 1e-5 "on the unit circle"
                            let fromCosSin = atan2 si co / Math.PI
                            let d2 = abs (fromCosSin - heading)
                            Expect.isLessThan (min d2 (2.0 - d2)) 1e-4 "encodings agree"
                true))

        test "integrator: speed switches at about the switch probability" {
            let config = { IntegratorConfig.defaults with Time = 500; SwitchProbability = 0.05 }
            let b = (Tasks.integrator config).Generate 40 2
            let changes = [| for trial in 0 .. 39 do for t in 1 .. 499 -> b.Inputs[at b 1 trial t 0] <> b.Inputs[at b 1 trial (t - 1) 0] |]
            let rate = float (changes |> Array.filter id |> Array.length) / float changes.Length
            // A switch draws again from 6 speeds, so 1/6 of switches keep the same speed.
            let expected = 0.05 * 5.0 / 6.0
            Expect.isLessThan (abs (rate - expected)) (4.0 * sqrt (expected / float changes.Length)) (sprintf "change rate %g" rate)
        }

        test "integrator: input noise perturbs inputs but not targets" {
            let config = IntegratorConfig.defaults
            let clean = (Tasks.integrator config).Generate 2 5
            let noisy = (Tasks.integrator { config with InputNoise = 0.01 }).Generate 2 5
            Expect.notEqual noisy.Inputs clean.Inputs "inputs differ"
            Expect.isLessThan (maxAbsDiff (Array.map float noisy.Inputs) (Array.map float clean.Inputs)) 0.1 "small noise"
            Expect.equal noisy.Targets clean.Targets "targets from the clean speeds"
        }

        testProp "sine: a constant input J/levels per trial and its sine target" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.choose (0, 10000))) (fun seed ->
                let config = SineConfig.defaults
                let b = (Tasks.sine config).Generate 5 seed
                for trial in 0 .. 4 do
                    let input = b.Inputs[trial * b.Time]
                    Expect.isTrue (Array.sub b.Inputs (trial * b.Time) b.Time |> Array.forall ((=) input)) "constant input"
                    let j = float input * float config.Levels
                    Expect.isLessThan (abs (j - round j)) 1e-4 "input is J / levels"
                    let omega = 0.1 + Math.Round(0.5 * float input, 1)
                    Expect.isTrue (omega >= 0.1 && omega <= 0.6 + 1e-9) "frequency in [0.1, 0.6]"
                    for t in 0 .. b.Time - 1 do
                        let expected = sin (2.0 * Math.PI * omega * float t * config.Dt)
                        Expect.isLessThan (abs (float b.Targets[trial * b.Time + t] - expected)) 1e-6 "sin(2 pi omega t)"
                true))

        test "bad task configs fail naming the argument" {
            let arg, _ = expectInvalid (fun () -> Tasks.flipFlop { FlipFlopConfig.defaults with PulseProbability = 1.5 }) "p"
            Expect.equal arg "pulse_probability" "names p"
            let arg, _ = expectInvalid (fun () -> Tasks.integrator { IntegratorConfig.defaults with Speeds = [] }) "speeds"
            Expect.equal arg "speeds" "names speeds"
            let arg, _ = expectInvalid (fun () -> Tasks.sine { SineConfig.defaults with Time = 0 }) "time"
            Expect.equal arg "time" "names time"
        }
    ]
