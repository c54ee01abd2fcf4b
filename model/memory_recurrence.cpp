#include "model/memory_recurrence.h"

#include <algorithm>

#include "core/error.h"

namespace hmt {

MemoryMode parse_memory_mode(const std::string& value) {
  if (value == "hmt") return MemoryMode::Hmt;
  if (value == "rmt") return MemoryMode::Rmt;
  if (value == "backbone") return MemoryMode::None;
  if (value == "full") return MemoryMode::Full;
  fail("mode: expected hmt, rmt, backbone or full, got '{}'", value);
}

const char* memory_mode_name(MemoryMode mode) {
  switch (mode) {
    case MemoryMode::Hmt: return "hmt";
    case MemoryMode::Rmt: return "rmt";
    case MemoryMode::None: return "backbone";
    case MemoryMode::Full: return "full";
  }
  return "?";
}

MemoryRecurrence::MemoryRecurrence(HmtModel& model, MemoryMode mode, int64_t batch, int64_t truncate)
    : model_(model), mode_(mode), truncate_(truncate),
      // A previous segment holds at most L tokens to carry.
      sensory_(mode == MemoryMode::Hmt ? std::min(model.config().num_sensory, model.config().segment_length) : 0),
      recall_(mode == MemoryMode::Hmt && model.config().recall.enabled), cache_(model.config().recall.context) {
  HMT_CHECK(truncate >= 0, "memory recurrence: truncate must be >= 0, got {}", truncate);
  HMT_CHECK(mode != MemoryMode::Full,
            "memory recurrence: mode full reads one attention window, not segments (hmt eval --contexts only)");
  if (has_memory()) {
    auto init = model.memory_init();
    previous_ = init.expand({batch, init.size(1)});
  }
}

const torch::Tensor& MemoryRecurrence::open(const std::function<torch::Tensor()>& summary) {
  HMT_CHECK(!open_, "memory recurrence: segment {} is already open", segment_);
  open_ = true;
  memory_ = previous_;
  recall_weights_ = recall_rows_ = torch::Tensor();
  // Without recall m_n = M_{n-1}, never older than one segment, so a
  // truncation K >= 1 never detaches it.
  if (recall_ && cache_.has_filled()) {
    auto mask = cache_.mask();  // [B, N']
    auto entries = cache_.memories(segment_, truncate_);
    auto recalled = model_.recall(summary(), entries, mask);
    recall_weights_ = model_.last_recall_weights();
    if (segment_ == forced_segment_) recalled = force(recalled, entries, mask);
    if (mask.defined()) {
      recall_rows_ = mask.any(/*dim=*/1);
      memory_ = torch::where(mask.any(/*dim=*/1, /*keepdim=*/true), recalled, previous_);
    } else {
      recall_rows_ = torch::ones({recalled.size(0)}, recalled.options().dtype(torch::kBool));
      memory_ = recalled;
    }
  }
  return memory_;
}

void MemoryRecurrence::force_recall(int64_t segment, std::vector<int64_t> sources) {
  HMT_CHECK(recall_, "memory recurrence: oracle recall needs recall (hmt mode with hmt.recall.enabled)");
  HMT_CHECK(segment >= segment_, "memory recurrence: oracle recall at segment {}, which is already past (now {})",
            segment, segment_);
  HMT_CHECK(static_cast<int64_t>(sources.size()) == previous_.size(0),
            "memory recurrence: oracle recall needs one source per row ({}), got {}", previous_.size(0),
            sources.size());
  forced_segment_ = segment;
  forced_sources_ = std::move(sources);
}

torch::Tensor MemoryRecurrence::force(const torch::Tensor& recalled, const torch::Tensor& entries,
                                      const torch::Tensor& mask) {
  const auto segments = cache_.segments();
  auto filled = mask.defined() ? mask.to(torch::kCPU) : torch::Tensor();
  auto weights = recall_weights_.clone();
  std::vector<torch::Tensor> rows;
  for (int64_t r = 0; r < recalled.size(0); ++r) {
    const auto at = std::find(segments.begin(), segments.end(), forced_sources_[static_cast<size_t>(r)]);
    const int64_t c = at - segments.begin();
    if (at == segments.end() || (filled.defined() && !filled[r][c].item<bool>())) {
      rows.push_back(recalled[r]);
      continue;
    }
    rows.push_back(entries[r][c]);
    weights[r].zero_();
    weights[r][c] = 1.0;
  }
  recall_weights_ = weights;
  return torch::stack(rows);
}

torch::Tensor MemoryRecurrence::close(const torch::Tensor& memory_out, const torch::Tensor& ids,
                                      const torch::Tensor& mask, const torch::Tensor& filled, int64_t filled_rows) {
  HMT_CHECK(open_, "memory recurrence: no open segment to close");
  torch::Tensor passed;
  if (has_memory()) {
    passed = filled.defined() ? torch::where(filled.unsqueeze(1), memory_out, memory_) : memory_out;
    cache_.push({passed, filled, filled_rows, segment_});
  }
  if (sensory_ > 0) {
    // Only a row's last segment is short, so the carry is the last columns.
    const int64_t k = std::min(sensory_, ids.size(1));
    sensory_ids_ = ids.narrow(/*dim=*/1, ids.size(1) - k, k);
    sensory_mask_ = mask.defined() ? mask.narrow(/*dim=*/1, mask.size(1) - k, k) : torch::Tensor();
  }
  previous_ = passed;
  memory_ = torch::Tensor();
  open_ = false;
  ++segment_;
  return passed;
}

}  // namespace hmt
