#include "data/store/token_stream.h"

#include <algorithm>

#include "core/error.h"

namespace hmt {

TokenStream::TokenStream(const DocumentView& documents) : documents_(documents) {
  starts_.reserve(static_cast<size_t>(documents.documents()) + 1);
  starts_.push_back(0);
  for (int64_t d = 0; d < documents.documents(); ++d) starts_.push_back(starts_.back() + documents.length(d));
}

void TokenStream::read(int64_t begin, int64_t count, int64_t* out) const {
  HMT_CHECK(begin >= 0 && count >= 0 && begin + count <= size(), "token stream: range [{}, {}) outside [0, {})", begin,
            begin + count, size());
  // The document holding `begin`: the last start <= begin.
  auto doc = static_cast<int64_t>(std::upper_bound(starts_.begin(), starts_.end(), begin) - starts_.begin()) - 1;
  while (count > 0) {
    const int64_t offset = begin - starts_[doc];
    const int64_t take = std::min(count, documents_.length(doc) - offset);
    if (take > 0) documents_.read(doc, offset, take, out);
    out += take;
    begin += take;
    count -= take;
    ++doc;
  }
}

}  // namespace hmt
