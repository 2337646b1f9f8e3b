/// rnnfun continue: trace a model's fixed points as a parameter varies, and locate bifurcations.
module RnnFun.Cli.ContinueCommand

open System
open Argu
open RnnFun
open RnnFun.Plotting
open RnnFun.Cli.Args
open RnnFun.Cli.Common

/// Runs `rnnfun continue`; returns the exit code (a user's mistake raises `UserError`).
let run (args: ParseResults<ContinueArgs>) =
    use net = ModelFile.load (args.GetResult ContinueArgs.Model)
    let out = args.GetResult ContinueArgs.Out
    checkOutputFile "--out" out
    args.TryGetResult ContinueArgs.Report |> Option.iter (checkOutputFile "--report")
    let inputs = net.Sizes.Inputs
    let baseInput =
        match args.TryGetResult ContinueArgs.Inputs with
        | Some text ->
            let values = parseNumbers "--inputs" text
            if values.Length <> inputs then raise (UserError(sprintf "--inputs: the model has %d inputs, got %d values" inputs values.Length))
            values
        | None -> Array.zeroCreate inputs
    let given = [ "--input-index", args.Contains ContinueArgs.Input_Index; "--direction", args.Contains ContinueArgs.Direction; "--recurrent-scale", args.Contains ContinueArgs.Recurrent_Scale ] |> List.filter snd |> List.map fst
    let parameter, parameterName =
        match given with
        | [ "--input-index" ] ->
            let i = args.GetResult ContinueArgs.Input_Index
            if i < 0 || i >= inputs then raise (UserError(sprintf "--input-index: the model has inputs 0 to %d, got %d" (inputs - 1) i))
            Continuation.inputComponent baseInput i, sprintf "input %d" i
        | [ "--direction" ] ->
            let d = parseNumbers "--direction" (args.GetResult ContinueArgs.Direction)
            if d.Length <> inputs then raise (UserError(sprintf "--direction: the model has %d inputs, got %d values" inputs d.Length))
            if d |> Array.forall (fun v -> v = 0.0) then raise (UserError "--direction: expected a non-zero direction")
            ContinuationParameter.Input(baseInput, d), "p (input = base + p direction)"
        | [ "--recurrent-scale" ] -> ContinuationParameter.RecurrentScale baseInput, "scale on the recurrent weights"
        | [] -> raise (UserError "give the parameter to vary: --input-index I, --direction V or --recurrent-scale")
        | many -> raise (UserError(sprintf "%s: give one of them" (String.Join(", ", many))))
    let from, upTo = args.GetResult ContinueArgs.From, args.GetResult ContinueArgs.To
    if from = upTo then raise (UserError "--from and --to: expected two different values")
    let n = Network.stateSize net
    let lo, hi =
        match args.TryGetResult ContinueArgs.Box with
        | None -> -1.0, 1.0
        | Some range ->
            match parseNumbers "--box" range with
            | [| lo; hi |] when lo < hi -> lo, hi
            | _ -> raise (UserError "--box: expected LO,HI with LO < HI")
    let count = args.GetResult(ContinueArgs.N_Init, defaultValue = 1024)
    if count <= 0 then raise (UserError "--n-init: expected a positive integer")
    let seed = args.GetResult(ContinueArgs.Seed, defaultValue = 0)
    let d = ContinuationConfig.defaults
    let step = args.GetResult(ContinueArgs.Step, defaultValue = d.Step)
    let maxStep = args.GetResult(ContinueArgs.Max_Step, defaultValue = max d.MaxStep step)
    if not (step > 0.0) || maxStep < step then raise (UserError "--step, --max-step: expected 0 < step <= max step")
    let maxSteps = args.GetResult(ContinueArgs.Max_Steps, defaultValue = d.MaxSteps)
    if maxSteps < 1 then raise (UserError "--max-steps: expected a positive integer")
    let config =
        { d with
            Start = from
            End = upTo
            Step = step
            MaxStep = maxStep
            MinStep = min d.MinStep step
            MaxSteps = maxSteps
            SwitchBranches = not (args.Contains ContinueArgs.No_Switch)
            InitialStates = Some(InitialStates.uniformBox count lo hi n seed)
            Seed = seed }
    let r = Continuation.run config net parameter
    let periodTwo = if args.Contains ContinueArgs.Period_Two then PeriodTwo.ofContinuation config net r else [||]
    ContinuationFile.saveWith periodTwo out r
    let byKind =
        r.Events |> Array.countBy (fun e -> Continuation.kindName e.Kind) |> Array.map (fun (k, c) -> sprintf "%d %s" c k)
    printfn "%d branches from %d fixed points at %g, traced to %g; %d bifurcations%s in %.2fs"
        r.Branches.Length r.StartPoints from upTo r.Events.Length
        (if byKind.Length = 0 then "" else " (" + String.Join(", ", byKind) + ")") r.Elapsed.TotalSeconds
    if not (args.Contains ContinueArgs.Quiet) then
        if r.Events.Length > 0 then
            printfn "  %-15s %6s %14s %24s %8s" "bifurcation" "branch" "parameter" "eigenvalue" "crossing"
            for e in r.Events do
                printfn "  %-15s %6d %14.8g %24s %8d" (Continuation.kindName e.Kind) e.Branch e.Parameter (sprintf "%.6f%+.6fi" e.Eigenvalue.Real e.Eigenvalue.Imaginary) e.Crossing
        for b in r.Branches do
            printfn "  branch %d: %d points, %s from %.6g to %.6g, ended: %s" b.Id b.Parameter.Length parameterName b.Parameter[0] b.Parameter[b.Parameter.Length - 1] (Continuation.endingName b.Ending)
    if args.Contains ContinueArgs.Period_Two then
        if periodTwo.Length = 0 then printfn "  no flip: no period-2 orbit to trace"
        for b in periodTwo do
            let last = b.Parameter.Length - 1
            printfn "  period-2 orbit from the flip at %.8g (branch %d): %d points, %s to %.6g, stable at %d of them, ended: %s"
                b.FlipParameter b.FromBranch b.Parameter.Length parameterName b.Parameter[last] (b.Stable |> Array.filter id |> Array.length) (Continuation.endingName b.Ending)
    printfn "wrote %s" (IO.Path.GetFullPath out)
    match args.TryGetResult ContinueArgs.Report with
    | Some path ->
        Report.save path { ReportInputs.empty with Title = "RnnFun continuation"; Model = Some(ModelSummary.ofNetwork net); Continuation = Some(r, parameterName); PeriodTwo = periodTwo }
        printfn "wrote %s" (IO.Path.GetFullPath path)
    | None -> ()
    0
