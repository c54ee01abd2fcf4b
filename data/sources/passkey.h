#pragma once
// The long-range recall benchmark (`hmt prepare --dataset passkey`,
// docs/data.md "Recall samples"): documents of real filler text with a fact
// placed D segments before the query that asks for it.
//
// A sample is cut into segments of L tokens from its first token, as
// run_segments cuts a QA row:
//   [lead filler segments] [fact segment] [D - 1 filler segments] [query segment]
// The fact "The <key> key is <value>." sits at a random offset inside its
// segment. The query segment ends with the cue "The <key> key is" and the
// answer " <value>", the last tokens of the sample and the only scored ones;
// the cue sits where the longest answer would put it, so the
// layout before the answer does not depend on the value (the last segment may
// be a few ids short of L). With facts = 1 the key is "pass" (the pass-key
// task); with facts = F > 1, F - 1 other keys with other values sit in other
// segments before the query (the several-facts task), so the answer has to
// be the value of the asked key, not any value seen. With ask = "both"
// (facts = 1 only) the key is a colour name too and half of the samples, by
// a coin per sample, ask for the key instead: the cue "The key is" and the
// answer " <key>", so the fact's memory has to carry which key it saw, not
// only its value (a curriculum step before the several-facts task). How many of them are
// older than the asked fact is uniform in what D allows (at D = 1 all are),
// so its position among the facts does not give it away. Each piece is tokenized
// on its own and the ids are concatenated, so a fact is the same ids wherever
// it lands.
//
// Values are `digits` decimal digits, uniform (leading zeros kept), so an
// answer guessed without the fact is exactly right with probability
// 10^-digits: the chance level. The asked value's first digit is balanced:
// each run of 10 samples of one distance holds every digit once, so a
// constant guess scores exactly the chance level on full runs. Sample i of
// a split uses distance distances[i % |distances|] (so every distance has
// the same number of samples) and a generator seeded by (seed, split, i)
// only, so a sample is the same however many are made and an interrupted
// preparation resumes exactly.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "data/store/token_store.h"
#include "data/tokenizers/tokenizer.h"

namespace hmt {

struct PasskeyOptions {
  int64_t segment_length = 0;                      // L: the segment grid the distances count in
  std::vector<int64_t> distances = {2, 4, 8, 16};  // D, in segments between fact and query
  int64_t facts = 1;                               // 1: the pass key; F > 1: F key -> value facts, one asked
  int64_t digits = 5;                              // digits of a value
  int64_t lead_segments = 1;  // segments before the fact: uniform in [0, lead] (more for older facts)
  // "end": the query segment asks only through the cue before the answer;
  // "start": it also opens with "The <key> key?", inside the first
  // j tokens that HMT's recall query reads (docs/hmt.md 3.1).
  std::string question = "end";
  // "value": every query asks for the value; "both" (facts = 1): a coin per
  // sample asks for the value or for the key.
  std::string ask = "value";
  uint64_t seed = 0;

  void check() const;  // errors name the data.passkey.* key
  // The settings and the chance level, as stored in the token file (TokenStore::recall_task).
  nlohmann::ordered_json to_json() const;
  double chance() const;  // 10^-digits; with ask both the mean of that and 1 / (key names)
};

// The largest number of key names a sample can hold (facts <= this).
int64_t passkey_key_names();

// One generated sample and where its parts are (for tests and the log).
struct PasskeySample {
  QaSample sample;                           // ids, answer_start, distance, other_distances, name "d<D>-<i>"
  std::string key, value;                    // the asked fact
  bool asks_key = false;                     // the answer is " <key>" (ask both), else " <value>"
  int64_t fact_begin = 0;                    // index of the asked fact's first id
  int64_t fact_segment = 0;                  // its segment; the query's is fact_segment + distance
  int64_t query_segment = 0;                 // the last segment
  int64_t token_distance = 0;                // ids from the asked fact's first to the answer's first
};

// Sample `index` of split number `split` from `filler`: the split's filler
// text, tokenized (at least one sample's length of ids; error otherwise).
PasskeySample make_passkey_sample(const PasskeyOptions& options, const Tokenizer& tokenizer,
                                  const std::vector<int32_t>& filler, int64_t split, int64_t index);

}  // namespace hmt
