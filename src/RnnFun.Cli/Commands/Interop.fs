/// rnnfun import and rnnfun export: PyTorch state_dicts to model files and back.
module RnnFun.Cli.InteropCommands

open System
open Argu
open RnnFun
open RnnFun.Cli.Args
open RnnFun.Cli.Common

let private sizes (net: Network) =
    sprintf "%d inputs, %d units, %d outputs" net.Sizes.Inputs net.Sizes.Units net.Sizes.Outputs

/// Runs `rnnfun import`; returns the exit code (a user's mistake raises `UserError`).
let runImport (args: ParseResults<ImportArgs>) =
    let from = args.GetResult ImportArgs.From
    let out = args.GetResult ImportArgs.Out
    checkOutputFile "--out" out
    let arch =
        try TorchFile.architectureOf (args.GetResult Arch)
        with InvalidArgument (_, problem) -> raise (UserError("--arch: " + problem))
    let options =
        { TorchImportOptions.defaults arch with
            Params = args.TryGetResult ImportArgs.Params
            RnnPrefix = args.TryGetResult ImportArgs.Rnn_Prefix
            ReadoutPrefix = args.TryGetResult ImportArgs.Readout_Prefix
            Nonlinearity = args.GetResult(Nonlinearity, defaultValue = "tanh")
            DropConstraints = args.Contains Drop_Constraints }
    use net =
        try TorchFile.importWith options from
        with InvalidArgument (argument, problem) -> raise (UserError(sprintf "--%s: %s" (argument.Replace('_', '-')) problem))
    ModelFile.save out net
    let settings =
        net.Kind.Settings
        |> List.map (fun (name, s) -> match s with KindSetting.Number v -> sprintf ", %s %g" name v | KindSetting.Text t -> sprintf ", %s %s" name t)
        |> String.concat ""
    printfn "imported %s (%s): kind %s, %s%s; wrote %s" (IO.Path.GetFullPath from) (TorchFile.architectureName arch) net.Kind.Name (sizes net) settings (IO.Path.GetFullPath out)
    0

/// Runs `rnnfun export`; returns the exit code (a user's mistake raises `UserError`).
let runExport (args: ParseResults<ExportArgs>) =
    use net = ModelFile.load (args.GetResult ExportArgs.Model)
    let out = args.GetResult ExportArgs.Out
    checkOutputFile "--out" out
    args.TryGetResult ExportArgs.Params |> Option.iter (checkOutputFile "--params")
    args.TryGetResult ExportArgs.Readout_Out |> Option.iter (checkOutputFile "--readout-out")
    let layout =
        args.TryGetResult Layout
        |> Option.map (fun name ->
            match name.Trim().ToLowerInvariant() with
            | "torch" -> TorchLayout.Torch
            | "pyrnn" -> TorchLayout.Pyrnn
            | _ -> raise (UserError(sprintf "--layout: expected torch or pyrnn, got '%s'" name)))
    let d = TorchExportOptions.defaults
    let options =
        { Layout = layout
          RnnPrefix = args.GetResult(ExportArgs.Rnn_Prefix, defaultValue = d.RnnPrefix)
          ReadoutPrefix = args.GetResult(ExportArgs.Readout_Prefix, defaultValue = d.ReadoutPrefix)
          ParamsPath = args.TryGetResult ExportArgs.Params
          ReadoutPath = args.TryGetResult ExportArgs.Readout_Out }
    let written =
        try TorchFile.exportWith options out net
        with InvalidArgument (argument, problem) -> raise (UserError(sprintf "%s: %s" (argument.Replace('_', '-')) problem))
    printfn "exported the %s network (%s); wrote %s" net.Kind.Name (sizes net) (String.Join(" and ", written))
    0
