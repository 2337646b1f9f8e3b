/// RnnFun's benchmark suite.
///   --quick              interleaved Stopwatch harness only (about 3 minutes); prints `name: value` lines
///   --write-docs         with --quick: also write docs/performance.md from the quick numbers
///   (no --quick)         full mode: the quick harness, then BenchmarkDotNet; writes docs/performance.md
///   --no-demo            skip the `rnnfun demo` measurement
///   --only A,B           run only these sections: gemm, training, forward, gated, fixed-points, demo, memory
///   --profile-step [KIND] N  where one fused training step at N units spends its time (rnn, or
///                        the gated KIND gru / lstm; then exits)
///   --cli PATH           the rnnfun executable (default: src/RnnFun.Cli/bin/Release/net10.0/rnnfun)
///   --docs PATH          where to write the page (default: docs/performance.md of the repository)
module RnnFun.Benchmarks.Program

open System
open System.IO
open RnnFun.Benchmarks
open TorchSharp
open RnnFun

let private usage =
    "usage: dotnet run -c Release --project benchmarks/RnnFun.Benchmarks -- [--quick [--write-docs]] [--no-demo] [--only gemm,training,forward,gated,fixed-points,demo,memory] [--cli PATH] [--docs PATH]"

[<EntryPoint>]
let main argv =
    let args = List.ofArray argv
    let has flag = List.contains flag args
    match args with
    | "--memory-probe" :: what :: t :: b :: n :: [] ->
        // Child mode of the memory section: prints the extra peak bytes on the last line.
        printfn "%d" (Workloads.memoryProbe what (int t) (int b) (int n))
        exit 0
    | "--micro" :: n :: [] ->
        torch.set_num_threads 1
        let n = int64 n
        let big = TorchSharp.torch.randn([| 100L; 64L; n |])
        let big2 = TorchSharp.torch.randn([| 100L; 64L; n |])
        let big3 = TorchSharp.torch.randn([| 100L; 64L; 3L * n |])
        let slices, slices2 = big.unbind 0, big2.unbind 0
        let w = TorchSharp.torch.randn([| 3L * n; n |])
        let time name (f: unit -> unit) =
            for _ in 1 .. 5 do f ()
            let sw = Diagnostics.Stopwatch.StartNew()
            for _ in 1 .. 40 do f ()
            printfn "%-45s %8.3f ms" name (sw.Elapsed.TotalMilliseconds / 40.0)
        time "full mul_ [100;64;n]" (fun () -> big.mul_(big2) |> ignore)
        time "full mul alloc" (fun () -> use t = big * big2 in ())
        time "100 x slice mul_ [64;n]" (fun () -> for t in 0 .. 99 do slices[t].mul_(slices2[t]) |> ignore)
        time "100 x slice addcmul_" (fun () -> for t in 0 .. 99 do slices[t].addcmul_(slices2[t], slices2[t], (0.0).ToScalar()) |> ignore)
        time "100 x slice tanh_" (fun () -> for t in 0 .. 99 do slices[t].tanh_() |> ignore)
        time "100 x slice sigmoid_" (fun () -> for t in 0 .. 99 do slices[t].sigmoid_() |> ignore)
        time "100 x slice lerp alloc" (fun () -> for t in 0 .. 99 do (use x = TorchSharp.torch.lerp(slices[t], slices2[t], slices2[t]) in ()))
        time "100 x addmm_ [64;3n]x[3n;n]" (fun () -> for t in 0 .. 99 do slices[t].addmm_(big3[t], w, 0.0f, 1.0f) |> ignore)
        time "full cat 3 blocks" (fun () -> use t = TorchSharp.torch.cat([| big; big2; big |], 2L) in ())
        let u =
            { FusedUnroll.Recurrence = RnnFun.FusedRecurrence.Gru
              States = torch.rand([| 100L; 64L; n |]).requires_grad_(true)
              WRec = torch.randn([| 3L * n; n |]) * 0.1
              BRec = Some(torch.randn([| 3L * n |]))
              H0 = torch.zeros([| 64L; n |])
              Drive = torch.randn([| 100L; 64L; 3L * n |])
              Saved = [ torch.rand([| 100L; 64L; 3L * n |]); torch.rand([| 100L; 64L; n |]) ] }
        let g = torch.randn([| 100L; 64L; n |])
        time "gru gradients, random data" (fun () -> use _ = torch.NewDisposeScope() in FusedBptt.gradients u g |> ignore)
        let rz, cand, ghN = u.Saved[0].narrow(2L, 0L, 2L * n), u.Saved[1], u.Saved[0].narrow(2L, 2L * n, n)
        let states = u.States.detach ()
        let r, z = rz.narrow(2L, 0L, n), rz.narrow(2L, n, n)
        let one = 1.0.ToScalar()
        time "precompute" (fun () ->
            use _ = torch.NewDisposeScope()
            let hPrev = torch.cat([| u.H0.unsqueeze(0L); states.narrow(0L, 0L, 99L) |], 0L)
            let kn = (1.0 - z) * (1.0 - cand * cand)
            let k = torch.cat([| kn * ghN * r * (1.0 - r); z * (1.0 - z) * (hPrev - cand); kn * r |], 2L)
            ())
        let k = torch.rand([| 100L; 64L; 3L * n |])
        let blocks = k.view(100L, 64L, 3L, n).unbind 0
        let gg = g.clone()
        let ks, gs, gUp, zs = k.unbind 0, gg.unbind 0, gg.unsqueeze(2L).unbind 0, z.unbind 0
        let w = u.WRec
        time "loop addmm_" (fun () -> for t in 98 .. -1 .. 0 do gs[t].addmm_(ks[t + 1], w, 0.0f, 1.0f) |> ignore)
        time "loop addcmul_" (fun () -> for t in 98 .. -1 .. 0 do gs[t].addcmul_(gs[t + 1], zs[t + 1], one) |> ignore)
        time "loop blocks mul_" (fun () -> for t in 98 .. -1 .. 0 do blocks[t].mul_(gUp[t]) |> ignore)
        time "1.0 - z" (fun () -> use x = 1.0 - z in ())
        time "z * z" (fun () -> use x = z * z in ())
        time "cand * cand (contiguous)" (fun () -> use x = cand * cand in ())
        // Forward pieces (gru), N units.
        let drive = torch.randn([| 100L; 64L; 3L * n |])
        let h0 = torch.zeros([| 64L; n |])
        let bias = torch.randn([| 3L * n |])
        time "gru Recurrence.forwardWith" (fun () -> use _ = torch.NewDisposeScope() in Recurrence.forwardWith FusedRecurrence.Gru u.WRec (Some bias) h0 drive |> ignore)
        let driveL = torch.randn([| 100L; 64L; 4L * n |])
        let wL = torch.randn([| 4L * n; n |]) * 0.1
        let h0L = torch.zeros([| 64L; 2L * n |])
        time "lstm Recurrence.forward" (fun () -> use _ = torch.NewDisposeScope() in Recurrence.forward FusedRecurrence.Lstm wL h0L driveL |> ignore)
        let gates = driveL.clone()
        let gs = gates.unbind 0
        let wT = wL.t().contiguous()
        let hh = torch.rand([| 64L; n |])
        time "lstm: 100 x addmm_" (fun () -> for t in 0 .. 99 do gs[t].addmm_(hh, wT, 0.0f, 1.0f) |> ignore)
        time "lstm: 100 x addmm_ + sigmoid_" (fun () -> for t in 0 .. 99 do gs[t].addmm_(hh, wT, 0.0f, 1.0f).sigmoid_() |> ignore)
        let two = 2.0.ToScalar()
        time "lstm: 100 x c.mul(two).sigmoid_()" (fun () -> for t in 0 .. 99 do (use x = hh.mul(two).sigmoid_() in ()))
        time "lstm: 100 x mul_(two).sub_(1.0.ToScalar())" (fun () -> for t in 0 .. 99 do hh.mul_(two).sub_(1.0.ToScalar()) |> ignore)
        time "lstm: 100 x mul_(two).sub_(one)" (fun () -> for t in 0 .. 99 do hh.mul_(two).sub_(one) |> ignore)
        let fresh = torch.randn([| 64L; n |])
        time "100 x torch.tanh fresh [64;n]" (fun () -> for t in 0 .. 99 do (use x = torch.tanh fresh in ()))
        time "100 x torch.sigmoid fresh [64;n]" (fun () -> for t in 0 .. 99 do (use x = torch.sigmoid fresh in ()))
        let small = torch.randn([| 64L; n |]) * 0.01
        time "100 x torch.tanh small values" (fun () -> for t in 0 .. 99 do (use x = torch.tanh small in ()))
        let gTiny = g * 1e-38
        time "gru gradients, denormal-sized gradient" (fun () -> use _ = torch.NewDisposeScope() in FusedBptt.gradients u gTiny |> ignore)
        exit 0
    | "--profile-step" :: kind :: n :: [] ->
        // The same for a gated kind (gru, lstm).
        let phases = Workloads.profileGatedStep (RnnFun.Presets.kindByName kind) (int n) 200
        for name, ms in phases do printfn "%-40s %7.3f ms" name ms
        printfn "%-40s %7.3f ms" "total" (phases |> List.sumBy snd)
        exit 0
    | "--profile-step" :: n :: [] ->
        // Where one fused training step spends its time (one thread), for work on the fused pass.
        let phases = Workloads.profileInnerStep (int n) 200
        for name, ms in phases do printfn "%-40s %7.3f ms" name ms
        printfn "%-40s %7.3f ms" "total" (phases |> List.sumBy snd)
        exit 0
    | _ -> ()
    let value flag =
        args |> List.pairwise |> List.tryPick (fun (a, b) -> if a = flag then Some b else None)
    let known = set [ "--quick"; "--write-docs"; "--no-demo"; "--only"; "--cli"; "--docs"; "--help"; "-h" ]
    let unknown =
        args
        |> List.indexed
        |> List.filter (fun (i, a) -> not (known.Contains a) && not (i > 0 && (args[i - 1] = "--cli" || args[i - 1] = "--docs" || args[i - 1] = "--only")))
    if has "--help" || has "-h" then
        printfn "%s" usage
        0
    elif not unknown.IsEmpty then
        eprintfn "unknown argument: %s\n%s" (snd unknown.Head) usage
        2
    else
        let root = Harness.repositoryRoot ()
        let cli = Harness.cliPath root (value "--cli")
        let docs =
            match value "--docs", root with
            | Some p, _ -> Some(Path.GetFullPath p)
            | None, Some r -> Some(Path.Combine(r, "docs", "performance.md"))
            | None, None -> None
        let sections =
            let chosen =
                match value "--only" with
                | Some list -> list.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries) |> Set.ofArray
                | None -> Set.ofList Measure.allSections
            if has "--no-demo" then chosen.Remove "demo" else chosen
        let badSections = sections |> Set.filter (fun s -> not (List.contains s Measure.allSections))
        let writePage mode results =
            match docs with
            | Some path ->
                Report.write path mode results
                eprintfn "wrote %s" path
            | None -> eprintfn "repository root not found: give --docs PATH to write the page"
        if not badSections.IsEmpty then
            eprintfn "unknown section(s): %s (expected %s)" (String.Join(", ", badSections)) (String.Join(", ", Measure.allSections))
            2
        elif has "--quick" then
            let results = Measure.run Measure.quickPlan root cli sections
            if has "--write-docs" then writePage Report.Quick results
            0
        else
            let watch = Diagnostics.Stopwatch.StartNew()
            let results = Measure.run Measure.fullPlan root cli sections
            let artifacts =
                match root with
                | Some r -> Path.Combine(r, "benchmarks", "RnnFun.Benchmarks", "BenchmarkDotNet.Artifacts")
                | None -> Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts")
            let bdn = Full.run artifacts
            watch.Stop()
            eprintfn "full run took %.1f minutes" watch.Elapsed.TotalMinutes
            writePage (Report.Full(bdn, watch.Elapsed.TotalSeconds)) results
            0
