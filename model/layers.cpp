#include "model/layers.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace hmt::layers {
namespace {

bool reduced_precision(torch::ScalarType type) { return type == torch::kHalf || type == torch::kBFloat16; }

torch::Tensor normal_tensor(std::vector<int64_t> shape, double init_std) {
  torch::NoGradGuard no_grad;
  return torch::empty(shape).normal_(/*mean=*/0.0, init_std);
}

}  // namespace

LoraFactor::LoraFactor(torch::Tensor w) { weight = register_parameter("weight", std::move(w)); }

void LoraAdapter::attach(torch::nn::Module& owner, int64_t in, int64_t out, int64_t rank, double alpha, double dropout,
                         const torch::Tensor& like) {
  HMT_CHECK(!attached(), "lora: module already has an adapter");
  HMT_CHECK(rank >= 1 && alpha > 0.0 && dropout >= 0.0 && dropout < 1.0,
            "lora: need rank >= 1, alpha > 0 and dropout in [0, 1); got {}, {}, {}", rank, alpha, dropout);
  const auto options = torch::TensorOptions().dtype(like.scalar_type()).device(like.device());
  auto a = torch::empty({rank, in}, options);
  {
    torch::NoGradGuard no_grad;
    torch::nn::init::kaiming_uniform_(a, /*a=*/std::sqrt(5.0));
  }
  lora_A = owner.register_module("lora_A", std::make_shared<LoraFactor>(a));
  lora_B = owner.register_module("lora_B", std::make_shared<LoraFactor>(torch::zeros({out, rank}, options)));
  scaling = alpha / static_cast<double>(rank);
  dropout_p = dropout;
}

void LoraAdapter::detach(torch::nn::Module& owner) {
  if (!attached()) return;
  owner.unregister_module("lora_A");
  owner.unregister_module("lora_B");
  lora_A.reset();
  lora_B.reset();
}

torch::Tensor LoraAdapter::delta(const torch::Tensor& x, bool training) const {
  auto low = torch::linear(layers::dropout(x, dropout_p, training), lora_A->weight);
  return torch::linear(low, lora_B->weight) * scaling;
}

torch::Tensor LoraAdapter::delta_weight() const { return torch::matmul(lora_B->weight, lora_A->weight) * scaling; }

Linear::Linear(int64_t in, int64_t out, bool with_bias, double init_std) {
  weight = register_parameter("weight", normal_tensor({out, in}, init_std));
  if (with_bias) bias = register_parameter("bias", torch::zeros({out}));
}

torch::Tensor Linear::forward(const torch::Tensor& x) const {
  auto y = torch::linear(x, weight, bias);
  return lora.attached() ? y + lora.delta(x, is_training()) : y;
}

Conv1D::Conv1D(int64_t in, int64_t out, double init_std) {
  weight = register_parameter("weight", normal_tensor({in, out}, init_std));
  bias = register_parameter("bias", torch::zeros({out}));
}

torch::Tensor Conv1D::forward(const torch::Tensor& x) const {
  auto shape = x.sizes().vec();
  shape.back() = weight.size(1);
  auto y = torch::addmm(bias, x.reshape({-1, x.size(-1)}), weight).view(shape);
  return lora.attached() ? y + lora.delta(x, is_training()) : y;
}

Embedding::Embedding(int64_t count, int64_t dim, double init_std, int64_t padding_idx_in)
    : padding_idx(padding_idx_in >= 0 && padding_idx_in < count ? padding_idx_in : -1) {
  auto table = normal_tensor({count, dim}, init_std);
  if (padding_idx >= 0) {
    torch::NoGradGuard no_grad;
    table[padding_idx].zero_();
  }
  weight = register_parameter("weight", table);
}

torch::Tensor Embedding::forward(const torch::Tensor& ids) const {
  return torch::embedding(weight, ids, padding_idx, /*scale_grad_by_freq=*/false, /*sparse=*/false);
}

RMSNorm::RMSNorm(int64_t dim, double eps_in) : eps(eps_in) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNorm::forward(const torch::Tensor& x) const {
  const auto type = x.scalar_type();
  auto h = reduced_precision(type) ? x.to(torch::kFloat) : x;
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * h.to(type);
}

LayerNorm::LayerNorm(int64_t dim, double eps_in) : eps(eps_in) {
  weight = register_parameter("weight", torch::ones({dim}));
  bias = register_parameter("bias", torch::zeros({dim}));
}

torch::Tensor LayerNorm::forward(const torch::Tensor& x) const {
  return torch::layer_norm(x, {weight.size(0)}, weight, bias, eps);
}

void check_inputs(const torch::Tensor& embeds, const torch::Tensor& mask, int64_t width) {
  HMT_CHECK(embeds.defined() && embeds.dim() == 3, "backbone: embeds must be [B, T, d], got {} dims",
            embeds.defined() ? embeds.dim() : 0);
  HMT_CHECK(embeds.size(2) == width, "backbone: embeds width {} != embedding width {}", embeds.size(2), width);
  if (mask.defined()) {
    HMT_CHECK(mask.dim() == 2 && mask.size(0) == embeds.size(0) && mask.size(1) == embeds.size(1),
              "backbone: mask must be [B, T] = [{}, {}]", embeds.size(0), embeds.size(1));
  }
}

torch::Tensor positions_from_mask(const torch::Tensor& mask, int64_t batch, int64_t length,
                                  const torch::Device& device) {
  if (!mask.defined()) {
    return torch::arange(length, torch::TensorOptions().dtype(torch::kLong).device(device))
        .unsqueeze(0)
        .expand({batch, length});
  }
  return (mask.to(device, torch::kLong).cumsum(/*dim=*/1) - 1).clamp_min(0);
}

torch::Tensor attention_allowed(const torch::Tensor& mask, int64_t batch, int64_t length, const torch::Device& device) {
  auto causal = torch::ones({length, length}, torch::TensorOptions().dtype(torch::kBool).device(device))
                    .tril()
                    .view({1, 1, length, length});
  if (!mask.defined()) return causal.expand({batch, 1, length, length});
  auto real_keys = mask.to(device, torch::kBool).view({batch, 1, 1, length});
  return causal.logical_and(real_keys);
}

void check_cached_inputs(const torch::Tensor& embeds, int64_t width) {
  check_inputs(embeds, /*mask=*/{}, width);
  HMT_CHECK(embeds.size(1) >= 1, "backbone: forward_cached needs at least one new position");
}

torch::Tensor positions_after(int64_t past, int64_t batch, int64_t length, const torch::Device& device) {
  return torch::arange(past, past + length, torch::TensorOptions().dtype(torch::kLong).device(device))
      .unsqueeze(0)
      .expand({batch, length});
}

torch::Tensor cached_attention_allowed(int64_t past, int64_t length, const torch::Device& device) {
  // tril with diagonal `past`: row i keeps columns j <= i + past.
  return torch::ones({length, past + length}, torch::TensorOptions().dtype(torch::kBool).device(device))
      .tril(/*diagonal=*/past)
      .view({1, 1, length, past + length});
}

torch::Tensor split_heads(const torch::Tensor& x, int64_t heads, int64_t head_dim) {
  return x.view({x.size(0), x.size(1), heads, head_dim}).transpose(1, 2);
}

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& allowed, double score_scale, double dropout_p, bool training) {
  const int64_t batch = q.size(0), heads = q.size(1), length = q.size(2), head_dim = q.size(3);
  const int64_t groups = heads / k.size(1);
  auto keys = groups > 1 ? k.repeat_interleave(groups, /*dim=*/1) : k;
  auto values = groups > 1 ? v.repeat_interleave(groups, /*dim=*/1) : v;

  // Scaling q rather than the [Tq, Tk] scores touches D / Tk as many
  // elements, and the mask goes in as an additive bias applied in place on the
  // matmul's output (which its backward does not need), so neither the scale
  // nor the mask costs a pass over the scores in backward.
  auto query = score_scale != 1.0 ? q * score_scale : q;
  auto scores = torch::matmul(query, keys.transpose(-2, -1));
  if (reduced_precision(scores.scalar_type())) scores = scores.to(torch::kFloat);
  // A finite fill (not -inf) keeps fully masked rows finite; exp(lowest - max)
  // underflows to exactly 0 in every row with at least one allowed key, and
  // lowest + score rounds back to lowest.
  const double lowest = scores.scalar_type() == torch::kDouble ? std::numeric_limits<double>::lowest()
                                                               : std::numeric_limits<float>::lowest();
  scores.add_(torch::zeros(allowed.sizes(), scores.options()).masked_fill_(allowed.logical_not(), lowest));
  auto probs = torch::softmax(scores, /*dim=*/-1).to(values.scalar_type());
  probs = layers::dropout(probs, dropout_p, training);
  return torch::matmul(probs, values).transpose(1, 2).reshape({batch, length, heads * head_dim});
}

RotaryTables rotary_tables(const torch::Tensor& positions, int64_t head_dim, double theta, torch::ScalarType dtype) {
  // HF computes the angles in float32 whatever the model dtype; double models
  // keep double so that tests can compare at 1e-10.
  const auto compute = dtype == torch::kDouble ? torch::kDouble : torch::kFloat;
  const auto options = torch::TensorOptions().dtype(compute).device(positions.device());
  auto exponents = torch::arange(/*start=*/0, /*end=*/head_dim, /*step=*/2, options) / static_cast<double>(head_dim);
  auto inv_freq = 1.0 / torch::pow(theta, exponents);
  auto angles = positions.to(compute).unsqueeze(-1) * inv_freq;  // [B, T, D/2]
  auto both = torch::cat({angles, angles}, /*dim=*/-1).unsqueeze(1);
  return {both.cos().to(dtype), both.sin().to(dtype)};
}

torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryTables& tables) {
  const int64_t half = x.size(-1) / 2;
  auto first = x.narrow(-1, 0, half);
  auto second = x.narrow(-1, half, half);
  auto rotated = torch::cat({-second, first}, /*dim=*/-1);
  return x * tables.cos + rotated * tables.sin;
}

void check_activation(const std::string& name) {
  HMT_CHECK(name == "relu" || name == "silu" || name == "swish" || name == "gelu" || name == "gelu_new" ||
                name == "gelu_pytorch_tanh" || name == "gelu_fast",
            "backbone: unsupported activation '{}' (supported: relu, silu, swish, gelu, gelu_new, "
            "gelu_pytorch_tanh, gelu_fast)",
            name);
}

torch::Tensor activation(const torch::Tensor& x, const std::string& name) {
  if (name == "relu") return torch::relu(x);
  if (name == "silu" || name == "swish") return torch::silu(x);
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_pytorch_tanh") return torch::gelu(x, /*approximate=*/"tanh");
  // HF writes these two out explicitly (NewGELUActivation, FastGELUActivation);
  // the same formulas keep low-order bits identical.
  if (name == "gelu_new") {
    const double c = std::sqrt(2.0 / M_PI);
    return 0.5 * x * (1.0 + torch::tanh(c * (x + 0.044715 * torch::pow(x, 3.0))));
  }
  if (name == "gelu_fast") return 0.5 * x * (1.0 + torch::tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)));
  check_activation(name);
  return x;
}

torch::Tensor dropout(const torch::Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) return x;
  return torch::dropout(x, p, /*train=*/true);
}

}  // namespace hmt::layers
