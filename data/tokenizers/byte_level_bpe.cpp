#include "data/tokenizers/byte_level_bpe.h"

#include <algorithm>
#include <atomic>
#include <functional>

#include <fmt/format.h>

#include "core/error.h"

namespace hmt {

// ---- GPT-2 byte <-> unicode alphabet -------------------------------------

namespace {

struct ByteAlphabet {
  std::string chars[256];  // byte -> UTF-8 of its stand-in
  std::unordered_map<uint32_t, uint8_t> code_to_byte;
  ByteAlphabet() {
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      uint32_t code = printable ? b : next++;
      code_to_byte[code] = static_cast<uint8_t>(b);
      // All stand-ins are below U+0800: one or two UTF-8 bytes.
      if (code < 0x80) chars[b] = std::string(1, static_cast<char>(code));
      else chars[b] = {static_cast<char>(0xC0 | (code >> 6)), static_cast<char>(0x80 | (code & 0x3F))};
    }
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet instance;
  return instance;
}

}  // namespace

const std::string& byte_level_char(uint8_t byte) { return alphabet().chars[byte]; }

std::optional<std::string> byte_level_to_bytes(const std::string& token) {
  const auto& map = alphabet().code_to_byte;
  std::string bytes;
  bytes.reserve(token.size());
  for (size_t i = 0; i < token.size();) {
    auto c = static_cast<unsigned char>(token[i]);
    uint32_t code;
    if (c < 0x80) {
      code = c;
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < token.size()) {
      code = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(token[i + 1]) & 0x3Fu);
      i += 2;
    } else {
      return std::nullopt;  // three- and four-byte characters are never stand-ins
    }
    auto it = map.find(code);
    if (it == map.end()) return std::nullopt;
    bytes.push_back(static_cast<char>(it->second));
  }
  return bytes;
}

// ---- merge ranks: open addressing keyed by the packed id pair -------------

class ByteLevelBpe::MergeTable {
 public:
  struct Value {
    uint32_t rank;
    int32_t merged;
  };
  explicit MergeTable(size_t count) {
    size_t capacity = 16;
    while (capacity < count * 2) capacity <<= 1;
    mask_ = capacity - 1;
    slots_.assign(capacity, Slot{kEmpty, {0, 0}});
  }
  void insert(int32_t left, int32_t right, Value value) {
    uint64_t key = pack(left, right);
    size_t i = slot_of(key);
    while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask_;
    slots_[i] = {key, value};  // a repeated pair keeps the later rank, as HF's HashMap does
  }
  const Value* find(int32_t left, int32_t right) const {
    uint64_t key = pack(left, right);
    for (size_t i = slot_of(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key;
    Value value;
  };
  static uint64_t pack(int32_t l, int32_t r) {
    return (uint64_t{static_cast<uint32_t>(l)} << 32) | static_cast<uint32_t>(r);
  }
  size_t slot_of(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull >> 20) & mask_; }
  std::vector<Slot> slots_;
  size_t mask_;
};

// ---- per-thread cache of pre-token -> ids ---------------------------------

// English text repeats a few thousand words; caching their ids skips the
// merge loop for most pre-tokens. Keys and ids live in two arenas so that a
// lookup allocates nothing.
class ByteLevelBpe::WordCache {
 public:
  WordCache() { reset(1024); }
  // Appends the cached ids of `word` to out; false when absent.
  bool lookup(std::string_view word, size_t hash, std::vector<int32_t>& out) const {
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Entry& e = table_[i];
      if (e.key_len == kFree) return false;
      if (e.hash == hash && std::string_view(keys_.data() + e.key_off, e.key_len) == word) {
        out.insert(out.end(), ids_.begin() + e.ids_off, ids_.begin() + e.ids_off + e.ids_len);
        return true;
      }
    }
  }
  void insert(std::string_view word, size_t hash, const int32_t* ids, size_t count) {
    if (word.size() > kMaxWord) return;  // one-off giants (long runs) would only bloat it
    if (entries_ >= kMaxEntries) reset(1024);
    if ((entries_ + 1) * 2 > table_.size()) grow();
    Entry e{hash, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(word.size()),
            static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(count)};
    keys_.append(word);
    ids_.insert(ids_.end(), ids, ids + count);
    place(e);
    ++entries_;
  }

 private:
  static constexpr uint32_t kFree = ~uint32_t{0};
  static constexpr size_t kMaxWord = 256, kMaxEntries = 1 << 18;
  struct Entry {
    size_t hash;
    uint32_t key_off, key_len, ids_off, ids_len;
  };
  void reset(size_t capacity) {
    table_.assign(capacity, Entry{0, 0, kFree, 0, 0});
    mask_ = capacity - 1;
    keys_.clear();
    ids_.clear();
    entries_ = 0;
  }
  void place(const Entry& e) {
    size_t i = e.hash & mask_;
    while (table_[i].key_len != kFree) i = (i + 1) & mask_;
    table_[i] = e;
  }
  void grow() {
    std::vector<Entry> old;
    old.swap(table_);
    table_.assign(old.size() * 2, Entry{0, 0, kFree, 0, 0});
    mask_ = table_.size() - 1;
    for (const Entry& e : old)
      if (e.key_len != kFree) place(e);
  }
  std::vector<Entry> table_;
  size_t mask_ = 0, entries_ = 0;
  std::string keys_;
  std::vector<int32_t> ids_;
};

namespace {
std::atomic<uint64_t> next_serial{1};
}

ByteLevelBpe::WordCache& ByteLevelBpe::cache() const {
  // Thread-local, so that concurrent encode() calls need no lock. Keyed by
  // a serial rather than `this`, which a later tokenizer could reuse.
  thread_local std::unordered_map<uint64_t, std::unique_ptr<WordCache>> caches;
  auto it = caches.find(serial_);
  if (it != caches.end()) return *it->second;
  if (caches.size() >= 8) caches.clear();  // caches of tokenizers long gone
  return *caches.emplace(serial_, std::make_unique<WordCache>()).first->second;
}

// ---- construction ----------------------------------------------------------

ByteLevelBpe::ByteLevelBpe(BpeSpec spec)
    : source_(std::move(spec.source)), ignore_merges_(spec.ignore_merges), normalizer_(std::move(spec.normalizer)),
      pre_tokenizer_(std::move(spec.pre_tokenizer)), serial_(next_serial++) {
  HMT_CHECK(pre_tokenizer_ && pre_tokenizer_->is_byte_level(),
            "{}: unsupported tokenizer: only byte-level BPE (a ByteLevel pre-tokenizer) is "
            "supported from tokenizer.json; load a SentencePiece .model for other BPE models",
            source_);
  int32_t max_id = -1;
  for (const auto& [token, id] : spec.vocab) max_id = std::max(max_id, id);
  for (const auto& token : spec.added_tokens) max_id = std::max(max_id, token.id);
  HMT_CHECK(max_id >= 0, "{}: the vocabulary is empty", source_);
  vocab_size_ = max_id + 1;
  id_to_bytes_.resize(vocab_size_);

  for (const auto& [token, id] : spec.vocab) {
    HMT_CHECK(id >= 0, "{}: token '{}' has negative id {}", source_, token, id);
    spelling_to_id_.emplace(token, id);
    if (auto bytes = byte_level_to_bytes(token)) {
      id_to_bytes_[id] = *bytes;
      bytes_to_id_.emplace(*bytes, id);
    } else {
      id_to_bytes_[id] = token;  // HF's ByteLevel decoder keeps such tokens verbatim
    }
  }
  for (int b = 0; b < 256; ++b) {
    auto it = bytes_to_id_.find(std::string(1, static_cast<char>(b)));
    int32_t id = it != bytes_to_id_.end() ? it->second : -1;
    if (id < 0 && spec.byte_fallback) {
      auto fb = spelling_to_id_.find(fmt::format("<0x{:02X}>", b));
      if (fb != spelling_to_id_.end()) id = fb->second;
    }
    if (id < 0 && spec.unk_token) {
      auto unk = spelling_to_id_.find(*spec.unk_token);
      if (unk != spelling_to_id_.end()) id = unk->second;
    }
    byte_to_id_[b] = id;  // -1: HF drops such bytes (no unk token to stand in)
  }

  merges_ = std::make_unique<MergeTable>(spec.merges.size());
  auto id_of = [&](const std::string& spelling, size_t rank) {
    auto it = spelling_to_id_.find(spelling);
    HMT_CHECK(it != spelling_to_id_.end(), "{}: merge {} references token '{}' which is not in the vocabulary", source_,
              rank + 1, spelling);
    return it->second;
  };
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const auto& [left, right] = spec.merges[rank];
    int32_t l = id_of(left, rank), r = id_of(right, rank), m = id_of(left + right, rank);
    merges_->insert(l, r, {static_cast<uint32_t>(rank), m});
  }

  std::vector<AddedToken> raw, normalized;
  for (AddedToken& token : spec.added_tokens) {
    // HF gives a token already in the vocabulary the vocabulary's id.
    if (auto it = spelling_to_id_.find(token.content); it != spelling_to_id_.end()) token.id = it->second;
    HMT_CHECK(token.id >= 0, "{}: added token '{}' has negative id", source_, token.content);
    // Decoded as written. (HF runs added tokens through the ByteLevel
    // decoder too, which garbles non-ASCII ones: "héllo" -> "h\uFFFDllo".)
    id_to_bytes_[token.id] = token.content;
    spelling_to_id_[token.content] = token.id;
    if (token.normalized && !normalizer_.empty()) {
      std::string storage;
      token.content = std::string(normalizer_.apply(token.content, storage));
      normalized.push_back(std::move(token));
    } else {
      raw.push_back(std::move(token));
    }
  }
  raw_added_ = AddedTokenMatcher(std::move(raw));
  normalized_added_ = AddedTokenMatcher(std::move(normalized));
}

ByteLevelBpe::~ByteLevelBpe() = default;

std::optional<int32_t> ByteLevelBpe::token_to_id(const std::string& token) const {
  auto it = spelling_to_id_.find(token);
  if (it == spelling_to_id_.end()) return std::nullopt;
  return it->second;
}

void ByteLevelBpe::set_special_ids(std::optional<int32_t> bos, std::optional<int32_t> eos, std::optional<int32_t> pad) {
  bos_id_ = bos;
  eos_id_ = eos;
  pad_id_ = pad;
}

void ByteLevelBpe::set_origin(std::string path, std::string fingerprint) {
  path_ = std::move(path);
  fingerprint_ = std::move(fingerprint);
}

// ---- encoding --------------------------------------------------------------

namespace {

struct Symbol {
  int32_t id, prev, next;
};
struct Candidate {
  uint32_t rank, pos;
  int32_t left, right;
  // std heap is a max-heap: "greater" pops the lowest rank, then leftmost.
  bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

void ByteLevelBpe::encode_word(std::string_view word, WordCache& words, std::vector<int32_t>& out) const {
  size_t hash = std::hash<std::string_view>{}(word);
  if (words.lookup(word, hash, out)) return;
  size_t first = out.size();

  if (ignore_merges_) {
    auto it = bytes_to_id_.find(std::string(word));
    if (it != bytes_to_id_.end()) {
      out.push_back(it->second);
      words.insert(word, hash, out.data() + first, 1);
      return;
    }
  }
  // Linked list of symbols + heap of candidate merges: O(n log n) even for
  // a megabyte without spaces. Scratch space is reused across calls.
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap;
  symbols.clear();
  heap.clear();
  for (char c : word) {
    int32_t id = byte_to_id_[static_cast<unsigned char>(c)];
    if (id < 0) continue;
    int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, index + 1});
  }
  if (!symbols.empty()) symbols.back().next = -1;
  auto consider = [&](int32_t pos) {
    int32_t next = symbols[pos].next;
    if (next < 0) return;
    if (const MergeTable::Value* m = merges_->find(symbols[pos].id, symbols[next].id)) {
      heap.push_back({m->rank, static_cast<uint32_t>(pos), symbols[pos].id, symbols[next].id});
      std::push_heap(heap.begin(), heap.end());
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    Candidate c = heap.back();
    heap.pop_back();
    Symbol& left = symbols[c.pos];
    // Stale when either side has been merged away since it was pushed.
    if (left.id != c.left || left.next < 0 || symbols[left.next].id != c.right) continue;
    Symbol& right = symbols[left.next];
    left.id = merges_->find(c.left, c.right)->merged;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = static_cast<int32_t>(c.pos);
    right.id = -1;
    if (left.prev >= 0) consider(left.prev);
    consider(static_cast<int32_t>(c.pos));
  }
  for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
  words.insert(word, hash, out.data() + first, out.size() - first);
}

void ByteLevelBpe::encode_normalized(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  thread_local Pieces in, pieces;
  in.clear();
  pieces.clear();
  in.views.push_back(text);
  pre_tokenizer_->split(in, pieces);
  WordCache& words = cache();
  for (std::string_view piece : pieces.views) encode_word(piece, words, out);
}

std::vector<int32_t> ByteLevelBpe::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3);
  // HF order: tokens with normalized=false are found in the raw text; the
  // rest is normalized, then tokens with normalized=true are found in it.
  raw_added_.split(
      text,
      [&](std::string_view stretch) {
        std::string storage;
        std::string_view normalized = normalizer_.apply(stretch, storage);
        normalized_added_.split(
            normalized, [&](std::string_view part) { encode_normalized(part, ids); },
            [&](int32_t id) { ids.push_back(id); });
      },
      [&](int32_t id) { ids.push_back(id); });
  return ids;
}

std::string ByteLevelBpe::decode(const std::vector<int32_t>& ids) const {
  // Bytes are returned exactly (HF would turn invalid UTF-8 into U+FFFD), so
  // that decode(encode(x)) == x holds for any input bytes.
  std::string text;
  for (int32_t id : ids) {
    HMT_CHECK(id >= 0 && id < vocab_size_, "{}: token id {} is outside the vocabulary (size {})", source_, id,
              vocab_size_);
    text += id_to_bytes_[id];
  }
  return text;
}

}  // namespace hmt
