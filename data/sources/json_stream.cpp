#include "data/sources/json_stream.h"

#include <fstream>
#include <vector>

#include "core/error.h"

namespace hmt {
namespace {

using json = nlohmann::json;

// Builds each member value of the top-level object with a stack of the
// containers under construction; depth 0 is the top-level object itself.
class MemberSax : public nlohmann::json_sax<json> {
 public:
  MemberSax(const std::string& path, const std::function<void(const std::string&, json&&)>& member)
      : path_(path), member_(member) {}

  bool null() override { return value(json(nullptr)); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override { return value(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return value(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
  bool string(string_t& v) override { return value(json(std::move(v))); }
  bool binary(binary_t& v) override { return value(json::binary(std::move(v))); }
  bool start_object(std::size_t) override {
    if (!top_seen_) {
      top_seen_ = true;
      return true;
    }
    return open(json::object());
  }
  bool key(string_t& k) override {
    if (stack_.empty()) member_key_ = k;
    else pending_key_ = k;
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override {
    if (!top_seen_) fail("{}: expected a JSON object (key -> record) at the top level, found an array", path_);
    return open(json::array());
  }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    // nlohmann's position counts from 1; the message already says what was read.
    fail("{}: malformed JSON: {}", json_location(path_, position > 0 ? position - 1 : 0), e.what());
  }

 private:
  bool value(json&& v) {
    if (!top_seen_) fail("{}: expected a JSON object (key -> record) at the top level, found {}", path_, v.dump());
    if (stack_.empty()) {
      member_(member_key_, std::move(v));
      return true;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) parent.push_back(std::move(v));
    else parent[pending_key_] = std::move(v);
    return true;
  }
  bool open(json&& container) {
    if (stack_.empty()) {
      root_ = std::move(container);
      stack_.push_back(&root_);
      return true;
    }
    json& parent = *stack_.back();
    // Pointers along the open path stay valid: a container is only appended
    // to while it is the innermost open one.
    if (parent.is_array()) {
      parent.push_back(std::move(container));
      stack_.push_back(&parent.back());
    } else {
      stack_.push_back(&(parent[pending_key_] = std::move(container)));
    }
    return true;
  }
  bool close() {
    if (stack_.empty()) return true;  // the top-level object ends
    stack_.pop_back();
    if (stack_.empty()) member_(member_key_, std::move(root_));
    return true;
  }

  const std::string& path_;
  const std::function<void(const std::string&, json&&)>& member_;
  bool top_seen_ = false;
  std::string member_key_, pending_key_;
  json root_;
  std::vector<json*> stack_;
};

}  // namespace

std::string json_location(const std::string& path, size_t byte) {
  std::ifstream in(path, std::ios::binary);
  size_t line = 1, column = 1;
  char c = 0;
  for (size_t i = 0; i < byte && in.get(c); ++i) {
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return fmt::format("{}:{}:{}", path, line, column);
}

void for_each_json_member(const std::string& path,
                          const std::function<void(const std::string& key, nlohmann::json&& value)>& member) {
  std::ifstream in(path, std::ios::binary);
  HMT_CHECK(in.good(), "{}: cannot open for reading", path);
  MemberSax sax(path, member);
  json::sax_parse(in, &sax);
  HMT_CHECK(!in.bad(), "{}: read failed", path);
}

}  // namespace hmt
