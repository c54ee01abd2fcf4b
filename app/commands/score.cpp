// hmt score MODEL_DIR --ids FILE [--json] [--grads] [--device cpu|cuda]
// MODEL_DIR is a plain HF directory (one pass of the backbone) or an HMT
// export (segment by segment with memory, docs/hmt.md section 8).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_set>

#include "app/commands/commands.h"
#include "app/commands/text_io.h"
#include "core/device.h"
#include "core/error.h"
#include "core/runtime.h"
#include "model/backbone.h"
#include "model/document_score.h"
#include "model/hmt_export.h"
#include "model/segment_runner.h"

namespace hmt::cli {
namespace {

struct ScoreArgs {
  std::string model_dir, ids;
  bool json = false;
  bool grads = false;
  int threads = 0;
  std::string device = "cpu";
};

double ppl_of(double nll_sum, int64_t tokens) {
  return tokens > 0 ? std::exp(nll_sum / static_cast<double>(tokens)) : 1.0;
}

// L2 norm over several gradients together, in double; a parameter the loss
// does not reach (undefined grad) contributes zero.
double gradient_norm(const std::vector<torch::Tensor>& params) {
  double squares = 0;
  for (const auto& p : params)
    if (p.grad().defined()) squares += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
  return std::sqrt(squares);
}

nlohmann::ordered_json score_export(const ScoreArgs& args, const std::vector<int32_t>& ids) {
  auto model = load_hmt_export(args.model_dir);
  // fp32 on every device (no autocast), so that a GPU run can be compared
  // with the CPU one; run_segments moves the ids to the model's device.
  model->to(resolve_device(args.device, "score --device"));
  const int64_t vocab = model->backbone().config().vocab_size;
  HMT_CHECK(ids.size() >= 2, "{}: a document needs at least 2 tokens to score, got {}", args.ids, ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    HMT_CHECK(ids[i] >= 0 && ids[i] < vocab, "{}: token #{} is id {}, outside the model's vocabulary [0, {})", args.ids,
              i, ids[i], vocab);
  auto input = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kInt64).unsqueeze(0);

  // Scoring, not training: eval mode (load_hmt_export), no checkpointing, no
  // truncation, every scored token in the sum.
  RunnerOptions options;
  torch::AutoGradMode grad_mode(args.grads);
  BatchNll run = run_segments(*model, input, /*mask=*/{}, /*score_mask=*/{}, options);
  const double nll_sum = run.nll_sum.item<double>();

  nlohmann::ordered_json out = {{"tokens", run.tokens}, {"nll_sum", nll_sum}, {"ppl", ppl_of(nll_sum, run.tokens)}};
  nlohmann::ordered_json segments = nlohmann::ordered_json::array();
  for (const auto& segment : run.segments)
    segments.push_back({{"tokens", segment.tokens}, {"nll_sum", segment.nll_sum}});
  out["segments"] = std::move(segments);
  if (!args.grads) return out;

  run.nll_sum.backward();
  auto named = model->named_parameters(/*recurse=*/true);
  nlohmann::ordered_json norms = nlohmann::ordered_json::object();
  for (const auto& [name, tensor] : model->hmt_tensors()) norms[name] = gradient_norm({named[name]});
  std::vector<torch::Tensor> backbone;
  std::unordered_set<const void*> seen;  // a tied embedding/head counts once
  for (const auto& param : model->backbone().parameters(/*recurse=*/true))
    if (seen.insert(param.unsafeGetTensorImpl()).second) backbone.push_back(param);
  norms["backbone"] = gradient_norm(backbone);
  out["grad_norms"] = std::move(norms);
  return out;
}

int run_score(const ScoreArgs& args) {
  apply_threads(args.threads);
  std::vector<int32_t> ids = read_ids(args.ids);
  nlohmann::ordered_json out;
  if (is_hmt_export(args.model_dir)) {
    out = score_export(args, ids);
  } else {
    if (args.grads) fail("{}: --grads needs an HMT export directory (with hmt.safetensors)", args.model_dir);
    if (args.device != "cpu")
      fail("{}: --device {} needs an HMT export directory; plain HF directories are scored on the CPU", args.model_dir,
           args.device);
    auto backbone = load_backbone(args.model_dir);
    DocumentScore score = score_document(*backbone, ids);
    out = {{"tokens", score.tokens}, {"nll_sum", score.nll_sum}, {"ppl", score.ppl()}};
  }
  if (args.json) {
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  const auto tokens = out["tokens"].get<int64_t>();
  const double nll_sum = out["nll_sum"].get<double>();
  std::printf("tokens %lld  nll_sum %.6f  nll/token %.6f  ppl %.4f\n", static_cast<long long>(tokens), nll_sum,
              nll_sum / static_cast<double>(std::max<int64_t>(tokens, 1)), out["ppl"].get<double>());
  if (out.contains("segments")) {
    size_t n = 0;
    for (const auto& segment : out["segments"])
      std::printf("segment %zu  tokens %lld  nll_sum %.6f\n", n++,
                  static_cast<long long>(segment["tokens"].get<int64_t>()), segment["nll_sum"].get<double>());
  }
  if (out.contains("grad_norms"))
    for (const auto& [name, norm] : out["grad_norms"].items())
      std::printf("grad_norm %s %.6g\n", name.c_str(), norm.get<double>());
  return 0;
}

}  // namespace

void add_score(CLI::App& app, Action& action) {
  auto args = std::make_shared<ScoreArgs>();
  auto* cmd = app.add_subcommand("score", "NLL of one document (whitespace-separated ids) under a model directory");
  cmd->add_option("model_dir", args->model_dir,
                  "HMT export directory (hmt.safetensors + hmt_config.json) or plain HF model directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--ids", args->ids, "file of whitespace-separated token ids")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--json", args->json, "print one JSON object: tokens, nll_sum, ppl (and segments for an export)");
  cmd->add_flag("--grads", args->grads,
                "HMT exports: backpropagate the summed NLL and report grad_norms per hmt.* tensor and the backbone");
  cmd->add_option("--threads", args->threads, "intra-op threads (0 = cores / ranks on the node)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", args->device, "HMT exports: cpu, cuda or cuda:N (fp32 on every device)")
      ->capture_default_str();
  cmd->callback([&action, args] { action = [args] { return run_score(*args); }; });
}

}  // namespace hmt::cli
