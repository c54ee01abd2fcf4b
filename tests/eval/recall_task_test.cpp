// The recall benchmark's metric (eval/recall_task.h): a sample is correct
// exactly when the greedy answer is the stored one. Checked against two
// independent computations on a tiny model: the greedy continuation of
// HmtGenerator (hmt mode), and for every mode the argmax found by scoring
// every candidate token at each answer position.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <map>

#include "data/store/token_store_writer.h"
#include "eval/recall_task.h"
#include "model/hmt_generator.h"
#include "tests/model/hmt_fixtures.h"
#include "tests/model/naive_hmt.h"
#include "tests/test_paths.h"

namespace {

// tests/model/hmt_fixtures.h's backbone (a name of its own: perplexity_test.cpp,
// batched with this file, has kVocab).
constexpr int64_t kRecallVocab = 37;

// NLL of ids[at] given ids[:at], for the row alone.
double nll_at(hmt::HmtModel& model, const std::vector<int64_t>& ids, int64_t at, hmt::MemoryMode mode) {
  auto t = torch::tensor(ids, torch::kLong).unsqueeze(0);
  auto score = torch::zeros_like(t);
  score[0][at] = 1;
  hmt::RunnerOptions options;
  options.memory = mode;
  torch::NoGradGuard no_grad;
  return hmt::run_segments(model, t, /*mask=*/{}, score, options).nll_sum.item<double>();
}

// Every answer token is the argmax given the true tokens before it.
bool greedy_by_scan(hmt::HmtModel& model, std::vector<int64_t> ids, int64_t answer_start, hmt::MemoryMode mode) {
  for (auto at = answer_start; at < static_cast<int64_t>(ids.size()); ++at) {
    const int64_t truth = ids[static_cast<size_t>(at)];
    int64_t best = 0;
    double best_nll = 0;
    for (int64_t c = 0; c < kRecallVocab; ++c) {
      ids[static_cast<size_t>(at)] = c;
      const double v = nll_at(model, ids, at, mode);
      if (c == 0 || v < best_nll) best = c, best_nll = v;
    }
    ids[static_cast<size_t>(at)] = truth;
    if (best != truth) return false;
  }
  return true;
}

std::vector<int64_t> greedy_continuation(hmt::HmtModel& model, const std::vector<int64_t>& prefix, int64_t count) {
  hmt::HmtGenerator generator(model);
  auto logits = generator.feed(prefix);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < count; ++i) {
    out.push_back(logits.argmax().item<int64_t>());
    if (i + 1 < count) logits = generator.append_generated(out.back());
  }
  return out;
}

// A passkey-like token file of `samples` in split "test".
std::string write_recall_file(const std::string& path, const std::vector<hmt::QaSample>& samples,
                              const std::string& recall_task) {
  hmt::StoreHeader header;
  header.dataset = "passkey";
  header.vocab_size = kRecallVocab;
  header.inputs_sha256 = "recall-fixture";
  header.recall_task = recall_task;
  hmt::TokenStoreWriter writer(path, header);
  auto out = writer.begin_split("test", /*qa=*/true, {{"filler.txt", "00", 1}});
  for (const auto& s : samples) out.add_qa_sample(s);
  out.mark_units(static_cast<int64_t>(samples.size()), {});
  out.finish();
  writer.finish({"test"});
  return path;
}

}  // namespace

TEST_CASE("recall eval: exact match is the greedy answer, per distance", "[eval][recall]") {
  const int64_t L = 5;
  auto model = hmt::test::tiny_hmt(hmt::Family::Llama,
                                   hmt::test::tiny_hmt_config(L, /*sensory=*/2, /*recall=*/true,
                                                              /*context=*/4),
                                   torch::kDouble);
  model->eval();
  // Samples of (D + 1) segments; the last 2 tokens are the answer. Every
  // other sample's answer is set to the model's own greedy continuation, so
  // both outcomes occur.
  std::vector<hmt::QaSample> samples;
  auto random = hmt::test::random_ids(/*rows=*/1, /*length=*/400, kRecallVocab, /*seed=*/5);
  int64_t cursor = 0;
  for (int64_t s = 0; s < 8; ++s) {
    hmt::QaSample sample;
    sample.distance = 1 + s % 3;
    const int64_t n = (sample.distance + 1) * L;
    for (int64_t t = 0; t < n; ++t) sample.ids.push_back(static_cast<int32_t>(random[0][cursor++].item<int64_t>()));
    sample.answer_start = n - 2;
    if (s % 2 == 0) {
      std::vector<int64_t> prefix(sample.ids.begin(), sample.ids.end() - 2);
      auto greedy = greedy_continuation(*model, prefix, 2);
      sample.ids[n - 2] = static_cast<int32_t>(greedy[0]);
      sample.ids[n - 1] = static_cast<int32_t>(greedy[1]);
    }
    sample.name = "s" + std::to_string(s);
    samples.push_back(sample);
  }
  hmt::TokenStore store(write_recall_file((hmt::test::temp_dir("eval_recall") / "pk.h5").string(), samples,
                                          R"({"chance": 0.01})"));
  for (auto mode : {hmt::MemoryMode::Hmt, hmt::MemoryMode::Rmt, hmt::MemoryMode::None}) {
    INFO(hmt::memory_mode_name(mode));
    hmt::RecallEvalOptions options;
    options.batch = 3;  // left-padded batches of rows of different lengths
    options.mode = mode;
    auto result = hmt::recall_evaluation(*model, store, store.split("test"), options, nullptr);
    CHECK(result.chance == Approx(0.01));
    REQUIRE(result.distances.size() == 3);
    std::array<int64_t, 3> correct{};
    int64_t all = 0;
    for (size_t s = 0; s < samples.size(); ++s) {
      const auto& sample = samples[s];
      std::vector<int64_t> ids(sample.ids.begin(), sample.ids.end());
      const bool expected = greedy_by_scan(*model, ids, sample.answer_start, mode);
      if (mode == hmt::MemoryMode::Hmt && s % 2 == 0) CHECK(expected);  // the generator's own answer
      correct[static_cast<size_t>(sample.distance - 1)] += expected ? 1 : 0;
      all += expected ? 1 : 0;
    }
    for (size_t d = 0; d < 3; ++d) {
      CHECK(result.distances[d].distance == static_cast<int64_t>(d) + 1);
      CHECK(result.distances[d].samples == (d < 2 ? 3 : 2));
      CHECK(result.distances[d].correct == correct[d]);
    }
    CHECK(result.correct == all);
    CHECK(result.samples == 8);
    CHECK(result.accuracy == Approx(static_cast<double>(all) / 8.0));
  }
}

namespace {

// Ten random samples on a grid of L-token segments, D = 1..5 twice: lead
// segments and a short last segment vary the lengths, so batches are
// left-padded and rows have different segment counts. With other_facts,
// "other facts" sit in every other earlier segment (the recall weights do
// not care what they hold).
std::vector<hmt::QaSample> grid_samples(int64_t L, uint64_t seed, int64_t answer_tokens, bool other_facts) {
  std::vector<hmt::QaSample> samples;
  auto random = hmt::test::random_ids(/*rows=*/1, /*length=*/600, kRecallVocab, seed);
  int64_t cursor = 0;
  for (int64_t s = 0; s < 10; ++s) {
    hmt::QaSample sample;
    sample.distance = 1 + s % 5;
    const int64_t segments = s / 5 + sample.distance + 1, n = segments * L - s % 2;
    for (int64_t t = 0; t < n; ++t) sample.ids.push_back(static_cast<int32_t>(random[0][cursor++].item<int64_t>()));
    if (other_facts)
      for (int64_t o = 1; o < segments; ++o)
        if (o != sample.distance && (o + s) % 2 == 0) sample.other_distances.push_back(o);
    sample.answer_start = n - answer_tokens;
    sample.name = "s" + std::to_string(s);
    samples.push_back(sample);
  }
  return samples;
}

// A tiny llama HMT with recall over N cached memories, in eval mode.
std::shared_ptr<hmt::HmtModel> recall_model(int64_t L, int64_t N) {
  auto model = hmt::test::tiny_hmt(hmt::Family::Llama,
                                   hmt::test::tiny_hmt_config(L, /*sensory=*/1, /*recall=*/true, /*context=*/N),
                                   torch::kDouble);
  model->eval();
  return model;
}

}  // namespace

TEST_CASE("recall eval: the query segment's recall weight on the fact's memory, as the naive recurrence gives it",
          "[eval][recall]") {
  const int64_t L = 4, N = 3;
  auto model = recall_model(L, N);
  // D from 1 to 5 with N = 3: the fact's memory is evicted at D = 4, 5. Lead
  // segments and a short last segment vary the lengths, so batches are
  // left-padded and rows have different segment counts.
  const auto samples = grid_samples(L, /*seed=*/9, /*answer_tokens=*/1, /*other_facts=*/true);
  auto write = [&](const std::string& name, int64_t grid) {
    return write_recall_file((hmt::test::temp_dir("eval_recall_weight") / name).string(), samples,
                             fmt::format(R"({{"chance": 0.1, "segment_length": {}}})", grid));
  };
  hmt::TokenStore store(write("pk.h5", L));
  hmt::RecallEvalOptions options;
  options.batch = 4;
  auto result = hmt::recall_evaluation(*model, store, store.split("test"), options, nullptr);
  REQUIRE(result.fact_recall);
  REQUIRE(result.distances.size() == 5);
  std::array<double, 5> weight{}, other{};
  std::array<int64_t, 5> strongest{};
  for (const auto& sample : samples) {
    const auto naive = hmt::test::naive_hmt(*model, std::vector<int64_t>(sample.ids.begin(), sample.ids.end()));
    const auto& query = naive.recall_weights.back();
    const auto fact = static_cast<size_t>(static_cast<int64_t>(query.size()) - sample.distance);
    const auto d = static_cast<size_t>(sample.distance - 1);
    weight[d] += query[fact];
    for (int64_t o : sample.other_distances) other[d] += query[query.size() - static_cast<size_t>(o)];
    strongest[d] += std::max_element(query.begin(), query.end()) - query.begin() == static_cast<int64_t>(fact);
  }
  for (size_t d = 0; d < 5; ++d) {
    INFO("D = " << d + 1);
    CHECK(result.distances[d].recalled == 2);
    CHECK(result.distances[d].fact_weight_sum == Approx(weight[d]).epsilon(1e-9));
    CHECK(result.distances[d].other_weight_sum == Approx(other[d]).epsilon(1e-9));
    CHECK(result.distances[d].fact_strongest == strongest[d]);
    if (d + 1 > static_cast<size_t>(N)) CHECK(result.distances[d].fact_weight_sum == 0);
    else CHECK(result.distances[d].fact_weight_sum > 0);
  }
  // By older facts: counted from the stored distances of the other facts.
  std::map<int64_t, int64_t> older;
  for (const auto& sample : samples)
    if (!sample.other_distances.empty())
      older[std::count_if(sample.other_distances.begin(), sample.other_distances.end(),
                          [&](int64_t o) { return o > sample.distance; })] += 1;
  REQUIRE(result.by_older.size() == older.size());
  for (const auto& row : result.by_older) CHECK(row.samples == older[row.older]);
  auto json = hmt::recall_json(result);
  CHECK(json["distances"][0]["fact_recall_weight"].get<double>() == Approx(weight[0] / 2));
  CHECK(json["distances"][0]["fact_strongest"].get<double>() == Approx(strongest[0] / 2.0));
  CHECK(json["distances"][1]["other_facts_recall_weight"].get<double>() == Approx(other[1] / 2));
  CHECK(other[1] > 0);

  // Not measured without recall, nor when D counts another segment grid.
  options.mode = hmt::MemoryMode::Rmt;
  CHECK_FALSE(hmt::recall_evaluation(*model, store, store.split("test"), options, nullptr).fact_recall);
  options.mode = hmt::MemoryMode::Hmt;
  hmt::TokenStore coarse(write("pk8.h5", 2 * L));
  auto unmeasured = hmt::recall_json(hmt::recall_evaluation(*model, coarse, coarse.split("test"), options, nullptr));
  CHECK_FALSE(unmeasured["distances"][0].contains("fact_recall_weight"));
}

TEST_CASE("recall eval: oracle recall hands the query the asked fact's memory, as the naive recurrence does",
          "[eval][recall]") {
  const int64_t L = 4, N = 3;
  auto model = recall_model(L, N);
  // D from 1 to 5 with N = 3: at D = 4, 5 the fact's memory is evicted and the
  // query keeps its learned recall. Rows of different lengths share batches.
  const auto samples = grid_samples(L, /*seed=*/11, /*answer_tokens=*/2, /*other_facts=*/false);
  hmt::TokenStore store(write_recall_file((hmt::test::temp_dir("eval_recall_oracle") / "pk.h5").string(), samples,
                                          fmt::format(R"({{"chance": 0.1, "segment_length": {}}})", L)));
  hmt::RecallEvalOptions options;
  options.batch = 4;
  options.oracle = true;
  auto oracle = hmt::recall_evaluation(*model, store, store.split("test"), options, nullptr);
  options.oracle = false;
  auto learned = hmt::recall_evaluation(*model, store, store.split("test"), options, nullptr);
  REQUIRE(oracle.distances.size() == 5);
  std::array<double, 5> forced{}, plain{};
  for (const auto& sample : samples) {
    std::vector<int64_t> ids(sample.ids.begin(), sample.ids.end());
    const int64_t S = (static_cast<int64_t>(ids.size()) + L - 1) / L;
    const auto with = hmt::test::naive_hmt(*model, ids, /*truncate=*/0, /*last_recall_from=*/S - 1 - sample.distance);
    const auto without = hmt::test::naive_hmt(*model, ids);
    for (auto t = static_cast<size_t>(sample.answer_start); t < ids.size(); ++t) {
      forced[static_cast<size_t>(sample.distance - 1)] += with.token_nll[t];
      plain[static_cast<size_t>(sample.distance - 1)] += without.token_nll[t];
    }
  }
  for (size_t d = 0; d < 5; ++d) {
    INFO("D = " << d + 1);
    CHECK(oracle.distances[d].nll_sum == Approx(forced[d]).epsilon(1e-9));
    CHECK(learned.distances[d].nll_sum == Approx(plain[d]).epsilon(1e-9));
    // The reported recall is the forced one while the fact's memory is cached.
    CHECK(oracle.distances[d].fact_weight_sum == Approx(d + 1 <= static_cast<size_t>(N) ? 2.0 : 0.0));
    if (d + 1 <= static_cast<size_t>(N)) CHECK(forced[d] != Approx(plain[d]).epsilon(1e-6));
    else CHECK(forced[d] == Approx(plain[d]).epsilon(1e-12));
  }
  CHECK(hmt::recall_json(oracle)["oracle_recall"].get<bool>());
  CHECK_FALSE(hmt::recall_json(learned).contains("oracle_recall"));

  // Only where the query recalls on the file's grid.
  options.oracle = true;
  options.mode = hmt::MemoryMode::Rmt;
  CHECK_THROWS_WITH(hmt::recall_evaluation(*model, store, store.split("test"), options, nullptr),
                    Catch::Contains("oracle recall needs hmt mode") && Catch::Contains(store.path()));
  options.mode = hmt::MemoryMode::Hmt;
  hmt::TokenStore coarse(write_recall_file((hmt::test::temp_dir("eval_recall_oracle") / "pk8.h5").string(), samples,
                                           fmt::format(R"({{"chance": 0.1, "segment_length": {}}})", 2 * L)));
  CHECK_THROWS_WITH(hmt::recall_evaluation(*model, coarse, coarse.split("test"), options, nullptr),
                    Catch::Contains("segment_length: 8"));
}

TEST_CASE("recall eval: accuracy by how many other facts are older than the asked one", "[eval][recall]") {
  hmt::RecallEvaluation r;
  hmt::add_recall_sample(r, /*distance=*/4, /*answer_tokens=*/2, /*misses=*/0, /*nll_sum=*/0.1, /*older=*/0);
  hmt::add_recall_sample(r, 8, 2, 1, 0.1, 3);
  hmt::add_recall_sample(r, 8, 2, 0, 0.1, 0);
  hmt::add_recall_sample(r, 2, 2, 0, 0.1, 3);
  hmt::add_recall_sample(r, 2, 2, 0, 0.1);  // no other facts: in no older row
  REQUIRE(r.by_older.size() == 2);
  CHECK(r.by_older[0].older == 0);
  CHECK(r.by_older[0].samples == 2);
  CHECK(r.by_older[0].correct == 2);
  CHECK(r.by_older[1].older == 3);
  CHECK(r.by_older[1].samples == 2);
  CHECK(r.by_older[1].correct == 1);
  auto json = hmt::recall_json(r);
  CHECK(json["by_older_facts"][1]["accuracy"].get<double>() == Approx(0.5));
  CHECK(json["by_older_facts"][1]["older_facts"].get<int64_t>() == 3);
  CHECK(json["by_older_facts"][1]["ci95"][0].get<double>() == Approx(0.094531).margin(1e-6));  // 1 of 2
  CHECK_FALSE(hmt::recall_json(hmt::RecallEvaluation{}).contains("by_older_facts"));
}

TEST_CASE("recall eval: a sample counts only when every answer token is right", "[eval][recall]") {
  hmt::RecallEvaluation r;
  hmt::add_recall_sample(r, /*distance=*/16, /*answer_tokens=*/3, /*misses=*/0, /*nll_sum=*/0.5);
  hmt::add_recall_sample(r, 16, 3, 1, 2.0);
  hmt::add_recall_sample(r, 4, 2, 0, 0.1);
  hmt::add_recall_sample(r, 4, 0, 0, 0.0);  // no answer tokens: not a correct answer
  REQUIRE(r.distances.size() == 2);
  CHECK(r.distances[0].distance == 4);
  CHECK(r.distances[0].correct == 1);
  CHECK(r.distances[1].correct == 1);
  CHECK(r.distances[1].token_hits == 5);
  CHECK(r.distances[1].accuracy() == Approx(0.5));
  CHECK(r.accuracy == Approx(0.5));
  auto json = hmt::recall_json(r);
  CHECK(json["distances"][1]["token_accuracy"].get<double>() == Approx(5.0 / 6.0));
  // 95% Wilson intervals (the bisection of tests/eval/binomial_interval_test.cpp): 1 of 2, 2 of 4.
  CHECK(json["distances"][1]["ci95"][0].get<double>() == Approx(0.094531).margin(1e-6));
  CHECK(json["distances"][1]["ci95"][1].get<double>() == Approx(0.905469).margin(1e-6));
  CHECK(json["ci95"][0].get<double>() == Approx(0.150039).margin(1e-6));
  CHECK(json["ci95"][1].get<double>() == Approx(0.849961).margin(1e-6));
}

TEST_CASE("recall eval: a split without recall samples is refused", "[eval][recall]") {
  const auto path = (hmt::test::temp_dir("eval_recall_qa") / "qa.h5").string();
  {
    hmt::StoreHeader header;
    header.dataset = "pubmedqa";
    header.vocab_size = kRecallVocab;
    header.inputs_sha256 = "x";
    hmt::TokenStoreWriter writer(path, header);
    auto out = writer.begin_split("test", /*qa=*/true, {{"a.json", "00", 1}});
    hmt::QaSample sample;
    sample.ids = {1, 2, 3, 4};
    sample.answer_start = 2;
    out.add_qa_sample(sample);
    out.mark_units(1, {});
    out.finish();
    writer.finish({"test"});
  }
  hmt::TokenStore store(path);
  auto model = hmt::test::tiny_hmt(hmt::Family::Llama, hmt::test::tiny_hmt_config(4, 2, true, 3), torch::kDouble);
  CHECK_THROWS_WITH(hmt::recall_evaluation(*model, store, store.split("test"), {}, nullptr),
                    Catch::Contains("no recall samples") && Catch::Contains("--dataset passkey"));
}
