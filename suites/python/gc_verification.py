"""gc_verification (seed: "Python GC verification", 10K results). Two phases:

1. 10K optimize results held, then dropped: after gc.collect() at least 70%
   of the Python heap growth (traced by tracemalloc) must be freed, and RSS
   must be back within 50 MB of its start (the seed's figure).
2. NativeResult handles caught in reference cycles (so refcounting alone
   cannot free them) and never closed: only gc.collect() runs their
   weakref.finalize, which must bring the core's live allocations back to
   baseline. Before the collection they must still be live, or the phase
   proves nothing.

Canary: MEMTEST_CANARY=retain keeps every result in a module-level list (a
user-level leak); the heap-freed check must then fail.
"""

import gc
import tracemalloc

import common as t

pyjamaz = t.pyjamaz
RESULTS = t.iterations(10_000)
HANDLES = t.iterations(1_000)
MIN_FREED = 0.7
RSS_LIMIT_BYTES = 50 * t.MB

RETAINED = []  # the canary's leak: reachable for the whole run
RETAIN = t.canary() == "retain"


class Holder:
    """A result caught in a cycle: refcounting never frees it, gc does."""

    def __init__(self, result):
        self.result = result
        self.me = self


def main():
    data = t.fixture("tiny.png")
    options = dict(formats=["png"], metric="none")
    pyjamaz.optimize(data, **options)  # warm-up: lazy statics
    t.collect()
    live0, bytes0 = t.native_live()
    rss0 = t.rss_bytes()
    t.progress(0)  # the measured loop begins: memtest's growth starts here

    # Phase 1.
    tracemalloc.start()
    heap0 = tracemalloc.get_traced_memory()[0]
    results = []
    for _ in range(RESULTS):
        r = pyjamaz.optimize(data, **options)
        results.append(r)
        if RETAIN:
            RETAINED.append(r)
    t.check(all(len(r.data) == r.size > 0 for r in results), "every result carries its bytes")
    heap_peak = tracemalloc.get_traced_memory()[0]
    del results, r
    t.collect()
    heap_after = tracemalloc.get_traced_memory()[0]
    if not t.explain():  # attribution mode traces on to the end (memtest explain)
        tracemalloc.stop()
    grown = heap_peak - heap0
    freed = (heap_peak - heap_after) / grown if grown > 0 else 0.0
    t.report("heap_growth_bytes", grown)
    t.report("heap_freed_fraction", round(freed, 4))
    t.check(grown > 0, f"holding {RESULTS} results grew the heap (grew {grown} bytes)")
    t.check(
        freed >= MIN_FREED,
        f"heap freed after gc.collect() {freed * 100:.1f}% of {t.mb(grown)} grown, limit >= {MIN_FREED * 100:.0f}%",
    )
    rss_growth = t.rss_bytes() - rss0
    t.report("rss_growth_bytes", rss_growth)
    t.check(rss_growth < RSS_LIMIT_BYTES, f"RSS grew {t.mb(rss_growth)} after gc, limit {t.mb(RSS_LIMIT_BYTES)}")

    # Phase 2.
    gc.disable()  # so no automatic collection frees the cycles early
    try:
        holders = [Holder(pyjamaz.optimize_native(data, **options)) for _ in range(HANDLES)]
        del holders
        held = t.native_live()[0] - live0
        t.check(held >= HANDLES, f"{HANDLES} unreachable cycles still hold native results before gc ({held} live)")
    finally:
        gc.enable()
    t.collect()

    live1, bytes1 = t.native_live()
    t.report("native_leaks", live1 - live0)
    t.report_native_sites()
    t.report("native_leaked_bytes", bytes1 - bytes0)
    t.check(live1 == live0, f"native live allocations {live1 - live0} above baseline after gc, limit 0")


t.run(main, name="gc_verification")
