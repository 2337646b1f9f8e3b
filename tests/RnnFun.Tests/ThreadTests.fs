module RnnFun.Tests.ThreadTests

open System
open System.Threading
open Expecto
open TorchSharp
open RnnFun

let private task = Tasks.flipFlop { FlipFlopConfig.defaults with Bits = 2; Time = 16 }

let private fitWith (threads: int) (seen: Collections.Concurrent.ConcurrentBag<int>) =
    use net = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 2; Units = 12; OutputSize = 2; Seed = 2L }
    let config = { FitConfig.defaults with Epochs = 6; BatchSize = 8; LearningRate = 1e-2 }
    let hooks = { FitHooks.none with Threads = Some threads; Progress = Some(fun _ -> seen.Add(torch.get_num_threads ()); Thread.Sleep 2) }
    use result = Training.fitWith hooks config net (TrainingData.Fresh(task, 32))
    Network.values result.Network

let private searchWith (threads: int) (seen: Collections.Concurrent.ConcurrentBag<int>) =
    use net = Network.scaledIdentity Kinds.rnn 3 2.0
    let config = { FixedPointConfig.defaults with Threads = Some threads; Progress = Some(fun _ -> seen.Add(torch.get_num_threads ())) }
    (FixedPoints.find config net (ConstantInput.Same [| 0.0 |]) (InitialStates.uniformBox 256 -1.5 1.5 3 0)).FixedPoints
    |> Array.map (fun p -> p.State)

/// Runs both on their own threads at once; returns their results.
let private together (a: unit -> 'a) (b: unit -> 'b) : 'a * 'b =
    let mutable ra = Unchecked.defaultof<'a>
    let mutable rb = Unchecked.defaultof<'b>
    let errors = Collections.Concurrent.ConcurrentBag<exn>()
    let start (f: unit -> unit) = let t = Thread(fun () -> try f () with e -> errors.Add e) in t.Start(); t
    let ta = start (fun () -> ra <- a ())
    let tb = start (fun () -> rb <- b ())
    ta.Join()
    tb.Join()
    if not errors.IsEmpty then raise (AggregateException(errors))
    ra, rb

[<Tests>]
let tests =
    testSequenced <| testList "libtorch threads" [
        test "two fits at once each run with their own thread count, give their lone results, and restore the setting" {
            let before = torch.get_num_threads ()
            let alone1 = fitWith 1 (Collections.Concurrent.ConcurrentBag())
            let alone2 = fitWith 2 (Collections.Concurrent.ConcurrentBag())
            Expect.equal (torch.get_num_threads ()) before "a fit leaves the count as it was"
            let seen1, seen2 = Collections.Concurrent.ConcurrentBag<int>(), Collections.Concurrent.ConcurrentBag<int>()
            let r1, r2 = together (fun () -> fitWith 1 seen1) (fun () -> fitWith 2 seen2)
            Expect.isNonEmpty seen1 "progress was reported"
            Expect.allEqual seen1 1 "the 1-thread fit ran on 1 thread throughout"
            Expect.allEqual seen2 2 "the 2-thread fit ran on 2 threads throughout"
            Expect.equal r1 alone1 "the same weights as alone (1 thread)"
            Expect.equal r2 alone2 "the same weights as alone (2 threads)"
            Expect.equal (torch.get_num_threads ()) before "the count the process had before"
        }

        test "a fit and a search at once keep their counts; a search inside a fit's callback keeps the fit's" {
            let before = torch.get_num_threads ()
            let alone = searchWith 2 (Collections.Concurrent.ConcurrentBag())
            let seenFit, seenSearch = Collections.Concurrent.ConcurrentBag<int>(), Collections.Concurrent.ConcurrentBag<int>()
            let _, found = together (fun () -> fitWith 1 seenFit) (fun () -> searchWith 2 seenSearch)
            Expect.allEqual seenFit 1 "fit: 1 thread"
            Expect.allEqual seenSearch 2 "search: 2 threads"
            Expect.equal found alone "the search finds what it finds alone"
            // Nested: the lease is the outer one's, and nothing waits for itself.
            let nested = Collections.Concurrent.ConcurrentBag<int>()
            use net = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 2; Units = 12; OutputSize = 2 }
            let hooks = { FitHooks.none with Threads = Some 1; Progress = Some(fun p -> if p.Batch = 1 then searchWith 2 nested |> ignore) }
            use _ = Training.fitWith hooks { FitConfig.defaults with Epochs = 1; BatchSize = 8 } net (TrainingData.Fresh(task, 16))
            Expect.allEqual nested 1 "the inner search ran under the fit's count"
            Expect.equal (torch.get_num_threads ()) before "restored"
        }

        test "a lease is disposed on its own thread; a wrong one is refused and the lease stays usable" {
            let before = torch.get_num_threads ()
            let lease = LibtorchThreads.lease 1
            let mutable error: exn = null
            let t = Thread(fun () -> try lease.Dispose() with e -> error <- e)
            t.Start()
            t.Join()
            Expect.isTrue (error :? InvalidOperationException) "another thread may not end it"
            Expect.equal (LibtorchThreads.held ()) (Some 1) "still held here"
            lease.Dispose()
            lease.Dispose() // twice is harmless
            Expect.equal (LibtorchThreads.held ()) None "released"
            Expect.equal (torch.get_num_threads ()) before "restored"
        }

        test "a lease of 0 threads is refused" {
            let argument, _ = expectInvalid (fun () -> LibtorchThreads.lease 0) "0 threads"
            Expect.equal argument "threads" "names threads"
        }
    ]
