#!/usr/bin/env node
// Times the npm peers on one text file, single-threaded, best of 3, load
// excluded: HF tokenizers (GPT-2 tokenizer.json, add_special_tokens=false)
// and tiktoken (get_encoding("gpt2"), WASM). Prints "name MB/s ids" lines.
//   node tokenizer_bench.js TEXT_FILE GPT2_TOKENIZER_JSON
process.env.TOKENIZERS_PARALLELISM = 'false';
process.env.RAYON_NUM_THREADS = '1';
const fs = require('fs');
const path = require('path');
// The packages live in scripts/golden/node_modules (one install for both).
const modules = path.join(__dirname, '..', 'golden', 'node_modules');
const { Tokenizer } = require(path.join(modules, 'tokenizers'));
const { get_encoding } = require(path.join(modules, 'tiktoken'));

const [textFile, tokenizerJson] = process.argv.slice(2);
const text = fs.readFileSync(textFile, 'utf8');
const bytes = Buffer.byteLength(text, 'utf8');

async function best(name, encode) {
  let bestSeconds = Infinity;
  let count = 0;
  for (let run = 0; run < 3; run++) {
    const start = process.hrtime.bigint();
    const ids = await encode();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    bestSeconds = Math.min(bestSeconds, seconds);
    count = ids.length;
  }
  console.log(`${name} ${(bytes / bestSeconds / 1e6).toFixed(2)} ${count}`);
}

(async () => {
  // A fresh tokenizer per run would be fairer to caches, but neither peer
  // exposes one cheaply; both keep their state across runs.
  const hf = Tokenizer.fromFile(tokenizerJson);
  await best('hf_tokenizers', async () =>
    (await hf.encode(text, null, { addSpecialTokens: false })).getIds());
  const enc = get_encoding('gpt2');
  await best('tiktoken', async () => enc.encode(text, [], []));
  enc.free();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
