module RnnFun.Cli.Program

open System
open Argu
open RnnFun

type InfoArgs =
    | [<Mandatory; AltCommandLine("-m")>] Model of path: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "the model file (rnnfun.model JSON) to describe."

type DemoArgs =
    | Out of dir: string
    | Seed of seed: int
    | Quick
    | Task of name: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Out _ -> "folder for every output (default ./rnnfun-demo)."
            | Seed _ -> "seed of the whole pipeline (default 0)."
            | Quick -> "a short version of each stage."
            | Task _ -> "flipflop (default) or integrator."

[<RequireSubcommand>]
type CliArgs =
    | [<CliPrefix(CliPrefix.None)>] Info of ParseResults<InfoArgs>
    | [<CliPrefix(CliPrefix.None)>] Demo of ParseResults<DemoArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Info _ -> "print a model's kind, sizes, constraints and parameter counts."
            | Demo _ -> "train, analyse and report on a task, end to end."

/// A user's mistake: printed as one line on stderr, exit code 2.
exception UserError of string

let private describeConstraints (net: Network) =
    let c = net.Constraints
    let n = net.Sizes.Units
    let nonZero (m: float[][]) = m |> Array.sumBy (Array.sumBy (fun v -> if v <> 0.0 then 1 else 0))
    [ yield sprintf "autapses        %s" (if c.Autapses then "allowed" else "none (diagonal of W_rec is 0)")
      match c.DaleRatio with
      | Some r ->
          let e = Constraints.excitatoryCount n r
          yield sprintf "Dale's law      ratio %g: %d excitatory, %d inhibitory units" r e (n - e)
      | None -> yield "Dale's law      off"
      let mask name (m: float[][] option) =
          match m with
          | Some m -> sprintf "%-15s %d of %d connections" name (nonZero m) (m.Length * (if m.Length = 0 then 0 else m[0].Length))
          | None -> sprintf "%-15s none" name
      yield mask "input mask" c.InputMask
      yield mask "recurrent mask" c.RecurrentMask
      yield mask "output mask" c.OutputMask
      match c.UnitSigns with
      | Some s ->
          let count v = s |> Array.filter ((=) v) |> Array.length
          yield sprintf "unit signs      %d excitatory, %d inhibitory, %d free" (count 1) (count -1) (count 0)
      | None -> () ]

let private info (args: ParseResults<InfoArgs>) =
    let path = args.GetResult Model
    use net = ModelFile.load path
    let total, trainable = Network.parameterCount net
    printfn "model      %s" (IO.Path.GetFullPath path)
    printfn "kind       %s" net.Kind.Name
    for (name, setting) in net.Kind.Settings do
        match setting with
        | KindSetting.Number v -> printfn "%-10s %g" name v
        | KindSetting.Text t -> printfn "%-10s %s" name t
    printfn "sizes      %d inputs, %d units, %d outputs" net.Sizes.Inputs net.Sizes.Units net.Sizes.Outputs
    printfn ""
    printfn "constraints"
    for line in describeConstraints net do printfn "  %s" line
    printfn ""
    printfn "  %-8s %-12s %-10s %10s %10s" "param" "shape" "trainable" "count" "non-zero"
    let values = Network.values net |> Map.ofList
    for p in net.Parameters do
        let nonZero =
            match values[p.Spec.Name] with
            | ParameterValue.Matrix m -> m |> Array.sumBy (Array.sumBy (fun v -> if v <> 0.0 then 1 else 0))
            | ParameterValue.Vector v -> v |> Array.sumBy (fun x -> if x <> 0.0 then 1 else 0)
        let count = p.Spec.Shape |> Array.fold (*) 1
        printfn "  %-8s %-12s %-10s %10d %10d" p.Spec.Name ("[" + String.Join("; ", p.Spec.Shape) + "]") (if p.Trainable then "yes" else "no") count nonZero
    printfn ""
    printfn "parameters %d in all, %d trainable" total trainable
    0

let private demo (args: ParseResults<DemoArgs>) =
    let out = args.GetResult(Out, defaultValue = "./rnnfun-demo")
    let task = args.GetResult(Task, defaultValue = "flipflop")
    if task <> "flipflop" && task <> "integrator" then
        raise (UserError(sprintf "--task: unknown task '%s' (expected flipflop or integrator)" task))
    let seed = args.GetResult(Seed, defaultValue = 0)
    printfn "rnnfun demo: task %s, seed %d%s, output folder %s" task seed (if args.Contains Quick then ", quick" else "") (IO.Path.GetFullPath out)
    printfn "The pipeline runs these stages as they become available:"
    printfn "  1. train the %s preset (progress bar)" task
    printfn "  2. find fixed points from trajectory states"
    printfn "  3. build the fixed-point topology graph"
    printfn "  4. write model.json, training-log.json, fixed-points.json, topology.json, report.html, summary.json"
    printfn "  5. print a summary table and the path of the report"
    printfn "Available now: networks, constraints and model files (see `rnnfun info --model FILE`)."
    0

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<CliArgs>(programName = "rnnfun")
    try
        let results = parser.ParseCommandLine(argv, raiseOnUsage = true)
        match results.GetSubCommand() with
        | Info a -> info a
        | Demo a -> demo a
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
    | e ->
        eprintfn "rnnfun: unexpected error: %s" e.Message
        1
