#pragma once
// The long-range recall benchmark's score (`hmt eval` on a passkey split,
// data/sources/passkey.h): each sample runs segment by segment in the given
// mode and counts as correct when the greedy answer is exactly the stored
// one, i.e. when every answer token is the argmax given the tokens before it
// (the answer ends its sample, so greedy decoding reads the same tokens).
// Accuracy is reported per distance D (segments between fact and query),
// with the chance level 10^-digits of the generator.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

#include "data/store/token_store.h"
#include "eval/perplexity.h"

namespace hmt {

struct RecallEvalOptions {
  int64_t batch = 8;        // samples per forward (left-padded)
  int64_t max_samples = 0;  // 0 = all
  MemoryMode mode = MemoryMode::Hmt;
};

struct RecallAtDistance {
  int64_t distance = 0;  // segments
  int64_t samples = 0, correct = 0;
  int64_t answer_tokens = 0, token_hits = 0;  // answer tokens, and those that were the argmax
  double nll_sum = 0;                         // over the answer tokens
  double accuracy() const { return samples > 0 ? static_cast<double>(correct) / static_cast<double>(samples) : 0; }
};

struct RecallEvaluation {
  std::vector<RecallAtDistance> distances;  // ascending
  int64_t samples = 0, correct = 0;
  double accuracy = 0;
  double chance = 0;  // of the generator; 0 when the file does not say
  double seconds = 0;
};

// Adds one scored sample (tokens, misses, NLL) to the row of its distance.
void add_recall_sample(RecallEvaluation& result, int64_t distance, int64_t answer_tokens, int64_t misses,
                       double nll_sum);

RecallEvaluation recall_evaluation(HmtModel& model, const TokenStore& store, const TokenSplit& split,
                                   const RecallEvalOptions& options, RecallHistogram* histogram,
                                   const EvalProgress& progress = {});

nlohmann::ordered_json recall_json(const RecallEvaluation& result);

}  // namespace hmt
