#!/usr/bin/env bash
# Configures and builds RAZAR into ./build (Release-with-debug-info, -j2).
# Usage: scripts/build.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${RAZAR_JOBS:-2}"
cmake -S . -B build -DCMAKE_BUILD_TYPE="${RAZAR_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build build -j "$JOBS"
