#!/usr/bin/env bash
# Checks memtest's HTML pages in a real browser: Debian's headless Chromium
# driven by playwright-core (which never downloads a browser of its own).
#   run.sh          the run report: .memtest/report/fast.html and fast.json
#                   (html-report.test.mjs names the variables that point it
#                   elsewhere), leaving fast.png beside them
#   run.sh trend    the trend page: .memtest/report/trend.html and trend.json
#                   (trend-page.test.mjs), leaving trend.png beside them
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
case "${1:-report}" in
  report) node --test --test-reporter=spec html-report.test.mjs ;;
  trend) node --test --test-reporter=spec trend-page.test.mjs ;;
  *) echo "usage: run.sh [report|trend]" >&2; exit 2 ;;
esac
