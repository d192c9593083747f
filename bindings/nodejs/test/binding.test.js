'use strict';
/**
 * Tests against the real library (found like any user would find it:
 * PYJAMAZ_LIB_PATH or the workspace's target dir). They fail, not skip, when
 * the library is missing: a skipped memory test proves nothing.
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const pyjamaz = require('..');
const { loadLibrary } = require('../lib/native');
const { makePng, makeBombPng, makeCorruptPng, sniff, gc } = require('../test-support/helpers');

const WORKSPACE = path.resolve(__dirname, '..', '..', '..');
const TINY = makePng(16, 16, 7);
const PHOTO = makePng(96, 96, 3);
const FAST = { formats: ['png'], metric: 'none' };

/** A file of $MEMTEST_FIXTURES, or null when the variable is unset. */
function fixture(name) {
  const dir = process.env.MEMTEST_FIXTURES;
  return dir ? fs.readFileSync(path.join(dir, name)) : null;
}

function isError(name) {
  return (err) => {
    assert.ok(err instanceof pyjamaz.PyjamazError, `expected PyjamazError, got ${err}`);
    assert.equal(err.codeName, name, err.message);
    assert.equal(err.code, pyjamaz.ErrorCode[name]);
    assert.ok(err.message.length > 0);
    return true;
  };
}

test('version is the core crate version', () => {
  const cargo = fs.readFileSync(path.join(WORKSPACE, 'core', 'Cargo.toml'), 'utf8');
  const expected = /^version\s*=\s*"([^"]+)"/m.exec(cargo)[1];
  assert.equal(pyjamaz.getVersion(), expected);
});

test('PNG round trip', () => {
  const r = pyjamaz.optimize(PHOTO);
  assert.ok(Buffer.isBuffer(r.data));
  assert.ok(r.size > 0);
  assert.equal(r.size, r.data.length);
  assert.equal(sniff(r.data), r.format);
  // The original is always a candidate, so the output is never larger.
  assert.ok(r.size <= PHOTO.length, `${r.size} <= ${PHOTO.length}`);
  assert.equal(r.passed, true);
  assert.ok(r.diffValue >= 0);
});

test('JPEG round trip', () => {
  // Without fixtures the core makes the JPEG: on a noisy PNG it always wins.
  const jpeg = fixture('small.jpg') ?? pyjamaz.optimize(makePng(128, 128, 9), { formats: ['jpeg'], metric: 'none' }).data;
  assert.equal(sniff(jpeg), 'jpeg');
  const r = pyjamaz.optimize(jpeg, { formats: ['jpeg', 'webp'] });
  assert.ok(['jpeg', 'webp'].includes(r.format), r.format);
  assert.equal(sniff(r.data), r.format);
  assert.ok(r.size <= jpeg.length);
});

test('Buffer and Uint8Array inputs give the same result', () => {
  const a = pyjamaz.optimize(TINY, FAST);
  const b = pyjamaz.optimize(new Uint8Array(TINY), FAST);
  assert.deepEqual(a, b);
});

test('an impossible budget is reported as not passed', () => {
  const r = pyjamaz.optimize(PHOTO, { maxBytes: 1, formats: ['png'] });
  assert.equal(r.passed, false);
  assert.ok(r.size > 1);
});

test('bad inputs raise typed errors', () => {
  const cases = [
    [Buffer.from('\0not an image at all'.repeat(8)), 'UNKNOWN_FORMAT'],
    [PHOTO.subarray(0, PHOTO.length >> 1), 'TRUNCATED_INPUT'],
    [makeCorruptPng(), 'CORRUPT_INPUT'],
    [makeBombPng(), 'LIMITS_EXCEEDED'],
    [Buffer.alloc(0), 'EMPTY_INPUT'],
  ];
  for (const [input, name] of cases) assert.throws(() => pyjamaz.optimize(input), isError(name), name);
});

test("the core's own validation surfaces as typed errors", () => {
  // Past the binding's checks, straight to the C ABI.
  const raw = (over) =>
    pyjamaz._optimizeRaw({ input: TINY, input_len: TINY.length, max_bytes: 0, max_diff: 0, metric: null, formats: null, concurrency: 0, ...over });
  assert.throws(() => raw({ input: null, input_len: 4 }), isError('NULL_POINTER'));
  assert.throws(() => raw({ input_len: 0 }), isError('EMPTY_INPUT'));
  assert.throws(() => raw({ metric: 'bogus' }), isError('INVALID_OPTIONS'));
  assert.throws(() => raw({ formats: 'avif' }), isError('INVALID_OPTIONS'));
});

test('native live allocations are back to baseline after 1,000 calls', () => {
  pyjamaz.optimize(TINY, FAST); // warm-up: lazy statics
  const before = pyjamaz.allocStats();
  const corrupt = makeCorruptPng();
  for (let i = 0; i < 1000; i++) {
    if (i % 10 === 9) assert.throws(() => pyjamaz.optimize(corrupt), pyjamaz.PyjamazError);
    else pyjamaz.optimize(TINY, FAST);
  }
  const after = pyjamaz.allocStats();
  assert.ok(after.totalAllocations > before.totalAllocations + 1000, 'the calls really ran');
  assert.equal(after.liveAllocations, before.liveAllocations);
  assert.equal(after.liveBytes, before.liveBytes);
});

test('optimizeAsync gives the sync result without blocking the event loop', async () => {
  // ~35 ms of work for every encoder: far longer than one timer turn.
  const input = makePng(256, 256, 5);
  const expected = pyjamaz.optimize(input);
  const before = pyjamaz.allocStats().liveAllocations;
  let settled = false;
  const pending = pyjamaz.optimizeAsync(input).finally(() => {
    settled = true;
  });
  // Had the call run on this thread, it would be over before any timer fired.
  await new Promise((resolve) => setTimeout(resolve, 1));
  assert.equal(settled, false, 'the event loop turned while the core worked');
  assert.deepEqual(await pending, expected);
  assert.equal(pyjamaz.allocStats().liveAllocations, before);
  await assert.rejects(pyjamaz.optimizeAsync(makeCorruptPng()), isError('CORRUPT_INPUT'));
  await assert.rejects(pyjamaz.optimizeAsync(Buffer.alloc(0)), isError('EMPTY_INPUT'));
  assert.equal(pyjamaz.allocStats().liveAllocations, before);
});

test('async calls get the 2 MiB stack of sync calls, not koffi\'s 128 KiB', () => {
  // Under AddressSanitizer the jpeg encoder overflowed 128 KiB (lib/native.js).
  pyjamaz.getVersion(); // loads the library, which configures koffi first
  const config = require('koffi').config();
  assert.equal(config.async_stack_size, 2 * 1024 * 1024);
  assert.equal(config.async_stack_size, config.sync_stack_size);
});

test('NativeResult is zero-copy and freed by close()', () => {
  const base = pyjamaz.allocStats().liveAllocations;
  const copy = pyjamaz.optimize(PHOTO, { formats: ['png'] });
  const res = pyjamaz.optimizeNative(PHOTO, { formats: ['png'] });
  assert.ok(pyjamaz.allocStats().liveAllocations > base);
  assert.ok(res.data.equals(copy.data));
  assert.equal(res.format, copy.format);
  assert.equal(res.size, copy.size);
  res.close();
  assert.equal(res.closed, true);
  assert.throws(() => res.data, /closed/);
  res.close(); // idempotent
  assert.equal(pyjamaz.allocStats().liveAllocations, base);
});

test('a forgotten NativeResult is freed by its finalizer, not before its views', async () => {
  const base = pyjamaz.allocStats().liveAllocations;
  let view = pyjamaz.optimizeNative(TINY, FAST).data;
  const settle = async () => {
    for (let i = 0; i < 20; i++) {
      gc();
      // Finalization callbacks run as tasks after the collection.
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await settle();
  // The view still reaches the result: nothing may be freed yet.
  assert.ok(pyjamaz.allocStats().liveAllocations > base);
  assert.equal(sniff(Buffer.from(view.subarray(0, 8))), 'png');
  view = null;
  await settle();
  assert.equal(pyjamaz.allocStats().liveAllocations, base);
});

test('an ABI mismatch or a foreign library is refused at load', (t) => {
  const libPath = pyjamaz.libraryPath();
  assert.throws(
    () => loadLibrary(libPath, 2),
    (err) => err instanceof pyjamaz.AbiMismatchError && err.found === 1 && err.expected === 2 && err.message.includes(libPath),
  );
  const junk = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pyjamaz-')), 'libjunk.so');
  fs.writeFileSync(junk, 'not an ELF file');
  t.after(() => fs.rmSync(path.dirname(junk), { recursive: true }));
  assert.throws(() => loadLibrary(junk), (err) => err instanceof pyjamaz.LibraryLoadError && err.message.includes(junk));
  const libc = '/lib/x86_64-linux-gnu/libc.so.6';
  if (fs.existsSync(libc)) {
    assert.throws(() => loadLibrary(libc), (err) => err instanceof pyjamaz.LibraryLoadError && /pyjamaz_abi_version/.test(err.message));
  }
});
