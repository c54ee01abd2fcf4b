// A C interface to libsentencepiece, built as its own shared library and
// dlopen()ed with RTLD_DEEPBIND by data/sentencepiece_tokenizer.cpp.
// Why: Debian's libsentencepiece.so.0 bundles and exports its own
// protobuf-lite; linked into the process next to LibTorch's libprotobuf.so.32
// the two collide and the process crashes during static initialisation.
// Loaded late and deep-bound, sentencepiece resolves protobuf to its own copy.
//
// Results are returned in thread-local buffers that stay valid until the
// next call on the same thread; errors return NULL / -1 and leave their text
// for hmt_sp_last_error().
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdint>
#include <string>
#include <vector>

// Exported by libsentencepiece but not declared in its public headers.
namespace sentencepiece::logging {
void SetMinLogLevel(int level);
}

namespace {
// Deep binding has one cost: the library binds std::cerr to libstdc++'s own,
// never-constructed copy, not to the executable's (copy relocation), so any
// log line sentencepiece writes would crash. Silence its logging entirely;
// errors still come back through util::Status.
const int kQuiet = (sentencepiece::logging::SetMinLogLevel(100), 0);

thread_local std::string last_error;
thread_local std::vector<int32_t> ids_buffer;
thread_local std::string text_buffer;

sentencepiece::SentencePieceProcessor* as_sp(void* p) { return static_cast<sentencepiece::SentencePieceProcessor*>(p); }
bool ok(const sentencepiece::util::Status& status) {
  if (status.ok()) return true;
  last_error = status.ToString();
  return false;
}
}  // namespace

extern "C" {

const char* hmt_sp_last_error() { return last_error.c_str(); }

void* hmt_sp_load(const char* path) {
  auto* sp = new sentencepiece::SentencePieceProcessor();
  if (!ok(sp->Load(path))) {
    delete sp;
    return nullptr;
  }
  return sp;
}

void hmt_sp_free(void* sp) { delete as_sp(sp); }

const int32_t* hmt_sp_encode(void* sp, const char* text, size_t size, size_t* count) {
  std::vector<int> ids;
  if (!ok(as_sp(sp)->Encode(std::string(text, size), &ids))) return nullptr;
  ids_buffer.assign(ids.begin(), ids.end());
  *count = ids_buffer.size();
  return ids_buffer.data();
}

const char* hmt_sp_decode(void* sp, const int32_t* ids, size_t count, size_t* size) {
  std::vector<int> input(ids, ids + count);
  if (!ok(as_sp(sp)->Decode(input, &text_buffer))) return nullptr;
  *size = text_buffer.size();
  return text_buffer.data();
}

int32_t hmt_sp_piece_size(void* sp) { return as_sp(sp)->GetPieceSize(); }
int32_t hmt_sp_bos_id(void* sp) { return as_sp(sp)->bos_id(); }
int32_t hmt_sp_eos_id(void* sp) { return as_sp(sp)->eos_id(); }
int32_t hmt_sp_pad_id(void* sp) { return as_sp(sp)->pad_id(); }
int32_t hmt_sp_unk_id(void* sp) { return as_sp(sp)->unk_id(); }

const char* hmt_sp_id_to_piece(void* sp, int32_t id, size_t* size) {
  text_buffer = as_sp(sp)->IdToPiece(id);
  *size = text_buffer.size();
  return text_buffer.data();
}

int hmt_sp_train(const char* args) { return ok(sentencepiece::SentencePieceTrainer::Train(args)) ? 0 : -1; }

}  // extern "C"
