#pragma once
// PG-19: ROOT/{train,validation,test}/<book_id>.txt and ROOT/metadata.csv
// (no header row; book_id, short_book_title, publication_date, url; quoted
// fields may hold commas). Each book is one document named by its id.
#include <map>
#include <string>
#include <vector>

#include "data/sources/source_plan.h"

namespace hmt {

// One plan per split folder (data.splits, default train, validation, test);
// a missing split folder or metadata.csv is an error naming it.
std::vector<SplitPlan> plan_pg19(const std::string& root, const std::vector<std::string>& splits);

// book_id -> short_book_title. Malformed rows (wrong column count, an
// unclosed quote, an empty id, a duplicate id) are errors naming the line.
std::map<std::string, std::string> read_pg19_metadata(const std::string& path);

// Streams the split's books in plan order (one file read at a time).
void read_pg19(const SplitPlan& plan, const std::map<std::string, std::string>& metadata, const UnitSink& sink);

}  // namespace hmt
