/// What several commands share: the user-error exception, the progress bar, number formats.
module RnnFun.Cli.Common

open System
open RnnFun

/// A user's mistake: printed as one line on stderr, exit code 2.
exception UserError of string

/// The training log's path beside a model file: m.json -> m.training-log.json.
let trainingLogPath (modelPath: string) =
    let full = IO.Path.GetFullPath modelPath
    IO.Path.Combine(IO.Path.GetDirectoryName full, IO.Path.GetFileNameWithoutExtension full + ".training-log.json")

/// A one-line progress bar on stderr, redrawn at most ten times a second.
let progressBar () =
    let mutable last = DateTime.MinValue
    fun (p: TrainingProgress) ->
        let now = DateTime.UtcNow
        let final = p.Epoch = p.Epochs && p.Batch = p.Batches
        if final || (now - last).TotalMilliseconds >= 100.0 then
            last <- now
            let total = p.Epochs * p.Batches
            let done' = (p.Epoch - 1) * p.Batches + p.Batch
            let fraction = float done' / float (max total 1)
            let width = 24
            let filled = int (fraction * float width)
            let eta = if p.StepsPerSecond > 0.0 then float (total - done') / p.StepsPerSecond else 0.0
            eprintf "\r[%s%s] epoch %d/%d  loss %.6f  lr %.2g  %.0f steps/s  ETA %.0fs   " (String('#', filled)) (String('.', width - filled)) p.Epoch p.Epochs p.Loss p.LearningRate p.StepsPerSecond eta

/// Scientific notation with a two-digit exponent (2.51e-31).
let sci (v: float) = v.ToString("0.00e+00", Globalization.CultureInfo.InvariantCulture)

/// "a,b,c" -> [| a; b; c |], or a user error naming the flag.
let parseNumbers (flag: string) (text: string) =
    text.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
    |> Array.map (fun s ->
        match Double.TryParse(s, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with
        | true, v when Double.IsFinite v -> v
        | _ -> raise (UserError(sprintf "%s: '%s' is not a number" flag s)))

/// "3 attractor, 2 saddle" and "3 with 0, 2 with 1": the points by kind and by unstable modes.
let kindCounts (points: FixedPoint[]) =
    let byKind = points |> Array.countBy (fun p -> FixedPointFile.kindName p.Kind) |> Array.map (fun (k, c) -> sprintf "%d %s" c k)
    let byModes = points |> Array.countBy (fun p -> p.UnstableModes) |> Array.sortBy fst |> Array.map (fun (m, c) -> sprintf "%d with %d" c m)
    String.Join(", ", byKind), String.Join(", ", byModes)

/// The q above which a point read from a file is no fixed or slow point of the model (the search's
/// slow-point bound, `FixedPointConfig.SlowTolQ`).
let foreignPointQ = FixedPointConfig.defaults.SlowTolQ

/// A fixed-point file's points with q and speed recomputed under the model (the file's q belongs to
/// the model they were found for). Points that are not fixed or slow points of this model are a
/// user error naming the first of them and its q, unless `allowForeign` (then one warning line).
let recheckPoints (path: string) (allowForeign: bool) (net: Network) (loaded: FixedPoint[]) : FixedPoint[] =
    let rechecked = FixedPoints.recheck net loaded
    let foreign = rechecked |> Array.filter (fun p -> not (p.Q <= foreignPointQ))
    if foreign.Length > 0 then
        let first = foreign[0]
        let what =
            sprintf "%d of %d points in %s are not fixed points of this model (point %d has q = %s under it, above %s): were they found for another model?"
                foreign.Length rechecked.Length path first.Id (sci first.Q) (sci foreignPointQ)
        if allowForeign then eprintfn "rnnfun: warning: --fixed-points: %s Going on (--allow-foreign-points)." what
        else raise (UserError(sprintf "--fixed-points: %s (--allow-foreign-points goes on anyway)" what))
    rechecked
