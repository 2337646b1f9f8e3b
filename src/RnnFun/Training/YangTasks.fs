namespace RnnFun

open System

/// Settings of Yang et al. 2019's task battery (gyyang/multitask, task.py and train.py).
type YangConfig =
    { /// ms per step (their dt).
      Dt: float
      /// Units per stimulus ring and in the output ring (their n_eachring).
      RingUnits: int
      /// dt / tau; sets the input noise's scale, sigma_x sqrt(2 / alpha) (their alpha).
      Alpha: float
      /// Input noise, added to every input at every step of a trial (their sigma_x).
      SigmaX: float
      /// Their `easy_task`: the coherences of the decision tasks multiplied (dm: 10, delay dm: 2).
      Easy: bool
      /// The rules to draw trials of, in the order of their rule inputs; all 20 by default.
      Rules: string list
      /// Relative probability of each rule in mixed trials (their rule_prob_map); rules not listed: 1.
      RuleWeights: (string * float) list }

    /// gyyang/multitask's defaults: dt 20 ms, 32 units a ring, alpha 0.2, sigma_x 0.01, every rule
    /// with equal probability (train.py's default rule_prob_map).
    static member defaults =
        { Dt = 20.0
          RingUnits = 32
          Alpha = 0.2
          SigmaX = 0.01
          Easy = false
          Rules =
            [ "fdgo"; "reactgo"; "delaygo"; "fdanti"; "reactanti"; "delayanti"; "dm1"; "dm2"; "contextdm1"; "contextdm2"; "multidm"
              "delaydm1"; "delaydm2"; "contextdelaydm1"; "contextdelaydm2"; "multidelaydm"; "dmsgo"; "dmsnogo"; "dmcgo"; "dmcnogo" ]
          RuleWeights = [] }

/// One trial of the battery as plain data.
type YangTrial =
    { Rule: string
      /// The rule's index in `YangConfig.Rules` (its rule input is 1 + 2 RingUnits + this).
      RuleIndex: int
      /// In order, contiguous from step 0 to `Length` (their epoch names: fix1, stim1, delay1, stim2, delay2, go1).
      Epochs: Epoch list
      /// The go cue: the step the response (or the withholding) starts, their fix_off (stim2_on in the
      /// match tasks). Their cost mask: 0 in the first 100 ms, 1 until here, 0 for the next 100 ms, 5 from then on.
      Go: int
      /// Where to respond, in radians in [0, 2 pi); None: keep fixating (their y_loc = -1).
      Response: float option
      /// The trial's parameters by name (locations, strengths, modalities, match), for analysis.
      Parameters: (string * float) list
      /// Steps the trial lasts; the batch's later steps are padding (inputs, targets and mask 0).
      Length: int }

/// Yang et al. 2019's 20 tasks ("Task representations in neural networks trained to perform many
/// cognitive tasks", Nature Neuroscience), as gyyang/multitask's task.py generates them in its
/// 'random' mode. Inputs: [fixation; ring 1 (RingUnits); ring 2 (RingUnits); one rule input per
/// rule]; outputs: [fixation; output ring (RingUnits)]. A stimulus at angle a with strength s adds
/// 0.8 s exp(-d^2 / 2) to the ring unit of preferred angle p, d = circular distance(a, p) / (pi / 8);
/// targets 0.05 everywhere, 0.8 on the fixation output until the go cue (to the end when fixation
/// is kept), 0.05 + 0.8 exp(-d^2 / 2) on the output ring from the go cue on. The mask weighs each
/// squared error by the square of their cost mask (their loss squares the masked error,
/// tf.square((y - y_hat) * c_mask)): 0 in the first 100 ms, 1 until the go cue, 0 for 100 ms, 25
/// from then on, the fixation output's 4 times that.
[<RequireQualifiedAccess>]
module YangTasks =
    let private twoPi = 2.0 * Math.PI

    /// The circular distance between two angles, in [0, pi].
    let circularDistance (a: float) (b: float) =
        let d = abs (a - b) % twoPi
        min d (twoPi - d)

    /// The ring's preferred angles: 2 pi i / n.
    let preferences (n: int) = Array.init n (fun i -> twoPi * float i / float n)

    /// 0.8 exp(-d^2 / 2), d = circular distance / (pi / 8): a ring unit's response to an angle.
    let tuning (preferred: float) (angle: float) =
        let d = circularDistance angle preferred / (Math.PI / 8.0)
        0.8 * exp (-d * d / 2.0)

    /// The population vector of a ring's activity (their popvec): its angle in [0, 2 pi).
    let populationVector (activity: float[]) =
        let p = preferences activity.Length
        let sum = Array.sum activity
        let c = Array.fold2 (fun acc y a -> acc + y * cos a) 0.0 activity p / sum
        let s = Array.fold2 (fun acc y a -> acc + y * sin a) 0.0 activity p / sum
        let a = atan2 s c
        if a < 0.0 then a + twoPi else a

    let inputSize (config: YangConfig) = 1 + 2 * config.RingUnits + config.Rules.Length
    let outputSize (config: YangConfig) = 1 + config.RingUnits
    /// The input of a rule's one-hot cue.
    let ruleInput (config: YangConfig) (rule: string) =
        match config.Rules |> List.tryFindIndex ((=) rule) with
        | Some i -> 1 + 2 * config.RingUnits + i
        | None -> Check.fail "rule" (sprintf "'%s' is not among the config's rules (%s)" rule (String.Join(", ", config.Rules)))

    let private known = Set.ofList YangConfig.defaults.Rules

    let private validate (config: YangConfig) =
        Check.finitePositive "dt" config.Dt
        Check.positive "ring_units" config.RingUnits
        Check.finitePositive "alpha" config.Alpha
        if not (Double.IsFinite config.SigmaX && config.SigmaX >= 0.0) then Check.fail "sigma_x" (sprintf "expected a number >= 0, got %g" config.SigmaX)
        if List.isEmpty config.Rules then Check.fail "rules" "expected at least one rule"
        for r in config.Rules do
            if not (known.Contains r) then Check.fail "rules" (sprintf "unknown rule '%s' (expected %s)" r (String.Join(", ", YangConfig.defaults.Rules)))
        if (List.distinct config.Rules).Length <> config.Rules.Length then Check.fail "rules" "a rule is listed twice"
        for r, w in config.RuleWeights do
            if not (List.contains r config.Rules) then Check.fail "rule_weights" (sprintf "'%s' is not among the rules" r)
            if not (Double.IsFinite w && w >= 0.0) then Check.fail "rule_weights" (sprintf "expected weights >= 0, got %g for %s" w r)
        let weights = config.Rules |> List.map (fun r -> config.RuleWeights |> List.tryFind (fst >> (=) r) |> Option.map snd |> Option.defaultValue 1.0)
        if List.sum weights <= 0.0 then Check.fail "rule_weights" "the weights sum to 0"

    /// A stimulus: its ring (1 or 2), angle, strength and steps [On, Off).
    type private Stimulus = { Ring: int; Angle: float; Strength: float; On: int; Off: int }

    /// What a rule's draw gives: the trial (but for its rule index) and its stimuli.
    type private Drawn = { Trial: YangTrial; Stimuli: Stimulus list; FixationInputOff: int }

    /// Their int(ms / dt): durations are floored to whole steps.
    let private stepsOf (dt: float) (ms: float) = int (Math.Floor(ms / dt + 1e-9))

    let private epochsOf (bounds: (string * int) list) (length: int) =
        // (name, start) pairs in order; each epoch ends where the next starts.
        let starts = bounds @ [ "", length ]
        [ for (name, start), (_, stop) in List.pairwise starts do
            if stop > start then yield { Name = name; Start = start; Stop = stop } ]

    /// One trial of a rule, drawn as task.py's 'random' mode draws it (per trial instead of per batch).
    /// `timing` draws the epochs' durations, `random` the rest (their batches share one timing).
    let private draw (config: YangConfig) (timing: Random) (random: Random) (rule: string) : Drawn =
        let dt = config.Dt
        let s ms = stepsOf dt ms
        let uniform a b = a + (b - a) * random.NextDouble()
        let choice (xs: 'a[]) = xs[random.Next xs.Length]
        let uniformT a b = a + (b - a) * timing.NextDouble()
        let choiceT (xs: float[]) = xs[timing.Next xs.Length]
        let sign () = if random.Next 2 = 0 then 1.0 else -1.0
        let ring () = 1 + random.Next 2
        let anti = rule.EndsWith "anti"
        let respondTo a = if anti then (a + Math.PI) % twoPi else a
        let trial name epochs go response parameters length =
            { Rule = name; RuleIndex = 0; Epochs = epochsOf epochs length; Go = go; Response = response; Parameters = parameters; Length = length }
        // Two stimulus locations at least 90 degrees apart (their stim_dist).
        let twoLocations () =
            let dist = uniform (0.5 * Math.PI) (1.5 * Math.PI) * sign ()
            let a1 = uniform 0.0 twoPi
            a1, (a1 + dist + twoPi) % twoPi
        // Their contextdm_genstim: mean in [0.8, 1.2], +- a coherence.
        let strengths (cohs: float[]) =
            let mean = uniform 0.8 1.2
            let coh = choice cohs
            let sg = sign ()
            mean + coh * sg, mean - coh * sg
        let dmCohs = [| 0.01; 0.02; 0.04; 0.08 |] |> Array.map (fun c -> if config.Easy then 10.0 * c else c)
        let delayCohs = [| 0.08; 0.16; 0.32 |] |> Array.map (fun c -> if config.Easy then 2.0 * c else c)
        match rule with
        | "fdgo" | "fdanti" ->
            let a = uniform 0.0 twoPi
            let m = ring ()
            let stimOn = s (uniformT 300.0 700.0)
            let fixOff = stimOn + s (uniformT 500.0 1500.0)
            let length = s 500.0 + fixOff
            { Trial = trial rule [ "fix1", 0; "stim1", stimOn; "go1", fixOff ] fixOff (Some(respondTo a)) [ "stim_angle", a; "stim_ring", float m ] length
              Stimuli = [ { Ring = m; Angle = a; Strength = 1.0; On = stimOn; Off = length } ]
              FixationInputOff = fixOff }
        | "reactgo" | "reactanti" ->
            let stimOn = s (uniformT 500.0 2500.0)
            let length = s 500.0 + stimOn
            let a = uniform 0.0 twoPi
            let m = ring ()
            // The fixation input stays on: the stimulus's onset is the go cue.
            { Trial = trial rule [ "fix1", 0; "go1", stimOn ] stimOn (Some(respondTo a)) [ "stim_angle", a; "stim_ring", float m ] length
              Stimuli = [ { Ring = m; Angle = a; Strength = 1.0; On = stimOn; Off = length } ]
              FixationInputOff = length }
        | "delaygo" | "delayanti" ->
            let a = uniform 0.0 twoPi
            let stimOn = s (choiceT [| 300.0; 500.0; 700.0 |])
            let stimOff = stimOn + s (choiceT [| 200.0; 400.0; 600.0 |])
            let fixOff = stimOff + s (choiceT [| 200.0; 400.0; 800.0; 1600.0 |])
            let length = fixOff + s 500.0
            let m = ring ()
            { Trial = trial rule [ "fix1", 0; "stim1", stimOn; "delay1", stimOff; "go1", fixOff ] fixOff (Some(respondTo a)) [ "stim_angle", a; "stim_ring", float m ] length
              Stimuli = [ { Ring = m; Angle = a; Strength = 1.0; On = stimOn; Off = stimOff } ]
              FixationInputOff = fixOff }
        | "dm1" | "dm2" ->
            let m = if rule = "dm1" then 1 else 2
            let a1, a2 = twoLocations ()
            let s1, s2 = strengths dmCohs
            let stimOn = s (uniformT 100.0 400.0)
            let fixOff = stimOn + s (choiceT [| 400.0; 800.0; 1600.0 |])
            let length = fixOff + s 500.0
            let response = if s1 > s2 then a1 else a2
            { Trial = trial rule [ "fix1", 0; "stim1", stimOn; "go1", fixOff ] fixOff (Some response) [ "stim1_angle", a1; "stim2_angle", a2; "stim1_strength", s1; "stim2_strength", s2 ] length
              Stimuli = [ { Ring = m; Angle = a1; Strength = s1; On = stimOn; Off = fixOff }; { Ring = m; Angle = a2; Strength = s2; On = stimOn; Off = fixOff } ]
              FixationInputOff = fixOff }
        | "contextdm1" | "contextdm2" | "multidm" | "contextdelaydm1" | "contextdelaydm2" | "multidelaydm" ->
            let delayed = rule.Contains "delay"
            let cohs = if delayed then delayCohs else dmCohs
            let a1, a2 = twoLocations ()
            let (s1m1, s2m1), (s1m2, s2m2) =
                if rule.StartsWith "multi" then
                    // One pair of strengths, split between the modalities by +-20 to 80 % of each.
                    let s1, s2 = strengths cohs
                    let split x = let diff = x * uniform 0.2 0.8 * sign () in x + diff / 2.0, x - diff / 2.0
                    let s1m1, s1m2 = split s1
                    let s2m1, s2m2 = split s2
                    (s1m1, s2m1), (s1m2, s2m2)
                else
                    let first = strengths cohs
                    first, strengths cohs
            let attended1, attended2 =
                match rule with
                | "contextdm1" | "contextdelaydm1" -> s1m1, s2m1
                | "contextdm2" | "contextdelaydm2" -> s1m2, s2m2
                | _ -> s1m1 + s1m2, s2m1 + s2m2
            let response = if attended1 > attended2 then a1 else a2
            let parameters =
                [ "stim1_angle", a1; "stim2_angle", a2; "stim1_mod1_strength", s1m1; "stim2_mod1_strength", s2m1
                  "stim1_mod2_strength", s1m2; "stim2_mod2_strength", s2m2 ]
            if not delayed then
                let stimOn = s (uniformT 100.0 400.0)
                let fixOff = stimOn + s (choiceT [| 400.0; 800.0; 1600.0 |])
                let length = fixOff + s 500.0
                let both ring a strength = { Ring = ring; Angle = a; Strength = strength; On = stimOn; Off = fixOff }
                { Trial = trial rule [ "fix1", 0; "stim1", stimOn; "go1", fixOff ] fixOff (Some response) parameters length
                  Stimuli = [ both 1 a1 s1m1; both 1 a2 s2m1; both 2 a1 s1m2; both 2 a2 s2m2 ]
                  FixationInputOff = fixOff }
            else
                let stim1On = s (choiceT [| 200.0; 400.0; 600.0 |])
                let stim1Off = stim1On + s (choiceT [| 200.0; 400.0; 600.0 |])
                let stim2On = stim1Off + s (choiceT [| 200.0; 400.0; 800.0; 1600.0 |])
                let stim2Off = stim2On + s (choiceT [| 200.0; 400.0; 600.0 |])
                let fixOff = stim2Off + s (uniformT 100.0 300.0)
                let length = fixOff + s 500.0
                let first ring strength = { Ring = ring; Angle = a1; Strength = strength; On = stim1On; Off = stim1Off }
                let second ring strength = { Ring = ring; Angle = a2; Strength = strength; On = stim2On; Off = stim2Off }
                { Trial = trial rule [ "fix1", 0; "stim1", stim1On; "delay1", stim1Off; "stim2", stim2On; "delay2", stim2Off; "go1", fixOff ] fixOff (Some response) parameters length
                  Stimuli = [ first 1 s1m1; second 1 s2m1; first 2 s1m2; second 2 s2m2 ]
                  FixationInputOff = fixOff }
        | "delaydm1" | "delaydm2" ->
            let m = if rule = "delaydm1" then 1 else 2
            let a1, a2 = twoLocations ()
            let s1, s2 = strengths delayCohs
            let stim1On = s (choiceT [| 200.0; 400.0; 600.0 |])
            let stim1Off = stim1On + s (choiceT [| 200.0; 400.0; 600.0 |])
            let stim2On = stim1Off + s (choiceT [| 200.0; 400.0; 800.0; 1600.0 |])
            let stim2Off = stim2On + s (choiceT [| 200.0; 400.0; 600.0 |])
            let fixOff = stim2Off + s (uniformT 100.0 300.0)
            let length = fixOff + s 500.0
            let response = if s1 > s2 then a1 else a2
            { Trial =
                trial rule [ "fix1", 0; "stim1", stim1On; "delay1", stim1Off; "stim2", stim2On; "delay2", stim2Off; "go1", fixOff ] fixOff (Some response)
                    [ "stim1_angle", a1; "stim2_angle", a2; "stim1_strength", s1; "stim2_strength", s2 ] length
              Stimuli = [ { Ring = m; Angle = a1; Strength = s1; On = stim1On; Off = stim1Off }; { Ring = m; Angle = a2; Strength = s2; On = stim2On; Off = stim2Off } ]
              FixationInputOff = fixOff }
        | "dmsgo" | "dmsnogo" | "dmcgo" | "dmcnogo" ->
            let category = rule.StartsWith "dmc"
            let m1, m2 = ring (), ring ()
            let a1, a2, isMatch =
                if category then
                    // Ten directions, none on the category boundary (0 and 180 degrees).
                    let directions = [| 0.1; 0.3; 0.5; 0.7; 0.9; 1.1; 1.3; 1.5; 1.7; 1.9 |] |> Array.map (fun x -> x * Math.PI)
                    let a1, a2 = choice directions, choice directions
                    a1, a2, (a1 < Math.PI) = (a2 < Math.PI)
                else
                    let isMatch = random.Next 2 = 1
                    // Non-matches 20 to 340 degrees from the sample.
                    let dist = uniform (Math.PI / 9.0) (Math.PI * 17.0 / 9.0) * sign ()
                    let a1 = uniform 0.0 twoPi
                    a1, (if isMatch then a1 else (a1 + dist + twoPi) % twoPi), isMatch
            let stim1On = s (choiceT [| 200.0; 400.0; 600.0 |])
            let stim1Off = stim1On + s (choiceT [| 200.0; 400.0; 600.0 |])
            let stim2On = stim1Off + s (choiceT [| 200.0; 400.0; 800.0; 1600.0 |])
            let length = stim2On + (if category then s (choiceT [| 200.0; 400.0; 600.0 |]) else s 500.0)
            // Go on a match (dmsgo, dmcgo) or on a non-match (dmsnogo, dmcnogo); else keep fixating.
            let goOnMatch = rule.EndsWith "go" && not (rule.EndsWith "nogo")
            let response = if isMatch = goOnMatch then Some a2 else None
            // The fixation input stays on: the test's onset is the go cue.
            { Trial =
                trial rule [ "fix1", 0; "stim1", stim1On; "delay1", stim1Off; "go1", stim2On ] stim2On response
                    [ "stim1_angle", a1; "stim2_angle", a2; "stim1_ring", float m1; "stim2_ring", float m2; "match", (if isMatch then 1.0 else 0.0) ] length
              Stimuli = [ { Ring = m1; Angle = a1; Strength = 1.0; On = stim1On; Off = stim1Off }; { Ring = m2; Angle = a2; Strength = 1.0; On = stim2On; Off = length } ]
              FixationInputOff = length }
        | other -> Check.fail "rule" (sprintf "unknown rule '%s'" other)

    /// Writes the drawn trials into a batch padded to the longest one.
    let private write (config: YangConfig) (seed: int) (drawn: Drawn[]) : Batch * YangTrial[] =
        let n = config.RingUnits
        let inputs, outputs = inputSize config, outputSize config
        let trials = drawn.Length
        let time = drawn |> Array.map (fun d -> d.Trial.Length) |> Array.max
        let x = Array.zeroCreate<float32> (trials * time * inputs)
        let y = Array.zeroCreate<float32> (trials * time * outputs)
        let mask = Array.zeroCreate<float32> (trials * time * outputs)
        let prefs = preferences n
        let noise = Random(seed ^^^ 0x2545F491)
        let sd = config.SigmaX * sqrt (2.0 / config.Alpha)
        let grace = stepsOf config.Dt 100.0
        let result =
            drawn
            |> Array.mapi (fun trial d ->
                let c = { d.Trial with RuleIndex = ruleInput config d.Trial.Rule - 1 - 2 * n }
                let rule = ruleInput config c.Rule
                let ring =
                    c.Response |> Option.map (fun a -> prefs |> Array.map (fun p -> tuning p a))
                for t in 0 .. c.Length - 1 do
                    let xi = (trial * time + t) * inputs
                    let yi = (trial * time + t) * outputs
                    let add k (v: float) = x[xi + k] <- x[xi + k] + float32 v
                    if t < d.FixationInputOff then add 0 1.0
                    for st in d.Stimuli do
                        if t >= st.On && t < st.Off then
                            for i in 0 .. n - 1 do add (1 + (st.Ring - 1) * n + i) (tuning prefs[i] st.Angle * st.Strength)
                    add rule 1.0
                    // Their baseline 0.05 (a sigmoid output never reaches 0), 0.8 to fixate.
                    for k in 0 .. outputs - 1 do y[yi + k] <- 0.05f
                    match ring with
                    | Some r when t >= c.Go -> for i in 0 .. n - 1 do y[yi + 1 + i] <- float32 (0.05 + r[i])
                    | _ -> y[yi] <- 0.8f
                    let w = if t < grace then 0.0 elif t < c.Go then 1.0 elif t < c.Go + grace then 0.0 else 5.0
                    for k in 0 .. outputs - 1 do
                        let wk = if k = 0 then 2.0 * w else w
                        mask[yi + k] <- float32 (wk * wk)
                    if sd > 0.0 then
                        for k in 0 .. inputs - 1 do x[xi + k] <- x[xi + k] + float32 (sd * Sampling.standardNormal noise)
                c)
        { Inputs = x; Targets = y; Mask = Some mask; Trials = trials; Time = time; InputSize = inputs; OutputSize = outputs }, result

    /// `trials` trials of one rule, a pure function of the seed. As in their batches, every trial
    /// has the same timing (and length); locations, strengths and modalities are drawn per trial.
    let generate (config: YangConfig) (rule: string) (trials: int) (seed: int) : Batch * YangTrial[] =
        validate config
        ruleInput config rule |> ignore
        Check.positive "trials" trials
        let random = Random(seed)
        let timingSeed = Random(seed ^^^ 0x5bd1e995).Next()
        write config seed (Array.init trials (fun _ -> draw config (Random timingSeed) random rule))

    /// `trials` trials of the config's rules interleaved, each trial's rule and timing drawn with the
    /// rule weights (gyyang/multitask draws one rule and timing per batch of 64: here every batch
    /// mixes them), padded to the longest.
    let generateMixed (config: YangConfig) (trials: int) (seed: int) : Batch * YangTrial[] =
        validate config
        Check.positive "trials" trials
        let rules = Array.ofList config.Rules
        let weights = rules |> Array.map (fun r -> config.RuleWeights |> List.tryFind (fst >> (=) r) |> Option.map snd |> Option.defaultValue 1.0)
        let total = Array.sum weights
        let random = Random(seed)
        let pick () =
            let u = random.NextDouble() * total
            let mutable acc = 0.0
            let mutable i = 0
            while i < rules.Length - 1 && acc + weights[i] <= u do
                acc <- acc + weights[i]
                i <- i + 1
            rules[i]
        write config seed (Array.init trials (fun _ -> draw config random random (pick ())))

    /// The mixed battery as a `Task` to train on.
    let task (config: YangConfig) : Task =
        validate config
        { Name = "yang-battery"; InputSize = inputSize config; OutputSize = outputSize config; Generate = fun trials seed -> fst (generateMixed config trials seed) }

    /// One rule's trials as a `Task`.
    let ruleTask (config: YangConfig) (rule: string) : Task =
        validate config
        ruleInput config rule |> ignore
        { Name = "yang-" + rule; InputSize = inputSize config; OutputSize = outputSize config; Generate = fun trials seed -> fst (generate config rule trials seed) }

    /// Their get_perf, at each trial's last step: correct when the trial should keep fixating and the
    /// fixation output is above 0.5, or should respond and the fixation output is at most 0.5 and the
    /// output ring's population vector is within 0.2 pi of the response. `outputs` [trials; time;
    /// outputs] row-major, `time` the batch's steps.
    let correct (config: YangConfig) (outputs: float[]) (time: int) (trials: YangTrial[]) : bool[] =
        let o = outputSize config
        if outputs.Length <> trials.Length * time * o then
            Check.fail "outputs" (sprintf "expected %d values (%d trials x %d steps x %d outputs), got %d" (trials.Length * time * o) trials.Length time o outputs.Length)
        trials
        |> Array.mapi (fun trial c ->
            let at = (trial * time + c.Length - 1) * o
            let fixating = outputs[at] > 0.5
            match c.Response with
            | None -> fixating
            | Some a ->
                let decoded = populationVector (Array.sub outputs (at + 1) config.RingUnits)
                not fixating && circularDistance decoded a < 0.2 * Math.PI)
