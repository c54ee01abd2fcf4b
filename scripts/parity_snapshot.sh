#!/usr/bin/env bash
# The deterministic outputs of one built `hmt`, written under OUT so that a
# refactor can be checked byte for byte against the tree before it:
#   scripts/parity_snapshot.sh /tmp/hmt-before /tmp/before   # old binary
#   scripts/parity_snapshot.sh build/hmt /tmp/after           # new binary
#   diff -r /tmp/before/out /tmp/after/out
# What it runs (all on the CPU, 1 thread, fixed seeds):
#   - a short `make demo` (scripts/demo.sh with small knobs): the eval JSON of
#     backbone / RMT / HMT, the long-document eval, the export, the sampled
#     continuation, and `hmt score --json --grads` on the demo's export;
#   - for each family (llama, gpt2, opt): a 20-step `hmt train` (10 steps of
#     stage 1, 10 of stage 2 with recall) on the demo's prepared data, its
#     metrics.jsonl, `hmt export`, `hmt score --json --grads` on the export,
#     and greedy `hmt generate` from it.
# Wall-clock figures (tokens/s, step and all-reduce seconds, peak memory) are
# removed from the JSON, and the OUT folder's path is written as "OUT", before
# it is written under OUT/out: they are the only fields that differ between two
# runs of one binary.
set -euo pipefail
HMT=$(realpath "${1:?usage: parity_snapshot.sh HMT_BINARY OUT_DIR}")
OUT=${2:?usage: parity_snapshot.sh HMT_BINARY OUT_DIR}
cd "$(dirname "$0")/.."
mkdir -p "$OUT/out"
OUT=$(realpath "$OUT")
res="$OUT/out"

# Strips the wall-clock keys from a JSON or JSON-lines file into $res/NAME.
clean_json() {  # SRC NAME
  python3 - "$1" "$res/$2" "$OUT" <<'EOF'
import json, sys
drop = {"tokens_per_s", "step_s", "allreduce_s", "peak_rss_mib", "seconds", "wall_s", "elapsed_s",
        "peak_device_mib", "tokens_per_second", "peak_memory_mb"}
src, dst, root = sys.argv[1], sys.argv[2], sys.argv[3]
def clean(x):
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items() if k not in drop}
    if isinstance(x, list):
        return [clean(v) for v in x]
    if isinstance(x, str):
        return x.replace(root, "OUT")  # the two snapshots live in different folders
    return x
text = open(src).read()
with open(dst, "w") as f:
    if src.endswith(".jsonl"):
        for line in text.splitlines():
            if line.strip():
                f.write(json.dumps(clean(json.loads(line))) + "\n")
    else:
        f.write(json.dumps(clean(json.loads(text)), indent=1) + "\n")
EOF
}

demo="$OUT/demo"
HMT="$HMT" DEMO_DIR="$demo" DEMO_VOCAB=2000 DEMO_PRETRAIN_STEPS=40 DEMO_STEPS=40 DEMO_WINDOWS=32 \
  DEMO_CONTEXTS=16,64 DEMO_THREADS=1 bash scripts/demo.sh > "$OUT/demo.log" 2>&1 \
  || { tail -n 30 "$OUT/demo.log" >&2; exit 1; }
for run in backbone rmt hmt book10000 book100000; do clean_json "$demo/eval/$run/eval.json" "demo_eval_$run.json"; done
for run in pretrain backbone rmt hmt; do clean_json "$demo/runs/$run/metrics.jsonl" "demo_metrics_$run.jsonl"; done
cp "$demo/generated.txt" "$res/demo_generated.txt"
(cd "$demo/export" && sha256sum ./*.safetensors ./*.json) > "$res/demo_export.sha256"

# One document of token ids from the held-out text, as `hmt score --ids` reads it.
ids="$OUT/ids.txt"
"$HMT" tokenizer encode --tokenizer "$demo/tokenizer/spm.model" --input "$demo/prompt.txt" > "$ids"
"$HMT" score "$demo/export" --ids "$ids" --json --grads --threads 1 > "$OUT/score_demo.json"
clean_json "$OUT/score_demo.json" score_demo.json

for family in llama gpt2 opt; do
  run="$OUT/runs/$family"
  rm -rf "$run"
  "$HMT" train configs/demo.yaml model=tiny_$family model.vocab_size=2000 data.path="$demo/pg19.h5" \
    tokenizer.path="$demo/tokenizer/spm.model" runtime.run_dir="$run" runtime.threads=1 \
    train.stage1.steps=10 train.stage2.steps=10 train.log_every=5 train.validation.every=10 \
    train.checkpoint.every=10 > "$OUT/train_$family.log" 2>&1 || { tail -n 30 "$OUT/train_$family.log" >&2; exit 1; }
  clean_json "$run/metrics.jsonl" "train_metrics_$family.jsonl"
  rm -rf "$OUT/export_$family"
  "$HMT" export "$run" --out "$OUT/export_$family" > /dev/null
  "$HMT" score "$OUT/export_$family" --ids "$ids" --json --grads --threads 1 > "$OUT/score_$family.json"
  clean_json "$OUT/score_$family.json" "score_$family.json"
  head -c 600 "$demo/prompt.txt" > "$OUT/prompt_$family.txt"
  "$HMT" generate "$OUT/export_$family" --prompt "$OUT/prompt_$family.txt" --max-new-tokens 40 --greedy --ignore-eos \
    --threads 1 --ids-out "$res/generate_$family.ids" > /dev/null 2>&1
done
echo "parity snapshot: $(ls "$res" | wc -l) files in $res"
