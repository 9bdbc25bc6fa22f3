#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs a heartbeat round
# trip — several producers append a realistic stream of records to a fresh
# log under logs/, the log is reopened and recovered, and both sides are
# compared and timed. Extra arguments go to `razar-beat roundtrip`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/tools/razar-beat roundtrip --dir logs/roundtrip --fresh "$@"
