/// rnnfun sweep: many networks trained and analysed into one folder (here or on Slurm), compared,
/// with a population report.
module RnnFun.Cli.SweepCommand

open System
open System.IO
open Argu
open RnnFun
open RnnFun.Plotting
open RnnFun.Cli.Args
open RnnFun.Cli.Common

type private Marker = class end

/// The command that starts this CLI in a Slurm array task: the running dotnet host (or the one on
/// PATH) and this assembly, both absolute.
let workerCommand () : string list =
    let dll = typeof<Marker>.Assembly.Location
    let host = Environment.ProcessPath
    let dotnet =
        if not (isNull host) && Path.GetFileNameWithoutExtension host = "dotnet" then host
        else
            let candidates =
                [ match Environment.GetEnvironmentVariable "DOTNET_ROOT" with
                  | null | "" -> ()
                  | root -> yield Path.Combine(root, "dotnet")
                  match Environment.GetEnvironmentVariable "PATH" with
                  | null -> ()
                  | path -> for dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries) -> Path.Combine(dir, "dotnet") ]
            candidates |> List.tryFind File.Exists |> Option.defaultValue "dotnet"
    [ dotnet; dll ]

let private configOf (args: ParseResults<SweepArgs>) =
    match args.TryGetResult SweepArgs.Config, args.TryGetResult SweepArgs.Preset with
    | Some _, Some _ -> raise (UserError "--config, --preset: give one of them")
    | None, None -> raise (UserError "--config or --preset: give a sweep config file or a preset's name (flipflop-kinds)")
    | Some path, None ->
        if args.Contains SweepArgs.Quick then raise (UserError "--quick applies to --preset only (a config file sets its own sizes)")
        Sweep.load path
    | None, Some name ->
        try Sweep.presetByName name (args.Contains SweepArgs.Quick)
        with InvalidArgument (_, problem) -> raise (UserError("--preset: " + problem))

let private printSummary (s: SweepSummary) =
    printfn "sweep %s: %d of %d members finished; wrote %s" s.Config.Name s.Members.Length s.Config.Members.Length s.Directory
    for line in PopulationReport.headline s do printfn "  %s" line
    if s.Comparison.IsSome then printfn "comparison: %s" (Path.Combine(s.Directory, "comparison.json"))
    printfn "report: %s" (Path.Combine(s.Directory, "report.html"))

/// Runs `rnnfun sweep`; returns the exit code (1 when a member failed; a user's mistake raises `UserError`).
let run (args: ParseResults<SweepArgs>) =
    let out = args.GetResult SweepArgs.Out
    checkOutputFolder "--out" out
    let config = configOf args
    // The flag turns batching on; a config's "batched": true is not turned off by leaving it out.
    let config = if args.Contains SweepArgs.Batched then { config with Batched = true } else config
    let quiet = args.Contains SweepArgs.Quiet
    let log (line: string) = if not quiet then printfn "%s" line
    let hooks = PopulationReport.hooks log
    let engine = args.GetResult(SweepArgs.Engine, defaultValue = "local")
    let slurmFlags = [ "--partition", args.Contains Partition; "--time", args.Contains SweepArgs.Time; "--mem", args.Contains Mem
                       "--cpus-per-task", args.Contains Cpus_Per_Task; "--sbatch-arg", args.Contains Sbatch_Arg ]
    if engine <> "slurm" then
        for flag, given in slurmFlags do
            if given then raise (UserError(sprintf "%s applies to --engine slurm only" flag))
    let failedExit (s: SweepSummary) = if s.Failed.Length > 0 then 1 else 0
    try
        let only =
            match args.TryGetResult Member_Index, args.TryGetResult SweepArgs.Members with
            | Some _, Some _ -> raise (UserError "--member-index, --members: give one of them")
            | Some index, None -> Some("--member-index", [| index |])
            | None, Some text ->
                let parse (s: string) =
                    match Int32.TryParse(s.Trim(), Globalization.NumberStyles.Integer, Globalization.CultureInfo.InvariantCulture) with
                    | true, i -> i
                    | _ -> raise (UserError(sprintf "--members: expected comma-separated member indices (e.g. 0,3,5), got '%s'" text))
                Some("--members", text.Split(',') |> Array.map parse)
            | None, None -> None
        match only, engine with
        | Some (flag, _), "slurm" -> raise (UserError(sprintf "%s runs members here: leave out --engine slurm" flag))
        | Some (_, indices), _ ->
            // One array task: the folder was prepared by the submitting process (its sweep.json is this config).
            Directory.CreateDirectory(Path.Combine(out, "members")) |> ignore
            let _, failed = Sweep.runMembers hooks config out indices
            if failed.Length > 0 then 1 else 0
        | None, "local" ->
            let s = Sweep.run hooks config out
            printSummary s
            failedExit s
        | None, "slurm" ->
            match args.TryGetResult Cpus_Per_Task with
            | Some c when c < 1 -> raise (UserError "--cpus-per-task: expected a positive integer")
            | _ -> ()
            let options =
                { SlurmOptions.defaults with
                    Partition = args.TryGetResult Partition
                    Time = args.TryGetResult SweepArgs.Time
                    Memory = args.TryGetResult Mem
                    CpusPerTask = args.TryGetResult Cpus_Per_Task
                    ExtraArgs = args.GetResults Sbatch_Arg }
            let s = Sweep.runSlurm hooks options (workerCommand ()) config out
            printSummary s
            failedExit s
        | None, other -> raise (UserError(sprintf "--engine: expected local or slurm, got '%s'" other))
    with InvalidArgument (argument, problem) -> raise (UserError(sprintf "%s: %s" (argument.Replace('_', '-')) problem))
