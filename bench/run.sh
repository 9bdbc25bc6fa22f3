#!/usr/bin/env bash
# Runs the benchmark suite (bench/*_bench.cc -> razar_bench) and reports.
#
#   bench/run.sh           full run (about 8 minutes; a separate long command,
#                          not part of CI): the heartbeat-log suite and its
#                          baselines, 5 interleaved repetitions, JSON to
#                          bench/results/<date>.json; every other suite in
#                          razar_bench once, to bench/results/<date>-other.json;
#                          then regenerates docs/benchmarks.md with
#                          bench/report.py, and docs/img/replay_scaling.png
#                          with bench/plot.py
#   bench/run.sh --quick   smoke run of the log suite (under a minute, short
#                          min_time): JSON to bench/results/quick-<date>.json,
#                          report printed only, docs/benchmarks.md left alone
#
# Anything after `--` goes to razar_bench instead of the default selection
# (e.g. -- --benchmark_filter=BM_LogAppend).
# Environment:
#   RAZAR_BENCH_DIR        where benchmarks write (default /tmp/razar-bench);
#                          put it on the disk you want to measure
#   RAZAR_BENCH_BUILD_DIR  build tree (default build-bench, Release)
#   RAZAR_JOBS             build parallelism (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

build_dir="${RAZAR_BENCH_BUILD_DIR:-build-bench}"
jobs="${RAZAR_JOBS:-2}"
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DRAZAR_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build_dir" -j "$jobs" --target razar_bench

export RAZAR_BENCH_DIR="${RAZAR_BENCH_DIR:-/tmp/razar-bench}"
mkdir -p "$RAZAR_BENCH_DIR" bench/results
stamp="$(date -u +%Y-%m-%d-%H%M%S)"
bench="$build_dir/bench/razar_bench"
# The heartbeat-log suite and its baselines (bench/log_bench.cc,
# bench/baseline_bench.cc); report.py computes its ratios from this run.
log_filter='^BM_(Log|Disk|WriteLoop|RocksDb)'

if [ "$quick" -eq 1 ]; then
  out="bench/results/quick-$stamp.json"
  run_args=(--benchmark_min_time=0.03)
  limit_s=300
else
  # Five short repetitions of every benchmark, randomly interleaved across
  # the whole suite, so that a slow minute of the (virtual) disk or a busy
  # neighbour hits baselines and log benchmarks alike; report.py uses the
  # medians and shows the spread.
  out="bench/results/$stamp.json"
  run_args=(--benchmark_min_time=0.5 --benchmark_repetitions=5
            --benchmark_enable_random_interleaving=true)
  limit_s=1800
fi

# Runs razar_bench with a time limit: a hung writer must fail the run, not
# stall it forever.
run_bench() {
  local rc=0
  timeout --signal=TERM --kill-after=30 "$limit_s" "$bench" "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 124 ] && echo "run.sh: razar_bench ran past ${limit_s}s and was stopped (a hang?)" >&2
    echo "run.sh: razar_bench failed (exit $rc); docs/benchmarks.md not regenerated" >&2
    exit "$rc"
  fi
}

# Other work on the machine skews every figure; say so up front.
echo "run.sh: load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"

outs=("$out")
if [ ${#extra[@]} -gt 0 ]; then
  # The caller chose what to run.
  run_bench "${run_args[@]}" --benchmark_out="$out" --benchmark_out_format=json "${extra[@]}"
else
  run_bench "${run_args[@]}" --benchmark_filter="$log_filter" \
    --benchmark_out="$out" --benchmark_out_format=json
  # Every other suite in the binary runs once, with its own settings (they
  # fix their iteration counts); skipped in --quick.
  if [ "$quick" -eq 0 ] && [ -n "$("$bench" --benchmark_list_tests --benchmark_filter="-$log_filter")" ]; then
    other="bench/results/$stamp-other.json"
    run_bench --benchmark_filter="-$log_filter" --benchmark_out="$other" --benchmark_out_format=json
    outs+=("$other")
  fi
fi

if [ "$quick" -eq 1 ]; then
  python3 bench/report.py "${outs[@]}"
else
  python3 bench/report.py "${outs[@]}" --out docs/benchmarks.md
  # The replay scaling plot docs/benchmarks.md shows (when replay ran).
  if grep -q '"BM_ReplayParallel' "${outs[@]}"; then
    # matplotlib comes from Debian (python3-matplotlib): use its interpreter
    # even when another python3 comes first in PATH.
    "${RAZAR_PLOT_PYTHON:-/usr/bin/python3}" bench/plot.py "${outs[@]}" --out docs/img/replay_scaling.png
  fi
fi
echo "run.sh: results in ${outs[*]}"
