#!/usr/bin/env bash
# Corpus mode's benchmark (docs/benchmarks/corpus.md): the generated corpus
# of seed 1 streamed through each binding's corpus suite (rust-corpus,
# node-corpus, python-corpus; no canaries), at 1,000 and at 10,000 files,
# one suite at a time (--jobs 1), and the first 1,000 ten times over; then the real-world sample
# (scripts/real-images.sh) when pip can fetch it. Prints a markdown table:
# files per second and peak RSS per binding and size. Peak RSS that does not
# grow with the corpus shows the walk and the suites hold nothing per file.
#
# The 1,000-file corpus is the first folder of the 10,000-file one: file i
# depends only on the seed and i (core/fixtures/src/corpus.rs), so
# .memtest/corpus-10000-seed1/000 is exactly `corpus --count 1000 --seed 1`.
# Takes ~15 minutes on 2 cores (~25 on busy ones). MEMTEST_CORPUS_COUNT changes the large size.
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

# The first 1,000 files ten times over (hard links): 10,000 files with the
# 1,000-file corpus's heaviest images, so a peak above the 1,000-file run's
# would be memory held per file, not a heavier image.
repeat=.memtest/corpus-1000x10-seed1
if [ ! -d "$repeat" ]; then
  for i in 0 1 2 3 4 5 6 7 8 9; do
    mkdir -p "$repeat"
    cp -al "$big/000" "$repeat/r$i" 2>/dev/null || cp -a "$big/000" "$repeat/r$i"
  done
fi

runs=("1000:$big/000" "1000x10:$repeat" "$count:$big")
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
