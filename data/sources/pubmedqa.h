#pragma once
// PubMedQA (docs/hmt.md section 7): `ori_pqal.json`-style files, PMID ->
// {QUESTION, CONTEXTS[], LONG_ANSWER, final_decision, ...}; the artificial
// (PQA-A) and unlabeled (PQA-U) sets have the same schema (PQA-U has no
// final_decision: label -1).
//
// Fusing: the records are taken in file order in groups of F (the last
// group may be smaller); a group's long context is the CONTEXTS of its
// records, each record's joined with spaces, joined with spaces. Each record
// of the group then gives one sample, the text
//   long_context + " " + QUESTION + " " + LONG_ANSWER
// tokenized as one text; only the answer tokens are scored. The answer
// starts after the longest common prefix of the sample's ids and the ids of
// `long_context + " " + QUESTION` alone (the tokens wholly inside the
// prefix). Each short answer c of yes/no/maybe is tokenized the same way
// (`... QUESTION c`) and stored as the ids after that boundary.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/sources/source_plan.h"
#include "data/store/token_store.h"
#include "data/tokenizers/tokenizer.h"

namespace hmt {

struct PubMedRecord {
  std::string pmid, question, long_answer;
  std::vector<std::string> contexts;
  int label = -1;  // index into kShortAnswers; -1 = unlabeled
};

// Plans one split (or several, cut by data.split_fractions over the records).
std::vector<SplitPlan> plan_pubmedqa(const std::string& source, const std::vector<std::string>& splits,
                                     const std::vector<double>& fractions);

// Streams the records of plan.files that plan.contains() (counted over the
// file's records), in file order. Schema errors name the file and the PMID.
void read_pubmedqa(const SplitPlan& plan, const std::function<void(PubMedRecord&&)>& sink);

struct QaTextOptions {
  bool add_bos = false, add_eos = false;  // bos before each sample; eos after its answer and each choice
};

// The samples of one fused group (`group` = its index in the split).
std::vector<QaSample> encode_pubmedqa_group(const Tokenizer& tokenizer, const std::vector<PubMedRecord>& records,
                                            int64_t group, const QaTextOptions& options);

}  // namespace hmt
