#pragma once
// One config value: its constraints (range, choices, required), how it is
// read from a ConfigNode with a typed error, and how it is written back as
// YAML. The schema visitors (config_schema.h) are built from these.
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/ranges.h>
#include <yaml-cpp/emitter.h>

#include "core/config_tree.h"
#include "core/error.h"

namespace hmt::config {

// Numeric bounds, each end open or closed. Doubles hold every bound the
// schema needs exactly (all are far below 2^53).
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;

  static Range at_least(double lo) { return {lo, std::numeric_limits<double>::infinity(), false, false}; }
  static Range above(double lo) { return {lo, std::numeric_limits<double>::infinity(), true, false}; }
  static Range closed(double lo, double hi) { return {lo, hi, false, false}; }
  static Range half_open(double lo, double hi) { return {lo, hi, false, true}; }    // [lo, hi)
  static Range open_closed(double lo, double hi) { return {lo, hi, true, false}; }  // (lo, hi]

  bool contains(double v) const;
  std::string describe() const;  // ">= 1", "> 0", "[0, 1)", "(0, 1]"
};

struct Choices {
  std::vector<std::string> values;
  Choices(std::initializer_list<const char*> list) : values(list.begin(), list.end()) {}
};

struct Required {};
inline constexpr Required required{};

// Everything a field declaration says besides its name and storage.
struct FieldSpec {
  std::string doc;
  std::optional<Range> range;
  std::vector<std::string> choices;
  bool required = false;
};

inline void add_option(FieldSpec& spec, const Range& range) { spec.range = range; }
inline void add_option(FieldSpec& spec, const Choices& choices) { spec.choices = choices.values; }
inline void add_option(FieldSpec& spec, Required) { spec.required = true; }
inline void add_option(FieldSpec& spec, const char* doc) { spec.doc = doc; }

template <class... Options>
FieldSpec make_spec(const Options&... options) {
  FieldSpec spec;
  (add_option(spec, options), ...);
  return spec;
}

// ---- enums ---------------------------------------------------------------
// A key with a fixed set of names is held as an enum, so that the code past
// the config compares values instead of repeating the names. An enum E is a
// config value when `enum_names(E)`, declared next to E (argument-dependent
// lookup finds it), returns its {value, name} pairs; their order is the order
// the choices are listed in errors and docs/configs.md. In YAML, in errors
// and in the docs such a key is a string whose choices are those names.

template <class E>
struct EnumName {
  E value;
  const char* name;
};

template <class E, class = void>
struct is_config_enum : std::false_type {};
template <class E>
struct is_config_enum<E, std::void_t<decltype(enum_names(std::declval<E>()))>> : std::is_enum<E> {};

template <class E>
const char* enum_name(E value) {
  for (const auto& entry : enum_names(value))
    if (entry.value == value) return entry.name;
  return "?";  // only a cast can make a value outside the list
}

// nullopt when `name` is none of E's names.
template <class E>
std::optional<E> enum_from_name(const std::string& name) {
  for (const auto& entry : enum_names(E{}))
    if (name == entry.name) return entry.value;
  return std::nullopt;
}

// The text a value holding enums is read as (E: its name; lists and
// optionals element-wise), so that reading it fails exactly as a string key
// with those choices does: the same messages, at the same node, in the same
// order.
template <class T, class = void>
struct text_form {
  using type = T;
};
template <class E>
struct text_form<E, std::enable_if_t<is_config_enum<E>::value>> {
  using type = std::string;
};
template <class T>
struct text_form<std::vector<T>> {
  using type = std::vector<typename text_form<T>::type>;
};
template <class T>
struct text_form<std::optional<T>> {
  using type = std::optional<typename text_form<T>::type>;
};
template <class T>
using text_form_t = typename text_form<T>::type;
template <class T>
inline constexpr bool holds_enum_v = !std::is_same_v<text_form_t<T>, T>;

// The names of the enum inside T (E, a list of E, an optional E).
template <class T>
std::vector<std::string> enum_choices() {
  if constexpr (is_config_enum<T>::value) {
    std::vector<std::string> names;
    for (const auto& entry : enum_names(T{})) names.emplace_back(entry.name);
    return names;
  } else {
    return enum_choices<typename T::value_type>();
  }
}

// Text already checked against enum_choices<T>() back into T.
template <class E, std::enable_if_t<is_config_enum<E>::value, int> = 0>
void from_text(const std::string& text, E& out) {
  const std::optional<E> value = enum_from_name<E>(text);
  if (!value) fail("'{}' is not one of {}", text, fmt::join(enum_choices<E>(), ", "));
  out = *value;
}
template <class U, class T>
void from_text(const std::vector<U>& text, std::vector<T>& out) {
  std::vector<T> values(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) from_text(text[i], values[i]);
  out = std::move(values);
}
template <class U, class T>
void from_text(const std::optional<U>& text, std::optional<T>& out) {
  if (!text) {
    out.reset();
    return;
  }
  T value{};
  from_text(*text, value);
  out = value;
}

// The spec of a field of type T: an enum's choices are its names.
template <class T, class... Options>
FieldSpec make_field_spec(const Options&... options) {
  FieldSpec spec = make_spec(options...);
  if constexpr (holds_enum_v<T>) spec.choices = enum_choices<T>();
  return spec;
}

// ---- reading -------------------------------------------------------------
// Each reader throws hmt::Error "<origin>: <key>: expected ..., got ...".

void read_value(const ConfigNode& node, const std::string& key, bool& out);
void read_value(const ConfigNode& node, const std::string& key, double& out);
void read_value(const ConfigNode& node, const std::string& key, std::string& out);
std::int64_t read_int64(const ConfigNode& node, const std::string& key);
std::uint64_t read_uint64(const ConfigNode& node, const std::string& key);
[[noreturn]] void fail_value(const ConfigNode& node, const std::string& key, const std::string& message);

template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
void read_value(const ConfigNode& node, const std::string& key, T& out) {
  if constexpr (std::is_signed_v<T>) {
    std::int64_t v = read_int64(node, key);
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
      fail_value(node, key, fmt::format("integer {} does not fit in {} bits", v, 8 * sizeof(T)));
    out = static_cast<T>(v);
  } else {
    std::uint64_t v = read_uint64(node, key);
    if (v > std::numeric_limits<T>::max())
      fail_value(node, key, fmt::format("integer {} does not fit in {} bits", v, 8 * sizeof(T)));
    out = static_cast<T>(v);
  }
}

template <class T>
void read_value(const ConfigNode& node, const std::string& key, std::vector<T>& out) {
  if (!node.is_sequence()) fail_value(node, key, fmt::format("expected a list, got {}", node.describe()));
  std::vector<T> values(node.items.size());
  for (std::size_t i = 0; i < values.size(); ++i) read_value(node.items[i], fmt::format("{}[{}]", key, i), values[i]);
  out = std::move(values);
}

// null means "not given"; anything else must read as T.
template <class T>
void read_value(const ConfigNode& node, const std::string& key, std::optional<T>& out) {
  if (node.is_null()) {
    out.reset();
    return;
  }
  T value{};
  read_value(node, key, value);
  out = std::move(value);
}

// ---- constraints ---------------------------------------------------------

void check_constraints(const FieldSpec& spec, const ConfigNode& node, const std::string& key, double value);
void check_constraints(const FieldSpec& spec, const ConfigNode& node, const std::string& key, const std::string& value);
inline void check_constraints(const FieldSpec&, const ConfigNode&, const std::string&, bool) {}

template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
void check_constraints(const FieldSpec& spec, const ConfigNode& node, const std::string& key, T value) {
  check_constraints(spec, node, key, static_cast<double>(value));
}
template <class T>
void check_constraints(const FieldSpec& spec, const ConfigNode& node, const std::string& key,
                       const std::vector<T>& values) {
  for (const T& v : values) check_constraints(spec, node, key, v);
}
template <class T>
void check_constraints(const FieldSpec& spec, const ConfigNode& node, const std::string& key,
                       const std::optional<T>& value) {
  if (value) check_constraints(spec, node, key, *value);
}

// ---- writing -------------------------------------------------------------

// Shortest text that reads back as the same double, always with a '.' or
// exponent so that it reads as a float to a human too.
std::string format_double(double value);

inline void write_value(YAML::Emitter& out, bool value) { out << (value ? "true" : "false"); }
inline void write_value(YAML::Emitter& out, double value) { out << format_double(value); }
// Double-quoted so that "3" stays a string, with "${" escaped so that the
// saved file does not interpolate again.
void write_value(YAML::Emitter& out, const std::string& value);

template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
void write_value(YAML::Emitter& out, T value) {
  out << std::to_string(value);
}
template <class E, std::enable_if_t<is_config_enum<E>::value, int> = 0>
void write_value(YAML::Emitter& out, E value) {
  write_value(out, std::string(enum_name(value)));
}
template <class T>
void write_value(YAML::Emitter& out, const std::vector<T>& values) {
  out << YAML::Flow << YAML::BeginSeq;
  for (const T& v : values) write_value(out, v);
  out << YAML::EndSeq;
}
template <class T>
void write_value(YAML::Emitter& out, const std::optional<T>& value) {
  if (value) write_value(out, *value);
  else out << YAML::Null;
}

// ---- documentation -------------------------------------------------------

template <class T>
std::string type_name() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_same_v<T, double>) return "float";
  else if constexpr (std::is_same_v<T, std::string>) return "string";
  else if constexpr (std::is_same_v<T, std::uint64_t>) return "uint64";
  else if constexpr (std::is_integral_v<T>) return "int";
  else if constexpr (is_config_enum<T>::value) return "string";
  else if constexpr (std::is_same_v<T, std::vector<typename T::value_type>>)
    return "list of " + type_name<typename T::value_type>();
  else return type_name<typename T::value_type>();  // std::optional<T>
}

// The value as it appears in YAML, for the documentation table.
template <class T>
std::string format_value(const T& value) {
  YAML::Emitter out;
  write_value(out, value);
  return out.c_str();
}

}  // namespace hmt::config
