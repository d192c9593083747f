'use strict';
/**
 * buffer_memory (seed: 1000 images of varying sizes). Cycles through inputs
 * from 800 bytes to 150 KB, PNG and JPEG, and checks every result's bytes
 * (size, magic number). Buffers handed to JS must be released by gc: the
 * ArrayBuffer memory Node reports returns to near its baseline, the core's
 * live allocations to exactly their baseline, and RSS does not trend up.
 */

const t = require('./common');

const { pyjamaz } = t;
const IMAGES = t.iterations(1_000, 20);
// Left over after gc: Node keeps a Buffer pool slab (8 KB) and may keep a
// few recently freed backing stores; 1 MB is far below one leaked batch.
const ARRAY_BUFFERS_SLACK = 1 * t.MB;
// Under half of an average result (~10 KB): keeping every result would show.
const LIMIT_SLOPE_BYTES_PER_IMAGE = 4000;

function sniff(buf) {
  if (buf[0] === 0x89 && buf.toString('latin1', 1, 4) === 'PNG') return 'png';
  if (buf[0] === 0xff && buf[1] === 0xd8) return 'jpeg';
  if (buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return 'unknown';
}

t.run(async () => {
  const inputs = [
    ['tiny.png', { formats: ['png'], metric: 'none' }],
    ['flat-128.png', { formats: ['png', 'webp'] }],
    ['small.jpg', { formats: ['jpeg', 'webp'] }],
    ['photo-256.jpg', { formats: ['jpeg'] }],
    ['photo-256.png', { formats: ['jpeg'], maxDiff: 0.05 }],
  ].map(([name, options]) => ({ name, input: t.fixture(name), options }));

  // A window of recent results stays alive, as in an application, so
  // buffers are freed by the collector, not immediately.
  const WINDOW = 50;
  const window = [];
  let outBytes = 0;
  const one = (i) => {
    const { name, input, options } = inputs[i % inputs.length];
    const r = pyjamaz.optimize(input, options);
    if (r.data.length !== r.size || sniff(r.data) !== r.format) {
      throw new Error(`${name}: got ${r.data.length} bytes sniffed as ${sniff(r.data)}, result says ${r.size} ${r.format}`);
    }
    window.push(r);
    if (window.length > WINDOW) window.shift();
    outBytes += r.size;
  };

  // Warm-up fills the window and lets the allocators reach their working set.
  for (let i = 0; i < WINDOW + inputs.length * 2; i++) one(i);
  await t.quiesce();
  const native0 = t.nativeLive();
  const ab0 = process.memoryUsage().arrayBuffers;
  outBytes = 0;

  const cps = new t.Checkpoints();
  t.progress(0); // the measured loop begins: memtest's growth starts here
  const every = Math.max(1, Math.floor(IMAGES / 20));
  for (let i = 0; i < IMAGES; i++) {
    one(i);
    if (i % every === 0) {
      await t.quiesce();
      cps.record(i);
    }
  }
  window.length = 0;
  await t.quiesce();
  const ab1 = process.memoryUsage().arrayBuffers;
  const native1 = t.nativeLive();

  const leaks = native1.allocations - native0.allocations;
  t.report('operations', IMAGES);
  t.report('output_bytes', outBytes);
  t.report('native_leaks', leaks);
  t.reportNativeSites();
  t.report('array_buffers_growth_bytes', ab1 - ab0);
  t.check(leaks === 0, `native live allocations ${leaks} above baseline after ${IMAGES} images, limit 0`);
  t.check(
    ab1 - ab0 < ARRAY_BUFFERS_SLACK,
    `ArrayBuffer memory grew ${t.mb(ab1 - ab0)} after the results were dropped (${t.mb(outBytes)} passed through), ` +
      `limit ${t.mb(ARRAY_BUFFERS_SLACK)}`,
  );
  cps.checkNoLeak({ limit: LIMIT_SLOPE_BYTES_PER_IMAGE, unit: 'bytes per image' });
}, 'buffer_memory');
