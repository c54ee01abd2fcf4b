// model.trainable: which parameters get gradients.
#include "model/trainable.h"

#include <unordered_set>

#include "core/error.h"
#include "model/hmt_model.h"

namespace hmt {
namespace {

bool is_lora(const std::string& name) { return name.find(".lora_") != std::string::npos; }

}  // namespace

int64_t apply_trainable(torch::nn::Module& model, TrainableMode mode) {
  auto params = model.named_parameters(/*recurse=*/true);
  if (mode == TrainableMode::Lora) {
    bool any = false;
    for (const auto& item : params) any = any || is_lora(item.key());
    HMT_CHECK(any, "model.trainable: lora, but the model has no LoRA adapters (attach_lora first, or set "
                   "lora.enabled: true)");
  }
  int64_t count = 0;
  std::unordered_set<const void*> counted;
  for (auto& item : params) {
    const std::string& name = item.key();
    const bool train = mode == TrainableMode::Full || is_hmt_parameter(name) ||
                       (mode == TrainableMode::Lora && is_lora(name));
    item.value().set_requires_grad(train);
    if (train && counted.insert(item.value().unsafeGetTensorImpl()).second) count += item.value().numel();
  }
  return count;
}

}  // namespace hmt
