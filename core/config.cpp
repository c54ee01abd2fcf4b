#include "core/config.h"

#include <set>

#include "core/config_defaults.h"
#include "core/config_interpolation.h"
#include "core/config_overrides.h"

namespace hmt {

ConfigTree compose_config(const std::string& experiment_path, const std::vector<std::string>& overrides,
                          const std::set<std::string>& schema_keys) {
  std::vector<Override> parsed;
  for (const auto& text : overrides) parsed.push_back(parse_override(text));

  std::set<std::string> used_groups;
  ConfigTree tree;
  tree.source = experiment_path;
  tree.root = compose_defaults(experiment_path, group_choice_candidates(parsed), used_groups);

  for (const auto& o : parsed) {
    bool picked_option = o.kind == Override::Kind::Set && used_groups.count(o.key) > 0;
    if (!picked_option) apply_override(tree.root, o, schema_keys);
  }
  resolve_interpolations(tree.root);
  return tree;
}

ExperimentConfig load_experiment(const std::string& experiment_path, const std::vector<std::string>& overrides) {
  static const std::set<std::string> schema_keys = [] {
    std::set<std::string> keys;
    for (const auto& row : config::describe_struct<ExperimentConfig>()) keys.insert(row.key);
    return keys;
  }();
  return parse_experiment(compose_config(experiment_path, overrides, schema_keys));
}

}  // namespace hmt
