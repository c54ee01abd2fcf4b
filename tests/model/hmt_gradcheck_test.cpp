// Finite differences in double precision against the analytic gradient of
// run_segments' loss for every hmt.* tensor (and one backbone tensor), with
// recall on so that summary_prompt and recall.* take part, plain and
// checkpointed.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "tests/model/hmt_fixtures.h"
#include "model/segment_runner.h"

namespace hmt {
namespace {

TEST_CASE("hmt gradcheck: central differences match backward for every hmt tensor", "[hmt][gradcheck]") {
  for (Family family : {Family::Llama, Family::Opt}) {
    for (bool checkpoint : {false, true}) {
      INFO(test::family_label(family) << (checkpoint ? " checkpointed" : " plain"));
      auto config = test::tiny_hmt_config(/*segment_length=*/3, /*sensory=*/1, /*recall=*/true, /*context=*/2);
      auto model = test::tiny_hmt(family, config, torch::kDouble);
      auto ids = test::random_ids(/*rows=*/2, /*length=*/9, /*vocab=*/37, /*seed=*/41);  // S = 3
      RunnerOptions options;
      options.checkpoint = checkpoint;
      auto loss = [&] {
        torch::NoGradGuard no_grad;
        return run_segments(*model, ids, {}, {}, options).loss.item<double>();
      };
      for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
      run_segments(*model, ids, {}, {}, options).loss.backward();

      const std::string embedding = family == Family::Llama ? "backbone.model.embed_tokens.weight"
                                                            : "backbone.model.decoder.embed_tokens.weight";
      torch::manual_seed(42);
      for (const std::string& name :
           std::vector<std::string>{"hmt.memory", "hmt.summary_prompt", "hmt.recall.wq.weight", "hmt.recall.wk.weight",
                                    embedding}) {
        auto param = test::named(*model, name);
        REQUIRE(param.grad().defined());
        auto flat_grad = param.grad().view(-1);
        for (int trial = 0; trial < 3; ++trial) {
          const int64_t i = torch::randint(param.numel(), {1}, torch::kLong).item<int64_t>();
          const double eps = 1e-6;
          auto flat = param.detach().view(-1);
          const double original = flat[i].item<double>();
          flat[i].fill_(original + eps);
          const double up = loss();
          flat[i].fill_(original - eps);
          const double down = loss();
          flat[i].fill_(original);
          const double numeric = (up - down) / (2 * eps);
          const double analytic = flat_grad[i].item<double>();
          INFO(name << "[" << i << "]: numeric " << numeric << " analytic " << analytic);
          CHECK(std::abs(numeric - analytic) <= 1e-6 * std::max(std::abs(analytic), 1e-3));
        }
      }
    }
  }
}

}  // namespace
}  // namespace hmt
