/// rnnfun topology: the graph of where the flow goes between fixed points.
module RnnFun.Cli.TopologyCommand

open System
open Argu
open RnnFun
open RnnFun.Cli.Args
open RnnFun.Cli.Common

/// Runs `rnnfun topology`; returns the exit code (a user's mistake raises `UserError`).
let run (args: ParseResults<TopologyArgs>) =
    use net = ModelFile.load (args.GetResult TopologyArgs.Model)
    let out = args.GetResult TopologyArgs.Out
    checkOutputFile "--out" out
    args.TryGetResult Dot |> Option.iter (checkOutputFile "--dot")
    let fpPath = args.GetResult TopologyArgs.Fixed_Points
    let loaded = FixedPointFile.load fpPath
    if loaded.Length = 0 then raise (UserError(sprintf "--fixed-points: %s holds no fixed points" fpPath))
    if loaded[0].State.Length <> (Network.stateSize net) || loaded[0].Input.Length <> net.Sizes.Inputs then
        raise (UserError(sprintf "--fixed-points: %s has states of %d units and inputs of %d, but the model has %d units and %d inputs" fpPath loaded[0].State.Length loaded[0].Input.Length (Network.stateSize net) net.Sizes.Inputs))
    // --inputs steps every run under one input; otherwise each point runs under its own.
    let input =
        args.TryGetResult TopologyArgs.Inputs
        |> Option.map (fun text ->
            let values = parseNumbers "--inputs" text
            if values.Length <> net.Sizes.Inputs then raise (UserError(sprintf "--inputs: the model has %d inputs, got %d values" net.Sizes.Inputs values.Length))
            values)
    let loaded = recheckPoints fpPath (args.Contains TopologyArgs.Allow_Foreign_Points) net loaded
    // The file stores no Jacobians: linearise again with the model.
    let points = FixedPoints.analyse FixedPointConfig.defaults.EigenTolerance net loaded
    let config =
        { TopologyConfig.defaults with
            RunsPerPoint = args.GetResult(Runs_Per_Point, defaultValue = TopologyConfig.defaults.RunsPerPoint)
            Noise = args.GetResult(TopologyArgs.Noise, defaultValue = TopologyConfig.defaults.Noise)
            MaxSteps = args.GetResult(Max_Steps, defaultValue = TopologyConfig.defaults.MaxSteps)
            Seed = args.GetResult(TopologyArgs.Seed, defaultValue = 0) }
    let stopwatch = Diagnostics.Stopwatch.StartNew()
    let t =
        try
            match input with
            | Some u -> Topology.build config net u points
            | None -> Topology.buildUnderOwnInputs config net points
        with InvalidArgument (argument, problem) -> raise (UserError(sprintf "--%s: %s" (argument.Replace('_', '-')) problem))
    TopologyFile.save out t
    args.TryGetResult Dot |> Option.iter (fun path -> FileFormat.writeAtomically path (fun s -> use w = new IO.StreamWriter(s, Text.UTF8Encoding(false), 4096, true) in w.Write(Topology.toDot t)))
    let runs = t.Vertices |> Array.sumBy (fun v -> v.Runs.Noise + v.Runs.Unstable)
    printfn "%d vertices, %d edges from %d runs (%d unreached) in %.2fs; wrote %s" t.Vertices.Length t.Edges.Length runs t.Unreached stopwatch.Elapsed.TotalSeconds (IO.Path.GetFullPath out)
    if not (args.Contains TopologyArgs.Quiet) then
        printfn "  %-5s %-5s %-8s %6s %12s" "from" "to" "method" "count" "probability"
        for e in t.Edges do
            printfn "  %-5d %-5d %-8s %6d %12.3f" e.From e.To (match e.Method with RunMethod.Noise -> "noise" | RunMethod.UnstableMode -> "unstable") e.Count e.Probability
    0
