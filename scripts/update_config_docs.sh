#!/usr/bin/env bash
# Replaces the key table of docs/configs.md with `hmt keys` (the schema's own
# description), so the docs follow the typed config structs.
# Usage: scripts/update_config_docs.sh [path/to/hmt]
set -euo pipefail
cd "$(dirname "$0")/.."
HMT=${1:-build/hmt}
[ -x "$HMT" ] || { echo "update_config_docs: $HMT is missing; run 'make build' first" >&2; exit 1; }
table=$("$HMT" keys)
TABLE="$table" python3 - docs/configs.md <<'PY'
import os, sys
path = sys.argv[1]
lines = open(path, encoding="utf-8").read().split("\n")
start = next(i for i, l in enumerate(lines) if l.startswith("| key | type |"))
end = start
while end < len(lines) and lines[end].startswith("|"):
    end += 1
lines[start:end] = os.environ["TABLE"].rstrip("\n").split("\n")
open(path, "w", encoding="utf-8").write("\n".join(lines))
PY
echo "docs/configs.md: key table regenerated"
