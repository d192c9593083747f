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
 *    every assertion held (`run()` does that, and sets the exit status);
 *  - a soak by duration (MEMTEST_DURATION_MS, set by `memtest run
 *    --duration` or the `soak` profile): `run(main)` runs `main` again and
 *    again until that much time has passed since the module loaded (or a
 *    check fails), prints `MEMTEST soak_passes=N` after each pass, and
 *    `progress` counts on across passes, so memtest sees one long measured
 *    loop; a suite needs no change;
 *  - attribution mode (MEMTEST_EXPLAIN, set by `memtest explain`): a V8 heap
 *    snapshot at the first checkpoint (the first `Checkpoints.record` or
 *    `progress(0)`) and one when `main` has returned; `run()` prints the
 *    constructors whose objects grew in between, each with a shortest
 *    retainer path, as `MEMTEST site={json}` lines (`reportSites` passes on
 *    a native library's own site lines);
 *  - cause mode (MEMTEST_CAUSE, set by `memtest explain` to tell a leak from
 *    memory the allocator keeps): every `Checkpoints.record` prints
 *    `MEMTEST checkpoint=X` with RSS, V8's used heap and, where the suite has
 *    koffi, glibc's in-use and free bytes (`mallinfo2`), after
 *    `malloc_trim(0)` when MEMTEST_MALLOC_TRIM is set.
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
const os = require('node:os');
const path = require('node:path');
const v8 = require('node:v8');
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

const loaded = process.hrtime.bigint();

/**
 * MEMTEST_DURATION_MS: the soak's duration in milliseconds, or null when the
 * run is not a soak by duration (the suite's work runs once).
 */
function durationMs() {
  const raw = (process.env.MEMTEST_DURATION_MS || '').trim();
  if (raw === '') return null;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`MEMTEST_DURATION_MS must be a positive whole number, got '${raw}'`);
  }
  return value;
}

/** Seconds left of a soak by duration, from the module's load (0 when not a soak, or the time is up). */
function soakLeftS() {
  const ms = durationMs();
  if (ms === null) return 0;
  const elapsedMs = Number((process.hrtime.bigint() - loaded) / 1000000n);
  return Math.max(0, (ms - elapsedMs) / 1000);
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

/**
 * MEMTEST_EXPLAIN: the suite runs in memtest's attribution mode (`memtest
 * explain`) and should report its leak sites.
 */
function explain() {
  const v = process.env.MEMTEST_EXPLAIN || '';
  return v !== '' && v !== '0';
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
  if (operations === 0) heapSites.checkpoint();
  // A soak's later passes count on from the last: one measured loop.
  const total = progressCount.base + operations;
  progressCount.high = Math.max(progressCount.high, total);
  process.stdout.write(`MEMTEST progress=${total}\n`);
}

const progressCount = { base: 0, high: 0 };

/**
 * Passes on `MEMTEST` lines a library produced itself (e.g. its leak sites
 * in attribution mode, `MEMTEST site={json}`); other lines are dropped.
 */
function reportSites(lines) {
  for (const line of String(lines).split('\n')) {
    if (line.startsWith('MEMTEST ')) process.stdout.write(`${line}\n`);
  }
}

// ------------------------------------------------------------ attribution mode

/** Reads a .heapsnapshot: its nodes, edges and strings, with field offsets. */
function readSnapshot(file) {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8'));
  const meta = snap.snapshot.meta;
  const nf = meta.node_fields;
  const ef = meta.edge_fields;
  return {
    nodes: snap.nodes,
    edges: snap.edges,
    strings: snap.strings,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    nodeSize: nf.length,
    edgeSize: ef.length,
    n: { type: nf.indexOf('type'), name: nf.indexOf('name'), id: nf.indexOf('id'),
      self: nf.indexOf('self_size'), edges: nf.indexOf('edge_count') },
    e: { type: ef.indexOf('type'), name: ef.indexOf('name_or_index'), to: ef.indexOf('to_node') },
  };
}

/** Writes a heap snapshot to a file of its own; returns its path. */
function writeSnapshot() {
  const file = path.join(os.tmpdir(), `memtest-${process.pid}-${process.hrtime.bigint()}.heapsnapshot`);
  return v8.writeHeapSnapshot(file);
}

/** Types of heap nodes a person would call an object of their program. */
const OWNER_TYPES = new Set(['object', 'closure', 'regexp']);

/**
 * The growth between two heap snapshots by constructor, memlab's way: the
 * objects of `after` that `before` did not have (V8 keeps object ids across
 * snapshots), each counted to its nearest owner on its shortest path from
 * the GC roots (a Planted instance's internal arrays count as Planted), with
 * that path for the largest. Returns sites, largest first.
 */
function heapGrowth(before, after) {
  const known = new Set();
  for (let i = before.n.id; i < before.nodes.length; i += before.nodeSize) known.add(before.nodes[i]);
  const { nodes, edges, strings, nodeSize, edgeSize, n, e } = after;
  const count = nodes.length / nodeSize;
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) firstEdge[i + 1] = firstEdge[i] + nodes[i * nodeSize + n.edges] * edgeSize;
  const type = (i) => after.nodeTypes[nodes[i * nodeSize + n.type]];
  const name = (i) => strings[nodes[i * nodeSize + n.name]];
  // Shortest paths from the root (node 0) over strong edges.
  const parent = new Int32Array(count).fill(-1);
  const via = new Int32Array(count).fill(-1);
  const queue = new Uint32Array(count);
  let head = 0;
  let tail = 0;
  queue[tail++] = 0;
  parent[0] = 0;
  while (head < tail) {
    const i = queue[head++];
    for (let ei = firstEdge[i]; ei < firstEdge[i + 1]; ei += edgeSize) {
      if (after.edgeTypes[edges[ei + e.type]] === 'weak') continue;
      const to = edges[ei + e.to] / nodeSize;
      if (parent[to] !== -1) continue;
      parent[to] = i;
      via[to] = ei;
      queue[tail++] = to;
    }
  }
  const isOwner = (i) => OWNER_TYPES.has(type(i)) && !/^[(]|^system \//.test(name(i));
  const isNew = (i) => !known.has(nodes[i * nodeSize + n.id]);
  // A new node counts to the outermost new object holding it (a Planted
  // instance's payload arrays are Planted's), or, held by an old one, to
  // the nearest object above it (strings pushed into an old Array).
  const ownerOf = (i) => {
    let outermostNew = -1;
    let nearest = -1;
    let allNew = true;
    for (let at = i, hops = 0; at !== 0 && hops < 64; at = parent[at], hops++) {
      allNew = allNew && isNew(at);
      if (!isOwner(at)) continue;
      if (nearest === -1) nearest = at;
      if (allNew) outermostNew = at;
      else break;
    }
    return outermostNew !== -1 ? outermostNew : nearest;
  };
  const sites = new Map();
  for (let i = 1; i < count; i++) {
    if (!isNew(i) || parent[i] === -1) continue;
    const owner = ownerOf(i);
    if (owner === -1) continue;
    const key = name(owner);
    const site = sites.get(key) || { bytes: 0, blocks: 0, example: owner };
    site.bytes += nodes[i * nodeSize + n.self];
    if (i === owner) {
      site.blocks += 1;
      site.example = owner;
    }
    sites.set(key, site);
  }
  const edgeLabel = (ei) => {
    const kind = after.edgeTypes[edges[ei + e.type]];
    const v = edges[ei + e.name];
    return kind === 'element' || kind === 'hidden' ? `[${v}]` : `.${strings[v]}`;
  };
  const pathOf = (i) => {
    const frames = [{ function: name(i) }];
    for (let at = i, hops = 0; at !== 0 && hops < 12; at = parent[at], hops++) {
      frames.push({ function: `${name(parent[at]) || `(${type(parent[at])})`}${edgeLabel(via[at])}` });
    }
    return frames;
  };
  return [...sites.entries()]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .map(([, s]) => ({ layer: 'js', source: 'heap-snapshot', bytes: s.bytes, blocks: s.blocks, frames: pathOf(s.example) }));
}

/** JS leak sites (attribution mode): heap snapshots and their growth. */
const heapSites = {
  TOP: 10,
  FLOOR: 1024, // bytes: smaller growth is not printed at all
  // The first snapshot stays a file until the second is written: read
  // earlier, its own arrays would be the largest growth of all.
  first: null,
  checkpoint() {
    if (explain() && this.first === null) this.first = writeSnapshot();
  },
  lines() {
    if (this.first === null) return [];
    const second = writeSnapshot();
    try {
      return heapGrowth(readSnapshot(this.first), readSnapshot(second))
        .filter((s) => s.bytes >= this.FLOOR)
        .slice(0, this.TOP)
        .map((s) => `MEMTEST site=${JSON.stringify(s)}`);
    } finally {
      for (const f of [this.first, second]) fs.rmSync(f, { force: true });
      this.first = null;
    }
  },
};

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
/** Set, non-empty and not "0". */
function flag(name) {
  const v = process.env[name];
  return v !== undefined && v !== '' && v !== '0';
}

/**
 * glibc's mallinfo2 and malloc_trim through koffi, when the suite has koffi
 * (resolved from its own folder or the working directory); null otherwise.
 */
function loadLibc() {
  if (process.platform !== 'linux') return null;
  try {
    const paths = [process.cwd()];
    if (require.main && require.main.filename) paths.unshift(path.dirname(require.main.filename));
    const koffi = require(require.resolve('koffi', { paths }));
    const libc = koffi.load('libc.so.6');
    const fields = ['arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks', 'fsmblks',
      'uordblks', 'fordblks', 'keepcost'];
    const MallInfo2 = koffi.struct('memtest_mallinfo2', Object.fromEntries(fields.map((f) => [f, 'size_t'])));
    return {
      mallinfo2: libc.func('mallinfo2', MallInfo2, []),
      mallocTrim: libc.func('malloc_trim', 'int', ['size_t']),
    };
  } catch {
    return null;
  }
}

/** Cause mode's figures at each checkpoint (see the header). */
const cause = {
  on: flag('MEMTEST_CAUSE'),
  libc: undefined,
  checkpoint(x) {
    if (!this.on) return;
    if (this.libc === undefined) this.libc = loadLibc();
    const pairs = [['checkpoint', x]];
    let rss = rssBytes();
    if (flag('MEMTEST_MALLOC_TRIM') && this.libc) {
      this.libc.mallocTrim(0);
      const after = rssBytes();
      pairs.push(['malloc_trimmed_bytes', Math.max(rss - after, 0)]);
      rss = after;
    }
    pairs.push(['rss_bytes', rss]);
    if (this.libc) {
      const mi = this.libc.mallinfo2();
      pairs.push(['malloc_in_use_bytes', Number(mi.uordblks) + Number(mi.hblkhd)]);
      pairs.push(['malloc_free_bytes', Number(mi.fordblks)]);
    }
    pairs.push(['js_heap_used_bytes', process.memoryUsage().heapUsed]);
    process.stdout.write(`MEMTEST ${pairs.map(([n, v]) => `${n}=${v}`).join(' ')}\n`);
  },
};

class Checkpoints {
  constructor({ reading = rssBytes, window = 0.5, what = 'RSS' } = {}) {
    this.reading = reading;
    this.window = window;
    this.what = what;
    this.xs = [];
    this.ys = [];
  }

  record(x, value) {
    heapSites.checkpoint();
    cause.checkpoint(x);
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
  const soak = durationMs() !== null;
  try {
    // A soak by duration: pass after pass until the time is up or a check
    // failed. Each pass is the suite's whole work with its own checks; what
    // one pass leaves behind the next ones pile up, and memtest's samples
    // see it.
    for (let passes = 1; ; passes++) {
      await main();
      if (!soak) break;
      report('soak_passes', passes);
      if (failed.length > 0 || soakLeftS() <= 0) break;
      progressCount.base = progressCount.high;
    }
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
  for (const line of heapSites.lines()) process.stdout.write(`${line}\n`);
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
  durationMs,
  soakLeftS,
  fixture,
  fixturePath,
  canary,
  expect,
  wrapper,
  explain,
  libPath,
  report,
  reportSites,
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
  heapGrowth,
  readSnapshot,
};
