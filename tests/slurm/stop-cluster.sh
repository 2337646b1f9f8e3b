#!/usr/bin/env bash
# Stops what start-cluster.sh started (the daemons listed in $RNNFUN_SLURM_STATE/started, by their
# pids, and the slurm.conf it wrote); a cluster that was already running is left alone.
set -uo pipefail
state="${RNNFUN_SLURM_STATE:-$(dirname "$(mktemp -u)")/rnnfun-slurm-test}"
list="$state/started"
[ -f "$list" ] || exit 0
# In reverse order: slurmd, slurmctld, then munged.
tac "$list" | while read -r what value; do
    case "$what" in
        munged|slurmctld|slurmd)
            if [ -n "$value" ] && kill "$value" 2>/dev/null; then
                for _ in $(seq 1 50); do kill -0 "$value" 2>/dev/null || break; sleep 0.1; done
            fi ;;
        conf) rm -f "$value" ;;
    esac
done
: >"$list"
