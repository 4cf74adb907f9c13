#!/usr/bin/env bash
# Runs tests/e2e/haproxy_check.mjs (replicas behind HAProxy) with a Node >= 20 and the pinned
# openai npm package.
# Usage: haproxy_check.sh pools|affinity QASR DATA_DIR WORK_DIR SOURCE_DIR BUILD_DIR
set -euo pipefail
LAYOUT=$1 QASR=$2 DATA=$3 WORK=$4 SRC=$5 BUILD=$6
# shellcheck source=tests/e2e/node_env.sh
source "$SRC/tests/e2e/node_env.sh"
exec node "$SRC/tests/e2e/haproxy_check.mjs" "$LAYOUT" "$QASR" "$DATA" "$WORK" "$mods" "$SRC"
