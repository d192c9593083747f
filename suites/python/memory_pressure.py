"""memory_pressure (seed, long tier: 10,000 images of 1 MB+, gc.collect()
every 1000 operations, RSS growth < 500 MB, VMS growth < 800 MB, memory
plateaus). Optimizes the 2.4 MB photo-1024.png (and the 0.6 MB JPEG of the
same photo) over and over and records RSS and VMS at every gc checkpoint.

Plateau: the RSS rise over the second half of the checkpoints must stay under
PLATEAU_BYTES, so growth still going on at the end fails even when the total
is under 500 MB.
"""

import common as t

pyjamaz = t.pyjamaz
IMAGES = t.iterations(10_000, 20)
GC_EVERY = max(2, min(1_000, IMAGES // 10))
LIMIT_RSS_BYTES = 500 * t.MB
LIMIT_VMS_BYTES = 800 * t.MB
PLATEAU_BYTES = 50 * t.MB
WEBP_EVERY = 50


def main():
    png = t.fixture("photo-1024.png")
    jpg = t.fixture("photo-1024.jpg")
    if len(png) < 1_000_000:
        raise RuntimeError(f"photo-1024.png is {len(png)} bytes; the seed asks for 1 MB+ inputs")
    # One encoder per call keeps 10K calls inside minutes; decoding the 1 MP
    # input is what loads memory. WebP (libwebp, method 4) takes ~167 ms of
    # CPU a megapixel, ten JPEG re-encodes' worth (png->jpeg 16 ms, jpg->jpeg
    # 18.5 ms; Pillow's libwebp takes the same), so it is one call in
    # WEBP_EVERY: 200 WebP encodes a run, spread among the JPEG ones, take
    # libwebp's memory to its plateau as well as 1,000 did (it allocates the
    # same buffers every call), at a sixth of the suite's CPU, not half.
    jpeg_jobs = [
        (png, dict(formats=["jpeg"], metric="none")),
        (jpg, dict(formats=["jpeg"], metric="none")),
    ]
    webp_job = (png, dict(formats=["webp"], metric="none"))

    def one(i):
        data, options = webp_job if i % WEBP_EVERY == 0 else jpeg_jobs[i % 2]
        r = pyjamaz.optimize(data, **options)
        if r.size == 0 or len(r.data) != r.size:
            raise AssertionError(f"image {i}: empty or inconsistent result")

    for i in range(3):
        one(i)  # warm-up: WebP, then both JPEG inputs
    t.collect()
    live0, _ = t.native_live()
    rss0, vms0 = t.rss_bytes(), t.vms_bytes()
    rss_points, vms_points = [rss0], [vms0]
    # Progress lines let memtest judge RSS per image (slope_per_op).
    progress_every = max(1, IMAGES // 100)
    t.progress(0)
    for i in range(1, IMAGES + 1):
        one(i)
        if i % progress_every == 0:
            t.progress(i)
        if i % GC_EVERY == 0:
            t.collect()
            rss_points.append(t.rss_bytes())
            vms_points.append(t.vms_bytes())
    t.collect()
    live1, _ = t.native_live()

    rss_growth = max(rss_points) - rss0
    vms_growth = max(vms_points) - vms0
    half = rss_points[len(rss_points) // 2:]
    late_rise = max(half) - half[0]
    leaks = live1 - live0
    t.report("operations", IMAGES)
    t.report("native_leaks", leaks)
    t.report_native_sites()
    t.report("rss_growth_bytes", rss_growth)
    t.report("vms_growth_bytes", vms_growth)
    t.report("rss_late_rise_bytes", late_rise)
    t.check(leaks == 0, f"native live allocations {leaks} above baseline after {IMAGES} images, limit 0")
    t.check(rss_growth < LIMIT_RSS_BYTES, f"RSS grew {t.mb(rss_growth)} over {IMAGES} images, limit {t.mb(LIMIT_RSS_BYTES)}")
    t.check(vms_growth < LIMIT_VMS_BYTES, f"VMS grew {t.mb(vms_growth)} over {IMAGES} images, limit {t.mb(LIMIT_VMS_BYTES)}")
    t.check(
        late_rise < PLATEAU_BYTES,
        f"RSS still rose {t.mb(late_rise)} over the second half of the run (no plateau), limit {t.mb(PLATEAU_BYTES)}",
    )


t.run(main, name="memory_pressure")
