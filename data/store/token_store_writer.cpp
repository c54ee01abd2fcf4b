#include "data/store/token_store_writer.h"

#include <filesystem>

#include "core/c_api_check.h"
#include "core/error.h"
#include "data/store/token_store_layout.h"

namespace hmt {
namespace {

constexpr size_t kFlushTokens = 8u << 20;  // 32 MiB of buffered ids

void write_counts(hid_t group, const PrepareCounts& c, int64_t units) {
  h5::write_attribute(group, store::kDocuments, c.documents);
  h5::write_attribute(group, store::kTokens, c.tokens);
  h5::write_attribute(group, store::kSkippedEmpty, c.skipped_empty);
  h5::write_attribute(group, store::kInvalidUtf8, c.invalid_utf8_replaced);
  h5::write_attribute(group, store::kInvalidUtf8Documents, c.invalid_utf8_documents);
  h5::write_attribute(group, store::kMissingMetadata, c.missing_metadata);
  h5::write_attribute(group, store::kUnitsDone, units);
}

int64_t attribute(hid_t group, const char* name) {
  auto value = h5::read_int_attribute(group, name);
  HMT_CHECK(value.has_value(), "attribute `{}` is missing", name);
  return *value;
}

}  // namespace

SplitWriter::SplitWriter(hid_t file, const std::string& path, const std::string& name, bool qa,
                         const std::vector<SourceFile>& sources)
    : file_(file), where_(path + ": split " + name), qa_(qa) {
  if (h5::exists(file, name)) {
    group_ = h5::open_group(file, name);
    if (resume()) return;
    // A split whose marks do not add up cannot be continued safely: start it over.
    group_.reset();
    HMT_H5_CHECK(H5Ldelete(file, name.c_str(), H5P_DEFAULT));
  }
  group_ = h5::create_group(file, name);
  create(sources);
}

void SplitWriter::create(const std::vector<SourceFile>& sources) {
  const hid_t g = group_.get();
  h5::write_attribute(g, store::kKind, std::string(qa_ ? "qa" : "lm"));
  h5::create_vector(g, store::kTokenData, H5T_NATIVE_UINT32, store::kTokenChunk, store::kDeflateLevel);
  h5::create_vector(g, store::kDocOffsets, H5T_NATIVE_UINT64, store::kIndexChunk, store::kDeflateLevel);
  h5::create_vector(g, store::kDocNames, h5::string_type(), store::kIndexChunk, /*deflate_level=*/0);
  h5::create_vector(g, store::kSourcePaths, h5::string_type(), store::kIndexChunk, /*deflate_level=*/0);
  h5::create_vector(g, store::kSourceSha256, h5::string_type(), store::kIndexChunk, /*deflate_level=*/0);
  h5::create_vector(g, store::kSourceBytes, H5T_NATIVE_UINT64, store::kIndexChunk, /*deflate_level=*/0);
  std::vector<std::string> paths, hashes;
  std::vector<uint64_t> bytes;
  for (const auto& s : sources) {
    paths.push_back(s.path);
    hashes.push_back(s.sha256);
    bytes.push_back(s.bytes);
  }
  h5::append_strings(dataset(store::kSourcePaths).get(), paths);
  h5::append_strings(dataset(store::kSourceSha256).get(), hashes);
  h5::append(dataset(store::kSourceBytes).get(), bytes);
  h5::append(dataset(store::kDocOffsets).get(), std::vector<uint64_t>{0});
  if (qa_) {
    h5::create_vector(g, store::kAnswerStart, H5T_NATIVE_UINT64, store::kIndexChunk, store::kDeflateLevel);
    h5::create_vector(g, store::kLabel, H5T_NATIVE_INT8, store::kIndexChunk, store::kDeflateLevel);
    h5::create_vector(g, store::kGroup, H5T_NATIVE_UINT64, store::kIndexChunk, store::kDeflateLevel);
    h5::create_vector(g, store::kDistance, H5T_NATIVE_INT64, store::kIndexChunk, store::kDeflateLevel);
    h5::create_vector(g, store::kChoiceOffsets, H5T_NATIVE_UINT64, store::kIndexChunk, store::kDeflateLevel);
    h5::create_vector(g, store::kChoiceTokens, H5T_NATIVE_UINT32, store::kIndexChunk, store::kDeflateLevel);
    h5::append(dataset(store::kChoiceOffsets).get(), std::vector<uint64_t>{0});
    h5::create_vector(g, store::kOtherFactOffsets, H5T_NATIVE_UINT64, store::kIndexChunk, store::kDeflateLevel);
    h5::create_vector(g, store::kOtherFactDistances, H5T_NATIVE_INT64, store::kIndexChunk, store::kDeflateLevel);
    h5::append(dataset(store::kOtherFactOffsets).get(), std::vector<uint64_t>{0});
  }
  write_counts(g, counts_, units_done_);
}

// Cuts every dataset back to the last mark: a crash may have left data
// written after it.
bool SplitWriter::resume() {
  const hid_t g = group_.get();
  try {
    if (h5::read_int_attribute(g, store::kComplete) == 1) return false;
    if (h5::read_string_attribute(g, store::kKind) != std::string(qa_ ? "qa" : "lm")) return false;
    counts_.documents = attribute(g, store::kDocuments);
    counts_.tokens = attribute(g, store::kTokens);
    counts_.skipped_empty = attribute(g, store::kSkippedEmpty);
    counts_.invalid_utf8_replaced = attribute(g, store::kInvalidUtf8);
    counts_.invalid_utf8_documents = attribute(g, store::kInvalidUtf8Documents);
    counts_.missing_metadata = attribute(g, store::kMissingMetadata);
    units_done_ = attribute(g, store::kUnitsDone);
    const auto docs = static_cast<hsize_t>(counts_.documents);
    h5::Id offsets = dataset(store::kDocOffsets);
    if (h5::vector_length(offsets.get()) < docs + 1) return false;
    uint64_t end = 0;
    h5::read_range(offsets.get(), H5T_NATIVE_UINT64, docs, 1, &end);
    if (end != static_cast<uint64_t>(counts_.tokens)) return false;
    h5::Id tokens = dataset(store::kTokenData);
    h5::Id names = dataset(store::kDocNames);
    if (h5::vector_length(tokens.get()) < end || h5::vector_length(names.get()) < docs) return false;
    h5::set_length(offsets.get(), docs + 1);
    h5::set_length(tokens.get(), end);
    h5::set_length(names.get(), docs);
    if (qa_) {
      h5::Id choice_offsets = dataset(store::kChoiceOffsets);
      if (h5::vector_length(choice_offsets.get()) < 3 * docs + 1) return false;
      h5::read_range(choice_offsets.get(), H5T_NATIVE_UINT64, 3 * docs, 1, &choice_total_);
      h5::set_length(choice_offsets.get(), 3 * docs + 1);
      h5::set_length(dataset(store::kChoiceTokens).get(), choice_total_);
      h5::Id other_offsets = dataset(store::kOtherFactOffsets);
      if (h5::vector_length(other_offsets.get()) < docs + 1) return false;
      h5::read_range(other_offsets.get(), H5T_NATIVE_UINT64, docs, 1, &other_total_);
      h5::set_length(other_offsets.get(), docs + 1);
      h5::set_length(dataset(store::kOtherFactDistances).get(), other_total_);
      for (const char* name : {store::kAnswerStart, store::kLabel, store::kGroup, store::kDistance}) {
        h5::Id d = dataset(name);
        if (h5::vector_length(d.get()) < docs) return false;
        h5::set_length(d.get(), docs);
      }
    }
    pending_units_ = units_done_;
    pending_counts_ = counts_;
    return true;
  } catch (const Error&) {
    counts_ = {};
    units_done_ = 0;
    choice_total_ = 0;
    other_total_ = 0;
    return false;
  }
}

void SplitWriter::add_document(const std::string& name, const std::vector<int32_t>& ids) {
  HMT_CHECK(!qa_, "{}: add_document on a QA split", where_);
  tokens_.insert(tokens_.end(), ids.begin(), ids.end());
  pending_counts_.tokens += static_cast<int64_t>(ids.size());
  pending_counts_.documents += 1;
  offsets_.push_back(static_cast<uint64_t>(pending_counts_.tokens));
  names_.push_back(name);
}

void SplitWriter::add_qa_sample(const QaSample& sample) {
  HMT_CHECK(qa_, "{}: add_qa_sample on a language-model split", where_);
  tokens_.insert(tokens_.end(), sample.ids.begin(), sample.ids.end());
  pending_counts_.tokens += static_cast<int64_t>(sample.ids.size());
  pending_counts_.documents += 1;
  offsets_.push_back(static_cast<uint64_t>(pending_counts_.tokens));
  names_.push_back(sample.name);
  answer_start_.push_back(static_cast<uint64_t>(sample.answer_start));
  labels_.push_back(static_cast<int8_t>(sample.label));
  groups_.push_back(static_cast<uint64_t>(sample.group));
  distances_.push_back(sample.distance);
  for (const auto& choice : sample.choices) {
    choice_tokens_.insert(choice_tokens_.end(), choice.begin(), choice.end());
    choice_total_ += choice.size();
    choice_offsets_.push_back(choice_total_);
  }
  other_distances_.insert(other_distances_.end(), sample.other_distances.begin(), sample.other_distances.end());
  other_total_ += sample.other_distances.size();
  other_offsets_.push_back(other_total_);
}

void SplitWriter::mark_units(int64_t units, const PrepareCounts& skips) {
  pending_units_ = units;
  pending_counts_.skipped_empty = skips.skipped_empty;
  pending_counts_.invalid_utf8_replaced = skips.invalid_utf8_replaced;
  pending_counts_.invalid_utf8_documents = skips.invalid_utf8_documents;
  pending_counts_.missing_metadata = skips.missing_metadata;
  if (tokens_.size() >= kFlushTokens) commit();
}

// Data first, then the marks that make it count, then an HDF5 flush: a crash
// between the steps leaves data past the marks, which resume() cuts off.
void SplitWriter::commit() {
  h5::append(dataset(store::kTokenData).get(), tokens_);
  h5::append(dataset(store::kDocOffsets).get(), offsets_);
  h5::append_strings(dataset(store::kDocNames).get(), names_);
  if (qa_) {
    h5::append(dataset(store::kAnswerStart).get(), answer_start_);
    h5::append(dataset(store::kLabel).get(), labels_);
    h5::append(dataset(store::kGroup).get(), groups_);
    h5::append(dataset(store::kDistance).get(), distances_);
    h5::append(dataset(store::kChoiceOffsets).get(), choice_offsets_);
    h5::append(dataset(store::kOtherFactOffsets).get(), other_offsets_);
    h5::append(dataset(store::kOtherFactDistances).get(), other_distances_);
    h5::append(dataset(store::kChoiceTokens).get(), choice_tokens_);
  }
  tokens_.clear();
  offsets_.clear();
  names_.clear();
  answer_start_.clear();
  labels_.clear();
  groups_.clear();
  distances_.clear();
  choice_offsets_.clear();
  other_offsets_.clear();
  other_distances_.clear();
  choice_tokens_.clear();
  counts_ = pending_counts_;
  units_done_ = pending_units_;
  write_counts(group_.get(), counts_, units_done_);
  HMT_H5_CHECK(H5Fflush(file_, H5F_SCOPE_GLOBAL));
}

void SplitWriter::finish() {
  commit();
  h5::write_attribute(group_.get(), store::kComplete, int64_t{1});
  HMT_H5_CHECK(H5Fflush(file_, H5F_SCOPE_GLOBAL));
}

TokenStoreWriter::TokenStoreWriter(const std::string& path, const StoreHeader& header) : path_(path) {
  h5::quiet_errors();
  if (std::filesystem::exists(path) && open_existing(header)) {
    resumed_ = true;
    return;
  }
  std::filesystem::remove(path);
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) fail("{}: cannot create the HDF5 file: {}", path, detail::hdf5_error_text());
  file_ = h5::Id(file, h5::Id::Kind::File);
  h5::write_attribute(file, store::kFormat, std::string(store::kFormatName));
  h5::write_attribute(file, store::kVersion, store::kFormatVersion);
  h5::write_attribute(file, store::kDataset, header.dataset);
  h5::write_attribute(file, store::kFingerprint, header.tokenizer_fingerprint);
  h5::write_attribute(file, store::kTokenizerPath, header.tokenizer_path);
  h5::write_attribute(file, store::kVocabSize, header.vocab_size);
  h5::write_attribute(file, store::kEosId, int64_t{header.eos_id.value_or(-1)});
  h5::write_attribute(file, store::kBosId, int64_t{header.bos_id.value_or(-1)});
  h5::write_attribute(file, store::kFillerId, int64_t{header.filler_id.value_or(-1)});
  h5::write_attribute(file, store::kInputsHash, header.inputs_sha256);
  if (!header.recall_task.empty()) h5::write_attribute(file, store::kRecallTask, header.recall_task);
}

bool TokenStoreWriter::open_existing(const StoreHeader& header) {
  if (H5Fis_hdf5(path_.c_str()) <= 0) {
    detail::hdf5_error_text();
    return false;
  }
  hid_t file = H5Fopen(path_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) {
    detail::hdf5_error_text();  // a torn file from a crash: start over
    return false;
  }
  h5::Id owned(file, h5::Id::Kind::File);
  try {
    if (h5::read_string_attribute(file, store::kFormat) != std::string(store::kFormatName)) return false;
    if (h5::read_int_attribute(file, store::kVersion) != store::kFormatVersion) return false;
    if (h5::read_string_attribute(file, store::kInputsHash) != header.inputs_sha256) return false;
    if (h5::read_int_attribute(file, store::kComplete) == 1) return false;
  } catch (const Error&) {
    return false;
  }
  file_ = std::move(owned);
  return true;
}

bool TokenStoreWriter::split_complete(const std::string& name) const {
  if (!h5::exists(file_.get(), name)) return false;
  h5::Id group = h5::open_group(file_.get(), name);
  return h5::read_int_attribute(group.get(), store::kComplete) == 1;
}

SplitWriter TokenStoreWriter::begin_split(const std::string& name, bool qa, const std::vector<SourceFile>& sources) {
  return SplitWriter(file_.get(), path_, name, qa, sources);
}

void TokenStoreWriter::finish(const std::vector<std::string>& splits) {
  std::string list;
  for (const auto& s : splits) list += (list.empty() ? "" : ",") + s;
  h5::write_attribute(file_.get(), store::kSplits, list);
  h5::write_attribute(file_.get(), store::kComplete, int64_t{1});
  HMT_H5_CHECK(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL));
  file_.reset();
}

}  // namespace hmt
