#!/usr/bin/env python3
"""How much a longer history can tell about the next word of the demo's text.

A word-level unigram model with a cache of the last C words (Kuhn and De Mori
1990): p(w) = (1 - lam) p_train(w) + lam count_last_C(w) / C, lam picked per C
on the scored words. It knows only word frequencies, so what a longer cache
gains is the repetition of words within a document (names, topics) that a
memory of the history could carry. Every C scores the same words (those after
the first 768 of each test document). Standard library only.

  python3 scripts/analysis/unigram_cache.py build/demo/corpus/pg19
"""
import math
import os
import re
import sys

MAX_CACHE = 768  # words; the demo's SentencePiece model gives about 1.3 ids per word


def words(root, split):
    d = os.path.join(root, split)
    tok = re.compile(r"[a-z']+|[0-9]+|[^\sa-z'0-9]")
    return [tok.findall(open(os.path.join(d, f), encoding="utf-8").read().lower())
            for f in sorted(os.listdir(d)) if f.endswith(".txt")]


def cache_ppl(test, p_uni, cache_words, lam):
    nll, n = 0.0, 0
    for doc in test:
        cache = {}
        for i, w in enumerate(doc):
            if i >= MAX_CACHE:
                nll -= math.log((1 - lam) * p_uni(w) + lam * cache.get(w, 0) / cache_words)
                n += 1
            cache[w] = cache.get(w, 0) + 1
            if i >= cache_words:  # keep the last cache_words words, this one included
                cache[doc[i - cache_words]] -= 1
    return math.exp(nll / n)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: unigram_cache.py PG19_LAYOUT_DIR (train/ and test/ of .txt files)")
    root = sys.argv[1]
    counts = {}
    for doc in words(root, "train"):
        for w in doc:
            counts[w] = counts.get(w, 0) + 1
    total, vocab = sum(counts.values()), len(counts) + 1
    p_uni = lambda w: (counts.get(w, 0) + 0.5) / (total + 0.5 * vocab)  # add-1/2, unseen words too
    test = words(root, "test")
    scored = [w for doc in test for w in doc[MAX_CACHE:]]
    print(f"train {total} words, test {len(scored)} scored words")
    print(f"no cache: word PPL {math.exp(-sum(math.log(p_uni(w)) for w in scored) / len(scored)):.2f}")
    for c in [12, 24, 48, 96, 192, 768]:
        ppl, lam = min((cache_ppl(test, p_uni, c, lam), lam) for lam in [0.02, 0.05, 0.1, 0.15, 0.2, 0.3])
        print(f"cache of the last {c:3d} words: word PPL {ppl:.2f} (lambda {lam})")


if __name__ == "__main__":
    main()
