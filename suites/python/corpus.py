"""corpus: every file of a folder (MEMTEST_CORPUS: the suite's ``corpus``,
by default the fixture folder's generated ``corpus/``, or ``memtest run
--corpus DIR``) through ``pyjamaz.optimize``, one at a time, with memory
bounded whatever the folder's size: the folder is walked lazily
(``memtest_corpus.corpus_files``), each file read, optimized and dropped
before the next.

Each file gets an outcome: ``ok``, ``decode_error`` (the typed error a bad
file must give: empty, unknown format, corrupt, truncated, over the decode
limits), ``crash`` (any other error, or an empty result) or ``leak`` (the
core's live allocation count not back where it was before the call). The
suite goes on past every failure, reports the counts as ``corpus_*``
figures, and fails on any leak or crash; decode errors are expected.

Warm-up: the fixtures and the corpus's first files once, unchecked, so that
codec tables made on first use are not taken for a file's leak.
"""

import memtest_corpus as mc

import common as t

pyjamaz = t.pyjamaz

DECODE_ERRORS = {"EMPTY_INPUT", "UNKNOWN_FORMAT", "CORRUPT_INPUT", "TRUNCATED_INPUT", "LIMITS_EXCEEDED"}
WARM_UP_FILES = 50
PROGRESS_EVERY = 20
CHECKPOINT_EVERY = 500


def optimize(data: bytes):
    """(outcome, detail) of one optimize call; the result is dropped."""
    try:
        result = pyjamaz.optimize(data)
    except pyjamaz.PyjamazError as err:
        if err.code_name in DECODE_ERRORS:
            return "decode_error", err.code_name
        return "crash", f"{err.code_name}: {err.message}"
    except Exception as err:  # noqa: BLE001 - any other failure is this file's crash
        return "crash", f"{type(err).__name__}: {err}"
    if result.size == 0:
        return "crash", "an empty result"
    return "ok", ""


def main():
    folder = mc.corpus_dir()
    for name in ("tiny.png", "small.jpg", "flat-128.png", "truncated.png", "corrupt.jpg"):
        optimize(t.fixture(name))
    for i, path in enumerate(mc.corpus_files(folder)):
        if i >= WARM_UP_FILES:
            break
        optimize(path.read_bytes())
    t.collect()
    live0, bytes0 = t.native_live()
    tally = mc.Tally()
    t.progress(0)
    for path in mc.corpus_files(folder):
        data = path.read_bytes()
        before, _ = t.native_live()
        outcome, detail = optimize(data)
        del data
        left = t.native_live()[0] - before
        if left:
            outcome, detail = "leak", f"{left} native allocations left live ({outcome} {detail})".strip()
        tally.record(path, outcome, detail)
        if tally.files % PROGRESS_EVERY == 0:
            t.progress(tally.files)
        if tally.files % CHECKPOINT_EVERY == 0:
            tally.checkpoint()
    t.progress(tally.files)
    t.collect()
    live1, bytes1 = t.native_live()
    leaks = live1 - live0
    t.report("native_leaks", leaks)
    t.report_native_sites()
    t.report("native_leaked_bytes", bytes1 - bytes0)
    t.report("operations", tally.files)
    tally.report()
    t.check(leaks == 0, f"native live allocations {leaks} above baseline after {tally.files} files, limit 0")
    tally.check()


t.run(main, name="corpus")
