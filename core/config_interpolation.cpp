#include "core/config_interpolation.h"

#include <algorithm>
#include <cstdlib>
#include <optional>

#include <fmt/ranges.h>

#include "core/error.h"

namespace hmt {
namespace {

// A piece of an interpolated string: literal text or a ${...} reference.
struct Piece {
  bool reference = false;
  std::string text;
};

std::string join_key(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

bool needs_resolution(const ConfigNode& node) {
  return node.is_scalar() && !node.verbatim && node.scalar.find("${") != std::string::npos;
}

class Resolver {
 public:
  explicit Resolver(ConfigNode& root) : root_(root) {}

  void walk(ConfigNode& node, const std::string& path) {
    if (node.is_scalar()) {
      resolve_scalar(node, path);
    } else if (node.is_sequence()) {
      for (std::size_t i = 0; i < node.items.size(); ++i) walk(node.items[i], join_key(path, std::to_string(i)));
    } else if (node.is_map()) {
      for (auto& [key, value] : node.entries) walk(value, join_key(path, key));
    }
  }

 private:
  void resolve_scalar(ConfigNode& node, const std::string& path) {
    if (!needs_resolution(node)) return;
    if (std::find(stack_.begin(), stack_.end(), path) != stack_.end()) {
      std::vector<std::string> chain(std::find(stack_.begin(), stack_.end(), path), stack_.end());
      chain.push_back(path);
      fail("{}: {}: interpolation cycle: {}", node.origin.describe(), path, fmt::join(chain, " -> "));
    }
    stack_.push_back(path);
    std::vector<Piece> pieces = split(node, path);
    if (pieces.size() == 1 && pieces[0].reference) {
      Origin origin = node.origin;
      node = value_of(pieces[0].text, node, path);
      node.origin = origin;
    } else {
      std::string text;
      for (const Piece& piece : pieces) text += piece.reference ? text_of(piece.text, node, path) : piece.text;
      node.scalar = text;
      node.quoted = true;
    }
    if (node.is_scalar()) node.verbatim = true;
    stack_.pop_back();
  }

  std::vector<Piece> split(const ConfigNode& node, const std::string& path) {
    std::vector<Piece> pieces;
    const std::string& s = node.scalar;
    std::string literal;
    for (std::size_t i = 0; i < s.size();) {
      if (s.compare(i, 3, "\\${") == 0) {
        literal += "${";
        i += 3;
      } else if (s.compare(i, 2, "${") == 0) {
        auto close = s.find('}', i + 2);
        HMT_CHECK(close != std::string::npos, "{}: {}: unterminated interpolation in '{}'", node.origin.describe(),
                  path, s);
        if (!literal.empty()) pieces.push_back(Piece{/*reference=*/false, literal});
        literal.clear();
        pieces.push_back(Piece{/*reference=*/true, s.substr(i + 2, close - i - 2)});
        i = close + 1;
      } else {
        literal += s[i++];
      }
    }
    if (!literal.empty() || pieces.empty()) pieces.push_back(Piece{/*reference=*/false, literal});
    return pieces;
  }

  // ${env:NAME} or ${env:NAME,default}; nullopt when `ref` is not an env lookup.
  std::optional<std::string> env_value(const std::string& ref, const ConfigNode& node, const std::string& path) {
    std::string body;
    if (ref.rfind("env:", 0) == 0) body = ref.substr(4);
    else if (ref.rfind("oc.env:", 0) == 0) body = ref.substr(7);
    else return std::nullopt;
    auto comma = body.find(',');
    std::string name = body.substr(0, comma);
    if (const char* value = std::getenv(name.c_str())) return std::string(value);
    if (comma == std::string::npos)
      fail("{}: {}: interpolation ${{{}}}: environment variable {} is not set and no default is given",
           node.origin.describe(), path, ref, name);
    std::string fallback = body.substr(comma + 1);
    fallback.erase(0, fallback.find_first_not_of(' '));
    fallback.erase(fallback.find_last_not_of(' ') + 1);
    if (fallback.size() >= 2 && (fallback[0] == '\'' || fallback[0] == '"') && fallback.back() == fallback[0])
      fallback = fallback.substr(1, fallback.size() - 2);
    return fallback;
  }

  ConfigNode& target(const std::string& ref, const ConfigNode& node, const std::string& path) {
    ConfigNode* found = nullptr;
    try {
      found = find_path(root_, ref);
    } catch (const Error&) {
      fail("{}: {}: interpolation ${{{}}}: '{}' is not a key (only absolute dotted keys and env:NAME are supported)",
           node.origin.describe(), path, ref, ref);
    }
    if (!found) fail("{}: {}: interpolation ${{{}}}: key {} does not exist", node.origin.describe(), path, ref, ref);
    walk(*found, ref);
    return *found;
  }

  ConfigNode value_of(const std::string& ref, const ConfigNode& node, const std::string& path) {
    if (auto env = env_value(ref, node, path)) {
      // Unquoted, so that the schema reads "${env:THREADS,4}" as an integer
      // where it expects one.
      ConfigNode out;
      out.kind = ConfigNode::Kind::Scalar;
      out.scalar = *env;
      return out;
    }
    return target(ref, node, path);
  }

  std::string text_of(const std::string& ref, const ConfigNode& node, const std::string& path) {
    if (auto env = env_value(ref, node, path)) return *env;
    const ConfigNode& value = target(ref, node, path);
    HMT_CHECK(value.is_scalar(), "{}: {}: interpolation ${{{}}}: {} is {} ({}); only scalars can be embedded in text",
              node.origin.describe(), path, ref, ref, value.describe(), value.origin.describe());
    return value.scalar;
  }

  ConfigNode& root_;
  std::vector<std::string> stack_;  // keys being resolved, for cycle detection
};

}  // namespace

void resolve_interpolations(ConfigNode& root) {
  Resolver resolver(root);
  resolver.walk(root, "");
}

}  // namespace hmt
