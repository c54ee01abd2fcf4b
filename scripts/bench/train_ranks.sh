#!/usr/bin/env bash
# Both HMT stages of configs/demo.yaml (train: tiny) on the shared PG-19
# books, once as 1 rank x 2 threads (batch 2) and once as 2 ranks x 1
# thread under mpirun (batch 1 each: the same global batch), and a summary
# from each run's metrics.jsonl: final losses, validation PPL, median
# tokens/s per stage, and the share of step time rank 0 spent in gradient
# all-reduces (docs/training.md).
# Usage: scripts/bench/train_ranks.sh [SHARED_DATA] [OUT]. Builds nothing.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
shared="$(cd "${1:-${HMT_SHARED_DATA:-$repo/../shared/data}}" && pwd)"
out="${2:-$repo/build/train_ranks}"
hmt="$repo/build/hmt"
[ -x "$hmt" ] || { echo "train_ranks: $hmt is missing; run 'make build' first" >&2; exit 1; }
mkdir -p "$out"

if [ ! -f "$out/spm.model" ]; then
  echo "== SentencePiece tokenizer (vocab 8000) on pg19/train"
  "$hmt" tokenizer train --input "$shared/pg19/train" --model-prefix "$out/spm" --vocab-size 8000 \
    --input-sentence-size 200000 > /dev/null
fi
if [ ! -f "$out/pg19.h5" ]; then
  echo "== prepare pg19 (train, validation)"
  "$hmt" prepare --dataset pg19 --source "$shared/pg19" --tokenizer "$out/spm.model" --out "$out/pg19.h5" \
    --splits train,validation --quiet
fi

common=(configs/demo.yaml train=tiny hmt.segment_length=64 "data.path=$out/pg19.h5" "tokenizer.path=$out/spm.model")
rm -rf "$out/one" "$out/two"
echo "== 1 rank x 2 threads, batch 2"
"$hmt" train "${common[@]}" runtime.threads=2 train.batch_size=2 "runtime.run_dir=$out/one" \
  > "$out/one.log" 2>&1
echo "== 2 ranks x 1 thread, batch 1 each"
mpirun --allow-run-as-root --oversubscribe -np 2 "$hmt" train "${common[@]}" runtime.threads=1 \
  train.batch_size=1 "runtime.run_dir=$out/two" > "$out/two.log" 2>&1

python3 - "$out/one/metrics.jsonl" "$out/two/metrics.jsonl" <<'PY'
import json, statistics, sys
def load(path):
    return [json.loads(l) for l in open(path) if l.strip()]
runs = {"1 rank x 2 threads": load(sys.argv[1]), "2 ranks x 1 thread": load(sys.argv[2])}
print("| run | stage | steps | first loss | last loss | valid ppl (end) | median tokens/s | all-reduce share of step time |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for name, rows in runs.items():
    for stage in ["stage1", "stage2"]:
        train = [r for r in rows if r["kind"] == "train" and r["stage"] == stage]
        valid = [r for r in rows if r["kind"] == "valid" and r["stage"] == stage]
        if not train:
            continue
        share = sum(r["allreduce_s"] for r in train) / sum(r["step_s"] for r in train)
        print(f"| {name} | {stage} | {len(train)} | {train[0]['loss']:.3f} | {train[-1]['loss']:.3f} | "
              f"{valid[-1]['valid_ppl']:.1f} | {statistics.median(r['tokens_per_s'] for r in train):.0f} | "
              f"{100 * share:.1f}% |")
one = [r for r in runs["1 rank x 2 threads"] if r["kind"] == "train"]
two = [r for r in runs["2 ranks x 1 thread"] if r["kind"] == "train"]
ratio = statistics.median(r["tokens_per_s"] for r in two) / statistics.median(r["tokens_per_s"] for r in one)
gap = max(abs(a["loss"] - b["loss"]) / abs(a["loss"]) for a, b in zip(one, two))
print(f"\ntokens/s, 2 ranks x 1 thread / 1 rank x 2 threads (medians over all steps): {ratio:.2f}")
print(f"largest relative loss difference per step between the two runs: {gap:.2e}")
PY
