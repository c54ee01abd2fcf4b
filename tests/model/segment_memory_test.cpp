// Activation memory of a deep unroll (docs/hmt.md section 4): the peak resident
// memory of a checkpointed S = 8 training step must grow far less than that
// of the plain step. Each step runs in its own child process (this binary,
// the hidden probe below), because a process's peak RSS never goes down. The
// probe reports VmHWM of its own address space: getrusage's maxrss would
// carry the parent's peak across the exec.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/wait.h>
#include <spawn.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/test_paths.h"
#include "tests/model/hmt_fixtures.h"
#include "model/segment_runner.h"

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

long own_peak_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Peak RSS in KiB of this binary run as the probe in `mode`.
long child_peak_kib(const std::string& self, const std::string& mode) {
  const auto report = test::temp_dir("segment_memory") / "peak";
  std::string env_mode = "HMT_MEMORY_PROBE=" + mode, env_out = "HMT_MEMORY_PROBE_OUT=" + report.string();
  std::vector<char*> env;
  for (char** e = environ; *e; ++e) env.push_back(*e);
  env.push_back(env_mode.data());
  env.push_back(env_out.data());
  env.push_back(nullptr);
  std::string tag = "[.hmt_memory_probe]";
  char* argv[] = {const_cast<char*>(self.c_str()), tag.data(), nullptr};
  // The probe's own Catch report would interleave with ours.
  posix_spawn_file_actions_t quiet;
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, /*fd=*/1, "/dev/null", O_WRONLY, /*mode=*/0);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, self.c_str(), &quiet, nullptr, argv, env.data());
  posix_spawn_file_actions_destroy(&quiet);
  REQUIRE(spawned == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  INFO("probe " << mode << " exit status " << status);
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  long peak = -1;
  std::ifstream(report) >> peak;
  REQUIRE(peak > 0);
  return peak;
}

TEST_CASE("probe for the segment memory test", "[.hmt_memory_probe]") {
  const char* mode = std::getenv("HMT_MEMORY_PROBE");
  REQUIRE(mode != nullptr);
  auto model = memory_probe_model();
  model->train();
  auto ids = test::random_ids(/*rows=*/2, /*length=*/8 * 256, /*vocab=*/4000, /*seed=*/2);
  if (std::string(mode) != "idle") {
    RunnerOptions options;
    options.checkpoint = std::string(mode) == "checkpoint";
    run_segments(*model, ids, {}, {}, options).loss.backward();
  }
  const char* out = std::getenv("HMT_MEMORY_PROBE_OUT");
  REQUIRE(out != nullptr);
  std::ofstream(out) << own_peak_kib();
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
