"""buffer_memory (seed: 1000 images of varying sizes). Cycles through inputs
from 800 bytes to 150 KB, PNG and JPEG, as bytes, bytearray and memoryview,
and checks every result's bytes (size, magic number). The bytes objects handed
to Python must be released: traced Python memory returns to near its baseline
after the results are dropped, the core's live allocations to exactly their
baseline, and RSS does not trend up.
"""

import tracemalloc

import common as t

pyjamaz = t.pyjamaz
IMAGES = t.iterations(1_000, 20)
# Left over after the results are dropped: interpreter caches and free lists;
# 1 MB is far below one leaked batch of results.
TRACED_SLACK_BYTES = 1 * t.MB
# Under half of an average result (~10 KB): keeping every result would show.
LIMIT_SLOPE_BYTES_PER_IMAGE = 4000


def sniff(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "unknown"


def main():
    inputs = [
        ("tiny.png", dict(formats=["png"], metric="none")),
        ("flat-128.png", dict(formats=["png", "webp"])),
        ("small.jpg", dict(formats=["jpeg", "webp"])),
        ("photo-256.jpg", dict(formats=["jpeg"])),
        ("photo-256.png", dict(formats=["jpeg"], max_diff=0.05)),
    ]
    inputs = [(name, t.fixture(name), options) for name, options in inputs]
    kinds = [bytes, bytearray, memoryview]

    window = []  # recent results stay alive, as in an application
    window_size = 50
    out = {"bytes": 0}

    def one(i):
        name, data, options = inputs[i % len(inputs)]
        r = pyjamaz.optimize(kinds[i % len(kinds)](data), **options)
        if len(r.data) != r.size or sniff(r.data) != r.format:
            raise AssertionError(
                f"{name}: got {len(r.data)} bytes sniffed as {sniff(r.data)}, result says {r.size} {r.format}"
            )
        window.append(r)
        if len(window) > window_size:
            window.pop(0)
        out["bytes"] += r.size

    # Warm-up fills the window and lets the allocators reach their working set.
    for i in range(window_size + len(inputs) * 2):
        one(i)
    t.collect()
    live0, _ = t.native_live()
    tracemalloc.start()
    traced0 = tracemalloc.get_traced_memory()[0]
    out["bytes"] = 0
    every = max(1, IMAGES // 20)
    cps = t.Checkpoints()
    t.progress(0)  # the measured loop begins: memtest's growth starts here
    for i in range(IMAGES):
        one(i)
        if i % every == 0:
            t.collect()
            cps.record(i)
    window.clear()
    t.collect()
    traced1 = tracemalloc.get_traced_memory()[0]
    if not t.explain():  # attribution mode traces on to the end (memtest explain)
        tracemalloc.stop()
    live1, _ = t.native_live()
    out_bytes = out["bytes"]

    leaks = live1 - live0
    t.report("output_bytes", out_bytes)
    t.report("native_leaks", leaks)
    t.report_native_sites()
    t.report("traced_growth_bytes", traced1 - traced0)
    t.check(leaks == 0, f"native live allocations {leaks} above baseline after {IMAGES} images, limit 0")
    t.check(
        traced1 - traced0 < TRACED_SLACK_BYTES,
        f"Python memory grew {t.mb(traced1 - traced0)} after the results were dropped "
        f"({t.mb(out_bytes)} passed through), limit {t.mb(TRACED_SLACK_BYTES)}",
    )
    t.report("operations", IMAGES)
    cps.check_no_leak(limit=LIMIT_SLOPE_BYTES_PER_IMAGE, unit="bytes per image")


t.run(main, name="buffer_memory")
