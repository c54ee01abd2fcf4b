#include "core/config_schema.h"

#include <algorithm>

#include "core/config_suggest.h"

namespace hmt::config {

void SectionCheck::fail(const std::string& name, const std::string& message) {
  const ConfigNode* child = node_ ? node_->find(name) : nullptr;
  errors_.push_back(fmt::format("{}: {}", (child ? child->origin : fallback_).describe(), message));
}

void SchemaReader::missing(const std::string& name) {
  // The key belongs in the experiment (or one of its defaults); naming the
  // experiment file tells the user where composition started.
  errors_.push_back(fmt::format("{}: {}: required key is missing", experiment_, key(name)));
}

void SchemaReader::finish() {
  if (!node_) return;
  for (const auto& [name, value] : node_->entries) {
    if (std::find(known_.begin(), known_.end(), name) != known_.end()) continue;
    errors_.push_back(fmt::format("{}: {}: unknown key{}", value.origin.describe(), key(name),
                                  suggestion_suffix(name, known_, "valid keys are")));
  }
}

}  // namespace hmt::config
