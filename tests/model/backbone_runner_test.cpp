// The plain backbone stage's loss against per-row log-softmax of the
// backbone's own forward, with and without padding and a score mask.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "tests/model/hmt_fixtures.h"
#include "model/backbone_runner.h"

namespace {

// Sum of -log p(x[t] | x[<t]) over t = 1..T-1 of one unpadded row.
double row_nll(hmt::Backbone& backbone, const torch::Tensor& row, int64_t from = 1) {
  auto logits = backbone.forward(backbone.embed(row.unsqueeze(0))).logits[0];
  auto logp = torch::log_softmax(logits.to(torch::kDouble), -1);
  double sum = 0;
  for (int64_t t = from; t < row.size(0); ++t) sum -= logp[t - 1][row[t].item<int64_t>()].item<double>();
  return sum;
}

}  // namespace

TEST_CASE("backbone runner: NLL of each row equals the backbone alone, and padding changes nothing",
          "[trainer][backbone_runner]") {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  auto backbone = hmt::make_backbone(hmt::test::tiny_backbone(hmt::Family::Llama, 0.0));
  backbone->eval();
  auto ids = hmt::test::random_ids(2, 9, 37, /*seed=*/5);
  auto run = hmt::run_backbone_window(*backbone, ids, {}, {});
  CHECK(run.tokens == 16);
  const double expected = row_nll(*backbone, ids[0]) + row_nll(*backbone, ids[1]);
  CHECK(run.nll_sum.item<double>() == Approx(expected).epsilon(1e-5));
  CHECK(run.loss.item<double>() == Approx(expected / 16).epsilon(1e-5));

  // Row 1 left-padded by 3 and scored only from its 5th token on.
  auto padded = torch::zeros({2, 9}, torch::kLong);
  padded[0] = ids[0];
  padded[1].narrow(0, 3, 6).copy_(ids[1].narrow(0, 0, 6));
  auto mask = torch::ones({2, 9}, torch::kLong);
  mask[1].narrow(0, 0, 3).fill_(0);
  auto score = mask.clone();
  score[1].narrow(0, 0, 7).fill_(0);
  auto part = hmt::run_backbone_window(*backbone, padded, mask, score);
  CHECK(part.tokens == 8 + 2);
  const double row1 = row_nll(*backbone, ids[1].narrow(0, 0, 6), /*from=*/4);
  CHECK(part.nll_sum.item<double>() == Approx(row_nll(*backbone, ids[0]) + row1).epsilon(1e-5));
}
