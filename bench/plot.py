#!/usr/bin/env python3
"""Draws the replay scaling curve from Google Benchmark JSON (bench/replay_bench.cc).

    python3 bench/plot.py RESULTS.json [MORE.json ...] [--out docs/img/replay_scaling.png]

Plots records/s of BM_ReplayParallel against its thread count, with the
references of the same run as horizontal lines: the sequential reference
replayer, the scan+XXH3 physical limit (converted to records/s with the
replay's own bytes per record) and half of it (the target), and Redis AOF
replay (0.6 M entries/s, measured on this machine class by the issue and
quoted, not re-measured in this run) with 30x of it (the target). Needs
python3-matplotlib (scripts/install-deps.sh). Exit 2 if the results hold no
replay benchmarks.
"""
import argparse
import json
import re
import sys

REDIS_AOF_RECORDS_PER_S = 0.6e6  # quoted by issue 4; not measured in this run


def rows_of(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            data = json.load(f)
        for b in data.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration" or "error_occurred" in b:
                continue
            rows.append(b)
    return rows


def rate(b, key):
    v = b.get(key)
    return float(v) if v is not None else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+")
    ap.add_argument("--out", default="docs/img/replay_scaling.png")
    args = ap.parse_args()
    rows = rows_of(args.results)
    par = {}
    seq = scan_hash = None
    for b in rows:
        name = b["name"]
        m = re.match(r"BM_ReplayParallel/threads:(\d+)", name)
        if m:
            par[int(m.group(1))] = b
        elif name.startswith("BM_ReplaySequential"):
            seq = b
        elif name.startswith("BM_ReplayScanHash"):
            scan_hash = b
    if not par:
        print("plot.py: no BM_ReplayParallel results in " + " ".join(args.results), file=sys.stderr)
        return 2
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    threads = sorted(par)
    rec = [rate(par[t], "records_per_s") / 1e6 for t in threads]
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    ax.plot(threads, rec, "o-", color="tab:blue", linewidth=2, label="parallel replay")
    for t, r in zip(threads, rec):
        ax.annotate(f"{r:.2f}M", (t, r), textcoords="offset points", xytext=(6, -12))
    if seq is not None:
        ax.axhline(rate(seq, "records_per_s") / 1e6, color="tab:gray", linestyle=":",
                   label="sequential reference")
    if scan_hash is not None:
        # The limit in records/s: scan+hash bytes/s over the replay's bytes per record.
        b = par[threads[-1]]
        bytes_per_record = rate(b, "MB_per_s") * 1e6 / rate(b, "records_per_s")
        limit = rate(scan_hash, "MB_per_s") * 1e6 / bytes_per_record / 1e6
        ax.axhline(limit, color="tab:red", linestyle="-", label=f"scan+XXH3 limit ({limit:.0f}M)")
        ax.axhline(limit / 2, color="tab:red", linestyle="--", label="target: 50% of the limit")
    ax.axhline(REDIS_AOF_RECORDS_PER_S / 1e6, color="tab:green", linestyle="-",
               label="Redis AOF replay, 0.6M (quoted)")
    ax.axhline(30 * REDIS_AOF_RECORDS_PER_S / 1e6, color="tab:green", linestyle="--",
               label="target: 30x Redis AOF")
    ax.set_yscale("log")
    ax.set_xticks(threads)
    ax.set_xlabel("replay threads")
    ax.set_ylabel("million records / s (log scale)")
    ax.set_title("Replay of the benchmark log (no snapshot), same run as its limits")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"plot.py: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
