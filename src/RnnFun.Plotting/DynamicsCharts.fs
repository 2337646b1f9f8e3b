namespace RnnFun.Plotting

open System
open Plotly.NET
open Plotly.NET.LayoutObjects
open Plotly.NET.TraceObjects
open RnnFun

/// Figures of a continuation (bifurcation diagram, eigenvalues along the branches) and of Lyapunov
/// spectra.
[<RequireQualifiedAccess>]
module DynamicsCharts =
    let private title (text: string) =
        Title.init (Text = text, Font = Font.init (Size = 17.0), X = 0.02, XAnchor = StyleParam.XAnchorPosition.Left)

    let private withTitleText (text: string) (chart: GenericChart) = chart |> Chart.withTitle (title text)

    let private hLine (y: float) =
        Shape.init (
            ShapeType = StyleParam.ShapeType.Line,
            Xref = "paper",
            X0 = 0.0,
            X1 = 1.0,
            Yref = "y",
            Y0 = y,
            Y1 = y,
            Line = Line.init (Color = Color.fromString "black", Width = 1.0, Dash = StyleParam.DrawingStyle.Dash)
        )

    let private eventColour (kind: BifurcationKind) =
        match kind with
        | BifurcationKind.Fold -> "#d62728"
        | BifurcationKind.Pitchfork -> "#9467bd"
        | BifurcationKind.Transcritical -> "#8c564b"
        | BifurcationKind.BranchPoint -> "#7f7f7f"
        | BifurcationKind.Flip -> "#ff7f0e"
        | BifurcationKind.NeimarkSacker -> "#17becf"

    /// The unit direction a bifurcation diagram projects the states on: the state itself for one
    /// unit, else the first principal component of every branch point's state (the first unit when
    /// the states do not vary).
    let projectionOf (result: ContinuationResult) : float[] =
        let states = result.Branches |> Array.collect (fun b -> b.States)
        if states.Length = 0 then [||]
        else
            let n = states[0].Length
            if n = 1 then [| 1.0 |]
            else
                try
                    let pca = Pca.fitAll states
                    pca.Components[0]
                with InvalidArgument _ -> Array.init n (fun i -> if i = 0 then 1.0 else 0.0)

    /// The bifurcation diagram: the parameter against the states projected on `projection` ([state];
    /// empty: `projectionOf`), stable stretches (every |lambda| < 1) solid and the others dashed, the
    /// located bifurcations as markers.
    let bifurcationDiagram (result: ContinuationResult) (projection: float[]) (parameterName: string) : GenericChart =
        let chartTitle = "Bifurcation diagram: fixed points as the parameter varies (solid: stable, dashed: unstable)"
        if result.Branches.Length = 0 then Charts.noData chartTitle "no branches"
        else
            let direction = if isNull projection || projection.Length = 0 then projectionOf result else projection
            let project (x: float[]) = Array.fold2 (fun s a b -> s + a * b) 0.0 x direction
            let yTitle = if direction.Length = 1 then "state" else "state projected (PC1 of the branches)"
            let shown = Collections.Generic.HashSet<string>()
            let stretches =
                [ for b in result.Branches do
                      // Runs of equal stability; each run shares its end point with the next.
                      // Stable here is every |lambda| < 1, without the classification's tolerance, so that
                      // the points next to a bifurcation take the side they are on.
                      let n = b.Parameter.Length
                      let stableAt k = b.Eigenvalues[k] |> Array.forall (fun l -> l.Magnitude < 1.0)
                      let mutable start = 0
                      for k in 1 .. n do
                          if k = n || stableAt k <> stableAt start then
                              let stop = min k (n - 1)
                              let stable = stableAt start
                              let name = if stable then "stable" else "unstable"
                              let xs = b.Parameter[start..stop]
                              let ys = b.States[start..stop] |> Array.map project
                              yield
                                  Chart.Line(
                                      xs,
                                      ys,
                                      Name = name,
                                      LineColor = Color.fromString (if stable then "#1f77b4" else "#d62728"),
                                      LineDash = (if stable then StyleParam.DrawingStyle.Solid else StyleParam.DrawingStyle.Dash),
                                      LineWidth = 2.0,
                                      MultiText = Array.create xs.Length (sprintf "branch %d (%s)" b.Id name)
                                  )
                                  |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<br>parameter %{x:.4g}, state %{y:.4g}<extra></extra>"))
                                  |> Chart.withTraceInfo (ShowLegend = shown.Add name, LegendGroup = name)
                              start <- k ]
            let events =
                result.Events
                |> Array.groupBy (fun e -> e.Kind)
                |> Array.map (fun (kind, es) ->
                    Chart.Point(
                        es |> Array.map (fun e -> e.Parameter),
                        es |> Array.map (fun e -> project e.State),
                        Name = Continuation.kindName kind,
                        MarkerColor = Color.fromString (eventColour kind),
                        MarkerSymbol = StyleParam.MarkerSymbol.Diamond,
                        MultiText = (es |> Array.map (fun e -> sprintf "%s at %.6g: λ = %.4g%+.4gi" (Continuation.kindName kind) e.Parameter e.Eigenvalue.Real e.Eigenvalue.Imaginary))
                    )
                    |> Chart.withMarkerStyle (Size = 11)
                    |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<extra></extra>")))
                |> List.ofArray
            Chart.combine (stretches @ events)
            |> Chart.withXAxisStyle (TitleText = parameterName)
            |> Chart.withYAxisStyle (TitleText = yTitle)
            |> Chart.withSize (900, 500)
            |> withTitleText chartTitle

    /// `bifurcationDiagram` with the period-2 orbits born at its flips (`PeriodTwo.ofContinuation`):
    /// both points x and F(x) of each orbit, green, solid where the orbit is stable and dotted where
    /// it is not.
    let bifurcationDiagramWith (periodTwo: PeriodTwoBranch[]) (result: ContinuationResult) (projection: float[]) (parameterName: string) : GenericChart =
        let diagram = bifurcationDiagram result projection parameterName
        if isNull periodTwo || periodTwo.Length = 0 || result.Branches.Length = 0 then diagram
        else
            let direction = if isNull projection || projection.Length = 0 then projectionOf result else projection
            let project (x: float[]) = Array.fold2 (fun s a b -> s + a * b) 0.0 x direction
            let shown = Collections.Generic.HashSet<string>()
            let orbits =
                [ for b in periodTwo do
                      let n = b.Parameter.Length
                      let mutable start = 0
                      for k in 1 .. n do
                          if k = n || b.Stable[k] <> b.Stable[start] then
                              let stop = min k (n - 1)
                              let stable = b.Stable[start]
                              let name = if stable then "period 2, stable" else "period 2, unstable"
                              for points in [ b.States; b.Partners ] do
                                  yield
                                      Chart.Line(
                                          b.Parameter[start..stop],
                                          points[start..stop] |> Array.map project,
                                          Name = name,
                                          LineColor = Color.fromString "#2ca02c",
                                          LineDash = (if stable then StyleParam.DrawingStyle.Solid else StyleParam.DrawingStyle.Dot),
                                          LineWidth = 2.0
                                      )
                                      |> Chart.withTraceInfo (ShowLegend = shown.Add name, LegendGroup = name)
                              start <- k ]
            Chart.combine (diagram :: orbits)

    /// The moduli of the leading `count` eigenvalues along each branch against the parameter, with
    /// |λ| = 1 and the located bifurcations.
    let eigenvaluesAlongBranches (result: ContinuationResult) (count: int) (parameterName: string) : GenericChart =
        let chartTitle = sprintf "Leading eigenvalue moduli along the branches (%d per point)" count
        if result.Branches.Length = 0 then Charts.noData chartTitle "no branches"
        else
            let traces =
                [ for b in result.Branches do
                      let k = min count (if b.Eigenvalues.Length = 0 then 0 else b.Eigenvalues[0].Length)
                      for i in 0 .. k - 1 do
                          yield
                              Chart.Line(
                                  b.Parameter,
                                  b.Eigenvalues |> Array.map (fun ls -> ls[i].Magnitude),
                                  Name = sprintf "branch %d" b.Id,
                                  LineColor = Color.fromString [| "#1f77b4"; "#ff7f0e"; "#2ca02c"; "#9467bd"; "#8c564b"; "#e377c2"; "#7f7f7f"; "#bcbd22"; "#17becf" |].[b.Id % 9],
                                  LineWidth = 1.5,
                                  MultiText = Array.create b.Parameter.Length (sprintf "branch %d, eigenvalue %d" b.Id (i + 1))
                              )
                              |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<br>parameter %{x:.4g}: |λ| = %{y:.4g}<extra></extra>"))
                              |> Chart.withTraceInfo (ShowLegend = (i = 0), LegendGroup = string b.Id) ]
            let events =
                if result.Events.Length = 0 then []
                else
                    [ Chart.Point(
                          result.Events |> Array.map (fun e -> e.Parameter),
                          result.Events |> Array.map (fun e -> e.Eigenvalue.Magnitude),
                          Name = "bifurcations",
                          MarkerColor = Color.fromString "black",
                          MarkerSymbol = StyleParam.MarkerSymbol.Diamond,
                          MultiText = (result.Events |> Array.map (fun e -> Continuation.kindName e.Kind))
                      )
                      |> Chart.withMarkerStyle (Size = 10) ]
            Chart.combine (traces @ events)
            |> Chart.withShapes [ hLine 1.0 ]
            |> Chart.withXAxisStyle (TitleText = parameterName)
            |> Chart.withYAxisStyle (TitleText = "|λ|")
            |> Chart.withSize (900, 450)
            |> withTitleText chartTitle

    /// A Lyapunov spectrum per condition (exponent index against value, per step), and the mean over
    /// conditions with its standard deviation when there are several.
    let lyapunovSpectra (labels: string[]) (spectra: LyapunovSpectrum[]) : GenericChart =
        let chartTitle = "Lyapunov spectra (per step)"
        let spectra = if isNull spectra then [||] else spectra
        if spectra.Length = 0 then Charts.noData chartTitle "no spectra"
        else
            let shownAll = spectra.Length <= 12
            let finiteOr (v: float) = if Double.IsFinite v then v else nan
            let each =
                if not shownAll then []
                else
                    [ for i in 0 .. spectra.Length - 1 do
                          let s = spectra[i]
                          let label = if isNull labels || i >= labels.Length then sprintf "condition %d" (i + 1) else labels[i]
                          yield
                              Chart.Line(
                                  Array.init s.Exponents.Length (fun j -> j + 1),
                                  s.Exponents |> Array.map finiteOr,
                                  Name = sprintf "%s (Kaplan-Yorke %.3g)" label s.KaplanYorke,
                                  ShowMarkers = (s.Exponents.Length <= 64),
                                  LineWidth = 1.5
                              ) ]
            let mean =
                if spectra.Length < 2 then []
                else
                    let k = spectra |> Array.map (fun s -> s.Exponents.Length) |> Array.min
                    let m = Array.init k (fun j -> spectra |> Array.averageBy (fun s -> s.Exponents[j]))
                    let sd =
                        Array.init k (fun j ->
                            sqrt ((spectra |> Array.sumBy (fun s -> (s.Exponents[j] - m[j]) ** 2.0)) / float (spectra.Length - 1)))
                    [ Chart.Line(
                          Array.init k (fun j -> j + 1),
                          m |> Array.map finiteOr,
                          Name = sprintf "mean of %d (Kaplan-Yorke %.3g)" spectra.Length (Lyapunov.kaplanYorke m),
                          LineColor = Color.fromString "black",
                          LineWidth = 2.5
                      )
                      |> Chart.withYError (Error.init (Array = (sd |> Array.map finiteOr))) ]
            Chart.combine (each @ mean)
            |> Chart.withShapes [ hLine 0.0 ]
            |> Chart.withXAxisStyle (TitleText = "exponent index")
            |> Chart.withYAxisStyle (TitleText = "Lyapunov exponent (per step)")
            |> Chart.withSize (900, 450)
            |> withTitleText chartTitle
