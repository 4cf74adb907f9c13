#!/usr/bin/env bash
# Runs tests/e2e/openai_client.mjs with a Node >= 20 and the pinned openai npm package.
# Usage: openai_check.sh QASR DATA_DIR WORK_DIR SOURCE_DIR BUILD_DIR
set -euo pipefail
QASR=$1 DATA=$2 WORK=$3 SRC=$4 BUILD=$5
# shellcheck source=tests/e2e/node_env.sh
source "$SRC/tests/e2e/node_env.sh"
exec node "$SRC/tests/e2e/openai_client.mjs" "$QASR" "$DATA" "$WORK" "$mods"
