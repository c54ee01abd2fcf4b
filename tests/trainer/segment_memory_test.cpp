// Activation memory of a deep unroll (HMT_SPEC section 4): the peak resident
// memory of a checkpointed S = 8 training step must grow far less than that
// of the plain step. Each step runs in its own child process (this binary,
// the hidden probe below), because a process's peak RSS never goes down.
#include <catch2/catch.hpp>
#include <sys/resource.h>
#include <sys/wait.h>
#include <spawn.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/trainer/hmt_fixtures.h"
#include "trainer/segment_runner.h"

extern char** environ;

namespace hmt {
namespace {

// A model whose per-segment activations (logits over 4000 ids, 256-token
// segments) dwarf the boundary tensors.
std::shared_ptr<HmtModel> memory_probe_model() {
  auto backbone_config = test::tiny_backbone(Family::Llama, /*dropout=*/0.0);
  backbone_config.vocab_size = 4000;
  backbone_config.hidden_size = 128;
  backbone_config.num_heads = 4;
  backbone_config.num_kv_heads = 4;
  backbone_config.head_dim = 32;
  backbone_config.intermediate_size = 256;
  backbone_config.max_position_embeddings = 300;
  torch::manual_seed(1);
  auto config = test::tiny_hmt_config(/*segment_length=*/256, /*sensory=*/8, /*recall=*/true, /*context=*/8);
  return std::make_shared<HmtModel>(make_backbone(backbone_config), config);
}

// Peak RSS in KiB of this binary run as the probe in `mode`.
long child_peak_kib(const std::string& self, const std::string& mode) {
  std::string env_mode = "HMT_MEMORY_PROBE=" + mode;
  std::vector<char*> env;
  for (char** e = environ; *e; ++e) env.push_back(*e);
  env.push_back(env_mode.data());
  env.push_back(nullptr);
  std::string tag = "[.hmt_memory_probe]";
  char* argv[] = {const_cast<char*>(self.c_str()), tag.data(), nullptr};
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv, env.data()) == 0);
  int status = 0;
  struct rusage usage {};
  REQUIRE(wait4(pid, &status, 0, &usage) == pid);
  INFO("probe " << mode << " exit status " << status);
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  return usage.ru_maxrss;
}

TEST_CASE("probe for the segment memory test", "[.hmt_memory_probe]") {
  const char* mode = std::getenv("HMT_MEMORY_PROBE");
  REQUIRE(mode != nullptr);
  auto model = memory_probe_model();
  model->train();
  auto ids = test::random_ids(/*rows=*/2, /*length=*/8 * 256, /*vocab=*/4000, /*seed=*/2);
  if (std::string(mode) == "idle") return;
  RunnerOptions options;
  options.checkpoint = std::string(mode) == "checkpoint";
  run_segments(*model, ids, {}, {}, options).loss.backward();
}

TEST_CASE("segment memory: a checkpointed S = 8 step grows peak RSS far less than a plain one",
          "[hmt][segment_checkpoint]") {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const long idle = child_peak_kib(self, "idle");
  const long plain = child_peak_kib(self, "plain");
  const long checkpointed = child_peak_kib(self, "checkpoint");
  std::printf("segment memory: peak RSS idle %ld KiB, plain %ld KiB, checkpointed %ld KiB\n", idle, plain,
              checkpointed);
  INFO("idle " << idle << " KiB, plain " << plain << " KiB, checkpointed " << checkpointed << " KiB");
  CHECK(checkpointed - idle < (plain - idle) / 2);
}

}  // namespace
}  // namespace hmt
