#pragma once
// The typed experiment configuration. Each struct lists its keys once in
// visit(); parsing, validation, to_yaml and docs/configs.md all follow it.
// A new section is a struct with visit() plus one v.section(...) line in
// ExperimentConfig::visit.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config_schema.h"

namespace hmt {

// The keys with a fixed set of names are enums past the parse: code compares
// values, and only enum_names() below spells the names (to_yaml writes them,
// errors and docs/configs.md list them in this order).

// A stage of train.stages (docs/hmt.md section 5, trainer/stage.h).
enum class StageKind { Backbone, Stage1, Stage2 };

// model.trainable: what trains besides hmt.* (model/trainable.h).
enum class TrainableMode {
  Full,    // every parameter
  Lora,    // only LoRA adapter tensors (".lora_" in the name) and hmt.*
  Frozen,  // only hmt.*: the backbone is fixed
};

// train.loss_scope: the tokens the training loss averages over.
enum class LossScope {
  All,   // every scored token of every segment
  Last,  // only the last segment's
};

// dist.backend: the collectives under mpirun/srun (trainer/dist/communicator.h).
enum class DistBackend {
  Auto,  // NCCL for CUDA tensors when built with it, else MPI
  Mpi,
  Nccl,
};

constexpr std::array<config::EnumName<StageKind>, 3> enum_names(StageKind) {
  return {{{StageKind::Backbone, "backbone"}, {StageKind::Stage1, "stage1"}, {StageKind::Stage2, "stage2"}}};
}
constexpr std::array<config::EnumName<TrainableMode>, 3> enum_names(TrainableMode) {
  return {{{TrainableMode::Full, "full"}, {TrainableMode::Lora, "lora"}, {TrainableMode::Frozen, "frozen"}}};
}
constexpr std::array<config::EnumName<LossScope>, 2> enum_names(LossScope) {
  return {{{LossScope::All, "all"}, {LossScope::Last, "last"}}};
}
constexpr std::array<config::EnumName<DistBackend>, 3> enum_names(DistBackend) {
  return {{{DistBackend::Auto, "auto"}, {DistBackend::Mpi, "mpi"}, {DistBackend::Nccl, "nccl"}}};
}

// The name a value has in the config ("stage1", "lora", ...), for messages,
// metrics and checkpoint names.
inline const char* to_string(StageKind kind) { return config::enum_name(kind); }
inline const char* to_string(TrainableMode mode) { return config::enum_name(mode); }
inline const char* to_string(LossScope scope) { return config::enum_name(scope); }
inline const char* to_string(DistBackend backend) { return config::enum_name(backend); }

struct RuntimeConfig {
  std::int64_t threads = 0;
  std::uint64_t seed = 1234;
  std::string device = "cpu";
  std::string run_dir = "runs/default";
  std::string log_level = "info";

  template <class V>
  void visit(V& v) {
    using config::Range, config::Choices;
    v.field("threads", threads, Range::at_least(0), "intra-op threads; 0 = cores / local MPI ranks");
    v.field("seed", seed, "seed of every random generator");
    v.field("device", device, Choices{"cpu", "cuda"}, "where tensors live");
    v.field("run_dir", run_dir, "directory for checkpoints, logs and the resolved config.yaml");
    v.field("log_level", log_level, Choices{"trace", "debug", "info", "warn", "error"}, "log verbosity");
  }
};

struct ModelConfig {
  std::string pretrained;  // empty: build from `type`
  std::optional<std::string> type;
  std::optional<std::int64_t> vocab_size;
  std::optional<std::int64_t> hidden_size;
  std::optional<std::int64_t> num_layers;
  std::optional<std::int64_t> num_heads;
  std::int64_t num_kv_heads = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t max_position_embeddings = 2048;
  bool tie_word_embeddings = true;
  double dropout = 0.0;
  bool do_layer_norm_before = true;
  std::int64_t word_embed_proj_dim = 0;
  double rope_theta = 10000.0;
  TrainableMode trainable = TrainableMode::Full;

  bool from_scratch() const { return type.has_value(); }
  // The resolved values of the "0 = derived" keys.
  std::int64_t kv_heads() const { return num_kv_heads == 0 ? num_heads.value_or(0) : num_kv_heads; }
  std::int64_t input_embed_dim() const {
    return word_embed_proj_dim == 0 ? hidden_size.value_or(0) : word_embed_proj_dim;
  }

  template <class V>
  void visit(V& v) {
    using config::Range, config::Choices;
    v.field("pretrained", pretrained, "HuggingFace model directory (config.json + safetensors)");
    v.field("type", type, Choices{"llama", "gpt2", "opt"}, "family of a from-scratch model");
    v.field("vocab_size", vocab_size, Range::at_least(1), "from scratch: vocabulary size");
    v.field("hidden_size", hidden_size, Range::at_least(1), "from scratch: model width");
    v.field("num_layers", num_layers, Range::at_least(1), "from scratch: decoder layers");
    v.field("num_heads", num_heads, Range::at_least(1), "from scratch: attention heads");
    v.field("num_kv_heads", num_kv_heads, Range::at_least(0), "key/value heads; 0 = num_heads");
    v.field("intermediate_size", intermediate_size, Range::at_least(0), "MLP width; 0 = family default");
    v.field("max_position_embeddings", max_position_embeddings, Range::at_least(1), "longest sequence");
    v.field("tie_word_embeddings", tie_word_embeddings, "output head shares the embedding table");
    v.field("dropout", dropout, Range::half_open(0, 1), "dropout probability");
    v.field("do_layer_norm_before", do_layer_norm_before, "opt only: pre-LN (false = post-LN, OPT-350M)");
    v.field("word_embed_proj_dim", word_embed_proj_dim, Range::at_least(0),
            "opt only: embedding width; 0 = hidden_size");
    v.field("rope_theta", rope_theta, Range::above(0), "llama only: RoPE base");
    v.field("trainable", trainable,
            "what trains besides hmt.*: the whole backbone, only its LoRA adapters (needs lora.enabled), or "
            "nothing of it");
  }
  void check(config::SectionCheck& c) const;
};

struct RecallConfig {
  bool enabled = true;
  std::int64_t context = 300;
  std::int64_t hidden_dim = 512;

  template <class V>
  void visit(V& v) {
    using config::Range;
    v.field("enabled", enabled, "recall cached memories (stage 2); false = stage 1");
    v.field("context", context, Range::at_least(1), "N: cached memory embeddings");
    v.field("hidden_dim", hidden_dim, Range::at_least(1), "h: recall query/key width");
  }
};

struct HmtConfig {
  std::int64_t segment_length = 0;
  std::int64_t num_sensory = 32;
  double sum_fraction = 0.5;
  RecallConfig recall;

  // j of docs/hmt.md section 2: round(L * f), ties to even like Python's round.
  std::int64_t summary_tokens() const;

  template <class V>
  void visit(V& v) {
    using config::Range;
    v.field("segment_length", segment_length, config::required, Range::closed(1, 1 << 20),
            "L: content tokens per segment");
    v.field("num_sensory", num_sensory, Range::at_least(0), "k: tokens carried over from the previous segment");
    v.field("sum_fraction", sum_fraction, Range::open_closed(0, 1), "f: share of a segment the summary reads");
    v.section("recall", recall, "memory recall");
  }
};

// LoRA adapters on the backbone (docs/lora.md), PEFT's LoraConfig subset.
struct LoraConfig {
  bool enabled = false;
  std::int64_t rank = 8;
  double alpha = 32.0;
  double dropout = 0.1;
  std::vector<std::string> target_modules;  // empty: the family's PEFT default

  template <class V>
  void visit(V& v) {
    using config::Range;
    v.field("enabled", enabled, "attach LoRA adapters to the backbone");
    v.field("rank", rank, Range::at_least(1), "r: rank of each adapter");
    v.field("alpha", alpha, Range::above(0), "alpha: the update is scaled by alpha / r");
    v.field("dropout", dropout, Range::half_open(0, 1), "dropout on the adapter input (training only)");
    v.field("target_modules", target_modules,
            "module names (HF name suffixes) that get adapters; empty = family default (llama/opt: q_proj, "
            "v_proj; gpt2: c_attn)");
  }
  void check(config::SectionCheck& c) const;
};

struct TokenizerConfig {
  std::string path;

  template <class V>
  void visit(V& v) {
    v.field("path", path, "tokenizer file; empty = inputs are token ids");
  }
};

// Prepared data (docs/data.md): what train/eval read, and what `hmt prepare` writes.
// data.passkey: the recall benchmark's generator (data/sources/passkey.h).
struct PasskeyConfig {
  std::string filler = "text";
  std::vector<std::int64_t> samples = {1000};
  std::int64_t filler_tokens = 2000000;
  std::int64_t segment_length = 0;
  std::vector<std::int64_t> distances = {2, 4, 8, 16};
  std::int64_t facts = 1;
  std::int64_t digits = 5;
  std::int64_t lead_segments = 1;
  std::string question = "end";
  std::string ask = "value";
  std::int64_t seed = 0;

  template <class V>
  void visit(V& v) {
    using config::Range, config::Choices;
    v.field("filler", filler, Choices{"text", "pg19", "wikitext103"},
            "the format of data.source, whose text fills the documents around the facts");
    v.field("samples", samples, Range::at_least(1), "samples per split: one value for all, or one per data.splits");
    v.field("filler_tokens", filler_tokens, Range::at_least(1), "filler text read per split, in tokens (at most)");
    v.field("segment_length", segment_length, Range::at_least(0), "L the distances count in; 0 = hmt.segment_length");
    v.field("distances", distances, Range::at_least(1),
            "D: segments between the fact and its query; sample i uses distances[i % n]");
    v.field("facts", facts, Range::closed(1, 12), "1: one pass key; F > 1: F key -> value facts, one of them asked");
    v.field("digits", digits, Range::closed(1, 18), "digits of a value (chance = 10^-digits)");
    v.field("lead_segments", lead_segments, Range::at_least(0),
            "filler segments before the fact, uniform in [0, this]");
    v.field("question", question, Choices{"end", "start"},
            "end: the query segment ends with the cue; start: it also opens with the question, which HMT's recall "
            "query reads");
    v.field("ask", ask, Choices{"value", "both"},
            "value: the query asks for the value; both (facts = 1): a coin per sample asks for the value or the key");
    v.field("seed", seed, Range::at_least(0), "generator seed (samples depend on seed, split and index only)");
  }
};

struct DataConfig {
  std::string path;
  std::string train_split = "train";
  std::string valid_split = "validation";
  bool shuffle = true;
  bool cross_document = false;
  std::int64_t interleave_len = 0;
  std::int64_t dilate_len = 0;
  std::optional<std::string> dataset;
  std::string source;
  std::string out;
  std::vector<std::string> splits;
  std::vector<double> split_fractions;
  std::int64_t fuse_size = 1;
  std::string text_field = "text";
  bool add_bos = false;
  bool add_eos = false;
  PasskeyConfig passkey;

  template <class V>
  void visit(V& v) {
    using config::Range, config::Choices;
    v.field("path", path, "prepared .h5 file that train and eval read");
    v.field("train_split", train_split, "split group training reads");
    v.field("valid_split", valid_split, "split group validation reads");
    v.field("shuffle", shuffle, "training order: a (seed, epoch) permutation; false = file order");
    v.field("cross_document", cross_document, "windows cut across document boundaries (the documents concatenated)");
    v.field("interleave_len", interleave_len, Range::at_least(0),
            "topic switching: documents 2k, 2k+1 interleaved every this many tokens; 0 = off");
    v.field("dilate_len", dilate_len, Range::at_least(0),
            "dilation: this many filler tokens (the id of $) after every this many tokens; 0 = off");
    v.field("dataset", dataset, Choices{"wikitext103", "pg19", "pubmedqa", "text", "passkey"},
            "prepare: source format (passkey: the recall benchmark, data.passkey)");
    v.field("source", source, "prepare: source folder or file");
    v.field("out", out, "prepare: output .h5; empty = data.path");
    v.field("splits", splits,
            "prepare: splits to write; empty = train, validation, test (wikitext103, pg19) or train (one-file "
            "sources)");
    v.field("split_fractions", split_fractions, Range::open_closed(0, 1),
            "prepare, one-file sources: share of the records (in order) per entry of data.splits; empty = all in one");
    v.field("fuse_size", fuse_size, Range::at_least(1), "prepare, pubmedqa: F records share one joined context");
    v.field("text_field", text_field, "prepare, text .jsonl: the field holding a document");
    v.field("add_bos", add_bos, "prepare: put the tokenizer's bos id before every document / sample");
    v.field("add_eos", add_eos, "prepare: put the tokenizer's eos id after every document / sample");
    v.section("passkey", passkey, "prepare, passkey: the long-range recall benchmark");
  }
  void check(config::SectionCheck& c) const;
};

struct BpttConfig {
  std::int64_t truncate = 0;
  bool checkpoint = true;

  template <class V>
  void visit(V& v) {
    using config::Range;
    v.field("truncate", truncate, Range::at_least(0),
            "K: memory embeddings older than K segments are used detached; 0 = full BPTT");
    v.field("checkpoint", checkpoint, "recompute each backbone pass in backward instead of keeping activations");
  }
};

// The learning rate of one stage over its steps t = 0..steps-1
// (trainer/lr_schedule.h has the formulas).
struct ScheduleConfig {
  std::string name = "constant";
  std::int64_t warmup_steps = 0;
  std::int64_t step_size = 100;
  double gamma = 0.9;
  double min_lr = 0.0;

  template <class V>
  void visit(V& v) {
    using config::Range, config::Choices;
    v.field("name", name, Choices{"constant", "step", "cosine"},
            "constant; step: x gamma every step_size steps (the official code); cosine: to min_lr");
    v.field("warmup_steps", warmup_steps, Range::at_least(0), "linear warm-up from 0 over these first steps");
    v.field("step_size", step_size, Range::at_least(1), "step schedule: steps between decays");
    v.field("gamma", gamma, Range::open_closed(0, 1), "step schedule: factor per decay");
    v.field("min_lr", min_lr, Range::at_least(0), "cosine schedule: the rate at the last step");
  }
};

// One stage of train.stages (docs/hmt.md section 5): which stage it is comes
// from its key (backbone, stage1, stage2; TrainConfig::stage).
struct StageConfig {
  std::int64_t steps = 0;
  std::int64_t segments = 2;
  double lr = 1e-4;
  ScheduleConfig schedule;
  // Unroll depth by level within the stage (empty: `segments` throughout).
  std::vector<std::int64_t> curriculum;
  std::vector<std::int64_t> curriculum_steps;
  // What of the backbone trains in this stage; unset = model.trainable.
  std::optional<TrainableMode> trainable;

  StageConfig() = default;
  StageConfig(std::int64_t steps_, std::int64_t segments_) : steps(steps_), segments(segments_) {}

  template <class V>
  void visit(V& v) {
    using config::Range;
    v.field("steps", steps, Range::at_least(1), "optimizer steps of this stage");
    v.field("segments", segments, Range::at_least(1),
            "S: segments per training sample (a backbone stage reads windows of S * L tokens)");
    v.field("lr", lr, Range::above(0), "peak learning rate");
    v.section("schedule", schedule, "learning-rate schedule");
    v.field("curriculum", curriculum,
            "curriculum over unroll depth: S of each level in order (e.g. [2, 4, 8]); empty = `segments` "
            "throughout; validation keeps `segments`");
    v.field("curriculum_steps", curriculum_steps,
            "steps of each curriculum level, summing to `steps`; empty = `steps` split evenly (the rest to the last)");
    v.field("trainable", trainable,
            "what of the backbone trains in this stage (full, lora, frozen; hmt.* train as the stage says); unset = "
            "model.trainable");
  }
  void check(config::SectionCheck& c) const;

  // S of optimizer step `step` (0-based), and the step its level starts at.
  std::int64_t segments_at(std::int64_t step) const;
  std::int64_t level_start(std::int64_t step) const;
  std::int64_t level_of(std::int64_t step) const;  // 0 without a curriculum
};

struct OptimizerConfig {
  double weight_decay = 0.01;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double hmt_lr_scale = 1.0;

  template <class V>
  void visit(V& v) {
    using config::Range;
    v.field("weight_decay", weight_decay, Range::at_least(0),
            "AdamW decoupled weight decay (never on norms, biases and hmt.* tensors)");
    v.field("beta1", beta1, Range::half_open(0, 1), "AdamW beta1");
    v.field("beta2", beta2, Range::half_open(0, 1), "AdamW beta2");
    v.field("eps", eps, Range::above(0), "AdamW epsilon");
    v.field("hmt_lr_scale", hmt_lr_scale, Range::above(0),
            "learning rate of the hmt.* tensors (memory, prompt, recall maps) over the stage's lr; "
            "1 = one lr for all, as the official code");
  }
};

struct ValidationConfig {
  std::int64_t every = 0;
  std::int64_t batches = -1;
  std::int64_t segments = 0;

  template <class V>
  void visit(V& v) {
    using config::Range;
    v.field("every", every, Range::at_least(0),
            "validate every N steps and at each stage end; 0 = only at each stage end; needs data.valid_split");
    v.field("batches", batches, Range::at_least(-1),
            "batches (per rank) of the validation split, spread evenly over all of it; -1 = the whole split; "
            "0 = no validation");
    v.field("segments", segments, Range::at_least(0),
            "S of the validation windows (S*L tokens), the same for every stage so that stages with different unrolls "
            "compare on the same text; 0 = each stage's own train.<stage>.segments");
  }
};

struct CheckpointConfig {
  std::int64_t every = 100;
  std::int64_t keep = 3;

  template <class V>
  void visit(V& v) {
    using config::Range;
    v.field("every", every, Range::at_least(0),
            "write a checkpoint every N steps (and at each stage end); 0 = stage ends only");
    v.field("keep", keep, Range::at_least(1), "K: keep the newest K checkpoints");
  }
};

struct TrainConfig {
  LossScope loss_scope = LossScope::All;
  BpttConfig bptt;
  std::vector<StageKind> stages = {StageKind::Stage1, StageKind::Stage2};
  std::int64_t batch_size = 2;
  std::int64_t grad_accum = 1;
  double clip_norm = 1.0;
  std::int64_t max_nonfinite = 5;
  std::int64_t log_every = 10;
  OptimizerConfig optimizer;
  ValidationConfig validation;
  CheckpointConfig checkpoint;
  StageConfig backbone{/*steps=*/100, /*segments=*/2};
  StageConfig stage1{/*steps=*/200, /*segments=*/2};
  StageConfig stage2{/*steps=*/500, /*segments=*/15};

  // The section of a stage of `stages`.
  const StageConfig& stage(StageKind kind) const;

  template <class V>
  void visit(V& v) {
    using config::Range;
    v.field("loss_scope", loss_scope, "mean NLL over every scored token, or over the last segment's only");
    v.section("bptt", bptt, "backpropagation through segments");
    v.field("stages", stages,
            "stages run in this order: backbone (no memory), stage1 (recall off), stage2 (recall on)");
    v.field("batch_size", batch_size, Range::at_least(1), "B: samples per micro-batch on each rank");
    v.field("grad_accum", grad_accum, Range::at_least(1), "micro-batches per optimizer step");
    v.field("clip_norm", clip_norm, Range::at_least(0), "clip the global gradient L2 norm to this; 0 = off");
    v.field("max_nonfinite", max_nonfinite, Range::at_least(1),
            "M: stop (with a checkpoint of the last good state) after M non-finite steps in a row");
    v.field("log_every", log_every, Range::at_least(1), "a plain progress line every N steps (no terminal)");
    v.section("optimizer", optimizer, "AdamW");
    v.section("validation", validation, "held-out windows");
    v.section("checkpoint", checkpoint, "checkpoints in RUN_DIR/checkpoints");
    v.section("backbone", backbone, "the plain backbone stage (no memory: baselines, pre-training)");
    v.section("stage1", stage1, "HMT stage 1: recall off, few segments");
    v.section("stage2", stage2, "HMT stage 2: recall on, deep unroll, fresh optimizer");
  }
  void check(config::SectionCheck& c) const;
};

// Data parallel training over ranks (docs/distributed.md).
struct DistConfig {
  DistBackend backend = DistBackend::Auto;
  double bucket_mb = 25.0;
  double timeout = 600.0;
  bool overlap = true;

  template <class V>
  void visit(V& v) {
    using config::Range;
    v.field("backend", backend,
            "collectives when launched by mpirun/srun: auto = NCCL for CUDA tensors when built with it, else MPI");
    v.field("bucket_mb", bucket_mb, Range::above(0), "size of one flat gradient bucket (MiB)");
    v.field("timeout", timeout, Range::above(0),
            "seconds a collective may take before the job is aborted naming the rank and the operation");
    v.field("overlap", overlap, "start bucket all-reduces during backward (false: all after backward)");
  }
};

struct ExperimentConfig {
  RuntimeConfig runtime;
  ModelConfig model;
  HmtConfig hmt;
  TokenizerConfig tokenizer;
  DataConfig data;
  LoraConfig lora;
  TrainConfig train;
  DistConfig dist;

  template <class V>
  void visit(V& v) {
    v.section("runtime", runtime, "process settings");
    v.section("model", model, "backbone");
    v.section("hmt", hmt, "memory architecture");
    v.section("tokenizer", tokenizer, "text to ids");
    v.section("data", data, "prepared data and hmt prepare");
    v.section("lora", lora, "LoRA adapters");
    v.section("train", train, "training");
    v.section("dist", dist, "data parallel ranks");
  }
  // Rules across sections (model.trainable: lora needs lora.enabled).
  void check(config::SectionCheck& c) const;
};

// Field-by-field equality through visit(), so it never misses a new key.
bool operator==(const ExperimentConfig& a, const ExperimentConfig& b);
inline bool operator!=(const ExperimentConfig& a, const ExperimentConfig& b) { return !(a == b); }

}  // namespace hmt
