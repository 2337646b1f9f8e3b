// Shared references and helpers of the RnnFun scripts: `#load "_references.fsx"`, then
// `open RnnFun.Scripts`.
//
// BUILD FIRST. The #r lines below point at the Release output of the command-line tool, which holds
// every dependency (TorchSharp 0.107.0 with the native libtorch 2.10.0, Plotly.NET, QuikGraph):
//
//     dotnet build RnnFun.sln -c Release        (from the repository root)
//
// If that output is missing, F# Interactive stops at the first #r below with
// "error FS0078: Unable to find the file '../src/RnnFun.Cli/bin/Release/net10.0/TorchSharp.dll'":
// an #r is resolved before any code runs, so no friendlier check is possible here.
// Run the build above, then the script again.
// The paths are relative to this file, so scripts run from any current directory.

#r "../src/RnnFun.Cli/bin/Release/net10.0/TorchSharp.dll"
#r "../src/RnnFun.Cli/bin/Release/net10.0/QuikGraph.dll"
#r "../src/RnnFun.Cli/bin/Release/net10.0/RnnFun.dll"
#r "../src/RnnFun.Cli/bin/Release/net10.0/DynamicObj.dll"
#r "../src/RnnFun.Cli/bin/Release/net10.0/Fable.Core.dll"
#r "../src/RnnFun.Cli/bin/Release/net10.0/Giraffe.ViewEngine.dll"
#r "../src/RnnFun.Cli/bin/Release/net10.0/Newtonsoft.Json.dll"
#r "../src/RnnFun.Cli/bin/Release/net10.0/Plotly.NET.dll"
#r "../src/RnnFun.Cli/bin/Release/net10.0/RnnFun.Plotting.dll"

namespace RnnFun.Scripts

open System
open System.IO

/// Helpers shared by the scripts: quick mode, the output folder, sanity checks.
module Script =
    // The project's libtorch, not a system one (python3-torch's libtorch 1.13), before any torch call.
    do RnnFun.NativeRuntime.ensure ()

    let private watch = Diagnostics.Stopwatch.StartNew()

    /// True when the environment variable RNNFUN_QUICK is 1: small sizes and few epochs (for CI).
    let quick = Environment.GetEnvironmentVariable "RNNFUN_QUICK" = "1"

    /// "quick" or "full", for printing.
    let mode = if quick then "quick" else "full"

    /// ./output under the current directory (created when first used).
    let outputDir =
        let dir = Path.GetFullPath "output"
        Directory.CreateDirectory dir |> ignore
        dir

    /// A path under ./output.
    let output (name: string) = Path.Combine(outputDir, name)

    /// Seconds since the helpers were loaded.
    let elapsed () = watch.Elapsed.TotalSeconds

    let private failures = ResizeArray<string>()

    /// A sanity check: prints it, and remembers a failure for `finish`.
    let check (ok: bool) (what: string) =
        printfn "  [%s] %s" (if ok then "ok" else "FAILED") what
        if not ok then failures.Add what

    /// Ends the script with exit code 1 when a check failed (so that CI notices rot).
    let finish () =
        if failures.Count > 0 then
            eprintfn "%d sanity check(s) failed: %s" failures.Count (String.Join("; ", failures))
            exit 1

    /// Writes one chart as a self-contained HTML page (plotly.js inline, as in RnnFun's reports).
    let saveChart (path: string) (title: string) (chart: Plotly.NET.GenericChart) =
        let page =
            sprintf "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>%s</title>\n<script>\n%s\n</script>\n</head>\n<body>\n%s</body>\n</html>\n"
                (Net.WebUtility.HtmlEncode title)
                (RnnFun.Plotting.Report.plotlyJs().Replace("</script", "<\\/script"))
                (RnnFun.Plotting.Report.chartFragment "chart" chart)
        File.WriteAllText(path, page)

    /// A tensor's shape as text: [4; 100; 3].
    let shape (t: TorchSharp.torch.Tensor) = "[" + String.Join("; ", t.shape) + "]"

    /// Scientific notation with a two-digit exponent (2.51e-31).
    let sci (v: float) = v.ToString("0.00e+00", Globalization.CultureInfo.InvariantCulture)
