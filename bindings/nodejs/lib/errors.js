'use strict';
/**
 * Typed errors of the binding. `PyjamazError` carries the core's numeric code
 * (the `PYJAMAZ_ERR_*` values of pyjamaz.h) and its symbolic name, so callers
 * can branch on `err.codeName === 'CORRUPT_INPUT'` instead of parsing messages.
 * The binding raises the same codes for what it rejects before the native call
 * (an empty buffer is EMPTY_INPUT whether the binding or the core sees it).
 */

/** Symbolic name -> code, exactly as in core/include/pyjamaz.h. */
const ErrorCode = Object.freeze({
  NULL_POINTER: 1,
  EMPTY_INPUT: 2,
  UNKNOWN_FORMAT: 3,
  CORRUPT_INPUT: 4,
  TRUNCATED_INPUT: 5,
  LIMITS_EXCEEDED: 6,
  INVALID_OPTIONS: 7,
  ENCODE: 8,
  INTERNAL: 9,
});

const NAMES = new Map(Object.entries(ErrorCode).map(([name, code]) => [code, name]));

/** Symbolic name of a core error code; codes newer than this binding map to 'UNKNOWN_ERROR'. */
function codeName(code) {
  return NAMES.get(code) ?? 'UNKNOWN_ERROR';
}

class PyjamazError extends Error {
  /**
   * @param {number} code one of ErrorCode
   * @param {string} message the core's message, or the binding's
   */
  constructor(code, message) {
    super(message);
    this.name = 'PyjamazError';
    this.code = code;
    this.codeName = codeName(code);
  }
}

/** Raised at load when the library's ABI version is not the one this binding speaks. */
class AbiMismatchError extends Error {
  constructor(libPath, found, expected) {
    super(
      `${libPath} speaks pyjamaz ABI version ${found}, this binding needs ${expected}; ` +
        'rebuild the library or use a matching binding',
    );
    this.name = 'AbiMismatchError';
    this.libPath = libPath;
    this.found = found;
    this.expected = expected;
  }
}

/** Raised when the library file exists but cannot be loaded or is not a pyjamaz library. */
class LibraryLoadError extends Error {
  constructor(libPath, detail, cause) {
    super(`cannot load ${libPath}: ${detail}`, { cause });
    this.name = 'LibraryLoadError';
    this.libPath = libPath;
  }
}

module.exports = { ErrorCode, PyjamazError, AbiMismatchError, LibraryLoadError, codeName };
