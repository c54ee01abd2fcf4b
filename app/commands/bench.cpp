// hmt bench: training-step time, tokens/s, MFU and peak memory (resident;
// on CUDA also the caching allocator's) of a small llama HMT model for
// several unroll depths S, with and without segment checkpointing, on the
// CPU or a CUDA device, in fp32 or under bf16/fp16 autocast. Each configuration runs in a child process (this
// binary re-executed with --one S,on|off) so that its VmHWM is its own.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "app/commands/commands.h"
#include "core/atomic_file.h"
#include "core/device.h"
#include "core/error.h"
#include "core/runtime.h"
#include "model/autocast.h"
#include "trainer/step_benchmark.h"

extern char** environ;

namespace hmt::cli {
namespace {

struct BenchArgs {
  StepBenchmarkOptions model;  // segments/checkpoint set per configuration
  std::vector<int64_t> segments = {2, 4, 8, 16};
  std::string checkpoint = "both";
  int threads = 0;
  std::string json_out;
  std::string profile_dir;  // chrome traces of each configuration's last timed step
  std::string one;          // "S,on" / "S,off": run one configuration here, print its JSON
};

std::vector<std::string> common_args(const BenchArgs& args) {
  const auto& m = args.model;
  return {"--vocab",          std::to_string(m.vocab),
          "--hidden",         std::to_string(m.hidden),
          "--layers",         std::to_string(m.layers),
          "--heads",          std::to_string(m.heads),
          "--segment-length", std::to_string(m.segment_length),
          "--sensory",        std::to_string(m.sensory),
          "--batch",          std::to_string(m.batch),
          "--steps",          std::to_string(m.steps),
          "--seed",           std::to_string(m.seed),
          "--threads",        std::to_string(args.threads),
          "--profile",        args.profile_dir,
          "--device",         m.device,
          "--dtype",          m.dtype,
          "--peak-n",         std::to_string(m.peak_matmul_n),
          "--recall",         m.recall ? "on" : "off"};
}

// Runs this executable with `arguments`, returning its stdout; its stderr
// goes to ours. Throws when it cannot start or exits non-zero.
std::string run_child(const std::vector<std::string>& arguments) {
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const auto& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) fail("bench: pipe failed: {}", std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  pid_t pid = -1;
  int spawned = ::posix_spawn(&pid, exe.c_str(), &actions, /*attrp=*/nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    fail("bench: cannot start {}: {}", exe, std::strerror(spawned));
  }
  std::string out;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail("bench: configuration `{}` failed ({})", fmt::join(arguments, " "),
         WIFEXITED(status) ? fmt::format("exit {}", WEXITSTATUS(status)) : fmt::format("signal {}", WTERMSIG(status)));
  return out;
}

int run_one(const BenchArgs& args) {
  StepBenchmarkOptions options = args.model;
  const auto comma = args.one.find(',');
  const std::string mode = comma == std::string::npos ? "" : args.one.substr(comma + 1);
  HMT_CHECK(comma != std::string::npos && (mode == "on" || mode == "off"),
            "bench --one: expected S,on or S,off, got \"{}\"", args.one);
  try {
    options.segments = std::stoll(args.one.substr(0, comma));
  } catch (const std::exception&) {
    fail("bench --one: \"{}\" is not a segment count", args.one.substr(0, comma));
  }
  options.checkpoint = mode == "on";
  if (!args.profile_dir.empty()) {
    std::filesystem::create_directories(args.profile_dir);
    options.profile =
        (std::filesystem::path(args.profile_dir) / fmt::format("S{}_{}.trace.json", options.segments, mode)).string();
  }
  std::printf("%s\n", to_json(run_step_benchmark(options)).dump().c_str());
  return 0;
}

std::string mib(int64_t bytes) { return fmt::format("{:.1f}", static_cast<double>(bytes) / (1 << 20)); }

int run_bench(const BenchArgs& args) {
  const int threads = apply_threads(args.threads);
  if (!args.one.empty()) return run_one(args);
  HMT_CHECK(args.checkpoint == "both" || args.checkpoint == "on" || args.checkpoint == "off",
            "bench --checkpoint: expected both, on or off, got \"{}\"", args.checkpoint);
  std::vector<bool> modes;
  if (args.checkpoint != "on") modes.push_back(false);
  if (args.checkpoint != "off") modes.push_back(true);

  const auto& m = args.model;
  // Fails here, before any child starts, on a bad --device or --dtype.
  const bool cuda = resolve_device(m.device, "bench --device").is_cuda();
  parse_autocast_dtype(m.dtype, "bench --dtype");
  const int64_t peak_n = m.peak_matmul_n > 0 ? m.peak_matmul_n : cuda ? 8192 : 2048;
  std::printf("llama vocab %lld hidden %lld layers %lld heads %lld; batch %lld, L %lld, k %lld, recall %s; threads %d; "
              "%s %s\n",
              static_cast<long long>(m.vocab), static_cast<long long>(m.hidden), static_cast<long long>(m.layers),
              static_cast<long long>(m.heads), static_cast<long long>(m.batch),
              static_cast<long long>(m.segment_length), static_cast<long long>(m.sensory), m.recall ? "on" : "off",
              threads, m.device.c_str(), m.dtype.c_str());
  std::printf("MFU = 6 N x processed tokens / step time / %s peak; the peak (best %lld^3 matmul) is timed in each\n"
              "configuration's process right before its steps (column peak_GF/s)%s\n",
              m.dtype.c_str(), static_cast<long long>(peak_n),
              cuda ? "; gpu_MiB: most bytes held by tensors during the steps (CUDA caching allocator)" : "");
  std::printf("%4s %5s %8s %9s %10s %10s %10s %7s %10s %10s%s\n", "S", "ckpt", "tokens", "processed", "step_s",
              "tokens/s", "peak_GF/s", "MFU%", "peak_MiB", "+step_MiB", cuda ? "    gpu_MiB" : "");
  std::fflush(stdout);

  nlohmann::json configurations = nlohmann::json::array();
  for (int64_t segments : args.segments) {
    for (bool checkpoint : modes) {
      auto child_args = common_args(args);
      child_args.insert(child_args.begin(),
                        {"bench", "--one", fmt::format("{},{}", segments, checkpoint ? "on" : "off")});
      auto result = step_benchmark_from_json(nlohmann::json::parse(run_child(child_args)));
      const double mfu = result.mfu();
      std::printf("%4lld %5s %8lld %9lld %10.3f %10.1f %10.2f %7.2f %10s %10s", static_cast<long long>(segments),
                  checkpoint ? "on" : "off", static_cast<long long>(result.content_tokens),
                  static_cast<long long>(result.processed_tokens), result.median_seconds, result.tokens_per_second(),
                  result.peak_flops / 1e9, 100 * mfu, mib(result.peak_rss_bytes).c_str(),
                  mib(result.peak_rss_bytes - result.baseline_rss_bytes).c_str());
      if (cuda) std::printf(" %10s", mib(result.peak_device_bytes).c_str());
      std::printf("\n");
      std::fflush(stdout);
      auto row = to_json(result);
      row["tokens_per_second"] = result.tokens_per_second();
      row["mfu"] = mfu;
      configurations.push_back(std::move(row));
    }
  }
  if (!args.json_out.empty()) {
    nlohmann::json out = {{"threads", threads},
                          {"device", m.device},
                          {"dtype", m.dtype},
                          {"peak_matmul_n", peak_n},
                          {"configurations", std::move(configurations)}};
    write_file_atomically(args.json_out, out.dump(2) + "\n");
  }
  return 0;
}

}  // namespace

void add_bench(CLI::App& app, Action& action) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Training-step benchmark: time, tokens/s, MFU, peak memory per unroll depth");
  auto& m = args->model;
  cmd->add_option("--vocab", m.vocab, "vocabulary size")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--hidden", m.hidden, "model width")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--layers", m.layers, "decoder layers")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--heads", m.heads, "attention heads")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--segment-length", m.segment_length, "L: content tokens per segment")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--sensory", m.sensory, "k: sensory tokens")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch", m.batch, "B: documents per step")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--segments", args->segments, "unroll depths S to measure")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--checkpoint", args->checkpoint, "segment checkpointing: both, on or off")->capture_default_str();
  cmd->add_option("--steps", m.steps, "timed steps per configuration (median reported), after one warm-up")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", m.seed, "seed of the model and the input ids")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", args->threads, "intra-op threads (0 = cores / ranks on the node)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", m.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", m.dtype,
                  "fp32, or bf16 / fp16: the forward under autocast to that dtype (weights stay fp32); the peak "
                  "matmul uses the same dtype")
      ->capture_default_str();
  cmd->add_option("--peak-n", m.peak_matmul_n, "n of the n^3 peak matmul; 0 = 2048 on the CPU, 8192 on CUDA")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--recall", m.recall, "memory recall: on (stage 2) or off (stage 1)")->capture_default_str();
  cmd->add_option("--json", args->json_out, "also write the results as JSON to this file");
  cmd->add_option("--profile", args->profile_dir,
                  "write a chrome trace (LibTorch profiler) of each configuration's last timed step into this "
                  "directory, S<n>_<on|off>.trace.json; profiling slows that step, so do not measure with it");
  // Internal: the per-configuration child process.
  cmd->add_option("--one", args->one, "run one configuration S,on|off here and print its JSON")->group("");
  cmd->callback([&action, args] { action = [args] { return run_bench(*args); }; });
}

}  // namespace hmt::cli
