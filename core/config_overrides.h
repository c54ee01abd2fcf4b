#pragma once
// Command-line overrides: `a.b=v` changes a key, `+a.b=v` adds one, `~a.b`
// deletes one, `group=option` picks a defaults-list option.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/config_defaults.h"
#include "core/config_tree.h"

namespace hmt {

struct Override {
  enum class Kind { Set, Add, Delete };
  Kind kind = Kind::Set;
  std::string key;    // dotted
  std::string value;  // YAML text; empty for Delete
  std::string text;   // as the user typed it, for messages

  Origin origin() const { return Origin::from_override(text); }
};

Override parse_override(const std::string& text);

// The `name=option` overrides that could pick a defaults-list option (no dot
// in the key); composition decides which of them name real groups.
std::map<std::string, GroupChoice> group_choice_candidates(const std::vector<Override>& overrides);

// Applies one key override to the composed tree; errors name the override.
// `a.b=v` on a key absent from the tree adds it when `schema_keys` (dotted)
// has it.
void apply_override(ConfigNode& root, const Override& override, const std::set<std::string>& schema_keys = {});

}  // namespace hmt
