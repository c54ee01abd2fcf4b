#pragma once
// Wikitext-103 (and -2): `wiki.{train,valid,test}.tokens` or `.raw`. An
// article starts at a top-level heading line ` = Title = ` (one `=` on each
// side; ` = = Section = = ` lines stay inside the article) and runs to the
// next one; each article is one document, its lines kept byte for byte.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/sources/source_plan.h"

namespace hmt {

// `source`: a folder holding the split files (for each split `.tokens` is
// used when both it and `.raw` are there), or one split file, whose split
// comes from its name (wiki.valid.* -> validation) or from a single
// data.splits entry. Missing split files are errors naming them.
std::vector<SplitPlan> plan_wikitext(const std::string& source, const std::vector<std::string>& splits);

// The title when `line` (without its newline) is a top-level heading.
std::optional<std::string> wikitext_title(std::string_view line);

// Streams the articles of one file in order. Text before the first heading
// is a document of its own only when it is not blank.
void read_wikitext(const std::string& path, const UnitSink& sink);

}  // namespace hmt
