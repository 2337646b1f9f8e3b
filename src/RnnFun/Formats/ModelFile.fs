namespace RnnFun

open System
open System.IO
open System.Text.Json

/// The model file format `rnnfun.model`, version 1 (docs/formats.md).
[<RequireQualifiedAccess>]
module ModelFile =
    [<Literal>]
    let Format = "rnnfun.model"

    [<Literal>]
    let Version = 1

    let private writeMatrix (w: Utf8JsonWriter) (single: bool) (m: float[][]) =
        w.WriteStartArray()
        for row in m do
            w.WriteStartArray()
            for v in row do
                if single then w.WriteNumberValue(float32 v) else w.WriteNumberValue(v)
            w.WriteEndArray()
        w.WriteEndArray()

    let private writeVector (w: Utf8JsonWriter) (single: bool) (v: float[]) =
        w.WriteStartArray()
        for x in v do
            if single then w.WriteNumberValue(float32 x) else w.WriteNumberValue(x)
        w.WriteEndArray()

    /// Writes the network to a stream in the model format.
    let write (stream: Stream) (net: Network) =
        let single = net.Precision = Precision.Float32
        use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
        w.WriteStartObject()
        w.WriteString("format", Format)
        w.WriteNumber("version", Version)
        w.WriteString("kind", net.Kind.Name)
        w.WriteNumber("input_size", net.Sizes.Inputs)
        w.WriteNumber("n_units", net.Sizes.Units)
        w.WriteNumber("output_size", net.Sizes.Outputs)
        for (name, setting) in net.Kind.Settings do
            match setting with
            | KindSetting.Number v -> w.WriteNumber(name, v)
            | KindSetting.Text t -> w.WriteString(name, t)
        let c = net.Constraints
        w.WriteStartObject("constraints")
        w.WriteBoolean("autapses", c.Autapses)
        match c.DaleRatio with
        | Some r -> w.WriteNumber("dale_ratio", r)
        | None -> w.WriteNull("dale_ratio")
        let mask name (m: float[][] option) =
            match m with
            | Some m ->
                w.WritePropertyName(name: string)
                writeMatrix w false m
            | None -> w.WriteNull(name: string)
        mask "input_mask" c.InputMask
        mask "recurrent_mask" c.RecurrentMask
        mask "output_mask" c.OutputMask
        match c.UnitSigns with
        | Some s ->
            w.WritePropertyName "unit_signs"
            writeVector w false (s |> Array.map float)
        | None -> ()
        w.WriteEndObject()
        let specNames = (net.Kind.Parameters net.Sizes |> List.map (fun s -> s.Name))
        let present = net.Parameters |> List.map (fun p -> p.Spec.Name, p) |> Map.ofList
        w.WriteStartObject("trainable")
        for name in specNames do
            let flag = match present |> Map.tryFind name with Some p -> p.Trainable | None -> false
            w.WriteBoolean(name, flag)
        w.WriteEndObject()
        let values = Network.values net |> Map.ofList
        w.WriteStartObject("weights")
        for name in specNames do
            match values |> Map.tryFind name with
            | Some (ParameterValue.Matrix m) ->
                w.WritePropertyName name
                writeMatrix w single m
            | Some (ParameterValue.Vector v) ->
                w.WritePropertyName name
                writeVector w single v
            | None -> w.WriteNull(name)
        w.WriteEndObject()
        w.WriteEndObject()
        w.Flush()

    /// Saves a network to a model file, atomically. A network with NaN or Inf weights is refused
    /// (`InvalidArgument`), and the previous file stays as it was.
    let save (path: string) (net: Network) =
        // A file names its kind; one that only borrowed a built-in name would read back as the built-in.
        if Kinds.builtIn |> List.exists (fun k -> k.Name = net.Kind.Name) && not (Kinds.isBuiltIn net.Kind) then
            Check.fail "kind" (sprintf "this network's kind is named '%s' like a built-in kind but has another step, so its file would load as the built-in kind: give the kind a name of its own" net.Kind.Name)
        for (name, value) in Network.values net do
            match value with
            | ParameterValue.Matrix m -> Check.allFinite name (Seq.concat m)
            | ParameterValue.Vector v -> Check.allFinite name v
        FileFormat.writeAtomically path (fun s -> write s net)

    /// A checkpoint for `FitHooks.OnBest`: writes the best weights so far to this model file
    /// whenever they improve (atomically: a crash leaves the previous best whole).
    let saveBest (path: string) : Network -> unit = fun net -> save path net

    let private prop (e: JsonElement) (name: string) = JsonRead.optional e name
    let private required (e: JsonElement) (name: string) = JsonRead.required e name name
    let private number = JsonRead.number
    let private integer = JsonRead.integer
    let private boolean = JsonRead.boolean
    let private vector = JsonRead.vector
    let private matrix = JsonRead.matrix
    let private onlyKeys = JsonRead.onlyKeys

    /// Rounds values to the precision they will be computed in, so that the constraint check and
    /// the network see the same numbers; a value that overflows float32 is reported.
    let private toPrecision name (single: bool) (v: float) =
        if single then
            let f = float32 v
            if Single.IsInfinity f then Check.fail name (sprintf "%g does not fit in float32" v)
            float f
        else v

    /// The kind a model file names, among the given kinds, with the settings the file holds for it
    /// (`Kind.WithSettings`): its setting names are those of the listed kind's `Settings`.
    let private kindOf (kinds: Kind list) (root: JsonElement) : Kind =
        let kindName =
            match required root "kind" with
            | k when k.ValueKind = JsonValueKind.String -> k.GetString()
            | k -> Check.fail "kind" (sprintf "expected a string, got %s" (k.GetRawText()))
        match kinds |> List.tryFind (fun k -> k.Name = kindName) with
        | None ->
            let known = kinds |> List.map (fun k -> k.Name) |> List.distinct
            Check.fail "kind" (sprintf "unknown kind '%s' (this program knows: %s; pass a kind of your own to ModelFile.loadWith)" kindName (String.Join(", ", known)))
        | Some listed ->
            let settings =
                listed.Settings
                |> List.choose (fun (name, _) ->
                    match prop root name with
                    | None -> None
                    | Some e when e.ValueKind = JsonValueKind.Number -> Some(name, KindSetting.Number(e.GetDouble()))
                    | Some e when e.ValueKind = JsonValueKind.String -> Some(name, KindSetting.Text(e.GetString()))
                    | Some e -> Check.fail name (sprintf "expected a number or a string, got %s" (e.GetRawText())))
            match listed.WithSettings with
            | None ->
                // A kind that cannot be rebuilt from settings must have the file's settings already.
                for (name, value) in listed.Settings do
                    match settings |> List.tryFind (fun (n, _) -> n = name) with
                    | Some (_, inFile) when inFile <> value ->
                        Check.fail name (sprintf "the file has %A but the kind '%s' given to the reader has %A and no WithSettings to rebuild it" inFile kindName value)
                    | _ -> ()
                listed
            | Some withSettings ->
                let kind =
                    try withSettings settings with
                    | InvalidArgument _ -> reraise ()
                    | e -> Check.fail "kind" (sprintf "kind '%s' could not be rebuilt from the file's settings: %s" kindName e.Message)
                if kind.Name <> kindName then
                    Check.fail "kind" (sprintf "kind '%s' rebuilt from its settings gives a kind named '%s': a kind derived from another must set its own WithSettings" kindName kind.Name)
                kind

    /// Reads a network from a parsed version-1 document. Raises `InvalidArgument` for a bad field.
    let private ofJson (kinds: Kind list) (precision: Precision) (root: JsonElement) : Network =
        let kind = kindOf kinds root
        let inputs = integer "input_size" (required root "input_size")
        let units = integer "n_units" (required root "n_units")
        let outputs = integer "output_size" (required root "output_size")
        Check.positive "input_size" inputs
        Check.positive "n_units" units
        Check.positive "output_size" outputs
        let constraints =
            match prop root "constraints" with
            | None -> Constraints.none
            | Some c ->
                onlyKeys "constraints" [ "autapses"; "dale_ratio"; "input_mask"; "recurrent_mask"; "output_mask"; "unit_signs" ] c
                let mask name = prop c name |> Option.map (matrix name)
                { Autapses = prop c "autapses" |> Option.map (boolean "autapses") |> Option.defaultValue true
                  DaleRatio = prop c "dale_ratio" |> Option.map (number "dale_ratio")
                  InputMask = mask "input_mask"
                  RecurrentMask = mask "recurrent_mask"
                  OutputMask = mask "output_mask"
                  UnitSigns =
                    prop c "unit_signs"
                    |> Option.map (vector "unit_signs" >> Array.map (fun v ->
                        if v <> -1.0 && v <> 0.0 && v <> 1.0 then Check.fail "unit_signs" "expected entries in {-1, 0, 1}"
                        int v)) }
        let sizes = { Inputs = inputs; Units = units; Outputs = outputs }
        let specs = kind.Parameters sizes
        let names = specs |> List.map (fun s -> s.Name)
        let weights = required root "weights"
        onlyKeys "weights" names weights
        let single = precision = Precision.Float32
        let values =
            specs
            |> List.choose (fun spec ->
                let name = spec.Name
                match weights.TryGetProperty name with
                | true, v when v.ValueKind <> JsonValueKind.Null ->
                    let value =
                        if spec.Shape.Length = 2 then ParameterValue.Matrix(matrix name v |> Array.map (Array.map (toPrecision name single)))
                        else ParameterValue.Vector(vector name v |> Array.map (toPrecision name single))
                    Some(name, value)
                | true, _ when spec.Optional -> None
                | false, _ when spec.Optional -> None
                | _ -> Check.fail ("weights." + name) "missing (expected a value)")
            |> Map.ofList
        let trainable =
            match prop root "trainable" with
            | None -> Map.empty
            | Some t ->
                onlyKeys "trainable" names t
                [ for p in t.EnumerateObject() -> p.Name, boolean ("trainable." + p.Name) p.Value ] |> Map.ofList
        // Without a "trainable" object, pyrnn's default: only w_rec and b_rec (the kind's defaults).
        let trainable = trainable |> Map.filter (fun name _ -> values.ContainsKey name)
        let config =
            { NetworkConfig.defaults with
                InputSize = inputs
                Units = units
                OutputSize = outputs
                InputBias = specs |> List.exists (fun s -> s.Optional && s.Role = Role.InputBias && values.ContainsKey s.Name)
                OutputBias = specs |> List.exists (fun s -> s.Optional && s.Role = Role.OutputBias && values.ContainsKey s.Name)
                Constraints = constraints
                Trainable = trainable
                Precision = precision }
        Network.ofValues kind config values

    /// Reads a network from a model file, knowing the given kinds and the built-in ones (`Kinds.builtIn`;
    /// a given kind of the same name is chosen first), in the given precision. Every problem raises
    /// `FileFormatError` naming the file and the problem.
    let loadWith (kinds: Kind list) (precision: Precision) (path: string) : Network =
        FileFormat.loadOf "weights" Format [ Version, ofJson (kinds @ Kinds.builtIn) precision ] path

    /// Reads a network of a built-in kind from a model file, in float32.
    let load (path: string) : Network = loadWith [] Precision.Float32 path
