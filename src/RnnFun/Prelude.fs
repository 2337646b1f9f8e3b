namespace RnnFun

open System
open TorchSharp

/// A TorchSharp tensor.
type Tensor = torch.Tensor

/// `squared ()`: the element-wise square as t * t. TorchSharp's `square ()` is `pow(2)` with a
/// temporary Scalar that nothing keeps alive once its handle is read, so the garbage collector can
/// free it while libtorch reads it (seen once under load: "Unknown scalar type" from pow).
[<AutoOpen>]
module internal TensorSquare =
    type torch.Tensor with
        member t.squared() = torch.mul(t, t)

/// A user's argument is invalid: names the argument and says what was expected.
exception InvalidArgument of argument: string * problem: string with
    override this.Message = sprintf "%s: %s" this.argument this.problem

/// A model (or other RnnFun) file cannot be read: names the file and the problem.
exception FileFormatError of path: string * problem: string with
    override this.Message = sprintf "%s: %s" this.path this.problem

/// A byte count as text: 512 B, 3.2 MB, 24.0 GB (powers of 1024).
module internal ByteText =
    let ofBytes (bytes: float) =
        let units = [| "B"; "KB"; "MB"; "GB"; "TB"; "PB" |]
        let mutable v = bytes
        let mutable i = 0
        while v >= 1024.0 && i < units.Length - 1 do
            v <- v / 1024.0
            i <- i + 1
        if i = 0 then sprintf "%.0f %s" v units[i] else sprintf "%.1f %s" v units[i]

/// A computation would need more memory than the machine has available: names it, with the estimate
/// and what is available, so that the user can choose smaller sizes. Raised before anything large is
/// allocated (libtorch aborts the process, or the kernel kills it, when an allocation fails).
exception InsufficientMemory of what: string * needed: float * available: float with
    override this.Message =
        sprintf "%s would need about %s of memory, but %s is available: choose smaller sizes" this.what (ByteText.ofBytes this.needed) (ByteText.ofBytes this.available)

/// Numeric precision of a network's tensors.
[<RequireQualifiedAccess>]
type Precision =
    | Float32
    | Float64

    member p.ScalarType =
        match p with
        | Float32 -> torch.ScalarType.Float32
        | Float64 -> torch.ScalarType.Float64

/// Argument checks that fail with an `InvalidArgument` naming the argument.
module Check =
    let fail argument problem = raise (InvalidArgument(argument, problem))

    let positive argument (value: int) =
        if value <= 0 then fail argument (sprintf "expected a positive integer, got %d" value)

    let finitePositive argument (value: float) =
        if Double.IsNaN value || Double.IsInfinity value || value <= 0.0 then
            fail argument (sprintf "expected a finite number > 0, got %g" value)

    /// A matrix given as an array of rows must be rectangular with the given shape.
    let matrixShape argument (rows: int) (cols: int) (m: float[][]) =
        if isNull m || m.Length <> rows || m |> Array.exists (fun r -> isNull r || r.Length <> cols) then
            let actual =
                if isNull m then "null"
                elif m.Length = 0 then "0 rows"
                else sprintf "%d rows of lengths %s" m.Length (m |> Array.map (fun r -> if isNull r then "null" else string r.Length) |> Array.distinct |> String.concat "/")
            fail argument (sprintf "expected a %d x %d matrix (%d rows of %d), got %s" rows cols rows cols actual)

    let allFinite argument (values: float seq) =
        if values |> Seq.exists (fun v -> Double.IsNaN v || Double.IsInfinity v) then
            fail argument "expected finite numbers, found NaN or Inf"

/// Memory estimates checked before large allocations.
[<RequireQualifiedAccess>]
module Memory =
    /// Bytes the machine can give now: MemAvailable from /proc/meminfo on Linux (it counts reclaimable
    /// caches), at most the runtime's limit for the process (a container's memory limit, else the
    /// physical memory); elsewhere that limit alone.
    let available () : float =
        let fromRuntime () = float (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)
        let fromProc () =
          try
            if IO.File.Exists "/proc/meminfo" then
                IO.File.ReadLines "/proc/meminfo"
                |> Seq.tryFind (fun line -> line.StartsWith "MemAvailable:")
                |> Option.bind (fun line ->
                    match Double.TryParse(line.Substring("MemAvailable:".Length).Replace("kB", "").Trim(), Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with
                    | true, kb -> Some(kb * 1024.0)
                    | _ -> None)
                |> Option.defaultWith fromRuntime
            else fromRuntime ()
          with _ -> fromRuntime ()
        min (fromRuntime ()) (fromProc ())

    /// Raises `InsufficientMemory` when `needed` bytes (an estimate of the peak) exceed what is available.
    let require (what: string) (needed: float) =
        if needed > 1e8 then // below 100 MB there is nothing to refuse, and reading /proc costs time
            let free = available ()
            if needed > free then raise (InsufficientMemory(what, needed, free))

    /// Bytes per element of a precision.
    let elementBytes (precision: Precision) = match precision with Precision.Float32 -> 4.0 | Precision.Float64 -> 8.0

/// Random draws from a `System.Random`, for the plain-data parts (task noise, initial states, topology runs).
[<RequireQualifiedAccess>]
module Sampling =
    /// One N(0, 1) draw by Box-Muller (the cosine branch): two uniforms, u1 first. Seeded results
    /// (tasks, initial states, topology) depend on this exact formula and draw order.
    let standardNormal (random: Random) : float =
        // 1 - u keeps u1 in (0, 1], so that log u1 is finite.
        let u1 = 1.0 - random.NextDouble()
        let u2 = random.NextDouble()
        sqrt (-2.0 * log u1) * cos (2.0 * Math.PI * u2)

/// The stream of `System.Random(seed).NextDouble()` (.NET's seeded generator, Knuth's subtractive
/// one, which keeps its sequence across .NET versions for compatibility), without its virtual calls:
/// the flip-flop task draws two numbers per step and bit of every fresh training batch; generating
/// a batch took about a tenth of a 64-unit training step, some half of it in `System.Random`'s
/// draws. Same numbers, in the same order (checked against `System.Random` by the tests).
type internal SeededUniform(seed: int) =
    let state: int[] =
        let a = Array.zeroCreate<int> 56
        let subtraction = if seed = Int32.MinValue then Int32.MaxValue else abs seed
        let mutable mj = 161803398 - subtraction
        a[55] <- mj
        let mutable mk = 1
        let mutable ii = 0
        for _ in 1 .. 54 do
            ii <- ii + 21
            if ii >= 55 then ii <- ii - 55
            a[ii] <- mk
            mk <- mj - mk
            if mk < 0 then mk <- mk + Int32.MaxValue
            mj <- a[ii]
        for _ in 1 .. 4 do
            for i in 1 .. 55 do
                let mutable n = i + 30
                if n >= 55 then n <- n - 55
                a[i] <- a[i] - a[1 + n]
                if a[i] < 0 then a[i] <- a[i] + Int32.MaxValue
        a
    let mutable next = 0
    let mutable nextp = 21

    /// The next number of `System.Random(seed).NextDouble()`'s sequence, in [0, 1).
    member _.NextDouble() : float =
        let mutable i = next + 1
        if i >= 56 then i <- 1
        let mutable j = nextp + 1
        if j >= 56 then j <- 1
        let mutable r = state[i] - state[j]
        if r = Int32.MaxValue then r <- r - 1
        if r < 0 then r <- r + Int32.MaxValue
        state[i] <- r
        next <- i
        nextp <- j
        float r * (1.0 / float Int32.MaxValue)

/// Conversions between tensors and plain .NET arrays (always copies).
module Arrays =
    /// Row-major float64 matrix of a 2-D tensor.
    let ofMatrix (t: Tensor) : float[][] =
        use _ = torch.NewDisposeScope()
        let rows = int (t.shape[0])
        let cols = int (t.shape[1])
        let flat = t.detach().cpu().to_type(torch.ScalarType.Float64).contiguous().data<float>().ToArray()
        Array.init rows (fun i -> Array.sub flat (i * cols) cols)

    /// Float64 values of a tensor of any shape, row-major.
    let ofTensor (t: Tensor) : float[] =
        use _ = torch.NewDisposeScope()
        t.detach().cpu().to_type(torch.ScalarType.Float64).contiguous().data<float>().ToArray()

    /// A tensor of the given shape and precision from row-major values.
    let toTensor (precision: Precision) (shape: int64[]) (values: float[]) : Tensor =
        use _ = torch.NewDisposeScope()
        let t = torch.tensor(values, ReadOnlySpan<int64>(shape), torch.ScalarType.Float64)
        t.to_type(precision.ScalarType).MoveToOuterDisposeScope()

    /// A 2-D tensor from an array of rows.
    let matrixToTensor (precision: Precision) (m: float[][]) : Tensor =
        let rows = m.Length
        let cols = if rows = 0 then 0 else m[0].Length
        toTensor precision [| int64 rows; int64 cols |] (Array.concat m)

/// libtorch's thread count is one setting for the whole process. Calls that want their own count
/// (`Training.fit`, `FixedPoints.find`) hold it through a lease: calls that want the same count run
/// together; a call that wants another count waits until they are done (first come, first served);
/// when the last lease ends the count the process had before the first one comes back. A call made
/// inside a lease on the same thread (a search from a progress callback) keeps the outer count; a
/// callback that waits for work on another thread wanting another count would wait for itself, so
/// run such work after the call. Code that sets `torch.set_num_threads` itself while a lease is
/// held is not coordinated.
[<RequireQualifiedAccess>]
module LibtorchThreads =
    let private gate = obj ()
    let private depth = new System.Threading.ThreadLocal<int>(fun () -> 0)
    let private queue = System.Collections.Generic.LinkedList<int64 * int>()
    let mutable private nextTicket = 0L
    let mutable private active = 0
    let mutable private current = 0
    let mutable private before = 0

    let private releaseOuter () =
        lock gate (fun () ->
            active <- active - 1
            if active = 0 then torch.set_num_threads before
            System.Threading.Monitor.PulseAll gate)

    /// Holds libtorch at `threads` threads until the result is disposed (see the module). The lease
    /// must be disposed on the thread that took it (a lease belongs to its thread, so that nested
    /// calls on that thread keep its count).
    let lease (threads: int) : System.IDisposable =
        if threads <= 0 then Check.fail "threads" (sprintf "expected > 0, got %d" threads)
        let outer = depth.Value = 0
        if outer then
            lock gate (fun () ->
                let ticket = nextTicket
                nextTicket <- nextTicket + 1L
                let node = queue.AddLast((ticket, threads))
                try
                    while not (obj.ReferenceEquals(queue.First, node) && (active = 0 || current = threads)) do
                        System.Threading.Monitor.Wait gate |> ignore
                with _ ->
                    // An interrupted wait leaves the queue to the others.
                    queue.Remove node
                    System.Threading.Monitor.PulseAll gate
                    reraise ()
                queue.RemoveFirst()
                if active = 0 then
                    before <- torch.get_num_threads ()
                    torch.set_num_threads threads
                    current <- threads
                active <- active + 1
                // The next in line may share this count.
                System.Threading.Monitor.PulseAll gate)
        depth.Value <- depth.Value + 1
        let owner = System.Environment.CurrentManagedThreadId
        let mutable released = false
        { new System.IDisposable with
            member _.Dispose() =
                if not released then
                    if System.Environment.CurrentManagedThreadId <> owner then
                        raise (System.InvalidOperationException "a libtorch thread lease must be disposed on the thread that took it")
                    released <- true
                    depth.Value <- depth.Value - 1
                    if outer then releaseOuter () }

    /// The count a lease on this thread holds, or None outside a lease.
    let held () : int option = if depth.Value > 0 then Some(lock gate (fun () -> current)) else None
