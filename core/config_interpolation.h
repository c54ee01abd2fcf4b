#pragma once
// ${a.b} references and ${env:NAME,default} lookups, resolved in place once
// the tree is composed and overridden.
#include "core/config_tree.h"

namespace hmt {

// A value that is exactly "${a.b}" becomes a copy of node a.b (keeping its
// type: int, list, mapping); "${...}" inside longer text is replaced by the
// referenced scalar's text and the result is a string. "\${" is a literal
// "${". Errors name the key holding the reference, its origin and the
// reference; cycles list the chain of keys.
void resolve_interpolations(ConfigNode& root);

}  // namespace hmt
