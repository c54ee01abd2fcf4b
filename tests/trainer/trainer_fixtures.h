#pragma once
// A tiny from-scratch experiment for the trainer and checkpoint tests.
#include <string>

#include "core/experiment_config.h"

namespace hmt::test {

inline ExperimentConfig tiny_experiment(const std::string& run_dir, const std::string& type = "llama") {
  ExperimentConfig c;
  c.runtime.run_dir = run_dir;
  c.runtime.threads = 1;
  c.model.type = type;
  c.model.vocab_size = 64;
  c.model.hidden_size = 16;
  c.model.num_layers = 1;
  c.model.num_heads = 2;
  c.model.max_position_embeddings = 64;
  c.hmt.segment_length = 8;
  c.hmt.num_sensory = 2;
  c.hmt.recall.context = 4;
  c.hmt.recall.hidden_dim = 8;
  c.train.stage1.steps = 3;
  c.train.stage2.steps = 3;
  c.train.stage2.segments = 3;
  return c;
}

}  // namespace hmt::test
