/// Slow points (the threshold rule, the ring of a trained integrator, the line attractors of the
/// context task) and fixed points per condition (grouping, uniqueness on state and input, files).
module RnnFun.Tests.SlowPointTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open RnnFun
open RnnFun.Tests.TestUtils

let private logUniform (random: Random) (low: float) (high: float) (count: int) =
    Array.init count (fun _ -> 10.0 ** (log10 low + (log10 high - log10 low) * random.NextDouble()))

let private thresholdTests =
    testList "threshold" [
        test "a gap of decades between two clusters: the threshold is the top of the lower one" {
            let random = Random 1
            let low, high = logUniform random 1e-9 1e-7 60, logUniform random 1e-4 1e-3 40
            let t = SlowPoints.threshold 1e-2 1.0 0.1 (Array.append high low)
            Expect.equal t.Rule "gap" "rule"
            Expect.equal t.Threshold (Array.max low) "the lower cluster's largest q"
            Expect.equal (t.Below, t.Above) (60, 40) "counts"
            Expect.floatClose Accuracy.high t.GapDecades (log10 (Array.min high) - log10 (Array.max low)) "gap width"
        }

        test "a few stray low values do not set the threshold; without a gap the knee of the upper tail does" {
            let random = Random 2
            // 3 strays far below, a body over two decades, a tail of states still moving: q rising
            // by a factor 2 per state, up to 1e-2 (no gap of a decade anywhere but under the strays).
            let strays = [| 1e-16; 2e-16; 3e-16 |]
            let body = logUniform random 1e-8 1e-6 90 |> Array.sort
            let tail = Array.init 7 (fun i -> 1e-6 * 2.0 ** float (i + 1))
            let t = SlowPoints.threshold 1e-2 1.0 0.1 (Array.concat [ strays; body; tail ])
            Expect.equal t.Rule "knee" "rule"
            Expect.isGreaterThanOrEqual t.Threshold (body[body.Length * 3 / 4]) "keeps at least most of the body"
            Expect.isLessThan t.Threshold tail[3] "leaves out the upper tail"
        }

        testProp "the threshold is a candidate's q (or the ceiling), counts add up, the ceiling is never passed" (fun (seed: int) (count: int) ->
            let random = Random seed
            let q = logUniform random 1e-14 1.0 (1 + abs count % 200)
            let t = SlowPoints.threshold 1e-3 1.0 0.1 q
            let candidates = q |> Array.filter (fun v -> v <= 1e-3)
            Expect.equal (t.Below + t.Above) candidates.Length "below + above = candidates"
            Expect.isLessThanOrEqual t.Threshold 1e-3 "at most the ceiling"
            Expect.isTrue (t.Rule = "none" || Array.contains t.Threshold candidates) "a candidate's q"
            Expect.equal (candidates |> Array.filter (fun v -> v <= t.Threshold) |> Array.length) t.Below "below counts the values at or under it")

        test "sectors of the PC1-PC2 plane: a full circle covers 12, a quarter 3" {
            let circle (from: float) (span: float) (count: int) =
                Array.init count (fun i ->
                    let a = from + span * (float i + 0.5) / float count
                    { Id = i; State = [| 2.0 * cos a; 2.0 * sin a; 0.1 * cos (3.0 * a) |]; Input = [| 0.0 |]; Q = 0.0; Speed = 0.0; Search = None
                      Eigenvalues = [||]; Linearisation = None; UnstableModes = 0; Stable = false; Kind = FixedPointKind.Marginal; ContinuousEigenvalues = None })
            let full = circle 0.0 (2.0 * Math.PI) 48
            let pca = Pca.fit 2 (full |> Array.map (fun p -> p.State))
            Expect.equal (SlowPoints.sectorsCovered 12 pca full) 12 "full circle"
            let quarter = circle (Math.PI / 12.0 * 0.01) (Math.PI / 2.0 - 0.02) 20
            Expect.equal (SlowPoints.sectorsCovered 12 pca quarter) 3 "a quarter"
        }
    ]

let private presetTests =
    testList "integrator preset" [
        test "the integrator's kinds: the GRU trains every parameter; --kind rnn trains W_in, W_out and b_out too" {
            let gru = Presets.integrator 0
            Expect.equal gru.Kind.Name "gru" "a GRU"
            use net = Network.create gru.Kind gru.Network
            let rnn = Presets.integrator 0 |> Presets.withKindNamed "rnn"
            Expect.equal rnn.Network.Trainable (Map.ofList [ "w_in", true; "w_out", true; "b_out", true ]) "the rnn's flags"
            use _ = Network.create rnn.Kind rnn.Network
            let gruAgain = Presets.integrator 0 |> Presets.withKindNamed "gru"
            use _ = Network.create gruAgain.Kind gruAgain.Network
            // Zero speed is among the task's: some trial holds its heading for a step.
            let b = gru.Task.Generate 16 0
            Expect.isTrue (b.Inputs |> Array.exists (fun v -> v = 0.0f)) "a step at zero speed"
        }
    ]

let private conditionTests =
    testList "conditions" [
        test "W = 2I under two inputs: 9 fixed points per condition, the same states in both, grouped by input" {
            // W_in = 0: both inputs have the same 9 points {-a*, 0, a*}^2, which are 18 points on [x, u].
            use net = Network.scaledIdentity Kinds.rnn 2 2.0
            let conditions = [| { Name = "zero"; Input = [| 0.0 |] }; { Name = "one"; Input = [| 1.0 |] } |]
            let initial = InitialStates.uniformBox 256 -1.5 1.5 2 0
            let r = Conditions.find FixedPointConfig.defaults net conditions [| initial; initial |]
            Expect.equal r.Search.FixedPoints.Length 18 "18 points in all"
            for c in r.Conditions do
                Expect.equal c.FixedPoints.Length 9 (sprintf "9 points under %s" c.Condition.Name)
                Expect.isTrue (c.FixedPoints |> Array.forall (fun p -> p.Input = c.Condition.Input)) "each point under its condition's input"
            let states (c: ConditionPoints) = c.FixedPoints |> Array.map (fun p -> p.State |> Array.map (fun v -> Math.Round(v, 8))) |> Array.sort
            Expect.equal (states r.Conditions[0]) (states r.Conditions[1]) "the same states under both inputs"
            Expect.equal r.ConditionOfState (Array.append (Array.create 256 0) (Array.create 256 1)) "condition of each initial state"
        }

        test "conditions are refused by name: none, a repeated name or input, a wrong size" {
            use net = Network.scaledIdentity Kinds.rnn 2 2.0
            let initial = [| [| 0.1; 0.2 |] |]
            let find conditions = Conditions.find FixedPointConfig.defaults net conditions (Array.create (Array.length conditions) initial)
            expectInvalid (fun () -> find [||]) "no condition" |> ignore
            let _, problem = expectInvalid (fun () -> find [| { Name = "a"; Input = [| 0.0 |] }; { Name = "a"; Input = [| 1.0 |] } |]) "a repeated name"
            Expect.stringContains problem "'a'" "names the condition"
            expectInvalid (fun () -> find [| { Name = "a"; Input = [| 0.0 |] }; { Name = "b"; Input = [| 0.0 |] } |]) "the same input" |> ignore
            expectInvalid (fun () -> find [| { Name = "a"; Input = [| 0.0; 1.0 |] } |]) "two values for one input" |> ignore
        }

        test "files: conditions round-trip, a file without them reads as before, a point naming no condition is refused" {
            use net = Network.scaledIdentity Kinds.rnn 2 2.0
            let conditions = [| { Name = "zero"; Input = [| 0.0 |] }; { Name = "one"; Input = [| 1.0 |] } |]
            let initial = InitialStates.uniformBox 64 -1.5 1.5 2 0
            let r = Conditions.find FixedPointConfig.defaults net conditions [| initial; initial |]
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "fps.json")
                FixedPointFile.saveWithConditions path conditions r.Search.FixedPoints
                Expect.equal (FixedPointFile.loadConditions path) conditions "conditions"
                let loaded = FixedPointFile.load path
                Expect.equal (loaded |> Array.map (fun p -> p.Id, p.Input)) (r.Search.FixedPoints |> Array.map (fun p -> p.Id, p.Input)) "points"
                let grouped = Conditions.group conditions loaded [||]
                Expect.equal (grouped |> Array.map (fun c -> c.FixedPoints.Length)) [| 9; 9 |] "grouped after loading"
                let old = Path.Combine(dir, "old.json")
                FixedPointFile.save old r.Search.FixedPoints
                Expect.isEmpty (FixedPointFile.loadConditions old) "no conditions in a file written without them"
                Expect.equal (Conditions.ofPoints (FixedPointFile.load old) |> Array.map (fun c -> c.Input)) [| [| 0.0 |]; [| 1.0 |] |] "conditions from the points' inputs"
                let bad = Path.Combine(dir, "bad.json")
                File.WriteAllText(bad, File.ReadAllText(path).Replace("\"condition\": \"one\"", "\"condition\": \"two\""))
                let _, problem = expectFileError (fun () -> FixedPointFile.loadConditions bad) "an unknown condition"
                Expect.stringContains problem "condition" "names the key"
                let swapped = Path.Combine(dir, "swapped.json")
                File.WriteAllText(swapped, File.ReadAllText(path).Replace("\"condition\": \"one\"", "\"condition\": \"zero\""))
                expectFileError (fun () -> FixedPointFile.loadConditions swapped) "a point whose input is not its condition's" |> ignore)
        }
    ]

let private cliTests =
    testSequenced <| testList "fixed-points per condition (command line)" [
        test "several --inputs, named: one search, the file lists the conditions, slow points too" {
            withTempDir (fun dir ->
                let model = Path.Combine(dir, "w2i.json")
                do
                    use net = Network.scaledIdentity Kinds.rnn 2 2.0
                    ModelFile.save model net
                let out = Path.Combine(dir, "fps.json")
                let code, stdout, err =
                    rnnfun [ "fixed-points"; "--model"; model; "--box"; "-1.5,1.5"; "--n-init"; "64"; "--inputs"; "zero=0"; "--inputs"; "one=1"; "--slow-points"; "--out"; out ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                Expect.equal (FixedPointFile.loadConditions out |> Array.map (fun c -> c.Name, c.Input)) [| "zero", [| 0.0 |]; "one", [| 1.0 |] |] "the conditions"
                let grouped = Conditions.group (FixedPointFile.loadConditions out) (FixedPointFile.load out) [||]
                Expect.equal (grouped |> Array.map (fun c -> c.FixedPoints.Length)) [| 9; 9 |] "9 points per condition"
                Expect.stringContains stdout "(64 per condition, 2 conditions)" "the summary counts the conditions"
                Expect.stringContains stdout "condition zero, u = (0): 9 fixed points" "a line per condition"
                Expect.stringContains stdout "slow points of one:" "the slow points per condition"
                let slow = Path.Combine(dir, "fps.slow-points.json")
                Expect.hasLength (FixedPointFile.loadConditions slow) 2 "the slow-point file lists the conditions too")
        }

        test "--inputs-file: one condition a row; conflicts and bad conditions are one line and exit 2" {
            withTempDir (fun dir ->
                let model = Path.Combine(dir, "w2i.json")
                do
                    use net = Network.scaledIdentity Kinds.rnn 2 2.0
                    ModelFile.save model net
                let inputs = Path.Combine(dir, "inputs.txt")
                File.WriteAllText(inputs, "0\n0.5\n1\n")
                let out = Path.Combine(dir, "fps.json")
                let code, _, err = rnnfun [ "fixed-points"; "--model"; model; "--box"; "-1.5,1.5"; "--n-init"; "32"; "--inputs-file"; inputs; "--out"; out; "--quiet" ]
                Expect.equal code 0 ("exit code; stderr: " + err)
                Expect.equal (FixedPointFile.loadConditions out |> Array.map (fun c -> c.Input)) [| [| 0.0 |]; [| 0.5 |]; [| 1.0 |] |] "three conditions"
                for args, what in
                    [ [ "--inputs"; "0"; "--inputs-file"; inputs ], "--inputs and --inputs-file"
                      [ "--inputs"; "a=0"; "--inputs"; "a=1" ], "'a'"
                      [ "--inputs"; "0"; "--inputs"; "0" ], "the same input"
                      [ "--inputs"; "0,1" ], "1 inputs" ] do
                    let code, _, err = rnnfun ([ "fixed-points"; "--model"; model; "--box"; "-1.5,1.5"; "--out"; out ] @ args)
                    Expect.equal code 2 (sprintf "exit code for %A" args)
                    Expect.equal (err.Trim().Split('\n').Length) 1 (sprintf "one line for %A: %s" args err)
                    Expect.stringContains err what (sprintf "names the problem for %A" args))
        }
    ]

/// Trained networks (small and seeded, a few seconds each).
let private trainedTests =
    testSequenced <| testList "trained" [
        test "a trained integrator's slow points cover the ring: angles in the PC1-PC2 plane in at least 10 of 12 sectors" {
            let preset = Presets.integrator 0 |> Presets.withSequenceLength 30
            let preset =
                { preset with
                    Network = { preset.Network with Units = 32 }
                    Fit = { preset.Fit with Epochs = 30; StopLoss = None; Schedule = LearningRateSchedule.Constant }
                    TrialsPerEpoch = 320
                    ValidationTrials = 64 }
            use fit = Presets.train preset
            let states = (Pipeline.trajectories fit.InitialState fit.Network (preset.Task.Generate 32 7)).AllStates
            let pca = Pca.fit 2 states
            let found = SlowPoints.find SlowPointConfig.defaults fit.Network (ConstantInput.Same [| 0.0 |]) (InitialStates.fromStates 256 0.5 0 states)
            let sectors = SlowPoints.sectorsCovered 12 pca found.Points
            Expect.isGreaterThanOrEqual sectors 10 (sprintf "%d slow points over %d of 12 sectors" found.Points.Length sectors)
            // Along a ring the eigenvalue closest to 1 is near 1 at every point.
            let near = found.Points |> Array.map (fun p -> (SlowPoints.closestToOne p.Eigenvalues).Value.Magnitude)
            Expect.isTrue (near |> Array.forall (fun m -> abs (m - 1.0) < 0.2)) (sprintf "|lambda| closest to 1 within 0.2 of 1: %.3f .. %.3f" (Array.min near) (Array.max near))
            Expect.isTrue (found.Points |> Array.forall (fun p -> p.Q <= found.Groups[0].Threshold.Threshold)) "every point below its threshold"
        }

        test "context-dependent integration: per context, the slow points form an approximate line attractor" {
            let preset = Presets.contextDecision 0
            // The preset's 64 units for 30 of its 100 epochs (about 90 % correct): a 32-unit network keeps
            // one of its two lines too short for the descent (it collapses to one point).
            let preset = { preset with Fit = { preset.Fit with Epochs = 30 } }
            use fit = Presets.train preset
            let task = Presets.contextDecisionTask
            let batch, _ = task.GenerateTrials 64 (Presets.validationSeed 0)
            let states = (Pipeline.trajectories None fit.Network batch).AllStates
            let conditions = Conditions.contextDecision
            let initial = conditions |> Array.mapi (fun i _ -> InitialStates.fromStates 256 0.1 i states)
            let result = Conditions.slowPoints SlowPointConfig.defaults fit.Network conditions initial
            Expect.hasLength result.Groups 2 "one group per context"
            for c, g in Array.zip conditions result.Groups do
                let m = Conditions.manifold g.Points
                let nearDistance = m.NearOne |> Array.map (fun l -> (l - Numerics.Complex.One).Magnitude) |> Array.sort
                let inside = m.OtherModulus |> Array.filter (fun v -> v < 1.0) |> Array.length
                let what = sprintf "%s: %d points, variance shares %A, median |lambda - 1| %.4f, %d of them with the others inside the unit circle" c.Name m.Points m.VarianceRatios nearDistance[nearDistance.Length / 2] inside
                Expect.isGreaterThanOrEqual m.Points 8 ("many slow points; " + what)
                Expect.isGreaterThanOrEqual m.VarianceRatios[0] 0.9 ("along one direction; " + what)
                Expect.isLessThanOrEqual nearDistance[nearDistance.Length / 2] 0.05 ("one eigenvalue near 1; " + what)
                Expect.isGreaterThanOrEqual (float inside) (0.9 * float m.Points) ("the rest inside the unit circle; " + what)
        }
    ]

[<Tests>]
let tests = testList "SlowPoints" [ thresholdTests; presetTests; conditionTests; cliTests; trainedTests ]
