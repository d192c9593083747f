'use strict';
/**
 * Leak-aware fuzzing of the Node binding: every input goes through
 * `pyjamaz.optimize` and must leave the core's live allocation count where it
 * was (memtest-fuzz's oracle). Run by `memtest fuzz node-fuzz` (and, with a
 * short budget, by `memtest run`); see docs/fuzzing.md.
 *
 * The input layout is suites/python/fuzz_optimize.py's, so a reproducer of
 * one replays in the other: byte 0 options (bits 0-1 metric, 2-3 formats);
 * byte 1 even: a shape (bytes 2-3 width 1 + u16 LE % 256, byte 4 height
 * 1 + b % 4, byte 5 color type gray/RGB/gray+alpha/RGBA, the rest pixels)
 * encoded here as a valid PNG; byte 1 odd: the body is the image as it is.
 */

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const fuzz = require('memtest-fuzz');
const pyjamaz = require(path.join(__dirname, '..', '..', 'bindings', 'nodejs'));

const METRICS = ['ssim', 'none', 'dssim', 'ssim'];
const FORMATS = [undefined, ['png'], ['jpeg', 'webp'], ['png', 'webp']];
const COLOR_TYPES = [[0, 1], [2, 3], [4, 2], [6, 4]];

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(kind, data) {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(kind, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([head, body, crc]);
}

function png(width, height, colorType, channels, pixels) {
  const row = width * channels;
  const raw = Buffer.alloc((row + 1) * height);
  const src = pixels.length ? pixels : Buffer.from([0x80]);
  for (let y = 0, k = 0; y < height; y++) {
    raw[y * (row + 1)] = 0;
    for (let x = 0; x < row; x++, k++) raw[y * (row + 1) + 1 + x] = src[k % src.length];
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 1 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function imageOf(data) {
  if (data.length < 2 || data[1] & 1) return data.subarray(2);
  const body = Buffer.alloc(Math.max(4, data.length - 2));
  data.copy(body, 0, 2);
  const width = 1 + (body.readUInt16LE(0) % 256);
  const height = 1 + (body[2] % 4);
  const [colorType, channels] = COLOR_TYPES[body[3] % 4];
  return png(width, height, colorType, channels, body.subarray(4));
}

function oneInput(data) {
  const opts = data.length ? data[0] : 0;
  try {
    pyjamaz.optimize(imageOf(data), { metric: METRICS[opts & 3], formats: FORMATS[(opts >> 2) & 3] });
  } catch (err) {
    if (err instanceof pyjamaz.PyjamazError) return err.code;
    throw err;
  }
  return 'ok';
}

function seeds() {
  const out = [
    Buffer.concat([Buffer.from([0, 0, 16, 0, 3, 3]), Buffer.from(Array.from({ length: 64 }, (_, i) => i))]),
    Buffer.concat([Buffer.from([4, 0, 40, 0, 1, 1]), Buffer.from(Array.from({ length: 32 }, (_, i) => i))]),
    Buffer.from([0, 0, 9, 0, 0, 2, 0x10, 0xf0]),
  ];
  const dir = process.env.MEMTEST_FIXTURES;
  if (dir) {
    for (const name of fs.readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      const st = fs.statSync(file);
      if (st.isFile() && st.size <= 4096) out.push(Buffer.concat([Buffer.from([0, 1]), fs.readFileSync(file)]));
    }
  }
  return out;
}

fuzz.main({ oneInput, live: () => pyjamaz.allocStats().liveAllocations, seeds: seeds() }).catch((err) => {
  process.stderr.write(`FAIL fuzz: ${err && err.stack}\n`);
  process.exit(2);
});
