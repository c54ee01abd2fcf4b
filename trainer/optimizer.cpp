#include "trainer/optimizer.h"

#include <map>
#include <unordered_set>

#include "core/error.h"
#include "core/shape_text.h"
#include "model/hmt_model.h"

namespace hmt {
namespace {

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

// AdamW keys its per-parameter state by the address of the tensor's impl.
std::string state_key(const torch::Tensor& tensor) { return c10::guts::to_string(tensor.unsafeGetTensorImpl()); }

}  // namespace

bool gets_weight_decay(const std::string& name, const torch::Tensor& tensor) {
  return tensor.dim() >= 2 && !ends_with(name, ".bias") && !is_hmt_parameter(name);
}

std::vector<NamedParameter> trainable_parameters(torch::nn::Module& model) {
  std::vector<NamedParameter> out;
  std::unordered_set<const void*> seen;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    const torch::Tensor& tensor = item.value();
    if (!tensor.requires_grad() || !seen.insert(tensor.unsafeGetTensorImpl()).second) continue;
    out.push_back(NamedParameter{item.key(), tensor, gets_weight_decay(item.key(), tensor)});
  }
  return out;
}

Optimizer::Optimizer(std::vector<NamedParameter> parameters, const OptimizerConfig& config)
    : parameters_(std::move(parameters)) {
  HMT_CHECK(!parameters_.empty(), "optimizer: the model has no trainable parameter");
  std::vector<torch::Tensor> decayed, plain, memory;
  for (const auto& p : parameters_) {
    if (p.decay) decayed.push_back(p.tensor);
    else (is_hmt_parameter(p.name) ? memory : plain).push_back(p.tensor);
  }
  auto options = [&](double weight_decay) {
    return torch::optim::AdamWOptions(/*lr=*/0.0)
        .betas({config.beta1, config.beta2})
        .eps(config.eps)
        .weight_decay(weight_decay);
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto add_group = [&](const std::vector<torch::Tensor>& tensors, double weight_decay, double lr_scale) {
    if (tensors.empty()) return;
    groups.emplace_back(tensors, std::make_unique<torch::optim::AdamWOptions>(options(weight_decay)));
    lr_scales_.push_back(lr_scale);
  };
  add_group(decayed, config.weight_decay, /*lr_scale=*/1.0);
  add_group(plain, /*weight_decay=*/0.0, /*lr_scale=*/1.0);
  add_group(memory, /*weight_decay=*/0.0, config.hmt_lr_scale);
  adamw_ = std::make_unique<torch::optim::AdamW>(std::move(groups), options(config.weight_decay));
}

void Optimizer::set_lr(double lr) {
  auto& groups = adamw_->param_groups();
  for (std::size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(lr * lr_scales_[i]);
}

void Optimizer::zero_grad() {
  // Gradients are reset to zero in place rather than dropped, so that the
  // tensors the gradient reducer holds stay the ones backward writes into.
  for (const auto& p : parameters_) {
    auto& grad = p.tensor.mutable_grad();
    if (grad.defined()) grad.zero_();
  }
}

void Optimizer::step() { adamw_->step(); }

std::vector<torch::Tensor> Optimizer::tensors() const {
  std::vector<torch::Tensor> out;
  for (const auto& p : parameters_) out.push_back(p.tensor);
  return out;
}

std::size_t Optimizer::decayed_count() const {
  std::size_t n = 0;
  for (const auto& p : parameters_) n += p.decay ? 1 : 0;
  return n;
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  const auto& states = adamw_->state();
  for (const auto& p : parameters_) {
    auto found = states.find(state_key(p.tensor));
    if (found == states.end()) continue;
    const auto& s = static_cast<const torch::optim::AdamWParamState&>(*found->second);
    out.emplace_back(p.name + ".exp_avg", s.exp_avg().detach());
    out.emplace_back(p.name + ".exp_avg_sq", s.exp_avg_sq().detach());
    out.emplace_back(p.name + ".step", torch::full({1}, s.step(), torch::kInt64));
  }
  return out;
}

void Optimizer::load_state(const SafetensorsFile& file) {
  std::map<std::string, const NamedParameter*> by_name;
  for (const auto& p : parameters_) by_name.emplace(p.name, &p);
  for (const std::string& key : file.names()) {
    auto dot = key.rfind('.');
    const std::string owner = dot == std::string::npos ? key : key.substr(0, dot);
    HMT_CHECK(by_name.count(owner), "{}: state tensor \"{}\" belongs to no trainable parameter of this stage",
              file.path(), key);
  }
  auto& states = adamw_->state();
  states.clear();
  for (const auto& p : parameters_) {
    const std::string avg = p.name + ".exp_avg", sq = p.name + ".exp_avg_sq", step = p.name + ".step";
    if (!file.contains(step)) continue;  // the parameter has not taken a step yet
    for (const std::string& moment : {avg, sq}) {
      HMT_CHECK(file.contains(moment), "{}: missing tensor \"{}\"", file.path(), moment);
      const auto& shape = file.entry(moment).shape;
      HMT_CHECK(p.tensor.sizes() == torch::IntArrayRef(shape),
                "{}: shape mismatch for \"{}\": parameter is {}, file has {}", file.path(), moment,
                shape_text(p.tensor.sizes()), shape_text(shape));
    }
    auto state = std::make_unique<torch::optim::AdamWParamState>();
    state->step(file.get(step, torch::kInt64).item<int64_t>());
    const auto like = p.tensor.options();
    state->exp_avg(file.get(avg).to(like, /*non_blocking=*/false, /*copy=*/true));
    state->exp_avg_sq(file.get(sq).to(like, /*non_blocking=*/false, /*copy=*/true));
    states[state_key(p.tensor)] = std::move(state);
  }
}

}  // namespace hmt
