#!/usr/bin/env bash
# Sourced by the Node tests: puts a Node >= 20 on PATH (scripts/setup_node.sh) and installs the
# pinned openai npm package into BUILD/npm once (flock: the tests run in parallel under ctest -j).
# Needs SRC and BUILD; sets mods (the node_modules folder).
PATH="$(bash "$SRC/scripts/setup_node.sh"):$PATH"
mods=$BUILD/npm/node_modules
exec 9> "$BUILD/npm.lock"
flock 9
if [ "$(node -p "try{require('$mods/openai/package.json').version}catch(e){''}" 2>/dev/null)" != "6.49.0" ]; then
  mkdir -p "$BUILD/npm"
  npm install --prefix "$BUILD/npm" --no-audit --no-fund --loglevel=error openai@6.49.0
fi
flock -u 9
