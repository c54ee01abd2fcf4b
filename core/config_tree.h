#pragma once
// The untyped configuration tree: YAML data where every node remembers the
// file and line (or command-line override) it came from, so that every later
// error can point at the exact place the user has to edit.
#include <string>
#include <utility>
#include <vector>

namespace hmt {

struct Origin {
  std::string file;      // empty for command-line overrides
  int line = 0;          // 1-based; 0 when the whole file is meant
  std::string override;  // the override text, e.g. "a.b=3"

  static Origin at(std::string file, int line) { return Origin{std::move(file), line, {}}; }
  static Origin from_override(std::string text) { return Origin{{}, 0, std::move(text)}; }
  // "configs/model/tiny.yaml:4", "configs/demo.yaml" or
  // "command line override 'a.b=3'".
  std::string describe() const;
};

class ConfigNode {
 public:
  enum class Kind { Null, Scalar, Sequence, Map };

  Kind kind = Kind::Null;
  std::string scalar;
  // Quoted or !!str-tagged scalars are strings whatever their text: '3' is
  // the string "3", 3 may become an integer.
  bool quoted = false;
  // Set once interpolation produced this scalar: its "${" is literal text.
  bool verbatim = false;
  std::vector<ConfigNode> items;                            // Sequence
  std::vector<std::pair<std::string, ConfigNode>> entries;  // Map, in file order
  Origin origin;

  static ConfigNode map(Origin origin);
  static ConfigNode string(std::string text, Origin origin);

  bool is_null() const { return kind == Kind::Null; }
  bool is_scalar() const { return kind == Kind::Scalar; }
  bool is_map() const { return kind == Kind::Map; }
  bool is_sequence() const { return kind == Kind::Sequence; }

  // Map lookup of one key (not a dotted path); nullptr when absent or when
  // this node is not a map.
  const ConfigNode* find(const std::string& key) const;
  ConfigNode* find(const std::string& key);
  // Inserts or replaces the entry, keeping the position of an existing key.
  ConfigNode& set(const std::string& key, ConfigNode value);
  bool erase(const std::string& key);

  // "a mapping", "a list", "null", or the quoted scalar text for messages.
  std::string describe() const;
};

// Recursive merge, later wins: maps merge key by key, everything else
// (scalars, lists, null) replaces the earlier value with its origin.
void merge_into(ConfigNode& base, const ConfigNode& overlay);

// Splits "a.b.c" into {"a", "b", "c"}; throws on empty components.
std::vector<std::string> split_key(const std::string& dotted);

// Dotted-path lookup through maps, and through lists by numeric index
// ("a.0.b"); nullptr when any component is missing.
const ConfigNode* find_path(const ConfigNode& root, const std::string& dotted);
ConfigNode* find_path(ConfigNode& root, const std::string& dotted);

// Parses a YAML file into a tree with origins; syntax errors and duplicate
// keys are hmt::Errors naming file:line.
ConfigNode load_yaml_file(const std::string& path);
// Parses YAML text (an override value) giving every node `origin`.
ConfigNode parse_yaml_text(const std::string& text, const Origin& origin);

// A composed configuration: the tree plus the experiment file it was composed
// from, which errors about missing keys name.
struct ConfigTree {
  ConfigNode root = ConfigNode::map(Origin{});
  std::string source;

  const ConfigNode* find(const std::string& dotted) const { return find_path(root, dotted); }
  // The tree as YAML, each value followed by a "# file:line" comment: what
  // `hmt config` style debugging wants to see.
  std::string dump_with_origins() const;
};

}  // namespace hmt
