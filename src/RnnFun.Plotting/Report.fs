namespace RnnFun.Plotting

open System
open System.Globalization
open System.IO
open System.Net
open System.Text
open Plotly.NET
open RnnFun

/// What a report shows, as plain data (no tensors: run the network first, e.g. with
/// `Pipeline.trajectories`). Every field is optional: a section whose input is missing says so.
/// Start from `ReportInputs.empty` and set what you have.
type ReportInputs =
    { /// The page title.
      Title: string
      /// The model: its configuration table and its weights (`ModelSummary.ofNetwork`).
      Model: ModelSummary option
      /// Rows for the model table when no model is given (or extra rows beside it): (name, value).
      ModelRows: (string * string) list
      /// Regions of a multi-region network (borders in the weight figure, rows in the model table).
      Regions: RegionSpan list option
      /// The training settings (a table; only the settings that describe the run are read).
      FitConfig: FitConfig option
      /// A training run: its curves and its outcome (`TrainingSummary.ofFit`).
      Training: TrainingSummary option
      /// Training curves from elsewhere (a training log); used when `Training` is None.
      TrainingLog: TrainingLog option
      /// Example trials (inputs and targets).
      Batch: Batch option
      /// The network's outputs for `Batch`, [trials; time; outputs] row-major (empty: targets only);
      /// `Trajectories.Outputs`.
      Outputs: float[]
      /// How many example trials to draw.
      TrialCount: int
      /// Hidden states [trial][time][units] (`Trajectories.States`): activity of the first trial,
      /// trajectories in PC space, and the PCA when `Pca` is None.
      States: float[][][] option
      /// The PCA for the dimensionality and state-space figures (fitted on `States` when None).
      Pca: PcaFit option
      /// Share of the variance the dimensionality figure counts components for.
      VarianceThreshold: float
      FixedPoints: FixedPoint[] option
      /// Slow points (`SlowPoints.find`, `Conditions.slowPoints`): their own section, with the
      /// manifold they trace in the PC1-PC2 plane and the q threshold of each group.
      SlowPoints: SlowPointResult option
      /// The conditions (constant inputs) the points were found under: the tables name each point's
      /// condition and the figures show each condition apart. Empty: conditions are not named.
      Conditions: Condition list
      Topology: Topology option
      /// Extra rows for the configuration section (task, seeds, command line...): (name, value).
      Notes: (string * string) list
      /// A continuation (`Continuation.run`) and the parameter's name: its section is shown only when given.
      Continuation: (ContinuationResult * string) option
      /// Lyapunov spectra (`Lyapunov.spectrum`, `Lyapunov.ofTrials`) with a label each: their section
      /// is shown only when given.
      Lyapunov: (string * LyapunovSpectrum)[] option
      /// Slow modes with their selection vectors, by fixed point id (`Selection.slowModes`,
      /// `FixedPointFile.loadSelection`): their section is shown only when given.
      Selections: (int * ModeSelection[])[] option
      /// Certificates by fixed point id (`FixedPointResult.Certificates`, `FixedPointFile.loadCertificates`):
      /// their section is shown only when given.
      Certificates: (int * Certificate)[] option
      /// Perturbation checks (`Perturbation.check`, `PerturbationFile.load`): their section is shown only when given.
      Perturbation: PerturbationResult[] option
      /// Period-2 orbits born at the continuation's flips (`PeriodTwo.ofContinuation`): drawn on its
      /// bifurcation diagram and listed in its section. Empty: none.
      PeriodTwo: PeriodTwoBranch[] }

    /// Nothing given: every section says its input is missing.
    static member empty =
        { Title = "RnnFun report"
          Model = None
          ModelRows = []
          Regions = None
          FitConfig = None
          Training = None
          TrainingLog = None
          Batch = None
          Outputs = [||]
          TrialCount = 3
          States = None
          Pca = None
          VarianceThreshold = Pca.defaultVarianceThreshold
          FixedPoints = None
          SlowPoints = None
          Conditions = []
          Topology = None
          Notes = []
          Continuation = None
          Lyapunov = None
          Selections = None
          Certificates = None
          Perturbation = None
          PeriodTwo = [||] }

/// One self-contained HTML report (plotly.js embedded once, inline CSS, no external URL) of a
/// model, its training and its analysis.
[<RequireQualifiedAccess>]
module Report =
    /// The section headings, in order.
    let sectionTitles =
        [ "Model and training configuration"
          "Training curves"
          "Example trials"
          "Weights"
          "Dimensionality"
          "Fixed points"
          "Slow points"
          "Topology" ]

    /// The headings of the sections shown only when their input is given, after the others.
    let optionalSectionTitles = [ "Continuation and bifurcations"; "Lyapunov spectrum"; "Selection vectors"; "Certificates"; "Perturbation checks" ]

    /// The plotly.js that Plotly.NET embeds (its `PlotlyJSReference.Full`), read once from the
    /// Plotly.NET assembly's resources.
    let private plotlyJsText =
        lazy
            (let assembly = typeof<GenericChart>.Assembly
             let name =
                 assembly.GetManifestResourceNames()
                 |> Array.tryFind (fun n -> n.StartsWith("Plotly.NET.plotly", StringComparison.Ordinal) && n.EndsWith(".min.js", StringComparison.Ordinal))
             match name with
             | None -> failwith "Plotly.NET carries no plotly.min.js resource: cannot write a self-contained report"
             | Some name ->
                 use stream = assembly.GetManifestResourceStream name
                 use reader = new StreamReader(stream, Encoding.UTF8)
                 reader.ReadToEnd())

    /// The plotly.js source embedded in every report (the version Plotly.NET uses).
    let plotlyJs () = plotlyJsText.Force()

    let private encode (s: string) = WebUtility.HtmlEncode(if isNull s then "" else s)

    let private invariant (v: float) = v.ToString("g4", CultureInfo.InvariantCulture)

    let private scientific (v: float) = v.ToString("0.00e+00", CultureInfo.InvariantCulture)

    let private fragment (extraConfig: string) (id: string) (chart: GenericChart) =
        let json = (GenericChart.toJson chart).Replace("</", "<\\/")
        sprintf
            "<div class=\"figure\"><div id=\"%s\" class=\"plot\"></div></div>\n<script>(function () { var fig = %s; var config = Object.assign({}, fig.config, { displaylogo: false%s }); Plotly.newPlot('%s', fig.data, fig.layout, config); })();</script>\n"
            id
            json
            extraConfig
            id

    /// A chart as a div and the script that draws it with Plotly.newPlot (plotly.js must be loaded
    /// before it). The figure's JSON has "</" escaped so no string in it can end the script.
    let chartFragment (id: string) (chart: GenericChart) = fragment "" id chart

    /// `chartFragment` for a static image (a PNG screenshot): without plotly's mode bar, which would
    /// otherwise be drawn over the figure's top right corner.
    let exportFragment (id: string) (chart: GenericChart) = fragment ", displayModeBar: false" id chart

    let private table (headers: string list) (rows: string list list) =
        let sb = StringBuilder()
        sb.Append("<table>") |> ignore
        if not headers.IsEmpty then
            sb.Append("<thead><tr>") |> ignore
            for h in headers do
                sb.Append("<th>").Append(encode h).Append("</th>") |> ignore
            sb.Append("</tr></thead>") |> ignore
        sb.Append("<tbody>") |> ignore
        for row in rows do
            sb.Append("<tr>") |> ignore
            for cell in row do
                sb.Append("<td>").Append(cell).Append("</td>") |> ignore
            sb.Append("</tr>") |> ignore
        sb.Append("</tbody></table>\n").ToString()

    /// A two-column table of (name, value) text pairs (both encoded).
    let private pairs (caption: string) (rows: (string * string) list) =
        sprintf "<h3>%s</h3>\n%s" (encode caption) (table [] (rows |> List.map (fun (k, v) -> [ encode k; encode v ])))

    let private missing (text: string) = sprintf "<p class=\"missing\">%s</p>\n" (encode text)

    let private note (text: string) = sprintf "<p class=\"note\">%s</p>\n" (encode text)

    let private kindText = FixedPoints.kindName

    let private settingText (s: KindSetting) =
        match s with
        | KindSetting.Number v -> invariant v
        | KindSetting.Text t -> t

    let private maskText (what: string) (mask: float[][] option) =
        match mask with
        | None -> what, "none (all connections)"
        | Some m ->
            let total = m |> Array.sumBy Array.length
            let kept = m |> Array.sumBy (fun r -> r |> Array.filter (fun v -> v <> 0.0) |> Array.length)
            what, sprintf "%d of %d connections (%.1f%%)" kept total (if total = 0 then 0.0 else 100.0 * float kept / float total)

    let private modelRows (model: ModelSummary) (regions: RegionSpan list option) =
        let c = model.Constraints
        let sizes = model.Sizes
        let n = sizes.Units
        [ "kind", model.KindName + (if model.KindSettings.IsEmpty then "" else " (" + String.Join(", ", model.KindSettings |> List.map (fun (k, v) -> k + " = " + settingText v)) + ")")
          "inputs / units / outputs", sprintf "%d / %d / %d" sizes.Inputs n sizes.Outputs
          "precision", (match model.NetworkConfig.Precision with Precision.Float32 -> "float32" | Precision.Float64 -> "float64")
          "parameters", String.Join(", ", model.Specs |> List.map (fun s -> sprintf "%s [%s]%s" s.Name (String.Join(" x ", s.Shape)) (if model.IsTrainable s.Name then "" else " (frozen)")))
          "parameter count", sprintf "%d (%d trainable)" model.ParameterCount model.TrainableCount
          "autapses", (if c.Autapses then "allowed" else "none (zero diagonal)")
          "Dale's law",
          (match c.DaleRatio with
           | Some r ->
               let e = Constraints.excitatoryCount n r
               sprintf "ratio %s: units 0-%d excitatory (%d), %d-%d inhibitory (%d)" (invariant r) (e - 1) e e (n - 1) (n - e)
           | None -> "off")
          maskText "input mask" c.InputMask
          maskText "recurrent mask" c.RecurrentMask
          maskText "output mask" c.OutputMask
          "unit signs",
          (match c.UnitSigns with
           | Some s -> sprintf "%d excitatory, %d inhibitory, %d free" (s |> Array.filter ((=) 1) |> Array.length) (s |> Array.filter ((=) -1) |> Array.length) (s |> Array.filter ((=) 0) |> Array.length)
           | None -> "none") ]
        @ (match regions with
           | Some rs when not rs.IsEmpty -> [ "regions", String.Join("; ", rs |> List.map (fun r -> sprintf "%s: units %d-%d" r.Name r.Start (r.Start + r.Units - 1))) ]
           | _ -> [])

    let private fitConfigRows (c: FitConfig) =
        let r = c.Regularization
        let regularization =
            [ "L1 in", r.L1In; "L1 rec", r.L1Rec; "L1 out", r.L1Out; "L2 in", r.L2In; "L2 rec", r.L2Rec; "L2 out", r.L2Out; "L2 rate", r.L2Rate ]
            |> List.filter (fun (_, v) -> v <> 0.0)
            |> List.map (fun (k, v) -> k + " " + invariant v)
        [ "batch size", string c.BatchSize
          "epochs", string c.Epochs
          "learning rate", invariant c.LearningRate
          "optimiser", (if c.Amsgrad then "Adam (AMSGrad)" else "Adam") + (if c.WeightDecay > 0.0 then sprintf ", weight decay %s" (invariant c.WeightDecay) else "")
          "schedule",
          (match c.Schedule with
           | LearningRateSchedule.Constant -> "constant"
           | LearningRateSchedule.MultiStep (m, g) -> sprintf "multi-step at epochs %s, gamma %s" (String.Join(", ", m)) (invariant g)
           | LearningRateSchedule.ReduceOnPlateau (f, p, m) -> sprintf "reduce on plateau: factor %s, patience %d, minimum %s" (invariant f) p (invariant m))
          "gradient clipping",
          (match c.Clipping with
           | GradientClipping.Off -> "off"
           | GradientClipping.Value v -> sprintf "value %s" (invariant v)
           | GradientClipping.GlobalNorm v -> sprintf "global norm %s" (invariant v))
          "stop loss", (match c.StopLoss with Some v -> invariant v | None -> "none")
          "weights returned", (if c.KeepBest then "best epoch" else "last epoch")
          "regularisation", (if regularization.IsEmpty then "none" else String.Join(", ", regularization))
          "noise (recurrent / input)", sprintf "%s / %s" (invariant c.RecurrentNoise) (invariant c.InputNoise)
          "trained initial state", (if c.TrainInitialState then "yes" else "no")
          "validation", (match c.Validation with Some b -> sprintf "%d trials of %d steps" b.Trials b.Time | None -> "none")
          "seed", string c.Seed ]

    let private trainingRows (r: TrainingSummary) =
        let last (a: float[]) = if isNull a || a.Length = 0 then "-" else invariant (Array.last a)
        let best (a: float[]) = if isNull a || a.Length = 0 then "-" else invariant (Array.min a)
        [ "stopped", sprintf "%s at epoch %d" (StopReason.text r.StopReason) r.StoppedAtEpoch
          "epochs run / optimiser steps", sprintf "%d / %d" r.Losses.Length r.Steps
          "wall time", sprintf "%.1f s" r.WallTime.TotalSeconds
          "final training loss", last r.Losses
          "final / lowest validation loss", sprintf "%s / %s" (last r.ValidationLosses) (best r.ValidationLosses)
          "kept weights of epoch", (if r.BestEpoch > 0 then string r.BestEpoch else "none")
          "learnt initial state", (if r.InitialState.IsSome then "yes" else "no") ]

    let private css =
        """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d2733; margin: 0; background: #f4f6f9; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; background: #ffffff; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 21px; margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 2px solid #d5dce6; }
h3 { font-size: 16px; margin: 20px 0 8px; }
nav { margin: 10px 0 18px; font-size: 14px; }
nav a { margin-right: 14px; color: #2b5c9e; text-decoration: none; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 13.5px; }
th, td { border: 1px solid #d5dce6; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.missing { color: #7a8594; font-style: italic; }
.note { color: #46505c; font-size: 14px; }
.figure { overflow-x: auto; margin: 8px 0 18px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 50%; border: 1px solid #333; margin-right: 6px; vertical-align: middle; }
.stamp { color: #7a8594; font-size: 13px; }
"""

    /// The report as one HTML document: plotly.js inline once, every figure as a div drawn by its own
    /// Plotly.newPlot script, inline CSS, no external URL.
    let html (inputs: ReportInputs) : string =
        let figureCount = ref 0
        let figure (chart: GenericChart) =
            figureCount.Value <- figureCount.Value + 1
            chartFragment (sprintf "rnnfun-figure-%d" figureCount.Value) chart
        let sections = ResizeArray<string * string>()
        let section (title: string) (body: string) = sections.Add(title, body)

        // 1. Configuration
        let config =
            let sb = StringBuilder()
            match inputs.Model with
            | Some model -> sb.Append(pairs "Model" (modelRows model inputs.Regions @ inputs.ModelRows)) |> ignore
            | None when not inputs.ModelRows.IsEmpty -> sb.Append(pairs "Model" inputs.ModelRows) |> ignore
            | None -> sb.Append(missing "No model was given.") |> ignore
            match inputs.FitConfig with
            | Some c -> sb.Append(pairs "Training settings" (fitConfigRows c)) |> ignore
            | None -> sb.Append(missing "No training settings were given.") |> ignore
            match inputs.Training with
            | Some r -> sb.Append(pairs "Training outcome" (trainingRows r)) |> ignore
            | None -> ()
            if not inputs.Notes.IsEmpty then sb.Append(pairs "Notes" inputs.Notes) |> ignore
            sb.ToString()
        section sectionTitles[0] config

        // 2. Training curves
        let log =
            match inputs.Training, inputs.TrainingLog with
            | Some r, _ -> Some(TrainingLog.ofSummary r)
            | None, Some l -> Some l
            | None, None -> None
        section
            sectionTitles[1]
            (match log with
             | Some l -> figure (Charts.trainingLog l)
             | None -> missing "No training run or training log was given.")

        // 3. Example trials and activity
        let states = inputs.States |> Option.map (Array.filter (fun t -> not (isNull t) && t.Length > 0)) |> Option.filter (fun s -> s.Length > 0)
        section
            sectionTitles[2]
            ((match inputs.Batch with
              | Some b -> figure (Charts.trialsOf b inputs.Outputs (max 1 inputs.TrialCount))
              | None -> missing "No example trials were given.")
             + (match states with
                | Some s ->
                    "<h3>Hidden activity of trial 1</h3>\n" + figure (Charts.activity s[0])
                | None -> missing "No hidden states were given, so no activity is shown."))

        // 4. Weights
        section
            sectionTitles[3]
            (match inputs.Model with
             | Some model -> figure (Charts.weights model inputs.Regions)
             | None -> missing "No network was given.")

        // 5. Dimensionality (fits a PCA on the states when none is given)
        let fixedPoints = inputs.FixedPoints |> Option.filter (fun f -> not (isNull f) && f.Length > 0)
        let pca, pcaNote =
            match inputs.Pca, states with
            | Some p, _ -> Some p, ""
            | None, Some s ->
                try
                    Some(Pca.fitAll (Array.concat s)), "The PCA was fitted here on all given hidden states (every trial and time step)."
                with InvalidArgument (_, problem) -> None, "No PCA could be fitted on the hidden states: " + problem
            | None, None -> None, ""
        section
            sectionTitles[4]
            ((if pcaNote = "" then "" else note pcaNote)
             + (match pca with
                | Some p -> figure (Charts.dimensionality p inputs.VarianceThreshold)
                | None -> missing "No PCA or hidden states were given."))

        let conditions = Array.ofList inputs.Conditions
        let conditionText (p: FixedPoint) =
            match Conditions.indexOf conditions p with
            | Some i -> conditions[i].Name + ": "
            | None -> ""

        // 6. Fixed points
        let fixedPointSection =
            match fixedPoints with
            | None ->
                missing "No fixed points were given."
                + (match pca, states with
                   | Some p, Some s ->
                       "<h3>State space</h3>\n" + figure (Charts.stateSpace p (Array.truncate 40 s) [||])
                   | _ -> "")
            | Some fps ->
                let sb = StringBuilder()
                let counts =
                    fps
                    |> Array.countBy (fun p -> min 3 (max 0 p.UnstableModes))
                    |> Array.sortBy fst
                    |> Array.map (fun (m, c) -> sprintf "%d with %s" c (Charts.unstableModeLabel m))
                sb.Append(note (sprintf "%d fixed points: %s." fps.Length (String.Join("; ", counts)))) |> ignore
                let shown = fps |> Array.sortBy (fun p -> p.Id) |> Array.truncate 300
                let rows =
                    shown
                    |> Array.map (fun p ->
                        let lead =
                            if isNull p.Eigenvalues || p.Eigenvalues.Length = 0 then "-"
                            else invariant (p.Eigenvalues |> Array.map (fun l -> l.Magnitude) |> Array.max)
                        [ string p.Id
                          // Points of one file can hold under different constant inputs.
                          encode (conditionText p + "(" + String.Join(", ", (if isNull p.Input then [||] else p.Input) |> Array.map invariant) + ")")
                          kindText p.Kind
                          sprintf "<span class=\"swatch\" style=\"background:%s\"></span>%d" (Charts.unstableModeColorName p.UnstableModes) p.UnstableModes
                          scientific p.Q
                          lead ])
                    |> List.ofArray
                sb.Append(table [ "id"; "input"; "kind"; "unstable modes"; "q"; "leading |λ1|" ] rows) |> ignore
                if shown.Length < fps.Length then sb.Append(note (sprintf "The table shows the first %d of %d fixed points." shown.Length fps.Length)) |> ignore
                let statePca, fittedOnPoints =
                    match pca with
                    | Some p when p.Mean.Length = fps[0].State.Length -> Some p, false
                    | _ when fps.Length >= 2 ->
                        (try Some(Pca.fitAll (fps |> Array.map (fun p -> p.State))) with InvalidArgument _ -> None), true
                    | _ -> None, false
                match statePca with
                | Some p ->
                    sb.Append("<h3>State space</h3>\n") |> ignore
                    if fittedOnPoints then sb.Append(note "No PCA of the hidden states was given: the PCA here is fitted on the fixed points' states.") |> ignore
                    let trajectories =
                        if fittedOnPoints then [||]
                        else states |> Option.map (Array.truncate 40) |> Option.defaultValue [||]
                    if conditions.Length > 1 then
                        // One figure per condition: a point is a fixed point of its own input's map only.
                        for c in Conditions.group conditions fps [||] do
                            sb.Append(sprintf "<h3>Condition %s</h3>\n" (encode c.Condition.Name)) |> ignore
                            sb.Append(note (sprintf "%d fixed points under %s." c.FixedPoints.Length (Conditions.inputName c.Condition.Input))) |> ignore
                            if c.FixedPoints.Length > 0 then sb.Append(figure (Charts.stateSpace p trajectories c.FixedPoints)) |> ignore
                    else sb.Append(figure (Charts.stateSpace p trajectories fps)) |> ignore
                | None -> sb.Append(missing "No PCA to place the fixed points in state space.") |> ignore
                sb.Append("<h3>Eigenvalues</h3>\n").Append(figure (Charts.eigenvalueModuli fps)) |> ignore
                let representatives =
                    fps
                    |> Array.filter (fun p -> not (isNull p.Eigenvalues) && p.Eigenvalues.Length > 0)
                    |> Array.groupBy (fun p -> min 3 (max 0 p.UnstableModes))
                    |> Array.sortBy fst
                    |> Array.map (fun (_, members) -> members |> Array.minBy (fun p -> p.Id))
                if representatives.Length > 0 then
                    sb.Append(note "One fixed point per number of unstable modes (the lowest id), in the complex plane:") |> ignore
                    for p in representatives do
                        sb.Append(figure (Charts.eigenvalues p)) |> ignore
                sb.ToString()
        section sectionTitles[5] fixedPointSection

        // 7. Slow points
        let slowSection =
            match inputs.SlowPoints with
            | None -> missing "No slow points were given."
            | Some result ->
                let sb = StringBuilder()
                let groupName (g: SlowPointGroup) =
                    match conditions |> Array.tryFind (fun c -> c.Input.Length = g.Input.Length && Array.forall2 (fun (a: float) b -> abs (a - b) <= 1e-9) c.Input g.Input) with
                    | Some c -> c.Name
                    | None -> Conditions.inputName g.Input
                let statePca =
                    match pca with
                    | Some p when result.Points.Length > 0 && p.Mean.Length = result.Points[0].State.Length && p.Components.Length >= 2 -> Some p
                    | _ -> None
                sb.Append(note "Slow points are minima of q = 0.5 ||F(x, u) - x||^2 that need not be zero: where the dynamics are slow. The states descend q from the initial states (steepest descent, which settles them onto a slow manifold without running along it); per constant input, the q threshold is chosen from the distribution of q: the widest gap in log q, else the knee where its upper tail begins.") |> ignore
                let rows =
                    result.Groups
                    |> Array.map (fun g ->
                        let m = Conditions.manifold g.Points
                        let nearOne = m.NearOne |> Array.map (fun l -> l.Magnitude) |> Array.filter Double.IsFinite |> Array.sort
                        let median (a: float[]) = if a.Length = 0 then "-" else invariant a[a.Length / 2]
                        let sectors = match statePca with Some p when g.Points.Length > 0 -> sprintf "%d of 12" (SlowPoints.sectorsCovered 12 p g.Points) | _ -> "-"
                        [ encode (groupName g)
                          string g.Points.Length
                          sprintf "%s (%s)" (scientific g.Threshold.Threshold) (if g.Threshold.Rule = "gap" then sprintf "gap of %.1f decades" g.Threshold.GapDecades else g.Threshold.Rule)
                          sprintf "%d / %d" g.Threshold.Below g.Threshold.Above
                          (if m.VarianceRatios.Length > 0 then String.Join(", ", m.VarianceRatios |> Array.map (fun r -> sprintf "%.1f%%" (100.0 * r))) else "-")
                          median nearOne
                          median (m.OtherModulus |> Array.filter Double.IsFinite |> Array.sort)
                          sectors ])
                    |> List.ofArray
                sb.Append(table [ "condition"; "slow points"; "q threshold (rule)"; "states below / above"; "variance along their PC1, PC2, PC3"; "median |λ| closest to 1"; "median largest other |λ|"; "PC1-PC2 sectors holding one (trials' PCA)" ] rows) |> ignore
                match statePca with
                | Some p ->
                    let trajectories = states |> Option.map (Array.truncate 40) |> Option.defaultValue [||]
                    let fps = defaultArg fixedPoints [||]
                    if result.Groups.Length > 1 then
                        for g in result.Groups do
                            let name = groupName g
                            sb.Append(sprintf "<h3>Condition %s</h3>\n" (encode name)) |> ignore
                            let own = fps |> Array.filter (fun f -> not (isNull f.Input) && f.Input.Length = g.Input.Length && Array.forall2 (fun (a: float) b -> abs (a - b) <= 1e-9) f.Input g.Input)
                            sb.Append(figure (SlowPointCharts.manifold p trajectories [| name, g.Points |] own)) |> ignore
                    else
                        sb.Append(figure (SlowPointCharts.manifold p trajectories (result.Groups |> Array.map (fun g -> groupName g, g.Points)) fps)) |> ignore
                | None -> sb.Append(missing "No PCA of the hidden states with two components or more: the slow points are not drawn.") |> ignore
                sb.Append(figure (SlowPointCharts.qDistribution (result.Groups |> Array.map (fun g -> groupName g, g)))) |> ignore
                sb.ToString()
        section sectionTitles[6] slowSection

        // 8. Topology
        section
            sectionTitles[7]
            (match inputs.Topology with
             | Some t ->
                 let c = t.Config
                 let summary =
                     pairs
                         "Settings and counts"
                         [ "fixed points / edges", sprintf "%d / %d" t.Vertices.Length t.Edges.Length
                           "runs per point (noise)", sprintf "%d, noise %s" c.RunsPerPoint (invariant c.Noise)
                           "unstable-mode step", invariant c.UnstableStep
                           "arrival distance / max steps", sprintf "%s / %d" (invariant c.ArrivalDistance) c.MaxSteps
                           "runs that reached no fixed point", string t.Unreached ]
                 let topologyPca =
                     match pca, fixedPoints with
                     | Some p, Some fps when fps.Length > 0 && p.Mean.Length = fps[0].State.Length -> Some p
                     | _ -> None
                 let points = defaultArg fixedPoints [||]
                 // In PC1-PC2 saddles can sit over attractors: the layered view keeps every node apart.
                 let layered =
                     match topologyPca with
                     | Some _ -> figure (Charts.topologyWith TopologyLayout.Layered t topologyPca points)
                     | None -> ""
                 summary + figure (Charts.topology t topologyPca points) + layered
             | None -> missing "No topology was given.")

        // 8. Continuation (only when given)
        match inputs.Continuation with
        | Some (r, parameterName) ->
            let rows =
                r.Events
                |> Array.map (fun e ->
                    [ Continuation.kindName e.Kind
                      string e.Branch
                      invariant e.Parameter
                      encode (sprintf "%s%+.4gi" (invariant e.Eigenvalue.Real) e.Eigenvalue.Imaginary)
                      string e.Crossing ])
                |> List.ofArray
            let body =
                note (sprintf "%d branches from %d fixed points at %s = %s, traced to %s; %d bifurcations located." r.Branches.Length r.StartPoints parameterName (invariant r.Start) (invariant r.End) r.Events.Length)
                + (if rows.IsEmpty then "" else table [ "bifurcation"; "branch"; parameterName; "eigenvalue"; "crossing" ] rows)
                + (if inputs.PeriodTwo.Length = 0 then ""
                   else
                       note (String.Join(" ", inputs.PeriodTwo |> Array.map (fun b ->
                           sprintf "A period-2 orbit is born at the flip at %s = %s and traced over %d points to %s (stable at %d of them)." parameterName (invariant b.FlipParameter) b.Parameter.Length (invariant (Array.last b.Parameter)) (b.Stable |> Array.filter id |> Array.length)))))
                + figure (DynamicsCharts.bifurcationDiagramWith inputs.PeriodTwo r [||] parameterName)
                + figure (DynamicsCharts.eigenvaluesAlongBranches r 4 parameterName)
            section optionalSectionTitles[0] body
        | None -> ()

        // 9. Lyapunov spectra (only when given)
        match inputs.Lyapunov with
        | Some spectra when spectra.Length > 0 ->
            let rows =
                spectra
                |> Array.truncate 50
                |> Array.map (fun (label, s) ->
                    [ encode label
                      string s.Steps
                      invariant s.Exponents[0]
                      invariant (Array.sum s.Exponents)
                      invariant s.KaplanYorke ])
                |> List.ofArray
            let body =
                note "Exponents per step (natural log), by QR re-orthonormalisation along each trajectory; the largest above 0 means nearby trajectories separate (chaos), all below 0 a contracting flow."
                + table [ "condition"; "steps"; "largest"; "sum"; "Kaplan-Yorke" ] rows
                + figure (DynamicsCharts.lyapunovSpectra (spectra |> Array.map fst) (spectra |> Array.map snd))
            section optionalSectionTitles[1] body
        | _ -> ()

        // 10. Selection vectors (only when given)
        match inputs.Selections with
        | Some entries ->
            let complexText (c: Numerics.Complex) = if c.Imaginary = 0.0 then invariant c.Real else sprintf "%s%+.4gi" (invariant c.Real) c.Imaginary
            let rows =
                [ for id, modes in entries do
                      for m in modes do
                          yield
                              [ string id
                                string m.Mode
                                encode (complexText m.Eigenvalue)
                                encode (String.Join("; ", m.Inputs |> Array.mapi (fun j i -> sprintf "%d: %s" (j + 1) (complexText i.Integrated))))
                                encode (String.Join("; ", m.Inputs |> Array.mapi (fun j i -> sprintf "%d: (%s)" (j + 1) (String.Join(", ", i.EndState |> Array.truncate 4 |> Array.map invariant)) + (if i.EndState.Length > 4 then ", ..." else "")))) ] ]
            let total = rows.Length
            let body =
                note (sprintf "%d slow modes at %d of %d points. The left eigenvector l of a slow mode is its selection vector (Mante et al. 2013): input u moves the mode by l' B u, and the state ends near x* + r (l' B u) once the faster modes relax." total (entries |> Array.filter (fun (_, m) -> m.Length > 0) |> Array.length) entries.Length)
                + (if total = 0 then "" else table [ "point"; "mode"; "eigenvalue"; "l' B u per input"; "predicted end state per input" ] (List.truncate 50 rows))
                + (if total > 50 then note (sprintf "The table shows the first 50 of %d slow modes." total) else "")
                + figure (LinearCharts.selectionVectors entries 24)
            section optionalSectionTitles[2] body
        | None -> ()

        // 11. Certificates (only when given)
        match inputs.Certificates with
        | Some entries ->
            let certified = entries |> Array.filter (fun (_, c) -> match c with Certificate.Certified _ -> true | _ -> false) |> Array.length
            let rows =
                entries
                |> Array.truncate 50
                |> Array.map (fun (id, c) ->
                    match c with
                    | Certificate.Certified (r, e) -> [ string id; "certified"; invariant r; scientific e; "" ]
                    | Certificate.NotCertified why -> [ string id; "not certified"; "-"; "-"; encode why ])
                |> List.ofArray
            let body =
                note (sprintf "%d of %d points certified by Krawczyk's interval Newton test in float64 with outward rounding: exactly one fixed point lies within the radius (max-norm) of each certified state, and within the error bound of it." certified entries.Length)
                + table [ "point"; "certificate"; "radius"; "error bound"; "why not" ] rows
                + (if entries.Length > 50 then note (sprintf "The table shows the first 50 of %d points." entries.Length) else "")
                + figure (LinearCharts.certificates entries)
            section optionalSectionTitles[3] body
        | None -> ()

        // 12. Perturbation checks (only when given)
        match inputs.Perturbation with
        | Some results ->
            let pushes = results |> Array.collect (fun r -> r.Pushes)
            let steps = pushes |> Array.collect (fun p -> p.Steps) |> Array.distinct |> Array.sort
            let median (a: float[]) = if a.Length = 0 then "-" else (let sorted = Array.sort a in invariant sorted[a.Length / 2])
            let rows =
                [ for k in steps ->
                      let at = pushes |> Array.choose (fun p -> Array.tryFindIndex ((=) k) p.Steps |> Option.map (fun i -> p.Validity[i]))
                      [ string k; string at.Length; median at; (if at.Length = 0 then "-" else invariant (Array.min at)) ] ]
            let body =
                note (sprintf "%d pushes from %d fixed points: the state is pushed by epsilon along right and left eigenvectors and unstable directions, the network runs k steps, and its displacement is scored against the linearisation's J^k delta (validity 1: exact; 0: an error as large as the prediction)." pushes.Length results.Length)
                + table [ "k"; "pushes"; "median validity"; "lowest validity" ] rows
                + figure (LinearCharts.perturbationChecks results)
            section optionalSectionTitles[4] body
        | None -> ()

        let sb = StringBuilder(4_000_000)
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n") |> ignore
        sb.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n") |> ignore
        sb.Append("<title>").Append(encode inputs.Title).Append("</title>\n") |> ignore
        sb.Append("<style>").Append(css).Append("</style>\n") |> ignore
        // plotly.js, once, inline.
        sb.Append("<script>\n").Append(plotlyJs().Replace("</script", "<\\/script")).Append("\n</script>\n</head>\n<body>\n<main>\n") |> ignore
        sb.Append("<h1>").Append(encode inputs.Title).Append("</h1>\n") |> ignore
        sb.Append("<p class=\"stamp\">Written by RnnFun on ").Append(DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)).Append(". Figures are interactive: hover for values, drag to zoom, double-click to reset.</p>\n") |> ignore
        sb.Append("<nav>") |> ignore
        sections |> Seq.iteri (fun i (title, _) -> sb.Append(sprintf "<a href=\"#section-%d\">%s</a>" (i + 1) (encode title)) |> ignore)
        sb.Append("</nav>\n") |> ignore
        sections
        |> Seq.iteri (fun i (title, body) ->
            sb.Append(sprintf "<section id=\"section-%d\">\n<h2>%s</h2>\n" (i + 1) (encode title)).Append(body).Append("</section>\n") |> ignore)
        sb.Append("</main>\n</body>\n</html>\n").ToString()

    /// Writes `html inputs` to a file atomically (a temporary file beside it, then renamed over it).
    let save (path: string) (inputs: ReportInputs) =
        let text = html inputs
        FileFormat.writeAtomically path (fun stream ->
            let bytes = UTF8Encoding(false).GetBytes(text)
            stream.Write(bytes, 0, bytes.Length))
