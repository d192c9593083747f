#!/usr/bin/env bash
# The detection floor of every suite (`memtest floor`), of this repository and
# both examples, at the default and the `ci` profile: the smallest leak per
# call each suite caught, from the library's own heap (which its counter sees)
# and from plain malloc (which only RSS sees).
#
#   scripts/floors.sh                       every part at both profiles, then
#                                           the README table rewritten from them
#   scripts/floors.sh search PROFILE PART...  some parts again (PROFILE: default or ci)
#   scripts/floors.sh table [--write]       the table from docs/floors/ (--write:
#                                           into README.md between its markers)
#   scripts/floors.sh readme                README.md's table is the one docs/floors/ makes
#                                           (and the 2x rule's self-test)
#   scripts/floors.sh check PROFILE PART... a fresh search of the parts, each
#                                           suite's floor within 2x of docs/floors/
#
# PART: fast, rest (medium and long tiers), concurrency, fuzz, corpus, each also with `-c`
# (the leak from malloc: RSS only), and c-library, c-library-c, zig-library,
# zig-library-c. The JSON of each search (every probe) is kept, one file a
# part, in docs/floors/PROFILE/PART.json (committed: the table's source), and
# a check's in .memtest/floors-check/PROFILE/; the console table and log of
# the last search of each part in .memtest/floors-logs/PROFILE/. The wall time of each search
# and the machine's load go to stderr: the floors of RSS criteria move with
# the load. MEMTEST_FLOOR_JOBS sets --jobs (default 2).
# Times on 2 cores (README, benchmarks), quiet (load 1-5) / shared (load
# 13-21): at ci the fast tier 3 min (library heap) and 3 / 23 min (malloc),
# rest 1.5 and 7 min quiet; at the default profile (scale 1) ten times the
# calls: the fast tier 6 min and rest 12 min (library heap) quiet.
set -uo pipefail
cd "$(dirname "$0")/.."
all_parts="fast concurrency c-library c-library-c zig-library zig-library-c fast-c concurrency-c rest rest-c fuzz fuzz-c corpus corpus-c"
jobs=${MEMTEST_FLOOR_JOBS:-2}
# MEMTEST_BIN: a memtest binary to use as it is (no build).
memtest=${MEMTEST_BIN:-target/debug/memtest}
load() { cut -d' ' -f1-3 /proc/loadavg; }

# The memtest arguments of a part.
part_args() {
  local heap=()
  local part=$1
  if [[ $part == *-c ]]; then heap=(--heap c); part=${part%-c}; fi
  case $part in
    # The gc-verification suites have no canary on the leaky core (theirs
    # keep results alive in the suite), and the concurrency suites' is the
    # thread-leaky core: the graded leak is the leaky build's, named.
    fast) echo floor --tag fast --variant leaky "${heap[@]}" ;;
    rest) echo floor --tag medium --tag long --variant leaky "${heap[@]}" ;;
    # The blind-spot suites are the single-threaded suites again on the
    # thread-leaky core: their floors are their originals'.
    concurrency) echo floor --tag concurrency --exclude-tag blind-spot --variant leaky "${heap[@]}" ;;
    # The fuzz suites' canaries use the rare-leaky core (its leak is not
    # graded): the graded leak is the leaky core's, on every fuzzed call.
    fuzz) echo floor --tag fuzz --variant leaky "${heap[@]}" ;;
    # The corpus suites over the fixture folder's corpus (200 files).
    corpus) echo floor --tag corpus --variant leaky "${heap[@]}" ;;
    # The examples call their library millions of times a run: a leak on
    # every call is caught at 1 byte by every criterion (or stops the suite
    # at its ceiling first), so they leak on one call in 1000. c-memory has
    # a second canary (the uncounted build): the graded leak is the leaky one.
    c-library | zig-library)
      echo --config "examples/$part/memtest.toml" floor --every 1000 --variant leaky "${heap[@]}" ;;
    *) echo "unknown part: $1 (parts: $all_parts)" >&2; return 2 ;;
  esac
}

# search OUT_DIR PROFILE PART...
search() {
  local dir=$1 profile=$2; shift 2
  local prof=()
  case $profile in
    default) ;;
    ci) prof=(--profile ci) ;;
    *) echo "unknown profile: $profile (default or ci)" >&2; return 2 ;;
  esac
  # The console's table and memtest's log of each search, beside the runs'.
  local logs=.memtest/floors-logs/$profile
  mkdir -p "$dir/$profile" "$logs"
  local status=0 part args start
  for part in "$@"; do
    args=$(part_args "$part") || return 2
    start=$SECONDS
    echo "$profile $part: start, load $(load)" >&2
    # shellcheck disable=SC2086 # the part's arguments are words
    "$memtest" "${prof[@]}" $args --jobs "$jobs" --json "$dir/$profile/$part.json" \
      >"$logs/$part.txt" 2>"$logs/$part.log"
    local rc=$?
    echo "$profile $part: exit $rc, $((SECONDS - start)) s, load $(load)" >&2
    # 1: a suite blind or over its max_floor, still measured; else stopped.
    [ $rc -le 1 ] || status=$rc
  done
  return $status
}

build() { [ -n "${MEMTEST_BIN:-}" ] || cargo build -q -p runner; }

cmd=${1:-all}
[ $# -gt 0 ] && shift
case $cmd in
  all)
    build || exit 1
    for profile in default ci; do
      # shellcheck disable=SC2086
      search docs/floors "$profile" $all_parts || exit $?
    done
    python3 scripts/floors.py table --write README.md ;;
  search)
    [ $# -ge 2 ] || { echo "usage: scripts/floors.sh search PROFILE PART..." >&2; exit 2; }
    build || exit 1
    search docs/floors "$@" ;;
  check)
    [ $# -ge 2 ] || { echo "usage: scripts/floors.sh check PROFILE PART..." >&2; exit 2; }
    build || exit 1
    rm -rf .memtest/floors-check
    search .memtest/floors-check "$@" || exit $?
    profile=$1; shift
    python3 scripts/floors.py compare .memtest/floors-check docs/floors "$profile" "$@" ;;
  table)
    if [ "${1:-}" = --write ]; then
      python3 scripts/floors.py table --write README.md
    else
      python3 scripts/floors.py table
    fi ;;
  readme) python3 scripts/floors.py selftest && python3 scripts/floors.py table --check README.md ;;
  *) echo "usage: scripts/floors.sh [search|check PROFILE PART... | table [--write] | readme]" >&2; exit 2 ;;
esac
