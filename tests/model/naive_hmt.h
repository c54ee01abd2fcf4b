#pragma once
// An independent HMT recurrence for one document, written from docs/hmt.md
// section 3 with plain loops: it calls backbone.forward on hand-built
// [m ; s ; H ; m] and [T ; H[0:j] ; T] embeddings, computes recall and the
// log-softmax itself, and reads the hmt.* parameters by name. It never calls
// HmtModel's passes or run_segments.
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "tests/model/hmt_fixtures.h"

namespace hmt::test {

struct NaiveRun {
  std::vector<torch::Tensor> segment_nll;  // scalar per segment, with grad
  std::vector<int64_t> segment_tokens;
  torch::Tensor nll_sum;
  std::vector<double> token_nll;  // NLL(t) of position t (0 at t = 0, which is never scored)
  // recall_weights[n][i]: segment n's recall weight on M_i, i < n (0 for an
  // evicted M_i; all 0 where segment n did not recall).
  std::vector<std::vector<double>> recall_weights;
};

// x: one document's ids. truncate: K of docs/hmt.md section 4 (0 = off), applied per
// use: at segment n every M_i with n - i > K enters detached.
// last_recall_from >= 0: the last segment's memory input is M_{last_recall_from}
// (weight 1) instead of its recall, when that memory is still cached (the
// oracle recall of MemoryRecurrence::force_recall).
inline NaiveRun naive_hmt(HmtModel& model, const std::vector<int64_t>& x, int64_t truncate = 0,
                          int64_t last_recall_from = -1) {
  auto& backbone = model.backbone();
  const auto& config = model.config();
  const int64_t L = config.segment_length, k = config.num_sensory, j = config.summary_tokens();
  const int64_t N = config.recall.context, h = config.recall.hidden_dim;
  const int64_t T = static_cast<int64_t>(x.size()), S = (T + L - 1) / L;
  auto memory = named(model, "hmt.memory");
  auto prompt = named(model, "hmt.summary_prompt");
  auto wq = named(model, "hmt.recall.wq.weight"), wk = named(model, "hmt.recall.wk.weight");
  auto ids_of = [](const std::vector<int64_t>& v, int64_t from, int64_t to) {
    return torch::tensor(std::vector<int64_t>(v.begin() + from, v.begin() + to), torch::kLong).unsqueeze(0);
  };

  NaiveRun run;
  std::vector<torch::Tensor> produced;  // M_i, index i
  std::vector<torch::Tensor> content;   // per position: its content logit row [V]
  for (int64_t n = 0; n < S; ++n) {
    const int64_t begin = n * L, end = std::min(T, begin + L);
    auto use = [&](int64_t i) { return truncate > 0 && n - i > truncate ? produced[i].detach() : produced[i]; };
    torch::Tensor m;
    const int64_t first_cached = std::max<int64_t>(0, n - N);
    if (config.recall.enabled && n > 0) {
      auto summary_ids = ids_of(x, begin, std::min(end, begin + j));
      auto z = torch::cat({prompt, backbone.embed(summary_ids)[0], prompt}, /*dim=*/0).unsqueeze(0);
      auto s = backbone.forward(z).last_hidden[0][z.size(1) - 1];
      auto q = wq.matmul(s);
      std::vector<torch::Tensor> scores;
      for (int64_t i = first_cached; i < n; ++i) scores.push_back(wk.matmul(use(i)).dot(q) / std::sqrt(double(h)));
      auto top = torch::stack(scores).max().detach();
      std::vector<torch::Tensor> exps;
      torch::Tensor total = torch::zeros({}, memory.options());
      for (auto& sc : scores) {
        exps.push_back(torch::exp(sc - top));
        total = total + exps.back();
      }
      m = torch::zeros_like(memory[0]);
      run.recall_weights.emplace_back(static_cast<size_t>(n), 0.0);
      if (n == S - 1 && last_recall_from >= first_cached && last_recall_from < n) {
        m = use(last_recall_from);
        run.recall_weights.back()[static_cast<size_t>(last_recall_from)] = 1.0;
      } else {
        for (int64_t i = first_cached; i < n; ++i) {
          m = m + use(i) * (exps[i - first_cached] / total);
          run.recall_weights.back()[static_cast<size_t>(i)] = (exps[i - first_cached] / total).item<double>();
        }
      }
    } else {
      m = n == 0 ? memory[0] : use(n - 1);
      run.recall_weights.emplace_back(static_cast<size_t>(n), 0.0);
    }
    std::vector<torch::Tensor> rows;
    rows.reserve(4);
    rows.push_back(m.unsqueeze(0));
    int64_t sensory = 0;
    if (n > 0 && k > 0) {
      const int64_t from = std::max((n - 1) * L, begin - k);
      sensory = begin - from;
      rows.push_back(backbone.embed(ids_of(x, from, begin))[0]);
    }
    rows.push_back(backbone.embed(ids_of(x, begin, end))[0]);
    rows.push_back(m.unsqueeze(0));
    auto z = torch::cat(rows, 0).unsqueeze(0);
    auto out = backbone.forward(z);
    for (int64_t p = 0; p < end - begin; ++p) content.push_back(out.logits[0][1 + sensory + p]);
    produced.push_back(out.last_hidden[0][z.size(1) - 1]);
  }

  run.segment_nll.assign(static_cast<size_t>(S), torch::zeros({}, memory.options()));
  run.segment_tokens.assign(static_cast<size_t>(S), 0);
  for (int64_t t = 1; t < T; ++t) {
    const auto& row = content[t - 1];
    auto top = row.max().detach();
    auto log_total = torch::log(torch::exp(row - top).sum()) + top;
    run.segment_nll[t / L] = run.segment_nll[t / L] + (log_total - row[x[t]]);
    run.token_nll.resize(static_cast<size_t>(t) + 1, 0.0);
    run.token_nll[static_cast<size_t>(t)] = (log_total - row[x[t]]).item<double>();
    run.segment_tokens[t / L] += 1;
  }
  run.nll_sum = torch::zeros({}, memory.options());
  for (auto& s : run.segment_nll) run.nll_sum = run.nll_sum + s;
  return run;
}

inline std::vector<int64_t> to_vector(const torch::Tensor& row) {
  auto r = row.to(torch::kLong).contiguous();
  return std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
}

}  // namespace hmt::test
