"""memtest_corpus: corpus mode for a Python suite (see docs/protocol.md,
"Corpus mode"). memtest writes it beside ``memtest_suite`` and hands the
suite a folder of inputs in MEMTEST_CORPUS; this module walks that folder
lazily and tallies what each file did.

- ``corpus_dir()``: the folder (the suite exits 2 when it is unset or not a
  folder);
- ``corpus_files(dir)``: every regular file below it, depth first, read one
  directory entry at a time with ``os.scandir``: it holds one open directory
  per level of depth, never a list of the folder's paths, so a folder of a
  million files costs what a folder of ten does; before yielding a file it
  writes its path to MEMTEST_INPUT_FILE, so a suite killed by a signal or
  its timeout is reported with the file it was on;
- ``Tally``: each file's outcome (``ok``, ``decode_error``: an error the
  library is expected to give for a bad file, ``leak``: memory left live
  after the call, ``crash``: any other failure), counted, with the first few
  leaks and crashes named on stderr; ``report()`` prints the counts as
  ``MEMTEST corpus_*`` figures (also from ``checkpoint()``, so a suite that
  is killed has still delivered how far it got), ``check()`` fails the suite
  on any leak or crash. Decode errors of broken files are expected: counted,
  never failed.

A minimal corpus suite::

    import memtest_suite as m
    import memtest_corpus as mc

    def main():
        tally = mc.Tally()
        for path in mc.corpus_files(mc.corpus_dir()):
            before = lib.live_allocations()
            try:
                lib.process(path.read_bytes())
                outcome, detail = "ok", ""
            except lib.DecodeError as err:
                outcome, detail = "decode_error", str(err)
            except Exception as err:  # anything else is a crash of this file
                outcome, detail = "crash", repr(err)
            left = lib.live_allocations() - before
            tally.record(path, "leak" if left else outcome, f"{left} allocations left live" if left else detail)
        tally.report()
        tally.check()

    m.run(main)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Dict, Iterator

import memtest_suite as m

__all__ = ["CORPUS_ENV", "INPUT_FILE_ENV", "OUTCOMES", "corpus_dir", "corpus_files", "Tally"]

CORPUS_ENV = "MEMTEST_CORPUS"
#: The file memtest reads the input a killed suite was on from.
INPUT_FILE_ENV = "MEMTEST_INPUT_FILE"
#: Every outcome a file can have, and the figure counting it.
OUTCOMES = {
    "ok": "corpus_ok",
    "decode_error": "corpus_decode_errors",
    "leak": "corpus_leaks",
    "crash": "corpus_crashes",
}


class CorpusError(RuntimeError):
    """The suite cannot do its work: no usable corpus folder."""


def corpus_dir() -> Path:
    """The folder in MEMTEST_CORPUS (a suite's ``corpus`` or ``--corpus``)."""
    value = os.environ.get(CORPUS_ENV)
    if not value:
        raise CorpusError(f"{CORPUS_ENV} is not set: give the suite `corpus = \"DIR\"` in memtest.toml, "
                          f"or run it with `memtest run --corpus DIR`")
    path = Path(value)
    if not path.is_dir():
        raise CorpusError(f"{CORPUS_ENV}={value} is not a folder")
    return path


def corpus_files(root: "os.PathLike[str] | str") -> Iterator[Path]:
    """Every regular file below ``root``, depth first, in the order the file
    system lists them; symbolic links are not followed. Each file's path is
    written to MEMTEST_INPUT_FILE (when memtest set it) before it is
    yielded, and the file removed once the walk is over."""
    input_file = os.environ.get(INPUT_FILE_ENV)
    stack = [os.scandir(root)]
    try:
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop().close()
            elif entry.is_dir(follow_symlinks=False):
                stack.append(os.scandir(entry.path))
            elif entry.is_file(follow_symlinks=False):
                if input_file:
                    _say_input(input_file, entry.path)
                yield Path(entry.path)
    finally:
        for it in stack:
            it.close()
        if input_file:
            try:
                os.remove(input_file)
            except OSError:
                pass


def _say_input(input_file: str, path: str) -> None:
    """Overwrites the input file with ``path`` (a write a crash of the
    library cannot undo: it is done before the file is worked on)."""
    try:
        with open(input_file, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(path + "\n")
    except OSError:
        pass  # saying where it was is a courtesy; the walk goes on


class Tally:
    """What each file of a corpus did. Holds counts and the names of the
    first ``named`` leaks and crashes, nothing per file beyond that."""

    def __init__(self, named: int = 20, out=None):
        self.counts: Dict[str, int] = {o: 0 for o in OUTCOMES}
        self.named = named
        self.out = out
        self._started = time.monotonic()

    @property
    def files(self) -> int:
        return sum(self.counts.values())

    def record(self, path: "os.PathLike[str] | str", outcome: str, detail: str = "") -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown corpus outcome {outcome!r} (one of {', '.join(OUTCOMES)})")
        self.counts[outcome] += 1
        failed = outcome in ("leak", "crash")
        shown = self.counts["leak"] + self.counts["crash"]
        if failed and shown <= self.named:
            print(f"corpus {outcome}: {path}: {detail}", file=self.out or sys.stderr, flush=True)
        elif failed and shown == self.named + 1:
            print(f"corpus: more leaks and crashes than {self.named}; counting the rest",
                  file=self.out or sys.stderr, flush=True)

    def images_per_s(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.files / elapsed if elapsed > 0 else 0.0

    def report(self) -> None:
        """The counts as figures: corpus_files, corpus_ok,
        corpus_decode_errors, corpus_leaks, corpus_crashes and
        corpus_files_per_s."""
        m.report("corpus_files", self.files)
        for outcome, figure in OUTCOMES.items():
            m.report(figure, self.counts[outcome])
        m.report("corpus_files_per_s", round(self.images_per_s(), 1))

    checkpoint = report

    def check(self, minimum_files: int = 1) -> bool:
        """Fails the suite on any leak or crash, or on a corpus of fewer
        than ``minimum_files`` files (an empty folder proves nothing)."""
        enough = m.check(self.files >= minimum_files,
                         f"the corpus had {self.files} files, at least {minimum_files} expected")
        no_leak = m.check(self.counts["leak"] == 0,
                          f"{self.counts['leak']} of {self.files} files left memory live, limit 0")
        no_crash = m.check(self.counts["crash"] == 0,
                           f"{self.counts['crash']} of {self.files} files crashed, limit 0")
        return enough and no_leak and no_crash
