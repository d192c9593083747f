#!/usr/bin/env bash
# Corpus mode's benchmark (docs/benchmarks/corpus.md): the generated corpus
# of seed 1 streamed through each binding's corpus suite (rust-corpus,
# node-corpus, python-corpus; no canaries), at 1,000 and at 10,000 files,
# one suite at a time (--jobs 1); then the real-world sample
# (scripts/real-images.sh) when pip can fetch it. Prints a markdown table:
# files per second and peak RSS per binding and size. Peak RSS that does not
# grow with the corpus shows the walk and the suites hold nothing per file.
#
# The 1,000-file corpus is the first folder of the 10,000-file one: file i
# depends only on the seed and i (core/fixtures/src/corpus.rs), so
# .memtest/corpus-10000-seed1/000 is exactly `corpus --count 1000 --seed 1`.
# Takes ~10 minutes on 2 busy cores. MEMTEST_CORPUS_COUNT changes the large size.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${MEMTEST_CORPUS_COUNT:-10000}
big=.memtest/corpus-$count-seed1
out=.memtest/bench/corpus
mkdir -p "$out"
cargo build --release --quiet -p pyjamaz-fixtures
if [ ! -f "$big.done" ]; then
  rm -rf "$big"
  target/release/pyjamaz-fixtures corpus --count "$count" --seed 1 --out "$big" | tee "$big.done"
fi

runs=("1000:$big/000" "$count:$big")
if real=$(scripts/real-images.sh) && [ -d "$real" ]; then
  runs+=("real:$real")
fi
built=
for run in "${runs[@]}"; do
  label=${run%%:*}
  dir=${run#*:}
  echo "==> corpus $label ($dir)" >&2
  cargo run -p runner --quiet -- run --tag corpus --exclude-tag canary --jobs 1 $built \
    --corpus "$dir" --json "$out/corpus-$label.json" >&2
  built=--no-build
done

python3 - "$out" "${runs[@]}" <<'PY'
import json, os, sys
out, runs = sys.argv[1], [r.split(":", 1)[0] for r in sys.argv[2:]]
print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
print("| binding | corpus | files | ok | decode errors | leaks | crashes | files/s | duration | peak RSS |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for label in runs:
    report = json.load(open(f"{out}/corpus-{label}.json"))
    for s in sorted(report["suites"], key=lambda s: s["name"]):
        r = s["reported"]
        print(f"| {s['name']} | {label} | {r['corpus_files']:.0f} | {r['corpus_ok']:.0f} "
              f"| {r['corpus_decode_errors']:.0f} | {r['corpus_leaks']:.0f} | {r['corpus_crashes']:.0f} "
              f"| {r['corpus_files_per_s']:.1f} | {s['duration_ms'] / 1000:.0f} s "
              f"| {s['figures']['peak_rss_bytes'] / 1e6:.1f} MB |")
PY
