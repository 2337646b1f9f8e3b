module RnnFun.Tests.ConstraintTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open RnnFun

/// Arbitrary free values (large, small, any sign) for every parameter of a network.
let private arbitraryValues (seed: int) (scale: float) (net: Network) =
    let random = Random(seed)
    net.Parameters
    |> List.map (fun p ->
        let shape = p.Spec.Shape |> Array.map int64
        let count = p.Spec.Shape |> Array.fold (*) 1
        let data = Array.init count (fun _ -> (random.NextDouble() * 2.0 - 1.0) * scale)
        p.Spec.Name, Arrays.toTensor net.Precision shape data)
    |> Map.ofList

[<Tests>]
let tests =
    testList "Constraints" [
        testProp "hold after construction for random sizes, ratios and masks" (fun () ->
            let prop =
                Prop.forAll (Arb.fromGen genConfig) (fun config ->
                    use net = Network.create Kinds.rnn config
                    let wIn, wRec, wOut = effectiveMatrices net
                    constraintViolation config.Constraints wIn wRec wOut = None)
            prop)

        testProp "hold for any free parameter values (so for any training update)" (fun () ->
            Prop.forAll (Arb.fromGen (Gen.zip genConfig (Gen.choose (0, 1000)))) (fun (config, seed) ->
                use net = Network.create Kinds.rnn config
                for scale in [ 1e-3; 1.0; 1e6 ] do
                    let free = arbitraryValues seed scale net
                    use moved = Network.withValues net free
                    for KeyValue (_, t) in free do t.Dispose()
                    let wIn, wRec, wOut = effectiveMatrices moved
                    match constraintViolation config.Constraints wIn wRec wOut with
                    | Some v -> failtestf "scale %g: %s" scale v
                    | None -> ()
                true))

        testProp "hold after gradient steps through the effective weights" (fun () ->
            Prop.forAll (Arb.fromGen genConfig) (fun config ->
                use net = Network.create Kinds.rnn { config with Trainable = Map.ofList [ "w_in", true; "w_out", true ] }
                use scope = torch.NewDisposeScope()
                let free = net.Parameters |> List.map (fun p -> p.Spec.Name, p.Value.detach().clone().requires_grad_(true)) |> Map.ofList
                use moving = Network.withValues net free
                let leaves = moving.Parameters |> List.map (fun p -> p.Spec.Name, p.Value.requires_grad_(true)) |> Map.ofList
                // A large step along a random-looking loss pushes weights across every boundary.
                let x = randomInputs 3 2 4 config.InputSize net.Precision
                let w = Network.weights moving
                let states = Network.unrollStates moving.Kind w (torch.zeros(2L, int64 config.Units)) x
                let loss = (moving.Kind.Readout w states).sin().sum() + w["w_rec"].sum() * 7.0
                loss.backward()
                let stepped = leaves |> Map.map (fun _ leaf -> if isNull leaf.grad then leaf.detach() else (leaf - leaf.grad * 10.0).detach())
                use after = Network.withValues moving stepped
                let wIn, wRec, wOut = effectiveMatrices after
                constraintViolation config.Constraints wIn wRec wOut = None))

        testProp "projection is idempotent: effective weights are a fixed point of it" (fun () ->
            Prop.forAll (Arb.fromGen genConfig) (fun config ->
                use net = Network.create Kinds.rnn config
                let before = Network.values net
                let values = before |> List.map (fun (name, v) -> name, v) |> Map.ofList
                use again = Network.ofValues Kinds.rnn config values
                Network.values again = before))

        test "dale_ratio 0.8 on 50 units: columns 0..39 >= 0, 40..49 <= 0, at init and after any values" {
            let config = { NetworkConfig.defaults with Units = 50; Constraints = { Constraints.none with DaleRatio = Some 0.8 } }
            use net = Network.create Kinds.rnn config
            let check (w: float[][]) =
                for i in 0 .. 49 do
                    for j in 0 .. 49 do
                        if j < 40 then Expect.isGreaterThanOrEqual (w[i][j]) 0.0 (sprintf "column %d excitatory" j)
                        else Expect.isLessThanOrEqual (w[i][j]) 0.0 (sprintf "column %d inhibitory" j)
            let _, wRec, _ = effectiveMatrices net
            check wRec
            // Some columns of each type must actually be non-zero (no collapse to 0).
            Expect.isTrue (wRec |> Array.exists (fun r -> r[0] > 0.0)) "excitatory weights exist"
            Expect.isTrue (wRec |> Array.exists (fun r -> r[49] < 0.0)) "inhibitory weights exist"
            let free = net.Parameters |> List.map (fun p -> p.Spec.Name, torch.randn(p.Spec.Shape |> Array.map int64)) |> Map.ofList
            use moved = Network.withValues net free
            let _, wRec2, _ = effectiveMatrices moved
            check wRec2
        }

        test "autapses = false zeroes the diagonal" {
            use net = Network.create Kinds.rnn { NetworkConfig.defaults with Units = 7; Constraints = { Constraints.none with Autapses = false } }
            let _, wRec, _ = effectiveMatrices net
            for i in 0 .. 6 do Expect.equal (wRec[i][i]) 0.0 "diagonal"
            Expect.isTrue (wRec[0][1] <> 0.0) "off-diagonal kept"
        }

        test "a signed recurrent mask fixes signs and zeros" {
            let mask = [| [| 1.0; -1.0; 0.0 |]; [| 0.0; 1.0; -1.0 |]; [| -1.0; 0.0; 1.0 |] |]
            use net = Network.create Kinds.rnn { NetworkConfig.defaults with Units = 3; Constraints = { Constraints.none with RecurrentMask = Some mask } }
            let _, wRec, _ = effectiveMatrices net
            for i in 0 .. 2 do
                for j in 0 .. 2 do
                    if mask[i][j] = 0.0 then Expect.equal (wRec[i][j]) 0.0 "zero"
                    else Expect.isTrue (wRec[i][j] * mask[i][j] > 0.0) (sprintf "sign of [%d][%d]" i j)
        }

        test "bad arguments fail at once, naming the argument" {
            let withC c = { NetworkConfig.defaults with Units = 4; Constraints = c }
            for r in [ -0.1; 1.5; nan ] do
                let arg, problem = expectInvalid (fun () -> Network.create Kinds.rnn (withC { Constraints.none with DaleRatio = Some r })) "ratio"
                Expect.equal arg "dale_ratio" "names dale_ratio"
                Expect.stringContains problem "[0, 1]" "says the expected range"
            let arg, problem = expectInvalid (fun () -> Network.create Kinds.rnn (withC { Constraints.none with RecurrentMask = Some(Array.init 3 (fun _ -> Array.create 4 1.0)) })) "mask"
            Expect.equal arg "recurrent_mask" "names the mask"
            Expect.stringContains problem "4 x 4" "says the expected shape"
            let arg, _ = expectInvalid (fun () -> Network.create Kinds.rnn (withC { Constraints.none with InputMask = Some [| [| 1.0 |] |] })) "input mask"
            Expect.equal arg "input_mask" "names the input mask"
            let arg, _ = expectInvalid (fun () -> Network.create Kinds.rnn (withC { Constraints.none with OutputMask = Some [| [| 1.0; nan; 1.0; 1.0 |] |] })) "NaN mask"
            Expect.equal arg "output_mask" "names the output mask"
            for (name, config) in [ "n_units", { NetworkConfig.defaults with Units = 0 }
                                    "input_size", { NetworkConfig.defaults with InputSize = -1 }
                                    "output_size", { NetworkConfig.defaults with OutputSize = 0 } ] do
                let arg, _ = expectInvalid (fun () -> Network.create Kinds.rnn config) name
                Expect.equal arg name "names the size"
            let arg, _ =
                expectInvalid (fun () ->
                    Network.create Kinds.rnn { withC { Constraints.none with DaleRatio = Some 1.0; RecurrentMask = Some(Array.init 4 (fun _ -> Array.create 4 -1.0)) } with Units = 4 }) "conflict"
            Expect.equal arg "recurrent_mask" "a mask that contradicts Dale's law is refused"
            let arg, _ = expectInvalid (fun () -> Network.create Kinds.rnn { NetworkConfig.defaults with Trainable = Map.ofList [ "w_hidden", true ] }) "flag"
            Expect.equal arg "trainable" "an unknown trainable flag is refused"
        }

        test "NaN weights are refused, naming the parameter" {
            let config = { NetworkConfig.defaults with Units = 2 }
            use net = Network.create Kinds.rnn config
            let values = Network.values net |> Map.ofList |> Map.add "b_rec" (ParameterValue.Vector [| 0.0; nan |])
            let arg, problem = expectInvalid (fun () -> Network.ofValues Kinds.rnn config values) "NaN"
            Expect.equal arg "b_rec" "names b_rec"
            Expect.stringContains problem "NaN" "says NaN"
        }

        testList "MultiRegion" [
            let thMopBg =
                { MultiRegion.empty with
                    Regions =
                        [ { Name = "th"; Units = 24; Autapses = false; DaleRatio = Some 1.0 }
                          { Name = "mop"; Units = 64; Autapses = false; DaleRatio = Some 0.8 }
                          { Name = "bg"; Units = 32; Autapses = false; DaleRatio = Some 0.0 } ]
                    Projections =
                        [ MultiRegion.projection "th" "mop" 0.2
                          MultiRegion.projection "mop" "bg" 0.8
                          MultiRegion.projection "bg" "th" 0.1
                          MultiRegion.projection "mop" "th" 0.2 ]
                    Inputs = [ [ "th" ]; [ "mop" ] ]
                    Outputs = [ [ "mop" ]; [ "bg" ] ]
                    Seed = 7 }
            test "pyrnn's th/mop/bg example: sizes, blocks, signs and densities" {
                let c = MultiRegion.build thMopBg
                Expect.equal (c.Units, c.InputSize, c.OutputSize) (120, 2, 2) "sizes"
                use net = Network.create Kinds.rnn { NetworkConfig.defaults with InputSize = 2; Units = 120; OutputSize = 2; Constraints = c.Constraints }
                let wIn, wRec, wOut = effectiveMatrices net
                Expect.equal (wIn.Length, wIn[0].Length) (120, 2) "W_in shape"
                Expect.equal (wOut.Length, wOut[0].Length) (2, 120) "W_out shape"
                for i in 0 .. 119 do Expect.equal (wRec[i][i]) 0.0 "no autapses"
                for i in 0 .. 119 do
                    for j in 0 .. 23 do Expect.isGreaterThanOrEqual (wRec[i][j]) 0.0 "th excitatory"
                    for j in 24 .. 24 + 50 do Expect.isGreaterThanOrEqual (wRec[i][j]) 0.0 "mop first 51 excitatory"
                    for j in 24 + 51 .. 87 do Expect.isLessThanOrEqual (wRec[i][j]) 0.0 "mop rest inhibitory"
                    for j in 88 .. 119 do Expect.isLessThanOrEqual (wRec[i][j]) 0.0 "bg inhibitory"
                // Within-region blocks are full (off the diagonal).
                Expect.isTrue (wRec[1][0] <> 0.0 && wRec[30][25] <> 0.0 && wRec[100][90] <> 0.0) "dense blocks"
                // th receives nothing from bg except the projection, and th -> bg does not exist.
                let density rows cols =
                    let m = c.Constraints.RecurrentMask.Value
                    let count = Seq.sum (seq { for i in rows do for j in cols -> m[i][j] })
                    count / float (Seq.length rows * Seq.length cols)
                let th, mop, bg = [ 0 .. 23 ], [ 24 .. 87 ], [ 88 .. 119 ]
                let within p (d: float) n = abs (d - p) <= 4.0 * sqrt (p * (1.0 - p) / float n) + 1e-9
                Expect.isTrue (within 0.2 (density mop th) (64 * 24)) (sprintf "th->mop density %g" (density mop th))
                Expect.isTrue (within 0.8 (density bg mop) (32 * 64)) (sprintf "mop->bg density %g" (density bg mop))
                Expect.isTrue (within 0.1 (density th bg) (24 * 32)) (sprintf "bg->th density %g" (density th bg))
                Expect.isTrue (within 0.2 (density th mop) (24 * 64)) (sprintf "mop->th density %g" (density th mop))
                Expect.equal (density bg th) 0.0 "no th->bg projection"
                // Inputs reach only their regions.
                Expect.isTrue (wIn[0][0] <> 0.0 && wIn[30][0] = 0.0 && wIn[30][1] <> 0.0 && wIn[100][1] = 0.0) "input masks"
            }
            test "a region without a Dale ratio keeps its outgoing weights, with free signs" {
                let c =
                    MultiRegion.build
                        { MultiRegion.empty with
                            Regions = [ { Name = "a"; Units = 10; Autapses = true; DaleRatio = Some 0.5 }; MultiRegion.region "b" 10 ]
                            Projections = [ MultiRegion.projection "b" "a" 1.0 ] }
                use net = Network.create Kinds.rnn { NetworkConfig.defaults with Units = 20; Constraints = c.Constraints }
                let _, wRec, _ = effectiveMatrices net
                let fromB = [ for i in 0 .. 19 do for j in 10 .. 19 -> wRec[i][j] ]
                Expect.isTrue (fromB |> List.exists (fun v -> v > 0.0)) "positive weights from b"
                Expect.isTrue (fromB |> List.exists (fun v -> v < 0.0)) "negative weights from b"
                Expect.isTrue (fromB |> List.forall (fun v -> v <> 0.0)) "b projects everywhere (p = 1)"
            }
            test "repeated projections never create entries above 1" {
                let c =
                    MultiRegion.build
                        { MultiRegion.empty with
                            Regions = [ MultiRegion.region "a" 5; MultiRegion.region "b" 5 ]
                            Projections = List.replicate 4 (MultiRegion.projection "a" "b" 0.7) }
                Expect.isTrue (c.Constraints.RecurrentMask.Value |> Array.forall (Array.forall (fun v -> v = 0.0 || v = 1.0))) "entries are 0 or 1"
            }
            test "bad regions and projections are refused" {
                let arg, _ = expectInvalid (fun () -> MultiRegion.build { MultiRegion.empty with Regions = [ MultiRegion.region "a" 0 ] }) "size"
                Expect.stringContains arg "units" "names the size"
                let arg, _ = expectInvalid (fun () -> MultiRegion.build { MultiRegion.empty with Regions = [ MultiRegion.region "a" 3 ]; Projections = [ MultiRegion.projection "a" "z" 0.5 ] }) "unknown"
                Expect.stringContains arg "to" "names the projection's target"
                let arg, _ = expectInvalid (fun () -> MultiRegion.build { MultiRegion.empty with Regions = [ MultiRegion.region "a" 3 ]; Projections = [ MultiRegion.projection "a" "a" 1.5 ] }) "probability"
                Expect.stringContains arg "probability" "names the probability"
                let arg, _ =
                    expectInvalid (fun () ->
                        MultiRegion.build
                            { MultiRegion.empty with
                                Regions = [ MultiRegion.region "a" 3 ]
                                Projections = [ { MultiRegion.projection "a" "a" 0.5 with FromCells = CellType.Excitatory } ] }) "cell type"
                Expect.stringContains arg "from_cells" "names the cell type"
            }
        ]
    ]
