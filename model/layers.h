#pragma once
// Building blocks shared by the llama, gpt2 and opt backbones. Each module
// registers its tensors under the HF leaf names ("weight", "bias"), so a
// family that nests them under HF submodule names gets HF parameter names.
// Modules initialise themselves as HF's _init_weights does, from torch's
// global generator (the caller seeds it).
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

namespace hmt::layers {

// One LoRA factor; a module of its own so that its tensor is named
// "lora_A.weight" / "lora_B.weight" as in PEFT's saved adapters.
class LoraFactor : public torch::nn::Module {
 public:
  explicit LoraFactor(torch::Tensor w);
  torch::Tensor weight;
};

// The optional LoRA adapter of Linear and Conv1D, as PEFT's LoraLayer with
// one adapter: delta(x) = B(A(dropout(x))) * alpha / r, A [r, in], B [out, r]
// whatever the base storage (PEFT keeps Linear's layout for Conv1D too and
// transposes only when merging, its fan_in_fan_out). model/lora.h attaches
// and merges them for a whole backbone.
struct LoraAdapter {
  std::shared_ptr<LoraFactor> lora_A, lora_B;  // null when no adapter is attached
  double scaling = 0.0;                        // alpha / r
  double dropout_p = 0.0;

  bool attached() const { return lora_A != nullptr; }
  // Registers "lora_A" and "lora_B" on `owner` in the dtype and device of
  // `like`: A kaiming-uniform(a = sqrt(5)) from torch's global generator, B
  // zeros (PEFT's init_lora_weights=True), so the update starts at zero.
  void attach(torch::nn::Module& owner, int64_t in, int64_t out, int64_t rank, double alpha, double dropout,
              const torch::Tensor& like);
  // Unregisters both factors.
  void detach(torch::nn::Module& owner);
  torch::Tensor delta(const torch::Tensor& x, bool training) const;
  torch::Tensor delta_weight() const;  // B A * scaling, [out, in]
};

// nn.Linear: y = x W^T + b, W stored [out, in]. `bias` is undefined (and not
// registered) when absent.
class Linear : public torch::nn::Module {
 public:
  Linear(int64_t in, int64_t out, bool with_bias, double init_std);
  torch::Tensor forward(const torch::Tensor& x) const;
  int64_t in_features() const { return weight.size(1); }
  int64_t out_features() const { return weight.size(0); }
  torch::Tensor weight;
  torch::Tensor bias;
  LoraAdapter lora;
};

// GPT-2's Conv1D: y = x W + b, W stored [in, out] (the transpose of Linear).
class Conv1D : public torch::nn::Module {
 public:
  Conv1D(int64_t in, int64_t out, double init_std);
  torch::Tensor forward(const torch::Tensor& x) const;
  int64_t in_features() const { return weight.size(0); }
  int64_t out_features() const { return weight.size(1); }
  torch::Tensor weight;
  torch::Tensor bias;
  LoraAdapter lora;
};

// nn.Embedding. A padding_idx in [0, count) gets a zero row at init and no
// gradient, as in HF (llama/opt pass pad_token_id); -1 means none.
class Embedding : public torch::nn::Module {
 public:
  Embedding(int64_t count, int64_t dim, double init_std, int64_t padding_idx = -1);
  torch::Tensor forward(const torch::Tensor& ids) const;
  torch::Tensor weight;
  int64_t padding_idx;
};

// Llama's RMSNorm: reduced-precision inputs are normalised in float32 and
// cast back before the weight multiplies (HF LlamaRMSNorm order).
class RMSNorm : public torch::nn::Module {
 public:
  RMSNorm(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x) const;
  torch::Tensor weight;
  double eps;
};

// nn.LayerNorm with affine weight and bias, computed in the input dtype.
class LayerNorm : public torch::nn::Module {
 public:
  LayerNorm(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x) const;
  torch::Tensor weight;
  torch::Tensor bias;
  double eps;
};

// Throws hmt::Error unless embeds is [B, T, width] and mask is undefined or
// [B, T].
void check_inputs(const torch::Tensor& embeds, const torch::Tensor& mask, int64_t width);

// Position of each token: cumsum(mask) - 1 clamped at 0, so real tokens of a
// left-padded row are numbered from 0; arange(T) when mask is undefined.
// [B, T] int64 on `device`.
torch::Tensor positions_from_mask(const torch::Tensor& mask, int64_t batch, int64_t length,
                                  const torch::Device& device);

// [B, 1, T, T] bool: query i may attend key j iff j <= i and key j is real.
torch::Tensor attention_allowed(const torch::Tensor& mask, int64_t batch, int64_t length, const torch::Device& device);

// Incremental decoding (Backbone::forward_cached) after `past` cached
// positions: the new positions past..past+T-1 as [B, T] int64, and the
// [1, 1, T, past + T] bool mask in which new query i may attend key j iff
// j <= past + i. Throws hmt::Error unless embeds is [B, T, width] with T >= 1.
void check_cached_inputs(const torch::Tensor& embeds, int64_t width);
torch::Tensor positions_after(int64_t past, int64_t batch, int64_t length, const torch::Device& device);
torch::Tensor cached_attention_allowed(int64_t past, int64_t length, const torch::Device& device);

// [B, T, H*D] -> [B, H, T, D].
torch::Tensor split_heads(const torch::Tensor& x, int64_t heads, int64_t head_dim);

// Scaled dot-product attention with grouped-query heads: q [B, H, T, D], k
// and v [B, Hkv, Tk, D] (Tk = T, or past + T with a key/value cache;
// `allowed` then [B or 1, 1, T, Tk]) with H a multiple of Hkv (query head h reads kv head
// h / (H / Hkv), as HF repeat_kv). Scores are multiplied by score_scale;
// disallowed keys get the dtype's lowest finite value, so a query with no
// allowed key (a padded one) averages all keys instead of producing NaN.
// Softmax runs in float32 for half/bfloat16. Dropout on the probabilities.
// Returns [B, T, H*D].
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& allowed, double score_scale, double dropout_p, bool training);

// Rotary tables for HF's rotate_half convention: cos/sin of positions times
// inv_freq = theta^(-2i/D), duplicated over the two halves. Shapes
// [B, 1, T, D] in `dtype`; computed in float32 (double for double models).
struct RotaryTables {
  torch::Tensor cos;
  torch::Tensor sin;
};
RotaryTables rotary_tables(const torch::Tensor& positions, int64_t head_dim, double theta, torch::ScalarType dtype);
// x [B, H, T, D] rotated: x*cos + rotate_half(x)*sin, rotate_half(x) =
// [-x2, x1] for halves x1, x2.
torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryTables& tables);

// HF ACT2FN names we support: relu, silu/swish, gelu (erf), gelu_new /
// gelu_pytorch_tanh / gelu_fast (tanh approximation).
void check_activation(const std::string& name);
torch::Tensor activation(const torch::Tensor& x, const std::string& name);

// Functional dropout on torch's global generator; identity unless training
// and p > 0, so a replay after restoring the generator draws the same mask.
torch::Tensor dropout(const torch::Tensor& x, double p, bool training);

}  // namespace hmt::layers
