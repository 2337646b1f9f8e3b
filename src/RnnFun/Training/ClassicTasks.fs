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
      /// The correct answer: for a choice task the choice, 0 for the first choice output (output 1),
      /// 1 for the second (output 2); go / no-go: 0 go, 1 no-go; interval reproduction: the step at
      /// which the response should start.
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

/// Delayed match-to-category (Freedman and Assad 2006): are the sample and the test, after a delay,
/// of the same category (the upper or the lower half of the circle of directions)? After neurogym's
/// DelayMatchCategory. Durations in ms.
type DelayedMatchCategoryConfig =
    { Dt: float
      Fixation: float
      Sample: float
      Delay: float
      Test: float
      Decision: float
      /// Input noise: N(0, (Sigma / sqrt Dt)^2) on each stimulus input at each sample and test step.
      Sigma: float
      Mask: TrialMask }

    /// neurogym's timing (fixation 500, sample 650, delay 1000, test 650 ms) and noise (sigma
    /// sqrt(2 * 100 * 0.01) = 1.41); a 650 ms decision (neurogym leaves its length unset); 20 ms steps
    /// (neurogym: 100 ms); a uniform mask.
    static member defaults =
        { Dt = 20.0; Fixation = 500.0; Sample = 650.0; Delay = 1000.0; Test = 650.0; Decision = 650.0; Sigma = sqrt 2.0; Mask = TrialMask.Uniform }

/// Go / no-go: a go or a no-go cue, then a delay; after the go cue (the fixation input's end) respond
/// on go trials and keep fixating on no-go trials. After neurogym's GoNogo. Durations in ms.
type GoNoGoConfig =
    { Dt: float
      Fixation: float
      Stimulus: float
      Delay: float
      Decision: float
      /// Input noise: N(0, (Sigma / sqrt Dt)^2) on each cue input at each stimulus step.
      Sigma: float
      Mask: TrialMask }

    /// neurogym's timing (fixation 0, stimulus 500, delay 500, decision 500 ms) and no noise; 20 ms
    /// steps (neurogym: 100 ms); a uniform mask.
    static member defaults =
        { Dt = 20.0; Fixation = 0.0; Stimulus = 500.0; Delay = 500.0; Decision = 500.0; Sigma = 0.0; Mask = TrialMask.Uniform }

/// Interval reproduction, ready-set-go (Jazayeri and Shadlen 2010): a ready flash and a set flash
/// an interval ts apart; respond `Gain * ts` after the set flash. After neurogym's ReadySetGo.
/// Durations in ms.
type ReadySetGoConfig =
    { Dt: float
      Fixation: float
      /// The ready and the set flashes.
      Flash: float
      /// The sample intervals ts (ready onset to set onset), one drawn per trial.
      Intervals: float list
      /// The produced interval (set onset to response) is Gain * ts.
      Gain: float
      /// A response is correct within RelativeTolerance * Gain * ts + AbsoluteTolerance ms of the target time.
      RelativeTolerance: float
      AbsoluteTolerance: float
      Mask: TrialMask }

    /// Jazayeri and Shadlen 2010's short prior (11 intervals evenly from 494 to 847 ms), gain 1;
    /// neurogym's fixation (100 ms), flashes (83 ms) and tolerance (0.2 ts + 25 ms); 20 ms steps
    /// (neurogym: 80 ms); a uniform mask.
    static member defaults =
        { Dt = 20.0
          Fixation = 100.0
          Flash = 83.0
          Intervals = [ for i in 0 .. 10 -> 494.0 + float i * (847.0 - 494.0) / 10.0 ]
          Gain = 1.0
          RelativeTolerance = 0.2
          AbsoluteTolerance = 25.0
          Mask = TrialMask.Uniform }

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

    /// The arrays of a batch being written: inputs, targets and mask of `trials` trials of `time`
    /// steps, row-major, and the input noise's own random stream (so that a trial's condition does not
    /// depend on sigma). What every generator below fills in.
    type private Buffers =
        { Inputs: float32[]
          Targets: float32[]
          Mask: float32[]
          Trials: int
          Time: int
          InputSize: int
          OutputSize: int
          Noise: Random }

        member b.SetInput (trial: int) (t: int) (k: int) (v: float32) = b.Inputs[(trial * b.Time + t) * b.InputSize + k] <- v
        member b.SetTarget (trial: int) (t: int) (k: int) (v: float32) = b.Targets[(trial * b.Time + t) * b.OutputSize + k] <- v
        member b.SetWeight (trial: int) (t: int) (k: int) (v: float32) = b.Mask[(trial * b.Time + t) * b.OutputSize + k] <- v
        /// One N(0, sd^2) draw from the noise stream (none drawn when sd = 0).
        member b.Draw(sd: float) = if sd > 0.0 then sd * Sampling.standardNormal b.Noise else 0.0
        member b.Batch: Batch =
            { Inputs = b.Inputs; Targets = b.Targets; Mask = Some b.Mask; Trials = b.Trials; Time = b.Time; InputSize = b.InputSize; OutputSize = b.OutputSize }

    let private buffers (trials: int) (time: int) (inputSize: int) (outputSize: int) (seed: int) : Buffers =
        Check.positive "trials" trials
        { Inputs = Array.zeroCreate (trials * time * inputSize)
          Targets = Array.zeroCreate (trials * time * outputSize)
          Mask = Array.zeroCreate (trials * time * outputSize)
          Trials = trials
          Time = time
          InputSize = inputSize
          OutputSize = outputSize
          Noise = Random(seed ^^^ 0x2545F491) }

    /// The classic task of a generator (`ClassicTask.Task.Generate` is `GenerateTrials`' batch).
    let private classic name inputSize outputSize (generateTrials: int -> int -> Batch * TrialCondition[]) correct ideal : ClassicTask =
        { Task = { Name = name; InputSize = inputSize; OutputSize = outputSize; Generate = fun trials seed -> fst (generateTrials trials seed) }
          GenerateTrials = generateTrials
          Correct = correct
          IdealChoice = ideal }

    let private sumOver (b: Batch) (trial: int) (e: Epoch) (k: int) =
        seq { for t in e.Start .. e.Stop - 1 -> float b.Inputs[(trial * b.Time + t) * b.InputSize + k] } |> Seq.sum

    /// Delayed match-to-category (Freedman and Assad 2006): inputs [fixation; stimulus cos; stimulus
    /// sin], outputs [fixation; choice 1 (match); choice 2 (non-match)]. The sample's direction is
    /// drawn uniformly in its category's half of the circle (category 1: (0, 180) degrees, category 2:
    /// (180, 360)), the test's in the sample's category (match) or the other (non-match), shown as
    /// (cos, sin) plus noise (neurogym's encoding); the fixation input is on until the decision epoch.
    let delayedMatchToCategory (config: DelayedMatchCategoryConfig) : ClassicTask =
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
            let b = buffers trials time 3 3 seed
            let random = Random(seed)
            let conditions =
                Array.init trials (fun trial ->
                    let choice = random.Next 2
                    let sampleCategory = random.Next 2
                    let testCategory = if choice = 0 then sampleCategory else 1 - sampleCategory
                    let sampleAngle = (float sampleCategory + random.NextDouble()) * Math.PI
                    let testAngle = (float testCategory + random.NextDouble()) * Math.PI
                    let c =
                        { Epochs = epochsOf durations
                          Parameters =
                            [ "choice", float choice; "sample_category", float sampleCategory; "test_category", float testCategory
                              "sample_angle", sampleAngle; "test_angle", testAngle ]
                          Choice = choice
                          Length = time }
                    let go = (c.Epoch "decision").Start
                    let es, et = c.Epoch "sample", c.Epoch "test"
                    for t in 0 .. time - 1 do
                        if t < go then b.SetInput trial t 0 1.0f
                        let shown = if t >= es.Start && t < es.Stop then Some sampleAngle elif t >= et.Start && t < et.Stop then Some testAngle else None
                        match shown with
                        | Some angle ->
                            b.SetInput trial t 1 (float32 (cos angle + b.Draw noise))
                            b.SetInput trial t 2 (float32 (sin angle + b.Draw noise))
                        | None -> ()
                    writeTargets config.Mask config.Dt time trial c b.Targets b.Mask
                    c)
            b.Batch, conditions
        // The ideal observer: each stimulus's category by the sign of its summed sine input, then match or not.
        let ideal (b: Batch) (conditions: TrialCondition[]) =
            conditions
            |> Array.mapi (fun trial c ->
                let category name = if sumOver b trial (c.Epoch name) 2 > 0.0 then 0 else 1
                if category "sample" = category "test" then 0 else 1)
        classic "delayed-match-to-category" 3 3 generateTrials (fun outputs conditions -> correctChoice outputs time conditions) ideal

    /// Go / no-go: inputs [fixation; no-go cue; go cue] (neurogym's order), outputs [fixation; go].
    /// The cue is shown in the stimulus epoch (1 on its input, plus noise); the fixation input is on
    /// until the decision epoch (the go cue). Targets: the fixation output follows the fixation input
    /// on go trials and the go output is 1 from the go cue on; on no-go trials the fixation output
    /// stays 1 to the end (withhold) and the go output 0. A trial is correct when, over the decision
    /// epoch, the mean go output is above 0.5 and the mean fixation output below it (go), or the other
    /// way round (no-go). `Choice` 0 is go, 1 no-go.
    let goNoGo (config: GoNoGoConfig) : ClassicTask =
        checkDurations config.Dt
            [ "fixation", config.Fixation, true; "stimulus", config.Stimulus, false; "delay", config.Delay, true; "decision", config.Decision, false ]
        checkSigma config.Sigma
        checkMask config.Mask config.Dt config.Decision
        let durations =
            [ "fixation", steps config.Dt config.Fixation; "stimulus", steps config.Dt config.Stimulus; "delay", steps config.Dt config.Delay
              "decision", steps config.Dt config.Decision ]
        let time = durations |> List.sumBy snd
        let noise = config.Sigma / sqrt config.Dt
        let generateTrials trials seed =
            let b = buffers trials time 3 2 seed
            let random = Random(seed)
            let conditions =
                Array.init trials (fun trial ->
                    let choice = random.Next 2
                    let c = { Epochs = epochsOf durations; Parameters = [ "choice", float choice; "go", float (1 - choice) ]; Choice = choice; Length = time }
                    let go = (c.Epoch "decision").Start
                    let s = c.Epoch "stimulus"
                    let cue = if choice = 0 then 2 else 1
                    for t in 0 .. time - 1 do
                        if t < go then b.SetInput trial t 0 1.0f
                        if t >= s.Start && t < s.Stop then
                            for k in 1 .. 2 do
                                b.SetInput trial t k (float32 ((if k = cue then 1.0 else 0.0) + b.Draw noise))
                        if t < go || choice = 1 then b.SetTarget trial t 0 1.0f
                        elif choice = 0 then b.SetTarget trial t 1 1.0f
                        for k in 0 .. 1 do b.SetWeight trial t k (weight config.Mask config.Dt c go t k)
                    c)
            b.Batch, conditions
        let correct (outputs: float[]) (conditions: TrialCondition[]) =
            if outputs.Length <> conditions.Length * time * 2 then
                Check.fail "outputs" (sprintf "expected %d values (%d trials x %d steps x 2 outputs), got %d" (conditions.Length * time * 2) conditions.Length time outputs.Length)
            conditions
            |> Array.mapi (fun trial c ->
                let d = c.Epoch "decision"
                let mean k = seq { for t in d.Start .. d.Stop - 1 -> outputs[(trial * time + t) * 2 + k] } |> Seq.average
                if c.Choice = 0 then mean 1 > 0.5 && mean 0 < 0.5 else mean 0 > 0.5 && mean 1 < 0.5)
        // The ideal observer: the cue input with the larger sum over the stimulus.
        let ideal (b: Batch) (conditions: TrialCondition[]) =
            conditions |> Array.mapi (fun trial c -> let s = c.Epoch "stimulus" in if sumOver b trial s 2 >= sumOver b trial s 1 then 0 else 1)
        classic "go-no-go" 3 2 generateTrials correct ideal

    /// Interval reproduction, ready-set-go (Jazayeri and Shadlen 2010): inputs [fixation; ready; set],
    /// outputs [fixation; go]. Epochs: fixation; ready (the ready flash, 1 on its input); measure (to
    /// the set flash, ts after the ready flash's onset); set (the set flash); production (until 2
    /// Gain ts after the set onset, neurogym's length). The fixation input stays on all trial: the
    /// response is timed by the network, with no go cue. Targets: the fixation output 1 and the go
    /// output 0 until the response time, set onset + Gain ts (`TrialCondition.Choice`, in steps), then
    /// the other way round (a held response; neurogym's target is a one-step pulse). Trials are padded
    /// to the longest interval. A trial is correct when the go output first exceeds the fixation
    /// output, from the ready flash on, after the set onset (never before it) within RelativeTolerance Gain ts + AbsoluteTolerance
    /// ms of the response time (neurogym's rule).
    let readySetGo (config: ReadySetGoConfig) : ClassicTask =
        checkDurations config.Dt [ "fixation", config.Fixation, true; "flash", config.Flash, false ]
        if List.isEmpty config.Intervals then Check.fail "intervals" "expected at least one interval"
        let flash = steps config.Dt config.Flash
        for ts in config.Intervals do
            if not (Double.IsFinite ts) || steps config.Dt ts <= flash then
                Check.fail "intervals" (sprintf "expected intervals longer than the ready flash (%g ms), got %g" config.Flash ts)
        Check.finitePositive "gain" config.Gain
        if not (Double.IsFinite config.RelativeTolerance && config.RelativeTolerance >= 0.0) then Check.fail "relative_tolerance" "expected a number >= 0"
        if not (Double.IsFinite config.AbsoluteTolerance && config.AbsoluteTolerance >= 0.0) then Check.fail "absolute_tolerance" "expected a duration >= 0 ms"
        let fixation = steps config.Dt config.Fixation
        let intervals = Array.ofList config.Intervals
        // In steps of the interval as shown (ready onset to set onset), so that an observer of the
        // inputs can tell the response time exactly.
        let respondAfter ts = int (Math.Round(config.Gain * float (steps config.Dt ts)))
        let production ts = max (flash + 1) (2 * respondAfter ts)
        let lengthOf ts = fixation + steps config.Dt ts + production ts
        let time = intervals |> Array.map lengthOf |> Array.max
        let checkMaskFor ts =
            // The Yang mask leaves 100 ms after the response time unscored: something must follow.
            if config.Mask = TrialMask.Yang && production ts - respondAfter ts <= steps config.Dt 100.0 then
                Check.fail "intervals" (sprintf "%g ms: with the Yang mask, Gain ts must be longer than 100 ms to score any response" ts)
        intervals |> Array.iter checkMaskFor
        let generateTrials trials seed =
            let b = buffers trials time 3 2 seed
            let random = Random(seed)
            let conditions =
                Array.init trials (fun trial ->
                    let ts = intervals[random.Next intervals.Length]
                    let measure = steps config.Dt ts
                    let epochs = epochsOf [ "fixation", fixation; "ready", flash; "measure", measure - flash; "set", flash; "production", production ts - flash ]
                    let setOn = fixation + measure
                    let respond = setOn + respondAfter ts
                    let c =
                        { Epochs = epochs
                          Parameters = [ "interval", ts; "production", config.Gain * ts; "gain", config.Gain ]
                          Choice = respond
                          Length = lengthOf ts }
                    let ready, set = c.Epoch "ready", c.Epoch "set"
                    for t in 0 .. c.Length - 1 do
                        b.SetInput trial t 0 1.0f
                        if t >= ready.Start && t < ready.Stop then b.SetInput trial t 1 1.0f
                        if t >= set.Start && t < set.Stop then b.SetInput trial t 2 1.0f
                        b.SetTarget trial t (if t < respond then 0 else 1) 1.0f
                    for t in 0 .. time - 1 do
                        for k in 0 .. 1 do b.SetWeight trial t k (weight config.Mask config.Dt c respond t k)
                    c)
            b.Batch, conditions
        // From the ready flash on: the Yang mask leaves the first 100 ms unscored, where outputs are free.
        let responseStep (outputs: float[]) (trial: int) (c: TrialCondition) =
            let crossed t = outputs[(trial * time + t) * 2 + 1] > outputs[(trial * time + t) * 2]
            seq { (c.Epoch "ready").Start .. c.Length - 1 } |> Seq.tryFind crossed
        let correct (outputs: float[]) (conditions: TrialCondition[]) =
            if outputs.Length <> conditions.Length * time * 2 then
                Check.fail "outputs" (sprintf "expected %d values (%d trials x %d steps x 2 outputs), got %d" (conditions.Length * time * 2) conditions.Length time outputs.Length)
            conditions
            |> Array.mapi (fun trial c ->
                let ts = c.Parameters |> List.find (fun (n, _) -> n = "interval") |> snd
                let tolerance = config.RelativeTolerance * config.Gain * ts + config.AbsoluteTolerance
                match responseStep outputs trial c with
                | Some t when t >= (c.Epoch "set").Start -> abs (float (t - c.Choice)) * config.Dt <= tolerance
                | _ -> false)
        // The ideal observer: the steps from the ready onset to the set onset, read off the inputs,
        // times the gain, after the set onset.
        let ideal (b: Batch) (conditions: TrialCondition[]) =
            conditions
            |> Array.mapi (fun trial _ ->
                let at t k = b.Inputs[(trial * b.Time + t) * b.InputSize + k]
                let onset k = seq { 0 .. b.Time - 1 } |> Seq.find (fun t -> at t k > 0.5f)
                let readyOn, setOn = onset 1, onset 2
                setOn + int (Math.Round(config.Gain * float (setOn - readyOn))))
        classic "ready-set-go" 3 2 generateTrials correct ideal
