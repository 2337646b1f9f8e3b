module RnnFun.Tests.FileFormatTests

open Expecto
open RnnFun

[<Tests>]
let tests =
    testList "FileFormat" [
        test "load checks the format and reads each version with its own reader" {
            let readers = [ 1, (fun _ -> "one"); 2, (fun (root: System.Text.Json.JsonElement) -> root.GetProperty("x").GetString()) ]
            let load text = withTextFile "f.json" text (FileFormat.load "test.format" readers)
            Expect.equal (load """{ "format": "test.format", "version": 1 }""") "one" "version 1"
            Expect.equal (load """{ "format": "test.format", "version": 2, "x": "two" }""") "two" "version 2"
            let problem text = snd (expectFileError (fun () -> load text) text)
            Expect.stringContains (problem """{ "format": "test.format", "version": 3 }""") "version: version 3 is not supported (this RnnFun reads versions 1, 2)" "unknown version"
            Expect.stringContains (problem """{ "format": "other", "version": 1 }""") "format: expected \"test.format\"" "other format"
            Expect.stringContains (problem """{ "version": 1 }""") "format: missing key" "no format"
            Expect.stringContains (problem """{ "format": "test.format" }""") "version: missing key" "no version"
            Expect.stringContains (problem """[1]""") "expected a JSON object" "not an object"
            // One version: the message names it alone, as every format's reader says it today.
            let single = withTextFile "f.json" """{ "format": "test.format", "version": 2 }""" (fun path ->
                snd (expectFileError (fun () -> FileFormat.load "test.format" [ 1, (fun _ -> 0) ] path) "single"))
            Expect.stringContains single "this RnnFun reads version 1)" "one version"
        }
    ]
