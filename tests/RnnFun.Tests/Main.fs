module RnnFun.Tests.Main

open System
open System.IO
open Expecto
open Expecto.Impl

[<EntryPoint>]
let main argv =
    let mutable counts = None
    let printer =
        let inner = TestPrinters.defaultPrinter
        { inner with
            summary =
                fun config summary ->
                    async {
                        do! inner.summary config summary
                        counts <- Some(summary.passed.Length, summary.failed.Length + summary.errored.Length)
                    } }
    let code = Tests.runTestsInAssemblyWithCLIArgs [ CLIArguments.Printer printer ] argv
    let passed, failed = counts |> Option.defaultValue (0, 1)
    // CI reads this line alone, uncoloured, on the raw stdout stream.
    use out = new StreamWriter(Console.OpenStandardOutput())
    out.WriteLine()
    out.WriteLine(sprintf "%d passed, %d failed" passed failed)
    out.Flush()
    code
