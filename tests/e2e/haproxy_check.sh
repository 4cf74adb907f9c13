#!/usr/bin/env bash
# Runs tests/e2e/haproxy_check.mjs (replicas behind HAProxy) with a Node >= 20
# (scripts/setup_node.sh) and the pinned openai npm package installed into the build tree.
# Usage: haproxy_check.sh pools|affinity QASR DATA_DIR WORK_DIR SOURCE_DIR BUILD_DIR
set -euo pipefail
LAYOUT=$1 QASR=$2 DATA=$3 WORK=$4 SRC=$5 BUILD=$6
PATH="$(bash "$SRC/scripts/setup_node.sh"):$PATH"
mods=$BUILD/npm/node_modules
# one install at a time (the two layouts run in parallel under ctest -j)
exec 9> "$BUILD/npm.lock"
flock 9
if [ "$(node -p "try{require('$mods/openai/package.json').version}catch(e){''}" 2>/dev/null)" != "6.49.0" ]; then
  mkdir -p "$BUILD/npm"
  npm install --prefix "$BUILD/npm" --no-audit --no-fund --loglevel=error openai@6.49.0
fi
flock -u 9
exec node "$SRC/tests/e2e/haproxy_check.mjs" "$LAYOUT" "$QASR" "$DATA" "$WORK" "$mods" "$SRC"
