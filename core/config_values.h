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
#include <vector>

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
  static Range half_open(double lo, double hi) { return {lo, hi, false, true}; }  // [lo, hi)
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
  for (std::size_t i = 0; i < values.size(); ++i)
    read_value(node.items[i], fmt::format("{}[{}]", key, i), values[i]);
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
void check_constraints(const FieldSpec& spec, const ConfigNode& node, const std::string& key,
                       const std::string& value);
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
template <class T>
void write_value(YAML::Emitter& out, const std::vector<T>& values) {
  out << YAML::Flow << YAML::BeginSeq;
  for (const T& v : values) write_value(out, v);
  out << YAML::EndSeq;
}
template <class T>
void write_value(YAML::Emitter& out, const std::optional<T>& value) {
  if (value)
    write_value(out, *value);
  else
    out << YAML::Null;
}

// ---- documentation -------------------------------------------------------

template <class T>
std::string type_name() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_same_v<T, double>) return "float";
  else if constexpr (std::is_same_v<T, std::string>) return "string";
  else if constexpr (std::is_same_v<T, std::uint64_t>) return "uint64";
  else if constexpr (std::is_integral_v<T>) return "int";
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
