"""memtest_suite: the generic half of a memtest suite written in Python.

memtest writes this file to ``<project>/.memtest/helpers/python/`` and puts
that folder on PYTHONPATH, so a suite only needs ``import memtest_suite``.
Standard library only, Python >= 3.9. The protocol it implements is in
docs/protocol.md; in short:

- environment in: MEMTEST_SCALE (iteration multiplier), MEMTEST_FIXTURES
  (fixture folder), MEMTEST_CANARY (a canary's mode), MEMTEST_EXPECT
  (``pass`` / ``fail``), MEMTEST_WRAPPER (the tool the suite runs under, e.g.
  ``asan``), and the library path under the project's ``lib_env``;
- lines out: ``MEMTEST name=value`` figures, and ``TEST PASSED`` only after
  every assertion held (``run()`` does that, and sets the exit status);
- a soak by duration (MEMTEST_DURATION_MS, set by ``memtest run
  --duration`` or the ``soak`` profile): ``run(main)`` runs ``main`` again
  and again until that much time has passed since import (or a check
  fails), prints ``MEMTEST soak_passes=N`` after each pass, and
  ``progress`` counts on across passes, so memtest sees one long measured
  loop; a suite needs no change;
- attribution mode (MEMTEST_EXPLAIN, set by ``memtest explain``): tracemalloc
  traces from import on, a snapshot is taken at the first checkpoint (the
  first ``Checkpoints.record`` or ``progress(0)``) and at the last, and
  ``run()`` prints the lines whose memory grew in between as
  ``MEMTEST site={json}`` lines, largest first (``report_sites`` passes on a
  native library's own site lines);
- cause mode (MEMTEST_CAUSE, set by ``memtest explain`` to tell a leak from
  memory the allocator keeps): every ``Checkpoints.record`` prints
  ``MEMTEST checkpoint=X`` with RSS, tracemalloc's total and glibc's in-use
  and free bytes (``mallinfo2`` through ctypes), after ``malloc_trim(0)``
  when MEMTEST_MALLOC_TRIM is set.

A minimal suite::

    import memtest_suite as m

    def main():
        lib = load_my_library(m.lib_path("MYLIB_PATH"))
        ops = m.iterations(10_000)
        cps = m.Checkpoints()
        for i in range(ops):
            lib.do_something()
            if i % (ops // 20 or 1) == 0:
                cps.record(i)
        m.report("operations", ops)
        cps.check_no_leak(limit=500, unit="bytes per op")

    m.run(main)
"""

from __future__ import annotations

import ctypes
import gc
import json
import math
import os
import re
import subprocess
import sys
import time
import traceback
import tracemalloc
from pathlib import Path
from typing import Callable, List, NamedTuple, Optional, Sequence

__all__ = [
    "MB", "RISING_FRACTION", "MIN_TREND_POINTS", "MARKER",
    "scale", "iterations", "fixture", "fixture_path", "canary", "expect", "wrapper", "lib_path",
    "report", "progress", "rss_bytes", "vms_bytes", "peak_rss_bytes", "collect", "mb",
    "Trend", "trend", "is_leaking", "Checkpoints", "check", "failures", "run",
    "explain", "report_sites", "duration_ms", "soak_left_s",
]

MB = 1_000_000
#: The shared leak rule (the runner's too): a series is leaking only when its
#: fitted slope is over the limit AND it rose on at least this share of the
#: steps between checkpoints, so one allocator jump is not called a leak.
RISING_FRACTION = 2 / 3
#: Fewer points than this in the judged window cannot tell a leak from noise.
MIN_TREND_POINTS = 3
#: The pass marker the runner looks for (its default `marker`).
MARKER = "TEST PASSED"

_NAME = re.compile(r"^[A-Za-z0-9_.]+$")


# ------------------------------------------------------------------ environment

def scale() -> float:
    """MEMTEST_SCALE as a positive finite number (1.0 when unset or empty)."""
    raw = os.environ.get("MEMTEST_SCALE", "").strip()
    if raw == "":
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (value > 0 and math.isfinite(value)):
        raise SystemExit(f"MEMTEST_SCALE must be a positive number, got {raw!r}")
    return value


_IMPORTED = time.monotonic()


def duration_ms() -> Optional[int]:
    """MEMTEST_DURATION_MS: the soak's duration in milliseconds, or None
    when the run is not a soak by duration (the suite's work runs once)."""
    raw = os.environ.get("MEMTEST_DURATION_MS", "").strip()
    if raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value <= 0:
        raise SystemExit(f"MEMTEST_DURATION_MS must be a positive whole number, got {raw!r}")
    return value


def soak_left_s() -> float:
    """Seconds left of a soak by duration, counted from this module's
    import (0 when the run is not a soak, or its time is up)."""
    ms = duration_ms()
    if ms is None:
        return 0.0
    return max(0.0, _IMPORTED + ms / 1000 - time.monotonic())


def iterations(seed: int, minimum: int = 1) -> int:
    """``seed`` (the count at scale 1) times the scale, rounded, never below
    ``minimum``: a suite that needs N checkpoints asks for at least N.
    Halves round up, as in the Node and C helpers (Python's round() would
    round 2.5 to 2)."""
    return max(int(minimum), math.floor(seed * scale() + 0.5))


def fixture_path(name: str) -> Path:
    """Path of a fixture in MEMTEST_FIXTURES; fails naming what is missing."""
    folder = os.environ.get("MEMTEST_FIXTURES")
    if not folder:
        raise RuntimeError("MEMTEST_FIXTURES is not set: run through `memtest` or point it at a fixture folder")
    path = Path(folder) / name
    if not path.is_file():
        raise RuntimeError(f"fixture {path} is missing (MEMTEST_FIXTURES={folder})")
    return path


def fixture(name: str) -> bytes:
    """The bytes of a fixture in MEMTEST_FIXTURES."""
    return fixture_path(name).read_bytes()


def canary() -> Optional[str]:
    """The canary mode in MEMTEST_CANARY (e.g. ``"retain"``), or None."""
    return os.environ.get("MEMTEST_CANARY") or None


def expect() -> str:
    """MEMTEST_EXPECT: ``"fail"`` for a canary run, ``"pass"`` otherwise.
    Informational: a suite must judge itself the same way either way."""
    return "fail" if os.environ.get("MEMTEST_EXPECT") == "fail" else "pass"


def wrapper() -> Optional[str]:
    """MEMTEST_WRAPPER: the tool the suite runs under (``memcheck``,
    ``asan``), or None. Its RSS is then mostly the tool's own, so RSS trends
    are reported but not judged (``Checkpoints.check_no_leak``), as memtest
    does with RSS limits."""
    return os.environ.get("MEMTEST_WRAPPER") or None


def explain() -> bool:
    """MEMTEST_EXPLAIN: the suite runs in memtest's attribution mode
    (``memtest explain``) and should report its leak sites."""
    return os.environ.get("MEMTEST_EXPLAIN", "") not in ("", "0")


def lib_path(env: str) -> str:
    """The library path in the variable the project's ``lib_env`` names."""
    value = os.environ.get(env)
    if not value:
        raise RuntimeError(f"{env} is not set: run through `memtest` or point it at the built library")
    if not os.path.exists(value):
        raise RuntimeError(f"{env}={value} does not exist")
    return value


# ---------------------------------------------------------------------- figures

def report(name: str, value: float) -> None:
    """Prints one ``MEMTEST name=value`` figure line (flushed at once, so a
    suite that dies later still delivered it)."""
    if not _NAME.match(name):
        raise ValueError(f"figure name {name!r}: use letters, digits, '_' and '.'")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"figure {name} is not a finite number: {value!r}")
    text = str(int(value)) if float(value).is_integer() else repr(float(value))
    print(f"MEMTEST {name}={text}", flush=True)


def report_sites(lines: str) -> None:
    """Passes on ``MEMTEST`` lines a library produced itself (e.g. its leak
    sites in attribution mode, ``MEMTEST site={json}``); other lines are
    dropped."""
    for line in lines.splitlines():
        if line.startswith("MEMTEST "):
            print(line, flush=True)


def progress(operations: int) -> None:
    """Reports how many operations the measured loop has done so far
    (``MEMTEST progress=N``). memtest times each line as it arrives, so a
    suite that prints it every few hundred operations can be judged on RSS
    per operation (``slope_per_op``), which a loaded machine does not shrink
    the way it shrinks a per-second slope."""
    if isinstance(operations, bool) or not isinstance(operations, int) or operations < 0:
        raise ValueError(f"progress is a count of operations, not {operations!r}")
    if operations == 0:
        _sites.checkpoint(first_only=True)
    # A soak's later passes count on from the last: one measured loop.
    global _progress_high
    total = _progress_base + operations
    _progress_high = max(_progress_high, total)
    print(f"MEMTEST progress={total}", flush=True)


_progress_base = 0
_progress_high = 0


# ------------------------------------------------------------------------ memory

def _proc_status(field: str) -> Optional[int]:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _psutil_info():
    try:
        import psutil  # type: ignore[import-not-found]
    except ImportError:
        return None
    return psutil.Process().memory_info()


def _ps(column: str) -> int:
    # Best effort where there is neither /proc nor psutil (macOS without
    # psutil): ps reports KiB. Costs a process spawn per reading, so suites
    # there should take few checkpoints.
    out = subprocess.run(["ps", "-o", f"{column}=", "-p", str(os.getpid())],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip()) * 1024


def rss_bytes() -> int:
    """Current resident set size of this process. Linux: /proc/self/status
    VmRSS; elsewhere psutil when importable, else ``ps -o rss``."""
    value = _proc_status("VmRSS")
    if value is not None:
        return value
    info = _psutil_info()
    return info.rss if info is not None else _ps("rss")


def vms_bytes() -> int:
    """Current virtual size (VmSize; psutil's vms or ``ps -o vsz`` elsewhere)."""
    value = _proc_status("VmSize")
    if value is not None:
        return value
    info = _psutil_info()
    return info.vms if info is not None else _ps("vsz")


def peak_rss_bytes() -> int:
    """Exact peak RSS of this process: VmHWM on Linux, ru_maxrss elsewhere
    (which macOS reports in bytes and Linux in KiB)."""
    value = _proc_status("VmHWM")
    if value is not None:
        return value
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(maxrss) if sys.platform == "darwin" else int(maxrss) * 1024


def collect() -> None:
    """Full collection, twice: finalizers run by the first may free cycles."""
    gc.collect()
    gc.collect()


def mb(n: float) -> str:
    return f"{n / MB:.2f} MB"


# ------------------------------------------------------------ attribution mode

class _Sites:
    """Python leak sites (attribution mode): tracemalloc snapshots at the
    first and the last checkpoint, and the tracebacks whose memory grew
    between them."""

    DEPTH = 8     # frames kept per allocation (each costs on every allocation)
    TOP = 10      # sites printed, largest first
    FLOOR = 1024  # bytes: smaller growth is not printed at all (memtest's
                  # own noise floor for growth sites is higher, docs/protocol.md)

    def __init__(self) -> None:
        self.first: Optional[tracemalloc.Snapshot] = None
        self.last: Optional[tracemalloc.Snapshot] = None
        if explain() and not tracemalloc.is_tracing():
            tracemalloc.start(self.DEPTH)

    def checkpoint(self, first_only: bool = False) -> None:
        # Cause mode traces too (for its totals), but takes no snapshots.
        if not (explain() and tracemalloc.is_tracing()):
            return
        if self.first is None:
            self.first = self._snapshot()
        elif not first_only:
            self.last = self._snapshot()

    @staticmethod
    def _snapshot() -> tracemalloc.Snapshot:
        # Unfiltered: filtering is Python code over every trace (seconds
        # for a suite's heap), done once, on the two snapshots compared.
        gc.collect()
        return tracemalloc.take_snapshot()

    # Allocations made by tracemalloc, this helper and the import system
    # (by the innermost frame) are not the suite's.
    _NOT_OWN = frozenset((
        tracemalloc.__file__,
        __file__,
        "<frozen importlib._bootstrap>",
        "<frozen importlib._bootstrap_external>",
        "<unknown>",
    ))

    @classmethod
    def _own(cls, diff: "tracemalloc.StatisticDiff") -> bool:
        # Tracebacks run from the oldest frame to the newest; filtering
        # the grouped differences, not every trace with filter_traces
        # (fnmatch per trace per filter: 3 of a 14 s tracked run).
        return not diff.traceback or diff.traceback[-1].filename not in cls._NOT_OWN

    def lines(self) -> List[str]:
        """The site lines, after a last snapshot now if no checkpoint after
        the first took one."""
        if self.first is None:
            return []
        if self.last is None and not tracemalloc.is_tracing():
            # The suite stopped tracemalloc itself (stop() drops every trace).
            return []
        last = self.last or self._snapshot()
        first = self.first
        self.first = self.last = None
        out = []
        for diff in last.compare_to(first, "traceback"):
            # Sorted by the size of the change, shrinking ones included.
            if abs(diff.size_diff) < self.FLOOR or len(out) == self.TOP:
                break
            if diff.size_diff < self.FLOOR or not self._own(diff):
                continue
            frames = [{"file": f.filename, "line": f.lineno} for f in reversed(diff.traceback)]
            site = {"layer": "python", "source": "tracemalloc", "bytes": diff.size_diff,
                    "blocks": max(diff.count_diff, 0), "frames": frames}
            out.append("MEMTEST site=" + json.dumps(site, separators=(",", ":")))
        return out


_sites = _Sites()


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]


class _Cause:
    """Cause mode: the live and allocator figures at each checkpoint, from
    which memtest tells a leak (live bytes grow) from allocator retention
    (live bytes flat, freed memory held)."""

    def __init__(self) -> None:
        self.on = _flag("MEMTEST_CAUSE")
        self.trim = _flag("MEMTEST_MALLOC_TRIM")
        self.mallinfo2 = self.malloc_trim = None
        if not self.on:
            return
        if not tracemalloc.is_tracing():
            tracemalloc.start(1)  # totals only: one frame is the cheapest
        try:
            libc = ctypes.CDLL(None)
            self.mallinfo2 = libc.mallinfo2
            self.mallinfo2.restype = _MallInfo2
            self.malloc_trim = libc.malloc_trim
            self.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            pass  # not glibc (or older than 2.33): RSS and tracemalloc only

    def checkpoint(self, x: float) -> None:
        if not self.on:
            return
        pairs = [("checkpoint", x)]
        rss = rss_bytes()
        if self.trim and self.malloc_trim is not None:
            self.malloc_trim(0)
            after = rss_bytes()
            pairs.append(("malloc_trimmed_bytes", max(rss - after, 0)))
            rss = after
        pairs.append(("rss_bytes", rss))
        if self.mallinfo2 is not None:
            mi = self.mallinfo2()
            pairs.append(("malloc_in_use_bytes", mi.uordblks + mi.hblkhd))
            pairs.append(("malloc_free_bytes", mi.fordblks))
        if tracemalloc.is_tracing():
            pairs.append(("tracemalloc_bytes", tracemalloc.get_traced_memory()[0]))
        text = " ".join(f"{n}={int(v) if float(v).is_integer() else float(v)!r}" for n, v in pairs)
        print(f"MEMTEST {text}", flush=True)


_cause = _Cause()


# ---------------------------------------------------------------- the leak rule

class Trend(NamedTuple):
    """A fitted trend over the judged (final) window of a series."""

    slope: float            # least-squares slope, y units per x unit
    rising_fraction: float  # share of consecutive steps that rose (0..1)
    points: int             # points in the window

    @property
    def judgeable(self) -> bool:
        return self.points >= MIN_TREND_POINTS

    def leaking(self, slope_limit: float) -> bool:
        """The shared rule: slope over the limit AND rising on >= 2/3 of the
        steps. Raises ValueError when the window is too short to judge."""
        if not self.judgeable:
            raise ValueError(f"{self.points} points in the window, {MIN_TREND_POINTS} needed to judge a trend")
        return self.slope > slope_limit and self.rising_fraction >= RISING_FRACTION


def trend(xs: Sequence[float], ys: Sequence[float], window: float = 0.5) -> Trend:
    """Fits the final ``window`` share of the series (as the runner fits its
    slope): the points before it are warm-up, where allocators and caches
    still grow to their working set, which is not a leak."""
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} xs but {len(ys)} ys")
    if not 0 < window <= 1:
        raise ValueError(f"window must be in (0, 1], got {window}")
    start = int(len(xs) * (1 - window))
    wx = [float(x) for x in xs[start:]]
    wy = [float(y) for y in ys[start:]]
    n = len(wx)
    if n < 2:
        return Trend(0.0, 0.0, n)
    mx, my = sum(wx) / n, sum(wy) / n
    num = sum((x - mx) * (y - my) for x, y in zip(wx, wy))
    den = sum((x - mx) ** 2 for x in wx)
    rising = sum(1 for a, b in zip(wy, wy[1:]) if b > a)
    return Trend(num / den if den else 0.0, rising / (n - 1), n)


def is_leaking(xs: Sequence[float], ys: Sequence[float], slope_limit: float, window: float = 0.5) -> bool:
    """``trend(xs, ys, window).leaking(slope_limit)``."""
    return trend(xs, ys, window).leaking(slope_limit)


class Checkpoints:
    """A series of readings at points of progress (operations done, rounds,
    images...), judged by the shared leak rule::

        cps = Checkpoints()            # reads rss_bytes() by default
        cps.record(ops_done)           # after collect(), at each checkpoint
        cps.check_no_leak(limit=500, unit="bytes per op")
    """

    def __init__(self, reading: Callable[[], float] = rss_bytes, window: float = 0.5, what: str = "RSS"):
        self.reading = reading
        self.window = window
        self.what = what
        self.xs: List[float] = []
        self.ys: List[float] = []

    def record(self, x: float, value: Optional[float] = None) -> float:
        _sites.checkpoint()
        _cause.checkpoint(x)
        y = self.reading() if value is None else value
        self.xs.append(x)
        self.ys.append(y)
        return y

    def trend(self) -> Trend:
        return trend(self.xs, self.ys, self.window)

    def check_no_leak(self, limit: float, unit: str = "bytes per step", figure: Optional[str] = "rss") -> bool:
        """Records a failed check (see ``check``) when the series leaks by the
        shared rule, or when it is too short to judge. ``limit`` is in y units
        per x unit, which ``unit`` names for the message (``"bytes per op"``).
        Reports ``<figure>_slope`` and ``<figure>_rising_fraction`` unless
        ``figure`` is None. An RSS series (the default reading) is only
        reported under a wrapper (see ``wrapper()``): under ASan it moved by
        tens of KB per step either way with no leak (quarantine, periodic
        release to the OS, the record of every new allocation stack)."""
        t = self.trend()
        if not t.judgeable:
            return check(False, f"{self.what}: only {t.points} checkpoints in the judged window, "
                                f"{MIN_TREND_POINTS} needed: run longer or take more checkpoints")
        if figure:
            report(f"{figure}_slope", round(t.slope, 3))
            report(f"{figure}_rising_fraction", round(t.rising_fraction, 3))
        if self.reading is rss_bytes and wrapper():
            return True
        return check(
            not t.leaking(limit),
            f"{self.what} grows {t.slope:.1f} {unit} (rising on {t.rising_fraction * 100:.0f}% of "
            f"checkpoints), limit {limit} {unit}",
        )


# ----------------------------------------------------------------- run / checks

_failures: List[str] = []


def check(ok: bool, message: str) -> bool:
    """A soft assertion: records ``message`` as a failure when ``ok`` is false
    and goes on, so one run reports every failed check. ``run()`` fails the
    suite if any was recorded."""
    if not ok:
        _failures.append(message)
    return bool(ok)


def failures() -> List[str]:
    """The failed checks recorded so far."""
    return list(_failures)


def run(main: Callable[[], object], name: Optional[str] = None) -> None:
    """Runs ``main()`` and ends the process: prints ``peak_rss_bytes`` and
    ``duration_ms`` figures always, then either the marker (every check and
    assertion held; exit 0) or each failure on stderr and exit status 1 (a
    check or assertion failed) or 2 (``main`` raised anything else: the suite
    could not do its work). SystemExit and KeyboardInterrupt pass through."""
    global _progress_base
    label = name or Path(sys.argv[0]).stem or getattr(main, "__name__", "suite")
    _failures.clear()
    aborted = False
    started = time.monotonic()
    soak = duration_ms() is not None
    try:
        # A soak by duration: pass after pass until the time is up or a
        # check failed. Each pass is the suite's whole work with its own
        # checks; what one pass leaves behind the next ones pile up, and
        # memtest's samples see it.
        passes = 0
        while True:
            main()
            passes += 1
            if not soak:
                break
            report("soak_passes", passes)
            if _failures or soak_left_s() <= 0:
                break
            _progress_base = _progress_high
    except AssertionError as err:
        _failures.append(f"assertion failed: {err}" if str(err) else
                         f"assertion failed:\n{traceback.format_exc()}")
    except Exception:  # noqa: BLE001 - any error fails the suite, with its trace
        aborted = True
        _failures.append(f"aborted:\n{traceback.format_exc()}")
    report("peak_rss_bytes", peak_rss_bytes())
    report("duration_ms", round((time.monotonic() - started) * 1000))
    for line in _sites.lines():
        print(line, flush=True)
    sys.stdout.flush()
    if _failures:
        for f in _failures:
            print(f"FAIL {label}: {f}", file=sys.stderr, flush=True)
        sys.exit(2 if aborted else 1)
    print(MARKER, flush=True)
    sys.exit(0)
