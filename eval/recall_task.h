#pragma once
// The long-range recall benchmark's score (`hmt eval` on a passkey split,
// data/sources/passkey.h): each sample runs segment by segment in the given
// mode and counts as correct when the greedy answer is exactly the stored
// one, i.e. when every answer token is the argmax given the tokens before it
// (the answer ends its sample, so greedy decoding reads the same tokens).
// Accuracy is reported per distance D (segments between fact and query),
// with the chance level 10^-digits of the generator.
//
// With recall (hmt mode), it also reports where the query segment's recall
// looks: the attention weight on the memory M_f that the asked fact's
// segment f wrote (f = query segment - D), the summed weight on the
// memories of the other facts' segments (several facts), and how often M_f
// is the entry with the largest weight. On the pass key this says whether
// recall finds the fact at all; with several facts, whether it finds the
// asked one or only some fact. Measured only when the file's segment grid is
// the model's L (else D counts other segments); a memory already evicted
// from the cache counts 0.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "data/store/token_store.h"
#include "eval/perplexity.h"

namespace hmt {

struct RecallEvalOptions {
  int64_t batch = 8;        // samples per forward (left-padded)
  int64_t max_samples = 0;  // 0 = all
  MemoryMode mode = MemoryMode::Hmt;
  // Oracle recall (hmt mode with recall, a file on the model's grid): the
  // query segment's recall returns the memory of the asked fact's segment
  // with weight 1 (MemoryRecurrence::force_recall), so the accuracy says
  // what the memories hold when recall picks perfectly. Against the learned
  // recall it separates a failure to pick from a failure to store.
  bool oracle = false;
};

// Several facts: accuracy by how many of the other facts are older than the
// asked one (0 = the asked fact is the oldest). A memory written after an
// older fact was recalled may carry that fact instead of its own.
struct RecallByOlder {
  int64_t older = 0;
  int64_t samples = 0, correct = 0;
};

struct RecallAtDistance {
  int64_t distance = 0;  // segments
  int64_t samples = 0, correct = 0;
  int64_t answer_tokens = 0, token_hits = 0;  // answer tokens, and those that were the argmax
  double nll_sum = 0;                         // over the answer tokens
  // Recall at the query segment (hmt mode with recall, on the model's grid):
  int64_t recalled = 0;          // samples whose query segment recalled
  double fact_weight_sum = 0;    // their summed recall weight on M_f
  double other_weight_sum = 0;   // ... and on the other facts' memories
  int64_t fact_strongest = 0;    // of them, those whose largest weight is on M_f
  double accuracy() const { return samples > 0 ? static_cast<double>(correct) / static_cast<double>(samples) : 0; }
};

struct RecallEvaluation {
  std::vector<RecallAtDistance> distances;  // ascending
  int64_t samples = 0, correct = 0;
  double accuracy = 0;
  double chance = 0;  // of the generator; 0 when the file does not say
  double seconds = 0;
  bool fact_recall = false;  // the recall fields were measured
  bool other_facts = false;  // some sample had other facts
  bool oracle = false;       // RecallEvalOptions::oracle
  std::vector<RecallByOlder> by_older;  // ascending older; empty without other facts
};

// Adds one scored sample (tokens, misses, NLL) to the row of its distance
// and, with other facts (older >= 0: how many are older than the asked one),
// to the row of its `older`.
void add_recall_sample(RecallEvaluation& result, int64_t distance, int64_t answer_tokens, int64_t misses,
                       double nll_sum, int64_t older = -1);

// Adds one sample's recall at its query segment to the row of its distance:
// the weight on M_f, that on the other facts' memories (summed), and whether
// M_f had the largest weight.
void add_fact_recall(RecallEvaluation& result, int64_t distance, double weight, double other_weight, bool strongest);

RecallEvaluation recall_evaluation(HmtModel& model, const TokenStore& store, const TokenSplit& split,
                                   const RecallEvalOptions& options, RecallHistogram* histogram,
                                   const EvalProgress& progress = {});

nlohmann::ordered_json recall_json(const RecallEvaluation& result);

// One row of recall_json (a distance, an older-facts row or the whole task)
// as the tables of `hmt eval` and `hmt compare` print it: "35.5% (29-42)",
// the rate with its 95% Wilson interval; a row without counts (a report
// written by hand) gives the rate alone.
std::string format_recall_rate(const nlohmann::json& row);

}  // namespace hmt
