#!/usr/bin/env bash
# Runs every script of scripts/ in its full mode (CI runs only their quick mode: tests/run-all.sh),
# each in a temporary folder, and prints each one's result and time; ends with "N passed, N failed".
# A manual target: the full runs take several minutes (08 the longest). Needs the Release build.
# Optional arguments: the scripts to run (e.g. scripts/05-integrator.fsx); all of them by default.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
unset RNNFUN_QUICK
if [ ! -e "$root/src/RnnFun.Cli/bin/Release/net10.0/RnnFun.dll" ]; then
    echo "no Release build: run 'dotnet build RnnFun.sln -c Release' first"
    exit 1
fi
if [ "$#" -gt 0 ]; then scripts=("$@"); else scripts=("$root"/scripts/[0-9]*.fsx); fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
for script in "${scripts[@]}"; do
    script="$(cd "$(dirname "$script")" && pwd)/$(basename "$script")"
    name="$(basename "$script")"
    echo "== $name (full mode)"
    start=$(date +%s)
    if (cd "$work" && dotnet fsi --quiet "$script"); then
        result=passed; passed=$((passed + 1))
    else
        result=FAILED; failed=$((failed + 1))
    fi
    echo "== $name: $result in $(( $(date +%s) - start )) s"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
