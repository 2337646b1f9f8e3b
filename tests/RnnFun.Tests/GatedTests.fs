module RnnFun.Tests.GatedTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open RnnFun

let private gatedKinds = [ Kinds.gru; Kinds.lstm; Kinds.ugrnn ]

/// Every parameter of a kind drawn from U(-scale, scale) with System.Random (not the library's
/// initialisation), as plain data.
let internal randomValues (kind: Kind) (config: NetworkConfig) (scale: float) (seed: int) =
    let random = Random(seed)
    let draw () = (random.NextDouble() * 2.0 - 1.0) * scale
    Network.specs kind config
    |> List.map (fun s ->
        s.Name,
        match s.Shape with
        | [| n |] -> ParameterValue.Vector(Array.init n (fun _ -> draw ()))
        | [| r; c |] -> ParameterValue.Matrix(Array.init r (fun _ -> Array.init c (fun _ -> draw ())))
        | _ -> failwith "shape")
    |> Map.ofList

let internal randomGated (kind: Kind) (inputs: int) (units: int) (precision: Precision) (seed: int) =
    let config = { NetworkConfig.defaults with InputSize = inputs; Units = units; OutputSize = 2; OutputBias = true; Precision = precision }
    Network.ofValues kind config (randomValues kind config 1.0 seed)

let internal matrixOf (values: Map<string, ParameterValue>) name =
    match values[name] with
    | ParameterValue.Matrix m -> m
    | ParameterValue.Vector _ -> failwithf "%s is a vector" name

let internal vectorOf (values: Map<string, ParameterValue>) name =
    match values[name] with
    | ParameterValue.Vector v -> v
    | ParameterValue.Matrix _ -> failwithf "%s is a matrix" name

let internal sigmoid x = 1.0 / (1.0 + exp -x)
let internal matVec (m: float[][]) (v: float[]) = m |> Array.map (fun row -> Array.fold2 (fun a w x -> a + w * x) 0.0 row v)
let internal add = Array.map2 (+)
let internal mul = Array.map2 (*)

/// Block k (of height n) of stacked weights or biases.
let internal rowsOf (m: float[][]) n k = Array.sub m (k * n) n
let internal segment (v: float[]) n k = Array.sub v (k * n) n

/// PyTorch's published equations (torch.nn.GRU / torch.nn.LSTM docs) and Collins et al.'s UGRNN,
/// written out on plain arrays: one state row and one input row -> the next state row.
let private reference (kindName: string) (v: Map<string, ParameterValue>) (n: int) (state: float[]) (x: float[]) : float[] =
    let wih, whh = matrixOf v "weight_ih_l0", matrixOf v "weight_hh_l0"
    // W_i? x + b_i? + W_h? h + b_h? for gate k (biases split as PyTorch keeps them).
    let pre (h: float[]) k (bih: float[]) (bhh: float[] option) =
        let a = add (add (matVec (rowsOf wih n k) x) (segment bih n k)) (matVec (rowsOf whh n k) h)
        match bhh with Some b -> add a (segment b n k) | None -> a
    match kindName with
    | "gru" ->
        let bih, bhh = vectorOf v "bias_ih_l0", vectorOf v "bias_hh_l0"
        let h = state
        let r = pre h 0 bih (Some bhh) |> Array.map sigmoid
        let z = pre h 1 bih (Some bhh) |> Array.map sigmoid
        let hn = add (matVec (rowsOf whh n 2) h) (segment bhh n 2)
        let nGate = add (add (matVec (rowsOf wih n 2) x) (segment bih n 2)) (mul r hn) |> Array.map tanh
        Array.init n (fun i -> (1.0 - z[i]) * nGate[i] + z[i] * h[i])
    | "lstm" ->
        let bih, bhh = vectorOf v "bias_ih_l0", vectorOf v "bias_hh_l0"
        let h, c = Array.sub state 0 n, Array.sub state n n
        let i = pre h 0 bih (Some bhh) |> Array.map sigmoid
        let f = pre h 1 bih (Some bhh) |> Array.map sigmoid
        let g = pre h 2 bih (Some bhh) |> Array.map tanh
        let o = pre h 3 bih (Some bhh) |> Array.map sigmoid
        let c2 = add (mul f c) (mul i g)
        Array.append (mul o (Array.map tanh c2)) c2
    | "ugrnn" ->
        // g = sigmoid(W_g [x; h] + b_g), c = tanh(W_c [x; h] + b_c), h' = g h + (1 - g) c.
        let b = vectorOf v "bias_l0"
        let h = state
        let g = pre h 0 b None |> Array.map sigmoid
        let c = pre h 1 b None |> Array.map tanh
        Array.init n (fun i -> g[i] * h[i] + (1.0 - g[i]) * c[i])
    | other -> failwithf "no reference for %s" other

let private genCase =
    Gen.zip3 (Gen.zip3 (Gen.choose (1, 6)) (Gen.choose (1, 6)) (Gen.choose (1, 4))) (Gen.choose (0, 100000)) (Gen.elements gatedKinds)

let internal randomRows (random: Random) rows cols scale =
    Array.init rows (fun _ -> Array.init cols (fun _ -> (random.NextDouble() * 2.0 - 1.0) * scale))

/// Effective weight blocks (k of height n) of a parameter, from the network's values.
let private blocksOf (net: Network) name n k =
    rowsOf (matrixOf (Network.values net |> Map.ofList) name) n k

[<Tests>]
let tests =
    testList "Model.Gated" [
        testProp "one step equals PyTorch's published equations (float64, 1e-12)" (fun () ->
            Prop.forAll (Arb.fromGen genCase) (fun ((inputs, units, batch), seed, kind) ->
                use net = randomGated kind inputs units Precision.Float64 seed
                let weights = Network.values net |> Map.ofList
                let random = Random(seed + 1)
                let states = randomRows random batch (Network.stateSize net) 2.0
                let xs = randomRows random batch inputs 1.5
                use next = Network.step net (Arrays.matrixToTensor Precision.Float64 states) (Arrays.matrixToTensor Precision.Float64 xs)
                let expected = Array.map2 (reference kind.Name weights units) states xs |> Array.concat
                Expect.isLessThan (maxAbsDiff (values next) expected) 1e-12 (sprintf "%s: step = the equations" kind.Name)
                true))

        testProp "Network.unroll's states equal stepping, and its outputs the readout of h" (fun () ->
            Prop.forAll (Arb.fromGen genCase) (fun ((inputs, units, batch), seed, kind) ->
                use net = randomGated kind inputs units Precision.Float64 seed
                use x = randomInputs seed batch 5 inputs Precision.Float64
                use r = Network.unroll net x
                use _ = torch.NewDisposeScope()
                let mutable h = torch.zeros([| int64 batch; int64 (Network.stateSize net) |], torch.ScalarType.Float64)
                for t in 0 .. 4 do
                    h <- Network.step net h (x.select(1L, int64 t))
                    Expect.isLessThan (maxAbsDiff (values (r.States.select(1L, int64 t))) (values h)) 1e-12 (sprintf "%s: state at step %d" kind.Name t)
                // The readout reads the h block: W_out h + b_out.
                let v = Network.values net |> Map.ofList
                let hLast = values (r.States.select(1L, 4L).narrow(1L, 0L, int64 units)) |> Array.chunkBySize units
                let expected = hLast |> Array.collect (fun row -> add (matVec (matrixOf v "w_out") row) (vectorOf v "b_out"))
                Expect.isLessThan (maxAbsDiff (values (r.Outputs.select(1L, 4L))) expected) 1e-12 "outputs"
                true))

        test "GRU and LSTM steps equal TorchSharp's torch.nn.GRU / torch.nn.LSTM with the same weights (float32, 1e-6)" {
            for (inputs, units, batch, seed) in [ (3, 5, 4, 1); (1, 1, 1, 2); (6, 4, 3, 3); (2, 7, 2, 4) ] do
                for kind in [ Kinds.gru; Kinds.lstm ] do
                    use net = randomGated kind inputs units Precision.Float32 seed
                    use _ = torch.NewDisposeScope()
                    let w = Network.weights net
                    use m: torch.nn.Module =
                        if kind.Name = "gru" then torch.nn.GRU(int64 inputs, int64 units, 1L, true, true) :> torch.nn.Module
                        else torch.nn.LSTM(int64 inputs, int64 units, 1L, true, true) :> torch.nn.Module
                    let names = m.named_parameters () |> Seq.map (fun struct (name, _) -> name) |> List.ofSeq
                    Expect.equal (List.sort names) ([ "bias_hh_l0"; "bias_ih_l0"; "weight_hh_l0"; "weight_ih_l0" ]) "torch's state_dict names"
                    do
                        use _ = torch.no_grad ()
                        for struct (name, p) in m.named_parameters () do
                            Expect.equal p.shape w[name].shape (sprintf "%s: same shape" name)
                            p.copy_(w[name]) |> ignore
                    let random = Random(seed)
                    let states = randomRows random batch (Network.stateSize net) 1.5
                    let xs = randomRows random batch inputs 1.5
                    let s = Arrays.matrixToTensor Precision.Float32 states // [batch; state]
                    let x = Arrays.matrixToTensor Precision.Float32 xs // [batch; inputs]
                    use ours = Network.step net s x
                    let theirs =
                        match m with
                        | :? Modules.GRU as gru ->
                            let struct (_, hn) = gru.forward(x.unsqueeze(1L), s.unsqueeze(0L))
                            hn.squeeze(0L) // [batch; units]
                        | :? Modules.LSTM as lstm ->
                            let h0 = s.narrow(1L, 0L, int64 units).unsqueeze(0L).contiguous()
                            let c0 = s.narrow(1L, int64 units, int64 units).unsqueeze(0L).contiguous()
                            let struct (_, hn, cn) = lstm.forward(x.unsqueeze(1L), Nullable<struct (torch.Tensor * torch.Tensor)>(struct (h0, c0)))
                            torch.cat([| hn.squeeze(0L); cn.squeeze(0L) |], 1L) // [batch; 2 units], packed [h; c]
                        | _ -> failwith "module"
                    Expect.isLessThan (maxAbsDiff (values ours) (values theirs)) 1e-6 (sprintf "%s %A: one step" kind.Name (inputs, units, batch))
                    // And over a sequence from zeros, batch-first.
                    use xs5 = randomInputs seed batch 6 inputs Precision.Float32
                    use r = Network.unroll net xs5
                    let sequence =
                        match m with
                        | :? Modules.GRU as gru -> let struct (out, _) = gru.forward(xs5, null) in out
                        | :? Modules.LSTM as lstm -> let struct (out, _, _) = lstm.forward(xs5, Nullable()) in out
                        | _ -> failwith "module"
                    Expect.isLessThan (maxAbsDiff (values (r.States.narrow(2L, 0L, int64 units).contiguous())) (values sequence)) 1e-5 (sprintf "%s: 6 steps" kind.Name)
        }

        test "Network.outputs (libtorch's gru and lstm kernels) = Network.unroll's outputs, from zeros and from a given state, weights recopied each call" {
            for precision, tolerance in [ Precision.Float64, 1e-12; Precision.Float32, 2e-5 ] do
                for kind in [ Kinds.gru; Kinds.lstm; Kinds.ugrnn; Kinds.rnn; Kinds.ctrnn ] do
                    // Two networks of the same sizes one after the other: a kernel kept from the
                    // first call must compute with the second network's weights.
                    for inputs, units, batch, seed in [ (3, 5, 4, 1); (3, 5, 4, 2); (1, 1, 1, 3); (2, 9, 3, 4) ] do
                        use net =
                            if kind.Name = "rnn" || kind.Name = "ctrnn" then
                                Network.create kind { NetworkConfig.defaults with InputSize = inputs; Units = units; OutputSize = 2; Precision = precision; Seed = int64 seed }
                            else randomGated kind inputs units precision seed
                        use _ = torch.NewDisposeScope()
                        use _ = torch.no_grad ()
                        let x = randomInputs seed batch 7 inputs precision // [batch; time; inputs]
                        let h0 = Arrays.matrixToTensor precision (randomRows (Random seed) batch (Network.stateSize net) 0.8) // [batch; state]
                        for start in [ None; Some h0 ] do
                            use r = Network.unrollFrom net start x
                            let o = Network.outputsFrom net start x // [batch; time; outputs]
                            Expect.sequenceEqual o.shape r.Outputs.shape "shape"
                            Expect.isLessThan (maxAbsDiff (values o) (values r.Outputs)) tolerance (sprintf "%s %A %A from %s" kind.Name precision (inputs, units, batch) (if start.IsSome then "h0" else "zeros"))
                            // The kernel itself ran (not the fallback), and gave h of every step.
                            match Recurrence.ofKind kind with
                            | Some ((FusedRecurrence.Gru | FusedRecurrence.Lstm) as recurrence) ->
                                let names = (ForwardKernels.names (if kind.Name = "gru" then 3 else 4) (net.Parameters |> List.map (fun p -> p.Spec))).Value
                                let h = start |> Option.defaultWith (fun () -> torch.zeros([| int64 batch; int64 (Network.stateSize net) |], precision.ScalarType))
                                let hidden = ForwardKernels.tryHidden recurrence names (Network.weights net) h x
                                Expect.isSome hidden (sprintf "%s: the kernel runs without autograd" kind.Name)
                                Expect.isLessThan (maxAbsDiff (values hidden.Value) (values (r.States.narrow(2L, 0L, int64 units).contiguous()))) tolerance "h of every step"
                            | _ -> ()
        }

        testProp "closed-form Jacobians = autograd (1e-12) = central finite differences (float64, [batch; state; state])" (fun () ->
            Prop.forAll (Arb.fromGen genCase) (fun ((inputs, units, batch), seed, kind) ->
                use net = randomGated kind inputs units Precision.Float64 seed
                Expect.isSome (Kind.closedFormJacobian net.Kind) "has a closed form"
                use _ = torch.NewDisposeScope()
                let random = Random(seed + 2)
                let n = Network.stateSize net
                let states = randomRows random batch n 2.0
                let xs = randomRows random batch inputs 1.0
                let closed = Jacobian.atStates net states xs // [batch][state][state]
                Expect.equal (closed.Length, (closed[0]).Length, (closed[0][0]).Length) (batch, n, n) "shape"
                let w = Network.weights net
                let drive = kind.InputDrive w (Arrays.matrixToTensor Precision.Float64 xs)
                let auto = values (Jacobian.autograd kind w (Arrays.matrixToTensor Precision.Float64 states) drive)
                Expect.isLessThan (maxAbsDiff (closed |> Array.collect Array.concat) auto) 1e-12 (sprintf "%s: closed form = autograd" kind.Name)
                let eps = 1e-6
                for b in 0 .. batch - 1 do
                    for j in 0 .. n - 1 do
                        let shifted delta =
                            let s = Array.copy states[b]
                            s[j] <- s[j] + delta
                            use next = Network.step net (Arrays.matrixToTensor Precision.Float64 [| s |]) (Arrays.matrixToTensor Precision.Float64 [| xs[b] |])
                            values next
                        let column = Array.map2 (fun a c -> (a - c) / (2.0 * eps)) (shifted eps) (shifted -eps)
                        for i in 0 .. n - 1 do
                            Expect.isLessThan (abs (column.[i] - closed.[b].[i].[j])) 1e-7 (sprintf "%s: dF_%d/dh_%d" kind.Name i j)
                true))

        test "parameters: PyTorch's names, shapes and roles, fan-in = units, everything trained by default" {
            let sizes = { Inputs = 3; Units = 5; Outputs = 2 }
            for kind, gates in [ Kinds.gru, 3; Kinds.lstm, 4; Kinds.ugrnn, 2 ] do
                let specs = kind.Parameters sizes
                for s in specs do
                    Expect.equal s.FanIn 5 (sprintf "%s.%s: fan-in = H (PyTorch's U(-1/sqrt(H), 1/sqrt(H)))" kind.Name s.Name)
                    Expect.isTrue s.Trainable (sprintf "%s.%s trained by default" kind.Name s.Name)
                let byName = specs |> List.map (fun s -> s.Name, s) |> Map.ofList
                Expect.equal byName["weight_ih_l0"].Shape [| gates * 5; 3 |] "weight_ih"
                Expect.equal byName["weight_ih_l0"].Role (Role.InputBlocks gates) "weight_ih role"
                Expect.equal byName["weight_hh_l0"].Shape [| gates * 5; 5 |] "weight_hh"
                Expect.equal byName["weight_hh_l0"].Role (Role.RecurrentBlocks gates) "weight_hh role"
                Expect.equal byName["w_out"].Shape [| 2; 5 |] "w_out"
                Expect.isTrue byName["b_out"].Optional "b_out optional"
            Expect.equal (Kinds.lstm.State sizes).Blocks [ { Name = "h"; Size = 5 }; { Name = "c"; Size = 5 } ] "LSTM state [h; c]"
            Expect.equal (Kinds.lstm.State sizes).Readout "h" "readout reads h"
            Expect.equal (Kinds.lstm.State sizes).Rates "h" "rates read h"
            // The initialisation's bound: every weight within 1/sqrt(H), and the draws fill it.
            use net = Network.create Kinds.lstm { NetworkConfig.defaults with InputSize = 3; Units = 16; OutputSize = 2; Seed = 5L }
            for p in net.Parameters do
                let v = values p.Value
                Expect.isLessThanOrEqual (v |> Array.map abs |> Array.max) 0.25 (sprintf "%s within 1/sqrt(16)" p.Spec.Name)
            let hh = values (net.Parameters |> List.find (fun p -> p.Spec.Name = "weight_hh_l0")).Value
            Expect.isGreaterThan (hh |> Array.map abs |> Array.max) 0.24 "uses the whole range"
            Expect.isTrue (Kinds.builtIn |> List.map (fun k -> k.Name) |> List.forall (fun n -> List.contains n [ "rnn"; "ctrnn"; "gru"; "lstm"; "ugrnn" ])) "built in"
            for k in gatedKinds do Expect.isTrue (Kinds.isBuiltIn k) (sprintf "%s is built in" k.Name)
            Expect.isFalse (Kinds.isBuiltIn { Kinds.gru with Step = fun w h d -> Kinds.gru.Step w h d }) "another step is not built in"
        }

        testProp "masks and no-autapses hold on every block; sign constraints are refused" (fun () ->
            let gen =
                gen {
                    let! inputs = Gen.choose (1, 4)
                    let! units = Gen.choose (1, 5)
                    let! kind = Gen.elements gatedKinds
                    let! autapses = Gen.elements [ true; false ]
                    let! inputMask = Gen.optionOf (genMask units inputs false)
                    let! recurrentMask = Gen.optionOf (genMask units units false)
                    let! seed = Gen.choose (0, 1000)
                    return inputs, units, kind, autapses, inputMask, recurrentMask, seed
                }
            Prop.forAll (Arb.fromGen gen) (fun (inputs, units, kind, autapses, inputMask, recurrentMask, seed) ->
                let constraints = { Constraints.none with Autapses = autapses; InputMask = inputMask; RecurrentMask = recurrentMask }
                let config = { NetworkConfig.defaults with InputSize = inputs; Units = units; OutputSize = inputs; Constraints = constraints; Seed = int64 seed }
                use net = Network.create kind config
                let gates = match (kind.Parameters net.Sizes |> List.find (fun s -> s.Name = "weight_hh_l0")).Role with Role.RecurrentBlocks k -> k | _ -> 0
                Expect.isGreaterThan gates 1 "stacked blocks"
                // The projection holds through training too (a step moves every weight).
                use trained = Training.fit { FitConfig.defaults with Epochs = 1; BatchSize = 4; LearningRate = 0.1; KeepBest = false } net (TrainingData.Fresh(Tasks.flipFlop { FlipFlopConfig.defaults with Bits = inputs; Time = 4 }, 4))
                for net, k in List.allPairs [ net; trained.Network ] [ 0 .. gates - 1 ] do
                    let hh = blocksOf net "weight_hh_l0" units k
                    let ih = blocksOf net "weight_ih_l0" units k
                    for i in 0 .. units - 1 do
                        if not autapses then Expect.equal (hh[i][i]) 0.0 (sprintf "%s block %d: no autapse %d" kind.Name k i)
                        for j in 0 .. units - 1 do
                            match recurrentMask with
                            | Some m when m[i][j] = 0.0 -> Expect.equal (hh[i][j]) 0.0 (sprintf "%s block %d: masked [%d][%d]" kind.Name k i j)
                            | _ -> ()
                        for j in 0 .. inputs - 1 do
                            match inputMask with
                            | Some m when m[i][j] = 0.0 -> Expect.equal (ih[i][j]) 0.0 (sprintf "%s input block %d: masked [%d][%d]" kind.Name k i j)
                            | _ -> ()
                // A weight that breaks a mask in the last block is refused by ofValues.
                match recurrentMask with
                | Some m when not (m |> Array.forall (Array.forall ((<>) 0.0))) ->
                    let i = m |> Array.findIndex (Array.exists ((=) 0.0))
                    let j = m[i] |> Array.findIndex ((=) 0.0)
                    let values = Network.values net |> Map.ofList
                    let hh = matrixOf values "weight_hh_l0" |> Array.map Array.copy
                    hh[(gates - 1) * units + i][j] <- 0.5
                    let argument, _ = expectInvalid (fun () -> Network.ofValues kind (Network.config net) (values.Add("weight_hh_l0", ParameterValue.Matrix hh))) "masked weight"
                    Expect.equal argument "weight_hh_l0" "names the parameter"
                | _ -> ()
                // Signs mean nothing for a gate: Dale's law, unit signs and a signed mask are refused.
                let refused (c: Constraints) expected =
                    let argument, problem = expectInvalid (fun () -> Network.create kind { config with Constraints = c }) expected
                    Expect.equal argument expected "names the constraint"
                    Expect.stringContains problem "gated" "says why"
                refused { Constraints.none with DaleRatio = Some 0.5 } "dale_ratio"
                refused { Constraints.none with UnitSigns = Some(Array.create units 1) } "unit_signs"
                refused { Constraints.none with RecurrentMask = Some(Array.init units (fun _ -> Array.create units -1.0)) } "recurrent_mask"
                true))

        test "regularisation by role: L2Rec averages over every block of weight_hh, L1In over weight_ih" {
            let task = Tasks.flipFlop { FlipFlopConfig.defaults with Bits = 2; Time = 8 }
            let batch = task.Generate 8 0
            for kind in gatedKinds do
                use net = Network.create kind { NetworkConfig.defaults with InputSize = 2; Units = 4; OutputSize = 2; Precision = Precision.Float64; Seed = 3L }
                let v = Network.values net |> Map.ofList
                let meanOf f name = matrixOf v name |> Array.concat |> Array.averageBy f
                let lossWith reg =
                    use trainer = Training.start { FitConfig.defaults with Regularization = reg; LearningRate = 1e-9 } net
                    let plain = Training.evaluate trainer batch
                    match Training.step trainer batch with
                    | StepOutcome.Taken value -> value - plain
                    | other -> failtestf "%A" other
                let l2 = lossWith { Regularization.none with L2Rec = 0.5 }
                Expect.floatClose Accuracy.high l2 (0.5 * meanOf (fun x -> x * x) "weight_hh_l0") (sprintf "%s: L2Rec" kind.Name)
                let l1 = lossWith { Regularization.none with L1In = 0.25 }
                Expect.floatClose Accuracy.high l1 (0.25 * meanOf abs "weight_ih_l0") (sprintf "%s: L1In" kind.Name)
        }

        test "each kind trains on a small flip-flop with Training.fit (the loss falls)" {
            let task = Tasks.flipFlop { FlipFlopConfig.defaults with Bits = 2; Time = 16 }
            for kind in gatedKinds do
                use net = Network.create kind { NetworkConfig.defaults with InputSize = 2; Units = 12; OutputSize = 2; Seed = 1L }
                use r =
                    Training.fit
                        { FitConfig.defaults with Epochs = 12; BatchSize = 16; LearningRate = 2e-2; Clipping = GradientClipping.GlobalNorm 1.0; RecurrentNoise = 0.01; Regularization = { Regularization.none with L2Rec = 1e-4 } }
                        net (TrainingData.Fresh(task, 64))
                let first, last = r.Losses[0], Array.last r.Losses
                Expect.isLessThan last (0.7 * first) (sprintf "%s: loss %g -> %g" kind.Name first last)
        }

        test "fixed points of hand-set networks: 3^2 points, q < 1e-20, the analytic coordinates and stability" {
            // Every weight and bias zero but one recurrent block gain I: the gates sit at 1/2, units decouple.
            //  gru:   candidate n = tanh(gain r h) with r = 1/2 and z = 1/2: h = tanh(gain h / 2)
            //  ugrnn: candidate c = tanh(gain h) with g = 1/2: h = tanh(gain h)
            //  lstm:  g = tanh(gain h), i = f = o = 1/2: c = g, h = tanh(c) / 2
            let cases = [ Kinds.gru, 2, 4.0; Kinds.ugrnn, 1, 2.0; Kinds.lstm, 2, 4.0 ]
            for kind, gainBlock, gain in cases do
                let units = 2
                let config = { NetworkConfig.defaults with InputSize = 1; Units = units; OutputSize = 1; Precision = Precision.Float64 }
                let weights =
                    Network.specs kind config
                    |> List.map (fun s ->
                        s.Name,
                        match s.Shape with
                        | [| n |] -> ParameterValue.Vector(Array.zeroCreate n)
                        | [| r; c |] ->
                            ParameterValue.Matrix(Array.init r (fun i ->
                                Array.init c (fun j -> if s.Name = "weight_hh_l0" && i / units = gainBlock && i % units = j then gain else 0.0)))
                        | _ -> failwith "shape")
                    |> Map.ofList
                use net = Network.ofValues kind config weights
                let n = Network.stateSize net
                let initial = InitialStates.uniformBox 512 -1.2 1.2 n 0
                let r = FixedPoints.find FixedPointConfig.defaults net (ConstantInput.Same [| 0.0 |]) initial
                Expect.equal r.FixedPoints.Length 9 (sprintf "%s: 9 fixed points" kind.Name)
                // The nonzero h coordinate a* solves a = phi(a) (bisection on the scalar map).
                let phi a =
                    match kind.Name with
                    | "gru" -> tanh (gain * a / 2.0)
                    | "ugrnn" -> tanh (gain * a)
                    | _ -> tanh (tanh (gain * a)) / 2.0
                let mutable lo, hi = 0.1, 1.0
                for _ in 1 .. 200 do
                    let mid = (lo + hi) / 2.0
                    if phi mid - mid > 0.0 then lo <- mid else hi <- mid
                let aStar = lo
                for p in r.FixedPoints do
                    Expect.isLessThan p.Q 1e-20 (sprintf "%s: q" kind.Name)
                    for c in Array.sub p.State 0 units do
                        Expect.isLessThan (min (abs c) (abs (abs c - aStar))) 1e-8 (sprintf "%s: coordinate %g (a* = %g)" kind.Name c aStar)
                let counts = r.FixedPoints |> Array.countBy (fun p -> p.UnstableModes) |> Map.ofArray
                Expect.equal counts (Map.ofList [ 0, 4; 1, 4; 2, 1 ]) (sprintf "%s: 4 attractors, 4 saddles, 1 repeller" kind.Name)
        }

        test "model files round-trip (save, ModelFile.load) and the reloaded network runs identically" {
            withTempDir (fun dir ->
                for kind in gatedKinds do
                    use net = randomGated kind 3 4 Precision.Float64 7
                    let path = IO.Path.Combine(dir, kind.Name + ".json")
                    ModelFile.save path net
                    use back = ModelFile.loadWith [] Precision.Float64 path
                    Expect.equal back.Kind.Name kind.Name "kind"
                    Expect.isTrue (obj.ReferenceEquals(back.Kind.Step, kind.Step)) "the built-in kind itself"
                    Expect.equal (Network.values back) (Network.values net) "values"
                    Expect.equal (back.Parameters |> List.map (fun p -> p.Trainable)) (net.Parameters |> List.map (fun p -> p.Trainable)) "flags"
                    use x = randomInputs 1 2 5 3 Precision.Float64
                    use a = Network.unroll net x
                    use b = Network.unroll back x
                    Expect.isTrue (sameTensor a.States b.States) "same states"
                    use f32 = ModelFile.load path
                    Expect.equal f32.Precision Precision.Float32 "load gives float32"
                // A kind with a built-in name and another step is refused.
                use renamed = Network.create { Kinds.gru with Step = fun w h d -> Kinds.gru.Step w h d } { NetworkConfig.defaults with Units = 3 }
                let argument, _ = expectInvalid (fun () -> ModelFile.save (IO.Path.Combine(dir, "x.json")) renamed) "borrowed name"
                Expect.equal argument "kind" "names the kind")
        }

        test "Presets.withKind keeps only the flags the kind has; kindByName lists the kinds" {
            let preset = Presets.withKind Kinds.gru (Presets.flipFlop 0)
            Expect.equal preset.Kind.Name "gru" "kind"
            Expect.isTrue (preset.Network.Trainable |> Map.forall (fun name _ -> name = "w_out" || name = "b_out")) "no w_in flag left"
            use net = Network.create preset.Kind preset.Network
            Expect.equal (Network.stateSize net) 64 "64 units"
            Expect.equal (Presets.kindByName "lstm").Name "lstm" "by name"
            let argument, problem = expectInvalid (fun () -> Presets.kindByName "esn") "unknown"
            Expect.equal argument "kind" "argument"
            Expect.stringContains problem "gru, lstm, ugrnn" "lists the kinds"
        }
    
        test "the weight figure shows a gated cell's stacked input and recurrent blocks and its readout" {
            for kind, blocks in [ Kinds.gru, 3; Kinds.lstm, 4; Kinds.ugrnn, 2 ] do
                use net = Network.create kind { NetworkConfig.defaults with InputSize = 2; Units = 5; OutputSize = 3 }
                let json = Plotly.NET.GenericChart.toJson (RnnFun.Plotting.Charts.weights (ModelSummary.ofNetwork net) None)
                let data = Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("data")
                let shapes =
                    [ for t in data.EnumerateArray() do
                          match t.TryGetProperty "type" with
                          | true, k when k.GetString() = "heatmap" ->
                              let z = t.GetProperty("z")
                              yield z.GetArrayLength(), z[0].GetArrayLength()
                          | _ -> () ]
                Expect.equal shapes [ blocks * 5, 2; blocks * 5, 5; 3, 5 ] (sprintf "%s: W_ih, W_hh and W_out" kind.Name)
        }
    ]
