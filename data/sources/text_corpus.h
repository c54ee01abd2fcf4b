#pragma once
// A plain corpus: a folder of .txt files (each file one document, named by
// its path under the folder), one .txt file, or a .jsonl file whose every
// non-blank line is a JSON object with the document in a string field
// (data.text_field, default "text"), named FILE:LINE.
#include <string>
#include <vector>

#include "data/sources/source_plan.h"

namespace hmt {

std::vector<SplitPlan> plan_text_corpus(const std::string& source, const std::vector<std::string>& splits,
                                        const std::vector<double>& fractions);

// Streams the units of plan.files that plan.contains(). JSONL errors name
// the file, line and column.
void read_text_corpus(const SplitPlan& plan, const std::string& text_field, const UnitSink& sink);

}  // namespace hmt
