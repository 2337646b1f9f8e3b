/// rnnfun perturb: check each fixed point's linearisation against the network.
module RnnFun.Cli.PerturbCommand

open System
open Argu
open RnnFun
open RnnFun.Cli.Args
open RnnFun.Cli.Common

/// Runs `rnnfun perturb`; returns the exit code (a user's mistake raises `UserError`).
let run (args: ParseResults<PerturbArgs>) =
    let out = args.GetResult PerturbArgs.Out
    checkOutputFile "--out" out
    use loadedNet = ModelFile.load (args.GetResult PerturbArgs.Model)
    use net =
        match args.TryGetResult PerturbArgs.Lesion with
        | Some units -> lesionOf "--lesion" loadedNet units
        | None -> Network.withValues loadedNet Map.empty
    let epsilon = args.GetResult(PerturbArgs.Epsilon, defaultValue = PerturbationConfig.defaults.Epsilon)
    if not (epsilon > 0.0 && Double.IsFinite epsilon) then raise (UserError "--epsilon: expected a number > 0")
    let steps =
        match args.TryGetResult PerturbArgs.Steps with
        | Some text ->
            let values = parseNumbers "--steps" text
            if values.Length = 0 || values |> Array.exists (fun v -> v < 1.0 || v <> Math.Floor v) then raise (UserError "--steps: expected whole numbers >= 1, e.g. 1,2,5")
            values |> Array.map int
        | None -> PerturbationConfig.defaults.Steps
    let modes = args.GetResult(PerturbArgs.Modes, defaultValue = PerturbationConfig.defaults.Modes)
    if modes < 0 then raise (UserError "--modes: expected a number >= 0")
    let fpPath = args.GetResult PerturbArgs.Fixed_Points
    let loaded = FixedPointFile.load fpPath
    let loaded = recheckPoints fpPath (args.Contains PerturbArgs.Allow_Foreign_Points) net loaded
    let points = FixedPoints.analyse FixedPointConfig.defaults.EigenTolerance net loaded
    let config = { Epsilon = epsilon; Steps = steps; Modes = modes }
    let results = points |> Array.map (Perturbation.check config net)
    PerturbationFile.save out results
    let pushes = results |> Array.collect (fun r -> r.Pushes)
    let first = pushes |> Array.map (fun p -> p.Validity[0])
    printfn "%d pushes from %d fixed points; validity after %d step(s): median %.3f, lowest %.3f" pushes.Length points.Length steps[0]
        (if first.Length = 0 then nan else (Array.sort first)[first.Length / 2]) (if first.Length = 0 then nan else Array.min first)
    if not (args.Contains PerturbArgs.Quiet) then
        printfn "  %-4s %-5s %-10s %s" "id" "mode" "direction" (String.Join(" ", steps |> Array.map (sprintf "k=%-6d")))
        for r in results do
            for p in r.Pushes do
                let name = match p.Direction with PushDirection.Right -> "right" | PushDirection.Left -> "left" | PushDirection.Unstable s -> if s > 0.0 then "unstable+" else "unstable-"
                printfn "  %-4d %-5d %-10s %s" r.PointId p.Mode name (String.Join(" ", p.Validity |> Array.map (sprintf "%-8.4f")))
    printfn "wrote %s" (IO.Path.GetFullPath out)
    0
