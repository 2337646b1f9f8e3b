/// Certificates for the 27 fixed points of the W = 2I cube and of gated cubes (the issue's target: under 0.1 s), with
/// the same run's linearisation of those points (Jacobians and eigen-decompositions) as the baseline.
module RnnFun.Benchmarks.Certificates

open System.Diagnostics
open RnnFun

/// Median seconds of `rounds` calls, after two calls that warm the JIT up.
let private median (rounds: int) (f: unit -> 'a) =
    f () |> ignore
    f () |> ignore
    let times =
        Array.init rounds (fun _ ->
            let w = Stopwatch.StartNew()
            f () |> ignore
            w.Elapsed.TotalSeconds)
    (Array.sort times)[rounds / 2]

/// The gated cubes: a gru with r = 1/2 and n = tanh(2h) per unit, a ugrnn with c = tanh(2h) per unit
/// (their gates z and g left at zero weights): the 27 points {-a*, 0, a*}^3 each.
let private gatedCube (kind: Kind) =
    let blocks, candidate, biases =
        if kind.Name = "gru" then 3, 2, [ "bias_ih_l0"; "bias_hh_l0" ] else 2, 1, [ "bias_l0" ]
    let gain = if kind.Name = "gru" then 4.0 else 2.0
    let whh = Array.init (blocks * 3) (fun k -> Array.init 3 (fun j -> if k / 3 = candidate && k % 3 = j then gain else 0.0))
    let values =
        Map.ofList (
            [ "weight_ih_l0", ParameterValue.Matrix(Array.init (blocks * 3) (fun _ -> [| 0.0 |]))
              "weight_hh_l0", ParameterValue.Matrix whh
              "w_out", ParameterValue.Matrix [| Array.zeroCreate 3 |] ]
            @ (biases |> List.map (fun b -> b, ParameterValue.Vector(Array.zeroCreate (blocks * 3)))))
    Network.ofValues kind { NetworkConfig.defaults with InputSize = 1; Units = 3; OutputSize = 1; Precision = Precision.Float64 } values

/// The cube's 27 points (rnn and ctrnn forms, and the gru and ugrnn cubes): certificate time,
/// linearisation time, their ratio.
let run (rounds: int) : (string * float) list =
    [ for name, kind, box in [ "rnn", Kinds.rnn, 1.5; "ctrnn", Kinds.ctrnn, 3.0; "gru", Kinds.gru, 1.2; "ugrnn", Kinds.ugrnn, 1.2 ] do
          use net = if kind.Name = "gru" || kind.Name = "ugrnn" then gatedCube kind else Network.scaledIdentity kind 3 2.0
          let found = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 256 -box box 3 0)
          let points = found.FixedPoints
          if points.Length <> 27 then failwithf "%s cube: %d points, expected 27" name points.Length
          let certificates = FixedPoints.certify CertificateConfig.defaults net points
          let certified = certificates |> Array.filter (function Certificate.Certified _ -> true | _ -> false) |> Array.length
          if certified <> 27 then failwithf "%s cube: %d of 27 certified" name certified
          let certify = median rounds (fun () -> FixedPoints.certify CertificateConfig.defaults net points)
          let linearise = median rounds (fun () -> FixedPoints.analyse FixedPointConfig.defaults.EigenTolerance net points)
          yield sprintf "certificates, 27 cube points (%s), s" name, certify
          yield sprintf "linearisation, 27 cube points (%s), s" name, linearise
          yield sprintf "certificates / linearisation (%s)" name, certify / linearise ]
