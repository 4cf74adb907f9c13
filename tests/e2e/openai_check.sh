#!/usr/bin/env bash
# Runs tests/e2e/openai_client.mjs with a Node >= 20 (scripts/setup_node.sh) and the pinned
# openai npm package installed into the build tree.
# Usage: openai_check.sh QASR DATA_DIR WORK_DIR SOURCE_DIR BUILD_DIR
set -euo pipefail
QASR=$1 DATA=$2 WORK=$3 SRC=$4 BUILD=$5
PATH="$(bash "$SRC/scripts/setup_node.sh"):$PATH"
mods=$BUILD/npm/node_modules
# one install at a time (the haproxy checks install the same package under ctest -j)
exec 9> "$BUILD/npm.lock"
flock 9
if [ "$(node -p "try{require('$mods/openai/package.json').version}catch(e){''}" 2>/dev/null)" != "6.49.0" ]; then
  mkdir -p "$BUILD/npm"
  npm install --prefix "$BUILD/npm" --no-audit --no-fund --loglevel=error openai@6.49.0
fi
flock -u 9
exec node "$SRC/tests/e2e/openai_client.mjs" "$QASR" "$DATA" "$WORK" "$mods"
