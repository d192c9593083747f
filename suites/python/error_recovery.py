"""error_recovery (seed: "exception cleanup"). Feeds corrupt, truncated,
empty, bomb and unknown inputs and invalid options in a loop, each time
expecting the exact typed error, plus the same mistakes straight through the
C ABI (past the binding's checks), and a valid call after every round to prove
the library recovered. Exceptions must not strand native memory: the core's
live allocations end exactly at baseline, and RSS must not trend upwards.
"""

import ctypes

import common as t

pyjamaz = t.pyjamaz
from pyjamaz._native import PyjamazOptions  # noqa: E402

# Sized to the seed's ~10 s at scale 1 (about 1 ms per round).
ROUNDS = t.iterations(10_000, 10)
LIMIT_SLOPE_BYTES_PER_ROUND = 1000  # ~1 KB per round of 12 failing calls


def main():
    good = t.fixture("tiny.png")
    bad = [
        ("corrupt.jpg", t.fixture("corrupt.jpg"), {}, "CORRUPT_INPUT"),
        ("truncated.png", t.fixture("truncated.png"), {}, "TRUNCATED_INPUT"),
        ("bomb.png", t.fixture("bomb.png"), {}, "LIMITS_EXCEEDED"),
        ("unknown.bin", t.fixture("unknown.bin"), {}, "UNKNOWN_FORMAT"),
        ("empty bytes", b"", {}, "EMPTY_INPUT"),
        ("metric 'psnr'", good, dict(metric="psnr"), "INVALID_OPTIONS"),
        ("formats ['avif']", good, dict(formats=["avif"]), "INVALID_OPTIONS"),
        ("max_diff -1", good, dict(max_diff=-1.0), "INVALID_OPTIONS"),
    ]
    buf = ctypes.create_string_buffer(good, len(good))
    ptr = ctypes.cast(buf, ctypes.POINTER(ctypes.c_uint8))

    def raw(**over):
        fields = dict(input=ptr, input_len=len(good), max_bytes=0, max_diff=0.0, metric=None, formats=None,
                      concurrency=0)
        fields.update(over)
        return PyjamazOptions(**fields)

    raw_bad = [
        ("raw metric 'psnr'", raw(metric=b"psnr"), "INVALID_OPTIONS"),
        ("raw formats 'avif'", raw(formats=b"avif"), "INVALID_OPTIONS"),
        ("raw input_len 0", raw(input_len=0), "EMPTY_INPUT"),
        ("raw NULL input", raw(input=None), "NULL_POINTER"),
    ]
    wrong = {}

    def expect(label, code, fn):
        try:
            fn()
        except pyjamaz.PyjamazError as err:
            if err.code_name != code:
                wrong[label] = f"expected {code}, got {err.code_name}: {err.message}"
            return
        except Exception as err:  # noqa: BLE001 - reported as a failure below
            wrong[label] = f"expected {code}, got {type(err).__name__}: {err}"
            return
        wrong[label] = f"expected {code}, got a result"

    def one_round():
        for label, data, options, code in bad:
            expect(label, code, lambda: pyjamaz.optimize(data, **options))
        for label, opts, code in raw_bad:
            expect(label, code, lambda: pyjamaz._optimize_raw(opts))
        if pyjamaz.optimize(good, formats=["png"], metric="none").size == 0:
            wrong["valid call after errors"] = "returned no bytes"

    for _ in range(5):
        one_round()  # warm-up
    t.collect()
    live0, bytes0 = t.native_live()
    every = max(1, ROUNDS // 20)
    cps = t.Checkpoints()
    t.progress(0)  # the measured loop begins: memtest's growth starts here
    for i in range(ROUNDS):
        one_round()
        if i % every == 0:
            t.collect()
            cps.record(i)
    t.collect()
    live1, bytes1 = t.native_live()

    for label, message in wrong.items():
        t.check(False, f"{label}: {message}")
    leaks = live1 - live0
    t.report("native_leaks", leaks)
    t.report_native_sites()
    t.report("native_leaked_bytes", bytes1 - bytes0)
    t.report("operations", ROUNDS)
    t.check(leaks == 0, f"native live allocations {leaks} above baseline after {ROUNDS} rounds of errors, limit 0")
    cps.check_no_leak(limit=LIMIT_SLOPE_BYTES_PER_ROUND, unit="bytes per round of errors")


t.run(main, name="error_recovery")
