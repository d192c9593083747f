// Opens memtest's HTML report in a real browser (Debian's headless Chromium)
// and checks what it renders: no console errors, no network requests, one
// row and one drawn plot per suite of the JSON report, a table of leak sites
// (named frame, expandable stack) for each suite with sites, working sort;
// keeps a screenshot beside the report.
//
//   MEMTEST_HTML   the page            [default: .memtest/report/fast.html]
//   MEMTEST_JSON   the same run's JSON [default: the page's path with .json]
//   MEMTEST_SHOT   the screenshot      [default: the page's path with .png]
//   CHROMIUM       the browser         [default: /usr/bin/chromium]
//
// Relative paths are taken from the repository root. Never downloads a
// browser: playwright-core only drives the one given.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openPage } from "./browser.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const html = resolve(root, process.env.MEMTEST_HTML ?? ".memtest/report/fast.html");
const json = resolve(root, process.env.MEMTEST_JSON ?? html.replace(/\.html$/, ".json"));
const shot = resolve(root, process.env.MEMTEST_SHOT ?? html.replace(/\.html$/, ".png"));
const report = JSON.parse(readFileSync(json, "utf8"));

let page, problems, requests, close;

before(async () => {
  ({ page, problems, requests, close } = await openPage(html));
});

after(async () => {
  await close?.();
});

test("the page loads with no console errors and no network requests", async () => {
  assert.deepEqual(problems, []);
  assert.deepEqual(requests, []);
  const verdict = report.success ? "PASSED" : report.interrupted ? "INTERRUPTED" : "FAILED";
  assert.equal((await page.textContent("header .result")).trim(), verdict);
});

test("every suite has a row and, when it has samples, a drawn plot", async () => {
  const rows = await page.$$eval("#suites tbody tr", (trs) => trs.map((tr) => tr.dataset.suite));
  assert.deepEqual(rows, report.suites.map((s) => s.name));
  for (const suite of report.suites) {
    const section = page.locator(`section.suite[data-suite="${suite.name}"]`);
    assert.equal(await section.count(), 1, `no section for ${suite.name}`);
    if (suite.samples.t_ms.length < 2) continue;
    // Measured in the browser: the plot is laid out, visible once opened,
    // and holds the RSS and VMS curves.
    await section.locator("details").first().evaluate((d) => (d.open = true));
    const svg = section.locator("figure.plot svg");
    assert.equal(await svg.count(), 1, `no plot for ${suite.name}`);
    const box = await svg.boundingBox();
    assert.ok(box && box.width > 400 && box.height > 200, `${suite.name} plot is ${JSON.stringify(box)}`);
    assert.ok((await svg.locator("polyline").count()) >= 2, `${suite.name} plot has no curves`);
  }
});

test("every suite with leak sites shows them: a row each, named, its stack expandable", async () => {
  for (const suite of report.suites) {
    const table = page.locator(`section.suite[data-suite="${suite.name}"] table.sites`);
    if (!suite.sites?.length) {
      assert.equal(await table.count(), 0, `${suite.name} has no sites but a site table`);
      continue;
    }
    await page.locator(`section.suite[data-suite="${suite.name}"] > details`).evaluate((d) => (d.open = true));
    assert.equal(await table.count(), 1, `no site table for ${suite.name}`);
    const rows = table.locator("tbody tr");
    assert.equal(await rows.count(), suite.sites.length);
    const site = suite.sites[0];
    const row = rows.first();
    assert.equal((await row.locator("td").first().textContent()).trim(), site.layer);
    const named = site.name ?? "(no frame of the library)";
    assert.equal((await row.locator("code.named").textContent()).trim(), named);
    // The stack is folded until opened, then lists every frame, the named
    // one marked.
    const stack = row.locator("details.stack");
    assert.equal(await stack.locator("ol").isVisible(), false);
    await stack.locator("summary").click();
    assert.equal(await stack.locator("ol").isVisible(), true);
    assert.equal(await stack.locator("li").count(), site.frames.length);
    if (site.name) assert.equal((await stack.locator("li.named").first().textContent()).trim(), site.name);
  }
  assert.deepEqual(problems, []);
});

async function column(index) {
  return page.$$eval(`#suites tbody tr td:nth-child(${index + 1})`, (tds) => tds.map((td) => td.dataset.sort));
}

test("clicking a header sorts the table, and again reverses it", async () => {
  const header = (name) => page.locator("#suites thead th", { hasText: name }).locator("button");
  const peakCol = await page.$$eval("#suites thead th", (ths) =>
    ths.findIndex((th) => th.textContent.trim() === "peak RSS"));
  assert.ok(peakCol > 0);
  const peaks = (await column(peakCol)).map(Number);

  await header("peak RSS").click();
  assert.deepEqual((await column(peakCol)).map(Number), [...peaks].sort((a, b) => b - a), "worst first");
  assert.equal(await page.getAttribute(`#suites thead th:nth-child(${peakCol + 1})`, "aria-sort"), "descending");
  await header("peak RSS").click();
  assert.deepEqual((await column(peakCol)).map(Number), [...peaks].sort((a, b) => a - b));

  await header("suite").click();
  const names = await column(0);
  assert.deepEqual(names, [...names].sort((a, b) => a.localeCompare(b)));
  assert.deepEqual(problems, []);
});

test("a screenshot is kept beside the report", async () => {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot });
  assert.ok(statSync(shot).size > 10_000);
  await page.screenshot({ path: shot.replace(/\.png$/, "-full.png"), fullPage: true });
});
