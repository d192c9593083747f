#!/usr/bin/env bash
# The project's test command (README: "Run the tests"). Runs, in order:
#   1. every Rust unit and integration test of the workspace (core, runner, suites)
#   2. the Node binding's tests (node --test) and the Python binding's tests (pytest)
#   3. the fast tier of memory suites, canaries included, through the runner at the
#      `ci` profile, writing JSON/JUnit/SVG/markdown reports to .memtest/report/
#   4. a bounded fuzz run of the C ABI over the seed corpus (skipped with a notice
#      when cargo-fuzz or the nightly toolchain is missing; CI installs both)
# It installs nothing system-wide: npm packages go to bindings/nodejs/node_modules
# (npm ci, from the lockfile) and Python test tools to .memtest/venv.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }

step "cargo test --workspace"
# memsuite's memory suites are `test = false`: they need the runner's fixtures
# and run through the runner below; its unit tests and allocator self-test run here.
cargo test --workspace --quiet

step "node binding tests"
if [ ! -d bindings/nodejs/node_modules/koffi ]; then
  npm ci --prefix bindings/nodejs --no-audit --no-fund
fi
# The bindings find the library in target/release first; build it so the tests
# see the current core, not a stale one.
cargo build --release -p pyjamaz --quiet
(cd bindings/nodejs && node --test --test-reporter=spec test/)

step "python binding tests"
venv="$root/.memtest/venv"
if [ ! -x "$venv/bin/pytest" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r bindings/python/requirements-dev.txt
fi
(cd bindings/python && "$venv/bin/pytest" -q tests)

step "fast memory suites and canaries through the runner"
mkdir -p .memtest/report
cargo run --release -p runner --quiet -- run --tag fast --profile ci --jobs 2 \
  --json .memtest/report/fast.json --junit .memtest/report/fast.junit.xml \
  --plot .memtest/report/plots --summary .memtest/report/fast.md

step "bounded fuzz run of the C ABI"
if cargo +nightly fuzz --version >/dev/null 2>&1; then
  fuzz/run-bounded.sh "${MEMTEST_FUZZ_SECONDS:-60}"
else
  echo "skipped: cargo-fuzz on the nightly toolchain is not installed (.ci/run installs it)"
fi

step "all tests passed"
