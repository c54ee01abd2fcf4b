#pragma once
// The recall cache C of docs/hmt.md section 3: the memory embeddings M_i of
// the newest N segments (`hmt.recall.context`), oldest first, each with the
// rows of the batch that had tokens in its segment. Truncation K (section 4)
// is applied when the entries are read, since it depends on the segment that
// reads them.
#include <torch/torch.h>

#include <cstdint>
#include <deque>
#include <vector>

namespace hmt {

struct RecallEntry {
  torch::Tensor memory;     // [B, d] M_i
  torch::Tensor filled;     // [B] bool: the row had tokens in segment i; undefined = every row did
  int64_t filled_rows = 0;  // how many rows `filled` marks, counted on the host
  int64_t segment = 0;      // i
};

class RecallCache {
 public:
  explicit RecallCache(int64_t capacity);

  // Appends M_i and evicts the oldest entries beyond the capacity N.
  void push(RecallEntry entry);
  bool empty() const { return entries_.empty(); }
  int64_t size() const { return static_cast<int64_t>(entries_.size()); }
  const std::deque<RecallEntry>& entries() const { return entries_; }
  std::vector<int64_t> segments() const;  // the i of each entry, oldest first
  // True when some row has an entry to recall from.
  bool has_filled() const;
  // The entries as recall() reads them at segment `now`, [B, N', d]: those
  // older than `truncate` segments enter detached (as values and as keys);
  // truncate = 0 keeps every gradient.
  torch::Tensor memories(int64_t now, int64_t truncate) const;
  // [B, N'] bool, the entries' `filled` side by side; undefined when the
  // entries carry none (every row valid).
  torch::Tensor mask() const;

 private:
  int64_t capacity_;
  std::deque<RecallEntry> entries_;
};

}  // namespace hmt
