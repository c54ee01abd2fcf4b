#!/usr/bin/env node
// Makes tests/fixtures/tokenizer/<name>.golden.json: token ids computed by
// HuggingFace tokenizers (the Rust library, through its npm binding) for
// prefixes of real files in the shared data and for tricky strings written
// here. The C++ tests must reproduce these ids exactly.
//
//   cd scripts/golden && npm install && node make_tokenizer_golden.js [SHARED_DATA]
//
// encode(..., {addSpecialTokens: false}) matches hmt::Tokenizer::encode.
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');
// SentencePiece compiled to WASM: a second build of the library, a check on
// our use of the Debian one (no bos/eos added, as sp.Encode).
const { SentencePieceProcessor } = require('@sctg/sentencepiece-js');

const repo = path.resolve(__dirname, '..', '..');
const shared = path.resolve(process.argv[2] || path.join(repo, '..', 'shared', 'data'));
const outDir = path.join(repo, 'tests', 'fixtures', 'tokenizer');
// Read directly: some packages do not export their package.json.
const packageVersion = (name) =>
  JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules', name, 'package.json'))).version;
const peer = `tokenizers@${packageVersion('tokenizers')}`;

// Tricky strings: each targets one rule of the pipeline.
const tricky = {
  contractions: "I'm, you'll, they'd, it's, WE'RE, She'S don't 'll ' 's x'sy",
  space_runs: 'a  b   c\t\td \t \n e     f',
  blank_lines: 'one\n\n\ntwo\n\n\n',
  crlf: 'line one\r\nline two\r\n\r\nend',
  leading_trailing: '   leading and trailing   ',
  single_space: ' ',
  long_space_run: 'word' + ' '.repeat(40) + 'word',
  accents_composed: 'café naïve résumé Ångström',
  // e + U+0301, i + U+0308, A + U+030A, Angstrom sign U+212B: NFC changes them.
  accents_decomposed: 'cafe\u0301 nai\u0308ve re\u0301sume\u0301 A\u030Angstro\u0308m \u212B',
  cjk: '日本語のテキストと中文字符，还有한국어。漢字かな交じり文',
  emoji_zwj: 'family: 👨‍👩‍👧‍👦 and flags 🇫🇷 thumbs 👍🏽 heart ❤️',
  numbers: '1234567 12.5 3,000,000 0.001 ١٢٣ 2024-01-31',
  code: 'def f(x):\n    return x**2  # square\n\tif (a && b) { c[i] = 0; }\n',
  unicode_spaces: 'a\u00A0b\u3000c\u2009d\u200Be',
  // U+180E left Unicode's White_Space in 6.3: not a space for HF (PCRE2's \s still takes it).
  mongolian_vowel_separator: 'a\u180Eb \u180E c\u180E\u180E d  \u180E\n\u180E x \u180E',
  mixed_case: 'HELLO World hello WORLD hElLo',
  endoftext_literal: 'before<|endoftext|>after <|endoftext|> x<|endoftext|>',
  chat_markers: '<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n',
  punctuation: '...!!! ??? -- — “quoted” ‘single’ (paren) [bracket] {brace} @#$%^&*',
};

// Prefixes of real files; end is moved back to a character boundary.
const fileCases = [
  ['pg19_alice', 'pg19/train/11.txt', 0, 30000],
  ['pg19_pride_middle', 'pg19/train/1342.txt', 200000, 215000],
  ['wikitext_valid', 'wikitext/wiki.valid.tokens', 0, 20000],
  ['pubmedqa_train', 'pubmedqa/ori_pqal_train.json', 0, 20000],
];

function fileText(rel, begin, end) {
  const bytes = fs.readFileSync(path.join(shared, rel));
  const boundary = (i) => {
    while (i > 0 && i < bytes.length && (bytes[i] & 0xc0) === 0x80) i--;
    return Math.min(i, bytes.length);
  };
  begin = boundary(begin);
  end = boundary(end);
  return { begin, end, text: bytes.subarray(begin, end).toString('utf8') };
}

async function hfPeer(file) {
  const tokenizer = Tokenizer.fromFile(file);
  return {
    name: peer,
    encode: async (text) =>
      (await tokenizer.encode(text, null, { addSpecialTokens: false })).getIds(),
    decode: (ids) => tokenizer.decode(ids, false),
  };
}

async function sentencePiecePeer(file) {
  const sp = new SentencePieceProcessor();
  await sp.load(file);
  return {
    name: `@sctg/sentencepiece-js@${packageVersion('@sctg/sentencepiece-js')}`,
    encode: async (text) => Array.from(sp.encodeIds(text)),
    decode: async (ids) => sp.decodeIds(ids),
  };
}

// fileLimit caps the bytes per file case (a model whose decode differs from
// its input stores that text too).
async function golden(name, tokenizerRel, makePeer, fileLimit = Infinity) {
  const tokenizer = await makePeer(path.join(shared, tokenizerRel));
  const cases = [];
  const add = async (entry, text) => {
    const ids = await tokenizer.encode(text);
    const decoded = await tokenizer.decode(ids);
    // `decoded` only where HF's decode differs from the input (NFC at work).
    cases.push(decoded === text ? { ...entry, ids } : { ...entry, ids, decoded });
  };
  for (const [caseName, rel, b, e] of fileCases) {
    const { begin, end, text } = fileText(rel, b, Math.min(e, b + fileLimit));
    await add({ name: caseName, file: rel, begin, end }, text);
  }
  for (const [caseName, text] of Object.entries(tricky)) await add({ name: caseName, text }, text);

  fs.mkdirSync(outDir, { recursive: true });
  // One case per line keeps the diff of a regenerated file readable.
  const body = cases.map((c) => '    ' + JSON.stringify(c)).join(',\n');
  const header = JSON.stringify({ tokenizer: tokenizerRel, peer: tokenizer.name, add_special_tokens: false });
  const json = header.slice(0, -1) + ',\n  "cases": [\n' + body + '\n  ]\n}\n';
  const file = path.join(outDir, `${name}.golden.json`);
  fs.writeFileSync(file, json);
  console.log(`${file}: ${cases.length} cases, ${json.length} bytes`);
}

// Variants of the GPT-2 tokenizer.json (a JSON merge patch each) that
// exercise the parts GPT-2 and Qwen3 leave unused: Split behaviours, invert,
// Digits, prefix space, added-token flags, NFC-normalized added tokens,
// ignore_merges. The C++ test applies the same patch to the shared file.
// HF gives an added token whose content is already in the vocabulary the
// vocabulary's id ('word' = 4775), so the ids below are written that way.
const variants = [
  ['split_behaviors', { pre_tokenizer: { type: 'Sequence', pretokenizers: [
    { type: 'Split', pattern: { String: '-' }, behavior: 'MergedWithPrevious', invert: false },
    { type: 'Split', pattern: { Regex: '\\d+' }, behavior: 'MergedWithNext', invert: false },
    { type: 'Split', pattern: { Regex: '[aeiou]' }, behavior: 'Contiguous', invert: false },
    { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  ] } }],
  ['removed_invert', { pre_tokenizer: { type: 'Sequence', pretokenizers: [
    { type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Removed', invert: false },
    { type: 'Split', pattern: { Regex: '[a-z]+' }, behavior: 'Isolated', invert: true },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
  ] } }],
  ['digits', { pre_tokenizer: { type: 'Sequence', pretokenizers: [
    { type: 'Digits', individual_digits: true },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  ] } }],
  ['added_token_flags', {
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }] },
    added_tokens: [
      { id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 50257, content: '[MASK]', single_word: false, lstrip: true, rstrip: false, normalized: false, special: true },
      { id: 50258, content: '<sep>', single_word: false, lstrip: false, rstrip: true, normalized: false, special: true },
      { id: 4775, content: 'word', single_word: true, lstrip: false, rstrip: false, normalized: false, special: false },
      { id: 50259, content: 'h\u00e9llo', single_word: false, lstrip: false, rstrip: false, normalized: true, special: false },
      { id: 50260, content: '<sep><sep>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ] }],
  ['ignore_merges', { model: { ignore_merges: true } }],
];
const variantTexts = {
  flags: 'a [MASK] b  [MASK]c <sep>  d<sep>e <sep><sep> f word words sword word. he\u0301llo h\u00e9llo',
  dashes_digits: 'well-known 2024-01-31 x-y-z 12abc34 -lead trail- a--b 3.14159',
  vowels: 'aeiou queueing beautiful  onomatopoeia',
  words: 'The quick brown fox jumps over the lazy dog. Antidisestablishmentarianism!',
};

function mergePatch(target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

async function variantGolden() {
  const baseRel = 'tokenizers/gpt2/tokenizer.json';
  const base = JSON.parse(fs.readFileSync(path.join(shared, baseRel), 'utf8'));
  const alice = fileText('pg19/train/11.txt', 0, 3000).text;
  const texts = { ...variantTexts, ...tricky, alice };
  const results = [];
  for (const [name, patch] of variants) {
    const tokenizer = Tokenizer.fromString(JSON.stringify(mergePatch(base, patch)));
    const cases = [];
    for (const [caseName, text] of Object.entries(texts)) {
      const ids = (await tokenizer.encode(text, null, { addSpecialTokens: false })).getIds();
      // Prefix spaces and Removed splits change the text: keep HF's decode.
      const decoded = await tokenizer.decode(ids, false);
      cases.push(decoded === text ? { name: caseName, text, ids } : { name: caseName, text, ids, decoded });
    }
    results.push('    ' + JSON.stringify({ name, patch, cases }));
  }
  const file = path.join(outDir, 'gpt2_variants.golden.json');
  const header = JSON.stringify({ tokenizer: baseRel, peer, add_special_tokens: false });
  fs.writeFileSync(file, header.slice(0, -1) + ',\n  "variants": [\n' + results.join(',\n') + '\n  ]\n}\n');
  console.log(`${file}: ${variants.length} variants`);
}

(async () => {
  await variantGolden();
  await golden('gpt2', 'tokenizers/gpt2/tokenizer.json', hfPeer);
  await golden('qwen3', 'holdout/tokenizers/qwen3/tokenizer.json', hfPeer);
  await golden('llama2', 'tokenizers/llama2/tokenizer.model', sentencePiecePeer);
  await golden('sentencepiece_test', 'holdout/tokenizers/sentencepiece_test/test_model.model',
               sentencePiecePeer, 6000);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
