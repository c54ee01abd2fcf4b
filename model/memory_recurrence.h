#pragma once
// The HMT recurrence between segments (docs/hmt.md sections 3-4), one object
// for training, evaluation and generation: the memory m_n a segment starts
// from (hmt.memory, M_{n-1}, or the recall over the cache), the sensory
// tokens s_n carried from segment n - 1, the recall cache with eviction N and
// truncation K, and M_n passed on. The caller runs the backbone (plain,
// checkpointed or through a key/value cache) between open() and close().
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/hmt_model.h"
#include "model/recall_cache.h"

namespace hmt {

// What the recurrence carries between segments (`hmt eval --mode`): Hmt = as
// the model's config says; Rmt = memory passing only, no sensory tokens and
// no recall (the RMT baseline); None = every segment through the backbone
// alone, no memory slots either (the segment-limited backbone baseline).
// Full is not a recurrence: the backbone reads the whole window of history
// and segment in one attention window (the full-attention reference of `hmt
// eval --contexts`, eval/perplexity.h); MemoryRecurrence refuses it.
enum class MemoryMode { Hmt, Rmt, None, Full };

// "hmt" | "rmt" | "backbone" | "full" as the enum, and back; throws hmt::Error otherwise.
MemoryMode parse_memory_mode(const std::string& value);
const char* memory_mode_name(MemoryMode mode);

class MemoryRecurrence {
 public:
  // `batch` rows move together; `truncate` = train.bptt.truncate K (0 = off).
  // The model is used, not copied, and must outlive the recurrence.
  MemoryRecurrence(HmtModel& model, MemoryMode mode, int64_t batch, int64_t truncate = 0);

  bool has_memory() const { return mode_ != MemoryMode::None; }  // the two memory slots exist
  int64_t sensory_length() const { return sensory_; }            // k' = min(k, L) in Hmt mode, else 0
  int64_t segment() const { return segment_; }                   // n of the open (or next) segment
  bool is_open() const { return open_; }

  // Opens segment n and returns m_n: hmt.memory at n = 0; M_{n-1} without
  // recall; with recall, once the cache holds an entry for some row, the
  // recall over it queried by `summary()` (S_n; called only then). A row
  // whose cache is still empty takes M_{n-1} (= hmt.memory for it).
  // Undefined in MemoryMode::None.
  const torch::Tensor& open(const std::function<torch::Tensor()>& summary);
  const torch::Tensor& memory() const { return memory_; }  // m_n of the open segment
  // s_n: the last k' content columns of segment n - 1, [B, k'], and their
  // mask; undefined at n = 0 and when k' = 0.
  const torch::Tensor& sensory_ids() const { return sensory_ids_; }
  const torch::Tensor& sensory_mask() const { return sensory_mask_; }
  // The recall of the open segment: attention weights [B, |C|] over
  // cache().segments() and the rows [B] bool whose m_n came from it;
  // undefined when no recall ran.
  const torch::Tensor& recall_weights() const { return recall_weights_; }
  const torch::Tensor& recall_rows() const { return recall_rows_; }
  const RecallCache& cache() const { return cache_; }

  // Oracle recall, a diagnostic (`hmt eval --mode hmt-oracle`): when segment
  // `segment` opens, row r's m_n is the cache entry that segment
  // `sources[r]` wrote, with weight 1 (what recall would give if it picked
  // that memory), instead of the learned mixture. A row whose source is not
  // in its cache (evicted, or never filled) keeps the learned recall.
  void force_recall(int64_t segment, std::vector<int64_t> sources);

  // Closes segment n with M_n = `memory_out` (undefined in None mode) and
  // returns the memory passed to n + 1: rows that `filled` [B] bool marks as
  // without tokens here keep m_n (undefined `filled` = every row has
  // tokens; `filled_rows` counts the marked rows on the host). ids [B, Ln]
  // and mask [B, Ln] (or undefined) are the segment's content, for s_{n+1}.
  torch::Tensor close(const torch::Tensor& memory_out, const torch::Tensor& ids, const torch::Tensor& mask,
                      const torch::Tensor& filled = {}, int64_t filled_rows = 0);

 private:
  // Applies force_recall to the open segment: `recalled` [B, d] from the
  // entries [B, N', d] of the cache under `mask` [B, N'] (or undefined).
  torch::Tensor force(const torch::Tensor& recalled, const torch::Tensor& entries, const torch::Tensor& mask);

  HmtModel& model_;
  MemoryMode mode_;
  int64_t truncate_, sensory_;
  bool recall_;
  RecallCache cache_;
  torch::Tensor previous_;  // M_{n-1}; hmt.memory for every row before segment 0
  torch::Tensor memory_, sensory_ids_, sensory_mask_, recall_weights_, recall_rows_;
  int64_t segment_ = 0;
  bool open_ = false;
  int64_t forced_segment_ = -1;
  std::vector<int64_t> forced_sources_;
};

}  // namespace hmt
