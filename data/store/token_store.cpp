#include "data/store/token_store.h"

#include <algorithm>
#include <filesystem>

#include <fmt/ranges.h>

#include "core/c_api_check.h"
#include "core/error.h"
#include "data/store/token_store_layout.h"

namespace hmt {
namespace {

constexpr size_t kTokenCacheBytes = 32u << 20;  // holds the chunks of several windows in flight

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::optional<int32_t> optional_id(int64_t value) {
  if (value < 0) return std::nullopt;
  return static_cast<int32_t>(value);
}

}  // namespace

TokenSplit::TokenSplit(hid_t file, const std::string& file_path, const std::string& name)
    : file_path_(file_path), name_(name) {
  try {
    load(file);
  } catch (const CApiError& e) {
    damaged("its index datasets", e);
  }
}

void TokenSplit::damaged(const std::string& what, const CApiError& e) const {
  fail("{}: split `{}`: {} cannot be read: a chunk fails its checksum or does not decompress, so the file is "
       "damaged; prepare it again\n{}",
       file_path_, name_, what, e.what());
}

void TokenSplit::load(hid_t file) {
  const std::string& file_path = file_path_;
  const std::string& name = name_;
  HMT_CHECK(h5::exists(file, name), "{}: has no split group `{}`", file_path, name);
  group_ = h5::open_group(file, name);
  const std::string where = fmt::format("{}: split `{}`", file_path, name);
  auto kind = h5::read_string_attribute(group_.get(), store::kKind);
  HMT_CHECK(kind == "lm" || kind == "qa", "{}: attribute `kind` is {}, expected lm or qa", where,
            kind ? "\"" + *kind + "\"" : "missing");
  qa_ = *kind == "qa";
  HMT_CHECK(h5::read_int_attribute(group_.get(), store::kComplete) == 1,
            "{}: incomplete (its preparation was interrupted); run hmt prepare again", where);
  for (const char* dataset : {store::kTokenData, store::kDocOffsets, store::kDocNames})
    HMT_CHECK(h5::exists(group_.get(), dataset), "{}: dataset `{}` is missing", where, dataset);

  tokens_ = h5::open_dataset(group_.get(), store::kTokenData, kTokenCacheBytes);
  checksummed_ = h5::has_checksum(tokens_.get());
  h5::Id offsets = h5::open_dataset(group_.get(), store::kDocOffsets);
  offsets_ = h5::read_all<uint64_t>(offsets.get());
  HMT_CHECK(!offsets_.empty() && offsets_.front() == 0, "{}: `doc_offsets` must start with 0", where);
  for (size_t d = 1; d < offsets_.size(); ++d)
    HMT_CHECK(offsets_[d] >= offsets_[d - 1], "{}: `doc_offsets` decreases at document {}", where, d - 1);
  const uint64_t stored = h5::vector_length(tokens_.get());
  HMT_CHECK(offsets_.back() == stored, "{}: `doc_offsets` end at {} but `tokens` holds {} (truncated or damaged)",
            where, offsets_.back(), stored);
  const uint64_t docs = offsets_.size() - 1;
  auto counted = h5::read_int_attribute(group_.get(), store::kDocuments);
  HMT_CHECK(counted && static_cast<uint64_t>(*counted) == docs,
            "{}: attribute `documents` does not match `doc_offsets` ({} documents)", where, docs);
  if (!qa_) return;

  for (const char* dataset :
       {store::kAnswerStart, store::kLabel, store::kGroup, store::kChoiceOffsets, store::kChoiceTokens})
    HMT_CHECK(h5::exists(group_.get(), dataset), "{}: QA dataset `{}` is missing", where, dataset);
  answer_start_ = h5::read_all<uint64_t>(h5::open_dataset(group_.get(), store::kAnswerStart).get());
  labels_ = h5::read_all<int8_t>(h5::open_dataset(group_.get(), store::kLabel).get());
  qa_group_ = h5::read_all<uint64_t>(h5::open_dataset(group_.get(), store::kGroup).get());
  choice_offsets_ = h5::read_all<uint64_t>(h5::open_dataset(group_.get(), store::kChoiceOffsets).get());
  HMT_CHECK(answer_start_.size() == docs && labels_.size() == docs && qa_group_.size() == docs &&
                choice_offsets_.size() == 3 * docs + 1,
            "{}: QA datasets do not have one entry per sample ({} samples)", where, docs);
  for (uint64_t s = 0; s < docs; ++s)
    HMT_CHECK(answer_start_[s] <= offsets_[s + 1] - offsets_[s], "{}: sample {}: answer starts past its end", where, s);
  if (h5::exists(group_.get(), store::kDistance)) {
    distances_ = h5::read_all<int64_t>(h5::open_dataset(group_.get(), store::kDistance).get());
    HMT_CHECK(distances_.size() == docs, "{}: `distance` does not have one entry per sample ({} samples)", where, docs);
  } else {
    distances_.assign(docs, -1);
  }
  if (h5::exists(group_.get(), store::kOtherFactOffsets)) {
    other_offsets_ = h5::read_all<uint64_t>(h5::open_dataset(group_.get(), store::kOtherFactOffsets).get());
    other_distances_ = h5::read_all<int64_t>(h5::open_dataset(group_.get(), store::kOtherFactDistances).get());
    HMT_CHECK(other_offsets_.size() == docs + 1 && other_offsets_.back() == other_distances_.size() &&
                  std::is_sorted(other_offsets_.begin(), other_offsets_.end()),
              "{}: `{}` does not index `{}` ({} samples)", where, store::kOtherFactOffsets,
              store::kOtherFactDistances, docs);
  }
  h5::Id choice_tokens = h5::open_dataset(group_.get(), store::kChoiceTokens);
  HMT_CHECK(choice_offsets_.back() == h5::vector_length(choice_tokens.get()),
            "{}: `choice_offsets` do not match `choice_tokens` (truncated or damaged)", where);
}

void TokenSplit::check_document(int64_t doc) const {
  HMT_CHECK(doc >= 0 && doc < documents(), "{}: split `{}`: document {} out of range [0, {})", file_path_, name_, doc,
            documents());
}

int64_t TokenSplit::document_offset(int64_t doc) const {
  check_document(doc);
  return static_cast<int64_t>(offsets_[doc]);
}

int64_t TokenSplit::document_length(int64_t doc) const {
  check_document(doc);
  return static_cast<int64_t>(offsets_[doc + 1] - offsets_[doc]);
}

void TokenSplit::read(int64_t begin, int64_t count, int64_t* out) const {
  HMT_CHECK(begin >= 0 && count >= 0 && begin + count <= tokens(),
            "{}: split `{}`: token range [{}, {}) outside [0, {})", file_path_, name_, begin, begin + count, tokens());
  try {
    h5::read_range(tokens_.get(), H5T_NATIVE_INT64, begin, count, out);
  } catch (const CApiError& e) {
    damaged(fmt::format("tokens [{}, {})", begin, begin + count), e);
  }
}

void TokenSplit::read(int64_t begin, int64_t count, int32_t* out) const {
  HMT_CHECK(begin >= 0 && count >= 0 && begin + count <= tokens(),
            "{}: split `{}`: token range [{}, {}) outside [0, {})", file_path_, name_, begin, begin + count, tokens());
  // Ids are below 2^31 (vocabularies are), so uint32 -> int32 keeps every value.
  try {
    h5::read_range(tokens_.get(), H5T_NATIVE_UINT32, begin, count, out);
  } catch (const CApiError& e) {
    damaged(fmt::format("tokens [{}, {})", begin, begin + count), e);
  }
}

std::vector<int32_t> TokenSplit::read(int64_t begin, int64_t count) const {
  std::vector<int32_t> out(static_cast<size_t>(std::max<int64_t>(count, 0)));
  read(begin, count, out.data());
  return out;
}

std::vector<int32_t> TokenSplit::read_document(int64_t doc, int64_t begin, int64_t count) const {
  const int64_t length = document_length(doc);
  if (count < 0) count = length - begin;
  HMT_CHECK(begin >= 0 && count >= 0 && begin + count <= length,
            "{}: split `{}`: range [{}, {}) outside document {} of {} tokens", file_path_, name_, begin, begin + count,
            doc, length);
  return read(document_offset(doc) + begin, count);
}

std::string TokenSplit::document_name(int64_t doc) const {
  check_document(doc);
  h5::Id names = h5::open_dataset(group_.get(), store::kDocNames);
  return h5::read_strings(names.get(), doc, 1).front();
}

PrepareCounts TokenSplit::counts() const {
  auto get = [&](const char* key) { return h5::read_int_attribute(group_.get(), key).value_or(0); };
  PrepareCounts c;
  c.documents = documents();
  c.tokens = tokens();
  c.skipped_empty = get(store::kSkippedEmpty);
  c.invalid_utf8_replaced = get(store::kInvalidUtf8);
  c.invalid_utf8_documents = get(store::kInvalidUtf8Documents);
  c.missing_metadata = get(store::kMissingMetadata);
  return c;
}

std::vector<SourceFile> TokenSplit::sources() const {
  h5::Id paths = h5::open_dataset(group_.get(), store::kSourcePaths);
  h5::Id hashes = h5::open_dataset(group_.get(), store::kSourceSha256);
  h5::Id bytes = h5::open_dataset(group_.get(), store::kSourceBytes);
  const hsize_t n = h5::vector_length(paths.get());
  auto path_list = h5::read_strings(paths.get(), 0, n);
  auto hash_list = h5::read_strings(hashes.get(), 0, n);
  auto byte_list = h5::read_all<uint64_t>(bytes.get());
  HMT_CHECK(hash_list.size() == n && byte_list.size() == n, "{}: split `{}`: source lists differ in length", file_path_,
            name_);
  std::vector<SourceFile> out(n);
  for (hsize_t i = 0; i < n; ++i) out[i] = {path_list[i], hash_list[i], byte_list[i]};
  return out;
}

void TokenSplit::require_qa(const char* what) const {
  HMT_CHECK(qa_, "{}: split `{}` holds language-model documents, not QA samples ({} needs a pubmedqa file)", file_path_,
            name_, what);
}

int64_t TokenSplit::answer_start(int64_t sample) const {
  require_qa("answer_start");
  check_document(sample);
  return static_cast<int64_t>(answer_start_[sample]);
}

int64_t TokenSplit::distance(int64_t sample) const {
  require_qa("distance");
  check_document(sample);
  return distances_[sample];
}

std::vector<int64_t> TokenSplit::other_distances(int64_t sample) const {
  require_qa("other_distances");
  check_document(sample);
  if (other_offsets_.empty()) return {};
  return {other_distances_.begin() + static_cast<std::ptrdiff_t>(other_offsets_[sample]),
          other_distances_.begin() + static_cast<std::ptrdiff_t>(other_offsets_[sample + 1])};
}

int TokenSplit::label(int64_t sample) const {
  require_qa("label");
  check_document(sample);
  return labels_[sample];
}

QaSample TokenSplit::qa_sample(int64_t sample) const {
  require_qa("qa_sample");
  QaSample out;
  out.ids = read_document(sample);
  out.answer_start = static_cast<int64_t>(answer_start_[sample]);
  out.label = labels_[sample];
  out.group = static_cast<int64_t>(qa_group_[sample]);
  out.name = document_name(sample);
  out.distance = distances_[sample];
  out.other_distances = other_distances(sample);
  h5::Id choice_tokens = h5::open_dataset(group_.get(), store::kChoiceTokens);
  for (int c = 0; c < 3; ++c) {
    const uint64_t begin = choice_offsets_[3 * sample + c], end = choice_offsets_[3 * sample + c + 1];
    out.choices[c].resize(end - begin);
    h5::read_range(choice_tokens.get(), H5T_NATIVE_UINT32, begin, end - begin, out.choices[c].data());
  }
  return out;
}

TokenStore::TokenStore(const std::string& path) : path_(path) {
  h5::quiet_errors();
  HMT_CHECK(std::filesystem::is_regular_file(path), "{}: no such prepared data file (run hmt prepare)", path);
  const htri_t signature = H5Fis_hdf5(path.c_str());
  if (signature <= 0) {
    detail::hdf5_error_text();  // clears the stack
    fail("{}: not an HDF5 file (no HDF5 signature); expected a token file written by hmt prepare", path);
  }
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) fail("{}: cannot open the HDF5 file (truncated or damaged?): {}", path, detail::hdf5_error_text());
  file_ = h5::Id(file, h5::Id::Kind::File);

  auto format = h5::read_string_attribute(file, store::kFormat);
  HMT_CHECK(format == std::string(store::kFormatName),
            "{}: not an hmt token file (attribute `format` is {}, expected \"{}\")", path,
            format ? "\"" + *format + "\"" : "missing", store::kFormatName);
  version_ = h5::read_int_attribute(file, store::kVersion).value_or(-1);
  HMT_CHECK(version_ == store::kFormatVersion,
            "{}: format version {}, but this build reads version {}; prepare it again", path, version_,
            store::kFormatVersion);
  HMT_CHECK(h5::read_int_attribute(file, store::kComplete) == 1,
            "{}: incomplete (hmt prepare did not finish writing it); run hmt prepare again", path);
  auto text = [&](const char* key) {
    auto value = h5::read_string_attribute(file, key);
    HMT_CHECK(value.has_value(), "{}: attribute `{}` is missing", path, key);
    return *value;
  };
  auto number = [&](const char* key) {
    auto value = h5::read_int_attribute(file, key);
    HMT_CHECK(value.has_value(), "{}: attribute `{}` is missing", path, key);
    return *value;
  };
  dataset_ = text(store::kDataset);
  fingerprint_ = text(store::kFingerprint);
  tokenizer_path_ = text(store::kTokenizerPath);
  inputs_hash_ = text(store::kInputsHash);
  vocab_size_ = number(store::kVocabSize);
  eos_id_ = optional_id(number(store::kEosId));
  bos_id_ = optional_id(number(store::kBosId));
  filler_id_ = optional_id(number(store::kFillerId));
  recall_task_ = h5::read_string_attribute(file, store::kRecallTask).value_or("");
  split_names_ = split_commas(text(store::kSplits));
  for (const auto& name : split_names_) splits_.push_back(std::make_unique<TokenSplit>(file, path, name));
}

bool TokenStore::has_split(const std::string& name) const {
  return std::find(split_names_.begin(), split_names_.end(), name) != split_names_.end();
}

const TokenSplit& TokenStore::split(const std::string& name) const {
  for (size_t i = 0; i < split_names_.size(); ++i)
    if (split_names_[i] == name) return *splits_[i];
  fail("{}: has no split `{}` (it has: {})", path_, name, fmt::join(split_names_, ", "));
}

void check_tokenizer_fingerprint(const TokenStore& store, const std::string& expected,
                                 const std::string& expected_origin) {
  if (expected.empty() || expected == store.tokenizer_fingerprint()) return;
  fail("{}: prepared with tokenizer {} (fingerprint {}), but {} has fingerprint {}; prepare the data again with "
       "that tokenizer",
       store.path(), store.tokenizer_path(), store.tokenizer_fingerprint(), expected_origin, expected);
}

}  // namespace hmt
