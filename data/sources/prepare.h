#pragma once
// `hmt prepare`: one dataset source -> one prepared HDF5 token file
// (docs/data.md). Sources are streamed (one book / article / line / record
// group at a time) and tokenized by a pool of threads in order, so memory is
// bounded by a few documents per thread, not by the corpus.
//
// Reruns: the file records a hash of every input (source checksums,
// tokenizer fingerprint, options). When OUT already holds that hash the run
// does nothing. Otherwise it writes OUT.partial and renames it onto OUT only
// when complete; an interrupted run leaves OUT.partial, and the next run with
// the same inputs continues it from its last mark.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/sources/passkey.h"
#include "data/store/token_store.h"

namespace hmt {

struct ExperimentConfig;

struct PrepareOptions {
  std::string dataset;  // wikitext103 | pg19 | pubmedqa | text | passkey
  std::string source;
  std::string tokenizer;
  std::string out;
  std::vector<std::string> splits;      // empty: the dataset's default
  std::vector<double> split_fractions;  // one-file sources only
  int64_t fuse_size = 1;
  std::string text_field = "text";
  bool add_bos = false, add_eos = false;
  // passkey: the filler's format (text | pg19 | wikitext103), samples per
  // split (one value for all or one per split), filler tokens read per split
  // (at most), and the generator.
  std::string passkey_filler = "text";
  std::vector<int64_t> passkey_samples = {1000};
  int64_t passkey_filler_tokens = 2000000;
  PasskeyOptions passkey;
  int threads = 0;       // 0: all cores (hmt::resolve_threads)
  bool progress = true;  // progress bar / lines and warnings on stderr
};

// data.* (dataset, source, out or else path, splits, ...), tokenizer.path and runtime.threads.
PrepareOptions prepare_options(const ExperimentConfig& config);

struct PrepareResult {
  std::string out;
  bool up_to_date = false;  // OUT already held these inputs: nothing was done
  bool resumed = false;     // continued an interrupted OUT.partial
  std::vector<std::pair<std::string, PrepareCounts>> splits;
  uint64_t source_bytes = 0;    // bytes of source text tokenized in this run
  double seconds = 0;           // the whole run
  double tokenize_seconds = 0;  // reading, tokenizing and writing the splits (no tokenizer load, no checksums)
  int threads = 1;
};

PrepareResult prepare_dataset(const PrepareOptions& options);

// The inputs hash that prepare_dataset records for these options (and
// compares against OUT and OUT.partial): options, tokenizer fingerprint and
// the sha256 of every source file.
std::string prepare_inputs_sha256(const PrepareOptions& options);

// The one-line summary of a split: documents, tokens and every skip/repair count.
std::string describe_counts(const std::string& split, const PrepareCounts& counts);

}  // namespace hmt
