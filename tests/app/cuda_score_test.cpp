// `hmt score --device`: fp32 on a CUDA device gives the CPU's NLL and
// gradient norms (within 1e-4, relative); without CUDA the option is refused
// with a message that says why.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "model/hmt_export.h"
#include "tests/app/run_command.h"
#include "tests/model/tiny_hmt_model.h"
#include "tests/test_paths.h"

namespace fs = std::filesystem;
using hmt::test::run_hmt;

namespace {

struct ScoreRun {
  std::string dir, ids;
};

ScoreRun tiny_cuda_export(const std::string& family, const std::string& name) {
  auto dir = hmt::test::temp_dir(name);
  hmt::save_hmt_export(*hmt::test::tiny_hmt_model(family, /*recall=*/true), (dir / "export").string());
  std::ofstream out(dir / "doc.ids");
  for (auto id : hmt::test::tiny_document()) out << id << " ";
  return {(dir / "export").string(), (dir / "doc.ids").string()};
}

nlohmann::json score(const ScoreRun& run, const std::string& device) {
  auto result = run_hmt("score '" + run.dir + "' --ids '" + run.ids + "' --json --grads --threads 1 --device " +
                        device);
  INFO(device << ": " << result.err);
  REQUIRE(result.exit_code == 0);
  return nlohmann::json::parse(result.out);
}

double relative(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-12); }

}  // namespace

TEST_CASE("score --device cuda: --grads on the GPU in fp32 equals the CPU within 1e-4", "[cuda][cli]") {
  HMT_REQUIRE_CUDA();
  double worst = 0;
  for (const std::string family : {"llama", "gpt2", "opt"}) {
    INFO(family);
    auto run = tiny_cuda_export(family, "cuda_score");
    auto cpu = score(run, "cpu");
    auto gpu = score(run, "cuda");
    CHECK(gpu["tokens"] == cpu["tokens"]);
    worst = std::max(worst, relative(gpu["nll_sum"].get<double>(), cpu["nll_sum"].get<double>()));
    REQUIRE(gpu["segments"].size() == cpu["segments"].size());
    for (size_t s = 0; s < cpu["segments"].size(); ++s)
      worst = std::max(worst, relative(gpu["segments"][s]["nll_sum"].get<double>(),
                                       cpu["segments"][s]["nll_sum"].get<double>()));
    REQUIRE(gpu["grad_norms"].size() == cpu["grad_norms"].size());
    for (const auto& [name, norm] : cpu["grad_norms"].items()) {
      INFO(name);
      REQUIRE(gpu["grad_norms"].contains(name));
      CHECK(norm.get<double>() > 0);
      worst = std::max(worst, relative(gpu["grad_norms"][name].get<double>(), norm.get<double>()));
    }
  }
  // scripts/device/gpu_checks.sh reads this line into its report.
  std::printf("cuda parity: score --grads max relative difference %.3g\n", worst);
  CHECK(worst < 1e-4);
}

TEST_CASE("score --device: refused without a CUDA device, and for plain HF directories", "[cuda][cli]") {
  auto run = tiny_cuda_export("gpt2", "cuda_score_errors");
  auto bad = run_hmt("score '" + run.dir + "' --ids '" + run.ids + "' --json --device tpu");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("score --device: expected cpu, cuda or cuda:N, got \"tpu\""));
  const auto plain = (fs::path(run.dir).parent_path() / "plain").string();
  hmt::save_backbone(hmt::test::tiny_hmt_model("gpt2", /*recall=*/true)->backbone(), plain);
  auto hf = run_hmt("score '" + plain + "' --ids '" + run.ids + "' --json --device cuda");
  CHECK(hf.exit_code == 1);
  CHECK_THAT(hf.err, Catch::Contains("--device cuda needs an HMT export directory"));
  if (hmt::cuda_present()) {
    WARN("a CUDA device is visible: the no-device message is not checked");
    return;
  }
  auto cuda = run_hmt("score '" + run.dir + "' --ids '" + run.ids + "' --json --device cuda");
  CHECK(cuda.exit_code == 1);
#ifdef HMT_TORCH_CUDA
  CHECK_THAT(cuda.err, Catch::Contains("score --device: cuda asked for, but no CUDA device is visible"));
#else
  CHECK_THAT(cuda.err, Catch::Contains("score --device: cuda asked for, but this build uses a CPU LibTorch"));
#endif
}
