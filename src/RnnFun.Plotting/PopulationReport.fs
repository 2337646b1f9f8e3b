namespace RnnFun.Plotting

open System
open System.Globalization
open System.Net
open System.Text
open Plotly.NET
open Plotly.NET.LayoutObjects
open Plotly.NET.TraceObjects
open RnnFun

/// The population report of a sweep (`Sweep.gather`'s summary): one offline HTML file with the
/// headline numbers, the members' table, the distance matrices, MDS embeddings coloured by kind and
/// by each varied setting, and every network's fixed-point topology side by side.
[<RequireQualifiedAccess>]
module PopulationReport =
    /// The section titles, in order.
    let sectionTitles = [ "Summary"; "Members"; "Distance matrices"; "MDS embeddings"; "Topology of each network" ]

    let private encode (s: string) = WebUtility.HtmlEncode(if isNull s then "" else s)

    let private number (v: float) = if Double.IsFinite v then v.ToString("0.000", CultureInfo.InvariantCulture) else "-"

    let private scientific (v: float) = if Double.IsFinite v then v.ToString("0.00e+00", CultureInfo.InvariantCulture) else "-"

    let private metrics (c: Comparison) =
        [ "svcca", "SVCCA distance", c.Svcca
          "procrustes", "Procrustes shape distance (rad)", c.Procrustes
          "dynamics", "dynamical distance (rad)", c.Dynamics
          "topology", "topology distance", c.Topology ]
        |> List.filter (fun (_, _, m) -> m.Length > 0)

    let private palette =
        [| "#4c78a8"; "#f58518"; "#54a24b"; "#e45756"; "#72b7b2"; "#b279a2"; "#ff9da6"; "#9d755d"; "#bab0ac"; "#eeca3b" |]

    let private table (headers: string list) (rows: string list list) =
        let sb = StringBuilder("<table><thead><tr>")
        for h in headers do sb.Append("<th>").Append(encode h).Append("</th>") |> ignore
        sb.Append("</tr></thead><tbody>") |> ignore
        for row in rows do
            sb.Append("<tr>") |> ignore
            for cell in row do sb.Append("<td>").Append(encode cell).Append("</td>") |> ignore
            sb.Append("</tr>") |> ignore
        sb.Append("</tbody></table>\n").ToString()

    /// A setting's value of a member ("preset" when it keeps its preset's).
    let private settingOf (m: SweepMember) (key: string) =
        Sweep.settings m |> List.tryFind (fun (k, _) -> k = key) |> Option.map snd |> Option.defaultValue "preset"

    /// The heatmap of one distance matrix.
    let distanceHeatmap (title: string) (names: string[]) (m: float[][]) : GenericChart =
        let top = m |> Array.collect id |> Array.filter Double.IsFinite |> Array.fold max 0.0
        Chart.Heatmap(m, X = names, Y = names, ColorScale = StyleParam.Colorscale.Viridis, ColorBar = ColorBar.init (Title = Title.init (Text = "distance")))
        |> GenericChart.mapTrace (Trace2DStyle.Heatmap(ZMin = 0.0, ZMax = (if top > 0.0 then top else 1.0), HoverTemplate = "%{y} to %{x}: %{z:.4g}<extra></extra>"))
        |> Chart.withYAxis (LinearAxis.init (AutoRange = StyleParam.AutoRange.Reversed))
        |> Chart.withTitle title
        |> Chart.withSize (560, 500)

    /// An MDS embedding [K][2] as points, one colour per group (`groups[i]` of point i).
    let mdsScatter (title: string) (names: string[]) (groups: string[]) (embedding: float[][]) : GenericChart =
        let keys = groups |> Array.distinct
        keys
        |> Array.mapi (fun g key ->
            let members = [| for i in 0 .. names.Length - 1 do if groups[i] = key then yield i |]
            let x = members |> Array.map (fun i -> embedding[i][0])
            let y = members |> Array.map (fun i -> if embedding[i].Length > 1 then embedding[i][1] else 0.0)
            Chart.Point(x, y, Name = key, MultiText = (members |> Array.map (fun i -> names[i])), MarkerColor = Color.fromString palette[g % palette.Length], Marker = Marker.init (Size = 11))
            |> GenericChart.mapTrace (Trace2DStyle.Scatter(HoverTemplate = "%{text}<extra>" + key + "</extra>")))
        |> Chart.combine
        |> Chart.withXAxisStyle (TitleText = "MDS 1")
        |> Chart.withYAxisStyle (TitleText = "MDS 2")
        |> Chart.withTitle title
        |> Chart.withSize (440, 400)

    /// Fixed points by number of unstable modes, one group of columns per network.
    let unstableModeCounts (names: string[]) (records: SweepMemberRecord[]) : GenericChart =
        let most = records |> Array.map (fun r -> r.ByUnstableModes.Length) |> Array.fold max 1
        [ for k in 0 .. most - 1 ->
            let counts = records |> Array.map (fun r -> if k < r.ByUnstableModes.Length then r.ByUnstableModes[k] else 0)
            Chart.Column(counts, Keys = names, Name = Charts.unstableModeLabel k, MarkerColor = Charts.unstableModeColor k) ]
        |> Chart.combine
        |> Chart.withXAxisStyle (TitleText = "network")
        |> Chart.withYAxisStyle (TitleText = "fixed points")
        |> Chart.withTitle "Fixed points by number of unstable modes"
        |> Chart.withSize (1000, 420)

    let private css =
        """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d2733; margin: 0; background: #f4f6f9; }
main { max-width: 1400px; margin: 0 auto; padding: 24px 28px 60px; background: #ffffff; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 21px; margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 2px solid #d5dce6; }
h3 { font-size: 16px; margin: 20px 0 8px; }
nav a { margin-right: 14px; color: #2b5c9e; text-decoration: none; font-size: 14px; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 13px; }
th, td { border: 1px solid #d5dce6; padding: 3px 8px; text-align: left; }
th { background: #eef2f7; }
.row { display: flex; flex-wrap: wrap; gap: 8px; }
.note { color: #46505c; font-size: 14px; }
.stamp { color: #7a8594; font-size: 13px; }
"""

    /// The headline lines of a sweep (also printed by `rnnfun sweep`): the mean distances within a
    /// kind and between kinds, and for the flip-flop each network's attractors and connections.
    let headline (s: SweepSummary) : string list =
        [ match s.Comparison with
          | Some c ->
              let kinds = s.Members |> Array.map (fun r -> r.Member.Kind)
              for _, title, m in metrics c do
                  yield sprintf "%s: mean %s within a kind, %s between kinds" title (number (Sweep.meanByKind kinds m true)) (number (Sweep.meanByKind kinds m false))
          | None -> yield "fewer than two members finished: no comparison"
          let flipFlops = s.Members |> Array.choose (fun r -> r.FlipFlop)
          if flipFlops.Length > 0 then
              yield sprintf "flip-flop: %d of %d networks have the full cube (8 attractors, every one-bit-apart pair joined by a saddle)" (flipFlops |> Array.filter (fun f -> f.Complete) |> Array.length) flipFlops.Length
          for r in s.Members do
              match r.FlipFlop with
              | Some f ->
                  yield sprintf "%s: %d attractors (%d of the 8 memories), %d of %d one-bit-apart pairs joined by a saddle%s" r.Id f.Attractors f.Patterns f.ConnectedPairs f.OneBitPairs (if f.Complete then ": the full cube" else "")
              | None -> ()
          for id, reason in s.Failed do
              yield sprintf "%s: failed: %s" id reason ]

    /// The report as one HTML document (plotly.js inline, no external URL).
    let html (s: SweepSummary) : string =
        let count = ref 0
        let figure (chart: GenericChart) =
            count.Value <- count.Value + 1
            Report.chartFragment (sprintf "rnnfun-population-%d" count.Value) chart
        let row (charts: GenericChart list) = "<div class=\"row\">" + String.Join("", charts |> List.map figure) + "</div>\n"
        let names = s.Members |> Array.map (fun r -> r.Id)
        let sections = ResizeArray<string>()
        // Summary
        let summary = StringBuilder()
        summary.Append(sprintf "<p>%d of %d networks finished. Folder: %s</p>\n" s.Members.Length s.Config.Members.Length (encode s.Directory)) |> ignore
        summary.Append("<ul>") |> ignore
        for line in headline s do summary.Append("<li>").Append(encode line).Append("</li>") |> ignore
        summary.Append("</ul>\n") |> ignore
        if s.Members |> Array.exists (fun r -> r.FlipFlop.IsSome) then
            summary.Append("<p class=\"note\">Flip-flop: an attractor's memory is the sign pattern of the readout there; a pair of attractors one bit apart is joined when a saddle with one unstable mode has unstable-mode runs ending at exactly those two. A network that has learnt the task well has the full cube: 8 attractors and 12 joined pairs.</p>\n") |> ignore
        sections.Add(summary.ToString())
        // Members
        let keys = Sweep.settings s.Config.Members[0] |> List.map fst
        let keys = (keys @ s.Varied) |> List.distinct
        let rows =
            s.Members
            |> Array.map (fun r ->
                [ yield r.Id
                  for k in keys -> settingOf r.Member k
                  yield scientific r.ValidationMse
                  yield r.StopReason
                  yield string r.Epochs
                  yield string r.FixedPoints
                  yield string r.Attractors
                  yield string r.Saddles
                  yield String.Join(" / ", r.ByUnstableModes)
                  yield (match r.FlipFlop with Some f -> sprintf "%d of %d" f.ConnectedPairs f.OneBitPairs | None -> "-") ])
            |> List.ofArray
        sections.Add(
            table ([ "id" ] @ keys @ [ "validation MSE"; "stop"; "epochs"; "fixed points"; "attractors"; "saddles"; "by unstable modes (0 / 1 / ...)"; "one-bit pairs joined" ]) rows
            + (if s.Failed.Length > 0 then table [ "failed member"; "reason" ] (s.Failed |> Array.map (fun (id, r) -> [ id; r ]) |> List.ofArray) else ""))
        match s.Comparison with
        | None ->
            sections.Add("<p class=\"note\">Fewer than two networks finished: nothing to compare.</p>")
            sections.Add("<p class=\"note\">Fewer than two networks finished: nothing to compare.</p>")
        | Some c ->
            sections.Add(row [ for _, title, m in metrics c -> distanceHeatmap title c.Names m ])
            let colourings =
                ("kind", s.Members |> Array.map (fun r -> r.Member.Kind))
                :: (s.Varied |> List.filter (fun k -> k <> "kind") |> List.map (fun k -> k, s.Members |> Array.map (fun r -> k + " " + settingOf r.Member k)))
            let mds = StringBuilder()
            for key, groups in colourings do
                mds.Append(sprintf "<h3>Coloured by %s</h3>\n" (encode key)) |> ignore
                mds.Append(row [ for name, title, _ in metrics c do
                                   match c.Embeddings.TryFind name with
                                   | Some e -> yield mdsScatter title c.Names groups e
                                   | None -> () ]) |> ignore
            sections.Add(mds.ToString())
        // Topology
        let topo = StringBuilder()
        if s.Members.Length > 0 then
            topo.Append(figure (unstableModeCounts names s.Members)) |> ignore
            topo.Append(row [ for i in 0 .. s.Members.Length - 1 ->
                                Charts.topologyWith TopologyLayout.Layered s.Topologies[i] None [||]
                                |> Chart.withTitle names[i]
                                |> Chart.withSize (440, 400) ]) |> ignore
        sections.Add(topo.ToString())
        let sb = StringBuilder(4_000_000)
        let title = sprintf "RnnFun population report: %s" s.Config.Name
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").Append(encode title).Append("</title>\n") |> ignore
        sb.Append("<style>").Append(css).Append("</style>\n") |> ignore
        sb.Append("<script>\n").Append(Report.plotlyJs().Replace("</script", "<\\/script")).Append("\n</script>\n</head>\n<body>\n<main>\n") |> ignore
        sb.Append("<h1>").Append(encode title).Append("</h1>\n") |> ignore
        sb.Append("<p class=\"stamp\">Written by RnnFun on ").Append(DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)).Append(".</p>\n<nav>") |> ignore
        sectionTitles |> List.iteri (fun i t -> sb.Append(sprintf "<a href=\"#section-%d\">%s</a>" (i + 1) (encode t)) |> ignore)
        sb.Append("</nav>\n") |> ignore
        sections |> Seq.iteri (fun i body -> sb.Append(sprintf "<section id=\"section-%d\">\n<h2>%s</h2>\n" (i + 1) (encode sectionTitles[i])).Append(body).Append("</section>\n") |> ignore)
        sb.Append("</main>\n</body>\n</html>\n").ToString()

    /// Writes `html` to a file atomically.
    let save (path: string) (s: SweepSummary) =
        let text = html s
        FileFormat.writeAtomically path (fun stream ->
            let bytes = UTF8Encoding(false).GetBytes(text)
            stream.Write(bytes, 0, bytes.Length))

    /// Sweep hooks that log with `log` and write the population report.
    let hooks (log: string -> unit) : SweepHooks = { Log = log; Report = Some save }
