namespace RnnFun

open System
open System.IO
open System.Text.Json

/// The Lyapunov file format `rnnfun.lyapunov`, version 1 (docs/formats.md): one spectrum per
/// condition (a constant input or a trial), and their mean. Written by `rnnfun lyapunov`; an output
/// format (no reader).
[<RequireQualifiedAccess>]
module LyapunovFile =
    [<Literal>]
    let Format = "rnnfun.lyapunov"

    [<Literal>]
    let Version = 1

    /// One condition: a label ("input" or "trial"), its input (a constant input, or none for a
    /// trial) and its spectrum.
    type Condition = { Label: string; Input: float[] option; Spectrum: LyapunovSpectrum }

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
