"""Tests of memtest_fuzz's builtin engine: a seed gives the same inputs,
another seed others; inputs stay within max_len; only a new label adds an
input to the corpus. `pytest runner/helpers/python`."""

from memtest_fuzz import Mutator

SEEDS = [b"hello world", b"\x00\x01\x02\x03"]


def inputs(seed, n=200, max_len=4096):
    m = Mutator(SEEDS, seed, max_len)
    return [m.next() for _ in range(n)]


def test_a_seed_gives_the_same_inputs_and_another_seed_others():
    assert inputs(3) == inputs(3)
    assert inputs(3) != inputs(4)


def test_inputs_are_mutated_and_bounded():
    out = inputs(1, max_len=8)
    assert all(len(x) <= 8 for x in out)
    assert any(x not in SEEDS for x in out)


def test_only_a_new_label_keeps_its_input():
    m = Mutator(SEEDS, 0, 64)
    m.keep(b"a", "ok")
    m.keep(b"b", "ok")
    m.keep(b"c", 7)
    m.keep(b"d", [1])  # unhashable: ignored
    assert m.corpus == SEEDS + [b"a", b"c"]
