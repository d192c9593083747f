"""memtest_fuzz: leak-aware fuzzing of a binding, the generic half.

memtest writes this file beside ``memtest_suite`` (``.memtest/helpers/python``,
on PYTHONPATH). A fuzz suite is a script that says how one input goes through
the binding and how to read the library's live allocation count::

    import memtest_fuzz

    def one_input(data: bytes):
        try:
            mylib.process(data)
        except mylib.Error as e:
            return e.code        # a label: new labels keep their input
        return "ok"

    memtest_fuzz.main(one_input, live=lambda: mylib.alloc_stats().live,
                      seeds=[...small valid inputs...])

Each input is judged by the oracle: once the call returned (and, when the
count is not back, the runtime collected), the library's live allocation
count must be where it was before the call. A count that stays up is run
once more on the same input: a one-time allocation (a lazy cache) does not
repeat, a leak does. An input that leaks, raises out of ``one_input``, runs
longer than the per-input timeout, or grows RSS beyond a bound is saved as a
reproducer (``<kind>-<sha1>`` and ``<kind>-<sha1>.json`` with the figure that
failed) in the findings folder, and the run fails. A crash kills the process:
the input being run is always in ``<folder>/.current`` (``memtest fuzz`` saves
it as a ``crash-`` reproducer).

Engines (MEMTEST_FUZZ_ENGINE): ``atheris`` (libFuzzer's mutator with
coverage feedback, when the module imports), ``builtin`` (a seeded mutation
loop: byte flips, interesting values, small additions, inserts, deletes, splices, with the
labels ``one_input`` returns as its only feedback), ``auto`` (default:
atheris when importable, else builtin). ``MEMTEST_FUZZ_ORACLE=0`` runs the
same loop without the allocation check (the benchmark's baseline).

Environment in: MEMTEST_FUZZ_TIME (seconds; default 30 x MEMTEST_SCALE, at
least 10), MEMTEST_FUZZ_RUNS (stop after N inputs instead), MEMTEST_FUZZ_SEED
(default 0), MEMTEST_FUZZ_DIR (default ``.memtest/fuzz/<script>``),
MEMTEST_FUZZ_INPUT_TIMEOUT (seconds, default 10), MEMTEST_FUZZ_RSS_BYTES
(growth bound, default 256 MB), MEMTEST_FUZZ_MAX_LEN (default 4096),
MEMTEST_FUZZ_REPLAY (a reproducer: run it alone, exit 1 if it still fails),
MEMTEST_FUZZ_SUITE and MEMTEST_FUZZ_VARIANT (recorded in each ``.json``).
Lines out: ``MEMTEST fuzz_execs``, ``fuzz_execs_per_s``, ``fuzz_findings``,
``native_leaks`` (allocations the first finding left live), the marker.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, List, Optional

__all__ = ["main", "Mutator"]

MARKER = "TEST PASSED"
INTERESTING = [0, 1, 7, 0x7F, 0x80, 0xFF, 0x3D, 0x44]


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _report(name: str, value: float) -> None:
    print(f"MEMTEST {name}={value}", flush=True)


class Mutator:
    """The builtin engine: a seeded corpus of inputs and byte mutations."""

    def __init__(self, seeds: List[bytes], seed: int, max_len: int):
        self.rng = random.Random(seed)
        self.corpus = [s[:max_len] for s in seeds] or [b"\0"]
        self.max_len = max_len
        self.labels: set = set()

    def keep(self, data: bytes, label) -> None:
        """Feedback: an input whose label is new joins the corpus."""
        try:
            new = label not in self.labels
        except TypeError:
            return
        if new:
            self.labels.add(label)
            self.corpus.append(data)

    def next(self) -> bytes:
        rng = self.rng
        data = bytearray(rng.choice(self.corpus))
        for _ in range(rng.randint(1, 4)):
            self._mutate(data)
        return bytes(data[: self.max_len])

    def _mutate(self, data: bytearray) -> None:
        rng = self.rng
        op = rng.randrange(8)
        if not data:
            data.append(rng.randrange(256))
            return
        i = rng.randrange(len(data))
        if op == 0:
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[i] = rng.randrange(256)
        elif op == 2:
            data[i] = rng.choice(INTERESTING)
        elif op == 7:
            # Arithmetic: a length, a dimension, a count one step off.
            data[i] = (data[i] + rng.choice((-1, 1)) * rng.randint(1, 16)) & 0xFF
        elif op == 3:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 4 and len(data) > 1:
            del data[i : i + rng.randint(1, min(16, len(data) - i))]
        elif op == 5:
            other = rng.choice(self.corpus)
            if other:
                j = rng.randrange(len(other))
                data[i:] = other[j : j + rng.randint(1, 64)] + data[i:]
        else:
            del data[i + 1 :]


class _Run:
    """One fuzz run: the oracle, the findings folder and the watchdog."""

    def __init__(self, one_input, live, name: str):
        self.one_input = one_input
        self.live = live
        self.oracle = os.environ.get("MEMTEST_FUZZ_ORACLE", "1") != "0"
        self.dir = Path(os.environ.get("MEMTEST_FUZZ_DIR") or f".memtest/fuzz/{name}")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.seed = int(_env_float("MEMTEST_FUZZ_SEED", 0))
        self.input_timeout = _env_float("MEMTEST_FUZZ_INPUT_TIMEOUT", 10.0)
        self.rss_bound = int(_env_float("MEMTEST_FUZZ_RSS_BYTES", 256e6))
        self.execs = 0
        self.findings = 0
        self.leaked = 0
        self.started_at: Optional[float] = None
        self.current = b""
        self.lock = threading.Lock()
        self._current_fd = os.open(self.dir / ".current", os.O_RDWR | os.O_CREAT, 0o644)
        self._statm = os.open("/proc/self/statm", os.O_RDONLY) if Path("/proc/self/statm").exists() else None
        self._page = os.sysconf("SC_PAGE_SIZE") if self._statm is not None else 0
        self.rss_start = 0
        self.t0 = time.monotonic()

    def rss(self) -> int:
        if self._statm is None:
            return 0
        return int(os.pread(self._statm, 128, 0).split()[1]) * self._page

    def _call(self, data: bytes):
        # The input being run survives a crash of this process.
        os.pwrite(self._current_fd, data, 0)
        os.ftruncate(self._current_fd, len(data))
        self.current = data
        self.started_at = time.monotonic()
        try:
            return self.one_input(data)
        finally:
            self.started_at = None

    def check(self, data: bytes):
        """Runs one input; the finding it makes, or None, and its label."""
        before = self.live() if self.oracle else 0
        try:
            label = self._call(data)
        except Exception as err:  # noqa: BLE001 - an escaped error is a finding
            return ("exception", f"{type(err).__name__}: {err}", 1, "raised"), None
        self.execs += 1
        if not self.oracle:
            return None, label
        after = self.live()
        if after != before:
            gc.collect()
            after = self.live()
        if after > before:
            # Again: a lazy cache fills once, a leak leaves memory every time.
            again_before = self.live()
            self._call(data)
            gc.collect()
            again = self.live() - again_before
            if again > 0:
                return ("leak", again, again, "allocations left live"), label
        if self.rss_bound and self.execs % 64 == 0:
            grown = self.rss() - self.rss_start
            if grown > self.rss_bound:
                return ("rss", grown, 0, "bytes of RSS growth"), label
        return None, label

    def save(self, kind: str, data: bytes, figure, unit: str) -> Path:
        digest = hashlib.sha1(data).hexdigest()[:12]
        path = self.dir / f"{kind}-{digest}"
        path.write_bytes(data)
        meta = {"kind": kind, "figure": figure, "unit": unit, "seed": self.seed,
                "exec": self.execs, "script": sys.argv[0], "bytes": len(data),
                "suite": os.environ.get("MEMTEST_FUZZ_SUITE"),
                "variant": os.environ.get("MEMTEST_FUZZ_VARIANT")}
        path.with_name(path.name + ".json").write_text(json.dumps(meta, indent=1) + "\n")
        self.findings += 1
        print(f"FUZZ finding {kind}: {figure} {unit}: {path}", flush=True)
        _report("fuzz_finding_" + kind, figure if isinstance(figure, (int, float)) else 1)
        return path

    def watchdog(self) -> None:
        """Saves the input that outlived the per-input timeout and ends the
        process: the call may be stuck in native code for good."""
        def watch():
            while True:
                time.sleep(0.05)
                started = self.started_at
                if started is not None and time.monotonic() - started > self.input_timeout:
                    self.save("hang", self.current, round(self.input_timeout, 3), "seconds (per-input timeout)")
                    self.summary(time.monotonic() - self.t0)
                    os._exit(1)
        threading.Thread(target=watch, daemon=True, name="memtest-fuzz-watchdog").start()

    def summary(self, elapsed: float) -> None:
        _report("fuzz_execs", self.execs)
        if elapsed > 0:
            _report("fuzz_execs_per_s", round(self.execs / elapsed, 1))
        _report("fuzz_findings", self.findings)
        _report("native_leaks", self.leaked)

    def finish(self, started: float) -> None:
        self.summary(time.monotonic() - started)
        os.close(self._current_fd)
        (self.dir / ".current").unlink(missing_ok=True)
        sys.stdout.flush()
        if self.findings:
            print(f"FAIL fuzz: {self.findings} finding(s) in {self.dir}", file=sys.stderr, flush=True)
            os._exit(1)
        print(MARKER, flush=True)
        os._exit(0)


def _budget() -> float:
    scale = _env_float("MEMTEST_SCALE", 1.0)
    return _env_float("MEMTEST_FUZZ_TIME", max(10.0, 30.0 * scale))


def _engine() -> str:
    engine = os.environ.get("MEMTEST_FUZZ_ENGINE", "auto")
    if engine == "auto":
        try:
            import atheris  # noqa: F401
            return "atheris"
        except ImportError:
            return "builtin"
    return engine


def main(one_input: Callable[[bytes], object], live: Callable[[], int],
         seeds: Iterable[bytes] = (), name: Optional[str] = None) -> None:
    """Fuzzes ``one_input`` until the budget is spent or an input fails the
    oracle; ends the process (exit 0 with the marker, 1 on a finding)."""
    name = name or os.environ.get("MEMTEST_FUZZ_SUITE") or Path(sys.argv[0]).stem
    run = _Run(one_input, live, name)
    seeds = list(seeds)
    # Warm-up: every seed once, so one-time allocations (caches, thread
    # pools) are made before any input is judged.
    for s in seeds:
        try:
            one_input(s)
        except Exception:  # noqa: BLE001 - the fuzz loop judges inputs, not this
            pass
    gc.collect()
    run.rss_start = run.rss()
    run.watchdog()
    replay = os.environ.get("MEMTEST_FUZZ_REPLAY")
    started = run.t0 = time.monotonic()
    if replay:
        _replay(run, Path(replay), started)
    engine = _engine()
    print(f"FUZZ engine={engine} seed={run.seed} dir={run.dir} oracle={'on' if run.oracle else 'off'}", flush=True)
    deadline = started + _budget()
    runs = int(_env_float("MEMTEST_FUZZ_RUNS", 0))
    if engine == "atheris":
        _atheris(run, seeds, started, deadline, runs)
    else:
        _builtin(run, seeds, started, deadline, runs)
    run.finish(started)


def _judge(run: _Run, data: bytes, label_sink=None) -> bool:
    finding, label = run.check(data)
    if label_sink is not None:
        label_sink(data, label)
    if finding is None:
        return False
    kind, figure, leaked, unit = finding
    run.leaked = run.leaked or leaked
    run.save(kind, data, figure, unit)
    return True


def _builtin(run: _Run, seeds: List[bytes], started: float, deadline: float, runs: int) -> None:
    mutator = Mutator(seeds, run.seed, int(_env_float("MEMTEST_FUZZ_MAX_LEN", 4096)))
    for s in mutator.corpus[:]:
        if _judge(run, s, mutator.keep):
            return
    while True:
        if runs and run.execs >= runs:
            return
        if (run.execs & 15) == 0 and time.monotonic() >= deadline:
            return
        if _judge(run, mutator.next(), mutator.keep):
            return


def _atheris(run: _Run, seeds: List[bytes], started: float, deadline: float, runs: int) -> None:
    import atheris

    corpus = run.dir / "atheris-seeds"
    corpus.mkdir(exist_ok=True)
    for s in seeds:
        (corpus / hashlib.sha1(s).hexdigest()[:12]).write_bytes(s)
    max_len = int(_env_float("MEMTEST_FUZZ_MAX_LEN", 4096))

    def test_one_input(data: bytes) -> None:
        # libFuzzer owns the loop: the budget and the end are ours, so the
        # figures and the marker are printed whatever stops it.
        if _judge(run, data) or (runs and run.execs >= runs) or time.monotonic() >= deadline:
            run.finish(started)

    # -runs/-max_total_time stay with us; libFuzzer's RSS limit is off and
    # its timeout is twice ours, so our watchdog, which saves the input and
    # the figure, fires first (-timeout=0 did not switch it off: atheris
    # still ended a run on "Timeout: 1s elapsed, timeout=0s"). New coverage it
    # finds is kept in memory only (no corpus dir argument but the seeds'
    # copy, read once): nothing written into the project.
    args = [sys.argv[0], f"-seed={run.seed + 1}", f"-max_len={max_len}",
            f"-timeout={int(run.input_timeout) * 2 + 1}", "-rss_limit_mb=0", "-print_final_stats=0", "-close_fd_mask=0",
            # libFuzzer's own crash/timeout files go beside ours, not into
            # the project's folder.
            f"-artifact_prefix={run.dir}/libfuzzer-",
            str(corpus)]
    # Coverage of the target's own code (its input decoding) guides the
    # mutator; the native library is not instrumented.
    run.one_input = atheris.instrument_func(run.one_input)
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


def _replay(run: _Run, path: Path, started: float) -> None:
    """Runs one reproducer through the same check (the warm-up already ran
    the seeds); nothing is saved. Exit 1 while it still fails."""
    data = path.read_bytes()
    print(f"FUZZ replay {path} ({len(data)} bytes)", flush=True)
    finding, _ = run.check(data)
    _report("fuzz_execs", run.execs)
    if finding is None:
        _report("native_leaks", 0)
        print(MARKER, flush=True)
        os._exit(0)
    kind, figure, leaked, unit = finding
    print(f"FUZZ still fails: {kind}: {figure} {unit}", flush=True)
    _report("native_leaks", leaked)
    print(f"FAIL fuzz: {path} still fails ({kind}: {figure} {unit})", file=sys.stderr, flush=True)
    os._exit(1)
