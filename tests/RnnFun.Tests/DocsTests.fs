/// Code shown in the docs is code that runs in CI: these tests fail when the two drift apart.
module RnnFun.Tests.DocsTests

open System.IO
open Expecto

let private repositoryRoot =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then failwith "RnnFun.sln not found above the test binaries"
        elif File.Exists(Path.Combine(dir.FullName, "RnnFun.sln")) then dir.FullName
        else up dir.Parent
    lazy (up (DirectoryInfo(System.AppContext.BaseDirectory)))

/// The first fenced block of a language in a markdown file.
let private firstBlock (language: string) (markdown: string) =
    let start = markdown.IndexOf("```" + language + "\n")
    if start < 0 then failwithf "no ```%s block" language
    let body = start + language.Length + 4
    markdown.Substring(body, markdown.IndexOf("```", body) - body)

[<Tests>]
let tests =
    testList "Docs" [
        test "getting-started's C# program is the package check's program" {
            let root = repositoryRoot.Force()
            let doc = File.ReadAllText(Path.Combine(root, "docs", "getting-started.md"))
            let program = File.ReadAllText(Path.Combine(root, "tests", "package-check", "Program.cs"))
            Expect.equal (firstBlock "csharp" doc) program "docs/getting-started.md shows tests/package-check/Program.cs"
        }
    ]
