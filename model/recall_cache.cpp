#include "model/recall_cache.h"

#include "core/error.h"

namespace hmt {

RecallCache::RecallCache(int64_t capacity) : capacity_(capacity) {
  HMT_CHECK(capacity >= 0, "recall cache: hmt.recall.context must be >= 0, got {}", capacity);
}

void RecallCache::push(RecallEntry entry) {
  HMT_CHECK(entries_.empty() || entries_.front().filled.defined() == entry.filled.defined(),
            "recall cache: entries with and without a row mask mixed");
  entries_.push_back(std::move(entry));
  while (size() > capacity_) entries_.pop_front();
}

std::vector<int64_t> RecallCache::segments() const {
  std::vector<int64_t> out;
  for (const auto& e : entries_) out.push_back(e.segment);
  return out;
}

bool RecallCache::has_filled() const {
  for (const auto& e : entries_)
    if (!e.filled.defined() || e.filled_rows > 0) return true;
  return false;
}

torch::Tensor RecallCache::memories(int64_t now, int64_t truncate) const {
  HMT_CHECK(!entries_.empty(), "recall cache: nothing to recall from");
  std::vector<torch::Tensor> out;
  for (const auto& e : entries_) {
    const bool detach = truncate > 0 && now - e.segment > truncate;
    out.push_back(detach ? e.memory.detach() : e.memory);
  }
  return torch::stack(out, /*dim=*/1);
}

torch::Tensor RecallCache::mask() const {
  if (entries_.empty() || !entries_.front().filled.defined()) return {};
  std::vector<torch::Tensor> out;
  for (const auto& e : entries_) out.push_back(e.filled);
  return torch::stack(out, /*dim=*/1);
}

}  // namespace hmt
