#pragma once
// Ranks agree before they train (docs/distributed.md): every rank's resolved
// experiment, without the keys that may differ per rank, must equal rank 0's,
// and so must the identity of the data file, or replicas would drift apart
// without a word (another lr, another seed) or fail in a raw MPI error
// (another model shape).
#include <string>

#include "core/experiment_config.h"
#include "trainer/dist/communicator.h"

namespace hmt::dist {

// "a.b.c: value" for every scalar of a YAML document, in document order.
std::string flatten_yaml(const std::string& text);

// The first line where `mine` and `root`'s text differ, as
// "KEY: rank 0 has A, rank R has B"; "" when they agree.
std::string first_difference(const std::string& root, const std::string& mine, int rank);

// Collective: throws hmt::Error on every rank when some rank's `text` differs
// from rank 0's, naming the first differing key and both values (of the
// lowest rank that differs). `text`: flatten_yaml of the config plus any
// "key: value" lines to compare.
void check_ranks_agree(Communicator& comm, const std::string& text);

}  // namespace hmt::dist
