#!/usr/bin/env bash
# The cost of a checkpoint (writing it, with its per-file sha256) and of a
# resume (verifying and loading it), on the demo model and data:
#   scripts/bench/checkpoint_bench.sh [HMT_BINARY] [DEMO_DIR]
# Needs a finished `make demo` (its prepared pg19.h5 and tokenizer). Runs 40
# stage-1 steps with a checkpoint after every step and with none, and prints
# the difference per checkpoint; then times a resume of the finished run.
# Compare two binaries in one session: the machine is noisy.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
hmt="$(realpath "${1:-$repo/build/hmt}")"
demo="$(realpath "${2:-$repo/build/demo}")"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cd "$repo"
common=(data.path="$demo/pg19.h5" tokenizer.path="$demo/tokenizer/spm.model" model.vocab_size=8000
        runtime.threads=2 "train.stages=[stage1]" train.stage1.steps=40 train.validation.batches=0
        train.log_every=1000 train.checkpoint.keep=2)
declare -A seconds
for every in 1 1000; do
  start=$(date +%s.%N)
  "$hmt" train configs/demo.yaml "${common[@]}" runtime.run_dir="$out/every$every" train.checkpoint.every=$every \
    > "$out/every$every.log" 2>&1 || { tail -n 5 "$out/every$every.log" >&2; exit 1; }
  seconds[$every]=$(echo "$(date +%s.%N) - $start" | bc)
done
size=$(du -sh "$(ls -d "$out"/every1/checkpoints/*/ | tail -n 1)" | cut -f1)
echo "40 steps: $(printf %.2f "${seconds[1]}") s with a checkpoint after each, $(printf %.2f "${seconds[1000]}") s with one;" \
     "$(echo "(${seconds[1]} - ${seconds[1000]}) * 1000 / 39" | bc) ms per checkpoint of $size"
start=$(date +%s.%N)
"$hmt" train configs/demo.yaml "${common[@]}" runtime.run_dir="$out/every1" train.checkpoint.every=1 --resume \
  > "$out/resume.log" 2>&1
echo "resume of the finished run (verify + load): $(printf %.2f "$(echo "$(date +%s.%N) - $start" | bc)") s"
