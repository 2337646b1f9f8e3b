/// rnnfun lyapunov: a model's Lyapunov spectrum, autonomous, under constant inputs or trials.
module RnnFun.Cli.LyapunovCommand

open System
open Argu
open RnnFun
open RnnFun.Plotting
open RnnFun.Cli.Args
open RnnFun.Cli.Common

/// Trials as sequences [trials][time][inputs] from a flat row-major [trials; time; inputs] array,
/// each cut to its length.
let private sequences (flat: float32[]) (trials: int) (time: int) (inputs: int) (lengths: int[] option) =
    Array.init trials (fun b ->
        let length = lengths |> Option.map (fun l -> l[b]) |> Option.defaultValue time
        Array.init length (fun t -> Array.init inputs (fun i -> float flat[(b * time + t) * inputs + i])))

/// Runs `rnnfun lyapunov`; returns the exit code (a user's mistake raises `UserError`).
let run (args: ParseResults<LyapunovArgs>) =
    use net = ModelFile.load (args.GetResult LyapunovArgs.Model)
    let out = args.GetResult LyapunovArgs.Out
    checkOutputFile "--out" out
    args.TryGetResult LyapunovArgs.Report |> Option.iter (checkOutputFile "--report")
    let inputs = net.Sizes.Inputs
    let n = Network.stateSize net
    let seed = args.GetResult(LyapunovArgs.Seed, defaultValue = 0)
    let sources = [ "--inputs", args.Contains LyapunovArgs.Inputs; "--task", args.Contains LyapunovArgs.Task; "--data", args.Contains LyapunovArgs.Data ] |> List.filter snd |> List.map fst
    if sources.Length > 1 then raise (UserError(sprintf "%s: give one of them" (String.Join(", ", sources))))
    let trialsGiven = args.Contains LyapunovArgs.Task || args.Contains LyapunovArgs.Data
    if args.Contains LyapunovArgs.Trial_Count && not trialsGiven then raise (UserError "--trials applies to --task or --data")
    if args.Contains LyapunovArgs.Steps && trialsGiven then raise (UserError "--steps does not apply to --task or --data (a trial's own length is used)")
    let maxTrials = args.GetResult(LyapunovArgs.Trial_Count, defaultValue = 8)
    if maxTrials < 1 then raise (UserError "--trials: expected a positive integer")
    let steps = args.GetResult(LyapunovArgs.Steps, defaultValue = 1000)
    if steps < 1 then raise (UserError "--steps: expected a positive integer")
    let transient = args.GetResult(LyapunovArgs.Transient, defaultValue = (if trialsGiven then 0 else 200))
    if transient < 0 then raise (UserError "--transient: expected an integer >= 0")
    let exponents = args.TryGetResult LyapunovArgs.Exponents
    match exponents with
    | Some k when k < 1 || k > n -> raise (UserError(sprintf "--exponents: expected 1 to %d (the state's size), got %d" n k))
    | _ -> ()
    let h0 =
        match args.TryGetResult LyapunovArgs.Initial_State with
        | Some text ->
            let v = parseNumbers "--initial-state" text
            if v.Length <> n then raise (UserError(sprintf "--initial-state: the model's state has %d values, got %d" n v.Length))
            v
        | None -> Array.zeroCreate n
    let config = { LyapunovConfig.defaults with Steps = steps; Transient = transient; Exponents = exponents; Seed = seed }
    let conditions: LyapunovFile.Condition[] =
        if trialsGiven then
            let trials =
                match args.TryGetResult LyapunovArgs.Task with
                | Some task ->
                    let preset =
                        try Presets.byName task seed
                        with InvalidArgument (_, problem) -> raise (UserError("--task: " + problem))
                    if preset.Task.InputSize <> inputs then
                        raise (UserError(sprintf "--task: %s has %d inputs but the model has %d" task preset.Task.InputSize inputs))
                    let b = preset.Task.Generate maxTrials seed
                    sequences b.Inputs b.Trials b.Time b.InputSize None
                | None ->
                    let file = args.GetResult LyapunovArgs.Data
                    let data = TrialFile.load file
                    if data.InputSize <> inputs then
                        raise (UserError(sprintf "--data: %s has %d inputs per step but the model has %d" file data.InputSize inputs))
                    sequences data.Inputs data.Trials data.Time data.InputSize data.Lengths |> Array.truncate maxTrials
            for t in trials do
                if t.Length <= transient then
                    raise (UserError(sprintf "--transient: %d steps, but a trial has only %d" transient t.Length))
            let r = Lyapunov.ofTrials config net trials h0
            r.Spectra |> Array.map (fun s -> { LyapunovFile.Condition.Label = "trial"; Input = None; Spectrum = s })
        else
            let constant =
                match args.TryGetResult LyapunovArgs.Inputs with
                | Some text ->
                    text.Split(';', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
                    |> Array.map (fun one ->
                        let v = parseNumbers "--inputs" one
                        if v.Length <> inputs then raise (UserError(sprintf "--inputs: the model has %d inputs, got %d values" inputs v.Length))
                        v)
                | None -> [| Array.zeroCreate inputs |]
            if constant.Length = 0 then raise (UserError "--inputs: expected at least one input")
            Lyapunov.underInputs config net constant h0
            |> Array.mapi (fun i s -> { LyapunovFile.Condition.Label = "input"; Input = Some constant[i]; Spectrum = s })
    LyapunovFile.save out config conditions
    let label (i: int) (c: LyapunovFile.Condition) =
        match c.Input with
        | Some u -> "input (" + String.Join(", ", u |> Array.map (fun v -> v.ToString("g4", Globalization.CultureInfo.InvariantCulture))) + ")"
        | None -> sprintf "trial %d" i
    let largest = conditions |> Array.map (fun c -> c.Spectrum.Exponents[0]) |> Array.max
    printfn "%d spectr%s of %d exponents; largest exponent %.6g per step%s" conditions.Length (if conditions.Length = 1 then "um" else "a") conditions[0].Spectrum.Exponents.Length largest
        (if conditions.Length = 1 then sprintf ", Kaplan-Yorke dimension %.4g" conditions[0].Spectrum.KaplanYorke else "")
    if not (args.Contains LyapunovArgs.Quiet) then
        printfn "  %-28s %8s %12s %12s %12s" "condition" "steps" "largest" "sum" "Kaplan-Yorke"
        conditions
        |> Array.iteri (fun i c ->
            let s = c.Spectrum
            printfn "  %-28s %8d %12.6g %12.6g %12.4g" (label i c) s.Steps s.Exponents[0] (Array.sum s.Exponents) s.KaplanYorke)
    printfn "wrote %s" (IO.Path.GetFullPath out)
    match args.TryGetResult LyapunovArgs.Report with
    | Some path ->
        let spectra = conditions |> Array.mapi (fun i c -> label i c, c.Spectrum)
        Report.save path { ReportInputs.empty with Title = "RnnFun Lyapunov spectra"; Model = Some(ModelSummary.ofNetwork net); Lyapunov = Some spectra }
        printfn "wrote %s" (IO.Path.GetFullPath path)
    | None -> ()
    0
