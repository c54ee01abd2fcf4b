// hmt score MODEL_DIR --ids FILE [--json]
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

#include "app/commands/commands.h"
#include "app/commands/text_io.h"
#include "core/error.h"
#include "core/runtime.h"
#include "model/backbone.h"
#include "model/document_score.h"

namespace hmt::cli {
namespace {

struct ScoreArgs {
  std::string model_dir, ids;
  bool json = false;
  bool grads = false;
  int threads = 0;
};

int run_score(const ScoreArgs& args) {
  apply_threads(args.threads);
  if (std::filesystem::exists(std::filesystem::path(args.model_dir) / "hmt.safetensors"))
    return not_built("score on an HMT export directory (hmt.safetensors)", "issue 3");
  if (args.grads) return not_built("score --grads", "issue 3");
  std::vector<int32_t> ids = read_ids(args.ids);
  auto backbone = load_backbone(args.model_dir);
  DocumentScore score = score_document(*backbone, ids);
  if (args.json) {
    nlohmann::ordered_json out = {{"tokens", score.tokens}, {"nll_sum", score.nll_sum}, {"ppl", score.ppl()}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("tokens %lld  nll_sum %.6f  nll/token %.6f  ppl %.4f\n", static_cast<long long>(score.tokens),
                score.nll_sum, score.nll_sum / std::max<int64_t>(score.tokens, 1), score.ppl());
  }
  return 0;
}

}  // namespace

void add_score(CLI::App& app, Action& action) {
  auto args = std::make_shared<ScoreArgs>();
  auto* cmd = app.add_subcommand("score", "NLL of one document (whitespace-separated ids) under a model directory");
  cmd->add_option("model_dir", args->model_dir, "HF model directory (config.json + model.safetensors)")
      ->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--ids", args->ids, "file of whitespace-separated token ids")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--json", args->json, "print one JSON object: tokens, nll_sum, ppl");
  cmd->add_flag("--grads", args->grads, "also backpropagate and report gradient norms (HMT exports)");
  cmd->add_option("--threads", args->threads, "intra-op threads (0 = cores / ranks on the node)")->capture_default_str();
  cmd->callback([&action, args] { action = [args] { return run_score(*args); }; });
}

}  // namespace hmt::cli
