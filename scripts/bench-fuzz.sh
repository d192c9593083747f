#!/usr/bin/env bash
# The cost of the leak oracle: executions per second of each binding's fuzz
# suite with the oracle (the core's live allocation count checked after every
# input) and without it, on the clean core, as a ratio.
# Reproduce: scripts/bench-fuzz.sh [SECONDS]   (default 15 per mode; after a
# `cargo run -p runner -- fuzz python-fuzz --time 1s`, which builds the
# default core, the fixtures and the helpers)
#
# Modes, each the same target script with the same seed (the builtin loop
# runs the same inputs in both of its modes):
#   python builtin   memtest's seeded mutation loop, oracle on / off
#   python atheris   memtest's loop driven by atheris, oracle on / off
#   python plain     atheris alone on the target's one_input: a stand-in
#                    memtest_fuzz module that hands it to atheris.Setup with
#                    no oracle, no watchdog, no .current file
#   node builtin     memtest's seeded mutation loop, oracle on / off
#   rust builtin     suites/rust/tests/fuzz.rs's loop, oracle on / off
# (@jazzer.js/core installs but its addon does not load here: glibc < 2.38;
# see docs/fuzzing.md.) Prints the markdown table of docs/benchmarks/fuzz.md.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
root=$PWD
lib=$root/.memtest/lib/default/libpyjamaz.so
[ -e "$lib" ] || { echo "missing $lib: run 'cargo run -p runner -- fuzz python-fuzz --time 1s' first" >&2; exit 2; }
py=$(python3 -c 'import sys; print(sys.executable)')
node=$(node -p process.execPath)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export PYJAMAZ_LIB_PATH=$lib MEMTEST_FIXTURES=$root/.memtest/fixtures PYTHONUNBUFFERED=1
export MEMTEST_FUZZ_TIME=$secs MEMTEST_FUZZ_SEED=1 MEMTEST_FUZZ_DIR=$out/findings
export NODE_PATH=$root/.memtest/helpers/node:$root/bindings/nodejs/node_modules
helpers_py=$root/.memtest/helpers/python:$root/bindings/python

mkdir -p "$out/plain" "$out/seeds"
cat > "$out/plain/memtest_fuzz.py" <<'PY'
"""A stand-in memtest_fuzz: plain atheris on the target's one_input."""
import atheris, hashlib, os, sys, time

def main(one_input, live, seeds=(), name=None):
    corpus = os.environ["PLAIN_SEEDS"]
    for s in seeds:
        with open(os.path.join(corpus, hashlib.sha1(s).hexdigest()), "wb") as f:
            f.write(s)
    budget = float(os.environ["MEMTEST_FUZZ_TIME"])
    state = {"n": 0, "t0": None}

    def test_one_input(data):
        if state["t0"] is None:
            state["t0"] = time.monotonic()
        try:
            one_input(data)
        except Exception:
            pass
        state["n"] += 1
        elapsed = time.monotonic() - state["t0"]
        if elapsed >= budget:
            print(f"MEMTEST fuzz_execs_per_s={state['n'] / elapsed:.1f}", flush=True)
            os._exit(0)

    one_input = atheris.instrument_func(one_input)
    atheris.Setup([sys.argv[0], "-seed=2", "-max_len=4096", "-timeout=0", "-rss_limit_mb=0", corpus], test_one_input)
    atheris.Fuzz()
PY

# The rate, and any finding on stderr (a clean core should have none).
rate() { tee -a "$out/log" | grep -o 'fuzz_execs_per_s=[0-9.]*' | tail -1 | cut -d= -f2; }
run_py() { PYTHONPATH=$helpers_py MEMTEST_FUZZ_ENGINE=$1 MEMTEST_FUZZ_ORACLE=$2 "$py" -u suites/python/fuzz_optimize.py 2>/dev/null | rate; }
run_node() { MEMTEST_FUZZ_ORACLE=$1 "$node" --expose-gc suites/node/fuzz_optimize.js 2>/dev/null | rate; }
has_atheris=$("$py" -c 'import atheris' 2>/dev/null && echo 1 || echo 0)

row() { # name, with, without
  awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "| %s | %.0f | %.0f | %.2f |\n", n, a, b, (b > 0 ? a / b : 0) }'
}
echo "| binding, engine | execs/s with the oracle | execs/s without | ratio |"
echo "| --- | ---: | ---: | ---: |"
row "python, builtin loop" "$(run_py builtin 1)" "$(run_py builtin 0)"
if [ "$has_atheris" = 1 ]; then
  on=$(run_py atheris 1)
  row "python, atheris (memtest's loop)" "$on" "$(run_py atheris 0)"
  plain=$(PYTHONPATH=$out/plain:$root/bindings/python PLAIN_SEEDS=$out/seeds "$py" -u suites/python/fuzz_optimize.py 2>/dev/null | rate)
  row "python, atheris vs plain atheris" "$on" "$plain"
else
  echo "| python, atheris | not installed | | |"
fi
row "node, builtin loop" "$(run_node 1)" "$(run_node 0)"
echo "| node, jazzer.js | does not load here (glibc 2.36 < 2.38) | | |"
rust=$root/.memtest/bin/default/fuzz
if [ -x "$rust" ]; then
  row "rust API, builtin loop" "$(MEMTEST_FUZZ_ORACLE=1 "$rust" 2>/dev/null | rate)" "$(MEMTEST_FUZZ_ORACLE=0 "$rust" 2>/dev/null | rate)"
else
  echo "| rust API | not built: run 'cargo run -p runner -- fuzz rust-fuzz --time 1s' | | |"
fi
grep '^FUZZ finding' "$out/log" >&2 || true
