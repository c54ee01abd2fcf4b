#!/usr/bin/env bash
# The main job on a small real corpus, end to end, from a built tree:
#   corpus (npm) -> SentencePiece tokenizer -> prepared HDF5 (PG-19 layout)
#   -> a small llama pre-trained on single windows (the backbone baseline)
#   -> HMT stage 1 + stage 2 and an RMT baseline, both from the backbone
#   -> eval of all three at several context lengths on the held-out book
#   -> memory of a 10k- and a 100k-token document -> export -> generate
#   -> summary table and PNG plots in the run directory.
# Every number it prints is measured in this run. Knobs (environment):
# DEMO_DIR, DEMO_VOCAB, DEMO_PRETRAIN_STEPS, DEMO_STAGE1_STEPS,
# DEMO_STAGE2_STEPS, DEMO_WINDOWS, DEMO_CONTEXTS, DEMO_THREADS.
set -euo pipefail
cd "$(dirname "$0")/.."
HMT=${HMT:-build/hmt}
DEMO=${DEMO_DIR:-build/demo}
VOCAB=${DEMO_VOCAB:-8000}
PRETRAIN=${DEMO_PRETRAIN_STEPS:-300}  # backbone steps before HMT / RMT branch off
STAGE1=${DEMO_STAGE1_STEPS:-60}
STAGE2=${DEMO_STAGE2_STEPS:-60}
WINDOWS=${DEMO_WINDOWS:-64}
CONTEXTS=${DEMO_CONTEXTS:-64,256,1024,4096}
THREADS=${DEMO_THREADS:-0}
[ -x "$HMT" ] || { echo "demo: $HMT is missing; run 'make build' first" >&2; exit 1; }
mkdir -p "$DEMO"
start=$(date +%s)
stamp() { echo "   ($(( $(date +%s) - start )) s since start)"; }

echo "== 1. corpus: State of the Union addresses (train/validation) and Moby Dick (held out), PG-19 layout"
bash scripts/demo_corpus.sh "$DEMO/corpus"
book="$DEMO/corpus/test/2701.txt"

echo "== 2. SentencePiece tokenizer (vocab $VOCAB) trained on the train split"
tok="$DEMO/tokenizer/spm.model"
if [ ! -f "$tok" ]; then
  "$HMT" tokenizer train --input "$DEMO/corpus/train" --model-prefix "$DEMO/tokenizer/spm" \
    --vocab-size "$VOCAB" --input-sentence-size 200000 >/dev/null
fi
stamp

echo "== 3. hmt prepare: the corpus as PG-19 -> $DEMO/pg19.h5"
"$HMT" prepare --dataset pg19 --source "$DEMO/corpus" --tokenizer "$tok" --out "$DEMO/pg19.h5" --quiet \
  | tee "$DEMO/prepare.log"
stamp

# Every run starts fresh (the corpus, tokenizer and prepared file are kept).
runs="$DEMO/runs"
rm -rf "$runs" "$DEMO/eval" "$DEMO/export" "$DEMO/plots"
mkdir -p "$runs" "$DEMO/eval" "$DEMO/plots"
common=(data.path="$DEMO/pg19.h5" tokenizer.path="$tok" model.vocab_size="$VOCAB" runtime.threads="$THREADS")
total_backbone=$(( PRETRAIN + STAGE1 + STAGE2 ))

echo "== 4. backbone: a small llama trained from scratch on windows, no memory ($total_backbone steps;"
echo "      HMT and RMT branch off its step-$PRETRAIN checkpoint, so all three train equally long)"
"$HMT" train configs/demo_backbone.yaml "${common[@]}" runtime.run_dir="$runs/backbone" \
  train.backbone.steps="$total_backbone" train.checkpoint.every="$PRETRAIN" train.checkpoint.keep=10 \
  > "$runs/backbone.log"
tail -n 1 "$runs/backbone.log"
branch="$runs/backbone/checkpoints/backbone-step$(printf '%06d' "$PRETRAIN")"
[ -d "$branch" ] || { echo "demo: expected the branch checkpoint $branch" >&2; exit 1; }
stamp

echo "== 5. HMT: stage 1 (recall off, 2 segments, $STAGE1 steps) then stage 2 (recall on, 4 segments, $STAGE2 steps)"
"$HMT" train configs/demo.yaml "${common[@]}" runtime.run_dir="$runs/hmt" --init-from "$branch" \
  train.stage1.steps="$STAGE1" train.stage2.steps="$STAGE2" > "$runs/hmt.log"
tail -n 1 "$runs/hmt.log"
stamp

echo "== 6. RMT baseline: memory only (no sensory tokens, no recall), 4 segments, $(( STAGE1 + STAGE2 )) steps"
"$HMT" train configs/demo_rmt.yaml "${common[@]}" runtime.run_dir="$runs/rmt" --init-from "$branch" \
  train.stage1.steps="$(( STAGE1 + STAGE2 ))" > "$runs/rmt.log"
tail -n 1 "$runs/rmt.log"
stamp

echo "== 7. eval on the held-out book: PPL of one segment after X tokens of history, X in $CONTEXTS ($WINDOWS segments)"
for run in backbone rmt hmt; do
  "$HMT" eval "$runs/$run" --data "$DEMO/pg19.h5" --split test --contexts "$CONTEXTS" --windows "$WINDOWS" \
    --batch 8 --threads "$THREADS" --out "$DEMO/eval/$run" | tee "$DEMO/eval/$run.txt"
done
stamp

echo "== 8. memory of long documents: the book's first 10k and 100k tokens, segment by segment (HMT)"
for n in 10000 100000; do
  "$HMT" eval "$runs/hmt" --data "$DEMO/pg19.h5" --split test --documents --max-documents 1 \
    --max-document-tokens "$n" --threads "$THREADS" --out "$DEMO/eval/doc$n" > "$DEMO/eval/doc$n.txt"
  tail -n 3 "$DEMO/eval/doc$n.txt"
done
stamp

echo "== 9. export HMT and generate a continuation of the book's opening"
"$HMT" export "$runs/hmt" --out "$DEMO/export"
head -c 1500 "$book" > "$DEMO/prompt.txt"
"$HMT" generate "$DEMO/export" --prompt "$DEMO/prompt.txt" --max-new-tokens 60 --temperature 0.8 --top-p 0.9 \
  --seed 1 --threads "$THREADS" > "$DEMO/generated.txt" 2> "$DEMO/generate.log"
echo "--- prompt ends: ...$(tail -c 200 "$DEMO/prompt.txt" | tr '\n' ' ')"
echo "--- continuation: $(tr '\n' ' ' < "$DEMO/generated.txt")"
tail -n 2 "$DEMO/generate.log"
stamp

echo "== 10. plots -> $DEMO/plots"
"$HMT" plot training "$runs/backbone" "$runs/rmt" "$runs/hmt" --labels backbone,rmt,hmt \
  --out "$DEMO/plots/training_loss.png"
"$HMT" plot training "$runs/backbone" "$runs/rmt" "$runs/hmt" --labels backbone,rmt,hmt --metric valid_ppl \
  --out "$DEMO/plots/validation_ppl.png"
"$HMT" plot contexts "$DEMO/eval/backbone/eval.json" "$DEMO/eval/rmt/eval.json" "$DEMO/eval/hmt/eval.json" \
  --labels backbone,rmt,hmt --out "$DEMO/plots/ppl_vs_context.png"
cp "$DEMO"/eval/hmt/recall_histogram_hmt.png "$DEMO/plots/" 2>/dev/null || true

json_number() { sed -n "s/.*\"$2\": *\([0-9.eE+-]*\).*/\1/p" "$1" | head -n 1; }
elapsed=$(( $(date +%s) - start ))
{
  echo
  echo "================ hmt demo summary ================"
  echo "corpus: $(ls "$DEMO/corpus/train" | wc -l) State of the Union addresses for training, Moby Dick held out"
  grep -E "^(train|validation|test)" "$DEMO/prepare.log" || true
  echo
  echo "PPL on the held-out book (one segment of L = 64 tokens after X tokens of history; $WINDOWS segments, the same for every X and model):"
  "$HMT" compare --eval backbone="$DEMO/eval/backbone/eval.json" --eval rmt="$DEMO/eval/rmt/eval.json" \
    --eval hmt="$DEMO/eval/hmt/eval.json"
  echo
  echo "training (tokens/s = content tokens per second of the step, this machine, $(nproc) cores):"
  "$HMT" compare --run backbone="$runs/backbone" --run rmt="$runs/rmt" --run hmt="$runs/hmt"
  echo
  echo "long documents (HMT, segment by segment): peak resident memory $(json_number "$DEMO/eval/doc10000/eval.json" peak_rss_mib) MiB at 10k tokens," \
       "$(json_number "$DEMO/eval/doc100000/eval.json" peak_rss_mib) MiB at 100k tokens;" \
       "$(json_number "$DEMO/eval/doc100000/eval.json" tokens_per_s) tokens/s"
  echo "plots: $(cd "$DEMO/plots" && ls *.png | tr '\n' ' ')in $DEMO/plots"
  echo "wall time ${elapsed}s"
  echo "=================================================="
} | tee "$DEMO/summary.md"
