namespace RnnFun

open System
open System.IO
open System.Text.Json

/// The Lyapunov file format `rnnfun.lyapunov`, version 1 (docs/formats.md): one spectrum per
/// condition (a constant input or a trial), and their mean. Written by `rnnfun lyapunov`; `load`
/// reads it back.
[<RequireQualifiedAccess>]
module LyapunovFile =
    [<Literal>]
    let Format = "rnnfun.lyapunov"

    [<Literal>]
    let Version = 1

    /// One condition: a label ("input" or "trial"), its input (a constant input, or none for a
    /// trial) and its spectrum.
    type Condition = { Label: string; Input: float[] option; Spectrum: LyapunovSpectrum }

    /// What a file holds: the settings it records and its conditions (the mean follows from them).
    type Contents =
        { Transient: int
          Reorthonormalise: int
          Seed: int
          Conditions: Condition[] }

    /// Writes spectra to a stream. A non-finite exponent (-infinity: a direction collapsed exactly)
    /// is written as null.
    let write (stream: Stream) (config: LyapunovConfig) (conditions: Condition[]) =
        use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
        let value (v: float) = if Double.IsFinite v then w.WriteNumberValue v else w.WriteNullValue()
        let numbers (name: string) (values: float[]) =
            w.WriteStartArray name
            for v in values do value v
            w.WriteEndArray()
        w.WriteStartObject()
        w.WriteString("format", Format)
        w.WriteNumber("version", Version)
        w.WriteStartObject "config"
        w.WriteNumber("transient", config.Transient)
        w.WriteNumber("reorthonormalise", config.Reorthonormalise)
        w.WriteNumber("seed", config.Seed)
        w.WriteEndObject()
        w.WriteStartArray "spectra"
        for c in conditions do
            let s = c.Spectrum
            w.WriteStartObject()
            w.WriteString("condition", c.Label)
            match c.Input with
            | Some u -> numbers "input" u
            | None -> ()
            w.WriteNumber("steps", s.Steps)
            numbers "exponents" s.Exponents
            match s.PerTimeConstant with
            | Some l -> numbers "per_time_constant" l
            | None -> ()
            w.WriteNumber("kaplan_yorke", s.KaplanYorke)
            if s.RunningSteps.Length > 0 then
                w.WriteStartArray "running_steps"
                for k in s.RunningSteps do w.WriteNumberValue k
                w.WriteEndArray()
                w.WriteStartArray "running"
                for r in s.Running do
                    w.WriteStartArray()
                    for v in r do value v
                    w.WriteEndArray()
                w.WriteEndArray()
            numbers "final_state" s.FinalState
            w.WriteEndObject()
        w.WriteEndArray()
        if conditions.Length > 0 then
            let k = conditions[0].Spectrum.Exponents.Length
            let mean = Array.init k (fun j -> conditions |> Array.averageBy (fun c -> c.Spectrum.Exponents[j]))
            numbers "mean" mean
            w.WriteNumber("mean_kaplan_yorke", Lyapunov.kaplanYorke mean)
        w.WriteEndObject()
        w.Flush()

    /// Saves spectra to a file, atomically (see `FileFormat.writeAtomically`).
    let save (path: string) (config: LyapunovConfig) (conditions: Condition[]) =
        FileFormat.writeAtomically path (fun s -> write s config conditions)

    let private ofJson (root: JsonElement) : Contents =
        let get (e: JsonElement) name (at: string) = JsonRead.required e name (if at = "" then name else at + "." + name)
        // null stands for a non-finite exponent: -infinity, a direction the map collapsed exactly.
        let exponents at (e: JsonElement) =
            JsonRead.array at e |> Array.mapi (fun i v -> if v.ValueKind = JsonValueKind.Null then -infinity else JsonRead.number (sprintf "%s[%d]" at i) v)
        let c = get root "config" ""
        let transient = JsonRead.integer "config.transient" (get c "transient" "config")
        let conditions =
            JsonRead.array "spectra" (get root "spectra" "")
            |> Array.mapi (fun i e ->
                let at = sprintf "spectra[%d]" i
                let values = exponents (at + ".exponents") (get e "exponents" at)
                let runningSteps, running =
                    match JsonRead.optional e "running_steps" with
                    | Some steps ->
                        let ks = JsonRead.array (at + ".running_steps") steps |> Array.mapi (fun k v -> JsonRead.integer (sprintf "%s.running_steps[%d]" at k) v)
                        let rows = JsonRead.array (at + ".running") (get e "running" at) |> Array.mapi (fun k r -> exponents (sprintf "%s.running[%d]" at k) r)
                        if rows.Length <> ks.Length then Check.fail (at + ".running") (sprintf "expected %d rows (one per running step)" ks.Length)
                        ks, rows
                    | None -> [||], [||]
                { Label = JsonRead.text (at + ".condition") (get e "condition" at)
                  Input = JsonRead.optional e "input" |> Option.map (JsonRead.vector (at + ".input"))
                  Spectrum =
                    { Exponents = values
                      PerTimeConstant = JsonRead.optional e "per_time_constant" |> Option.map (exponents (at + ".per_time_constant"))
                      KaplanYorke = JsonRead.number (at + ".kaplan_yorke") (get e "kaplan_yorke" at)
                      Steps = JsonRead.integer (at + ".steps") (get e "steps" at)
                      Transient = transient
                      RunningSteps = runningSteps
                      Running = running
                      FinalState = JsonRead.vector (at + ".final_state") (get e "final_state" at) } })
        { Transient = transient
          Reorthonormalise = JsonRead.integer "config.reorthonormalise" (get c "reorthonormalise" "config")
          Seed = JsonRead.integer "config.seed" (get c "seed" "config")
          Conditions = conditions }

    /// Reads spectra back (each spectrum's `Transient` is the file's; a null exponent reads as
    /// -infinity). Every problem raises `FileFormatError` naming the file and key.
    let load (path: string) : Contents = FileFormat.load Format [ Version, ofJson ] path
