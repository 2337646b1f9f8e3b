namespace RnnFun

open System

/// A batch of trials as plain data (row-major, batch-first).
type Batch =
    { /// [batch; time; inputs], row-major
      Inputs: float32[]
      /// [batch; time; outputs], row-major
      Targets: float32[]
      /// [batch; time]: weight of each time step in the loss (1 counts, 0 ignored), or [batch; time;
      /// outputs]: weight of each target value; None: all count.
      Mask: float32[] option
      Trials: int
      Time: int
      InputSize: int
      OutputSize: int }

/// A task: a name, its sizes and a generator of batches (a pure function of trial count and seed).
type Task =
    { Name: string
      InputSize: int
      OutputSize: int
      /// trials -> seed -> a batch
      Generate: int -> int -> Batch }

/// Which published form of the flip-flop task.
[<RequireQualifiedAccess>]
type FlipFlopForm =
    /// pyrnn: floor(T/200) pulses of each sign per channel at uniform times, a +1 pulse on every channel at t = 0.
    | Pyrnn
    /// FixedPointFinder: each step and bit pulses with a probability, random sign; t = 0 always pulses.
    | FixedPointFinder

type FlipFlopConfig =
    { Bits: int
      Time: int
      Form: FlipFlopForm
      /// Pulse probability per step and bit (FixedPointFinder form).
      PulseProbability: float }

    /// 3 bits, 64 steps, FixedPointFinder form with p = 0.2.
    static member defaults = { Bits = 3; Time = 64; Form = FlipFlopForm.FixedPointFinder; PulseProbability = 0.2 }

/// How the integrator's target encodes the heading.
[<RequireQualifiedAccess>]
type HeadingEncoding =
    /// atan2(sin y, cos y) / pi in (-1, 1] (pyrnn): jumps at +-pi.
    | Angle
    /// (cos y, sin y): two outputs per channel, continuous.
    | CosSin

type IntegratorConfig =
    { Channels: int
      Time: int
      Speeds: float list
      SwitchProbability: float
      /// Standard deviation of Gaussian noise added to the inputs after the target is computed.
      InputNoise: float
      Encoding: HeadingEncoding }

    /// 1 channel, 100 steps, speeds -.3..+.3, switch probability 0.05, no noise, (cos, sin) target.
    static member defaults =
        { Channels = 1
          Time = 100
          Speeds = [ -0.3; -0.2; -0.1; 0.1; 0.2; 0.3 ]
          SwitchProbability = 0.05
          InputNoise = 0.0
          Encoding = HeadingEncoding.CosSin }

type SineConfig =
    { Time: int
      /// Time step in task time units (pyrnn: 0.01).
      Dt: float
      /// Number of input levels J/Levels, J in 0..Levels-1 (pyrnn: 51).
      Levels: int }

    /// 200 steps of 0.01, 51 levels (pyrnn uses 500 steps).
    static member defaults = { Time = 200; Dt = 0.01; Levels = 51 }

[<RequireQualifiedAccess>]
module Batch =
    /// Checks a batch is consistent (array lengths, finite values); raises `InvalidArgument`.
    let validate (name: string) (b: Batch) =
        Check.positive (name + ".trials") b.Trials
        Check.positive (name + ".time") b.Time
        let expect what (actual: int) (expected: int) =
            if actual <> expected then
                Check.fail (name + "." + what) (sprintf "expected %d values (%d trials x %d steps x ...), got %d" expected b.Trials b.Time actual)
        expect "inputs" b.Inputs.Length (b.Trials * b.Time * b.InputSize)
        expect "targets" b.Targets.Length (b.Trials * b.Time * b.OutputSize)
        match b.Mask with
        | Some m when m.Length = b.Trials * b.Time * b.OutputSize -> ()
        | Some m -> expect "mask" m.Length (b.Trials * b.Time)
        | None -> ()
        let finite (a: float32[]) = a |> Array.forall (fun v -> not (Single.IsNaN v || Single.IsInfinity v))
        if not (finite b.Inputs) then Check.fail (name + ".inputs") "found NaN or Inf"
        if not (finite b.Targets) then Check.fail (name + ".targets") "found NaN or Inf"
        match b.Mask with
        | Some m when not (finite m) -> Check.fail (name + ".mask") "found NaN or Inf"
        | _ -> ()

    /// Trials [start, start + count) of a batch.
    let slice (start: int) (count: int) (b: Batch) =
        { b with
            Inputs = Array.sub b.Inputs (start * b.Time * b.InputSize) (count * b.Time * b.InputSize)
            Targets = Array.sub b.Targets (start * b.Time * b.OutputSize) (count * b.Time * b.OutputSize)
            // A mask per step or per target value: its width per trial tells which.
            Mask = b.Mask |> Option.map (fun m -> let w = m.Length / b.Trials in Array.sub m (start * w) (count * w))
            Trials = count }

    /// The given trials of a batch, in that order.
    let select (trials: int[]) (b: Batch) =
        let gather (a: float32[]) width = trials |> Array.collect (fun i -> Array.sub a (i * width) width)
        { b with
            Inputs = gather b.Inputs (b.Time * b.InputSize)
            Targets = gather b.Targets (b.Time * b.OutputSize)
            Mask = b.Mask |> Option.map (fun m -> gather m (m.Length / b.Trials))
            Trials = trials.Length }

[<RequireQualifiedAccess>]
module Tasks =
    /// The 3-bit (n-bit) flip-flop: inputs in {-1, 0, 1}, targets the sign of the last pulse per bit.
    let flipFlop (config: FlipFlopConfig) : Task =
        Check.positive "bits" config.Bits
        Check.positive "time" config.Time
        if config.Form = FlipFlopForm.FixedPointFinder && (config.PulseProbability < 0.0 || config.PulseProbability > 1.0 || Double.IsNaN config.PulseProbability) then
            Check.fail "pulse_probability" (sprintf "expected a number in [0, 1], got %g" config.PulseProbability)
        let generate trials seed =
            Check.positive "trials" trials
            let random = SeededUniform(seed) // System.Random(seed)'s numbers, drawn faster
            let bits, time = config.Bits, config.Time
            let inputs = Array.zeroCreate<float32> (trials * time * bits)
            let targets = Array.zeroCreate<float32> (trials * time * bits)
            let at trial t k = (trial * time + t) * bits + k
            for trial in 0 .. trials - 1 do
                for k in 0 .. bits - 1 do
                    match config.Form with
                    | FlipFlopForm.Pyrnn ->
                        let pulses = time / 200
                        // Drawn as numpy's uniform(1, T-1).astype(int): times in [1, T-2].
                        let draw () = 1 + int (random.NextDouble() * float (max 0 (time - 2)))
                        let plus = Array.init pulses (fun _ -> draw ())
                        let minus = Array.init pulses (fun _ -> draw ())
                        for t in plus do if t < time then inputs[at trial t k] <- 1.0f
                        for t in minus do if t < time then inputs[at trial t k] <- -1.0f
                        inputs[at trial 0 k] <- 1.0f
                    | FlipFlopForm.FixedPointFinder ->
                        // A plain index walk (a fresh batch every training step: this loop is on the
                        // preset path's clock); the draws come in the same order as ever.
                        // The sign as -1 or +1 without a branch (it is a coin toss, which no
                        // branch predictor guesses): u < 0.5 exactly when int (2 u) = 0.
                        let sign (u: float) = float32 (int (u * 2.0)) * 2.0f - 1.0f
                        let p = config.PulseProbability
                        let first = at trial 0 k
                        inputs[first] <- sign (random.NextDouble()) // t = 0 always pulses
                        let mutable i = first + bits
                        for _ in 1 .. time - 1 do
                            let pulse = random.NextDouble() < p
                            let s = sign (random.NextDouble())
                            inputs[i] <- (if pulse then s else 0.0f)
                            i <- i + bits
                    let mutable last = 0.0f
                    let mutable i = at trial 0 k
                    for _ in 0 .. time - 1 do
                        let x = inputs[i]
                        last <- (if x <> 0.0f then x else last)
                        targets[i] <- last
                        i <- i + bits
            { Inputs = inputs; Targets = targets; Mask = None; Trials = trials; Time = time; InputSize = bits; OutputSize = bits }
        { Name = "flipflop"; InputSize = config.Bits; OutputSize = config.Bits; Generate = generate }

    /// The angular integrator: angular speeds in, heading out (angle or (cos, sin)), per channel.
    let integrator (config: IntegratorConfig) : Task =
        Check.positive "channels" config.Channels
        Check.positive "time" config.Time
        if List.isEmpty config.Speeds then Check.fail "speeds" "expected at least one speed"
        if config.SwitchProbability < 0.0 || config.SwitchProbability > 1.0 || Double.IsNaN config.SwitchProbability then
            Check.fail "switch_probability" (sprintf "expected a number in [0, 1], got %g" config.SwitchProbability)
        if config.InputNoise < 0.0 || Double.IsNaN config.InputNoise then
            Check.fail "input_noise" (sprintf "expected a number >= 0, got %g" config.InputNoise)
        let speeds = Array.ofList config.Speeds
        let perChannel = match config.Encoding with HeadingEncoding.Angle -> 1 | HeadingEncoding.CosSin -> 2
        let outputs = config.Channels * perChannel
        let generate trials seed =
            Check.positive "trials" trials
            let random = Random(seed)
            // Noise from its own stream, so that noise leaves the clean inputs and targets as they were.
            let noiseRandom = Random(seed ^^^ 0x5bd1e995)
            let k, time = config.Channels, config.Time
            let inputs = Array.zeroCreate<float32> (trials * time * k)
            let targets = Array.zeroCreate<float32> (trials * time * outputs)
            for trial in 0 .. trials - 1 do
                for c in 0 .. k - 1 do
                    let mutable speed = speeds[random.Next speeds.Length]
                    let mutable y = 0.0
                    for t in 0 .. time - 1 do
                        if t > 0 && random.NextDouble() < config.SwitchProbability then speed <- speeds[random.Next speeds.Length]
                        y <- y + speed
                        let noise = if config.InputNoise > 0.0 then config.InputNoise * Sampling.standardNormal noiseRandom else 0.0
                        inputs[(trial * time + t) * k + c] <- float32 (speed + noise)
                        let o = (trial * time + t) * outputs + c * perChannel
                        match config.Encoding with
                        | HeadingEncoding.Angle -> targets[o] <- float32 (atan2 (sin y) (cos y) / Math.PI)
                        | HeadingEncoding.CosSin ->
                            targets[o] <- float32 (cos y)
                            targets[o + 1] <- float32 (sin y)
            { Inputs = inputs; Targets = targets; Mask = None; Trials = trials; Time = time; InputSize = k; OutputSize = outputs }
        { Name = "integrator"; InputSize = config.Channels; OutputSize = outputs; Generate = generate }

    /// The frequency pyrnn's sine task assigns to an input level: 0.1 + round(0.5 * input, 1).
    let sineFrequency (input: float) = 0.1 + Math.Round(0.5 * input, 1, MidpointRounding.ToEven)

    /// The sine-wave generator: a static input J/Levels selects the frequency, target sin(2 pi omega t).
    let sine (config: SineConfig) : Task =
        Check.positive "time" config.Time
        Check.positive "levels" config.Levels
        Check.finitePositive "dt" config.Dt
        let generate trials seed =
            Check.positive "trials" trials
            let random = Random(seed)
            let time = config.Time
            let inputs = Array.zeroCreate<float32> (trials * time)
            let targets = Array.zeroCreate<float32> (trials * time)
            for trial in 0 .. trials - 1 do
                let input = float (random.Next config.Levels) / float config.Levels
                let omega = sineFrequency input
                for t in 0 .. time - 1 do
                    inputs[trial * time + t] <- float32 input
                    targets[trial * time + t] <- float32 (sin (2.0 * Math.PI * omega * float t * config.Dt))
            { Inputs = inputs; Targets = targets; Mask = None; Trials = trials; Time = time; InputSize = 1; OutputSize = 1 }
        { Name = "sine"; InputSize = 1; OutputSize = 1; Generate = generate }
