'use strict';
/**
 * Node memory suite of {{lib}}: a starter written by `memtest init`.
 *
 * What it does: a bounded loop of operations, RSS read at CHECKPOINTS points
 * after a full collection, then the shared leak rule (slope over the limit AND
 * rising on >= 2/3 of the checkpoints), the figures memtest shows, and the
 * marker line (`run()` prints it only when every check held).
 *
 * Until `operation()` calls into the library, the loop only exercises a
 * stand-in: the suite passes, and a canary on a leaky build of the library is
 * reported as missed. That is memtest telling you the suite cannot catch a
 * leak yet. Fill in the TODOs, then `memtest run {{suite}}`.
 *
 * memtest puts its helper module on NODE_PATH; run this file alone with
 *   NODE_PATH=.memtest/helpers/node node --expose-gc {{script}}
 */

const crypto = require('node:crypto');
const m = require('memtest-suite');

// Operations at MEMTEST_SCALE=1 (the ci profile runs a tenth), and at least
// MIN_OPERATIONS: the run must last long enough for memtest's RSS sampling
// (every 10 ms) to see a trend.
const SEED_OPERATIONS = 20_000;
const MIN_OPERATIONS = 5_000;
const CHECKPOINTS = 20;
// The suite's own leak rule: RSS may trend up by at most this much per
// operation. A clean loop sits near 0; set it well under what one leaked
// result would cost (the retain canary below holds 4 KiB per operation).
const LIMIT_BYTES_PER_OP = 500;

/** The library under test, opened once. */
function load() {
{{load}}
}

/**
 * One operation: the smallest thing a user of the library does that
 * allocates and should free everything again. Returns what a caller would
 * keep (the retain canary keeps it).
 */
function operation(lib, i) {
  // TODO: replace this stand-in with one call into the library, e.g.
  //   const out = lib.mylib_process(input, input.length); lib.mylib_free(out);
  const input = Buffer.alloc(64 * 1024, i & 0xff);
  return crypto.createHash('sha256').update(input).digest();
}

m.run(async () => {
  const lib = load();
  const ops = m.iterations(SEED_OPERATIONS, MIN_OPERATIONS);
  const every = Math.max(1, Math.floor(ops / CHECKPOINTS));
  // MEMTEST_CANARY=retain (a canary with mode = "retain"): hold on to memory
  // every operation, the leak this suite must catch.
  const retain = m.canary() === 'retain';
  const kept = [];
  const cps = new m.Checkpoints();
  await m.quiesce();
  cps.record(0);
  // Progress lines: the first marks where memtest starts measuring growth
  // (start-up is not growth); all of them let it judge RSS per operation
  // (the `slope_per_op` limit).
  m.progress(0);
  for (let i = 1; i <= ops; i++) {
    const result = operation(lib, i);
    if (retain) kept.push(result, Buffer.alloc(4096, i & 0xff));
    if (i % every === 0) {
      await m.quiesce();
      cps.record(i);
      m.progress(i);
    }
  }
  m.report('operations', ops);
  m.report('kept', kept.length);
  // TODO: if the library counts its own live allocations, report them:
  //   m.report('native_leaks', lib.mylib_live_allocations());
  // memtest judges that figure against the native_leaks limit (0 by default).
  cps.checkNoLeak({ limit: LIMIT_BYTES_PER_OP, unit: 'bytes per op' });
});
