#pragma once
// Side-by-side figures of several models (`hmt compare`, the end of `make
// demo`): PPL by context length from `hmt eval` reports, the parameters HMT
// adds, and training throughput and losses from runs' metrics.jsonl, as
// markdown tables.
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace hmt {

using Labeled = std::pair<std::string, std::string>;  // label, path

// | context | label1 | label2 | ... |: each report's first mode with
// context results; a missing context is "-". Then a "whole documents" row
// when the reports have one, and the parameter counts. Empty when no report
// has context or document results (recall reports: compare_recall).
std::string compare_evaluations(const std::vector<std::pair<std::string, nlohmann::json>>& reports);

// | D (segments) | label1 (mode) | ... |: exact-match accuracy (%) of every
// (report, mode) with recall results (a passkey split) per fact distance,
// then "all" and the chance level of the first report; "-" where a column
// has no sample at that distance. Empty when no report has recall results.
std::string compare_recall(const std::vector<std::pair<std::string, nlohmann::json>>& reports);

// | run | stage | steps | first loss | last loss | valid PPL | median tokens/s |
std::string compare_runs(const std::vector<Labeled>& runs);

// "LABEL=PATH" -> {LABEL, PATH}; errors name the argument.
Labeled parse_labeled(const std::string& argument, const std::string& option);

}  // namespace hmt
