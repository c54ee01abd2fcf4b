#pragma once
// PubMedQA evaluation (docs/hmt.md section 7) on a prepared QA split: each
// sample `context question answer` runs segment by segment in the given
// mode and only its answer tokens are scored (long-answer PPL); for the
// short answer, `context question c` is scored for c in yes / no / maybe and
// the lowest summed NLL of c's tokens is the prediction (accuracy over the
// labeled samples).
#include <array>
#include <cstdint>

#include "data/store/token_store.h"
#include "eval/perplexity.h"

namespace hmt {

struct QaEvalOptions {
  int64_t batch = 4;        // samples per forward (left-padded)
  int64_t max_samples = 0;  // 0 = all
  MemoryMode mode = MemoryMode::Hmt;
};

struct QaEvaluation {
  int64_t samples = 0;
  int64_t answer_tokens = 0;
  double nll_sum = 0;
  double long_answer_ppl = 0;
  int64_t labeled = 0, correct = 0;
  double accuracy = 0;                 // correct / labeled; 0 without labels
  std::array<int64_t, 3> predicted{};  // predictions per short answer (kShortAnswers order)
  double seconds = 0;
};

QaEvaluation qa_evaluation(HmtModel& model, const TokenSplit& split, const QaEvalOptions& options,
                           RecallHistogram* histogram, const EvalProgress& progress = {});

}  // namespace hmt
