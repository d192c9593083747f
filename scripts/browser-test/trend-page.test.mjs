// Opens memtest's trend page (`memtest trend --html`) in a real browser
// (Debian's headless Chromium) and checks what it renders against the same
// trend's JSON (`--json`): no console errors, no network requests, the
// verdict in the header, one section per suite with its plot drawn (a band
// and a median line per figure) and one table row per commit; keeps a
// screenshot beside the page.
//
//   MEMTEST_TREND_HTML   the page            [default: .memtest/report/trend.html]
//   MEMTEST_TREND_JSON   the trend's JSON    [default: the page's path with .json]
//   MEMTEST_TREND_SHOT   the screenshot      [default: the page's path with .png]
//   CHROMIUM             the browser         [default: /usr/bin/chromium]

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openPage } from "./browser.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const html = resolve(root, process.env.MEMTEST_TREND_HTML ?? ".memtest/report/trend.html");
const json = resolve(root, process.env.MEMTEST_TREND_JSON ?? html.replace(/\.html$/, ".json"));
const shot = resolve(root, process.env.MEMTEST_TREND_SHOT ?? html.replace(/\.html$/, ".png"));
const trend = JSON.parse(readFileSync(json, "utf8"));

let page, problems, requests, close;

before(async () => {
  ({ page, problems, requests, close } = await openPage(html));
});

after(async () => {
  await close?.();
});

test("the trend page loads with no console errors and no network requests", async () => {
  assert.deepEqual(problems, []);
  assert.deepEqual(requests, []);
  const verdict = trend.baseline === null ? "TREND" : trend.drifted ? "DRIFTED" : "WITHIN BASELINE";
  assert.equal((await page.textContent("header .result")).trim(), verdict);
});

test("every suite has a section with its plot drawn and a row per commit", async () => {
  const sections = await page.$$eval("section.suite.trend", (ss) => ss.map((s) => s.dataset.suite));
  assert.deepEqual(sections, trend.suites.map((s) => s.suite));
  for (const suite of trend.suites) {
    const section = page.locator(`section.suite.trend[data-suite="${suite.suite}"]`);
    const runs = suite.points.reduce((n, p) => n + p.runs, 0);
    assert.equal(Number(await section.getAttribute("data-runs")), runs, suite.suite);
    const svg = section.locator("figure.plot svg");
    assert.equal(await svg.count(), 1, `no plot for ${suite.suite}`);
    const box = await svg.boundingBox();
    assert.ok(box && box.width > 400 && box.height > 150, `${suite.suite} plot is ${JSON.stringify(box)}`);
    // One median line per figure any commit measured; a band once there
    // are two commits.
    const figures = new Set(suite.points.flatMap((p) => Object.keys(p.figures)));
    assert.ok((await svg.locator("polyline").count()) >= figures.size, `${suite.suite} lacks median lines`);
    if (suite.points.length >= 2) {
      assert.ok((await svg.locator("polygon").count()) >= 1, `${suite.suite} has no band`);
    }
    const rows = await section.locator("table.points tbody tr").count();
    assert.equal(rows, suite.points.length, `${suite.suite} rows`);
    if (suite.drift?.pinned) {
      const drifted = await section.locator("ul.drift li.drifted").count();
      assert.equal(drifted, suite.drift.checks.filter((c) => c.over_since !== null).length);
    }
  }
  assert.deepEqual(problems, []);
});

test("a screenshot is kept beside the page", async () => {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot });
  assert.ok(statSync(shot).size > 10_000);
});
