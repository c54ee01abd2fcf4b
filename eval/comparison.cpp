#include "eval/comparison.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "eval/recall_task.h"
#include "trainer/metrics.h"

namespace hmt {
namespace fs = std::filesystem;
namespace {

using json = nlohmann::json;

const json* first_with(const json& report, const char* key) {
  for (const auto& entry : report.at("results"))
    if (entry.contains(key)) return &entry;
  return nullptr;
}

std::string row(const std::vector<std::string>& cells) {
  std::string out = "|";
  for (const auto& c : cells) out += " " + c + " |";
  return out + "\n";
}

std::string rule(size_t columns) {
  std::string out = "|";
  for (size_t i = 0; i < columns; ++i) out += " --- |";
  return out + "\n";
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace

Labeled parse_labeled(const std::string& argument, const std::string& option) {
  const auto eq = argument.find('=');
  HMT_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < argument.size(), "{}: expected LABEL=PATH, got '{}'", option,
            argument);
  return {argument.substr(0, eq), argument.substr(eq + 1)};
}

std::string compare_evaluations(const std::vector<std::pair<std::string, json>>& reports) {
  HMT_CHECK(!reports.empty(), "compare: no eval report given");
  bool any_ppl = false;
  for (const auto& [label, report] : reports)
    any_ppl = any_ppl || first_with(report, "contexts") || first_with(report, "documents");
  if (!any_ppl) return "";
  std::vector<std::string> header{"context (tokens)"};
  std::set<int64_t> contexts;
  std::vector<std::map<int64_t, double>> ppl(reports.size());
  for (size_t i = 0; i < reports.size(); ++i) {
    const auto& [label, report] = reports[i];
    const json* entry = first_with(report, "contexts");
    header.push_back(label + (entry ? " (" + (*entry)["mode"].get<std::string>() + ")" : ""));
    if (!entry) continue;
    for (const auto& r : (*entry)["contexts"]) {
      contexts.insert(r["context"].get<int64_t>());
      ppl[i][r["context"].get<int64_t>()] = r["ppl"].get<double>();
    }
  }
  std::string out = row(header) + rule(header.size());
  for (int64_t context : contexts) {
    std::vector<std::string> cells{std::to_string(context)};
    for (const auto& values : ppl) {
      auto it = values.find(context);
      cells.push_back(it == values.end() ? "-" : fmt::format("{:.2f}", it->second));
    }
    out += row(cells);
  }
  bool any_documents = false;
  std::vector<std::string> documents{"whole documents"};
  std::vector<std::string> parameters{"parameters (HMT adds)"};
  for (const auto& [label, report] : reports) {
    const json* entry = first_with(report, "documents");
    any_documents = any_documents || entry != nullptr;
    documents.push_back(entry ? fmt::format("{:.2f}", (*entry)["documents"]["ppl"].get<double>()) : "-");
    const auto backbone = report["parameters"]["backbone"].get<int64_t>();
    const auto added = report["parameters"]["hmt"].get<int64_t>();
    const auto& mode = report.at("results").at(0)["mode"];
    const bool memory = mode != "backbone" && mode != "full";
    parameters.push_back(memory ? fmt::format("{} (+{:.2f}%)", backbone + added,
                                              100.0 * static_cast<double>(added) / static_cast<double>(backbone))
                                : std::to_string(backbone));
  }
  if (any_documents) out += row(documents);
  out += row(parameters);
  return out;
}

std::string compare_recall(const std::vector<std::pair<std::string, json>>& reports) {
  std::vector<std::string> header{"D (segments)"}, all{"all"};
  std::vector<std::map<int64_t, std::string>> accuracy;
  std::set<int64_t> distances;
  double chance = -1;
  for (const auto& [label, report] : reports) {
    for (const auto& entry : report.at("results")) {
      if (!entry.contains("recall_task")) continue;
      const auto& task = entry["recall_task"];
      header.push_back(label + " (" + entry["mode"].get<std::string>() + ")");
      all.push_back(format_recall_rate(task));
      if (chance < 0) chance = task["chance"].get<double>();
      auto& column = accuracy.emplace_back();
      for (const auto& r : task["distances"]) {
        distances.insert(r["distance"].get<int64_t>());
        column[r["distance"].get<int64_t>()] = format_recall_rate(r);
      }
    }
  }
  if (accuracy.empty()) return "";
  std::string out = row(header) + rule(header.size());
  for (int64_t d : distances) {
    std::vector<std::string> cells{std::to_string(d)};
    for (const auto& column : accuracy) {
      auto it = column.find(d);
      cells.push_back(it == column.end() ? "-" : it->second);
    }
    out += row(cells);
  }
  out += row(all);
  std::vector<std::string> chance_row{"chance"};
  chance_row.resize(header.size(), fmt::format("{:.1f}%", 100.0 * chance));
  out += row(chance_row);

  // Where recall looks at the query segment, for the entries that measured it
  // (eval/recall_task.h): weight on the asked fact's memory / share largest.
  std::vector<std::string> recall_header{"D (segments)"};
  std::vector<std::map<int64_t, std::string>> recall_cells;
  for (const auto& [label, report] : reports)
    for (const auto& entry : report.at("results")) {
      if (!entry.contains("recall_task")) continue;
      const auto& rows = entry["recall_task"]["distances"];
      if (rows.empty() || !rows[0].contains("fact_recall_weight")) continue;
      recall_header.push_back(label + " (" + entry["mode"].get<std::string>() + ")");
      auto& column = recall_cells.emplace_back();
      for (const auto& r : rows)
        column[r["distance"].get<int64_t>()] = r.contains("other_facts_recall_weight")
                                                   ? fmt::format("{:.2f} / {:.2f} / {:.0f}%",
                                                                 r["fact_recall_weight"].get<double>(),
                                                                 r["other_facts_recall_weight"].get<double>(),
                                                                 100.0 * r["fact_strongest"].get<double>())
                                                   : fmt::format("{:.2f} / {:.0f}%",
                                                                 r["fact_recall_weight"].get<double>(),
                                                                 100.0 * r["fact_strongest"].get<double>());
    }
  if (recall_cells.empty()) return out;
  out += "\nrecall at the query segment: weight on the memory of the asked fact's segment / (several facts: on "
         "those of the other facts /) how often the asked fact's is the largest\n";
  out += row(recall_header) + rule(recall_header.size());
  for (int64_t d : distances) {
    std::vector<std::string> cells{std::to_string(d)};
    for (const auto& column : recall_cells) {
      auto it = column.find(d);
      cells.push_back(it == column.end() ? "-" : it->second);
    }
    out += row(cells);
  }
  return out;
}

std::string compare_runs(const std::vector<Labeled>& runs) {
  HMT_CHECK(!runs.empty(), "compare: no run given");
  std::string out = row({"run", "stage", "steps", "first loss", "last loss", "valid PPL", "median tokens/s"}) + rule(7);
  for (const auto& [label, dir] : runs) {
    const std::string path = (fs::path(dir) / "metrics.jsonl").string();
    struct Stage {
      int64_t steps = 0;
      double first = NAN, last = NAN, valid = NAN;
      std::vector<double> speed;
    };
    std::vector<std::pair<std::string, Stage>> stages;
    auto stage_of = [&](const std::string& name) -> Stage& {
      for (auto& [n, s] : stages)
        if (n == name) return s;
      stages.emplace_back(name, Stage{});
      return stages.back().second;
    };
    for (const auto& r : read_metrics(path)) {
      const std::string kind = r.value("kind", "");
      if (kind != "train" && kind != "valid") continue;
      Stage& s = stage_of(r["stage"].get<std::string>());
      if (kind == "valid") {
        if (r["valid_ppl"].is_number()) s.valid = r["valid_ppl"].get<double>();
        continue;
      }
      s.steps = std::max<int64_t>(s.steps, r["step"].get<int64_t>());
      if (r["loss"].is_number()) {
        if (std::isnan(s.first)) s.first = r["loss"].get<double>();
        s.last = r["loss"].get<double>();
      }
      s.speed.push_back(r["tokens_per_s"].get<double>());
    }
    HMT_CHECK(!stages.empty(), "{}: no training rows", path);
    auto number = [](double v, const char* format) {
      return std::isnan(v) ? std::string("-") : fmt::format(format, v);
    };
    for (const auto& [name, s] : stages)
      out += row({label, name, std::to_string(s.steps), number(s.first, "{:.3f}"), number(s.last, "{:.3f}"),
                  number(s.valid, "{:.2f}"), fmt::format("{:.0f}", median(s.speed))});
  }
  return out;
}

}  // namespace hmt
