"""Tests against the real library (found like any user would find it:
PYJAMAZ_LIB_PATH or the workspace's target dir). They fail, not skip, when the
library is missing: a skipped memory test proves nothing."""

import ctypes
import ctypes.util
import gc
import os
import re
import threading
from pathlib import Path

import pytest

import pyjamaz
from pyjamaz import _native
from pyjamaz._native import PyjamazOptions
from images import make_bomb_png, make_corrupt_png, make_png, sniff

WORKSPACE = Path(__file__).resolve().parents[3]
TINY = make_png(16, 16, seed=7)
PHOTO = make_png(96, 96, seed=3)


def fixture(name: str) -> bytes:
    """A file of $MEMTEST_FIXTURES, or None when the variable is unset."""
    folder = os.environ.get("MEMTEST_FIXTURES")
    if not folder:
        return None
    return (Path(folder) / name).read_bytes()


def test_version_is_the_core_crate_version():
    cargo = (WORKSPACE / "core" / "Cargo.toml").read_text()
    expected = re.search(r'^version\s*=\s*"([^"]+)"', cargo, re.M).group(1)
    assert pyjamaz.get_version() == expected


def test_png_round_trip():
    result = pyjamaz.optimize(PHOTO)
    assert isinstance(result.data, bytes)
    assert result.size == len(result.data) > 0
    assert sniff(result.data) == result.format
    # The original is always a candidate, so the output is never larger.
    assert result.size <= len(PHOTO)
    assert result.passed is True
    assert result.diff_value >= 0


def test_jpeg_round_trip():
    jpeg = fixture("small.jpg")
    if jpeg is None:
        # No fixtures: let the core make a JPEG from a noisy PNG, where JPEG
        # always beats the original.
        jpeg = pyjamaz.optimize(make_png(128, 128, seed=9), formats=["jpeg"], metric="none").data
    assert sniff(jpeg) == "jpeg"
    result = pyjamaz.optimize(jpeg, formats=["jpeg", "webp"])
    assert result.format in ("jpeg", "webp")
    assert sniff(result.data) == result.format
    assert result.size <= len(jpeg)


def test_inputs_of_every_buffer_kind_give_the_same_result():
    a = pyjamaz.optimize(TINY, formats=["png"], metric="none")
    b = pyjamaz.optimize(bytearray(TINY), formats=["png"], metric="none")
    c = pyjamaz.optimize(memoryview(TINY), formats=["png"], metric="none")
    assert a == b == c


def test_an_impossible_budget_is_reported_not_passed():
    result = pyjamaz.optimize(PHOTO, max_bytes=1, formats=["png"])
    assert result.passed is False
    assert result.size > 1


@pytest.mark.parametrize(
    "data,name",
    [
        (b"\x00not an image at all" * 8, "UNKNOWN_FORMAT"),
        (PHOTO[: len(PHOTO) // 2], "TRUNCATED_INPUT"),
        (make_corrupt_png(), "CORRUPT_INPUT"),
        (make_bomb_png(), "LIMITS_EXCEEDED"),
    ],
    ids=["unknown", "truncated", "corrupt", "bomb"],
)
def test_bad_inputs_raise_typed_errors(data, name):
    with pytest.raises(pyjamaz.PyjamazError) as caught:
        pyjamaz.optimize(data)
    assert caught.value.code_name == name
    assert caught.value.code == pyjamaz.ErrorCode[name]
    assert caught.value.message  # the core's own message came through


def _raw(data=b"x", length=None, metric=b"ssim", formats=None):
    buf = ctypes.create_string_buffer(data, len(data)) if data is not None else None
    ptr = ctypes.cast(buf, ctypes.POINTER(ctypes.c_uint8)) if buf is not None else None
    opts = PyjamazOptions(ptr, len(data) if length is None else length, 0, 0.0, metric, formats, 0)
    return pyjamaz._optimize_raw(opts)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"data": None, "length": 4}, "NULL_POINTER"),
        ({"data": TINY, "length": 0}, "EMPTY_INPUT"),
        ({"data": TINY, "metric": b"bogus"}, "INVALID_OPTIONS"),
        ({"data": TINY, "formats": b"avif"}, "INVALID_OPTIONS"),
    ],
    ids=["null", "empty", "metric", "formats"],
)
def test_the_cores_own_validation_surfaces_as_typed_errors(kwargs, name):
    # Past the binding's checks, straight to the C ABI.
    with pytest.raises(pyjamaz.PyjamazError) as caught:
        _raw(**kwargs)
    assert caught.value.code_name == name


def test_native_live_allocations_back_to_baseline_after_1000_calls():
    pyjamaz.optimize(TINY, formats=["png"], metric="none")  # warm-up: lazy statics
    before = pyjamaz.alloc_stats()
    for i in range(1000):
        if i % 10 == 9:
            with pytest.raises(pyjamaz.PyjamazError):
                pyjamaz.optimize(make_corrupt_png())
        else:
            pyjamaz.optimize(TINY, formats=["png"], metric="none")
    after = pyjamaz.alloc_stats()
    assert after.total_allocations > before.total_allocations + 1000  # the calls really ran
    assert after.live_allocations == before.live_allocations
    assert after.live_bytes == before.live_bytes


def test_native_result_is_zero_copy_and_freed_by_close():
    base = pyjamaz.alloc_stats().live_allocations
    copy = pyjamaz.optimize(PHOTO, formats=["png"])
    with pyjamaz.optimize_native(PHOTO, formats=["png"]) as res:
        assert pyjamaz.alloc_stats().live_allocations > base
        assert isinstance(res.data, memoryview)
        assert res.data.tobytes() == copy.data
        assert (res.format, res.size, res.passed) == (copy.format, copy.size, copy.passed)
    assert res.closed
    with pytest.raises(ValueError):
        res.data
    res.close()  # idempotent
    assert pyjamaz.alloc_stats().live_allocations == base


def test_forgotten_native_result_is_freed_by_its_finalizer_not_before_its_views():
    base = pyjamaz.alloc_stats().live_allocations
    res = pyjamaz.optimize_native(TINY, formats=["png"], metric="none")
    view = res.data
    del res
    gc.collect()
    # The view still reaches the result: nothing may be freed yet.
    assert pyjamaz.alloc_stats().live_allocations > base
    assert sniff(bytes(view[:8])) == "png"
    del view
    gc.collect()
    assert pyjamaz.alloc_stats().live_allocations == base


def test_calls_from_threads_agree():
    expected = pyjamaz.optimize(PHOTO, formats=["png", "jpeg"]).data
    results, errors = [], []

    def work():
        try:
            results.append(pyjamaz.optimize(PHOTO, formats=["png", "jpeg"]).data)
        except Exception as err:  # reported below, on the main thread
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [expected] * 4


def test_abi_mismatch_is_refused(monkeypatch):
    path = pyjamaz.library_path()
    monkeypatch.setattr(_native, "ABI_VERSION", 2)
    with pytest.raises(pyjamaz.AbiMismatchError, match="ABI version 1.*needs 2"):
        _native.Library(path)


def test_a_library_that_is_not_pyjamaz_is_refused(tmp_path):
    libc = ctypes.util.find_library("c")
    with pytest.raises(pyjamaz.LibraryLoadError, match="pyjamaz_abi_version"):
        _native.Library(libc)
    junk = tmp_path / "libjunk.so"
    junk.write_bytes(b"not an ELF file")
    with pytest.raises(pyjamaz.LibraryLoadError, match=str(junk)):
        _native.Library(str(junk))
