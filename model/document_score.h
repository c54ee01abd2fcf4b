#pragma once
// Causal-LM negative log-likelihood of one document in one pass of the plain
// backbone (no memory): what `hmt score` prints for an HF model directory.
#include <cstdint>
#include <vector>

#include "model/backbone.h"

namespace hmt {

struct DocumentScore {
  int64_t tokens = 0;    // scored tokens: ids - 1 (the first token is not predicted)
  double nll_sum = 0.0;  // sum over scored tokens, accumulated in double
  double ppl() const;    // exp(nll_sum / tokens)
};

// Throws hmt::Error when the document is longer than a learned-position
// backbone (gpt2, opt) can hold, or has an id outside the vocabulary.
DocumentScore score_document(Backbone& backbone, const std::vector<int32_t>& ids);

}  // namespace hmt
