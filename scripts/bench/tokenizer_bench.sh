#!/usr/bin/env bash
# Encode throughput, ours vs the npm peers, on the same 1,000,000 bytes of
# English (PG-19 train books concatenated in name order), one core each
# (taskset), best of 3, tokenizer load excluded. Builds nothing.
#   scripts/bench/tokenizer_bench.sh [SHARED_DATA]
# Ours runs through `build/hmt tokenizer encode --tokenizer FILE --input FILE --stats`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
shared="$(cd "${1:-${HMT_SHARED_DATA:-$repo/../shared/data}}" && pwd)"
tokenizer="$shared/tokenizers/gpt2/tokenizer.json"
pin=""
command -v taskset >/dev/null && pin="taskset -c 0"
export OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
text="$tmp/english_1mb.txt"
# cat stops on SIGPIPE once head has its bytes: not an error.
(cat $(ls "$shared"/pg19/train/*.txt | LC_ALL=C sort) | head -c 1000000 > "$text") || true
[ "$(wc -c < "$text")" -eq 1000000 ] || { echo "need 1,000,000 bytes of PG-19 text" >&2; exit 1; }

if [ ! -d "$repo/scripts/golden/node_modules/tiktoken" ]; then
  (cd "$repo/scripts/golden" && npm install --no-audit --no-fund >/dev/null)
fi

# Ours: the encode call alone, timed inside the process (`--stats`): process
# start-up (loading LibTorch) is far longer than encoding 1 MB, so timing the
# whole command would measure the loader, not the tokenizer.
ours=0
for _ in 1 2 3; do
  rate=$($pin "$repo/build/hmt" tokenizer encode --tokenizer "$tokenizer" --input "$text" --stats 2>&1 >/dev/null |
         sed -n 's/.*: \([0-9.]*\) MB\/s.*/\1/p')
  ours=$(echo "if ($rate > $ours) $rate else $ours" | bc -l)
done
how="build/hmt tokenizer encode --stats, encode call timed in-process"

peers=$($pin node "$repo/scripts/bench/tokenizer_bench.js" "$text" "$tokenizer")
hf=$(echo "$peers" | awk '$1 == "hf_tokenizers" {print $2}')
tt=$(echo "$peers" | awk '$1 == "tiktoken" {print $2}')

printf 'text: 1,000,000 bytes of PG-19 English; GPT-2 tokenizer; one core; best of 3\n'
printf '%-28s %8.2f MB/s   (%s)\n' "hmt (ours)" "$ours" "$how"
printf '%-28s %8.2f MB/s\n' "HF tokenizers (npm)" "$hf"
printf '%-28s %8.2f MB/s\n' "tiktoken gpt2 (npm, WASM)" "$tt"
printf 'ours / tiktoken = %.2fx, ours / HF tokenizers = %.2fx\n' \
  "$(echo "$ours / $tt" | bc -l)" "$(echo "$ours / $hf" | bc -l)"
