#include "model/hmt_generator.h"

#include <algorithm>

#include "core/error.h"

namespace hmt {

HmtGenerator::HmtGenerator(HmtModel& model, Mode mode)
    : model_(model), mode_(mode), length_(model.config().segment_length), summary_(model.config().summary_tokens()),
      device_(model.memory_init().device()), recurrence_(model, MemoryMode::Hmt, /*batch=*/1) {
  HMT_CHECK(!model.is_training(), "HmtGenerator: the model must be in eval mode (dropout off)");
}

torch::Tensor HmtGenerator::id_tensor(const std::vector<int64_t>& ids) const {
  return torch::tensor(ids, torch::kLong).view({1, static_cast<int64_t>(ids.size())}).to(device_);
}

void HmtGenerator::check_ids(const std::vector<int64_t>& ids) const {
  const int64_t vocab = model_.backbone().config().vocab_size;
  for (size_t i = 0; i < ids.size(); ++i)
    HMT_CHECK(ids[i] >= 0 && ids[i] < vocab, "generate: token #{} is id {}, outside the model's vocabulary [0, {})", i,
              ids[i], vocab);
}

SegmentTokens HmtGenerator::segment_tokens(const std::vector<int64_t>& ids) const {
  SegmentTokens tokens;
  tokens.ids = id_tensor(ids);
  tokens.sensory_ids = recurrence_.sensory_ids();
  return tokens;
}

void HmtGenerator::open_segment(const std::vector<int64_t>& known) {
  recurrence_.open([&] {
    // The summary reads the segment's own first j tokens when they are
    // known; a segment opened by a generated token reads the newest j tokens
    // seen instead (the previous segment is full, so it holds them).
    std::vector<int64_t> summary_ids;
    if (!known.empty()) {
      summary_ids.assign(known.begin(), known.begin() + std::min<int64_t>(summary_, known.size()));
    } else {
      const int64_t take = std::min<int64_t>(summary_, previous_.size());
      summary_ids.assign(previous_.end() - take, previous_.end());
    }
    SegmentTokens summary_tokens;
    summary_tokens.ids = id_tensor(summary_ids);
    return model_.summary_pass(summary_tokens);
  });
  kv_.clear();
}

torch::Tensor HmtGenerator::extend_segment(const std::vector<int64_t>& chunk) {
  const int64_t count = static_cast<int64_t>(chunk.size());
  current_.insert(current_.end(), chunk.begin(), chunk.end());
  tokens_ += count;
  if (mode_ == Mode::Recompute) {
    auto pass = model_.segment_pass(recurrence_.memory(), segment_tokens(current_));
    return pass.content_logits[0].narrow(/*dim=*/0, pass.content_logits.size(1) - count, count);
  }
  // The first chunk of a segment opens Z_n (without its trailing memory
  // slot); later chunks continue it in the key/value cache.
  auto& backbone = model_.backbone();
  auto embeds = kv_.empty() ? model_
                                  .segment_inputs(recurrence_.memory(), segment_tokens(chunk),
                                                  /*trailing_slot=*/false)
                                  .embeds
                            : backbone.embed(id_tensor(chunk));
  auto out = backbone.forward_cached(embeds, kv_);
  return out.logits[0].narrow(/*dim=*/0, out.logits.size(1) - count, count);
}

torch::Tensor HmtGenerator::full_segment(const std::vector<int64_t>& ids) {
  auto pass = model_.segment_pass(recurrence_.memory(), segment_tokens(ids));
  current_ = ids;
  tokens_ += static_cast<int64_t>(ids.size());
  finish_segment(pass.memory_out);
  return pass.content_logits[0];
}

void HmtGenerator::close_segment() {
  torch::Tensor memory_out;
  if (mode_ == Mode::Recompute) {
    memory_out = model_.segment_pass(recurrence_.memory(), segment_tokens(current_)).memory_out;
  } else {
    // Z_n's trailing memory slot, after the L content positions.
    memory_out =
        model_.backbone().forward_cached(recurrence_.memory().unsqueeze(1), kv_).last_hidden.select(/*dim=*/1, -1);
  }
  finish_segment(memory_out);
}

void HmtGenerator::finish_segment(const torch::Tensor& memory_out) {
  recurrence_.close(memory_out, id_tensor(current_), /*mask=*/{});
  previous_ = std::move(current_);
  current_.clear();
  kv_.clear();
}

torch::Tensor HmtGenerator::feed(const std::vector<int64_t>& ids, const RowsCallback& rows) {
  HMT_CHECK(!ids.empty(), "generate: nothing to feed (an empty prompt)");
  check_ids(ids);
  torch::NoGradGuard no_grad;
  torch::Tensor last;
  size_t pos = 0;
  while (pos < ids.size()) {
    if (open_tokens() == length_) close_segment();
    const int64_t rest = static_cast<int64_t>(ids.size() - pos);
    std::vector<int64_t> head(ids.begin() + pos, ids.begin() + pos + std::min(rest, length_ - open_tokens()));
    torch::Tensor logits;
    if (!recurrence_.is_open()) {
      open_segment(head);
      // A segment these ids fill with more after it: one pass, as training does.
      logits = rest > length_ ? full_segment(head) : extend_segment(head);
    } else {
      logits = extend_segment(head);
    }
    if (rows) rows(logits);
    last = logits[-1];
    pos += head.size();
  }
  return last;
}

torch::Tensor HmtGenerator::append_generated(int64_t id) {
  check_ids({id});
  HMT_CHECK(tokens_ > 0, "generate: feed a prompt before appending generated tokens");
  torch::NoGradGuard no_grad;
  if (open_tokens() == length_) close_segment();
  if (!recurrence_.is_open()) open_segment(/*known=*/{});
  return extend_segment({id})[-1];
}

}  // namespace hmt
