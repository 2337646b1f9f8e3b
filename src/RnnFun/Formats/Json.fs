namespace RnnFun

open System
open System.IO
open System.Text.Json

/// Strict readers for RnnFun's JSON files: each raises `InvalidArgument` naming the key and what was
/// expected; `JsonRead.file` turns that into a `FileFormatError` naming the file.
[<RequireQualifiedAccess>]
module JsonRead =
    let private kindText (e: JsonElement) = e.ValueKind.ToString().ToLowerInvariant()

    /// The value of a key, or `InvalidArgument(name, "missing key")`.
    let required (e: JsonElement) (key: string) (name: string) =
        match e.TryGetProperty key with
        | true, v -> v
        | _ -> Check.fail name "missing key"

    /// The value of a key when present and not null.
    let optional (e: JsonElement) (key: string) =
        match e.TryGetProperty key with
        | true, v when v.ValueKind <> JsonValueKind.Null -> Some v
        | _ -> None

    let number name (e: JsonElement) =
        match e.ValueKind with
        | JsonValueKind.Number ->
            let v = e.GetDouble()
            if Double.IsNaN v || Double.IsInfinity v then Check.fail name "expected a finite number"
            v
        | _ -> Check.fail name (sprintf "expected a number, got %s" (kindText e))

    let integer name (e: JsonElement) =
        match e.ValueKind with
        | JsonValueKind.Number ->
            match e.TryGetInt32() with
            | true, v -> v
            | _ -> Check.fail name (sprintf "expected an integer, got %s" (e.GetRawText()))
        | _ -> Check.fail name (sprintf "expected an integer, got %s" (kindText e))

    let boolean name (e: JsonElement) =
        match e.ValueKind with
        | JsonValueKind.True -> true
        | JsonValueKind.False -> false
        | _ -> Check.fail name (sprintf "expected true or false, got %s" (e.GetRawText()))

    let text name (e: JsonElement) =
        match e.ValueKind with
        | JsonValueKind.String -> e.GetString()
        | _ -> Check.fail name (sprintf "expected a string, got %s" (e.GetRawText()))

    let array name (e: JsonElement) =
        if e.ValueKind <> JsonValueKind.Array then Check.fail name (sprintf "expected an array, got %s" (kindText e))
        [| for x in e.EnumerateArray() -> x |]

    let vector name (e: JsonElement) = array name e |> Array.mapi (fun i x -> number (sprintf "%s[%d]" name i) x)

    let matrix name (e: JsonElement) = array name e |> Array.mapi (fun i row -> vector (sprintf "%s[%d]" name i) row)

    /// The element is an object whose keys are all among `allowed`.
    let onlyKeys name (allowed: string list) (e: JsonElement) =
        if e.ValueKind <> JsonValueKind.Object then Check.fail name (sprintf "expected an object, got %s" (kindText e))
        for p in e.EnumerateObject() do
            if not (List.contains p.Name allowed) then
                Check.fail name (sprintf "unknown key '%s' (known: %s)" p.Name (String.Join(", ", allowed)))

    /// The root is an object with this "format" and "version".
    let header (format: string) (version: int) (root: JsonElement) =
        if root.ValueKind <> JsonValueKind.Object then Check.fail "file" "expected a JSON object"
        match optional root "format" with
        | Some f when f.ValueKind = JsonValueKind.String && f.GetString() = format -> ()
        | Some f -> Check.fail "format" (sprintf "expected \"%s\", got %s" format (f.GetRawText()))
        | None -> Check.fail "format" (sprintf "missing key (expected \"%s\")" format)
        let v = integer "version" (required root "version" "version")
        if v <> version then Check.fail "version" (sprintf "version %d is not supported (this RnnFun reads version %d)" v version)

    /// Reads and parses a file, then reads its root with `read`. Every problem (missing file, not
    /// JSON, a bad key) raises `FileFormatError` naming the file and the problem.
    let file (path: string) (read: JsonElement -> 'a) : 'a =
        let content =
            try File.ReadAllText path with
            | :? FileNotFoundException
            | :? DirectoryNotFoundException -> raise (FileFormatError(path, "file not found"))
            | e -> raise (FileFormatError(path, "cannot read the file: " + e.Message))
        let doc =
            try JsonDocument.Parse content
            with e -> raise (FileFormatError(path, "not a valid JSON document (truncated or corrupt?): " + e.Message))
        use doc = doc
        try read doc.RootElement
        with InvalidArgument (argument, problem) -> raise (FileFormatError(path, sprintf "%s: %s" argument problem))
