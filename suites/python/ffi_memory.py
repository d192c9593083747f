"""ffi_memory (seed: "ctypes_memory_test", native memory via ctypes).
Optimizes a mix of small real images through ctypes, with copies and with
zero-copy NativeResult handles, and checks:

- the core's live allocations end exactly at baseline (the exact test: one
  leaked allocation fails it);
- RSS grows by less than 0.5 MB per 1000 operations after warm-up (the
  independent, coarse test), judged by DESIGN's leak rule: fitted slope over
  the limit and rising on at least two thirds of the checkpoints.

Canary: the same script against the core built with `canary-leak` (leaks a
copy of the input per call) must fail on both.
"""

import common as t

pyjamaz = t.pyjamaz
# Sized to the seed's ~30 s at scale 1, so a ci run (scale 0.1) still lasts long
# enough for the runner to fit a slope on its samples.
OPS = t.iterations(15_000, 40)
WARMUP = max(10, round(OPS * 0.1))
CHECKPOINTS = 20
LIMIT_BYTES_PER_OP = 0.5 * t.MB / 1000  # 0.5 MB per 1000 operations


def main():
    # One or two encoders per input: the suite measures the FFI round trip,
    # not encoder time.
    work = [
        (t.fixture("tiny.png"), dict(formats=["png"], metric="none")),
        (t.fixture("small.jpg"), dict(formats=["jpeg"])),
        (t.fixture("flat-128.png"), dict(formats=["png", "webp"], metric="none")),
        (t.fixture("tiny.png"), dict(formats=["jpeg", "webp"], max_diff=0.05)),
    ]
    state = {"i": 0}

    def step():
        i = state["i"]
        data, options = work[i % len(work)]
        if i % 5 == 4:
            # Every fifth call keeps the native result and reads it in place.
            with pyjamaz.optimize_native(data, **options) as res:
                size, first = res.size, bytes(res.data[:2])
            if size == 0 or not first:
                raise AssertionError(f"op {i}: empty native result")
        else:
            r = pyjamaz.optimize(data, **options)
            if len(r.data) != r.size or r.size == 0:
                raise AssertionError(f"op {i}: result of {r.size} bytes carries {len(r.data)}")
        state["i"] = i + 1

    for _ in range(WARMUP):
        step()
    t.collect()
    live0, bytes0 = t.native_live()
    rss0 = t.rss_bytes()
    every = max(1, OPS // CHECKPOINTS)
    cps = t.Checkpoints()
    cps.record(0, rss0)
    # Progress lines let memtest judge RSS per operation (slope_per_op).
    progress_every = max(1, OPS // 100)
    t.progress(0)
    for i in range(1, OPS + 1):
        step()
        if i % progress_every == 0:
            t.progress(i)
        if i % every == 0:
            t.collect()
            cps.record(i)
    t.collect()
    live1, bytes1 = t.native_live()
    rss1 = t.rss_bytes()

    leaks = live1 - live0
    t.report("native_leaks", leaks)
    t.report_native_sites()
    t.report("native_leaked_bytes", bytes1 - bytes0)
    t.check(leaks == 0, f"native live allocations {leaks} above baseline after {OPS} ops, limit 0")
    t.report("operations", OPS)
    t.report("rss_growth_bytes", rss1 - rss0)
    # The shared leak rule, per operation: reports rss_slope (bytes per op)
    # and rss_rising_fraction.
    cps.check_no_leak(limit=LIMIT_BYTES_PER_OP, unit="bytes per op")


t.run(main, name="ffi_memory")
