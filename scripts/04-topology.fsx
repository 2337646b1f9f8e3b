#!/usr/bin/env -S dotnet fsi
// 04 - Topology of the fixed points of W_rec = 2I (3 units): which fixed points the flow leads to
// from each fixed point. A saddle with one unstable mode (one zero coordinate) sends its two
// unstable-mode runs to the two attractors that differ in that coordinate.
//
//     dotnet fsi scripts/04-topology.fsx              (RNNFUN_QUICK=1 for a smaller run)
//
// Outputs: output/04-topology.json, output/04-topology.dot (render: dot -Tsvg), output/04-topology-report.html

#load "_references.fsx"

open System
open System.IO
open RnnFun
open RnnFun.Plotting
open RnnFun.Scripts

// ---- Hyper-parameters ----
let seed = 0
let units = 3
let gain = 2.0
let initialStateCount = if Script.quick then 512 else 1024
let runsPerPoint = if Script.quick then 8 else 64 // noise runs per fixed point
let noise = 0.1 // std of the noise runs' start around each point

let methodText (m: RunMethod) = match m with RunMethod.Noise -> "noise" | RunMethod.UnstableMode -> "unstable"
let signsText (state: float[]) = String.Join("", state |> Array.map (fun c -> if abs c < 1e-6 then '0' elif c > 0.0 then '+' else '-'))

let main () =
    use net = Network.scaledIdentity Kinds.rnn units gain // W_rec = gain I, W_out = I, W_in = 0, no biases (float64)
    let input = [| 0.0 |]
    let found = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same input) (InitialStates.uniformBox initialStateCount -1.5 1.5 units seed)
    let points = found.FixedPoints
    let byId = points |> Array.map (fun p -> p.Id, p) |> Map.ofArray
    printfn "%d fixed points" points.Length

    let config = { TopologyConfig.defaults with RunsPerPoint = runsPerPoint; Noise = noise; Seed = seed }
    let topology = Topology.build config net input points
    let runs = topology.Vertices |> Array.sumBy (fun v -> v.Runs.Noise + v.Runs.Unstable)
    printfn "topology: %d vertices, %d edges from %d runs (%d unreached)" topology.Vertices.Length topology.Edges.Length runs topology.Unreached

    // The edges of one saddle with one unstable mode.
    let saddle = points |> Array.find (fun p -> p.UnstableModes = 1)
    printfn ""
    printfn "edges from saddle %d (%s, %d unstable mode):" saddle.Id (signsText saddle.State) saddle.UnstableModes
    printfn "  %-4s %-6s %-10s %-9s %6s %12s" "to" "signs" "kind" "method" "count" "probability"
    for e in topology.Edges |> Array.filter (fun e -> e.From = saddle.Id) do
        let target = byId[e.To]
        printfn "  %-4d %-6s %-10s %-9s %6d %12.3f" e.To (signsText target.State) (FixedPointFile.kindName target.Kind) (methodText e.Method) e.Count e.Probability

    // The same graph with QuikGraph, for graph algorithms: out-degree of the centre.
    let graph = Topology.toGraph topology
    let centre = points |> Array.find (fun p -> p.UnstableModes = 3)
    printfn ""
    printfn "QuikGraph: %d vertices, %d edges; the centre (id %d) has %d outgoing edges" graph.VertexCount graph.EdgeCount centre.Id (graph.OutDegree centre.Id)

    TopologyFile.save (Script.output "04-topology.json") topology
    File.WriteAllText(Script.output "04-topology.dot", Topology.toDot topology)
    Report.save
        (Script.output "04-topology-report.html")
        { ReportInputs.empty with
            Title = "RnnFun: topology of W = 2I"
            Model = Some(ModelSummary.ofNetwork net)
            FixedPoints = Some points
            Topology = Some topology }

    // Check: every one-unstable-mode saddle's unstable runs reach exactly two attractors, all of them
    // arriving, and those two differ from the saddle only in its zero coordinate.
    let oneModeSaddles = points |> Array.filter (fun p -> p.UnstableModes = 1)
    let reachesTwoAttractors (p: FixedPoint) =
        let targets =
            topology.Edges
            |> Array.filter (fun e -> e.From = p.Id && e.Method = RunMethod.UnstableMode)
            |> Array.map (fun e -> byId[e.To])
        let vertex = topology.Vertices |> Array.find (fun v -> v.Id = p.Id)
        let zero = p.State |> Array.findIndex (fun c -> abs c < 1e-6)
        let differsOnlyAtZero (q: FixedPoint) =
            Array.forall2 (fun a b -> abs (a - b) < 1e-6) (Array.removeAt zero p.State) (Array.removeAt zero q.State)
        vertex.Unreached.Unstable = 0
        && targets.Length = 2
        && targets |> Array.forall (fun q -> q.Kind = FixedPointKind.Attractor && differsOnlyAtZero q)
        && (targets |> Array.map (fun q -> sign q.State[zero]) |> Array.sort) = [| -1; 1 |]
    printfn ""
    printfn "summary (%s mode, %.1f s)" Script.mode (Script.elapsed ())
    printfn "  %d edges; wrote %s, %s and %s" topology.Edges.Length (Script.output "04-topology.json") (Script.output "04-topology.dot") (Script.output "04-topology-report.html")
    Script.check (points.Length = 27) (sprintf "27 fixed points (found %d)" points.Length)
    Script.check (oneModeSaddles.Length = 12) (sprintf "12 saddles with one unstable mode (found %d)" oneModeSaddles.Length)
    Script.check (oneModeSaddles |> Array.forall reachesTwoAttractors) "every one-mode saddle's unstable runs reach the two attractors on either side"

main ()
Script.finish ()
