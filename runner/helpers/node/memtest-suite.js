'use strict';
/**
 * memtest-suite: the generic half of a memtest suite written for Node.js.
 *
 * memtest writes this file to `<project>/.memtest/helpers/node/` and puts that
 * folder on NODE_PATH, so a suite only needs `require('memtest-suite')`. No
 * dependencies, Node >= 18. The protocol it implements is in docs/protocol.md;
 * in short:
 *  - environment in: MEMTEST_SCALE (iteration multiplier), MEMTEST_FIXTURES
 *    (fixture folder), MEMTEST_CANARY (a canary's mode), MEMTEST_EXPECT
 *    (`pass` / `fail`), MEMTEST_WRAPPER (the tool the suite runs under, e.g.
 *    `asan`), and the library path under the project's `lib_env`;
 *  - lines out: `MEMTEST name=value` figures, and `TEST PASSED` only after
 *    every assertion held (`run()` does that, and sets the exit status).
 *
 * A minimal suite (run with `node --expose-gc`):
 *
 *   const m = require('memtest-suite');
 *   m.run(async () => {
 *     const lib = loadMyLibrary(m.libPath('MYLIB_PATH'));
 *     const ops = m.iterations(10_000);
 *     const cps = new m.Checkpoints();
 *     for (let i = 0; i < ops; i++) {
 *       lib.doSomething();
 *       if (i % Math.max(1, Math.floor(ops / 20)) === 0) { await m.quiesce(); cps.record(i); }
 *     }
 *     m.report('operations', ops);
 *     cps.checkNoLeak({ limit: 500, unit: 'bytes per op' });
 *   });
 */

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const MB = 1e6;
/**
 * The shared leak rule (the runner's too): a series is leaking only when its
 * fitted slope is over the limit AND it rose on at least this share of the
 * steps between checkpoints, so one allocator jump is not called a leak.
 */
const RISING_FRACTION = 2 / 3;
/** Fewer points than this in the judged window cannot tell a leak from noise. */
const MIN_TREND_POINTS = 3;
/** The pass marker the runner looks for (its default `marker`). */
const MARKER = 'TEST PASSED';
const NAME = /^[A-Za-z0-9_.]+$/;

// ------------------------------------------------------------------ environment

/** MEMTEST_SCALE as a positive finite number (1 when unset or empty). */
function scale() {
  const raw = (process.env.MEMTEST_SCALE || '').trim();
  if (raw === '') return 1;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`MEMTEST_SCALE must be a positive number, got '${raw}'`);
  return value;
}

/**
 * `seed` (the count at scale 1) times the scale, rounded, never below `min`:
 * a suite that needs N checkpoints asks for at least N.
 */
function iterations(seed, min = 1) {
  return Math.max(min, Math.round(seed * scale()));
}

/** Path of a fixture in MEMTEST_FIXTURES; throws naming what is missing. */
function fixturePath(name) {
  const dir = process.env.MEMTEST_FIXTURES;
  if (!dir) throw new Error('MEMTEST_FIXTURES is not set: run through `memtest` or point it at a fixture folder');
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) throw new Error(`fixture ${file} is missing (MEMTEST_FIXTURES=${dir})`);
  return file;
}

/** The bytes of a fixture in MEMTEST_FIXTURES, as a Buffer. */
function fixture(name) {
  return fs.readFileSync(fixturePath(name));
}

/** The canary mode in MEMTEST_CANARY (e.g. 'retain'), or null. */
function canary() {
  return process.env.MEMTEST_CANARY || null;
}

/** MEMTEST_EXPECT: 'fail' for a canary run, 'pass' otherwise (informational). */
function expect() {
  return process.env.MEMTEST_EXPECT === 'fail' ? 'fail' : 'pass';
}

/**
 * MEMTEST_WRAPPER: the tool the suite runs under (`memcheck`, `asan`), or
 * null. Its RSS is then mostly the tool's own, so RSS trends are reported but
 * not judged (`Checkpoints.checkNoLeak`), as memtest does with RSS limits.
 */
function wrapper() {
  return process.env.MEMTEST_WRAPPER || null;
}

/** The library path in the variable the project's `lib_env` names. */
function libPath(env) {
  const value = process.env[env];
  if (!value) throw new Error(`${env} is not set: run through \`memtest\` or point it at the built library`);
  if (!fs.existsSync(value)) throw new Error(`${env}=${value} does not exist`);
  return value;
}

// ---------------------------------------------------------------------- figures

/** Prints one `MEMTEST name=value` figure line. */
function report(name, value) {
  if (!NAME.test(name)) throw new Error(`figure name '${name}': use letters, digits, '_' and '.'`);
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`figure ${name} is not a finite number: ${value}`);
  process.stdout.write(`MEMTEST ${name}=${value}\n`);
}

/**
 * Reports how many operations the measured loop has done so far
 * (`MEMTEST progress=N`). memtest times each line as it arrives, so a suite
 * that prints it every few hundred operations can be judged on RSS per
 * operation (`slope_per_op`), which a loaded machine does not shrink the way
 * it shrinks a per-second slope.
 */
function progress(operations) {
  if (!Number.isSafeInteger(operations) || operations < 0) {
    throw new Error(`progress is a count of operations, not ${operations}`);
  }
  process.stdout.write(`MEMTEST progress=${operations}\n`);
}

// ------------------------------------------------------------------------ memory

/** Fields of /proc/self/status in bytes (VmRSS, VmHWM, VmSize, ...); {} without /proc. */
function procStatus() {
  let text;
  try {
    text = fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    return {};
  }
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^(Vm\w+):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]] = Number(m[2]) * 1024;
  }
  return out;
}

/** Current resident set size of this process (libuv: /proc on Linux, task_info on macOS). */
const rssBytes = () => process.memoryUsage.rss();

/**
 * Current virtual size: VmSize on Linux; elsewhere a best effort through
 * `ps -o vsz` (a process spawn per reading: take few checkpoints there).
 */
function vmsBytes() {
  const status = procStatus();
  if (status.VmSize !== undefined) return status.VmSize;
  return Number(execFileSync('ps', ['-o', 'vsz=', '-p', String(process.pid)], { encoding: 'utf8' }).trim()) * 1024;
}

/** Exact peak RSS: VmHWM on Linux, getrusage's maxRSS (KiB in Node on every platform) elsewhere. */
function peakRssBytes() {
  const status = procStatus();
  if (status.VmHWM !== undefined) return status.VmHWM;
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * Full collection; needs `node --expose-gc`. Twice, because V8 lowers its
 * `external` (Buffer) accounting for freed backing stores only on the
 * collection after the one that freed them.
 */
function gc() {
  if (typeof global.gc !== 'function') throw new Error('global.gc is missing: run node with --expose-gc');
  global.gc();
  global.gc();
}

const tick = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Collects, lets the event loop turn once, collects again. Readings taken in
 * a tight synchronous loop drift upwards without the turn: V8 and native
 * add-ons release some memory from tasks that only run on the event loop, so
 * take RSS checkpoints after this.
 */
async function quiesce() {
  gc();
  await tick(1);
  gc();
}

/** Lets FinalizationRegistry callbacks run: they are queued as tasks after a collection. */
async function settleFinalizers(rounds = 10) {
  for (let i = 0; i < rounds; i++) {
    gc();
    await tick(2);
  }
}

const mb = (bytes) => `${(bytes / MB).toFixed(2)} MB`;

// ---------------------------------------------------------------- the leak rule

/**
 * Fits the final `window` share of the series (as the runner fits its slope:
 * points before it are warm-up, where allocators still grow to their working
 * set). Returns { slope, risingFraction, points, judgeable, leaking(limit) };
 * leaking() throws when the window is too short to judge.
 */
function trend(xs, ys, window = 0.5) {
  if (xs.length !== ys.length) throw new Error(`${xs.length} xs but ${ys.length} ys`);
  if (!(window > 0 && window <= 1)) throw new Error(`window must be in (0, 1], got ${window}`);
  const start = Math.floor(xs.length * (1 - window));
  const wx = xs.slice(start).map(Number);
  const wy = ys.slice(start).map(Number);
  const n = wx.length;
  let slope = 0;
  let rising = 0;
  if (n >= 2) {
    const mx = wx.reduce((a, b) => a + b, 0) / n;
    const my = wy.reduce((a, b) => a + b, 0) / n;
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i++) {
      num += (wx[i] - mx) * (wy[i] - my);
      den += (wx[i] - mx) ** 2;
    }
    slope = den === 0 ? 0 : num / den;
    for (let i = 1; i < n; i++) if (wy[i] > wy[i - 1]) rising++;
  }
  const risingFraction = n >= 2 ? rising / (n - 1) : 0;
  const judgeable = n >= MIN_TREND_POINTS;
  return {
    slope,
    risingFraction,
    points: n,
    judgeable,
    leaking(slopeLimit) {
      if (!judgeable) throw new Error(`${n} points in the window, ${MIN_TREND_POINTS} needed to judge a trend`);
      return slope > slopeLimit && risingFraction >= RISING_FRACTION;
    },
  };
}

/** `trend(xs, ys, window).leaking(slopeLimit)`. */
function isLeaking(xs, ys, slopeLimit, window = 0.5) {
  return trend(xs, ys, window).leaking(slopeLimit);
}

/**
 * A series of readings at points of progress (operations, rounds, images),
 * judged by the shared leak rule:
 *   const cps = new Checkpoints();          // reads rssBytes() by default
 *   await quiesce(); cps.record(opsDone);   // at each checkpoint
 *   cps.checkNoLeak({ limit: 500, unit: 'bytes per op' });
 */
class Checkpoints {
  constructor({ reading = rssBytes, window = 0.5, what = 'RSS' } = {}) {
    this.reading = reading;
    this.window = window;
    this.what = what;
    this.xs = [];
    this.ys = [];
  }

  record(x, value) {
    const y = value === undefined ? this.reading() : value;
    this.xs.push(x);
    this.ys.push(y);
    return y;
  }

  trend() {
    return trend(this.xs, this.ys, this.window);
  }

  /**
   * Records a failed check when the series leaks by the shared rule, or is
   * too short to judge. `limit` is in y units per x unit, which `unit` names
   * for the message. Reports `<figure>_slope` and `<figure>_rising_fraction`
   * unless `figure` is null. An RSS series (the default reading) is only
   * reported under a wrapper (see `wrapper()`): under ASan it moved by tens
   * of KB per step either way with no leak (quarantine, periodic release to
   * the OS, the record of every new allocation stack).
   */
  checkNoLeak({ limit, unit = 'bytes per step', figure = 'rss' }) {
    const t = this.trend();
    if (!t.judgeable) {
      return check(false, `${this.what}: only ${t.points} checkpoints in the judged window, ` +
        `${MIN_TREND_POINTS} needed: run longer or take more checkpoints`);
    }
    if (figure) {
      report(`${figure}_slope`, Number(t.slope.toFixed(3)));
      report(`${figure}_rising_fraction`, Number(t.risingFraction.toFixed(3)));
    }
    if (this.reading === rssBytes && wrapper()) return true;
    return check(
      !t.leaking(limit),
      `${this.what} grows ${t.slope.toFixed(1)} ${unit} (rising on ${(t.risingFraction * 100).toFixed(0)}% ` +
        `of checkpoints), limit ${limit} ${unit}`,
    );
  }
}

// ----------------------------------------------------------------- run / checks

const failed = [];

/**
 * A soft assertion: records `message` as a failure when `ok` is false and goes
 * on, so one run reports every failed check; `run()` then fails the suite.
 */
function check(ok, message) {
  if (!ok) failed.push(message);
  return Boolean(ok);
}

/** The failed checks recorded so far. */
const failures = () => failed.slice();

/**
 * Runs `main()` (sync or async). Prints `peak_rss_bytes` and `duration_ms`
 * always, then either the marker (every check and assertion held; exit code
 * 0) or each failure on stderr with exit code 1 (a check or an assertion,
 * i.e. an AssertionError from node:assert, failed) or 2 (main threw anything
 * else: the suite could not do its work). Sets process.exitCode rather than
 * calling exit(), so pending output is flushed; returns the exit code.
 */
async function run(main, name) {
  const label = name || path.basename(process.argv[1] || 'suite', '.js');
  failed.length = 0;
  let aborted = false;
  const started = process.hrtime.bigint();
  try {
    await main();
  } catch (err) {
    if (err && err.code === 'ERR_ASSERTION') {
      failed.push(`assertion failed: ${err.message}`);
    } else {
      aborted = true;
      failed.push(`aborted: ${err && err.stack ? err.stack : err}`);
    }
  }
  report('peak_rss_bytes', peakRssBytes());
  report('duration_ms', Number((process.hrtime.bigint() - started) / 1000000n));
  if (failed.length === 0) {
    process.stdout.write(`${MARKER}\n`);
    process.exitCode = 0;
  } else {
    for (const f of failed) process.stderr.write(`FAIL ${label}: ${f}\n`);
    process.exitCode = aborted ? 2 : 1;
  }
  return process.exitCode;
}

module.exports = {
  MB,
  RISING_FRACTION,
  MIN_TREND_POINTS,
  MARKER,
  scale,
  iterations,
  fixture,
  fixturePath,
  canary,
  expect,
  wrapper,
  libPath,
  report,
  progress,
  procStatus,
  rssBytes,
  vmsBytes,
  peakRssBytes,
  gc,
  quiesce,
  settleFinalizers,
  mb,
  trend,
  isLeaking,
  Checkpoints,
  check,
  failures,
  run,
};
