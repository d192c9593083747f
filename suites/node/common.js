'use strict';
/**
 * What the Pyjamaz Node suites share beyond memtest's generic helpers: the
 * binding and the core's native allocation counts. Everything generic (the
 * env contract, figure lines, memory readings, gc/quiesce, the one leak rule,
 * run()) comes from memtest-suite and is re-exported here, so suites write
 * `t.iterations()`, `new t.Checkpoints()`, `t.run(main)`.
 */

const path = require('node:path');

const REPO = path.join(__dirname, '..', '..');

// memtest puts its helpers on NODE_PATH; a direct run from a checkout uses the
// repository's copy.
function requireHelpers() {
  try {
    return require('memtest-suite');
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err;
    return require(path.join(REPO, 'helpers', 'node', 'memtest-suite.js'));
  }
}

const m = requireHelpers();
const pyjamaz = require(path.join(REPO, 'bindings', 'nodejs'));

// The first nativeLive() is the suite's baseline: leak sites are the blocks
// allocated after it.
let baselineAllocation = null;

/** Native live allocations of the core, for baselines. */
function nativeLive() {
  const s = pyjamaz.allocStats();
  if (baselineAllocation === null) baselineAllocation = s.totalAllocations;
  return { allocations: s.liveAllocations, bytes: s.liveBytes };
}

/**
 * In attribution mode (`memtest explain`), the core's leak sites: its blocks
 * allocated since the baseline and still live, by allocating stack. Call it
 * where `native_leaks` is reported.
 */
function reportNativeSites() {
  if (m.explain() && baselineAllocation !== null) m.reportSites(pyjamaz.allocSites(baselineAllocation));
}

module.exports = { ...m, pyjamaz, nativeLive, reportNativeSites };
