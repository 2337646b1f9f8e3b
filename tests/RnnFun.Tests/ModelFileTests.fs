module RnnFun.Tests.ModelFileTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open RnnFun

/// The example of docs/formats.md: 1 input, 2 units, 1 output, written by hand.
let private handWritten =
    """{ "format": "rnnfun.model", "version": 1, "kind": "rnn",
  "input_size": 1, "n_units": 2, "output_size": 1,
  "constraints": { "autapses": false, "dale_ratio": null, "input_mask": null, "recurrent_mask": null, "output_mask": null },
  "trainable": { "w_in": false, "w_rec": true, "b_rec": true, "w_out": false, "b_in": false, "b_out": false },
  "weights": { "w_in": [[1.0], [-0.5]], "w_rec": [[0.0, 0.5], [0.25, 0.0]], "b_rec": [0.1, -0.1],
               "w_out": [[2.0, -1.0]], "b_in": null, "b_out": [0.5] } }"""

let private withFile (text: string) (f: string -> unit) = withTextFile "model.json" text f

/// The hand-written file with one textual replacement.
let private variant (find: string) (replace: string) = replaceOnce handWritten find replace

[<Tests>]
let tests =
    testList "ModelFile" [
        testProp "save -> load gives identical weights, flags, constraints and bit-identical outputs" (fun () ->
            let kinds = Gen.elements [ Kinds.rnn; Kinds.ctrnn; Kinds.ctrnnWith { Dt = 2.0; Tau = 20.0; Readout = Readout.Rate } ]
            let flags = Gen.elements [ Map.empty; Map.ofList [ "w_in", true; "w_out", true ]; Map.ofList [ "w_rec", false ] ]
            Prop.forAll (Arb.fromGen (Gen.zip3 genConfig kinds flags)) (fun (config, kind, trainable) ->
                withTempDir (fun dir ->
                    let path = Path.Combine(dir, "m.json")
                    use net = Network.create kind { config with Trainable = trainable }
                    ModelFile.save path net
                    use back = ModelFile.load path
                    Expect.equal back.Kind.Name kind.Name "kind"
                    Expect.equal back.Kind.Settings kind.Settings "settings"
                    Expect.equal back.Sizes net.Sizes "sizes"
                    Expect.equal back.Constraints net.Constraints "constraints"
                    Expect.equal (back.Parameters |> List.map (fun p -> p.Spec.Name, p.Trainable)) (net.Parameters |> List.map (fun p -> p.Spec.Name, p.Trainable)) "flags"
                    Expect.equal (Network.values back) (Network.values net) "weights"
                    use x = randomInputs 11 2 6 config.InputSize Precision.Float32
                    use a = Network.unroll net x
                    use b = Network.unroll back x
                    Expect.isTrue (sameTensor a.Outputs b.Outputs) "bit-identical outputs"
                    Expect.isTrue (sameTensor a.States b.States) "bit-identical states"
                    true)))

        test "a hand-written file loads and computes its equations" {
            withFile handWritten (fun path ->
                use net = ModelFile.loadWith [] Precision.Float64 path
                Expect.equal net.Sizes { Inputs = 1; Units = 2; Outputs = 1 } "sizes"
                Expect.isFalse net.Constraints.Autapses "autapses off"
                use x = Arrays.toTensor Precision.Float64 [| 1L; 2L; 1L |] [| 1.0; 0.0 |]
                use r = Network.unroll net x
                let h1 = [| tanh (1.0 + 0.1); tanh (-0.5 - 0.1) |]
                let h2 = [| tanh (0.5 * h1[1] + 0.1); tanh (0.25 * h1[0] - 0.1) |]
                let o h = 2.0 * (h: float[])[0] - h[1] + 0.5
                Expect.isLessThan (maxAbsDiff (values r.Outputs) [| o h1; o h2 |]) 1e-12 "outputs")
        }

        test "constraints and trainable may be omitted: no constraints, only w_rec and b_rec trained" {
            let text =
                """{ "format": "rnnfun.model", "version": 1, "kind": "ctrnn", "input_size": 1, "n_units": 1, "output_size": 1,
                     "dt": 5.0, "tau": 100.0, "readout": "rate",
                     "weights": { "w_in": [[1.0]], "w_rec": [[0.5]], "b_rec": [0.0], "w_out": [[1.0]] } }"""
            withFile text (fun path ->
                use net = ModelFile.load path
                Expect.equal net.Constraints Constraints.none "no constraints"
                Expect.equal (net.Parameters |> List.filter (fun p -> p.Trainable) |> List.map (fun p -> p.Spec.Name)) [ "w_rec"; "b_rec" ] "pyrnn default"
                Expect.equal (Kinds.ctrnnConfig net.Kind) (Some { Dt = 5.0; Tau = 100.0; Readout = Readout.Rate }) "ctrnn settings")
        }

        test "every bad file fails with an error naming the file and the problem" {
            let cases =
                [ "not JSON", "this is not json", "JSON"
                  "truncated", handWritten.Substring(0, handWritten.Length / 2), "JSON"
                  "empty", "", "JSON"
                  "not an object", "[1, 2]", "object"
                  "wrong format", variant "\"rnnfun.model\"" "\"pyrnn\"", "format"
                  "wrong version", variant "\"version\": 1" "\"version\": 7", "version"
                  "unknown kind", variant "\"kind\": \"rnn\"" "\"kind\": \"esn\"", "esn"
                  "missing n_units", variant "\"n_units\": 2," "", "n_units"
                  "missing weights key", variant "\"w_rec\": [[0.0, 0.5], [0.25, 0.0]]," "", "w_rec"
                  "wrong shape", variant "[[0.0, 0.5], [0.25, 0.0]]" "[[0.0, 0.5, 1.0], [0.25, 0.0, 1.0]]", "w_rec"
                  "ragged matrix", variant "[[0.0, 0.5], [0.25, 0.0]]" "[[0.0, 0.5], [0.25]]", "w_rec"
                  "infinite weight", variant "\"b_rec\": [0.1, -0.1]" "\"b_rec\": [1e999, -0.1]", "b_rec"
                  "float32 overflow", variant "\"b_rec\": [0.1, -0.1]" "\"b_rec\": [1e300, -0.1]", "b_rec"
                  "string weight", variant "\"b_rec\": [0.1, -0.1]" "\"b_rec\": [\"a\", -0.1]", "b_rec"
                  "negative size", variant "\"n_units\": 2" "\"n_units\": -2", "n_units"
                  "autapse present", variant "\"w_rec\": [[0.0, 0.5]" "\"w_rec\": [[0.3, 0.5]", "w_rec[0][0]"
                  "dale broken", variant "\"dale_ratio\": null" "\"dale_ratio\": 0.0", "w_rec"
                  "masked weight present", variant "\"input_mask\": null" "\"input_mask\": [[1.0], [0.0]]", "w_in[1][0]"
                  "mask shape", variant "\"output_mask\": null" "\"output_mask\": [[1.0]]", "output_mask"
                  "bad dale ratio", variant "\"dale_ratio\": null" "\"dale_ratio\": 2.0", "dale_ratio"
                  "unknown weight", variant "\"b_in\": null" "\"b_hidden\": null", "b_hidden"
                  "bad trainable", variant "\"w_in\": false" "\"w_in\": \"no\"", "trainable.w_in" ]
            for (name, text, expected) in cases do
                withFile text (fun path ->
                    let file, problem = expectFileError (fun () -> ModelFile.load path) name
                    Expect.equal file path (sprintf "%s: names the file" name)
                    Expect.stringContains problem expected (sprintf "%s: names the problem" name))
            withTempDir (fun dir ->
                let missing = Path.Combine(dir, "nope.json")
                let file, problem = expectFileError (fun () -> ModelFile.load missing) "missing file"
                Expect.equal file missing "names the missing file"
                Expect.stringContains problem "not found" "says not found")
        }

        test "save is atomic: a failure while writing leaves the previous file intact" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "m.json")
                use net = Network.create Kinds.rnn { NetworkConfig.defaults with Units = 3 }
                ModelFile.save path net
                let before = File.ReadAllBytes path
                let crash =
                    try
                        FileFormat.writeAtomically path (fun s ->
                            s.Write(before, 0, before.Length / 3)
                            failwith "killed mid-write")
                        false
                    with _ -> true
                Expect.isTrue crash "the write failed"
                Expect.equal (File.ReadAllBytes path) before "previous file intact"
                Expect.equal (Directory.GetFiles dir |> Array.map Path.GetFileName) [| "m.json" |] "no temporary file left behind"
                use back = ModelFile.load path
                Expect.equal (Network.values back) (Network.values net) "still loads")
        }
    ]
