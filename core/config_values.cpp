#include "core/config_values.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/ranges.h>

namespace hmt::config {

bool Range::contains(double v) const {
  if (std::isnan(v)) return false;
  bool above_lo = lo_open ? v > lo : v >= lo;
  bool below_hi = hi_open ? v < hi : v <= hi;
  return above_lo && below_hi;
}

std::string Range::describe() const {
  bool lo_bounded = std::isfinite(lo), hi_bounded = std::isfinite(hi);
  if (lo_bounded && !hi_bounded) return fmt::format("{} {}", lo_open ? ">" : ">=", lo);
  if (!lo_bounded && hi_bounded) return fmt::format("{} {}", hi_open ? "<" : "<=", hi);
  if (!lo_bounded && !hi_bounded) return "any";
  return fmt::format("{}{}, {}{}", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
}

void fail_value(const ConfigNode& node, const std::string& key, const std::string& message) {
  fail("{}: {}: {}", node.origin.describe(), key, message);
}

namespace {

// What a value looked like, for "expected X, got Y".
std::string shown(const ConfigNode& node) {
  if (node.is_scalar() && node.quoted) return "string '" + node.scalar + "'";
  return node.describe();
}

// A plain scalar the caller may read as a number; quoted text never is one.
const std::string& number_text(const ConfigNode& node, const std::string& key, const char* expected) {
  if (!node.is_scalar() || node.quoted)
    fail_value(node, key, fmt::format("expected {}, got {}", expected, shown(node)));
  return node.scalar;
}

template <class T>
T parse_integer(const ConfigNode& node, const std::string& key, const char* expected) {
  const std::string& text = number_text(node, key, expected);
  std::string digits = text;
  if (!digits.empty() && digits[0] == '+') digits.erase(0, 1);
  T value{};
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc::result_out_of_range)
    fail_value(node, key, fmt::format("integer '{}' is out of range for {}", text, expected));
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty())
    fail_value(node, key, fmt::format("expected {}, got '{}'", expected, text));
  return value;
}

}  // namespace

void read_value(const ConfigNode& node, const std::string& key, bool& out) {
  // YAML 1.2 booleans only: yes/no/on/off are strings, not flags.
  if (node.is_scalar() && !node.quoted) {
    const std::string& s = node.scalar;
    if (s == "true" || s == "True" || s == "TRUE") return void(out = true);
    if (s == "false" || s == "False" || s == "FALSE") return void(out = false);
  }
  fail_value(node, key, fmt::format("expected a boolean (true or false), got {}", shown(node)));
}

void read_value(const ConfigNode& node, const std::string& key, double& out) {
  const std::string& text = number_text(node, key, "a number");
  if (text == ".inf" || text == "+.inf" || text == ".Inf") return void(out = std::numeric_limits<double>::infinity());
  if (text == "-.inf" || text == "-.Inf") return void(out = -std::numeric_limits<double>::infinity());
  if (text == ".nan" || text == ".NaN") return void(out = std::numeric_limits<double>::quiet_NaN());
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(text.c_str(), &end);
  bool digits_only = text.find_first_not_of("0123456789+-.eE") == std::string::npos;
  if (text.empty() || !digits_only || end != text.c_str() + text.size())
    fail_value(node, key, fmt::format("expected a number, got '{}'", text));
  if (errno == ERANGE && std::isinf(value))
    fail_value(node, key, fmt::format("number '{}' is out of range for a double", text));
  out = value;
}

void read_value(const ConfigNode& node, const std::string& key, std::string& out) {
  // An unquoted 3 is accepted as the text "3": a path or name that happens
  // to look like a number should not need quotes.
  if (!node.is_scalar()) fail_value(node, key, fmt::format("expected a string, got {}", node.describe()));
  out = node.scalar;
}

std::int64_t read_int64(const ConfigNode& node, const std::string& key) {
  return parse_integer<std::int64_t>(node, key, "an integer");
}

std::uint64_t read_uint64(const ConfigNode& node, const std::string& key) {
  const std::string& text = number_text(node, key, "a non-negative integer");
  if (!text.empty() && text[0] == '-')
    fail_value(node, key, fmt::format("expected a non-negative integer, got '{}'", text));
  return parse_integer<std::uint64_t>(node, key, "a non-negative integer");
}

void check_constraints(const FieldSpec& spec, const ConfigNode& node, const std::string& key, double value) {
  if (spec.range && !spec.range->contains(value))
    fail_value(node, key,
               fmt::format("{} is out of range {}", node.is_scalar() ? node.scalar : node.describe(),
                           spec.range->describe()));
}

void check_constraints(const FieldSpec& spec, const ConfigNode& node, const std::string& key,
                       const std::string& value) {
  if (spec.choices.empty()) return;
  for (const auto& choice : spec.choices)
    if (choice == value) return;
  fail_value(node, key, fmt::format("'{}' is not one of {}", value, fmt::join(spec.choices, ", ")));
}

std::string format_double(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

void write_value(YAML::Emitter& out, const std::string& value) {
  std::string escaped;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value.compare(i, 2, "${") == 0) escaped += '\\';
    escaped += value[i];
  }
  out << YAML::DoubleQuoted << escaped;
}

}  // namespace hmt::config
