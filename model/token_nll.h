#pragma once
// The NLL of each target token, shared by the HMT segment loss and the plain
// backbone stage so that both score a token identically.
#include <torch/torch.h>

namespace hmt {

// logits [B, T, V]; targets [B, T] int64 in [0, V) everywhere (padding gets
// a valid id); valid [B, T] bool. Returns [B, T] -log p(target), exactly 0
// where not valid. Half-precision logits are upcast to fp32 first.
torch::Tensor token_nll(const torch::Tensor& logits, const torch::Tensor& targets, const torch::Tensor& valid);

}  // namespace hmt
