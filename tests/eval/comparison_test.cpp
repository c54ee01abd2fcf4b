// hmt compare's tables from hand-written eval reports and metrics files.
#include <catch2/catch.hpp>

#include <filesystem>

#include "eval/comparison.h"
#include "tests/test_paths.h"
#include "trainer/metrics.h"

using nlohmann::json;

namespace {

json report(const std::string& mode, std::vector<std::pair<int64_t, double>> contexts, int64_t backbone,
            int64_t added) {
  json rows = json::array();
  for (auto [x, ppl] : contexts) rows.push_back({{"context", x}, {"ppl", ppl}});
  return {{"parameters", {{"backbone", backbone}, {"hmt", added}}},
          {"results", json::array({{{"mode", mode}, {"contexts", rows}}})}};
}

}  // namespace

TEST_CASE("compare: PPL by context side by side, missing contexts as '-', HMT's added parameters", "[eval]") {
  auto table = hmt::compare_evaluations({{"backbone", report("backbone", {{64, 300.5}, {256, 300.5}}, 1000, 0)},
                                         {"hmt", report("hmt", {{64, 250.25}, {1024, 240.0}}, 1000, 25)}});
  CHECK(table.find("| context (tokens) | backbone (backbone) | hmt (hmt) |") != std::string::npos);
  CHECK(table.find("| 64 | 300.50 | 250.25 |") != std::string::npos);
  CHECK(table.find("| 256 | 300.50 | - |") != std::string::npos);
  CHECK(table.find("| 1024 | - | 240.00 |") != std::string::npos);
  CHECK(table.find("1025 (+2.50%)") != std::string::npos);
  CHECK(table.find("whole documents") == std::string::npos);
}

TEST_CASE("compare: recall accuracy by distance for every mode of every report, with the chance level", "[eval]") {
  auto task = [](int64_t correct1, int64_t correct8, bool far) {
    json distances =
        json::array({{{"distance", 1}, {"samples", 4}, {"correct", correct1}, {"accuracy", correct1 / 4.0}}});
    if (far)
      distances.push_back({{"distance", 8}, {"samples", 4}, {"correct", correct8}, {"accuracy", correct8 / 4.0}});
    const int64_t samples = far ? 8 : 4;
    return json{{"samples", samples},
                {"correct", correct1 + correct8},
                {"accuracy", static_cast<double>(correct1 + correct8) / static_cast<double>(samples)},
                {"chance", 0.1},
                {"distances", distances}};
  };
  json hmt_report = {{"results", json::array({{{"mode", "hmt"}, {"recall_task", task(4, 3, true)}},
                                              {{"mode", "backbone"}, {"recall_task", task(1, 0, true)}}})}};
  json rmt_report = {{"results", json::array({{{"mode", "rmt"}, {"recall_task", task(2, 0, false)}}})}};
  auto table = hmt::compare_recall({{"hmt", hmt_report}, {"rmt", rmt_report}});
  CHECK(table.find("| D (segments) | hmt (hmt) | hmt (backbone) | rmt (rmt) |") != std::string::npos);
  // In brackets the 95% Wilson interval of each rate (tests/eval/binomial_interval_test.cpp
  // checks the bounds; these are the same bisection's, rounded).
  CHECK(table.find("| 1 | 100.0% (51-100) | 25.0% (5-70) | 50.0% (15-85) |") != std::string::npos);
  CHECK(table.find("| 8 | 75.0% (30-95) | 0.0% (0-49) | - |") != std::string::npos);
  CHECK(table.find("| all | 87.5% (53-98) | 12.5% (2-47) | 50.0% (15-85) |") != std::string::npos);
  CHECK(table.find("| chance | 10.0% | 10.0% | 10.0% |") != std::string::npos);
  CHECK(table.find("recall at the query segment") == std::string::npos);  // no entry measured it
  // The hmt entry's recall at the query segment gets a table of its own.
  for (auto& r : hmt_report["results"][0]["recall_task"]["distances"]) {
    r["fact_recall_weight"] = r["distance"] == 1 ? 0.875 : 0.25;
    r["fact_strongest"] = r["distance"] == 1 ? 1.0 : 0.5;
  }
  table = hmt::compare_recall({{"hmt", hmt_report}, {"rmt", rmt_report}});
  CHECK(table.find("recall at the query segment") != std::string::npos);
  CHECK(table.find("| D (segments) | hmt (hmt) |\n") != std::string::npos);
  CHECK(table.find("| 1 | 0.88 / 100% |") != std::string::npos);
  CHECK(table.find("| 8 | 0.25 / 50% |") != std::string::npos);
  hmt_report["results"][0]["recall_task"]["distances"][1]["other_facts_recall_weight"] = 0.625;
  CHECK(hmt::compare_recall({{"hmt", hmt_report}}).find("| 8 | 0.25 / 0.62 / 50% |") != std::string::npos);
  // A hand-written report without counts gives the rate alone.
  for (auto& r : hmt_report["results"][0]["recall_task"]["distances"]) r.erase("correct");
  CHECK(hmt::compare_recall({{"hmt", hmt_report}}).find("| 8 | 75.0% |") != std::string::npos);
  CHECK(hmt::compare_recall({{"ppl", report("hmt", {{64, 2.0}}, 10, 1)}}).empty());
  CHECK(hmt::compare_evaluations({{"hmt", hmt_report}}).empty());
}

TEST_CASE("compare: run figures per stage from metrics.jsonl, bad arguments named", "[eval]") {
  const auto dir = hmt::test::temp_dir("compare_runs");
  {
    hmt::MetricsLog log((dir / "metrics.jsonl").string());
    log.write({{"kind", "train"}, {"stage", "stage1"}, {"step", 1}, {"loss", 5.0}, {"tokens_per_s", 100.0}});
    log.write({{"kind", "train"}, {"stage", "stage1"}, {"step", 2}, {"loss", 4.0}, {"tokens_per_s", 300.0}});
    log.write({{"kind", "valid"}, {"stage", "stage1"}, {"step", 2}, {"valid_ppl", 55.5}});
    log.write({{"kind", "train"}, {"stage", "stage2"}, {"step", 1}, {"loss", 3.5}, {"tokens_per_s", 50.0}});
  }
  auto table = hmt::compare_runs({{"hmt", dir.string()}});
  CHECK(table.find("| hmt | stage1 | 2 | 5.000 | 4.000 | 55.50 | 200 |") != std::string::npos);
  CHECK(table.find("| hmt | stage2 | 1 | 3.500 | 3.500 | - | 50 |") != std::string::npos);
  CHECK_THROWS_WITH(hmt::parse_labeled("nolabel", "--eval"), Catch::Contains("LABEL=PATH"));
  CHECK(hmt::parse_labeled("a=b=c", "--run") == hmt::Labeled{"a", "b=c"});
}
