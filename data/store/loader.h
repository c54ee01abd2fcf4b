#pragma once
// The training / evaluation loader over a prepared token file (docs/data.md).
//
// Order: one permutation of the epoch's N samples from (seed, epoch) (the
// identity when shuffle is false), the same on every rank. Global step t of
// an epoch takes samples perm[t*W*B, (t+1)*W*B); rank r gets the r-th block
// of B of them, in order. So the W ranks' rows at step t, rank by rank, are
// exactly the batch one process with batch W*B gets at step t. An epoch has
// floor(N / (W*B)) steps; the remainder is dropped unless keep_remainder.
//
// Samples: language-model windows of S*L + 1 tokens (data/store/windows.h) after
// the optional transforms (data/store/transforms.h), or, on a QA split, whole
// PubMedQA samples left-padded to the longest row of the batch with the
// answer tokens as the only scored ones.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hmt {

class TokenStore;
class TokenSplit;
class DocumentView;
class WindowIndex;

struct LoaderOptions {
  std::string path;             // prepared HDF5 file (hmt prepare)
  std::string split = "train";  // split group in the file
  int64_t segments = 1;         // S
  int64_t segment_length = 0;   // L; a language-model window is S*L + 1 tokens
  int64_t batch_size = 1;       // B, per rank
  uint64_t seed = 0;
  int rank = 0, world = 1;
  bool shuffle = true;  // false: samples in file order (validation/eval)
  // n > 0: an epoch is n samples spread evenly over the split (sample
  // floor(i * N / n) for i < n, in file order; needs shuffle false), so that
  // a short validation still sees every part of it. 0 = every sample.
  int64_t spread = 0;
  // true: the epoch ends with one more, short global step that takes the
  // samples left over after the full ones (a rank whose block lies past the
  // end gets a batch of no rows), so that validation reads every sample
  // whatever B and the rank count; needs shuffle false. false: the remainder
  // is dropped, as training wants (every step the same size).
  bool keep_remainder = false;
  bool cross_document = false;        // windows cut across document boundaries (official code concatenates)
  int64_t interleave_len = 0;         // topic switching: 0 = off
  int64_t dilate_len = 0;             // dilation: 0 = off
  std::string tokenizer_fingerprint;  // non-empty: must equal the file's, else an error naming both
  std::string tokenizer_origin = "the model's tokenizer";  // how that error names the expected side
  int64_t dilate_token = -1;  // dilation filler id; -1 = the file's filler_id (the id of "$")
};

struct Batch {
  torch::Tensor ids;         // [B, T] int64
  torch::Tensor mask;        // [B, T] int64, 1 = real, 0 = left padding; undefined when all real
  torch::Tensor score_mask;  // [B, T] int64, 1 = scored (QA: answer tokens); undefined = every real token but the first
  bool trailing_label = false;  // true for LM windows: the last token is a label only
  // The unroll grid the rows were cut for: S segments of L tokens (LM
  // windows of S*L + 1). A QA batch keeps whole samples, so its S follows
  // from each row's length: segments = 0 there.
  int64_t segments = 0;
  int64_t segment_length = 0;
  std::vector<int64_t> samples;  // global sample indices of the rows (for tests and logs)
};

struct LoaderState {  // part of every training checkpoint
  int64_t epoch = 0;
  int64_t step = 0;  // global batches already taken in this epoch
  nlohmann::ordered_json to_json() const;
  static LoaderState from_json(const nlohmann::json& json, const std::string& source);  // errors name source
};

class Loader {
 public:
  explicit Loader(LoaderOptions options);
  ~Loader();
  Loader(Loader&&) noexcept;
  Loader& operator=(Loader&&) noexcept;

  Batch next();  // this rank's next batch; after the last batch of an epoch, the next epoch begins
  LoaderState state() const;
  void restore(const LoaderState& state);  // the next next() is exactly what an uninterrupted run would get
  int64_t samples_per_epoch() const;       // all ranks together (n with `spread`)
  int64_t steps_per_epoch() const;         // global batches per epoch (the same on every rank)
  const LoaderOptions& options() const;

  bool is_qa() const;
  const TokenStore& store() const;
  // Sample `index` as the rows of a batch hold it (LM: the window's ids; QA: the sample's ids).
  std::vector<int64_t> sample(int64_t index) const;
  // Global sample indices of epoch `epoch` in the order the steps take them.
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  Batch make_batch(const std::vector<int64_t>& samples) const;
  void check_state(const LoaderState& state, const std::string& source) const;

  LoaderOptions options_;
  std::shared_ptr<TokenStore> store_;
  const TokenSplit* split_ = nullptr;
  std::unique_ptr<DocumentView> view_;
  std::unique_ptr<WindowIndex> windows_;
  int64_t samples_ = 0, steps_ = 0;
  int64_t split_samples_ = 0;  // samples in the split (samples_ is fewer with `spread`)
  LoaderState state_;
  int64_t order_epoch_ = -1;
  std::vector<int64_t> order_;  // epoch_order(order_epoch_)
};

}  // namespace hmt
