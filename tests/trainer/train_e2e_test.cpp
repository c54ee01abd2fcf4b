// `hmt train` end to end on a tiny model and a prepared token file written
// here: stage hand-off, exact resume (SIGTERM in-process, SIGKILL of a real
// process), non-finite steps, corrupt checkpoints, start-mode errors, and 2
// ranks under mpirun against one process with twice the batch.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/config.h"
#include "data/store/loader.h"
#include "data/store/token_store_writer.h"
#include "model/hmt_builder.h"
#include "model/safetensors.h"
#include "model/segment_runner.h"
#include "tests/app/run_command.h"
#include "tests/test_paths.h"
#include "tests/trainer/trainer_fixtures.h"
#include "trainer/checkpoint.h"
#include "trainer/dist/communicator.h"
#include "trainer/metrics.h"
#include "trainer/run_seeds.h"
#include "trainer/trainer.h"

namespace fs = std::filesystem;

namespace {

// Documents of a repeating pattern with noise (a tiny model learns some of
// it), vocabulary 64: 16 for training, 4 held out.
std::string write_store(const fs::path& dir) {
  const std::string path = (dir / "tokens.h5").string();
  hmt::StoreHeader header;
  header.dataset = "text";
  header.vocab_size = 64;
  header.inputs_sha256 = "test";
  hmt::TokenStoreWriter writer(path, header);
  uint32_t lcg = 12345;
  auto noise = [&] {
    lcg = lcg * 1664525u + 1013904223u;
    return static_cast<int32_t>((lcg >> 16) % 5);
  };
  for (auto [split, docs] : {std::pair{"train", 16}, {"validation", 4}}) {
    auto out = writer.begin_split(split, /*qa=*/false, {{"fixture.txt", "00", 1}});
    for (int d = 0; d < docs; ++d) {
      std::vector<int32_t> ids;
      for (int t = 0; t < 120; ++t) ids.push_back((d * 5 + t * 3 + noise()) % 64);
      out.add_document(fmt::format("{}-{}", split, d), ids);
    }
    out.mark_units(docs, {});
    out.finish();
  }
  writer.finish({"train", "validation"});
  return path;
}

hmt::ExperimentConfig experiment(const fs::path& dir, const std::string& run) {
  auto config = hmt::test::tiny_experiment((dir / run).string());
  config.data.path = write_store(dir);
  config.train.validation.batches = 1;
  config.train.validation.every = 2;
  config.train.checkpoint.every = 2;
  config.train.checkpoint.keep = 2;
  config.train.stage1.steps = 4;
  config.train.stage2.steps = 4;
  return config;
}

std::string write_experiment(const fs::path& dir, const hmt::ExperimentConfig& config) {
  const auto path = (dir / "experiment.yaml").string();
  std::ofstream(path) << hmt::to_yaml(config);
  return path;
}

hmt::TrainResult train_here(const hmt::ExperimentConfig& config, hmt::TrainOptions options = {}) {
  auto comm = hmt::dist::make_single_process_communicator();
  return hmt::train(config, options, *comm);
}

std::vector<nlohmann::json> train_rows(const std::string& run_dir) {
  std::vector<nlohmann::json> rows;
  for (auto& row : hmt::read_metrics((fs::path(run_dir) / "metrics.jsonl").string()))
    if (row["kind"] == "train" || row["kind"] == "valid") rows.push_back(row);
  return rows;
}

// The figures of a row that depend only on the computation (not on time).
nlohmann::json figures(const nlohmann::json& row) {
  nlohmann::json out;
  for (const char* key : {"kind", "stage", "step", "loss", "lr", "grad_norm", "tokens", "skipped", "valid_loss"})
    if (row.contains(key)) out[key] = row[key];
  return out;
}

std::string bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void check_same_files(const std::string& a, const std::string& b) {
  for (const char* name : {"model.safetensors", "hmt.safetensors", "optimizer.safetensors"}) {
    INFO(name << " of " << a << " and " << b);
    CHECK(bytes_of(fs::path(a) / name) == bytes_of(fs::path(b) / name));
  }
}

std::string final_checkpoint(const std::string& run_dir) { return hmt::newest_valid_checkpoint(run_dir); }

// 6 backbone-stage steps at a high rate (the embedding table moves), in
// DIR/pre; returns the final checkpoint.
std::string pre_train(const fs::path& dir) {
  auto pre = experiment(dir, "pre");
  pre.train.stages = {hmt::StageKind::Backbone};
  pre.train.backbone.steps = 6;
  pre.train.backbone.lr = 1e-2;
  REQUIRE(train_here(pre).exit_code == 0);
  return final_checkpoint(pre.runtime.run_dir);
}

// The unbiased std of a model's input embedding table (docs/hmt.md section 2).
double table_std(hmt::HmtModel& model, int64_t vocab) {
  return model.backbone().embed(torch::arange(vocab)).to(torch::kDouble).std().item<double>();
}

// Two runs computed the same: every metrics row's figures and the final
// weights and optimizer state, bit for bit.
void check_same_run(const std::string& a_dir, const std::string& b_dir) {
  auto a = train_rows(a_dir), b = train_rows(b_dir);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(figures(a[i]) == figures(b[i]));
  check_same_files(final_checkpoint(a_dir), final_checkpoint(b_dir));
}

}  // namespace

TEST_CASE("train: stage 2 starts from stage 1's final weights with a fresh optimizer", "[trainer][train]") {
  auto dir = hmt::test::temp_dir("train_stages");
  auto both = experiment(dir, "both");
  auto result = train_here(both);
  REQUIRE(result.exit_code == 0);
  CHECK(result.global_step == 8);
  const fs::path ckpts = fs::path(both.runtime.run_dir) / "checkpoints";
  // keep = 2: stage2 step 2 and 4 remain; the stage-1 end was written and pruned.
  CHECK(hmt::list_checkpoints(both.runtime.run_dir) ==
        std::vector<std::string>{(ckpts / "stage2-step000002").string(), (ckpts / "stage2-step000004").string()});
  auto rows = train_rows(both.runtime.run_dir);
  REQUIRE(rows.size() == 8 + 4);  // a validation row every 2 steps
  CHECK(rows[0]["stage"] == "stage1");
  CHECK(rows.back()["stage"] == "stage2");
  CHECK(rows.back()["kind"] == "valid");
  {
    // Per segment position: S entries whose token-weighted mean NLL is the loss.
    const auto& v = rows.back();
    REQUIRE(v["valid_segment_ppl"].size() == static_cast<size_t>(both.train.stage2.segments));
    double nll = 0, tokens = 0;
    for (size_t n = 0; n < v["valid_segment_ppl"].size(); ++n) {
      const double t = v["valid_segment_tokens"][n].get<double>();
      nll += t * std::log(v["valid_segment_ppl"][n].get<double>());
      tokens += t;
    }
    CHECK(tokens == v["valid_tokens"].get<double>());
    CHECK(nll / tokens == Approx(v["valid_loss"].get<double>()).epsilon(1e-9));
  }
  for (const auto& row : rows)
    if (row["kind"] == "train") CHECK(std::isfinite(row["loss"].get<double>()));

  // Stage 1 alone, then stage 2 alone from its final checkpoint: the same
  // stage-2 steps, so stage 2 began from exactly those weights and with an
  // optimizer that knew nothing of stage 1.
  auto first = experiment(dir, "first");
  first.train.stages = {hmt::StageKind::Stage1};
  first.train.checkpoint.keep = 5;
  REQUIRE(train_here(first).exit_code == 0);
  const std::string stage1_end = (fs::path(first.runtime.run_dir) / "checkpoints" / "stage1-step000004").string();
  auto s1 = hmt::load_run(stage1_end);
  CHECK_FALSE(s1.model->config().recall.enabled);
  auto second = experiment(dir, "second");
  second.train.stages = {hmt::StageKind::Stage2};
  hmt::TrainOptions from;
  from.init_from = stage1_end;
  REQUIRE(train_here(second, from).exit_code == 0);
  auto split = train_rows(second.runtime.run_dir);
  REQUIRE(split.size() == 6);
  for (size_t i = 0; i < split.size(); ++i) CHECK(figures(split[i]) == figures(rows[6 + i]));
  check_same_files(final_checkpoint(both.runtime.run_dir), final_checkpoint(second.runtime.run_dir));

  // Recall parameters are frozen in stage 1 and train in stage 2.
  auto initial = hmt::build_hmt_model(first);
  auto s2 = hmt::load_run(both.runtime.run_dir);
  CHECK(s2.model->config().recall.enabled);
  auto init_params = initial->named_parameters();
  CHECK(torch::equal(s1.model->named_parameters()["hmt.recall.wq.weight"], init_params["hmt.recall.wq.weight"]));
  CHECK_FALSE(torch::equal(s1.model->named_parameters()["hmt.memory"], init_params["hmt.memory"]));
  CHECK_FALSE(torch::equal(s2.model->named_parameters()["hmt.recall.wq.weight"], init_params["hmt.recall.wq.weight"]));
}

TEST_CASE("train: validation.segments validates every stage on the same windows of its S", "[trainer][train]") {
  auto dir = hmt::test::temp_dir("train_valid_segments");
  auto both = experiment(dir, "both");
  both.train.stage1.segments = 2;
  both.train.stage2.segments = 3;
  both.train.validation.segments = 4;
  both.train.validation.batches = -1;
  both.train.checkpoint.keep = 10;
  both.train.batch_size = 5;  // 12 windows of S = 4: 2 full batches and 2 left over, which validation reads too
  REQUIRE(train_here(both).exit_code == 0);
  std::vector<nlohmann::json> valid;
  for (const auto& row : train_rows(both.runtime.run_dir))
    if (row["kind"] == "valid") valid.push_back(row);
  REQUIRE(valid.size() == 4);
  for (const auto& row : valid) {
    CHECK(row["valid_segment_ppl"].size() == 4);
    CHECK(row["valid_tokens"] == valid.front()["valid_tokens"]);
  }

  // Stage 1's last validation recomputed from its end checkpoint: every window
  // of S = 4 (not stage 1's S = 2) of the split, one by one, summed NLL over
  // scored tokens.
  auto run = hmt::load_run((fs::path(both.runtime.run_dir) / "checkpoints" / "stage1-step000004").string());
  run.model->eval();
  hmt::LoaderOptions o;
  o.path = both.data.path;
  o.split = "validation";
  o.segments = 4;
  o.segment_length = both.hmt.segment_length;
  o.batch_size = 1;
  o.shuffle = false;
  hmt::Loader loader(o);
  REQUIRE(loader.steps_per_epoch() == 12);
  torch::NoGradGuard no_grad;
  double nll = 0, tokens = 0;
  for (int64_t b = 0; b < loader.steps_per_epoch(); ++b) {
    const hmt::Batch batch = loader.next();
    hmt::RunnerOptions runner;
    runner.trailing_label = batch.trailing_label;
    runner.segments = batch.segments;
    runner.segment_length = batch.segment_length;
    const auto out = hmt::run_segments(*run.model, batch.ids, batch.mask, batch.score_mask, runner);
    nll += out.nll_sum.item<double>();
    tokens += static_cast<double>(out.tokens);
  }
  CHECK(tokens == 12 * 4 * o.segment_length);
  CHECK(valid[1]["stage"] == "stage1");
  CHECK(valid[1]["valid_tokens"].get<double>() == tokens);
  CHECK(valid[1]["valid_loss"].get<double>() == Approx(nll / tokens).epsilon(1e-6));
}

TEST_CASE("train: a stage's own trainable freezes the backbone in that stage only", "[trainer][train]") {
  auto dir = hmt::test::temp_dir("train_stage_trainable");
  auto config = experiment(dir, "frozen_stage2");
  config.train.checkpoint.keep = 5;
  config.train.stage2.trainable = hmt::TrainableMode::Frozen;
  REQUIRE(train_here(config).exit_code == 0);
  const auto checkpoints = fs::path(config.runtime.run_dir) / "checkpoints";
  auto start = hmt::build_hmt_model(config)->named_parameters();
  auto s1 = hmt::load_run((checkpoints / "stage1-step000004").string()).model->named_parameters();
  auto s2 = hmt::load_run((checkpoints / "stage2-step000004").string()).model->named_parameters();
  int64_t backbone = 0, trained_in_stage1 = 0;
  for (const auto& item : s2) {
    const std::string& name = item.key();
    INFO(name);
    if (hmt::is_hmt_parameter(name)) continue;
    ++backbone;
    CHECK(torch::equal(item.value(), s1[name]));  // stage 2 left the backbone as stage 1 ended it
    if (!torch::equal(s1[name], start[name])) ++trained_in_stage1;
  }
  CHECK(backbone > 0);
  CHECK(trained_in_stage1 == backbone);  // stage 1 trained all of it (model.trainable: full)
  CHECK_FALSE(torch::equal(s2["hmt.recall.wq.weight"], s1["hmt.recall.wq.weight"]));
  CHECK_FALSE(torch::equal(s2["hmt.memory"], s1["hmt.memory"]));

  auto yaml = write_experiment(dir, config);
  CHECK(hmt::load_experiment(yaml, {}).train.stage2.trainable == hmt::TrainableMode::Frozen);
  CHECK_FALSE(hmt::load_experiment(yaml, {"train.stage2.trainable=null"}).train.stage2.trainable.has_value());
  CHECK_THROWS_WITH(hmt::load_experiment(yaml, {"train.stage1.trainable=lora"}),
                    Catch::Contains("train.stage1.trainable: lora") && Catch::Contains("lora.enabled"));
  CHECK_THROWS_WITH(hmt::load_experiment(yaml, {"train.stage2.trainable=half"}),
                    Catch::Contains("train.stage2.trainable"));
}

TEST_CASE("train: stopped by SIGTERM and resumed, the run equals the uninterrupted one bit for bit",
          "[trainer][train]") {
  auto dir = hmt::test::temp_dir("train_resume");
  auto make = [&](const std::string& run) {
    auto c = experiment(dir, run);
    c.model.dropout = 0.1;  // the resumed run must replay the random masks too
    c.train.grad_accum = 2;
    c.train.checkpoint.every = 3;
    return c;
  };
  auto whole = make("whole");
  REQUIRE(train_here(whole).exit_code == 0);

  auto parts = make("parts");
  hmt::TrainOptions interrupt;
  interrupt.loss_factor = [](int64_t global_step) {
    if (global_step == 5) std::raise(SIGTERM);  // in stage 2, between its checkpoints
    return 1.0;
  };
  auto stopped = train_here(parts, interrupt);
  CHECK(stopped.exit_code == 128 + SIGTERM);
  CHECK(stopped.stop_reason == "signal");
  CHECK(stopped.global_step == 6);
  CHECK(fs::path(stopped.last_checkpoint).filename() == "stage2-step000002");
  hmt::TrainOptions resume;
  resume.resume = true;
  REQUIRE(train_here(parts, resume).exit_code == 0);

  check_same_run(whole.runtime.run_dir, parts.runtime.run_dir);
}

TEST_CASE("train: non-finite steps are skipped and counted, M in a row stop with the last good weights",
          "[trainer][train]") {
  auto dir = hmt::test::temp_dir("train_nonfinite");
  auto config = experiment(dir, "run");
  config.train.stages = {hmt::StageKind::Stage1};
  config.train.stage1.steps = 8;
  config.train.max_nonfinite = 2;
  hmt::TrainOptions poison;
  poison.loss_factor = [](int64_t g) { return g == 1 || g == 3 || g == 4 ? NAN : 1.0; };
  auto result = train_here(config, poison);
  CHECK(result.exit_code == 1);
  CHECK(result.stop_reason == "non-finite");
  CHECK(result.global_step == 5);
  auto rows = hmt::read_metrics((fs::path(config.runtime.run_dir) / "metrics.jsonl").string());
  std::vector<bool> skipped;
  for (const auto& row : rows)
    if (row["kind"] == "train") skipped.push_back(row["skipped"].get<bool>());
  CHECK(skipped == std::vector<bool>{false, true, false, true, true});
  auto state = hmt::read_trainer_state(result.last_checkpoint);
  CHECK(state.nonfinite_total == 3);
  CHECK(state.stop_reason == "non-finite");
  // Skipped steps change no weight: the stop checkpoint (after steps 3 and 4,
  // both skipped) holds what the step-4 checkpoint (after step 3) holds,
  // the weights of step 2, the last good one.
  auto at4 = (fs::path(config.runtime.run_dir) / "checkpoints" / "stage1-step000004").string();
  for (const char* name : {"model.safetensors", "hmt.safetensors"})
    CHECK(bytes_of(fs::path(at4) / name) == bytes_of(fs::path(result.last_checkpoint) / name));
}

namespace {

// Starts `hmt train ARGS` as a child process (output to files in `dir`).
pid_t start_hmt(const fs::path& dir, const std::vector<std::string>& args) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid == 0) {
    std::FILE* out = std::freopen((dir / "child.out").c_str(), "w", stdout);
    std::FILE* err = std::freopen((dir / "child.err").c_str(), "w", stderr);
    (void)out;
    (void)err;
    std::vector<char*> argv{const_cast<char*>(HMT_EXECUTABLE)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(HMT_EXECUTABLE, argv.data());
    ::_exit(127);
  }
  return pid;
}

std::string shell_quoted(const std::string& text) { return "'" + text + "'"; }

}  // namespace

TEST_CASE("train: a process killed with SIGKILL mid-way and resumed ends with the uninterrupted weights",
          "[trainer][train]") {
  auto dir = hmt::test::temp_dir("train_sigkill");
  auto config = experiment(dir, "killed");
  config.train.stages = {hmt::StageKind::Stage1};
  config.train.stage1.steps = 60;
  config.train.validation.every = 0;
  config.train.checkpoint.every = 10;
  const std::string yaml = write_experiment(dir, config);
  auto whole = config;
  whole.runtime.run_dir = (dir / "whole").string();
  REQUIRE(train_here(whole).exit_code == 0);

  pid_t child = start_hmt(dir, {"train", yaml});
  const fs::path first = fs::path(config.runtime.run_dir) / "checkpoints" / "stage1-step000010";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(first) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  REQUIRE(::kill(child, SIGKILL) == 0);
  int status = 0;
  ::waitpid(child, &status, 0);
  INFO(bytes_of(dir / "child.err"));
  REQUIRE(WIFSIGNALED(status));  // it was killed, not finished
  CHECK(hmt::read_trainer_state(hmt::newest_valid_checkpoint(config.runtime.run_dir)).step < 60);

  // Resuming into the run directory needs no flag.
  auto resumed = hmt::test::run_hmt("train " + shell_quoted(yaml));
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.err, Catch::Contains("resuming from"));
  check_same_run(whole.runtime.run_dir, config.runtime.run_dir);
}

TEST_CASE("train: 2 ranks with batch B equal 1 process with batch 2B", "[trainer][train][ranks]") {
  if (hmt::dist::launched_by_mpi()) {
    WARN("skipped: starts mpirun itself, so it runs outside mpirun");
    return;
  }
  auto dir = hmt::test::temp_dir("train_ranks");
  auto config = experiment(dir, "one");
  config.train.stage1.steps = 3;
  config.train.stage2.steps = 3;
  config.train.batch_size = 2;
  // The whole validation split in 11 windows of S = 5 (480 tokens across
  // documents): 5 full global batches and 1 window left over, which rank 0
  // reads while rank 1's last batch has no rows.
  config.data.cross_document = true;
  config.train.validation.batches = -1;
  config.train.validation.segments = 5;
  const std::string yaml = write_experiment(dir, config);
  REQUIRE(train_here(config).exit_code == 0);
  const std::string two_dir = (dir / "two").string();
  const std::string command = std::string(HMT_MPIEXEC) + " --allow-run-as-root --oversubscribe -np 2 " +
                              HMT_EXECUTABLE + " train " + shell_quoted(yaml) +
                              " train.batch_size=1 runtime.run_dir=" + shell_quoted(two_dir) + " > " +
                              shell_quoted((dir / "two.log").string()) + " 2>&1 < /dev/null";
  const int status = std::system(command.c_str());
  INFO(bytes_of(dir / "two.log"));
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  auto a = train_rows(config.runtime.run_dir), b = train_rows(two_dir);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("row " << i);
    const char* key = a[i]["kind"] == "train" ? "loss" : "valid_loss";
    CHECK(b[i][key].get<double>() == Approx(a[i][key].get<double>()).epsilon(1e-5));
    if (a[i]["kind"] == "valid") {
      CHECK(a[i]["valid_tokens"].get<double>() == 11 * 5 * 8);
      CHECK(b[i]["valid_tokens"] == a[i]["valid_tokens"]);
    }
  }
  for (const char* name : {"model.safetensors", "hmt.safetensors"}) {
    hmt::SafetensorsFile fa((fs::path(final_checkpoint(config.runtime.run_dir)) / name).string());
    hmt::SafetensorsFile fb((fs::path(final_checkpoint(two_dir)) / name).string());
    REQUIRE(fa.names() == fb.names());
    for (const auto& tensor : fa.names()) {
      INFO(name << ": " << tensor);
      CHECK(torch::allclose(fb.get(tensor), fa.get(tensor), /*rtol=*/1e-4, /*atol=*/1e-6));
    }
  }
}

TEST_CASE("train: a corrupt newest checkpoint is reported and the previous one resumed", "[trainer][train]") {
  auto dir = hmt::test::temp_dir("train_corrupt");
  auto config = experiment(dir, "run");
  config.train.stages = {hmt::StageKind::Stage1};
  config.train.checkpoint.keep = 3;
  auto whole = experiment(dir, "whole");
  whole.train.stages = {hmt::StageKind::Stage1};
  REQUIRE(train_here(whole).exit_code == 0);
  REQUIRE(train_here(config).exit_code == 0);
  const fs::path ckpts = fs::path(config.runtime.run_dir) / "checkpoints";
  // Damage the final checkpoint: the run resumes from step 2 and redoes 3-4.
  fs::resize_file(ckpts / "stage1-step000004" / "optimizer.safetensors", 10);
  auto yaml = write_experiment(dir, config);
  auto resumed = hmt::test::run_hmt("train " + shell_quoted(yaml) + " --resume");
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.err, Catch::Contains("skipping corrupt checkpoint") && Catch::Contains("stage1-step000004") &&
                              Catch::Contains("resuming from") && Catch::Contains("stage1-step000002"));
  check_same_files(final_checkpoint(whole.runtime.run_dir), final_checkpoint(config.runtime.run_dir));
}

TEST_CASE("train: a flipped bit in any file of the newest checkpoint falls back to the previous one",
          "[trainer][train]") {
  auto dir = hmt::test::temp_dir("train_bitflip");
  auto whole = experiment(dir, "whole");
  whole.train.stages = {hmt::StageKind::Stage1};
  REQUIRE(train_here(whole).exit_code == 0);
  for (const char* name : {"model.safetensors", "hmt.safetensors", "optimizer.safetensors", "config.json"}) {
    INFO(name);
    auto config = experiment(dir, std::string("run_") + name);
    config.train.stages = {hmt::StageKind::Stage1};
    config.train.checkpoint.keep = 3;
    REQUIRE(train_here(config).exit_code == 0);
    const fs::path damaged = fs::path(config.runtime.run_dir) / "checkpoints" / "stage1-step000004" / name;
    hmt::test::flip_last_bit(damaged);
    CHECK_THAT(hmt::checkpoint_problem(damaged.parent_path().string()), Catch::Contains(damaged.string()));
    hmt::TrainOptions resume;
    resume.resume = true;
    REQUIRE(train_here(config, resume).exit_code == 0);
    // Resumed from step 2 and redid steps 3-4: the uninterrupted run's bytes.
    check_same_files(final_checkpoint(whole.runtime.run_dir), final_checkpoint(config.runtime.run_dir));
  }
}

TEST_CASE("train: a backbone stage pre-trains and its checkpoint starts the HMT stages", "[trainer][train]") {
  auto dir = hmt::test::temp_dir("train_backbone");
  const auto pre_end = pre_train(dir);
  CHECK(fs::path(pre_end).filename() == "backbone-step000006");
  CHECK_FALSE(fs::exists(fs::path(pre_end) / "hmt.safetensors"));
  auto rows = train_rows((dir / "pre").string());
  CHECK(rows.front()["stage"] == "backbone");
  CHECK(rows.front()["tokens"] == 2 * 16);  // B rows of S*L tokens scored (the +1 is the last label)

  auto hmt_run = experiment(dir, "hmt");
  hmt::TrainOptions from;
  from.init_from = pre_end;
  REQUIRE(train_here(hmt_run, from).exit_code == 0);
  // The HMT run started from the pre-trained backbone: its first stage-1
  // step has the loss of that backbone, not of a fresh one.
  auto fresh = experiment(dir, "fresh");
  REQUIRE(train_here(fresh).exit_code == 0);
  auto with = train_rows(hmt_run.runtime.run_dir), without = train_rows(fresh.runtime.run_dir);
  CHECK(with.front()["loss"].get<double>() < without.front()["loss"].get<double>());
}

TEST_CASE("train: hmt.memory is drawn from the table the run trains with, T, wq, wk when stage 2 starts",
          "[trainer][train]") {
  // The official recipe (docs/hmt.md section 5): a backbone pre-trained
  // elsewhere, then the memory drawn from its table, not from the random
  // table the model was built with.
  auto dir = hmt::test::temp_dir("train_fresh_draws");
  const auto pre_end = pre_train(dir);

  auto run = experiment(dir, "run");
  // Steps too small to move a float: the final weights are the draws.
  run.train.stage1.steps = 1;
  run.train.stage2.steps = 1;
  run.train.stage1.lr = run.train.stage2.lr = 1e-30;
  run.train.validation.batches = 0;
  hmt::TrainOptions from;
  from.init_from = pre_end;
  REQUIRE(train_here(run, from).exit_code == 0);
  auto trained = hmt::load_run(final_checkpoint(run.runtime.run_dir));
  auto params = trained.model->named_parameters();

  // The independent expectation: the rule of section 2 against the loaded table.
  const double scale = table_std(*hmt::load_run(pre_end).model, *run.model.vocab_size);
  const int64_t d = *run.model.hidden_size, h = run.hmt.recall.hidden_dim;
  torch::manual_seed(hmt::stage_init_seed(run.runtime.seed, hmt::StageKind::Stage1));
  auto memory = torch::randn({1, d}) * scale;
  torch::manual_seed(hmt::stage_init_seed(run.runtime.seed, hmt::StageKind::Stage2));
  auto prompt = torch::randn({1, d}) * scale;
  auto wq = torch::empty({h, d}), wk = torch::empty({h, d});
  torch::nn::init::kaiming_uniform_(wq, /*a=*/std::sqrt(5.0));
  torch::nn::init::kaiming_uniform_(wk, /*a=*/std::sqrt(5.0));
  CHECK(torch::equal(params["hmt.memory"], memory));
  CHECK(torch::equal(params["hmt.summary_prompt"], prompt));
  CHECK(torch::equal(params["hmt.recall.wq.weight"], wq));
  CHECK(torch::equal(params["hmt.recall.wk.weight"], wk));

  // A memory stage's checkpoint brings its trained memory: stage 2 alone from
  // it keeps hmt.memory and draws only T, wq, wk, from that checkpoint's table.
  auto moved = experiment(dir, "moved");
  moved.train.stages = {hmt::StageKind::Stage1};
  moved.train.stage1.steps = 2;
  moved.train.stage1.lr = 1e-2;
  REQUIRE(train_here(moved, from).exit_code == 0);
  const auto stage1_end = final_checkpoint(moved.runtime.run_dir);
  auto stage1 = hmt::load_run(stage1_end).model;
  auto trained_memory = stage1->named_parameters()["hmt.memory"].clone();
  CHECK_FALSE(torch::equal(trained_memory, memory));
  auto second = experiment(dir, "second");
  second.train.stages = {hmt::StageKind::Stage2};
  second.train.stage2.steps = 1;
  second.train.stage2.lr = 1e-30;
  second.train.validation.batches = 0;
  hmt::TrainOptions from_stage1;
  from_stage1.init_from = stage1_end;
  REQUIRE(train_here(second, from_stage1).exit_code == 0);
  auto kept = hmt::load_run(final_checkpoint(second.runtime.run_dir)).model->named_parameters();
  CHECK(torch::equal(kept["hmt.memory"], trained_memory));
  const double scale1 = table_std(*stage1, *run.model.vocab_size);
  torch::manual_seed(hmt::stage_init_seed(run.runtime.seed, hmt::StageKind::Stage2));
  CHECK(torch::equal(kept["hmt.summary_prompt"], torch::randn({1, d}) * scale1));
}

TEST_CASE("train: a curriculum over unroll depth steps S up by level and resumes mid-level and at a level's start",
          "[trainer][train]") {
  auto dir = hmt::test::temp_dir("train_curriculum");
  auto make = [&](const std::string& run) {
    auto c = experiment(dir, run);
    c.train.stages = {hmt::StageKind::Stage2};
    c.train.stage2.steps = 5;
    c.train.stage2.curriculum = {1, 3};
    c.train.stage2.curriculum_steps = {2, 3};
    c.train.checkpoint.every = 1;
    c.train.checkpoint.keep = 10;
    return c;
  };
  auto whole = make("whole");
  REQUIRE(train_here(whole).exit_code == 0);
  auto rows = train_rows(whole.runtime.run_dir);
  std::vector<double> tokens;
  for (const auto& row : rows)
    if (row["kind"] == "train") tokens.push_back(row["tokens"].get<double>());
  // B = 2 rows of S*L scored tokens (L = 8): level 0 has S = 1, level 1 S = 3.
  CHECK(tokens == std::vector<double>{16, 16, 48, 48, 48});

  // Resumed after step 1 (inside level 0) and after step 2 (level 1's first
  // step comes next): both end exactly as the uninterrupted run.
  for (int64_t after : {1, 2}) {
    INFO("resumed after step " << after);
    auto part = make("after" + std::to_string(after));
    fs::copy(whole.runtime.run_dir, part.runtime.run_dir, fs::copy_options::recursive);
    for (const auto& entry : fs::directory_iterator(fs::path(part.runtime.run_dir) / "checkpoints"))
      if (entry.path().filename().string() > hmt::checkpoint_name("stage2", after)) fs::remove_all(entry.path());
    hmt::TrainOptions resume;
    resume.resume = true;
    REQUIRE(train_here(part, resume).exit_code == 0);
    check_same_run(whole.runtime.run_dir, part.runtime.run_dir);
  }

  auto bad = make("bad");
  bad.train.stage2.curriculum_steps = {2, 2};
  const std::string path = write_experiment(dir, bad);
  CHECK_THROWS_WITH(hmt::load_experiment(path, {}),
                    Catch::Contains("train.stage2.curriculum_steps: needs one entry per level of "
                                    "train.stage2.curriculum (2 given for 2), summing to train.stage2.steps = 5 "
                                    "(they sum to 4)"));
}

TEST_CASE("train: wrong start modes and stage lists are errors that say what to do", "[trainer][train]") {
  auto dir = hmt::test::temp_dir("train_errors");
  auto config = experiment(dir, "run");
  config.train.stages = {hmt::StageKind::Stage1};
  config.train.stage1.steps = 2;
  hmt::TrainOptions resume;
  resume.resume = true;
  CHECK_THROWS_WITH(train_here(config, resume),
                    Catch::Contains("--resume:") && Catch::Contains("has no valid checkpoint"));
  REQUIRE(train_here(config).exit_code == 0);
  hmt::TrainOptions init;
  init.init_from = config.runtime.run_dir;
  CHECK_THROWS_WITH(train_here(config, init),
                    Catch::Contains("already holds checkpoints") && Catch::Contains("--resume"));
  auto changed = config;
  changed.train.stage1.lr = 0.5;
  CHECK_THROWS_WITH(train_here(changed), Catch::Contains("made with another configuration"));
  auto yaml = write_experiment(dir, config);
  CHECK_THROWS_WITH(hmt::load_experiment(yaml, {"train.stages=[stage1,stage1]"}),
                    Catch::Contains("train.stages: stage stage1 is listed twice"));
  CHECK_THROWS_WITH(hmt::load_experiment(yaml, {"train.stages=[stage3]"}),
                    Catch::Contains("train.stages: 'stage3' is not one of backbone, stage1, stage2"));
  auto frozen = experiment(dir, "frozen");
  frozen.train.stages = {hmt::StageKind::Backbone};
  frozen.model.trainable = hmt::TrainableMode::Frozen;
  CHECK_THROWS_WITH(train_here(frozen), Catch::Contains("model.trainable: full"));
}
