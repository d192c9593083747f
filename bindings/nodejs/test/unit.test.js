'use strict';
/**
 * Tests that need no native library: discovery order and its error, option
 * validation, the error-code table.
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { candidates, findLibrary, findWorkspaceRoot, LibraryNotFoundError } = require('../lib/discovery');
const { toNativeOptions } = require('../lib/options');
const { ErrorCode, PyjamazError, codeName } = require('../lib/errors');
const { crc32 } = require('../test-support/helpers');

const WORKSPACE = path.resolve(__dirname, '..', '..', '..');
const LIB = 'libpyjamaz.so';

test('discovery: PYJAMAZ_LIB_PATH is the only candidate when set', () => {
  const found = candidates({ env: { PYJAMAZ_LIB_PATH: '/opt/x/libpyjamaz.so' }, platform: 'linux' });
  assert.deepEqual(found.paths, ['/opt/x/libpyjamaz.so']);
  assert.throws(
    () => findLibrary({ env: { PYJAMAZ_LIB_PATH: '/opt/x/libpyjamaz.so' }, exists: () => false }),
    (err) => err instanceof LibraryNotFoundError && /PYJAMAZ_LIB_PATH.*\/opt\/x\/libpyjamaz\.so/.test(err.message),
  );
});

test('discovery: workspace target dir, release before debug', () => {
  assert.equal(findWorkspaceRoot(__dirname), WORKSPACE);
  const found = candidates({ env: {}, startDir: __dirname, platform: 'linux' });
  assert.deepEqual(found.paths, [
    path.join(WORKSPACE, 'target', 'release', LIB),
    path.join(WORKSPACE, 'target', 'debug', LIB),
  ]);
  const debugOnly = path.join(WORKSPACE, 'target', 'debug', LIB);
  assert.equal(findLibrary({ env: {}, startDir: __dirname, exists: (p) => p === debugOnly }), debugOnly);
});

test('discovery: CARGO_TARGET_DIR is tried first, and the error names every place tried', () => {
  const env = { CARGO_TARGET_DIR: '/tmp/ct' };
  let caught;
  try {
    findLibrary({ env, startDir: __dirname, platform: 'linux', exists: () => false });
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof LibraryNotFoundError);
  const expected = [
    `/tmp/ct/release/${LIB}`,
    `/tmp/ct/debug/${LIB}`,
    path.join(WORKSPACE, 'target', 'release', LIB),
    path.join(WORKSPACE, 'target', 'debug', LIB),
  ];
  assert.deepEqual(caught.tried, expected);
  for (const p of expected) assert.ok(caught.message.includes(p), `message names ${p}`);
});

test('discovery: platform file names', () => {
  const name = (platform) => path.basename(candidates({ env: {}, startDir: __dirname, platform }).paths[0]);
  assert.equal(name('darwin'), 'libpyjamaz.dylib');
  assert.equal(name('win32'), 'pyjamaz.dll');
});

test('options: defaults become the C defaults', () => {
  const input = Buffer.from([1, 2, 3]);
  assert.deepEqual(toNativeOptions(input), {
    input,
    input_len: 3,
    max_bytes: 0,
    max_diff: 0,
    metric: 'ssim',
    formats: null,
    concurrency: 0,
  });
  const f = toNativeOptions(input, { maxBytes: 10, maxDiff: 0.01, metric: 'none', formats: ['png', 'jpeg', 'png'], concurrency: 2 });
  assert.equal(f.formats, 'png,jpeg');
  assert.equal(f.max_bytes, 10);
  assert.equal(f.concurrency, 2);
});

test('options: wrong types are TypeErrors', () => {
  const ok = Buffer.from([1]);
  for (const [input, options] of [
    ['a string', {}],
    [[1, 2, 3], {}],
    [null, {}],
    [ok, 'fast'],
    [ok, { maxBytes: '10' }],
    [ok, { maxDiff: '0.1' }],
    [ok, { metric: 1 }],
    [ok, { formats: 'png' }],
    [ok, { formats: [1] }],
    [ok, { concurrency: '2' }],
  ]) {
    assert.throws(() => toNativeOptions(input, options), TypeError, JSON.stringify([typeof input, options]));
  }
});

test('options: values out of range are INVALID_OPTIONS, empty input is EMPTY_INPUT', () => {
  const ok = Buffer.from([1]);
  for (const options of [
    { maxBytes: -1 },
    { maxBytes: 1.5 },
    { maxBytes: -1n },
    { maxDiff: -0.1 },
    { maxDiff: NaN },
    { maxDiff: Infinity },
    { metric: 'dssim' },
    { formats: [] },
    { formats: ['avif'] },
    { concurrency: -1 },
    { concurrency: 1.5 },
    { concurrency: 100000 },
    { max_bytes: 10 },
  ]) {
    assert.throws(
      () => toNativeOptions(ok, options),
      (err) => err instanceof PyjamazError && err.code === ErrorCode.INVALID_OPTIONS && err.codeName === 'INVALID_OPTIONS',
      JSON.stringify(options, (_, v) => (typeof v === 'bigint' ? String(v) : v)),
    );
  }
  assert.throws(
    () => toNativeOptions(Buffer.alloc(0)),
    (err) => err instanceof PyjamazError && err.codeName === 'EMPTY_INPUT' && err.code === 2,
  );
});

test('errors: every code of pyjamaz.h has its symbolic name', () => {
  // Parsed from the header itself, so a code added to the C ABI fails here
  // until the binding knows it.
  const header = fs.readFileSync(path.join(WORKSPACE, 'core', 'include', 'pyjamaz.h'), 'utf8');
  const codes = [...header.matchAll(/^#define PYJAMAZ_ERR_(\w+) (\d+)/gm)].map((m) => [m[1], Number(m[2])]);
  assert.ok(codes.length >= 9, `found ${codes.length} codes in pyjamaz.h`);
  for (const [name, code] of codes) {
    const err = new PyjamazError(code, 'm');
    assert.equal(err.codeName, name);
    assert.equal(ErrorCode[name], code);
    assert.ok(err instanceof Error);
  }
  assert.equal(Object.keys(ErrorCode).length, codes.length);
  assert.equal(codeName(42), 'UNKNOWN_ERROR');
});

test('helpers: crc32 matches the reference value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});
