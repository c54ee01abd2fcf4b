// `hmt bench` on a tiny model: the reported quantities follow from each other
// and from the model's shape. Nothing here is timed against a threshold.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

#include "tests/app/run_command.h"
#include "tests/test_paths.h"

TEST_CASE("bench: per-configuration counts, FLOPs and MFU are consistent", "[hmt_bench][cli]") {
  auto dir = hmt::test::temp_dir("bench_cli");
  auto out = (dir / "bench.json").string();
  auto result = hmt::test::run_hmt(
      "bench --vocab 64 --hidden 16 --layers 1 --heads 2 --segment-length 8 --sensory 2 --batch 2 --segments 1,3 "
      "--checkpoint both --steps 2 --threads 1 --json '" +
      out + "'");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.out, Catch::Contains("MFU%") && Catch::Contains("peak_GF/s"));
  auto json = nlohmann::json::parse(std::ifstream(out));
  CHECK(json["peak_matmul_n"] == 2048);
  CHECK(json["threads"] == 1);

  // llama, untied head, intermediate (8*16/3 + 63) / 64 * 64 = 64: per layer
  // q, k, v, o (16x16 each), gate/up/down (16x64 each), two norms; then the
  // final norm and the 64x16 head. The input embedding table is not counted.
  const int64_t n_params = (4 * 16 * 16 + 3 * 16 * 64 + 2 * 16) + 16 + 64 * 16;
  const auto& rows = json["configurations"];
  REQUIRE(rows.size() == 4);
  const std::vector<std::pair<int64_t, bool>> order = {{1, false}, {1, true}, {3, false}, {3, true}};
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    const int64_t s = order[i].first;
    INFO("S " << s << " checkpoint " << order[i].second);
    CHECK(row["segments"] == s);
    CHECK(row["checkpoint"] == order[i].second);
    CHECK(row["batch"] == 2);
    CHECK(row["content_tokens"] == 2 * s * 8);
    // Per row: segment passes [m; sensory; 8 tokens; m] (no sensory for the
    // first), then a summary pass [T; j = 4 tokens; T] for every segment
    // after the first.
    CHECK(row["processed_tokens"] == 2 * (s * (8 + 2) + (s - 1) * 2 + (s - 1) * (4 + 2)));
    CHECK(row["model_parameters"] == n_params);
    const double flops = 6.0 * n_params * row["processed_tokens"].get<double>();
    CHECK(row["model_flops"].get<double>() == Approx(flops));
    const auto steps = row["step_seconds"].get<std::vector<double>>();
    REQUIRE(steps.size() == 2);
    const double median = row["median_seconds"].get<double>();
    CHECK(median == Approx((steps[0] + steps[1]) / 2));
    CHECK(row["tokens_per_second"].get<double>() == Approx(2 * s * 8 / median));
    const double peak = row["peak_flops"].get<double>();
    CHECK(peak > 0);
    CHECK(row["mfu"].get<double>() == Approx(flops / median / peak));
    CHECK(row["peak_rss_bytes"].get<int64_t>() >= row["baseline_rss_bytes"].get<int64_t>());
    CHECK(row["baseline_rss_bytes"].get<int64_t>() > 0);
  }
}

TEST_CASE("bench: bad arguments are refused", "[hmt_bench][cli]") {
  auto bad = hmt::test::run_hmt("bench --checkpoint sometimes --segments 1 --steps 1");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("sometimes"));
  bad = hmt::test::run_hmt("bench --one 2,maybe");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("2,maybe"));
}

TEST_CASE("bench: --profile writes a chrome trace of one extra, untimed step", "[hmt_bench][cli]") {
  auto dir = hmt::test::temp_dir("bench_profile");
  auto out = (dir / "bench.json").string();
  auto result = hmt::test::run_hmt(
      "bench --vocab 64 --hidden 16 --layers 1 --heads 2 --segment-length 8 --sensory 2 --batch 1 --segments 2 "
      "--checkpoint on --steps 1 --threads 1 --json '" +
      out + "' --profile '" + (dir / "traces").string() + "'");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  auto json = nlohmann::json::parse(std::ifstream(out));
  CHECK(json["configurations"][0]["step_seconds"].size() == 1);
  auto trace = nlohmann::json::parse(std::ifstream(dir / "traces" / "S2_on.trace.json"));
  REQUIRE(trace.is_array());
  bool saw_mm = false;
  for (const auto& event : trace) saw_mm = saw_mm || event.value("name", "") == "aten::mm";
  CHECK(saw_mm);
}
