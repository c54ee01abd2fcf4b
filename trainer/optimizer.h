#pragma once
// AdamW over the trainable parameters of a model, with two parameter groups:
// decoupled weight decay for matrices, none for norms, biases and the hmt.*
// tensors (memory, prompt and recall maps are embeddings, not weights to
// shrink). Its state turns into named tensors and back so that a checkpoint
// holds it by parameter name (optimizer.safetensors), independent of the
// order in which parameters were registered. The hmt.* tensors form a third
// group whose learning rate is optimizer.hmt_lr_scale times the stage's: they
// start from scratch while the backbone is usually pre-trained.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/experiment_config.h"
#include "model/safetensors.h"

namespace hmt {

struct NamedParameter {
  std::string name;
  torch::Tensor tensor;
  bool decay = false;
};

// True for parameters that get weight decay: tensors of two or more
// dimensions that are neither biases nor hmt.* (norm weights are 1-D).
bool gets_weight_decay(const std::string& name, const torch::Tensor& tensor);

// The parameters of `model` with requires_grad, each tensor once (a tied
// embedding and head are one tensor under two names: the first name wins),
// in named_parameters() order.
std::vector<NamedParameter> trainable_parameters(torch::nn::Module& model);

class Optimizer {
 public:
  Optimizer(std::vector<NamedParameter> parameters, const OptimizerConfig& config);

  // The stage's learning rate; the hmt.* group gets lr x hmt_lr_scale.
  void set_lr(double lr);
  void zero_grad();
  void step();

  const std::vector<NamedParameter>& parameters() const { return parameters_; }
  std::vector<torch::Tensor> tensors() const;
  std::size_t decayed_count() const;

  // "<name>.exp_avg", "<name>.exp_avg_sq" and "<name>.step" (int64 [1]) for
  // every parameter that has taken a step.
  NamedTensors state() const;
  // Replaces the state with a file written from state(); errors name the
  // file and the tensor (unknown parameter, missing moment, shape mismatch).
  void load_state(const SafetensorsFile& file);

 private:
  std::vector<NamedParameter> parameters_;
  std::unique_ptr<torch::optim::AdamW> adamw_;
  std::vector<double> lr_scales_;  // per parameter group of adamw_
};

}  // namespace hmt
