#!/usr/bin/env bash
# Benchmark of the whole: wall time and memory of the fast tier, of each
# runtime's fast suites, and (with `all`) of `memtest all` at seed scale.
# Reproduce: scripts/bench-tiers.sh [all]   (builds once, then times with --no-build)
# Prints one row per run: suites, wall time of the run (memtest's own clock and
# /usr/bin/time's), the largest suite peak RSS (exact VmHWM where known), the
# sum of suite durations, the largest ru_maxrss over memtest and every process
# it reaped (/usr/bin/time %M), and the machine's peak memory in use during the
# run (MemTotal - MemAvailable every 100 ms, less what was in use before).
# `all` at scale 1 takes 10-40 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.memtest/bench
mkdir -p "$out"
cargo build --release -q -p runner
memtest=target/release/memtest
"$memtest" run --tag fast --profile ci >/dev/null   # build + warm caches

used_kb() { awk '/^MemTotal:/{t=$2} /^MemAvailable:/{a=$2} END{print t-a}' /proc/meminfo; }

row() { # name, memtest args...
  local name=$1; shift
  local before; before=$(used_kb)
  echo "$before" > "$out/$name.mem"
  ( peak=$before; while :; do u=$(used_kb); if [ "$u" -gt "$peak" ]; then peak=$u; echo "$peak" > "$out/$name.mem"; fi; sleep 0.1; done ) &
  local watcher=$!
  /usr/bin/time -f '%e %M' -o "$out/$name.time" \
    "$memtest" "$@" --no-build --json "$out/$name.json" >/dev/null 2>&1 || true
  kill "$watcher" 2>/dev/null || true
  wait "$watcher" 2>/dev/null || true
  python3 - "$name" "$out/$name.json" "$out/$name.time" "$out/$name.mem" "$before" <<'EOF'
import json, sys
name, report, timing, mem, before_kb = sys.argv[1:]
r = json.load(open(report))
# The last line: /usr/bin/time puts "Command exited with non-zero status N"
# before it when a suite failed.
wall_s, max_kb = open(timing).read().strip().splitlines()[-1].split()
machine_mb = (int(open(mem).read()) - int(before_kb)) / 1000
suites = r["suites"]
peak = max(s["figures"]["peak_rss_bytes"] for s in suites)
busy = sum(s["duration_ms"] for s in suites) / 1000
wrong = sum(1 for s in suites if s["verdict"] not in ("passed", "canary_caught"))
print(f"| {name} | {len(suites)}{f' ({wrong} wrong)' if wrong else ''} | {r['duration_ms']/1000:.1f} s | {float(wall_s):.1f} s "
      f"| {peak/1e6:.1f} MB | {busy:.1f} s | {int(max_kb)/1000:.1f} MB | {machine_mb:.0f} MB |")
EOF
}

echo "| run | suites | memtest duration | wall (time) | largest suite peak RSS | sum of suite durations | largest RSS of any process (time) | machine memory in use, peak |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
row fast-tier-cores run --tag fast --profile ci
row fast-tier-j1 run --tag fast --profile ci --jobs 1
for rt in rust node python; do
  row "fast-$rt" run --tag fast --profile ci --runtime "$rt" --jobs 1
done
if [ "${1:-}" = all ]; then
  "$memtest" run --tag long --scale 0.001 >/dev/null 2>&1 || true   # builds what `all` needs
  row all-seed-scale all
fi
