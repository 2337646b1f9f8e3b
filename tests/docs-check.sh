#!/usr/bin/env bash
# Runs the F# examples of the docs as one F# Interactive script, in a temporary folder, so that the
# docs cannot drift from the library. Every ```fsharp block of the docs below is run, in this order
# (later docs use what earlier ones defined and wrote, as a reader going through them would); a block
# fenced ```fsharp signature (a type signature, not code) is skipped. README.md's F# example is checked
# by tests/RnnFun.Tests/DocsTests.fs instead. Between docs, the glue below
# supplies what a doc assumes from outside it. Needs the Release build (scripts/_references.fsx).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

blocks() {
    # Each block becomes its own interaction (;;), so a block may shadow a name of an earlier one.
    # A doc with no block (a changed fence, CRLF line ends) fails instead of passing silently.
    echo "// ---- $1"
    awk '/^```fsharp$/ { inside = 1; found = 1; next } /^```/ { if (inside) print ";;"; inside = 0; next } inside { print }
         END { if (!found) { print "no ```fsharp block in " FILENAME > "/dev/stderr"; exit 1 } }' "$root/$1"
}

{
    echo "#load \"$root/scripts/_references.fsx\""
    echo ";;"
    blocks docs/training.md       # trains and saves flipflop.json
    blocks docs/networks.md       # defines the leaky-softplus kind, writes leaky.json
    blocks docs/analysis.md       # loads flipflop.json; fixed points, topology, PCA
    # formats.md shows calls on a network, a search result and a topology already at hand; it also
    # reads leaky.json, the network of networks.md's leaky-softplus kind.
    cat <<'GLUE'
// ---- glue for docs/formats.md
let result = found
;;
GLUE
    blocks docs/formats.md
    echo 'printfn "docs examples: done"'
} >"$work/docs.fsx"

cd "$work"
dotnet fsi --quiet --nowarn:0524 docs.fsx
