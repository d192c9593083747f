#!/usr/bin/env bash
# Benchmark of the whole: wall time and peak memory of the fast tier, and of
# each runtime's fast suites, through the runner at the `ci` profile.
# Reproduce: scripts/bench-tiers.sh   (builds once, then times with --no-build)
# Prints one row per run: suites, wall time of the run (memtest's own clock and
# /usr/bin/time's), the largest suite peak RSS (exact VmHWM where known), the
# sum of suite durations, and the largest ru_maxrss over memtest and every
# process it reaped (/usr/bin/time %M: the runner itself is smaller).
set -euo pipefail
cd "$(dirname "$0")/.."
out=.memtest/bench
mkdir -p "$out"
cargo build --release -q -p runner
memtest=target/release/memtest
"$memtest" run --tag fast --profile ci --jobs 2 >/dev/null   # build + warm caches

row() { # name, args...
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$out/$name.time" \
    "$memtest" run --no-build --profile ci "$@" --json "$out/$name.json" >/dev/null 2>&1
  python3 - "$name" "$out/$name.json" "$out/$name.time" <<'PY'
import json, sys
name, report, timing = sys.argv[1:]
r = json.load(open(report))
wall_s, max_kb = open(timing).read().split()
suites = r["suites"]
peak = max(s["figures"]["peak_rss_bytes"] for s in suites)
busy = sum(s["duration_ms"] for s in suites) / 1000
print(f"| {name} | {len(suites)} | {r['duration_ms']/1000:.1f} s | {float(wall_s):.1f} s "
      f"| {peak/1e6:.1f} MB | {busy:.1f} s | {int(max_kb)/1000:.1f} MB |")
PY
}

echo "| run | suites | memtest duration | wall (time) | largest suite peak RSS | sum of suite durations | largest RSS of any process (time) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
row fast-tier-j2 --tag fast --jobs 2
row fast-tier-j1 --tag fast --jobs 1
for rt in rust node python; do
  row "fast-$rt" --tag fast --runtime "$rt" --jobs 1
done
