'use strict';
/**
 * The FFI layer: loads the library once, checks its ABI version and declares
 * the C functions and structs of core/include/pyjamaz.h with koffi. Nothing
 * here owns memory; index.js decides when results are freed.
 */

const koffi = require('koffi');
const { findLibrary } = require('./discovery');
const { AbiMismatchError, LibraryLoadError } = require('./errors');

/** The PYJAMAZ_ABI_VERSION this binding was written against. */
const ABI_VERSION = 1;

// Layouts mirror pyjamaz.h field for field; koffi applies the C alignment rules.
const PyjamazOptions = koffi.struct('PyjamazOptions', {
  input: 'const uint8_t *',
  input_len: 'size_t',
  max_bytes: 'uint64_t',
  max_diff: 'double',
  metric: 'const char *',
  formats: 'const char *',
  concurrency: 'uint32_t',
});

const PyjamazResult = koffi.struct('PyjamazResult', {
  // A pointer (BigInt) rather than an array: the output is viewed or copied
  // explicitly, never converted behind our back.
  output: 'uint8_t *',
  output_len: 'size_t',
  format: 'const char *',
  diff_value: 'double',
  passed: 'int32_t',
  error_code: 'int32_t',
  error_message: 'const char *',
});

const PyjamazAllocStats = koffi.struct('PyjamazAllocStats', {
  live_allocations: 'uint64_t',
  live_bytes: 'uint64_t',
  total_allocations: 'uint64_t',
  peak_bytes: 'uint64_t',
});

// koffi runs every native call on a stack of its own: 2 MiB for sync calls,
// 128 KiB for async ones (its defaults). The encoders need more than 128 KiB
// when the library is built with AddressSanitizer (its redzones enlarge
// every frame): jpeg-encoder's `encode` overflowed into the guard page, a
// bare SIGSEGV in a libuv worker, on about half the runs of
// suites/node/ffi_memory.js (gdb, 2026-12-01). Async calls get the sync
// calls' stack; it is mmap'd, so only the pages used count in RSS.
const ASYNC_STACK_SIZE = 2 * 1024 * 1024;

/**
 * Raises koffi's async stack before the first load. koffi refuses any change
 * once some library has been loaded in the process (another module may have
 * done so first); its defaults are then kept, as they would be without this.
 */
function configureKoffi() {
  if (koffi.config().async_stack_size >= ASYNC_STACK_SIZE) return;
  try {
    koffi.config({ async_stack_size: ASYNC_STACK_SIZE });
  } catch (err) {
    if (!/once a library has been loaded/.test(err.message)) throw err;
  }
}

let loaded = null;

/**
 * Loads the library (first call only) and returns its functions. Throws
 * LibraryNotFoundError or AbiMismatchError; both name the path involved.
 */
function native() {
  if (!loaded) loaded = loadLibrary(findLibrary());
  return loaded;
}

/** Loads the library at `libPath` and refuses it unless it speaks `expectedAbi`. */
function loadLibrary(libPath, expectedAbi = ABI_VERSION) {
  let lib;
  configureKoffi();
  try {
    lib = koffi.load(libPath);
  } catch (err) {
    throw new LibraryLoadError(libPath, err.message, err);
  }
  let abiVersion;
  try {
    abiVersion = lib.func('uint32_t pyjamaz_abi_version(void)');
  } catch (err) {
    lib.unload();
    throw new LibraryLoadError(libPath, 'it does not export pyjamaz_abi_version (not a pyjamaz library?)', err);
  }
  const found = abiVersion();
  if (found !== expectedAbi) {
    lib.unload();
    throw new AbiMismatchError(libPath, found, expectedAbi);
  }
  return {
    path: libPath,
    version: lib.func('const char *pyjamaz_version(void)'),
    // Returned as a raw pointer so the result can be freed after it is read.
    optimize: lib.func('void *pyjamaz_optimize(const PyjamazOptions *options)'),
    freeResult: lib.func('void pyjamaz_free_result(void *result)'),
    allocStats: lib.func('int32_t pyjamaz_alloc_stats(_Out_ PyjamazAllocStats *out)'),
    allocSites: lib.func('size_t pyjamaz_alloc_sites(uint64_t since, void *buf, size_t cap)'),
  };
}

/** Reads the PyjamazResult a pointer refers to (the output stays native). */
function readResult(ptr) {
  return koffi.decode(ptr, PyjamazResult);
}

/** A zero-copy ArrayBuffer over native memory. */
function view(ptr, length) {
  return koffi.view(ptr, length);
}

module.exports = { native, loadLibrary, readResult, view, ABI_VERSION };
