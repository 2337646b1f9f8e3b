namespace RnnFun

open System
open System.IO
open System.Text

/// Numeric arrays from files users already have: NumPy's `.npy` (`numpy.save`) and text (CSV or
/// whitespace-separated, one row a line). Plain data out; a file that cannot be read is a
/// `FileFormatError` naming it and the problem.
[<RequireQualifiedAccess>]
module ArrayFile =
    /// An n-dimensional array as its shape and values in row-major (C) order.
    type NumericArray = { Shape: int[]; Values: float[] }

    let private fail path problem = raise (FileFormatError(path, problem))

    /// The value of `'key': value` in a .npy header dict (a Python literal), as text.
    let private headerValue (path: string) (header: string) (key: string) =
        let k = header.IndexOf("'" + key + "'")
        if k < 0 then fail path (sprintf "the .npy header has no '%s'" key)
        let colon = header.IndexOf(':', k)
        let rest = header.Substring(colon + 1).TrimStart()
        if rest.StartsWith "(" then rest.Substring(0, rest.IndexOf(')') + 1)
        else
            let stop = rest.IndexOfAny([| ','; '}' |])
            (if stop < 0 then rest else rest.Substring(0, stop)).Trim()

    /// Parses the bytes of a `.npy` array; `where` prefixes every problem (a .npz member's name, or
    /// nothing for a file of its own). float64/32/16, signed and unsigned integers of 1 to 8 bytes and
    /// bool, little-endian (or one byte), C order.
    let parseNpy (path: string) (where: string) (bytes: byte[]) : NumericArray =
        let fail problem = fail path (where + problem)
        if bytes.Length = 0 then fail "the file is empty"
        if bytes.Length < 10 || bytes[0] <> 0x93uy || Encoding.ASCII.GetString(bytes, 1, 5) <> "NUMPY" then
            fail "not a .npy file (it does not start with \\x93NUMPY)"
        let major = int bytes[6]
        let headerLength, headerStart =
            match major with
            | 1 -> int (BitConverter.ToUInt16(bytes, 8)), 10
            | 2 | 3 when bytes.Length >= 12 -> int (BitConverter.ToUInt32(bytes, 8)), 12
            | 2 | 3 -> fail "the .npy header is cut short"
            | v -> fail (sprintf ".npy format version %d is not supported (1, 2 and 3 are)" v)
        if headerStart + headerLength > bytes.Length then fail "the .npy header is cut short"
        let header = Encoding.Latin1.GetString(bytes, headerStart, headerLength)
        let value key =
            try headerValue path header key
            with FileFormatError (_, problem) -> fail problem
        let descr = (value "descr").Trim('\'', '"')
        if (value "fortran_order") <> "False" then fail "Fortran-ordered arrays are not supported: save with numpy.ascontiguousarray"
        let shapeText = (value "shape").Trim('(', ')')
        let shape =
            shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
            |> Array.map (fun s ->
                match Int32.TryParse s with
                | true, v when v >= 0 -> v
                | _ -> fail (sprintf "the .npy shape (%s) is not a list of sizes" shapeText))
        let count = shape |> Array.fold (fun acc d -> acc * int64 d) 1L
        let size, read =
            match descr with
            | "<f8" -> 8, (fun (o: int) -> BitConverter.ToDouble(bytes, o))
            | "<f4" -> 4, (fun o -> float (BitConverter.ToSingle(bytes, o)))
            | "<f2" -> 2, (fun o -> float (BitConverter.ToHalf(bytes, o)))
            | "<i8" -> 8, (fun o -> float (BitConverter.ToInt64(bytes, o)))
            | "<i4" -> 4, (fun o -> float (BitConverter.ToInt32(bytes, o)))
            | "<i2" -> 2, (fun o -> float (BitConverter.ToInt16(bytes, o)))
            | "|i1" -> 1, (fun o -> float (sbyte bytes[o]))
            | "<u8" -> 8, (fun o -> float (BitConverter.ToUInt64(bytes, o)))
            | "<u4" -> 4, (fun o -> float (BitConverter.ToUInt32(bytes, o)))
            | "<u2" -> 2, (fun o -> float (BitConverter.ToUInt16(bytes, o)))
            | "|u1" -> 1, (fun o -> float bytes[o])
            | "|b1" -> 1, (fun o -> if bytes[o] = 0uy then 0.0 else 1.0)
            | other -> fail (sprintf "dtype '%s' is not supported: save floats, integers or bools (little-endian), e.g. with .astype(numpy.float32)" other)
        let dataStart = headerStart + headerLength
        if int64 dataStart + count * int64 size > int64 bytes.Length then
            fail (sprintf "the file holds fewer values than its shape (%s) says" shapeText)
        if count > int64 Int32.MaxValue then fail (sprintf "the array (shape %s) is too large to read" shapeText)
        { Shape = shape; Values = Array.init (int count) (fun i -> read (dataStart + i * size)) }

    /// Reads a `.npy` file (`numpy.save`) of float64, float32, float16, integer or bool values
    /// (little-endian, C order).
    let readNpy (path: string) : NumericArray =
        let bytes =
            try File.ReadAllBytes path
            with
            | :? FileNotFoundException | :? DirectoryNotFoundException -> fail path "no such file"
            | :? UnauthorizedAccessException -> fail path "no permission to read it"
        parseNpy path "" bytes

    /// Reads rows of numbers from text: one row a line, values separated by commas, tabs or spaces, or
    /// by semicolons in a line that has one (then a comma is no separator, so "0,5;0,25" is refused
    /// rather than misread); '.' is the decimal point. Blank lines and lines starting with # are
    /// skipped, and a first line with no number in it is taken for a header. Every row must have the
    /// same length.
    let readText (path: string) : float[][] =
        let lines =
            try File.ReadAllLines path
            with
            | :? FileNotFoundException | :? DirectoryNotFoundException -> fail path "no such file"
            | :? UnauthorizedAccessException -> fail path "no permission to read it"
        let parse (line: string) =
            let separators = if line.Contains ';' then [| ';'; '\t'; ' ' |] else [| ','; '\t'; ' ' |]
            line.Split(separators, StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
            |> Array.map (fun s ->
                match Double.TryParse(s, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with
                | true, v -> Some v
                | _ -> None)
        let rows =
            lines
            |> Array.mapi (fun i l -> i + 1, l.Trim())
            |> Array.filter (fun (_, l) -> l <> "" && not (l.StartsWith "#"))
            |> Array.mapi (fun k (number, line) ->
                let cells = parse line
                if cells |> Array.forall Option.isSome then Some(number, cells |> Array.map Option.get)
                elif k = 0 && cells |> Array.forall Option.isNone then None // a header
                else
                    let bad = Array.findIndex Option.isNone cells
                    fail path (sprintf "line %d: value %d is not a number ('.' is the decimal point)" number (bad + 1)))
            |> Array.choose id
        if rows.Length > 0 then
            let width = (snd rows[0]).Length
            match rows |> Array.tryFind (fun (_, r) -> r.Length <> width) with
            | Some (number, r) -> fail path (sprintf "line %d has %d values, the first row %d" number r.Length width)
            | None -> ()
        rows |> Array.map snd

    /// Rows [rows][columns] from a .npy file (2-D, or 1-D as one row) or a text file, told apart by
    /// the name's extension. Non-finite values are refused.
    let readMatrix (path: string) : float[][] =
        let rows =
            if path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) then
                let a = readNpy path
                match a.Shape with
                | [| r; c |] -> Array.init r (fun i -> Array.sub a.Values (i * c) c)
                | [| c |] -> [| a.Values |]
                | s -> fail path (sprintf "expected a 2-D array [rows; columns], got shape (%s)" (String.Join(", ", s)))
            else readText path
        if rows.Length = 0 then fail path "no rows"
        rows |> Array.iteri (fun i r -> if r |> Array.exists (fun v -> not (Double.IsFinite v)) then fail path (sprintf "row %d holds NaN or an infinity" (i + 1)))
        rows
