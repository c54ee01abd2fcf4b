#include "model/hmt_model.h"

#include <cmath>
#include <limits>
#include <set>

#include "core/error.h"
#include "core/shape_text.h"

namespace hmt {
namespace {

// [B, T] mask of ones for the parts given without one, so that a concatenated
// mask exists whenever any part has padding.
torch::Tensor ones_mask(int64_t batch, int64_t length, const torch::Tensor& like) {
  return torch::ones({batch, length}, like.options().dtype(torch::kLong));
}

torch::Tensor as_long(const torch::Tensor& mask) { return mask.to(torch::kLong); }

}  // namespace

// The hmt.* tensors live in their own submodule tree so that named_parameters()
// spells "hmt.memory" and "hmt.recall.wq.weight" without custom naming.
struct HmtParameters : torch::nn::Module {
  torch::Tensor memory, summary_prompt;
  torch::nn::Linear wq{nullptr}, wk{nullptr};
};

namespace {

// The unbiased std of the input embedding table: embed() of every id is the
// table itself, whatever the family calls its weight.
double table_std(Backbone& backbone) {
  torch::NoGradGuard no_grad;
  auto options = backbone.parameters().front().options();
  auto table = backbone.embed(torch::arange(backbone.config().vocab_size, options.dtype(torch::kLong)));
  return table.to(torch::kDouble).std().item<double>();
}

std::shared_ptr<HmtParameters> make_parameters(Backbone& backbone, const HmtConfig& config) {
  const int64_t d = backbone.embed_dim();
  auto options = backbone.parameters().front().options();
  const double scale = table_std(backbone);
  auto p = std::make_shared<HmtParameters>();
  // Draw order (memory, summary_prompt, wq, wk) is part of reproducibility.
  p->memory = p->register_parameter("memory", torch::randn({1, d}, options) * scale);
  p->summary_prompt = p->register_parameter("summary_prompt", torch::randn({1, d}, options) * scale);
  auto recall = std::make_shared<torch::nn::Module>();
  const int64_t h = config.recall.hidden_dim;
  // nn::Linear's default init: kaiming_uniform(a = sqrt(5)) = uniform(+-1/sqrt(d)).
  p->wq = recall->register_module("wq", torch::nn::Linear(torch::nn::LinearOptions(d, h).bias(false)));
  p->wk = recall->register_module("wk", torch::nn::Linear(torch::nn::LinearOptions(d, h).bias(false)));
  p->wq->to(options.device(), options.dtype().toScalarType());
  p->wk->to(options.device(), options.dtype().toScalarType());
  p->register_module("recall", recall);
  return p;
}

}  // namespace

HmtModel::HmtModel(std::shared_ptr<Backbone> backbone, HmtConfig config)
    : backbone_(std::move(backbone)), config_(std::move(config)) {
  HMT_CHECK(backbone_ != nullptr, "HmtModel: no backbone");
  HMT_CHECK(config_.segment_length >= 1, "HmtModel: hmt.segment_length must be >= 1, got {}", config_.segment_length);
  register_module("backbone", backbone_);
  params_ = register_module("hmt", make_parameters(*backbone_, config_));
}

std::vector<std::pair<std::string, torch::Tensor>> HmtModel::hmt_tensors() const {
  std::vector<std::pair<std::string, torch::Tensor>> out{{"hmt.memory", params_->memory}};
  if (config_.recall.enabled) {
    out.emplace_back("hmt.summary_prompt", params_->summary_prompt);
    out.emplace_back("hmt.recall.wq.weight", params_->wq->weight);
    out.emplace_back("hmt.recall.wk.weight", params_->wk->weight);
  }
  return out;
}

void HmtModel::load_hmt_tensors(const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                                const std::string& source) {
  const std::vector<std::pair<std::string, torch::Tensor>> all{{"hmt.memory", params_->memory},
                                                               {"hmt.summary_prompt", params_->summary_prompt},
                                                               {"hmt.recall.wq.weight", params_->wq->weight},
                                                               {"hmt.recall.wk.weight", params_->wk->weight}};
  std::set<std::string> given;
  for (const auto& [name, value] : tensors) {
    const torch::Tensor* target = nullptr;
    for (const auto& [known, param] : all)
      if (known == name) target = &param;
    HMT_CHECK(target != nullptr,
              "{}: unknown tensor {} (expected hmt.memory, hmt.summary_prompt, "
              "hmt.recall.wq.weight, hmt.recall.wk.weight)",
              source, name);
    HMT_CHECK(given.insert(name).second, "{}: tensor {} given twice", source, name);
    HMT_CHECK(value.sizes() == target->sizes(), "{}: tensor {} has shape {}, expected {}", source, name,
              shape_text(value.sizes()), shape_text(target->sizes()));
  }
  for (const auto& [name, param] : hmt_tensors()) HMT_CHECK(given.count(name), "{}: missing tensor {}", source, name);
  torch::NoGradGuard no_grad;
  for (const auto& [name, value] : tensors)
    for (const auto& [known, param] : all)
      if (known == name) param.copy_(value);
}

torch::Tensor HmtModel::memory_init() { return params_->memory; }

void HmtModel::draw_memory() {
  const double scale = table_std(*backbone_);
  torch::NoGradGuard no_grad;
  params_->memory.copy_(torch::randn(params_->memory.sizes(), params_->memory.options()) * scale);
}

void HmtModel::draw_recall() {
  const double scale = table_std(*backbone_);
  torch::NoGradGuard no_grad;
  auto& prompt = params_->summary_prompt;
  prompt.copy_(torch::randn(prompt.sizes(), prompt.options()) * scale);
  // nn::Linear's own init, drawn in fp32 as at construction.
  for (auto* linear : {&params_->wq, &params_->wk}) {
    auto& weight = (*linear)->weight;
    auto fresh = torch::empty(weight.sizes(), torch::kFloat);
    torch::nn::init::kaiming_uniform_(fresh, /*a=*/std::sqrt(5.0));
    weight.copy_(fresh);
  }
}

SegmentInputs HmtModel::segment_inputs(const torch::Tensor& memory, const SegmentTokens& tokens, bool trailing_slot) {
  HMT_CHECK(tokens.ids.dim() == 2, "segment_pass: ids must be [B, Ln], got {}", shape_text(tokens.ids.sizes()));
  const int64_t batch = tokens.ids.size(0), length = tokens.ids.size(1);
  const bool slots = memory.defined();
  HMT_CHECK(!slots || (memory.dim() == 2 && memory.size(0) == batch && memory.size(1) == backbone_->embed_dim()),
            "segment_pass: memory must be [{}, {}], got {}", batch, backbone_->embed_dim(), shape_text(memory.sizes()));
  const bool has_sensory = tokens.sensory_ids.defined() && tokens.sensory_ids.size(1) > 0;
  const int64_t k = has_sensory ? tokens.sensory_ids.size(1) : 0;
  const bool trailing = slots && trailing_slot;

  // One lookup for sensory and content ids: each embedding backward writes a
  // dense [V, d] gradient, so one call per pass instead of two halves that.
  auto ids = has_sensory ? torch::cat({tokens.sensory_ids, tokens.ids}, /*dim=*/1) : tokens.ids;
  auto embedded = backbone_->embed(ids);
  SegmentInputs in;
  in.content_start = (slots ? 1 : 0) + k;
  in.embeds = embedded;
  if (slots) {
    auto m = memory.unsqueeze(1);
    in.embeds = trailing ? torch::cat({m, embedded, m}, /*dim=*/1) : torch::cat({m, embedded}, /*dim=*/1);
  }

  const bool sensory_masked = has_sensory && tokens.sensory_mask.defined();
  if (tokens.mask.defined() || sensory_masked) {
    auto one = ones_mask(batch, 1, tokens.ids);
    std::vector<torch::Tensor> masks;
    if (slots) masks.push_back(one);
    if (has_sensory) masks.push_back(sensory_masked ? as_long(tokens.sensory_mask) : ones_mask(batch, k, tokens.ids));
    masks.push_back(tokens.mask.defined() ? as_long(tokens.mask) : ones_mask(batch, length, tokens.ids));
    if (trailing) masks.push_back(one);
    in.mask = torch::cat(masks, /*dim=*/1);
  }
  return in;
}

SegmentPass HmtModel::segment_pass(const torch::Tensor& memory, const SegmentTokens& tokens) {
  auto in = segment_inputs(memory, tokens, /*trailing_slot=*/true);
  auto out = backbone_->forward(in.embeds, in.mask);
  SegmentPass pass;
  pass.content_logits = out.logits.narrow(/*dim=*/1, /*start=*/in.content_start, /*length=*/tokens.ids.size(1));
  if (memory.defined()) pass.memory_out = out.last_hidden.select(/*dim=*/1, /*index=*/-1);
  return pass;
}

torch::Tensor HmtModel::summary_pass(const SegmentTokens& tokens) {
  const int64_t batch = tokens.ids.size(0);
  const int64_t j = std::min(config_.summary_tokens(), tokens.ids.size(1));
  auto prompt = params_->summary_prompt.unsqueeze(0).expand({batch, 1, backbone_->embed_dim()});
  auto z = torch::cat({prompt, backbone_->embed(tokens.ids.narrow(/*dim=*/1, 0, j)), prompt}, /*dim=*/1);
  torch::Tensor mask;
  if (tokens.mask.defined()) {
    auto one = ones_mask(batch, 1, tokens.ids);
    mask = torch::cat({one, as_long(tokens.mask.narrow(/*dim=*/1, 0, j)), one}, /*dim=*/1);
  }
  return backbone_->forward(z, mask).last_hidden.select(/*dim=*/1, /*index=*/-1);
}

torch::Tensor HmtModel::recall(const torch::Tensor& summary, const torch::Tensor& cache,
                               const torch::Tensor& cache_mask) {
  HMT_CHECK(cache.dim() == 3 && cache.size(0) == summary.size(0) && cache.size(1) >= 1,
            "recall: cache must be [B, N', d] with N' >= 1, got {}", shape_text(cache.sizes()));
  auto query = params_->wq->forward(summary);                          // [B, h]
  auto keys = params_->wk->forward(cache);                             // [B, N', h]
  auto scores = torch::matmul(keys, query.unsqueeze(-1)).squeeze(-1);  // [B, N']
  // Always sqrt(h); the official code divides by h for large models (docs/hmt.md section 6).
  scores = scores / std::sqrt(static_cast<double>(config_.recall.hidden_dim));
  if (cache_mask.defined()) {
    // A finite fill keeps a row without valid entries finite (uniform weights,
    // discarded by the caller) instead of NaN, which would poison its gradient.
    const auto type = scores.scalar_type();
    const double lowest = type == torch::kDouble ? std::numeric_limits<double>::lowest()
                          : type == torch::kHalf ? -65504.0  // fp16's lowest; float's would round to -inf
                          // bf16 autocast: float's lowest is just outside bf16's range
                          : type == torch::kBFloat16 ? static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest())
                                                     : std::numeric_limits<float>::lowest();
    scores = scores.masked_fill(cache_mask.to(torch::kBool).logical_not(), lowest);
  }
  auto weights = torch::softmax(scores, /*dim=*/-1);
  last_recall_weights_ = weights.detach();
  return torch::matmul(weights.unsqueeze(1), cache).squeeze(1);
}

}  // namespace hmt
