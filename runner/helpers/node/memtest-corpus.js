'use strict';
/**
 * memtest-corpus: corpus mode for a Node suite (see docs/protocol.md, "Corpus
 * mode"). memtest writes it beside `memtest-suite` and hands the suite a
 * folder of inputs in MEMTEST_CORPUS; this module walks that folder lazily
 * and tallies what each file did.
 *
 *  - `corpusDir()`: the folder (throws when it is unset or not a folder: the
 *    suite exits 2);
 *  - `corpusFiles(dir)`: a generator of every regular file below it, depth
 *    first, read one directory entry at a time with `fs.opendirSync`: one
 *    open directory per level of depth, never an array of the folder's
 *    paths, so a folder of a million files costs what a folder of ten does;
 *    before yielding a file it writes its path to MEMTEST_INPUT_FILE, so a
 *    suite killed by a signal or its timeout is reported with the file it
 *    was on;
 *  - `Tally`: each file's outcome (`ok`, `decode_error`: an error the library
 *    is expected to give for a bad file, `leak`: memory left live after the
 *    call, `crash`: any other failure), counted, with the first few leaks
 *    and crashes named on stderr; `report()` prints the counts as
 *    `MEMTEST corpus_*` figures (also from `checkpoint()`, so a suite that is
 *    killed has still delivered how far it got), `check()` fails the suite on
 *    any leak or crash. Decode errors of broken files are expected: counted,
 *    never failed.
 *
 *   const m = require('memtest-suite');
 *   const mc = require('memtest-corpus');
 *   m.run(() => {
 *     const tally = new mc.Tally();
 *     for (const file of mc.corpusFiles(mc.corpusDir())) {
 *       const before = lib.liveAllocations();
 *       let outcome = 'ok', detail = '';
 *       try { lib.process(fs.readFileSync(file)); }
 *       catch (err) { [outcome, detail] = [err.decode ? 'decode_error' : 'crash', String(err)]; }
 *       const left = lib.liveAllocations() - before;
 *       tally.record(file, left ? 'leak' : outcome, left ? `${left} allocations left live` : detail);
 *     }
 *     tally.report();
 *     tally.check();
 *   });
 */

const fs = require('node:fs');
const path = require('node:path');
const m = require('./memtest-suite.js');

const CORPUS_ENV = 'MEMTEST_CORPUS';
/** The file memtest reads the input a killed suite was on from. */
const INPUT_FILE_ENV = 'MEMTEST_INPUT_FILE';
/** Every outcome a file can have, and the figure counting it. */
const OUTCOMES = {
  ok: 'corpus_ok',
  decode_error: 'corpus_decode_errors',
  leak: 'corpus_leaks',
  crash: 'corpus_crashes',
};

/** The folder in MEMTEST_CORPUS (a suite's `corpus` or `--corpus`). */
function corpusDir() {
  const value = process.env[CORPUS_ENV];
  if (!value) {
    throw new Error(
      `${CORPUS_ENV} is not set: give the suite \`corpus = "DIR"\` in memtest.toml, ` +
        'or run it with `memtest run --corpus DIR`',
    );
  }
  if (!fs.statSync(value, { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`${CORPUS_ENV}=${value} is not a folder`);
  }
  return value;
}

/**
 * Overwrites the input file with `file`: done before the file is worked on,
 * so a crash of the library cannot undo it. Saying where the suite was is a
 * courtesy: a failed write does not stop the walk.
 */
function sayInput(inputFile, file) {
  try {
    fs.writeFileSync(inputFile, `${file}\n`);
  } catch {
    // the walk goes on
  }
}

/**
 * Every regular file below `root`, depth first, in the order the file system
 * lists them; symbolic links are not followed. Each file's path is written
 * to MEMTEST_INPUT_FILE (when memtest set it) before it is yielded, and the
 * file removed once the walk is over.
 */
function* corpusFiles(root) {
  const inputFile = process.env[INPUT_FILE_ENV];
  const stack = [fs.opendirSync(root)];
  try {
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const entry = top.readSync();
      if (entry === null) {
        stack.pop().closeSync();
      } else if (entry.isDirectory()) {
        stack.push(fs.opendirSync(path.join(top.path, entry.name)));
      } else if (entry.isFile()) {
        const file = path.join(top.path, entry.name);
        if (inputFile) sayInput(inputFile, file);
        yield file;
      }
    }
  } finally {
    for (const dir of stack) dir.closeSync();
    if (inputFile) fs.rmSync(inputFile, { force: true });
  }
}

/**
 * What each file of a corpus did. Holds counts and the names of the first
 * `named` leaks and crashes, nothing per file beyond that.
 */
class Tally {
  constructor({ named = 20, out = process.stderr } = {}) {
    this.counts = Object.fromEntries(Object.keys(OUTCOMES).map((o) => [o, 0]));
    this.named = named;
    this.out = out;
    this.started = process.hrtime.bigint();
  }

  get files() {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }

  record(file, outcome, detail = '') {
    if (!(outcome in OUTCOMES)) {
      throw new Error(`unknown corpus outcome ${outcome} (one of ${Object.keys(OUTCOMES).join(', ')})`);
    }
    this.counts[outcome] += 1;
    const failed = outcome === 'leak' || outcome === 'crash';
    const shown = this.counts.leak + this.counts.crash;
    if (failed && shown <= this.named) {
      this.out.write(`corpus ${outcome}: ${file}: ${detail}\n`);
    } else if (failed && shown === this.named + 1) {
      this.out.write(`corpus: more leaks and crashes than ${this.named}; counting the rest\n`);
    }
  }

  imagesPerSecond() {
    const seconds = Number(process.hrtime.bigint() - this.started) / 1e9;
    return seconds > 0 ? this.files / seconds : 0;
  }

  /** corpus_files, corpus_ok, corpus_decode_errors, corpus_leaks, corpus_crashes, corpus_files_per_s. */
  report() {
    m.report('corpus_files', this.files);
    for (const [outcome, figure] of Object.entries(OUTCOMES)) m.report(figure, this.counts[outcome]);
    m.report('corpus_files_per_s', Math.round(this.imagesPerSecond() * 10) / 10);
  }

  checkpoint() {
    this.report();
  }

  /** Fails the suite on any leak or crash, or a corpus of fewer than `minimumFiles` files. */
  check(minimumFiles = 1) {
    const enough = m.check(
      this.files >= minimumFiles,
      `the corpus had ${this.files} files, at least ${minimumFiles} expected`,
    );
    const noLeak = m.check(
      this.counts.leak === 0,
      `${this.counts.leak} of ${this.files} files left memory live, limit 0`,
    );
    const noCrash = m.check(
      this.counts.crash === 0,
      `${this.counts.crash} of ${this.files} files crashed, limit 0`,
    );
    return enough && noLeak && noCrash;
  }
}

module.exports = { CORPUS_ENV, INPUT_FILE_ENV, OUTCOMES, corpusDir, corpusFiles, Tally };
