#!/usr/bin/env bash
# Data-parallel training over several nodes listed in an OpenMPI hostfile
# (docs/launch.md): P ranks per node, each bound to its share of the cores.
#
#   launch/mpirun_hosts.sh HOSTFILE RANKS_PER_NODE CONFIG [overrides...]
#
# hostfile lines: `node01 slots=8`. Every node needs the same build at the
# same path and the data and run directory on a shared file system (only
# rank 0 writes the run directory).
# Environment: HMT (executable, default: this checkout's build/hmt as an
# absolute path), THREADS (per rank, default: cores of this node / P),
# BIND=none, MPIRUN_ARGS; PATH, LD_LIBRARY_PATH and every NCCL_*, CUDA_* and
# HMT_* variable are forwarded to all ranks.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 HOSTFILE RANKS_PER_NODE CONFIG [overrides...]" >&2
  exit 2
fi
hostfile=$1
per_node=$2
config=$3
shift 3
[ -f "$hostfile" ] || { echo "$0: hostfile $hostfile does not exist" >&2; exit 2; }
[[ "$per_node" =~ ^[1-9][0-9]*$ ]] || { echo "$0: RANKS_PER_NODE must be a positive integer, got '$per_node'" >&2; exit 2; }

here=$(cd "$(dirname "$0")/.." && pwd)
hmt=${HMT:-$here/build/hmt}
[ -x "$hmt" ] || { echo "$0: $hmt is missing; run 'make build' or set HMT" >&2; exit 1; }
nodes=$(grep -cvE '^[[:space:]]*(#|$)' "$hostfile")
threads=${THREADS:-$(( $(nproc) / per_node ))}
(( threads >= 1 )) || threads=1

args=(--hostfile "$hostfile" -np $(( nodes * per_node )))
[ "$(id -u)" -eq 0 ] && args+=(--allow-run-as-root)
if [ "${BIND:-core}" = none ]; then
  args+=(--map-by "ppr:${per_node}:node" --bind-to none)
else
  args+=(--map-by "ppr:${per_node}:node:PE=${threads}" --bind-to core)
fi
args+=(-x "OMP_NUM_THREADS=${threads}")
for name in $(compgen -e | grep -E '^(NCCL|HMT|CUDA)_|^(PATH|LD_LIBRARY_PATH)$' || true); do args+=(-x "$name"); done
# shellcheck disable=SC2206
args+=(${MPIRUN_ARGS:-})

echo "mpirun_hosts: $nodes nodes x $per_node ranks x $threads threads" >&2
exec mpirun "${args[@]}" "$hmt" train "$config" "runtime.threads=${threads}" "$@"
