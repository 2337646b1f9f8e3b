/// Certificates for the 27 fixed points of the W = 2I cube (the issue's target: under 0.1 s), with
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

/// The cube's 27 points (rnn and ctrnn forms): certificate time, linearisation time, their ratio.
let run (rounds: int) : (string * float) list =
    [ for name, kind, box in [ "rnn", Kinds.rnn, 1.5; "ctrnn", Kinds.ctrnn, 3.0 ] do
          use net = Network.scaledIdentity kind 3 2.0
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
