#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every unit test.
# Long runs (soak, long fuzz, full benchmarks) are separate: see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
ctest --output-on-failure -j "${RAZAR_JOBS:-2}" --timeout 600 "$@"
