'use strict';
/**
 * error_recovery (seed: "error cleanup verification"). Feeds corrupt,
 * truncated, empty, bomb and unknown inputs and invalid options in a loop,
 * sync and async, each time expecting the exact typed error, and a valid call
 * after every round to prove the library recovered. Error paths must free
 * everything: the core's live allocations end exactly at baseline, and RSS
 * must not trend upwards.
 */

const t = require('./common');

const { pyjamaz } = t;
// Sized to the seed's ~10 s at scale 1 (about 1 ms per round).
const ROUNDS = t.iterations(10_000, 10);
const LIMIT_SLOPE_BYTES_PER_ROUND = 1000; // ~1 KB per round of 12 failing calls

t.run(async () => {
  const good = t.fixture('tiny.png');
  const bad = [
    ['corrupt.jpg', t.fixture('corrupt.jpg'), {}, 'CORRUPT_INPUT'],
    ['truncated.png', t.fixture('truncated.png'), {}, 'TRUNCATED_INPUT'],
    ['bomb.png', t.fixture('bomb.png'), {}, 'LIMITS_EXCEEDED'],
    ['unknown.bin', t.fixture('unknown.bin'), {}, 'UNKNOWN_FORMAT'],
    ['empty buffer', Buffer.alloc(0), {}, 'EMPTY_INPUT'],
    ['metric "psnr"', good, { metric: 'psnr' }, 'INVALID_OPTIONS'],
    ['formats ["avif"]', good, { formats: ['avif'] }, 'INVALID_OPTIONS'],
    ['maxDiff -1', good, { maxDiff: -1 }, 'INVALID_OPTIONS'],
  ];
  // The same mistakes past the binding's checks, so the core's own
  // validation and its error results are exercised too.
  const raw = (over) => ({
    input: good, input_len: good.length, max_bytes: 0, max_diff: 0, metric: null, formats: null, concurrency: 0, ...over,
  });
  const rawBad = [
    ['raw metric "psnr"', raw({ metric: 'psnr' }), 'INVALID_OPTIONS'],
    ['raw formats "avif"', raw({ formats: 'avif' }), 'INVALID_OPTIONS'],
    ['raw input_len 0', raw({ input_len: 0 }), 'EMPTY_INPUT'],
    ['raw NULL input', raw({ input: null }), 'NULL_POINTER'],
  ];

  const wrong = new Map();
  const expectError = (label, expected, fn) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof pyjamaz.PyjamazError && err.codeName === expected) return;
      wrong.set(label, `expected ${expected}, got ${err && err.name}: ${err && err.message}`);
      return;
    }
    wrong.set(label, `expected ${expected}, got a result`);
  };

  const round = async (i) => {
    for (const [label, input, options, code] of bad) expectError(label, code, () => pyjamaz.optimize(input, options));
    for (const [label, fields, code] of rawBad) expectError(label, code, () => pyjamaz._optimizeRaw(fields));
    // One async failure per round: the worker-thread path must free too.
    const [label, input, options, code] = bad[i % 4];
    await pyjamaz.optimizeAsync(input, options).then(
      () => wrong.set(`async ${label}`, `expected ${code}, got a result`),
      (err) => err.codeName === code || wrong.set(`async ${label}`, `expected ${code}, got ${err.message}`),
    );
    const ok = pyjamaz.optimize(good, { formats: ['png'], metric: 'none' });
    if (ok.size === 0) wrong.set('valid call after errors', 'returned no bytes');
  };

  for (let i = 0; i < 5; i++) await round(i); // warm-up
  await t.quiesce();
  const native0 = t.nativeLive();
  const cps = new t.Checkpoints();
  t.progress(0); // the measured loop begins: memtest's growth starts here
  const every = Math.max(1, Math.floor(ROUNDS / 20));
  for (let i = 0; i < ROUNDS; i++) {
    await round(i);
    if (i % every === 0) {
      await t.quiesce();
      cps.record(i);
    }
  }
  await t.quiesce();
  const native1 = t.nativeLive();

  for (const [label, message] of wrong) t.check(false, `${label}: ${message}`);
  const leaks = native1.allocations - native0.allocations;
  t.report('native_leaks', leaks);
  t.reportNativeSites();
  t.report('native_leaked_bytes', native1.bytes - native0.bytes);
  t.report('operations', ROUNDS);
  t.check(leaks === 0, `native live allocations ${leaks} above baseline after ${ROUNDS} rounds of errors, limit 0`);
  cps.checkNoLeak({ limit: LIMIT_SLOPE_BYTES_PER_ROUND, unit: 'bytes per round of errors' });
}, 'error_recovery');
