namespace RnnFun

open System
open System.IO
open System.Reflection
open System.Runtime.InteropServices

/// libtorch, the native runtime TorchSharp needs, is in none of the places it is looked for: says
/// which package to reference. Raised by RnnFun's first use of TorchSharp instead of the process
/// aborting inside TorchSharp's initialisation.
exception NativeRuntimeMissing of searched: string list * version: string with
    override this.Message =
        sprintf "libtorch, the native runtime TorchSharp needs, was not found (looked in %s): reference the package libtorch-cpu-linux-x64 %s in the program that uses RnnFun (see docs/native-runtime.md)"
            (String.Join(", ", this.searched)) this.version

/// Makes TorchSharp load the libtorch this library was built against, even when another libtorch
/// (Debian's python3-torch puts libtorch 1.13 in /usr/lib/x86_64-linux-gnu) is on the system
/// library path. TorchSharp loads `torch_cpu` by its bare name; outside an application with a
/// deps.json (an F# script, a notebook) that name resolves to the system's copy first, and TorchSharp
/// then fails to initialise. Loading the right files by absolute path before TorchSharp starts makes
/// the dynamic loader hand those back for the bare names too (it matches loaded libraries by soname).
/// The library calls `ensure` before its first use of TorchSharp (creating or loading a network, a
/// PyTorch file); a program that calls TorchSharp before any RnnFun function calls it first.
/// docs/native-runtime.md has the details.
[<RequireQualifiedAccess>]
module NativeRuntime =
    /// The libtorch version of the `libtorch-cpu-linux-x64` package (Directory.Packages.props).
    let libTorchVersion =
        Assembly.GetExecutingAssembly().GetCustomAttributes<AssemblyMetadataAttribute>()
        |> Seq.tryPick (fun a -> if a.Key = "LibTorchVersion" then Some a.Value else None)
        |> Option.defaultValue "2.10.0"

    let private gate = obj ()
    let mutable private loadedFrom: string option = None
    let mutable private attempted = false
    let mutable private missing: string list option = None

    /// Folders that may hold the project's libtorch, in order: beside the running application (its
    /// runtimes/linux-x64/native), beside TorchSharp.dll and RnnFun.dll (a script's #r folder), then
    /// the NuGet cache's libtorch-cpu-linux-x64 package of the version this library references.
    let candidateFolders () : string list =
        let rid = Path.Combine("runtimes", "linux-x64", "native")
        let besideAssembly (a: Assembly) =
            match a.Location with
            | null | "" -> []
            | location ->
                let dir = Path.GetDirectoryName location
                [ Path.Combine(dir, rid); dir ]
        let torchSharp =
            AppDomain.CurrentDomain.GetAssemblies()
            |> Array.tryFind (fun a -> a.GetName().Name = "TorchSharp")
            |> Option.map besideAssembly
            |> Option.defaultValue []
        let packages =
            match Environment.GetEnvironmentVariable "NUGET_PACKAGES" with
            | null | "" -> Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages")
            | p -> p
        [ yield Path.Combine(AppContext.BaseDirectory, rid)
          yield AppContext.BaseDirectory
          yield! torchSharp
          yield! besideAssembly (Assembly.GetExecutingAssembly())
          yield Path.Combine(packages, "libtorch-cpu-linux-x64", libTorchVersion, rid)
          // Where the dynamic loader would look for a bare name, as TorchSharp asks.
          match Environment.GetEnvironmentVariable "LD_LIBRARY_PATH" with
          | null | "" -> ()
          | dirs -> yield! dirs.Split(':', StringSplitOptions.RemoveEmptyEntries) ]
        |> List.distinct

    /// Whether some libtorch_cpu is already mapped into the process (TorchSharp started already).
    let private libtorchMapped () =
        try File.ReadLines "/proc/self/maps" |> Seq.exists (fun line -> line.EndsWith "/libtorch_cpu.so" || line.Contains "/libtorch_cpu.so.")
        with _ -> false

    /// The folder libtorch was loaded from by `ensure`, if it loaded one.
    let loadedFolder () : string option = loadedFrom

    /// Loads libtorch from the first candidate folder that has it, unless one is loaded already.
    let private preload () =
        if RuntimeInformation.IsOSPlatform OSPlatform.Linux
           && Environment.GetEnvironmentVariable "RNNFUN_LIBTORCH_PRELOAD" <> "0"
           && not (libtorchMapped ()) then
            let folders = candidateFolders ()
            match folders |> List.tryFind (fun d -> File.Exists(Path.Combine(d, "libtorch_cpu.so"))) with
            | Some dir ->
                // Dependencies first, so that each file's own needs resolve to these copies.
                let gomp = Directory.GetFiles(dir, "libgomp*.so*") |> Array.sort |> List.ofArray
                let files = gomp @ [ "libc10.so"; "libtorch_cpu.so"; "libtorch.so" ] |> List.map (fun f -> Path.Combine(dir, f))
                let ok = files |> List.filter File.Exists |> List.forall (fun f -> fst (NativeLibrary.TryLoad f))
                if ok then loadedFrom <- Some dir
            | None -> missing <- Some folders

    /// Loads the project's libtorch by absolute path, once, on Linux, before TorchSharp does. Does
    /// nothing elsewhere, when libtorch is already in the process, or when RNNFUN_LIBTORCH_PRELOAD=0
    /// (for a program that brings its own libtorch). When none of these folders has libtorch,
    /// TorchSharp's own search runs, and if it fails too, `NativeRuntimeMissing` is raised (where an
    /// unhandled TorchSharp error would end the process).
    let ensure () : unit =
        // Every caller waits for the first one's loads to finish, so that none reaches TorchSharp before them.
        lock gate (fun () ->
            if not attempted then
                try preload () with _ -> () // TorchSharp's own loading then runs as before
                attempted <- true)
        match missing with
        | Some searched when not (libtorchMapped ()) ->
            // TorchSharp has fallbacks of its own (its package folder, CUDA packages, the loader's
            // default path): let it try, and turn its failure into one clear exception instead of an
            // unhandled type-initialisation error that ends the process.
            let started = try TorchSharp.torch.get_num_threads () >= 0 with _ -> false
            if started then lock gate (fun () -> missing <- None)
            else raise (NativeRuntimeMissing(searched, libTorchVersion))
        | _ -> ()
