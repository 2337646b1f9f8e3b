/// rnnfun compare: distances between models (geometry, dynamics, topology) on the same trials.
module RnnFun.Cli.CompareCommand

open System
open Argu
open RnnFun
open RnnFun.Cli.Args
open RnnFun.Cli.Common

/// The inputs every model runs on: [trials][time][inputs].
let private inputsOf (args: ParseResults<CompareArgs>) (inputSize: int) : float[][][] =
    let trials, time, width, values =
        match args.TryGetResult CompareArgs.Data, args.TryGetResult CompareArgs.Task with
        | Some _, Some _ -> raise (UserError "--data, --task: give one of them")
        | Some file, None ->
            let data = TrialFile.load file
            data.Trials, data.Time, data.InputSize, data.Inputs
        | None, task ->
            let name = defaultArg task "flipflop"
            let count = args.GetResult(CompareArgs.Trials, defaultValue = 32)
            if count < 1 then raise (UserError "--trials: expected a positive integer")
            let seed = args.GetResult(CompareArgs.Seed, defaultValue = 0)
            let preset =
                try Presets.byName name seed
                with InvalidArgument (_, problem) -> raise (UserError("--task: " + problem))
            let b = preset.Task.Generate count seed
            b.Trials, b.Time, b.InputSize, b.Inputs
    if width <> inputSize then
        raise (UserError(sprintf "the trials have %d inputs per step but the models have %d" width inputSize))
    Array.init trials (fun i -> Array.init time (fun t -> Array.init width (fun j -> float values[(i * time + t) * width + j])))

/// Runs `rnnfun compare`; returns the exit code (a user's mistake raises `UserError`).
let run (args: ParseResults<CompareArgs>) =
    let paths = args.GetResults CompareArgs.Model
    if paths.Length < 2 then raise (UserError "--model: give at least two models to compare")
    let out = args.GetResult CompareArgs.Out
    checkOutputFile "--out" out
    let config =
        { DynamicsConfig.defaults with
            Delays = args.GetResult(Delays, defaultValue = DynamicsConfig.defaults.Delays)
            Rank = args.GetResult(Rank, defaultValue = DynamicsConfig.defaults.Rank)
            Seed = args.GetResult(CompareArgs.Seed, defaultValue = 0) }
    if config.Delays < 1 then raise (UserError "--delays: expected a positive integer")
    if config.Rank < 1 then raise (UserError "--rank: expected a positive integer")
    let stopwatch = Diagnostics.Stopwatch.StartNew()
    let nets = paths |> List.map ModelFile.load
    try
        let inputSize = nets.Head.Sizes.Inputs
        nets |> List.iteri (fun i n ->
            if n.Sizes.Inputs <> inputSize then
                raise (UserError(sprintf "--model: %s has %d inputs but %s has %d: models compared on the same trials need the same inputs" paths[i] n.Sizes.Inputs paths.Head inputSize)))
        let x = inputsOf args inputSize
        if x.Length = 0 || x[0].Length < config.Delays + 1 then
            raise (UserError(sprintf "the trials need at least %d steps (--delays + 1)" (config.Delays + 1)))
        let trajectories = nets |> List.map (fun n -> Similarity.trajectoriesOf n x) |> Array.ofList
        let topologies =
            if not (args.Contains With_Topology) then None
            else
                let seed = config.Seed
                let count = args.GetResult(CompareArgs.N_Init, defaultValue = 1024)
                if count < 1 then raise (UserError "--n-init: expected a positive integer")
                Some(
                    nets
                    |> List.mapi (fun i n ->
                        let states = trajectories[i] |> Array.concat
                        let initial = InitialStates.fromStates count 0.5 seed states
                        let zero = Array.zeroCreate n.Sizes.Inputs
                        let found = FixedPoints.find FixedPointConfig.defaults n (ConstantInput.Same zero) initial
                        Topology.build { TopologyConfig.defaults with Seed = seed } n zero found.FixedPoints)
                    |> Array.ofList)
        let names = paths |> List.map IO.Path.GetFileName |> Array.ofList
        let comparison =
            try Similarity.compare config names trajectories topologies
            with InvalidArgument (argument, problem) -> raise (UserError(sprintf "--%s: %s" (argument.Replace('_', '-')) problem))
        ComparisonFile.save out comparison
        printfn "compared %d models on %d trials of %d steps in %.2fs; wrote %s" names.Length x.Length x[0].Length stopwatch.Elapsed.TotalSeconds (IO.Path.GetFullPath out)
        let width = names |> Array.map String.length |> Array.max |> max 6
        let table (title: string) (m: float[][]) =
            printfn "%s" title
            printfn "  %-*s %s" width "" (String.Join(" ", names |> Array.map (fun n -> sprintf "%10s" (if n.Length > 10 then n.Substring(0, 10) else n))))
            for i in 0 .. names.Length - 1 do
                printfn "  %-*s %s" width names[i] (String.Join(" ", m[i] |> Array.map (sprintf "%10.4f")))
        table "SVCCA distance" comparison.Svcca
        table "Procrustes shape distance (rad)" comparison.Procrustes
        table "dynamical distance (rad)" comparison.Dynamics
        if comparison.Topology.Length > 0 then
            table "topology distance" comparison.Topology
            let pairs = [ for i in 0 .. names.Length - 1 do for j in i + 1 .. names.Length - 1 do if comparison.Isomorphic[i][j] then yield sprintf "%s ~ %s" names[i] names[j] ]
            printfn "isomorphic topologies: %s" (if pairs.IsEmpty then "none" else String.Join(", ", pairs))
        0
    finally
        for n in nets do (n :> IDisposable).Dispose()
