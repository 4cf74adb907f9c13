#!/usr/bin/env bash
# Fails when a C++ file of the project differs from .clang-format (clang-format 14).
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cc' '*.h' '*.c' 2>/dev/null || find src tools tests bench examples -name '*.cc' -o -name '*.h' -o -name '*.c')
bad=0
for f in $files; do
  [ -f "$f" ] || continue
  if ! clang-format --dry-run -Werror "$f" > /dev/null 2>&1; then echo "not formatted: $f"; bad=$((bad + 1)); fi
done
echo "clang-format: $(echo "$files" | wc -w) files, $bad differ"
[ "$bad" -eq 0 ]
