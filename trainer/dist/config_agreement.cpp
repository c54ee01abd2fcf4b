#include "trainer/dist/config_agreement.h"

#include <yaml-cpp/yaml.h>

#include <cstring>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace hmt::dist {
namespace {

void flatten(const YAML::Node& node, const std::string& prefix, std::ostringstream& out) {
  if (node.IsMap()) {
    for (const auto& item : node)
      flatten(item.second, prefix.empty() ? item.first.Scalar() : prefix + "." + item.first.Scalar(), out);
  } else if (node.IsSequence()) {
    std::ostringstream items;
    items << "[";
    for (std::size_t i = 0; i < node.size(); ++i) items << (i ? ", " : "") << YAML::Dump(node[i]);
    out << prefix << ": " << items.str() << "]\n";
  } else {
    out << prefix << ": " << (node.IsNull() ? std::string("null") : node.Scalar()) << "\n";
  }
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The text of `root`'s rank, on every rank: its length, then its bytes.
std::string broadcast_text(Communicator& comm, const std::string& text, int root) {
  auto length = torch::tensor({static_cast<int64_t>(text.size())}, torch::kLong);
  comm.broadcast_(length, root);
  auto bytes = torch::zeros({length.item<int64_t>()}, torch::kUInt8);
  if (comm.rank() == root) std::memcpy(bytes.data_ptr<uint8_t>(), text.data(), text.size());
  comm.broadcast_(bytes, root);
  return std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), static_cast<size_t>(bytes.numel()));
}

}  // namespace

std::string flatten_yaml(const std::string& text) {
  std::ostringstream out;
  flatten(YAML::Load(text), "", out);
  return out.str();
}

std::string first_difference(const std::string& root, const std::string& mine, int rank) {
  const auto a = lines_of(root), b = lines_of(mine);
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const std::string x = i < a.size() ? a[i] : "(nothing)", y = i < b.size() ? b[i] : "(nothing)";
    if (x == y) continue;
    const auto colon = x.find(": "), colon_b = y.find(": ");
    const std::string key = x.substr(0, colon), key_b = y.substr(0, colon_b);
    if (colon != std::string::npos && key == key_b)
      return fmt::format("{}: rank 0 has {}, rank {} has {}", key, x.substr(colon + 2), rank, y.substr(colon_b + 2));
    return fmt::format("rank 0 has `{}` where rank {} has `{}`", x, rank, y);
  }
  return "";
}

void check_ranks_agree(Communicator& comm, const std::string& text) {
  if (comm.world() == 1) return;
  const std::string root = broadcast_text(comm, text, /*root=*/0);
  const std::string difference = first_difference(root, text, comm.rank());
  // The lowest rank that differs tells every rank what it found.
  auto differs = torch::zeros({comm.world()}, torch::kDouble);
  if (!difference.empty()) differs[comm.rank()] = 1.0;
  comm.all_reduce_sum_(differs);
  int first = -1;
  for (int r = 0; r < comm.world() && first < 0; ++r)
    if (differs[r].item<double>() > 0) first = r;
  if (first < 0) return;
  const std::string message = broadcast_text(comm, difference, first);
  fail("the ranks' experiments differ, every rank must run the same one: {}", message);
}

}  // namespace hmt::dist
