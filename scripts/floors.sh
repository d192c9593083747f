#!/usr/bin/env bash
# The detection floor of every suite (`memtest floor`), of this repository and
# both examples, as the markdown table in the README: the smallest leak per
# call each suite caught, from the library's own heap (which its counter sees)
# and from plain malloc (which only RSS sees).
# Reproduce: scripts/floors.sh [PROFILE]   (default: ci; 20-40 minutes on 2 busy cores)
# The JSON of each search is kept in .memtest/floors/; the fast tier's search
# (library heap) is timed on its own, and the machine's load is printed
# before and after, since the floors of RSS criteria move with it.
set -uo pipefail
cd "$(dirname "$0")/.."
profile=${1:-ci}
out=.memtest/floors
mkdir -p "$out"
cargo build -q -p runner
memtest=target/debug/memtest
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "load before: $(load)" >&2
floor() { # name, memtest args...
  local name=$1; shift
  local start=$SECONDS
  "$memtest" --profile "$profile" "$@" --json "$out/$name.json" >"$out/$name.txt" 2>"$out/$name.log"
  echo "$name: exit $?, $((SECONDS - start)) s, load $(load)" >&2
}
# The suites of gc-verification have no canary on the leaky core (theirs
# keep results alive in the suite), so the leaky build is named.
floor pyjamaz-fast floor --tag fast --variant leaky
floor pyjamaz-rest floor --exclude-tag fast --variant leaky
floor pyjamaz-fast-c floor --tag fast --variant leaky --heap c
for ex in c-library zig-library; do
  floor "$ex" --config "examples/$ex/memtest.toml" floor
  floor "$ex-c" --config "examples/$ex/memtest.toml" floor --heap c
done
echo "load after: $(load)" >&2

python3 - "$out" "$profile" <<'EOF'
import json, os, sys
out, profile = sys.argv[1:]
def read(name):
    path = os.path.join(out, name + ".json")
    return json.load(open(path))["suites"] if os.path.exists(path) else {}
def size(n):
    for unit, f in (("MB", 1e6), ("KB", 1e3)):
        if n >= f:
            return f"{n / f:.1f} {unit}"
    return f"{n} B"
def cell(f):
    if f is None:
        return "not searched", ""
    r = f["result"]
    if r == "floor":
        at = "<= " if f.get("missed_bytes_per_call") is None else ""
        run = f" ({size(f['bytes_per_run'])}/run)" if f.get("bytes_per_run") else ""
        return f"{at}{size(f['bytes_per_call'])}{run}", ", ".join(f["caught_by"])
    if r == "blind":
        return f"none up to {size(f['missed_bytes_per_call'])}", ""
    return r.replace("_", " "), ""
projects = [("pyjamaz", ["pyjamaz-fast", "pyjamaz-rest"], ["pyjamaz-fast-c"]),
            ("c-library", ["c-library"], ["c-library-c"]),
            ("zig-library", ["zig-library"], ["zig-library-c"])]
print(f"| project | suite | floor per call, library heap | caught by | floor per call, malloc (RSS only) | caught by | time in its runs |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for project, own, c in projects:
    lib = {k: v for n in own for k, v in read(n).items()}
    rss = {k: v for n in c for k, v in read(n).items()}
    for suite in sorted(lib):
        a, a_by = cell(lib[suite])
        b, b_by = cell(rss.get(suite))
        secs = sum(f.get("run_seconds", f["seconds"]) for f in (lib[suite], rss.get(suite)) if f)
        print(f"| {project} | {suite} | {a} | {a_by} | {b} | {b_by} | {secs:.0f} s |")
EOF
