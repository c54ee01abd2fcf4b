#pragma once
// `hmt eval` as a library call: one model, one prepared split, one or more
// modes; perplexity at context lengths, over whole documents, or PubMedQA;
// optionally topic-switched (interleaved) documents; the recall distance
// histogram. The result is one JSON object (the CLI prints it as a table and
// writes it to OUT/eval.json).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "eval/perplexity.h"

namespace hmt {

// The eval mode of hmt with oracle recall at the query (recall samples).
inline constexpr const char* kOracleMode = "hmt-oracle";

struct EvalRequest {
  std::string model_path;      // export, run, checkpoint or HF directory
  int64_t segment_length = 0;  // plain HF directories only
  std::string data_path;       // prepared .h5 (hmt prepare)
  std::string split = "test";
  // hmt | rmt | backbone | full (contexts only) | hmt-oracle (recall samples
  // only: RecallEvalOptions::oracle); empty = the model's own
  std::vector<std::string> modes;
  std::vector<int64_t> contexts;   // PPL at these context lengths; empty = none
  int64_t windows = 32;
  int64_t score_after = 0;  // scored segments after this many tokens (0 = the largest context)
  int64_t batch = 4;
  bool documents = false;  // whole-document PPL (the default for a LM split without contexts)
  int64_t max_documents = 0, max_document_tokens = 0;
  // auto: from the split (LM: PPL; QA: PubMedQA, or recall on a passkey
  // file); qa / recall: that task, an error on a split without it.
  std::string task = "auto";
  int64_t max_samples = 0;     // PubMedQA and recall samples
  int64_t interleave_len = 0;  // topic switching
  int64_t dilate_len = 0;      // dilation
  std::string out_dir;         // "": write nothing; else eval.json and the recall histogram PNGs
};

nlohmann::ordered_json run_evaluation(const EvalRequest& request, const EvalProgress& progress = {});

// The readable table of a run_evaluation result.
std::string format_evaluation(const nlohmann::ordered_json& report);

}  // namespace hmt
