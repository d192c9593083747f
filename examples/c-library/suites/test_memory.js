'use strict';
/**
 * The Node memory suite of the intern library, over its C ABI with koffi.
 * Each round interns a few thousand words into a fresh table (the hash index
 * grows several times), checks a sample of ids through intern_get and
 * intern_find from JS, and frees the table. Checks, with memtest-suite's
 * helpers (run with `node --expose-gc`):
 *  - the library's own live allocations end exactly at baseline (exact);
 *  - RSS, read at 20 checkpoints after a collection, does not trend up (the
 *    shared leak rule: slope over the limit AND rising on >= 2/3 of them).
 *
 * Canary: the same script on the LEAK_CANARY build (the old hash index is
 * never freed when it grows) must fail on both.
 */

const koffi = require('koffi');
const m = require('memtest-suite');

const WORDS = 4000;
const VOCABULARY = 2500;
const SAMPLE = 200; // words per round checked from JS (the C suite checks all)
const ROUNDS = m.iterations(1000, 200);
const CHECKPOINTS = 20;
// A clean round leaves nothing behind; the leaky build loses ~16 KB a round.
const LIMIT_BYTES_PER_ROUND = 2000;

function load() {
  const lib = koffi.load(m.libPath('INTERN_LIB'));
  return {
    abiVersion: lib.func('uint32_t intern_abi_version(void)'),
    // The handle stays an opaque pointer; strings go in as Buffers with an
    // explicit length (any bytes, NUL included).
    create: lib.func('void *intern_new(size_t expected)'),
    free: lib.func('void intern_free(void *t)'),
    find: lib.func('uint32_t intern_find(void *t, const uint8_t *s, size_t len)'),
    get: lib.func('void *intern_get(void *t, uint32_t id, _Out_ size_t *len)'),
    count: lib.func('size_t intern_count(void *t)'),
    tokenize: lib.func('size_t intern_tokenize(void *t, const uint8_t *text, size_t len, _Out_ uint32_t *ids, size_t max_ids)'),
    liveAllocations: lib.func('uint64_t intern_live_allocations(void)'),
    liveBytes: lib.func('uint64_t intern_live_bytes(void)'),
  };
}

/** A deterministic text of WORDS words drawn from VOCABULARY, and its words. */
function corpus(seed) {
  let s = (seed + 1) * 2654435761;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % VOCABULARY;
  const words = Array.from({ length: WORDS }, () => `w${next().toString(16)}-${'ab'.repeat(seed % 3)}`);
  return { text: Buffer.from(words.join(' ')), words: words.map((w) => Buffer.from(w)), distinct: new Set(words).size };
}

m.run(async () => {
  const lib = load();
  m.check(lib.abiVersion() === 1, `ABI version ${lib.abiVersion()}, this suite speaks 1`);
  const texts = Array.from({ length: 8 }, (_, seed) => corpus(seed)); // made once
  const ids = new Uint32Array(WORDS);
  const len = [0];

  const oneRound = (r) => {
    const { text, words, distinct } = texts[r % texts.length];
    const t = lib.create(0);
    if (!t) throw new Error('intern_new failed');
    try {
      const n = Number(lib.tokenize(t, text, text.length, ids, WORDS));
      if (n !== WORDS) throw new Error(`round ${r}: ${n} words tokenized, expected ${WORDS}`);
      for (let i = r % 7; i < WORDS; i += WORDS / SAMPLE) {
        const w = words[i];
        const ptr = lib.get(t, ids[i], len);
        const got = ptr ? Buffer.from(koffi.view(ptr, Number(len[0]))) : null;
        if (!got || !got.equals(w)) throw new Error(`round ${r}: id ${ids[i]} is not ${w}`);
        if (lib.find(t, w, w.length) !== ids[i]) throw new Error(`round ${r}: find(${w}) disagrees with put`);
      }
      const count = Number(lib.count(t));
      if (count !== distinct) throw new Error(`round ${r}: ${count} ids for ${distinct} words`);
    } finally {
      lib.free(t);
    }
  };

  for (let r = 0; r < 10; r++) oneRound(r); // warm-up
  await m.quiesce();
  const live0 = BigInt(lib.liveAllocations());
  const bytes0 = BigInt(lib.liveBytes());
  const cps = new m.Checkpoints();
  cps.record(0);
  m.progress(0); // the measured loop begins: memtest's growth starts here
  const every = Math.max(1, Math.floor(ROUNDS / CHECKPOINTS));
  for (let r = 1; r <= ROUNDS; r++) {
    oneRound(r);
    if (r % every === 0) {
      await m.quiesce();
      cps.record(r);
    }
  }

  const leaks = Number(BigInt(lib.liveAllocations()) - live0);
  m.report('native_leaks', leaks);
  m.report('native_leaked_bytes', Number(BigInt(lib.liveBytes()) - bytes0));
  m.report('operations', ROUNDS * WORDS);
  m.check(leaks === 0, `${leaks} native allocations left live after ${ROUNDS} rounds, limit 0`);
  cps.checkNoLeak({ limit: LIMIT_BYTES_PER_ROUND, unit: 'bytes per round' });
}, 'c-library node');
