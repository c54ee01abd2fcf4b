#pragma once
// Writer of prepared token files (layout: docs/data.md, names:
// token_store_layout.h). It writes the file it is given (hmt prepare gives
// it a temporary name and renames the finished file), appends documents in
// batches, and records after each batch how many source units (files, lines,
// articles) are done, so an interrupted preparation continues from the last
// mark instead of starting over. The `complete` attributes are written last:
// a reader refuses a file without them.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/store/hdf5_io.h"
#include "data/store/token_store.h"

namespace hmt {

struct StoreHeader {
  std::string dataset;
  std::string tokenizer_fingerprint, tokenizer_path;
  int64_t vocab_size = 0;
  std::optional<int32_t> eos_id, bos_id, filler_id;
  std::string recall_task;    // dataset passkey: its generator settings as JSON; "" = none
  std::string inputs_sha256;  // identifies the inputs: a file with another value is never resumed
};

class SplitWriter {
 public:
  SplitWriter(hid_t file, const std::string& path, const std::string& name, bool qa,
              const std::vector<SourceFile>& sources);

  // Where a resumed split continues: source units consumed so far, and the
  // counts (documents, tokens, skips) up to there.
  int64_t units_done() const { return units_done_; }
  const PrepareCounts& counts() const { return counts_; }

  void add_document(const std::string& name, const std::vector<int32_t>& ids);
  void add_qa_sample(const QaSample& sample);
  // Source units [0, units) have all been added; `skips` holds the skip and
  // repair counters up to there. Writes the buffered data when it is large.
  void mark_units(int64_t units, const PrepareCounts& skips);
  // Writes the buffered data and the last mark now, and flushes the file.
  void commit();
  void finish();

 private:
  void create(const std::vector<SourceFile>& sources);
  bool resume();
  h5::Id dataset(const char* name) const { return h5::open_dataset(group_.get(), name); }

  hid_t file_;
  std::string where_;
  bool qa_;
  h5::Id group_;
  int64_t units_done_ = 0, pending_units_ = 0;
  PrepareCounts counts_, pending_counts_;
  uint64_t choice_total_ = 0, other_total_ = 0;
  // Buffered until flush().
  std::vector<uint32_t> tokens_, choice_tokens_;
  std::vector<uint64_t> offsets_, answer_start_, groups_, choice_offsets_, other_offsets_;
  std::vector<int8_t> labels_;
  std::vector<int64_t> distances_, other_distances_;
  std::vector<std::string> names_;
};

class TokenStoreWriter {
 public:
  // Continues `path` when it is an unfinished store with the same
  // header.inputs_sha256; otherwise (absent, finished, other inputs, or not
  // readable) it is created anew.
  TokenStoreWriter(const std::string& path, const StoreHeader& header);

  bool resumed() const { return resumed_; }
  bool split_complete(const std::string& name) const;
  // Starts the split, or continues its unfinished part (see SplitWriter::units_done).
  SplitWriter begin_split(const std::string& name, bool qa, const std::vector<SourceFile>& sources);
  // Lists the splits, marks the file complete and closes it.
  void finish(const std::vector<std::string>& splits);

 private:
  bool open_existing(const StoreHeader& header);

  std::string path_;
  h5::Id file_;
  bool resumed_ = false;
};

}  // namespace hmt
