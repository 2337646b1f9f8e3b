/// NumPy .npy and text arrays (`ArrayFile`), read from files NumPy itself wrote
/// (tests/fixtures/numpy/make_fixtures.py), and `rnnfun fixed-points --initial-states`.
module RnnFun.Tests.ArrayFileTests

open System
open System.IO
open Expecto
open RnnFun

let private fixture name = Path.Combine(__SOURCE_DIRECTORY__, "..", "fixtures", "numpy", name)

/// The fixtures' values: i + j / 8 at row i, column j.
let private expected = Array.init 5 (fun i -> Array.init 3 (fun j -> float i + float j / 8.0))

let private expectFormatError (what: string) (f: unit -> 'a) (fragment: string) =
    Expect.throwsC (fun () -> f () |> ignore) (fun e ->
        match e with
        | FileFormatError (_, problem) -> Expect.stringContains problem fragment (sprintf "%s: the problem is said" what)
        | other -> failtestf "%s: expected FileFormatError, got %O" what other)

[<Tests>]
let tests =
    testList "ArrayFile" [
        test "NumPy's float64, float32 and int32 arrays, and a 1-D array as one row" {
            Expect.equal (ArrayFile.readMatrix (fixture "states_f8.npy")) expected "float64 [5; 3]"
            Expect.equal (ArrayFile.readMatrix (fixture "states_f4.npy")) expected "float32 [5; 3]"
            Expect.equal (ArrayFile.readMatrix (fixture "states_i4.npy")) [| [| 1.0; 2.0; 3.0 |]; [| -4.0; 5.0; 6.0 |] |] "int32 [2; 3]"
            Expect.equal (ArrayFile.readMatrix (fixture "row.npy")) [| expected[1] |] "float64 [3] as one row"
            Expect.equal (ArrayFile.readNpy (fixture "states_f8.npy")).Shape [| 5; 3 |] "the shape"
        }
        test "refused with the reason: Fortran order, 3-D, not .npy, missing" {
            expectFormatError "fortran" (fun () -> ArrayFile.readMatrix (fixture "fortran.npy")) "Fortran"
            expectFormatError "3-D" (fun () -> ArrayFile.readMatrix (fixture "cube.npy")) "2-D"
            expectFormatError "missing" (fun () -> ArrayFile.readMatrix (fixture "nothing.npy")) "no such file"
            withTempDir (fun dir ->
                let fake = Path.Combine(dir, "fake.npy")
                File.WriteAllText(fake, "1,2,3")
                expectFormatError "not npy" (fun () -> ArrayFile.readMatrix fake) "not a .npy file")
        }
        test "text: CSV or spaces, a header, comments and blank lines; ragged or non-numeric rows refused" {
            withTempDir (fun dir ->
                let file = Path.Combine(dir, "states.csv")
                File.WriteAllText(file, "h0,h1,h2\n# a comment\n0.5, -1e-3, 2\n\n3 4\t5\n")
                Expect.equal (ArrayFile.readMatrix file) [| [| 0.5; -1e-3; 2.0 |]; [| 3.0; 4.0; 5.0 |] |] "two rows"
                File.WriteAllText(file, "1,2,3\n\n4,5\n")
                expectFormatError "ragged" (fun () -> ArrayFile.readMatrix file) "line 3 has 2 values"
                // A first line with a typo is an error, not a header; a decimal comma is refused.
                File.WriteAllText(file, "1,2,x\n4,5,6\n")
                expectFormatError "typo in the first line" (fun () -> ArrayFile.readMatrix file) "line 1: value 3"
                File.WriteAllText(file, "1;2\n0,5;0,25\n")
                expectFormatError "decimal comma" (fun () -> ArrayFile.readMatrix file) "line 2: value 1 is not a number ('.' is the decimal point)"
                File.WriteAllText(file, "0.5; 0.25\n1;2\n")
                Expect.equal (ArrayFile.readMatrix file) [| [| 0.5; 0.25 |]; [| 1.0; 2.0 |] |] "semicolons"
                File.WriteAllText(file, "1,2,3\n4,x,6\n")
                expectFormatError "non-numeric" (fun () -> ArrayFile.readMatrix file) "line 2: value 2"
                File.WriteAllText(file, "1,NaN,3\n")
                expectFormatError "NaN" (fun () -> ArrayFile.readMatrix file) "NaN")
        }
        test "rnnfun fixed-points --initial-states: the W = 2I points from the user's own states" {
            withTempDir (fun dir ->
                let model = Path.Combine(dir, "w2i.json")
                do
                    use net = Network.scaledIdentity Kinds.rnn 3 2.0
                    ModelFile.save model net
                // 27 states at the lattice's points, each moved by 0.05: each converges to its own point.
                let a = FixedPointTests.aStar
                let states = [| for x in [ -a; 0.0; a ] do for y in [ -a; 0.0; a ] do for z in [ -a; 0.0; a ] -> [| x + 0.05; y - 0.05; z + 0.05 |] |]
                let file = Path.Combine(dir, "starts.csv")
                File.WriteAllLines(file, states |> Array.map (fun s -> String.Join(",", s |> Array.map (fun v -> v.ToString("R", Globalization.CultureInfo.InvariantCulture)))))
                let out = Path.Combine(dir, "fps.json")
                let code = RnnFun.Cli.Program.main [| "fixed-points"; "--model"; model; "--initial-states"; file; "--quiet"; "--out"; out |]
                Expect.equal code 0 "exit code"
                let points = FixedPointFile.load out
                Expect.equal points.Length 27 "27 points from 27 starts"
                for p in points do
                    Expect.isTrue (p.State |> Array.forall (fun v -> abs v < 1e-8 || abs (abs v - a) < 1e-8)) "on the lattice"
                // The wrong width, and flags that do not apply, are one-line user errors.
                let narrow = Path.Combine(dir, "narrow.csv")
                File.WriteAllText(narrow, "0.1,0.2\n")
                Expect.equal (RnnFun.Cli.Program.main [| "fixed-points"; "--model"; model; "--initial-states"; narrow; "--out"; out |]) 2 "2 values for a 3-unit state"
                Expect.equal (RnnFun.Cli.Program.main [| "fixed-points"; "--model"; model; "--initial-states"; file; "--n-init"; "5"; "--out"; out |]) 2 "--n-init does not apply"
                Expect.equal (RnnFun.Cli.Program.main [| "fixed-points"; "--model"; model; "--initial-states"; fixture "states_f8.npy"; "--quiet"; "--out"; out |]) 0 "a .npy file of 3-value states")
        }
    ]
