#pragma once
// The document transforms of the paper's experiments (docs/hmt.md section 7),
// applied on the fly to a prepared split, so the file stays as prepared:
//
// - topic switching (official --interleave_dataset): documents 2k and 2k+1
//   become one document: c tokens of the first, c of the second, c of the
//   first, ... while both have tokens left, then the rest of the longer one
//   (c = interleave_len). An odd last document stays as it is.
// - dilation (official --dilate_dataset): after every d source tokens
//   (d = dilate_len), and after the last, shorter, block, d filler tokens.
//
// A DocumentView presents the transformed documents; with both lengths 0 it
// is the split itself. Reading never materialises a whole document.
#include <cstdint>
#include <functional>
#include <vector>

#include "data/store/token_store.h"

namespace hmt {

struct TransformOptions {
  int64_t interleave_len = 0;  // 0 = off
  int64_t dilate_len = 0;      // 0 = off
  int32_t filler_id = -1;      // dilation filler; required when dilate_len > 0
};

class DocumentView {
 public:
  // Both transforms at once are refused (the official code applies one).
  DocumentView(const TokenSplit& split, const TransformOptions& options);

  int64_t documents() const { return static_cast<int64_t>(lengths_.size()); }
  int64_t length(int64_t doc) const { return lengths_[doc]; }
  // Tokens [begin, begin + count) of transformed document `doc`.
  void read(int64_t doc, int64_t begin, int64_t count, int64_t* out) const;

  // One contiguous run of a transformed document: `count` tokens of split
  // document `source` from `offset`, or `count` fillers when source < 0.
  struct Piece {
    int64_t source, offset, count;
  };
  // The runs that make up [begin, end) of transformed document `doc`, in order.
  std::vector<Piece> pieces(int64_t doc, int64_t begin, int64_t end) const;

 private:
  const TokenSplit& split_;
  TransformOptions options_;
  std::vector<int64_t> lengths_;
};

}  // namespace hmt
