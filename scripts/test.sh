#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every unit test
# in the default build (RelWithDebInfo: NDEBUG, RAZAR_CHECK on). With
# RAZAR_WITH_ASAN=1 it then builds and runs them again under
# AddressSanitizer + UBSan (a sanitizer report fails the run); that half is
# not yet in CI (see README). ThreadSanitizer is a separate, longer command:
# scripts/sanitize.sh tsan (see README). Long runs (soak, long fuzz, full
# benchmarks) are separate too.
# Arguments are passed to both ctest runs (e.g. -R Config).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j "${RAZAR_JOBS:-2}" --timeout 600 "$@")
if [ "${RAZAR_WITH_ASAN:-0}" = 1 ]; then
  echo "== the same suite under ASan + UBSan (build-asan/)"
  scripts/sanitize.sh asan-ubsan "$@"
fi
