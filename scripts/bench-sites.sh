#!/usr/bin/env bash
# The cost of attribution mode (`memtest explain`) against a plain run and
# against heaptrack (and memray, for the Python suite), on the same suites,
# in one run.
# Reproduce: scripts/bench-sites.sh [REPS [SUITE...]]   (default 3, all three; after a `memtest run`
# of the three suites below at --profile ci, which builds what they run)
#
# Each suite runs as memtest runs it (same environment, ci scale), directly:
# plain; with MEMTEST_EXPLAIN=1 (the library's site tracker, plus
# tracemalloc or two V8 heap snapshots in the interpreters); and under
# heaptrack (plain otherwise); the Python suite also under memray (`python3
# -m memray run`, when `pip install memray` put it there: the tracker
# Python users reach for). Modes alternate within each repetition so
# machine drift hits all three; the median wall time of each is printed with
# its ratio to plain, as the markdown table of docs/benchmarks/sites.md.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3}
shift || true
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(rust-memory-leak python-ffi-memory node-ffi-memory)
root=$PWD
lib=$root/.memtest/lib/default/libpyjamaz.so
bin=$root/.memtest/bin/default/memory_leak
for f in "$lib" "$bin"; do
  [ -e "$f" ] || { echo "missing $f: run 'cargo run -p runner -- run rust-memory-leak python-ffi-memory node-ffi-memory --profile ci' first" >&2; exit 2; }
done
command -v heaptrack >/dev/null || { echo "heaptrack is not installed" >&2; exit 2; }
py=$(python3 -c 'import sys; print(sys.executable)')
memray=no
"$py" -m memray --version >/dev/null 2>&1 && memray=yes
node=$(node -p process.execPath)
export PYJAMAZ_LIB_PATH=$lib MEMTEST_FIXTURES=$root/.memtest/fixtures MEMTEST_SCALE=0.1
export PYTHONPATH=$root/.memtest/helpers/python:$root/bindings/python PYTHONUNBUFFERED=1
export NODE_PATH=$root/.memtest/helpers/node:$root/bindings/nodejs/node_modules
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

declare -A cmd=(
  [rust-memory-leak]="$bin"
  [python-ffi-memory]="$py -u suites/python/ffi_memory.py"
  [node-ffi-memory]="$node --expose-gc suites/node/ffi_memory.js"
)

# Wall seconds of one run; the suite must pass.
timed() {
  local start end
  start=$(date +%s.%N)
  "$@" >"$out/log" 2>&1 || { echo "failed: $*" >&2; tail -5 "$out/log" >&2; exit 1; }
  grep -q '^TEST PASSED$' "$out/log" || { echo "no marker: $*" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "| suite (ci scale) | plain s | attribution s | ratio | heaptrack s | ratio | memray s | ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for suite in "${suites[@]}"; do
  read -r -a argv <<<"${cmd[$suite]}"
  : >"$out/plain"; : >"$out/explain"; : >"$out/heaptrack"; : >"$out/memray"
  with_memray=no
  [ "$memray" = yes ] && [ "${argv[0]}" = "$py" ] && with_memray=yes
  for _ in $(seq "$reps"); do
    timed "${argv[@]}" >>"$out/plain"
    MEMTEST_EXPLAIN=1 timed "${argv[@]}" >>"$out/explain"
    timed heaptrack -o "$out/ht" "${argv[@]}" >>"$out/heaptrack"
    rm -f "$out"/ht*
    if [ "$with_memray" = yes ]; then
      # memray run: every allocation with its Python stack, to a capture file.
      timed "$py" -m memray run -q -f -o "$out/mr.bin" "${argv[@]:2}" >>"$out/memray"
      rm -f "$out"/mr.bin*
    fi
  done
  p=$(median <"$out/plain"); e=$(median <"$out/explain"); h=$(median <"$out/heaptrack")
  m="| - | -"
  if [ "$with_memray" = yes ]; then
    r=$(median <"$out/memray")
    m=$(printf '| %.2f | %.1fx' "$r" "$(echo "$r / $p" | bc -l)")
  fi
  printf '| %s | %.2f | %.2f | %.1fx | %.2f | %.1fx %s |\n' "$suite" "$p" "$e" \
    "$(echo "$e / $p" | bc -l)" "$h" "$(echo "$h / $p" | bc -l)" "$m"
done
echo
[ "$memray" = yes ] || echo "(memray: not installed; pip install memray)"
echo "(median of $reps, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg) at the end, $(date -u +%F))"
