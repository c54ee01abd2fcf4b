#pragma once
// The same weights on every rank: broadcast from rank 0 at start, and a
// bitwise check that finds the first tensor and rank that differ (a rank
// that loaded another checkpoint, or a non-deterministic init).
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "trainer/dist/communicator.h"

namespace hmt::dist {

// Overwrites every tensor with rank 0's values (in place, no autograd).
void broadcast_parameters(Communicator& comm, const std::vector<torch::Tensor>& params);

// Throws hmt::Error on every rank when some rank's tensor is not bitwise
// equal to rank 0's, naming the first such tensor (by list position and
// shape) and every rank that differs there. Compares 64-bit hashes of the
// bytes, so it moves 8 bytes per tensor, not the weights.
void check_parameters_equal(Communicator& comm, const std::vector<torch::Tensor>& params);
// The same, naming the tensor ("backbone.model.layers.0.mlp.up_proj.weight").
void check_parameters_equal(Communicator& comm, const std::vector<std::pair<std::string, torch::Tensor>>& named);

// The hash that check_parameters_equal compares: of dtype, shape and bytes.
std::int64_t tensor_fingerprint(const torch::Tensor& tensor);

}  // namespace hmt::dist
