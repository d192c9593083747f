"""Tests of memtest_suite: the leak rule on scripted series, the environment
it parses, figure lines, and run()'s marker and exit codes (in a subprocess,
since run() ends the process). `pytest runner/helpers/python`."""

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import memtest_suite as m  # noqa: E402

N = 40  # checkpoints in the scripted series


def series(f):
    xs = list(range(N))
    return xs, [f(i) for i in xs]


# --------------------------------------------------------------- the leak rule

def test_flat_series_is_not_leaking():
    xs, ys = series(lambda i: 50 * m.MB)
    t = m.trend(xs, ys)
    assert t.slope == 0 and t.rising_fraction == 0 and t.points == N // 2
    assert not t.leaking(1000)


def test_noisy_flat_series_is_not_leaking():
    # +-1 MB of noise around a flat line: about half the steps rise, so even
    # a slope that happens to exceed a tiny limit is not called a leak.
    rng = random.Random(7)
    xs, ys = series(lambda i: 50 * m.MB + rng.uniform(-1, 1) * m.MB)
    t = m.trend(xs, ys)
    assert t.rising_fraction < m.RISING_FRACTION
    assert not m.is_leaking(xs, ys, slope_limit=1)


def test_steady_leak_is_leaking():
    xs, ys = series(lambda i: 50 * m.MB + i * 100_000)
    t = m.trend(xs, ys)
    assert t.slope == pytest.approx(100_000)
    assert t.rising_fraction == 1
    assert t.leaking(50_000)
    assert not t.leaking(200_000)  # same series, limit above its slope


def test_noisy_steady_leak_is_leaking():
    rng = random.Random(11)
    xs, ys = series(lambda i: 50 * m.MB + i * 1 * m.MB + rng.uniform(-0.3, 0.3) * m.MB)
    assert m.is_leaking(xs, ys, slope_limit=0.5 * m.MB)


def test_one_late_step_is_not_a_leak():
    # One allocator jump near the end: a large fitted slope, but RSS rose on
    # a single step, so the rule does not call it a leak.
    xs, ys = series(lambda i: 50 * m.MB if i < N - 3 else 60 * m.MB)
    t = m.trend(xs, ys)
    assert t.slope > 100_000
    assert t.rising_fraction < m.RISING_FRACTION
    assert not t.leaking(100_000)


def test_warm_up_growth_before_the_window_is_ignored():
    # Grows steeply over the first three quarters, then flat: the final half
    # rose on only half of its steps (it stopped rising), so no leak ...
    xs, ys = series(lambda i: 10 * m.MB + min(i, 3 * N // 4) * m.MB)
    assert not m.is_leaking(xs, ys, slope_limit=1000)
    # ... but a judged window of the whole series calls the growth a leak.
    assert m.is_leaking(xs, ys, slope_limit=1000, window=1.0)


def test_leak_starting_late_is_caught():
    xs, ys = series(lambda i: 50 * m.MB + max(0, i - N // 2) * 200_000)
    assert m.is_leaking(xs, ys, slope_limit=100_000)


def test_too_few_points_cannot_be_judged():
    t = m.trend([0, 1, 2, 3], [1, 2, 3, 4])
    assert t.points == 2 and not t.judgeable
    with pytest.raises(ValueError):
        t.leaking(0)


def test_mismatched_series_are_refused():
    with pytest.raises(ValueError):
        m.trend([1, 2, 3], [1, 2])
    with pytest.raises(ValueError):
        m.trend([1, 2, 3], [1, 2, 3], window=0)


def test_checkpoints_record_and_judge(capsys):
    m._failures.clear()
    leak = m.Checkpoints(reading=iter(range(0, 10_000_000, 100_000)).__next__)
    for i in range(20):
        leak.record(i)
    assert not leak.check_no_leak(limit=1000, unit="bytes per op")
    assert "RSS grows 100000.0 bytes per op" in m.failures()[0]
    out = capsys.readouterr().out
    assert "MEMTEST rss_slope=100000\n" in out and "MEMTEST rss_rising_fraction=1\n" in out

    m._failures.clear()
    flat = m.Checkpoints()
    for i in range(20):
        flat.record(i, value=5 * m.MB)
    assert flat.check_no_leak(limit=1000, figure=None)
    assert m.failures() == []

    short = m.Checkpoints()
    short.record(0, 1)
    assert not short.check_no_leak(limit=1000)
    assert "only 1 checkpoints" in m.failures()[0]
    m._failures.clear()


def test_under_a_wrapper_an_rss_trend_is_reported_not_judged(monkeypatch):
    m._failures.clear()
    monkeypatch.setenv("MEMTEST_WRAPPER", "asan")
    assert m.wrapper() == "asan"
    rss = m.Checkpoints()
    for i in range(20):
        rss.record(i, value=5 * m.MB + i * 100_000)
    assert rss.check_no_leak(limit=1000, figure=None)
    assert m.failures() == []
    counted = m.Checkpoints(reading=iter(range(0, 10_000_000, 100_000)).__next__, what="live bytes")
    for i in range(20):
        counted.record(i)
    assert not counted.check_no_leak(limit=1000, figure=None)
    assert "live bytes grows 100000.0" in m.failures()[0]
    m._failures.clear()

    monkeypatch.delenv("MEMTEST_WRAPPER")
    assert m.wrapper() is None
    assert not rss.check_no_leak(limit=1000, figure=None)
    m._failures.clear()


# ----------------------------------------------------------------- environment

def test_scale_and_iterations(monkeypatch):
    monkeypatch.delenv("MEMTEST_SCALE", raising=False)
    assert m.scale() == 1.0
    assert m.iterations(15_000) == 15_000
    monkeypatch.setenv("MEMTEST_SCALE", "0.1")
    assert m.scale() == 0.1
    assert m.iterations(15_000) == 1_500
    assert m.iterations(3) == 1          # default minimum 1
    assert m.iterations(3, minimum=20) == 20
    monkeypatch.setenv("MEMTEST_SCALE", "0.5")
    assert m.iterations(5) == 3   # 2.5: halves round up, as in Node and C
    monkeypatch.setenv("MEMTEST_SCALE", "")
    assert m.scale() == 1.0


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "inf", "nan"])
def test_bad_scale_is_refused(monkeypatch, bad):
    monkeypatch.setenv("MEMTEST_SCALE", bad)
    with pytest.raises(SystemExit, match="MEMTEST_SCALE must be a positive number"):
        m.scale()


def test_fixture(monkeypatch, tmp_path):
    (tmp_path / "a.bin").write_bytes(b"abc")
    monkeypatch.setenv("MEMTEST_FIXTURES", str(tmp_path))
    assert m.fixture("a.bin") == b"abc"
    with pytest.raises(RuntimeError, match="b.bin is missing"):
        m.fixture("b.bin")
    monkeypatch.delenv("MEMTEST_FIXTURES")
    with pytest.raises(RuntimeError, match="MEMTEST_FIXTURES is not set"):
        m.fixture("a.bin")


def test_canary_expect_and_lib_path(monkeypatch, tmp_path):
    monkeypatch.delenv("MEMTEST_CANARY", raising=False)
    monkeypatch.delenv("MEMTEST_EXPECT", raising=False)
    assert m.canary() is None and m.expect() == "pass"
    monkeypatch.setenv("MEMTEST_CANARY", "retain")
    monkeypatch.setenv("MEMTEST_EXPECT", "fail")
    assert m.canary() == "retain" and m.expect() == "fail"
    lib = tmp_path / "libx.so"
    lib.write_bytes(b"")
    monkeypatch.setenv("X_LIB", str(lib))
    assert m.lib_path("X_LIB") == str(lib)
    monkeypatch.setenv("X_LIB", str(tmp_path / "nope.so"))
    with pytest.raises(RuntimeError, match="does not exist"):
        m.lib_path("X_LIB")


def test_report_lines(capsys):
    m.report("native_leaks", 0)
    m.report("peak_rss_bytes", 1.5e6)
    m.report("ratio", 0.25)
    assert capsys.readouterr().out == "MEMTEST native_leaks=0\nMEMTEST peak_rss_bytes=1500000\nMEMTEST ratio=0.25\n"
    for name, value in [("bad name", 1), ("x", float("inf")), ("x", "1"), ("x", True)]:
        with pytest.raises(ValueError):
            m.report(name, value)


def test_progress_lines(capsys):
    m.progress(0)
    m.progress(1500)
    assert capsys.readouterr().out == "MEMTEST progress=0\nMEMTEST progress=1500\n"
    for bad in [-1, 2.5, True, "3"]:
        with pytest.raises(ValueError):
            m.progress(bad)


def test_memory_readings_are_plausible():
    rss, vms, peak = m.rss_bytes(), m.vms_bytes(), m.peak_rss_bytes()
    assert 1 * m.MB < rss <= peak
    assert rss < vms


def test_rss_follows_an_allocation():
    before = m.rss_bytes()
    block = bytearray(64 * m.MB)  # zero-filled: the pages are touched
    block[:: 4096] = b"x" * len(block[:: 4096])
    assert m.rss_bytes() - before > 32 * m.MB
    del block


# -------------------------------------------------------------------- run()

def run_suite(body, env=None):
    script = "import memtest_suite as m\n" + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(HERE), **(env or {})},
        capture_output=True, text=True, timeout=60,
    )


def test_run_passes_prints_marker_last():
    p = run_suite("""
        def main():
            m.check(True, "fine")
            m.report("operations", 3)
        m.run(main, name="ok")
    """)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[-1] == "TEST PASSED"
    assert "MEMTEST operations=3" in lines and any(l.startswith("MEMTEST peak_rss_bytes=") for l in lines)


def test_run_failed_check_exits_1_without_marker():
    p = run_suite("""
        def main():
            m.check(False, "native live allocations 3 above baseline, limit 0")
            m.check(False, "second failure")
        m.run(main, name="leaky")
    """)
    assert p.returncode == 1
    assert "TEST PASSED" not in p.stdout
    assert "FAIL leaky: native live allocations 3 above baseline, limit 0" in p.stderr
    assert "FAIL leaky: second failure" in p.stderr
    assert "MEMTEST peak_rss_bytes=" in p.stdout  # figures still delivered


def test_run_assertion_exits_1():
    p = run_suite("""
        def main():
            assert 1 + 1 == 3, "arithmetic is broken"
        m.run(main)
    """)
    assert p.returncode == 1 and "TEST PASSED" not in p.stdout
    assert "assertion failed: arithmetic is broken" in p.stderr


def test_run_error_exits_2_with_trace():
    p = run_suite("""
        def main():
            m.fixture("missing.png")
        m.run(main)
    """, env={"MEMTEST_FIXTURES": "/nonexistent"})
    assert p.returncode == 2 and "TEST PASSED" not in p.stdout
    assert "aborted" in p.stderr and "missing.png is missing" in p.stderr


def test_run_sys_exit_passes_through_without_marker():
    p = run_suite("""
        def main():
            raise SystemExit(5)
        m.run(main)
    """)
    assert p.returncode == 5 and "TEST PASSED" not in p.stdout


def test_a_soak_repeats_main_until_its_duration_with_progress_counting_on():
    p = run_suite("""
        import time
        def main():
            m.progress(0)
            time.sleep(0.05)
            m.progress(10)
            m.report("operations", 10)
        m.run(main, name="soak")
    """, env={"MEMTEST_DURATION_MS": "400"})
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    passes = [int(l.split("=")[1]) for l in lines if l.startswith("MEMTEST soak_passes=")]
    assert len(passes) >= 4 and passes == list(range(1, len(passes) + 1)), passes
    progress = [int(l.split("=")[1]) for l in lines if l.startswith("MEMTEST progress=")]
    # One measured loop: a single progress=0, then on from each pass's last.
    assert progress[:4] == [0, 10, 10, 20] and progress.count(0) == 1
    assert progress == sorted(progress)
    duration = next(int(l.split("=")[1]) for l in lines if l.startswith("MEMTEST duration_ms="))
    assert 400 <= duration < 2000
    assert lines[-1] == "TEST PASSED"


def test_a_soak_stops_at_the_first_failed_pass():
    p = run_suite("""
        n = 0
        def main():
            global n
            n += 1
            m.check(n < 3, f"pass {n} leaked")
        m.run(main, name="soak")
    """, env={"MEMTEST_DURATION_MS": "60000"})
    assert p.returncode == 1 and "TEST PASSED" not in p.stdout
    assert "MEMTEST soak_passes=3" in p.stdout and "soak_passes=4" not in p.stdout
    assert "FAIL soak: pass 3 leaked" in p.stderr


def test_without_a_duration_main_runs_once():
    p = run_suite("""
        def main():
            print("pass")
        m.run(main)
    """)
    assert p.stdout.count("pass\n") == 1 and "soak_passes" not in p.stdout


# ------------------------------------------------------------ attribution mode

def run_file(tmp_path, body, env=None):
    """run_suite with the script in a file, so its lines have a file name."""
    script = tmp_path / "suite.py"
    script.write_text("import memtest_suite as m\n" + textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, "PYTHONPATH": str(HERE), **(env or {})},
        capture_output=True, text=True, timeout=60,
    ), script


def sites_of(stdout):
    import json
    return [json.loads(l.split("=", 1)[1]) for l in stdout.splitlines() if l.startswith("MEMTEST site=")]


PLANTED = """
    kept = []
    def main():
        cps = m.Checkpoints()
        for i in range(200):
            if i % 20 == 0:
                cps.record(i)
            kept.append(bytearray(4096))  # the planted leak
            scratch = [bytes(100) for _ in range(50)]  # garbage, freed every round
        m.report("operations", 200)
    m.run(main, name="planted")
"""


def test_explain_names_the_planted_line_largest_first(tmp_path):
    p, script = run_file(tmp_path, PLANTED, {"MEMTEST_EXPLAIN": "1"})
    assert p.returncode == 0, p.stderr
    sites = sites_of(p.stdout)
    assert sites, p.stdout
    top = sites[0]
    assert top["layer"] == "python" and top["source"] == "tracemalloc"
    planted = next(i for i, l in enumerate(script.read_text().splitlines(), 1) if "the planted leak" in l)
    inner = top["frames"][0]
    assert (inner["file"], inner["line"]) == (str(script), planted), top
    # ~180 of the 200 buffers were made between the first and last checkpoint.
    assert 170 * 4096 <= top["bytes"] <= 200 * 4200, top
    assert top["blocks"] >= 170, top
    assert [s["bytes"] for s in sites] == sorted((s["bytes"] for s in sites), reverse=True)
    assert p.stdout.splitlines()[-1] == "TEST PASSED", "the marker stays last"


def test_explain_off_or_clean_prints_no_site(tmp_path):
    p, _ = run_file(tmp_path, PLANTED)
    assert p.returncode == 0, p.stderr
    assert sites_of(p.stdout) == [], "no attribution mode, no sites"
    # One buffer kept at a time: at most one buffer's growth anywhere.
    clean = PLANTED.replace("kept.append(bytearray(4096))", "kept[:] = [bytearray(4096)]")
    p, _ = run_file(tmp_path, clean, {"MEMTEST_EXPLAIN": "1"})
    assert p.returncode == 0, p.stderr
    assert all(s["bytes"] < 8192 for s in sites_of(p.stdout)), p.stdout


def test_report_sites_passes_on_memtest_lines_only(capsys):
    m.report_sites('MEMTEST site={"layer":"native"}\nnoise\nMEMTEST native_sites_untracked_blocks=3\n')
    assert capsys.readouterr().out.splitlines() == [
        'MEMTEST site={"layer":"native"}', "MEMTEST native_sites_untracked_blocks=3"]


def test_explain_survives_a_suite_that_stops_tracemalloc(tmp_path):
    p, _ = run_file(tmp_path, """
        import tracemalloc
        def main():
            m.progress(0)
            tracemalloc.stop()  # as suites measuring their own heap do
            m.report("operations", 1)
        m.run(main, name="stops")
    """, {"MEMTEST_EXPLAIN": "1"})
    assert p.returncode == 0, p.stderr
    assert sites_of(p.stdout) == []


def checkpoints_of(stdout):
    out = []
    for line in stdout.splitlines():
        if line.startswith("MEMTEST checkpoint="):
            out.append({k: float(v) for k, v in (p.split("=") for p in line.split()[1:])})
    return out


KEEPS_A_MB_A_STEP = """
    kept = []
    def main():
        cps = m.Checkpoints()
        for i in range(4):
            kept.append(bytearray(1_000_000))
            cps.record(i)
    m.run(main, name="cause")
"""


def test_cause_mode_reports_live_and_allocator_figures_at_each_checkpoint():
    p = run_suite(KEEPS_A_MB_A_STEP, env={"MEMTEST_CAUSE": "1"})
    assert p.returncode == 0, p.stderr
    cps = checkpoints_of(p.stdout)
    assert [c["checkpoint"] for c in cps] == [0, 1, 2, 3]
    # tracemalloc sees the kept megabytes; so does glibc, where this is glibc.
    assert cps[-1]["tracemalloc_bytes"] - cps[0]["tracemalloc_bytes"] >= 2_900_000
    if "malloc_in_use_bytes" in cps[0]:
        assert cps[-1]["malloc_in_use_bytes"] - cps[0]["malloc_in_use_bytes"] >= 2_900_000
        assert cps[0]["malloc_free_bytes"] >= 0
    assert all("malloc_trimmed_bytes" not in c for c in cps)
    assert "MEMTEST site=" not in p.stdout, "cause mode takes no snapshots"


def test_cause_mode_trims_when_asked_and_is_silent_otherwise():
    p = run_suite(KEEPS_A_MB_A_STEP, env={"MEMTEST_CAUSE": "1", "MEMTEST_MALLOC_TRIM": "1"})
    cps = checkpoints_of(p.stdout)
    if sys.platform.startswith("linux") and "malloc_in_use_bytes" in cps[0]:
        assert all(c["malloc_trimmed_bytes"] >= 0 for c in cps), p.stdout
    plain = run_suite(KEEPS_A_MB_A_STEP)
    assert checkpoints_of(plain.stdout) == []
