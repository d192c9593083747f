#!/usr/bin/env bash
# Checks the HTML report in a real browser: Debian's headless Chromium driven
# by playwright-core (which never downloads a browser of its own). Reads
# .memtest/report/fast.html and fast.json (see html-report.test.mjs for the
# variables that point it elsewhere) and leaves fast.png beside them.
# Needs: apt-get install -y chromium (CHROMIUM=path to use another build).
set -euo pipefail
cd "$(dirname "$0")"
browser=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$browser" ]; then
  echo "no browser at $browser: apt-get install -y chromium (or set CHROMIUM)" >&2
  exit 1
fi
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund
fi
node --test --test-reporter=spec html-report.test.mjs
