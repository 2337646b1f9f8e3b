/// A plain Stopwatch harness (contestants interleaved round by round, medians), the machine's
/// description and the child-process measurement of `rnnfun demo`.
module RnnFun.Benchmarks.Harness

open System
open System.Diagnostics
open System.IO
open System.Runtime.InteropServices

/// Median of a non-empty sample.
let median (xs: float[]) =
    let s = Array.sort xs
    let n = s.Length
    if n = 0 then nan
    elif n % 2 = 1 then s[n / 2]
    else (s[n / 2 - 1] + s[n / 2]) / 2.0

/// A timed contestant: a name, how many operations one call performs, and the call.
type Contestant =
    { Name: string
      OperationsPerCall: int
      Call: unit -> unit }

/// Runs the contestants interleaved: `warmup` untimed rounds, then timed rounds (at least
/// `minRounds`, at most `maxRounds`, no new round once `budgetSeconds` have passed, warm-up included);
/// in each round every contestant runs once, in an order rotated from round to round (so that no
/// contestant always follows the same one). Returns seconds per operation, one sample per round, by name.
let interleaveWithin (warmup: int) (minRounds: int) (maxRounds: int) (budgetSeconds: float) (contestants: Contestant list) : Map<string, float[]> =
    let cs = Array.ofList contestants
    let samples = cs |> Array.map (fun _ -> ResizeArray<float>())
    let clock = Stopwatch.StartNew()
    let mutable round = 0
    while round < warmup + maxRounds
          && (round < warmup + minRounds || clock.Elapsed.TotalSeconds < budgetSeconds) do
        for j in 0 .. cs.Length - 1 do
            let i = (j + round) % cs.Length
            let c = cs[i]
            let sw = Stopwatch.StartNew()
            c.Call()
            sw.Stop()
            if round >= warmup then samples[i].Add(sw.Elapsed.TotalSeconds / float c.OperationsPerCall)
        round <- round + 1
    Array.zip cs samples |> Array.map (fun (c, s) -> c.Name, s.ToArray()) |> Map.ofArray

/// `interleaveWithin` with exactly `rounds` timed rounds.
let interleave (warmup: int) (rounds: int) (contestants: Contestant list) =
    interleaveWithin warmup rounds rounds Double.PositiveInfinity contestants

/// Seconds one call takes (a single measurement).
let timeOnce (f: unit -> 'a) =
    let sw = Stopwatch.StartNew()
    let r = f ()
    sw.Stop()
    r, sw.Elapsed.TotalSeconds

/// The repository root: the first folder at or above the current one (or the executable's) that
/// holds RnnFun.sln.
let repositoryRoot () =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then None
        elif File.Exists(Path.Combine(dir.FullName, "RnnFun.sln")) then Some dir.FullName
        else up dir.Parent
    match up (DirectoryInfo(Directory.GetCurrentDirectory())) with
    | Some d -> Some d
    | None -> up (DirectoryInfo(AppContext.BaseDirectory))

/// The machine, as the performance page reports it.
type Machine =
    { Processors: int
      CpuModel: string
      MemoryGiB: float
      OperatingSystem: string
      Runtime: string
      TorchSharp: string
      LibTorch: string
      /// /proc/loadavg (1, 5, 15 minutes) when the run started: other work on the machine.
      LoadAverage: string
      Date: DateTime }

let private firstLine (path: string) (prefix: string) =
    try
        File.ReadLines path
        |> Seq.tryFind (fun l -> l.StartsWith(prefix, StringComparison.Ordinal))
        |> Option.map (fun l -> l.Substring(prefix.Length).Trim().Trim(':').Trim().Trim('"'))
    with _ -> None

/// The 1, 5 and 15-minute load averages.
let loadAverage () =
    try
        let parts = File.ReadAllText("/proc/loadavg").Split(' ')
        String.Join(" ", parts[0..2])
    with _ -> "unknown"

let machine (root: string option) =
    let libtorch =
        root
        |> Option.bind (fun r ->
            let props = Path.Combine(r, "Directory.Packages.props")
            if File.Exists props then
                let m = Text.RegularExpressions.Regex.Match(File.ReadAllText props, "<LibTorchVersion>([^<]+)</LibTorchVersion>")
                if m.Success then Some m.Groups[1].Value else None
            else None)
        |> Option.defaultValue "unknown"
    let memory =
        firstLine "/proc/meminfo" "MemTotal"
        |> Option.bind (fun s ->
            match Double.TryParse(s.Replace("kB", "").Trim()) with
            | true, kb -> Some(kb / 1024.0 / 1024.0)
            | _ -> None)
        |> Option.defaultValue nan
    { Processors = Environment.ProcessorCount
      CpuModel = firstLine "/proc/cpuinfo" "model name" |> Option.defaultValue (RuntimeInformation.ProcessArchitecture.ToString())
      MemoryGiB = memory
      OperatingSystem = firstLine "/etc/os-release" "PRETTY_NAME=" |> Option.map (fun s -> s.TrimStart('=').Trim('"')) |> Option.defaultValue RuntimeInformation.OSDescription
      Runtime = RuntimeInformation.FrameworkDescription
      TorchSharp = (typeof<TorchSharp.torch>.Assembly.GetName().Version |> string)
      LibTorch = libtorch
      LoadAverage = loadAverage ()
      Date = DateTime.UtcNow }

// ---------------------------------------------------------------------------------------------
// rnnfun demo as a child process

let private vmHwm (pid: int) =
    try
        match firstLine (sprintf "/proc/%d/status" pid) "VmHWM:" with
        | Some s ->
            match Int64.TryParse(s.Replace("kB", "").Trim()) with
            | true, kb -> kb * 1024L
            | _ -> 0L
        | None -> 0L
    with _ -> 0L

/// Where the built CLI lives in the repository (the apphost `rnnfun`, or its dll).
let cliPath (root: string option) (explicitPath: string option) =
    match explicitPath with
    | Some p -> if File.Exists p then Some p else None
    | None ->
        root
        |> Option.bind (fun r ->
            let dir = Path.Combine(r, "src", "RnnFun.Cli", "bin", "Release", "net10.0")
            [ Path.Combine(dir, "rnnfun"); Path.Combine(dir, "RnnFun.Cli.dll") ] |> List.tryFind File.Exists)

type DemoRun =
    { Seconds: float
      PeakBytes: int64
      ExitCode: int
      Stdout: string }

/// Runs the CLI with `args` as a child process and measures its wall time and peak resident memory
/// (the child's VmHWM, a high-water mark kept by the kernel, polled from /proc every 20 ms).
let runCli (cli: string) (args: string list) =
    let psi =
        if cli.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) then ProcessStartInfo("dotnet")
        else ProcessStartInfo(cli)
    if cli.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) then psi.ArgumentList.Add cli
    for a in args do psi.ArgumentList.Add a
    psi.UseShellExecute <- false
    psi.RedirectStandardOutput <- true
    psi.RedirectStandardError <- true
    let sw = Stopwatch.StartNew()
    use p = Process.Start psi
    let stdout = p.StandardOutput.ReadToEndAsync()
    let stderr = p.StandardError.ReadToEndAsync()
    let mutable peak = 0L
    while not (p.WaitForExit 20) do
        // The last reading, not the largest: VmHWM only grows within one program, and the first
        // readings, taken between fork and exec, show the parent's size.
        match vmHwm p.Id with
        | 0L -> ()
        | reading -> peak <- reading
    p.WaitForExit()
    sw.Stop()
    stdout.Wait()
    stderr.Wait()
    // Not getrusage's ru_maxrss of the children: a child created by fork counts the parent's resident
    // pages until it execs, so that figure grows with this benchmark's own size.
    if p.ExitCode <> 0 then
        eprintfn "rnnfun %s exited with %d:\n%s" (List.head args) p.ExitCode (stderr.Result.Trim())
    { Seconds = sw.Elapsed.TotalSeconds
      PeakBytes = peak
      ExitCode = p.ExitCode
      Stdout = stdout.Result }

/// Runs `rnnfun demo --quiet --out <temporary folder>` (`runCli`).
let runDemo (cli: string) =
    let out = Path.Combine(Path.GetTempPath(), "rnnfun-bench-demo-" + Guid.NewGuid().ToString("N"))
    let run = runCli cli [ "demo"; "--quiet"; "--out"; out ]
    try Directory.Delete(out, true) with _ -> ()
    run

// ---------------------------------------------------------------------------------------------
// Peak memory of a workload, in a child process of this benchmark

/// Runs this benchmark executable with `args` (its `--memory-probe` mode) and returns the number it
/// prints on its last stdout line, or None when it fails.
let runSelf (args: string list) : int64 option =
    let path = Environment.ProcessPath
    let psi =
        if Path.GetFileNameWithoutExtension(path) = "dotnet" then
            let p = ProcessStartInfo(path)
            p.ArgumentList.Add(Reflection.Assembly.GetEntryAssembly().Location)
            p
        else ProcessStartInfo(path)
    for a in args do psi.ArgumentList.Add a
    psi.UseShellExecute <- false
    psi.RedirectStandardOutput <- true
    psi.RedirectStandardError <- true
    use p = Process.Start psi
    let stdout = p.StandardOutput.ReadToEndAsync()
    let stderr = p.StandardError.ReadToEndAsync()
    p.WaitForExit()
    stdout.Wait()
    stderr.Wait()
    let last = stdout.Result.Trim().Split('\n') |> Array.last
    match p.ExitCode, Int64.TryParse(last.Trim()) with
    | 0, (true, v) -> Some v
    | code, _ ->
        eprintfn "memory probe %s exited with %d:\n%s" (String.Join(" ", args)) code (stderr.Result.Trim())
        None
