module RnnFun.Tests.UnstableDirectionTests

open System.Numerics
open System.Text.Json
open Expecto
open Plotly.NET
open RnnFun
open RnnFun.Plotting

/// A saddle at the origin of 3 units whose two unstable modes are a complex pair: eigenvectors
/// a + ib and a - ib with a along x and b along y (unnormalised).
let private spiralSaddle =
    let a = [| 2.0; 0.0; 0.0 |]
    let b = [| 0.0; 3.0; 0.0 |]
    let v sign = Array.map2 (fun re im -> Complex(re, sign * im)) a b
    { Id = 0
      State = [| 0.0; 0.0; 0.0 |]
      Input = [| 0.0 |]
      Q = 0.0
      Speed = 0.0
      Search = None
      Eigenvalues = [| Complex(1.2, 0.5); Complex(1.2, -0.5); Complex(0.3, 0.0) |]
      Linearisation = Some { Jacobian = [||]; Eigenvectors = [| v 1.0; v -1.0; [| Complex.Zero; Complex.Zero; Complex.One |] |]; LeftEigenvectors = [||]; InputJacobian = [||] }
      UnstableModes = 2
      Stable = false
      Kind = FixedPointKind.Saddle
      ContinuousEigenvalues = None }

[<Tests>]
let tests =
    testList "Unstable directions" [
        test "a complex pair spans its plane: the real part, then the imaginary part" {
            let d = FixedPoints.directions spiralSaddle.UnstableModes spiralSaddle.Eigenvalues (eigenvectorsOf spiralSaddle)
            // Signs do not matter (the runs go both ways): the conjugate's imaginary part is -b.
            Expect.equal (d |> Array.map (Array.map abs)) [| [| 1.0; 0.0; 0.0 |]; [| 0.0; 1.0; 0.0 |] |] "x, then y"
        }

        test "the state-space figure draws the directions the topology runs take" {
            // Components along x, y, z in that order (variances 9, 4, 1).
            let data = [| [| 3.0; 0.0; 0.0 |]; [| -3.0; 0.0; 0.0 |]; [| 0.0; 2.0; 0.0 |]; [| 0.0; -2.0; 0.0 |]; [| 0.0; 0.0; 1.0 |]; [| 0.0; 0.0; -1.0 |] |]
            let pca = Pca.fit 3 data
            let chart = Charts.stateSpace pca [||] [| spiralSaddle |]
            let traces = JsonDocument.Parse(GenericChart.toJson chart).RootElement.GetProperty("data").EnumerateArray() |> Array.ofSeq
            let segment =
                traces |> Array.find (fun t -> match t.TryGetProperty "name" with | true, n -> n.GetString().StartsWith "unstable directions" | _ -> false)
            let coordinate axis = segment.GetProperty(axis: string).EnumerateArray() |> Seq.map (fun v -> v.GetDouble()) |> Array.ofSeq
            let x, y = coordinate "x", coordinate "y"
            // Path: -v1, +v1, centre, -v2, +v2, centre.
            Expect.equal x.Length 6 "two strokes"
            Expect.isGreaterThan (abs (x[1] - x[0])) 1e-6 "the first stroke runs along the first component (x)"
            Expect.isLessThan (abs (y[1] - y[0])) 1e-9 "and not along y"
            Expect.isGreaterThan (abs (y[4] - y[3])) 1e-6 "the second stroke runs along y, the imaginary part"
            Expect.isLessThan (abs (x[4] - x[3])) 1e-9 "not along x again"
        }
    ]
