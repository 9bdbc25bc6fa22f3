#!/usr/bin/env bash
# The main job: installs what is missing, builds, then shows RAZAR end to end
# on the demo node of examples/boot_config.json (runtime files under
# logs/demo, its spine under logs/demo/logs/spine):
#   1. a heartbeat-log round trip (producers append, the log is recovered and
#      compared);
#   2. `razar check` prints the boot plan;
#   3. `razar boot --exit-after-boot`: stages in priority order, probes,
#      retries, `flaky` (no probe: it must outlive its 1 s start grace, and
#      dies after 0.3 s) quarantined and `reporter` blocked behind it (so
#      the node is degraded, exit 1, by design), components left running;
#      a second `razar boot` on the same base is refused while one runs;
#   4. a second `razar boot` adopts the running components instead of
#      relaunching them, serves /metrics, and on SIGTERM stops everything in
#      reverse order;
#   5. `razar-replay` reconstructs what happened from the spine.
# Any other failure stops the job with a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

bin=build/tools
base=logs/demo
config=examples/boot_config.json
port=18787

echo "== 1. heartbeat-log round trip"
"$bin/razar-beat" roundtrip --dir logs/roundtrip --fresh

echo "== 2. razar check $config"
"$bin/razar" check "$config"

# expect_rc WANT CMD...: runs CMD, fails the job unless it exits WANT.
expect_rc() {
  local want=$1 rc=0
  shift
  "$@" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "main.sh: '$*' exited $rc, expected $want" >&2
    exit 1
  fi
}

echo "== 3. razar boot (first boot; flaky is meant to end in quarantine)"
rm -rf "$base"
mkdir -p "$base"
expect_rc 1 "$bin/razar" boot "$config" --base "$base" --http-port 0 --exit-after-boot
expect_rc 1 "$bin/razar" status --base "$base"

echo "== 4. razar boot again: adopts what runs, serves metrics, stops on SIGTERM"
"$bin/razar" boot "$config" --base "$base" --http-port "$port" &
razar_pid=$!
sleep 1
echo "== 4b. a second razar boot on the same base is refused (one RAZAR per base)"
expect_rc 2 "$bin/razar" boot "$config" --base "$base" --http-port 0
python3 - "$port" "$base/logs/razar.log" <<'PY'
import json, sys, time, urllib.error, urllib.request
port, log = sys.argv[1], sys.argv[2]
deadline = time.time() + 60
while time.time() < deadline:
    with open(log) as f:
        if sum(1 for line in f if '"boot_finished"' in line) >= 2:
            break
    time.sleep(0.2)
else:
    sys.exit("main.sh: the second boot did not finish within 60 s")
with open(log) as f:
    adopted = [json.loads(l)["component"] for l in f if '"adopted"' in l]
print("adopted, not relaunched:", ", ".join(adopted))
body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
print("\n".join(l for l in body.splitlines() if l.startswith(("razar_component_up", "razar_quarantined"))))
try:
    urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
    sys.exit("main.sh: /health said ok on a degraded node")
except urllib.error.HTTPError as e:
    print("/health:", e.code, e.read().decode())
PY
kill -TERM "$razar_pid"
expect_rc 1 wait "$razar_pid"
"$bin/razar" status --base "$base" || true

echo "== 5. razar-replay: what the spine recorded"
"$bin/razar-replay" info --spine "$base/logs/spine"
"$bin/razar-replay" timeline --spine "$base/logs/spine"
"$bin/razar-replay" verify --spine "$base/logs/spine"
echo "main.sh: done"
