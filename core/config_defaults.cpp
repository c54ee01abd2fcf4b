#include "core/config_defaults.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

#include <fmt/ranges.h>

#include "core/config_suggest.h"
#include "core/error.h"

namespace hmt {
namespace fs = std::filesystem;

std::string config_root(const std::string& experiment_path) {
  fs::path file = fs::path(experiment_path).lexically_normal();
  for (fs::path dir = file.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (dir.filename() == "configs") return dir.string();
    if (dir == dir.parent_path()) break;
  }
  return file.parent_path().string();
}

namespace {

// One resolved line of a defaults list.
struct Step {
  bool self = false;
  std::string file;
  std::string group;    // the group directory the file lives in ("" = root)
  std::string package;  // dotted key the file's content is merged under
  Origin origin;
};

std::string package_of(const std::string& group_path) {
  std::string package = group_path;
  std::replace(package.begin(), package.end(), '/', '.');
  return package;
}

ConfigNode wrap(ConfigNode node, const std::string& package, const Origin& origin) {
  if (package.empty()) return node;
  auto parts = split_key(package);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    ConfigNode parent = ConfigNode::map(origin);
    parent.entries.emplace_back(*it, std::move(node));
    node = std::move(parent);
  }
  return node;
}

std::vector<std::string> options_in(const fs::path& dir) {
  std::vector<std::string> options;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") options.push_back(entry.path().stem().string());
  std::sort(options.begin(), options.end());
  return options;
}

class Composer {
 public:
  Composer(std::string root, const std::map<std::string, GroupChoice>& choices, std::set<std::string>& used)
      : root_(std::move(root)), choices_(choices), used_(used) {}

  ConfigNode compose(const std::string& file, const std::string& group, const std::string& package,
                     const Origin& included_from) {
    std::string canonical = fs::weakly_canonical(file).string();
    if (std::find(stack_.begin(), stack_.end(), canonical) != stack_.end()) {
      std::vector<std::string> chain = files_;
      chain.push_back(file);
      fail("{}: defaults cycle: {}", included_from.describe(), fmt::join(chain, " -> "));
    }
    stack_.push_back(canonical);
    files_.push_back(file);

    ConfigNode own = load_yaml_file(file);
    if (own.is_null()) own = ConfigNode::map(Origin::at(file, /*line=*/0));
    HMT_CHECK(own.is_map(), "{}: a config file must be a mapping at the top level, got {}", file, own.describe());
    std::vector<Step> steps = read_defaults(own, file, group, package);
    own.erase("defaults");

    ConfigNode result = ConfigNode::map(Origin::at(file, /*line=*/0));
    for (const Step& step : steps) {
      if (step.self) merge_into(result, wrap(own, package, own.origin));
      else merge_into(result, compose(step.file, step.group, step.package, step.origin));
    }
    stack_.pop_back();
    files_.pop_back();
    return result;
  }

 private:
  std::vector<Step> read_defaults(const ConfigNode& own, const std::string& file, const std::string& group,
                                  const std::string& package) {
    std::vector<Step> steps;
    bool has_self = false;
    const ConfigNode* list = own.find("defaults");
    if (list && !list->is_null()) {
      HMT_CHECK(list->is_sequence(), "{}: defaults: expected a list, got {}", list->origin.describe(),
                list->describe());
      for (const ConfigNode& item : list->items) {
        if (item.is_scalar() && item.scalar == "_self_") {
          HMT_CHECK(!has_self, "{}: defaults: _self_ is listed twice", item.origin.describe());
          has_self = true;
          steps.push_back(Step{/*self=*/true, {}, {}, {}, item.origin});
        } else if (item.is_scalar()) {
          steps.push_back(plain_entry(item, group, package));
        } else if (item.is_map() && item.entries.size() == 1) {
          if (auto step = group_entry(item, group)) steps.push_back(*step);
        } else {
          fail("{}: defaults entry must be 'name', 'group: option' or _self_, got {}", item.origin.describe(),
               item.describe());
        }
      }
    }
    // Hydra 1.1+: a file's own values override what its defaults bring in.
    if (!has_self) steps.push_back(Step{/*self=*/true, {}, {}, {}, Origin::at(file, /*line=*/0)});
    return steps;
  }

  Step plain_entry(const ConfigNode& item, const std::string& group, const std::string& package) {
    bool absolute = !item.scalar.empty() && item.scalar[0] == '/';
    std::string name = absolute ? item.scalar.substr(1) : item.scalar;
    std::string path = absolute || group.empty() ? name : group + "/" + name;
    std::string file = existing_file(path, fmt::format("'{}'", item.scalar), item.origin, nullptr);
    std::string parent = fs::path(path).parent_path().generic_string();
    return Step{/*self=*/false, file, parent, package, item.origin};
  }

  std::optional<Step> group_entry(const ConfigNode& item, const std::string& group) {
    const auto& [key, value] = item.entries.front();
    HMT_CHECK(key.find_first_of(" @") == std::string::npos,
              "{}: defaults entry '{}': the 'override', 'optional' and '@package' forms are not supported",
              item.origin.describe(), key);
    bool absolute = key[0] == '/';
    std::string name = absolute ? key.substr(1) : key;
    std::string group_path = absolute || group.empty() ? name : group + "/" + name;
    HMT_CHECK(value.is_null() || value.is_scalar(), "{}: defaults entry '{}': the option must be a name, got {}",
              item.origin.describe(), key, value.describe());

    std::string option = value.is_null() ? "null" : value.scalar;
    const GroupChoice* choice = nullptr;
    if (auto it = choices_.find(group_path); it != choices_.end()) {
      choice = &it->second;
      option = choice->option;
      used_.insert(group_path);
    }
    // `group: null` keeps the group in the list (so it can be chosen from
    // the command line) without loading anything by default.
    if (option == "null" || option.empty()) return std::nullopt;
    std::string label = fmt::format("'{}: {}'", key, option);
    std::string file = existing_file(group_path + "/" + option, label, item.origin, choice);
    return Step{/*self=*/false, file, group_path, package_of(group_path), item.origin};
  }

  std::string existing_file(const std::string& relative, const std::string& label, const Origin& origin,
                            const GroupChoice* choice) {
    fs::path file = (fs::path(root_) / (relative + ".yaml")).lexically_normal();
    if (fs::is_regular_file(file)) return file.string();
    fs::path dir = file.parent_path();
    std::string via = choice ? fmt::format(" (chosen by {})", choice->origin.describe()) : std::string();
    std::vector<std::string> options = options_in(dir);
    std::string hint = closest_match(file.stem().string(), options);
    fail("{}: defaults entry {}{}: {} does not exist{}; available options in {}: {}", origin.describe(), label, via,
         file.string(), hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
         dir.empty() ? "." : dir.string(), options.empty() ? "none" : fmt::format("{}", fmt::join(options, ", ")));
  }

  std::string root_;
  const std::map<std::string, GroupChoice>& choices_;
  std::set<std::string>& used_;
  std::vector<std::string> stack_;  // canonical paths, for cycle detection
  std::vector<std::string> files_;  // the same files as the user named them
};

}  // namespace

ConfigNode compose_defaults(const std::string& experiment_path, const std::map<std::string, GroupChoice>& choices,
                            std::set<std::string>& used) {
  Composer composer(config_root(experiment_path), choices, used);
  return composer.compose(fs::path(experiment_path).lexically_normal().string(), /*group=*/"", /*package=*/"",
                          Origin::at(experiment_path, /*line=*/0));
}

}  // namespace hmt
