'use strict';
// Tests of memtest-fuzz's builtin engine: a seed gives the same inputs,
// another seed others; inputs stay within maxLen; only a new label adds an
// input to the corpus. `node --test runner/helpers/node/test/`.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Mutator } = require(path.join(__dirname, '..', 'memtest-fuzz.js'));

const SEEDS = [Buffer.from('hello world'), Buffer.from([0, 1, 2, 3])];
const inputs = (seed, n = 200, maxLen = 4096) => {
  const m = new Mutator(SEEDS, seed, maxLen);
  return Array.from({ length: n }, () => m.next().toString('hex'));
};

test('a seed gives the same inputs and another seed others', () => {
  assert.deepEqual(inputs(3), inputs(3));
  assert.notDeepEqual(inputs(3), inputs(4));
});

test('inputs are mutated and bounded', () => {
  const out = inputs(1, 200, 8);
  assert.ok(out.every((x) => x.length <= 16));
  const seeds = SEEDS.map((s) => s.toString('hex'));
  assert.ok(out.some((x) => !seeds.includes(x)));
});

test('only a new label keeps its input', () => {
  const m = new Mutator(SEEDS, 0, 64);
  m.keep(Buffer.from('a'), 'ok');
  m.keep(Buffer.from('b'), 'ok');
  m.keep(Buffer.from('c'), 7);
  m.keep(Buffer.from('d'), undefined);
  assert.deepEqual(m.corpus.map(String), [...SEEDS.map(String), 'a', 'c']);
});
