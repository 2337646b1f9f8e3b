module RnnFun.Tests.PlottingTests

open System
open System.IO
open System.Numerics
open System.Text.Json
open System.Text.RegularExpressions
open Expecto
open Plotly.NET
open RnnFun
open RnnFun.Plotting

// ---------------------------------------------------------------------------------------------
// Reading charts back: the figure JSON Plotly.NET writes ({ data, layout, config }).

let private figure (chart: GenericChart) = JsonDocument.Parse(GenericChart.toJson chart).RootElement.Clone()

let private traces (chart: GenericChart) = (figure chart).GetProperty("data").EnumerateArray() |> Array.ofSeq

let private layout (chart: GenericChart) = (figure chart).GetProperty("layout")

let private str (e: JsonElement) (key: string) =
    match e.TryGetProperty key with
    | true, v when v.ValueKind = JsonValueKind.String -> v.GetString()
    | _ -> null

let private num (e: JsonElement) (key: string) = e.GetProperty(key).GetDouble()

let private numbers (e: JsonElement) =
    e.EnumerateArray() |> Seq.map (fun v -> if v.ValueKind = JsonValueKind.Number then v.GetDouble() else nan) |> Array.ofSeq

let private named (name: string) (chart: GenericChart) = traces chart |> Array.filter (fun t -> str t "name" = name)

let private ofType (kind: string) (chart: GenericChart) = traces chart |> Array.filter (fun t -> str t "type" = kind)

let private count (needle: string) (haystack: string) =
    let mutable n, i = 0, haystack.IndexOf(needle, StringComparison.Ordinal)
    while i >= 0 do
        n <- n + 1
        i <- haystack.IndexOf(needle, i + needle.Length, StringComparison.Ordinal)
    n

let private annotationTexts (chart: GenericChart) =
    match (layout chart).TryGetProperty "annotations" with
    | true, a -> a.EnumerateArray() |> Seq.map (fun x -> str x "text") |> Array.ofSeq
    | _ -> [||]

let private shapes (chart: GenericChart) =
    match (layout chart).TryGetProperty "shapes" with
    | true, a -> a.EnumerateArray() |> Array.ofSeq
    | _ -> [||]

/// z of a heatmap trace as rows.
let private zRows (t: JsonElement) = t.GetProperty("z").EnumerateArray() |> Seq.map numbers |> Array.ofSeq

// ---------------------------------------------------------------------------------------------
// Small real records, built once.

let private flipFlop = Tasks.flipFlop { FlipFlopConfig.defaults with Time = 20 }

/// 10 units under Dale's law (ratio 0.8: units 0-7 excitatory, 8-9 inhibitory), 3 inputs, 3 outputs.
let private daleNet () =
    Network.create
        Kinds.rnn
        { NetworkConfig.defaults with
            InputSize = 3
            Units = 10
            OutputSize = 3
            Seed = 4L
            Constraints = { Constraints.none with DaleRatio = Some 0.8 } }

/// A short training run with validation (curves, rates, best epoch).
let private fit =
    lazy
        (use net = daleNet ()
         let config =
             { FitConfig.defaults with
                 BatchSize = 16
                 Epochs = 4
                 LearningRate = 1e-2
                 Validation = Some(flipFlop.Generate 16 99)
                 Schedule = LearningRateSchedule.MultiStep([ 2 ], 0.5) }
         Training.fitWith { FitHooks.none with Threads = Some 1 } config net (TrainingData.Fresh(flipFlop, 32)))

let private batch = lazy (flipFlop.Generate 4 7)

/// Outputs and states of the trained network on `batch`.
let private rolled =
    lazy
        (let run = Pipeline.trajectories None fit.Value.Network batch.Value
         run.Outputs, run.States)

let private statesPca = lazy (Pca.fitAll (Array.concat (snd rolled.Value)))

/// W = 2I (3 units): 27 fixed points, 8 / 12 / 6 / 1 with 0 / 1 / 2 / 3 unstable modes.
let private fixedPoints =
    lazy
        (use net = Network.scaledIdentity Kinds.rnn 3 2.0
         (FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 256 -1.5 1.5 3 0)).FixedPoints)

let private topology =
    lazy
        (use net = Network.scaledIdentity Kinds.rnn 3 2.0
         Topology.build { TopologyConfig.defaults with RunsPerPoint = 4; MaxSteps = 200 } net [| 0.0 |] fixedPoints.Value)

/// A PCA of the fixed points of W = 2I.
let private pointsPca = lazy (Pca.fitAll (fixedPoints.Value |> Array.map (fun p -> p.State)))

/// Trajectories of W = 2I from a few starts [trial].[time].[units].
let private decoupledTrajectories =
    [| for start in [ [| 0.1; -0.05; 0.02 |]; [| -0.2; 0.3; -0.01 |]; [| 0.05; 0.05; -0.3 |] ] do
           [| let mutable x = start
              for _ in 0 .. 19 do
                  yield x
                  x <- x |> Array.map (fun v -> tanh (2.0 * v)) |] |]

let private emptyFit () =
    let net = daleNet ()
    { Network = net
      InitialState = None
      Losses = [||]
      LearningRates = [||]
      ValidationLosses = [||]
      EpochEndSeconds = [||]
      BestEpoch = 0
      StopReason = StopReason.Completed
      StoppedAtEpoch = 0
      Steps = 0
      WallTime = TimeSpan.Zero }

let private emptyPca =
    { Mean = [||]; Components = [||]; ExplainedVariance = [||]; ExplainedVarianceRatio = [||]; TotalVariance = 0.0 }

let private pointWithoutEigenvalues =
    { Id = 5
      State = [| 0.0; 0.0 |]
      Input = [| 0.0 |]
      Q = 0.0
      Speed = 0.0
      Search = None
      Eigenvalues = [||]
      Linearisation = None
      UnstableModes = 0
      Stable = true
      Kind = FixedPointKind.Attractor
      ContinuousEigenvalues = None }

let private emptyBatch =
    { Inputs = [||]; Targets = [||]; Mask = None; Trials = 0; Time = 0; InputSize = 1; OutputSize = 1 }

let private emptyTopology =
    { Config = TopologyConfig.defaults; Input = [| 0.0 |]; Vertices = [||]; Edges = [||]; Unreached = 0 }

let private fullInputs () =
    let outputs, states = rolled.Value
    { ReportInputs.empty with
        Title = "Plotting test report"
        Model = Some(ModelSummary.ofNetwork fit.Value.Network)
        Training = Some(TrainingSummary.ofFit fit.Value)
        FitConfig = Some { FitConfig.defaults with Epochs = 4 }
        Batch = Some batch.Value
        Outputs = outputs
        TrialCount = 2
        States = Some states
        FixedPoints = Some fixedPoints.Value
        Topology = Some topology.Value
        Notes = [ "task", "flip-flop </script><b>" ] }

let private tempPath () = Path.Combine(Path.GetTempPath(), "rnnfun-plot-" + Guid.NewGuid().ToString("N"), "report.html")

[<Tests>]
let tests =
    testList "Plotting" [
        test "the unstable-mode palette maps 0, 1, 2, 3, 7 to seagreen, salmon, skyblue, magenta, magenta" {
            Expect.equal ([ 0; 1; 2; 3; 7 ] |> List.map Charts.unstableModeColorName) [ "seagreen"; "salmon"; "skyblue"; "magenta"; "magenta" ] "palette"
            Expect.equal ([ 0; 1; 2; 3; 7 ] |> List.map Charts.unstableModeColorName) ([ 0; 1; 2; 3; 7 ] |> List.map Topology.colour) "the core's palette"
        }

        test "every chart function given empty input returns a chart with the 'no data' note" {
            use empty = emptyFit ()
            let charts =
                [ "training", Charts.training (TrainingSummary.ofFit empty)
                  "trainingLog", Charts.trainingLog TrainingLog.empty
                  "trials", Charts.trials emptyBatch ([||]: float32[]) 3
                  "trials count 0", Charts.trials batch.Value ([||]: float[]) 0
                  "activity", Charts.activity [||]
                  "weightMatrices", Charts.weightMatrices None None None Constraints.none None
                  "dimensionality", Charts.dimensionality emptyPca 0.85
                  "stateSpace", Charts.stateSpace emptyPca [||] [||]
                  "stateSpace (empty trials)", Charts.stateSpace pointsPca.Value [| [||] |] [||]
                  "eigenvalues", Charts.eigenvalues pointWithoutEigenvalues
                  "eigenvalueModuli", Charts.eigenvalueModuli [||]
                  "eigenvalueModuli (no eigenvalues)", Charts.eigenvalueModuli [| pointWithoutEigenvalues |]
                  "topology", Charts.topology emptyTopology None [||] ]
            for name, chart in charts do
                let html = GenericChart.toChartHTML chart
                Expect.stringContains html Charts.NoDataText (name + ": HTML has the note")
                Expect.isTrue (annotationTexts chart |> Array.exists (fun t -> t.StartsWith Charts.NoDataText)) (name + ": an annotation starts with 'no data'")
                Expect.isFalse (traces chart |> Array.exists (fun t -> str t "type" <> null)) (name + ": no visible trace")
                Expect.isNotNull (str ((layout chart).GetProperty "title") "text") (name + ": titled")
        }

        test "training: loss (log y) and validation loss above the learning rate, with the kept epoch" {
            let r = fit.Value
            let chart = Charts.training (TrainingSummary.ofFit r)
            let loss = named "training loss" chart
            Expect.equal loss.Length 1 "one training-loss trace"
            Expect.equal (numbers (loss.[0].GetProperty "y")) r.Losses "training losses"
            Expect.equal (numbers ((named "validation loss" chart).[0].GetProperty "y")) r.ValidationLosses "validation losses"
            let rate = named "learning rate" chart
            Expect.equal (numbers (rate.[0].GetProperty "y")) r.LearningRates "learning rates"
            Expect.contains [ null; "y" ] (str loss.[0] "yaxis") "the loss is on the first y axis"
            Expect.equal (str rate.[0] "yaxis") "y2" "the learning rate on a second subplot"
            Expect.equal (str ((layout chart).GetProperty "yaxis") "type") "log" "log loss axis"
            Expect.equal (traces chart |> Array.filter (fun t -> (str t "name").StartsWith "kept weights") |> Array.length) (if r.BestEpoch > 0 then 1 else 0) "kept-epoch marker"
            // A log without rates or validation is one panel.
            let single = Charts.trainingLog { TrainingLog.empty with Losses = [| 1.0; 0.5; 0.0; nan; 0.1 |] }
            Expect.equal (traces single).Length 1 "one trace"
            Expect.equal (numbers ((traces single).[0].GetProperty "x")) [| 1.0; 2.0; 5.0 |] "non-positive and NaN losses left out of the log axis"
        }

        test "trials: inputs, outputs and dashed targets for each trial asked for (float32 and float64 outputs)" {
            let b = batch.Value
            let outputs, _ = rolled.Value
            let chart = Charts.trials b outputs 2
            let ts = traces chart
            Expect.equal ts.Length (2 * (b.InputSize + 2 * b.OutputSize)) "per trial: inputs, targets, outputs"
            let targets = ts |> Array.filter (fun t -> (str t "name").StartsWith "target")
            Expect.equal targets.Length (2 * b.OutputSize) "targets"
            for t in targets do
                Expect.equal (str (t.GetProperty "line") "dash") "dash" "targets dashed"
            let outputTraces = ts |> Array.filter (fun t -> (str t "name").StartsWith "output")
            Expect.equal outputTraces.Length (2 * b.OutputSize) "outputs"
            // Trial 2, output 1 equals the data [trial 1; t; 0].
            let second = outputTraces |> Array.filter (fun t -> str t "name" = "output 1") |> Array.last
            Expect.equal (numbers (second.GetProperty "y")) (Array.init b.Time (fun t -> outputs.[(1 * b.Time + t) * b.OutputSize])) "trial 2's output 1"
            let single = Charts.trials b (outputs |> Array.map float32) 99
            Expect.equal (traces single).Length (b.Trials * (b.InputSize + 2 * b.OutputSize)) "count clamped to the batch; float32 outputs"
            Expect.equal (traces (Charts.trials b ([||]: float[]) 1)).Length (b.InputSize + b.OutputSize) "no outputs: targets only"
            let arg, _ = expectInvalid (fun () -> Charts.trials b [| 1.0; 2.0 |] 1) "outputs of the wrong length"
            Expect.equal arg "outputs" "names the outputs"
        }

        test "activity: a units x time heatmap on a symmetric scale" {
            let _, states = rolled.Value
            let chart = Charts.activity states.[0]
            let h = ofType "heatmap" chart
            Expect.equal h.Length 1 "one heatmap"
            let z = zRows h.[0]
            Expect.equal z.Length states.[0].[0].Length "rows are units"
            Expect.equal z.[0].Length states.[0].Length "columns are time steps"
            Expect.equal z.[3].[5] states.[0].[5].[3] "z[unit][time]"
            Expect.equal (num h.[0] "zmin") (-(num h.[0] "zmax")) "symmetric"
            Expect.equal (num h.[0] "zmid") 0.0 "zmid 0"
        }

        test "weights: E then I, a symmetric colour scale per matrix, E/I and region border lines" {
            use net = daleNet ()
            let chart = Charts.weights (ModelSummary.ofNetwork net) None
            let heatmaps = ofType "heatmap" chart
            Expect.equal (heatmaps |> Array.map (fun t -> str t "name")) [| "W_in"; "W_rec"; "W_out" |] "three matrices"
            for h in heatmaps do
                let m = zRows h |> Array.concat |> Array.map abs |> Array.max
                Expect.equal (num h "zmax") m (sprintf "%s: zmax = its own max |w|" (str h "name"))
                Expect.equal (num h "zmin") (-m) (sprintf "%s: zmin = -its own max |w|" (str h "name"))
                Expect.equal (num h "zmid") 0.0 "zmid = 0"
                Expect.notEqual (match h.TryGetProperty "showscale" with | true, v -> v.GetBoolean() | _ -> true) false (sprintf "%s has its own colour bar" (str h "name"))
                Expect.stringContains (str (h.GetProperty("colorbar").GetProperty "title") "text") (str h "name") "each colour bar names its matrix"
            Expect.equal (heatmaps |> Array.map (fun h -> num h "zmax") |> Array.distinct |> Array.length) 3 "three scales, not one"
            Expect.equal (heatmaps |> Array.map (fun h -> num (h.GetProperty "colorbar") "y") |> Array.distinct |> Array.length) 3 "colour bars do not overlap"
            let wRec = zRows heatmaps.[1]
            let nE = Constraints.excitatoryCount 10 0.8
            Expect.equal nE 8 "8 excitatory units"
            for i in 0 .. 9 do
                for j in 0 .. 9 do
                    if j < nE then Expect.isGreaterThanOrEqual wRec.[i].[j] 0.0 (sprintf "column %d (E) >= 0" j)
                    else Expect.isLessThanOrEqual wRec.[i].[j] 0.0 (sprintf "column %d (I) <= 0" j)
            Expect.equal wRec (effectiveMatrices net |> fun (_, r, _) -> r) "W_rec in the network's unit order"
            let at (s: JsonElement) (key: string) = match s.TryGetProperty key with | true, v when v.ValueKind = JsonValueKind.Number -> v.GetDouble() | _ -> nan
            let borderLines = shapes chart |> Array.filter (fun s -> at s "x0" = 7.5 && at s "x1" = 7.5 || at s "y0" = 7.5 && at s "y1" = 7.5)
            Expect.equal borderLines.Length 4 "E/I border: W_in rows, W_rec rows and columns, W_out columns"
            Expect.isTrue (annotationTexts chart |> Array.exists (fun t -> t = "excitatory")) "E block labelled"
            // Regions: a border at the second region's first unit.
            let connectivity =
                MultiRegion.build
                    { MultiRegion.empty with
                        Regions = [ { MultiRegion.region "A" 4 with DaleRatio = Some 0.5 }; MultiRegion.region "B" 3 ]
                        Projections = [ MultiRegion.projection "A" "B" 0.5 ] }
            use multi =
                Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = connectivity.InputSize; Units = connectivity.Units; OutputSize = connectivity.OutputSize; Constraints = connectivity.Constraints }
            let regional = Charts.weights (ModelSummary.ofNetwork multi) (Some connectivity.Regions)
            let solidAt (p: float) = shapes regional |> Array.filter (fun s -> str (s.GetProperty "line") "dash" = "solid" && (at s "x0" = p && at s "x1" = p || at s "y0" = p && at s "y1" = p))
            Expect.equal (solidAt 3.5).Length 4 "region border between units 3 and 4 in every panel"
            Expect.equal (shapes regional |> Array.filter (fun s -> str (s.GetProperty "line") "dash" = "dash")).Length 4 "E/I border of region A (units 0-1 E, 2-3 I)"
            Expect.isTrue (annotationTexts regional |> Array.contains "B") "region names"
        }

        test "dimensionality: bars per component, cumulative line and the threshold" {
            let pca = statesPca.Value
            let chart = Charts.dimensionality pca 0.85
            let bars = ofType "bar" chart
            Expect.equal bars.Length 1 "one bar trace"
            Expect.equal (numbers (bars.[0].GetProperty "y")) pca.ExplainedVarianceRatio "ratios"
            let cumulative = named "cumulative" chart
            Expect.floatClose Accuracy.high (Array.last (numbers (cumulative.[0].GetProperty "y"))) 1.0 "a full fit sums to 1"
            Expect.isTrue (shapes chart |> Array.exists (fun s -> num s "y0" = 0.85 && num s "y1" = 0.85)) "threshold line"
            let k = Pca.componentsForVariance 0.85 pca
            Expect.stringContains (str ((layout chart).GetProperty "title") "text") (sprintf "%d component" k) "components that reach the threshold in the title"
            expectInvalid (fun () -> Charts.dimensionality pca 1.5) "threshold > 1" |> ignore
        }

        test "stateSpace: one trace per trial, fixed points by unstable modes, a segment per unstable point" {
            let fps = fixedPoints.Value
            Expect.equal fps.Length 27 "27 fixed points"
            let pca = pointsPca.Value
            let chart = Charts.stateSpace pca decoupledTrajectories fps
            let lines = ofType "scatter3d" chart
            let trials = lines |> Array.filter (fun t -> (str t "name").StartsWith "trial")
            Expect.equal trials.Length 3 "one trace per trial"
            Expect.equal (trials |> Array.map (fun t -> str (t.GetProperty "line") "color") |> Array.distinct).Length 3 "one colour per trial"
            let groups = lines |> Array.filter (fun t -> (str t "name").StartsWith "fixed points")
            let colors = groups |> Array.map (fun t -> str (t.GetProperty "marker") "color")
            Expect.equal colors [| "seagreen"; "salmon"; "skyblue"; "magenta" |] "palette"
            Expect.equal (groups |> Array.map (fun t -> (numbers (t.GetProperty "x")).Length)) [| 8; 12; 6; 1 |] "8 / 12 / 6 / 1"
            let texts = groups.[1].GetProperty("text").EnumerateArray() |> Seq.map (fun t -> t.GetString()) |> Array.ofSeq
            for t in texts do
                Expect.stringContains t "fixed point" "hover: id"
                Expect.stringContains t "saddle" "hover: kind"
                Expect.stringContains t "q = " "hover: q"
            let segments = lines |> Array.filter (fun t -> (str t "name").StartsWith "unstable directions")
            Expect.equal segments.Length 19 "a segment trace per point with unstable modes (12 + 6 + 1)"
            // A 1-unstable point: -v, +v, centre; the centre is the projected point, the ends symmetric about it.
            let saddle = fps |> Array.find (fun p -> p.UnstableModes = 1)
            let centre = Pca.transformPoint pca saddle.State
            let segment =
                segments
                |> Array.find (fun t ->
                    let x, y, z = numbers (t.GetProperty "x"), numbers (t.GetProperty "y"), numbers (t.GetProperty "z")
                    x.Length = 3 && abs (x.[2] - centre.[0]) < 1e-9 && abs (y.[2] - centre.[1]) < 1e-9 && abs (z.[2] - centre.[2]) < 1e-9)
            let x = numbers (segment.GetProperty "x")
            Expect.floatClose Accuracy.high ((x.[0] + x.[1]) / 2.0) centre.[0] "symmetric about the point"
            let span (axis: string) = let v = numbers (segment.GetProperty axis) in abs (v.[1] - v.[0])
            Expect.isGreaterThan (span "x" + span "y" + span "z") 1e-6 "a visible segment (in 3-D: it may lie along one principal axis)"
            Expect.equal (str (segment.GetProperty "line") "color") "salmon" "segment in its point's colour"
        }

        test "eigenvalues: every eigenvalue is drawn, and nearly coinciding ones stay apart" {
            let near = { pointWithoutEigenvalues with Eigenvalues = [| Complex(1.3014, 0.0); Complex(1.2946, 0.0); Complex(1.2990, 0.001); Complex(0.5, 0.2); Complex(0.5, -0.2); Complex(0.1, 0.0) |]; UnstableModes = 3 }
            let chart = Charts.eigenvalues near
            let plane = [ "stable (|λ| ≤ 1)"; "unstable (|λ| > 1)" ] |> List.collect (fun n -> named n chart |> List.ofArray)
            let markers = plane |> List.sumBy (fun t -> (numbers (t.GetProperty "x")).Length)
            Expect.equal markers near.Eigenvalues.Length "one marker per eigenvalue in the plane"
            let unstable = (named "unstable (|λ| > 1)" chart).[0]
            let sizes = numbers (unstable.GetProperty("marker").GetProperty "size")
            Expect.equal (Array.distinct sizes).Length 3 "three unstable eigenvalues within 0.007 of each other: three distinct ring sizes"
            let byIndex = traces chart |> Array.filter (fun t -> (str t "name").EndsWith ", by index")
            let xs = byIndex |> Array.collect (fun t -> numbers (t.GetProperty "x"))
            Expect.equal (Array.sort xs) [| 1.0 .. 6.0 |] "each eigenvalue at its own index in the moduli panel"
            let ys = (byIndex |> Array.find (fun t -> str t "name" = "unstable (|λ| > 1), by index")).GetProperty "y" |> numbers
            Expect.equal ys.Length 3 "three unstable moduli"
            Expect.isTrue (ys |> Array.pairwise |> Array.forall (fun (a, b) -> a > b)) "distinct moduli, decreasing"
            // A point at the origin of a flip-flop network: three unstable modes, all drawn.
            let origin = fixedPoints.Value |> Array.find (fun p -> p.UnstableModes = 3)
            let drawn = named "unstable (|λ| > 1)" (Charts.eigenvalues origin) |> Array.sumBy (fun t -> (numbers (t.GetProperty "x")).Length)
            Expect.equal drawn 3 "three unstable modes, three markers"
        }

        test "static images: no mode bar; the 3-D scene keeps its axis titles inside the figure" {
            let chart = Charts.eigenvalues { pointWithoutEigenvalues with Eigenvalues = [| Complex(0.5, 0.0) |] }
            Expect.stringContains (Report.exportFragment "x" chart) "displayModeBar: false" "exported figure hides the mode bar"
            Expect.isFalse ((Report.chartFragment "x" chart).Contains "displayModeBar") "the HTML report keeps it"
            let space = Charts.stateSpace pointsPca.Value [||] fixedPoints.Value
            let scene = (layout space).GetProperty "scene"
            let eye = scene.GetProperty("camera").GetProperty "eye"
            let distance = sqrt ([ "x"; "y"; "z" ] |> List.sumBy (fun k -> (num eye k) ** 2.0))
            Expect.isGreaterThan distance (sqrt 3.0 * 1.25) "camera farther out than plotly's default"
            let domain = scene.GetProperty("domain").GetProperty "x" |> numbers
            Expect.isGreaterThan domain.[0] 0.0 "scene keeps a margin on the left"
            Expect.isLessThan domain.[1] 1.0 "and on the right"
        }

        test "eigenvalues and eigenvalueModuli: complex plane with unit circle; sorted moduli coloured by unstable modes" {
            let fps = fixedPoints.Value
            let origin = fps |> Array.find (fun p -> p.UnstableModes = 3)
            let chart = Charts.eigenvalues origin
            Expect.equal (named "unit circle |λ| = 1" chart).Length 1 "unit circle"
            let unstable = named "unstable (|λ| > 1)" chart
            Expect.equal (numbers (unstable.[0].GetProperty "x") |> Array.sort) (origin.Eigenvalues |> Array.map (fun l -> l.Real) |> Array.sort) "eigenvalues at 2"
            Expect.isEmpty (named "stable (|λ| ≤ 1)" chart) "no stable eigenvalue at the origin"
            Expect.equal (str ((layout chart).GetProperty "yaxis") "scaleanchor") "x" "equal aspect"
            let moduli = Charts.eigenvalueModuli fps
            let lines = traces moduli |> Array.filter (fun t -> (str t "name").Contains "unstable mode")
            Expect.equal lines.Length 27 "one line per fixed point"
            for t in lines do
                let y = numbers (t.GetProperty "y")
                Expect.equal y (Array.sortDescending y) "sorted in decreasing order"
            Expect.equal (lines |> Array.map (fun t -> str (t.GetProperty "line") "color") |> Array.countBy id |> Map.ofArray) (Map.ofList [ "seagreen", 8; "salmon", 12; "skyblue", 6; "magenta", 1 ]) "coloured by unstable modes"
            Expect.equal (lines |> Array.filter (fun t -> match t.TryGetProperty "showlegend" with | true, v -> v.GetBoolean() | _ -> true) |> Array.length) 4 "one legend entry per group"
            Expect.isTrue (shapes moduli |> Array.exists (fun s -> num s "y0" = 1.0)) "line at |λ| = 1"
        }

        test "topology: nodes at PCA positions or in layers, edges with width and opacity by probability" {
            let t = topology.Value
            let fps = fixedPoints.Value
            let pca = pointsPca.Value
            let chart = Charts.topology t (Some pca) fps
            let nodes = traces chart |> Array.filter (fun x -> (str x "name").StartsWith "fixed points")
            Expect.equal (nodes |> Array.sumBy (fun n -> (numbers (n.GetProperty "x")).Length)) 27 "27 nodes"
            let salmon = nodes |> Array.find (fun n -> str (n.GetProperty "marker") "color" = "salmon")
            let id = fps |> Array.find (fun p -> p.UnstableModes = 1) |> fun p -> p.Id
            let position = Pca.transformPoint pca (fps |> Array.find (fun p -> p.Id = id)).State
            Expect.isTrue (Array.exists2 (fun x y -> abs (x - position.[0]) < 1e-9 && abs (y - position.[1]) < 1e-9) (numbers (salmon.GetProperty "x")) (numbers (salmon.GetProperty "y"))) "node at its PC1/PC2 position"
            let moves = t.Edges |> Array.filter (fun e -> e.From <> e.To)
            let edges = traces chart |> Array.filter (fun x -> (str x "name").EndsWith "(width, opacity: probability)")
            Expect.equal edges.Length moves.Length "one trace per edge between two points"
            let widths = edges |> Array.map (fun e -> num (e.GetProperty "line") "width")
            let opacities = edges |> Array.map (fun e -> num e "opacity")
            let expected = moves |> Array.map (fun e -> 1.0 + 6.0 * e.Probability)
            Expect.equal widths expected "width by probability"
            Expect.equal (Array.zip widths opacities |> Array.sortBy fst |> Array.map snd) (Array.sort opacities) "opacity grows with probability"
            let arrows =
                match (layout chart).TryGetProperty "annotations" with
                | true, a -> a.EnumerateArray() |> Seq.filter (fun x -> match x.TryGetProperty "showarrow" with | true, v -> v.GetBoolean() | _ -> false) |> Array.ofSeq
                | _ -> [||]
            Expect.equal (arrows |> Array.map (fun a -> num a "arrowwidth")) (moves |> Array.map (fun e -> 1.0 + 2.0 * e.Probability)) "an arrowhead per edge, wider with probability"
            let hover = (edges.[0].GetProperty "text").EnumerateArray() |> Seq.head
            Expect.stringContains (hover.GetString()) "run" "hover text with counts"
            // Without a PCA: layers by unstable modes.
            let layered = Charts.topology t None [||]
            for n in traces layered |> Array.filter (fun x -> (str x "name").StartsWith "fixed points") do
                let modes = match str (n.GetProperty "marker") "color" with "seagreen" -> 0.0 | "salmon" -> 1.0 | "skyblue" -> 2.0 | _ -> 3.0
                Expect.isTrue (numbers (n.GetProperty "y") |> Array.forall ((=) modes)) "y = unstable modes"
        }

        test "topology, layered with a PCA: every node apart, one row per unstable-mode count, a row in the order of PC1" {
            let t = topology.Value
            let fps = fixedPoints.Value
            let pca = pointsPca.Value
            let chart = Charts.topologyWith TopologyLayout.Layered t (Some pca) fps
            let nodes = traces chart |> Array.filter (fun x -> (str x "name").StartsWith "fixed points")
            let positions = nodes |> Array.collect (fun n -> Array.zip (numbers (n.GetProperty "x")) (numbers (n.GetProperty "y")))
            Expect.equal positions.Length 27 "27 nodes"
            Expect.equal (positions |> Array.distinct |> Array.length) 27 "no two nodes at one place"
            for n in nodes do
                let modes = match str (n.GetProperty "marker") "color" with "seagreen" -> 0 | "salmon" -> 1 | "skyblue" -> 2 | _ -> 3
                Expect.isTrue (numbers (n.GetProperty "y") |> Array.forall ((=) (float modes))) "y = unstable modes"
                // Within the row, x follows PC1: the nodes sorted by x have non-decreasing PC1.
                let ids =
                    (n.GetProperty "text").EnumerateArray()
                    |> Seq.map (fun e -> let t = e.GetString() in int (t.Substring(12, t.IndexOf(" (") - 12)))
                    |> Array.ofSeq // "fixed point 7 (...": 7
                Expect.equal ids.Length (fps |> Array.filter (fun p -> p.UnstableModes = modes) |> Array.length) "the row holds every point with that many unstable modes"
                let pc1 id = (Pca.transformPoint pca (fps |> Array.find (fun p -> p.Id = id)).State)[0]
                let byX = Array.zip (numbers (n.GetProperty "x")) ids |> Array.sortBy fst |> Array.map (snd >> pc1)
                Expect.isTrue (byX |> Array.pairwise |> Array.forall (fun (a, b) -> a <= b + 1e-12)) (sprintf "%d unstable modes: left to right in the order of PC1 (%A)" modes byX)
            let subtitle = (layout chart).GetProperty("title").GetProperty("text").GetString()
            Expect.stringContains subtitle "in the order of PC1" "says how the rows are ordered"
        }

        test "report: every section, plotly.js inline exactly once, no external URL, a figure per Plotly.newPlot" {
            let html = Report.html (fullInputs ())
            for title in Report.sectionTitles do
                Expect.stringContains html (sprintf "<h2>%s</h2>" title) (sprintf "section '%s'" title)
            let js = Report.plotlyJs ()
            let header = js.Substring(0, js.IndexOf("*/") + 2)
            Expect.stringContains header "plotly.js v" "the library's header"
            Expect.equal (count header html) 1 "plotly.js header once"
            Expect.equal (count "/*! For license information please see plotly.min.js.LICENSE.txt */" html) 1 "plotly.min.js once"
            Expect.isGreaterThan html.Length js.Length "the library is inside"
            // Nothing is loaded from anywhere: no script or stylesheet reference, no http source.
            for bad in [ "src=\"http"; "src='http"; "<link"; "<script src"; "@import" ] do
                Expect.isFalse (html.Contains(bad, StringComparison.OrdinalIgnoreCase)) (sprintf "no %s anywhere" bad)
            // plotly.js itself (kept verbatim) holds link targets in strings (its logo, map attributions:
            // href="https://...") and its unused topojson default (cdn.plot.ly); outside it, nothing may.
            let outside = html.Replace(js.Replace("</script", "<\\/script"), "")
            Expect.isLessThan outside.Length (html.Length - 3_000_000) "the library removed"
            for bad in [ "href=\"http"; "href='http"; "cdn.plot.ly"; "http://"; "https://" ] do
                Expect.isFalse (outside.Contains(bad, StringComparison.OrdinalIgnoreCase)) (sprintf "no %s outside plotly.js" bad)
            Expect.equal (count "cdn.plot.ly" js) (count "topojsonURL:{valType:\"string\",noBlank:!0,dflt:\"https://cdn.plot.ly/\"}" js) "plotly.js names cdn.plot.ly only as its topojson default"
            let figures = count "<div class=\"figure\">" outside
            Expect.equal (count "Plotly.newPlot('rnnfun-figure-" outside) figures "a Plotly.newPlot per figure"
            // training, trials, activity, weights, dimensionality, state space, moduli, 4 eigenvalue planes,
            // topology (layered only: these states and points differ in size, so there is no shared PCA)
            Expect.equal figures 12 "12 figures"
            Expect.isFalse (outside.Contains "</script><b>") "user text is escaped"
            Expect.stringContains outside "leading |λ1|" "fixed point table"
            Expect.equal (count "<span class=\"swatch\" style=\"background:seagreen\">" outside) 8 "8 attractors in the table"
        }

        test "report: with states and points of one size, the topology in PC1-PC2 and layered by unstable modes" {
            let inputs = { ReportInputs.empty with States = Some decoupledTrajectories; FixedPoints = Some fixedPoints.Value; Topology = Some topology.Value }
            let html = Report.html inputs
            Expect.equal (count "Fixed-point topology: where the flow goes" html) 2 "two topology figures"
            Expect.equal (count "side by side in the order of PC1" html) 1 "one of them layered, in the order of PC1"
        }

        test "report: an empty fixed-point list with states and a topology does not throw" {
            let inputs = { ReportInputs.empty with States = Some decoupledTrajectories; FixedPoints = Some [||]; Topology = Some topology.Value }
            Expect.stringContains (Report.html inputs) "Fixed-point topology" "the topology is drawn (layered, no PCA positions)"
        }

        test "report with no inputs: each section says its input is missing; still one plotly.js" {
            let html = Report.html ReportInputs.empty
            for title in Report.sectionTitles do
                Expect.stringContains html (sprintf "<h2>%s</h2>" title) (sprintf "section '%s'" title)
            Expect.equal (count "class=\"missing\"" html) 10 "every missing input said (model, settings, curves, trials, states, weights, PCA, fixed points, slow points, topology)"
            Expect.equal (count "/*! For license information please see plotly.min.js.LICENSE.txt */" html) 1 "plotly.min.js once"
            Expect.equal (count "<div class=\"figure\">" html) 0 "no figures"
        }

        test "Report.save writes the file atomically, over an old one, leaving no temporary file" {
            let path = tempPath ()
            let dir = Path.GetDirectoryName path
            try
                Directory.CreateDirectory dir |> ignore
                File.WriteAllText(path, "old")
                Report.save path { ReportInputs.empty with Title = "saved <report>" }
                let text = File.ReadAllText path
                Expect.isTrue (text.StartsWith "<!DOCTYPE html>") "an HTML document"
                Expect.stringContains text "<title>saved &lt;report&gt;</title>" "title encoded"
                Expect.equal (Directory.GetFiles dir |> Array.map Path.GetFileName) [| "report.html" |] "no temporary file left"
            finally
                if Directory.Exists dir then Directory.Delete(dir, true)
        }
    ]
