#pragma once
// Reader of prepared token files (`hmt prepare` output; layout in
// docs/data.md). Opening validates the file: not HDF5, truncated, not an hmt
// token file, another format version, or an interrupted preparation are each
// an hmt::Error naming the path. Token ranges are read from the compressed
// chunks on demand, so a split is never loaded whole; the per-document
// offsets (and, for QA splits, the per-sample answer starts, labels and
// choice offsets) are held in memory.
//
// Thread safety: the HDF5 library serialises its calls; one TokenStore may be
// read from several threads.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/store/hdf5_io.h"

namespace hmt {

// The short answers of PubMedQA, in label order (label 0 = "yes").
inline constexpr std::array<const char*, 3> kShortAnswers = {"yes", "no", "maybe"};

// What a preparation skipped or repaired in one split (all counted, never silent).
struct PrepareCounts {
  int64_t documents = 0;               // documents (QA: samples) written
  int64_t tokens = 0;                  // tokens written
  int64_t skipped_empty = 0;           // empty or whitespace-only documents, not written
  int64_t invalid_utf8_replaced = 0;   // ill-formed UTF-8 sequences replaced by U+FFFD
  int64_t invalid_utf8_documents = 0;  // documents that had at least one
  int64_t missing_metadata = 0;        // PG-19 books without a metadata.csv row
};

struct SourceFile {
  std::string path;  // as given / relative to the source root
  std::string sha256;
  uint64_t bytes = 0;
};

// One PubMedQA sample: `context question answer` tokenized as one text.
struct QaSample {
  std::vector<int32_t> ids;
  int64_t answer_start = 0;  // ids[answer_start:] are the long answer (the scored tokens)
  int label = -1;            // index into kShortAnswers; -1 = unlabeled
  int64_t group = 0;         // samples of one fused group share their context
  std::string name;          // the record's PMID
  // For each short answer c: the ids that follow ids[:answer_start] when the
  // text is `context question c` (tokenized as one text, like the sample).
  std::array<std::vector<int32_t>, 3> choices;
  // Recall samples (dataset passkey): the fact sits this many segments
  // before the segment of its query; -1 for other QA samples.
  int64_t distance = -1;
  // Several facts: how many segments before the query each other fact sits.
  std::vector<int64_t> other_distances;
};

class TokenSplit {
 public:
  // Every dataset's chunks are checksummed (Fletcher32, docs/data.md): a
  // chunk that fails its checksum makes the read that touches it (here, or
  // read()) an error naming the file and the split.
  TokenSplit(hid_t file, const std::string& file_path, const std::string& name);
  bool checksummed() const { return checksummed_; }  // false for files written before the checksums

  const std::string& name() const { return name_; }
  bool is_qa() const { return qa_; }
  int64_t documents() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  int64_t tokens() const { return static_cast<int64_t>(offsets_.back()); }
  // Stream offsets: document d is tokens [offsets()[d], offsets()[d + 1]).
  const std::vector<uint64_t>& offsets() const { return offsets_; }
  int64_t document_offset(int64_t doc) const;
  int64_t document_length(int64_t doc) const;

  // Tokens [begin, begin + count) of the split's stream (all documents in order).
  void read(int64_t begin, int64_t count, int64_t* out) const;
  void read(int64_t begin, int64_t count, int32_t* out) const;
  std::vector<int32_t> read(int64_t begin, int64_t count) const;
  // Tokens [begin, begin + count) of one document; count < 0: to its end.
  std::vector<int32_t> read_document(int64_t doc, int64_t begin = 0, int64_t count = -1) const;
  std::string document_name(int64_t doc) const;

  PrepareCounts counts() const;
  std::vector<SourceFile> sources() const;

  // QA splits only (errors otherwise).
  int64_t answer_start(int64_t sample) const;
  int label(int64_t sample) const;
  QaSample qa_sample(int64_t sample) const;
  int64_t distance(int64_t sample) const;  // QaSample::distance
  std::vector<int64_t> other_distances(int64_t sample) const;  // QaSample::other_distances

 private:
  void load(hid_t file);
  [[noreturn]] void damaged(const std::string& what, const CApiError& e) const;
  void require_qa(const char* what) const;
  void check_document(int64_t doc) const;

  std::string file_path_, name_;
  h5::Id group_, tokens_;
  bool qa_ = false, checksummed_ = false;
  std::vector<uint64_t> offsets_;
  std::vector<uint64_t> answer_start_, qa_group_, choice_offsets_;
  std::vector<int8_t> labels_;
  std::vector<int64_t> distances_;
  std::vector<uint64_t> other_offsets_;  // empty in files without them
  std::vector<int64_t> other_distances_;
};

class TokenStore {
 public:
  explicit TokenStore(const std::string& path);

  const std::string& path() const { return path_; }
  int64_t format_version() const { return version_; }
  const std::string& dataset() const { return dataset_; }
  const std::string& tokenizer_fingerprint() const { return fingerprint_; }
  const std::string& tokenizer_path() const { return tokenizer_path_; }
  const std::string& inputs_sha256() const { return inputs_hash_; }
  int64_t vocab_size() const { return vocab_size_; }
  std::optional<int32_t> eos_id() const { return eos_id_; }
  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::optional<int32_t> filler_id() const { return filler_id_; }
  // The recall benchmark's generator settings as JSON (dataset passkey,
  // data/sources/passkey.h); "" for other datasets.
  const std::string& recall_task() const { return recall_task_; }

  const std::vector<std::string>& splits() const { return split_names_; }
  bool has_split(const std::string& name) const;
  // Error names the file and the splits it has.
  const TokenSplit& split(const std::string& name) const;

 private:
  std::string path_;
  h5::Id file_;
  int64_t version_ = 0, vocab_size_ = 0;
  std::string dataset_, fingerprint_, tokenizer_path_, inputs_hash_, recall_task_;
  std::optional<int32_t> eos_id_, bos_id_, filler_id_;
  std::vector<std::string> split_names_;
  std::vector<std::unique_ptr<TokenSplit>> splits_;
};

// The tokenizer-fingerprint guard: throws naming both fingerprints (and the
// store's tokenizer path) when `expected` is non-empty and differs.
void check_tokenizer_fingerprint(const TokenStore& store, const std::string& expected,
                                 const std::string& expected_origin);

}  // namespace hmt
