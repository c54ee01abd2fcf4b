#include "core/experiment_config.h"

#include <cmath>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/config.h"
#include "core/sha256.h"

namespace hmt {

void ModelConfig::check(config::SectionCheck& c) const {
  bool has_pretrained = !pretrained.empty();
  if (has_pretrained && from_scratch()) {
    c.fail("type", fmt::format("{}, {}: give exactly one of them, not both", c.key("pretrained"), c.key("type")));
    return;
  }
  if (!has_pretrained && !from_scratch()) {
    c.fail("type", fmt::format("{}, {}: give exactly one of them (a HuggingFace directory, or a family to build "
                               "from scratch)",
                               c.key("pretrained"), c.key("type")));
    return;
  }
  const std::pair<const char*, const std::optional<std::int64_t>*> architecture[] = {{"vocab_size", &vocab_size},
                                                                                     {"hidden_size", &hidden_size},
                                                                                     {"num_layers", &num_layers},
                                                                                     {"num_heads", &num_heads}};
  bool complete = true;
  for (const auto& [name, value] : architecture) {
    if (has_pretrained && value->has_value())
      c.fail(name, fmt::format("{}: not allowed with {} (the architecture comes from its config.json)", c.key(name),
                               c.key("pretrained")));
    if (from_scratch() && !value->has_value()) {
      c.fail(name, fmt::format("{}: required when {} is given", c.key(name), c.key("type")));
      complete = false;
    }
  }
  if (!from_scratch() || !complete) return;
  if (*hidden_size % *num_heads != 0)
    c.fail("hidden_size", fmt::format("{} ({}) must be divisible by {} ({})", c.key("hidden_size"), *hidden_size,
                                      c.key("num_heads"), *num_heads));
  if (*num_heads % kv_heads() != 0)
    c.fail("num_kv_heads", fmt::format("{} ({}) must be divisible by {} ({})", c.key("num_heads"), *num_heads,
                                       c.key("num_kv_heads"), num_kv_heads));
  // Grouped-query attention and post-LN exist in one family each.
  if (*type != "llama" && kv_heads() != *num_heads)
    c.fail("num_kv_heads", fmt::format("{}: only llama models have grouped-query attention; {} has {} = {}",
                                       c.key("num_kv_heads"), *type, c.key("num_heads"), *num_heads));
  if (*type != "opt" && !do_layer_norm_before)
    c.fail("do_layer_norm_before",
           fmt::format("{}: false is only supported for type opt, not {}", c.key("do_layer_norm_before"), *type));
  if (*type != "opt" && word_embed_proj_dim != 0 && word_embed_proj_dim != *hidden_size)
    c.fail("word_embed_proj_dim", fmt::format("{}: differs from {} only for type opt, not {}",
                                              c.key("word_embed_proj_dim"), c.key("hidden_size"), *type));
}

void LoraConfig::check(config::SectionCheck& c) const {
  for (const auto& name : target_modules)
    if (name.empty()) c.fail("target_modules", fmt::format("{}: a module name is empty", c.key("target_modules")));
}

void DataConfig::check(config::SectionCheck& c) const {
  if (interleave_len > 0 && dilate_len > 0)
    c.fail("dilate_len", fmt::format("{}, {}: set at most one of them (topic switching or dilation)",
                                     c.key("interleave_len"), c.key("dilate_len")));
  if (split_fractions.empty()) return;
  double sum = 0;
  for (double f : split_fractions) sum += f;
  if (split_fractions.size() != splits.size() || std::abs(sum - 1.0) > 1e-9)
    c.fail("split_fractions",
           fmt::format("{}: needs one fraction per entry of {} ({} given for {}), summing to 1 "
                       "(they sum to {})",
                       c.key("split_fractions"), c.key("splits"), split_fractions.size(), splits.size(), sum));
}

void ExperimentConfig::check(config::SectionCheck& c) const {
  // model.trainable and each stage's own trainable: lora needs the adapters.
  auto lora_needs_adapters = [&](const char* section, const std::string& key, std::optional<TrainableMode> mode) {
    if (mode == TrainableMode::Lora && !lora.enabled)
      c.fail(section, fmt::format("{}: lora trains only the LoRA adapters, but lora.enabled is false; set "
                                  "lora.enabled: true (or {}: full / frozen)",
                                  key, key));
  };
  lora_needs_adapters("model", "model.trainable", model.trainable);
  for (StageKind kind : {StageKind::Backbone, StageKind::Stage1, StageKind::Stage2})
    lora_needs_adapters("train", fmt::format("train.{}.trainable", to_string(kind)), train.stage(kind).trainable);
}

void TrainConfig::check(config::SectionCheck& c) const {
  if (stages.empty()) c.fail("stages", fmt::format("{}: list at least one stage", c.key("stages")));
  for (std::size_t i = 0; i < stages.size(); ++i)
    for (std::size_t k = 0; k < i; ++k)
      if (stages[i] == stages[k])
        c.fail("stages", fmt::format("{}: stage {} is listed twice", c.key("stages"), to_string(stages[i])));
}

void StageConfig::check(config::SectionCheck& c) const {
  for (std::int64_t s : curriculum)
    if (s < 1) c.fail("curriculum", fmt::format("{}: every level's S must be >= 1, got {}", c.key("curriculum"), s));
  for (std::int64_t n : curriculum_steps)
    if (n < 1)
      c.fail("curriculum_steps", fmt::format("{}: every level needs >= 1 step, got {}", c.key("curriculum_steps"), n));
  if (curriculum_steps.empty()) {
    if (!curriculum.empty() && steps < static_cast<std::int64_t>(curriculum.size()))
      c.fail("curriculum", fmt::format("{}: {} levels need at least as many steps, but {} is {}", c.key("curriculum"),
                                       curriculum.size(), c.key("steps"), steps));
    return;
  }
  std::int64_t sum = 0;
  for (std::int64_t n : curriculum_steps) sum += n;
  if (curriculum_steps.size() != curriculum.size() || sum != steps)
    c.fail("curriculum_steps",
           fmt::format("{}: needs one entry per level of {} ({} given for {}), summing to {} = {} (they sum to {})",
                       c.key("curriculum_steps"), c.key("curriculum"), curriculum_steps.size(), curriculum.size(),
                       c.key("steps"), steps, sum));
}

namespace {

// Steps of each level: curriculum_steps, or `steps` split evenly with the
// remainder in the last level.
std::vector<std::int64_t> level_steps(const StageConfig& s) {
  if (!s.curriculum_steps.empty() || s.curriculum.empty()) return s.curriculum_steps;
  const auto levels = static_cast<std::int64_t>(s.curriculum.size());
  std::vector<std::int64_t> out(s.curriculum.size(), s.steps / levels);
  out.back() += s.steps % levels;
  return out;
}

}  // namespace

std::int64_t StageConfig::level_of(std::int64_t step) const {
  const auto levels = level_steps(*this);
  std::int64_t end = 0;
  for (std::size_t k = 0; k < levels.size(); ++k) {
    end += levels[k];
    if (step < end) return static_cast<std::int64_t>(k);
  }
  return levels.empty() ? 0 : static_cast<std::int64_t>(levels.size()) - 1;
}

std::int64_t StageConfig::segments_at(std::int64_t step) const {
  return curriculum.empty() ? segments : curriculum[static_cast<std::size_t>(level_of(step))];
}

std::int64_t StageConfig::level_start(std::int64_t step) const {
  const auto levels = level_steps(*this);
  const std::int64_t level = level_of(step);
  std::int64_t start = 0;
  for (std::int64_t k = 0; k < level && k < static_cast<std::int64_t>(levels.size()); ++k) start += levels[k];
  return start;
}

const StageConfig& TrainConfig::stage(StageKind kind) const {
  switch (kind) {
    case StageKind::Backbone: return backbone;
    case StageKind::Stage1: return stage1;
    case StageKind::Stage2: return stage2;
  }
  // Only a cast makes another value; the parse admits none.
  fail("train.stages: unknown stage {}", static_cast<int>(kind));
}

std::int64_t HmtConfig::summary_tokens() const {
  double exact = static_cast<double>(segment_length) * sum_fraction;
  double floor = std::floor(exact);
  double rest = exact - floor;
  if (rest > 0.5) return static_cast<std::int64_t>(floor) + 1;
  if (rest < 0.5) return static_cast<std::int64_t>(floor);
  auto lower = static_cast<std::int64_t>(floor);
  return lower % 2 == 0 ? lower : lower + 1;
}

bool operator==(const ExperimentConfig& a, const ExperimentConfig& b) { return config::equal_structs(a, b); }

ExperimentConfig parse_experiment(const ConfigTree& tree) { return config::parse_struct<ExperimentConfig>(tree); }

std::string to_yaml(const ExperimentConfig& config) { return config::emit_struct(config); }

std::string config_hash(const ExperimentConfig& config) { return sha256_hex(to_yaml(config)); }

void save_resolved_config(const ExperimentConfig& config, const std::string& run_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  HMT_CHECK(!ec, "{}: cannot create the run directory: {}", run_dir, ec.message());
  write_file_atomically((fs::path(run_dir) / "config.yaml").string(), to_yaml(config));
}

std::string describe_experiment_keys() {
  std::string table = "| key | type | default | allowed | meaning |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& row : config::describe_struct<ExperimentConfig>())
    table += fmt::format("| `{}` | {} | `{}` | {} | {} |\n", row.key, row.type, row.default_value, row.allowed,
                         row.doc);
  return table;
}

}  // namespace hmt
