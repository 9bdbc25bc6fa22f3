#!/usr/bin/env bash
# Builds and runs the unit suite under a sanitizer preset (CMakePresets.json):
#   scripts/sanitize.sh asan-ubsan   AddressSanitizer + UBSan, every suite
#                                    (part of scripts/test.sh, so of CI)
#   scripts/sanitize.sh tsan [REGEX] ThreadSanitizer; default: the threaded
#                                    suites (log writer, spine, replay,
#                                    supervisor, notify, HTTP, node). A long
#                                    run, not part of CI (see README).
# Extra arguments after the preset are passed to ctest. Any sanitizer report
# fails the test that produced it, and so the run.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:?usage: scripts/sanitize.sh asan-ubsan|tsan [ctest args...]}"
shift
case "$preset" in
  asan-ubsan|tsan) ;;
  *) echo "sanitize.sh: unknown preset '$preset' (asan-ubsan or tsan)" >&2; exit 2 ;;
esac
scripts/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
args=("$@")
if [ "$preset" = tsan ] && [ ${#args[@]} -eq 0 ]; then
  # The suites with threads of their own; the rest are single-threaded.
  args=(-R '^(LogWriter|LogFault|LogCrash|LogRoundtrip|Spine|Replay|BootTest|Notify|HttpServer|Node|Supervisor|Ladder)')
fi
ctest --preset "$preset" "${args[@]}"
