namespace RnnFun

open System
open System.IO
open System.Text.Json

// What every file format of RnnFun shares (one file per format beside this one): strict JSON
// readers, the atomic write, and the check of a file's format and version.

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

    // NaN, Infinity and -Infinity where a value starts (Python's json.dump writes them by default).
    let private nonFiniteToken = Text.RegularExpressions.Regex(@"(?<=[\[:,]\s*)-?(NaN|Infinity)\b")

    /// `file`, where `what` names the file's numbers in the message for a NaN or Infinity token
    /// ("weights" for a model file): JSON has no such values, and the reader's own error ("'N' is an
    /// invalid start of a value") would not say what is wrong.
    let fileOf (what: string) (path: string) (read: JsonElement -> 'a) : 'a =
        let content =
            try File.ReadAllText path with
            | :? FileNotFoundException
            | :? DirectoryNotFoundException -> raise (FileFormatError(path, "file not found"))
            | e -> raise (FileFormatError(path, "cannot read the file: " + e.Message))
        let doc =
            try JsonDocument.Parse content
            with e ->
                let m = nonFiniteToken.Match content
                if m.Success then
                    let line = 1 + (content.AsSpan(0, m.Index).Count '\n')
                    raise (FileFormatError(path, sprintf "line %d holds %s: non-finite %s are refused (JSON has no NaN or Infinity; Python's json.dump(..., allow_nan=False) catches them)" line m.Value what))
                raise (FileFormatError(path, "not a valid JSON document (truncated or corrupt?): " + e.Message))
        use doc = doc
        try read doc.RootElement
        with InvalidArgument (argument, problem) -> raise (FileFormatError(path, sprintf "%s: %s" argument problem))

    /// Reads and parses a file, then reads its root with `read`. Every problem (missing file, not
    /// JSON, a NaN or Infinity token, a bad key) raises `FileFormatError` naming the file and the problem.
    let file (path: string) (read: JsonElement -> 'a) : 'a = fileOf "numbers" path read

/// The parts every file format shares: the atomic write, and the reading of a file whose format and
/// version are checked first.
[<RequireQualifiedAccess>]
module FileFormat =
    /// Writes a file atomically: a temporary file beside it, flushed to disk, then renamed over it,
    /// so a crash or kill leaves either the old file or the new one, never half of one.
    let writeAtomically (path: string) (write: Stream -> unit) =
        let full = Path.GetFullPath path
        let dir = Path.GetDirectoryName full
        if not (Directory.Exists dir) then Directory.CreateDirectory dir |> ignore
        let tmp = Path.Combine(dir, sprintf ".%s.%s.tmp" (Path.GetFileName full) (Guid.NewGuid().ToString("N")))
        try
            using (new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None)) (fun fs ->
                write fs
                fs.Flush(true))
            File.Move(tmp, full, true)
        with _ ->
            if File.Exists tmp then File.Delete tmp
            reraise ()

    /// The version of a root object whose "format" is `format`, if it is one of `versions`.
    let private versionOf (format: string) (versions: int list) (root: JsonElement) : int =
        if root.ValueKind <> JsonValueKind.Object then Check.fail "file" "expected a JSON object"
        match JsonRead.optional root "format" with
        | Some f when f.ValueKind = JsonValueKind.String && f.GetString() = format -> ()
        | Some f -> Check.fail "format" (sprintf "expected \"%s\", got %s" format (f.GetRawText()))
        | None -> Check.fail "format" (sprintf "missing key (expected \"%s\")" format)
        let v = JsonRead.integer "version" (JsonRead.required root "version" "version")
        if not (List.contains v versions) then
            let known = match versions with [ one ] -> sprintf "version %d" one | _ -> "versions " + String.Join(", ", versions)
            Check.fail "version" (sprintf "version %d is not supported (this RnnFun reads %s)" v known)
        v

    /// Reads a file of a format: parses it, checks its "format" and "version", then reads its root
    /// with the reader of that version. Every format has version 1 only but the training log (1 and 2). Version migration goes
    /// here: a format's next version keeps a reader for each older one (reading the old document
    /// into the current record), so that older files keep loading. Every problem raises
    /// `FileFormatError` naming the file and the problem; `what` names the file's numbers in the
    /// message for a NaN or Infinity token (`JsonRead.fileOf`).
    let loadOf (what: string) (format: string) (readers: (int * (JsonElement -> 'a)) list) (path: string) : 'a =
        JsonRead.fileOf what path (fun root ->
            let version = versionOf format (List.map fst readers) root
            let _, read = readers |> List.find (fun (v, _) -> v = version)
            read root)

    /// `loadOf "numbers"`.
    let load (format: string) (readers: (int * (JsonElement -> 'a)) list) (path: string) : 'a =
        loadOf "numbers" format readers path
