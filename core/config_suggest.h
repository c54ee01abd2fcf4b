#pragma once
// "Did you mean" for misspelt keys and group options.
#include <string>
#include <vector>

namespace hmt {

// Levenshtein distance (insertions, deletions, substitutions).
std::size_t edit_distance(const std::string& a, const std::string& b);

// The candidate nearest to `word`, or "" when none is close enough to be a
// plausible typo (distance at most max(2, |word| / 3)).
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or " (valid: a, b, c)": the tail of an error message.
std::string suggestion_suffix(const std::string& word, const std::vector<std::string>& candidates,
                              const std::string& valid_label);

}  // namespace hmt
