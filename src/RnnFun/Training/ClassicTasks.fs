namespace RnnFun

open System

/// An epoch of a trial: its name and its steps [Start, Stop).
type Epoch = { Name: string; Start: int; Stop: int }

/// One trial of a classic task as plain data: its epochs, its condition, and the answer that is correct.
type TrialCondition =
    { /// In order, contiguous from step 0 to `Length`.
      Epochs: Epoch list
      /// The trial's parameters by name (choice, coherence, context, ...), for analysis per condition.
      Parameters: (string * float) list
      /// The correct choice: 0 for the first choice output (output 1), 1 for the second (output 2).
      Choice: int
      /// Steps the trial lasts; the batch's later steps are padding (inputs, targets and mask 0).
      Length: int }

    /// The epoch of a name; `InvalidArgument` when the trial has none.
    member c.Epoch(name: string) =
        match c.Epochs |> List.tryFind (fun e -> e.Name = name) with
        | Some e -> e
        | None -> Check.fail "epoch" (sprintf "no epoch '%s' (the trial has %s)" name (String.Join(", ", c.Epochs |> List.map (fun e -> e.Name))))

/// A classic task: a `Task` with each trial's condition and the rule that says which trials a
/// network got right.
type ClassicTask =
    { Task: Task
      /// trials -> seed -> the batch (the one `Task.Generate` gives) and each trial's condition.
      GenerateTrials: int -> int -> Batch * TrialCondition[]
      /// A network's outputs [trials; time; outputs] (row-major, `Trajectories.Outputs`) and the
      /// trials' conditions -> whether each trial is correct.
      Correct: float[] -> TrialCondition[] -> bool[]
      /// The choice of an ideal observer of the trials' inputs (the evidence it should weigh, summed
      /// over the stimulus, knowing the context): the best any network can do on the same noisy trials.
      IdealChoice: Batch -> TrialCondition[] -> int[] }

/// How the loss weights the steps and outputs of a trial (the padding after a trial always weighs 0).
[<RequireQualifiedAccess>]
type TrialMask =
    /// Every step of the trial counts once, every output alike (neurogym's supervised datasets train
    /// on every step).
    | Uniform
    /// gyyang/multitask's cost mask (task.py, `add_c_mask`): 0 in the first 100 ms, 1 until the go
    /// cue, 0 for the 100 ms after it (the time to respond), 5 from then on; the fixation output's
    /// weights doubled.
    | Yang

/// Perceptual decision making (two-alternative random-dot motion; neurogym's
/// PerceptualDecisionMaking). Durations in ms.
type PerceptualDecisionConfig =
    { /// ms per step.
      Dt: float
      Fixation: float
      Stimulus: float
      Delay: float
      Decision: float
      /// Motion coherences in percent, drawn uniformly per trial.
      Coherences: float list
      /// Input noise: N(0, (Sigma / sqrt Dt)^2) on each evidence input at each stimulus step (neurogym's scaling).
      Sigma: float
      Mask: TrialMask }

    /// neurogym's timing (fixation 100, stimulus 2000, delay 0, decision 100 ms), coherences
    /// 0, 6.4, 12.8, 25.6, 51.2 %, sigma 1; 20 ms steps (neurogym: 100 ms); a uniform mask.
    static member defaults =
        { Dt = 20.0
          Fixation = 100.0
          Stimulus = 2000.0
          Delay = 0.0
          Decision = 100.0
          Coherences = [ 0.0; 6.4; 12.8; 25.6; 51.2 ]
          Sigma = 1.0
          Mask = TrialMask.Uniform }

/// Context-dependent integration (Mante et al. 2013; neurogym's ContextDecisionMaking with an
/// explicit context). Durations in ms; the delay is drawn per trial from an exponential of mean
/// `DelayMean`, kept when in [DelayMin, DelayMax) (neurogym's TruncExp).
type ContextDecisionConfig =
    { Dt: float
      Fixation: float
      Stimulus: float
      DelayMean: float
      DelayMin: float
      DelayMax: float
      Decision: float
      /// Coherences in percent of each modality, drawn independently per trial and modality.
      Coherences: float list
      Sigma: float
      Mask: TrialMask }

    /// neurogym's timing (fixation 300, stimulus 750, delay TruncExp(600, 300, 3000), decision 100 ms),
    /// coherences 5, 15, 50 %, sigma 1; 20 ms steps (neurogym: 100 ms); a uniform mask.
    static member defaults =
        { Dt = 20.0
          Fixation = 300.0
          Stimulus = 750.0
          DelayMean = 600.0
          DelayMin = 300.0
          DelayMax = 3000.0
          Decision = 100.0
          Coherences = [ 5.0; 15.0; 50.0 ]
          Sigma = 1.0
          Mask = TrialMask.Uniform }

/// Parametric working memory (Romo et al. 1999: is the first vibration's frequency f1 higher than the
/// second's, f2, shown after a delay?), after neurogym's DelayComparison. Durations in ms.
type ParametricWorkingMemoryConfig =
    { Dt: float
      Fixation: float
      Stimulus1: float
      Delay: float
      Stimulus2: float
      Decision: float
      /// Frequency pairs in Hz, the higher one first; each trial draws a pair and shows it in this
      /// order (choice 1: f1 > f2) or reversed (choice 2).
      Pairs: (float * float) list
      /// Input noise: N(0, (Sigma / sqrt Dt)^2) on the stimulus input at each stimulus step.
      Sigma: float
      Mask: TrialMask }

    /// neurogym's timing (fixation 500, stimuli 500, delay 1000, decision 100 ms) and pairs (18, 10),
    /// (22, 14), (26, 18), (30, 22), (34, 26) Hz, sigma 1; 20 ms steps (neurogym: 100 ms); a uniform mask.
    static member defaults =
        { Dt = 20.0
          Fixation = 500.0
          Stimulus1 = 500.0
          Delay = 1000.0
          Stimulus2 = 500.0
          Decision = 100.0
          Pairs = [ 18.0, 10.0; 22.0, 14.0; 26.0, 18.0; 30.0, 22.0; 34.0, 26.0 ]
          Sigma = 1.0
          Mask = TrialMask.Uniform }

/// Delayed match-to-sample (Miller et al. 1996): is the test stimulus, after a delay, the sample?
/// After neurogym's DelayedMatchToSample. Durations in ms.
type DelayedMatchConfig =
    { Dt: float
      Fixation: float
      Sample: float
      Delay: float
      Test: float
      Decision: float
      /// Input noise: N(0, (Sigma / sqrt Dt)^2) on each stimulus input at each sample and test step.
      Sigma: float
      Mask: TrialMask }

    /// neurogym's timing (fixation 300, sample 500, delay 1000, test 500, decision 900 ms), sigma 1;
    /// 20 ms steps (neurogym: 100 ms); a uniform mask.
    static member defaults =
        { Dt = 20.0; Fixation = 300.0; Sample = 500.0; Delay = 1000.0; Test = 500.0; Decision = 900.0; Sigma = 1.0; Mask = TrialMask.Uniform }

/// The classic tasks of systems neuroscience, each with its epochs, a fixation input that stays on
/// until the go cue (the decision epoch) and a fixation output that follows it, seeded trials and a
/// `correct` rule. Inputs: [fixation; the task's evidence ...]; outputs: [fixation; choice 1; choice 2].
[<RequireQualifiedAccess>]
module ClassicTasks =
    let private steps (dt: float) (ms: float) = int (Math.Round(ms / dt))

    let private checkDurations (dt: float) (named: (string * float * bool) list) =
        Check.finitePositive "dt" dt
        for name, ms, mayBeZero in named do
            if Double.IsNaN ms || Double.IsInfinity ms || ms < 0.0 then Check.fail name (sprintf "expected a duration >= 0 ms, got %g" ms)
            if not mayBeZero && steps dt ms < 1 then Check.fail name (sprintf "%g ms is less than one step of %g ms" ms dt)

    let private checkCoherences (coherences: float list) =
        if List.isEmpty coherences then Check.fail "coherences" "expected at least one coherence"
        for c in coherences do
            if Double.IsNaN c || c < 0.0 || c > 100.0 then Check.fail "coherences" (sprintf "expected percentages in [0, 100], got %g" c)

    /// gyyang/multitask's mask leaves the first 100 ms after the go cue unscored: a decision no longer
    /// than that would score no response at all.
    let private checkMask (mask: TrialMask) (dt: float) (decision: float) =
        if mask = TrialMask.Yang && steps dt decision <= steps dt 100.0 then
            Check.fail "decision" (sprintf "%g ms: the Yang mask leaves the first 100 ms after the go cue unscored, so the decision must be longer to score any response" decision)

    let private checkSigma (sigma: float) =
        if Double.IsNaN sigma || Double.IsInfinity sigma || sigma < 0.0 then Check.fail "sigma" (sprintf "expected a number >= 0, got %g" sigma)

    /// The mask weight of an output at a step of a trial (go: the decision's first step).
    let private weight (mask: TrialMask) (dt: float) (condition: TrialCondition) (go: int) (t: int) (output: int) =
        if t >= condition.Length then 0.0f
        else
            match mask with
            | TrialMask.Uniform -> 1.0f
            | TrialMask.Yang ->
                let grace = steps dt 100.0
                let w =
                    if t < steps dt 100.0 then 0.0f
                    elif t < go then 1.0f
                    elif t < go + grace then 0.0f
                    else 5.0f
                if output = 0 then 2.0f * w else w

    /// Writes a trial's targets and mask: fixation output 1 until the go cue, then the choice output 1.
    let private writeTargets (mask: TrialMask) (dt: float) (time: int) (trial: int) (condition: TrialCondition) (targets: float32[]) (weights: float32[]) =
        let go = (condition.Epoch "decision").Start
        for t in 0 .. time - 1 do
            let o = (trial * time + t) * 3
            if t < condition.Length then
                if t < go then targets[o] <- 1.0f
                else targets[o + 1 + condition.Choice] <- 1.0f
            for k in 0 .. 2 do weights[o + k] <- weight mask dt condition go t k

    /// Epochs from named step counts, in order from step 0.
    let private epochsOf (durations: (string * int) list) =
        let mutable start = 0
        [ for name, n in durations do
            yield { Name = name; Start = start; Stop = start + n }
            start <- start + n ]

    /// Whether each trial is correct: over its decision epoch, the mean fixation output is below 0.5
    /// and the mean of the correct choice's output is above the other's (gyyang/multitask scores
    /// the last step the same way: not fixating, and the response at the right place).
    let correctChoice (outputs: float[]) (time: int) (conditions: TrialCondition[]) : bool[] =
        if outputs.Length <> conditions.Length * time * 3 then
            Check.fail "outputs" (sprintf "expected %d values (%d trials x %d steps x 3 outputs), got %d" (conditions.Length * time * 3) conditions.Length time outputs.Length)
        conditions
        |> Array.mapi (fun trial c ->
            let d = c.Epoch "decision"
            let mean k = (seq { for t in d.Start .. d.Stop - 1 -> outputs[(trial * time + t) * 3 + k] } |> Seq.average)
            mean 0 < 0.5 && mean (1 + c.Choice) > mean (2 - c.Choice))

    /// The ideal observer's choices: the evidence inputs `first` and `first + 1` (by trial) summed
    /// over the stimulus epoch; the larger sum wins (ties go to choice 1).
    let private idealChoice (b: Batch) (conditions: TrialCondition[]) (first: TrialCondition -> int) =
        conditions
        |> Array.mapi (fun trial c ->
            let s = c.Epoch "stimulus"
            let k = first c
            let sum j = seq { for t in s.Start .. s.Stop - 1 -> float b.Inputs[(trial * b.Time + t) * b.InputSize + j] } |> Seq.sum
            if sum (k + 1) > sum k then 1 else 0)

    /// Perceptual decision making: inputs [fixation; evidence for choice 1; evidence for choice 2]
    /// (0.5 +- coherence / 200 during the stimulus, plus noise; neurogym's ring of two), the fixation
    /// input on until the decision epoch; outputs [fixation; choice 1; choice 2].
    let perceptualDecision (config: PerceptualDecisionConfig) : ClassicTask =
        checkDurations config.Dt [ "fixation", config.Fixation, false; "stimulus", config.Stimulus, false; "delay", config.Delay, true; "decision", config.Decision, false ]
        checkCoherences config.Coherences
        checkSigma config.Sigma
        checkMask config.Mask config.Dt config.Decision
        let durations = [ "fixation", steps config.Dt config.Fixation; "stimulus", steps config.Dt config.Stimulus; "delay", steps config.Dt config.Delay; "decision", steps config.Dt config.Decision ]
        let time = durations |> List.sumBy snd
        let coherences = Array.ofList config.Coherences
        let noise = config.Sigma / sqrt config.Dt
        let generateTrials trials seed =
            Check.positive "trials" trials
            let random = Random(seed)
            // Noise from its own stream: a trial's condition does not depend on sigma.
            let noiseRandom = Random(seed ^^^ 0x2545F491)
            let inputs = Array.zeroCreate<float32> (trials * time * 3)
            let targets = Array.zeroCreate<float32> (trials * time * 3)
            let mask = Array.zeroCreate<float32> (trials * time * 3)
            let conditions =
                Array.init trials (fun trial ->
                    let choice = random.Next 2
                    let coherence = coherences[random.Next coherences.Length]
                    let epochs = epochsOf durations
                    let c = { Epochs = epochs; Parameters = [ "choice", float choice; "coherence", coherence ]; Choice = choice; Length = time }
                    let stimulus = c.Epoch "stimulus"
                    let go = (c.Epoch "decision").Start
                    for t in 0 .. time - 1 do
                        let o = (trial * time + t) * 3
                        if t < go then inputs[o] <- 1.0f
                        if t >= stimulus.Start && t < stimulus.Stop then
                            for k in 0 .. 1 do
                                let sign = if k = choice then 1.0 else -1.0
                                let n = if noise > 0.0 then noise * Sampling.standardNormal noiseRandom else 0.0
                                inputs[o + 1 + k] <- float32 (0.5 + sign * coherence / 200.0 + n)
                    writeTargets config.Mask config.Dt time trial c targets mask
                    c)
            { Inputs = inputs; Targets = targets; Mask = Some mask; Trials = trials; Time = time; InputSize = 3; OutputSize = 3 }, conditions
        { Task = { Name = "perceptual-decision"; InputSize = 3; OutputSize = 3; Generate = fun trials seed -> fst (generateTrials trials seed) }
          GenerateTrials = generateTrials
          Correct = fun outputs conditions -> correctChoice outputs time conditions
          IdealChoice = fun b conditions -> idealChoice b conditions (fun _ -> 1) }

    /// neurogym's truncated exponential: draws of an exponential of mean `mean` until one falls in [low, high).
    let private truncatedExponential (random: Random) (mean: float) (low: float) (high: float) =
        if low >= high then high
        else
            let mutable x = -1.0
            while not (x >= low && x < high) do
                x <- -mean * log (1.0 - random.NextDouble())
            x

    /// Context-dependent integration (Mante et al. 2013): inputs [fixation; modality 1 evidence for
    /// choice 1, for choice 2; modality 2 the same; context 1; context 2], outputs [fixation; choice 1;
    /// choice 2]. Both modalities carry evidence (each for its own, independent choice) during the
    /// stimulus; the context input (on all trial) says which one to report after the delay; the
    /// fixation input stays on until the decision epoch, the go cue.
    let contextDecision (config: ContextDecisionConfig) : ClassicTask =
        checkDurations config.Dt [ "fixation", config.Fixation, false; "stimulus", config.Stimulus, false; "delay_min", config.DelayMin, true; "decision", config.Decision, false ]
        Check.finitePositive "delay_mean" config.DelayMean
        if Double.IsNaN config.DelayMax || config.DelayMax < config.DelayMin then
            Check.fail "delay_max" (sprintf "expected a duration >= delay_min (%g ms), got %g" config.DelayMin config.DelayMax)
        if Double.IsInfinity config.DelayMax then Check.fail "delay_max" "expected a finite duration (it sets the trials' padded length)"
        checkCoherences config.Coherences
        checkSigma config.Sigma
        checkMask config.Mask config.Dt config.Decision
        let fixation, stimulus, decision = steps config.Dt config.Fixation, steps config.Dt config.Stimulus, steps config.Dt config.Decision
        let maxDelay = steps config.Dt config.DelayMax
        let time = fixation + stimulus + maxDelay + decision
        let coherences = Array.ofList config.Coherences
        let noise = config.Sigma / sqrt config.Dt
        let inputSize = 7
        let generateTrials trials seed =
            Check.positive "trials" trials
            let random = Random(seed)
            let noiseRandom = Random(seed ^^^ 0x2545F491)
            let inputs = Array.zeroCreate<float32> (trials * time * inputSize)
            let targets = Array.zeroCreate<float32> (trials * time * 3)
            let mask = Array.zeroCreate<float32> (trials * time * 3)
            let conditions =
                Array.init trials (fun trial ->
                    let choice = random.Next 2
                    let other = random.Next 2
                    let context = random.Next 2
                    let coherence1 = coherences[random.Next coherences.Length]
                    let coherence2 = coherences[random.Next coherences.Length]
                    let delayMs = truncatedExponential random config.DelayMean config.DelayMin config.DelayMax
                    // A delay of DelayMax rounds to at most maxDelay steps, which the padded length holds.
                    let delay = min maxDelay (steps config.Dt delayMs)
                    // The context's modality points to the correct choice, the other to an independent one.
                    let choice1, choice2 = if context = 0 then choice, other else other, choice
                    let epochs = epochsOf [ "fixation", fixation; "stimulus", stimulus; "delay", delay; "decision", decision ]
                    let c =
                        { Epochs = epochs
                          Parameters =
                            [ "choice", float choice; "context", float context; "coherence1", coherence1; "coherence2", coherence2
                              "choice1", float choice1; "choice2", float choice2; "delay", float delay * config.Dt ]
                          Choice = choice
                          Length = fixation + stimulus + delay + decision }
                    let s = c.Epoch "stimulus"
                    let go = (c.Epoch "decision").Start
                    for t in 0 .. c.Length - 1 do
                        let o = (trial * time + t) * inputSize
                        if t < go then inputs[o] <- 1.0f
                        inputs[o + 5 + context] <- 1.0f
                        if t >= s.Start && t < s.Stop then
                            for m, modalityChoice, coherence in [ 0, choice1, coherence1; 1, choice2, coherence2 ] do
                                for k in 0 .. 1 do
                                    let sign = if k = modalityChoice then 1.0 else -1.0
                                    let n = if noise > 0.0 then noise * Sampling.standardNormal noiseRandom else 0.0
                                    inputs[o + 1 + 2 * m + k] <- float32 (0.5 + sign * coherence / 200.0 + n)
                    writeTargets config.Mask config.Dt time trial c targets mask
                    c)
            { Inputs = inputs; Targets = targets; Mask = Some mask; Trials = trials; Time = time; InputSize = inputSize; OutputSize = 3 }, conditions
        { Task = { Name = "context-decision"; InputSize = inputSize; OutputSize = 3; Generate = fun trials seed -> fst (generateTrials trials seed) }
          GenerateTrials = generateTrials
          Correct = fun outputs conditions -> correctChoice outputs time conditions
          IdealChoice = fun b conditions -> idealChoice b conditions (fun c -> 1 + 2 * int (c.Parameters |> List.find (fun (n, _) -> n = "context") |> snd)) }

    /// Parametric working memory (Romo et al. 1999): inputs [fixation; stimulus], outputs [fixation;
    /// choice 1 (f1 > f2); choice 2 (f1 < f2)]. The stimulus input holds (1 + (f - fmin) / (fmax - fmin)) / 2
    /// (neurogym's positive encoding, 0.5 to 1 over the pairs' range) plus noise during each
    /// stimulus epoch, 0 otherwise; the fixation input is on until the decision epoch.
    let parametricWorkingMemory (config: ParametricWorkingMemoryConfig) : ClassicTask =
        checkDurations config.Dt
            [ "fixation", config.Fixation, false; "stimulus1", config.Stimulus1, false; "delay", config.Delay, true
              "stimulus2", config.Stimulus2, false; "decision", config.Decision, false ]
        if List.isEmpty config.Pairs then Check.fail "pairs" "expected at least one pair of frequencies"
        for f1, f2 in config.Pairs do
            if not (Double.IsFinite f1 && Double.IsFinite f2 && f1 > f2) then
                Check.fail "pairs" (sprintf "expected pairs (f1, f2) of finite frequencies with f1 > f2, got (%g, %g)" f1 f2)
        checkSigma config.Sigma
        checkMask config.Mask config.Dt config.Decision
        let durations =
            [ "fixation", steps config.Dt config.Fixation; "stimulus1", steps config.Dt config.Stimulus1; "delay", steps config.Dt config.Delay
              "stimulus2", steps config.Dt config.Stimulus2; "decision", steps config.Dt config.Decision ]
        let time = durations |> List.sumBy snd
        let pairs = Array.ofList config.Pairs
        let all = pairs |> Array.collect (fun (a, b) -> [| a; b |])
        let fmin, fmax = Array.min all, Array.max all
        let represent f = if fmax > fmin then (1.0 + (f - fmin) / (fmax - fmin)) / 2.0 else 0.75
        let noise = config.Sigma / sqrt config.Dt
        let generateTrials trials seed =
            Check.positive "trials" trials
            let random = Random(seed)
            let noiseRandom = Random(seed ^^^ 0x2545F491)
            let inputs = Array.zeroCreate<float32> (trials * time * 2)
            let targets = Array.zeroCreate<float32> (trials * time * 3)
            let mask = Array.zeroCreate<float32> (trials * time * 3)
            let conditions =
                Array.init trials (fun trial ->
                    let choice = random.Next 2
                    let high, low = pairs[random.Next pairs.Length]
                    let f1, f2 = if choice = 0 then high, low else low, high
                    let c = { Epochs = epochsOf durations; Parameters = [ "choice", float choice; "f1", f1; "f2", f2 ]; Choice = choice; Length = time }
                    let go = (c.Epoch "decision").Start
                    let s1, s2 = c.Epoch "stimulus1", c.Epoch "stimulus2"
                    for t in 0 .. time - 1 do
                        let o = (trial * time + t) * 2
                        if t < go then inputs[o] <- 1.0f
                        let shown = if t >= s1.Start && t < s1.Stop then Some f1 elif t >= s2.Start && t < s2.Stop then Some f2 else None
                        match shown with
                        | Some f ->
                            let n = if noise > 0.0 then noise * Sampling.standardNormal noiseRandom else 0.0
                            inputs[o + 1] <- float32 (represent f + n)
                        | None -> ()
                    writeTargets config.Mask config.Dt time trial c targets mask
                    c)
            { Inputs = inputs; Targets = targets; Mask = Some mask; Trials = trials; Time = time; InputSize = 2; OutputSize = 3 }, conditions
        // The ideal observer compares the stimulus input's means over the two stimulus epochs.
        let ideal (b: Batch) (conditions: TrialCondition[]) =
            conditions
            |> Array.mapi (fun trial c ->
                let mean (e: Epoch) = seq { for t in e.Start .. e.Stop - 1 -> float b.Inputs[(trial * b.Time + t) * b.InputSize + 1] } |> Seq.average
                if mean (c.Epoch "stimulus1") > mean (c.Epoch "stimulus2") then 0 else 1)
        { Task = { Name = "parametric-working-memory"; InputSize = 2; OutputSize = 3; Generate = fun trials seed -> fst (generateTrials trials seed) }
          GenerateTrials = generateTrials
          Correct = fun outputs conditions -> correctChoice outputs time conditions
          IdealChoice = ideal }

    /// Delayed match-to-sample (Miller et al. 1996): inputs [fixation; stimulus cos; stimulus sin], the
    /// sample and the test each one of two directions (0 or 90 degrees: (1, 0) or (0, 1), neurogym's
    /// encoding) plus noise; outputs [fixation; choice 1 (match); choice 2 (non-match)]. The fixation
    /// input is on until the decision epoch (neurogym's stays on through it: its issue #231).
    let delayedMatchToSample (config: DelayedMatchConfig) : ClassicTask =
        checkDurations config.Dt
            [ "fixation", config.Fixation, false; "sample", config.Sample, false; "delay", config.Delay, true
              "test", config.Test, false; "decision", config.Decision, false ]
        checkSigma config.Sigma
        checkMask config.Mask config.Dt config.Decision
        let durations =
            [ "fixation", steps config.Dt config.Fixation; "sample", steps config.Dt config.Sample; "delay", steps config.Dt config.Delay
              "test", steps config.Dt config.Test; "decision", steps config.Dt config.Decision ]
        let time = durations |> List.sumBy snd
        let noise = config.Sigma / sqrt config.Dt
        let generateTrials trials seed =
            Check.positive "trials" trials
            let random = Random(seed)
            let noiseRandom = Random(seed ^^^ 0x2545F491)
            let inputs = Array.zeroCreate<float32> (trials * time * 3)
            let targets = Array.zeroCreate<float32> (trials * time * 3)
            let mask = Array.zeroCreate<float32> (trials * time * 3)
            let conditions =
                Array.init trials (fun trial ->
                    let choice = random.Next 2
                    let sample = random.Next 2
                    let test = if choice = 0 then sample else 1 - sample
                    let c = { Epochs = epochsOf durations; Parameters = [ "choice", float choice; "sample", float sample; "test", float test ]; Choice = choice; Length = time }
                    let go = (c.Epoch "decision").Start
                    let ep, et = c.Epoch "sample", c.Epoch "test"
                    for t in 0 .. time - 1 do
                        let o = (trial * time + t) * 3
                        if t < go then inputs[o] <- 1.0f
                        let shown = if t >= ep.Start && t < ep.Stop then Some sample elif t >= et.Start && t < et.Stop then Some test else None
                        match shown with
                        | Some direction ->
                            for k in 0 .. 1 do
                                let n = if noise > 0.0 then noise * Sampling.standardNormal noiseRandom else 0.0
                                inputs[o + 1 + k] <- float32 ((if k = direction then 1.0 else 0.0) + n)
                        | None -> ()
                    writeTargets config.Mask config.Dt time trial c targets mask
                    c)
            { Inputs = inputs; Targets = targets; Mask = Some mask; Trials = trials; Time = time; InputSize = 3; OutputSize = 3 }, conditions
        // The ideal observer: each stimulus's likelier direction (the channel with the larger sum), then match or not.
        let ideal (b: Batch) (conditions: TrialCondition[]) =
            conditions
            |> Array.mapi (fun trial c ->
                let direction (e: Epoch) =
                    let sum k = seq { for t in e.Start .. e.Stop - 1 -> float b.Inputs[(trial * b.Time + t) * b.InputSize + 1 + k] } |> Seq.sum
                    if sum 1 > sum 0 then 1 else 0
                if direction (c.Epoch "sample") = direction (c.Epoch "test") then 0 else 1)
        { Task = { Name = "delayed-match-to-sample"; InputSize = 3; OutputSize = 3; Generate = fun trials seed -> fst (generateTrials trials seed) }
          GenerateTrials = generateTrials
          Correct = fun outputs conditions -> correctChoice outputs time conditions
          IdealChoice = ideal }
