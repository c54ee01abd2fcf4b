#pragma once
// Scalar, loop-per-position reference pieces for the backbone tests. They
// read parameters by HF name and never call the code under test, so a test
// that compares against them checks the batched tensor code independently.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace hmt::test {

using Vec = std::vector<double>;
using Rows = std::vector<Vec>;  // one vector per position

struct Mat {
  int64_t rows = 0, cols = 0;
  std::vector<double> data;
  double operator()(int64_t r, int64_t c) const { return data[static_cast<size_t>(r * cols + c)]; }
  Vec row(int64_t r) const { return Vec(data.begin() + r * cols, data.begin() + (r + 1) * cols); }
};

inline torch::Tensor param_tensor(torch::nn::Module& module, const std::string& name) {
  auto params = module.named_parameters();
  const auto* found = params.find(name);
  INFO("parameter " << name);
  REQUIRE(found != nullptr);
  return found->detach().to(torch::kDouble).contiguous();
}

inline Mat mat(torch::nn::Module& module, const std::string& name) {
  auto t = param_tensor(module, name);
  REQUIRE(t.dim() == 2);
  Mat m{t.size(0), t.size(1), {}};
  m.data.assign(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
  return m;
}

inline Vec vec(torch::nn::Module& module, const std::string& name) {
  auto t = param_tensor(module, name);
  REQUIRE(t.dim() == 1);
  return Vec(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

// Linear convention: W [out, in], y_r = sum_c W(r, c) x_c.
inline Vec linear(const Mat& w, const Vec& x) {
  Vec y(static_cast<size_t>(w.rows), 0.0);
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < w.cols; ++c) y[r] += w(r, c) * x[c];
  return y;
}

// Conv1D convention: W [in, out], y_c = sum_r x_r W(r, c).
inline Vec conv1d(const Vec& x, const Mat& w) {
  Vec y(static_cast<size_t>(w.cols), 0.0);
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < w.cols; ++c) y[c] += x[r] * w(r, c);
  return y;
}

inline Vec plus(Vec a, const Vec& b) {
  for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  return a;
}

inline Vec times(Vec a, const Vec& b) {
  for (size_t i = 0; i < a.size(); ++i) a[i] *= b[i];
  return a;
}

template <typename F>
Vec apply(Vec a, F f) {
  for (auto& x : a) x = f(x);
  return a;
}

// Biased variance, as nn.LayerNorm.
inline Vec layer_norm(const Vec& x, const Vec& w, const Vec& b, double eps) {
  double mean = 0, var = 0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(x.size());
  for (double v : x) var += (v - mean) * (v - mean);
  var /= static_cast<double>(x.size());
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = (x[i] - mean) / std::sqrt(var + eps) * w[i] + b[i];
  return y;
}

inline Vec rms_norm(const Vec& x, const Vec& w, double eps) {
  double ms = 0;
  for (double v : x) ms += v * v;
  ms /= static_cast<double>(x.size());
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = w[i] * (x[i] / std::sqrt(ms + eps));
  return y;
}

inline double gelu_tanh(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
inline double relu(double x) { return x > 0 ? x : 0.0; }
inline double silu(double x) { return x / (1.0 + std::exp(-x)); }

// Causal multi-head attention, one query position and one head at a time;
// query head h reads kv head h / (heads / kv_heads). q rows are
// heads*head_dim wide, k and v rows kv_heads*head_dim.
inline Rows causal_attention(const Rows& q, const Rows& k, const Rows& v, int64_t heads, int64_t kv_heads,
                             int64_t head_dim, double scale) {
  const int64_t group = heads / kv_heads;
  Rows out(q.size(), Vec(static_cast<size_t>(heads * head_dim), 0.0));
  for (size_t i = 0; i < q.size(); ++i) {
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t g = h / group;
      Vec scores(i + 1);
      for (size_t j = 0; j <= i; ++j) {
        double s = 0;
        for (int64_t d = 0; d < head_dim; ++d) s += q[i][h * head_dim + d] * k[j][g * head_dim + d];
        scores[j] = s * scale;
      }
      const double top = *std::max_element(scores.begin(), scores.end());
      double total = 0;
      for (auto& s : scores) total += (s = std::exp(s - top));
      for (size_t j = 0; j <= i; ++j)
        for (int64_t d = 0; d < head_dim; ++d) out[i][h * head_dim + d] += scores[j] / total * v[j][g * head_dim + d];
    }
  }
  return out;
}

// Every parameter random and away from its init (norm weights around 1,
// biases nonzero), so that a swapped or ignored tensor changes the output.
inline void randomize_parameters(torch::nn::Module& module, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters()) {
    auto& p = item.value();
    const auto& name = item.key();
    const bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    if (p.dim() == 1 && !is_bias) {
      p.normal_(/*mean=*/1.0, /*std=*/0.3);
    } else if (is_bias) {
      p.normal_(/*mean=*/0.0, /*std=*/0.2);
    } else {
      p.normal_(/*mean=*/0.0, /*std=*/0.25);
    }
  }
}

inline std::set<std::string> parameter_names(torch::nn::Module& module) {
  std::set<std::string> names;
  for (const auto& item : module.named_parameters()) names.insert(item.key());
  return names;
}

inline int64_t parameter_count(torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel();
  return total;
}

// Row `row` of a [B, T, X] tensor, positions [from, from + count).
inline Rows rows_of(const torch::Tensor& t, int64_t row, int64_t from, int64_t count) {
  auto slab = t.detach().to(torch::kDouble)[row].narrow(0, from, count).contiguous();
  Rows out;
  for (int64_t i = 0; i < count; ++i) {
    auto r = slab[i];
    out.emplace_back(r.data_ptr<double>(), r.data_ptr<double>() + r.numel());
  }
  return out;
}

inline double max_abs_diff(const Rows& a, const Rows& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].size() == b[i].size());
    for (size_t j = 0; j < a[i].size(); ++j) worst = std::max(worst, std::abs(a[i][j] - b[i][j]));
  }
  return worst;
}

// [1, T] int64 tensor of ids.
inline torch::Tensor id_tensor(const std::vector<int64_t>& ids) {
  return torch::tensor(ids, torch::kLong).view({1, static_cast<int64_t>(ids.size())});
}

}  // namespace hmt::test
