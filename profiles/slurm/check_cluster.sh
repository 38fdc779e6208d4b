#!/usr/bin/env bash
# Before a cluster run: what on this cluster would make profiles/slurm's run fail late or wait for
# ever, each reported with its fix; exit 1 if any. Run it on the submit host:
#   profiles/slurm/check_cluster.sh [-p PARTITION]... [--container IMAGE.sif]
# -p: each partition the run will use (default: the cluster's default partition).
# --container: also check that a node of each partition runs the image with Apptainer.
set -uo pipefail
PROFILE=$(dirname "$0")/config.yaml
partitions=()
container=""
while [ $# -gt 0 ]; do
  case $1 in
    -p) partitions+=("$2"); shift 2 ;;
    --container) container=$2; shift 2 ;;
    *) echo "usage: $0 [-p PARTITION]... [--container IMAGE.sif]" >&2; exit 2 ;;
  esac
done
problems=0
problem() { echo "PROBLEM: $*"; problems=$((problems + 1)); }

command -v sbatch >/dev/null || { echo "PROBLEM: no sbatch on PATH: this is not a SLURM submit host"; exit 1; }

# The status command: the profile's squeue needs MinJobAge >= 3 x the first poll interval (40 s).
status=$(sed -n 's/^slurm-status-command: *//p' "$PROFILE")
min_job_age=$(scontrol show config | sed -n 's/^MinJobAge *= *\([0-9]*\).*/\1/p')
if [ "$status" = squeue ] && [ "${min_job_age:-0}" -lt 120 ]; then
  if sacct -X -n --starttime now-1hours >/dev/null 2>&1; then
    echo "ok: MinJobAge=${min_job_age}s is short for squeue; the plugin falls back to sacct, which works here"
  else
    problem "MinJobAge=${min_job_age}s is too short for squeue and sacct fails (no accounting):" \
      "finished jobs would look running for ever. Pass --slurm-init-seconds-before-status-checks" \
      "$((min_job_age / 3)) (at most MinJobAge/3)"
  fi
else
  echo "ok: status by $status (MinJobAge=${min_job_age}s)"
fi

# The partitions: they exist, and a node of each has the CPUs a group job asks for (the profile's cores).
if [ ${#partitions[@]} -eq 0 ]; then
  default=$(sinfo -h -o %P | sed -n 's/\*$//p' | head -1)
  [ -n "$default" ] || problem "no default partition: give -p and --default-resources slurm_partition=..."
  partitions=("$default")
fi
cores=$(sed -n 's/^cores: *//p' "$PROFILE")
for partition in "${partitions[@]}"; do
  [ -n "$partition" ] || continue
  most=$(sinfo -h -p "$partition" -o %c 2>/dev/null | tr -d '+' | sort -n | tail -1)
  if [ -z "$most" ]; then
    problem "partition '$partition' does not exist (sinfo -o %P lists them)"
    continue
  elif [ "$most" -lt "$cores" ]; then
    problem "partition '$partition': its nodes have at most $most CPUs, a group job asks for up to $cores:" \
      "it would pend for ever (Reason=PartitionConfig). Pass --cores $most"
  else
    echo "ok: partition '$partition' (nodes of up to $most CPUs)"
  fi
  if [ -n "$container" ]; then
    # A small step that gives up after 2 minutes without a free node (then nothing is concluded).
    if out=$(srun -p "$partition" -N1 -n1 -c1 --mem=1000 --time=5 --immediate=120 \
      apptainer exec "$container" true 2>&1); then
      echo "ok: a node of '$partition' runs $container with Apptainer"
    elif grep -q "Unable to allocate resources" <<<"$out"; then
      echo "not checked: no node of '$partition' free within 2 minutes for the Apptainer check"
    else
      problem "a node of '$partition' cannot run 'apptainer exec $container' (no Apptainer there," \
        "or the image is not on the shared filesystem): $(grep -m1 error <<<"$out")"
    fi
  fi
done
[ "$problems" -eq 0 ] || { echo "$problems problem(s): see above"; exit 1; }
echo "no problems found"
