'use strict';
// Tests of memtest-suite: the leak rule on scripted series, the environment it
// parses, figure lines, and run()'s marker and exit codes (in a child process,
// since run() sets the exit code). `node --test runner/helpers/node/test/`.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { spawnSync } = require('node:child_process');

const HELPERS = path.join(__dirname, '..');
const m = require(path.join(HELPERS, 'memtest-suite.js'));

const N = 40;
const series = (f) => {
  const xs = Array.from({ length: N }, (_, i) => i);
  return [xs, xs.map(f)];
};
// Deterministic noise (a small LCG), so a failure reproduces.
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

function withEnv(vars, fn) {
  const saved = {};
  for (const k of Object.keys(vars)) {
    saved[k] = process.env[k];
    if (vars[k] === undefined) delete process.env[k];
    else process.env[k] = vars[k];
  }
  try {
    return fn();
  } finally {
    for (const k of Object.keys(saved)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

test('flat series is not leaking', () => {
  const [xs, ys] = series(() => 50 * m.MB);
  const t = m.trend(xs, ys);
  assert.equal(t.slope, 0);
  assert.equal(t.risingFraction, 0);
  assert.equal(t.points, N / 2);
  assert.equal(t.leaking(1000), false);
});

test('noisy flat series is not leaking', () => {
  const r = rng(7);
  const [xs, ys] = series(() => 50 * m.MB + r() * m.MB);
  assert.ok(m.trend(xs, ys).risingFraction < m.RISING_FRACTION);
  assert.equal(m.isLeaking(xs, ys, 1), false);
});

test('steady leak is leaking, and only above its limit', () => {
  const [xs, ys] = series((i) => 50 * m.MB + i * 100000);
  const t = m.trend(xs, ys);
  assert.ok(Math.abs(t.slope - 100000) < 1e-6);
  assert.equal(t.risingFraction, 1);
  assert.equal(t.leaking(50000), true);
  assert.equal(t.leaking(200000), false);
});

test('noisy steady leak is leaking', () => {
  const r = rng(11);
  const [xs, ys] = series((i) => 50 * m.MB + i * m.MB + r() * 0.3 * m.MB);
  assert.equal(m.isLeaking(xs, ys, 0.5 * m.MB), true);
});

test('one late step is not a leak', () => {
  const [xs, ys] = series((i) => (i < N - 3 ? 50 : 60) * m.MB);
  const t = m.trend(xs, ys);
  assert.ok(t.slope > 100000);
  assert.ok(t.risingFraction < m.RISING_FRACTION);
  assert.equal(t.leaking(100000), false);
});

test('growth that stopped before the window is not a leak; the whole series calls it one', () => {
  const [xs, ys] = series((i) => 10 * m.MB + Math.min(i, (3 * N) / 4) * m.MB);
  assert.equal(m.isLeaking(xs, ys, 1000), false);
  assert.equal(m.isLeaking(xs, ys, 1000, 1.0), true);
});

test('a leak starting late is caught', () => {
  const [xs, ys] = series((i) => 50 * m.MB + Math.max(0, i - N / 2) * 200000);
  assert.equal(m.isLeaking(xs, ys, 100000), true);
});

test('too few points cannot be judged; bad input is refused', () => {
  const t = m.trend([0, 1, 2, 3], [1, 2, 3, 4]);
  assert.equal(t.judgeable, false);
  assert.throws(() => t.leaking(0), /3 needed/);
  assert.throws(() => m.trend([1, 2, 3], [1, 2]), /xs but/);
  assert.throws(() => m.trend([1, 2, 3], [1, 2, 3], 0), /window/);
});

test('Checkpoints judge by the shared rule and fail when too short', () => {
  let v = 0;
  const leak = new m.Checkpoints({ reading: () => (v += 100000) });
  for (let i = 0; i < 20; i++) leak.record(i);
  const before = m.failures().length;
  assert.equal(leak.checkNoLeak({ limit: 1000, unit: 'bytes per op', figure: null }), false);
  assert.match(m.failures()[before], /RSS grows 100000\.0 bytes per op/);
  const flat = new m.Checkpoints();
  for (let i = 0; i < 20; i++) flat.record(i, 5 * m.MB);
  assert.equal(flat.checkNoLeak({ limit: 1000, figure: null }), true);
  const short = new m.Checkpoints();
  short.record(0, 1);
  assert.equal(short.checkNoLeak({ limit: 1000 }), false);
  assert.match(m.failures().at(-1), /only 1 checkpoints/);
});

test('under a wrapper an RSS trend is reported, not judged; other series still are', () => {
  withEnv({ MEMTEST_WRAPPER: 'asan' }, () => {
    assert.equal(m.wrapper(), 'asan');
    const rss = new m.Checkpoints();
    for (let i = 0; i < 20; i++) rss.record(i, 5 * m.MB + i * 100000);
    const before = m.failures().length;
    assert.equal(rss.checkNoLeak({ limit: 1000, figure: null }), true);
    assert.equal(m.failures().length, before);
    let v = 0;
    const counted = new m.Checkpoints({ reading: () => (v += 100000), what: 'live bytes' });
    for (let i = 0; i < 20; i++) counted.record(i);
    assert.equal(counted.checkNoLeak({ limit: 1000, figure: null }), false);
    assert.match(m.failures().at(-1), /live bytes grows 100000\.0/);
  });
  withEnv({ MEMTEST_WRAPPER: undefined }, () => {
    assert.equal(m.wrapper(), null);
    const rss = new m.Checkpoints();
    for (let i = 0; i < 20; i++) rss.record(i, 5 * m.MB + i * 100000);
    assert.equal(rss.checkNoLeak({ limit: 1000, figure: null }), false);
  });
});

test('scale and iterations', () => {
  withEnv({ MEMTEST_SCALE: undefined }, () => {
    assert.equal(m.scale(), 1);
    assert.equal(m.iterations(15000), 15000);
  });
  withEnv({ MEMTEST_SCALE: '0.1' }, () => {
    assert.equal(m.scale(), 0.1);
    assert.equal(m.iterations(15000), 1500);
    assert.equal(m.iterations(3), 1);
    assert.equal(m.iterations(3, 20), 20);
  });
  withEnv({ MEMTEST_SCALE: '0.5' }, () => assert.equal(m.iterations(5), 3)); // 2.5: halves round up
  for (const bad of ['0', '-1', 'abc', 'Infinity', 'NaN']) {
    withEnv({ MEMTEST_SCALE: bad }, () => assert.throws(() => m.scale(), /MEMTEST_SCALE must be a positive number/));
  }
});

test('fixtures, canary, expect, libPath', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memtest-'));
  fs.writeFileSync(path.join(dir, 'a.bin'), 'abc');
  withEnv({ MEMTEST_FIXTURES: dir }, () => {
    assert.equal(m.fixture('a.bin').toString(), 'abc');
    assert.throws(() => m.fixture('b.bin'), /b\.bin is missing/);
  });
  withEnv({ MEMTEST_FIXTURES: undefined }, () => assert.throws(() => m.fixture('a.bin'), /MEMTEST_FIXTURES is not set/));
  withEnv({ MEMTEST_CANARY: undefined, MEMTEST_EXPECT: undefined }, () => {
    assert.equal(m.canary(), null);
    assert.equal(m.expect(), 'pass');
  });
  withEnv({ MEMTEST_CANARY: 'retain', MEMTEST_EXPECT: 'fail' }, () => {
    assert.equal(m.canary(), 'retain');
    assert.equal(m.expect(), 'fail');
  });
  withEnv({ X_LIB: path.join(dir, 'a.bin') }, () => assert.equal(m.libPath('X_LIB'), path.join(dir, 'a.bin')));
  withEnv({ X_LIB: path.join(dir, 'nope.so') }, () => assert.throws(() => m.libPath('X_LIB'), /does not exist/));
  withEnv({ X_LIB: undefined }, () => assert.throws(() => m.libPath('X_LIB'), /X_LIB is not set/));
});

test('progress prints a count and refuses anything else', () => {
  for (const bad of [-1, 2.5, NaN, '3', true]) assert.throws(() => m.progress(bad));
  const p = runSuite(`m.run(async () => { m.progress(0); m.progress(1500); m.check(true, 'ok'); });`);
  assert.match(p.stdout, /^MEMTEST progress=0\nMEMTEST progress=1500\n/m);
});

test('report refuses bad names and values', () => {
  for (const [name, value] of [['bad name', 1], ['x', Infinity], ['x', '1'], ['x', NaN]]) {
    assert.throws(() => m.report(name, value));
  }
});

test('memory readings are plausible and follow an allocation', () => {
  const rss = m.rssBytes();
  assert.ok(rss > 1 * m.MB && rss <= m.peakRssBytes());
  assert.ok(m.vmsBytes() > rss);
  const block = Buffer.alloc(64 * m.MB, 1); // filled: the pages are touched
  assert.ok(m.rssBytes() - rss > 32 * m.MB);
  assert.equal(block[block.length - 1], 1);
});

function runSuite(body, env = {}) {
  const script = `const m = require('memtest-suite');\n${body}`;
  return spawnSync(process.execPath, ['--expose-gc', '-e', script], {
    env: { ...process.env, NODE_PATH: HELPERS, ...env },
    encoding: 'utf8',
    timeout: 60000,
  });
}

test('run passes: marker last, exit 0, figures', () => {
  const p = runSuite(`m.run(async () => { await m.quiesce(); m.check(true, 'ok'); m.report('operations', 3); });`);
  assert.equal(p.status, 0, p.stderr);
  const lines = p.stdout.trim().split('\n');
  assert.equal(lines.at(-1), 'TEST PASSED');
  assert.ok(lines.includes('MEMTEST operations=3'));
  assert.ok(lines.some((l) => l.startsWith('MEMTEST peak_rss_bytes=')));
});

test('a soak repeats main until its duration, progress counting on across passes', () => {
  const p = runSuite(
    `m.run(async () => { m.progress(0); await new Promise((r) => setTimeout(r, 50)); m.progress(10); });`,
    { MEMTEST_DURATION_MS: '400' },
  );
  assert.equal(p.status, 0, p.stderr);
  const lines = p.stdout.trim().split('\n');
  const values = (name) => lines.filter((l) => l.startsWith(`MEMTEST ${name}=`)).map((l) => Number(l.split('=')[1]));
  const passes = values('soak_passes');
  assert.ok(passes.length >= 4, `${passes}`);
  assert.deepEqual(passes, passes.map((_, i) => i + 1));
  const progress = values('progress');
  assert.deepEqual(progress.slice(0, 4), [0, 10, 10, 20]);
  assert.equal(progress.filter((v) => v === 0).length, 1);
  const duration = values('duration_ms')[0];
  assert.ok(duration >= 400 && duration < 2000, `${duration}`);
  assert.equal(lines.at(-1), 'TEST PASSED');
});

test('a soak stops at the first failed pass; without a duration main runs once', () => {
  const p = runSuite(
    `let n = 0; m.run(() => { n += 1; m.check(n < 3, \`pass \${n} leaked\`); }, 'soak');`,
    { MEMTEST_DURATION_MS: '60000' },
  );
  assert.equal(p.status, 1);
  assert.match(p.stdout, /MEMTEST soak_passes=3\n/);
  assert.ok(!p.stdout.includes('soak_passes=4'));
  assert.match(p.stderr, /FAIL soak: pass 3 leaked/);
  const once = runSuite(`m.run(() => { console.log('pass'); });`);
  assert.equal(once.stdout.split('pass\n').length - 1, 1);
  assert.ok(!once.stdout.includes('soak_passes'));
});

test('run with a failed check: exit 1, every failure, no marker', () => {
  const p = runSuite(`m.run(() => { m.check(false, 'native live allocations 3 above baseline, limit 0'); m.check(false, 'second'); }, 'leaky');`);
  assert.equal(p.status, 1);
  assert.ok(!p.stdout.includes('TEST PASSED'));
  assert.match(p.stderr, /FAIL leaky: native live allocations 3 above baseline, limit 0/);
  assert.match(p.stderr, /FAIL leaky: second/);
  assert.match(p.stdout, /MEMTEST peak_rss_bytes=\d+/);
});

test('run with a failed node:assert: exit 1', () => {
  const p = runSuite(`const assert = require('node:assert'); m.run(() => { assert.equal(1 + 1, 3, 'arithmetic is broken'); });`);
  assert.equal(p.status, 1);
  assert.ok(!p.stdout.includes('TEST PASSED'));
  assert.match(p.stderr, /assertion failed: arithmetic is broken/);
});

test('run when main throws: exit 2 with the stack', () => {
  const p = runSuite(`m.run(async () => { m.fixture('missing.png'); });`, { MEMTEST_FIXTURES: '/nonexistent' });
  assert.equal(p.status, 2);
  assert.ok(!p.stdout.includes('TEST PASSED'));
  assert.match(p.stderr, /aborted: Error: fixture .*missing\.png is missing/);
});

test('gc without --expose-gc fails the suite', () => {
  const p = spawnSync(process.execPath, ['-e', `const m = require('memtest-suite'); m.run(() => m.gc());`], {
    env: { ...process.env, NODE_PATH: HELPERS },
    encoding: 'utf8',
  });
  assert.equal(p.status, 2);
  assert.match(p.stderr, /run node with --expose-gc/);
});

// ------------------------------------------------------------ attribution mode

const PLANTED = `
class PlantedLeak { constructor(i) { this.id = i; this.payload = new Array(64).fill(i); } }
const kept = [];
m.run(async () => {
  const cps = new m.Checkpoints();
  for (let i = 0; i < 2000; i++) {
    if (i % 100 === 0) cps.record(i);
    kept.push(new PlantedLeak(i));
    Array.from({ length: 20 }, (_, j) => ({ j })); // garbage, collected
  }
}, 'planted');`;

const sitesOf = (stdout) =>
  stdout.split('\n').filter((l) => l.startsWith('MEMTEST site=')).map((l) => JSON.parse(l.slice('MEMTEST site='.length)));

test('explain names the planted constructor with its retainer path, largest first', () => {
  const p = runSuite(PLANTED, { MEMTEST_EXPLAIN: '1' });
  assert.equal(p.status, 0, p.stderr);
  const sites = sitesOf(p.stdout);
  assert.ok(sites.length > 0, p.stdout);
  const top = sites[0];
  assert.equal(top.layer, 'js');
  assert.equal(top.source, 'heap-snapshot');
  assert.equal(top.frames[0].function, 'PlantedLeak');
  // ~1900 of the 2000 instances were made after the first checkpoint, each
  // with its payload array counted to it.
  assert.ok(top.blocks >= 1900 && top.blocks <= 2000, JSON.stringify(top));
  assert.ok(top.bytes >= top.blocks * 64 * 8, JSON.stringify(top));
  assert.ok(top.frames.some((f) => f.function.endsWith('.kept')), JSON.stringify(top.frames));
  const sizes = sites.map((s) => s.bytes);
  assert.deepEqual(sizes, [...sizes].sort((a, b) => b - a));
  assert.equal(p.stdout.trim().split('\n').pop(), 'TEST PASSED', 'the marker stays last');
  const left = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(`memtest-${p.pid}-`));
  assert.deepEqual(left, [], 'snapshot files are removed');
});

test('explain off or clean: no site of any size', () => {
  const off = runSuite(PLANTED);
  assert.equal(off.status, 0, off.stderr);
  assert.deepEqual(sitesOf(off.stdout), []);
  const clean = runSuite(PLANTED.replace('kept.push(new PlantedLeak(i))', 'kept[0] = new PlantedLeak(i)'), { MEMTEST_EXPLAIN: '1' });
  assert.equal(clean.status, 0, clean.stderr);
  assert.ok(sitesOf(clean.stdout).every((s) => s.frames[0].function !== 'PlantedLeak' || s.blocks <= 1), clean.stdout);
});

test('reportSites passes on MEMTEST lines only', () => {
  const p = runSuite(`m.reportSites('MEMTEST site={"layer":"native"}\\nnoise\\nMEMTEST native_sites_untracked_blocks=3\\n');`);
  assert.deepEqual(p.stdout.trim().split('\n'), ['MEMTEST site={"layer":"native"}', 'MEMTEST native_sites_untracked_blocks=3']);
});

test('cause mode: a checkpoint record at each record(), V8 heap included; silent otherwise', () => {
  const body = `const kept = [];
m.run(async () => {
  const cps = new m.Checkpoints();
  for (let i = 0; i < 4; i++) { kept.push(new Array(250000).fill(i)); cps.record(i); }
});`;
  const records = (out) => out.split('\n').filter((l) => l.startsWith('MEMTEST checkpoint='))
    .map((l) => Object.fromEntries(l.split(' ').slice(1).map((p) => p.split('=')).map(([k, v]) => [k, Number(v)])));
  const p = runSuite(body, { MEMTEST_CAUSE: '1' });
  assert.equal(p.status, 0, p.stderr);
  const cps = records(p.stdout);
  assert.deepEqual(cps.map((c) => c.checkpoint), [0, 1, 2, 3]);
  assert.ok(cps[3].js_heap_used_bytes - cps[0].js_heap_used_bytes > 4 * m.MB, p.stdout);
  assert.ok(cps.every((c) => c.rss_bytes > 0));
  assert.deepEqual(records(runSuite(body).stdout), []);
});
