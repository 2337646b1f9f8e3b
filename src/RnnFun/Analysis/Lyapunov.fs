namespace RnnFun

open System
open TorchSharp

/// What drives the network while a Lyapunov spectrum is measured.
[<RequireQualifiedAccess>]
type LyapunovInput =
    /// The same input [inputs] at every step (zeros: the autonomous network).
    | Constant of float[]
    /// One input per step [steps][inputs]: the transient takes the first `Transient` of them, the
    /// average the rest.
    | Sequence of float[][]

/// Settings of a Lyapunov spectrum.
type LyapunovConfig =
    { /// Steps averaged over under a `Constant` input (a `Sequence` averages over its own length
      /// less the transient).
      Steps: int
      /// Steps run first, state and frame together, and left out of the average: the state reaches
      /// its attractor and the frame aligns with the growing directions.
      Transient: int
      /// The largest this many exponents; None: all (the state's size).
      Exponents: int option
      /// QR re-orthonormalisation every this many steps (1: every step; more is faster while the
      /// frame's columns stay apart within float64, fine for contracting maps).
      Reorthonormalise: int
      /// Running estimates every this many averaged steps; 0: none.
      RecordEvery: int
      /// Seed of the initial orthonormal frame.
      Seed: int }

    static member defaults = { Steps = 1000; Transient = 200; Exponents = None; Reorthonormalise = 1; RecordEvery = 0; Seed = 0 }

/// A Lyapunov spectrum as plain data.
type LyapunovSpectrum =
    { /// Per step (natural log), descending. A direction the map collapses exactly (a zero singular
      /// value) gives -infinity.
      Exponents: float[]
      /// For a continuous-time kind (`Kind.TimeScale` alpha = dt / tau): `Exponents` / alpha, per
      /// time constant tau (the exponents of the flow the Euler map discretises); None for a map.
      PerTimeConstant: float[] option
      /// The Kaplan-Yorke dimension of `Exponents`.
      KaplanYorke: float
      /// Steps averaged over.
      Steps: int
      Transient: int
      /// [records]: the averaged steps at each running estimate.
      RunningSteps: int[]
      /// [records][exponents]: the running estimates (per step).
      Running: float[][]
      /// [state]: where the trajectory ended.
      FinalState: float[] }

/// Spectra of several trials (input-conditioned spectra), with their mean.
type LyapunovTrials =
    { Spectra: LyapunovSpectrum[]
      /// [exponents]: the mean over trials of each exponent (per step).
      Mean: float[]
      /// [exponents]: the standard deviation over trials (0 for one trial).
      StdDev: float[]
      /// The Kaplan-Yorke dimension of `Mean`.
      KaplanYorke: float }

/// Lyapunov spectra of a network's map along a trajectory: the tangent frame Q is carried by the
/// kind's state Jacobian, Q <- J_t Q, and re-orthonormalised by QR (Benettin et al. 1980; Shimada and
/// Nagashima 1979); exponent i is the average of log |R_ii|.
[<RequireQualifiedAccess>]
module Lyapunov =
    /// The Kaplan-Yorke dimension of a spectrum: j + (l_1 + .. + l_j) / |l_(j+1)| for the largest j
    /// whose partial sum is >= 0 (exponents sorted descending); 0 when l_1 < 0; the number of exponents
    /// when every partial sum is >= 0 (a lower bound when the spectrum is partial).
    let kaplanYorke (exponents: float[]) : float =
        let l = exponents |> Array.sortDescending
        if l.Length = 0 || Double.IsNaN l[0] || l[0] < 0.0 then 0.0
        else
            let mutable sum = 0.0
            let mutable j = 0
            while j < l.Length && sum + l[j] >= 0.0 do
                sum <- sum + l[j]
                j <- j + 1
            if j = l.Length then float j
            elif Double.IsNegativeInfinity l[j] then float j
            else float j + sum / abs l[j]

    /// A seeded orthonormal frame [n; k] (QR of a Gaussian matrix).
    let private frame (seed: int) (n: int) (k: int) : Tensor =
        let random = Random(seed)
        let g = Array.init (n * k) (fun _ -> Sampling.standardNormal random)
        let struct (q, _) = torch.linalg.qr (Arrays.toTensor Precision.Float64 [| int64 n; int64 k |] g)
        q // [n; k]

    let private checkConfig (config: LyapunovConfig) =
        if config.Steps < 1 then Check.fail "steps" (sprintf "expected at least 1 step, got %d" config.Steps)
        if config.Transient < 0 then Check.fail "transient" (sprintf "expected a number >= 0, got %d" config.Transient)
        if config.Reorthonormalise < 1 then Check.fail "reorthonormalise" (sprintf "expected a number >= 1, got %d" config.Reorthonormalise)
        if config.RecordEvery < 0 then Check.fail "record_every" (sprintf "expected a number >= 0, got %d" config.RecordEvery)

    /// Steps per batch of Jacobians (about 64 MB of [n; n] float64 matrices whatever n).
    let private chunkOf (n: int) = max 1 (min 256 (int (64e6 / (8.0 * float n * float n))))

    /// The spectrum of the network's map along the trajectory from `h0` ([state]; empty: zeros)
    /// under `input`, in float64 with the kind's closed-form Jacobian (autograd through its step when
    /// it has none).
    let spectrum (config: LyapunovConfig) (net: Network) (input: LyapunovInput) (h0: float[]) : LyapunovSpectrum =
        checkConfig config
        let n = Network.stateSize net
        let k =
            match config.Exponents with
            | None -> n
            | Some k when k >= 1 && k <= n -> k
            | Some k -> Check.fail "exponents" (sprintf "expected 1 to %d (the state's size), got %d" n k)
        let h0 = if isNull h0 || h0.Length = 0 then Array.zeroCreate n else h0
        if h0.Length <> n then Check.fail "initial_state" (sprintf "expected %d values (the state's size), got %d" n h0.Length)
        Check.allFinite "initial_state" h0
        let inputs = net.Sizes.Inputs
        let checkInput (u: float[]) =
            if isNull u || u.Length <> inputs then
                Check.fail "inputs" (sprintf "expected %d values per step (one per network input), got %d" inputs (if isNull u then 0 else u.Length))
        let total, inputAt =
            match input with
            | LyapunovInput.Constant u ->
                checkInput u
                Check.allFinite "inputs" u
                config.Transient + config.Steps, (fun (_: int) -> u)
            | LyapunovInput.Sequence us ->
                if isNull us || us.Length <= config.Transient then
                    Check.fail "inputs" (sprintf "expected more steps of input (%d) than the transient (%d)" (if isNull us then 0 else us.Length) config.Transient)
                us |> Array.iter checkInput
                Check.allFinite "inputs" (Seq.concat us)
                us.Length, (fun t -> us[t])
        let averaged = total - config.Transient
        // One libtorch thread: per step the matrices are small, and more threads only wait on each other.
        use _ = LibtorchThreads.lease 1
        use net64 = Network.toPrecision Precision.Float64 net
        let kind = net64.Kind
        let chunk = chunkOf n
        let mutable h = Array.copy h0
        let mutable q = (use _ = torch.NewDisposeScope() in Arrays.ofTensor (frame config.Seed n k)) // [n * k]
        let sums = Array.zeroCreate<float> k
        let runningSteps = ResizeArray<int>()
        let running = ResizeArray<float[]>()
        let mutable t = 0
        let mutable sinceQr = 0
        while t < total do
            use _ = torch.NewDisposeScope()
            let w = Network.weights net64
            let count = min chunk (total - t)
            let u = Arrays.matrixToTensor Precision.Float64 (Array.init count (fun i -> inputAt (t + i))) // [count; inputs]
            let drive = kind.InputDrive w u // [count; drive]
            // The states the Jacobians are taken at: h_t, .., h_(t + count - 1).
            let mutable x = Arrays.toTensor Precision.Float64 [| 1L; int64 n |] h // [1; n]
            let states = Array.zeroCreate<Tensor> count
            for i in 0 .. count - 1 do
                states[i] <- x
                x <- kind.Step w x (drive.narrow(0L, int64 i, 1L)) // [1; n]
            let jac = Jacobian.ofStates kind w (torch.cat(states, 0L)) drive // [count; n; n]
            let mutable frameT = Arrays.toTensor Precision.Float64 [| int64 n; int64 k |] q // [n; k]
            // Log |R_ii| summed over the chunk's averaged steps, kept as a tensor until the chunk ends.
            let mutable logs = torch.zeros([| int64 k |], dtype = torch.ScalarType.Float64) // [k]
            for i in 0 .. count - 1 do
                frameT <- torch.matmul(jac[int64 i], frameT) // [n; k]
                sinceQr <- sinceQr + 1
                let step = t + i
                let last = step = total - 1
                let recordHere = config.RecordEvery > 0 && step >= config.Transient && (step - config.Transient + 1) % config.RecordEvery = 0
                if sinceQr >= config.Reorthonormalise || last || step = config.Transient - 1 || recordHere then
                    let struct (qq, r) = torch.linalg.qr frameT
                    frameT <- qq
                    sinceQr <- 0
                    if step >= config.Transient then
                        logs <- logs + torch.log(torch.abs(torch.diagonal(r)))
                    if recordHere then
                        let partial = Arrays.ofTensor logs
                        let steps = step - config.Transient + 1
                        runningSteps.Add steps
                        running.Add(Array.init k (fun j -> (sums[j] + partial[j]) / float steps))
            let chunkLogs = Arrays.ofTensor logs
            for j in 0 .. k - 1 do
                sums[j] <- sums[j] + chunkLogs[j]
            h <- Arrays.ofTensor x
            q <- Arrays.ofTensor frameT
            t <- t + count
        if not (Array.forall Double.IsFinite h) then
            Check.fail "initial_state" "the trajectory left the finite numbers (the network diverges from this state under this input)"
        // QR does not order its diagonal: the exponents are the sorted averages.
        let exponents = sums |> Array.map (fun s -> s / float averaged) |> Array.sortDescending
        { Exponents = exponents
          PerTimeConstant = kind.TimeScale |> Option.map (fun alpha -> exponents |> Array.map (fun l -> l / alpha))
          KaplanYorke = kaplanYorke exponents
          Steps = averaged
          Transient = config.Transient
          RunningSteps = runningSteps.ToArray()
          Running = running.ToArray() |> Array.map Array.sortDescending
          FinalState = h }

    /// Input-conditioned spectra: one spectrum per input sequence ([trials][steps][inputs]), each from
    /// `h0`, and their mean.
    let ofTrials (config: LyapunovConfig) (net: Network) (trials: float[][][]) (h0: float[]) : LyapunovTrials =
        if isNull trials || trials.Length = 0 then Check.fail "inputs" "expected at least one trial"
        let spectra = trials |> Array.map (fun us -> spectrum config net (LyapunovInput.Sequence us) h0)
        let k = spectra[0].Exponents.Length
        let mean = Array.init k (fun j -> spectra |> Array.averageBy (fun s -> s.Exponents[j]))
        let std =
            Array.init k (fun j ->
                if spectra.Length < 2 then 0.0
                else
                    let m = mean[j]
                    sqrt ((spectra |> Array.sumBy (fun s -> (s.Exponents[j] - m) ** 2.0)) / float (spectra.Length - 1)))
        { Spectra = spectra; Mean = mean; StdDev = std; KaplanYorke = kaplanYorke mean }

    /// Spectra under several constant inputs ([conditions][inputs]), each from `h0`.
    let underInputs (config: LyapunovConfig) (net: Network) (inputs: float[][]) (h0: float[]) : LyapunovSpectrum[] =
        if isNull inputs || inputs.Length = 0 then Check.fail "inputs" "expected at least one input"
        inputs |> Array.map (fun u -> spectrum config net (LyapunovInput.Constant u) h0)
