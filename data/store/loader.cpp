#include "data/store/loader.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "data/store/permutation.h"
#include "data/store/token_store.h"
#include "data/store/transforms.h"
#include "data/store/windows.h"

namespace hmt {

nlohmann::ordered_json LoaderState::to_json() const {
  nlohmann::ordered_json out;
  out["epoch"] = epoch;
  out["step"] = step;
  return out;
}

LoaderState LoaderState::from_json(const nlohmann::json& json, const std::string& source) {
  HMT_CHECK(json.is_object(), "{}: loader state: expected an object with `epoch` and `step`, got {}", source,
            json.dump());
  LoaderState state;
  for (auto [key, field] : {std::pair<const char*, int64_t*>{"epoch", &state.epoch}, {"step", &state.step}}) {
    auto it = json.find(key);
    HMT_CHECK(it != json.end(), "{}: loader state: `{}` is missing", source, key);
    HMT_CHECK(it->is_number_integer() && it->get<int64_t>() >= 0,
              "{}: loader state: `{}` must be a non-negative integer, got {}", source, key, it->dump());
    *field = it->get<int64_t>();
  }
  return state;
}

Loader::Loader(LoaderOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  HMT_CHECK(o.batch_size >= 1, "loader: batch size must be >= 1, got {}", o.batch_size);
  HMT_CHECK(o.world >= 1 && o.rank >= 0 && o.rank < o.world, "loader: rank {} is not in [0, world = {})", o.rank,
            o.world);
  store_ = std::make_shared<TokenStore>(o.path);
  check_tokenizer_fingerprint(*store_, o.tokenizer_fingerprint, o.tokenizer_origin);
  split_ = &store_->split(o.split);
  if (!split_->checksummed())
    std::fprintf(stderr,
                 "warning: %s: written before token files carried checksums, so damage to it goes unnoticed; "
                 "run hmt prepare again to add them\n",
                 o.path.c_str());
  if (split_->is_qa()) {
    HMT_CHECK(o.interleave_len == 0 && o.dilate_len == 0,
              "{}: split `{}` holds QA samples; data.interleave_len and data.dilate_len apply to language-model "
              "documents only",
              o.path, o.split);
    samples_ = split_->documents();
  } else {
    HMT_CHECK(o.segments >= 1 && o.segment_length >= 1,
              "loader: language-model windows need segments >= 1 and segment_length >= 1 (got S = {}, L = {})",
              o.segments, o.segment_length);
    TransformOptions transforms;
    transforms.interleave_len = o.interleave_len;
    transforms.dilate_len = o.dilate_len;
    transforms.filler_id = o.dilate_token >= 0 ? static_cast<int32_t>(o.dilate_token)
                                               : store_->filler_id().value_or(-1);
    view_ = std::make_unique<DocumentView>(*split_, transforms);
    windows_ = std::make_unique<WindowIndex>(*view_, o.segments * o.segment_length, o.cross_document);
    samples_ = windows_->size();
  }
  HMT_CHECK(o.spread >= 0 && (o.spread == 0 || !o.shuffle),
            "loader: spread must be >= 0 and needs shuffle false, got {} (shuffle {})", o.spread, o.shuffle);
  split_samples_ = samples_;
  if (o.spread > 0) samples_ = std::min(samples_, o.spread);
  HMT_CHECK(!o.keep_remainder || !o.shuffle, "loader: keep_remainder needs shuffle false");
  const int64_t global_batch = o.batch_size * o.world;
  steps_ = samples_ / global_batch;
  HMT_CHECK(steps_ >= 1, "{}: split `{}` gives {} samples{}, fewer than one global batch of {} (batch {} x {} ranks)",
            o.path, o.split, samples_,
            split_->is_qa() ? ""
                            : fmt::format(" (windows of S*L+1 = {} tokens{})", o.segments * o.segment_length + 1,
                                          o.cross_document ? " across documents" : " inside documents"),
            global_batch, o.batch_size, o.world);
  if (o.keep_remainder && samples_ % global_batch != 0) ++steps_;
}

Loader::~Loader() = default;
Loader::Loader(Loader&&) noexcept = default;
Loader& Loader::operator=(Loader&&) noexcept = default;

bool Loader::is_qa() const { return split_->is_qa(); }
const TokenStore& Loader::store() const { return *store_; }
const LoaderOptions& Loader::options() const { return options_; }
int64_t Loader::samples_per_epoch() const { return samples_; }
int64_t Loader::steps_per_epoch() const { return steps_; }

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  if (!options_.shuffle) {
    std::vector<int64_t> order(static_cast<size_t>(samples_));
    // Evenly spaced over the split; the identity when every sample is used.
    for (int64_t i = 0; i < samples_; ++i) order[static_cast<size_t>(i)] = i * split_samples_ / samples_;
    return order;
  }
  return epoch_permutation(samples_, options_.seed, epoch);
}

std::vector<int64_t> Loader::sample(int64_t index) const {
  HMT_CHECK(index >= 0 && index < split_samples_, "loader: sample {} out of range [0, {})", index, split_samples_);
  if (split_->is_qa()) {
    std::vector<int64_t> ids(static_cast<size_t>(split_->document_length(index)));
    split_->read(split_->document_offset(index), static_cast<int64_t>(ids.size()), ids.data());
    return ids;
  }
  std::vector<int64_t> ids(static_cast<size_t>(windows_->window_length()));
  windows_->read(index, ids.data());
  return ids;
}

Batch Loader::make_batch(const std::vector<int64_t>& samples) const {
  Batch batch;
  batch.samples = samples;
  batch.segment_length = options_.segment_length;
  const auto rows = static_cast<int64_t>(samples.size());
  if (!split_->is_qa()) {
    const int64_t length = windows_->window_length();
    batch.ids = torch::empty({rows, length}, torch::kInt64);
    for (int64_t r = 0; r < rows; ++r) windows_->read(samples[r], batch.ids[r].data_ptr<int64_t>());
    batch.trailing_label = true;
    batch.segments = options_.segments;
    return batch;
  }
  int64_t longest = 0;
  for (int64_t s : samples) longest = std::max(longest, split_->document_length(s));
  // Padding ids are never attended to (mask 0); eos keeps them inside the vocabulary.
  const int64_t pad = store_->eos_id().value_or(0);
  batch.ids = torch::full({rows, longest}, pad, torch::kInt64);
  batch.mask = torch::zeros({rows, longest}, torch::kInt64);
  batch.score_mask = torch::zeros({rows, longest}, torch::kInt64);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = split_->document_length(samples[r]), pad_count = longest - n;
    split_->read(split_->document_offset(samples[r]), n, batch.ids[r].data_ptr<int64_t>() + pad_count);
    batch.mask[r].narrow(0, pad_count, n).fill_(1);
    // The first token has nothing before it to predict it from.
    const int64_t answer = std::max<int64_t>(split_->answer_start(samples[r]), 1);
    if (answer < n) batch.score_mask[r].narrow(0, pad_count + answer, n - answer).fill_(1);
  }
  return batch;
}

Batch Loader::next() {
  if (state_.step >= steps_) state_ = {state_.epoch + 1, 0};
  if (order_epoch_ != state_.epoch) {
    order_ = epoch_order(state_.epoch);
    order_epoch_ = state_.epoch;
  }
  const int64_t b = options_.batch_size;
  const int64_t first = (state_.step * options_.world + options_.rank) * b;
  // Fewer than b rows only in keep_remainder's last step.
  const int64_t begin = std::min(first, samples_), rows = std::clamp<int64_t>(samples_ - first, 0, b);
  std::vector<int64_t> samples(order_.begin() + begin, order_.begin() + begin + rows);
  ++state_.step;
  return make_batch(samples);
}

LoaderState Loader::state() const { return state_; }

void Loader::check_state(const LoaderState& state, const std::string& source) const {
  HMT_CHECK(state.epoch >= 0 && state.step >= 0 && state.step <= steps_,
            "{}: loader state epoch {} step {} does not fit this data: an epoch of {} has {} steps", source,
            state.epoch, state.step, options_.path, steps_);
}

void Loader::restore(const LoaderState& state) {
  check_state(state, "loader restore");
  state_ = state;
}

}  // namespace hmt
