#include "model/hmt_builder.h"

#include "core/error.h"
#include "model/backbone.h"
#include "model/lora.h"
#include "model/scratch_config.h"
#include "model/trainable.h"

namespace hmt {

std::shared_ptr<HmtModel> build_hmt_model(const ExperimentConfig& config) {
  torch::manual_seed(config.runtime.seed);
  std::shared_ptr<Backbone> backbone = config.model.pretrained.empty()
                                           ? make_backbone(scratch_backbone_config(config.model))
                                           : load_backbone(config.model.pretrained);
  const torch::Device device(config.runtime.device);
  HMT_CHECK(device.is_cpu() || torch::cuda::is_available(),
            "runtime.device: cuda was asked for, but this build of LibTorch sees no CUDA device");
  backbone->to(device);
  auto model = std::make_shared<HmtModel>(backbone, config.hmt);
  if (config.lora.enabled) attach_lora(model->backbone(), config.lora);
  apply_trainable(*model, config.model.trainable);
  model->train();
  return model;
}

}  // namespace hmt
