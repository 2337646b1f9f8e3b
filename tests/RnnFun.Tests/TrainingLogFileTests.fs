module RnnFun.Tests.TrainingLogFileTests

open System
open System.IO
open Expecto
open RnnFun

/// A complete version-1 log, as `save` writes it (compacted): two epochs, a multi-step schedule.
let private handWritten =
    """{ "format": "rnnfun.training-log", "version": 1, "task": "flipflop", "kind": "rnn", "n_units": 4,
  "config": { "batch_size": 8, "epochs": 2, "learning_rate": 0.01, "amsgrad": false, "weight_decay": 0,
              "schedule": { "type": "multi-step", "milestones": [1], "gamma": 0.5 },
              "clipping": { "type": "global-norm", "limit": 1 }, "stop_loss": null,
              "recurrent_noise": 0, "input_noise": 0, "train_initial_state": true, "seed": 3 },
  "loss": [0.5, 0.25], "learning_rate": [0.01, 0.005], "validation_loss": [0.4, 0.2],
  "best_epoch": 2, "stop_reason": "completed", "stopped_at_epoch": 2, "steps": 4, "wall_time_s": 0.125,
  "initial_state": [0.1, -0.2, 0.3, 0] }"""

let private withFile (text: string) (f: string -> unit) = withTextFile "training-log.json" text f

let private variant (find: string) (replace: string) = replaceOnce handWritten find replace

/// The same log in version 2, with the epochs' end times.
let private handWritten2 =
    replaceOnce (variant "\"version\": 1" "\"version\": 2") "\"validation_loss\": [0.4, 0.2]," "\"validation_loss\": [0.4, 0.2], \"epoch_end_s\": [0.0625, 0.125],"

let private variant2 (find: string) (replace: string) = replaceOnce handWritten2 find replace

/// A run's result without training: the log needs only the network's kind and size.
let private resultOf (net: Network) (initial: float[] option) : FitResult =
    { Network = net
      InitialState = initial
      Losses = [| 0.6339712560176849; 0.3907653331756592; 1e-300 |]
      LearningRates = [| 0.01; 0.01; 0.001 |]
      ValidationLosses = [| 0.4372005760669708; 0.3387943208217621 |]
      EpochEndSeconds = [| 0.1260552; 0.2521104; 1.0 / 3.0 |]
      BestEpoch = 2
      StopReason = StopReason.StopLoss
      StoppedAtEpoch = 3
      Steps = 30
      WallTime = TimeSpan.FromTicks 37816563L }

[<Tests>]
let tests =
    testList "TrainingLogFile" [
        test "save -> load gives back the record of the run, for every schedule and clipping" {
            use net = Network.create Kinds.ctrnn { NetworkConfig.defaults with InputSize = 2; Units = 5; OutputSize = 1 }
            let configs =
                [ FitConfig.defaults
                  { FitConfig.defaults with
                      Schedule = LearningRateSchedule.MultiStep([ 10; 20 ], 0.1)
                      Clipping = GradientClipping.Value 0.5
                      StopLoss = Some 5e-4
                      TrainInitialState = true
                      Amsgrad = true
                      WeightDecay = 1e-5
                      RecurrentNoise = 0.05
                      InputNoise = 0.01
                      Seed = -7 }
                  { FitConfig.defaults with
                      Schedule = LearningRateSchedule.ReduceOnPlateau(0.5, 3, 1e-6)
                      Clipping = GradientClipping.GlobalNorm 1.0
                      LearningRate = 0.1 / 3.0 } ]
            withTempDir (fun dir ->
                for i, config in List.indexed configs do
                    let initial = if config.TrainInitialState then Some [| 0.1; -1.0 / 3.0; 0.0; 2.5; 1e-12 |] else None
                    let result = resultOf net initial
                    let path = Path.Combine(dir, sprintf "log%d.json" i)
                    TrainingLogFile.save path "sine" config result
                    let back = TrainingLogFile.load path
                    let expected = TrainingLogFile.ofRun "sine" config result
                    Expect.equal back expected (sprintf "round trip of config %d" i)
                    Expect.equal back.Config (TrainingRecordConfig.ofFit config) "the recorded settings"
                    Expect.equal (back.KindName, back.Units) ("ctrnn", 5) "kind and size"
                    Expect.equal back.WallTimeSeconds result.WallTime.TotalSeconds "wall time in seconds"
                    // write gives the same document as save.
                    use stream = new MemoryStream()
                    TrainingLogFile.write stream expected
                    Expect.equal (stream.ToArray()) (File.ReadAllBytes path) "write = save"
                Expect.isEmpty (Directory.GetFiles(dir, "*.tmp")) "no temporary file left")
        }

        test "the hand-written log loads" {
            withFile handWritten (fun path ->
                let log = TrainingLogFile.load path
                Expect.equal log.Config.Schedule (LearningRateSchedule.MultiStep([ 1 ], 0.5)) "schedule"
                Expect.equal log.Config.Clipping (GradientClipping.GlobalNorm 1.0) "clipping"
                Expect.equal log.Config.StopLoss None "stop loss"
                Expect.equal log.LearningRates [| 0.01; 0.005 |] "rates"
                Expect.equal log.InitialState (Some [| 0.1; -0.2; 0.3; 0.0 |]) "initial state"
                Expect.equal log.StopReason StopReason.Completed "stop reason"
                Expect.isEmpty log.EpochEndSeconds "a version-1 log has no epoch end times")
            withFile handWritten2 (fun path ->
                let log = TrainingLogFile.load path
                Expect.equal log.EpochEndSeconds [| 0.0625; 0.125 |] "version 2: the epochs' end times"
                Expect.equal log.LearningRates [| 0.01; 0.005 |] "rates")
        }

        test "bad files raise FileFormatError naming the key" {
            let cases =
                [ "wrong format", variant "\"rnnfun.training-log\"" "\"rnnfun.model\"", "format"
                  "wrong version", variant "\"version\": 1" "\"version\": 3", "version 3 is not supported"
                  "epoch end times in version 1", variant "\"validation_loss\": [0.4, 0.2]," "\"validation_loss\": [0.4, 0.2], \"epoch_end_s\": [1, 2],", "unknown key 'epoch_end_s'"
                  "no epoch end times in version 2", variant2 "\"epoch_end_s\": [0.0625, 0.125]," "", "epoch_end_s: missing key"
                  "negative epoch end time", variant2 "[0.0625, 0.125]" "[-0.0625, 0.125]", "epoch_end_s"
                  "truncated", handWritten.Substring(0, handWritten.Length / 2), "not a valid JSON document"
                  "missing key", variant "\"steps\": 4, " "", "steps: missing key"
                  "unknown key", variant "\"task\": \"flipflop\"," "\"task\": \"flipflop\", \"extra\": 1,", "unknown key 'extra'"
                  "unknown config key", variant "\"seed\": 3" "\"seed\": 3, \"threads\": 2", "config: unknown key 'threads'"
                  "missing config key", variant "\"amsgrad\": false, " "", "config.amsgrad: missing key"
                  "not a number", variant "\"loss\": [0.5, 0.25]" "\"loss\": [0.5, \"x\"]", "loss[1]: expected a number"
                  "bad batch size", variant "\"batch_size\": 8" "\"batch_size\": 0", "config.batch_size"
                  "unknown schedule", variant "\"type\": \"multi-step\"" "\"type\": \"cosine\"", "config.schedule.type"
                  "a key of another schedule", variant "\"gamma\": 0.5" "\"gamma\": 0.5, \"factor\": 0.5", "config.schedule.factor"
                  "missing clipping limit", variant "\"type\": \"global-norm\", \"limit\": 1" "\"type\": \"global-norm\"", "config.clipping.limit: missing key"
                  "not an integer", variant "\"milestones\": [1]" "\"milestones\": [1.5]", "config.schedule.milestones[0]"
                  "unknown stop reason", variant "\"stop_reason\": \"completed\"" "\"stop_reason\": \"bored\"", "stop_reason: expected one of"
                  "negative best epoch", variant "\"best_epoch\": 2" "\"best_epoch\": -1", "best_epoch"
                  "bad initial state", variant "\"initial_state\": [0.1," "\"initial_state\": [true,", "initial_state[0]"
                  "boolean expected", variant "\"train_initial_state\": true" "\"train_initial_state\": 1", "config.train_initial_state" ]
            for name, text, expected in cases do
                withFile text (fun path ->
                    let p, problem = expectFileError (fun () -> TrainingLogFile.load path) name
                    Expect.equal p path "names the file"
                    Expect.stringContains problem expected name)
            let _, problem = expectFileError (fun () -> TrainingLogFile.load "/nonexistent/training-log.json") "missing file"
            Expect.stringContains problem "file not found" "missing file"
        }
    ]
