#!/usr/bin/env bash
# Data pipeline throughput on the shared PG-19 books (docs/data.md):
#  1. `hmt prepare` MB/s of source text, one thread and all cores, on a
#     PG-19 layout holding COPIES copies of the shared books (default 8,
#     ~30 MB) so that tokenizing dominates the tokenizer load;
#  2. `hmt loader-bench` batches/s and tokens/s on the prepared file, with
#     the demo model's window (S = 2, L = 64, B = 2);
#  3. `hmt bench` training-step tokens/s of a model shaped like the demo
#     model (configs/model/tiny_llama.yaml, configs/hmt/tiny.yaml) at S = 2,
#     and the ratio loader / training step.
# Usage: scripts/bench/data_bench.sh [SHARED_DATA] [COPIES]. Builds nothing.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
shared="$(cd "${1:-${HMT_SHARED_DATA:-$repo/../shared/data}}" && pwd)"
copies="${2:-8}"
hmt="$repo/build/hmt"
tokenizer="$shared/tokenizers/gpt2/tokenizer.json"
[ -x "$hmt" ] || { echo "data_bench: $hmt is missing; run 'make build' first" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
corpus="$tmp/pg19"
mkdir -p "$corpus/train" "$corpus/validation" "$corpus/test"
: > "$corpus/metadata.csv"
for c in $(seq 1 "$copies"); do
  for split in train validation test; do
    for book in "$shared/pg19/$split"/*.txt; do
      id="$c$(basename "$book" .txt)"
      cp "$book" "$corpus/$split/$id.txt"
      echo "$id,\"copy $c of $(basename "$book")\",1900,http://example.invalid/$id" >> "$corpus/metadata.csv"
    done
  done
done
echo "corpus: $(du -sb "$corpus" | cut -f1) bytes in $(ls "$corpus"/*/ | grep -c txt) books ($copies copies of the shared PG-19 books)"

for threads in 1 0; do
  rm -f "$tmp/pg19.h5"
  line=$("$hmt" prepare --dataset pg19 --source "$corpus" --tokenizer "$tokenizer" --out "$tmp/pg19.h5" \
         --threads "$threads" --quiet | grep '^wrote')
  echo "prepare --threads $threads: ${line#wrote $tmp/}"
done

loader=$("$hmt" loader-bench "$tmp/pg19.h5" --segments 2 --segment-length 64 --batch 2 --batches 20000)
echo "$loader" | sed "s|$tmp/||"
loader_tps=$(echo "$loader" | sed -n 's/.*shuffled.* \([0-9.]*\) tokens\/s.*/\1/p')

step=$("$hmt" bench --vocab 8000 --hidden 128 --layers 2 --heads 4 --segment-length 64 --sensory 8 \
       --segments 2 --checkpoint on --steps 5)
echo "$step"
step_tps=$(echo "$step" | awk '$1 == "2" && $2 == "on" {print $6}')
printf 'loader (shuffled) / training step tokens/s = %s / %s = %.0fx\n' "$loader_tps" "$step_tps" \
  "$(echo "$loader_tps / $step_tps" | bc -l)"
