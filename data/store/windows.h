#pragma once
// Language-model samples: windows of S*L + 1 tokens (S*L content tokens and
// the label of the last one), taken with stride S*L so that consecutive
// windows share one token (the last label of one is the first input of the
// next). Inside documents, a document of n tokens gives floor((n - 1) / (S*L))
// windows and its tail is unused; with cross_document the documents are
// concatenated in file order first (as the official code does) and the
// stream of N tokens gives floor((N - 1) / (S*L)) windows.
#include <cstdint>
#include <vector>

#include "data/store/token_stream.h"
#include "data/store/transforms.h"

namespace hmt {

class WindowIndex {
 public:
  WindowIndex(const DocumentView& documents, int64_t stride, bool cross_document);

  int64_t size() const { return count_; }
  int64_t window_length() const { return stride_ + 1; }
  // Writes window `sample` (window_length() ids) to out.
  void read(int64_t sample, int64_t* out) const;
  // Where window `sample` starts: its document (-1 with cross_document) and
  // its offset there (with cross_document: in the concatenated stream).
  std::pair<int64_t, int64_t> start(int64_t sample) const;

 private:
  const DocumentView& documents_;
  int64_t stride_;
  bool cross_document_;
  int64_t count_ = 0;
  std::vector<int64_t> first_window_;  // per document: its first window's index (documents + 1 entries)
  TokenStream stream_;                 // the documents concatenated (read with cross_document)
};

}  // namespace hmt
