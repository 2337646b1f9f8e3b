#!/usr/bin/env bash
# Builds the solution once, runs every test project under tests/, and ends with one line
# "N passed, N failed". Exits non-zero if the build or any test fails.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
config="${CONFIGURATION:-Release}"
strip() { sed -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\r//g'; }

if ! dotnet build RnnFun.sln -c "$config" -nologo; then
    echo "the build failed"
    echo "0 passed, 1 failed"
    exit 1
fi

passed=0
failed=0
status=0
for proj in tests/*/*.fsproj tests/*/*.csproj; do
    [ -e "$proj" ] || continue
    log="$(mktemp)"
    echo "== $proj"
    if grep -q 'Include="Expecto"' "$proj"; then
        # Expecto projects are programs: `dotnet test` would run nothing.
        dotnet run --project "$proj" -c "$config" --no-build 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
        line="$(strip <"$log" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)"
        p="${line%% passed*}"
        f="${line#*passed, }"; f="${f%% failed*}"
    else
        dotnet test "$proj" -c "$config" --no-build 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
        p="$(strip <"$log" | grep -oE 'Passed: +[0-9]+' | tail -n 1 | grep -oE '[0-9]+')"
        f="$(strip <"$log" | grep -oE 'Failed: +[0-9]+' | tail -n 1 | grep -oE '[0-9]+')"
    fi
    rm -f "$log"
    if [ -z "${p:-}" ] || [ -z "${f:-}" ]; then
        echo "$proj: no test summary found (crashed?)"
        p=0; f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then status=1; fi
done

# The scripts, in their quick mode, so that none of them rots (they load the CLI's Release build).
scripts_out="$(mktemp -d)"
for script in scripts/[0-9]*.fsx; do
    [ -e "$script" ] || continue
    echo "== $script (quick mode)"
    if (cd "$scripts_out" && RNNFUN_QUICK=1 dotnet fsi --quiet "$root/$script"); then
        passed=$((passed + 1))
    else
        echo "$script failed"
        failed=$((failed + 1))
        status=1
    fi
done
rm -rf "$scripts_out"

# The F# examples of the docs (training, networks, analysis, formats), run as one script.
echo "== docs examples"
if bash tests/docs-check.sh; then
    passed=$((passed + 1))
else
    echo "docs examples failed"
    failed=$((failed + 1))
    status=1
fi

# The packages, as a consumer sees them.
echo "== package check"
if bash tests/package-check.sh; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    status=1
fi

# The CLI as a .NET tool: packed, installed from a local folder, run.
echo "== tool check"
if bash tests/tool-check.sh; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    status=1
fi

echo "$passed passed, $failed failed"
exit $status
