#include "data/store/transforms.h"

#include <algorithm>
#include <map>

#include "core/error.h"

namespace hmt {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Collects the pieces of a generated sequence that overlap [begin, end);
// `position` is where the first emitted piece starts.
class Clipper {
 public:
  Clipper(int64_t position, int64_t begin, int64_t end) : position_(position), begin_(begin), end_(end) {}
  bool done() const { return position_ >= end_; }
  void emit(int64_t source, int64_t offset, int64_t count) {
    if (count <= 0 || done()) return;
    const int64_t lo = std::max(position_, begin_), hi = std::min(position_ + count, end_);
    if (lo < hi) out.push_back({source, offset + (lo - position_), hi - lo});
    position_ += count;
  }
  std::vector<DocumentView::Piece> out;

 private:
  int64_t position_, begin_, end_;
};

}  // namespace

DocumentView::DocumentView(const TokenSplit& split, const TransformOptions& options)
    : split_(split), options_(options) {
  HMT_CHECK(options.interleave_len >= 0 && options.dilate_len >= 0,
            "data.interleave_len and data.dilate_len must be >= 0 (got {} and {})", options.interleave_len,
            options.dilate_len);
  HMT_CHECK(options.interleave_len == 0 || options.dilate_len == 0,
            "data.interleave_len ({}) and data.dilate_len ({}): set at most one (topic switching or dilation)",
            options.interleave_len, options.dilate_len);
  HMT_CHECK(options.dilate_len == 0 || options.filler_id >= 0,
            "data.dilate_len: the prepared file has no filler id (the tokenizer gave no token for \"$\")");
  const int64_t docs = split.documents();
  if (options.interleave_len > 0) {
    for (int64_t d = 0; d < docs; d += 2)
      lengths_.push_back(split.document_length(d) + (d + 1 < docs ? split.document_length(d + 1) : 0));
  } else {
    for (int64_t d = 0; d < docs; ++d) {
      const int64_t n = split.document_length(d);
      lengths_.push_back(options.dilate_len > 0 ? n + ceil_div(n, options.dilate_len) * options.dilate_len : n);
    }
  }
}

std::vector<DocumentView::Piece> DocumentView::pieces(int64_t doc, int64_t begin, int64_t end) const {
  HMT_CHECK(doc >= 0 && doc < documents() && begin >= 0 && begin <= end && end <= lengths_[doc],
            "transformed document {}: range [{}, {}) outside [0, {})", doc, begin, end,
            doc >= 0 && doc < documents() ? lengths_[doc] : 0);
  if (options_.interleave_len > 0) {
    const int64_t c = options_.interleave_len, first = 2 * doc, second = 2 * doc + 1;
    const int64_t a = split_.document_length(first);
    const int64_t b = second < split_.documents() ? split_.document_length(second) : 0;
    const int64_t rounds = ceil_div(std::min(a, b), c);
    // Every round but the last is 2c tokens long, so the walk can start at
    // the round that holds `begin`.
    const int64_t start = rounds == 0 ? 0 : std::min(begin / (2 * c), rounds - 1);
    Clipper clip(start * 2 * c, begin, end);
    for (int64_t r = start; r < rounds && !clip.done(); ++r) {
      clip.emit(first, r * c, std::min(c, a - r * c));
      clip.emit(second, r * c, std::min(c, b - r * c));
    }
    clip.emit(first, rounds * c, a - rounds * c);
    clip.emit(second, rounds * c, b - rounds * c);
    return clip.out;
  }
  if (options_.dilate_len > 0) {
    const int64_t d = options_.dilate_len, n = split_.document_length(doc), blocks = ceil_div(n, d);
    const int64_t start = blocks == 0 ? 0 : std::min(begin / (2 * d), blocks - 1);
    Clipper clip(start * 2 * d, begin, end);
    for (int64_t k = start; k < blocks && !clip.done(); ++k) {
      clip.emit(doc, k * d, std::min(d, n - k * d));
      clip.emit(/*source=*/-1, /*offset=*/0, d);
    }
    return clip.out;
  }
  if (begin == end) return {};
  return {{doc, begin, end - begin}};
}

void DocumentView::read(int64_t doc, int64_t begin, int64_t count, int64_t* out) const {
  if (options_.interleave_len == 0 && options_.dilate_len == 0) {
    HMT_CHECK(begin >= 0 && count >= 0 && begin + count <= length(doc), "document {}: range [{}, {}) outside [0, {})",
              doc, begin, begin + count, length(doc));
    split_.read(split_.document_offset(doc) + begin, count, out);
    return;
  }
  const auto runs = pieces(doc, begin, begin + count);
  // Runs of one source document follow each other in it (both transforms
  // keep each document's order), so each source is read as one range.
  std::map<int64_t, std::pair<int64_t, int64_t>> spans;  // source -> [lo, hi)
  for (const auto& p : runs) {
    if (p.source < 0) continue;
    auto [it, fresh] = spans.try_emplace(p.source, p.offset, p.offset + p.count);
    if (!fresh) {
      it->second.first = std::min(it->second.first, p.offset);
      it->second.second = std::max(it->second.second, p.offset + p.count);
    }
  }
  std::map<int64_t, std::vector<int64_t>> tokens;
  for (const auto& [source, span] : spans) {
    auto& buffer = tokens[source];
    buffer.resize(static_cast<size_t>(span.second - span.first));
    split_.read(split_.document_offset(source) + span.first, span.second - span.first, buffer.data());
  }
  int64_t* cursor = out;
  for (const auto& p : runs) {
    if (p.source < 0) {
      std::fill(cursor, cursor + p.count, static_cast<int64_t>(options_.filler_id));
    } else {
      const auto& buffer = tokens[p.source];
      const int64_t from = p.offset - spans[p.source].first;
      std::copy(buffer.begin() + from, buffer.begin() + from + p.count, cursor);
    }
    cursor += p.count;
  }
  HMT_CHECK(cursor == out + count, "transformed document {}: pieces cover {} of {} tokens", doc, cursor - out, count);
}

}  // namespace hmt
