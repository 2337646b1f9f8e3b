module RnnFun.Tests.PopulationTests

open System
open Expecto
open RnnFun
open RnnFun.Tests.TestUtils

let private task = Tasks.flipFlop { FlipFlopConfig.defaults with Bits = 2; Time = 16; PulseProbability = 0.2 }
let private fresh = TrainingData.Fresh(task, 48)

let private netOf (kind: Kind) (units: int) (seed: int64) (constraints: Constraints) =
    Network.create kind
        { NetworkConfig.defaults with
            InputSize = 2
            Units = units
            OutputSize = 2
            Seed = seed
            Constraints = constraints
            Precision = Precision.Float64
            Trainable = (if kind.Name = "rnn" || kind.Name = "ctrnn" then Map.ofList [ "w_in", true; "w_out", true ] else Map.empty) }

let private baseConfig = { FitConfig.defaults with BatchSize = 16; Epochs = 4; LearningRate = 1e-2; KeepBest = true }

let private distance = weightDistance

let private oneByOne (members: PopulationMember list) (data: TrainingData) =
    members |> List.map (fun m -> Training.fitWith { FitHooks.none with Threads = Some 1 } m.Config m.Network data)

/// The batched results against fit's, member by member: weights to 1e-8, and the same log.
let private expectSame (what: string) (batched: FitResult list) (single: FitResult list) =
    Expect.equal batched.Length single.Length (what + ": one result per member")
    List.zip batched single
    |> List.iteri (fun i (b, s) ->
        let where = sprintf "%s, member %d" what i
        Expect.equal b.StopReason s.StopReason (where + ": stop reason")
        Expect.equal b.StoppedAtEpoch s.StoppedAtEpoch (where + ": stopped at")
        Expect.equal b.BestEpoch s.BestEpoch (where + ": best epoch")
        Expect.equal b.Steps s.Steps (where + ": steps")
        Expect.equal b.Losses.Length s.Losses.Length (where + ": epochs logged")
        Expect.isLessThan (maxAbsDiff b.Losses s.Losses) 1e-10 (where + ": losses")
        Expect.equal b.LearningRates s.LearningRates (where + ": learning rates")
        Expect.isLessThan (maxAbsDiff b.ValidationLosses s.ValidationLosses) 1e-10 (where + ": validation losses")
        Expect.equal b.ValidationLosses.Length s.ValidationLosses.Length (where + ": validation epochs")
        let d = distance b.Network s.Network
        Expect.isLessThan d 1e-8 (sprintf "%s: weights differ by %g" where d)
        match b.InitialState, s.InitialState with
        | Some x, Some y -> Expect.isLessThan (maxAbsDiff x y) 1e-8 (where + ": learnt initial state")
        | None, None -> ()
        | _ -> failtest (where + ": learnt initial state present in one result only"))

let private dispose (results: FitResult list) = for r in results do (r :> IDisposable).Dispose()
let private disposeMembers (members: PopulationMember list) = for m in members do (m.Network :> IDisposable).Dispose()

/// Three members of one vanilla kind that differ in nearly everything per network: init seed and
/// scale, data seed, learning rate, noise, constraints, clipping, regularisation, schedule, stop.
let private vanillaMembers (kind: Kind) =
    let units = 8
    let dale = { Constraints.none with DaleRatio = Some 0.75; Autapses = false }
    let masked =
        { Constraints.none with
            InputMask = Some(Array.init units (fun i -> [| (if i % 2 = 0 then 1.0 else 0.0); 1.0 |]))
            RecurrentMask = Some(Array.init units (fun i -> Array.init units (fun j -> if (i + j) % 3 = 0 then 0.0 else 1.0))) }
    [ { Network = netOf kind units 1L Constraints.none
        Config = { baseConfig with Seed = 3; RecurrentNoise = 0.05; InputNoise = 0.02; Clipping = GradientClipping.GlobalNorm 0.5 } }
      { Network = netOf kind units 2L dale
        Config =
          { baseConfig with
              Seed = 3
              LearningRate = 5e-3
              Regularization = { Regularization.none with L2Rec = 1e-3; L1In = 1e-4; L2Rate = 1e-3 }
              Schedule = LearningRateSchedule.MultiStep([ 2 ], 0.5)
              Clipping = GradientClipping.Value 0.1 } }
      { Network = netOf kind units 3L masked
        Config = { baseConfig with Seed = 11; LearningRate = 2e-2; RecurrentNoise = 0.1; WeightDecay = 1e-3; Amsgrad = true; StopLoss = Some 10.0; KeepBest = false } } ]

let private checkOracle (what: string) (members: PopulationMember list) (data: TrainingData) =
    let batched = Population.fitWith { PopulationHooks.none with Threads = Some 1 } members data
    let single = oneByOne members data
    try expectSame what batched single
    finally
        dispose batched
        dispose single
        disposeMembers members

[<Tests>]
let tests =
    testList "Population" [
        test "rnn: K networks trained batched equal the same networks trained one by one with Training.fit (constraints, noise, clipping, regularisation, schedules, early stop)" {
            let members = vanillaMembers Kinds.rnn
            checkOracle "rnn" members fresh
        }

        test "rnn through autograd at every step (FusedBackward = false): batched equals one by one" {
            let members = vanillaMembers Kinds.rnn |> List.map (fun m -> { m with Config = { m.Config with FusedBackward = false; Epochs = 2 } })
            checkOracle "rnn, autograd" members fresh
        }

        test "ctrnn: batched equals one by one, on a fixed dataset with validation, best checkpoint, plateau schedule and a learnt initial state" {
            let kind = Kinds.ctrnnWith { CtrnnConfig.defaults with Dt = 10.0; Tau = 50.0; Readout = Readout.Rate }
            let dataset = task.Generate 40 5
            let validation = task.Generate 16 6
            let members =
                vanillaMembers kind
                |> List.map (fun m ->
                    { m with
                        Config =
                            { m.Config with
                                Validation = Some validation
                                TrainInitialState = true
                                Schedule = (if m.Config.Seed = 11 then LearningRateSchedule.ReduceOnPlateau(0.5, 0, 1e-4) else m.Config.Schedule) } })
            checkOracle "ctrnn" members (TrainingData.Dataset dataset)
        }

        test "gated kinds (gru, lstm, ugrnn): batched equals one by one, with masks, no autapses, noise and clipping" {
            for kind in [ Kinds.gru; Kinds.lstm; Kinds.ugrnn ] do
                let units = 6
                let masked = { Constraints.none with Autapses = false; InputMask = Some(Array.init units (fun i -> [| 1.0; (if i < 3 then 1.0 else 0.0) |])) }
                let members =
                    [ { Network = netOf kind units 4L Constraints.none
                        Config = { baseConfig with Epochs = 3; Seed = 1; RecurrentNoise = 0.05; Clipping = GradientClipping.GlobalNorm 0.5 } }
                      { Network = netOf kind units 5L masked
                        Config = { baseConfig with Epochs = 3; Seed = 2; LearningRate = 3e-3; InputNoise = 0.05; Regularization = { Regularization.none with L2Out = 1e-3; L1Rec = 1e-4 } } } ]
                checkOracle kind.Name members fresh
        }

        test "a member with a huge learning rate diverges alone: the others end exactly as when trained without it" {
            let healthy () =
                [ { Network = netOf Kinds.rnn 8 21L Constraints.none; Config = { baseConfig with Seed = 1 } }
                  { Network = netOf Kinds.rnn 8 22L Constraints.none; Config = { baseConfig with Seed = 2; LearningRate = 3e-3; RecurrentNoise = 0.05 } } ]
            let wild = { Network = netOf Kinds.rnn 8 23L Constraints.none; Config = { baseConfig with Seed = 1; LearningRate = 1e300 } }
            let withWild = healthy () @ [ wild ]
            let without = healthy ()
            let all = Population.fitWith { PopulationHooks.none with Threads = Some 1 } withWild fresh
            let alone = Population.fitWith { PopulationHooks.none with Threads = Some 1 } without fresh
            let single = oneByOne withWild fresh
            try
                Expect.equal (all[2].StopReason) StopReason.Diverged "the wild member diverges"
                Expect.equal (single[2].StopReason) StopReason.Diverged "and diverges under fit too"
                Expect.isTrue (Network.values (all[2].Network) |> List.forall (fun (_, v) -> match v with ParameterValue.Matrix m -> m |> Array.forall (Array.forall Double.IsFinite) | ParameterValue.Vector v -> v |> Array.forall Double.IsFinite)) "it keeps finite weights"
                for i in 0 .. 1 do
                    Expect.equal (all[i].StopReason) StopReason.Completed (sprintf "member %d completes" i)
                    Expect.equal (all[i].Losses) (alone[i].Losses) (sprintf "member %d: the same losses with and without the wild one" i)
                    Expect.equal (distance (all[i].Network) (alone[i].Network)) 0.0 (sprintf "member %d: the same weights with and without the wild one" i)
                expectSame "with a diverging member" (List.truncate 2 all) (List.truncate 2 single)
                // The wild member's last finite weights are near 1e300: equal to fit's relatively.
                let w, s = all[2], single[2]
                Expect.equal (w.StoppedAtEpoch, w.Steps, w.Losses.Length) (s.StoppedAtEpoch, s.Steps, s.Losses.Length) "the wild member stops where fit stops it"
                let scale = Network.values s.Network |> List.collect (fun (_, v) -> match v with ParameterValue.Matrix m -> List.ofArray (Array.concat m) | ParameterValue.Vector v -> List.ofArray v) |> List.map abs |> List.max
                Expect.isLessThan (distance w.Network s.Network / scale) 1e-12 "and keeps fit's last finite weights"
            finally
                dispose all
                dispose alone
                dispose single
                disposeMembers withWild
                disposeMembers without
        }

        testSequenced <| test "rnnfun train --seeds writes a model file and a training log per seed, each equal to rnnfun train --seed alone" {
            withTempDir (fun dir ->
                let common = [ "train"; "--task"; "flipflop"; "--units"; "8"; "--epochs"; "1"; "--seq-len"; "20"; "--quiet" ]
                let folder = IO.Path.Combine(dir, "population")
                let code, out, err = rnnfun (common @ [ "--seeds"; "3,5"; "--out"; folder ])
                Expect.equal code 0 (sprintf "exit code (stderr: %s)" err)
                Expect.stringContains out "trained 2 rnn networks" "the summary line"
                for s in [ 3; 5 ] do
                    Expect.isTrue (IO.File.Exists(IO.Path.Combine(folder, sprintf "seed-%d.training-log.json" s))) (sprintf "seed %d's training log" s)
                let single = IO.Path.Combine(dir, "single.json")
                let code, _, err = rnnfun (common @ [ "--seed"; "5"; "--out"; single ])
                Expect.equal code 0 err
                use batched = ModelFile.load (IO.Path.Combine(folder, "seed-5.json"))
                use alone = ModelFile.load single
                Expect.isLessThan (distance batched alone) 1e-4 "seed 5 batched has the weights it has alone (float32 rounding)"
                let code, _, err = rnnfun (common @ [ "--seeds"; "2-1"; "--out"; IO.Path.Combine(dir, "bad") ])
                Expect.equal code 2 "a backwards range is a user error"
                Expect.stringContains err "backwards" "and says so")
        }

        test "members that cannot be stacked, and kinds without a batched cell, are refused with a message" {
            let a = netOf Kinds.rnn 8 1L Constraints.none
            let b = netOf Kinds.rnn 6 2L Constraints.none
            let own = Network.create { Kinds.rnn with Step = fun w h d -> Kinds.rnn.Step w h d } { NetworkConfig.defaults with InputSize = 2; Units = 8; OutputSize = 2; Precision = Precision.Float64 }
            try
                let _, problem = expectInvalid (fun () -> Population.fit [ { Network = a; Config = baseConfig }; { Network = b; Config = baseConfig } ] fresh) "sizes"
                Expect.stringContains problem "one size" "names the size mismatch"
                let argument, _ = expectInvalid (fun () -> Population.fit [ { Network = a; Config = baseConfig }; { Network = a; Config = { baseConfig with BatchSize = 8 } } ] fresh) "batch sizes"
                Expect.equal argument "batch_size" "names the batch size"
                let argument, problem = expectInvalid (fun () -> Population.fit [ { Network = own; Config = baseConfig } ] fresh) "own kind"
                Expect.equal argument "kind" "names the kind"
                Expect.stringContains problem "Training.fit" "points to fit"
                Expect.isFalse (Population.supports own.Kind) "a step of one's own is not batched"
                Expect.isTrue (Population.supports Kinds.gru) "gru is"
                expectInvalid (fun () -> Population.fit [] fresh) "empty" |> ignore
                expectInvalid (fun () -> Population.fit [ { Network = a; Config = { baseConfig with LearningRate = -1.0 } } ] fresh) "a member's config" |> ignore
            finally
                for n in [ a; b; own ] do (n :> IDisposable).Dispose()
        }
    ]
