#pragma once
// Averages gradients over ranks in flat buckets, started during backward
// where that is safe (docs/distributed.md).
//
// A parameter's gradient is final only after its last contribution of the
// step: every backbone parameter is used once per segment, and with segment
// checkpointing each segment's backward is a separate, reentrant backward
// that accumulates into .grad on its own. A post-hook on each parameter's
// AccumulateGrad node counts contributions. The first armed step is the
// calibration: everything is reduced after backward, the counts are kept,
// and the buckets are rebuilt in the order the gradients became final (rank
// 0's order, so that every rank's buckets hold the same tensors). From then
// on a bucket's all-reduce starts as soon as all of its parameters reached
// their count, buckets strictly in order (MPI and NCCL match collectives by
// order). When a rank sees a contribution after its bucket already started
// (the batch shape changed), every rank reduces all buckets again after
// backward and the counts are updated: correct first, fast when the shape is
// stable.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "trainer/dist/communicator.h"

namespace hmt::dist {

class GradReducer {
 public:
  // `params`: the trainable parameters (leaves); tensors that do not require
  // grad are skipped. `overlap` false reduces every bucket after backward.
  GradReducer(Communicator& comm, std::vector<torch::Tensor> params, int64_t bucket_bytes, bool overlap = true);
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  void begin_step();  // before backward of the last micro-batch: arms hooks
  void finish();      // after backward: waits for all buckets, grads = mean over ranks
  // Seconds this rank spent in the step's all-reduces: starting, polling and
  // copying during backward plus everything in finish() (exposed time).
  double last_reduce_seconds() const { return stats_.reduce_seconds; }

  struct StepStats {
    int64_t buckets = 0;
    int64_t started_in_backward = 0;  // buckets whose all-reduce began before finish()
    bool calibration = false;         // counts were learnt in this step; no overlap
    bool redone = false;              // a late contribution made every rank reduce again
    double reduce_seconds = 0;
    double finish_seconds = 0;  // part of reduce_seconds spent inside finish()
  };
  const StepStats& last_stats() const { return stats_; }
  int64_t bucket_count() const;
  // Parameters per bucket, in bucket order (for tests and docs).
  std::vector<std::vector<int64_t>> bucket_layout() const;

 private:
  struct Slot;
  struct Bucket;
  void build_buckets(const std::vector<int64_t>& order);
  void on_accumulated(size_t slot);
  void start_ready_buckets();
  void start_bucket(size_t bucket);
  void poll();
  void calibrate();

  Communicator& comm_;
  int64_t bucket_bytes_;
  bool overlap_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::mutex mutex_;  // hooks may run on autograd's device threads
  bool armed_ = false;
  bool calibrated_ = false;
  bool late_ = false;
  size_t next_bucket_ = 0;    // the next bucket to start
  size_t oldest_active_ = 0;  // the oldest started bucket that may still be in flight
  int64_t sequence_ = 0;      // contributions seen in this step, for the calibration order
  StepStats stats_;
};

}  // namespace hmt::dist
