'use strict';
/**
 * concurrency (seed: "Concurrent multi-threaded tests"), Node: the core
 * called from several threads at once, two ways, every round:
 *
 *  1. worker_threads: WORKERS fresh workers, each loading the binding itself
 *     (its own koffi instance over the one library the process has loaded)
 *     and making CALLS calls, sync (on the worker's own thread) and async
 *     (on libuv's pool, shared by the whole process), every output compared
 *     with the main thread's single-threaded result. Workers that end are
 *     the point: a per-thread buffer the core never frees leaks once per
 *     worker.
 *  2. Many concurrent async calls from one thread: BURST `optimizeAsync`
 *     calls in flight at once (libuv's pool runs 4 at a time), a sync call
 *     on the main thread while they run, every output compared too.
 *
 * After each round (every worker exited, every promise settled, results
 * dropped) the core's live allocations must be exactly at the baseline. RSS
 * is judged per round by the shared leak rule, but only as a runaway bound:
 * koffi keeps some memory of every worker that used it (see
 * LIMIT_BYTES_PER_ROUND), so RSS rises with the workers started whatever the
 * core does.
 *
 * Canary: the same script against the core built with `canary-thread-leak`
 * (a scratch buffer per calling thread, never freed when the thread ends)
 * must fail on the native count: part 1 catches it. Part 2 alone would not: libuv's pool threads
 * live as long as the process, so their buffers are made in the warm-up,
 * before the baseline, like a single-threaded suite's.
 */

const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const t = require('./common');

const { pyjamaz } = t;
const WORKERS = 4;
const CALLS = 12;
const BURST = 16;
// Workers cost ~100-300 ms each to start on the 2-core CI machine, so there
// are few rounds and many calls per worker.
const ROUNDS = t.iterations(50, 5);
// A runaway bound, not a leak test: every worker that loads koffi 3.3.4 and
// makes calls leaves RSS behind when it ends (measured: ~30 KB a worker that
// only calls libc's getpid, linear over 1,000 workers; 80-180 KB a worker of
// this suite, with the core's own count exactly back). That is within a
// factor of two of the 256 KiB a thread the thread-leaky core leaks, so RSS
// cannot tell them apart here; the exact native count can, and does.
const LIMIT_BYTES_PER_ROUND = 2 * 1024 * 1024;

// What every thread calls: small inputs on the full path, a 256x256 photo
// re-encoded, and one call that starts encoder threads of its own.
const WORK = [
  ['tiny.png', {}],
  ['small.jpg', {}],
  ['flat-128.png', { formats: ['png', 'webp'], metric: 'none' }],
  ['photo-256.jpg', { formats: ['jpeg'], metric: 'none' }],
  ['small.jpg', { concurrency: 2 }],
];

/** What must not change between threads: bytes, format, distance, passed. */
const key = (r) => ({ data: Buffer.from(r.data), format: r.format, diffValue: r.diffValue, passed: r.passed });

function same(r, ref) {
  return (
    Buffer.compare(Buffer.from(r.data), Buffer.from(ref.data)) === 0 &&
    r.format === ref.format &&
    Object.is(r.diffValue, ref.diffValue) &&
    r.passed === ref.passed
  );
}

if (isMainThread) {
  t.run(mainThread, 'concurrency');
} else {
  workerThread().then(
    (summary) => parentPort.postMessage(summary),
    (err) => parentPort.postMessage({ error: String(err && err.stack ? err.stack : err) }),
  );
}

/** A worker: its calls, alternately sync and async, each checked. */
async function workerThread() {
  const { index, inputs, references } = workerData;
  const wrong = [];
  for (let call = 0; call < CALLS; call++) {
    const job = (index + call) % WORK.length;
    const [name, options] = WORK[job];
    const input = inputs[job];
    const r = call % 2 === 0 ? pyjamaz.optimize(input, options) : await pyjamaz.optimizeAsync(input, options);
    if (!same(r, references[job])) wrong.push(`${name} in worker ${index}, call ${call}`);
  }
  return { calls: CALLS, wrong };
}

/** Starts WORKERS workers together and waits until every one has exited. */
function workerRound(inputs, references) {
  const runs = [];
  for (let index = 0; index < WORKERS; index++) {
    runs.push(
      new Promise((resolve, reject) => {
        let summary = null;
        const w = new Worker(__filename, { workerData: { index, inputs, references } });
        w.on('message', (m) => {
          summary = m;
        });
        w.on('error', reject);
        // 'exit' comes after the worker's thread is joined.
        w.on('exit', (code) => {
          if (code !== 0) reject(new Error(`worker ${index} exited with code ${code}`));
          else if (!summary) reject(new Error(`worker ${index} exited without its summary`));
          else if (summary.error) reject(new Error(`worker ${index}: ${summary.error}`));
          else resolve(summary);
        });
      }),
    );
  }
  return Promise.all(runs);
}

/** BURST async calls in flight at once from this thread, plus a sync one. */
async function asyncBurst(inputs, references) {
  const wrong = [];
  const pending = [];
  for (let i = 0; i < BURST; i++) {
    const job = i % WORK.length;
    pending.push(
      pyjamaz.optimizeAsync(inputs[job], WORK[job][1]).then((r) => {
        if (!same(r, references[job])) wrong.push(`${WORK[job][0]}, async call ${i} of a burst`);
      }),
    );
  }
  const r = pyjamaz.optimize(inputs[0], WORK[0][1]);
  if (!same(r, references[0])) wrong.push(`${WORK[0][0]}, a sync call during a burst`);
  await Promise.all(pending);
  return { calls: BURST + 1, wrong };
}

async function mainThread() {
  const inputs = WORK.map(([name]) => t.fixture(name));
  const references = WORK.map(([, options], job) => key(pyjamaz.optimize(inputs[job], options)));

  // A round first: worker start-up, koffi's per-instance set-up, libuv's
  // pool threads, malloc arenas.
  await workerRound(inputs, references);
  await asyncBurst(inputs, references);
  await t.quiesce();
  const native0 = t.nativeLive();
  const rss0 = t.rssBytes();
  const cps = new t.Checkpoints();
  cps.record(0, rss0);
  const every = Math.max(1, Math.floor(ROUNDS / 20));
  const mismatches = [];
  let leakyRounds = 0;
  let calls = 0;
  t.progress(0);
  for (let round = 1; round <= ROUNDS; round++) {
    const summaries = await workerRound(inputs, references);
    summaries.push(await asyncBurst(inputs, references));
    for (const s of summaries) {
      calls += s.calls;
      mismatches.push(...s.wrong);
    }
    // Results are copied into Buffers and freed natively before each call
    // returns: the native count needs no collection first.
    if (t.nativeLive().allocations !== native0.allocations) leakyRounds++;
    t.progress(calls);
    if (round % every === 0) {
      await t.quiesce();
      cps.record(round);
    }
  }
  await t.quiesce();
  const native1 = t.nativeLive();
  const rss1 = t.rssBytes();

  const leaks = native1.allocations - native0.allocations;
  t.report('native_leaks', leaks);
  t.reportNativeSites();
  t.report('native_leaked_bytes', native1.bytes - native0.bytes);
  t.report('operations', calls);
  t.report('workers_started', ROUNDS * WORKERS);
  t.report('rss_growth_bytes', rss1 - rss0);
  t.check(mismatches.length === 0, `${mismatches.length} results differ from the single-threaded ones, the first: ${mismatches[0]}`);
  t.check(
    leaks === 0 && leakyRounds === 0,
    `native live allocations ${leaks} above baseline after ${ROUNDS} rounds of ${WORKERS} workers and ${BURST} async calls ` +
      `(${leakyRounds} rounds left some live), limit 0`,
  );
  cps.checkNoLeak({ limit: LIMIT_BYTES_PER_ROUND, unit: 'bytes per round' });
}
