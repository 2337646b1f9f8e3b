#!/usr/bin/env bash
# Starts a one-machine Slurm cluster on localhost (slurmctld and slurmd, with munge) for the sweep
# tests, installing Debian's slurm-wlm and munge when missing (root with apt-get only).
#
# Exit status: 0 when a cluster answers (started here, or already running); 3 when it cannot run
# here, with a line "SKIP: <why>" on stdout; 1 when starting failed. What it started is listed in
# $RNNFUN_SLURM_STATE/started (default: rnnfun-slurm-test in the temporary folder), which stop-cluster.sh reads: a
# cluster that was already running is left alone.
set -uo pipefail
state="${RNNFUN_SLURM_STATE:-$(dirname "$(mktemp -u)")/rnnfun-slurm-test}"
marker="# Written by RnnFun's tests/slurm/start-cluster.sh (removed by stop-cluster.sh)."
conf=/etc/slurm/slurm.conf
skip() { echo "SKIP: $*"; exit 3; }
mkdir -p "$state"
: >"$state/started"

have_all() { command -v sbatch >/dev/null && command -v squeue >/dev/null && command -v slurmctld >/dev/null \
    && command -v slurmd >/dev/null && command -v munged >/dev/null; }

if ! have_all; then
    if [ "$(id -u)" != 0 ]; then skip "slurm-wlm and munge are not installed and this is not root (apt-get install -y slurm-wlm munge installs them)"; fi
    if ! command -v apt-get >/dev/null; then skip "slurm-wlm and munge are not installed and there is no apt-get here"; fi
    echo "installing slurm-wlm and munge (apt-get)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >"$state/apt.log" 2>&1; then
        (DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge) >>"$state/apt.log" 2>&1 \
            || skip "apt-get install slurm-wlm munge failed (see $state/apt.log): $(tail -n 1 "$state/apt.log")"
    fi
    have_all || skip "slurm-wlm and munge were installed but sbatch, slurmctld, slurmd or munged is still missing"
fi

# A cluster that answers already (a real one, or one started before): use it, start nothing.
if scontrol ping 2>/dev/null | grep -q "is UP" && sinfo -h -o %t 2>/dev/null | grep -qE "idle|mix|alloc"; then
    echo "a Slurm cluster is already running: using it"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then skip "no Slurm cluster answers and starting one needs root"; fi

host="$(hostname -s)"

# munge: the credential daemon Slurm authenticates with.
if ! (munge -n 2>/dev/null | unmunge >/dev/null 2>&1); then
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        if command -v mungekey >/dev/null; then mungekey --create --keyfile=/etc/munge/munge.key >/dev/null 2>&1 || true; fi
        [ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
    fi
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    if ! runuser -u munge -- /usr/sbin/munged; then echo "munged did not start"; exit 1; fi
    for _ in $(seq 1 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
    echo "munged $(cat /run/munge/munged.pid 2>/dev/null)" >>"$state/started"
    (munge -n | unmunge >/dev/null 2>&1) || { echo "munge does not answer after starting munged"; exit 1; }
fi

# slurm.conf: written only where there is none, or where this script wrote it.
if [ -e "$conf" ] && ! head -n 1 "$conf" | grep -qF "$marker"; then
    skip "$conf exists (not written by this script) but no cluster answers: not touching another configuration"
fi
memory=$(( $(free -m | awk '/^Mem:/ {print $2}') * 8 / 10 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat >"$conf" <<CONF
$marker
ClusterName=rnnfun-test
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
echo "conf $conf" >>"$state/started"

if ! scontrol ping 2>/dev/null | grep -q "is UP"; then
    slurmctld || { echo "slurmctld did not start (see /var/log/slurm/slurmctld.log)"; exit 1; }
    for _ in $(seq 1 50); do [ -s /run/slurmctld.pid ] && break; sleep 0.1; done
    echo "slurmctld $(cat /run/slurmctld.pid)" >>"$state/started"
fi
if ! pgrep -x slurmd >/dev/null; then
    slurmd || { echo "slurmd did not start (see /var/log/slurm/slurmd.log)"; exit 1; }
    for _ in $(seq 1 50); do [ -s /run/slurmd.pid ] && break; sleep 0.1; done
    echo "slurmd $(cat /run/slurmd.pid)" >>"$state/started"
fi

for _ in $(seq 1 60); do
    if sinfo -h -o %t 2>/dev/null | grep -qE "idle|mix|alloc"; then
        echo "a one-machine Slurm cluster is running on $host"
        exit 0
    fi
    sinfo -h -o %t 2>/dev/null | grep -qE "down|drain" && scontrol update nodename="$host" state=resume >/dev/null 2>&1
    sleep 1
done
echo "the Slurm node did not become idle within 60 s: $(sinfo -h 2>&1 | head -n 1)"
exit 1
