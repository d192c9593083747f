'use strict';
/**
 * Test helpers: image bytes generated in-test (a PNG encoder written with zlib
 * and a hand-rolled CRC-32, so the tests need no image library and no
 * fixtures), and a `gc()` that works with or without `--expose-gc`.
 */

const zlib = require('node:zlib');
const v8 = require('node:v8');
const vm = require('node:vm');

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** Header fields of an 8-bit RGB PNG; the dimensions may lie (for bomb tests). */
function ihdr(width, height) {
  const h = Buffer.alloc(13);
  h.writeUInt32BE(width, 0);
  h.writeUInt32BE(height, 4);
  h[8] = 8; // bit depth
  h[9] = 2; // colour type: RGB
  return chunk('IHDR', h);
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A valid RGB PNG of a smooth gradient plus deterministic noise (`seed`), so
 * lossy encoders have something to trade quality against.
 */
function makePng(width, height, seed = 1) {
  let state = seed >>> 0 || 1;
  const rand = () => {
    // xorshift32: deterministic, good enough for texture.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) & 0x1f;
  };
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let i = 0;
  for (let y = 0; y < height; y++) {
    raw[i++] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      raw[i++] = ((x * 255) / Math.max(1, width - 1) + rand()) & 0xff;
      raw[i++] = ((y * 255) / Math.max(1, height - 1) + rand()) & 0xff;
      raw[i++] = (128 + rand()) & 0xff;
    }
  }
  return Buffer.concat([
    SIGNATURE,
    ihdr(width, height),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A PNG whose header claims `width` x `height` but carries one tiny IDAT. */
function makeBombPng(width = 100000, height = 100000) {
  return Buffer.concat([
    SIGNATURE,
    ihdr(width, height),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A PNG with valid chunk framing whose IDAT is not a zlib stream. */
function makeCorruptPng(width = 16, height = 16) {
  const garbage = Buffer.alloc(256, 0xa5);
  return Buffer.concat([SIGNATURE, ihdr(width, height), chunk('IDAT', garbage), chunk('IEND', Buffer.alloc(0))]);
}

/** Magic bytes -> format name, to check what the core says it returned. */
function sniff(buf) {
  if (buf.subarray(0, 8).equals(SIGNATURE)) return 'png';
  if (buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  if (buf.toString('latin1', 0, 4) === 'GIF8') return 'gif';
  return 'unknown';
}

let cachedGc = null;
/** Forces a full collection, exposing V8's gc when node ran without --expose-gc. */
function gc() {
  if (!cachedGc) {
    if (typeof global.gc === 'function') {
      cachedGc = global.gc;
    } else {
      v8.setFlagsFromString('--expose-gc');
      cachedGc = vm.runInNewContext('gc');
    }
  }
  cachedGc();
}

module.exports = { makePng, makeBombPng, makeCorruptPng, sniff, crc32, gc };
