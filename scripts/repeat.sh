#!/usr/bin/env bash
# Stability: runs one selection N times and says, per suite, how many runs
# went wrong (a suite that failed, or a canary that was missed) and the spread
# of each figure (peak RSS, RSS growth, slope, duration: min / median / max),
# so limits can be chosen from data and flaky suites found.
# Usage: scripts/repeat.sh N [memtest run arguments...]
#   scripts/repeat.sh 20 --tag fast --profile ci          # the fast tier, 20 times
# The first run builds, the others run with --no-build; reports go to
# .memtest/repeat/.
# MEMTEST_RUNNER_PROFILE=dev uses the debug runner (the test command does: it
# shares the test build's dependencies); release by default.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: scripts/repeat.sh N [memtest run arguments...]}
shift
out=.memtest/repeat
rm -rf "$out"; mkdir -p "$out"
profile=${MEMTEST_RUNNER_PROFILE:-release}
cargo build --profile "$profile" -q -p runner
memtest=target/$([ "$profile" = dev ] && echo debug || echo "$profile")/memtest
for i in $(seq 1 "$n"); do
  status=0
  # The first run builds (the library, variants, rust suites) and counts:
  # a build changes no suite's figures, only the run's wall time.
  build=(--no-build); [ "$i" = 1 ] && build=()
  "$memtest" run "$@" "${build[@]}" --json "$out/run-$i.json" >/dev/null 2>&1 || status=$?
  echo "run $i/$n: exit $status"
  if [ "$status" -ge 2 ]; then echo "memtest itself failed (exit $status)" >&2; exit "$status"; fi
done
python3 - "$out" "$n" <<'EOF'
import json, statistics, sys, pathlib
out, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
runs = [json.load(open(out / f"run-{i}.json")) for i in range(1, n + 1)]
by = {}
for r in runs:
    for s in r["suites"]:
        by.setdefault(s["name"], []).append(s)
def spread(xs, fmt):
    xs = sorted(xs)
    return f"{fmt(xs[0])} / {fmt(statistics.median(xs))} / {fmt(xs[-1])}"
mb = lambda v: f"{v/1e6:.1f}"
print(f"| suite | runs | went wrong | peak RSS MB | RSS growth MB | slope MB/s | duration s |")
print("| --- | --- | --- | --- | --- | --- | --- |")
wrong_total = 0
for name, ss in sorted(by.items()):
    # Anything but the expected verdicts is wrong: a failure, a missed
    # canary, or a suite that could not run at all.
    wrong = sum(s["verdict"] not in ("passed", "canary_caught") for s in ss)
    wrong_total += wrong
    f = [s["figures"] for s in ss]
    slopes = [x["slope_bytes_per_sec"] for x in f if x.get("slope_bytes_per_sec") is not None]
    print(f"| {name} | {len(ss)} | {wrong} | {spread([x['peak_rss_bytes'] for x in f], mb)} "
          f"| {spread([x['rss_growth_bytes'] for x in f], mb)} "
          f"| {spread(slopes, mb) if slopes else '-'} "
          f"| {spread([s['duration_ms']/1000 for s in ss], lambda v: f'{v:.1f}')} |")
print(f"\n{n} runs, {sum(len(v) for v in by.values())} suite runs, {wrong_total} went wrong "
      "(figures: min / median / max)")
sys.exit(1 if wrong_total else 0)
EOF
