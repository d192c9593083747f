'use strict';
/**
 * Public API of the pyjamaz Node.js binding.
 *
 * Ownership: `optimize` / `optimizeAsync` copy the native output into a JS
 * Buffer and free the native result before returning, in a `finally`, so no
 * native memory outlives the call. `optimizeNative` hands out a `NativeResult`
 * that keeps the native result alive for zero-copy access until `close()`;
 * a FinalizationRegistry frees it if the caller forgets, once the handle and
 * every view of its data are unreachable.
 */

const { native, readResult, view, ABI_VERSION } = require('./lib/native');
const { toNativeOptions } = require('./lib/options');
const { ErrorCode, PyjamazError, AbiMismatchError, LibraryLoadError, codeName } = require('./lib/errors');
const { LibraryNotFoundError } = require('./lib/discovery');

/** Library version string, e.g. "0.1.0". */
function getVersion() {
  return native().version();
}

/** Path of the loaded library (loads it when needed). */
function libraryPath() {
  return native().path;
}

/**
 * The core's leak sites: its live heap blocks allocated at or after
 * allocation number `since` (a baseline's `totalAllocations`), grouped by
 * allocating stack, largest first, as `MEMTEST site=` lines. Empty unless the
 * library was loaded with MEMTEST_EXPLAIN set (memtest's attribution mode).
 */
function allocSites(since = 0) {
  const lib = native();
  let size = Number(lib.allocSites(since, null, 0)) + 1;
  // The text can grow between two calls (another thread allocating).
  for (;;) {
    const buf = Buffer.alloc(size);
    const need = Number(lib.allocSites(since, buf, size));
    if (need < size) return buf.toString('utf8', 0, need);
    size = need + 1;
  }
}

/** The core's own heap accounting: live allocations and bytes, totals since load. */
function allocStats() {
  const out = {};
  const rc = native().allocStats(out);
  if (rc !== 0) throw new PyjamazError(rc, 'pyjamaz_alloc_stats failed');
  return {
    liveAllocations: Number(out.live_allocations),
    liveBytes: Number(out.live_bytes),
    totalAllocations: Number(out.total_allocations),
    peakBytes: Number(out.peak_bytes),
  };
}

/** Throws the result's error, if it carries one. */
function throwIfError(res) {
  if (res.error_code !== 0) {
    throw new PyjamazError(res.error_code, res.error_message ?? `pyjamaz error ${codeName(res.error_code)}`);
  }
}

/** Copies a successful native result into JS values; the pointer is not freed here. */
function copyResult(ptr) {
  const res = readResult(ptr);
  throwIfError(res);
  const size = Number(res.output_len);
  const data = size === 0 ? Buffer.alloc(0) : Buffer.from(new Uint8Array(view(res.output, size)));
  return { data, format: res.format, diffValue: res.diff_value, passed: res.passed === 1, size };
}

/**
 * Optimizes an image synchronously.
 * @param {Buffer|Uint8Array} input image bytes (PNG, JPEG, WebP, GIF)
 * @param {{maxBytes?: number|bigint, maxDiff?: number, metric?: 'ssim'|'none',
 *          formats?: Array<'jpeg'|'png'|'webp'>, concurrency?: number}} [options]
 * @returns {{data: Buffer, format: string, diffValue: number, passed: boolean, size: number}}
 */
function optimize(input, options) {
  const fields = toNativeOptions(input, options);
  const lib = native();
  const ptr = lib.optimize(fields);
  try {
    return copyResult(ptr);
  } finally {
    lib.freeResult(ptr);
  }
}

/**
 * Like `optimize`, but the native work runs on a worker thread so the event
 * loop stays free. The input buffer must not be modified until it settles.
 */
function optimizeAsync(input, options) {
  let fields;
  let lib;
  try {
    fields = toNativeOptions(input, options);
    lib = native();
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    lib.optimize.async(fields, (err, ptr) => {
      // Released only now: the input buffer had to outlive the native call.
      fields = null;
      if (err) return reject(err);
      try {
        resolve(copyResult(ptr));
      } catch (e) {
        reject(e);
      } finally {
        lib.freeResult(ptr);
      }
    });
  });
}

// Frees results whose NativeResult was collected without close(). The held
// value is the raw pointer, never the handle (that would keep it alive).
const finalizer = new FinalizationRegistry((ptr) => {
  native().freeResult(ptr);
});
const OWNER = Symbol('pyjamaz.owner');

/**
 * A native result kept alive for zero-copy access to its bytes. Free it with
 * `close()` (or `using`); after that `data` throws, and Buffers obtained from
 * `data` earlier must not be used: they view freed memory.
 */
class NativeResult {
  #ptr;
  #output;
  #data = null;

  /** @internal use optimizeNative() */
  constructor(ptr, res) {
    this.#ptr = ptr;
    this.format = res.format;
    this.diffValue = res.diff_value;
    this.passed = res.passed === 1;
    this.size = Number(res.output_len);
    this.#output = res.output;
    finalizer.register(this, ptr, this);
  }

  /** The output bytes, viewed in native memory without a copy. */
  get data() {
    if (this.#ptr === null) throw new Error('NativeResult is closed');
    if (this.#data === null) {
      const ab = this.size === 0 ? new ArrayBuffer(0) : view(this.#output, this.size);
      // A view keeps its owner reachable, so the finalizer cannot free the
      // memory under a Buffer that is still in use.
      ab[OWNER] = this;
      this.#data = Buffer.from(ab);
    }
    return this.#data;
  }

  get closed() {
    return this.#ptr === null;
  }

  /** Frees the native result now. Idempotent. */
  close() {
    if (this.#ptr === null) return;
    const ptr = this.#ptr;
    this.#ptr = null;
    this.#data = null;
    finalizer.unregister(this);
    native().freeResult(ptr);
  }

  [Symbol.dispose ?? Symbol.for('nodejs.dispose')]() {
    this.close();
  }
}

/**
 * Optimizes an image and keeps the native result: zero-copy access to its
 * bytes through `result.data` until `result.close()`.
 * @returns {NativeResult}
 */
function optimizeNative(input, options) {
  const fields = toNativeOptions(input, options);
  const lib = native();
  const ptr = lib.optimize(fields);
  let res;
  try {
    res = readResult(ptr);
    throwIfError(res);
  } catch (err) {
    lib.freeResult(ptr);
    throw err;
  }
  return new NativeResult(ptr, res);
}

/**
 * The raw C call, for tests that must reach the core's own validation
 * (the public functions reject bad options before the FFI). Always frees.
 * @internal
 */
function _optimizeRaw(fields) {
  const lib = native();
  const ptr = lib.optimize(fields);
  try {
    return copyResult(ptr);
  } finally {
    lib.freeResult(ptr);
  }
}

module.exports = {
  getVersion,
  libraryPath,
  allocStats,
  allocSites,
  optimize,
  optimizeAsync,
  optimizeNative,
  NativeResult,
  PyjamazError,
  AbiMismatchError,
  LibraryLoadError,
  LibraryNotFoundError,
  ErrorCode,
  ABI_VERSION,
  _optimizeRaw,
};
