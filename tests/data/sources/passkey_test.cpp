// The recall benchmark's generator (data/sources/passkey.h) under the byte
// tokenizer, so every piece of a sample can be read back as text: fact
// placement, distances, the answer mask, determinism, the several-facts
// variant, and `hmt prepare --dataset passkey` end to end.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "data/sources/passkey.h"
#include "data/store/loader.h"
#include "tests/data/sources/prepare_fixture.h"
#include "tests/test_paths.h"

namespace {

namespace fs = std::filesystem;
using hmt::test::byte_ids;

std::vector<int32_t> filler_text(size_t bytes) {
  std::string text;
  for (int i = 0; text.size() < bytes; ++i) text += "filler sentence " + std::to_string(i) + " of plain text. ";
  return byte_ids(text.substr(0, bytes));
}

std::string text_at(const std::vector<int32_t>& ids, int64_t begin, int64_t count) {
  std::string out;
  for (int64_t i = begin; i < begin + count; ++i) out.push_back(static_cast<char>(ids[static_cast<size_t>(i)]));
  return out;
}

hmt::PasskeyOptions options(int64_t facts) {
  hmt::PasskeyOptions o;
  o.segment_length = 32;  // "The purple key is 12345." is 24 bytes
  o.distances = {1, 3, 6};
  o.facts = facts;
  o.digits = 5;
  o.lead_segments = 2;
  o.seed = 11;
  return o;
}

}  // namespace

TEST_CASE("passkey: the fact sits D segments before the query, the answer ends the sample", "[passkey][prepare]") {
  auto tokenizer = hmt::load_tokenizer(hmt::test::bytes_tokenizer());
  const auto filler = filler_text(5000);
  const auto o = options(/*facts=*/1);
  std::set<int64_t> leads;
  for (int64_t i = 0; i < 30; ++i) {
    auto made = hmt::make_passkey_sample(o, *tokenizer, filler, /*split=*/0, i);
    const auto& s = made.sample;
    const int64_t L = o.segment_length, n = static_cast<int64_t>(s.ids.size());
    INFO("sample " << i);
    CHECK(s.distance == o.distances[static_cast<size_t>(i) % 3]);
    // Byte ids: the answer " 12345" is 6 ids, one short of the room kept for
    // the longest (digits + 2), so the last segment is one id short.
    CHECK(n == (made.query_segment + 1) * L - 1);
    CHECK(made.query_segment - made.fact_segment == s.distance);
    CHECK(made.fact_begin / L == made.fact_segment);
    CHECK(made.key == "pass");
    CHECK(s.other_distances.empty());
    CHECK(made.value.size() == 5);
    const std::string fact = "The pass key is " + made.value + ".";
    CHECK(text_at(s.ids, made.fact_begin, static_cast<int64_t>(fact.size())) == fact);
    CHECK(made.fact_begin + static_cast<int64_t>(fact.size()) <= (made.fact_segment + 1) * L);
    const std::string tail = "The pass key is " + made.value;
    CHECK(text_at(s.ids, n - static_cast<int64_t>(tail.size()), static_cast<int64_t>(tail.size())) == tail);
    // Only the value (" 12345") is scored.
    CHECK(s.answer_start == n - 6);
    CHECK(text_at(s.ids, s.answer_start, 6) == " " + made.value);
    CHECK(made.token_distance == s.answer_start - made.fact_begin);
    // Everything else is a contiguous slice of the filler.
    leads.insert(made.fact_segment);
    CHECK(made.fact_segment <= o.lead_segments);
    CHECK(s.name == "d" + std::to_string(s.distance) + "-" + std::to_string(i));
  }
  CHECK(leads.size() == 3);  // lead drawn from [0, 2]
}

TEST_CASE("passkey: a sample depends on seed, split and index only", "[passkey][prepare]") {
  auto tokenizer = hmt::load_tokenizer(hmt::test::bytes_tokenizer());
  const auto filler = filler_text(5000);
  const auto o = options(/*facts=*/1);
  auto a = hmt::make_passkey_sample(o, *tokenizer, filler, 0, 7);
  auto b = hmt::make_passkey_sample(o, *tokenizer, filler, 0, 7);
  CHECK(a.sample.ids == b.sample.ids);
  CHECK(hmt::make_passkey_sample(o, *tokenizer, filler, 1, 7).sample.ids != a.sample.ids);
  auto other_seed = o;
  other_seed.seed = 12;
  CHECK(hmt::make_passkey_sample(other_seed, *tokenizer, filler, 0, 7).sample.ids != a.sample.ids);
  // The asked value's first digit: every run of 10 samples of one distance
  // (index i = slot + n * |distances|, n in [10 r, 10 r + 10)) holds each
  // digit once; the runs differ in order, and the other digits vary.
  const auto slots = static_cast<int64_t>(o.distances.size());
  std::set<std::string> orders, seconds;
  for (int64_t slot = 0; slot < slots; ++slot)
    for (int64_t run = 0; run < 3; ++run) {
      std::string order;
      for (int64_t n = 10 * run; n < 10 * run + 10; ++n) {
        const auto made = hmt::make_passkey_sample(o, *tokenizer, filler, 0, slot + n * slots);
        CHECK(made.sample.distance == o.distances[static_cast<size_t>(slot)]);
        order += made.value[0];
        seconds.insert(made.value.substr(1, 1));
      }
      std::string sorted = order;
      std::sort(sorted.begin(), sorted.end());
      CHECK(sorted == "0123456789");
      orders.insert(order);
    }
  CHECK(orders.size() == static_cast<size_t>(3 * slots));
  CHECK(seconds.size() == 10);
  // The same digit order for the same run of another split only by chance.
  std::string split1;
  for (int64_t n = 0; n < 10; ++n) split1 += hmt::make_passkey_sample(o, *tokenizer, filler, 1, n * slots).value[0];
  CHECK(orders.count(split1) == 0);
  CHECK(o.chance() == Approx(1e-5));
  CHECK(o.to_json()["task"] == "passkey");
}

TEST_CASE("passkey: several facts sit in distinct earlier segments and only one is asked", "[passkey][prepare]") {
  auto tokenizer = hmt::load_tokenizer(hmt::test::bytes_tokenizer());
  const auto filler = filler_text(8000);
  const auto o = options(/*facts=*/4);
  for (int64_t i = 0; i < 12; ++i) {
    auto made = hmt::make_passkey_sample(o, *tokenizer, filler, 0, i);
    const auto& ids = made.sample.ids;
    const int64_t L = o.segment_length;
    INFO("sample " << i << " D " << made.sample.distance);
    const auto& others = made.sample.other_distances;
    REQUIRE(others.size() == 3);
    std::vector<int64_t> other_segments;  // where the stored distances say the other facts are
    for (int64_t d : others) other_segments.push_back(made.query_segment - d);
    std::set<int64_t> segments(other_segments.begin(), other_segments.end());
    segments.insert(made.fact_segment);
    CHECK(segments.size() == 4);
    CHECK(*segments.rbegin() < made.query_segment);
    CHECK(made.query_segment - made.fact_segment == made.sample.distance);
    CHECK(std::is_sorted(others.begin(), others.end()));  // nearest to the query first
    CHECK(made.key != "pass");
    // Each other segment holds "The <key> key is <value>." for another key and value.
    std::set<std::string> keys{made.key}, values{made.value};
    for (int64_t seg : other_segments) {
      const std::string text = text_at(ids, seg * L, L);
      const auto at = text.find("The ");
      REQUIRE(at != std::string::npos);
      const auto key_end = text.find(" key is ", at);
      REQUIRE(key_end != std::string::npos);
      keys.insert(text.substr(at + 4, key_end - at - 4));
      values.insert(text.substr(key_end + 8, 5));
    }
    CHECK(keys.size() == 4);
    CHECK(values.size() == 4);
    const std::string tail = "The " + made.key + " key is " + made.value;
    CHECK(text_at(ids, static_cast<int64_t>(ids.size() - tail.size()), static_cast<int64_t>(tail.size())) == tail);
  }
  CHECK(o.to_json()["task"] == "facts");
}

TEST_CASE("passkey: the asked fact is the oldest, the newest or one between equally often", "[passkey][prepare]") {
  auto tokenizer = hmt::load_tokenizer(hmt::test::bytes_tokenizer());
  const auto filler = filler_text(8000);
  auto o = options(/*facts=*/4);
  o.lead_segments = 0;
  auto older_of = [](const hmt::PasskeySample& made) {
    const auto& others = made.sample.other_distances;
    return std::count_if(others.begin(), others.end(), [&](int64_t d) { return d > made.sample.distance; });
  };
  o.distances = {8};
  std::map<int64_t, int> by_older;
  for (int64_t i = 0; i < 400; ++i) {
    auto made = hmt::make_passkey_sample(o, *tokenizer, filler, 0, i);
    const auto older = older_of(made);
    ++by_older[older];
    CHECK(made.fact_segment == older);  // no lead segments but the older facts'
    CHECK(made.query_segment - made.fact_segment == 8);
  }
  REQUIRE(by_older.size() == 4);
  for (const auto& [older, count] : by_older) {
    INFO(older << " older facts: " << count << " of 400");
    CHECK(count >= 60);  // 100 expected; 4.6 standard deviations
    CHECK(count <= 140);
  }
  // D = 1 leaves no segment for a newer fact, D = 2 one.
  o.distances = {1, 2};
  std::set<int64_t> older_at_2;
  for (int64_t i = 0; i < 40; ++i) {
    auto made = hmt::make_passkey_sample(o, *tokenizer, filler, 0, i);
    if (made.sample.distance == 1) CHECK(older_of(made) == 3);
    if (made.sample.distance == 2) older_at_2.insert(older_of(made));
  }
  CHECK(older_at_2 == std::set<int64_t>{2, 3});
}

TEST_CASE("passkey: the layout before the answer does not depend on how many ids the value takes",
          "[passkey][prepare]") {
  // GPT-2's BPE gives " 123" one id and " 1234" two, so values of 4 digits
  // vary in length; a cue placed right before the answer would tell them apart.
  HMT_REQUIRE_SHARED("tokenizers/gpt2/tokenizer.json");
  auto tokenizer = hmt::load_tokenizer((hmt::test::shared_data() / "tokenizers/gpt2/tokenizer.json").string());
  std::string text;
  for (int i = 0; i < 200; ++i) text += "Filler text of plain words, line " + std::to_string(i) + ". ";
  const auto filler = tokenizer->encode(text);
  auto o = options(/*facts=*/1);
  o.digits = 4;
  const auto cue = tokenizer->encode("The pass key is");
  std::set<int64_t> answer_lengths, answer_offsets;
  for (int64_t i = 0; i < 60; ++i) {
    auto made = hmt::make_passkey_sample(o, *tokenizer, filler, 0, i);
    const auto& s = made.sample;
    answer_lengths.insert(static_cast<int64_t>(s.ids.size()) - s.answer_start);
    answer_offsets.insert(s.answer_start - made.query_segment * o.segment_length);
    CHECK(std::vector<int32_t>(s.ids.begin() + s.answer_start - static_cast<int64_t>(cue.size()),
                               s.ids.begin() + s.answer_start) == cue);
    CHECK(tokenizer->decode(std::vector<int32_t>(s.ids.begin() + s.answer_start, s.ids.end())) == " " + made.value);
  }
  REQUIRE(answer_lengths.size() > 1);
  CHECK(answer_offsets.size() == 1);
}

TEST_CASE("passkey: question start opens the query segment with the question, the rest as with end",
          "[passkey][prepare]") {
  auto tokenizer = hmt::load_tokenizer(hmt::test::bytes_tokenizer());
  const auto filler = filler_text(8000);
  auto end = options(/*facts=*/4);
  end.segment_length = 48;  // "The purple key?" (15 bytes) + the query "The purple key is" + 7 ids of room
  auto start = end;
  start.question = "start";
  for (int64_t i = 0; i < 12; ++i) {
    INFO("sample " << i);
    const auto a = hmt::make_passkey_sample(end, *tokenizer, filler, 0, i);
    const auto b = hmt::make_passkey_sample(start, *tokenizer, filler, 0, i);
    REQUIRE(a.sample.ids.size() == b.sample.ids.size());
    CHECK(a.key == b.key);
    CHECK(a.value == b.value);
    CHECK(a.sample.answer_start == b.sample.answer_start);
    CHECK(a.sample.other_distances == b.sample.other_distances);
    const std::string question = "The " + b.key + " key?";
    const int64_t q = b.query_segment * start.segment_length, n = static_cast<int64_t>(question.size());
    CHECK(text_at(b.sample.ids, q, n) == question);
    CHECK(text_at(a.sample.ids, q, n) != question);
    // Only those ids differ: facts, cue and answer are where `end` puts them.
    for (size_t t = 0; t < a.sample.ids.size(); ++t)
      if (static_cast<int64_t>(t) < q || static_cast<int64_t>(t) >= q + n) CHECK(a.sample.ids[t] == b.sample.ids[t]);
  }
  CHECK(start.to_json()["question"] == "start");
  start.segment_length = 32;  // the question and the query no longer fit one segment
  CHECK_THROWS_WITH(hmt::make_passkey_sample(start, *tokenizer, filler, 0, 0),
                    Catch::Contains("data.passkey.question") && Catch::Contains("L = 32"));
  start.question = "middle";
  CHECK_THROWS_WITH(start.check(), Catch::Contains("data.passkey.question"));
}

TEST_CASE("passkey: ask both asks for the key or the value, the answer where either would sit", "[passkey][prepare]") {
  auto tokenizer = hmt::load_tokenizer(hmt::test::bytes_tokenizer());
  const auto filler = filler_text(5000);
  auto o = options(/*facts=*/1);
  o.ask = "both";
  const std::set<std::string> names = {"red",  "blue", "green", "black",  "white",  "brown",
                                       "pink", "gold", "gray",  "silver", "orange", "purple"};
  int keys_asked = 0;
  std::set<std::string> keys_seen;
  for (int64_t i = 0; i < 40; ++i) {
    INFO("sample " << i);
    const auto made = hmt::make_passkey_sample(o, *tokenizer, filler, /*split=*/0, i);
    const auto& s = made.sample;
    const int64_t n = static_cast<int64_t>(s.ids.size()), L = o.segment_length;
    CHECK(names.count(made.key) == 1);  // a name to remember, not the constant "pass"
    keys_seen.insert(made.key);
    const std::string fact = "The " + made.key + " key is " + made.value + ".";
    CHECK(text_at(s.ids, made.fact_begin, static_cast<int64_t>(fact.size())) == fact);
    // Room for the longest answer of either kind: " purple" and " 12345" are 7 bytes.
    CHECK(s.answer_start == (made.query_segment + 1) * L - 7);
    const std::string answer = " " + (made.asks_key ? made.key : made.value);
    CHECK(text_at(s.ids, s.answer_start, n - s.answer_start) == answer);
    const std::string cue = made.asks_key ? "The key is" : "The " + made.key + " key is";
    CHECK(text_at(s.ids, s.answer_start - static_cast<int64_t>(cue.size()), static_cast<int64_t>(cue.size())) == cue);
    keys_asked += made.asks_key ? 1 : 0;
  }
  CHECK(keys_asked >= 10);  // a fair coin: 40 draws below 10 either way has probability < 1e-3
  CHECK(keys_asked <= 30);
  CHECK(keys_seen.size() >= 6);
  CHECK(o.chance() == Approx((1e-5 + 1.0 / 12.0) / 2));
  CHECK(o.to_json()["ask"] == "both");
  CHECK(options(/*facts=*/1).to_json()["ask"] == "value");
  o.facts = 4;
  CHECK_THROWS_WITH(o.check(), Catch::Contains("data.passkey.ask") && Catch::Contains("facts = 1"));
  o.facts = 1;
  o.ask = "keys";
  CHECK_THROWS_WITH(o.check(), Catch::Contains("data.passkey.ask"));
}

TEST_CASE("passkey: errors name the key", "[passkey][prepare]") {
  auto tokenizer = hmt::load_tokenizer(hmt::test::bytes_tokenizer());
  auto o = options(/*facts=*/1);
  CHECK_THROWS_WITH(hmt::make_passkey_sample(o, *tokenizer, filler_text(100), 0, 2),
                    Catch::Contains("fewer than one sample") && Catch::Contains("data.source"));
  o.segment_length = 12;
  CHECK_THROWS_WITH(hmt::make_passkey_sample(o, *tokenizer, filler_text(5000), 0, 0),
                    Catch::Contains("more than a segment of L = 12"));
  o.segment_length = 0;
  CHECK_THROWS_WITH(o.check(), Catch::Contains("data.passkey.segment_length"));
  o = options(1);
  o.distances = {4, 0};
  CHECK_THROWS_WITH(o.check(), Catch::Contains("data.passkey.distances"));
  o = options(13);
  CHECK_THROWS_WITH(o.check(), Catch::Contains("data.passkey.facts"));
}

TEST_CASE("passkey: hmt prepare writes recall samples whose loader rows score only the answer", "[passkey][prepare]") {
  const auto dir = hmt::test::temp_dir("prepare_passkey");
  {
    std::ofstream jsonl(dir / "filler.jsonl");
    for (int line = 0; line < 40; ++line) {
      std::string text;
      for (int i = 0; i < 12; ++i) text += "line " + std::to_string(line) + " sentence " + std::to_string(i) + ". ";
      jsonl << nlohmann::json({{"text", text}}).dump() << "\n";
    }
  }
  auto o = hmt::test::prepare_fixture_options("passkey", dir / "filler.jsonl", dir / "pk.h5");
  o.splits = {"train", "test"};
  o.split_fractions = {0.5, 0.5};
  o.passkey_samples = {12, 6};
  o.passkey = options(/*facts=*/1);
  o.passkey.lead_segments = 0;
  auto result = hmt::prepare_dataset(o);
  REQUIRE(result.splits.size() == 2);
  CHECK(result.splits[0].second.documents == 12);
  hmt::TokenStore store(o.out);
  CHECK(store.dataset() == "passkey");
  auto task = nlohmann::json::parse(store.recall_task());
  CHECK(task["chance"].get<double>() == Approx(1e-5));
  CHECK(task["distances"] == nlohmann::json({1, 3, 6}));
  auto tokenizer = hmt::load_tokenizer(hmt::test::bytes_tokenizer());
  const auto& test = store.split("test");
  REQUIRE(test.is_qa());
  for (int64_t s = 0; s < test.documents(); ++s) {
    auto sample = test.qa_sample(s);
    CHECK(sample.distance == o.passkey.distances[static_cast<size_t>(s) % 3]);
    CHECK(static_cast<int64_t>(sample.ids.size()) == (sample.distance + 1) * 32 - 1);
    CHECK(static_cast<int64_t>(sample.ids.size()) - sample.answer_start == 6);
  }
  // Too little filler for the longest sample is an error naming the split.
  auto short_filler = o;
  short_filler.out = (dir / "short.h5").string();
  short_filler.passkey.distances = {200};
  CHECK_THROWS_WITH(hmt::prepare_dataset(short_filler),
                    Catch::Contains("split `train`") && Catch::Contains("filler tokens"));
  // Running it again with the same inputs does nothing; the train split's samples differ from test's.
  CHECK(hmt::prepare_dataset(o).up_to_date);
  CHECK(store.split("train").read_document(0) != test.read_document(0));

  hmt::LoaderOptions lo;
  lo.path = o.out;
  lo.split = "test";
  lo.batch_size = 3;
  lo.shuffle = false;
  hmt::Loader loader(lo);
  auto batch = loader.next();
  for (int64_t r = 0; r < 3; ++r) {
    const int64_t n = test.document_length(r), width = batch.ids.size(1);
    CHECK(batch.score_mask[r].sum().item<int64_t>() == 6);
    CHECK(batch.score_mask[r].narrow(0, width - 6, 6).sum().item<int64_t>() == 6);
    CHECK(batch.mask[r].sum().item<int64_t>() == n);
  }
}
