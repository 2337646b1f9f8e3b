module RnnFun.Tests.NativeRuntimeTests

open System
open System.IO
open Expecto
open TorchSharp
open RnnFun

/// The libtorch_cpu files mapped into this process.
let private mappedLibtorch () =
    File.ReadLines "/proc/self/maps"
    |> Seq.choose (fun line ->
        let i = line.IndexOf '/'
        if i >= 0 && line.Contains "libtorch_cpu.so" then Some(line.Substring i) else None)
    |> Seq.distinct
    |> List.ofSeq

/// The file a build output's link points to (outputs hold links into the NuGet cache and bin folders).
let private target (path: string) =
    match FileInfo(path).ResolveLinkTarget(true) with
    | null -> path
    | t -> t.FullName

let private systemLibtorch = "/usr/lib/x86_64-linux-gnu/libtorch_cpu.so"

[<Tests>]
let tests =
    testList "NativeRuntime" [
        test "this process runs the project's libtorch, not a system one" {
            use _ = torch.NewDisposeScope()
            use _net = Network.create Kinds.rnn { NetworkConfig.defaults with Units = 3 }
            let mapped = mappedLibtorch ()
            Expect.equal mapped.Length 1 (sprintf "one libtorch_cpu: %A" mapped)
            Expect.isFalse (mapped.Head.StartsWith "/usr/lib") (sprintf "not the system's: %s" mapped.Head)
            if not (File.Exists systemLibtorch) then printfn "note: no system libtorch (%s) on this machine" systemLibtorch
        }
        test "an F# script referencing the packages' assemblies from the NuGet cache loads the project's libtorch" {
            // As `#r "nuget: RnnFun"` does: TorchSharp.dll from the NuGet cache (no libtorch beside it),
            // RnnFun.dll from its own bin folder; libtorch then comes from the cache's libtorch package.
            if not (File.Exists systemLibtorch) then
                printfn "note: no system libtorch (%s): this checks the loading, not the clash with python3-torch" systemLibtorch
            let torchSharp = target typeof<torch>.Assembly.Location
            let quikGraph = target typeof<QuikGraph.Edge<int>>.Assembly.Location
            let rnnFun = target typeof<Network>.Assembly.Location
            withTempDir (fun dir ->
                let script = Path.Combine(dir, "consumer.fsx")
                File.WriteAllText(script, String.concat "\n" [
                    sprintf "#r @\"%s\"" torchSharp
                    sprintf "#r @\"%s\"" quikGraph
                    sprintf "#r @\"%s\"" rnnFun
                    "let net = RnnFun.Network.create RnnFun.Kinds.gru { RnnFun.NetworkConfig.defaults with InputSize = 2; Units = 3; OutputSize = 1 }"
                    "printfn \"parameters %d from %A\" (fst (RnnFun.Network.parameterCount net)) (RnnFun.NativeRuntime.loadedFolder ())" ])
                let info = Diagnostics.ProcessStartInfo("dotnet", [ "fsi"; "--quiet"; script ], RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir)
                use p = Diagnostics.Process.Start info
                let err = p.StandardError.ReadToEndAsync()
                let out = p.StandardOutput.ReadToEnd()
                p.WaitForExit()
                Expect.equal p.ExitCode 0 (sprintf "the script runs; stdout %s stderr %s" out err.Result)
                Expect.stringContains out "parameters 66" "a gru with 66 parameters"
                Expect.isFalse (out.Contains "/usr/lib") (sprintf "the project's libtorch: %s" out))
        }
        test "with no libtorch anywhere it looks, RnnFun raises NativeRuntimeMissing naming the package (no abort)" {
            // A program that forgot the libtorch package, on a machine whose NuGet cache lacks it:
            // TorchSharp.dll copied away from its package (so that TorchSharp's own search, which
            // starts from its package folder, finds nothing either) and an empty NuGet cache.
            let quikGraph = target typeof<QuikGraph.Edge<int>>.Assembly.Location
            let rnnFun = target typeof<Network>.Assembly.Location
            withTempDir (fun dir ->
                let lib = Path.Combine(dir, "lib")
                Directory.CreateDirectory lib |> ignore
                let torchSharp = Path.Combine(lib, "TorchSharp.dll")
                File.Copy(target typeof<torch>.Assembly.Location, torchSharp)
                let script = Path.Combine(dir, "forgot-libtorch.fsx")
                File.WriteAllText(script, String.concat "\n" [
                    sprintf "#r @\"%s\"" torchSharp
                    sprintf "#r @\"%s\"" quikGraph
                    sprintf "#r @\"%s\"" rnnFun
                    "try"
                    "    RnnFun.Network.create RnnFun.Kinds.rnn { RnnFun.NetworkConfig.defaults with Units = 3 } |> ignore"
                    "    printfn \"created\""
                    "with RnnFun.NativeRuntimeMissing _ as e ->"
                    "    printfn \"missing: %s\" e.Message"
                    "    exit 3" ])
                let info = Diagnostics.ProcessStartInfo("dotnet", [ "fsi"; "--quiet"; script ], RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir)
                let emptyCache = Path.Combine(dir, "packages")
                Directory.CreateDirectory emptyCache |> ignore
                info.Environment["NUGET_PACKAGES"] <- emptyCache
                info.Environment.Remove "LD_LIBRARY_PATH" |> ignore
                info.Environment.Remove "RNNFUN_LIBTORCH_PRELOAD" |> ignore
                use p = Diagnostics.Process.Start info
                let err = p.StandardError.ReadToEndAsync()
                let out = p.StandardOutput.ReadToEnd()
                p.WaitForExit()
                Expect.equal p.ExitCode 3 (sprintf "the exception, not an abort; stdout %s stderr %s" out err.Result)
                Expect.stringContains out ("libtorch-cpu-linux-x64 " + NativeRuntime.libTorchVersion) "names the package and version"
                Expect.stringContains out emptyCache "says where it looked")
        }
    ]
