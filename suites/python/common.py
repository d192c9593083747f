"""What every Python memory suite shares: the env contract with the runner
(MEMTEST_FIXTURES, MEMTEST_SCALE, MEMTEST_CANARY), ``MEMTEST name=value``
figure lines, memory readings from /proc (psutil is not needed), DESIGN's
noise-tolerant leak rule, and ``run()``, which prints ``TEST PASSED`` only
after every check held and exits non-zero otherwise.
"""

from __future__ import annotations

import gc
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, List, Sequence, Tuple

# The runner sets PYTHONPATH to the binding; a direct run from a checkout
# finds it next door.
_BINDING = Path(__file__).resolve().parents[2] / "bindings" / "python"
if str(_BINDING) not in sys.path:
    sys.path.append(str(_BINDING))

import pyjamaz  # noqa: E402

MB = 1_000_000
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def scale() -> float:
    raw = os.environ.get("MEMTEST_SCALE", "")
    if raw == "":
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise SystemExit(f"MEMTEST_SCALE must be a positive number, got {raw!r}")
    return value


def iterations(seed_count: int, minimum: int = 5) -> int:
    """The seed's iteration count times the scale, never fewer than ``minimum``."""
    return max(minimum, round(seed_count * scale()))


def fixture(name: str) -> bytes:
    folder = os.environ.get("MEMTEST_FIXTURES")
    if not folder:
        raise RuntimeError("MEMTEST_FIXTURES is not set: run through `memtest` or point it at a fixture folder")
    path = Path(folder) / name
    if not path.is_file():
        raise RuntimeError(f"fixture {path} is missing (MEMTEST_FIXTURES={folder})")
    return path.read_bytes()


def report(name: str, value: float) -> None:
    print(f"MEMTEST {name}={value}", flush=True)


def statm() -> Tuple[int, int]:
    """(rss_bytes, vms_bytes) from /proc/self/statm."""
    with open("/proc/self/statm") as f:
        size, resident = f.read().split()[:2]
    return int(resident) * PAGE_BYTES, int(size) * PAGE_BYTES


def rss_bytes() -> int:
    return statm()[0]


def vms_bytes() -> int:
    return statm()[1]


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def native_live() -> Tuple[int, int]:
    s = pyjamaz.alloc_stats()
    return s.live_allocations, s.live_bytes


def trend(all_xs: Sequence[float], all_ys: Sequence[float]) -> Tuple[float, float]:
    """(least-squares slope, fraction of steps that rose) over the final half
    of the series, as the runner fits its slope: allocator warm-up growth
    early in a run is not a leak. DESIGN's leak rule: a series leaks when its
    slope is over the limit AND it rose on at least two thirds of the steps,
    so one allocator jump is not called a leak."""
    half = len(all_xs) // 2
    xs, ys = all_xs[half:], all_ys[half:]
    n = len(xs)
    if n < 3:
        return 0.0, 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    den = sum((x - mx) ** 2 for x in xs)
    rising = sum(1 for a, b in zip(ys, ys[1:]) if b > a)
    return (num / den if den else 0.0), rising / (n - 1)


def mb(n: float) -> str:
    return f"{n / MB:.2f} MB"


def collect() -> None:
    """Full collection, twice: finalizers run by the first may free cycles."""
    gc.collect()
    gc.collect()


def run(name: str, body: Callable[[Callable[[bool, str], bool]], None]) -> None:
    """Runs ``body(check)``; prints ``TEST PASSED`` only when it finished and
    every check held, otherwise every failure and exit status 1."""
    failures: List[str] = []

    def check(ok: bool, message: str) -> bool:
        if not ok:
            failures.append(message)
        return ok

    started = time.monotonic()
    try:
        body(check)
    except Exception:
        failures.append(f"{name} aborted: {traceback.format_exc()}")
    report("peak_rss_bytes", peak_rss_bytes())
    report("duration_ms", round((time.monotonic() - started) * 1000))
    if failures:
        for f in failures:
            print(f"FAIL {name}: {f}", file=sys.stderr, flush=True)
        sys.exit(1)
    print("TEST PASSED", flush=True)
