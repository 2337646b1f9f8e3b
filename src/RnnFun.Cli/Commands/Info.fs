/// rnnfun info: a model's kind, sizes, constraints and parameter counts.
module RnnFun.Cli.InfoCommand

open System
open Argu
open RnnFun
open RnnFun.Cli.Args
open RnnFun.Cli.Common

let private describeConstraints (net: Network) =
    let c = net.Constraints
    let n = net.Sizes.Units
    let nonZero (m: float[][]) = m |> Array.sumBy (Array.sumBy (fun v -> if v <> 0.0 then 1 else 0))
    let diagonalMasked = c.RecurrentMask |> Option.exists (fun m -> Seq.forall (fun i -> m[i][i] = 0.0) [ 0 .. n - 1 ])
    [ yield sprintf "autapses        %s" (if c.Autapses && not diagonalMasked then "allowed" else "none (diagonal of W_rec is 0)")
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

/// Runs `rnnfun info`; returns the exit code (a user's mistake raises `UserError`).
let run (args: ParseResults<InfoArgs>) =
    let path = args.GetResult InfoArgs.Model
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
    let shapeText (p: Parameter) = "[" + String.Join("; ", p.Spec.Shape) + "]"
    // Columns as wide as the longest name and shape (a gated kind's weight_ih_l0, [96; 32]).
    let nameWidth = net.Parameters |> List.map (fun p -> p.Spec.Name.Length) |> List.fold max 8
    let shapeWidth = net.Parameters |> List.map (fun p -> (shapeText p).Length) |> List.fold max 12
    printfn "  %-*s %-*s %-10s %10s %10s" nameWidth "param" shapeWidth "shape" "trainable" "count" "non-zero"
    let values = Network.values net |> Map.ofList
    for p in net.Parameters do
        let nonZero =
            match values[p.Spec.Name] with
            | ParameterValue.Matrix m -> m |> Array.sumBy (Array.sumBy (fun v -> if v <> 0.0 then 1 else 0))
            | ParameterValue.Vector v -> v |> Array.sumBy (fun x -> if x <> 0.0 then 1 else 0)
        let count = p.Spec.Shape |> Array.fold (*) 1
        printfn "  %-*s %-*s %-10s %10d %10d" nameWidth p.Spec.Name shapeWidth (shapeText p) (if p.Trainable then "yes" else "no") count nonZero
    printfn ""
    printfn "parameters %d in all, %d trainable" total trainable
    0
