#pragma once
// Typed config structs, declared once and used for parsing, validation,
// emission and documentation. A struct lists its keys in one member
// template:
//
//   template <class V> void visit(V& v) {
//     v.field("segment_length", segment_length, config::required, config::Range::at_least(1), "tokens");
//     v.section("recall", recall, "long-term memory recall");
//   }
//
// and may add cross-field rules in `void check(config::SectionCheck& c) const`.
// Every visitor below walks that same list, so a new key is one line.
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/ranges.h>
#include <yaml-cpp/emitter.h>

#include "core/config_tree.h"
#include "core/config_values.h"

namespace hmt::config {

// Cross-field validation of one section; errors point at a key's origin, or
// the section's, or the experiment file's when the key was not written.
class SectionCheck {
 public:
  SectionCheck(const ConfigNode* node, std::string prefix, Origin fallback, std::vector<std::string>& errors)
      : node_(node), prefix_(std::move(prefix)), fallback_(std::move(fallback)), errors_(errors) {}

  bool given(const std::string& name) const { return node_ && node_->find(name) != nullptr; }
  std::string key(const std::string& name) const { return prefix_.empty() ? name : prefix_ + "." + name; }
  // "<origin of name>: <message>"; the message names the keys itself.
  void fail(const std::string& name, const std::string& message);

 private:
  const ConfigNode* node_;
  std::string prefix_;
  Origin fallback_;
  std::vector<std::string>& errors_;
};

template <class S, class = void>
struct has_check : std::false_type {};
template <class S>
struct has_check<S, std::void_t<decltype(std::declval<const S&>().check(std::declval<SectionCheck&>()))>>
    : std::true_type {};

// Reads one mapping into a struct, collecting every error rather than
// stopping at the first, so one run shows the user all of them.
class SchemaReader {
 public:
  SchemaReader(const ConfigNode* node, std::string prefix, Origin origin, std::string experiment,
               std::vector<std::string>& errors)
      : node_(node), prefix_(std::move(prefix)), origin_(std::move(origin)), experiment_(std::move(experiment)),
        errors_(errors) {}

  template <class T, class... Options>
  void field(const char* name, T& value, const Options&... options) {
    FieldSpec spec = make_field_spec<T>(options...);
    known_.push_back(name);
    const ConfigNode* child = node_ ? node_->find(name) : nullptr;
    if (!child) {
      if (spec.required) missing(name);
      return;
    }
    try {
      if constexpr (holds_enum_v<T>) {
        // Read and checked as the names, then parsed once into the enum.
        text_form_t<T> text;
        read_value(*child, key(name), text);
        check_constraints(spec, *child, key(name), text);
        from_text(text, value);
      } else {
        T parsed = value;
        read_value(*child, key(name), parsed);
        check_constraints(spec, *child, key(name), parsed);
        value = std::move(parsed);
      }
    } catch (const Error& e) {
      errors_.push_back(e.what());
    }
  }

  template <class S>
  void section(const char* name, S& sub, const char* doc = "") {
    known_.push_back(name);
    const ConfigNode* child = node_ ? node_->find(name) : nullptr;
    if (child && !child->is_map() && !child->is_null()) {
      errors_.push_back(fmt::format("{}: {}: expected a mapping, got {}", child->origin.describe(), key(name),
                                    child->describe()));
      return;
    }
    const ConfigNode* body = child && child->is_map() ? child : nullptr;
    Origin origin = child ? child->origin : Origin::at(experiment_, /*line=*/0);
    read_struct(body, key(name), origin, experiment_, sub, errors_);
  }

  // Reports keys nobody declared, with the nearest declared one.
  void finish();

  template <class S>
  static void read_struct(const ConfigNode* node, const std::string& prefix, const Origin& origin,
                          const std::string& experiment, S& out, std::vector<std::string>& errors) {
    std::size_t before = errors.size();
    SchemaReader reader(node, prefix, origin, experiment, errors);
    out.visit(reader);
    reader.finish();
    // Cross-field rules on values that failed to parse would only add noise.
    if constexpr (has_check<S>::value) {
      if (errors.size() == before) {
        SectionCheck check(node, prefix, origin, errors);
        out.check(check);
      }
    }
  }

 private:
  std::string key(const std::string& name) const { return prefix_.empty() ? name : prefix_ + "." + name; }
  void missing(const std::string& name);

  const ConfigNode* node_;
  std::string prefix_;
  Origin origin_;
  std::string experiment_;
  std::vector<std::string>& errors_;
  std::vector<std::string> known_;
};

// Emits a struct as YAML, every key with its current value.
class SchemaWriter {
 public:
  explicit SchemaWriter(YAML::Emitter& out) : out_(out) {}

  template <class T, class... Options>
  void field(const char* name, const T& value, const Options&...) {
    out_ << YAML::Key << name << YAML::Value;
    write_value(out_, value);
  }

  template <class S>
  void section(const char* name, S& sub, const char* = "") {
    out_ << YAML::Key << name << YAML::Value << YAML::BeginMap;
    sub.visit(*this);
    out_ << YAML::EndMap;
  }

 private:
  YAML::Emitter& out_;
};

// One row of the key reference in docs/configs.md.
struct KeyDoc {
  std::string key, type, default_value, allowed, doc;
};

class SchemaDescriber {
 public:
  SchemaDescriber(std::string prefix, std::vector<KeyDoc>& rows) : prefix_(std::move(prefix)), rows_(rows) {}

  template <class T, class... Options>
  void field(const char* name, const T& value, const Options&... options) {
    FieldSpec spec = make_field_spec<T>(options...);
    std::string allowed;
    if (spec.range) allowed = spec.range->describe();
    for (const auto& choice : spec.choices) allowed += (allowed.empty() ? "" : ", ") + choice;
    std::string fallback = spec.required ? "required" : format_value(value);
    rows_.push_back(KeyDoc{key(name), type_name<T>(), fallback, allowed, spec.doc});
  }

  template <class S>
  void section(const char* name, S& sub, const char* = "") {
    SchemaDescriber inner(key(name), rows_);
    sub.visit(inner);
  }

 private:
  std::string key(const std::string& name) const { return prefix_.empty() ? name : prefix_ + "." + name; }
  std::string prefix_;
  std::vector<KeyDoc>& rows_;
};

// Collects a comparator per field so two structs compare field by field.
class FieldComparer {
 public:
  explicit FieldComparer(std::vector<std::function<bool(const FieldComparer&, std::size_t)>>* compare = nullptr)
      : compare_(compare) {}

  template <class T, class... Options>
  void field(const char*, T& value, const Options&...) {
    const T* mine = &value;
    fields_.push_back(mine);
    if (compare_)
      compare_->push_back([mine](const FieldComparer& other, std::size_t i) {
        return *mine == *static_cast<const T*>(other.fields_[i]);
      });
  }

  template <class S>
  void section(const char*, S& sub, const char* = "") {
    sub.visit(*this);
  }

  std::vector<const void*> fields_;

 private:
  std::vector<std::function<bool(const FieldComparer&, std::size_t)>>* compare_;
};

// ---- entry points --------------------------------------------------------

// Reads and validates the whole tree as S; throws one hmt::Error listing
// every problem, one per line.
template <class S>
S parse_struct(const ConfigTree& tree) {
  S out{};
  std::vector<std::string> errors;
  SchemaReader::read_struct(&tree.root, "", Origin::at(tree.source, /*line=*/0), tree.source, out, errors);
  if (!errors.empty()) throw Error(fmt::format("{}", fmt::join(errors, "\n")));
  return out;
}

template <class S>
std::string emit_struct(const S& value) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  SchemaWriter writer(out);
  const_cast<S&>(value).visit(writer);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

template <class S>
std::vector<KeyDoc> describe_struct() {
  S defaults{};
  std::vector<KeyDoc> rows;
  SchemaDescriber describer("", rows);
  defaults.visit(describer);
  return rows;
}

template <class S>
bool equal_structs(const S& a, const S& b) {
  std::vector<std::function<bool(const FieldComparer&, std::size_t)>> compare;
  FieldComparer left(&compare), right;
  const_cast<S&>(a).visit(left);
  const_cast<S&>(b).visit(right);
  for (std::size_t i = 0; i < compare.size(); ++i)
    if (!compare[i](right, i)) return false;
  return true;
}

}  // namespace hmt::config
