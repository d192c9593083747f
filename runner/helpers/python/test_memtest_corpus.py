"""Tests of memtest_corpus: the lazy walk (nested folders, links not
followed, one directory open per level), the folder from MEMTEST_CORPUS,
and the tally's counts, named failures, figures and checks.
`pytest runner/helpers/python`."""

import io
import os
import sys
import types
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import memtest_corpus as mc  # noqa: E402
import memtest_suite as m  # noqa: E402


def tree(root: Path) -> Path:
    for f in ["top", "a/one", "a/b/two", "a/b/three"]:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text(f)
    (root / "empty").mkdir()
    (root / "link").symlink_to(root / "a")
    return root


def test_walk_yields_every_file_once_and_skips_links(tmp_path):
    found = sorted(str(p.relative_to(tmp_path)) for p in mc.corpus_files(tree(tmp_path)))
    assert found == ["a/b/three", "a/b/two", "a/one", "top"]


def test_each_file_is_said_before_it_is_yielded_and_the_walk_cleans_up(tmp_path, monkeypatch):
    root = tree(tmp_path / "c")
    said = tmp_path / "walk.input"
    monkeypatch.setenv(mc.INPUT_FILE_ENV, str(said))
    files = 0
    for path in mc.corpus_files(root):
        assert said.read_text() == f"{path}\n"
        files += 1
    assert files == 4 and not said.exists()


def test_walk_is_lazy_and_holds_one_directory_per_level(tmp_path, monkeypatch):
    tree(tmp_path)
    opened = []
    real = os.scandir

    def counting(path):
        opened.append(path)
        return real(path)

    monkeypatch.setattr(mc.os, "scandir", counting)
    walk = mc.corpus_files(tmp_path)
    assert isinstance(walk, types.GeneratorType) and opened == []
    next(walk)
    assert len(opened) <= 3  # the root and at most the two levels below it
    rest = list(walk)
    assert len(rest) == 3 and len(opened) == 4  # root, a, a/b, empty


def test_corpus_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(mc.CORPUS_ENV, str(tmp_path))
    assert mc.corpus_dir() == tmp_path
    monkeypatch.setenv(mc.CORPUS_ENV, str(tmp_path / "missing"))
    with pytest.raises(mc.CorpusError, match="is not a folder"):
        mc.corpus_dir()
    monkeypatch.delenv(mc.CORPUS_ENV)
    with pytest.raises(mc.CorpusError, match="is not set"):
        mc.corpus_dir()


def test_tally_counts_names_failures_and_checks(capsys):
    m._failures.clear()
    out = io.StringIO()
    tally = mc.Tally(named=1, out=out)
    tally.record("a.png", "ok")
    tally.record("b.png", "decode_error", "TRUNCATED_INPUT")
    assert tally.check() and m.failures() == []
    tally.record("c.png", "leak", "1 allocation")
    tally.record("d.png", "crash", "INTERNAL")
    assert out.getvalue().splitlines() == [
        "corpus leak: c.png: 1 allocation",
        "corpus: more leaks and crashes than 1; counting the rest",
    ]
    with pytest.raises(ValueError):
        tally.record("e.png", "exploded")
    tally.report()
    lines = capsys.readouterr().out.splitlines()
    for line in ["MEMTEST corpus_files=4", "MEMTEST corpus_ok=1", "MEMTEST corpus_decode_errors=1",
                 "MEMTEST corpus_leaks=1", "MEMTEST corpus_crashes=1"]:
        assert line in lines
    assert not tally.check()
    assert m.failures() == ["1 of 4 files left memory live, limit 0", "1 of 4 files crashed, limit 0"]
    m._failures.clear()
