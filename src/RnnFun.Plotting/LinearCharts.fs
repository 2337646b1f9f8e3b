namespace RnnFun.Plotting

open System
open Plotly.NET
open Plotly.NET.LayoutObjects
open Plotly.NET.TraceObjects
open RnnFun

/// Figures of the analyses beyond the fixed points: selection vectors of the slow modes, the
/// points' certificates and the perturbation checks of their linearisations.
[<RequireQualifiedAccess>]
module LinearCharts =
    let private title (text: string) =
        Title.init (Text = text, Font = Font.init (Size = 17.0), X = 0.02, XAnchor = StyleParam.XAnchorPosition.Left)

    let private palette = [| "#1f77b4"; "#ff7f0e"; "#2ca02c"; "#d62728"; "#9467bd"; "#8c564b"; "#e377c2"; "#7f7f7f"; "#bcbd22"; "#17becf" |]

    /// The label of one slow mode of one point on the selection figure's axis.
    let modeLabel (pointId: int) (m: ModeSelection) = sprintf "point %d, mode %d" pointId m.Mode

    /// l' B u per input direction (one bar colour per direction, real part; the hover gives the
    /// imaginary part and the end state's distance from the point) for each slow mode of each point
    /// (at most `limit` point-modes, in the order given).
    let selectionVectors (entries: (int * ModeSelection[])[]) (limit: int) : GenericChart =
        let chartTitle = "Selection vectors: l' B u, what each slow mode integrates of each input"
        let rows = entries |> Array.collect (fun (id, modes) -> modes |> Array.map (fun m -> id, m)) |> Array.truncate (max 0 limit)
        if rows.Length = 0 then Charts.noData chartTitle "no slow modes"
        else
            let inputs = rows |> Array.map (fun (_, m) -> m.Inputs.Length) |> Array.max
            let keys = rows |> Array.map (fun (id, m) -> modeLabel id m)
            let traces =
                [ for j in 0 .. inputs - 1 do
                      let value (m: ModeSelection) = if j < m.Inputs.Length then m.Inputs[j].Integrated.Real else nan
                      let hover (id: int, m: ModeSelection) =
                          if j >= m.Inputs.Length then ""
                          else
                              let i = m.Inputs[j]
                              let moved = sqrt (i.Displacement |> Array.sumBy (fun d -> d * d))
                              sprintf "point %d, mode %d (λ = %.4g%+.4gi)<br>input %d: l'Bu = %.4g%+.4gi<br>end state moved by %.4g" id m.Mode m.Eigenvalue.Real m.Eigenvalue.Imaginary (j + 1) i.Integrated.Real i.Integrated.Imaginary moved
                      yield
                          Chart.Column(rows |> Array.map (snd >> value), Keys = keys, Name = sprintf "input %d" (j + 1), MarkerColor = Color.fromString palette[j % palette.Length], MultiText = (rows |> Array.map hover))
                          |> GenericChart.mapTrace (Trace2DStyle.Bar(HoverTemplate = "%{text}<extra></extra>")) ]
            Chart.combine traces
            |> Chart.withLayoutStyle (BarMode = StyleParam.BarMode.Group)
            |> Chart.withXAxisStyle (TitleText = "slow mode")
            |> Chart.withYAxisStyle (TitleText = "l' B u (real part)")
            |> Chart.withSize (900, 450)
            |> Chart.withTitle (title chartTitle)

    /// The certificate's uniqueness radius per point (log scale); points not certified as crosses at
    /// the bottom of the axis, with the reason in the hover.
    let certificates (entries: (int * Certificate)[]) : GenericChart =
        let chartTitle = "Certificates: radius within which each point is the only fixed point"
        if entries.Length = 0 then Charts.noData chartTitle "no certificates"
        else
            let certified = entries |> Array.choose (fun (id, c) -> match c with Certificate.Certified (r, e) -> Some(id, r, e) | _ -> None)
            let refused = entries |> Array.choose (fun (id, c) -> match c with Certificate.NotCertified why -> Some(id, why) | _ -> None)
            let floor = if certified.Length > 0 then (certified |> Array.map (fun (_, r, _) -> r) |> Array.min) / 10.0 else 1e-3
            let bars =
                if certified.Length = 0 then []
                else
                    [ Chart.Point(
                          certified |> Array.map (fun (id, _, _) -> id),
                          certified |> Array.map (fun (_, r, _) -> r),
                          Name = sprintf "certified (%d)" certified.Length,
                          MarkerColor = Color.fromString "#1f77b4",
                          MultiText = (certified |> Array.map (fun (id, r, e) -> sprintf "point %d: unique within %.3g, error <= %.3g" id r e))
                      )
                      |> Chart.withMarkerStyle (Size = 9)
                      |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<extra></extra>")) ]
            let crosses =
                if refused.Length = 0 then []
                else
                    [ Chart.Point(
                          refused |> Array.map fst,
                          Array.create refused.Length floor,
                          Name = sprintf "not certified (%d)" refused.Length,
                          MarkerColor = Color.fromString "#d62728",
                          MarkerSymbol = StyleParam.MarkerSymbol.X,
                          MultiText = (refused |> Array.map (fun (id, why) -> sprintf "point %d not certified: %s" id why))
                      )
                      |> Chart.withMarkerStyle (Size = 10)
                      |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<extra></extra>")) ]
            Chart.combine (bars @ crosses)
            |> Chart.withXAxisStyle (TitleText = "fixed point id")
            |> Chart.withYAxisStyle (TitleText = "radius (max-norm, log scale)", AxisType = StyleParam.AxisType.Log)
            |> Chart.withSize (900, 420)
            |> Chart.withTitle (title chartTitle)

    let private directionName (d: PushDirection) =
        match d with
        | PushDirection.Right -> "right"
        | PushDirection.Left -> "left"
        | PushDirection.Unstable s when s > 0.0 -> "unstable+"
        | PushDirection.Unstable _ -> "unstable-"

    /// Perturbation checks: the network's displacement ||x_k - x*|| (simulated) against the
    /// linearisation's ||J^k delta|| (predicted), log-log, one colour per push direction, with the
    /// diagonal where they agree.
    let perturbationChecks (results: PerturbationResult[]) : GenericChart =
        let chartTitle = "Perturbation checks: simulated against predicted displacement"
        let rows =
            [| for r in results do
                   for p in r.Pushes do
                       for k in 0 .. p.Steps.Length - 1 do
                           if p.Actual[k] > 0.0 && p.Predicted[k] > 0.0 && Double.IsFinite p.Actual[k] && Double.IsFinite p.Predicted[k] then
                               yield directionName p.Direction, r.PointId, p, k |]
        if rows.Length = 0 then Charts.noData chartTitle "no pushes with a displacement"
        else
            let lo = rows |> Array.map (fun (_, _, p, k) -> min p.Actual[k] p.Predicted[k]) |> Array.min
            let hi = rows |> Array.map (fun (_, _, p, k) -> max p.Actual[k] p.Predicted[k]) |> Array.max
            let traces =
                rows
                |> Array.groupBy (fun (d, _, _, _) -> d)
                |> Array.mapi (fun i (d, group) ->
                    Chart.Point(
                        group |> Array.map (fun (_, _, p, k) -> p.Predicted[k]),
                        group |> Array.map (fun (_, _, p, k) -> p.Actual[k]),
                        Name = d,
                        MarkerColor = Color.fromString palette[i % palette.Length],
                        MultiText =
                            (group |> Array.map (fun (_, id, p, k) -> sprintf "point %d, mode %d, %s, k = %d<br>validity %.3f" id p.Mode d p.Steps[k] p.Validity[k]))
                    )
                    |> Chart.withMarkerStyle (Size = 7)
                    |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<br>predicted %{x:.4g}, simulated %{y:.4g}<extra></extra>")))
                |> List.ofArray
            let diagonal = Chart.Line([ lo; hi ], [ lo; hi ], Name = "simulated = predicted", LineColor = Color.fromString "black", LineDash = StyleParam.DrawingStyle.Dash, LineWidth = 1.0)
            Chart.combine (traces @ [ diagonal ])
            |> Chart.withXAxisStyle (TitleText = "predicted ||J^k δ|| (log scale)", AxisType = StyleParam.AxisType.Log)
            |> Chart.withYAxisStyle (TitleText = "simulated ||x_k - x*|| (log scale)", AxisType = StyleParam.AxisType.Log)
            |> Chart.withSize (900, 500)
            |> Chart.withTitle (title chartTitle)
