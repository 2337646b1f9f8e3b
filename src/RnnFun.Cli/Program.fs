/// The rnnfun command: parses the verb and runs its command; every failure ends as one line on stderr.
module RnnFun.Cli.Program

open System
open Argu
open RnnFun
open RnnFun.Cli.Args
open RnnFun.Cli.Common

/// `--name=value` as `--name value`, for every option (Argu takes `=` only on cases marked for it).
let splitAssignments (argv: string[]) =
    argv
    |> Array.collect (fun a ->
        let i = a.IndexOf '='
        if a.StartsWith "--" && i > 2 then [| a.Substring(0, i); a.Substring(i + 1) |] else [| a |])

/// The version of this program (the assembly's informational version, without a source hash).
let version () =
    let assembly = Reflection.Assembly.GetExecutingAssembly()
    match Reflection.CustomAttributeExtensions.GetCustomAttribute<Reflection.AssemblyInformationalVersionAttribute> assembly with
    | null -> string (assembly.GetName().Version)
    | a -> a.InformationalVersion.Split('+')[0]

[<EntryPoint>]
let main argv =
    // libtorch loads (about 0.3 s) on another core while the arguments are parsed (about 0.2 s of
    // JIT and reflection); a failure here is left for the command's own first use to report.
    let warmUp = Threading.Tasks.Task.Run(fun () -> try NativeRuntime.ensure (); TorchSharp.torch.get_num_threads () |> ignore with _ -> ())
    let parser = ArgumentParser.Create<CliArgs>(programName = "rnnfun")
    try
        if argv = [| "--version" |] then
            printfn "rnnfun %s" (version ())
            0
        else
            let results = parser.ParseCommandLine(splitAssignments argv, raiseOnUsage = true)
            warmUp.Wait()
            match results.GetSubCommand() with
            | Info a -> InfoCommand.run a
            | Train a when a.Contains TrainArgs.Seeds -> TrainPopulationCommand.run a
            | Train a -> TrainCommand.run a
            | Fixed_Points a -> FixedPointsCommand.run a
            | Topology a -> TopologyCommand.run a
            | Report a -> ReportCommand.run a
            | Demo a -> DemoCommand.run a
            | Import a -> InteropCommands.runImport a
            | Export a -> InteropCommands.runExport a
            | Compare a -> CompareCommand.run a
            | Continue a -> ContinueCommand.run a
            | Lyapunov a -> LyapunovCommand.run a
            | Perturb a -> PerturbCommand.run a
            | Multitask a -> MultitaskCommand.run a
            | Sweep a -> SweepCommand.run a
    with
    | :? ArguParseException as e when e.ErrorCode = ErrorCode.HelpText ->
        printfn "%s" e.Message
        0
    | :? ArguParseException as e ->
        let first = e.Message.Split('\n') |> Array.head
        eprintfn "rnnfun: %s (see rnnfun --help)" (first.Replace("ERROR: ", "").Trim())
        2
    | UserError message ->
        eprintfn "rnnfun: %s" message
        2
    | FileFormatError (path, problem) ->
        eprintfn "rnnfun: %s: %s" path problem
        2
    | InvalidArgument (argument, problem) ->
        eprintfn "rnnfun: %s: %s" argument problem
        2
    | NativeRuntimeMissing _ as e ->
        eprintfn "rnnfun: %s" e.Message
        1
    | InsufficientMemory _ as e ->
        eprintfn "rnnfun: %s" e.Message
        2
    | :? OutOfMemoryException ->
        eprintfn "rnnfun: out of memory: choose smaller sizes"
        2
    | :? Runtime.InteropServices.ExternalException as e when e.Message.Contains "alloc" ->
        // libtorch's own allocation failure (c10::Error), first line only.
        eprintfn "rnnfun: out of memory in libtorch: %s" (e.Message.Split('\n') |> Array.head)
        2
    | e ->
        eprintfn "rnnfun: unexpected error: %s" e.Message
        1
