#include "eval/evaluation.h"

#include <algorithm>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/peak_memory.h"
#include "data/store/token_store.h"
#include "data/tokenizers/tokenizer.h"
#include "eval/eval_model.h"
#include "eval/pubmedqa.h"
#include "eval/recall_histogram.h"
#include "eval/recall_task.h"
#include "data/store/token_stream.h"

namespace hmt {
namespace fs = std::filesystem;
namespace {

using json = nlohmann::ordered_json;

double per_second(int64_t tokens, double seconds) { return seconds > 0 ? static_cast<double>(tokens) / seconds : 0; }

json context_json(const ContextPerplexity& r) {
  return {{"context", r.context}, {"windows", r.windows},
          {"tokens", r.tokens},   {"nll_sum", r.nll_sum},
          {"ppl", r.ppl},         {"ppl_batch_mean", r.ppl_batch_mean},
          {"seconds", r.seconds}, {"tokens_per_s", per_second(r.input_tokens, r.seconds)}};
}

json documents_json(const DocumentPerplexity& r) {
  return {{"documents", r.documents},
          {"tokens", r.tokens},
          {"longest", r.longest},
          {"nll_sum", r.nll_sum},
          {"ppl", r.ppl},
          {"seconds", r.seconds},
          {"tokens_per_s", per_second(r.input_tokens, r.seconds)}};
}

json qa_json(const QaEvaluation& r) {
  json predicted = json::object();
  for (size_t c = 0; c < kShortAnswers.size(); ++c) predicted[kShortAnswers[c]] = r.predicted[c];
  return {{"samples", r.samples},
          {"answer_tokens", r.answer_tokens},
          {"nll_sum", r.nll_sum},
          {"long_answer_ppl", r.long_answer_ppl},
          {"labeled", r.labeled},
          {"correct", r.correct},
          {"short_answer_accuracy", r.accuracy},
          {"predicted", predicted},
          {"seconds", r.seconds}};
}

void check_tokenizer(const EvalModel& model, const TokenStore& store) {
  if (model.tokenizer_path.empty()) {
    std::fprintf(stderr, "warning: %s: the model's tokenizer is unknown, so %s cannot be checked against it\n",
                 model.source.c_str(), store.path().c_str());
    return;
  }
  check_tokenizer_fingerprint(store, tokenizer_fingerprint(model.tokenizer_path),
                              "the model's tokenizer (" + model.tokenizer_path + ")");
}

}  // namespace

json run_evaluation(const EvalRequest& request, const EvalProgress& progress) {
  EvalModel loaded = load_eval_model(request.model_path, request.segment_length);
  HmtModel& model = *loaded.model;
  TokenStore store(request.data_path);
  check_tokenizer(loaded, store);
  const TokenSplit& split = store.split(request.split);
  const int64_t vocab = model.backbone().config().vocab_size;
  HMT_CHECK(store.vocab_size() <= vocab, "{}: prepared with a vocabulary of {} ids, more than the model's {} ({})",
            store.path(), store.vocab_size(), vocab, loaded.source);

  // One entry per --mode: a memory mode, or "hmt-oracle", hmt with oracle
  // recall at the query (recall splits only, RecallEvalOptions::oracle).
  struct ModeRun {
    MemoryMode memory;
    bool oracle;
    std::string name() const { return oracle ? kOracleMode : memory_mode_name(memory); }
  };
  std::vector<ModeRun> modes;
  for (const auto& name : request.modes)
    modes.push_back(name == kOracleMode ? ModeRun{MemoryMode::Hmt, true} : ModeRun{parse_memory_mode(name), false});
  if (modes.empty()) modes.push_back({loaded.default_mode, false});
  for (const auto& mode : modes) check_mode(loaded, mode.memory);
  const bool any_oracle = std::any_of(modes.begin(), modes.end(), [](const ModeRun& m) { return m.oracle; });

  HMT_CHECK(request.task == "auto" || request.task == "ppl" || request.task == "qa" || request.task == "recall",
            "eval --task: \"{}\" is not one of auto, ppl, qa, recall", request.task);
  const bool qa = split.is_qa();
  const bool recall_split = qa && split.documents() > 0 && split.distance(0) >= 0;
  HMT_CHECK(request.task == "auto" || (request.task == "ppl") == !qa, "{}: split {} holds {}; --task {} needs {}",
            store.path(), request.split, qa ? "QA samples" : "language-model documents", request.task,
            request.task == "ppl" ? "language-model documents" : "QA samples");
  HMT_CHECK(request.task != "recall" || recall_split,
            "{}: split {} holds no recall samples (prepare it with --dataset passkey); --task recall needs them",
            store.path(), request.split);
  HMT_CHECK(request.task != "qa" || !recall_split, "{}: split {} holds recall samples; score them with --task recall",
            store.path(), request.split);
  HMT_CHECK(!qa || (request.contexts.empty() && !request.documents && request.interleave_len == 0 &&
                    request.dilate_len == 0),
            "{}: split {} holds PubMedQA samples: context lengths, --documents and transforms apply to "
            "language-model splits",
            store.path(), request.split);
  const bool documents = !qa && (request.documents || request.contexts.empty());
  HMT_CHECK(recall_split || !any_oracle,
            "eval --mode {}: oracle recall scores recall samples (hmt prepare --dataset passkey); split {} of {} "
            "holds none",
            kOracleMode, request.split, store.path());
  for (const auto& mode : modes)
    HMT_CHECK(mode.memory != MemoryMode::Full || (!qa && !documents),
              "eval --mode full: the full-attention reference scores context lengths only (--contexts), not {}",
              qa ? "QA or recall samples" : "whole documents");

  TransformOptions transform;
  transform.interleave_len = request.interleave_len;
  transform.dilate_len = request.dilate_len;
  if (request.dilate_len > 0) {
    HMT_CHECK(store.filler_id().has_value(), "{}: has no filler id for --dilate-len", store.path());
    transform.filler_id = *store.filler_id();
  }
  std::unique_ptr<DocumentView> view;
  std::unique_ptr<TokenStream> stream;
  if (!qa) {
    view = std::make_unique<DocumentView>(split, transform);
    stream = std::make_unique<TokenStream>(*view);
  }

  const HmtConfig& config = model.config();
  json report = {{"model", loaded.source},
                 {"kind", loaded.kind},
                 {"stage", loaded.stage},
                 {"data", store.path()},
                 {"split", request.split},
                 {"dataset", store.dataset()},
                 {"segment_length", config.segment_length},
                 {"num_sensory", config.num_sensory},
                 {"recall",
                  {{"enabled", config.recall.enabled},
                   {"context", config.recall.context},
                   {"hidden_dim", config.recall.hidden_dim}}},
                 {"parameters", {{"backbone", 0}, {"hmt", 0}}},
                 {"interleave_len", request.interleave_len},
                 {"dilate_len", request.dilate_len},
                 {"threads", torch::get_num_threads()}};
  int64_t backbone_params = 0, hmt_params = 0;
  for (const auto& p : model.backbone().parameters()) backbone_params += p.numel();
  for (const auto& [name, tensor] : model.hmt_tensors()) hmt_params += tensor.numel();
  report["parameters"] = {{"backbone", backbone_params}, {"hmt", hmt_params}};
  if (stream) report["stream_tokens"] = stream->size();
  if (!request.contexts.empty()) report["score_after"] = request.score_after;

  json results = json::array();
  for (const auto& run : modes) {
    const MemoryMode mode = run.memory;
    json entry = {{"mode", run.name()}};
    RecallHistogram histogram;
    const bool recalls = mode == MemoryMode::Hmt && config.recall.enabled;
    if (!request.contexts.empty()) {
      ContextEvalOptions options{request.contexts, request.windows, request.batch, mode, request.score_after};
      json rows = json::array();
      for (const auto& r : context_perplexity(model, *stream, options, recalls ? &histogram : nullptr, progress))
        rows.push_back(context_json(r));
      entry["contexts"] = rows;
    }
    if (documents) {
      DocumentEvalOptions options{request.max_documents, request.max_document_tokens, mode};
      // The histogram comes from the longest histories: the context windows
      // when there are any, else the documents.
      RecallHistogram* target = recalls && request.contexts.empty() ? &histogram : nullptr;
      entry["documents"] = documents_json(document_perplexity(model, *view, options, target, progress));
    }
    if (recall_split) {
      RecallEvalOptions options{request.batch, request.max_samples, mode, run.oracle};
      entry["recall_task"] = recall_json(recall_evaluation(model, store, split, options, recalls ? &histogram : nullptr,
                                                           progress));
    } else if (qa) {
      QaEvalOptions options{request.batch, request.max_samples, mode};
      entry["qa"] = qa_json(qa_evaluation(model, split, options, recalls ? &histogram : nullptr, progress));
    }
    if (recalls) {
      entry["recall_histogram"] = histogram.to_json();
      if (!request.out_dir.empty() && histogram.total() > 0) {
        fs::create_directories(request.out_dir);
        const std::string png =
            (fs::path(request.out_dir) / ("recall_histogram_" + entry["mode"].get<std::string>() + ".png")).string();
        const std::string problem = plot_recall_histogram(histogram,
                                                          fmt::format("recall distance, {} ({} recalls)",
                                                                      fs::path(loaded.source).filename().string(),
                                                                      histogram.total()),
                                                          png);
        entry["recall_histogram"]["png"] = problem.empty() ? json(png) : json();
        if (!problem.empty()) std::fprintf(stderr, "warning: no recall histogram plot: %s\n", problem.c_str());
      }
    }
    results.push_back(entry);
  }
  report["results"] = results;
  report["peak_rss_mib"] = static_cast<double>(resident_memory().peak_bytes) / (1024.0 * 1024.0);
  if (!request.out_dir.empty()) {
    fs::create_directories(request.out_dir);
    write_file_atomically((fs::path(request.out_dir) / "eval.json").string(), report.dump(2) + "\n");
  }
  return report;
}

namespace {

// Recall accuracy by distance, one column per mode.
std::string format_recall_table(const json& report) {
  std::vector<const json*> entries;
  for (const auto& entry : report["results"])
    if (entry.contains("recall_task")) entries.push_back(&entry);
  if (entries.empty()) return "";
  const json& first = (*entries.front())["recall_task"];
  std::string out = fmt::format("recall: exact match of the greedy answer by distance D (segments of L = {} between "
                                "fact and query; in brackets its 95% Wilson interval); chance {:.3g}%\n",
                                report["segment_length"].get<int64_t>(), 100.0 * first["chance"].get<double>());
  // One row per entry of the list `list` of recall_task (labelled by its
  // field `label`), one accuracy column per mode: the same samples in every mode.
  const auto accuracy_rows = [&](const char* column, const char* list, const char* label) {
    std::string rows_out = fmt::format("{:>10} {:>8}", column, "samples");
    for (const auto* e : entries) rows_out += fmt::format(" {:>16}", (*e)["mode"].get<std::string>());
    rows_out += "\n";
    const auto& rows = first[list];
    for (size_t i = 0; i < rows.size(); ++i) {
      rows_out += fmt::format("{:>10} {:>8}", rows[i][label].get<int64_t>(), rows[i]["samples"].get<int64_t>());
      for (const auto* e : entries)
        rows_out += fmt::format(" {:>16}", format_recall_rate((*e)["recall_task"][list][i]));
      rows_out += "\n";
    }
    return rows_out;
  };
  out += accuracy_rows("D", "distances", "distance");
  out += fmt::format("{:>10} {:>8}", "all", first["samples"].get<int64_t>());
  for (const auto* e : entries) out += fmt::format(" {:>16}", format_recall_rate((*e)["recall_task"]));
  out += "\n";
  if (first.contains("by_older_facts")) {
    out += "recall: exact match by how many of the other facts are older than the asked one (0 = it is the oldest)\n";
    out += accuracy_rows("older", "by_older_facts", "older_facts");
  }
  for (const auto* e : entries) {
    const auto& task = (*e)["recall_task"];
    if (task["distances"].empty() || !task["distances"][0].contains("fact_recall_weight")) continue;
    const bool others = task["distances"][0].contains("other_facts_recall_weight");
    out += fmt::format("{} recall at the query segment: mean weight on the memory of the asked fact's segment{}, "
                       "and how often the asked fact's is the largest\n{:>10} {:>8} {:>10}{} {:>10}\n",
                       (*e)["mode"].get<std::string>(), others ? " and on those of the other facts" : "", "D",
                       "recalled", "weight", others ? fmt::format(" {:>12}", "other facts") : "", "largest");
    for (const auto& r : task["distances"])
      out += fmt::format("{:>10} {:>8} {:>10.3f}{} {:>9.1f}%\n", r["distance"].get<int64_t>(),
                         r["recalled"].get<int64_t>(), r["fact_recall_weight"].get<double>(),
                         others ? fmt::format(" {:>12.3f}", r["other_facts_recall_weight"].get<double>()) : "",
                         100.0 * r["fact_strongest"].get<double>());
  }
  return out;
}

}  // namespace

std::string format_evaluation(const json& report) {
  std::string out = fmt::format("model {} ({}{}), data {} split {}, L = {}\n", report["model"].get<std::string>(),
                                report["kind"].get<std::string>(),
                                report["stage"].get<std::string>().empty() ? ""
                                                                           : ", " + report["stage"].get<std::string>(),
                                report["data"].get<std::string>(), report["split"].get<std::string>(),
                                report["segment_length"].get<int64_t>());
  for (const auto& entry : report["results"]) {
    const std::string mode = entry["mode"].get<std::string>();
    if (entry.contains("contexts")) {
      out += fmt::format("{:<9} {:>9} {:>8} {:>9} {:>11} {:>14} {:>10}\n", "mode", "context", "windows", "tokens",
                         "PPL", "PPL(official)", "tokens/s");
      for (const auto& r : entry["contexts"])
        out += fmt::format("{:<9} {:>9} {:>8} {:>9} {:>11.3f} {:>14.3f} {:>10.0f}\n", mode, r["context"].get<int64_t>(),
                           r["windows"].get<int64_t>(), r["tokens"].get<int64_t>(), r["ppl"].get<double>(),
                           r["ppl_batch_mean"].get<double>(), r["tokens_per_s"].get<double>());
    }
    if (entry.contains("documents")) {
      const auto& d = entry["documents"];
      out += fmt::format("{:<9} documents {} (longest {} tokens): {} tokens scored, PPL {:.3f}, {:.0f} tokens/s\n",
                         mode, d["documents"].get<int64_t>(), d["longest"].get<int64_t>(), d["tokens"].get<int64_t>(),
                         d["ppl"].get<double>(), d["tokens_per_s"].get<double>());
    }
    if (entry.contains("qa")) {
      const auto& q = entry["qa"];
      out += fmt::format("{:<9} PubMedQA {} samples: long-answer PPL {:.3f} ({} answer tokens); short-answer "
                         "accuracy {:.1f}% ({}/{})\n",
                         mode, q["samples"].get<int64_t>(), q["long_answer_ppl"].get<double>(),
                         q["answer_tokens"].get<int64_t>(), 100.0 * q["short_answer_accuracy"].get<double>(),
                         q["correct"].get<int64_t>(), q["labeled"].get<int64_t>());
    }
    if (entry.contains("recall_histogram")) {
      const auto& h = entry["recall_histogram"];
      std::string bars;
      const auto& counts = h["count"];
      for (size_t d = 0; d < counts.size() && d < 8; ++d)
        bars += fmt::format(" {}:{}", d + 1, counts[d].get<int64_t>());
      if (counts.size() > 8) bars += " ...";
      out += fmt::format("{:<9} recall distance (segments back: recalls):{}; mean {:.2f} over {} recalls\n", mode, bars,
                         h["mean_distance"].get<double>(), h["recalls"].get<int64_t>());
    }
  }
  out += format_recall_table(report);
  out += fmt::format("peak resident memory {:.1f} MiB\n", report["peak_rss_mib"].get<double>());
  return out;
}

}  // namespace hmt
