/// rnnfun fixed-points --selection: the slow modes' selection vectors of the points found.
module RnnFun.Cli.SelectionOption

open Argu
open RnnFun
open RnnFun.Cli.Args
open RnnFun.Cli.Common

/// The selection the flags ask for (None without --selection); a user's mistake raises `UserError`.
let ofArgs (args: ParseResults<FixedPointArgs>) (net: Network) (points: FixedPoint[]) : FixedPointSelection option =
    let given = args.Contains Selection
    for flag, present in [ "--slow-tolerance", args.Contains Slow_Tolerance; "--slow-measure", args.Contains Slow_Measure ] do
        if present && not given then raise (UserError(sprintf "%s applies to --selection only" flag))
    if not given then None
    else
        let tolerance = args.GetResult(Slow_Tolerance, defaultValue = SlowSelectionConfig.defaults.Tolerance)
        if not (tolerance >= 0.0 && System.Double.IsFinite tolerance) then raise (UserError "--slow-tolerance: expected a number >= 0")
        let measure =
            match args.TryGetResult Slow_Measure with
            | None -> None
            | Some "map" -> Some SlowModeMeasure.Map
            | Some "continuous" when net.Kind.TimeScale.IsSome -> Some SlowModeMeasure.Continuous
            | Some "continuous" -> raise (UserError(sprintf "--slow-measure: continuous needs a continuous-time kind (ctrnn); the model is %s" net.Kind.Name))
            | Some other -> raise (UserError(sprintf "--slow-measure: expected map or continuous, got '%s'" other))
        let config = { SlowSelectionConfig.defaults with Tolerance = tolerance; Measure = measure }
        Some(FixedPointSelection.ofPoints config net.Kind.TimeScale points)
