#pragma once
// A split's (possibly transformed) documents concatenated in file order, as
// the official code concatenates a dataset: the stream that cross-document
// training windows and the evaluation windows are cut from. Reads go to the
// token file chunk by chunk; nothing is held whole.
#include <cstdint>
#include <vector>

#include "data/store/transforms.h"

namespace hmt {

class TokenStream {
 public:
  explicit TokenStream(const DocumentView& documents);

  int64_t size() const { return starts_.back(); }
  // Tokens [begin, begin + count) of the stream; errors when out of range.
  void read(int64_t begin, int64_t count, int64_t* out) const;

 private:
  const DocumentView& documents_;
  std::vector<int64_t> starts_;  // document d starts at starts_[d]; documents + 1 entries
};

}  // namespace hmt
