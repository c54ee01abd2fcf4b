#!/usr/bin/env bash
# The main job on a small real corpus, end to end, from a built tree:
# corpus (npm) -> SentencePiece tokenizer -> ids -> random tiny backbone -> NLL.
# Training, HMT stages and evaluation join this as they land (issues 5-6).
set -euo pipefail
cd "$(dirname "$0")/.."
HMT=${HMT:-build/hmt}
DEMO=${DEMO_DIR:-build/demo}
VOCAB=${DEMO_VOCAB:-8000}
SCORE_TOKENS=${DEMO_SCORE_TOKENS:-2048}
[ -x "$HMT" ] || { echo "demo: $HMT is missing; run 'make build' first" >&2; exit 1; }
mkdir -p "$DEMO"
start=$(date +%s)

echo "== 1. corpus: State of the Union addresses (train) and Moby Dick (held out), PG-19 layout"
bash scripts/demo_corpus.sh "$DEMO/corpus"
book="$DEMO/corpus/test/2701.txt"

echo "== 2. SentencePiece tokenizer (vocab $VOCAB) trained on the train split"
if [ ! -f "$DEMO/tokenizer/spm.model" ]; then
  "$HMT" tokenizer train --input "$DEMO/corpus/train" --model-prefix "$DEMO/tokenizer/spm" \
    --vocab-size "$VOCAB" --input-sentence-size 200000 >/dev/null
fi

echo "== 3. tokenize the held-out book"
"$HMT" tokenizer encode --tokenizer "$DEMO/tokenizer/spm.model" --input "$book" --stats \
  > "$DEMO/book.ids" 2> "$DEMO/encode.log"
cat "$DEMO/encode.log"
book_tokens=$(wc -w < "$DEMO/book.ids")
encode_rate=$(sed -n 's/.*: \([0-9.]*\) MB\/s.*/\1/p' "$DEMO/encode.log")
first_ids() { awk -v n="$1" '{ for (i = 1; i <= n && i <= NF; ++i) printf "%s ", $i; print "" }' "$DEMO/book.ids"; }
first_ids "$SCORE_TOKENS" > "$DEMO/opening.ids"
first_ids 24 > "$DEMO/first24.ids"
echo "first 24 tokens decode to: $("$HMT" tokenizer decode --tokenizer "$DEMO/tokenizer/spm.model" --ids "$DEMO/first24.ids" | tr '\n' ' ')"

echo "== 4. a random tiny llama backbone from configs/demo.yaml"
"$HMT" init configs/demo.yaml model.vocab_size="$VOCAB" runtime.run_dir="$DEMO/run" --out "$DEMO/model" \
  | tail -n 1 | tee "$DEMO/init.log"

echo "== 5. score the book's first $SCORE_TOKENS tokens in one pass"
"$HMT" score "$DEMO/model" --ids "$DEMO/opening.ids" --json | tee "$DEMO/score.json"

json_field() { sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p" "$DEMO/score.json"; }
tokens=$(json_field tokens)
ppl=$(printf "%.1f" "$(json_field ppl)")
params=$(sed -n 's/.*(\([0-9]*\) parameters.*/\1/p' "$DEMO/init.log")
elapsed=$(( $(date +%s) - start ))
uniform=$(awk -v v="$VOCAB" 'BEGIN { printf "%.0f", v }')

cat <<SUMMARY

================ hmt demo summary ================
corpus            $(ls "$DEMO/corpus/train" | wc -l) train docs, $(du -sh "$DEMO/corpus/train" | cut -f1) of text; held out: Moby Dick ($(wc -c < "$book") bytes)
tokenizer         SentencePiece BPE, vocab $VOCAB -> $DEMO/tokenizer/spm.model
held-out book     $book_tokens tokens, encoded at $encode_rate MB/s (one thread)
backbone          random tiny llama, $params parameters -> $DEMO/model
score             $tokens tokens scored, PPL $ppl (untrained: a uniform guess is $uniform)
wall time         ${elapsed}s
not yet in the demo: training (HMT stages), evaluation, generation (issues 5-6)
==================================================
SUMMARY
