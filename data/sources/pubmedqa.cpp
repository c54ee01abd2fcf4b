#include "data/sources/pubmedqa.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "data/sources/json_stream.h"

namespace hmt {
namespace {

namespace fs = std::filesystem;

std::string required_string(const nlohmann::json& record, const char* field, const std::string& where) {
  auto it = record.find(field);
  HMT_CHECK(it != record.end(), "{}: `{}` is missing", where, field);
  HMT_CHECK(it->is_string(), "{}: `{}` must be a string, got {}", where, field, it->type_name());
  return it->get<std::string>();
}

PubMedRecord parse_record(const std::string& pmid, const nlohmann::json& record, const std::string& path) {
  const std::string where = fmt::format("{}: record {}", path, pmid);
  HMT_CHECK(record.is_object(), "{}: expected an object, got {}", where, record.type_name());
  PubMedRecord out;
  out.pmid = pmid;
  out.question = required_string(record, "QUESTION", where);
  out.long_answer = required_string(record, "LONG_ANSWER", where);
  auto contexts = record.find("CONTEXTS");
  HMT_CHECK(contexts != record.end() && contexts->is_array(), "{}: `CONTEXTS` must be a list of strings", where);
  for (const auto& c : *contexts) {
    HMT_CHECK(c.is_string(), "{}: `CONTEXTS` must be a list of strings, found {}", where, c.type_name());
    out.contexts.push_back(c.get<std::string>());
  }
  if (auto decision = record.find("final_decision"); decision != record.end() && !decision->is_null()) {
    HMT_CHECK(decision->is_string(), "{}: `final_decision` must be a string", where);
    const auto value = decision->get<std::string>();
    auto it = std::find(kShortAnswers.begin(), kShortAnswers.end(), value);
    HMT_CHECK(it != kShortAnswers.end(), "{}: `final_decision` is \"{}\", expected yes, no or maybe", where, value);
    out.label = static_cast<int>(it - kShortAnswers.begin());
  }
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " ") + p;
  return out;
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

}  // namespace

std::vector<SplitPlan> plan_pubmedqa(const std::string& source, const std::vector<std::string>& splits,
                                     const std::vector<double>& fractions) {
  HMT_CHECK(fs::is_regular_file(source), "{}: no such PubMedQA file (an ori_pqal.json-style JSON file)", source);
  int64_t records = 0;
  if (!fractions.empty()) for_each_json_member(source, [&](const std::string&, nlohmann::json&&) { ++records; });
  return plan_single_source({source}, fs::path(source).parent_path().string(), splits, fractions, records);
}

void read_pubmedqa(const SplitPlan& plan, const std::function<void(PubMedRecord&&)>& sink) {
  for (const auto& file : plan.files) {
    int64_t index = 0;
    for_each_json_member(file, [&](const std::string& pmid, nlohmann::json&& record) {
      if (plan.contains(index++)) sink(parse_record(pmid, record, file));
    });
  }
}

std::vector<QaSample> encode_pubmedqa_group(const Tokenizer& tokenizer, const std::vector<PubMedRecord>& records,
                                            int64_t group, const QaTextOptions& options) {
  std::vector<std::string> contexts;
  for (const auto& r : records) contexts.push_back(join(r.contexts));
  const std::string long_context = join(contexts);
  std::vector<QaSample> samples;
  for (const auto& r : records) {
    const std::string prefix = long_context + " " + r.question;
    const auto prefix_ids = tokenizer.encode(prefix);
    QaSample s;
    s.name = r.pmid;
    s.label = r.label;
    s.group = group;
    s.ids = tokenizer.encode(prefix + " " + r.long_answer);
    const size_t boundary = common_prefix(prefix_ids, s.ids);
    s.answer_start = static_cast<int64_t>(boundary);
    for (size_t c = 0; c < kShortAnswers.size(); ++c) {
      auto ids = tokenizer.encode(prefix + " " + kShortAnswers[c]);
      // Merges across the boundary would make the choice not a continuation
      // of the stored prefix; byte-level BPE and SentencePiece never do this
      // at a space, but a tokenizer that did must not be scored wrongly.
      HMT_CHECK(common_prefix(ids, s.ids) >= boundary,
                "PubMedQA record {}: the tokenizer merges across the space before the answer \"{}\"; its choices "
                "cannot be scored after the shared prefix",
                r.pmid, kShortAnswers[c]);
      s.choices[c].assign(ids.begin() + static_cast<int64_t>(boundary), ids.end());
      if (options.add_eos) s.choices[c].push_back(*tokenizer.eos_id());
    }
    if (options.add_bos) {
      s.ids.insert(s.ids.begin(), *tokenizer.bos_id());
      s.answer_start += 1;
    }
    if (options.add_eos) s.ids.push_back(*tokenizer.eos_id());
    samples.push_back(std::move(s));
  }
  return samples;
}

}  // namespace hmt
