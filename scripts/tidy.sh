#!/usr/bin/env bash
# clang-tidy (clang-14) over src/ and tools/ with the checks .clang-tidy declares; any
# warning fails. Needs a build tree with compile_commands.json (default: build/).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
JOBS=${JOBS:-$(nproc)}
log=$BUILD/clang-tidy.log
run-clang-tidy-14 -p "$BUILD" -j "$JOBS" -quiet "$PWD/(src|tools)/.*\.cc" > "$log" 2>&1 || true
warnings=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E "^/.*: (warning|error):" | sort -u || true)
if [ -n "$warnings" ]; then
  echo "$warnings"
  echo "clang-tidy: $(echo "$warnings" | wc -l) warning(s); full log: $log"
  exit 1
fi
echo "clang-tidy: no warnings ($(grep -c '^clang-tidy' "$log" 2>/dev/null || echo 0) invocations logged)"
