#!/usr/bin/env bash
# The portable sampler (sysinfo) against the /proc sampler on the same real
# suites: the Rust and Python fast suites (not their canaries) at the ci
# profile, once with each sampler, one suite at a time. Prints each suite's
# sampled peak RSS of its process tree under both and their ratio; the exact
# peak (VmHWM / the suite's own report) is left out on purpose: it does not
# come from the sampler. Reproduce: scripts/compare-samplers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=.memtest/bench
mkdir -p "$out"
cargo build --release -q -p runner
memtest=target/release/memtest
sel=(run --tag fast --exclude-tag canary --runtime rust --runtime python --profile ci --jobs 1)
"$memtest" "${sel[@]}" >/dev/null   # build + warm caches
for kind in proc portable; do
  "$memtest" "${sel[@]}" --no-build --sampler "$kind" --json "$out/sampler-$kind.json" >/dev/null
done
python3 - "$out/sampler-proc.json" "$out/sampler-portable.json" <<'EOF'
import json, sys
proc, port = ({s["name"]: s for s in json.load(open(p))["suites"]} for p in sys.argv[1:])
print("| suite | /proc sampled peak | portable sampled peak | portable / proc |")
print("| --- | --- | --- | --- |")
worst = 0.0
for name, a in proc.items():
    x = a["figures"]["peak_rss_sampled_bytes"]; y = port[name]["figures"]["peak_rss_sampled_bytes"]
    worst = max(worst, abs(y / x - 1))
    print(f"| {name} | {x/1e6:.1f} MB | {y/1e6:.1f} MB | {y/x:.3f} |")
print(f"\nlargest difference: {worst*100:.1f}%")
EOF
