#pragma once
// Perplexity over long documents (docs/hmt.md section 9), in any of the three
// modes of MemoryMode, under eval mode and without gradients.
//
// PPL at context X: a scored segment of L tokens starting at stream offset p
// is run as the window [p - X, p + L) segment by segment (so the model has
// exactly X tokens of history, read through its memory), and only the last
// L tokens are scored. The protocol takes windows with stride L over the
// whole test stream; we score `windows` of those segments, spread evenly
// over the stream after the largest X (or `score_after`), and the SAME
// segments at every X and in every mode, so
// the figures differ only by the history the model was given. X is rounded
// up to a multiple of L (at least L) so that the scored tokens are exactly
// the last segment. In backbone mode a segment sees only itself and the
// previous segment's last logit row, so every X gives the same figure and
// the windows are run as [p - L, p + L) (exactly the same numbers, cheaper).
// In full mode the backbone reads the window [p - X, p + L) as ONE attention
// window, so the segment's tokens see all X tokens of history directly: the
// reference for what the backbone can draw from that history, meaningful up
// to the window it was trained on (X + L must fit max_position_embeddings).
//
// Whole documents: each document (or its first max_tokens) is run alone,
// segment by segment, every token but its first scored. Memory stays flat in
// the document's length: without gradients each segment's activations die
// with it; what grows is the id layout (a few bytes a token) and the recall
// cache holds at most N memory embeddings.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/store/transforms.h"
#include "eval/recall_histogram.h"
#include "data/store/token_stream.h"
#include "model/hmt_model.h"
#include "model/segment_runner.h"

namespace hmt {

// Progress lines ("context 4096: 12/32 windows ...") for long evaluations.
using EvalProgress = std::function<void(const std::string&)>;

struct ContextEvalOptions {
  std::vector<int64_t> contexts;  // X in tokens, before rounding
  int64_t windows = 32;           // scored segments (the same at every X)
  int64_t batch = 4;              // windows per forward
  MemoryMode mode = MemoryMode::Hmt;
  // The scored segments start this many tokens into the stream (rounded up
  // to a multiple of L) when that is past the largest context: so an
  // evaluation at fewer contexts scores the segments another one did.
  int64_t score_after = 0;
};

struct ContextPerplexity {
  int64_t context = 0;  // X after rounding
  int64_t windows = 0;
  int64_t tokens = 0;  // scored tokens (windows x L)
  double nll_sum = 0;
  double ppl = 0;             // exp(nll_sum / tokens): the spec's figure
  double ppl_batch_mean = 0;  // mean over batches of exp(batch's mean NLL): the official code's figure
  double seconds = 0;
  int64_t input_tokens = 0;      // window tokens read (backbone mode: its shortened windows)
  int64_t processed_tokens = 0;  // through the backbone (memory slots, sensory, summaries included)
};

// X rounded up to a multiple of L, at least L; errors on X < 0.
std::vector<int64_t> rounded_contexts(const std::vector<int64_t>& contexts, int64_t segment_length);

// Stream offsets of the scored segments: multiples of L from max_context on,
// each with L tokens inside the stream; `windows` of them spread evenly (all
// when there are fewer). Errors when the stream is too short for one.
std::vector<int64_t> scored_segment_starts(int64_t stream_tokens, int64_t max_context, int64_t segment_length,
                                           int64_t windows);

// One entry per context, in the order given. `histogram` (may be null)
// collects the recalls of the largest context's windows.
std::vector<ContextPerplexity> context_perplexity(HmtModel& model, const TokenStream& stream,
                                                  const ContextEvalOptions& options, RecallHistogram* histogram,
                                                  const EvalProgress& progress = {});

struct DocumentEvalOptions {
  int64_t max_documents = 0;  // 0 = all
  int64_t max_tokens = 0;     // per document: its first max_tokens; 0 = whole
  MemoryMode mode = MemoryMode::Hmt;
};

struct DocumentPerplexity {
  int64_t documents = 0;
  int64_t tokens = 0;        // scored tokens
  int64_t longest = 0;       // tokens of the longest document run
  int64_t input_tokens = 0;  // document tokens read
  double nll_sum = 0;
  double ppl = 0;
  double seconds = 0;
  int64_t processed_tokens = 0;
};

DocumentPerplexity document_perplexity(HmtModel& model, const DocumentView& documents,
                                       const DocumentEvalOptions& options, RecallHistogram* histogram,
                                       const EvalProgress& progress = {});

}  // namespace hmt
