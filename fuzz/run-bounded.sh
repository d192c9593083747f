#!/usr/bin/env bash
# A bounded fuzz run of the C ABI's optimize, for CI or a quick local check.
#   fuzz/run-bounded.sh [SECONDS]   (default 60)
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# New inputs go to fuzz/corpus/optimize (not committed); the committed seeds
# in fuzz/corpus/seed are read-only input.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
mkdir -p fuzz/corpus/optimize
exec cargo +nightly fuzz run optimize fuzz/corpus/optimize fuzz/corpus/seed -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=262144
