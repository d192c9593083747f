'use strict';
/**
 * gc_verification (seed: "GC heap verification", 10K results, at least 70% of
 * the heap growth freed after gc). Two phases:
 *  1. 10K optimize results held, then dropped: after a forced gc at least 70%
 *     of the JS heap + external (Buffer) growth must be gone.
 *  2. NativeResult handles dropped without close(): the binding's
 *     FinalizationRegistry must bring the core's live allocations back to
 *     baseline once gc ran.
 *
 * Canary: MEMTEST_CANARY=retain keeps every result in a global array (a
 * user-level leak); the heap-freed check must then fail.
 */

const t = require('./common');

const { pyjamaz } = t;
const RESULTS = t.iterations(10_000);
const HANDLES = t.iterations(1_000);
const MIN_FREED = 0.7;

// The canary's leak: reachable from the global object for the whole run.
globalThis.retained = [];
const retain = t.canary() === 'retain';

/** JS heap plus Buffer memory: where optimize results live. */
function heapBytes() {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

t.run(async () => {
  const input = t.fixture('tiny.png');
  const options = { formats: ['png'], metric: 'none' };
  // Warm-up through the same code path, so compiled code, inline caches and
  // koffi's own structures are in the baseline, not in the growth.
  let warm = [];
  for (let i = 0; i < Math.min(RESULTS, 500); i++) warm.push(pyjamaz.optimize(input, options));
  warm = null;
  t.gc();
  const native0 = t.nativeLive();
  const heap0 = heapBytes();
  t.progress(0); // the measured loop begins: memtest's growth starts here

  // Phase 1: many results alive at once, then none.
  let results = [];
  for (let i = 0; i < RESULTS; i++) {
    const r = pyjamaz.optimize(input, options);
    results.push(r);
    if (retain) globalThis.retained.push(r);
  }
  t.check(results.every((r) => r.data.length === r.size && r.size > 0), 'every result carries its bytes');
  // Collect while the results are still held, so the growth measured is what
  // they keep alive, not the garbage their making left behind: without this a
  // run at a tenth of the seed's size "freed" 67-75% with every result
  // retained (the garbage alone), and the retain canary flapped.
  t.gc();
  const heapPeak = heapBytes();
  results = null;
  t.gc();
  const heapAfter = heapBytes();
  const grown = heapPeak - heap0;
  const freed = grown > 0 ? (heapPeak - heapAfter) / grown : 0;
  t.report('heap_growth_bytes', grown);
  t.report('heap_freed_fraction', Number(freed.toFixed(4)));
  t.check(grown > 0, `holding ${RESULTS} results grew the heap (grew ${grown} bytes)`);
  t.check(
    freed >= MIN_FREED,
    `heap freed after gc ${(freed * 100).toFixed(1)}% of ${t.mb(grown)} grown, limit >= ${MIN_FREED * 100}%`,
  );

  // Phase 2: handles the caller forgot to close.
  let handles = [];
  for (let i = 0; i < HANDLES; i++) handles.push(pyjamaz.optimizeNative(input, options));
  const heldNative = t.nativeLive().allocations - native0.allocations;
  t.check(heldNative >= HANDLES, `${HANDLES} open NativeResults hold native memory (${heldNative} allocations live)`);
  handles = null;
  await t.settleFinalizers();

  const native1 = t.nativeLive();
  const leaks = native1.allocations - native0.allocations;
  t.report('native_leaks', leaks);
  t.reportNativeSites();
  t.report('native_leaked_bytes', native1.bytes - native0.bytes);
  t.check(leaks === 0, `native live allocations ${leaks} above baseline after gc, limit 0`);
}, 'gc_verification');
