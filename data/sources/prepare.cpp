#include "data/sources/prepare.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/experiment_config.h"
#include "core/runtime.h"
#include "core/sha256.h"
#include "data/store/hdf5_io.h"
#include "data/sources/ordered_pipeline.h"
#include "data/sources/pg19.h"
#include "data/sources/byte_progress.h"
#include "data/sources/pubmedqa.h"
#include "data/sources/text_corpus.h"
#include "data/store/token_store_layout.h"
#include "data/store/token_store_writer.h"
#include "data/sources/utf8_repair.h"
#include "data/sources/wikitext.h"

namespace hmt {
namespace {

namespace fs = std::filesystem;

struct SplitJob {
  SplitPlan plan;
  std::vector<SourceFile> sources;
};

// The format data.source is read in: passkey documents are filled with text of another dataset.
const std::string& source_format(const PrepareOptions& o) {
  return o.dataset == "passkey" ? o.passkey_filler : o.dataset;
}

std::vector<SplitPlan> plan_splits(const PrepareOptions& o) {
  HMT_CHECK(o.dataset == "wikitext103" || o.dataset == "pg19" || o.dataset == "pubmedqa" || o.dataset == "text" ||
                o.dataset == "passkey",
            "data.dataset: \"{}\" is not one of wikitext103, pg19, pubmedqa, text, passkey", o.dataset);
  const std::string& format = source_format(o);
  HMT_CHECK(format == "wikitext103" || format == "pg19" || format == "text" || format == "pubmedqa",
            "data.passkey.filler: \"{}\" is not one of text, pg19, wikitext103", format);
  HMT_CHECK(o.dataset != "passkey" || format != "pubmedqa",
            "data.passkey.filler: pubmedqa records are not filler text");
  const bool one_file = format == "pubmedqa" || format == "text";
  HMT_CHECK(one_file || o.split_fractions.empty(),
            "data.split_fractions: {} comes in split folders/files already; it applies to pubmedqa and text only",
            format);
  std::vector<SplitPlan> plans;
  if (format == "wikitext103") plans = plan_wikitext(o.source, o.splits);
  else if (format == "pg19") plans = plan_pg19(o.source, o.splits);
  else if (format == "pubmedqa") plans = plan_pubmedqa(o.source, o.splits, o.split_fractions);
  else plans = plan_text_corpus(o.source, o.splits, o.split_fractions);
  std::set<std::string> names;
  for (const auto& p : plans) {
    HMT_CHECK(!p.name.empty() && p.name.find_first_of(",/.") == std::string::npos,
              "data.splits: \"{}\" cannot name a split (no commas, slashes or dots)", p.name);
    HMT_CHECK(names.insert(p.name).second, "data.splits: `{}` is listed twice", p.name);
  }
  return plans;
}

std::string relative_path(const std::string& file, const std::string& root) {
  std::error_code ec;
  auto relative = fs::relative(file, root.empty() ? "." : root, ec);
  return ec || relative.empty() ? file : relative.string();
}

// sha256 of every input file, in parallel (PG-19 has ~28k books, 11 GB).
void checksum_sources(std::vector<SplitJob>& jobs, int threads) {
  std::vector<std::pair<SourceFile*, std::string>> work;
  for (auto& job : jobs) {
    std::vector<std::string> files = job.plan.extra;
    files.insert(files.end(), job.plan.files.begin(), job.plan.files.end());
    job.sources.resize(files.size());
    for (size_t i = 0; i < files.size(); ++i) {
      job.sources[i].path = relative_path(files[i], job.plan.root);
      job.sources[i].bytes = fs::file_size(files[i]);
      work.emplace_back(&job.sources[i], files[i]);
    }
  }
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
  auto run = [&](int t) {
    try {
      for (size_t i; (i = next++) < work.size();) work[i].first->sha256 = sha256_file(work[i].second);
    } catch (...) {
      errors[t] = std::current_exception();
      next = work.size();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(run, t);
  run(0);
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

std::string inputs_hash(const PrepareOptions& o, const Tokenizer& tokenizer, const std::vector<SplitJob>& jobs) {
  nlohmann::ordered_json inputs;
  inputs["format_version"] = store::kFormatVersion;
  // Files written before the per-chunk checksums are redone, not kept as up to date.
  inputs["chunk_checksum"] = "fletcher32";
  inputs["dataset"] = o.dataset;
  inputs["tokenizer"] = tokenizer.fingerprint();
  inputs["fuse_size"] = o.dataset == "pubmedqa" ? o.fuse_size : 0;
  inputs["text_field"] = o.dataset == "text" ? o.text_field : "";
  inputs["add_bos"] = o.add_bos;
  inputs["add_eos"] = o.add_eos;
  if (o.dataset == "passkey") {
    inputs["passkey"] = o.passkey.to_json();
    inputs["passkey"]["filler"] = o.passkey_filler;
    inputs["passkey"]["samples"] = o.passkey_samples;
    inputs["passkey"]["filler_tokens"] = o.passkey_filler_tokens;
  }
  for (const auto& job : jobs) {
    nlohmann::ordered_json split;
    split["name"] = job.plan.name;
    split["units"] = {job.plan.first_unit, job.plan.end_unit};
    for (const auto& s : job.sources) split["sources"].push_back({s.path, s.sha256, s.bytes});
    inputs["splits"].push_back(split);
  }
  return sha256_hex(inputs.dump());
}

// An existing OUT that is not ours is never replaced.
bool up_to_date(const std::string& out, const std::string& hash) {
  if (!fs::exists(out)) return false;
  try {
    return TokenStore(out).inputs_sha256() == hash;
  } catch (const Error& e) {
    const bool ours = H5Fis_hdf5(out.c_str()) > 0 && [&] {
      hid_t file = H5Fopen(out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
      if (file < 0) return true;  // torn: can only be an interrupted write of ours or damage
      h5::Id owned(file, h5::Id::Kind::File);
      return h5::read_string_attribute(file, store::kFormat) == std::string(store::kFormatName);
    }();
    HMT_CHECK(ours, "{}: exists and is not a prepared token file ({}); remove it or choose another data.out", out,
              e.what());
    return false;
  }
}

void fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  HMT_CHECK(fd >= 0, "{}: cannot open to sync", path);
  ::fsync(fd);
  ::close(fd);
}

// Prints the first few warnings of each kind, then only counts them.
class Warnings {
 public:
  explicit Warnings(bool enabled) : enabled_(enabled) {}
  void warn(const std::string& kind, const std::string& message) {
    if (!enabled_) return;
    int& n = shown_[kind];
    if (++n <= kShown) std::fprintf(stderr, "warning: %s\n", message.c_str());
    if (n == kShown) std::fprintf(stderr, "warning: further %s warnings are counted, not shown\n", kind.c_str());
  }

 private:
  static constexpr int kShown = 10;
  bool enabled_;
  std::map<std::string, int> shown_;
};

struct EncodedDocument {
  std::string name, origin;
  std::vector<int32_t> ids;
  uint64_t bytes = 0;
  int64_t replaced = 0;
  bool blank = false, no_metadata = false;
};

struct Context {
  const PrepareOptions& options;
  const Tokenizer& tokenizer;
  int threads;
  Warnings& warnings;
};

uint64_t plan_bytes(const SplitPlan& plan) {
  uint64_t bytes = 0;
  for (const auto& f : plan.files) bytes += fs::file_size(f);
  return static_cast<uint64_t>(static_cast<double>(bytes) * plan.share);
}

void read_text_units(const PrepareOptions& o, const SplitPlan& plan, const std::map<std::string, std::string>& metadata,
                     const UnitSink& sink) {
  const std::string& format = source_format(o);
  if (format == "wikitext103") read_wikitext(plan.files.at(0), sink);
  else if (format == "pg19") read_pg19(plan, metadata, sink);
  else read_text_corpus(plan, o.text_field, sink);
}

// Documents are tokenized by the pool; the writer takes them in source order.
uint64_t prepare_lm_split(const Context& ctx, const SplitPlan& plan, SplitWriter& writer,
                          const std::map<std::string, std::string>& metadata) {
  const auto& o = ctx.options;
  PrepareCounts counts = writer.counts();
  const int64_t resume_at = writer.units_done();
  int64_t unit = 0, consumed = resume_at;
  uint64_t bytes = 0;
  ByteProgress progress(plan.name, plan_bytes(plan), o.progress);
  OrderedPipeline<TextUnit, EncodedDocument> pipeline(
      ctx.threads, /*max_in_flight=*/static_cast<size_t>(2 * ctx.threads + 2),
      [&](TextUnit& u) {
        EncodedDocument d{std::move(u.name), std::move(u.origin), {}, u.text.size(), u.invalid_utf8};
        d.no_metadata = u.no_metadata;
        d.replaced += repair_utf8(u.text);
        d.blank = is_blank(u.text);
        if (d.blank) return d;
        if (o.add_bos) d.ids.push_back(*ctx.tokenizer.bos_id());
        auto ids = ctx.tokenizer.encode(u.text);
        d.ids.insert(d.ids.end(), ids.begin(), ids.end());
        if (o.add_eos) d.ids.push_back(*ctx.tokenizer.eos_id());
        return d;
      },
      [&](EncodedDocument& d) {
        if (d.replaced > 0) {
          counts.invalid_utf8_replaced += d.replaced;
          counts.invalid_utf8_documents += 1;
          ctx.warnings.warn("UTF-8", fmt::format("{}: {} ill-formed UTF-8 sequence(s) replaced by U+FFFD", d.origin,
                                                 d.replaced));
        }
        if (d.no_metadata) {
          counts.missing_metadata += 1;
          ctx.warnings.warn("metadata", fmt::format("{}: book {} has no metadata.csv row", d.origin, d.name));
        }
        if (d.blank) {
          counts.skipped_empty += 1;
          ctx.warnings.warn("empty-document", fmt::format("{}: empty document ({}) skipped", d.origin, d.name));
        } else {
          writer.add_document(d.name, d.ids);
        }
        bytes += d.bytes;
        progress.advance(d.bytes);
        writer.mark_units(++consumed, counts);
      });
  UnitSink sink = [&](TextUnit&& u) {
    if (unit++ < resume_at) {
      progress.advance(u.text.size());  // done by the interrupted run
      return;
    }
    pipeline.push(std::move(u));
  };
  read_text_units(o, plan, metadata, sink);
  pipeline.finish();
  writer.finish();
  progress.done();
  return bytes;
}

// The filler of one passkey split: its text units tokenized in order, up to
// passkey_filler_tokens ids (reading stops there).
struct FillerFull {};

std::vector<int32_t> read_filler(const Context& ctx, const SplitPlan& plan,
                                 const std::map<std::string, std::string>& metadata, uint64_t& bytes) {
  const auto& o = ctx.options;
  const auto cap = static_cast<size_t>(o.passkey_filler_tokens);
  std::vector<int32_t> filler;
  ByteProgress progress(plan.name + " filler", plan_bytes(plan), o.progress);
  OrderedPipeline<TextUnit, std::pair<std::vector<int32_t>, uint64_t>> pipeline(
      ctx.threads, static_cast<size_t>(2 * ctx.threads + 2),
      [&](TextUnit& u) {
        const uint64_t size = u.text.size();
        repair_utf8(u.text);
        return std::make_pair(is_blank(u.text) ? std::vector<int32_t>() : ctx.tokenizer.encode(u.text), size);
      },
      [&](std::pair<std::vector<int32_t>, uint64_t>& unit) {
        filler.insert(filler.end(), unit.first.begin(), unit.first.end());
        progress.advance(unit.second);
      });
  try {
    read_text_units(o, plan, metadata, [&](TextUnit&& u) {
      if (filler.size() >= cap) throw FillerFull{};
      bytes += u.text.size();
      pipeline.push(std::move(u));
    });
  } catch (const FillerFull&) {
  }
  pipeline.finish();
  progress.done();
  if (filler.size() > cap) filler.resize(cap);
  return filler;
}

// The unit of a passkey split is one sample (each is a function of the
// options, the filler and its index, so a resumed split continues exactly).
uint64_t prepare_passkey_split(const Context& ctx, const SplitPlan& plan, int64_t split, int64_t samples,
                               SplitWriter& writer, const std::map<std::string, std::string>& metadata) {
  uint64_t bytes = 0;
  const auto filler = read_filler(ctx, plan, metadata, bytes);
  const auto& p = ctx.options.passkey;
  int64_t longest = 0;
  // Up to facts - 1 facts older than the asked one, each in a lead segment (data/sources/passkey.cpp).
  for (int64_t d : p.distances)
    longest = std::max(longest, (std::max(p.lead_segments, p.facts - 1) + d + 1) * p.segment_length);
  HMT_CHECK(static_cast<int64_t>(filler.size()) >= longest,
            "{}: split `{}` gives {} filler tokens, fewer than the longest sample's {} (data.passkey.distances, "
            "lead_segments, segment_length); give more text",
            ctx.options.source, plan.name, filler.size(), longest);
  const PrepareCounts counts = writer.counts();
  int64_t shortest = -1;
  for (int64_t i = writer.units_done(); i < samples; ++i) {
    auto made = make_passkey_sample(ctx.options.passkey, ctx.tokenizer, filler, split, i);
    if (shortest < 0 || made.token_distance < shortest) shortest = made.token_distance;
    writer.add_qa_sample(made.sample);
    writer.mark_units(i + 1, counts);
  }
  writer.finish();
  if (ctx.options.progress && shortest >= 0)
    std::fprintf(stderr, "%s: %lld samples from %zu filler tokens; the closest fact is %lld tokens before its answer\n",
                 plan.name.c_str(), static_cast<long long>(samples), filler.size(), static_cast<long long>(shortest));
  return bytes;
}

struct QaGroup {
  int64_t index = 0;
  std::vector<PubMedRecord> records;
  uint64_t bytes = 0;
};

struct EncodedGroup {
  std::vector<QaSample> samples;
  uint64_t bytes = 0;
};

// The unit of a QA split is one fused group of fuse_size records.
uint64_t prepare_qa_split(const Context& ctx, const SplitPlan& plan, SplitWriter& writer) {
  const auto& o = ctx.options;
  const PrepareCounts counts = writer.counts();
  const int64_t resume_at = writer.units_done();
  int64_t consumed = resume_at;
  uint64_t bytes = 0;
  ByteProgress progress(plan.name, plan_bytes(plan), o.progress);
  const QaTextOptions text{o.add_bos, o.add_eos};
  OrderedPipeline<QaGroup, EncodedGroup> pipeline(
      ctx.threads, static_cast<size_t>(2 * ctx.threads + 2),
      [&](QaGroup& g) {
        return EncodedGroup{encode_pubmedqa_group(ctx.tokenizer, g.records, g.index, text), g.bytes};
      },
      [&](EncodedGroup& g) {
        for (const auto& s : g.samples) writer.add_qa_sample(s);
        bytes += g.bytes;
        progress.advance(g.bytes);
        writer.mark_units(++consumed, counts);
      });
  QaGroup group;
  auto flush = [&] {
    if (group.records.empty()) return;
    if (group.index < resume_at) progress.advance(group.bytes);
    else pipeline.push(std::move(group));
    group = QaGroup{group.index + 1, {}, 0};
  };
  read_pubmedqa(plan, [&](PubMedRecord&& r) {
    group.bytes += r.question.size() + r.long_answer.size();
    for (const auto& c : r.contexts) group.bytes += c.size();
    group.records.push_back(std::move(r));
    if (static_cast<int64_t>(group.records.size()) == o.fuse_size) flush();
  });
  flush();
  pipeline.finish();
  writer.finish();
  progress.done();
  return bytes;
}

}  // namespace

PrepareOptions prepare_options(const ExperimentConfig& config) {
  const auto& d = config.data;
  PrepareOptions o;
  HMT_CHECK(d.dataset.has_value(), "data.dataset: required by hmt prepare (wikitext103, pg19, pubmedqa or text)");
  o.dataset = *d.dataset;
  o.source = d.source;
  o.tokenizer = config.tokenizer.path;
  o.out = d.out.empty() ? d.path : d.out;
  o.splits = d.splits;
  o.split_fractions = d.split_fractions;
  o.fuse_size = d.fuse_size;
  o.text_field = d.text_field;
  o.add_bos = d.add_bos;
  o.add_eos = d.add_eos;
  o.threads = static_cast<int>(config.runtime.threads);
  const auto& p = d.passkey;
  o.passkey_filler = p.filler;
  o.passkey_samples = p.samples;
  o.passkey_filler_tokens = p.filler_tokens;
  o.passkey.segment_length = p.segment_length > 0 ? p.segment_length : config.hmt.segment_length;
  o.passkey.distances = p.distances;
  o.passkey.facts = p.facts;
  o.passkey.digits = p.digits;
  o.passkey.lead_segments = p.lead_segments;
  o.passkey.question = p.question;
  o.passkey.ask = p.ask;
  o.passkey.seed = static_cast<uint64_t>(p.seed);
  return o;
}

std::string describe_counts(const std::string& split, const PrepareCounts& c) {
  std::string text = fmt::format("{}: {} documents, {} tokens", split, c.documents, c.tokens);
  if (c.skipped_empty) text += fmt::format("; {} empty documents skipped", c.skipped_empty);
  if (c.invalid_utf8_replaced)
    text += fmt::format("; {} ill-formed UTF-8 sequences replaced in {} documents", c.invalid_utf8_replaced,
                        c.invalid_utf8_documents);
  if (c.missing_metadata) text += fmt::format("; {} books without a metadata.csv row", c.missing_metadata);
  return text;
}

namespace {

struct Inputs {
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<SplitJob> jobs;
  std::string hash;
};

Inputs gather_inputs(const PrepareOptions& o, int threads) {
  HMT_CHECK(!o.source.empty(), "data.source: required by hmt prepare (the dataset's folder or file)");
  HMT_CHECK(!o.tokenizer.empty(), "tokenizer.path: required by hmt prepare (the tokenizer that ids are made with)");
  HMT_CHECK(!o.out.empty(), "data.out (or data.path): required by hmt prepare (the .h5 file to write)");
  HMT_CHECK(o.fuse_size >= 1, "data.fuse_size must be >= 1, got {}", o.fuse_size);
  if (o.dataset == "passkey") {
    o.passkey.check();
    HMT_CHECK(o.passkey_filler_tokens >= 1, "data.passkey.filler_tokens must be >= 1, got {}", o.passkey_filler_tokens);
  }
  Inputs inputs;
  inputs.tokenizer = load_tokenizer(o.tokenizer);
  HMT_CHECK(!o.add_bos || inputs.tokenizer->bos_id(), "data.add_bos: tokenizer {} has no bos token", o.tokenizer);
  HMT_CHECK(!o.add_eos || inputs.tokenizer->eos_id(), "data.add_eos: tokenizer {} has no eos token", o.tokenizer);
  for (auto& plan : plan_splits(o)) inputs.jobs.push_back({std::move(plan), {}});
  if (o.dataset == "passkey") {
    const auto n = o.passkey_samples.size();
    HMT_CHECK(n == 1 || n == inputs.jobs.size(),
              "data.passkey.samples: {} values for {} splits; give one for all or one per split", n,
              inputs.jobs.size());
    for (int64_t v : o.passkey_samples) HMT_CHECK(v >= 1, "data.passkey.samples: each must be >= 1, got {}", v);
  }
  checksum_sources(inputs.jobs, threads);
  inputs.hash = inputs_hash(o, *inputs.tokenizer, inputs.jobs);
  return inputs;
}

}  // namespace

std::string prepare_inputs_sha256(const PrepareOptions& options) {
  return gather_inputs(options, resolve_threads(options.threads)).hash;
}

PrepareResult prepare_dataset(const PrepareOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  PrepareResult result;
  result.out = o.out;
  result.threads = resolve_threads(o.threads);
  Inputs inputs = gather_inputs(o, result.threads);
  const Tokenizer& tokenizer = *inputs.tokenizer;
  const std::string& hash = inputs.hash;
  auto& jobs = inputs.jobs;
  if (up_to_date(o.out, hash)) {
    TokenStore existing(o.out);
    for (const auto& name : existing.splits()) result.splits.emplace_back(name, existing.split(name).counts());
    result.up_to_date = true;
    return result;
  }

  const auto parent = fs::path(o.out).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  StoreHeader header;
  header.dataset = o.dataset;
  header.tokenizer_fingerprint = tokenizer.fingerprint();
  header.tokenizer_path = o.tokenizer;
  header.vocab_size = tokenizer.vocab_size();
  header.eos_id = tokenizer.eos_id();
  header.bos_id = tokenizer.bos_id();
  if (auto filler = tokenizer.encode("$"); !filler.empty()) header.filler_id = filler.front();
  header.inputs_sha256 = hash;
  if (o.dataset == "passkey") header.recall_task = o.passkey.to_json().dump();
  const std::string partial = o.out + ".partial";
  try {
    TokenStoreWriter writer(partial, header);
    result.resumed = writer.resumed();

    std::map<std::string, std::string> metadata;
    if (source_format(o) == "pg19") metadata = read_pg19_metadata(jobs.front().plan.extra.at(0));
    Warnings warnings(o.progress);
    const Context ctx{o, tokenizer, result.threads, warnings};
    std::vector<std::string> names;
    const auto tokenize_start = std::chrono::steady_clock::now();
    for (const auto& job : jobs) {
      names.push_back(job.plan.name);
      if (writer.split_complete(job.plan.name)) continue;
      const bool qa = o.dataset == "pubmedqa" || o.dataset == "passkey";
      SplitWriter split = writer.begin_split(job.plan.name, qa, job.sources);
      const auto index = static_cast<int64_t>(names.size()) - 1;
      if (o.dataset == "passkey")
        result.source_bytes +=
            prepare_passkey_split(ctx, job.plan, index,
                                  o.passkey_samples[o.passkey_samples.size() == 1 ? 0 : static_cast<size_t>(index)],
                                  split, metadata);
      else
        result.source_bytes += qa ? prepare_qa_split(ctx, job.plan, split)
                                  : prepare_lm_split(ctx, job.plan, split, metadata);
    }
    writer.finish(names);
    result.tokenize_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tokenize_start).count();
  } catch (const CApiError& e) {
    // HDF5 failed to write the output (a full disk, a quota): the writer is
    // closed by now (its flush failed too), and a file cut off mid-write must
    // not be resumed from. Bad input, by contrast, leaves the partial file for
    // the next run to continue.
    std::error_code ec;
    fs::remove(partial, ec);
    fail("{}\n{}: not written; the partial file {} was removed{}", e.what(), o.out, partial,
         fs::exists(o.out) ? fmt::format(" and the earlier {} is untouched", o.out) : std::string());
  }
  // Durable before it becomes visible under its final name.
  fsync_path(partial, O_RDONLY);
  fs::rename(partial, o.out);
  fsync_path(parent.empty() ? "." : parent.string(), O_RDONLY | O_DIRECTORY);

  TokenStore written(o.out);
  for (const auto& name : written.splits()) result.splits.emplace_back(name, written.split(name).counts());
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace hmt
