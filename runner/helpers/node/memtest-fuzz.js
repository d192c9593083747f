'use strict';
/**
 * memtest-fuzz: leak-aware fuzzing of a binding, the generic half (Node).
 *
 * memtest writes this file beside memtest-suite.js (.memtest/helpers/node, on
 * NODE_PATH). A fuzz suite says how one input goes through the binding and
 * how to read the library's live allocation count:
 *
 *     const fuzz = require('memtest-fuzz');
 *     fuzz.main({
 *       oneInput(data) { try { lib.process(data); return 'ok'; } catch (e) { return e.code; } },
 *       live: () => lib.allocStats().liveAllocations,
 *       seeds: [...small valid inputs...],
 *     });
 *
 * The oracle, the findings and the environment are memtest_fuzz.py's (see
 * there and docs/fuzzing.md): after each call (and, when the count is not
 * back, a collection and a turn of the event loop for finalizers) the live
 * allocation count must be where it was; a count that stays up is run once
 * more on the same input; leak, escaped exception, per-input timeout and
 * RSS growth save `<kind>-<sha1>` plus `.json` in MEMTEST_FUZZ_DIR, and the
 * input being run is always in `<dir>/.current` for a crash.
 *
 * The engine is the builtin seeded mutation loop: @jazzer.js/core installs
 * from npm, but its prebuilt libFuzzer addon needs glibc 2.38 (this
 * project's CI image has an older one) and its older releases download the
 * addon from GitHub at install time (docs/fuzzing.md). MEMTEST_FUZZ_ORACLE=0
 * runs the loop without the allocation check (the benchmark's baseline).
 */

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { Worker } = require('worker_threads');

const MARKER = 'TEST PASSED';
const INTERESTING = [0, 1, 7, 0x7f, 0x80, 0xff, 0x3d, 0x44];

function envNumber(name, fallback) {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? fallback : Number(raw);
}

function report(name, value) {
  process.stdout.write(`MEMTEST ${name}=${value}\n`);
}

/** mulberry32: a small seeded PRNG, so a seed gives the same inputs. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { below: (n) => Math.floor(next() * n), pick: (xs) => xs[Math.floor(next() * xs.length)] };
}

/** The builtin engine: a seeded corpus and byte mutations, the labels
 * oneInput returns as its only feedback. */
class Mutator {
  constructor(seeds, seed, maxLen) {
    this.r = rng(seed);
    this.corpus = seeds.length ? seeds.map((s) => Buffer.from(s.subarray(0, maxLen))) : [Buffer.from([0])];
    this.maxLen = maxLen;
    this.labels = new Set();
  }

  keep(data, label) {
    if (label === undefined || this.labels.has(label)) return;
    this.labels.add(label);
    this.corpus.push(data);
  }

  next() {
    let data = Array.from(this.r.pick(this.corpus));
    const n = 1 + this.r.below(4);
    for (let k = 0; k < n; k++) data = this.mutate(data);
    return Buffer.from(data.slice(0, this.maxLen));
  }

  mutate(d) {
    const r = this.r;
    if (d.length === 0) return [r.below(256)];
    const i = r.below(d.length);
    switch (r.below(8)) {
      case 0: d[i] ^= 1 << r.below(8); return d;
      case 1: d[i] = r.below(256); return d;
      case 2: d[i] = r.pick(INTERESTING); return d;
      // Arithmetic: a length, a dimension, a count one step off.
      case 7: d[i] = (d[i] + (r.below(2) ? 1 : -1) * (1 + r.below(16))) & 0xff; return d;
      case 3: {
        const ins = Array.from({ length: 1 + r.below(8) }, () => r.below(256));
        return d.slice(0, i).concat(ins, d.slice(i));
      }
      case 4: return d.length > 1 ? d.slice(0, i).concat(d.slice(i + 1 + r.below(Math.min(16, d.length - i)))) : d;
      case 5: {
        const other = Array.from(r.pick(this.corpus));
        if (other.length === 0) return d;
        const j = r.below(other.length);
        return d.slice(0, i).concat(other.slice(j, j + 1 + r.below(64)), d.slice(i));
      }
      default: return d.slice(0, i + 1);
    }
  }
}

// The watchdog thread: the main thread may be stuck in a native call, so it
// watches a shared start time and copy of the input, and on a timeout saves
// the input itself, writes straight to fd 1 and kills the process.
const WATCHDOG = `
const { workerData } = require('worker_threads');
const fs = require('fs');
const { started, len, bytes, dir, timeoutMs, seed } = workerData;
const t = new Float64Array(started), n = new Int32Array(len), b = new Uint8Array(bytes);
setInterval(() => {
  const s = t[0];
  if (s > 0 && Date.now() - s > timeoutMs) {
    const data = Buffer.from(b.slice(0, Atomics.load(n, 0)));
    const digest = require('crypto').createHash('sha1').update(data).digest('hex').slice(0, 12);
    const file = dir + '/hang-' + digest;
    fs.writeFileSync(file, data);
    fs.writeFileSync(file + '.json', JSON.stringify({ kind: 'hang', figure: timeoutMs / 1000, unit: 'seconds (per-input timeout)', seed, bytes: data.length, suite: process.env.MEMTEST_FUZZ_SUITE || null, variant: process.env.MEMTEST_FUZZ_VARIANT || null }, null, 1) + '\\n');
    fs.writeSync(1, 'FUZZ finding hang: ' + timeoutMs / 1000 + ' s: ' + file + '\\nMEMTEST fuzz_findings=1\\n');
    fs.writeSync(2, 'FAIL fuzz: an input ran longer than ' + timeoutMs / 1000 + ' s: ' + file + '\\n');
    // Saved as a hang: no .current left for memtest to save as a crash.
    fs.rmSync(dir + '/.current', { force: true });
    process.kill(process.pid, 'SIGKILL');
  }
}, 50);
`;

class Run {
  constructor(target, name) {
    this.oneInput = target.oneInput;
    this.live = target.live;
    this.oracle = process.env.MEMTEST_FUZZ_ORACLE !== '0';
    this.dir = process.env.MEMTEST_FUZZ_DIR || path.join('.memtest', 'fuzz', name);
    fs.mkdirSync(this.dir, { recursive: true });
    this.seed = envNumber('MEMTEST_FUZZ_SEED', 0);
    this.maxLen = envNumber('MEMTEST_FUZZ_MAX_LEN', 4096);
    this.rssBound = envNumber('MEMTEST_FUZZ_RSS_BYTES', 256e6);
    this.execs = 0;
    this.findings = 0;
    this.leaked = 0;
    this.currentFd = fs.openSync(path.join(this.dir, '.current'), 'w');
    this.started = new Float64Array(new SharedArrayBuffer(8));
    this.len = new Int32Array(new SharedArrayBuffer(4));
    this.bytes = new Uint8Array(new SharedArrayBuffer(this.maxLen + 65536));
    this.rssStart = 0;
  }

  watchdog() {
    const timeoutMs = envNumber('MEMTEST_FUZZ_INPUT_TIMEOUT', 10) * 1000;
    const w = new Worker(WATCHDOG, {
      eval: true,
      workerData: {
        started: this.started.buffer, len: this.len.buffer, bytes: this.bytes.buffer,
        dir: path.resolve(this.dir), timeoutMs, seed: this.seed,
      },
    });
    w.unref();
  }

  call(data) {
    // The input being run survives a crash of this process.
    fs.writeSync(this.currentFd, data, 0, data.length, 0);
    fs.ftruncateSync(this.currentFd, data.length);
    const n = Math.min(data.length, this.bytes.length);
    this.bytes.set(data.subarray(0, n));
    Atomics.store(this.len, 0, n);
    this.started[0] = Date.now();
    try {
      return this.oneInput(data);
    } finally {
      this.started[0] = 0;
    }
  }

  async settle() {
    global.gc();
    // FinalizationRegistry callbacks run as tasks after the collection.
    await new Promise((resolve) => setImmediate(resolve));
    global.gc();
  }

  /** One input: [finding or null, label]. */
  async check(data) {
    const before = this.oracle ? this.live() : 0;
    let label;
    try {
      label = this.call(data);
    } catch (err) {
      return [{ kind: 'exception', figure: 1, leaked: 0, unit: `raised ${err && err.name}: ${err && err.message}` }, undefined];
    }
    this.execs++;
    if (!this.oracle) return [null, label];
    let after = this.live();
    if (after !== before) {
      await this.settle();
      after = this.live();
    }
    if (after > before) {
      // Again: a lazy cache fills once, a leak leaves memory every time.
      const againBefore = this.live();
      try { this.call(data); } catch (_) { /* judged above */ }
      await this.settle();
      const again = this.live() - againBefore;
      if (again > 0) return [{ kind: 'leak', figure: again, leaked: again, unit: 'allocations left live' }, label];
    }
    if (this.rssBound && (this.execs & 63) === 0) {
      const grown = process.memoryUsage.rss() - this.rssStart;
      if (grown > this.rssBound) return [{ kind: 'rss', figure: grown, leaked: 0, unit: 'bytes of RSS growth' }, label];
    }
    return [null, label];
  }

  save(f, data) {
    const digest = crypto.createHash('sha1').update(data).digest('hex').slice(0, 12);
    const file = path.join(this.dir, `${f.kind}-${digest}`);
    fs.writeFileSync(file, data);
    const meta = {
      kind: f.kind, figure: f.figure, unit: f.unit, seed: this.seed, exec: this.execs, script: process.argv[1], bytes: data.length,
      suite: process.env.MEMTEST_FUZZ_SUITE || null, variant: process.env.MEMTEST_FUZZ_VARIANT || null,
    };
    fs.writeFileSync(`${file}.json`, `${JSON.stringify(meta, null, 1)}\n`);
    this.findings++;
    this.leaked = this.leaked || f.leaked;
    process.stdout.write(`FUZZ finding ${f.kind}: ${f.figure} ${f.unit}: ${file}\n`);
    report(`fuzz_finding_${f.kind}`, typeof f.figure === 'number' ? f.figure : 1);
  }

  finish(startedMs) {
    const elapsed = (Date.now() - startedMs) / 1000;
    report('fuzz_execs', this.execs);
    if (elapsed > 0) report('fuzz_execs_per_s', (this.execs / elapsed).toFixed(1));
    report('fuzz_findings', this.findings);
    report('native_leaks', this.leaked);
    fs.closeSync(this.currentFd);
    fs.rmSync(path.join(this.dir, '.current'), { force: true });
    if (this.findings) {
      process.stderr.write(`FAIL fuzz: ${this.findings} finding(s) in ${this.dir}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(`${MARKER}\n`);
      process.exitCode = 0;
    }
    setImmediate(() => process.exit());
  }
}

async function replay(run, file) {
  const data = fs.readFileSync(file);
  process.stdout.write(`FUZZ replay ${file} (${data.length} bytes)\n`);
  const [f] = await run.check(data);
  report('fuzz_execs', run.execs);
  report('native_leaks', f ? f.leaked : 0);
  if (!f) {
    process.stdout.write(`${MARKER}\n`);
    process.exit(0);
  }
  process.stdout.write(`FUZZ still fails: ${f.kind}: ${f.figure} ${f.unit}\n`);
  process.stderr.write(`FAIL fuzz: ${file} still fails (${f.kind}: ${f.figure} ${f.unit})\n`);
  process.exit(1);
}

/** Fuzzes target.oneInput until the budget is spent or an input fails the
 * oracle, then ends the process (0 with the marker, 1 on a finding). */
async function main(target, name) {
  if (typeof global.gc !== 'function') throw new Error('global.gc is missing: run node with --expose-gc');
  name = name || process.env.MEMTEST_FUZZ_SUITE || path.basename(process.argv[1] || 'fuzz', '.js');
  const run = new Run(target, name);
  const seeds = (target.seeds || []).map((s) => Buffer.from(s));
  // Warm-up: every seed once, so one-time allocations are made first.
  for (const s of seeds) {
    try { target.oneInput(s); } catch (_) { /* judged later */ }
  }
  await run.settle();
  run.rssStart = process.memoryUsage.rss();
  run.watchdog();
  const startedMs = Date.now();
  if (process.env.MEMTEST_FUZZ_REPLAY) return replay(run, process.env.MEMTEST_FUZZ_REPLAY);
  const engine = process.env.MEMTEST_FUZZ_ENGINE || 'auto';
  if (engine !== 'auto' && engine !== 'builtin') {
    process.stderr.write(`memtest-fuzz: engine ${engine} is not available for node; the builtin loop runs\n`);
  }
  process.stdout.write(`FUZZ engine=builtin seed=${run.seed} dir=${run.dir} oracle=${run.oracle ? 'on' : 'off'}\n`);
  const scale = envNumber('MEMTEST_SCALE', 1);
  const deadline = startedMs + 1000 * envNumber('MEMTEST_FUZZ_TIME', Math.max(10, 30 * scale));
  const runs = envNumber('MEMTEST_FUZZ_RUNS', 0);
  const mutator = new Mutator(seeds, run.seed, run.maxLen);
  const judge = async (data) => {
    const [f, label] = await run.check(data);
    mutator.keep(data, label);
    if (f) run.save(f, data);
    return f !== null;
  };
  let stop = false;
  for (const s of mutator.corpus.slice()) {
    if ((stop = await judge(s))) break;
  }
  while (!stop) {
    if (runs && run.execs >= runs) break;
    if ((run.execs & 15) === 0 && Date.now() >= deadline) break;
    stop = await judge(mutator.next());
  }
  run.finish(startedMs);
}

module.exports = { main, Mutator };
