#pragma once
// Choosing the next token from a row of logits: greedy (argmax) or sampling
// with temperature, top-k and top-p (nucleus) applied in HF's order
// (temperature, then top-k, then top-p over the renormalised top-k), drawn
// from the sampler's own seeded generator so that a seed reproduces a run
// whatever else draws from torch's global generator.
#include <torch/torch.h>

#include <cstdint>

namespace hmt {

struct SamplingOptions {
  bool greedy = false;       // argmax; the other knobs are then ignored
  double temperature = 1.0;  // > 0; greedy is the way to ask for temperature 0
  int64_t top_k = 0;         // keep the k most likely tokens; 0 = all
  double top_p = 1.0;        // keep the smallest set with probability >= p; 1 = all
};

// Throws hmt::Error naming the option (--temperature, --top-k, --top-p)
// when a value is out of range.
void check_sampling_options(const SamplingOptions& options);

// The distribution sampling draws from: softmax(logits / temperature)
// restricted to the top-k tokens, then to the smallest set of most likely
// tokens whose probability reaches top_p, renormalised; zero elsewhere.
// logits [V] float or double, any device; returns [V] float64 on the CPU.
// Ties at the top-k or top-p border are broken towards the lower id.
torch::Tensor sampling_distribution(const torch::Tensor& logits, const SamplingOptions& options);

// Index of the largest logit (the lowest id among equal maxima).
int64_t greedy_token(const torch::Tensor& logits);

class Sampler {
 public:
  Sampler(SamplingOptions options, uint64_t seed);
  // The next token for one row of logits [V].
  int64_t next(const torch::Tensor& logits);
  const SamplingOptions& options() const { return options_; }

 private:
  SamplingOptions options_;
  torch::Generator generator_;
};

}  // namespace hmt
