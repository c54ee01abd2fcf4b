#include "core/config_overrides.h"

#include "core/config_suggest.h"
#include "core/error.h"

namespace hmt {

Override parse_override(const std::string& text) {
  Override out;
  out.text = text;
  std::string body = text;
  if (!body.empty() && body[0] == '~') {
    out.kind = Override::Kind::Delete;
    out.key = body.substr(1);
    HMT_CHECK(out.key.find('=') == std::string::npos,
              "command line override '{}': write ~key to delete a key, without a value", text);
  } else {
    if (!body.empty() && body[0] == '+') {
      out.kind = Override::Kind::Add;
      body = body.substr(1);
    }
    auto eq = body.find('=');
    HMT_CHECK(eq != std::string::npos, "command line override '{}': expected key=value, +key=value or ~key", text);
    out.key = body.substr(0, eq);
    out.value = body.substr(eq + 1);
  }
  HMT_CHECK(!out.key.empty(), "command line override '{}': the key is empty", text);
  try {
    split_key(out.key);
  } catch (const Error& e) {
    fail("command line override '{}': {}", text, e.what());
  }
  return out;
}

std::map<std::string, GroupChoice> group_choice_candidates(const std::vector<Override>& overrides) {
  std::map<std::string, GroupChoice> choices;
  for (const auto& o : overrides)
    if (o.kind == Override::Kind::Set && o.key.find('.') == std::string::npos)
      choices[o.key] = GroupChoice{o.value, o.origin()};
  return choices;
}

namespace {

ConfigNode parse_value(const Override& o) {
  // `a.b=` means the empty string, as in Hydra, not null.
  if (o.value.empty()) return ConfigNode::string("", o.origin());
  return parse_yaml_text(o.value, o.origin());
}

// The map that holds the last key component, or nullptr.
ConfigNode* parent_of(ConfigNode& root, const std::vector<std::string>& parts) {
  ConfigNode* node = &root;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    node = node->find(parts[i]);
    if (!node) return nullptr;
  }
  return node->is_map() ? node : nullptr;
}

std::string did_you_mean(ConfigNode* parent, const std::vector<std::string>& parts, const std::string& key) {
  if (!parent) return "";
  std::vector<std::string> keys;
  for (const auto& entry : parent->entries) keys.push_back(entry.first);
  std::string best = closest_match(parts.back(), keys);
  if (best.empty()) return "";
  std::string prefix = key.substr(0, key.size() - parts.back().size());
  return fmt::format(" (did you mean '{}{}'?)", prefix, best);
}

}  // namespace

void apply_override(ConfigNode& root, const Override& given, const std::set<std::string>& schema_keys) {
  auto parts = split_key(given.key);
  ConfigNode* parent = parent_of(root, parts);
  ConfigNode* existing = parent ? parent->find(parts.back()) : nullptr;
  Override o = given;
  // As with Hydra's structured configs, a key the typed schema defines may be
  // set without '+' even when no yaml file spells it out.
  if (o.kind == Override::Kind::Set && !existing && schema_keys.count(o.key)) o.kind = Override::Kind::Add;
  switch (o.kind) {
    case Override::Kind::Set:
      if (!existing)
        fail("{}: key {} does not exist{}; use +{}={} to add a key", o.origin().describe(), o.key,
             did_you_mean(parent, parts, o.key), o.key, o.value);
      *existing = parse_value(o);
      break;
    case Override::Kind::Add: {
      if (existing)
        fail("{}: key {} already exists ({}); use {}={} to change it", o.origin().describe(), o.key,
             existing->origin.describe(), o.key, o.value);
      ConfigNode* node = &root;
      for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
        ConfigNode* next = node->find(parts[i]);
        if (!next) next = &node->set(parts[i], ConfigNode::map(o.origin()));
        HMT_CHECK(next->is_map(), "{}: cannot add {}: {} is {}, not a mapping ({})", o.origin().describe(), o.key,
                  parts[i], next->describe(), next->origin.describe());
        node = next;
      }
      node->set(parts.back(), parse_value(o));
      break;
    }
    case Override::Kind::Delete:
      if (!existing)
        fail("{}: cannot delete key {}: it does not exist{}", o.origin().describe(), o.key,
             did_you_mean(parent, parts, o.key));
      parent->erase(parts.back());
      break;
  }
}

}  // namespace hmt
