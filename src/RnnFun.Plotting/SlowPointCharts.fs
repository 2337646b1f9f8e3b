namespace RnnFun.Plotting

open System
open System.Numerics
open Plotly.NET
open Plotly.NET.LayoutObjects
open Plotly.NET.TraceObjects
open RnnFun

/// Figures of slow points (`SlowPoints.find`): the manifold they trace in PCA space (a ring, a
/// line), coloured by the eigenvalue closest to 1 at each, and the q distribution with its threshold.
[<RequireQualifiedAccess>]
module SlowPointCharts =
    let private orEmpty (a: 'a[]) = if isNull a then [||] else a

    let private format (v: float) = v.ToString("g4", Globalization.CultureInfo.InvariantCulture)

    let private sci (v: float) = v.ToString("0.00e+00", Globalization.CultureInfo.InvariantCulture)

    /// |lambda| of the eigenvalue closest to 1 (NaN without eigenvalues).
    let nearOneModulus (p: FixedPoint) =
        match SlowPoints.closestToOne (orEmpty p.Eigenvalues) with
        | Some l -> l.Magnitude
        | None -> nan

    let private pointText (what: string) (p: FixedPoint) =
        let near =
            match SlowPoints.closestToOne (orEmpty p.Eigenvalues) with
            | Some l -> sprintf "<br>eigenvalue closest to 1: %s%s%si (|λ| = %s)" (format l.Real) (if l.Imaginary < 0.0 then "" else "+") (format l.Imaginary) (format l.Magnitude)
            | None -> ""
        sprintf "%s %d<br>q = %s%s" what p.Id (sci p.Q) near

    let private symbols =
        [| StyleParam.MarkerSymbol.Circle; StyleParam.MarkerSymbol.Diamond; StyleParam.MarkerSymbol.Square
           StyleParam.MarkerSymbol.TriangleUp; StyleParam.MarkerSymbol.Cross; StyleParam.MarkerSymbol.X |]

    /// The slow points of each group (a condition's name and its points) in the plane of the first two
    /// principal components, over the trajectories (grey), each point coloured by the modulus of its
    /// eigenvalue closest to 1 (one scale, 0.8 to 1.2: a ring or line attractor is where it is 1), one
    /// marker symbol per group; fixed points as large outlined markers. Trajectories are
    /// [trial][time][units].
    let manifold (pca: PcaFit) (trajectories: float[][][]) (groups: (string * FixedPoint[])[]) (fixedPoints: FixedPoint[]) : GenericChart =
        let chartTitle = "Slow points in the plane of PC1 and PC2 (colour: |λ| of the eigenvalue closest to 1)"
        let groups = orEmpty groups |> Array.filter (fun (_, ps) -> not (isNull ps) && ps.Length > 0)
        if groups.Length = 0 then Charts.noData chartTitle "no slow points"
        elif orEmpty pca.Components |> Array.length < 2 then Charts.noData chartTitle "the PCA has fewer than two components"
        else
            let project (x: float[]) = let c = Pca.transformPoint pca x in c[0], c[1]
            let paths = orEmpty trajectories |> Array.filter (fun t -> not (isNull t) && t.Length > 0) |> Array.truncate 40
            let trajectoryTraces =
                paths
                |> Array.mapi (fun i t ->
                    let xy = t |> Array.map project
                    Chart.Line(xy |> Array.map fst, xy |> Array.map snd, Name = "trajectories", LineColor = Color.fromString "#b8bec6", LineWidth = 1.0, Opacity = 0.6, ShowLegend = (i = 0))
                    |> Chart.withTraceInfo (LegendGroup = "trajectories"))
                |> List.ofArray
            let pointTraces =
                groups
                |> Array.mapi (fun g (name, points) ->
                    let xy = points |> Array.map (fun p -> project p.State)
                    let colours = points |> Array.map (fun p -> let m = nearOneModulus p in if Double.IsFinite m then m else 0.0)
                    let marker =
                        Marker.init (
                            Size = 8,
                            Symbol = symbols[g % symbols.Length],
                            Color = Color.fromColorScaleValues colours,
                            Colorscale = StyleParam.Colorscale.Custom [ 0.0, Color.fromString "#2c7bb6"; 0.5, Color.fromString "#ffffbf"; 1.0, Color.fromString "#d7191c" ],
                            CMin = 0.8,
                            CMax = 1.2,
                            ShowScale = (g = 0),
                            Outline = Line.init (Color = Color.fromString "#333333", Width = 0.5)
                        )
                    Chart.Point(xy |> Array.map fst, xy |> Array.map snd, Name = sprintf "slow points: %s (%d)" name points.Length, MultiText = (points |> Array.map (pointText "slow point")))
                    |> Chart.withMarker marker
                    |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<extra></extra>")))
                |> List.ofArray
            let fixedTraces =
                let fps = orEmpty fixedPoints
                if fps.Length = 0 then []
                else
                    let xy = fps |> Array.map (fun p -> project p.State)
                    [ Chart.Point(xy |> Array.map fst, xy |> Array.map snd, Name = "fixed points", MultiText = (fps |> Array.map (pointText "fixed point")),
                                  Marker = Marker.init (Size = 13, Symbol = StyleParam.MarkerSymbol.Circle, Color = Color.fromString "rgba(0,0,0,0)", Outline = Line.init (Color = Color.fromString "black", Width = 2.0)))
                      |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<extra></extra>")) ]
            let pcTitle i = sprintf "PC%d (%.1f%%)" (i + 1) (100.0 * (orEmpty pca.ExplainedVarianceRatio |> Array.tryItem i |> Option.defaultValue nan))
            Chart.combine (trajectoryTraces @ pointTraces @ fixedTraces)
            |> Chart.withXAxis (LinearAxis.init (Title = Title.init (Text = pcTitle 0)))
            |> Chart.withYAxis (LinearAxis.init (Title = Title.init (Text = pcTitle 1), ScaleAnchor = StyleParam.ScaleAnchor.X 1))
            |> Chart.withLegend (Legend.init (Orientation = StyleParam.Orientation.Horizontal, Y = -0.15))
            |> Chart.withSize (900, 750)
            |> Chart.withTitle (Title.init (Text = chartTitle))

    /// Each group's q at the end of the descent, sorted (log scale), with the threshold the rule chose
    /// (`SlowPoints.threshold`): the states below it are the slow points.
    let qDistribution (groups: (string * SlowPointGroup)[]) : GenericChart =
        let chartTitle = "q of every descended state, sorted, and the slow-point threshold"
        let groups = orEmpty groups |> Array.filter (fun (_, g) -> orEmpty g.Q |> Array.exists (fun q -> q > 0.0))
        if groups.Length = 0 then Charts.noData chartTitle "no states"
        else
            let palette = [| "#4c78a8"; "#f58518"; "#54a24b"; "#b279a2"; "#e45756"; "#72b7b2" |]
            let traces =
                groups
                |> Array.mapi (fun i (name, g) ->
                    let q = g.Q |> Array.filter (fun q -> q > 0.0)
                    let colour = Color.fromString palette[i % palette.Length]
                    [ Chart.Point(Array.init q.Length (fun j -> j + 1), q, Name = sprintf "%s: q" name, MarkerColor = colour, Marker = Marker.init (Size = 4))
                      Chart.Line([ 1; q.Length ], [ g.Threshold.Threshold; g.Threshold.Threshold ], Name = sprintf "%s: threshold %s (%s)" name (sci g.Threshold.Threshold) (if g.Threshold.Rule = "gap" then sprintf "gap of %.1f decades" g.Threshold.GapDecades else "no gap: ceiling"),
                                 LineColor = colour, LineDash = StyleParam.DrawingStyle.Dash) ])
                |> List.concat
            Chart.combine traces
            |> Chart.withXAxis (LinearAxis.init (Title = Title.init (Text = "state (sorted by q)")))
            |> Chart.withYAxis (LinearAxis.init (Title = Title.init (Text = "q"), AxisType = StyleParam.AxisType.Log))
            |> Chart.withSize (900, 450)
            |> Chart.withTitle (Title.init (Text = chartTitle))
