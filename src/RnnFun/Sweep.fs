namespace RnnFun

open System
open System.Diagnostics
open System.Globalization
open System.IO
open System.Security.Cryptography
open System.Text
open System.Text.Json
open TorchSharp

/// One network of a sweep: what it is trained on and the settings that differ from its preset.
/// None: the preset's value (`Presets.byName` with the kind's own settings, `Presets.withKindNamed`).
type SweepMember =
    { /// A preset's task name (`Presets.names`); None when `Data` is given.
      Task: string option
      /// A trial file (.npz) to train on instead of a task (an absolute path once parsed).
      Data: string option
      /// The kind's name (`Presets.kinds`: rnn, ctrnn, gru, lstm, ugrnn).
      Kind: string
      Units: int option
      /// Seed of the initial weights, the data order and the fresh trials.
      Seed: int
      LearningRate: float option
      Epochs: int option
      BatchSize: int option
      RecurrentNoise: float option
      InputNoise: float option
      WeightDecay: float option
      /// Steps per trial (flipflop, integrator and sine only).
      SequenceLength: int option
      StopLoss: float option
      TrialsPerEpoch: int option }

    static member defaults =
        { Task = Some "flipflop"; Data = None; Kind = "rnn"; Units = None; Seed = 0; LearningRate = None; Epochs = None
          BatchSize = None; RecurrentNoise = None; InputNoise = None; WeightDecay = None; SequenceLength = None
          StopLoss = None; TrialsPerEpoch = None }

/// What a sweep does after training each member, and how it compares them.
type SweepAnalysis =
    { /// Initial states of each member's fixed-point search, drawn from its held-out trials' states.
      InitialStates: int
      /// Noise runs per fixed point of each member's topology.
      RunsPerPoint: int
      /// Trials every member runs on for the comparison (the same trials for all).
      ComparisonTrials: int
      /// Seed of those trials (of the task's generator).
      ComparisonSeed: int }

    static member defaults = { InitialStates = 1024; RunsPerPoint = 64; ComparisonTrials = 32; ComparisonSeed = 12345 }

/// A sweep: its members (a grid expanded, or listed) and the analysis settings.
type SweepConfig =
    { Name: string
      Members: SweepMember[]
      Analysis: SweepAnalysis
      /// Members that can train as one program (`Sweep.batchGroups`) train together with
      /// `Population.fit` instead of one by one: the same networks, not faster on a CPU
      /// (docs/performance.md), so off by default.
      Batched: bool }

/// A flip-flop network's memory structure, from its fixed points and topology.
type FlipFlopStructure =
    { /// Stable fixed points.
      Attractors: int
      /// Distinct sign patterns of the readout at the attractors (2^bits when every memory is held).
      Patterns: int
      /// Pairs of attractors whose readouts differ in the sign of exactly one bit.
      OneBitPairs: int
      /// Of those pairs, the ones joined by a saddle with one unstable mode whose unstable-mode runs
      /// end at exactly those two attractors.
      ConnectedPairs: int
      /// Every one of the 2^bits memories an attractor and every one-bit-apart pair connected.
      Complete: bool }

/// A member's outcome, as written to its `done` marker.
type SweepMemberRecord =
    { Id: string
      Index: int
      Member: SweepMember
      /// Validation loss of the kept epoch (NaN: none).
      ValidationMse: float
      StopReason: string
      Epochs: int
      WallTimeSeconds: float
      FixedPoints: int
      Attractors: int
      Saddles: int
      /// Fixed points by number of unstable modes: [count with 0; with 1; ...].
      ByUnstableModes: int[]
      Edges: int
      /// The flip-flop's structure (task flipflop only).
      FlipFlop: FlipFlopStructure option }

/// What a finished sweep found: its members, the comparison, and the headline numbers.
type SweepSummary =
    { Config: SweepConfig
      Directory: string
      /// The members that finished, in config order.
      Members: SweepMemberRecord[]
      /// Ids of members that did not finish (failed), with the reason when known.
      Failed: (string * string)[]
      /// Over the finished members; None with fewer than two.
      Comparison: Comparison option
      /// Each finished member's topology, in `Members` order.
      Topologies: Topology[]
      /// Settings that take more than one value across the members (keys of `Sweep.settings`).
      Varied: string list
      /// Mean SVCCA distance between members of the same kind, and of different kinds (NaN: no pair).
      SvccaWithinKind: float
      SvccaBetweenKinds: float }

/// Slurm options of `Sweep.runSlurm`, passed to sbatch.
type SlurmOptions =
    { Partition: string option
      /// Wall time per array task, in sbatch's format (e.g. 00:30:00).
      Time: string option
      /// Memory per array task, in sbatch's format (e.g. 4G).
      Memory: string option
      CpusPerTask: int option
      /// Further sbatch arguments, each one word (e.g. --account=lab, --qos=short).
      ExtraArgs: string list
      /// Seconds between two polls of squeue.
      PollSeconds: float }

    static member defaults = { Partition = None; Time = None; Memory = None; CpusPerTask = None; ExtraArgs = []; PollSeconds = 2.0 }

/// What `Sweep.run` reports and writes besides the member folders and the comparison.
type SweepHooks =
    { /// A line of progress (member started, skipped, done, failed).
      Log: string -> unit
      /// Writes the population report (the Plotting project's `PopulationReport.save`) to a path.
      Report: (string -> SweepSummary -> unit) option }

    static member none = { Log = ignore; Report = None }

/// Sweeps: many networks trained (one by one, or in batched groups) and analysed, resumably, into one folder, then compared.
///
/// DIR/sweep.json is the resolved config (members listed); DIR/members/<id>/ holds each member's
/// model.json, training-log.json, fixed-points.json, topology.json and, written last, `done` (its
/// `SweepMemberRecord`); DIR/comparison.json and DIR/summary.json are written by `gather`.
[<RequireQualifiedAccess>]
module Sweep =
    [<Literal>]
    let Format = "rnnfun.sweep"

    [<Literal>]
    let Version = 1

    [<Literal>]
    let MemberFormat = "rnnfun.sweep-member"

    let private invariant (v: float) = v.ToString("R", CultureInfo.InvariantCulture)

    let private memberKeys =
        [ "task"; "data"; "kind"; "units"; "seed"; "learning_rate"; "epochs"; "batch_size"; "recurrent_noise"; "input_noise"
          "weight_decay"; "sequence_length"; "stop_loss"; "trials_per_epoch" ]

    /// A member's settings as (key, text) pairs, only those it sets, in the config format's key order.
    let settings (m: SweepMember) : (string * string) list =
        let opt key f v = v |> Option.map (fun x -> key, f x) |> Option.toList
        [ yield! opt "task" id m.Task
          yield! opt "data" id m.Data
          yield "kind", m.Kind
          yield! opt "units" string m.Units
          yield "seed", string m.Seed
          yield! opt "learning_rate" invariant m.LearningRate
          yield! opt "epochs" string m.Epochs
          yield! opt "batch_size" string m.BatchSize
          yield! opt "recurrent_noise" invariant m.RecurrentNoise
          yield! opt "input_noise" invariant m.InputNoise
          yield! opt "weight_decay" invariant m.WeightDecay
          yield! opt "sequence_length" string m.SequenceLength
          yield! opt "stop_loss" invariant m.StopLoss
          yield! opt "trials_per_epoch" string m.TrialsPerEpoch ]

    /// A member's id: its kind, task and seed, and 10 hex digits of the SHA-256 of its settings and
    /// of the analysis settings that shape its files (initial states, runs per point). The same
    /// settings give the same id wherever they stand in the config.
    let memberId (analysis: SweepAnalysis) (m: SweepMember) : string =
        let canonical =
            (settings m |> List.map (fun (k, v) -> k + "=" + v))
            @ [ sprintf "initial_states=%d" analysis.InitialStates; sprintf "runs_per_point=%d" analysis.RunsPerPoint ]
            |> String.concat ";"
        let hash = SHA256.HashData(Encoding.UTF8.GetBytes canonical)
        let hex = Convert.ToHexString(hash).ToLowerInvariant().Substring(0, 10)
        let task =
            match m.Task, m.Data with
            | Some t, _ -> t
            | None, Some d -> Path.GetFileNameWithoutExtension d
            | None, None -> "task"
        let clean (s: string) = String(s |> Seq.map (fun c -> if Char.IsLetterOrDigit c || c = '-' then c else '-') |> Array.ofSeq)
        sprintf "%s-%s-s%d-%s" (clean m.Kind) (clean task) m.Seed hex

    /// The folder of a member.
    let memberDir (dir: string) (id: string) = Path.Combine(dir, "members", id)

    let private donePath (dir: string) (id: string) = Path.Combine(memberDir dir id, "done")

    // ------------------------------------------------------------------------------------------
    // The preset that trains a member

    /// The fit settings with the member's own where it gives them (the rest as `fit` has them).
    let private withMemberFit (m: SweepMember) (fit: FitConfig) : FitConfig =
        { fit with
            LearningRate = defaultArg m.LearningRate fit.LearningRate
            Epochs = defaultArg m.Epochs fit.Epochs
            BatchSize = defaultArg m.BatchSize fit.BatchSize
            RecurrentNoise = defaultArg m.RecurrentNoise fit.RecurrentNoise
            InputNoise = defaultArg m.InputNoise fit.InputNoise
            WeightDecay = defaultArg m.WeightDecay fit.WeightDecay
            StopLoss = (match m.StopLoss with Some s -> Some s | None -> fit.StopLoss) }

    /// The preset a task member trains: the task's preset with the kind's settings, then the
    /// member's sequence length, units and training settings (in `rnnfun train`'s order).
    let preset (m: SweepMember) : Preset =
        let task = match m.Task with Some t -> t | None -> Check.fail "task" "a member trained on --data has no preset"
        let p = Presets.byName task m.Seed
        let p = match m.SequenceLength with Some t -> Presets.withSequenceLength t p | None -> p
        let p = Presets.withKindNamed m.Kind p
        let p = match m.Units with Some n -> Presets.withUnits n p | None -> p
        { p with
            Fit = withMemberFit m p.Fit
            TrialsPerEpoch = defaultArg m.TrialsPerEpoch p.TrialsPerEpoch }

    // ------------------------------------------------------------------------------------------
    // Reading and checking a config

    let private validateMember (where: string) (m: SweepMember) =
        match m.Task, m.Data with
        | Some _, Some _ -> Check.fail where "give task or data, not both"
        | None, None -> Check.fail where "give a task (a preset's name) or data (a trial file)"
        | Some t, None when not (List.contains t Presets.names) ->
            Check.fail (where + ".task") (sprintf "unknown task '%s' (expected %s)" t (String.Join(", ", Presets.names)))
        | None, Some d when not (File.Exists d) -> Check.fail (where + ".data") (sprintf "no such file: %s" d)
        | _ -> ()
        if not (Presets.kinds |> List.exists (fun k -> k.Name = m.Kind)) then
            Check.fail (where + ".kind") (sprintf "unknown kind '%s' (expected %s)" m.Kind (String.Join(", ", Presets.kinds |> List.map (fun k -> k.Name))))
        let positive key (v: int option) = match v with Some n when n < 1 -> Check.fail (where + "." + key) (sprintf "expected a positive integer, got %d" n) | _ -> ()
        let positiveF key (v: float option) = match v with Some x when not (x > 0.0) -> Check.fail (where + "." + key) (sprintf "expected a positive number, got %g" x) | _ -> ()
        let nonNegative key (v: float option) = match v with Some x when x < 0.0 -> Check.fail (where + "." + key) (sprintf "expected a number >= 0, got %g" x) | _ -> ()
        positive "units" m.Units
        positive "epochs" m.Epochs
        positive "batch_size" m.BatchSize
        positive "sequence_length" m.SequenceLength
        positive "trials_per_epoch" m.TrialsPerEpoch
        positiveF "learning_rate" m.LearningRate
        nonNegative "recurrent_noise" m.RecurrentNoise
        nonNegative "input_noise" m.InputNoise
        nonNegative "weight_decay" m.WeightDecay
        nonNegative "stop_loss" m.StopLoss
        match m.SequenceLength, m.Task with
        | Some _, Some t when not (List.contains t [ "flipflop"; "integrator"; "sine" ]) ->
            Check.fail (where + ".sequence_length") (sprintf "task '%s' has its own trial length (sequence_length applies to flipflop, integrator and sine)" t)
        | Some _, None -> Check.fail (where + ".sequence_length") "a trial file's trials have their own length"
        | _ -> ()

    /// Checks a config: every member valid, at least two members, one task (or one data file) for
    /// all, no two members with the same settings, analysis settings positive. Raises
    /// `InvalidArgument` with one sentence per mistake.
    let validate (config: SweepConfig) =
        if isNull config.Members || config.Members.Length = 0 then Check.fail "members" "the sweep has no members"
        config.Members |> Array.iteri (fun i m -> validateMember (sprintf "members[%d]" i) m)
        let source (m: SweepMember) = match m.Task with Some t -> "task " + t | None -> "data " + defaultArg m.Data ""
        let sources = config.Members |> Array.map source |> Array.distinct
        if sources.Length > 1 then
            Check.fail "members" (sprintf "the members train on %s: a sweep compares networks on the same trials, so all its members train on one task (run one sweep per task)" (String.Join(" and ", sources)))
        let ids = config.Members |> Array.map (memberId config.Analysis)
        ids |> Array.iteri (fun i id ->
            let j = Array.IndexOf(ids, id)
            if j < i then Check.fail "members" (sprintf "members %d and %d have the same settings (%s): each would train the same network" j i (String.Join(", ", settings config.Members[i] |> List.map (fun (k, v) -> k + "=" + v)))))
        let a = config.Analysis
        if a.InitialStates < 1 then Check.fail "analysis.initial_states" (sprintf "expected a positive integer, got %d" a.InitialStates)
        if a.RunsPerPoint < 1 then Check.fail "analysis.runs_per_point" (sprintf "expected a positive integer, got %d" a.RunsPerPoint)
        if a.ComparisonTrials < 1 then Check.fail "analysis.comparison_trials" (sprintf "expected a positive integer, got %d" a.ComparisonTrials)

    let private readMember (baseDir: string) (name: string) (fields: (string * JsonElement) list) : SweepMember =
        let get key = fields |> List.tryFind (fun (k, _) -> k = key) |> Option.map snd
        let str key = get key |> Option.map (JsonRead.text (name + "." + key))
        let int key = get key |> Option.map (JsonRead.integer (name + "." + key))
        let num key = get key |> Option.map (JsonRead.number (name + "." + key))
        let data = str "data" |> Option.map (fun p -> if Path.IsPathRooted p then p else Path.GetFullPath(Path.Combine(baseDir, p)))
        { Task = (match str "task" with Some t -> Some t | None when data.IsSome -> None | None -> Some "flipflop")
          Data = data
          Kind = defaultArg (str "kind") "rnn"
          Units = int "units"
          Seed = defaultArg (int "seed") 0
          LearningRate = num "learning_rate"
          Epochs = int "epochs"
          BatchSize = int "batch_size"
          RecurrentNoise = num "recurrent_noise"
          InputNoise = num "input_noise"
          WeightDecay = num "weight_decay"
          SequenceLength = int "sequence_length"
          StopLoss = num "stop_loss"
          TrialsPerEpoch = int "trials_per_epoch" }

    let private fieldsOf (name: string) (e: JsonElement) =
        JsonRead.onlyKeys name memberKeys e
        [ for p in e.EnumerateObject() -> p.Name, p.Value ]

    /// The members of a grid: the cartesian product of its keys' values (a value that is not a list
    /// is a list of one), the first key varying slowest.
    let private expandGrid (e: JsonElement) : (string * JsonElement) list list =
        let axes =
            fieldsOf "grid" e
            |> List.map (fun (key, v) ->
                if v.ValueKind = JsonValueKind.Array then
                    let values = [ for x in v.EnumerateArray() -> x ]
                    if values.IsEmpty then Check.fail ("grid." + key) "an empty list gives a grid with no members"
                    key, values
                else key, [ v ])
        if axes.IsEmpty then Check.fail "grid" "the grid has no keys: give lists of values (e.g. \"kind\": [\"rnn\", \"gru\"])"
        axes |> List.fold (fun acc (key, values) -> [ for a in acc do for v in values -> a @ [ key, v ] ]) [ [] ]

    let private ofJson (baseDir: string) (root: JsonElement) : SweepConfig =
        JsonRead.onlyKeys "sweep" [ "format"; "version"; "name"; "grid"; "members"; "analysis"; "batched" ] root
        let name = JsonRead.optional root "name" |> Option.map (JsonRead.text "name") |> Option.defaultValue "sweep"
        let fromGrid =
            match JsonRead.optional root "grid" with
            | Some g -> expandGrid g |> List.mapi (fun i fields -> readMember baseDir (sprintf "grid (member %d)" i) fields)
            | None -> []
        let listed =
            match JsonRead.optional root "members" with
            | Some ms ->
                let items = JsonRead.array "members" ms
                if items.Length = 0 && fromGrid.IsEmpty then Check.fail "members" "an empty list gives no members"
                items |> Array.mapi (fun i e -> readMember baseDir (sprintf "members[%d]" i) (fieldsOf (sprintf "members[%d]" i) e)) |> List.ofArray
            | None -> []
        if JsonRead.optional root "grid" |> Option.isNone && JsonRead.optional root "members" |> Option.isNone then
            Check.fail "sweep" "give a grid (lists of values, every combination trained) or members (a list of networks), or both"
        let analysis =
            match JsonRead.optional root "analysis" with
            | None -> SweepAnalysis.defaults
            | Some a ->
                JsonRead.onlyKeys "analysis" [ "initial_states"; "runs_per_point"; "comparison_trials"; "comparison_seed" ] a
                let d = SweepAnalysis.defaults
                let int key fallback = JsonRead.optional a key |> Option.map (JsonRead.integer ("analysis." + key)) |> Option.defaultValue fallback
                { InitialStates = int "initial_states" d.InitialStates
                  RunsPerPoint = int "runs_per_point" d.RunsPerPoint
                  ComparisonTrials = int "comparison_trials" d.ComparisonTrials
                  ComparisonSeed = int "comparison_seed" d.ComparisonSeed }
        let batched = JsonRead.optional root "batched" |> Option.map (JsonRead.boolean "batched") |> Option.defaultValue false
        let config = { Name = name; Members = Array.ofList (fromGrid @ listed); Analysis = analysis; Batched = batched }
        validate config
        config

    /// Reads and checks a sweep config file (`rnnfun.sweep` version 1; docs/formats.md). Relative
    /// data paths are taken from the file's folder. Every mistake raises `FileFormatError` naming the
    /// file, the key and what is wrong.
    let load (path: string) : SweepConfig =
        let baseDir = Path.GetDirectoryName(Path.GetFullPath path)
        FileFormat.load Format [ Version, ofJson baseDir ] path

    /// Parses a config from JSON text (relative data paths from `baseDir`); `InvalidArgument` for a mistake.
    let parse (baseDir: string) (json: string) : SweepConfig =
        use doc =
            try JsonDocument.Parse json
            with e -> Check.fail "sweep" ("not a valid JSON document: " + e.Message)
        let root = doc.RootElement
        if root.ValueKind <> JsonValueKind.Object then Check.fail "sweep" "expected a JSON object"
        match JsonRead.optional root "format" with
        | Some f when f.ValueKind = JsonValueKind.String && f.GetString() = Format -> ()
        | _ -> Check.fail "format" (sprintf "expected \"%s\"" Format)
        if JsonRead.integer "version" (JsonRead.required root "version" "version") <> Version then
            Check.fail "version" (sprintf "this RnnFun reads version %d" Version)
        ofJson baseDir root

    let private writeMember (w: Utf8JsonWriter) (m: SweepMember) =
        w.WriteStartObject()
        for key, _ in settings m do
            match key with
            | "task" -> w.WriteString(key, m.Task.Value)
            | "data" -> w.WriteString(key, m.Data.Value)
            | "kind" -> w.WriteString(key, m.Kind)
            | "units" -> w.WriteNumber(key, m.Units.Value)
            | "seed" -> w.WriteNumber(key, m.Seed)
            | "learning_rate" -> w.WriteNumber(key, m.LearningRate.Value)
            | "epochs" -> w.WriteNumber(key, m.Epochs.Value)
            | "batch_size" -> w.WriteNumber(key, m.BatchSize.Value)
            | "recurrent_noise" -> w.WriteNumber(key, m.RecurrentNoise.Value)
            | "input_noise" -> w.WriteNumber(key, m.InputNoise.Value)
            | "weight_decay" -> w.WriteNumber(key, m.WeightDecay.Value)
            | "sequence_length" -> w.WriteNumber(key, m.SequenceLength.Value)
            | "stop_loss" -> w.WriteNumber(key, m.StopLoss.Value)
            | "trials_per_epoch" -> w.WriteNumber(key, m.TrialsPerEpoch.Value)
            | _ -> ()
        w.WriteEndObject()

    /// Writes a config (its members listed, the grid expanded) atomically.
    let save (path: string) (config: SweepConfig) =
        FileFormat.writeAtomically path (fun stream ->
            use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
            w.WriteStartObject()
            w.WriteString("format", Format)
            w.WriteNumber("version", Version)
            w.WriteString("name", config.Name)
            // Written only when on, so that an unbatched sweep's file is what it was before the option.
            if config.Batched then w.WriteBoolean("batched", true)
            w.WriteStartArray "members"
            for m in config.Members do writeMember w m
            w.WriteEndArray()
            w.WriteStartObject "analysis"
            w.WriteNumber("initial_states", config.Analysis.InitialStates)
            w.WriteNumber("runs_per_point", config.Analysis.RunsPerPoint)
            w.WriteNumber("comparison_trials", config.Analysis.ComparisonTrials)
            w.WriteNumber("comparison_seed", config.Analysis.ComparisonSeed)
            w.WriteEndObject()
            w.WriteEndObject()
            w.Flush())

    // ------------------------------------------------------------------------------------------
    // Presets

    /// The names `presetByName` knows.
    let presetNames = [ "flipflop-kinds" ]

    /// Maheswaranathan et al. (2019)'s comparison on the 3-bit flip-flop: rnn, gru and lstm, 64 units,
    /// seeds 0-2 (T = 64, up to 40 epochs, stop at 5e-4). Quick: 16 units, seeds 0-1, T = 32, 4 epochs
    /// of 128 trials and a small analysis (tens of seconds; too little training for the science).
    let flipFlopKinds (quick: bool) : SweepConfig =
        let seeds = if quick then [ 0; 1 ] else [ 0; 1; 2 ]
        let members =
            [| for kind in [ "rnn"; "gru"; "lstm" ] do
                 for seed in seeds ->
                     if quick then
                         { SweepMember.defaults with Kind = kind; Seed = seed; Units = Some 16; SequenceLength = Some 32; Epochs = Some 4; TrialsPerEpoch = Some 128 }
                     else
                         { SweepMember.defaults with Kind = kind; Seed = seed; Units = Some 64; SequenceLength = Some 64 } |]
        { Name = (if quick then "flipflop-kinds (quick)" else "flipflop-kinds")
          Members = members
          Batched = false
          Analysis =
            if quick then { SweepAnalysis.defaults with InitialStates = 128; RunsPerPoint = 8; ComparisonTrials = 16 }
            else SweepAnalysis.defaults }

    /// A preset sweep by name (`presetNames`).
    let presetByName (name: string) (quick: bool) : SweepConfig =
        match name with
        | "flipflop-kinds" -> flipFlopKinds quick
        | other -> Check.fail "preset" (sprintf "unknown sweep preset '%s' (expected %s)" other (String.Join(", ", presetNames)))

    // ------------------------------------------------------------------------------------------
    // Member records

    let private writeRecord (stream: Stream) (r: SweepMemberRecord) =
        use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
        w.WriteStartObject()
        w.WriteString("format", MemberFormat)
        w.WriteNumber("version", 1)
        w.WriteString("id", r.Id)
        w.WriteNumber("index", r.Index)
        w.WritePropertyName "settings"
        writeMember w r.Member
        if Double.IsFinite r.ValidationMse then w.WriteNumber("validation_mse", r.ValidationMse) else w.WriteNull "validation_mse"
        w.WriteString("stop_reason", r.StopReason)
        w.WriteNumber("epochs", r.Epochs)
        w.WriteNumber("wall_time_s", r.WallTimeSeconds)
        w.WriteNumber("fixed_points", r.FixedPoints)
        w.WriteNumber("attractors", r.Attractors)
        w.WriteNumber("saddles", r.Saddles)
        w.WriteStartArray "by_unstable_modes"
        for c in r.ByUnstableModes do w.WriteNumberValue c
        w.WriteEndArray()
        w.WriteNumber("edges", r.Edges)
        match r.FlipFlop with
        | Some f ->
            w.WriteStartObject "flipflop"
            w.WriteNumber("attractors", f.Attractors)
            w.WriteNumber("patterns", f.Patterns)
            w.WriteNumber("one_bit_pairs", f.OneBitPairs)
            w.WriteNumber("connected_pairs", f.ConnectedPairs)
            w.WriteBoolean("complete", f.Complete)
            w.WriteEndObject()
        | None -> w.WriteNull "flipflop"
        w.WriteEndObject()
        w.Flush()

    let private readRecord (baseDir: string) (root: JsonElement) : SweepMemberRecord =
        let req key = JsonRead.required root key key
        let settingsElement = req "settings"
        let m = readMember baseDir "settings" (fieldsOf "settings" settingsElement)
        let flip =
            JsonRead.optional root "flipflop"
            |> Option.map (fun f ->
                let i key = JsonRead.integer ("flipflop." + key) (JsonRead.required f key key)
                { Attractors = i "attractors"; Patterns = i "patterns"; OneBitPairs = i "one_bit_pairs"; ConnectedPairs = i "connected_pairs"
                  Complete = JsonRead.boolean "flipflop.complete" (JsonRead.required f "complete" "complete") })
        { Id = JsonRead.text "id" (req "id")
          Index = JsonRead.integer "index" (req "index")
          Member = m
          ValidationMse = JsonRead.optional root "validation_mse" |> Option.map (JsonRead.number "validation_mse") |> Option.defaultValue nan
          StopReason = JsonRead.text "stop_reason" (req "stop_reason")
          Epochs = JsonRead.integer "epochs" (req "epochs")
          WallTimeSeconds = JsonRead.number "wall_time_s" (req "wall_time_s")
          FixedPoints = JsonRead.integer "fixed_points" (req "fixed_points")
          Attractors = JsonRead.integer "attractors" (req "attractors")
          Saddles = JsonRead.integer "saddles" (req "saddles")
          ByUnstableModes = JsonRead.array "by_unstable_modes" (req "by_unstable_modes") |> Array.map (JsonRead.integer "by_unstable_modes")
          Edges = JsonRead.integer "edges" (req "edges")
          FlipFlop = flip }

    /// The record of a finished member (its `done` marker), when the member has finished.
    let tryLoadRecord (dir: string) (id: string) : SweepMemberRecord option =
        let path = donePath dir id
        if File.Exists path then Some(FileFormat.load MemberFormat [ 1, readRecord dir ] path) else None

    // ------------------------------------------------------------------------------------------
    // The flip-flop's structure

    /// A flip-flop network's memories: the sign pattern of its readout at each attractor, and which
    /// one-bit-apart pairs of attractors a one-unstable-mode saddle joins (its unstable-mode runs end
    /// at exactly those two).
    let flipFlopStructure (net: Network) (points: FixedPoint[]) (topology: Topology option) : FlipFlopStructure =
        let attractors = points |> Array.filter (fun p -> p.Kind = FixedPointKind.Attractor)
        let bits = net.Sizes.Outputs
        let pattern (state: float[]) =
            use _ = torch.NewDisposeScope()
            use _ = torch.no_grad ()
            let x = Arrays.toTensor net.Precision [| 1L; int64 state.Length |] state // [1; state]
            Arrays.ofTensor (Network.readout net x) |> Array.map (fun v -> v > 0.0)
        let patterns = attractors |> Array.map (fun p -> p.Id, pattern p.State) |> dict
        let distinct = patterns.Values |> Seq.map (fun p -> String(p |> Array.map (fun b -> if b then '1' else '0'))) |> Seq.distinct |> Seq.length
        let oneBit =
            [ for i in 0 .. attractors.Length - 1 do
                for j in i + 1 .. attractors.Length - 1 do
                    let a, b = patterns[attractors[i].Id], patterns[attractors[j].Id]
                    if Array.fold2 (fun n x y -> if x <> y then n + 1 else n) 0 a b = 1 then yield (attractors[i].Id, attractors[j].Id) ]
        let joined =
            match topology with
            | None -> Set.empty
            | Some t ->
                let attractorIds = attractors |> Array.map (fun p -> p.Id) |> Set.ofArray
                t.Vertices
                |> Array.filter (fun v -> v.UnstableModes = 1)
                |> Array.choose (fun v ->
                    let targets = t.Edges |> Array.filter (fun e -> e.From = v.Id && e.Method = RunMethod.UnstableMode && e.To <> v.Id) |> Array.map (fun e -> e.To) |> Set.ofArray
                    if targets.Count = 2 && Set.isSubset targets attractorIds then Some(Set.minElement targets, Set.maxElement targets) else None)
                |> Set.ofArray
        let connected = oneBit |> List.filter (fun (a, b) -> joined.Contains(min a b, max a b)) |> List.length
        let memories = pown 2 bits
        { Attractors = attractors.Length
          Patterns = distinct
          OneBitPairs = oneBit.Length
          ConnectedPairs = connected
          Complete = attractors.Length = memories && distinct = memories && oneBit.Length = bits * memories / 2 && connected = oneBit.Length }

    // ------------------------------------------------------------------------------------------
    // Running members

    /// The trials a member trains on, for a data member: (training, validation) with a 10 % split.
    let private dataTrials (m: SweepMember) =
        let data = TrialFile.loadForTraining m.Data.Value
        Trials.split 0.1 m.Seed data

    /// A task member's preset, its held-out trials and the fit settings it trains with (those of
    /// `Presets.trainWith`: validation on the held-out trials).
    let private presetTraining (m: SweepMember) =
        let p = preset m
        let held = Pipeline.heldOut p
        p, held, { p.Fit with Validation = Some held }

    /// Trains one member (nothing written): the trained network's fit result, the held-out trials the
    /// analysis starts from, the task name and the fit settings used. The step a batched group
    /// replaces (`trainBatched`).
    let trainMember (hooks: FitHooks) (m: SweepMember) : FitResult * Batch * string * FitConfig =
        match m.Data with
        | Some path ->
            let training, validation = dataTrials m
            let kind = Presets.kindByName m.Kind
            let network = Trials.networkConfig m.Seed training
            let network = { network with Units = defaultArg m.Units network.Units }
            let names = kind.Parameters { Inputs = network.InputSize; Units = network.Units; Outputs = network.OutputSize } |> List.map (fun s -> s.Name) |> Set.ofList
            let network = { network with Trainable = network.Trainable |> Map.filter (fun name _ -> names.Contains name) }
            let held = Trials.toBatch validation
            let fit = { withMemberFit m (Trials.fitConfig m.Seed) with Validation = Some held }
            use net = Network.create kind network
            Training.fitWith hooks fit net (TrainingData.Dataset(Trials.toBatch training)), held, Path.GetFileName path, fit
        | None ->
            let p, held, fit = presetTraining m
            Presets.trainWith hooks p, held, p.Task.Name, fit

    /// What task members must share to train as one program: what `Population.fitWith` requires to
    /// agree (kind, sizes, parameters and trainable flags, precision, batch size, the data, validation
    /// trials of one shape, learning the initial state) as their presets resolve it. None: a member
    /// that trains alone (a data member, or a kind Population does not batch).
    let private batchKey (m: SweepMember) =
        match m.Task with
        | None -> None
        | Some task ->
            let p = preset m
            if not (Population.supports p.Kind) then None
            else
                let n = p.Network
                Some
                    {| Task = task; SequenceLength = m.SequenceLength; Kind = m.Kind; Sizes = (n.InputSize, n.Units, n.OutputSize)
                       Biases = (n.InputBias, n.OutputBias); Trainable = n.Trainable; Precision = n.Precision; BatchSize = p.Fit.BatchSize
                       TrialsPerEpoch = p.TrialsPerEpoch; ValidationTrials = p.ValidationTrials; TrainInitialState = p.Fit.TrainInitialState |}

    /// The members (indices into `config.Members`) as a batched sweep trains them: members with the
    /// same task, trial length, kind, units, batch size, trials per epoch and validation trials in one
    /// group (they may differ in seed, learning rate, noise, weight decay, stop loss and epochs), every
    /// other member alone; groups in the order of their first member.
    let batchGroups (config: SweepConfig) (indices: int[]) : int[][] =
        indices
        |> Array.mapi (fun position index ->
            (match batchKey config.Members[index] with Some key -> Choice1Of2 key | None -> Choice2Of2 position), index)
        |> Array.groupBy fst
        |> Array.map (snd >> Array.map snd)

    /// Trains task members of one `batchGroups` group as one program (`Population.fit` on fresh trials
    /// of their task), each with what `trainMember` would give it alone: its own initial network,
    /// seed, held-out trials and fit settings, hence the same network. Results in the members' order.
    let trainBatched (members: SweepMember[]) : (FitResult * Batch * string * FitConfig)[] =
        let setups = members |> Array.map presetTraining
        let first, _, _ = setups[0]
        let nets = setups |> Array.map (fun (p, _, _) -> Network.create p.Kind p.Network)
        try
            let population = [ for i in 0 .. setups.Length - 1 -> let _, _, fit = setups[i] in { Network = nets[i]; Config = fit } ]
            Population.fit population (TrainingData.Fresh(first.Task, first.TrialsPerEpoch))
            |> List.mapi (fun i r -> let p, held, fit = setups[i] in r, held, p.Task.Name, fit)
            |> Array.ofList
        finally
            for n in nets do (n :> IDisposable).Dispose()

    let private histogram (points: FixedPoint[]) =
        if points.Length = 0 then [||]
        else
            let most = points |> Array.map (fun p -> p.UnstableModes) |> Array.max
            Array.init (most + 1) (fun k -> points |> Array.filter (fun p -> p.UnstableModes = k) |> Array.length)

    /// Analyses a trained member and writes its folder: model, training log, fixed points,
    /// topology, then the `done` marker (atomically, last). Returns its record.
    let finishMember (config: SweepConfig) (dir: string) (index: int) (fit: FitResult) (heldOut: Batch) (taskName: string) (fitConfig: FitConfig) : SweepMemberRecord =
        let m = config.Members[index]
        let id = memberId config.Analysis m
        let folder = memberDir dir id
        ModelFile.save (Path.Combine(folder, "model.json")) fit.Network
        TrainingLogFile.save (Path.Combine(folder, "training-log.json")) taskName fitConfig fit
        let pipeline =
            { PipelineConfig.defaults with
                InitialStateCount = config.Analysis.InitialStates
                Seed = m.Seed
                Topology = { TopologyConfig.defaults with RunsPerPoint = config.Analysis.RunsPerPoint; Seed = m.Seed } }
        let analysis = Pipeline.analyse pipeline fit.Network fit.InitialState heldOut
        let points = analysis.Search.FixedPoints
        FixedPointFile.save (Path.Combine(folder, "fixed-points.json")) points
        analysis.Topology |> Option.iter (TopologyFile.save (Path.Combine(folder, "topology.json")))
        let record =
            { Id = id
              Index = index
              Member = m
              ValidationMse = (if fit.BestEpoch > 0 && fit.ValidationLosses.Length >= fit.BestEpoch then fit.ValidationLosses[fit.BestEpoch - 1] else nan)
              StopReason = StopReason.text fit.StopReason
              Epochs = fit.StoppedAtEpoch
              WallTimeSeconds = fit.WallTime.TotalSeconds
              FixedPoints = points.Length
              Attractors = points |> Array.filter (fun p -> p.Kind = FixedPointKind.Attractor) |> Array.length
              Saddles = points |> Array.filter (fun p -> p.Kind = FixedPointKind.Saddle) |> Array.length
              ByUnstableModes = histogram points
              Edges = analysis.Topology |> Option.map (fun t -> t.Edges.Length) |> Option.defaultValue 0
              FlipFlop = (if m.Task = Some "flipflop" then Some(flipFlopStructure fit.Network points analysis.Topology) else None) }
        FileFormat.writeAtomically (donePath dir id) (fun s -> writeRecord s record)
        record

    let private reasonOf (e: exn) =
        match e with
        | InvalidArgument (a, p) -> sprintf "%s: %s" a p
        | FileFormatError (p, problem) -> sprintf "%s: %s" p problem
        | e -> e.Message

    /// Logs a member as training and empties its folder (a run stopped part-way leaves files there).
    let private startMember (hooks: SweepHooks) (config: SweepConfig) (dir: string) (index: int) =
        let m = config.Members[index]
        let id = memberId config.Analysis m
        let folder = memberDir dir id
        if Directory.Exists folder then Directory.Delete(folder, true)
        Directory.CreateDirectory folder |> ignore
        hooks.Log(sprintf "member %d/%d %s: training (%s)" (index + 1) config.Members.Length id (String.Join(", ", settings m |> List.map (fun (k, v) -> k + "=" + v))))

    /// Gets a started member's training (`train`), analyses and saves it (`finishMember`): its record,
    /// or, when either throws, its (id, reason) and error.txt in its folder.
    let private completeMember (hooks: SweepHooks) (config: SweepConfig) (dir: string) (index: int) (train: unit -> FitResult * Batch * string * FitConfig) =
        let id = memberId config.Analysis config.Members[index]
        try
            let fit, held, taskName, fitConfig = train ()
            use fit = fit
            let r = finishMember config dir index fit held taskName fitConfig
            hooks.Log(sprintf "member %d/%d %s: validation MSE %.3g, %d fixed points (%d attractors), %.1fs" (index + 1) config.Members.Length id r.ValidationMse r.FixedPoints r.Attractors r.WallTimeSeconds)
            Choice1Of2 r
        with e ->
            let reason = reasonOf e
            File.WriteAllText(Path.Combine(memberDir dir id, "error.txt"), reason + Environment.NewLine + string e)
            hooks.Log(sprintf "member %d/%d %s: failed: %s" (index + 1) config.Members.Length id reason)
            Choice2Of2(id, reason)

    /// Runs members of a sweep (by index into `config.Members`), skipping those whose `done` marker
    /// exists. A member's folder without a marker (a run stopped part-way) is emptied and redone. A
    /// member that fails leaves `error.txt` in its folder and no marker; the others go on.
    /// Returns the records of the finished members and the (id, reason) of the failed ones.
    ///
    /// Each member trains on its own (`trainMember`); with `config.Batched`, the members still to run
    /// are grouped (`batchGroups`) and a group of several trains as one program (`trainBatched`),
    /// falling back to one by one when that throws. Either way each member is then analysed and saved
    /// by `finishMember`.
    let runGroup (hooks: SweepHooks) (config: SweepConfig) (dir: string) (indices: int[]) : SweepMemberRecord[] * (string * string)[] =
        let before =
            indices
            |> Array.choose (fun index ->
                let id = memberId config.Analysis config.Members[index]
                tryLoadRecord dir id
                |> Option.map (fun r ->
                    hooks.Log(sprintf "member %d/%d %s: done before, skipped" (index + 1) config.Members.Length id)
                    index, Choice1Of2 r))
            |> Map.ofArray
        let pending = indices |> Array.filter (fun i -> not (before.ContainsKey i))
        let alone index = completeMember hooks config dir index (fun () -> trainMember FitHooks.none config.Members[index])
        let groups = if config.Batched then batchGroups config pending else pending |> Array.map Array.singleton
        let trained =
            groups
            |> Array.collect (fun group ->
                for index in group do startMember hooks config dir index
                if group.Length = 1 then [| group[0], alone group[0] |]
                else
                    let m = config.Members[group[0]]
                    let names = String.Join(", ", group |> Array.map (fun i -> string (i + 1)))
                    hooks.Log(sprintf "batched group of %d (%s, task %s; members %s) trains as one program" group.Length m.Kind (defaultArg m.Task "") names)
                    match (try Ok(trainBatched (group |> Array.map (fun i -> config.Members[i]))) with e -> Error e) with
                    | Ok results -> Array.map2 (fun index result -> index, completeMember hooks config dir index (fun () -> result)) group results
                    | Error e ->
                        hooks.Log(sprintf "batched group of %d (members %s) could not train as one program (%s), so each trains alone" group.Length names (reasonOf e))
                        group |> Array.map (fun index -> index, alone index))
            |> Map.ofArray
        let results = indices |> Array.map (fun i -> match before.TryFind i with Some r -> r | None -> trained[i])
        (results |> Array.choose (function Choice1Of2 r -> Some r | _ -> None)),
        (results |> Array.choose (function Choice2Of2 f -> Some f | _ -> None))

    /// `runGroup` on members given by index (what a Slurm array task runs), each index checked.
    let runMembers (hooks: SweepHooks) (config: SweepConfig) (dir: string) (indices: int[]) =
        for index in indices do
            if index < 0 || index >= config.Members.Length then
                Check.fail "member_index" (sprintf "expected 0 to %d (the sweep has %d members), got %d" (config.Members.Length - 1) config.Members.Length index)
        runGroup hooks config dir indices

    /// `runGroup` on one member by index (what each Slurm array task of an unbatched sweep runs).
    let runMember (hooks: SweepHooks) (config: SweepConfig) (dir: string) (index: int) = runMembers hooks config dir [| index |]

    /// Checks the config and writes it as DIR/sweep.json (its members listed: the index a Slurm array
    /// task runs is a member's place there). A folder may take a changed config: members are found by
    /// their ids, so members kept from an earlier config are not run again, and those left out of it
    /// stay in members/ but are not compared.
    let prepare (config: SweepConfig) (dir: string) =
        validate config
        Directory.CreateDirectory(Path.Combine(dir, "members")) |> ignore
        save (Path.Combine(dir, "sweep.json")) config

    // ------------------------------------------------------------------------------------------
    // Gathering

    /// The comparison trials' inputs [trials][time][inputs] of a sweep (its task's, or its data file's).
    let comparisonInputs (config: SweepConfig) : float[][][] =
        let m = config.Members[0]
        let trials, time, width, values =
            match m.Data with
            | Some path ->
                let data = TrialFile.load path
                let count = min data.Trials config.Analysis.ComparisonTrials
                count, data.Time, data.InputSize, Array.sub data.Inputs 0 (count * data.Time * data.InputSize)
            | None ->
                let p = preset m
                let b = p.Task.Generate config.Analysis.ComparisonTrials config.Analysis.ComparisonSeed
                b.Trials, b.Time, b.InputSize, b.Inputs
        Array.init trials (fun i -> Array.init time (fun t -> Array.init width (fun j -> float values[(i * time + t) * width + j])))

    let private emptyTopology (inputs: int) =
        { Config = TopologyConfig.defaults; Input = Array.zeroCreate inputs; Vertices = [||]; Edges = [||]; Unreached = 0 }

    /// The settings that take more than one value across members (keys of `settings`, kind included).
    let varied (members: SweepMember[]) : string list =
        let all = members |> Array.map (settings >> Map.ofList)
        memberKeys
        |> List.filter (fun key -> (all |> Array.map (Map.tryFind key) |> Array.distinct).Length > 1)

    let private meanPairs (kinds: string[]) (m: float[][]) (within: bool) =
        let values = [ for i in 0 .. kinds.Length - 1 do for j in i + 1 .. kinds.Length - 1 do if (kinds[i] = kinds[j]) = within then yield m[i][j] ]
        if values.IsEmpty then nan else List.average values

    /// Mean distance of a matrix over pairs of the same kind (within = true) or of different kinds.
    let meanByKind (kinds: string[]) (m: float[][]) (within: bool) = meanPairs kinds m within

    /// Compares the finished members (geometry, dynamics and topology on the same trials), writes
    /// DIR/comparison.json (rnnfun.comparison) and DIR/summary.json, and returns the summary.
    let gather (config: SweepConfig) (dir: string) : SweepSummary =
        let records, failed =
            config.Members
            |> Array.map (fun m ->
                let id = memberId config.Analysis m
                match tryLoadRecord dir id with
                | Some r -> Choice1Of2 r
                | None ->
                    let error = Path.Combine(memberDir dir id, "error.txt")
                    let reason = if File.Exists error then (File.ReadAllLines error |> Array.tryHead |> Option.defaultValue "failed") else "did not finish"
                    Choice2Of2(id, reason))
            |> fun rs -> (rs |> Array.choose (function Choice1Of2 r -> Some r | _ -> None)), (rs |> Array.choose (function Choice2Of2 f -> Some f | _ -> None))
        let nets = records |> Array.map (fun r -> ModelFile.load (Path.Combine(memberDir dir r.Id, "model.json")))
        try
            let topologies =
                records |> Array.mapi (fun i r ->
                    let path = Path.Combine(memberDir dir r.Id, "topology.json")
                    if File.Exists path then TopologyFile.load path else emptyTopology nets[i].Sizes.Inputs)
            let comparison =
                if records.Length < 2 then None
                else
                    let x = comparisonInputs config
                    let trajectories = nets |> Array.map (fun n -> Similarity.trajectoriesOf n x)
                    let names = records |> Array.map (fun r -> r.Id)
                    let c = Similarity.compare { DynamicsConfig.defaults with Seed = config.Analysis.ComparisonSeed } names trajectories (Some topologies)
                    ComparisonFile.save (Path.Combine(dir, "comparison.json")) c
                    Some c
            let kinds = records |> Array.map (fun r -> r.Member.Kind)
            let within, between =
                match comparison with
                | Some c -> meanPairs kinds c.Svcca true, meanPairs kinds c.Svcca false
                | None -> nan, nan
            let summary =
                { Config = config
                  Directory = Path.GetFullPath dir
                  Members = records
                  Failed = failed
                  Comparison = comparison
                  Topologies = topologies
                  Varied = varied config.Members
                  SvccaWithinKind = within
                  SvccaBetweenKinds = between }
            FileFormat.writeAtomically (Path.Combine(dir, "summary.json")) (fun stream ->
                use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
                let num (key: string) (v: float) = if Double.IsFinite v then w.WriteNumber(key, v) else w.WriteNull key
                w.WriteStartObject()
                w.WriteString("format", "rnnfun.sweep-summary")
                w.WriteNumber("version", 1)
                w.WriteString("name", config.Name)
                w.WriteNumber("members", config.Members.Length)
                w.WriteNumber("finished", records.Length)
                w.WriteStartArray "failed"
                for id, reason in failed do
                    w.WriteStartObject()
                    w.WriteString("id", id)
                    w.WriteString("reason", reason)
                    w.WriteEndObject()
                w.WriteEndArray()
                num "svcca_within_kind" within
                num "svcca_between_kinds" between
                match comparison with
                | Some c ->
                    num "procrustes_within_kind" (meanPairs kinds c.Procrustes true)
                    num "procrustes_between_kinds" (meanPairs kinds c.Procrustes false)
                    num "dynamics_within_kind" (meanPairs kinds c.Dynamics true)
                    num "dynamics_between_kinds" (meanPairs kinds c.Dynamics false)
                    num "topology_within_kind" (meanPairs kinds c.Topology true)
                    num "topology_between_kinds" (meanPairs kinds c.Topology false)
                | None -> ()
                w.WriteStartArray "networks"
                for r in records do
                    w.WriteStartObject()
                    w.WriteString("id", r.Id)
                    w.WriteString("kind", r.Member.Kind)
                    w.WriteNumber("seed", r.Member.Seed)
                    num "validation_mse" r.ValidationMse
                    w.WriteNumber("fixed_points", r.FixedPoints)
                    w.WriteNumber("attractors", r.Attractors)
                    w.WriteNumber("saddles", r.Saddles)
                    match r.FlipFlop with
                    | Some f ->
                        w.WriteNumber("one_bit_pairs", f.OneBitPairs)
                        w.WriteNumber("connected_pairs", f.ConnectedPairs)
                        w.WriteBoolean("flipflop_complete", f.Complete)
                    | None -> ()
                    w.WriteEndObject()
                w.WriteEndArray()
                w.WriteEndObject()
                w.Flush())
            summary
        finally
            for n in nets do (n :> IDisposable).Dispose()

    /// Runs a sweep on this machine: `prepare`, `runGroup` over every member (finished ones skipped),
    /// `gather`, and the report (DIR/report.html) when the hooks carry a writer.
    let run (hooks: SweepHooks) (config: SweepConfig) (dir: string) : SweepSummary =
        prepare config dir
        runGroup hooks config dir (Array.init config.Members.Length id) |> ignore
        let summary = gather config dir
        hooks.Report |> Option.iter (fun write -> write (Path.Combine(dir, "report.html")) summary)
        summary

    // ------------------------------------------------------------------------------------------
    // Slurm

    let private quote (s: string) = "'" + s.Replace("'", "'\\''") + "'"

    /// Runs a program; (exit code, stdout, stderr). Missing program: exit code 127.
    let private exec (program: string) (args: string list) : int * string * string =
        let info = ProcessStartInfo(program, args, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
        try
            use p = Process.Start info
            let out = p.StandardOutput.ReadToEndAsync()
            let err = p.StandardError.ReadToEndAsync()
            p.WaitForExit()
            p.ExitCode, out.Result, err.Result
        with :? ComponentModel.Win32Exception as e -> 127, "", e.Message

    /// The job-array script of a sweep: one array task per member, each running `worker` (the
    /// command that starts rnnfun, e.g. [dotnet; /path/RnnFun.Cli.dll]) with
    /// `sweep --config DIR/sweep.json --out DIR --member-index $SLURM_ARRAY_TASK_ID`; or, given groups
    /// (`batchGroups`), one array task per group, task i running
    /// `sweep ... --batched --members <group i's indices>` (output slurm/group-<i>.out). Paths are absolute.
    let slurmScript (options: SlurmOptions) (worker: string list) (dir: string) (groups: int[][] option) : string =
        let dir = Path.GetFullPath dir
        let sb = StringBuilder()
        let line (s: string) = sb.Append(s).Append('\n') |> ignore
        line "#!/bin/bash"
        line "#SBATCH --job-name=rnnfun-sweep"
        line (sprintf "#SBATCH --output=%s" (Path.Combine(dir, "slurm", (if groups.IsSome then "group-%a.out" else "member-%a.out"))))
        options.Partition |> Option.iter (fun p -> line (sprintf "#SBATCH --partition=%s" p))
        options.Time |> Option.iter (fun t -> line (sprintf "#SBATCH --time=%s" t))
        options.Memory |> Option.iter (fun m -> line (sprintf "#SBATCH --mem=%s" m))
        options.CpusPerTask |> Option.iter (fun c -> line (sprintf "#SBATCH --cpus-per-task=%d" c))
        let command = sprintf "exec %s sweep --config %s --out %s" (String.Join(" ", worker |> List.map quote)) (quote (Path.Combine(dir, "sweep.json"))) (quote dir)
        match groups with
        | None ->
            line "# One array task per member: the task's index is the member's index in sweep.json."
            line "set -euo pipefail"
            line (command + " --member-index \"$SLURM_ARRAY_TASK_ID\"")
        | Some groups ->
            // The groups are fixed at submission: a worker regrouping what is left would disagree with its neighbours.
            line "# One array task per group of members trained as one program: task i runs group i (indices in sweep.json)."
            line "set -euo pipefail"
            line (sprintf "groups=(%s)" (String.Join(" ", groups |> Array.map (fun g -> quote (String.Join(",", g))))))
            line (command + " --batched --members \"${groups[$SLURM_ARRAY_TASK_ID]}\"")
        sb.ToString()

    /// Runs a sweep on a Slurm cluster: `prepare`, writes DIR/slurm/sweep.sbatch, submits one array
    /// task per unfinished member (with `config.Batched`, per `batchGroups` group of them) with
    /// sbatch, polls squeue until the array has left the queue, then `gather`s here (and writes the
    /// report). A member whose task failed is reported with the end of its output
    /// (DIR/slurm/member-<index>.out, or group-<task>.out). Raises `InvalidArgument("slurm", ...)` when
    /// sbatch is missing or refuses the job.
    let runSlurm (hooks: SweepHooks) (options: SlurmOptions) (worker: string list) (config: SweepConfig) (dir: string) : SweepSummary =
        prepare config dir
        let dir = Path.GetFullPath dir
        let pending =
            [| for i in 0 .. config.Members.Length - 1 do
                 if not (File.Exists(donePath dir (memberId config.Analysis config.Members[i]))) then yield i |]
        if pending.Length = 0 then hooks.Log "every member is done: nothing to submit"
        else
            let slurmDir = Path.Combine(dir, "slurm")
            Directory.CreateDirectory slurmDir |> ignore
            let script = Path.Combine(slurmDir, "sweep.sbatch")
            let groups = if config.Batched then Some(batchGroups config pending) else None
            File.WriteAllText(script, slurmScript options worker dir groups)
            let array =
                match groups with
                | Some g -> String.Join(",", Array.init g.Length id)
                | None -> String.Join(",", pending)
            let args = [ "--parsable"; sprintf "--array=%s" array ] @ options.ExtraArgs @ [ script ]
            let code, out, err = exec "sbatch" args
            if code = 127 then Check.fail "slurm" "sbatch was not found: is this a Slurm submit host (is sbatch on PATH)?"
            if code <> 0 then
                // sbatch's last line says why (its first ones are the steps it tried).
                let last = (err + out).Trim().Split('\n') |> Array.last
                Check.fail "slurm" (sprintf "sbatch refused the job (exit code %d): %s" code (last.Trim()))
            let job = out.Trim().Split(';')[0]
            match groups with
            | Some g ->
                let text = String.Join("; ", g |> Array.map (fun members -> String.Join(",", members)))
                hooks.Log(sprintf "submitted job array %s (%d tasks: groups of members %s); waiting for it to end" job g.Length text)
            | None -> hooks.Log(sprintf "submitted job array %s (%d tasks: members %s); waiting for it to end" job pending.Length array)
            let mutable waiting = true
            let mutable last = ""
            let mutable failures = 0
            while waiting do
                Threading.Thread.Sleep(TimeSpan.FromSeconds options.PollSeconds)
                let code, out, err = exec "squeue" [ "-h"; "-j"; job; "-o"; "%i %T" ]
                let lines = out.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                // A finished job leaves the queue; squeue then lists nothing or, once purged, says the id is invalid.
                if code = 0 && lines.Length = 0 || (code <> 0 && err.Contains "Invalid job id") then waiting <- false
                elif code <> 0 then
                    // A busy controller can time out a query: give up only after several in a row.
                    failures <- failures + 1
                    if failures >= 10 then Check.fail "slurm" (sprintf "squeue failed 10 times in a row: %s (the job array %s may still run)" (err.Trim()) job)
                else
                    failures <- 0
                    let states = lines |> Array.map (fun l -> l.Trim().Split(' ') |> Array.last) |> Array.countBy id |> Array.map (fun (s, n) -> sprintf "%d %s" n (s.ToLowerInvariant()))
                    let text = String.Join(", ", states)
                    if text <> last then hooks.Log(sprintf "job %s: %s" job text)
                    last <- text
            for i in pending do
                let id = memberId config.Analysis config.Members[i]
                if not (File.Exists(donePath dir id)) then
                    let output =
                        match groups with
                        | Some g -> Path.Combine(slurmDir, sprintf "group-%d.out" (g |> Array.findIndex (Array.contains i)))
                        | None -> Path.Combine(slurmDir, sprintf "member-%d.out" i)
                    let tail =
                        if File.Exists output then
                            let lines = File.ReadAllLines output |> Array.filter (fun l -> l.Trim() <> "")
                            String.Join(" | ", lines |> Array.skip (max 0 (lines.Length - 3)))
                        else "no output file (the task never started?)"
                    let error = Path.Combine(memberDir dir id, "error.txt")
                    if not (File.Exists error) then
                        Directory.CreateDirectory(memberDir dir id) |> ignore
                        File.WriteAllText(error, sprintf "the Slurm task of member %d did not finish: %s" i tail)
                    hooks.Log(sprintf "member %d %s failed on Slurm: %s (%s)" i id tail output)
        let summary = gather config dir
        hooks.Report |> Option.iter (fun write -> write (Path.Combine(dir, "report.html")) summary)
        summary
