'use strict';
/**
 * Validates the input and options of an optimize call before anything crosses
 * the FFI, and turns them into the field values of `PyjamazOptions`. Wrong
 * types are `TypeError`s (programming errors); values out of range are
 * `PyjamazError`s with the code the core would give (INVALID_OPTIONS,
 * EMPTY_INPUT), so one catch handles both sources.
 */

const { ErrorCode, PyjamazError } = require('./errors');

const METRICS = new Set(['ssim', 'none']);
const FORMATS = new Set(['jpeg', 'png', 'webp']);
const KEYS = new Set(['maxBytes', 'maxDiff', 'metric', 'formats', 'concurrency']);
const U64_MAX = (1n << 64n) - 1n;
// More threads than formats buys nothing; the cap only catches nonsense values.
const MAX_CONCURRENCY = 1024;

function invalid(message) {
  return new PyjamazError(ErrorCode.INVALID_OPTIONS, message);
}

function checkInput(input) {
  if (!(input instanceof Uint8Array)) {
    throw new TypeError(`input must be a Buffer or Uint8Array, got ${describe(input)}`);
  }
  if (input.length === 0) throw new PyjamazError(ErrorCode.EMPTY_INPUT, 'input is empty');
}

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return typeof value;
}

function maxBytesField(value) {
  if (value === undefined) return 0;
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) throw invalid(`maxBytes must be between 0 and 2^64-1, got ${value}`);
    return value;
  }
  if (typeof value !== 'number') throw new TypeError(`maxBytes must be a number, got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalid(`maxBytes must be a non-negative integer (0 = no budget), got ${value}`);
  }
  return value;
}

function maxDiffField(value) {
  if (value === undefined) return 0;
  if (typeof value !== 'number') throw new TypeError(`maxDiff must be a number, got ${describe(value)}`);
  if (!Number.isFinite(value) || value < 0) {
    throw invalid(`maxDiff must be a finite number >= 0 (0 = no limit), got ${value}`);
  }
  return value;
}

function metricField(value) {
  if (value === undefined) return 'ssim';
  if (typeof value !== 'string') throw new TypeError(`metric must be a string, got ${describe(value)}`);
  if (!METRICS.has(value)) throw invalid(`metric must be one of ${[...METRICS].join(', ')}, got '${value}'`);
  return value;
}

function formatsField(value) {
  // NULL tells the core "every format".
  if (value === undefined) return null;
  if (!Array.isArray(value)) throw new TypeError(`formats must be an array of strings, got ${describe(value)}`);
  if (value.length === 0) throw invalid('formats must name at least one format; omit it to allow all');
  for (const f of value) {
    if (typeof f !== 'string') throw new TypeError(`formats must hold strings, got ${describe(f)}`);
    if (!FORMATS.has(f)) throw invalid(`unknown format '${f}', expected one of ${[...FORMATS].join(', ')}`);
  }
  return [...new Set(value)].join(',');
}

function concurrencyField(value) {
  if (value === undefined) return 0;
  if (typeof value !== 'number') throw new TypeError(`concurrency must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 0 || value > MAX_CONCURRENCY) {
    throw invalid(`concurrency must be an integer from 0 to ${MAX_CONCURRENCY}, got ${value}`);
  }
  return value;
}

/**
 * Checks `input` and `options` and returns the `PyjamazOptions` fields
 * (`input` still refers to the caller's buffer: no copy).
 */
function toNativeOptions(input, options) {
  checkInput(input);
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KEYS.has(key)) throw invalid(`unknown option '${key}', expected one of ${[...KEYS].join(', ')}`);
  }
  return {
    input,
    input_len: input.length,
    max_bytes: maxBytesField(options.maxBytes),
    max_diff: maxDiffField(options.maxDiff),
    metric: metricField(options.metric),
    formats: formatsField(options.formats),
    concurrency: concurrencyField(options.concurrency),
  };
}

module.exports = { toNativeOptions, METRICS, FORMATS };
