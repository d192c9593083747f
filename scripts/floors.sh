#!/usr/bin/env bash
# The detection floor of every suite (`memtest floor`), of this repository and
# both examples, as the markdown table in the README: the smallest leak per
# call each suite caught, from the library's own heap (which its counter sees)
# and from plain malloc (which only RSS sees).
# Reproduce: scripts/floors.sh [PROFILE [PART...]]
#   PROFILE: ci by default; PART: pyjamaz, pyjamaz-c, examples (all by default)
#   ~30 minutes on 2 busy cores, most of it the pressure suites (pyjamaz).
# The JSON of each search is kept in .memtest/floors/ and the table is made
# from every JSON there, so a part can be searched again alone. The wall time
# of each search and the machine's load go to stderr: the floors of RSS
# criteria move with the load.
set -uo pipefail
cd "$(dirname "$0")/.."
profile=${1:-ci}
shift || true
parts=${*:-pyjamaz pyjamaz-c examples}
out=.memtest/floors
mkdir -p "$out"
cargo build -q -p runner
memtest=target/debug/memtest
load() { cut -d' ' -f1-3 /proc/loadavg; }
wants() { [[ " $parts " == *" $1 "* ]]; }

echo "load before: $(load)" >&2
floor() { # name, memtest args...
  local name=$1; shift
  local start=$SECONDS
  "$memtest" --profile "$profile" "$@" --json "$out/$name.json" >"$out/$name.txt" 2>"$out/$name.log"
  echo "$name: exit $?, $((SECONDS - start)) s, load $(load)" >&2
}
# The gc-verification suites have no canary on the leaky core (theirs keep
# results alive in the suite), so the leaky build is named.
if wants pyjamaz; then
  floor pyjamaz-fast floor --tag fast --variant leaky
  floor pyjamaz-rest floor --exclude-tag fast --variant leaky
fi
if wants pyjamaz-c; then
  floor pyjamaz-fast-c floor --tag fast --variant leaky --heap c
fi
# The examples call their library millions of times a run: a leak on every
# call is caught at 1 byte by every criterion (or stops the suite at its
# ceiling first), so they leak on one call in 1000.
if wants examples; then
  for ex in c-library zig-library; do
    floor "$ex" --config "examples/$ex/memtest.toml" floor --every 1000
    floor "$ex-c" --config "examples/$ex/memtest.toml" floor --every 1000 --heap c
  done
fi
echo "load after: $(load)" >&2

python3 - "$out" <<'EOF'
import json, os, sys
out = sys.argv[1]
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
    every = f" (1 call in {f['every']})" if f["every"] > 1 else ""
    if r == "floor":
        at = "<= " if f.get("missed_bytes_per_call") is None else ""
        run = f", {size(f['bytes_per_run'])}/run" if f.get("bytes_per_run") else ""
        return f"{at}{size(f['bytes_per_call'])}{every}{run}", ", ".join(f["caught_by"])
    if r == "blind":
        return f"none up to {size(f['missed_bytes_per_call'])}{every}", ""
    return r.replace("_", " "), ""
projects = [("pyjamaz", ["pyjamaz-fast", "pyjamaz-rest"], ["pyjamaz-fast-c"]),
            ("c-library", ["c-library"], ["c-library-c"]),
            ("zig-library", ["zig-library"], ["zig-library-c"])]
print("| project | suite | floor per call, library heap | caught by | floor per call, malloc (RSS only) | caught by |")
print("| --- | --- | --- | --- | --- | --- |")
for project, own, c in projects:
    lib = {k: v for n in own for k, v in read(n).items()}
    rss = {k: v for n in c for k, v in read(n).items()}
    for suite in sorted(lib):
        a, a_by = cell(lib[suite])
        b, b_by = cell(rss.get(suite))
        print(f"| {project} | {suite} | {a} | {a_by} | {b} | {b_by} |")
EOF
