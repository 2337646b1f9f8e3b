namespace RnnFun

open System
open System.Collections.Generic
open System.IO
open System.Text.Json
open TorchSharp

/// The PyTorch module a state_dict belongs to.
[<RequireQualifiedAccess>]
type TorchArchitecture =
    /// torch.nn.RNN (tanh, one layer, either batch_first), with an optional torch.nn.Linear readout.
    | Rnn
    /// torch.nn.GRU (one layer), with an optional torch.nn.Linear readout.
    | Gru
    /// torch.nn.LSTM (one layer, no proj_size), with an optional torch.nn.Linear readout.
    | Lstm
    /// pyrnn's RNN: w_in, w_rec (with the recurrent bias), w_out.
    | PyrnnRnn
    /// pyrnn's CTRNN: pyrnn's RNN layers with dt and tau (pyrnn's defaults 5 and 100).
    | PyrnnCtrnn

/// How to read a PyTorch file.
type TorchImportOptions =
    { Architecture: TorchArchitecture
      /// pyrnn's params JSON (dt, tau, dale_ratio, autopses, the connectivity masks, w_in_train,
      /// w_out_train). Only for the pyrnn architectures; None: pyrnn's defaults.
      Params: string option
      /// The key prefix of the recurrent module ("rnn." for keys rnn.weight_ih_l0; "" for none), or of
      /// pyrnn's module. None: found from the keys' suffixes when that is unambiguous.
      RnnPrefix: string option
      /// The key prefix of the torch.nn.Linear readout ("readout." for readout.weight). None: the one
      /// other `weight` key of the file, if there is exactly one; no such key: no readout.
      ReadoutPrefix: string option
      /// The nn.RNN's nonlinearity, which a state_dict does not record: only "tanh" is supported.
      Nonlinearity: string
      /// Import the weights without pyrnn's dale_ratio, autopses and masks (pyrnn keeps Dale's law
      /// and autapses only at initialisation, so a trained pyrnn network can break them).
      DropConstraints: bool
      Precision: Precision }

    /// The options for an architecture: prefixes found from the keys, tanh, float32.
    static member defaults(architecture: TorchArchitecture) =
        { Architecture = architecture
          Params = None
          RnnPrefix = None
          ReadoutPrefix = None
          Nonlinearity = "tanh"
          DropConstraints = false
          Precision = Precision.Float32 }

/// The layout an exported network's keys follow.
[<RequireQualifiedAccess>]
type TorchLayout =
    /// torch.nn.RNN / GRU / LSTM keys under `RnnPrefix`, and a torch.nn.Linear's under `ReadoutPrefix`.
    | Torch
    /// pyrnn's RNN / CTRNN keys (w_in, w_rec, w_out), with pyrnn's params JSON beside the file.
    | Pyrnn

/// How to write a PyTorch file.
type TorchExportOptions =
    { /// None: pyrnn's for a ctrnn, torch's for rnn, gru and lstm.
      Layout: TorchLayout option
      /// Prefix of the recurrent module's keys (torch layout).
      RnnPrefix: string
      /// Prefix of the readout's keys (torch layout).
      ReadoutPrefix: string
      /// Where pyrnn's params JSON goes (pyrnn layout). None: beside the file, NAME.params.json.
      ParamsPath: string option
      /// Torch layout: write the readout to this file of its own, as a bare torch.nn.Linear's
      /// state_dict (weight, bias), and only the recurrent module's keys to the main file; with
      /// `RnnPrefix` "" each file then loads strictly into a bare nn.GRU (RNN, LSTM) and nn.Linear.
      /// None: both in the main file.
      ReadoutPath: string option }

    /// Torch keys under "rnn." and "readout." (a module with members rnn and readout), pyrnn's
    /// layout for a ctrnn.
    static member defaults =
        { Layout = None; RnnPrefix = "rnn."; ReadoutPrefix = "readout."; ParamsPath = None; ReadoutPath = None }

/// One tensor of a PyTorch file, as plain data.
type TorchTensor =
    { Name: string
      Shape: int[]
      /// Row-major values, as float64.
      Values: float[] }

/// PyTorch interop: import a state_dict (`torch.save(model.state_dict())` .pt files, and .safetensors)
/// of torch.nn.RNN / GRU / LSTM with an optional Linear readout, or of pyrnn's RNN / CTRNN, as a
/// network; export rnn, gru, lstm and ctrnn networks the other way (docs/formats.md). Files are read
/// and written with TorchSharp.PyBridge.
[<RequireQualifiedAccess>]
module TorchFile =
    let private fail (path: string) (problem: string) = raise (FileFormatError(path, problem))

    let private shapeText (shape: int[]) = "[" + String.Join("; ", shape) + "]"

    /// The architecture named as on the command line: rnn, gru, lstm, pyrnn-rnn, pyrnn-ctrnn.
    let architectureOf (name: string) : TorchArchitecture =
        match (if isNull name then "" else name.Trim().ToLowerInvariant()) with
        | "rnn" -> TorchArchitecture.Rnn
        | "gru" -> TorchArchitecture.Gru
        | "lstm" -> TorchArchitecture.Lstm
        | "pyrnn-rnn" -> TorchArchitecture.PyrnnRnn
        | "pyrnn-ctrnn" -> TorchArchitecture.PyrnnCtrnn
        | _ -> Check.fail "arch" (sprintf "expected rnn, gru, lstm, pyrnn-rnn or pyrnn-ctrnn, got '%s'" name)

    /// The name of an architecture, as `architectureOf` reads it.
    let architectureName (a: TorchArchitecture) =
        match a with
        | TorchArchitecture.Rnn -> "rnn"
        | TorchArchitecture.Gru -> "gru"
        | TorchArchitecture.Lstm -> "lstm"
        | TorchArchitecture.PyrnnRnn -> "pyrnn-rnn"
        | TorchArchitecture.PyrnnCtrnn -> "pyrnn-ctrnn"

    let private moduleName (a: TorchArchitecture) =
        match a with
        | TorchArchitecture.Rnn -> "torch.nn.RNN"
        | TorchArchitecture.Gru -> "torch.nn.GRU"
        | TorchArchitecture.Lstm -> "torch.nn.LSTM"
        | TorchArchitecture.PyrnnRnn -> "pyrnn RNN"
        | TorchArchitecture.PyrnnCtrnn -> "pyrnn CTRNN"

    // ---------------------------------------------------------------- reading files

    let private isSafetensors (bytes: byte[]) (length: int64) =
        bytes.Length >= 9
        && (let n = BitConverter.ToUInt64(bytes, 0) in n > 0UL && n < uint64 length && bytes[8] = byte '{')

    let private toPlain (name: string) (t: Tensor) : TorchTensor =
        let shape = t.shape |> Array.map int
        let values =
            match t.dtype with
            | torch.ScalarType.Float16
            | torch.ScalarType.BFloat16
            | torch.ScalarType.Float32
            | torch.ScalarType.Float64 -> Arrays.ofTensor t
            | other -> Check.fail name (sprintf "holds %A values; a network's weights are floating-point" other)
        { Name = name; Shape = shape; Values = values }

    /// Every tensor of a .pt state_dict or a .safetensors file, as plain data, sorted by name. The
    /// format is told from the content (a zip archive or a safetensors header), not from the name.
    /// Raises `FileFormatError` naming the file: missing, neither format, a pickled whole module, a
    /// value that is not a floating-point tensor.
    let read (path: string) : TorchTensor list =
        NativeRuntime.ensure ()
        if not (File.Exists path) then fail path "file not found"
        let head, length =
            try
                use fs = File.OpenRead path
                let buffer = Array.zeroCreate<byte> (int (min fs.Length 16L))
                fs.ReadExactly(buffer, 0, buffer.Length)
                buffer, fs.Length
            with e -> fail path ("cannot read the file: " + e.Message)
        use _ = torch.NewDisposeScope()
        let loaded: (string * Tensor) list =
            if head.Length >= 4 && head[0] = 0x50uy && head[1] = 0x4Buy && head[2] = 3uy && head[3] = 4uy then
                let table =
                    try TorchSharp.PyBridge.PyTorchUnpickler.UnpickleStateDict path
                    with
                    | :? NotImplementedException ->
                        fail path "holds a pickled whole module (torch.save(model)); RnnFun reads state_dicts: save one with torch.save(model.state_dict(), path)"
                    | e -> fail path (sprintf "cannot read it as a PyTorch state_dict: %s" e.Message)
                [ for key in table.Keys ->
                      let name = string key
                      match table[key] with
                      | :? Tensor as t -> name, t
                      | v -> fail path (sprintf "%s: holds a %s, not a tensor; RnnFun reads state_dicts of tensors" name (if isNull v then "null" else v.GetType().Name)) ]
            elif isSafetensors head length then
                let dict =
                    try TorchSharp.PyBridge.Safetensors.LoadStateDict(path, null)
                    with e -> fail path (sprintf "cannot read it as a safetensors file: %s" e.Message)
                [ for KeyValue (k, v) in dict -> k, v ]
            elif head.Length >= 2 && head[0] = 0x80uy then
                fail path "is a .pt file in PyTorch's legacy (pre-1.6, non-zip) format; save it again with torch.save(state_dict, path) in PyTorch 1.6 or later"
            else
                fail path "is neither a PyTorch .pt file (torch.save(model.state_dict(), path)) nor a .safetensors file"
        let plain =
            try loaded |> List.map (fun (name, t) -> toPlain name t)
            with InvalidArgument (name, problem) -> fail path (sprintf "%s: %s" name problem)
        plain |> List.sortBy (fun t -> t.Name)

    // ---------------------------------------------------------------- import

    let private normalisePrefix (p: string) =
        if isNull p then "" elif p = "" || p.EndsWith "." then p else p + "."

    let private keyList (tensors: TorchTensor list) =
        tensors |> List.map (fun t -> sprintf "%s %s" t.Name (shapeText t.Shape)) |> fun l -> String.Join(", ", l)

    /// The prefix P of the keys P + suffix: the one given, else the only one the file has.
    let private findPrefix path (tensors: TorchTensor list) (given: string option) (suffix: string) (what: string) (option: string) =
        match given with
        | Some p ->
            let p = normalisePrefix p
            if not (tensors |> List.exists (fun t -> t.Name = p + suffix)) then
                fail path (sprintf "has no key %s (the file holds: %s)" (p + suffix) (keyList tensors))
            p
        | None ->
            let prefixes =
                tensors
                |> List.choose (fun t ->
                    if t.Name = suffix then Some ""
                    elif t.Name.EndsWith("." + suffix) then Some(t.Name.Substring(0, t.Name.Length - suffix.Length))
                    else None)
                |> List.distinct
            match prefixes with
            | [ p ] -> p
            | [] -> fail path (sprintf "holds no %s: no key ends in %s (the file holds: %s)" what suffix (keyList tensors))
            | many ->
                fail path (sprintf "holds several %ss (key prefixes %s): name one with %s (the file holds: %s)" what (String.Join(", ", many |> List.map (fun p -> "'" + p + "'"))) option (keyList tensors))

    /// A [rows; cols] matrix as rows.
    let private rowsOf (t: TorchTensor) : float[][] =
        let cols = t.Shape[1]
        Array.init t.Shape[0] (fun i -> Array.sub t.Values (i * cols) cols)

    let private expectShape path (t: TorchTensor) (shape: int[]) (what: string) =
        if t.Shape <> shape then
            fail path (sprintf "%s has shape %s; %s needs %s" t.Name (shapeText t.Shape) what (shapeText shape))

    let private expectRank path (t: TorchTensor) (rank: int) =
        if t.Shape.Length <> rank then
            fail path (sprintf "%s has shape %s; expected a %s" t.Name (shapeText t.Shape) (if rank = 1 then "vector" else "matrix"))

    /// What each role of the kind takes from the file (role, value), and the network built from it.
    let private build path (kind: Kind) (config: NetworkConfig) (byRole: (Role -> ParameterValue option)) (hint: string) =
        let specs = Network.specs kind config
        let values =
            specs
            |> List.map (fun spec ->
                match byRole spec.Role with
                | Some v -> spec.Name, v
                | None -> fail path (sprintf "nothing in the file maps to %s's parameter %s" kind.Name spec.Name))
            |> Map.ofList
        try Network.ofValues kind config values
        with InvalidArgument (argument, problem) -> fail path (sprintf "%s: %s%s" argument problem hint)

    let private zeros n = ParameterValue.Vector(Array.zeroCreate n)
    let private vectorOf (t: TorchTensor) = ParameterValue.Vector(Array.copy t.Values)

    /// Keys of the recurrent module beyond one forward layer: further layers, the reverse direction, a projection.
    let private unsupportedKeys path (arch: TorchArchitecture) (prefix: string) (tensors: TorchTensor list) =
        let rx = Text.RegularExpressions.Regex(@"^(weight|bias)_(ih|hh|hr)_l(\d+)(_reverse)?$")
        let own =
            tensors
            |> List.choose (fun t ->
                if t.Name.StartsWith prefix then
                    let m = rx.Match(t.Name.Substring prefix.Length)
                    if m.Success then Some(t.Name, m) else None
                else None)
        let m = moduleName arch
        match own |> List.filter (fun (_, g) -> g.Groups[4].Success) with
        | (name, _) :: _ -> fail path (sprintf "holds a bidirectional %s (key %s); RnnFun imports one-directional networks (bidirectional=False)" m name)
        | [] -> ()
        match own |> List.filter (fun (_, g) -> g.Groups[3].Value <> "0") with
        | ((name, _) :: _) as deeper ->
            let layers = 1 + (deeper |> List.map (fun (_, g) -> int g.Groups[3].Value) |> List.max)
            fail path (sprintf "holds a %d-layer %s (key %s); RnnFun imports one-layer networks (num_layers=1)" layers m name)
        | [] -> ()
        match own |> List.filter (fun (_, g) -> g.Groups[2].Value = "hr") with
        | (name, _) :: _ -> fail path (sprintf "holds an LSTM with proj_size > 0 (key %s); RnnFun imports LSTMs without a projection (proj_size=0)" name)
        | [] -> ()

    let private importTorch path (options: TorchImportOptions) (tensors: TorchTensor list) : Network =
        let arch = options.Architecture
        let gates, kind =
            match arch with
            | TorchArchitecture.Rnn -> 1, Kinds.rnn
            | TorchArchitecture.Gru -> 3, Kinds.gru
            | _ -> 4, Kinds.lstm
        let m = moduleName arch
        if arch = TorchArchitecture.Rnn && options.Nonlinearity.Trim().ToLowerInvariant() <> "tanh" then
            fail path (sprintf "an nn.RNN with nonlinearity='%s' is not supported: RnnFun's rnn kind is tanh (a state_dict does not record the nonlinearity, so import takes tanh)" options.Nonlinearity)
        let prefix = findPrefix path tensors options.RnnPrefix "weight_ih_l0" (m + " module") "--rnn-prefix (RnnPrefix)"
        unsupportedKeys path arch prefix tensors
        let byName = tensors |> List.map (fun t -> t.Name, t) |> Map.ofList
        let get suffix = byName |> Map.tryFind (prefix + suffix)
        let wIh = (get "weight_ih_l0").Value
        let wHh =
            match get "weight_hh_l0" with
            | Some t -> t
            | None -> fail path (sprintf "has %sweight_ih_l0 but no %sweight_hh_l0 (the file holds: %s)" prefix prefix (keyList tensors))
        expectRank path wIh 2
        expectRank path wHh 2
        let rows = wIh.Shape[0]
        if rows % gates <> 0 then
            fail path (sprintf "%s has %d rows, not a multiple of %d: a %s stacks %d gate blocks (is it another architecture's file?)" wIh.Name rows gates m gates)
        let h = rows / gates
        let inputs = wIh.Shape[1]
        expectShape path wHh [| gates * h; h |] (sprintf "a %s with %d units" m h)
        let bIh, bHh = get "bias_ih_l0", get "bias_hh_l0"
        match bIh, bHh with
        | Some b, None | None, Some b -> fail path (sprintf "has %s but not the other bias of the %s (bias_ih_l0 and bias_hh_l0 come together)" b.Name m)
        | _ -> ()
        for b in [ bIh; bHh ] |> List.choose id do expectShape path b [| gates * h |] (sprintf "a %s with %d units" m h)
        // The readout: the one Linear's weight outside the recurrent module.
        let ownNames = set [ for s in [ "weight_ih_l0"; "weight_hh_l0"; "bias_ih_l0"; "bias_hh_l0" ] -> prefix + s ]
        let readoutPrefix =
            match options.ReadoutPrefix with
            | Some p -> Some(findPrefix path tensors (Some p) "weight" "readout" "--readout-prefix (ReadoutPrefix)")
            | None ->
                let candidates =
                    tensors
                    |> List.filter (fun t -> not (ownNames.Contains t.Name) && (t.Name = "weight" || t.Name.EndsWith ".weight"))
                    |> List.map (fun t -> t.Name.Substring(0, t.Name.Length - "weight".Length))
                match candidates with
                | [] -> None
                | [ p ] -> Some p
                | many ->
                    fail path (sprintf "holds several Linear-like weights (%s): name the readout with --readout-prefix (ReadoutPrefix) (the file holds: %s)" (String.Join(", ", many |> List.map (fun p -> p + "weight"))) (keyList tensors))
        let readoutW, readoutB =
            match readoutPrefix with
            | Some p ->
                let w = byName[p + "weight"]
                expectRank path w 2
                if w.Shape[1] <> h then
                    fail path (sprintf "%s has shape %s; a Linear readout of %d units needs [outputs; %d]" w.Name (shapeText w.Shape) h h)
                let b = byName |> Map.tryFind (p + "bias")
                b |> Option.iter (fun b -> expectShape path b [| w.Shape[0] |] (sprintf "the Linear readout %s" w.Name))
                Some w, b
            | None -> None, None
        // Without explicit prefixes every key must be accounted for (else the guess may be wrong).
        if options.RnnPrefix.IsNone && options.ReadoutPrefix.IsNone then
            let used =
                ownNames
                |> Set.union (match readoutPrefix with Some p -> set [ p + "weight"; p + "bias" ] | None -> Set.empty)
            let others = tensors |> List.filter (fun t -> not (used.Contains t.Name))
            if not others.IsEmpty then
                fail path (sprintf "holds keys that are neither the %s's nor a Linear readout's (%s): name the prefixes with --rnn-prefix and --readout-prefix (RnnPrefix, ReadoutPrefix) (the file holds: %s)" m (String.Join(", ", others |> List.map (fun t -> t.Name))) (keyList tensors))
        let outputs = match readoutW with Some w -> w.Shape[0] | None -> h
        let config =
            { NetworkConfig.defaults with
                InputSize = inputs
                Units = h
                OutputSize = outputs
                InputBias = (arch = TorchArchitecture.Rnn && bIh.IsSome)
                OutputBias = readoutB.IsSome
                Precision = options.Precision }
        // A torch module trains all its weights; without a readout the identity stands in for one.
        let specs = Network.specs kind config
        let config = { config with Trainable = specs |> List.map (fun s -> s.Name, (s.Role <> Role.Output || readoutW.IsSome)) |> Map.ofList }
        let identity = ParameterValue.Matrix(Array.init h (fun i -> Array.init h (fun j -> if i = j then 1.0 else 0.0)))
        let byRole (role: Role) =
            match role with
            | Role.Input | Role.InputBlocks _ -> Some(ParameterValue.Matrix(rowsOf wIh))
            | Role.Recurrent | Role.RecurrentBlocks _ -> Some(ParameterValue.Matrix(rowsOf wHh))
            | Role.InputBias -> Some(bIh |> Option.map vectorOf |> Option.defaultValue (zeros (gates * h)))
            | Role.RecurrentBias -> Some(bHh |> Option.map vectorOf |> Option.defaultValue (zeros (gates * h)))
            | Role.Output -> Some(readoutW |> Option.map (rowsOf >> ParameterValue.Matrix) |> Option.defaultValue identity)
            | Role.OutputBias -> readoutB |> Option.map vectorOf
            | _ -> None
        build path kind config byRole ""

    /// pyrnn's params JSON, the keys RnnFun uses.
    type private PyrnnParams =
        { Dt: float; Tau: float; Constraints: Constraints; WInTrain: bool; WOutTrain: bool; Sizes: (string * int) list }

    let private readPyrnnParams (path: string option) (ct: bool) : PyrnnParams =
        let defaults = { Dt = 5.0; Tau = 100.0; Constraints = Constraints.none; WInTrain = false; WOutTrain = false; Sizes = [] }
        match path with
        | None -> defaults
        | Some p ->
            JsonRead.file p (fun root ->
                if root.ValueKind <> JsonValueKind.Object then Check.fail "file" "expected a JSON object (pyrnn's params)"
                let opt key = JsonRead.optional root key
                let number key fallback = opt key |> Option.map (JsonRead.number key) |> Option.defaultValue fallback
                let flag key fallback = opt key |> Option.map (JsonRead.boolean key) |> Option.defaultValue fallback
                let dt, tau = number "dt" 5.0, number "tau" 100.0
                if ct then
                    Check.finitePositive "dt" dt
                    Check.finitePositive "tau" tau
                let mask key = opt key |> Option.map (JsonRead.matrix key)
                let constraints =
                    { Constraints.none with
                        Autapses = flag "autopses" true
                        DaleRatio = opt "dale_ratio" |> Option.map (JsonRead.number "dale_ratio")
                        RecurrentMask = mask "connectivity"
                        InputMask = mask "input_connectivity"
                        OutputMask = mask "output_connectivity" }
                let sizes =
                    [ "n_units"; "input_size"; "output_size" ]
                    |> List.choose (fun k -> opt k |> Option.map (fun v -> k, JsonRead.integer k v))
                { Dt = dt; Tau = tau; Constraints = constraints
                  WInTrain = flag "w_in_train" false; WOutTrain = flag "w_out_train" false; Sizes = sizes })

    let private importPyrnn path (options: TorchImportOptions) (tensors: TorchTensor list) : Network =
        let ct = options.Architecture = TorchArchitecture.PyrnnCtrnn
        let m = moduleName options.Architecture
        let p = readPyrnnParams options.Params ct
        let prefix = findPrefix path tensors options.RnnPrefix "w_rec.weight" (m + " module") "--rnn-prefix (RnnPrefix)"
        let byName = tensors |> List.map (fun t -> t.Name, t) |> Map.ofList
        let get key = byName |> Map.tryFind (prefix + key)
        let need key =
            match get key with
            | Some t -> t
            | None -> fail path (sprintf "has no key %s, which a %s always has (the file holds: %s)" (prefix + key) m (keyList tensors))
        let wRec, bRec, wIn, wOut = need "w_rec.weight", need "w_rec.bias", need "w_in.weight", need "w_out.weight"
        for t in [ wRec; wIn; wOut ] do expectRank path t 2
        let units = wRec.Shape[0]
        let what = sprintf "a %s with %d units" m units
        expectShape path wRec [| units; units |] what
        expectShape path bRec [| units |] what
        if wIn.Shape[0] <> units then expectShape path wIn [| units; wIn.Shape[1] |] what
        if wOut.Shape[1] <> units then expectShape path wOut [| wOut.Shape[0]; units |] what
        let bIn, bOut = get "w_in.bias", get "w_out.bias"
        bIn |> Option.iter (fun b -> expectShape path b [| units |] what)
        bOut |> Option.iter (fun b -> expectShape path b [| wOut.Shape[0] |] what)
        let inputs, outputs = wIn.Shape[1], wOut.Shape[0]
        let paramsPath = defaultArg options.Params path
        for (key, value) in p.Sizes do
            let actual = match key with "n_units" -> units | "input_size" -> inputs | _ -> outputs
            if value <> actual then
                fail paramsPath (sprintf "%s: %d, but the weights in %s have %d" key value path actual)
        let kind =
            if ct then Kinds.ctrnnWith { CtrnnConfig.defaults with Dt = p.Dt; Tau = p.Tau }
            else Kinds.rnn
        let config =
            { NetworkConfig.defaults with
                InputSize = inputs
                Units = units
                OutputSize = outputs
                InputBias = bIn.IsSome
                OutputBias = bOut.IsSome
                Constraints = if options.DropConstraints then Constraints.none else p.Constraints
                Trainable =
                    Map.ofList
                        [ "w_in", p.WInTrain; "w_out", p.WOutTrain
                          if bIn.IsSome then "b_in", p.WInTrain
                          if bOut.IsSome then "b_out", p.WOutTrain ]
                Precision = options.Precision }
        let byRole (role: Role) =
            match role with
            | Role.Input -> Some(ParameterValue.Matrix(rowsOf wIn))
            | Role.Recurrent -> Some(ParameterValue.Matrix(rowsOf wRec))
            | Role.RecurrentBias -> Some(vectorOf bRec)
            | Role.Output -> Some(ParameterValue.Matrix(rowsOf wOut))
            | Role.InputBias -> bIn |> Option.map vectorOf
            | Role.OutputBias -> bOut |> Option.map vectorOf
            | _ -> None
        let hint =
            if config.Constraints = Constraints.none then ""
            else " (the params JSON's constraints; pyrnn keeps dale_ratio and autopses only at initialisation, so training can break them: import without them with --drop-constraints, DropConstraints)"
        try build path kind config byRole hint
        with InvalidArgument (argument, problem) -> fail paramsPath (sprintf "%s: %s" argument problem)

    /// Imports a PyTorch state_dict (.pt or .safetensors) as a network (see `TorchImportOptions`).
    /// Every problem with the file raises `FileFormatError` naming it and saying what is supported;
    /// a bad option raises `InvalidArgument`.
    let importWith (options: TorchImportOptions) (path: string) : Network =
        if options.Params.IsSome && not (options.Architecture = TorchArchitecture.PyrnnRnn || options.Architecture = TorchArchitecture.PyrnnCtrnn) then
            Check.fail "params" "a params JSON belongs to pyrnn's networks (pyrnn-rnn, pyrnn-ctrnn)"
        let tensors = read path
        if tensors.IsEmpty then fail path "holds no tensors"
        match options.Architecture with
        | TorchArchitecture.Rnn | TorchArchitecture.Gru | TorchArchitecture.Lstm -> importTorch path options tensors
        | TorchArchitecture.PyrnnRnn | TorchArchitecture.PyrnnCtrnn -> importPyrnn path options tensors

    /// Imports with the architecture's default options (`TorchImportOptions.defaults`).
    let import (architecture: TorchArchitecture) (path: string) : Network =
        importWith (TorchImportOptions.defaults architecture) path

    // ---------------------------------------------------------------- export

    /// NAME.params.json beside NAME.pt.
    let paramsPathOf (path: string) =
        let full = Path.GetFullPath path
        Path.Combine(Path.GetDirectoryName full, Path.GetFileNameWithoutExtension full + ".params.json")

    let private isSafetensorsName (path: string) = path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)

    let private writeTensors (path: string) (entries: (string * Tensor) list) =
        if isSafetensorsName path then
            let dict = Dictionary<string, Tensor>()
            for (k, v) in entries do dict[k] <- v
            FileFormat.writeAtomically path (fun s -> TorchSharp.PyBridge.Safetensors.SaveStateDict(s, dict, true))
        else
            // An ordered dict, so that the file lists the keys as a torch module's state_dict does.
            let dict = Collections.Specialized.OrderedDictionary()
            for (k, v) in entries do dict.Add(k, v)
            FileFormat.writeAtomically path (fun s -> TorchSharp.PyBridge.PyTorchPickler.PickleStateDict(s, dict, true))

    let private writePyrnnParams (path: string) (net: Network) (config: CtrnnConfig option) =
        let c = net.Constraints
        let has role = net.Parameters |> List.exists (fun p -> p.Spec.Role = role)
        let trained role = net.Parameters |> List.exists (fun p -> p.Spec.Role = role && p.Trainable)
        FileFormat.writeAtomically path (fun stream ->
            use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
            let mask (name: string) (m: float[][] option) =
                match m with
                | Some m ->
                    w.WriteStartArray name
                    for row in m do
                        w.WriteStartArray()
                        for v in row do w.WriteNumberValue v
                        w.WriteEndArray()
                    w.WriteEndArray()
                | None -> w.WriteNull name
            w.WriteStartObject()
            w.WriteNumber("n_units", net.Sizes.Units)
            w.WriteNumber("input_size", net.Sizes.Inputs)
            w.WriteNumber("output_size", net.Sizes.Outputs)
            match c.DaleRatio with
            | Some r -> w.WriteNumber("dale_ratio", r)
            | None -> w.WriteNull "dale_ratio"
            w.WriteBoolean("autopses", c.Autapses)
            mask "connectivity" c.RecurrentMask
            mask "input_connectivity" c.InputMask
            mask "output_connectivity" c.OutputMask
            w.WriteBoolean("on_gpu", false)
            w.WriteBoolean("w_in_bias", has Role.InputBias)
            w.WriteBoolean("w_in_train", trained Role.Input)
            w.WriteBoolean("w_out_bias", has Role.OutputBias)
            w.WriteBoolean("w_out_train", trained Role.Output)
            match config with
            | Some cfg ->
                w.WriteNumber("dt", cfg.Dt)
                w.WriteNumber("tau", cfg.Tau)
            | None -> ()
            w.WriteEndObject())

    /// Writes an rnn, gru, lstm or ctrnn network as a PyTorch state_dict: a .safetensors file when
    /// the name ends in .safetensors, a torch.save .pt file otherwise. rnn, gru and lstm take torch's
    /// layout (weight_ih_l0, ... under `RnnPrefix`, the readout as a Linear's weight and bias under
    /// `ReadoutPrefix`), a ctrnn pyrnn's (w_in, w_rec, w_out, with pyrnn's params JSON). Returns the
    /// files written. Raises `InvalidArgument` for a network PyTorch has no module for.
    let exportWith (options: TorchExportOptions) (path: string) (net: Network) : string list =
        if String.IsNullOrWhiteSpace path then Check.fail "path" "expected a file name"
        let builtIn = Kinds.isBuiltIn net.Kind
        let ctrnn = if builtIn then Kinds.ctrnnConfig net.Kind else None
        let name = if builtIn then net.Kind.Name else ""
        let layout =
            match options.Layout, name with
            | Some TorchLayout.Pyrnn, ("rnn" | "ctrnn") -> TorchLayout.Pyrnn
            | Some TorchLayout.Pyrnn, _ -> Check.fail "layout" (sprintf "pyrnn's layout holds an rnn or a ctrnn, not a %s" net.Kind.Name)
            | Some TorchLayout.Torch, "ctrnn" -> Check.fail "layout" "torch has no continuous-time module: a ctrnn exports to pyrnn's layout"
            | _, "ctrnn" -> TorchLayout.Pyrnn
            | _, ("rnn" | "gru" | "lstm") -> TorchLayout.Torch
            | _ -> Check.fail "kind" (sprintf "a '%s' network has no PyTorch counterpart: export writes rnn (torch.nn.RNN), gru (torch.nn.GRU), lstm (torch.nn.LSTM) and ctrnn (pyrnn's CTRNN) networks" net.Kind.Name)
        match ctrnn with
        | Some cfg when cfg.Readout = Readout.Rate ->
            Check.fail "readout" "pyrnn's CTRNN reads out its state; this ctrnn reads out rates (tanh of the state), which pyrnn cannot represent"
        | _ -> ()
        NativeRuntime.ensure ()
        use _ = torch.NewDisposeScope()
        let w = Network.weights net
        let specs = net.Parameters |> List.map (fun p -> p.Spec)
        // The effective weight of a role, in the parameter's own shape.
        let byRole (role: Role) = specs |> List.tryFind (fun s -> s.Role = role) |> Option.map (fun s -> w[s.Name].detach().contiguous())
        let required role = (byRole role).Value
        let zerosLike (n: int) = torch.zeros([| int64 n |], dtype = net.Precision.ScalarType) // [n]
        let entries =
            match layout with
            | TorchLayout.Torch ->
                let rp = normalisePrefix options.RnnPrefix
                // A readout in its own file is a bare Linear: no prefix.
                let op = if options.ReadoutPath.IsSome then "" else normalisePrefix options.ReadoutPrefix
                if rp = op && options.ReadoutPath.IsNone then Check.fail "readout_prefix" (sprintf "the readout needs a prefix of its own (both are '%s')" rp)
                let gates = match name with "gru" -> 3 | "lstm" -> 4 | _ -> 1
                let ih = match byRole Role.Input with Some t -> t | None -> required (Role.InputBlocks gates) // [gates * units; inputs]
                let hh = match byRole Role.Recurrent with Some t -> t | None -> required (Role.RecurrentBlocks gates) // [gates * units; units]
                let rows = int ih.shape[0]
                [ rp + "weight_ih_l0", ih
                  rp + "weight_hh_l0", hh
                  // nn.RNN's bias_ih is the input bias (zeros when the network has none).
                  rp + "bias_ih_l0", (match byRole Role.InputBias with Some b -> b | None -> zerosLike rows)
                  rp + "bias_hh_l0", required Role.RecurrentBias
                  op + "weight", required Role.Output
                  // nn.Linear has a bias by default: zeros when the network has none.
                  op + "bias", (match byRole Role.OutputBias with Some b -> b | None -> zerosLike net.Sizes.Outputs) ]
            | TorchLayout.Pyrnn ->
                [ yield "w_in.weight", required Role.Input
                  match byRole Role.InputBias with
                  | Some b -> yield "w_in.bias", b
                  | None -> ()
                  yield "w_rec.weight", required Role.Recurrent
                  yield "w_rec.bias", required Role.RecurrentBias
                  yield "w_out.weight", required Role.Output
                  match byRole Role.OutputBias with
                  | Some b -> yield "w_out.bias", b
                  | None -> () ]
        match layout, options.ReadoutPath with
        | TorchLayout.Pyrnn, Some _ -> Check.fail "readout_path" "pyrnn's layout keeps the readout in the module's file"
        | TorchLayout.Torch, Some readoutPath ->
            if Path.GetFullPath readoutPath = Path.GetFullPath path then Check.fail "readout_path" "expected a file other than the module's"
            // The readout's two keys are the last two entries (weight, bias).
            let moduleEntries, readoutEntries = List.splitAt (entries.Length - 2) entries
            writeTensors path moduleEntries
            writeTensors readoutPath readoutEntries
            [ Path.GetFullPath path; Path.GetFullPath readoutPath ]
        | TorchLayout.Torch, None ->
            writeTensors path entries
            [ Path.GetFullPath path ]
        | TorchLayout.Pyrnn, None ->
            writeTensors path entries
            let paramsPath = defaultArg options.ParamsPath (paramsPathOf path)
            writePyrnnParams paramsPath net ctrnn
            [ Path.GetFullPath path; Path.GetFullPath paramsPath ]

    /// `exportWith TorchExportOptions.defaults`.
    let export (path: string) (net: Network) : string list = exportWith TorchExportOptions.defaults path net
