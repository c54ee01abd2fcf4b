#!/usr/bin/env bash
# The main job on a small real corpus, end to end, from a built tree:
#   corpus (npm) -> SentencePiece tokenizer -> prepared HDF5 (PG-19 layout)
#   -> a small llama pre-trained on windows (no memory)
#   -> from it, equally long: HMT stage 1 + stage 2, an RMT baseline, and the
#      backbone trained on (configs/train/demo.yaml says why)
#   -> eval of all three at several context lengths on held-out addresses,
#      and of the continued backbone reading that history in full attention
#      (the reference for how much this backbone can draw from history)
#   -> memory at 10k and 100k tokens of one long book -> export -> generate
#   -> the recall benchmark: a pass key, and 4 key -> value facts of which
#      one is asked, D segments before the query; HMT trained on the pass key
#      from the backbone, then HMT and an RMT on the facts from that model;
#      exact match by D, also with the question's recall forced onto the
#      asked fact's memory (hmt-oracle: selection vs what memories carry)
#   -> summary tables and PNG plots.
# Every number it prints is measured in this run. Knobs (environment):
# DEMO_DIR, DEMO_VOCAB, DEMO_PRETRAIN_STEPS, DEMO_STEPS (each model after the
# branch point; HMT splits them over its two stages), DEMO_WINDOWS,
# DEMO_CONTEXTS, DEMO_FULL_CONTEXTS (those of the full-attention reference,
# within the 128-token windows the backbone trained on), DEMO_THREADS; the recall benchmark: DEMO_RECALL_STEPS
# (training steps on the pass key, 0 = skip the benchmark), DEMO_FACTS_STEPS
# (training steps of HMT and of RMT on the 4 facts, 0 = skip them),
# DEMO_RECALL_DISTANCES (of the test samples; training uses 1, 2 and, with
# 4 facts, 4), DEMO_RECALL_SAMPLES (test samples in all: 60 per distance, so
# that a rate's 95% interval, printed beside it, is about 5-20% around 10%
# and 38-62% around 50%; at 30 per distance 3-26% and 33-67%), DEMO_QUESTION (end:
# the query segment asks only in the cue before the answer; start: it also
# opens with the question, where HMT's recall query reads it; docs/data.md),
# DEMO_PASSKEY_ASK (value: the pass key asks for its value; both: a coin per
# sample asks for the value or for the key, a colour name, so the fact's
# memory must carry its key too: the step before the 4 facts; docs/data.md).
set -euo pipefail
cd "$(dirname "$0")/.."
HMT=${HMT:-build/hmt}
DEMO=${DEMO_DIR:-build/demo}
VOCAB=${DEMO_VOCAB:-8000}
PRETRAIN=${DEMO_PRETRAIN_STEPS:-3200}
STEPS=${DEMO_STEPS:-300}
WINDOWS=${DEMO_WINDOWS:-256}
CONTEXTS=${DEMO_CONTEXTS:-16,32,64,128,1024}
FULL_CONTEXTS=${DEMO_FULL_CONTEXTS:-16,32,64,128}
THREADS=${DEMO_THREADS:-0}
RECALL_STEPS=${DEMO_RECALL_STEPS:-1200}
FACTS_STEPS=${DEMO_FACTS_STEPS:-250}
RECALL_DISTANCES=${DEMO_RECALL_DISTANCES:-1,2,4,8,16,32}
RECALL_SAMPLES=${DEMO_RECALL_SAMPLES:-360}
QUESTION=${DEMO_QUESTION:-end}
PASSKEY_ASK=${DEMO_PASSKEY_ASK:-value}
[ -x "$HMT" ] || { echo "demo: $HMT is missing; run 'make build' first" >&2; exit 1; }
mkdir -p "$DEMO"
start=$(date +%s)
stamp() { echo "   ($(( $(date +%s) - start )) s since start)"; }

echo "== 1. corpus: State of the Union addresses (PG-19 layout) and Moby Dick"
bash scripts/demo_corpus.sh "$DEMO/corpus"

echo "== 2. SentencePiece tokenizer (vocab $VOCAB) trained on the train split"
tok="$DEMO/tokenizer/spm.model"
if [ ! -f "$tok" ]; then
  "$HMT" tokenizer train --input "$DEMO/corpus/pg19/train" --model-prefix "$DEMO/tokenizer/spm" \
    --vocab-size "$VOCAB" --input-sentence-size 200000 >/dev/null
fi
stamp

echo "== 3. hmt prepare: the addresses as PG-19 -> $DEMO/pg19.h5, the book as plain text -> $DEMO/book.h5"
"$HMT" prepare --dataset pg19 --source "$DEMO/corpus/pg19" --tokenizer "$tok" --out "$DEMO/pg19.h5" --quiet \
  | tee "$DEMO/prepare.log"
"$HMT" prepare --dataset text --source "$DEMO/corpus/book" --tokenizer "$tok" --out "$DEMO/book.h5" --quiet \
  | tee -a "$DEMO/prepare.log"
stamp

# Every run starts fresh (corpus, tokenizer and prepared files are kept).
runs="$DEMO/runs"
rm -rf "$runs" "$DEMO/eval" "$DEMO/export" "$DEMO/plots"
mkdir -p "$runs" "$DEMO/eval" "$DEMO/plots"
common=(data.path="$DEMO/pg19.h5" tokenizer.path="$tok" model.vocab_size="$VOCAB" runtime.threads="$THREADS")
train() {  # NAME CONFIG [args]: one run, its log in $runs/NAME.log, the last line shown
  local name=$1 config=$2
  shift 2
  "$HMT" train "$config" "${common[@]}" runtime.run_dir="$runs/$name" "$@" > "$runs/$name.log" 2>&1 \
    || { tail -n 20 "$runs/$name.log" >&2; exit 1; }
  grep -E "^(backbone|stage1|stage2): done" "$runs/$name.log" | tail -n 1
}

echo "== 4. pre-train a tiny llama from scratch, no memory ($PRETRAIN steps, configs/demo_backbone.yaml)"
train pretrain configs/demo_backbone.yaml train.backbone.steps="$PRETRAIN"
branch="$runs/pretrain/checkpoints/backbone-step$(printf '%06d' "$PRETRAIN")"
[ -d "$branch" ] || { echo "demo: expected the branch checkpoint $branch" >&2; exit 1; }
stamp

echo "== 5. from it, $STEPS steps each: HMT (stage 1, recall off, then stage 2, recall on), RMT (memory only),"
echo "      and the backbone trained on without memory"
train hmt configs/demo.yaml --init-from "$branch" \
  train.stage1.steps="$(( STEPS / 2 ))" train.stage2.steps="$(( STEPS - STEPS / 2 ))"
train rmt configs/demo_rmt.yaml --init-from "$branch" train.stage1.steps="$STEPS"
train backbone configs/demo_backbone_continued.yaml --init-from "$branch" train.backbone.steps="$STEPS"
stamp

echo "== 6. eval on the held-out addresses: PPL of one segment after X tokens of history, X in $CONTEXTS"
for run in backbone rmt hmt; do
  "$HMT" eval "$runs/$run" --data "$DEMO/pg19.h5" --split test --contexts "$CONTEXTS" --windows "$WINDOWS" \
    --batch 8 --threads "$THREADS" --out "$DEMO/eval/$run" > "$DEMO/eval/$run.txt"
done
cat "$DEMO/eval/hmt.txt"
# What the backbone itself draws from X tokens of history when it reads them
# directly (one attention window), on the same scored segments: the most a
# memory of that history could be expected to add at this scale.
"$HMT" eval "$runs/backbone" --data "$DEMO/pg19.h5" --split test --mode full --contexts "$FULL_CONTEXTS" \
  --score-after "${CONTEXTS##*,}" --windows "$WINDOWS" --batch 8 --threads "$THREADS" --out "$DEMO/eval/full" \
  > "$DEMO/eval/full.txt"
grep "^full" "$DEMO/eval/full.txt"
stamp

echo "== 7. memory of a long document: Moby Dick's first 10k and 100k tokens, segment by segment (HMT)"
for n in 10000 100000; do
  "$HMT" eval "$runs/hmt" --data "$DEMO/book.h5" --split train --documents --max-documents 1 \
    --max-document-tokens "$n" --threads "$THREADS" --out "$DEMO/eval/book$n" > "$DEMO/eval/book$n.txt"
  grep -E "documents|peak" "$DEMO/eval/book$n.txt"
done
stamp

echo "== 8. export HMT and continue a held-out address"
"$HMT" export "$runs/hmt" --out "$DEMO/export"
prompt_source=$(ls "$DEMO/corpus/pg19/test"/*.txt | tail -n 1)
head -c 2000 "$prompt_source" > "$DEMO/prompt.txt"
"$HMT" generate "$DEMO/export" --prompt "$DEMO/prompt.txt" --max-new-tokens 60 --temperature 0.8 --top-p 0.9 \
  --seed 1 --threads "$THREADS" > "$DEMO/generated.txt" 2> "$DEMO/generate.log"
echo "--- prompt ($prompt_source, first 2000 bytes) ends: ...$(tail -c 160 "$DEMO/prompt.txt" | tr '\n' ' ')"
echo "--- continuation: $(tr '\n' ' ' < "$DEMO/generated.txt")"
tail -n 2 "$DEMO/generate.log"
stamp

segment_length=$(sed -n "s/^  segment_length: *//p" "$runs/hmt/config.yaml" | head -n 1)
recall_variants=()
if [ "$RECALL_STEPS" -gt 0 ]; then
  echo "== 9. recall benchmark: a 1-digit value D segments of $segment_length tokens before the question that asks"
  echo "      for it, in held-out filler text; trained at D <= 2 (pass key) or 4 (4 facts), tested at D in $RECALL_DISTANCES"
  passkey() {  # OUT FACTS DISTANCES SPLITS SAMPLES: documents of filler from the addresses' same-named split
    local ask=value
    [ "$2" -gt 1 ] || ask=$PASSKEY_ASK
    "$HMT" prepare --dataset passkey --filler pg19 --source "$DEMO/corpus/pg19" --tokenizer "$tok" --out "$1" \
      --facts "$2" --distances "$3" --splits "$4" --samples "$5" --segment-length "$segment_length" --digits 1 \
      --lead-segments 0 --question "$QUESTION" --ask "$ask" --quiet > /dev/null
  }
  # By number of facts: training steps and training distances; the loop
  # records what each variant started from, for the summary.
  declare -A recall_steps=([1]="$RECALL_STEPS" [4]="$FACTS_STEPS") train_distances=([1]=1,2 [4]=1,2,4) start_model=()
  for facts in 1 4; do
    name=passkey$facts steps=${recall_steps[$facts]}
    [ "$steps" -gt 0 ] || continue
    passkey "$DEMO/$name.h5" "$facts" "${train_distances[$facts]}" train,validation 20000,50
    passkey "$DEMO/${name}_test.h5" "$facts" "$RECALL_DISTANCES" test "$RECALL_SAMPLES"
    # A curriculum over the number of facts: both models of the several-facts
    # variant start from the pass-key model, which already recalls a fact
    # segment and reads a digit off it, and need only learn to pick the asked
    # key. From the backbone, 400 steps left HMT and RMT alike at chance.
    init=$branch start_model[$facts]="the backbone"
    if [ "$facts" -gt 1 ]; then
      init="$runs/passkey1-hmt/checkpoints/stage2-step$(printf '%06d' "$RECALL_STEPS")"
      [ -d "$init" ] || { echo "demo: expected the pass-key checkpoint $init" >&2; exit 1; }
      start_model[$facts]="the pass-key model"
    fi
    train "$name-hmt" configs/demo_passkey.yaml --init-from "$init" data.path="$DEMO/$name.h5" \
      train.stage2.steps="$steps"
    # hmt-oracle hands the query the asked fact's memory instead of the learned
    # recall: the gap to hmt is what selection loses, the rest is what the
    # memories themselves fail to carry.
    # (With one fact the pick is between the fact's memory and filler: oracle
    # and learned recall scored alike on every D, so the pass key skips it.)
    modes=hmt,hmt-oracle,rmt,backbone
    [ "$facts" -gt 1 ] || modes=hmt,rmt,backbone
    "$HMT" eval "$runs/$name-hmt" --data "$DEMO/${name}_test.h5" --split test --mode "$modes" \
      --threads "$THREADS" --out "$DEMO/eval/$name-hmt" > "$DEMO/eval/$name-hmt.txt"
    # The pass key's table compares the HMT run's own modes (what recall and
    # memory add to the same weights); the several-facts variant also trains
    # an RMT as long, the baseline that could learn to carry the facts itself.
    if [ "$facts" -gt 1 ]; then
      train "$name-rmt" configs/demo_passkey_rmt.yaml --init-from "$init" data.path="$DEMO/$name.h5" \
        train.stage1.steps="$steps"
      "$HMT" eval "$runs/$name-rmt" --data "$DEMO/${name}_test.h5" --split test --mode rmt \
        --threads "$THREADS" --out "$DEMO/eval/$name-rmt" > "$DEMO/eval/$name-rmt.txt"
    fi
    recall_variants+=("$name")
  done
  stamp
fi

echo "== 10. plots -> $DEMO/plots"
# Batches of 2 windows make the step losses noisy: a long EMA (about 30 steps).
"$HMT" plot training "$runs/backbone" "$runs/rmt" "$runs/hmt" --labels backbone,rmt,hmt --ema 0.97 \
  --out "$DEMO/plots/training_loss.png"
"$HMT" plot training "$runs/backbone" "$runs/rmt" "$runs/hmt" --labels backbone,rmt,hmt --metric valid_ppl \
  --out "$DEMO/plots/validation_ppl.png"
"$HMT" plot contexts "$DEMO/eval/backbone/eval.json" "$DEMO/eval/rmt/eval.json" "$DEMO/eval/hmt/eval.json" \
  "$DEMO/eval/full/eval.json" --labels "backbone,rmt,hmt,backbone full attention" \
  --out "$DEMO/plots/ppl_vs_context.png"
cp "$DEMO/eval/hmt/recall_histogram_hmt.png" "$DEMO/plots/" 2>/dev/null || true
for name in "${recall_variants[@]}"; do
  reports=("$DEMO/eval/$name-hmt/eval.json") labels="hmt run"
  [ -f "$DEMO/eval/$name-rmt/eval.json" ] && reports+=("$DEMO/eval/$name-rmt/eval.json") labels+=",rmt run"
  "$HMT" plot recall "${reports[@]}" --labels "$labels" --out "$DEMO/plots/recall_$name.png"
done

# FILE MODE LABEL: "LABEL PPL at X1 tokens -> PPL at Xn (change)" from hmt eval's table in FILE.
history_gain() {
  awk -v mode="$2" -v label="$3" '$1 == mode && $2 ~ /^[0-9]+$/ { if (!n++) { x0 = $2; p0 = $5 } x = $2; p = $5 }
    END { printf "%s %.2f at %d tokens -> %.2f at %d (%+.1f%%)", label, p0, x0, p, x, 100 * (p / p0 - 1) }' "$1"
}
json_number() { sed -n "s/.*\"$2\": *\([0-9.eE+-]*\).*/\1/p" "$1" | head -n 1; }
mib() { printf "%.1f" "$(json_number "$1" peak_rss_mib)"; }
elapsed=$(( $(date +%s) - start ))
{
  echo
  echo "================ hmt demo summary ================"
  echo "corpus: State of the Union addresses (train up to 2004, validation 2005-2008, test 2009 on) and Moby Dick"
  grep -E "^(train|validation|test):" "$DEMO/prepare.log" || true
  echo
  echo "PPL on the held-out addresses: one segment of L = $segment_length tokens after X tokens of history ($WINDOWS segments,"
  echo "the same ones for every X and model; backbone = segment-limited, no memory; full = the backbone run"
  echo "reading the X tokens of history directly, in one attention window, up to the 128 tokens it trained on):"
  "$HMT" compare --eval backbone="$DEMO/eval/backbone/eval.json" --eval rmt="$DEMO/eval/rmt/eval.json" \
    --eval hmt="$DEMO/eval/hmt/eval.json" --eval backbone="$DEMO/eval/full/eval.json"
  echo "PPL from the shortest to the longest history: $(history_gain "$DEMO/eval/hmt.txt" hmt hmt);"
  echo "$(history_gain "$DEMO/eval/rmt.txt" rmt rmt); $(history_gain "$DEMO/eval/full.txt" full "backbone, full attention,")"
  echo
  echo "training after the $PRETRAIN pre-training steps (tokens/s: content tokens per second of a step, $(nproc) cores):"
  "$HMT" compare --run pretrain="$runs/pretrain" --run backbone="$runs/backbone" --run rmt="$runs/rmt" \
    --run hmt="$runs/hmt"
  echo
  for name in "${recall_variants[@]}"; do
    facts=${name#passkey}
    asked="the 1-digit answer"
    [ "$facts" -gt 1 ] || [ "$PASSKEY_ASK" = value ] || asked="the answer (the 1-digit value or, half of the time, the key)"
    echo "recall benchmark, $facts fact(s) (one asked; question: $QUESTION): exact match of $asked by its distance D"
    echo "in segments of $segment_length tokens (${recall_steps[$facts]} training steps at D in {${train_distances[$facts]}} from ${start_model[$facts]};"
    oracle=""
    [ "$facts" -gt 1 ] && oracle="(hmt-oracle) = its recall forced onto the asked fact's memory, "
    echo "hmt run ${oracle}(rmt) = its memory without recall, (backbone) = its backbone alone, which sees"
    echo "only the question's segment; in brackets the 95% interval of each rate):"
    evals=(--eval hmt="$DEMO/eval/$name-hmt/eval.json")
    [ -f "$DEMO/eval/$name-rmt/eval.json" ] && evals+=(--eval rmt="$DEMO/eval/$name-rmt/eval.json")
    "$HMT" compare "${evals[@]}"
    if [ "$facts" -gt 1 ]; then
      echo
      sed -n '/^recall: exact match by how many/,/^hmt recall at the query/p' "$DEMO/eval/$name-hmt.txt" | sed '$d'
    fi
    echo
  done
  echo "long document (HMT, segment by segment): peak resident memory $(mib "$DEMO/eval/book10000/eval.json") MiB" \
       "at 10k tokens, $(mib "$DEMO/eval/book100000/eval.json") MiB at 100k tokens;" \
       "$(printf "%.0f" "$(json_number "$DEMO/eval/book100000/eval.json" tokens_per_s)") tokens/s"
  echo "plots: $(cd "$DEMO/plots" && ls *.png | tr '\n' ' ')in $DEMO/plots"
  echo "wall time ${elapsed}s"
  echo "=================================================="
} | tee "$DEMO/summary.md"
