#include "trainer/dist/grad_reducer.h"

#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <numeric>
#include <tuple>

#include "core/error.h"

namespace hmt::dist {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

struct GradReducer::Slot {
  torch::Tensor param;
  // Held so that every forward reuses this node (and its hook): a parameter
  // keeps only a weak pointer to its accumulator.
  std::shared_ptr<torch::autograd::Node> accumulator;
  std::uintptr_t hook = 0;
  int64_t expected = 0;        // contributions per step, from the previous armed step
  int64_t seen = 0;            // contributions in this step
  int64_t last_sequence = -1;  // when its last contribution of the step came
  size_t bucket = 0;
  int64_t offset = 0;  // in the bucket's flat buffer
};

struct GradReducer::Bucket {
  std::vector<size_t> slots;
  torch::Tensor flat;
  size_t ready = 0;  // slots whose gradient is final
  bool started = false;
  std::unique_ptr<PendingReduce> pending;
};

GradReducer::GradReducer(Communicator& comm, std::vector<torch::Tensor> params, int64_t bucket_bytes, bool overlap)
    : comm_(comm), bucket_bytes_(bucket_bytes), overlap_(overlap) {
  HMT_CHECK(bucket_bytes > 0, "GradReducer: bucket size must be positive, got {} bytes", bucket_bytes);
  for (auto& param : params) {
    if (!param.requires_grad()) continue;
    HMT_CHECK(param.is_leaf(), "GradReducer: parameter {} is not a leaf tensor", describe_tensor(param));
    Slot slot;
    slot.param = param;
    slots_.push_back(std::move(slot));
  }
  if (comm_.world() == 1) return;  // the mean over one rank is the gradient itself
  for (size_t i = 0; i < slots_.size(); ++i) {
    auto& slot = slots_[i];
    slot.accumulator = torch::autograd::impl::grad_accumulator(slot.param);
    HMT_CHECK(slot.accumulator != nullptr, "GradReducer: no gradient accumulator for {}", describe_tensor(slot.param));
    slot.hook = slot.accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [this, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          on_accumulated(i);
          return outputs;
        }));
  }
  // Before calibration the best guess is DDP's: gradients arrive roughly in
  // reverse order of the parameters.
  std::vector<int64_t> order(slots_.size());
  std::iota(order.rbegin(), order.rend(), 0);
  build_buckets(order);
}

GradReducer::~GradReducer() {
  for (auto& bucket : buckets_)
    if (bucket.pending) {
      try {
        bucket.pending->wait();
      } catch (...) {  // unwinding already; the buffer must just not be freed under MPI
      }
    }
  for (auto& slot : slots_)
    if (slot.accumulator) slot.accumulator->del_post_hook(slot.hook);
}

void GradReducer::build_buckets(const std::vector<int64_t>& order) {
  buckets_.clear();
  // One open bucket per (dtype, device): a flat buffer has one of each.
  std::map<std::tuple<int, int, int>, size_t> open;
  std::vector<int64_t> bytes;
  for (int64_t index : order) {
    auto& slot = slots_[static_cast<size_t>(index)];
    auto key = std::make_tuple(static_cast<int>(slot.param.scalar_type()), static_cast<int>(slot.param.device().type()),
                               static_cast<int>(slot.param.device().index()));
    int64_t size = slot.param.numel() * static_cast<int64_t>(slot.param.element_size());
    auto found = open.find(key);
    if (found == open.end() || (bytes[found->second] > 0 && bytes[found->second] + size > bucket_bytes_)) {
      buckets_.emplace_back();
      bytes.push_back(0);
      found = open.insert_or_assign(key, buckets_.size() - 1).first;
    }
    auto& bucket = buckets_[found->second];
    slot.bucket = found->second;
    slot.offset = bytes[found->second] / static_cast<int64_t>(slot.param.element_size());
    bucket.slots.push_back(static_cast<size_t>(index));
    bytes[found->second] += size;
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    const auto& first = slots_[buckets_[b].slots.front()].param;
    buckets_[b].flat = torch::zeros({bytes[b] / static_cast<int64_t>(first.element_size())}, first.options());
  }
}

int64_t GradReducer::bucket_count() const { return static_cast<int64_t>(buckets_.size()); }

std::vector<std::vector<int64_t>> GradReducer::bucket_layout() const {
  std::vector<std::vector<int64_t>> layout;
  for (const auto& bucket : buckets_) layout.emplace_back(bucket.slots.begin(), bucket.slots.end());
  return layout;
}

void GradReducer::begin_step() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_ = StepStats{};
  stats_.buckets = bucket_count();
  if (comm_.world() == 1) return;
  armed_ = true;
  late_ = false;
  next_bucket_ = oldest_active_ = 0;
  sequence_ = 0;
  for (auto& slot : slots_) {
    slot.seen = 0;
    slot.last_sequence = -1;
  }
  for (auto& bucket : buckets_) {
    bucket.started = false;
    bucket.pending.reset();
    bucket.ready = 0;
    if (calibrated_)
      for (size_t s : bucket.slots) bucket.ready += slots_[s].expected == 0 ? 1 : 0;
  }
  stats_.calibration = !calibrated_;
  auto start = Clock::now();
  if (overlap_ && calibrated_) start_ready_buckets();
  stats_.reduce_seconds += seconds_since(start);
}

void GradReducer::on_accumulated(size_t index) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_) return;  // an earlier micro-batch: gradients keep accumulating locally
  auto start = Clock::now();
  auto& slot = slots_[index];
  ++slot.seen;
  slot.last_sequence = sequence_++;
  auto& bucket = buckets_[slot.bucket];
  if (bucket.started) {
    late_ = true;  // this bucket went out without this contribution
  } else if (overlap_ && calibrated_ && slot.seen == slot.expected) {
    ++bucket.ready;
    start_ready_buckets();
  }
  poll();
  stats_.reduce_seconds += seconds_since(start);
}

void GradReducer::start_ready_buckets() {
  while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].ready == buckets_[next_bucket_].slots.size()) {
    start_bucket(next_bucket_++);
    ++stats_.started_in_backward;
  }
}

void GradReducer::start_bucket(size_t index) {
  torch::NoGradGuard no_grad;
  auto& bucket = buckets_[index];
  for (size_t s : bucket.slots) {
    const auto& slot = slots_[s];
    auto view = bucket.flat.narrow(0, slot.offset, slot.param.numel()).view(slot.param.sizes());
    // A rank without a gradient here (the tensor was not used) adds zeros.
    if (slot.param.grad().defined()) view.copy_(slot.param.grad());
    else view.zero_();
  }
  bucket.started = true;
  double mib = static_cast<double>(bucket.flat.numel() * static_cast<int64_t>(bucket.flat.element_size())) / (1 << 20);
  bucket.pending = comm_.start_all_reduce_sum_(bucket.flat,
                                               fmt::format("gradient bucket {} of {} ({:.2f} MiB, {} tensors)", index,
                                                           buckets_.size(), mib, bucket.slots.size()));
}

void GradReducer::poll() {
  while (oldest_active_ < next_bucket_ && buckets_[oldest_active_].pending->test()) ++oldest_active_;
}

void GradReducer::finish() {
  auto start = Clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  if (comm_.world() == 1) return;
  bool was_armed = armed_;
  armed_ = false;
  if (!was_armed) {  // finish() without begin_step(): a plain reduction after backward
    next_bucket_ = 0;
    for (auto& bucket : buckets_) bucket.started = false;
  }
  while (next_bucket_ < buckets_.size()) start_bucket(next_bucket_++);
  for (auto& bucket : buckets_) bucket.pending->wait();

  // One small sum that all ranks need before they may use the buckets:
  // which tensors have a gradient anywhere, whether a bucket went out too
  // early anywhere, and whether every rank armed this step.
  const auto n = static_cast<int64_t>(slots_.size());
  auto flags = torch::zeros({n + 2}, torch::kLong);
  auto* flag = flags.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) flag[i] = slots_[static_cast<size_t>(i)].param.grad().defined() ? 1 : 0;
  flag[n] = late_ ? 1 : 0;
  flag[n + 1] = was_armed ? 1 : 0;
  comm_.all_reduce_sum_(flags);
  flag = flags.data_ptr<int64_t>();
  if (flag[n] > 0) {
    stats_.redone = true;
    for (size_t b = 0; b < buckets_.size(); ++b) start_bucket(b);
    for (auto& bucket : buckets_) bucket.pending->wait();
  }

  {
    torch::NoGradGuard no_grad;
    double world = comm_.world();
    for (auto& bucket : buckets_) bucket.flat.div_(world);
    for (int64_t i = 0; i < n; ++i) {
      if (flag[i] == 0) continue;  // no rank has a gradient: leave it undefined, as one process would
      auto& slot = slots_[static_cast<size_t>(i)];
      auto mean = buckets_[slot.bucket].flat.narrow(0, slot.offset, slot.param.numel()).view(slot.param.sizes());
      if (slot.param.grad().defined()) slot.param.mutable_grad().copy_(mean);
      else slot.param.mutable_grad() = mean.clone();
    }
  }
  for (auto& bucket : buckets_) bucket.pending.reset();
  if (flag[n + 1] == comm_.world()) calibrate();
  stats_.finish_seconds = seconds_since(start);
  stats_.reduce_seconds += stats_.finish_seconds;
}

void GradReducer::calibrate() {
  for (auto& slot : slots_) slot.expected = slot.seen;
  if (calibrated_) return;
  // Rank 0's order of final contributions (never-contributing tensors last),
  // so that every rank builds the same buckets.
  std::vector<int64_t> order(slots_.size());
  std::iota(order.begin(), order.end(), 0);
  auto key = [&](int64_t i) {
    auto sequence = slots_[static_cast<size_t>(i)].last_sequence;
    return sequence < 0 ? std::numeric_limits<int64_t>::max() : sequence;
  };
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return key(a) < key(b); });
  auto shared = torch::tensor(order, torch::kLong);
  comm_.broadcast_(shared, /*root=*/0);
  build_buckets(std::vector<int64_t>(shared.data_ptr<int64_t>(), shared.data_ptr<int64_t>() + shared.numel()));
  calibrated_ = true;
}

}  // namespace hmt::dist
