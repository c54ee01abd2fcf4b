#include "model/segment_checkpoint.h"

#include <cstdint>

#include "model/autocast.h"
#include "model/rng_state.h"

namespace hmt {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// saved_data holds IValues only; the model travels as its address, valid
// because the model outlives the graph that refers to its parameters.
void save_model(AutogradContext* ctx, HmtModel* model) {
  ctx->saved_data["model"] = static_cast<int64_t>(reinterpret_cast<std::intptr_t>(model));
}
HmtModel& saved_model(AutogradContext* ctx) {
  return *reinterpret_cast<HmtModel*>(static_cast<std::intptr_t>(ctx->saved_data["model"].toInt()));
}

void save_tokens(AutogradContext* ctx, const SegmentTokens& tokens) {
  ctx->saved_data["ids"] = tokens.ids;
  ctx->saved_data["mask"] = tokens.mask;
  ctx->saved_data["sensory_ids"] = tokens.sensory_ids;
  ctx->saved_data["sensory_mask"] = tokens.sensory_mask;
}
SegmentTokens saved_tokens(AutogradContext* ctx) {
  auto get = [&](const char* key) {
    const auto& v = ctx->saved_data[key];
    return v.isTensor() ? v.toTensor() : torch::Tensor();
  };
  return {get("ids"), get("mask"), get("sensory_ids"), get("sensory_mask")};
}

void save_rng(AutogradContext* ctx, const torch::Device& device) {
  auto state = capture_rng_state(device);
  ctx->saved_data["rng_cpu"] = state.cpu;
  ctx->saved_data["rng_accelerator"] = state.accelerator;
  ctx->saved_data["device"] = device.str();
  const AutocastState autocast = current_autocast_state();
  ctx->saved_data["autocast_cpu"] = autocast.cpu_enabled;
  ctx->saved_data["autocast_cuda"] = autocast.cuda_enabled;
  ctx->saved_data["autocast_cpu_dtype"] = static_cast<int64_t>(autocast.cpu_dtype);
  ctx->saved_data["autocast_cuda_dtype"] = static_cast<int64_t>(autocast.cuda_dtype);
  ctx->saved_data["autocast_cache"] = autocast.cache_enabled;
}

AutocastState saved_autocast(AutogradContext* ctx) {
  AutocastState state;
  state.cpu_enabled = ctx->saved_data["autocast_cpu"].toBool();
  state.cuda_enabled = ctx->saved_data["autocast_cuda"].toBool();
  state.cpu_dtype = static_cast<torch::ScalarType>(ctx->saved_data["autocast_cpu_dtype"].toInt());
  state.cuda_dtype = static_cast<torch::ScalarType>(ctx->saved_data["autocast_cuda_dtype"].toInt());
  state.cache_enabled = ctx->saved_data["autocast_cache"].toBool();
  return state;
}

// Runs `recompute` under the forward's RNG state and autocast settings (the
// backward usually runs outside any autocast region) and puts the generators
// back where this backward found them, so randomness after backward is what
// it would be without checkpointing.
template <class F>
auto replay(AutogradContext* ctx, F&& recompute) {
  torch::Device device(ctx->saved_data["device"].toStringRef());
  RngState before_forward;
  before_forward.cpu = ctx->saved_data["rng_cpu"].toTensor();
  const auto& accelerator = ctx->saved_data["rng_accelerator"];
  if (accelerator.isTensor() && accelerator.toTensor().defined()) {
    before_forward.accelerator = accelerator.toTensor();
    before_forward.device = device;
  }
  RngState now = capture_rng_state(device);
  restore_rng_state(before_forward);
  torch::AutoGradMode grad_on(true);
  AutocastGuard autocast(saved_autocast(ctx));
  auto result = recompute();
  restore_rng_state(now);
  return result;
}

// Backpropagates recomputed outputs with the incoming gradients; outputs that
// do not require grad (frozen everything) are skipped.
void backprop(const variable_list& outputs, const variable_list& grads) {
  variable_list tensors, incoming;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].requires_grad() || !grads[i].defined()) continue;
    tensors.push_back(outputs[i]);
    incoming.push_back(grads[i]);
  }
  if (!tensors.empty()) torch::autograd::backward(tensors, incoming);
}

struct SegmentFunction : torch::autograd::Function<SegmentFunction> {
  static variable_list forward(AutogradContext* ctx, HmtModel* model, const SegmentTokens* tokens,
                               const SegmentTargets* targets, torch::Tensor anchor, torch::Tensor memory) {
    save_model(ctx, model);
    save_tokens(ctx, *tokens);
    ctx->saved_data["target_ids"] = targets->ids;
    ctx->saved_data["target_valid"] = targets->valid;
    ctx->save_for_backward({memory});
    save_rng(ctx, memory.device());
    auto out = segment_outcome(*model, memory, *tokens, *targets);
    // memory_out is a view of the pass's [B, T, d] hidden states; a copy lets
    // that buffer die with the pass.
    return {out.memory_out.clone(), out.nll};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto memory = saved[0].detach().requires_grad_(true);
    SegmentTargets targets{ctx->saved_data["target_ids"].toTensor(), ctx->saved_data["target_valid"].toTensor()};
    auto tokens = saved_tokens(ctx);
    auto out = replay(ctx, [&] { return segment_outcome(saved_model(ctx), memory, tokens, targets); });
    backprop({out.memory_out, out.nll}, grads);
    return {torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), memory.grad()};
  }
};

struct SummaryFunction : torch::autograd::Function<SummaryFunction> {
  static variable_list forward(AutogradContext* ctx, HmtModel* model, const SegmentTokens* tokens,
                               torch::Tensor anchor) {
    save_model(ctx, model);
    save_tokens(ctx, *tokens);
    save_rng(ctx, anchor.device());
    return {model->summary_pass(*tokens).clone()};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto tokens = saved_tokens(ctx);
    auto summary = replay(ctx, [&] { return saved_model(ctx).summary_pass(tokens); });
    backprop({summary}, grads);
    return {torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor make_checkpoint_anchor(const torch::Tensor& like) {
  return torch::empty({0}, like.options()).requires_grad_(true);
}

SegmentOutcome checkpointed_segment_outcome(HmtModel& model, const torch::Tensor& memory, const SegmentTokens& tokens,
                                            const SegmentTargets& targets, const torch::Tensor& anchor) {
  auto out = SegmentFunction::apply(&model, &tokens, &targets, anchor, memory);
  return {out[0], out[1]};
}

torch::Tensor checkpointed_summary_pass(HmtModel& model, const SegmentTokens& tokens, const torch::Tensor& anchor) {
  return SummaryFunction::apply(&model, &tokens, anchor)[0];
}

}  // namespace hmt
