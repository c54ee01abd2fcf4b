#include "model/document_score.h"

#include <cmath>

#include "core/error.h"

namespace hmt {

double DocumentScore::ppl() const { return tokens > 0 ? std::exp(nll_sum / static_cast<double>(tokens)) : 1.0; }

DocumentScore score_document(Backbone& backbone, const std::vector<int32_t>& ids) {
  const auto& config = backbone.config();
  HMT_CHECK(ids.size() >= 2, "a document needs at least 2 tokens to score, got {}", ids.size());
  if (config.family != Family::Llama) {
    HMT_CHECK(static_cast<int64_t>(ids.size()) <= config.max_position_embeddings,
              "the document has {} tokens but this {} backbone has learned positions for {} (max_position_embeddings); "
              "score an HMT export to process it segment by segment",
              ids.size(), config.family_name(), config.max_position_embeddings);
  }
  for (size_t i = 0; i < ids.size(); ++i)
    HMT_CHECK(ids[i] >= 0 && ids[i] < config.vocab_size, "token #{} is id {}, outside the model's vocabulary [0, {})",
              i, ids[i], config.vocab_size);

  torch::NoGradGuard no_grad;
  bool was_training = backbone.is_training();
  backbone.eval();
  auto parameter = backbone.parameters().front();
  auto input =
      torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kInt64).to(parameter.device()).unsqueeze(0);
  auto logits = backbone.forward(backbone.embed(input)).logits;  // [1, T, V]
  // log_softmax in float32 at least (bf16 logits lose the tail); the sum in
  // double so that long documents do not drift.
  auto log_probs = torch::log_softmax(logits.squeeze(0).slice(0, 0, -1).to(torch::kFloat32), /*dim=*/-1);
  auto targets = input.squeeze(0).slice(0, 1);
  auto nll = -log_probs.gather(1, targets.unsqueeze(1)).squeeze(1);
  backbone.train(was_training);

  DocumentScore score;
  score.tokens = static_cast<int64_t>(ids.size()) - 1;
  score.nll_sum = nll.to(torch::kFloat64).sum().item<double>();
  return score;
}

}  // namespace hmt
