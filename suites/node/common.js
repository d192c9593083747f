'use strict';
/**
 * What every Node memory suite shares: the env contract with the runner
 * (MEMTEST_FIXTURES, MEMTEST_SCALE, MEMTEST_CANARY), `MEMTEST name=value`
 * figure lines, memory readings from /proc, a leak rule that tolerates noise,
 * and `run()`, which prints `TEST PASSED` only after every check held and
 * sets a non-zero exit code otherwise.
 */

const fs = require('node:fs');
const path = require('node:path');

const pyjamaz = require(path.join(__dirname, '..', '..', 'bindings', 'nodejs'));

/** MEMTEST_SCALE as a positive number (1 when unset). */
function scale() {
  const raw = process.env.MEMTEST_SCALE;
  if (raw === undefined || raw === '') return 1;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`MEMTEST_SCALE must be a positive number, got '${raw}'`);
  return value;
}

/** The seed's iteration count times the scale, never fewer than `min`. */
function iterations(seedCount, min = 5) {
  return Math.max(min, Math.round(seedCount * scale()));
}

/** Reads a fixture; fails with the variable or file named when it is missing. */
function fixture(name) {
  const dir = process.env.MEMTEST_FIXTURES;
  if (!dir) throw new Error('MEMTEST_FIXTURES is not set: run through `memtest` or point it at a fixture folder');
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) throw new Error(`fixture ${file} is missing (MEMTEST_FIXTURES=${dir})`);
  return fs.readFileSync(file);
}

/** Prints one figure for the runner. Values must be numbers. */
function report(name, value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`figure ${name} is not a number: ${value}`);
  process.stdout.write(`MEMTEST ${name}=${value}\n`);
}

/** Fields of /proc/self/status in bytes (VmRSS, VmHWM, VmSize, ...). */
function procStatus() {
  const out = {};
  for (const line of fs.readFileSync('/proc/self/status', 'utf8').split('\n')) {
    const m = /^(Vm\w+):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]] = Number(m[2]) * 1024;
  }
  return out;
}

const rssBytes = () => process.memoryUsage.rss();
const vmsBytes = () => procStatus().VmSize;

/**
 * Full collection; the suites run with --expose-gc and refuse to run without.
 * Twice, because V8 lowers its `external` (Buffer) accounting for freed
 * backing stores only on the collection after the one that freed them.
 */
function gc() {
  if (typeof global.gc !== 'function') throw new Error('global.gc is missing: run node with --expose-gc');
  global.gc();
  global.gc();
}

/**
 * Collects, lets the event loop turn once, collects again. Readings taken in
 * a tight synchronous loop drift upwards without the turn: V8 and koffi
 * release some memory from tasks that only run on the event loop, so RSS
 * checkpoints are taken after this.
 */
async function quiesce() {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 1));
  gc();
}

/** Lets FinalizationRegistry callbacks run: they are queued as tasks after a collection. */
async function settleFinalizers(rounds = 10) {
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Least-squares slope of `ys` over `xs` on the final half of the series (as
 * the runner fits its slope: allocator warm-up growth early in a run is not
 * a leak), and the fraction of those steps that rose. DESIGN's leak rule: a
 * series leaks when its slope is over the limit AND it rose on at least two
 * thirds of the steps, so one allocator jump is not called a leak.
 */
function trend(allXs, allYs) {
  const from = Math.floor(allXs.length / 2);
  const xs = allXs.slice(from);
  const ys = allYs.slice(from);
  const n = xs.length;
  if (n < 3) return { slope: 0, risingFraction: 0 };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  let rising = 0;
  for (let i = 1; i < n; i++) if (ys[i] > ys[i - 1]) rising++;
  return { slope: den === 0 ? 0 : num / den, risingFraction: rising / (n - 1) };
}

const MB = 1e6;
const mb = (bytes) => `${(bytes / MB).toFixed(2)} MB`;

/** Native live allocations of the core, for baselines. */
function nativeLive() {
  const s = pyjamaz.allocStats();
  return { allocations: s.liveAllocations, bytes: s.liveBytes };
}

/**
 * Runs a suite body with a `check(ok, message)` collector. Prints
 * `peak_rss_bytes` always, `TEST PASSED` only when the body finished and
 * every check held; otherwise prints each failure and sets exit code 1.
 */
async function run(name, body) {
  const failures = [];
  const check = (ok, message) => {
    if (!ok) failures.push(message);
    return ok;
  };
  const started = process.hrtime.bigint();
  try {
    await body({ check });
  } catch (err) {
    failures.push(`${name} aborted: ${err && err.stack ? err.stack : err}`);
  }
  const status = procStatus();
  if (status.VmHWM !== undefined) report('peak_rss_bytes', status.VmHWM);
  report('duration_ms', Number((process.hrtime.bigint() - started) / 1000000n));
  if (failures.length === 0) {
    process.stdout.write('TEST PASSED\n');
  } else {
    for (const f of failures) process.stderr.write(`FAIL ${name}: ${f}\n`);
    process.exitCode = 1;
  }
}

module.exports = {
  pyjamaz,
  scale,
  iterations,
  fixture,
  report,
  procStatus,
  rssBytes,
  vmsBytes,
  gc,
  settleFinalizers,
  quiesce,
  trend,
  nativeLive,
  run,
  MB,
  mb,
};
