'use strict';
/**
 * corpus: every file of a folder (MEMTEST_CORPUS: the suite's `corpus`, by
 * default the fixture folder's generated `corpus/`, or `memtest run --corpus
 * DIR`) through `pyjamaz.optimize`, one at a time, with memory bounded
 * whatever the folder's size: the folder is walked lazily
 * (`memtest-corpus`'s `corpusFiles`), each file read, optimized and dropped
 * before the next.
 *
 * Each file gets an outcome: `ok`, `decode_error` (the typed error a bad
 * file must give: empty, unknown format, corrupt, truncated, over the decode
 * limits), `crash` (any other error, or an empty result) or `leak` (the
 * core's live allocation count not back where it was before the call: the
 * binding copies the result and frees the native one before returning, so
 * no collection is needed between files). The suite goes on past every
 * failure, reports the counts as `corpus_*` figures, and fails on any leak
 * or crash; decode errors are expected.
 *
 * Warm-up: the fixtures and the corpus's first files once, unchecked, so that
 * codec tables made on first use are not taken for a file's leak.
 */

const fs = require('node:fs');
const path = require('node:path');
const t = require('./common');

function requireCorpus() {
  try {
    return require('memtest-corpus');
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err;
    return require(path.join(__dirname, '..', '..', 'runner', 'helpers', 'node', 'memtest-corpus.js'));
  }
}

const mc = requireCorpus();
const { pyjamaz } = t;

const DECODE_ERRORS = new Set(['EMPTY_INPUT', 'UNKNOWN_FORMAT', 'CORRUPT_INPUT', 'TRUNCATED_INPUT', 'LIMITS_EXCEEDED']);
const WARM_UP_FILES = 50;
const PROGRESS_EVERY = 20;
const CHECKPOINT_EVERY = 500;

/** [outcome, detail] of one optimize call; the result is dropped. */
function optimize(data) {
  let result;
  try {
    result = pyjamaz.optimize(data);
  } catch (err) {
    if (err instanceof pyjamaz.PyjamazError) {
      if (DECODE_ERRORS.has(err.codeName)) return ['decode_error', err.codeName];
      return ['crash', `${err.codeName}: ${err.message}`];
    }
    return ['crash', `${err && err.name}: ${err && err.message}`];
  }
  if (!result.data || result.data.length === 0) return ['crash', 'an empty result'];
  return ['ok', ''];
}

t.run(async () => {
  const folder = mc.corpusDir();
  for (const name of ['tiny.png', 'small.jpg', 'flat-128.png', 'truncated.png', 'corrupt.jpg']) {
    optimize(t.fixture(name));
  }
  let warmed = 0;
  for (const file of mc.corpusFiles(folder)) {
    if (warmed++ >= WARM_UP_FILES) break;
    optimize(fs.readFileSync(file));
  }
  await t.quiesce();
  const live0 = t.nativeLive();
  const tally = new mc.Tally();
  t.progress(0);
  for (const file of mc.corpusFiles(folder)) {
    const before = t.nativeLive().allocations;
    let [outcome, detail] = optimize(fs.readFileSync(file));
    const left = t.nativeLive().allocations - before;
    if (left !== 0) [outcome, detail] = ['leak', `${left} native allocations left live (${outcome} ${detail})`.trim()];
    tally.record(file, outcome, detail);
    if (tally.files % PROGRESS_EVERY === 0) t.progress(tally.files);
    if (tally.files % CHECKPOINT_EVERY === 0) tally.checkpoint();
  }
  t.progress(tally.files);
  await t.quiesce();
  const live1 = t.nativeLive();
  const leaks = live1.allocations - live0.allocations;
  t.report('native_leaks', leaks);
  t.reportNativeSites();
  t.report('native_leaked_bytes', live1.bytes - live0.bytes);
  t.report('operations', tally.files);
  tally.report();
  t.check(leaks === 0, `native live allocations ${leaks} above baseline after ${tally.files} files, limit 0`);
  tally.check();
}, 'corpus');
