#include "trainer/stage.h"

#include <optional>
#include <unordered_set>

#include "core/error.h"
#include "model/hmt_model.h"
#include "model/trainable.h"

namespace hmt {

StageKind parse_stage_kind(const std::string& name) {
  if (const std::optional<StageKind> kind = config::enum_from_name<StageKind>(name)) return *kind;
  fail("train.stages: unknown stage '{}' (expected backbone, stage1 or stage2)", name);
}

bool uses_memory(StageKind kind) { return kind != StageKind::Backbone; }
bool recall_enabled(StageKind kind) { return kind == StageKind::Stage2; }

int64_t prepare_stage(HmtModel& model, StageKind kind, TrainableMode trainable_mode) {
  model.set_recall_enabled(recall_enabled(kind));
  apply_trainable(model, trainable_mode);
  int64_t count = 0;
  std::unordered_set<const void*> counted;
  for (auto& item : model.named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    if (is_hmt_parameter(name)) {
      const bool train = kind == StageKind::Stage2 || (kind == StageKind::Stage1 && name == "hmt.memory");
      item.value().set_requires_grad(train);
    }
    if (item.value().requires_grad() && counted.insert(item.value().unsafeGetTensorImpl()).second)
      count += item.value().numel();
  }
  HMT_CHECK(count > 0,
            "train.stages: the backbone stage trains only the backbone, but model.trainable (or "
            "train.backbone.trainable) is {}; set model.trainable: full (or lora)",
            to_string(trainable_mode));
  return count;
}

}  // namespace hmt
