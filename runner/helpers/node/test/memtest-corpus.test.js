'use strict';
// Tests of memtest-corpus: the lazy walk (nested folders, links not followed),
// the folder from MEMTEST_CORPUS, and the tally's counts, named failures,
// figures and checks. `node --test runner/helpers/node/test/`.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');

const HELPERS = path.join(__dirname, '..');
const m = require(path.join(HELPERS, 'memtest-suite.js'));
const mc = require(path.join(HELPERS, 'memtest-corpus.js'));

function tree() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'memtest-corpus-'));
  for (const f of ['top', 'a/one', 'a/b/two', 'a/b/three']) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), f);
  }
  fs.mkdirSync(path.join(root, 'empty'));
  fs.symlinkSync(path.join(root, 'a'), path.join(root, 'link'));
  return root;
}

test('the walk yields every file once, lazily, and skips links', () => {
  const root = tree();
  const walk = mc.corpusFiles(root);
  assert.equal(typeof walk.next, 'function', 'a generator, not an array');
  const found = [...walk].map((f) => path.relative(root, f)).sort();
  assert.deepEqual(found, ['a/b/three', 'a/b/two', 'a/one', 'top']);
  // Stopping early closes the directories it opened.
  const early = mc.corpusFiles(root);
  early.next();
  early.return();
  fs.rmSync(root, { recursive: true });
});

test('each file is said in MEMTEST_INPUT_FILE before it is yielded; the walk cleans up', () => {
  const root = tree();
  const said = path.join(root, '..', `${path.basename(root)}.input`);
  process.env[mc.INPUT_FILE_ENV] = said;
  try {
    let files = 0;
    for (const file of mc.corpusFiles(root)) {
      assert.equal(fs.readFileSync(said, 'utf8'), `${file}\n`);
      files += 1;
    }
    assert.equal(files, 4);
    assert.equal(fs.existsSync(said), false);
  } finally {
    delete process.env[mc.INPUT_FILE_ENV];
    fs.rmSync(root, { recursive: true });
  }
});

test('the folder comes from MEMTEST_CORPUS', () => {
  const root = tree();
  const saved = process.env.MEMTEST_CORPUS;
  try {
    process.env.MEMTEST_CORPUS = root;
    assert.equal(mc.corpusDir(), root);
    process.env.MEMTEST_CORPUS = path.join(root, 'missing');
    assert.throws(() => mc.corpusDir(), /is not a folder/);
    delete process.env.MEMTEST_CORPUS;
    assert.throws(() => mc.corpusDir(), /is not set/);
  } finally {
    if (saved === undefined) delete process.env.MEMTEST_CORPUS;
    else process.env.MEMTEST_CORPUS = saved;
    fs.rmSync(root, { recursive: true });
  }
});

test('the tally counts, names the first failures, reports and checks', () => {
  const written = [];
  const tally = new mc.Tally({ named: 1, out: { write: (s) => written.push(s) } });
  tally.record('a.png', 'ok');
  tally.record('b.png', 'decode_error', 'TRUNCATED_INPUT');
  assert.equal(tally.check(), true);
  assert.deepEqual(m.failures(), []);
  tally.record('c.png', 'leak', '1 allocation');
  tally.record('d.png', 'crash', 'INTERNAL');
  assert.deepEqual(written, [
    'corpus leak: c.png: 1 allocation\n',
    'corpus: more leaks and crashes than 1; counting the rest\n',
  ]);
  assert.throws(() => tally.record('e.png', 'exploded'), /unknown corpus outcome/);
  const lines = [];
  const write = process.stdout.write;
  process.stdout.write = (s) => lines.push(s.trim());
  try {
    tally.report();
  } finally {
    process.stdout.write = write;
  }
  for (const line of ['MEMTEST corpus_files=4', 'MEMTEST corpus_ok=1', 'MEMTEST corpus_leaks=1', 'MEMTEST corpus_crashes=1']) {
    assert.ok(lines.includes(line), `${line} in ${lines}`);
  }
  assert.equal(tally.check(), false);
  assert.deepEqual(m.failures(), ['1 of 4 files left memory live, limit 0', '1 of 4 files crashed, limit 0']);
});
