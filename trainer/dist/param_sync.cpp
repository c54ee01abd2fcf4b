#include "trainer/dist/param_sync.h"

#include <fmt/ranges.h>

#include <functional>
#include <string_view>

#include "core/error.h"

namespace hmt::dist {

void broadcast_parameters(Communicator& comm, const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  for (auto tensor : params) comm.broadcast_(tensor, /*root=*/0);
}

std::int64_t tensor_fingerprint(const torch::Tensor& tensor) {
  auto bytes = tensor.detach().cpu().contiguous();
  std::string header = fmt::format("{}|{}|", c10::toString(bytes.scalar_type()), fmt::join(bytes.sizes().vec(), ","));
  std::string_view data(static_cast<const char*>(bytes.data_ptr()), bytes.numel() * bytes.element_size());
  std::size_t hash = std::hash<std::string_view>{}(header);
  // libstdc++ hashes a string_view with murmur at several GB/s; combining
  // the header in keeps equal bytes of another shape apart.
  hash ^= std::hash<std::string_view>{}(data) + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
  return static_cast<std::int64_t>(hash);
}

void check_parameters_equal(Communicator& comm, const std::vector<std::pair<std::string, torch::Tensor>>& named) {
  const auto count = static_cast<std::int64_t>(named.size());
  auto reference_count = torch::full({1}, count, torch::kLong);
  comm.broadcast_(reference_count, /*root=*/0);
  bool count_differs = reference_count.item<std::int64_t>() != count;
  if (comm.any(count_differs))
    fail("parameters differ across ranks: rank {} has {} tensors{}", comm.rank(), count,
         count_differs ? fmt::format(", rank 0 has {}", reference_count.item<std::int64_t>())
                       : std::string(" like rank 0, but another rank has not"));
  auto mine = torch::empty({count}, torch::kLong);
  for (std::int64_t i = 0; i < count; ++i) mine[i] = tensor_fingerprint(named[i].second);
  auto reference = mine.clone();
  comm.broadcast_(reference, /*root=*/0);
  // Each rank writes the position of its first differing tensor + 1 into its
  // own slot; one sum gives every rank the whole picture.
  auto first_difference = torch::zeros({comm.world()}, torch::kLong);
  auto differs = mine.ne(reference).nonzero();
  if (differs.numel() > 0) first_difference[comm.rank()] = differs[0][0].item<std::int64_t>() + 1;
  comm.all_reduce_sum_(first_difference);

  std::int64_t first = 0;
  for (std::int64_t r = 0; r < comm.world(); ++r) {
    auto at = first_difference[r].item<std::int64_t>();
    if (at > 0 && (first == 0 || at < first)) first = at;
  }
  if (first == 0) return;
  std::vector<std::int64_t> ranks;
  for (std::int64_t r = 0; r < comm.world(); ++r)
    if (first_difference[r].item<std::int64_t>() == first) ranks.push_back(r);
  const auto& [name, tensor] = named[static_cast<std::size_t>(first - 1)];
  fail("parameters differ across ranks: {} ({}) on rank {} is not equal to rank 0's; every rank must start from "
       "the same weights (broadcast_parameters, the same --init-from/--resume checkpoint)",
       name, describe_tensor(tensor), fmt::join(ranks, ", "));
}

void check_parameters_equal(Communicator& comm, const std::vector<torch::Tensor>& params) {
  std::vector<std::pair<std::string, torch::Tensor>> named;
  named.reserve(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) named.emplace_back(fmt::format("parameter #{}", i), params[i]);
  check_parameters_equal(comm, named);
}

}  // namespace hmt::dist
