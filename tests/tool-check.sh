#!/usr/bin/env bash
# Packs the CLI as a .NET tool into a local folder, installs it from there into a temporary tool
# path (never the user's global tools or the NuGet cache) and runs it: the tool package is what
# `dotnet tool install` users get, so it must pack (README included) and start (native runtime
# included and loadable). Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dotnet pack "$root/src/RnnFun.Cli/RnnFun.Cli.fsproj" -c Release -o "$work/feed" -nologo -v q
dotnet tool install --tool-path "$work/tools" --add-source "$work/feed" RnnFun.Cli >/dev/null
version="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -n 1)"
out="$("$work/tools/rnnfun" --version)"
[ "$out" = "rnnfun $version" ] || { echo "tool check: --version printed '$out', expected 'rnnfun $version'"; exit 1; }
# A short training run loads libtorch from the tool's own folder.
(cd "$work" && "$work/tools/rnnfun" train --task flipflop --units 8 --epochs 1 --quiet --out "$work/m.json" >/dev/null)
[ -s "$work/m.json" ] || { echo "tool check: the installed tool wrote no model"; exit 1; }
echo "tool check: packed, installed and ran rnnfun $version ($(du -m "$work"/feed/RnnFun.Cli.*.nupkg | cut -f1) MB package)"
