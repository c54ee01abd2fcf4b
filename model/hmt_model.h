#pragma once
// The HMT wrapper around a backbone (docs/hmt.md sections 2-3): the hmt.*
// parameters and the three computations a segment needs. The recurrence over
// segments (memory, sensory tokens, recall cache, truncation) lives in
// model/memory_recurrence.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/experiment_config.h"
#include "model/backbone.h"

namespace hmt {

struct HmtParameters;

// True for the names HmtModel gives its own tensors ("hmt.memory",
// "hmt.recall.wq.weight", ...), as opposed to "backbone.<HF name>".
inline bool is_hmt_parameter(const std::string& name) { return name.rfind("hmt.", 0) == 0; }

// The tokens of one segment for a batch of B rows. Rows may be left-padded
// (mask 0 before the real tokens); a row that is all padding in this segment
// has no real token here and its memory passes through unchanged.
struct SegmentTokens {
  torch::Tensor ids;           // [B, Ln] int64, content tokens H_n
  torch::Tensor mask;          // [B, Ln] 1 = real; undefined = all real
  torch::Tensor sensory_ids;   // [B, k'] last k ids of H_{n-1}; undefined or k' = 0 for none
  torch::Tensor sensory_mask;  // [B, k'] or undefined
};

// Z_n as the backbone reads it: [m ; embed(sensory) ; embed(ids) ; m]
// (docs/hmt.md 3.3), with its attention mask.
struct SegmentInputs {
  torch::Tensor embeds;       // [B, P, d]
  torch::Tensor mask;         // [B, P] int64 1 = real; undefined when nothing is padded
  int64_t content_start = 0;  // the position of ids[:, 0]: 1 + k' with memory slots, k' without
};

struct SegmentPass {
  torch::Tensor content_logits;  // [B, Ln, V]: rows [1+k', 1+k'+Ln) of the pass (G_n)
  torch::Tensor memory_out;      // [B, d]: last_hidden at the last position (M_n)
};

class HmtModel : public torch::nn::Module {
 public:
  // Creates the hmt.* parameters with the spec's init from torch's global
  // generator (the caller seeds it), drawn in the order memory,
  // summary_prompt, wq, wk, in the backbone's dtype and on its device. The backbone is registered as the
  // submodule "backbone" and the hmt.* tensors under "hmt", so
  // named_parameters() gives "backbone.<HF name>" and "hmt.memory",
  // "hmt.summary_prompt", "hmt.recall.wq.weight", "hmt.recall.wk.weight".
  HmtModel(std::shared_ptr<Backbone> backbone, HmtConfig config);

  Backbone& backbone() { return *backbone_; }
  const std::shared_ptr<Backbone>& backbone_ptr() const { return backbone_; }
  const HmtConfig& config() const { return config_; }
  // Stage 1 -> stage 2 switch; the recall parameters exist either way.
  void set_recall_enabled(bool enabled) { config_.recall.enabled = enabled; }

  // The hmt.* tensors by their spec names. Recall tensors (summary_prompt,
  // recall.*) are included only when recall is enabled (docs/hmt.md section 8).
  std::vector<std::pair<std::string, torch::Tensor>> hmt_tensors() const;
  // Copies tensors by spec name into the hmt.* parameters; errors name a
  // missing/unknown tensor or a shape mismatch, and `source` (a file).
  // Required are the names hmt_tensors() lists now, so a stage 1 file (no
  // recall tensors) loads while recall is disabled; enable recall after.
  void load_hmt_tensors(const std::vector<std::pair<std::string, torch::Tensor>>& tensors, const std::string& source);

  torch::Tensor memory_init();  // hmt.memory broadcast to [B, d] by the caller
  // Fresh draws from torch's global generator with the construction's rule,
  // against the input embedding table as it is now (docs/hmt.md section 5):
  // hmt.memory; and hmt.summary_prompt, then wq, wk.
  void draw_memory();
  void draw_recall();

  // Z_n = [m ; embed(sensory) ; embed(ids) ; m], one backbone call. An
  // undefined memory drops both slots (Z_n = [embed(sensory) ; embed(ids)],
  // the segment-limited backbone of `hmt eval --mode backbone`); memory_out
  // is then undefined.
  SegmentPass segment_pass(const torch::Tensor& memory /*[B, d]*/, const SegmentTokens& tokens);
  // The inputs of segment_pass; without `trailing_slot` Z_n stops after the
  // content (the generator's key/value cache appends the slot when the
  // segment closes).
  SegmentInputs segment_inputs(const torch::Tensor& memory, const SegmentTokens& tokens, bool trailing_slot);
  // Representation extraction S_n: last_hidden of [T ; embed(ids[:, :j]) ; T]
  // at the last position, [B, d] (j = config().summary_tokens()).
  torch::Tensor summary_pass(const SegmentTokens& tokens);
  // Memory recall: softmax((S Wq^T)(C Wk^T)^T / sqrt(h)) C over the cached
  // entries; cache [B, N', d], cache_mask [B, N'] (1 = valid) or undefined.
  torch::Tensor recall(const torch::Tensor& summary, const torch::Tensor& cache, const torch::Tensor& cache_mask = {});
  // The attention weights of the last recall() call, [B, N'] (for the recall
  // distance histogram of the evaluation).
  torch::Tensor last_recall_weights() const { return last_recall_weights_; }

 private:
  std::shared_ptr<Backbone> backbone_;
  HmtConfig config_;
  std::shared_ptr<HmtParameters> params_;
  torch::Tensor last_recall_weights_;
};

}  // namespace hmt
