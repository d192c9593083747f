"""The Python memory suite of the intern library, over its C ABI with ctypes.

Each round interns a few thousand words into a fresh table (the hash index
grows several times), checks a sample of ids through intern_get/intern_find
from Python, and frees the table. Checks, with memtest_suite's helpers:

- the library's own live allocations end exactly at baseline (exact);
- RSS, read at 20 checkpoints after a collection, does not trend up (the
  shared leak rule: slope over the limit AND rising on >= 2/3 of them).

Canary: the same script on the LEAK_CANARY build (the old hash index is never
freed when it grows) must fail on both.
"""

import ctypes
import random

import memtest_suite as m

WORDS = 4000
VOCABULARY = 2500
SAMPLE = 200  # words per round checked from Python (the C suite checks all)
ROUNDS = m.iterations(1000, 200)
CHECKPOINTS = 20
# A clean round leaves nothing behind; the leaky build loses ~16 KB a round.
LIMIT_BYTES_PER_ROUND = 2000

c_size_p = ctypes.POINTER(ctypes.c_size_t)


def load():
    lib = ctypes.CDLL(m.lib_path("INTERN_LIB"))
    sigs = {
        "intern_abi_version": (ctypes.c_uint32, []),
        "intern_new": (ctypes.c_void_p, [ctypes.c_size_t]),
        "intern_free": (None, [ctypes.c_void_p]),
        "intern_put": (ctypes.c_uint32, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]),
        "intern_find": (ctypes.c_uint32, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]),
        # c_void_p, not c_char_p: c_char_p would stop at the first NUL byte.
        "intern_get": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_uint32, c_size_p]),
        "intern_count": (ctypes.c_size_t, [ctypes.c_void_p]),
        "intern_tokenize": (ctypes.c_size_t, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                              ctypes.POINTER(ctypes.c_uint32), ctypes.c_size_t]),
        "intern_live_allocations": (ctypes.c_uint64, []),
        "intern_live_bytes": (ctypes.c_uint64, []),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


def corpus(seed):
    """A text of WORDS words drawn from VOCABULARY, its words in order, and how many differ."""
    rng = random.Random(seed)
    words = [f"w{rng.randrange(VOCABULARY):x}-{'ab' * (seed % 3)}".encode() for _ in range(WORDS)]
    return b" ".join(words), words, len(set(words))


def main():
    lib = load()
    m.check(lib.intern_abi_version() == 1, f"ABI version {lib.intern_abi_version()}, this suite speaks 1")
    texts = [corpus(seed) for seed in range(8)]  # made once: Python allocates nothing per round
    ids = (ctypes.c_uint32 * WORDS)()
    length = ctypes.c_size_t()

    def one_round(r):
        text, words, distinct = texts[r % len(texts)]
        t = lib.intern_new(0)
        assert t, "intern_new failed"
        try:
            n = lib.intern_tokenize(t, text, len(text), ids, WORDS)
            assert n == WORDS, f"round {r}: {n} words tokenized, expected {WORDS}"
            for i in range(r % 7, WORDS, WORDS // SAMPLE):
                w = words[i]
                ptr = lib.intern_get(t, ids[i], ctypes.byref(length))
                assert ptr and ctypes.string_at(ptr, length.value) == w, f"round {r}: id {ids[i]} is not {w!r}"
                assert lib.intern_find(t, w, len(w)) == ids[i], f"round {r}: find({w!r}) disagrees with put"
            assert lib.intern_count(t) == distinct, f"round {r}: {lib.intern_count(t)} ids for {distinct} words"
        finally:
            lib.intern_free(t)

    for r in range(10):
        one_round(r)  # warm-up: malloc and the interpreter reach their working set
    m.collect()
    live0, bytes0 = lib.intern_live_allocations(), lib.intern_live_bytes()
    cps = m.Checkpoints()
    cps.record(0)
    m.progress(0)  # the measured loop begins: memtest's growth starts here
    every = max(1, ROUNDS // CHECKPOINTS)
    for r in range(1, ROUNDS + 1):
        one_round(r)
        if r % every == 0:
            m.collect()
            cps.record(r)

    leaks = lib.intern_live_allocations() - live0
    m.report("native_leaks", leaks)
    m.report("native_leaked_bytes", lib.intern_live_bytes() - bytes0)
    m.report("operations", ROUNDS * WORDS)
    m.check(leaks == 0, f"{leaks} native allocations left live after {ROUNDS} rounds, limit 0")
    cps.check_no_leak(limit=LIMIT_BYTES_PER_ROUND, unit="bytes per round")


m.run(main, name="c-library python")
