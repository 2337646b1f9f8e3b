module RnnFun.Tests.TorchFileTests

open System
open System.IO
open System.Text.Json
open Expecto
open TorchSharp
open RnnFun

let private repositoryRoot =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then failwith "RnnFun.sln not found above the test binaries"
        elif File.Exists(Path.Combine(dir.FullName, "RnnFun.sln")) then dir.FullName
        else up dir.Parent
    lazy (up (DirectoryInfo(AppContext.BaseDirectory)))

/// tests/fixtures/pytorch/NAME, written by make_fixtures.py with PyTorch itself.
let private fixture (name: string) = Path.Combine(repositoryRoot.Force(), "tests", "fixtures", "pytorch", name)

/// A nested JSON array of numbers, flattened row-major, and its shape.
let rec private flatten (e: JsonElement) : float list =
    match e.ValueKind with
    | JsonValueKind.Array -> [ for x in e.EnumerateArray() do yield! flatten x ]
    | _ -> [ e.GetDouble() ]

let rec private shapeOf (e: JsonElement) : int64 list =
    match e.ValueKind with
    | JsonValueKind.Array -> int64 (e.GetArrayLength()) :: (if e.GetArrayLength() > 0 then shapeOf e[0] else [])
    | _ -> []

/// What PyTorch computed for a fixture: input [batch; time; inputs], outputs, states [batch; time; state], final state [batch; state].
type private Expected =
    { Input: float[]; InputShape: int64[]; Outputs: float[]; States: float[]; FinalState: float[]; Root: JsonDocument }

let private expected (name: string) =
    let doc = JsonDocument.Parse(File.ReadAllText(fixture (name + ".json")))
    let r = doc.RootElement
    let get (key: string) = r.GetProperty key
    { Input = flatten (get "input") |> Array.ofList
      InputShape = shapeOf (get "input") |> Array.ofList
      Outputs = flatten (get "outputs") |> Array.ofList
      States = flatten (get "states") |> Array.ofList
      FinalState = flatten (get "final_state") |> Array.ofList
      Root = doc }

/// Runs the network on the fixture's input; outputs, states and the last state as float64 arrays.
let private runOn (net: Network) (e: Expected) =
    use _ = torch.NewDisposeScope()
    let x = Arrays.toTensor net.Precision e.InputShape e.Input // [batch; time; inputs]
    use run = Network.unroll net x
    let last = run.States.select(1L, run.States.shape[1] - 1L) // [batch; state]
    values run.Outputs, values run.States, values last

let private expectClose (actual: float[]) (wanted: float[]) (tolerance: float) (what: string) =
    Expect.equal actual.Length wanted.Length (what + ": length")
    let d = maxAbsDiff actual wanted
    Expect.isLessThanOrEqual d tolerance (sprintf "%s: max |RnnFun - PyTorch| = %g" what d)

let private matchesPyTorch (name: string) (net: Network) =
    let e = expected name
    let outputs, states, last = runOn net e
    expectClose outputs e.Outputs 1e-5 (name + " outputs")
    expectClose states e.States 1e-5 (name + " states")
    expectClose last e.FinalState 1e-5 (name + " final state")

let private fixtureCases =
    [ "rnn", TorchArchitecture.Rnn, None
      "rnn_bare_time_first", TorchArchitecture.Rnn, None
      "gru", TorchArchitecture.Gru, None
      "lstm", TorchArchitecture.Lstm, None
      "pyrnn_rnn", TorchArchitecture.PyrnnRnn, Some "pyrnn_rnn.params.json"
      "pyrnn_ctrnn", TorchArchitecture.PyrnnCtrnn, Some "pyrnn_ctrnn.params.json"
      "pyrnn_ctrnn_defaults", TorchArchitecture.PyrnnCtrnn, None ]

let private importFixture (file: string) arch (paramsFile: string option) =
    TorchFile.importWith { TorchImportOptions.defaults arch with Params = paramsFile |> Option.map fixture } (fixture file)

/// The problem of the FileFormatError that importing raises, checked to be one line.
let private importError (file: string) (options: TorchImportOptions) =
    let _, problem = expectFileError (fun () -> TorchFile.importWith options (fixture file)) file
    Expect.isFalse (problem.Contains '\n') "one line"
    problem

// ---------------------------------------------------------------- the live round trip

/// /usr/bin/python3 (or $RNNFUN_PYTHON) with torch (Debian's python3-torch), or why there is none.
let private python =
    lazy
        (let exe =
            match Environment.GetEnvironmentVariable "RNNFUN_PYTHON" with
            | null | "" -> "/usr/bin/python3"
            | p -> p
         if not (File.Exists exe) then Error(sprintf "%s is missing (Debian: apt-get install python3-torch)" exe)
         else
             try
                 let info = Diagnostics.ProcessStartInfo(exe, [ "-c"; "import torch; print(torch.__version__)" ], RedirectStandardOutput = true, RedirectStandardError = true)
                 use p = Diagnostics.Process.Start info
                 let out = p.StandardOutput.ReadToEnd()
                 let err = p.StandardError.ReadToEnd()
                 p.WaitForExit()
                 if p.ExitCode = 0 then Ok(exe, out.Trim())
                 else Error(sprintf "%s cannot import torch (Debian: apt-get install python3-torch): %s" exe (err.Trim().Split('\n') |> Array.last))
             with e -> Error(sprintf "%s did not run: %s" exe e.Message))

/// Skips with the reason printed on stderr (so the log shows it), when PyTorch is not there.
let private needPython () =
    match python.Force() with
    | Ok (exe, _) -> exe
    | Error why ->
        eprintfn "SKIPPED (PyTorch round trip): %s" why
        skiptestf "no PyTorch: %s" why

let private runPython (exe: string) (args: string list) =
    let info = Diagnostics.ProcessStartInfo(exe, args, RedirectStandardOutput = true, RedirectStandardError = true)
    info.Environment["OMP_NUM_THREADS"] <- "1"
    // roundtrip.py imports make_fixtures.py: no bytecode cache in the repository.
    info.Environment["PYTHONDONTWRITEBYTECODE"] <- "1"
    use p = Diagnostics.Process.Start info
    let err = p.StandardError.ReadToEndAsync()
    let out = p.StandardOutput.ReadToEnd()
    p.WaitForExit()
    if p.ExitCode <> 0 then failtestf "python %s failed (exit %d): %s %s" (String.Join(" ", args)) p.ExitCode out err.Result
    out

let private liveNetworks () =
    let config = { NetworkConfig.defaults with InputSize = 3; Units = 8; OutputSize = 2; Seed = 11L }
    [ "rnn", TorchArchitecture.Rnn, Network.create Kinds.rnn { config with InputBias = true; OutputBias = true }
      "gru", TorchArchitecture.Gru, Network.create Kinds.gru { config with OutputBias = true }
      "lstm", TorchArchitecture.Lstm, Network.create Kinds.lstm config
      "ctrnn", TorchArchitecture.PyrnnCtrnn,
      Network.create (Kinds.ctrnnWith { CtrnnConfig.defaults with Dt = 10.0; Tau = 40.0 })
          { config with InputBias = true; Constraints = { Constraints.none with Autapses = false; DaleRatio = Some 0.75 } } ]

[<Tests>]
let tests =
    testList "TorchFile" [
        testList "fixtures made by PyTorch" [
            for (name, arch, paramsFile) in fixtureCases do
                for ext in [ ".pt"; ".safetensors" ] do
                    test (sprintf "%s%s imports and matches PyTorch's outputs and states to 1e-5" name ext) {
                        use net = importFixture (name + ext) arch paramsFile
                        matchesPyTorch name net
                    }
        ]

        test "the imported networks are what the files say" {
            use rnn = importFixture "rnn.pt" TorchArchitecture.Rnn None
            Expect.equal rnn.Kind.Name "rnn" "nn.RNN is an rnn"
            Expect.equal rnn.Sizes { Inputs = 3; Units = 5; Outputs = 2 } "sizes from the shapes"
            // bias_ih -> the input bias, bias_hh -> the recurrent bias, by role.
            let v = Network.values rnn |> Map.ofList
            let sd = TorchFile.read (fixture "rnn.pt") |> List.map (fun t -> t.Name, t.Values) |> Map.ofList
            Expect.equal v["b_in"] (ParameterValue.Vector sd["rnn.bias_ih_l0"]) "b_in = bias_ih_l0"
            Expect.equal v["b_rec"] (ParameterValue.Vector sd["rnn.bias_hh_l0"]) "b_rec = bias_hh_l0"
            Expect.isTrue (rnn.Parameters |> List.forall (fun p -> p.Trainable)) "a torch module trains every weight"
            use bare = importFixture "rnn_bare_time_first.pt" TorchArchitecture.Rnn None
            Expect.equal bare.Sizes.Outputs 5 "no readout: the outputs are the states"
            use ct = importFixture "pyrnn_ctrnn.pt" TorchArchitecture.PyrnnCtrnn (Some "pyrnn_ctrnn.params.json")
            Expect.equal (Kinds.ctrnnConfig ct.Kind) (Some { Dt = 10.0; Tau = 50.0; Readout = Readout.State }) "dt and tau from the params"
            Expect.equal ct.Constraints.DaleRatio (Some 0.6) "dale_ratio"
            Expect.isFalse ct.Constraints.Autapses "autopses"
            use ctDefault = importFixture "pyrnn_ctrnn_defaults.pt" TorchArchitecture.PyrnnCtrnn None
            Expect.equal (Kinds.ctrnnConfig ctDefault.Kind) (Some CtrnnConfig.defaults) "pyrnn's dt = 5, tau = 100"
            use py = importFixture "pyrnn_rnn.pt" TorchArchitecture.PyrnnRnn (Some "pyrnn_rnn.params.json")
            Expect.isSome py.Constraints.InputMask "input_connectivity is the input mask"
            let flags = py.Parameters |> List.map (fun p -> p.Spec.Name, p.Trainable) |> Map.ofList
            Expect.equal (flags["w_in"], flags["w_out"], flags["b_out"], flags["w_rec"]) (false, true, true, true) "w_in_train, w_out_train"
        }

        testList "what is refused, in one sentence" [
            let gru = TorchImportOptions.defaults TorchArchitecture.Gru
            test "a multi-layer network" {
                let p = importError "errors/rnn_two_layers.pt" (TorchImportOptions.defaults TorchArchitecture.Rnn)
                Expect.stringContains p "2-layer" "says the layers"
                Expect.stringContains p "one-layer" "says what is supported"
            }
            test "a bidirectional network" {
                Expect.stringContains (importError "errors/gru_bidirectional.pt" gru) "bidirectional" "says bidirectional"
            }
            test "an LSTM with a projection" {
                Expect.stringContains (importError "errors/lstm_projection.pt" (TorchImportOptions.defaults TorchArchitecture.Lstm)) "proj_size" "says proj_size"
            }
            test "a non-tanh nn.RNN" {
                let p = importError "rnn.pt" { TorchImportOptions.defaults TorchArchitecture.Rnn with Nonlinearity = "relu" }
                Expect.stringContains p "nonlinearity='relu'" "names the nonlinearity"
                Expect.stringContains p "tanh" "says what is supported"
            }
            test "a pickled whole module" {
                Expect.stringContains (importError "errors/gru_whole_module.pt" gru) "torch.save(model.state_dict()" "says how to save a state_dict"
            }
            test "a wrong shape" {
                let p = importError "errors/gru_bad_readout_shape.pt" gru
                Expect.stringContains p "readout.weight has shape [2; 6]" "names the key and its shape"
            }
            test "another architecture's file" {
                Expect.stringContains (importError "gru.pt" (TorchImportOptions.defaults TorchArchitecture.Lstm)) "not a multiple of 4" "gate blocks"
                let p = importError "pyrnn_rnn.pt" gru
                Expect.stringContains p "no key ends in weight_ih_l0" "says what is missing"
                Expect.stringContains p "w_rec.weight [5; 5]" "lists the file's keys"
            }
            test "two recurrent modules: the error lists the keys, a named prefix picks one" {
                let p = importError "errors/gru_two_modules.pt" gru
                Expect.stringContains p "'decoder.', 'encoder.'" "names the prefixes"
                Expect.stringContains p "--rnn-prefix" "says how to choose"
                Expect.stringContains p "encoder.weight_hh_l0 [15; 5]" "lists the keys"
                use net = TorchFile.importWith { gru with RnnPrefix = Some "encoder" } (fixture "errors/gru_two_modules.pt")
                Expect.equal net.Sizes { Inputs = 3; Units = 5; Outputs = 2 } "encoder with the readout"
                let p = importError "gru.pt" { gru with RnnPrefix = Some "encoder." }
                Expect.stringContains p "has no key encoder.weight_ih_l0" "a wrong prefix"
            }
            test "not a PyTorch file, a missing file, a params JSON for torch" {
                Expect.stringContains (importError "gru.json" gru) "neither a PyTorch .pt file" "JSON is not a .pt"
                Expect.stringContains (importError "missing.pt" gru) "file not found" "missing"
                expectInvalid (fun () -> importFixture "gru.pt" TorchArchitecture.Gru (Some "pyrnn_rnn.params.json")) "params for gru" |> ignore
            }
            test "pyrnn weights that break the params' constraints, unless dropped" {
                withTempDir (fun dir ->
                    let paramsPath = Path.Combine(dir, "p.json")
                    // pyrnn_rnn's w_rec has a non-zero diagonal: autopses = false does not hold.
                    File.WriteAllText(paramsPath, """{ "autopses": false, "dt": 5 }""")
                    let options = { TorchImportOptions.defaults TorchArchitecture.PyrnnRnn with Params = Some paramsPath }
                    let _, p = expectFileError (fun () -> TorchFile.importWith options (fixture "pyrnn_rnn.pt")) "autapses"
                    Expect.stringContains p "--drop-constraints" "says how to import anyway"
                    use net = TorchFile.importWith { options with DropConstraints = true } (fixture "pyrnn_rnn.pt")
                    Expect.isTrue net.Constraints.Autapses "imported without the constraint"
                    File.WriteAllText(paramsPath, """{ "n_units": 7 }""")
                    let _, p = expectFileError (fun () -> TorchFile.importWith options (fixture "pyrnn_rnn.pt")) "sizes"
                    Expect.stringContains p "n_units: 7, but the weights" "sizes are checked")
            }
        ]

        testList "export" [
            let config = { NetworkConfig.defaults with InputSize = 2; Units = 4; OutputSize = 3; Seed = 5L }
            for (kind, arch, cfg) in
                [ Kinds.rnn, TorchArchitecture.Rnn, { config with InputBias = true }
                  Kinds.rnn, TorchArchitecture.Rnn, config
                  Kinds.gru, TorchArchitecture.Gru, { config with OutputBias = true }
                  Kinds.lstm, TorchArchitecture.Lstm, config
                  Kinds.ctrnnWith { CtrnnConfig.defaults with Dt = 2.0 }, TorchArchitecture.PyrnnCtrnn,
                  { config with OutputBias = true; Constraints = { Constraints.none with DaleRatio = Some 0.5; Autapses = false } } ] do
                for ext in [ ".pt"; ".safetensors" ] do
                    test (sprintf "%s%s (b_in %b, b_out %b) exports and imports back with the same weights and outputs" kind.Name ext cfg.InputBias cfg.OutputBias) {
                        withTempDir (fun dir ->
                            use net = Network.create kind cfg
                            let path = Path.Combine(dir, "net" + ext)
                            let written = TorchFile.export path net
                            let paramsPath = if arch = TorchArchitecture.PyrnnCtrnn then Some(Path.Combine(dir, "net.params.json")) else None
                            Expect.equal written ([ Some path; paramsPath ] |> List.choose id) "the files written"
                            use back = TorchFile.importWith { TorchImportOptions.defaults arch with Params = paramsPath } path
                            Expect.equal back.Kind.Name kind.Name "kind"
                            Expect.equal back.Kind.Settings net.Kind.Settings "settings"
                            Expect.equal back.Sizes net.Sizes "sizes"
                            if arch = TorchArchitecture.PyrnnCtrnn then Expect.equal back.Constraints net.Constraints "constraints through the params"
                            let ours = Network.values net |> Map.ofList
                            let theirs = Network.values back |> Map.ofList
                            Expect.equal (theirs |> Map.filter (fun name _ -> ours.ContainsKey name)) ours "bit-identical weights"
                            // The biases torch's modules always have (nn.RNN's bias_ih, nn.Linear's bias) come back as zeros.
                            for KeyValue (name, v) in theirs do
                                if not (ours.ContainsKey name) then
                                    Expect.equal v (ParameterValue.Vector(Array.zeroCreate (match v with ParameterValue.Vector a -> a.Length | _ -> -1))) (name + " is zero")
                            use _ = torch.NewDisposeScope()
                            let x = randomInputs 3 2 7 2 Precision.Float32 // [batch; time; inputs]
                            use a = Network.unroll net x
                            use b = Network.unroll back x
                            Expect.isTrue (sameTensor a.Outputs b.Outputs) "identical outputs")
                    }
            test "an rnn in pyrnn's layout, and a float64 network, come back as they were" {
                withTempDir (fun dir ->
                    use net = Network.create Kinds.rnn { config with OutputBias = true; Precision = Precision.Float64; Constraints = { Constraints.none with Autapses = false } }
                    let path = Path.Combine(dir, "py.pt")
                    let written = TorchFile.exportWith { TorchExportOptions.defaults with Layout = Some TorchLayout.Pyrnn } path net
                    Expect.equal (TorchFile.read path |> List.map (fun t -> t.Name)) [ "w_in.weight"; "w_out.bias"; "w_out.weight"; "w_rec.bias"; "w_rec.weight" ] "pyrnn's keys"
                    use back =
                        TorchFile.importWith
                            { TorchImportOptions.defaults TorchArchitecture.PyrnnRnn with Params = Some written[1]; Precision = Precision.Float64 }
                            path
                    Expect.equal back.Precision Precision.Float64 "float64"
                    Expect.isFalse back.Constraints.Autapses "autopses through the params"
                    Expect.equal (Network.values back) (Network.values net) "bit-identical float64 weights")
            }
            test "kinds PyTorch has no module for are refused" {
                use ugrnn = Network.create Kinds.ugrnn config
                let arg, p = expectInvalid (fun () -> TorchFile.export "x.pt" ugrnn) "ugrnn"
                Expect.equal arg "kind" "names the kind"
                Expect.stringContains p "rnn (torch.nn.RNN), gru (torch.nn.GRU), lstm (torch.nn.LSTM) and ctrnn" "says what is supported"
                use rate = Network.create (Kinds.ctrnnWith { CtrnnConfig.defaults with Readout = Readout.Rate }) config
                expectInvalid (fun () -> TorchFile.export "x.pt" rate) "rate readout" |> ignore
                Expect.isFalse (File.Exists "x.pt") "nothing written"
            }
        ]

        test "a pyrnn CTRNN fixture analysed end to end: fixed points of the import equal those of the same weights built natively" {
            use imported = importFixture "pyrnn_ctrnn.pt" TorchArchitecture.PyrnnCtrnn (Some "pyrnn_ctrnn.params.json")
            // The same weights as plain numbers (from the fixture's JSON), built with RnnFun's own constructor.
            let e = expected "pyrnn_ctrnn"
            let w = e.Root.RootElement.GetProperty "weights"
            let matrix (key: string) = [| for row in w.GetProperty(key).EnumerateArray() -> [| for v in row.EnumerateArray() -> v.GetDouble() |] |]
            let vector (key: string) = [| for v in w.GetProperty(key).EnumerateArray() -> v.GetDouble() |]
            use native =
                Network.ofValues (Kinds.ctrnnWith { CtrnnConfig.defaults with Dt = 10.0; Tau = 50.0 })
                    { NetworkConfig.defaults with
                        InputSize = 3; Units = 5; OutputSize = 2; InputBias = true
                        Constraints = { Constraints.none with DaleRatio = Some 0.6; Autapses = false } }
                    (Map.ofList
                        [ "w_in", ParameterValue.Matrix(matrix "w_in.weight"); "b_in", ParameterValue.Vector(vector "w_in.bias")
                          "w_rec", ParameterValue.Matrix(matrix "w_rec.weight"); "b_rec", ParameterValue.Vector(vector "w_rec.bias")
                          "w_out", ParameterValue.Matrix(matrix "w_out.weight") ])
            let find net =
                (FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0; 0.0; 0.0 |]) (InitialStates.uniformBox 256 -3.0 3.0 5 0)).FixedPoints
                |> Array.sortBy (fun p -> p.State)
            let a, b = find imported, find native
            Expect.isGreaterThan a.Length 0 "fixed points found"
            Expect.equal a.Length b.Length "as many fixed points"
            for p, q in Array.zip a b do
                expectClose p.State q.State 1e-9 "the same state"
                Expect.equal p.UnstableModes q.UnstableModes "the same stability"
                Expect.equal p.Kind q.Kind "the same kind"
            // The import computes what PyTorch computed, so these are the fixed points of PyTorch's network.
            matchesPyTorch "pyrnn_ctrnn" imported
        }

        testSequenced <| testList "live round trip with PyTorch" [
            test "export -> PyTorch loads and runs it -> RnnFun imports what PyTorch saved" {
                let exe = needPython ()
                withTempDir (fun dir ->
                    let nets = liveNetworks ()
                    try
                        use _ = torch.NewDisposeScope()
                        let x = randomInputs 9 3 10 3 Precision.Float32 // [batch; time; inputs]
                        File.WriteAllText(Path.Combine(dir, "input.json"), JsonSerializer.Serialize(values x))
                        for (name, arch, net) in nets do
                            TorchFile.export (Path.Combine(dir, name + ".pt")) net |> ignore
                            TorchFile.export (Path.Combine(dir, name + ".safetensors")) net |> ignore
                            if arch <> TorchArchitecture.PyrnnCtrnn then
                                let bare = { TorchExportOptions.defaults with RnnPrefix = ""; ReadoutPath = Some(Path.Combine(dir, name + ".readout.pt")) }
                                TorchFile.exportWith bare (Path.Combine(dir, name + ".bare.pt")) net |> ignore
                        let out = runPython exe [ fixture "roundtrip.py"; dir; "3"; "10"; "3"; "8"; "2" ]
                        printfn "%s" (out.Trim())
                        for (name, arch, net) in nets do
                            use ours = Network.unroll net x
                            for ext in [ "pt"; "safetensors" ] do
                                let theirs = JsonSerializer.Deserialize<float[]>(File.ReadAllText(Path.Combine(dir, sprintf "%s.%s.outputs.json" name ext)))
                                expectClose theirs (values ours.Outputs) 1e-5 (sprintf "%s.%s: PyTorch's outputs" name ext)
                            if arch <> TorchArchitecture.PyrnnCtrnn then
                                let bare = JsonSerializer.Deserialize<float[]>(File.ReadAllText(Path.Combine(dir, name + ".bare.outputs.json")))
                                expectClose bare (values ours.Outputs) 1e-5 (name + ": a bare torch module and Linear load the two files strictly")
                            // What PyTorch itself wrote (torch.save of its module's state_dict) imports back.
                            let paramsPath = if arch = TorchArchitecture.PyrnnCtrnn then Some(Path.Combine(dir, name + ".params.json")) else None
                            use back = TorchFile.importWith { TorchImportOptions.defaults arch with Params = paramsPath } (Path.Combine(dir, name + ".resaved.pt"))
                            use again = Network.unroll back x
                            Expect.isTrue (sameTensor again.Outputs ours.Outputs) (name + ": PyTorch's file imports with identical outputs")
                    finally
                        for (_, _, net) in nets do (net :> IDisposable).Dispose())
            }
        ]
    ]
