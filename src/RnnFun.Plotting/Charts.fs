namespace RnnFun.Plotting

open System
open System.Numerics
open Plotly.NET
open Plotly.NET.LayoutObjects
open Plotly.NET.TraceObjects
open RnnFun

/// Training curves as plain arrays: from a training run (`TrainingLog.ofSummary`), from a training
/// log file (`TrainingLog.ofRecord`) or from a log written elsewhere.
type TrainingLog =
    { /// Mean training loss per epoch.
      Losses: float[]
      /// Validation loss per epoch (empty: none).
      ValidationLosses: float[]
      /// Learning rate of each epoch (empty: not recorded).
      LearningRates: float[]
      /// 1-based epoch whose weights were kept (0: none).
      BestEpoch: int }

    /// No epochs.
    static member empty = { Losses = [||]; ValidationLosses = [||]; LearningRates = [||]; BestEpoch = 0 }

    /// The curves of a training run (`TrainingSummary.ofFit`).
    static member ofSummary(r: TrainingSummary) =
        { Losses = r.Losses
          ValidationLosses = r.ValidationLosses
          LearningRates = r.LearningRates
          BestEpoch = r.BestEpoch }

    /// The curves of a training log read back (`TrainingLogFile.load`).
    static member ofRecord(r: TrainingRecord) =
        { Losses = r.Losses
          ValidationLosses = r.ValidationLosses
          LearningRates = r.LearningRates
          BestEpoch = r.BestEpoch }

/// Where the topology figure puts its nodes.
[<RequireQualifiedAccess>]
type TopologyLayout =
    /// At each fixed point's (PC1, PC2) position: the geometry, where a saddle can sit over an
    /// attractor. Needs a PCA and the fixed points (else `Layered`).
    | PcaPlane
    /// One row per number of unstable modes, the nodes of a row side by side in the order of their
    /// PC1 (of their ids without a PCA): every node apart, attractors below the saddles.
    | Layered

/// Plotly.NET figures of RnnFun's plain results (never tensors). Every function returns a
/// `GenericChart` with a title, axis titles and a legend; given empty input it returns a chart that
/// says "no data" instead of throwing. Charts compose with Plotly.NET's own functions
/// (`Chart.withSize`, `Chart.withTitle`, ...).
[<RequireQualifiedAccess>]
module Charts =
    /// The text every chart without data shows (followed by the reason).
    [<Literal>]
    let NoDataText = "no data"

    /// The palette for the number of unstable modes of a fixed point (pyrnn's): 0 seagreen,
    /// 1 salmon, 2 skyblue, 3 or more magenta. The core's `Topology.colour`, so that charts and
    /// topology graphs colour a point alike.
    let unstableModeColorName (modes: int) = Topology.colour modes

    /// `unstableModeColorName` as a Plotly colour.
    let unstableModeColor (modes: int) = Color.fromString (unstableModeColorName modes)

    /// A legend label for a number of unstable modes ("0 unstable modes", "3+ unstable modes").
    let unstableModeLabel (modes: int) =
        match modes with
        | m when m <= 0 -> "0 unstable modes (attractors)"
        | 1 -> "1 unstable mode"
        | 2 -> "2 unstable modes"
        | _ -> "3+ unstable modes"

    /// Palette group of a number of unstable modes (0, 1, 2, 3 = three or more).
    let private modeGroup (modes: int) = max 0 (min 3 modes)

    /// Qualitative colours for channels and trials (distinct from the unstable-mode palette).
    let private qualitative =
        [| "#1f77b4"; "#ff7f0e"; "#2ca02c"; "#d62728"; "#9467bd"; "#8c564b"; "#e377c2"; "#7f7f7f"; "#bcbd22"; "#17becf" |]

    let private qualitativeColor (i: int) = Color.fromString qualitative[((i % qualitative.Length) + qualitative.Length) % qualitative.Length]

    /// Blue (negative) - white (0) - red (positive).
    let private diverging =
        StyleParam.Colorscale.Custom
            [ 0.0, Color.fromString "#053061"
              0.2, Color.fromString "#2166ac"
              0.4, Color.fromString "#92c5de"
              0.5, Color.fromString "#f7f7f7"
              0.6, Color.fromString "#f4a582"
              0.8, Color.fromString "#b2182b"
              1.0, Color.fromString "#67001f" ]

    let private title (text: string) =
        Title.init (Text = text, Font = Font.init (Size = 17.0), X = 0.02, XAnchor = StyleParam.XAnchorPosition.Left)

    let private withTitleText (text: string) (chart: GenericChart) = chart |> Chart.withTitle (title text)

    let private finite (v: float) = not (Double.IsNaN v || Double.IsInfinity v)

    let private isEmpty (a: 'a[]) = isNull a || a.Length = 0

    let private orEmpty (a: 'a[]) = if isNull a then [||] else a

    let private format (v: float) = v.ToString("g4", Globalization.CultureInfo.InvariantCulture)

    /// A chart with no traces that shows "no data: reason" in its middle, under the given title.
    let noData (chartTitle: string) (reason: string) : GenericChart =
        let text = if String.IsNullOrWhiteSpace reason then NoDataText else sprintf "%s: %s" NoDataText reason
        Chart.Invisible()
        |> Chart.withAnnotations
            [ Annotation.init (
                  X = 0.5,
                  Y = 0.5,
                  XRef = "paper",
                  YRef = "paper",
                  Text = text,
                  ShowArrow = false,
                  Font = Font.init (Size = 16.0, Color = Color.fromString "#666666")
              ) ]
        |> withTitleText chartTitle
        |> Chart.withSize (700, 300)

    /// A horizontal line across the whole plot width at y (data units of the given y axis).
    let private hLine (yref: string) (y: float) (color: string) (dash: StyleParam.DrawingStyle) =
        Shape.init (
            ShapeType = StyleParam.ShapeType.Line,
            Xref = "paper",
            X0 = 0.0,
            X1 = 1.0,
            Yref = yref,
            Y0 = y,
            Y1 = y,
            Line = Line.init (Color = Color.fromString color, Width = 1.5, Dash = dash)
        )

    // ------------------------------------------------------------------------------------------
    // Training

    /// Loss per epoch (log y) with the validation loss and the kept (best) epoch, above the learning
    /// rate per epoch.
    let trainingLog (log: TrainingLog) : GenericChart =
        let chartTitle = "Training: loss and learning rate per epoch"
        let losses = orEmpty log.Losses
        let validation = orEmpty log.ValidationLosses
        let rates = orEmpty log.LearningRates
        if losses.Length = 0 && validation.Length = 0 then
            noData chartTitle "no epochs were run"
        else
            // Points a log axis can show (positive, finite).
            let positive (values: float[]) =
                values |> Array.mapi (fun i v -> i + 1, v) |> Array.filter (fun (_, v) -> finite v && v > 0.0)
            let train = positive losses
            let valid = positive validation
            let lossTraces =
                [ if train.Length > 0 then
                      Chart.Line(
                          train |> Array.map fst,
                          train |> Array.map snd,
                          Name = "training loss",
                          ShowMarkers = (train.Length <= 60),
                          LineColor = Color.fromString "#1f77b4",
                          LineWidth = 2.0
                      )
                  if valid.Length > 0 then
                      Chart.Line(
                          valid |> Array.map fst,
                          valid |> Array.map snd,
                          Name = "validation loss",
                          ShowMarkers = (valid.Length <= 60),
                          LineColor = Color.fromString "#ff7f0e",
                          LineWidth = 2.0
                      )
                  if log.BestEpoch >= 1 then
                      let source = if valid.Length > 0 then valid else train
                      match source |> Array.tryFind (fun (e, _) -> e = log.BestEpoch) with
                      | Some (e, v) ->
                          Chart.Point(
                              [ e ],
                              [ v ],
                              Name = sprintf "kept weights (epoch %d)" e,
                              MarkerColor = Color.fromString "black",
                              MarkerSymbol = StyleParam.MarkerSymbol.Star,
                              Marker = Marker.init (Size = 14)
                          )
                      | None -> () ]
            let lossPanel =
                if lossTraces.IsEmpty then
                    Chart.Invisible()
                    |> Chart.withAnnotations
                        [ Annotation.init (X = 0.5, Y = 0.5, XRef = "x domain", YRef = "y domain", Text = NoDataText + ": no positive finite loss", ShowArrow = false) ]
                else
                    Chart.combine lossTraces
                |> Chart.withXAxisStyle (TitleText = "epoch")
                |> Chart.withYAxisStyle (TitleText = "loss (log scale)", AxisType = StyleParam.AxisType.Log)
            let ratePoints = rates |> Array.mapi (fun i v -> i + 1, v) |> Array.filter (fun (_, v) -> finite v)
            let chart =
                if ratePoints.Length = 0 then
                    lossPanel |> Chart.withSize (900, 450)
                else
                    let logRate = ratePoints |> Array.forall (fun (_, v) -> v > 0.0)
                    let ratePanel =
                        Chart.Line(
                            ratePoints |> Array.map fst,
                            ratePoints |> Array.map snd,
                            Name = "learning rate",
                            Line = Line.init (Color = Color.fromString "#2ca02c", Width = 2.0, Shape = StyleParam.Shape.Hv)
                        )
                        |> Chart.withXAxisStyle (TitleText = "epoch")
                        |> Chart.withYAxisStyle (
                            TitleText = (if logRate then "learning rate (log scale)" else "learning rate"),
                            AxisType = (if logRate then StyleParam.AxisType.Log else StyleParam.AxisType.Linear)
                        )
                    [ lossPanel; ratePanel ]
                    |> Chart.Grid(2, 1, SubPlotTitles = [ "loss per epoch"; "learning rate per epoch" ], YGap = 0.3)
                    |> Chart.withSize (900, 650)
            chart |> withTitleText chartTitle

    /// `trainingLog` of a training run: loss per epoch (log y) with validation loss, and the learning rate.
    let training (result: TrainingSummary) : GenericChart = trainingLog (TrainingLog.ofSummary result)

    // ------------------------------------------------------------------------------------------
    // Trials

    /// Inputs, outputs and targets (dashed) over time for the first `count` trials of a batch.
    /// `outputs` is the network's output [trials; time; outputs] row-major, the batch's layout (empty:
    /// targets only).
    let trialsOf (batch: Batch) (outputs: float[]) (count: int) : GenericChart =
        let chartTitle = "Example trials: inputs, network outputs (solid) and targets (dashed)"
        let outputs = orEmpty outputs
        if batch.Trials <= 0 || batch.Time <= 0 then
            noData chartTitle "the batch has no trials"
        elif count <= 0 then
            noData chartTitle "no trials asked for (count <= 0)"
        else
            Batch.validate "batch" batch
            if outputs.Length <> 0 && outputs.Length <> batch.Trials * batch.Time * batch.OutputSize then
                Check.fail
                    "outputs"
                    (sprintf
                        "expected %d values ([%d trials; %d steps; %d outputs]), got %d"
                        (batch.Trials * batch.Time * batch.OutputSize)
                        batch.Trials
                        batch.Time
                        batch.OutputSize
                        outputs.Length)
            let count = min count batch.Trials
            let time = Array.init batch.Time id
            let series (data: float[]) (width: int) (trial: int) (channel: int) =
                Array.init batch.Time (fun t -> data[(trial * batch.Time + t) * width + channel])
            let inputs = batch.Inputs |> Array.map float
            let targets = batch.Targets |> Array.map float
            let panels =
                [ for trial in 0 .. count - 1 do
                      let first = trial = 0
                      let last = trial = count - 1
                      let inputPanel =
                          [ for k in 0 .. batch.InputSize - 1 do
                                Chart.Line(time, series inputs batch.InputSize trial k, Name = sprintf "input %d" (k + 1), LineColor = qualitativeColor k, LineWidth = 1.5)
                                |> Chart.withTraceInfo (ShowLegend = first, LegendGroup = sprintf "input %d" (k + 1)) ]
                          |> Chart.combine
                          |> Chart.withXAxisStyle (TitleText = (if last then "time step" else ""))
                          |> Chart.withYAxisStyle (TitleText = sprintf "trial %d input" (trial + 1))
                      let outputPanel =
                          // Outputs first, so that the dashed targets stay visible on top of a good fit.
                          [ for k in 0 .. batch.OutputSize - 1 do
                                let color = qualitativeColor k
                                if outputs.Length > 0 then
                                    Chart.Line(time, series outputs batch.OutputSize trial k, Name = sprintf "output %d" (k + 1), LineColor = color, LineWidth = 2.0, Opacity = 0.75)
                                    |> Chart.withTraceInfo (ShowLegend = first, LegendGroup = sprintf "output %d" (k + 1))
                                Chart.Line(time, series targets batch.OutputSize trial k, Name = sprintf "target %d" (k + 1), LineColor = color, LineWidth = 1.5, LineDash = StyleParam.DrawingStyle.Dash)
                                |> Chart.withTraceInfo (ShowLegend = first, LegendGroup = sprintf "output %d" (k + 1)) ]
                          |> Chart.combine
                          |> Chart.withXAxisStyle (TitleText = (if last then "time step" else ""))
                          |> Chart.withYAxisStyle (TitleText = sprintf "trial %d output" (trial + 1))
                      inputPanel
                      outputPanel ]
            let titles =
                [ for trial in 1 .. count do
                      sprintf "trial %d: inputs" trial
                      sprintf "trial %d: %s" trial (if outputs.Length > 0 then "outputs (solid), targets (dashed)" else "targets (dashed)") ]
            panels
            |> Chart.Grid(count, 2, SubPlotTitles = titles, YGap = 0.35, XGap = 0.2)
            |> Chart.withSize (1100, 120 + 230 * count)
            |> withTitleText chartTitle

    /// `trialsOf` for outputs in float32 or float64: inputs, outputs and targets (dashed) over time for
    /// the first `count` trials.
    let inline trials (batch: Batch) (outputs: ^T[]) (count: int) : GenericChart =
        trialsOf batch (if isNull outputs then [||] else Array.map float outputs) count

    // ------------------------------------------------------------------------------------------
    // Activity

    /// Hidden activity of one trial as a heatmap (units x time), states [time][units].
    let activity (states: float[][]) : GenericChart =
        let chartTitle = "Hidden activity (units x time)"
        if isEmpty states || states |> Array.forall isEmpty then
            noData chartTitle "no states"
        else
            let units = states |> Array.map (fun s -> (orEmpty s).Length) |> Array.max
            let at (t: int) (u: int) = let s = orEmpty states[t] in if u < s.Length then s[u] else nan
            let z = Array.init units (fun u -> Array.init states.Length (fun t -> at t u))
            let m = z |> Array.collect id |> Array.filter finite |> Array.fold (fun a v -> max a (abs v)) 0.0
            let m = if m > 0.0 then m else 1.0
            Chart.Heatmap(
                z,
                X = Array.init states.Length id,
                Y = Array.init units id,
                ColorScale = diverging,
                ColorBar = ColorBar.init (Title = Title.init (Text = "activity"))
            )
            |> GenericChart.mapTrace (
                Trace2DStyle.Heatmap(
                    ZMin = -m,
                    ZMax = m,
                    ZMid = 0.0,
                    Name = "activity",
                    HoverTemplate = "unit %{y}, step %{x}: %{z:.3g}<extra></extra>"
                )
            )
            |> Chart.withXAxisStyle (TitleText = "time step")
            |> Chart.withYAxis (LinearAxis.init (Title = Title.init (Text = "unit"), AutoRange = StyleParam.AutoRange.Reversed))
            |> Chart.withSize (1000, min 700 (max 320 (120 + 6 * units)))
            |> withTitleText chartTitle

    // ------------------------------------------------------------------------------------------
    // Weights

    /// The sign each unit's outgoing weights must have: +1 excitatory, -1 inhibitory, 0 free.
    let unitSigns (units: int) (constraints: Constraints) : int[] =
        Array.init units (fun j ->
            match constraints.DaleRatio with
            | Some r -> if j < Constraints.excitatoryCount units r then 1 else -1
            | None ->
                match constraints.UnitSigns with
                | Some s when j < s.Length -> s[j]
                | _ -> 0)

    /// Unit indices k where an excitatory block ends and an inhibitory one begins (between k - 1 and k).
    let excitatoryInhibitoryBorders (signs: int[]) =
        [ for k in 1 .. signs.Length - 1 do
              if signs[k - 1] > 0 && signs[k] < 0 then k ]

    let private nonEmpty (m: float[][] option) =
        m |> Option.filter (fun m -> not (isEmpty m) && not (isEmpty m[0]))

    /// W_in, W_rec and W_out as heatmaps, each on its own symmetric colour scale (0 white, +-its own
    /// max |w|, with its own colour bar): input and readout weights are often much larger than the
    /// recurrent ones, and one shared scale would wash out W_rec's structure. Laid out as
    /// the network computes: W_in left of W_rec (rows are the units), W_out below W_rec (columns are
    /// the units). Units keep their order, which is excitatory then inhibitory under Dale's law (per
    /// region for a multi-region network); dashed lines mark E/I borders, solid lines region borders.
    /// The matrices are the input [units][inputs], recurrent [units][units] and readout
    /// [outputs][units] weights, each when the network has one.
    let weightMatrices (wIn: float[][] option) (wRec: float[][] option) (wOut: float[][] option) (constraints: Constraints) (regions: RegionSpan list option) : GenericChart =
        let chartTitle = "Weights: W_in, W_rec and W_out (effective, after constraints)"
        let wIn = nonEmpty wIn
        let wRec = nonEmpty wRec
        let wOut = nonEmpty wOut
        match wRec with
        | None when wIn.IsNone && wOut.IsNone -> noData chartTitle "no weight matrices (w_in, w_rec, w_out)"
        | _ ->
            let units =
                match wRec, wIn, wOut with
                | Some r, _, _ -> r.Length
                | None, Some i, _ -> i.Length
                | None, None, Some o -> o[0].Length
                | None, None, None -> 0
            let scaleOf (matrix: float[][]) =
                let m = matrix |> Array.collect id |> Array.filter finite |> Array.fold (fun a v -> max a (abs v)) 0.0
                if m > 0.0 then m else 1.0
            // Panel domains (paper fractions): W_in left, W_rec centre, W_out under W_rec.
            let hasOut = wOut.IsSome
            let topBottom = if hasOut then 0.26 else 0.0
            let recX = if wIn.IsSome then (0.2, 0.86) else (0.0, 0.86)
            // Colour bars stacked at the right, one per matrix (top, length), so that each scale is read off its own bar.
            let heatmap (matrix: float[][]) (k: int) (name: string) (hover: string) (bar: float * float) =
                let rows, cols = matrix.Length, matrix[0].Length
                let m = scaleOf matrix
                Chart.Heatmap(
                    matrix,
                    X = Array.init cols id,
                    Y = Array.init rows id,
                    ColorScale = diverging,
                    ShowScale = true,
                    ColorBar =
                        ColorBar.init (
                            Title = Title.init (Text = sprintf "%s<br>±%s" name (format m)),
                            X = 0.9,
                            Y = fst bar,
                            YAnchor = StyleParam.VerticalAlign.Top,
                            Len = snd bar,
                            Thickness = 14.0
                        )
                )
                |> GenericChart.mapTrace (Trace2DStyle.Heatmap(ZMin = -m, ZMax = m, ZMid = 0.0, Name = name, HoverTemplate = hover + "<extra>" + name + "</extra>"))
                |> Chart.withAxisAnchor (X = k, Y = k)
            let axis (titleText: string) (domain: float * float) (anchor: StyleParam.LinearAxisId) (reversed: bool) (count: int) =
                LinearAxis.init (
                    Title = Title.init (Text = titleText),
                    Domain = StyleParam.Range.MinMax(fst domain :> IConvertible, snd domain :> IConvertible),
                    Anchor = anchor,
                    AutoRange = (if reversed then StyleParam.AutoRange.Reversed else StyleParam.AutoRange.True),
                    ShowGrid = false,
                    ZeroLine = false,
                    TickMode = (if count <= 12 then StyleParam.TickMode.Linear else StyleParam.TickMode.Auto),
                    Tick0 = 0,
                    DTick = 1
                )
            let panels = ResizeArray<GenericChart>()
            let annotations = ResizeArray<Annotation>()
            let shapes = ResizeArray<Shape>()
            let panelTitle (text: string) (x: float) =
                annotations.Add(
                    Annotation.init (X = x, Y = 1.0, XRef = "paper", YRef = "paper", Text = "<b>" + text + "</b>", ShowArrow = false, YAnchor = StyleParam.YAnchorPosition.Bottom, YShift = 18, Font = Font.init (Size = 14.0))
                )
            let signs = unitSigns units constraints
            let eiBorders = excitatoryInhibitoryBorders signs
            let regionBorders =
                match regions with
                | Some rs -> rs |> List.map (fun r -> r.Start) |> List.filter (fun s -> s > 0 && s < units) |> List.distinct
                | None -> []
            // Lines at unit borders: vertical across a panel's columns (units as columns) or horizontal across its rows.
            let unitLine (vertical: bool) (k: int) (axisIndex: int) (extent: int) (dashed: bool) =
                let axisName = if axisIndex = 1 then "" else string axisIndex
                let p = float k - 0.5
                let line = Line.init (Color = Color.fromString (if dashed then "black" else "#444444"), Width = (if dashed then 1.5 else 2.5), Dash = (if dashed then StyleParam.DrawingStyle.Dash else StyleParam.DrawingStyle.Solid))
                if vertical then
                    Shape.init (ShapeType = StyleParam.ShapeType.Line, Xref = "x" + axisName, Yref = "y" + axisName, X0 = p, X1 = p, Y0 = -0.5, Y1 = float extent - 0.5, Line = line)
                else
                    Shape.init (ShapeType = StyleParam.ShapeType.Line, Xref = "x" + axisName, Yref = "y" + axisName, X0 = -0.5, X1 = float extent - 0.5, Y0 = p, Y1 = p, Line = line)
            let borders = [ for k in eiBorders -> k, true ] @ [ for k in regionBorders -> k, false ]
            let mutable next = 1
            let layoutAxes = ResizeArray<(int * LinearAxis * LinearAxis)>()
            wIn
            |> Option.iter (fun w ->
                let k = next
                next <- next + 1
                panels.Add(heatmap w k "W_in" "unit %{y} from input %{x}: %{z:.3g}" (0.62, 0.3))
                layoutAxes.Add(k, axis "input" (0.0, 0.12) (StyleParam.LinearAxisId.Y k) false w[0].Length, axis "unit (receiving)" (topBottom, 1.0) (StyleParam.LinearAxisId.X k) true w.Length)
                panelTitle "W_in" 0.06
                for (b, dashed) in borders do
                    shapes.Add(unitLine false b k w[0].Length dashed))
            wRec
            |> Option.iter (fun w ->
                let k = next
                next <- next + 1
                panels.Add(heatmap w k "W_rec" "to unit %{y} from unit %{x}: %{z:.3g}" (1.0, 0.34))
                layoutAxes.Add(k, axis (if hasOut then "" else "unit (sending)") recX (StyleParam.LinearAxisId.Y k) false w.Length, axis (if wIn.IsSome then "" else "unit (receiving)") (topBottom, 1.0) (StyleParam.LinearAxisId.X k) true w.Length)
                annotations.Add(Annotation.init (X = (fst recX + snd recX) / 2.0, Y = 1.0, XRef = "paper", YRef = "paper", Text = "<b>W_rec</b> (columns: sending unit, rows: receiving unit)", ShowArrow = false, YAnchor = StyleParam.YAnchorPosition.Bottom, YShift = 18, Font = Font.init (Size = 14.0)))
                for (b, dashed) in borders do
                    shapes.Add(unitLine true b k w.Length dashed)
                    shapes.Add(unitLine false b k w.Length dashed)
                // Block labels above W_rec: region names, else E / I.
                let axisName = if k = 1 then "x" else "x" + string k
                let label (text: string) (centre: float) =
                    annotations.Add(Annotation.init (X = centre, Y = 1.0, XRef = axisName, YRef = "paper", Text = text, ShowArrow = false, YAnchor = StyleParam.YAnchorPosition.Bottom, Font = Font.init (Size = 12.0, Color = Color.fromString "#333333")))
                match regions with
                | Some rs when not rs.IsEmpty ->
                    for r in rs do
                        label r.Name (float r.Start + float r.Units / 2.0 - 0.5)
                | _ ->
                    match eiBorders with
                    | [ b ] ->
                        label "excitatory" (float b / 2.0 - 0.5)
                        label "inhibitory" (float (b + units) / 2.0 - 0.5)
                    | _ -> ())
            wOut
            |> Option.iter (fun w ->
                let k = next
                next <- next + 1
                panels.Add(heatmap w k "W_out" "output %{y} from unit %{x}: %{z:.3g}" (0.28, 0.26))
                layoutAxes.Add(k, axis "unit (sending)" recX (StyleParam.LinearAxisId.Y k) false w[0].Length, axis "output" (0.0, 0.16) (StyleParam.LinearAxisId.X k) true w.Length)
                annotations.Add(Annotation.init (X = fst recX, Y = 0.16, XRef = "paper", YRef = "paper", Text = "<b>W_out</b> (columns: sending unit, rows: output)", ShowArrow = false, XAnchor = StyleParam.XAnchorPosition.Left, YAnchor = StyleParam.YAnchorPosition.Bottom, Font = Font.init (Size = 14.0)))
                for (b, dashed) in borders do
                    shapes.Add(unitLine true b k w.Length dashed))
            let legendNote =
                [ if not eiBorders.IsEmpty then "dashed: excitatory | inhibitory border (Dale's law)"
                  if not regionBorders.IsEmpty then "solid: region border" ]
            if not legendNote.IsEmpty then
                annotations.Add(Annotation.init (X = 0.0, Y = -0.06, XRef = "paper", YRef = "paper", Text = String.Join("; ", legendNote), ShowArrow = false, XAnchor = StyleParam.XAnchorPosition.Left, YAnchor = StyleParam.YAnchorPosition.Top, Font = Font.init (Size = 12.0, Color = Color.fromString "#333333")))
            let mutable chart = Chart.combine panels
            for (k, x, y) in layoutAxes do
                chart <- chart |> Chart.withXAxis (x, Id = StyleParam.SubPlotId.XAxis k) |> Chart.withYAxis (y, Id = StyleParam.SubPlotId.YAxis k)
            chart
            |> Chart.withAnnotations (annotations, Append = true)
            |> Chart.withShapes shapes
            |> Chart.withLayoutStyle (Margin = Margin.init (Top = 110, Bottom = 90, Left = 70, Right = 40))
            |> Chart.withSize (1000, 900)
            |> withTitleText chartTitle

    /// `weightMatrices` of a model's effective weights and constraints (`ModelSummary.ofNetwork`), the
    /// matrices found by role (`Role.Input`, `Role.Recurrent`, `Role.Output`); region borders as lines
    /// when regions are given.
    let weights (model: ModelSummary) (regions: RegionSpan list option) : GenericChart =
        // A gated cell's stacked blocks ([k H; I], [k H; H]) stand in for W_in and W_rec.
        let input = model.MatrixWhere(function Role.Input | Role.InputBlocks _ -> true | _ -> false)
        let recurrent = model.MatrixWhere(function Role.Recurrent | Role.RecurrentBlocks _ -> true | _ -> false)
        weightMatrices input recurrent (model.MatrixOfRole Role.Output) model.Constraints regions

    // ------------------------------------------------------------------------------------------
    // Dimensionality

    /// Explained variance ratio per principal component (bars) and cumulative (line), with the
    /// threshold (a share in (0, 1]) as a horizontal line and the number of components that reach it.
    let dimensionality (pca: PcaFit) (threshold: float) : GenericChart =
        let chartTitle = "Dimensionality: variance explained per principal component"
        let ratios = orEmpty pca.ExplainedVarianceRatio
        if ratios.Length = 0 then
            noData chartTitle "the PCA has no components"
        else
            if Double.IsNaN threshold || threshold <= 0.0 || threshold > 1.0 then
                Check.fail "threshold" (sprintf "expected a share of the variance in (0, 1], got %g" threshold)
            let k = Array.init ratios.Length (fun i -> i + 1)
            let cumulative = Array.scan (+) 0.0 ratios |> Array.tail
            let reached = cumulative |> Array.tryFindIndex (fun c -> c >= threshold - 1e-12) |> Option.map ((+) 1)
            let note =
                match reached with
                | Some n -> sprintf "%d component%s explain%s %.0f%% of the variance" n (if n = 1 then "" else "s") (if n = 1 then "s" else "") (100.0 * threshold)
                | None -> sprintf "the %d fitted components explain %.1f%% (< %.0f%%)" ratios.Length (100.0 * Array.last cumulative) (100.0 * threshold)
            Chart.combine
                [ Chart.Column(ratios, Keys = k, Name = "variance ratio per component", MarkerColor = Color.fromString "#4c78a8")
                  Chart.Line(k, cumulative, Name = "cumulative", ShowMarkers = true, LineColor = Color.fromString "#e45756", LineWidth = 2.0)
                  // An empty trace gives the threshold line a legend entry.
                  Chart.Line([ nan ], [ nan ], Name = sprintf "threshold %.0f%%" (100.0 * threshold), LineColor = Color.fromString "black", LineDash = StyleParam.DrawingStyle.Dash) ]
            |> Chart.withShapes [ hLine "y" threshold "black" StyleParam.DrawingStyle.Dash ]
            |> Chart.withAnnotations
                [ Annotation.init (X = 1.0, Y = threshold, XRef = "paper", YRef = "y", Text = note, ShowArrow = false, XAnchor = StyleParam.XAnchorPosition.Right, YAnchor = StyleParam.YAnchorPosition.Bottom, Font = Font.init (Size = 13.0)) ]
            |> Chart.withXAxisStyle (TitleText = "principal component")
            |> Chart.withYAxisStyle (TitleText = "share of total variance", MinMax = (0.0, 1.05))
            |> Chart.withSize (900, 450)
            |> withTitleText (sprintf "%s (%s)" chartTitle note)

    // ------------------------------------------------------------------------------------------
    // Fixed points

    let private kindText = FixedPoints.kindName

    let private leadingModulus (fp: FixedPoint) =
        let e = orEmpty fp.Eigenvalues
        if e.Length = 0 then nan else e |> Array.map (fun l -> l.Magnitude) |> Array.max

    /// Hover text of a fixed point: id, kind, unstable modes, q and |lambda_1|.
    let fixedPointText (fp: FixedPoint) =
        let lead = leadingModulus fp
        sprintf
            "fixed point %d<br>%s, %d unstable mode%s<br>q = %s%s"
            fp.Id
            (kindText fp.Kind)
            fp.UnstableModes
            (if fp.UnstableModes = 1 then "" else "s")
            (fp.Q.ToString("0.00e+00", Globalization.CultureInfo.InvariantCulture))
            (if finite lead then sprintf "<br>|λ1| = %s" (format lead) else "")

    /// The real unit directions of a point's unstable modes, as the topology's runs take them
    /// (`FixedPoints.directions`); a point without eigenvectors has none to draw.
    let private unstableDirections (fp: FixedPoint) : float[][] =
        match fp.Linearisation with
        | Some l -> FixedPoints.directions fp.UnstableModes (orEmpty fp.Eigenvalues) (orEmpty l.Eigenvectors) |> Array.filter (fun d -> d.Length > 0)
        | None -> [||]

    /// 3-D trajectories in the space of the first three principal components (one colour per trial,
    /// thin lines), fixed points coloured by their number of unstable modes (the unstable-mode
    /// palette), and each unstable eigen-direction (`FixedPoints.directions`, projected through the PCA)
    /// as a short segment through its fixed point. Trajectories are [trial][time][units].
    let stateSpace (pca: PcaFit) (trajectories: float[][][]) (fixedPoints: FixedPoint[]) : GenericChart =
        let chartTitle = "State space: trajectories and fixed points (first 3 principal components)"
        let trajectories = orEmpty trajectories |> Array.map orEmpty |> Array.filter (fun t -> t.Length > 0)
        let fixedPoints = orEmpty fixedPoints
        if trajectories.Length = 0 && fixedPoints.Length = 0 then
            noData chartTitle "no trajectories and no fixed points"
        elif isEmpty pca.Components then
            noData chartTitle "the PCA has no components"
        else
            let k = pca.Components.Length
            let project (x: float[]) =
                let c = Pca.transformPoint pca x
                c[0], (if k > 1 then c[1] else 0.0), (if k > 2 then c[2] else 0.0)
            let paths = trajectories |> Array.map (Array.map project)
            let points = fixedPoints |> Array.map (fun p -> p, project p.State)
            // Scale of the picture, for the length of the eigenvector segments.
            let coordinates = [| for p in paths do yield! p
                                 for (_, c) in points -> c |]
            let extent (f: float * float * float -> float) =
                let v = coordinates |> Array.map f
                if v.Length = 0 then 0.0 else Array.max v - Array.min v
            let first (a, _, _) = a
            let second (_, b, _) = b
            let third (_, _, c) = c
            let scale = max (extent first) (max (extent second) (extent third))
            let half = if scale > 0.0 then 0.08 * scale else 0.1
            let showTrialLegend = paths.Length <= 8
            let trajectoryTraces =
                paths
                |> Array.mapi (fun i p ->
                    Chart.Line3D(
                        p |> Array.map first,
                        p |> Array.map second,
                        p |> Array.map third,
                        Name = (if showTrialLegend then sprintf "trial %d" (i + 1) else "trajectories (one colour per trial)"),
                        LineColor = qualitativeColor i,
                        LineWidth = 2.0,
                        Opacity = 0.55
                    )
                    |> Chart.withTraceInfo (ShowLegend = (showTrialLegend || i = 0), LegendGroup = (if showTrialLegend then sprintf "trial %d" (i + 1) else "trajectories")))
                |> List.ofArray
            let segmentTraces =
                let saddles = points |> Array.filter (fun (p, _) -> p.UnstableModes > 0)
                let mutable shown = false
                [ for (p, _) in saddles do
                      let directions = unstableDirections p
                      if directions.Length > 0 then
                          // -v, +v, centre for each direction: every stroke retraces a segment through the point.
                          let path =
                              [| for v in directions do
                                     yield project (Array.map2 (fun x d -> x - half * d) p.State v)
                                     yield project (Array.map2 (fun x d -> x + half * d) p.State v)
                                     yield project p.State |]
                          let show = not shown
                          shown <- true
                          Chart.Line3D(
                              path |> Array.map first,
                              path |> Array.map second,
                              path |> Array.map third,
                              Name = "unstable directions (colour of their point)",
                              LineColor = unstableModeColor p.UnstableModes,
                              LineWidth = 6.0
                          )
                          |> Chart.withTraceInfo (ShowLegend = show, LegendGroup = "unstable directions") ]
            let pointTraces =
                points
                |> Array.groupBy (fun (p, _) -> modeGroup p.UnstableModes)
                |> Array.sortBy fst
                |> Array.map (fun (group, members) ->
                    Chart.Point3D(
                        members |> Array.map (snd >> first),
                        members |> Array.map (snd >> second),
                        members |> Array.map (snd >> third),
                        Name = sprintf "fixed points, %s" (unstableModeLabel group),
                        MultiText = (members |> Array.map (fst >> fixedPointText)),
                        MarkerColor = unstableModeColor group,
                        MarkerOutline = Line.init (Color = Color.fromString "black", Width = 1.0),
                        Marker = Marker.init (Size = 6)
                    )
                    |> GenericChart.mapTrace (Trace3DStyle.Scatter3D(HoverTemplate = "%{text}<extra></extra>")))
                |> List.ofArray
            let pcTitle (i: int) =
                if i < k then sprintf "PC%d (%.1f%%)" (i + 1) (100.0 * (orEmpty pca.ExplainedVarianceRatio |> Array.tryItem i |> Option.defaultValue nan))
                else sprintf "PC%d (not fitted)" (i + 1)
            let sceneAxis (i: int) = LinearAxis.init (Title = Title.init (Text = pcTitle i))
            Chart.combine (trajectoryTraces @ segmentTraces @ pointTraces)
            // The camera sits farther out than plotly's default (1.25, 1.25, 1.25) and the scene keeps a margin,
            // so that the axis titles (PC3 above all) stay inside the figure in a static image.
            |> Chart.withScene (
                Scene.init (
                    XAxis = sceneAxis 0,
                    YAxis = sceneAxis 1,
                    ZAxis = sceneAxis 2,
                    AspectMode = StyleParam.AspectMode.Data,
                    Camera = LayoutObjects.Camera.init (Eye = CameraEye.init (1.6, 1.6, 1.1)),
                    Domain = LayoutObjects.Domain.init (X = StyleParam.Range.MinMax(0.04, 0.96), Y = StyleParam.Range.MinMax(0.04, 0.96))
                )
            )
            |> Chart.withLayoutStyle (Margin = Margin.init (Top = 80, Bottom = 40, Left = 40, Right = 40))
            |> Chart.withSize (1000, 750)
            |> withTitleText chartTitle

    /// Marker sizes that keep nearly coinciding points visible: a point within `tolerance` of an
    /// earlier one is drawn as a larger open ring around it (one size step per earlier neighbour),
    /// so every value stays at its exact position and none hides another.
    let private ringSizes (tolerance: float) (points: Complex[]) : int[] =
        points
        |> Array.mapi (fun i p ->
            let earlier = points |> Array.take i |> Array.filter (fun q -> Complex.Abs(p - q) <= tolerance) |> Array.length
            9 + 6 * earlier)

    /// The eigenvalues of the Jacobian at a fixed point in the complex plane, with the unit circle
    /// (|λ| = 1: the border of stability of a discrete-time map), and beside it every eigenvalue's
    /// modulus by index (sorted, decreasing), where eigenvalues that nearly coincide in the plane
    /// stand apart. In the plane a near-duplicate is an open ring around the point it would hide.
    let eigenvalues (fp: FixedPoint) : GenericChart =
        let chartTitle =
            sprintf "Eigenvalues at fixed point %d (%s, %d unstable mode%s)" fp.Id (kindText fp.Kind) fp.UnstableModes (if fp.UnstableModes = 1 then "" else "s")
        let values = orEmpty fp.Eigenvalues
        if values.Length = 0 then
            noData chartTitle "the fixed point has no eigenvalues (run FixedPoints.analyse)"
        else
            let circle = Array.init 201 (fun i -> 2.0 * Math.PI * float i / 200.0)
            let reach = values |> Array.map (fun l -> max (abs l.Real) (abs l.Imaginary)) |> Array.max |> max 1.0
            let r = 1.1 * reach
            // Sorted by modulus so that the index panel and the plane's rings follow one order.
            let sorted = values |> Array.sortByDescending (fun l -> l.Magnitude, l.Real, l.Imaginary)
            let ranks = Array.init sorted.Length id
            // Two markers closer than ~2% of the axis range overlap at the plane's default size.
            let sizes = ringSizes (0.02 * 2.0 * r) sorted
            let inside, outside = ranks |> Array.partition (fun i -> sorted[i].Magnitude <= 1.0)
            let text (is: int[]) =
                is |> Array.map (fun i -> let l = sorted[i] in sprintf "#%d: λ = %s %s %si<br>|λ| = %s" (i + 1) (format l.Real) (if l.Imaginary < 0.0 then "-" else "+") (format (abs l.Imaginary)) (format l.Magnitude))
            let plane (is: int[]) (name: string) (color: string) =
                let marker = Marker.init (Color = Color.fromString color, MultiSize = (is |> Array.map (fun i -> sizes[i])), MultiSymbol = (is |> Array.map (fun i -> if sizes[i] > 9 then StyleParam.MarkerSymbol.Modified(StyleParam.MarkerSymbol.Circle, StyleParam.SymbolStyle.Open) else StyleParam.MarkerSymbol.Circle)), Outline = Line.init (Width = 2.0, Color = Color.fromString color))
                Chart.Point(is |> Array.map (fun i -> sorted[i].Real), is |> Array.map (fun i -> sorted[i].Imaginary), Name = name, MultiText = text is, Marker = marker)
                |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<extra></extra>"))
            let byIndex (is: int[]) (name: string) (color: string) =
                Chart.Point(is |> Array.map (fun i -> i + 1), is |> Array.map (fun i -> sorted[i].Magnitude), Name = name, MultiText = text is, MarkerColor = Color.fromString color, Marker = Marker.init (Size = 7), ShowLegend = false)
                |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<extra></extra>"))
                |> Chart.withAxisAnchor (X = 2, Y = 2)
            let stableName, unstableName = "stable (|λ| ≤ 1)", "unstable (|λ| > 1)"
            let stableColor, unstableColor = "#1f77b4", "#d62728"
            Chart.combine
                [ Chart.Line(Array.map cos circle, Array.map sin circle, Name = "unit circle |λ| = 1", LineColor = Color.fromString "#888888", LineDash = StyleParam.DrawingStyle.Dash)
                  if inside.Length > 0 then plane inside stableName stableColor
                  if outside.Length > 0 then plane outside unstableName unstableColor
                  if inside.Length > 0 then byIndex inside (stableName + ", by index") stableColor
                  if outside.Length > 0 then byIndex outside (unstableName + ", by index") unstableColor ]
            |> Chart.withXAxis (LinearAxis.init (Title = Title.init (Text = "Re λ"), Range = StyleParam.Range.MinMax(-r :> IConvertible, r :> IConvertible), ZeroLine = true, Domain = StyleParam.Range.MinMax(0.0 :> IConvertible, 0.56 :> IConvertible)))
            |> Chart.withYAxis (LinearAxis.init (Title = Title.init (Text = "Im λ"), Range = StyleParam.Range.MinMax(-r :> IConvertible, r :> IConvertible), ScaleAnchor = StyleParam.ScaleAnchor.X 1, ZeroLine = true))
            |> Chart.withXAxis (LinearAxis.init (Title = Title.init (Text = "eigenvalue index (by modulus)"), Domain = StyleParam.Range.MinMax(0.68 :> IConvertible, 1.0 :> IConvertible), Anchor = StyleParam.LinearAxisId.Y 2, ZeroLine = false), Id = StyleParam.SubPlotId.XAxis 2)
            |> Chart.withYAxis (LinearAxis.init (Title = Title.init (Text = "|λ|"), Anchor = StyleParam.LinearAxisId.X 2, ZeroLine = false), Id = StyleParam.SubPlotId.YAxis 2)
            |> Chart.withShapes [ Shape.init (ShapeType = StyleParam.ShapeType.Line, Xref = "x2 domain", Yref = "y2", X0 = 0.0, X1 = 1.0, Y0 = 1.0, Y1 = 1.0, Line = Line.init (Color = Color.fromString "#888888", Dash = StyleParam.DrawingStyle.Dash)) ]
            |> Chart.withSize (1000, 560)
            |> withTitleText chartTitle

    /// The moduli of each fixed point's eigenvalues, sorted in decreasing order (one line per point,
    /// coloured by its number of unstable modes), with a line at |λ| = 1.
    let eigenvalueModuli (fixedPoints: FixedPoint[]) : GenericChart =
        let chartTitle = "Eigenvalue moduli per fixed point (sorted), coloured by unstable modes"
        let points = orEmpty fixedPoints |> Array.filter (fun p -> not (isEmpty p.Eigenvalues))
        if points.Length = 0 then
            noData chartTitle "no fixed points with eigenvalues"
        else
            let shownGroups = Collections.Generic.HashSet<int>()
            let traces =
                points
                |> Array.sortBy (fun p -> modeGroup p.UnstableModes, p.Id)
                |> Array.map (fun p ->
                    let moduli = p.Eigenvalues |> Array.map (fun l -> l.Magnitude) |> Array.sortDescending
                    let group = modeGroup p.UnstableModes
                    let count = points |> Array.filter (fun q -> modeGroup q.UnstableModes = group) |> Array.length
                    Chart.Line(
                        Array.init moduli.Length (fun i -> i + 1),
                        moduli,
                        Name = sprintf "%s (%d point%s)" (unstableModeLabel group) count (if count = 1 then "" else "s"),
                        ShowMarkers = (moduli.Length <= 40),
                        LineColor = unstableModeColor group,
                        LineWidth = 1.5,
                        MultiText = Array.create moduli.Length (sprintf "fixed point %d (%s)" p.Id (kindText p.Kind))
                    )
                    |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<br>rank %{x}: |λ| = %{y:.4g}<extra></extra>"))
                    |> Chart.withTraceInfo (ShowLegend = shownGroups.Add group, LegendGroup = string group))
                |> List.ofArray
            Chart.combine (traces @ [ Chart.Line([ nan ], [ nan ], Name = "|λ| = 1", LineColor = Color.fromString "black", LineDash = StyleParam.DrawingStyle.Dash) ])
            |> Chart.withShapes [ hLine "y" 1.0 "black" StyleParam.DrawingStyle.Dash ]
            |> Chart.withXAxisStyle (TitleText = "eigenvalue rank (by modulus)")
            |> Chart.withYAxisStyle (TitleText = "|λ| (eigenvalue modulus)")
            |> Chart.withSize (900, 450)
            |> withTitleText chartTitle

    // ------------------------------------------------------------------------------------------
    // Topology

    let private methodText (m: RunMethod) =
        match m with
        | RunMethod.Noise -> "noise"
        | RunMethod.UnstableMode -> "unstable-mode"

    /// The topology graph: fixed points as nodes (coloured by unstable modes) at their PCA positions
    /// (PC1, PC2) when a PCA and the fixed points are given, else in layers by number of unstable
    /// modes; edges as arrows whose width and opacity grow with the transition probability (noise runs
    /// grey, unstable-mode runs dark orange); hover text with the run counts. Self-loops are rings.
    /// `layout` chooses where the nodes go (see `TopologyLayout`).
    let topologyWith (layout: TopologyLayout) (t: Topology) (pca: PcaFit option) (fixedPoints: FixedPoint[]) : GenericChart =
        let chartTitle = "Fixed-point topology: where the flow goes from each fixed point"
        let vertices = orEmpty t.Vertices
        if vertices.Length = 0 then
            noData chartTitle "the topology has no vertices"
        else
            let edges = orEmpty t.Edges
            let byId = orEmpty fixedPoints |> Array.map (fun p -> p.Id, p) |> dict
            let pcaUsable =
                match pca with
                | Some p when not (isEmpty p.Components) -> vertices |> Array.forall (fun v -> byId.ContainsKey v.Id)
                | _ -> false
            let usePca = pcaUsable && layout = TopologyLayout.PcaPlane
            let projected (v: TopologyVertex) = Pca.transformPoint pca.Value byId[v.Id].State
            let positions =
                if usePca then
                    vertices
                    |> Array.map (fun v ->
                        let c = projected v
                        v.Id, (c[0], (if c.Length > 1 then c[1] else 0.0)))
                    |> dict
                else
                    vertices
                    |> Array.groupBy (fun v -> v.UnstableModes)
                    |> Array.collect (fun (modes, members) ->
                        let members = if pcaUsable then members |> Array.sortBy (fun v -> (projected v)[0], v.Id) else members |> Array.sortBy (fun v -> v.Id)
                        members |> Array.mapi (fun i v -> v.Id, (float i - float (members.Length - 1) / 2.0, float modes)))
                    |> dict
            let xs = positions.Values |> Seq.map fst |> Array.ofSeq
            let ys = positions.Values |> Seq.map snd |> Array.ofSeq
            // The axes' extents: offsets are a share of the plot box, whatever the aspect ratio.
            let xExtent = let e = Array.max xs - Array.min xs in if e > 0.0 then e else 1.0
            let yExtent = let e = Array.max ys - Array.min ys in if e > 0.0 then e else 1.0
            let selfLoops = edges |> Array.filter (fun e -> e.From = e.To)
            let moves = edges |> Array.filter (fun e -> e.From <> e.To && positions.ContainsKey e.From && positions.ContainsKey e.To)
            let methodColor (m: RunMethod) = match m with RunMethod.Noise -> "#555555" | RunMethod.UnstableMode -> "#d95f02"
            let shownMethods = Collections.Generic.HashSet<RunMethod>()
            let annotations = ResizeArray<Annotation>()
            let edgeTraces =
                [ for e in moves do
                      let (x0, y0), (x1, y1) = positions[e.From], positions[e.To]
                      // Direction and its left normal in the unit plot box.
                      let u, v = (x1 - x0) / xExtent, (y1 - y0) / yExtent
                      let length = sqrt (u * u + v * v)
                      let nu, nv = (if length > 0.0 then -v / length, u / length else 0.0, 0.0)
                      // Offset to the left of the direction: a -> b and b -> a, noise and unstable runs, stay apart.
                      let offset = match e.Method with RunMethod.Noise -> 0.004 | RunMethod.UnstableMode -> 0.011
                      let ox, oy = nu * offset * xExtent, nv * offset * yExtent
                      let ax, ay, bx, by = x0 + ox, y0 + oy, x1 + ox, y1 + oy
                      let p = max 0.0 (min 1.0 e.Probability)
                      let opacity = 0.2 + 0.8 * p
                      let color = methodColor e.Method
                      let text = sprintf "%d → %d (%s runs)<br>%d run%s, p = %.3f" e.From e.To (methodText e.Method) e.Count (if e.Count = 1 then "" else "s") e.Probability
                      let arrow =
                          Annotation.init (
                              X = bx,
                              Y = by,
                              AX = ax + 0.8 * (bx - ax),
                              AY = ay + 0.8 * (by - ay),
                              XRef = "x",
                              YRef = "y",
                              AXRef = "x",
                              AYRef = "y",
                              ShowArrow = true,
                              ArrowHead = StyleParam.ArrowHead.TriangleTall,
                              ArrowSize = 1.0,
                              ArrowColor = Color.fromString color,
                              Opacity = opacity,
                              StandOff = 9,
                              Text = ""
                          )
                      // Plotly's arrowwidth (not an argument of Annotation.init): the head grows with it.
                      arrow.SetProperty("arrowwidth", 1.0 + 2.0 * p)
                      annotations.Add arrow
                      let show = shownMethods.Add e.Method
                      Chart.Line(
                          [ ax; (ax + bx) / 2.0; bx ],
                          [ ay; (ay + by) / 2.0; by ],
                          Name = sprintf "%s runs (width, opacity: probability)" (methodText e.Method),
                          LineColor = Color.fromString color,
                          LineWidth = 1.0 + 6.0 * p,
                          Opacity = opacity,
                          MultiText = [ text; text; text ]
                      )
                      |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<extra></extra>"))
                      |> Chart.withTraceInfo (ShowLegend = show, LegendGroup = methodText e.Method) ]
            let loopTrace =
                let loops = selfLoops |> Array.filter (fun e -> positions.ContainsKey e.From)
                if loops.Length = 0 then []
                else
                    [ Chart.Point(
                          loops |> Array.map (fun e -> fst positions[e.From]),
                          loops |> Array.map (fun e -> snd positions[e.From]),
                          Name = "returned to itself (ring)",
                          MarkerSymbol = StyleParam.MarkerSymbol.Modified(StyleParam.MarkerSymbol.Circle, StyleParam.SymbolStyle.Open),
                          MarkerColor = Color.fromString "#555555",
                          Marker = Marker.init (Size = 26),
                          MultiOpacity = (loops |> Array.map (fun e -> 0.2 + 0.8 * max 0.0 (min 1.0 e.Probability))),
                          MultiText = (loops |> Array.map (fun e -> sprintf "%d → itself (%s runs)<br>%d runs, p = %.3f" e.From (methodText e.Method) e.Count e.Probability))
                      )
                      |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<extra></extra>")) ]
            let nodeText (v: TopologyVertex) =
                let out m = edges |> Array.filter (fun e -> e.From = v.Id && e.Method = m) |> Array.sortByDescending (fun e -> e.Count)
                let describe m =
                    out m |> Array.truncate 6 |> Array.map (fun e -> sprintf "→ %s: %d" (if e.To = v.Id then "itself" else string e.To) e.Count) |> String.concat ", "
                let q = match byId.TryGetValue v.Id with | true, p -> sprintf "<br>q = %s" (p.Q.ToString("0.00e+00", Globalization.CultureInfo.InvariantCulture)) | _ -> ""
                sprintf
                    "fixed point %d (%s, %d unstable)%s<br>noise runs %d (unreached %d) %s<br>unstable-mode runs %d (unreached %d) %s"
                    v.Id (kindText v.Kind) v.UnstableModes q v.Runs.Noise v.Unreached.Noise (describe RunMethod.Noise) v.Runs.Unstable v.Unreached.Unstable (describe RunMethod.UnstableMode)
            let nodeTraces =
                vertices
                |> Array.groupBy (fun v -> modeGroup v.UnstableModes)
                |> Array.sortBy fst
                |> Array.map (fun (group, members) ->
                    Chart.Point(
                        members |> Array.map (fun v -> fst positions[v.Id]),
                        members |> Array.map (fun v -> snd positions[v.Id]),
                        Name = sprintf "fixed points, %s" (unstableModeLabel group),
                        MarkerColor = unstableModeColor group,
                        MarkerOutline = Line.init (Color = Color.fromString "black", Width = 1.0),
                        Marker = Marker.init (Size = 16),
                        MultiText = (members |> Array.map nodeText)
                    )
                    |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<extra></extra>")))
                |> List.ofArray
            let idLabels =
                vertices
                |> Array.map (fun v ->
                    let x, y = positions[v.Id]
                    Annotation.init (X = x, Y = y, XRef = "x", YRef = "y", Text = string v.Id, ShowArrow = false, Font = Font.init (Size = 9.0, Color = Color.fromString "black")))
            let subtitle =
                sprintf
                    "%d fixed points, %d edges, %d runs reached no fixed point%s"
                    vertices.Length
                    edges.Length
                    t.Unreached
                    (if usePca then ""
                     elif pcaUsable then "; layered by unstable modes, side by side in the order of PC1"
                     else "; layered by unstable modes (no PCA given), side by side by id")
            let chart =
                Chart.combine (edgeTraces @ loopTrace @ nodeTraces)
                |> Chart.withAnnotations (Seq.append annotations idLabels)
            let chart =
                if usePca then
                    let pc (i: int) =
                        let r = orEmpty pca.Value.ExplainedVarianceRatio
                        if i < r.Length then sprintf "PC%d (%.1f%%)" (i + 1) (100.0 * r[i]) else sprintf "PC%d" (i + 1)
                    chart |> Chart.withXAxisStyle (TitleText = pc 0) |> Chart.withYAxisStyle (TitleText = pc 1)
                else
                    let layers = vertices |> Array.map (fun v -> v.UnstableModes) |> Array.distinct |> Array.sort
                    chart
                    // No x title: plotly puts an axis title without tick labels above the plot.
                    |> Chart.withXAxis (LinearAxis.init (ShowTickLabels = false, ZeroLine = false, ShowGrid = false))
                    |> Chart.withYAxis (LinearAxis.init (Title = Title.init (Text = "unstable modes"), TickMode = StyleParam.TickMode.Array, TickVals = layers, ZeroLine = false))
            chart
            |> Chart.withLegendStyle (Orientation = StyleParam.Orientation.Horizontal, X = 0.0, Y = -0.12, YAnchor = StyleParam.YAnchorPosition.Top)
            |> Chart.withSize (1000, 800)
            |> withTitleText (sprintf "%s<br><sup>%s</sup>" chartTitle subtitle)

    /// `topologyWith TopologyLayout.PcaPlane`: at the PCA positions when a PCA and the points are given,
    /// else layered.
    let topology (t: Topology) (pca: PcaFit option) (fixedPoints: FixedPoint[]) : GenericChart =
        topologyWith TopologyLayout.PcaPlane t pca fixedPoints
