#pragma once
// Entry points of the experiment configuration: compose YAML files with
// overrides, validate once into ExperimentConfig, and write the resolved
// result back. Rules and every key: docs/configs.md.
#include <set>
#include <string>
#include <vector>

#include "core/config_tree.h"
#include "core/experiment_config.h"

namespace hmt {

// Composition (defaults lists), then overrides in order (`a.b=v`, `+a.b=v`,
// `~a.b`; `group=option` picks a defaults-list option before composing),
// then interpolation. The result has no "${" left to resolve.
// `schema_keys`: dotted keys that `a.b=v` may set even when no file has them
// (load_experiment passes the typed schema's keys).
ConfigTree compose_config(const std::string& experiment_path, const std::vector<std::string>& overrides,
                          const std::set<std::string>& schema_keys = {});

// Validates every key once: unknown keys, types, ranges, choices, required
// keys and cross-field rules. Throws one hmt::Error listing all problems.
ExperimentConfig parse_experiment(const ConfigTree& tree);

ExperimentConfig load_experiment(const std::string& experiment_path, const std::vector<std::string>& overrides);

// Every key with its value, defaults included; loading this text as an
// experiment file gives an equal ExperimentConfig.
std::string to_yaml(const ExperimentConfig& config);

// sha256 of to_yaml: identifies a configuration across runs.
std::string config_hash(const ExperimentConfig& config);

// Writes RUN_DIR/config.yaml atomically (temp file, fsync, rename), creating
// run_dir when needed.
void save_resolved_config(const ExperimentConfig& config, const std::string& run_dir);

// The key reference table of docs/configs.md, generated from the schema.
std::string describe_experiment_keys();

}  // namespace hmt
