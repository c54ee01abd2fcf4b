#pragma once
// Hydra-style composition of an experiment file from its `defaults:` list.
#include <map>
#include <set>
#include <string>

#include "core/config_tree.h"

namespace hmt {

// A command-line `group=option` that replaces the option a defaults list
// picks for that group.
struct GroupChoice {
  std::string option;
  Origin origin;
};

// The directory group names are relative to: the nearest ancestor directory
// named `configs` of the experiment file, else the file's own directory.
std::string config_root(const std::string& experiment_path);

// Loads `experiment_path` and everything its defaults list names, merged in
// list order (the file's own content at `_self_`, last when not listed).
// `choices` maps group paths ("model", "model/attention") to replacements;
// the groups actually found in some defaults list are added to `used`.
ConfigNode compose_defaults(const std::string& experiment_path, const std::map<std::string, GroupChoice>& choices,
                            std::set<std::string>& used);

}  // namespace hmt
