#include "data/sources/passkey.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/error.h"
#include "core/splitmix.h"

namespace hmt {
namespace {

constexpr std::array<const char*, 12> kKeyNames = {"red",  "blue", "green", "black",  "white",  "brown",
                                                   "pink", "gold", "gray",  "silver", "orange", "purple"};

// A portable stream (std::uniform_int_distribution differs between standard
// libraries): SplitMix64 over an incremented state. The modulo bias is below
// 2^-40 for the ranges drawn here.
class Draw {
 public:
  explicit Draw(uint64_t seed) : state_(seed) {}
  uint64_t next() { return splitmix64(state_++); }
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t state_;
};

std::string draw_value(Draw& draw, int64_t digits) {
  std::string value;
  for (int64_t d = 0; d < digits; ++d) value += static_cast<char>('0' + draw.below(10));
  return value;
}

// The asked value's first digit. Among the samples of one distance, each run
// of 10 (in index order) holds every digit once, in an order drawn from
// (seed, split, distance slot, run) alone, so a sample still depends on its
// index only. With independent digits a split of 180 samples had one digit
// 26 times (the demo's pass-key test split): a model that always guessed it
// scored 14.4% against a chance of 10%.
char balanced_digit(const PasskeyOptions& o, int64_t split, int64_t index) {
  const auto slots = static_cast<int64_t>(o.distances.size());
  const int64_t nth = index / slots, run = nth / 10;
  // A stream apart from the samples' own (those hash seed, split, index).
  Draw order(splitmix64(splitmix64(splitmix64(o.seed ^ 0x6261'6c61'6e63'6564ULL) + static_cast<uint64_t>(split)) +
                        static_cast<uint64_t>(run * slots + index % slots)));
  std::array<char, 10> digits{};
  for (size_t d = 0; d < digits.size(); ++d) digits[d] = static_cast<char>('0' + d);
  for (size_t d = 0; d + 1 < digits.size(); ++d)
    std::swap(digits[d], digits[d + static_cast<size_t>(order.below(static_cast<int64_t>(digits.size() - d)))]);
  return digits[static_cast<size_t>(nth % 10)];
}

std::string key_name(const PasskeyOptions& o, size_t k) {
  return o.facts == 1 && o.ask == "value" ? "pass" : kKeyNames[k];
}

void put(std::vector<int32_t>& ids, int64_t at, const std::vector<int32_t>& piece) {
  std::copy(piece.begin(), piece.end(), ids.begin() + at);
}

}  // namespace

int64_t passkey_key_names() { return static_cast<int64_t>(kKeyNames.size()); }

void PasskeyOptions::check() const {
  HMT_CHECK(segment_length >= 1,
            "data.passkey.segment_length: the segment length L that distances count in must be >= 1 (0 = "
            "hmt.segment_length), got {}",
            segment_length);
  HMT_CHECK(!distances.empty(), "data.passkey.distances: give at least one distance (in segments)");
  for (int64_t d : distances) HMT_CHECK(d >= 1, "data.passkey.distances: each distance must be >= 1, got {}", d);
  HMT_CHECK(facts >= 1 && facts <= passkey_key_names(), "data.passkey.facts must be in [1, {}], got {}",
            passkey_key_names(), facts);
  HMT_CHECK(digits >= 1 && digits <= 18, "data.passkey.digits must be in [1, 18], got {}", digits);
  HMT_CHECK(lead_segments >= 0, "data.passkey.lead_segments must be >= 0, got {}", lead_segments);
  HMT_CHECK(question == "end" || question == "start", "data.passkey.question must be end or start, got '{}'", question);
  HMT_CHECK(ask == "value" || ask == "both", "data.passkey.ask must be value or both, got '{}'", ask);
  HMT_CHECK(ask == "value" || facts == 1,
            "data.passkey.ask: both needs facts = 1 (with {} facts \"the key\" would not name one of them)", facts);
}

double PasskeyOptions::chance() const {
  const double value = std::pow(10.0, -static_cast<double>(digits));
  // A fair coin picks what is asked; a key is one of the names, uniform.
  return ask == "both" ? (value + 1.0 / static_cast<double>(kKeyNames.size())) / 2 : value;
}

nlohmann::ordered_json PasskeyOptions::to_json() const {
  return {{"task", facts == 1 ? "passkey" : "facts"},
          {"segment_length", segment_length},
          {"distances", distances},
          {"facts", facts},
          {"digits", digits},
          {"lead_segments", lead_segments},
          {"question", question},
          {"ask", ask},
          {"seed", seed},
          {"chance", chance()}};
}

PasskeySample make_passkey_sample(const PasskeyOptions& o, const Tokenizer& tokenizer,
                                  const std::vector<int32_t>& filler, int64_t split, int64_t index) {
  const int64_t L = o.segment_length;
  Draw draw(splitmix64(splitmix64(splitmix64(o.seed) + static_cast<uint64_t>(split)) + static_cast<uint64_t>(index)));
  PasskeySample out;
  const int64_t D = o.distances[static_cast<size_t>(index) % o.distances.size()];
  int64_t lead = draw.below(o.lead_segments + 1);
  // Several facts: how many of the others are older than the asked one is
  // uniform over what D allows (the newer ones need segments among the D - 1
  // between fact and query), so the asked fact is not more often the oldest
  // or the newest, and a model that recalls by position instead of by key
  // stays near one in `facts`. The older ones need lead segments of their own.
  int64_t older = 0;
  if (o.facts > 1) {
    const int64_t fewest = std::max<int64_t>(0, o.facts - D);
    older = fewest + draw.below(o.facts - fewest);
    lead = std::max(lead, older);
  }
  const int64_t segments = lead + D + 1;
  out.fact_segment = lead;
  out.query_segment = lead + D;

  const int64_t length = segments * L;
  HMT_CHECK(static_cast<int64_t>(filler.size()) >= length,
            "data.passkey: the filler text of split {} has {} tokens, fewer than one sample of {} segments of {} "
            "(give more text in data.source)",
            split, filler.size(), segments, L);
  const int64_t start = draw.below(static_cast<int64_t>(filler.size()) - length + 1);
  std::vector<int32_t> ids(filler.begin() + start, filler.begin() + start + length);

  // The asked fact is fact 0; its key is the first of a random pick of names.
  std::vector<size_t> names(kKeyNames.size());
  for (size_t k = 0; k < names.size(); ++k) names[k] = k;
  for (size_t k = 0; k + 1 < names.size(); ++k)
    std::swap(names[k], names[k + static_cast<size_t>(draw.below(static_cast<int64_t>(names.size() - k)))]);
  std::vector<std::string> values = {balanced_digit(o, split, index) + draw_value(draw, o.digits - 1)};
  while (static_cast<int64_t>(values.size()) < o.facts) {
    auto value = draw_value(draw, o.digits);
    if (std::find(values.begin(), values.end(), value) == values.end()) values.push_back(value);
  }
  out.key = key_name(o, names[0]);
  out.value = values[0];

  auto place_fact = [&](int64_t segment, const std::string& key, const std::string& value) {
    const auto fact = tokenizer.encode("The " + key + " key is " + value + ".");
    HMT_CHECK(static_cast<int64_t>(fact.size()) <= L,
              "data.passkey: a fact (\"The {} key is {}.\") takes {} tokens, more than a segment of L = {}", key, value,
              fact.size(), L);
    const int64_t at = segment * L + draw.below(L - static_cast<int64_t>(fact.size()) + 1);
    put(ids, at, fact);
    return at;
  };
  out.fact_begin = place_fact(out.fact_segment, out.key, out.value);
  if (o.facts > 1) {
    std::vector<int64_t> before, after;  // free segments older / newer than the asked fact's
    for (int64_t s = 0; s < out.fact_segment; ++s) before.push_back(s);
    for (int64_t s = out.fact_segment + 1; s < out.query_segment; ++s) after.push_back(s);
    for (int64_t f = 1; f < o.facts; ++f) {
      auto& free = f <= older ? before : after;
      const auto pick = static_cast<size_t>(draw.below(static_cast<int64_t>(free.size())));
      const int64_t segment = free[pick];
      free.erase(free.begin() + static_cast<int64_t>(pick));
      place_fact(segment, key_name(o, names[static_cast<size_t>(f)]), values[static_cast<size_t>(f)]);
      out.sample.other_distances.push_back(out.query_segment - segment);
    }
    std::sort(out.sample.other_distances.begin(), out.sample.other_distances.end());  // nearest first
  }

  out.asks_key = o.ask == "both" && draw.below(2) == 1;
  // The texts once, for the ids and for the errors alike.
  const std::string cue_text = out.asks_key ? "The key is" : "The " + out.key + " key is";
  const std::string answer_text = " " + (out.asks_key ? out.key : out.value);
  const auto cue = tokenizer.encode(cue_text);
  const auto answer = tokenizer.encode(answer_text);
  // How many ids the answer takes depends on the value (SentencePiece here:
  // " 0" is "_", "_", "0" but " 7" is "_", "_7"). A cue placed right before
  // the answer would sit one id earlier for some values, and a model that
  // counts positions in the segment could read the value off the layout. So
  // the cue sits where the longest answer puts it and the sample ends with
  // the answer, however long: the last segment is up to a few ids short.
  // An answer is at most its bytes plus a dummy prefix: a space, the digits, one.
  int64_t answer_room = o.digits + 2;
  // Asked keys too: the room is the longest answer either kind can take, so
  // the cue's place does not tell which kind is asked, nor which key.
  if (o.ask == "both")
    for (const char* name : kKeyNames)
      answer_room = std::max(answer_room, static_cast<int64_t>(tokenizer.encode(std::string(" ") + name).size()));
  HMT_CHECK(!answer.empty() && static_cast<int64_t>(answer.size()) <= answer_room,
            "data.passkey: the tokenizer gives {} ids for the answer \"{}\" (expected 1 to {})", answer.size(),
            answer_text, answer_room);
  const int64_t query_ids = static_cast<int64_t>(cue.size()) + answer_room;
  HMT_CHECK(query_ids <= L,
            "data.passkey: the query and its answer (\"{}{}\") need {} tokens, more than a segment of L = {}", cue_text,
            answer_text, query_ids, L);
  if (o.question == "start") {
    const std::string question_text = out.asks_key ? "Which key?" : "The " + out.key + " key?";
    const auto question = tokenizer.encode(question_text);
    HMT_CHECK(static_cast<int64_t>(question.size()) + query_ids <= L,
              "data.passkey.question: start: the question (\"{}\", {} tokens) and the query ({}) need more than a "
              "segment of L = {}",
              question_text, question.size(), query_ids, L);
    put(ids, out.query_segment * L, question);
  }
  const int64_t answer_start = length - answer_room;
  put(ids, answer_start - static_cast<int64_t>(cue.size()), cue);
  ids.resize(static_cast<size_t>(answer_start) + answer.size());
  put(ids, answer_start, answer);

  out.sample.ids = std::move(ids);
  out.sample.answer_start = answer_start;
  out.sample.distance = D;
  out.sample.group = index;
  out.sample.name = fmt::format("d{}-{}", D, index);
  out.token_distance = out.sample.answer_start - out.fact_begin;
  return out;
}

}  // namespace hmt
