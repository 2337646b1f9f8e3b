[<AutoOpen>]
module RnnFun.Tests.TestUtils

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open RnnFun

/// Runs the rnnfun command in-process: exit code, stdout, stderr. Console output is process-wide:
/// tests that call it run sequenced.
let rnnfun (args: string list) =
    let out, err = new IO.StringWriter(), new IO.StringWriter()
    let oldOut, oldErr = Console.Out, Console.Error
    Console.SetOut out
    Console.SetError err
    try
        let code = RnnFun.Cli.Program.main (Array.ofList args)
        code, out.ToString(), err.ToString()
    finally
        Console.SetOut oldOut
        Console.SetError oldErr

/// Runs f with a fresh temporary folder, deleted afterwards whatever f does.
let withTempDir (f: string -> 'a) : 'a =
    let dir = IO.Path.Combine(IO.Path.GetTempPath(), "rnnfun-tests-" + Guid.NewGuid().ToString("N"))
    IO.Directory.CreateDirectory dir |> ignore
    try f dir
    finally if IO.Directory.Exists dir then IO.Directory.Delete(dir, true)

/// Runs f on a file named `name` holding `text`, in a fresh temporary folder.
let withTextFile (name: string) (text: string) (f: string -> 'a) : 'a =
    withTempDir (fun dir ->
        let path = IO.Path.Combine(dir, name)
        IO.File.WriteAllText(path, text)
        f path)

/// `original` with `find` replaced; fails when the replacement changes nothing (a test of a bad file
/// must really break the file).
let replaceOnce (original: string) (find: string) (replace: string) =
    let changed = original.Replace(find, replace)
    if changed = original then failwithf "the variant did not change the text: %s" find
    changed

/// FsCheck settings shared by the property tests: few, small cases (each builds tensors).
let propConfig = { FsCheckConfig.defaultConfig with maxTest = 40; endSize = 12 }
let testProp name = testPropertyWithConfig propConfig name

/// Runs f and returns the `InvalidArgument` it raised (argument, problem); fails the test otherwise.
let expectInvalid (f: unit -> 'a) (message: string) : string * string =
    try
        f () |> ignore
        failtestf "%s: expected InvalidArgument, nothing was raised" message
    with
    | InvalidArgument (argument, problem) -> argument, problem

/// Runs f and returns the `FileFormatError` it raised; fails the test otherwise.
let expectFileError (f: unit -> 'a) (message: string) : string * string =
    try
        f () |> ignore
        failtestf "%s: expected FileFormatError, nothing was raised" message
    with
    | FileFormatError (path, problem) -> path, problem

/// Same shape and equal elements (bit-for-bit for finite values).
let sameTensor (a: torch.Tensor) (b: torch.Tensor) =
    a.shape = b.shape && torch.eq(a, b).all().item<bool>()

/// Float64 values of a tensor.
let values (t: torch.Tensor) = Arrays.ofTensor t

/// Max absolute difference of two equally long arrays.
let maxAbsDiff (a: float[]) (b: float[]) =
    Array.fold2 (fun m x y -> max m (abs (x - y))) 0.0 a b

/// Every value of two networks: the largest absolute difference.
let weightDistance (a: Network) (b: Network) =
    List.zip (Network.values a) (Network.values b)
    |> List.map (fun ((na, va), (nb, vb)) ->
        Expect.equal na nb "same parameter order"
        match va, vb with
        | ParameterValue.Matrix x, ParameterValue.Matrix y -> maxAbsDiff (Array.concat x) (Array.concat y)
        | ParameterValue.Vector x, ParameterValue.Vector y -> maxAbsDiff x y
        | _ -> infinity)
    |> List.max

/// A seeded random input tensor [batch; time; inputs] in the given precision.
let randomInputs (seed: int) (batch: int) (time: int) (inputs: int) (precision: Precision) =
    let random = Random(seed)
    let data = Array.init (batch * time * inputs) (fun _ -> random.NextDouble() * 2.0 - 1.0)
    Arrays.toTensor precision [| int64 batch; int64 time; int64 inputs |] data

/// Small sizes for properties.
let genSize = Gen.choose (1, 8)

/// A random 0/±1 mask.
let genMask (rows: int) (cols: int) (signed: bool) =
    let entry = if signed then Gen.elements [ -1.0; 0.0; 1.0 ] else Gen.elements [ 0.0; 1.0 ]
    Gen.arrayOfLength cols entry |> Gen.arrayOfLength rows

/// Random constraints for given sizes (Dale ratio, autapses, masks; a signed mask only without Dale).
let genConstraints (inputs: int) (units: int) (outputs: int) =
    gen {
        let! autapses = Gen.elements [ true; false ]
        let! useDale = Gen.elements [ true; false ]
        let! ratio = Gen.choose (0, 100) |> Gen.map (fun k -> float k / 100.0)
        let! inputMask = Gen.optionOf (genMask units inputs false)
        let! signedRecurrent = Gen.elements [ true; false ]
        let! recurrentMask = Gen.optionOf (genMask units units (signedRecurrent && not useDale))
        let! outputMask = Gen.optionOf (genMask outputs units false)
        return
            { Constraints.none with
                Autapses = autapses
                DaleRatio = (if useDale then Some ratio else None)
                InputMask = inputMask
                RecurrentMask = recurrentMask
                OutputMask = outputMask }
    }

/// A random network config (sizes, constraints, biases, seed).
let genConfig =
    gen {
        let! inputs = genSize
        let! units = genSize
        let! outputs = genSize
        let! constraints = genConstraints inputs units outputs
        let! inputBias = Gen.elements [ true; false ]
        let! outputBias = Gen.elements [ true; false ]
        let! seed = Gen.choose (0, 100000)
        return
            { NetworkConfig.defaults with
                InputSize = inputs
                Units = units
                OutputSize = outputs
                Constraints = constraints
                InputBias = inputBias
                OutputBias = outputBias
                Seed = int64 seed }
    }

/// Checks every constraint directly from its definition (independent of the library's pattern code);
/// returns the first violation.
let constraintViolation (c: Constraints) (wIn: float[][]) (wRec: float[][]) (wOut: float[][]) : string option =
    let n = wRec.Length
    seq {
        if not c.Autapses then
            for i in 0 .. n - 1 do
                if wRec[i][i] <> 0.0 then yield sprintf "autapse w_rec[%d][%d] = %g" i i (wRec[i][i])
        match c.DaleRatio with
        | Some r ->
            let nExc = int (floor (float n * r))
            for i in 0 .. n - 1 do
                for j in 0 .. n - 1 do
                    if j < nExc && wRec[i][j] < 0.0 then yield sprintf "excitatory column %d has w_rec[%d][%d] = %g" j i j (wRec[i][j])
                    if j >= nExc && wRec[i][j] > 0.0 then yield sprintf "inhibitory column %d has w_rec[%d][%d] = %g" j i j (wRec[i][j])
        | None -> ()
        match c.RecurrentMask with
        | Some m ->
            let signed = m |> Array.exists (Array.exists (fun v -> v < 0.0))
            for i in 0 .. n - 1 do
                for j in 0 .. n - 1 do
                    if m[i][j] = 0.0 && wRec[i][j] <> 0.0 then yield sprintf "masked w_rec[%d][%d] = %g" i j (wRec[i][j])
                    if signed && m[i][j] > 0.0 && wRec[i][j] < 0.0 then yield sprintf "w_rec[%d][%d] < 0 under a positive mask" i j
                    if signed && m[i][j] < 0.0 && wRec[i][j] > 0.0 then yield sprintf "w_rec[%d][%d] > 0 under a negative mask" i j
        | None -> ()
        match c.UnitSigns with
        | Some s ->
            for i in 0 .. n - 1 do
                for j in 0 .. n - 1 do
                    if float s[j] * wRec[i][j] < 0.0 then yield sprintf "w_rec[%d][%d] = %g against unit %d's sign %d" i j (wRec[i][j]) j (s[j])
        | None -> ()
        match c.InputMask with
        | Some m ->
            for i in 0 .. m.Length - 1 do
                for j in 0 .. m[i].Length - 1 do
                    if m[i][j] = 0.0 && wIn[i][j] <> 0.0 then yield sprintf "masked w_in[%d][%d] = %g" i j (wIn[i][j])
        | None -> ()
        match c.OutputMask with
        | Some m ->
            for i in 0 .. m.Length - 1 do
                for j in 0 .. m[i].Length - 1 do
                    if m[i][j] = 0.0 && wOut[i][j] <> 0.0 then yield sprintf "masked w_out[%d][%d] = %g" i j (wOut[i][j])
        | None -> ()
    }
    |> Seq.tryHead

/// The effective W_in, W_rec, W_out of a network as arrays.
let effectiveMatrices (net: Network) =
    let v = Network.values net |> Map.ofList
    let m name =
        match v[name] with
        | ParameterValue.Matrix m -> m
        | ParameterValue.Vector _ -> failwithf "%s is not a matrix" name
    m "w_in", m "w_rec", m "w_out"

/// A point's right eigenvectors; fails the test when the point has no linearisation.
let eigenvectorsOf (p: FixedPoint) =
    match p.Linearisation with
    | Some l -> l.Eigenvectors
    | None -> failtestf "fixed point %d has no linearisation" p.Id

/// A point's Jacobian; fails the test when the point has no linearisation.
let jacobianOf (p: FixedPoint) =
    match p.Linearisation with
    | Some l -> l.Jacobian
    | None -> failtestf "fixed point %d has no linearisation" p.Id

/// W = 2I with every unit driven by the one input (w_in = 1): F(x, u) = tanh(2x + u) coordinate by
/// coordinate, so the fixed points move with the input (27 of them for |u| < 0.53).
let drivenIdentity (units: int) =
    use plain = Network.scaledIdentity Kinds.rnn units 2.0
    let values = Network.values plain |> Map.ofList |> Map.add "w_in" (ParameterValue.Matrix(Array.init units (fun _ -> [| 1.0 |])))
    Network.ofValues Kinds.rnn { NetworkConfig.defaults with InputSize = 1; Units = units; OutputSize = units; Precision = Precision.Float64 } values

/// The fixed points of `drivenIdentity 3` under each input, numbered apart (ids from 0 up, input by input).
let drivenPoints (net: Network) (inputs: float list) =
    inputs
    |> List.map (fun u -> (FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| u |]) (InitialStates.uniformBox 1024 -1.5 1.5 (Network.stateSize net) 0)).FixedPoints)
    |> Array.concat
    |> Array.mapi (fun i p -> { p with Id = i })
