#pragma once
// Names and constants of the prepared-data HDF5 layout (docs/data.md), shared
// by the reader (token_store.h) and the writer (token_store_writer.h).
#include <cstdint>

namespace hmt::store {

inline constexpr const char* kFormatName = "hmt.tokens";
inline constexpr int64_t kFormatVersion = 1;

// File attributes.
inline constexpr const char* kFormat = "format";
inline constexpr const char* kVersion = "format_version";
inline constexpr const char* kDataset = "dataset";
inline constexpr const char* kFingerprint = "tokenizer_fingerprint";
inline constexpr const char* kTokenizerPath = "tokenizer_path";
inline constexpr const char* kVocabSize = "vocab_size";
inline constexpr const char* kEosId = "eos_id";  // -1: none
inline constexpr const char* kBosId = "bos_id";
inline constexpr const char* kFillerId = "filler_id";  // first id of "$": the dilation filler
inline constexpr const char* kInputsHash = "inputs_sha256";
inline constexpr const char* kRecallTask = "recall_task";  // optional: passkey generator settings (JSON)
inline constexpr const char* kSplits = "splits";           // comma-separated, in preparation order
inline constexpr const char* kComplete = "complete";       // 1, written last (file and split)

// Split group attributes.
inline constexpr const char* kKind = "kind";  // "lm" | "qa"
inline constexpr const char* kDocuments = "documents";
inline constexpr const char* kTokens = "tokens";
inline constexpr const char* kSkippedEmpty = "skipped_empty";
inline constexpr const char* kInvalidUtf8 = "invalid_utf8_replaced";
inline constexpr const char* kInvalidUtf8Documents = "invalid_utf8_documents";
inline constexpr const char* kMissingMetadata = "missing_metadata";
inline constexpr const char* kUnitsDone = "units_done";  // source units consumed (resume point)

// Split datasets.
inline constexpr const char* kTokenData = "tokens";          // uint32 [tokens]
inline constexpr const char* kDocOffsets = "doc_offsets";    // uint64 [documents + 1]
inline constexpr const char* kDocNames = "doc_names";        // string [documents]
inline constexpr const char* kSourcePaths = "source_paths";  // string [sources]
inline constexpr const char* kSourceSha256 = "source_sha256";
inline constexpr const char* kSourceBytes = "source_bytes";  // uint64 [sources]
// QA splits, one entry per sample (= document).
inline constexpr const char* kAnswerStart = "answer_start";  // uint64: tokens before the answer
inline constexpr const char* kLabel = "label";               // int8: 0 yes, 1 no, 2 maybe, -1 none
inline constexpr const char* kGroup = "group";               // uint64: fused group of the sample
// int64: segments between a recall fact and its query (dataset passkey); -1
// otherwise. Optional: files written before it read as all -1.
inline constexpr const char* kDistance = "distance";
inline constexpr const char* kChoiceOffsets = "choice_offsets";  // uint64 [3 * samples + 1]
// Recall samples with several facts: sample s's other facts sit
// other_fact_distances[other_fact_offsets[s] : other_fact_offsets[s + 1]]
// segments before its query. Optional: files written before read as none.
inline constexpr const char* kOtherFactOffsets = "other_fact_offsets";      // uint64 [samples + 1]
inline constexpr const char* kOtherFactDistances = "other_fact_distances";  // int64
inline constexpr const char* kChoiceTokens = "choice_tokens";    // uint32

inline constexpr uint64_t kTokenChunk = 1 << 15;  // 128 KiB of uint32 per compressed chunk
inline constexpr uint64_t kIndexChunk = 1 << 12;
inline constexpr int kDeflateLevel = 1;  // fast: the writer must keep up with all tokenizer threads

}  // namespace hmt::store
