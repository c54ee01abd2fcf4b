#pragma once
// Family-independent properties of a Backbone, shared by the three family
// tests: left padding, dropout replay, gradients, reduced precision.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "model/backbone.h"
#include "tests/model/naive_reference.h"

namespace hmt::test {

// A left-padded row (junk embeddings in front, mask 0) gives the same logits
// and hidden states on its real positions as the row run alone; padded
// positions stay finite. Expects a double model in eval mode.
inline void check_left_padding(Backbone& model, const std::vector<int64_t>& short_ids,
                               const std::vector<int64_t>& long_ids) {
  const int64_t n_short = static_cast<int64_t>(short_ids.size());
  const int64_t n_long = static_cast<int64_t>(long_ids.size());
  const int64_t pad = n_long - n_short;
  REQUIRE(pad > 0);
  torch::NoGradGuard no_grad;

  auto short_alone = model.forward(model.embed(id_tensor(short_ids)));
  auto long_alone = model.forward(model.embed(id_tensor(long_ids)));

  torch::manual_seed(/*seed=*/99);
  auto junk = torch::randn({1, pad, model.embed_dim()}, torch::kDouble) * 3.0;
  auto padded_short = torch::cat({junk, model.embed(id_tensor(short_ids))}, /*dim=*/1);
  auto embeds = torch::cat({padded_short, model.embed(id_tensor(long_ids))}, /*dim=*/0);
  auto mask = torch::ones({2, n_long}, torch::kLong);
  mask[0].narrow(0, 0, pad).fill_(0);
  auto batch = model.forward(embeds, mask);

  CHECK(torch::isfinite(batch.logits).all().item<bool>());
  CHECK(torch::isfinite(batch.last_hidden).all().item<bool>());
  CHECK(max_abs_diff(rows_of(batch.logits, 0, pad, n_short), rows_of(short_alone.logits, 0, 0, n_short)) < 1e-10);
  CHECK(max_abs_diff(rows_of(batch.last_hidden, 0, pad, n_short), rows_of(short_alone.last_hidden, 0, 0, n_short)) <
        1e-10);
  CHECK(max_abs_diff(rows_of(batch.logits, 1, 0, n_long), rows_of(long_alone.logits, 0, 0, n_long)) < 1e-10);

  // An all-ones mask is the same as no mask.
  auto ones = model.forward(model.embed(id_tensor(long_ids)), torch::ones({1, n_long}, torch::kLong));
  CHECK(torch::equal(ones.logits, long_alone.logits));
}

// Training mode with p > 0 draws new masks per call from torch's global
// generator and replays them after re-seeding; eval mode is deterministic.
inline void check_dropout_replay(Backbone& model, const std::vector<int64_t>& ids) {
  torch::NoGradGuard no_grad;
  auto embeds = model.embed(id_tensor(ids));
  model.eval();
  auto eval_a = model.forward(embeds).logits;
  auto eval_b = model.forward(embeds).logits;
  CHECK(torch::equal(eval_a, eval_b));

  model.train();
  torch::manual_seed(/*seed=*/1234);
  auto first = model.forward(embeds).logits;
  auto second = model.forward(embeds).logits;
  torch::manual_seed(/*seed=*/1234);
  auto replay = model.forward(embeds).logits;
  model.eval();
  CHECK_FALSE(torch::allclose(first, second));
  CHECK_FALSE(torch::allclose(first, eval_a));
  CHECK(torch::equal(first, replay));
}

// True when training mode (with dropout) changes the output, i.e. the
// dropout knob the caller set is wired to something.
inline bool dropout_changes_output(Backbone& model, const std::vector<int64_t>& ids) {
  torch::NoGradGuard no_grad;
  auto embeds = model.embed(id_tensor(ids));
  model.eval();
  auto quiet = model.forward(embeds).logits;
  model.train();
  torch::manual_seed(/*seed=*/5);
  auto noisy = model.forward(embeds).logits;
  model.eval();
  return !torch::allclose(quiet, noisy);
}

// Every registered parameter takes part in the output: after backward each
// has a gradient with some nonzero entry.
inline void check_all_parameters_used(Backbone& model, const std::vector<int64_t>& ids) {
  model.zero_grad();
  auto out = model.forward(model.embed(id_tensor(ids)));
  (out.logits.pow(2).sum() + out.last_hidden.sum()).backward();
  for (const auto& item : model.named_parameters()) {
    INFO("parameter " << item.key());
    REQUIRE(item.value().grad().defined());
    CHECK(item.value().grad().abs().sum().item<double>() > 0);
  }
}

// float32 and bfloat16 copies agree with the double model up to their
// precision and stay finite, with logits in the parameter dtype.
inline void check_reduced_precision(const std::function<std::shared_ptr<Backbone>()>& build,
                                    const std::vector<int64_t>& ids) {
  torch::NoGradGuard no_grad;
  auto reference = build();
  reference->to(torch::kDouble);
  reference->eval();
  auto expected = reference->forward(reference->embed(id_tensor(ids))).logits;
  const double scale = expected.abs().max().item<double>();
  for (auto [dtype, tolerance] : {std::pair{torch::kFloat, 1e-4}, std::pair{torch::kBFloat16, 0.1}}) {
    auto model = build();
    model->to(dtype);
    model->eval();
    auto logits = model->forward(model->embed(id_tensor(ids))).logits;
    INFO("dtype " << dtype);
    CHECK(logits.scalar_type() == dtype);
    CHECK(torch::isfinite(logits).all().item<bool>());
    CHECK((logits.to(torch::kDouble) - expected).abs().max().item<double>() < tolerance * scale);
  }
}

}  // namespace hmt::test
