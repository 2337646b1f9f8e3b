namespace RnnFun

open System
open System.IO
open System.IO.Compression
open System.Text

/// Trials of your own, checked: from a NumPy file (`TrialFile.load`) or from arrays (`Trials.create`,
/// `Trials.ofArrays`). Plain data, row-major, batch-first.
type TrialData =
    { /// [trials; time; inputs]
      Inputs: float32[]
      /// [trials; time; outputs]; None: inputs only (enough to run a network on them, not to train one).
      Targets: float32[] option
      /// [trials; time; outputs], or [trials; time] (one weight per step): the weight of each target
      /// value in the loss (0 ignores it); None: every value counts.
      Mask: float32[] option
      /// Each trial's length in steps, 1..Time: the steps from it on are padding, outside the loss and
      /// outside the states a fixed-point search starts from. None: every trial has Time steps.
      Lengths: int[] option
      Trials: int
      Time: int
      InputSize: int
      /// 0 without targets.
      OutputSize: int }

/// Trials of your own: checking arrays, turning them into a training `Batch`, splitting off
/// validation trials, and the network states within each trial's length.
[<RequireQualifiedAccess>]
module Trials =
    /// The names of the arrays a trial file holds, in this order: inputs (required), targets
    /// (required for training), mask and lengths (optional).
    let arrayNames = [ "inputs"; "targets"; "mask"; "lengths" ]

    let private shapeText (shape: int[]) =
        match shape with
        | [| one |] -> sprintf "(%d,)" one
        | _ -> "(" + String.Join(", ", shape) + ")"

    /// The index [i, j, k] of a flat row-major position in an array of a shape.
    let private indexText (shape: int[]) (flat: int) =
        let index = Array.zeroCreate shape.Length
        let mutable rest = flat
        for d in shape.Length - 1 .. -1 .. 0 do
            index[d] <- rest % max 1 shape[d]
            rest <- rest / max 1 shape[d]
        "[" + String.Join(", ", index) + "]"

    /// Checks named arrays (name, shape and row-major values, as a file holds them) and makes trials
    /// of them. Raises `InvalidArgument` naming the array at fault: an unknown or missing array, a
    /// shape that does not fit the others, an empty array, NaN or infinite values, a negative or
    /// all-zero mask, lengths that are not whole numbers in 1..time.
    let ofNamed (arrays: (string * ArrayFile.NumericArray) list) : TrialData =
        for (name, _) in arrays do
            if not (List.contains name arrayNames) then
                let hint = if name.StartsWith "arr_" then " (numpy.savez names positional arrays arr_0, arr_1, ...: pass them by name, numpy.savez(path, inputs=x, targets=y))" else ""
                Check.fail name (sprintf "unknown array '%s'%s: a trial file holds %s" name hint (String.Join(", ", arrayNames)))
        match arrays |> List.countBy fst |> List.tryFind (fun (_, n) -> n > 1) with
        | Some (name, _) -> Check.fail name (sprintf "the array '%s' is given twice" name)
        | None -> ()
        let find name = arrays |> List.tryFind (fun (n, _) -> n = name) |> Option.map snd
        let inputs =
            match find "inputs" with
            | Some a -> a
            | None ->
                let held = if arrays.IsEmpty then "no arrays" else String.Join(", ", arrays |> List.map fst)
                Check.fail "inputs" (sprintf "no array 'inputs' [trials; time; inputs] (found %s)" held)
        let finite name (a: ArrayFile.NumericArray) =
            match a.Values |> Array.tryFindIndex (fun v -> not (Double.IsFinite v)) with
            | Some i -> Check.fail name (sprintf "'%s' holds %g at %s: NaN and infinite values are refused" name a.Values[i] (indexText a.Shape i))
            | None -> ()
        if inputs.Shape.Length <> 3 then
            Check.fail "inputs" (sprintf "'inputs' has shape %s: expected 3 dimensions [trials; time; inputs]" (shapeText inputs.Shape))
        let trials, time, inputSize = inputs.Shape[0], inputs.Shape[1], inputs.Shape[2]
        if trials = 0 || time = 0 || inputSize = 0 then
            Check.fail "inputs" (sprintf "'inputs' has shape %s: expected at least one trial, one step and one input" (shapeText inputs.Shape))
        finite "inputs" inputs
        let targets = find "targets"
        let outputs =
            match targets with
            | None -> 0
            | Some y ->
                if y.Shape.Length <> 3 || y.Shape[0] <> trials || y.Shape[1] <> time then
                    Check.fail "targets" (sprintf "'targets' has shape %s but 'inputs' %s: expected (%d, %d, outputs), the inputs' trials and steps" (shapeText y.Shape) (shapeText inputs.Shape) trials time)
                if y.Shape[2] = 0 then Check.fail "targets" (sprintf "'targets' has shape %s: expected at least one output" (shapeText y.Shape))
                finite "targets" y
                y.Shape[2]
        let lengths =
            find "lengths"
            |> Option.map (fun l ->
                if l.Shape <> [| trials |] then
                    Check.fail "lengths" (sprintf "'lengths' has shape %s: expected (%d,), one length per trial of 'inputs'" (shapeText l.Shape) trials)
                l.Values
                |> Array.mapi (fun i v ->
                    if not (Double.IsFinite v) || v <> Math.Round v || v < 1.0 || v > float time then
                        Check.fail "lengths" (sprintf "'lengths'[%d] is %g: expected a whole number of steps in 1..%d (the inputs' time steps)" i v time)
                    int v))
        let mask =
            find "mask"
            |> Option.map (fun m ->
                if targets.IsNone then Check.fail "mask" "'mask' is given without 'targets': it weights the targets in the loss"
                let full = [| trials; time; outputs |]
                if m.Shape <> full && m.Shape <> [| trials; time |] then
                    Check.fail "mask" (sprintf "'mask' has shape %s: expected the targets' shape %s, or (%d, %d) for one weight per step" (shapeText m.Shape) (shapeText full) trials time)
                finite "mask" m
                match m.Values |> Array.tryFindIndex (fun v -> v < 0.0) with
                | Some i -> Check.fail "mask" (sprintf "'mask' holds %g at %s: expected weights >= 0" m.Values[i] (indexText m.Shape i))
                | None -> ()
                m)
        // A loss with no weight anywhere trains nothing (and would read as a perfect fit).
        match targets with
        | Some _ ->
            let width = match mask with Some m when m.Shape.Length = 3 -> outputs | _ -> 1
            let weight trial t k =
                let inLength = match lengths with Some l -> t < l[trial] | None -> true
                if not inLength then 0.0
                else match mask with Some m -> m.Values[(trial * time + t) * width + k] | None -> 1.0
            let anyWeight =
                seq { for trial in 0 .. trials - 1 do for t in 0 .. time - 1 do for k in 0 .. width - 1 -> weight trial t k }
                |> Seq.exists (fun w -> w > 0.0)
            if not anyWeight then
                Check.fail "mask" "the mask is zero everywhere within the trials' lengths: no target would count in the loss"
        | None -> ()
        { Inputs = inputs.Values |> Array.map float32
          Targets = targets |> Option.map (fun y -> y.Values |> Array.map float32)
          Mask = mask |> Option.map (fun m -> m.Values |> Array.map float32)
          Lengths = lengths
          Trials = trials
          Time = time
          InputSize = inputSize
          OutputSize = outputs }

    let private numeric (a: float32[,,]) : ArrayFile.NumericArray =
        { Shape = [| Array3D.length1 a; Array3D.length2 a; Array3D.length3 a |]
          Values = [| for i in 0 .. Array3D.length1 a - 1 do for j in 0 .. Array3D.length2 a - 1 do for k in 0 .. Array3D.length3 a - 1 -> float a[i, j, k] |] }

    /// Trials from arrays: inputs [trials; time; inputs], targets [trials; time; outputs], a mask of the
    /// targets' shape and each trial's length (each optional but the inputs). Checked as `ofNamed`.
    let create (inputs: float32[,,]) (targets: float32[,,] option) (mask: float32[,,] option) (lengths: int[] option) : TrialData =
        if isNull inputs then Check.fail "inputs" "expected an array, got null"
        ofNamed
            [ yield "inputs", numeric inputs
              match targets with Some y -> yield "targets", numeric y | None -> ()
              match mask with Some m -> yield "mask", numeric m | None -> ()
              match lengths with Some l -> yield "lengths", { Shape = [| l.Length |]; Values = Array.map float l } | None -> () ]

    /// Trials from a `Batch` (a task's, or one of your own) and optional lengths.
    let ofBatch (lengths: int[] option) (b: Batch) : TrialData =
        Batch.validate "batch" b
        let arr (shape: int[]) (values: float32[]) : ArrayFile.NumericArray = { Shape = shape; Values = Array.map float values }
        ofNamed
            [ yield "inputs", arr [| b.Trials; b.Time; b.InputSize |] b.Inputs
              yield "targets", arr [| b.Trials; b.Time; b.OutputSize |] b.Targets
              match b.Mask with
              | Some m when m.Length = b.Trials * b.Time -> yield "mask", arr [| b.Trials; b.Time |] m
              | Some m -> yield "mask", arr [| b.Trials; b.Time; b.OutputSize |] m
              | None -> ()
              match lengths with Some l -> yield "lengths", { Shape = [| l.Length |]; Values = Array.map float l } | None -> () ]

    /// The trials as a training batch: the mask is the data's mask with every step at or beyond a
    /// trial's length set to 0 (a [trials; time] mask when the data's mask is per step or absent).
    /// Raises `InvalidArgument "targets"` for trials without targets.
    let toBatch (data: TrialData) : Batch =
        let targets =
            match data.Targets with
            | Some y -> y
            | None -> Check.fail "targets" "the trials have no targets [trials; time; outputs]: training needs them"
        let within trial t = match data.Lengths with Some l -> t < l[trial] | None -> true
        let mask =
            match data.Mask, data.Lengths with
            | None, None -> None
            | Some m, None -> Some m
            | m, Some _ ->
                let width = match m with Some m when m.Length <> data.Trials * data.Time -> data.OutputSize | _ -> 1
                Some(Array.init (data.Trials * data.Time * width) (fun i ->
                    let step = i / width
                    if within (step / data.Time) (step % data.Time) then (match m with Some m -> m[i] | None -> 1.0f) else 0.0f))
        { Inputs = data.Inputs
          Targets = targets
          Mask = mask
          Trials = data.Trials
          Time = data.Time
          InputSize = data.InputSize
          OutputSize = data.OutputSize }

    /// The given trials, in that order.
    let select (trials: int[]) (data: TrialData) : TrialData =
        for i in trials do
            if i < 0 || i >= data.Trials then Check.fail "trials" (sprintf "trial %d is out of range 0..%d" i (data.Trials - 1))
        let gather (a: float32[]) = let width = a.Length / data.Trials in trials |> Array.collect (fun i -> Array.sub a (i * width) width)
        { data with
            Inputs = gather data.Inputs
            Targets = data.Targets |> Option.map gather
            Mask = data.Mask |> Option.map gather
            Lengths = data.Lengths |> Option.map (fun l -> trials |> Array.map (fun i -> l[i]))
            Trials = trials.Length }

    /// (training, validation): a seeded random `fraction` of the trials (rounded, at least one) held
    /// out for validation, the rest for training (at least one), each in the file's order.
    let split (fraction: float) (seed: int) (data: TrialData) : TrialData * TrialData =
        if not (fraction > 0.0 && fraction < 1.0) then Check.fail "validation_split" (sprintf "expected a fraction in (0, 1), got %g" fraction)
        if data.Trials < 2 then Check.fail "validation_split" (sprintf "the data holds %d trial: at least 2 are needed to hold some out" data.Trials)
        let held = max 1 (min (data.Trials - 1) (int (Math.Round(fraction * float data.Trials))))
        let random = Random(seed)
        let order = Array.init data.Trials id
        for i in order.Length - 1 .. -1 .. 1 do
            let j = random.Next(i + 1)
            let tmp = order[i]
            order[i] <- order[j]
            order[j] <- tmp
        let validation = Array.sub order 0 held |> Array.sort
        let training = Array.sub order held (data.Trials - held) |> Array.sort
        select training data, select validation data

    /// Checks that trials fit a network: its inputs per step and, when the trials have targets, its
    /// outputs. Raises `InvalidArgument(name, ...)`.
    let checkFits (name: string) (net: Network) (data: TrialData) =
        if data.InputSize <> net.Sizes.Inputs then
            Check.fail name (sprintf "the trials have %d inputs per step but the network has %d" data.InputSize net.Sizes.Inputs)
        if data.Targets.IsSome && data.OutputSize <> net.Sizes.Outputs then
            Check.fail name (sprintf "the trials have %d outputs per step (targets) but the network has %d" data.OutputSize net.Sizes.Outputs)

    /// The network run over the trials' inputs (padding included: a step never depends on later ones).
    let trajectories (initialState: float[] option) (net: Network) (data: TrialData) : Trajectories =
        if data.InputSize <> net.Sizes.Inputs then
            Check.fail "trials" (sprintf "the trials have %d inputs per step but the network has %d" data.InputSize net.Sizes.Inputs)
        let batch =
            { Inputs = data.Inputs
              Targets = Array.zeroCreate (data.Trials * data.Time * net.Sizes.Outputs)
              Mask = None
              Trials = data.Trials
              Time = data.Time
              InputSize = data.InputSize
              OutputSize = net.Sizes.Outputs }
        Pipeline.trajectories initialState net batch

    /// The states of a run over the trials within each trial's length: [states][units], trial after
    /// trial (for `InitialStates.fromStates`).
    let statesWithin (data: TrialData) (run: Trajectories) : float[][] =
        if run.States.Length <> data.Trials then
            Check.fail "trajectories" (sprintf "expected %d trials (the data's), got %d" data.Trials run.States.Length)
        run.States
        |> Array.mapi (fun trial states ->
            match data.Lengths with
            | Some l -> Array.truncate l[trial] states
            | None -> states)
        |> Array.concat

    /// A network for trials of your own, as `rnnfun train --data` makes it: a 64-unit network of the
    /// data's sizes with an output bias, W_in, W_out and b_out trained besides the recurrence.
    let networkConfig (seed: int) (data: TrialData) : NetworkConfig =
        { NetworkConfig.defaults with
            InputSize = data.InputSize
            Units = 64
            OutputSize = (if data.OutputSize > 0 then data.OutputSize else 1)
            OutputBias = true
            Seed = int64 seed
            Trainable = Map.ofList [ "w_in", true; "w_out", true; "b_out", true ] }

    /// Training settings for trials of your own, as `rnnfun train --data` uses them: Adam lr 1e-3,
    /// batch 64, 100 epochs (each one pass over the trials), global-norm clipping at 1.
    let fitConfig (seed: int) : FitConfig =
        { FitConfig.defaults with Clipping = GradientClipping.GlobalNorm 1.0; Seed = seed }

/// Trial files: NumPy `.npz` archives (`numpy.savez`, `numpy.savez_compressed`) holding arrays named
/// inputs, targets, mask and lengths (docs/formats.md), or a `.npy` file of inputs alone.
[<RequireQualifiedAccess>]
module TrialFile =
    let private fail path problem = raise (FileFormatError(path, problem))

    let private readBytes (path: string) =
        try File.ReadAllBytes path
        with
        | :? FileNotFoundException | :? DirectoryNotFoundException -> fail path "no such file"
        | :? UnauthorizedAccessException -> fail path "no permission to read it"
        | :? IOException as e -> fail path ("cannot read the file: " + e.Message)

    /// The named arrays of a `.npz` file (its `NAME.npy` members, stored or deflated), or of a `.npy`
    /// file (one array, named inputs). Raises `FileFormatError` naming the file and the problem.
    let readArrays (path: string) : (string * ArrayFile.NumericArray) list =
        let bytes = readBytes path
        if bytes.Length = 0 then fail path "the file is empty"
        let isZip = bytes.Length >= 4 && bytes[0] = byte 'P' && bytes[1] = byte 'K'
        let isNpy = bytes.Length >= 6 && bytes[0] = 0x93uy && Encoding.ASCII.GetString(bytes, 1, 5) = "NUMPY"
        if isNpy then [ "inputs", ArrayFile.parseNpy path "" bytes ]
        elif isZip then
            use archive =
                try new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read)
                with e -> fail path ("not a readable .npz (zip) archive: " + e.Message)
            [ for entry in archive.Entries do
                if not (entry.FullName.EndsWith "/") then
                    if not (entry.FullName.EndsWith(".npy", StringComparison.Ordinal)) then
                        fail path (sprintf "the archive holds '%s', which is not a .npy member: a trial file is written by numpy.savez" entry.FullName)
                    let name = entry.FullName.Substring(0, entry.FullName.Length - 4)
                    let content =
                        try
                            use s = entry.Open()
                            use m = new MemoryStream()
                            s.CopyTo m
                            m.ToArray()
                        with e -> fail path (sprintf "array '%s': cannot be unpacked (%s)" name e.Message)
                    yield name, ArrayFile.parseNpy path (sprintf "array '%s': " name) content ]
        else fail path "neither a .npz archive nor a .npy file (save with numpy.savez or numpy.save)"

    /// Reads and checks a trial file (`Trials.ofNamed`): a `.npz` of inputs, targets, mask and lengths,
    /// or a `.npy` of inputs alone. Every problem raises `FileFormatError` naming the file and saying
    /// what is wrong in one sentence.
    let load (path: string) : TrialData =
        let arrays = readArrays path
        if arrays.IsEmpty then fail path "the archive holds no arrays (expected inputs and targets)"
        try Trials.ofNamed arrays
        with InvalidArgument (_, problem) -> fail path problem

    /// `load`, for training: the file must hold targets.
    let loadForTraining (path: string) : TrialData =
        let data = load path
        if data.Targets.IsNone then
            let what = if path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) then "a .npy file holds one array (the inputs)" else "no array 'targets'"
            fail path (sprintf "%s: training needs targets [trials; time; outputs]; save them with numpy.savez(path, inputs=x, targets=y)" what)
        data

    let private npyBytes (shape: int[]) (descr: string) (writeValues: BinaryWriter -> unit) =
        use m = new MemoryStream()
        use w = new BinaryWriter(m)
        let shapeText = match shape with [| one |] -> sprintf "(%d,)" one | _ -> "(" + String.Join(", ", shape) + ")"
        let dict = sprintf "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" descr shapeText
        // The header, newline included, pads the data start to a multiple of 64 (NumPy's layout).
        let total = (10 + dict.Length + 1 + 63) / 64 * 64
        let header = dict.PadRight(total - 10 - 1) + "\n"
        w.Write(0x93uy)
        w.Write(Encoding.ASCII.GetBytes "NUMPY")
        w.Write(1uy)
        w.Write(0uy)
        w.Write(uint16 header.Length)
        w.Write(Encoding.ASCII.GetBytes header)
        writeValues w
        w.Flush()
        m.ToArray()

    /// Writes trials as a `.npz` archive NumPy reads (`numpy.load(path)`): float32 inputs, targets
    /// and mask, int64 lengths; only the arrays the data has. Written atomically.
    let save (path: string) (data: TrialData) =
        let floats (values: float32[]) = fun (w: BinaryWriter) -> for v in values do w.Write v
        let members =
            [ yield "inputs", npyBytes [| data.Trials; data.Time; data.InputSize |] "<f4" (floats data.Inputs)
              match data.Targets with Some y -> yield "targets", npyBytes [| data.Trials; data.Time; data.OutputSize |] "<f4" (floats y) | None -> ()
              match data.Mask with
              | Some m when m.Length = data.Trials * data.Time -> yield "mask", npyBytes [| data.Trials; data.Time |] "<f4" (floats m)
              | Some m -> yield "mask", npyBytes [| data.Trials; data.Time; data.OutputSize |] "<f4" (floats m)
              | None -> ()
              match data.Lengths with Some l -> yield "lengths", npyBytes [| l.Length |] "<i8" (fun w -> for v in l do w.Write(int64 v)) | None -> () ]
        FileFormat.writeAtomically path (fun stream ->
            use archive = new ZipArchive(stream, ZipArchiveMode.Create, true)
            for (name, bytes) in members do
                let entry = archive.CreateEntry(name + ".npy", CompressionLevel.NoCompression)
                use s = entry.Open()
                s.Write(bytes, 0, bytes.Length))
