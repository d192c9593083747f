"""The Python memory suite of the zfreq Zig library, over its C ABI with
ctypes. Each round feeds a fresh counter a few texts, checks counts, the
number of distinct words and the rendered top-10 against Python's own count
(collections.Counter), frees the rendered text and the counter. Checks, with
memtest_suite's helpers:

- the library's own live allocations (its counting allocator) end exactly at
  baseline: one leaked block fails;
- RSS, read at 20 checkpoints after a collection, does not trend up (the
  shared leak rule: slope over the limit AND rising on >= 2/3 of them).

Canary: the same script on the -Dleak=true build (a copy of every repeated
word is lost) must fail on both.
"""

import collections
import ctypes
import random

import memtest_suite as m

WORDS = 3000
VOCABULARY = 1500
TOP = 10
ROUNDS = m.iterations(1000, 200)
CHECKPOINTS = 20
# A clean round leaves nothing behind; the leaky build loses ~1500 copies
# (~50 KB) a round.
LIMIT_BYTES_PER_ROUND = 2000
SEPARATORS = [" ", "  ", "\n", ", ", ". ", "\t", "; ", " (", ") "]


def load():
    lib = ctypes.CDLL(m.lib_path("ZFREQ_LIB"))
    u8p = ctypes.POINTER(ctypes.c_uint8)
    sigs = {
        "zfreq_abi_version": (ctypes.c_uint32, []),
        "zfreq_new": (ctypes.c_void_p, []),
        "zfreq_free": (None, [ctypes.c_void_p]),
        "zfreq_add_text": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]),
        "zfreq_count": (ctypes.c_uint64, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]),
        "zfreq_distinct": (ctypes.c_uint64, [ctypes.c_void_p]),
        "zfreq_total": (ctypes.c_uint64, [ctypes.c_void_p]),
        # A pointer, not c_char_p: ctypes would copy it and lose the address to free.
        "zfreq_top_text": (u8p, [ctypes.c_void_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_size_t)]),
        "zfreq_text_free": (None, [u8p, ctypes.c_size_t]),
        "zfreq_live_allocations": (ctypes.c_uint64, []),
        "zfreq_live_bytes": (ctypes.c_uint64, []),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


def corpus(seed):
    """Three texts (bytes) of WORDS words in all, and Python's own answers."""
    rng = random.Random(seed)
    # Zipf-like: a few words are very common, as in real text.
    words = [f"{'w' * (1 + seed % 3)}{int(VOCABULARY * rng.random() ** 2):x}" for _ in range(WORDS)]
    texts = []
    for part in (words[:1000], words[1000:2000], words[2000:]):
        texts.append("".join(w + rng.choice(SEPARATORS) for w in part).encode())
    counts = collections.Counter(words)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].encode()))[:TOP]
    top_text = "".join(f"{w} {c}\n" for w, c in top).encode()
    probes = [(w.encode(), counts[w]) for w in rng.sample(sorted(counts), 50)] + [(b"absent", 0)]
    return texts, len(counts), top_text, probes


def main():
    lib = load()
    m.check(lib.zfreq_abi_version() == 1, f"ABI version {lib.zfreq_abi_version()}, this suite speaks 1")
    corpora = [corpus(seed) for seed in range(6)]  # made once: Python allocates nothing per round
    out_len = ctypes.c_size_t()

    def one_round(r):
        texts, distinct, top_text, probes = corpora[r % len(corpora)]
        h = lib.zfreq_new()
        assert h, "zfreq_new failed"
        try:
            added = sum(lib.zfreq_add_text(h, t, len(t)) for t in texts)
            assert added == WORDS, f"round {r}: {added} words counted, expected {WORDS}"
            assert lib.zfreq_total(h) == WORDS
            assert lib.zfreq_distinct(h) == distinct, f"round {r}: {lib.zfreq_distinct(h)} distinct, expected {distinct}"
            for word, n in probes:
                got = lib.zfreq_count(h, word, len(word))
                assert got == n, f"round {r}: count({word!r}) = {got}, expected {n}"
            ptr = lib.zfreq_top_text(h, TOP, ctypes.byref(out_len))
            assert ptr, "zfreq_top_text failed"
            try:
                got = ctypes.string_at(ptr, out_len.value)
            finally:
                lib.zfreq_text_free(ptr, out_len.value)
            assert got == top_text, f"round {r}: top {TOP} is {got!r}, expected {top_text!r}"
        finally:
            lib.zfreq_free(h)

    for r in range(10):
        one_round(r)  # warm-up: the C heap and the interpreter reach their working set
    m.collect()
    live0, bytes0 = lib.zfreq_live_allocations(), lib.zfreq_live_bytes()
    cps = m.Checkpoints()
    cps.record(0)
    m.progress(0)  # the measured loop begins: memtest's growth starts here
    every = max(1, ROUNDS // CHECKPOINTS)
    for r in range(1, ROUNDS + 1):
        one_round(r)
        if r % every == 0:
            m.collect()
            cps.record(r)

    leaks = lib.zfreq_live_allocations() - live0
    m.report("native_leaks", leaks)
    m.report("native_leaked_bytes", lib.zfreq_live_bytes() - bytes0)
    m.report("operations", ROUNDS * WORDS)
    m.check(leaks == 0, f"{leaks} native allocations left live after {ROUNDS} rounds, limit 0")
    cps.check_no_leak(limit=LIMIT_BYTES_PER_ROUND, unit="bytes per round")


m.run(main, name="zig-library python")
