#include "core/config_tree.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/error.h"

namespace hmt {

std::string Origin::describe() const {
  if (!override.empty()) return fmt::format("command line override '{}'", override);
  if (line > 0) return fmt::format("{}:{}", file, line);
  return file.empty() ? std::string("<unknown>") : file;
}

ConfigNode ConfigNode::map(Origin origin) {
  ConfigNode node;
  node.kind = Kind::Map;
  node.origin = std::move(origin);
  return node;
}

ConfigNode ConfigNode::string(std::string text, Origin origin) {
  ConfigNode node;
  node.kind = Kind::Scalar;
  node.scalar = std::move(text);
  node.quoted = true;
  node.origin = std::move(origin);
  return node;
}

const ConfigNode* ConfigNode::find(const std::string& key) const {
  if (kind != Kind::Map) return nullptr;
  for (const auto& [k, v] : entries)
    if (k == key) return &v;
  return nullptr;
}

ConfigNode* ConfigNode::find(const std::string& key) {
  return const_cast<ConfigNode*>(static_cast<const ConfigNode*>(this)->find(key));
}

ConfigNode& ConfigNode::set(const std::string& key, ConfigNode value) {
  if (ConfigNode* existing = find(key)) return *existing = std::move(value);
  entries.emplace_back(key, std::move(value));
  return entries.back().second;
}

bool ConfigNode::erase(const std::string& key) {
  auto it = std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.first == key; });
  if (it == entries.end()) return false;
  entries.erase(it);
  return true;
}

std::string ConfigNode::describe() const {
  switch (kind) {
    case Kind::Null: return "null";
    case Kind::Map: return "a mapping";
    case Kind::Sequence: return "a list";
    case Kind::Scalar: break;
  }
  return "'" + scalar + "'";
}

void merge_into(ConfigNode& base, const ConfigNode& overlay) {
  if (!base.is_map() || !overlay.is_map()) {
    base = overlay;
    return;
  }
  for (const auto& [key, value] : overlay.entries) {
    if (ConfigNode* existing = base.find(key)) merge_into(*existing, value);
    else base.entries.emplace_back(key, value);
  }
}

std::vector<std::string> split_key(const std::string& dotted) {
  std::vector<std::string> parts;
  std::string::size_type start = 0;
  while (true) {
    auto dot = dotted.find('.', start);
    std::string part = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    HMT_CHECK(!part.empty(), "'{}' is not a valid key: empty component", dotted);
    parts.push_back(part);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

namespace {

const ConfigNode* child(const ConfigNode& node, const std::string& part) {
  if (node.is_map()) return node.find(part);
  if (node.is_sequence() && !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
    auto index = std::stoull(part);
    return index < node.items.size() ? &node.items[index] : nullptr;
  }
  return nullptr;
}

ConfigNode convert(const YAML::Node& node, const std::string& file, int line) {
  ConfigNode out;
  out.origin = Origin::at(file, line);
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: out.kind = ConfigNode::Kind::Null; break;
    case YAML::NodeType::Scalar:
      out.kind = ConfigNode::Kind::Scalar;
      out.scalar = node.Scalar();
      // yaml-cpp tags plain scalars "?" and every quoted or explicitly
      // tagged one otherwise ("!", "tag:yaml.org,2002:str").
      out.quoted = node.Tag() != "?";
      break;
    case YAML::NodeType::Sequence:
      out.kind = ConfigNode::Kind::Sequence;
      for (const auto& item : node) out.items.push_back(convert(item, file, item.Mark().line + 1));
      break;
    case YAML::NodeType::Map:
      out.kind = ConfigNode::Kind::Map;
      for (const auto& entry : node) {
        int key_line = entry.first.Mark().line + 1;
        HMT_CHECK(entry.first.IsScalar(), "{}:{}: mapping keys must be plain names", file, key_line);
        const std::string& key = entry.first.Scalar();
        if (const ConfigNode* previous = out.find(key))
          fail("{}:{}: duplicate key '{}' (first given at line {})", file, key_line, key, previous->origin.line);
        // The key's line, not the value's: a null value has no position, and
        // the key is what the user looks for.
        out.entries.emplace_back(key, convert(entry.second, file, key_line));
      }
      break;
  }
  return out;
}

void dump(const ConfigNode& node, int indent, std::ostringstream& out) {
  std::string pad(indent, ' ');
  auto comment = [](const ConfigNode& n) { return "  # " + n.origin.describe(); };
  auto inline_text = [](const ConfigNode& n) {
    if (n.is_null()) return std::string("null");
    if (n.is_scalar()) return n.quoted ? "'" + n.scalar + "'" : n.scalar;
    if (n.is_map() && n.entries.empty()) return std::string("{}");
    return std::string("[]");
  };
  auto is_leaf = [](const ConfigNode& n) {
    return n.is_null() || n.is_scalar() || (n.is_map() && n.entries.empty()) || (n.is_sequence() && n.items.empty());
  };
  if (node.is_map()) {
    for (const auto& [key, value] : node.entries) {
      if (is_leaf(value)) {
        out << pad << key << ": " << inline_text(value) << comment(value) << "\n";
      } else {
        out << pad << key << ":\n";
        dump(value, indent + 2, out);
      }
    }
  } else if (node.is_sequence()) {
    for (const auto& item : node.items) {
      if (is_leaf(item)) {
        out << pad << "- " << inline_text(item) << comment(item) << "\n";
      } else {
        out << pad << "-\n";
        dump(item, indent + 2, out);
      }
    }
  }
}

}  // namespace

const ConfigNode* find_path(const ConfigNode& root, const std::string& dotted) {
  const ConfigNode* node = &root;
  for (const auto& part : split_key(dotted)) {
    node = child(*node, part);
    if (!node) return nullptr;
  }
  return node;
}

ConfigNode* find_path(ConfigNode& root, const std::string& dotted) {
  return const_cast<ConfigNode*>(find_path(static_cast<const ConfigNode&>(root), dotted));
}

ConfigNode load_yaml_file(const std::string& path) {
  HMT_CHECK(std::filesystem::is_regular_file(path), "{}: config file does not exist", path);
  YAML::Node node;
  try {
    node = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    fail("{}:{}: YAML syntax error: {}", path, e.mark.line + 1, e.msg);
  }
  ConfigNode out = convert(node, path, /*line=*/0);
  out.origin = Origin::at(path, /*line=*/0);
  return out;
}

ConfigNode parse_yaml_text(const std::string& text, const Origin& origin) {
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail("{}: cannot parse the value as YAML: {}", origin.describe(), e.msg);
  }
  ConfigNode out = convert(node, {}, /*line=*/0);
  std::vector<ConfigNode*> stack{&out};
  while (!stack.empty()) {
    ConfigNode* n = stack.back();
    stack.pop_back();
    n->origin = origin;
    for (auto& item : n->items) stack.push_back(&item);
    for (auto& entry : n->entries) stack.push_back(&entry.second);
  }
  return out;
}

std::string ConfigTree::dump_with_origins() const {
  std::ostringstream out;
  dump(root, 0, out);
  return out.str();
}

}  // namespace hmt
