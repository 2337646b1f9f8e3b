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

/// The nearest folder (`start` or an ancestor) that exists, for writing `full`; a file on the way
/// is a user error.
let private existingFolder (flag: string) (full: string) (start: string) =
    let rec up (dir: string) =
        if isNull dir then None
        elif IO.Directory.Exists dir then Some dir
        elif IO.File.Exists dir then raise (UserError(sprintf "%s: cannot write %s: %s is a file, not a folder" flag full dir))
        else up (IO.Path.GetDirectoryName dir)
    up start

/// Whether a new file can be created in `dir`: a probe file, created and deleted at once (the
/// permissions, a read-only or virtual file system such as /proc). A user error naming `full`.
let private probeFolder (flag: string) (full: string) (dir: string) =
    let probe = IO.Path.Combine(dir, sprintf ".rnnfun-write-check-%s" (Guid.NewGuid().ToString("N")))
    let refuse (reason: string) = raise (UserError(sprintf "%s: cannot write %s: %s" flag full reason))
    try
        using (new IO.FileStream(probe, IO.FileMode.CreateNew, IO.FileAccess.Write, IO.FileShare.None, 1, IO.FileOptions.DeleteOnClose)) ignore
    with
    | :? UnauthorizedAccessException -> refuse (sprintf "no permission to create files in %s" dir)
    | :? IO.IOException -> refuse (sprintf "%s does not take new files" dir)
    if IO.File.Exists probe then (try IO.File.Delete probe with _ -> ())

let private fullPath (flag: string) (path: string) =
    if String.IsNullOrWhiteSpace path then raise (UserError(sprintf "%s: expected a path" flag))
    try IO.Path.GetFullPath path
    with e -> raise (UserError(sprintf "%s: '%s' is not a valid path (%s)" flag path e.Message))

/// Checks, before any work, that a file can be written at `path` (what `flag` names): not a folder,
/// no file where a folder is needed, and a folder that takes new files. Missing folders are fine
/// (the write creates them). Raises `UserError` naming the path and the problem.
let checkOutputFile (flag: string) (path: string) =
    let full = fullPath flag path
    if IO.Directory.Exists full then raise (UserError(sprintf "%s: %s is a folder; expected a file name" flag full))
    match existingFolder flag full (IO.Path.GetDirectoryName full) with
    | Some dir -> probeFolder flag full dir
    | None -> raise (UserError(sprintf "%s: cannot write %s: no folder of it exists" flag full))

/// Checks, before any work, that `path` can be a folder of outputs: not a file, and the folder (or
/// its nearest existing parent) takes new files. Raises `UserError` naming the path and the problem.
let checkOutputFolder (flag: string) (path: string) =
    let full = fullPath flag path
    if IO.File.Exists full then raise (UserError(sprintf "%s: %s is a file; expected a folder" flag full))
    match existingFolder flag full full with
    | Some dir -> probeFolder flag full dir
    | None -> raise (UserError(sprintf "%s: cannot write %s: no folder of it exists" flag full))

/// Ctrl-C during a command that trains: the first interrupt while training cancels `Token` (training
/// stops after its batch and keeps the best model); any other interrupt (a second one, or one after
/// training) lets the process end at once, as a shell expects. Cancelled runs exit with `cancelledExitCode`.
type Interrupts() =
    let cancel = new Threading.CancellationTokenSource()
    let mutable count = 0
    let mutable training = true
    /// Cancelled by the first interrupt during training.
    member _.Token = cancel.Token
    /// Whether an interrupt stopped the training.
    member _.Cancelled = cancel.IsCancellationRequested
    /// From here on, an interrupt ends the process (nothing is left to stop gracefully).
    member _.EndTraining() = training <- false
    /// Handles one interrupt; returns whether the process goes on (`ConsoleCancelEventArgs.Cancel`).
    member _.Interrupt() =
        let n = Threading.Interlocked.Increment &count
        if n = 1 && training then
            cancel.Cancel()
            true
        else false
    /// Routes Ctrl-C (SIGINT) to `Interrupt` until disposed.
    member this.Listen() : IDisposable =
        let handler =
            ConsoleCancelEventHandler(fun _ e ->
                let goOn = this.Interrupt()
                if goOn then eprintfn "\nrnnfun: interrupted: training stops after this batch and keeps the best model (Ctrl-C again to quit)"
                e.Cancel <- goOn)
        Console.CancelKeyPress.AddHandler handler
        { new IDisposable with member _.Dispose() = Console.CancelKeyPress.RemoveHandler handler }
    interface IDisposable with
        member _.Dispose() = cancel.Dispose()

/// The exit code of a run stopped by Ctrl-C (128 + SIGINT, what shells expect).
let cancelledExitCode = 130

/// "1,3" -> a lesion of those units, or a user error naming the flag.
let lesionOf (flag: string) (net: Network) (text: string) : Network =
    let units =
        text.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
        |> Array.map (fun s ->
            match Int32.TryParse s with
            | true, u -> u
            | _ -> raise (UserError(sprintf "%s: '%s' is not a unit index" flag s)))
    if units.Length = 0 then raise (UserError(sprintf "%s: expected unit indices, e.g. %s 0,3" flag flag))
    try Lesion.silence { LesionConfig.defaults with Units = units } net
    with InvalidArgument (_, problem) -> raise (UserError(sprintf "%s: %s" flag problem))
