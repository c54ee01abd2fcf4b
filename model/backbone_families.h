#pragma once
// Constructors of the three families; make_backbone() dispatches on
// config.family. Each registers its submodules under the HF names.
#include <memory>

#include "model/backbone.h"

namespace hmt {
std::shared_ptr<Backbone> make_llama(const BackboneConfig& config);
std::shared_ptr<Backbone> make_gpt2(const BackboneConfig& config);
std::shared_ptr<Backbone> make_opt(const BackboneConfig& config);
}  // namespace hmt
