#include "data/store/windows.h"

#include <algorithm>

#include "core/error.h"

namespace hmt {

WindowIndex::WindowIndex(const DocumentView& documents, int64_t stride, bool cross_document)
    : documents_(documents), stride_(stride), cross_document_(cross_document), stream_(documents) {
  HMT_CHECK(stride >= 1, "language-model windows need S * L >= 1 tokens, got {}", stride);
  const int64_t docs = documents.documents();
  if (cross_document) {
    count_ = stream_.size() >= 1 ? (stream_.size() - 1) / stride : 0;
    return;
  }
  first_window_.assign(1, 0);
  for (int64_t d = 0; d < docs; ++d) {
    const int64_t n = documents.length(d);
    first_window_.push_back(first_window_.back() + (n >= 1 ? (n - 1) / stride : 0));
  }
  count_ = first_window_.back();
}

std::pair<int64_t, int64_t> WindowIndex::start(int64_t sample) const {
  HMT_CHECK(sample >= 0 && sample < count_, "window {} out of range [0, {})", sample, count_);
  if (cross_document_) return {-1, sample * stride_};
  // The document whose windows hold `sample`: last d with first_window_[d] <= sample.
  const auto it = std::upper_bound(first_window_.begin(), first_window_.end(), sample);
  const int64_t doc = static_cast<int64_t>(it - first_window_.begin()) - 1;
  return {doc, (sample - first_window_[doc]) * stride_};
}

void WindowIndex::read(int64_t sample, int64_t* out) const {
  const auto [doc, offset] = start(sample);
  if (!cross_document_) {
    documents_.read(doc, offset, window_length(), out);
    return;
  }
  stream_.read(offset, window_length(), out);
}

}  // namespace hmt
