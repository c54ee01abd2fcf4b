#!/usr/bin/env bash
# Data-parallel training on one node: W ranks of `hmt train`, each with
# cores / W intra-op threads and bound to its own cores (docs/launch.md).
#
#   launch/mpirun_local.sh W CONFIG [overrides...]
#   launch/mpirun_local.sh 2 configs/demo.yaml runtime.run_dir=runs/dp2
#
# Environment: HMT (the executable, default build/hmt), THREADS (per rank,
# default cores / W), BIND=none (no core binding, e.g. in a container whose
# CPU set mpirun cannot see), MPIRUN_ARGS (more mpirun options).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 RANKS CONFIG [overrides...]" >&2
  exit 2
fi
ranks=$1
config=$2
shift 2
[[ "$ranks" =~ ^[1-9][0-9]*$ ]] || { echo "$0: RANKS must be a positive integer, got '$ranks'" >&2; exit 2; }

hmt=${HMT:-build/hmt}
[ -x "$hmt" ] || { echo "$0: $hmt is missing; run 'make build' or set HMT" >&2; exit 1; }
cores=$(nproc)
threads=${THREADS:-$(( cores / ranks ))}
(( threads >= 1 )) || threads=1

args=(-np "$ranks")
[ "$(id -u)" -eq 0 ] && args+=(--allow-run-as-root)
if [ "${BIND:-core}" = none ] || (( ranks * threads > cores )); then
  # More ranks than cores (a laptop test run): no binding, and mpirun must
  # be told that oversubscribing is intended.
  args+=(--oversubscribe --bind-to none)
else
  args+=(--map-by "slot:PE=${threads}" --bind-to core)
fi
# OpenBLAS/OpenMP inside LibTorch follow OMP_NUM_THREADS; hmt sets its own
# intra-op threads from runtime.threads.
args+=(-x "OMP_NUM_THREADS=${threads}")
# shellcheck disable=SC2206
args+=(${MPIRUN_ARGS:-})

echo "mpirun_local: $ranks ranks x $threads threads on $cores cores" >&2
exec mpirun "${args[@]}" "$hmt" train "$config" "runtime.threads=${threads}" "$@"
