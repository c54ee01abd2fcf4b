// `hmt bench --device/--dtype`: bf16 autocast on the CPU (here) and on a GPU
// ([cuda]); the reported figures follow from each other. Nothing is timed
// against a threshold.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

#include "tests/app/run_command.h"
#include "tests/test_paths.h"

namespace {

const char* kTiny = "bench --vocab 64 --hidden 16 --layers 1 --heads 2 --segment-length 8 --sensory 2 --batch 2 ";

nlohmann::json run_bench(const std::string& args, const std::string& name) {
  auto out = (hmt::test::temp_dir(name) / "bench.json").string();
  auto result = hmt::test::run_hmt(std::string(kTiny) + args + " --threads 1 --json '" + out + "'");
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  return nlohmann::json::parse(std::ifstream(out));
}

void check_row(const nlohmann::json& row, const std::string& device, const std::string& dtype, int64_t peak_n) {
  CHECK(row["device"] == device);
  CHECK(row["dtype"] == dtype);
  CHECK(row["peak_matmul_n"] == peak_n);
  const double median = row["median_seconds"].get<double>();
  CHECK(median > 0);
  CHECK(row["mfu"].get<double>() ==
        Approx(row["model_flops"].get<double>() / median / row["peak_flops"].get<double>()));
}

}  // namespace

TEST_CASE("bench --dtype bf16: CPU autocast steps, the peak matmul in bf16", "[hmt_bench][cli][autocast]") {
  // A small peak matmul: bf16 matmuls are slow on CPUs without bf16 units.
  auto json = run_bench("--segments 2 --checkpoint both --steps 1 --dtype bf16 --peak-n 128", "bench_bf16");
  CHECK(json["dtype"] == "bf16");
  CHECK(json["device"] == "cpu");
  CHECK(json["peak_matmul_n"] == 128);
  REQUIRE(json["configurations"].size() == 2);
  for (const auto& row : json["configurations"]) {
    check_row(row, "cpu", "bf16", 128);
    CHECK(row["peak_device_bytes"] == 0);  // no caching allocator on the CPU
  }
}

TEST_CASE("bench: --dtype and --device are checked before any configuration runs", "[hmt_bench][cli]") {
  auto bad = hmt::test::run_hmt("bench --segments 1 --steps 1 --dtype fp8");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("bench --dtype: expected fp32, bf16 or fp16, got \"fp8\""));
  CHECK_THAT(bad.out, !Catch::Contains("MFU"));
  bad = hmt::test::run_hmt("bench --segments 1 --steps 1 --device tpu");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("bench --device: expected cpu, cuda or cuda:N, got \"tpu\""));
  if (hmt::cuda_present()) return;
  bad = hmt::test::run_hmt("bench --segments 1 --steps 1 --device cuda");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("bench --device: cuda asked for"));
}

TEST_CASE("bench --device cuda: bf16 steps on the GPU report the caching allocator's peak", "[cuda][hmt_bench][cli]") {
  HMT_REQUIRE_CUDA();
  auto json = run_bench("--segments 2,4 --checkpoint on --steps 2 --device cuda --dtype bf16", "bench_cuda");
  CHECK(json["peak_matmul_n"] == 8192);
  REQUIRE(json["configurations"].size() == 2);
  for (const auto& row : json["configurations"]) {
    check_row(row, "cuda", "bf16", 8192);
    CHECK(row["baseline_device_bytes"].get<int64_t>() > 0);  // the weights
    CHECK(row["peak_device_bytes"].get<int64_t>() > row["baseline_device_bytes"].get<int64_t>());
    CHECK(row["peak_flops"].get<double>() > 1e12);  // any GPU's bf16 matmul beats a TFLOP/s
  }
}
