#!/usr/bin/env bash
# SLURM lane: a single-node SLURM cluster on this machine (Debian's slurm-wlm and munge; slurmctld,
# slurmd and munged started directly: no systemd, no accounting) runs part of config/smoke.yaml
# through `snakemake --executor slurm` with profiles/slurm, and the result must equal a local run's.
#
# Design (budget: at most 5 minutes added to CI, where the whole smoke run takes about 10 minutes
# locally and over twice that through SLURM): the CPU lane's pytest has just run config/smoke.yaml
# locally (tests/test_demo_workflow.py, fixture smoke_run). This lane copies that finished run into a
# fresh folder, deletes one tuned model (zoo/rl/grpo) and Table 1 and Table 4, and forces the grpo
# model's generation: SLURM then retrains that model and reruns every job downstream of it that the
# two tables need (14 jobs of 8 rules: train_rl, generate, grade, select, table4, attribute, analyze,
# tables). Table 1 and Table 4 must come out byte-identical to the local run's, and every Snakemake
# job must have been a SLURM job (its id in the plugin's log and completed with exit 0 in slurmctld's).
# Without such a local run (none given, none found) the lane makes one itself first (slower).
#
# Usage: .ci/slurm_lane.sh [FINISHED_LOCAL_SMOKE_RUN_FOLDER]   (venv with the workflow active)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd -P)
WORK=$(mktemp -d "${TMPDIR:-/tmp}"/slurm-lane.XXXXXX)
CLUSTER=$WORK/cluster
RUN=$WORK/run
SMOKE=results/smoke
SECONDS=0

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
echo "slurm lane: packages ready at ${SECONDS} s ($(slurmctld -V))"

# --- the cluster --------------------------------------------------------------------------------
mkdir -p "$CLUSTER"/{state,spool,log}
PIDS=()
stop_cluster() {
  local pid
  # Jobs still running (a failed run) end with the cluster, not after it.
  if [ "${#PIDS[@]}" -eq 3 ]; then scancel --user="$(id -un)" 2>/dev/null && sleep 2 || true; fi
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -f "$CLUSTER"/*.pid
  if [ "${CONF_WRITTEN:-}" = 1 ]; then rm -f /etc/slurm/slurm.conf; fi
}
trap stop_cluster EXIT

# The node as slurmd detects it, with memory below what it detects (else the node drains).
detected_mb=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
# In /etc/slurm, where the jobs' own srun looks (the plugin clears SLURM_* variables, SLURM_CONF too).
if [ -e /etc/slurm/slurm.conf ]; then
  echo "slurm lane: /etc/slurm/slurm.conf exists: this machine has a SLURM of its own; not touching it" >&2
  exit 1
fi
mkdir -p /etc/slurm
CONF_WRITTEN=1
cat >/etc/slurm/slurm.conf <<CONF
ClusterName=ci
SlurmctldHost=localhost
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$CLUSTER/munge.socket
SlurmUser=$(id -un)
StateSaveLocation=$CLUSTER/state
SlurmdSpoolDir=$CLUSTER/spool
SlurmctldPidFile=$CLUSTER/slurmctld.pid
SlurmdPidFile=$CLUSTER/slurmd.pid
SlurmctldLogFile=$CLUSTER/log/slurmctld.log
SlurmdLogFile=$CLUSTER/log/slurmd.log
SlurmctldDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# squeue must still list a finished job at the next status query (the plugin: >= 3x its first interval).
MinJobAge=600
ReturnToService=2
NodeName=localhost CPUs=$(nproc) RealMemory=$((detected_mb * 9 / 10)) State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
munged -F --force --socket="$CLUSTER/munge.socket" --pid-file="$CLUSTER/munged.pid" \
  --log-file="$CLUSTER/log/munged.log" --seed-file="$CLUSTER/munged.seed" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$CLUSTER/munge.socket" ] && break; sleep 0.2; done
slurmctld -D -i >/dev/null 2>&1 &
PIDS+=($!)
slurmd -D -N localhost >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 60); do
  [ "$(sinfo -h -N -o %T 2>/dev/null)" = idle ] && break
  sleep 1
done
if [ "$(sinfo -h -N -o %T 2>/dev/null)" != idle ]; then
  echo "slurm lane: the node did not come up idle: $(sinfo -h -N -o '%T %E' 2>&1)" >&2
  tail -20 "$CLUSTER"/log/*.log >&2
  exit 1
fi
echo "slurm lane: cluster up at ${SECONDS} s: $(sinfo -h -N -o '%N %c CPUs %m MB %T')"

# profiles/slurm/check_cluster.sh names what would fail late or hang: here a partition that does not
# exist and a node without Apptainer (the CI cluster has none) must both be reported.
if "$REPO/profiles/slurm/check_cluster.sh" -p cpu -p nope --container "$WORK/none.sif" >"$WORK/check.log" 2>&1; then
  cat "$WORK/check.log" >&2
  echo "slurm lane: check_cluster.sh found no problem on a cluster with two" >&2
  exit 1
fi
grep -q "PROBLEM: partition 'nope' does not exist" "$WORK/check.log" &&
  grep -q "PROBLEM: a node of 'cpu' cannot run 'apptainer exec" "$WORK/check.log" &&
  grep -q "ok: status by squeue" "$WORK/check.log" ||
  { cat "$WORK/check.log" >&2; echo "slurm lane: check_cluster.sh missed a problem" >&2; exit 1; }
echo "slurm lane: check_cluster.sh reported the missing partition and Apptainer"

# --- the local reference run ----------------------------------------------------------------------
link_repo() {
  local name
  for name in Snakefile rules scripts schemas config report profiles; do
    ln -s "$REPO/$name" "$1/$name"
  done
}
REF=${1:-}
if [ -z "$REF" ]; then
  # The CPU lane's smoke run: a finished run (its report exists) of this very checkout.
  # (pytest-xdist puts each worker's folders one level down, in popen-gw<N>/.)
  basetemps="${TMPDIR:-/tmp}/pytest-of-$(id -un)"  # pytest's base temporary folders
  for folder in $(ls -dt "$basetemps"/pytest-*/demo[0-9]* "$basetemps"/pytest-*/popen-gw*/demo[0-9]* 2>/dev/null); do
    if [ -f "$folder/$SMOKE/report/index.html" ] && [ "$(readlink "$folder/Snakefile")" = "$REPO/Snakefile" ]; then
      REF=$folder
      break
    fi
  done
fi
if [ -z "$REF" ]; then
  REF=$WORK/local
  mkdir -p "$REF"
  link_repo "$REF"
  echo "slurm lane: no finished local smoke run of this checkout found: running one (about 10 minutes)"
  (cd "$REF" && snakemake --cores "$(nproc)" --configfile config/smoke.yaml >"$WORK/local.log" 2>&1) ||
    { tail -40 "$WORK/local.log" >&2; exit 1; }
fi
echo "slurm lane: local reference run $REF"

# --- the SLURM run ------------------------------------------------------------------------------
mkdir -p "$RUN/.snakemake"
link_repo "$RUN"
cp -a "$REF/results" "$REF/benchmarks" "$REF/logs" "$RUN/"
cp -a "$REF/.snakemake/metadata" "$RUN/.snakemake/"
rm -r "$RUN/$SMOKE/zoo/rl/grpo" "$RUN/$SMOKE/tables/table1.csv" "$RUN/$SMOKE/tables/table4.csv"
cd "$RUN"
start=$SECONDS
# Targets before the options (a target after --default-resources would be read as a resource).
# A run that hangs (a status command that cannot work, say) fails the lane instead; SIGTERM alone
# does not stop the plugin's main process.
timeout -k 20 900 snakemake "$SMOKE/tables/table1.csv" "$SMOKE/tables/table4.csv" \
  --configfile config/smoke.yaml --workflow-profile profiles/slurm \
  --forcerun "$SMOKE/generations/rl/grpo/arithmetic.jsonl" \
  --cores "$(nproc)" --slurm-no-account --slurm-keep-successful-logs --slurm-init-seconds-before-status-checks 5 \
  >"$WORK/snakemake.log" 2>&1 || { tail -60 "$WORK/snakemake.log" >&2; exit 1; }
echo "slurm lane: the SLURM run took $((SECONDS - start)) s"

# --- checks ---------------------------------------------------------------------------------------
planned=$(sed -n 's/^\([0-9]*\) of \1 steps (100%) done$/\1/p' "$WORK/snakemake.log")
mapfile -t ids < <(sed -n 's/.*submitted with SLURM jobid \([0-9]*\).*/\1/p' "$WORK/snakemake.log" | sort -un)
[ -n "$planned" ] || { echo "slurm lane: not every step done" >&2; exit 1; }
[ "${#ids[@]}" -gt 0 ] || { echo "slurm lane: no job was submitted to SLURM" >&2; exit 1; }
for id in "${ids[@]}"; do
  grep -q "_job_complete: JobId=$id WEXITSTATUS 0" "$CLUSTER/log/slurmctld.log" ||
    { echo "slurm lane: SLURM job $id did not complete with exit 0 in slurmctld's log" >&2; exit 1; }
  [ -n "$(find .snakemake/slurm_logs -name "$id.log")" ] ||
    { echo "slurm lane: no plugin log for SLURM job $id" >&2; exit 1; }
done
# Every Snakemake job ran inside a SLURM job: none ran in the main process.
if grep -q "^localrule " "$WORK/snakemake.log"; then
  echo "slurm lane: a job ran outside SLURM" >&2
  exit 1
fi
for table in table1 table4; do
  cmp "$REF/$SMOKE/tables/$table.csv" "$SMOKE/tables/$table.csv"
done
echo "slurm lane: ${planned} Snakemake jobs in ${#ids[@]} SLURM jobs (ids ${ids[*]}), all exit 0;" \
  "Table 1 and Table 4 byte-identical to the local run's"
echo "=== SLURM lane took ${SECONDS} s ==="
