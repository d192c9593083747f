"""Python binding of the Pyjamaz image optimizer, over its C ABI with ctypes.

Ownership: ``optimize`` copies the native output into ``bytes`` and frees the
native result before returning, in a ``finally``, so no native memory outlives
the call. ``optimize_native`` returns a ``NativeResult`` that keeps the native
result alive for zero-copy access until ``close()`` (or the end of a ``with``
block); ``weakref.finalize`` frees it if the caller forgets, once the handle
and every view of its data are unreachable.
"""

from __future__ import annotations

import ctypes
import os
import sys
import weakref
from dataclasses import dataclass
from typing import Iterable, Optional

from ._discovery import LibraryNotFoundError, find_library
from ._errors import AbiMismatchError, ErrorCode, LibraryLoadError, PyjamazError, code_name
from ._native import ABI_VERSION, PyjamazAllocStats, PyjamazOptions, input_pointer, native
from ._options import check_input, to_native_options

__all__ = [
    "ABI_VERSION",
    "AbiMismatchError",
    "AllocStats",
    "ErrorCode",
    "LibraryLoadError",
    "LibraryNotFoundError",
    "NativeResult",
    "OptimizeResult",
    "PyjamazError",
    "alloc_stats",
    "alloc_sites",
    "find_library",
    "get_version",
    "library_path",
    "optimize",
    "optimize_native",
]


@dataclass(frozen=True)
class OptimizeResult:
    data: bytes
    format: str
    diff_value: float
    passed: bool
    size: int


@dataclass(frozen=True)
class AllocStats:
    """The core's own heap accounting."""

    live_allocations: int
    live_bytes: int
    total_allocations: int
    peak_bytes: int


def get_version() -> str:
    """Library version, e.g. "0.1.0"."""
    return native().version().decode("utf-8")


def library_path() -> str:
    """Path of the loaded library (loads it when needed)."""
    return native().path


def alloc_stats() -> AllocStats:
    out = PyjamazAllocStats()
    rc = native().alloc_stats(ctypes.byref(out))
    if rc != 0:
        raise PyjamazError(rc, "pyjamaz_alloc_stats failed")
    return AllocStats(
        out.live_allocations, out.live_bytes, out.total_allocations, out.peak_bytes
    )


def alloc_sites(since: int = 0) -> str:
    """The core's leak sites: its live heap blocks allocated at or after
    allocation number ``since`` (a baseline's ``total_allocations``),
    grouped by allocating stack, largest first, as ``MEMTEST site=`` lines.
    Empty unless the library was loaded with ``MEMTEST_EXPLAIN`` set
    (memtest's attribution mode)."""
    lib = native()
    # The text can grow between the two calls (another thread allocating):
    # ask again until it fits.
    size = lib.alloc_sites(since, None, 0) + 1
    while True:
        buf = ctypes.create_string_buffer(size)
        need = lib.alloc_sites(since, buf, size)
        if need < size:
            return buf.value.decode("utf-8", "replace")
        size = need + 1


# memtest's attribution mode: each call into the core names the Python line
# that made it, so a native leak site shows the caller's line too.
_EXPLAIN = os.environ.get("MEMTEST_EXPLAIN", "") not in ("", "0")
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _name_caller(lib) -> None:
    """Tells the core which line outside this package called it."""
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR:
        frame = frame.f_back
    if frame is not None and lib.alloc_sites_caller is not None:
        lib.alloc_sites_caller(f"{frame.f_code.co_filename}:{frame.f_lineno}".encode())


def _call(data, max_bytes, max_diff, metric, formats, concurrency):
    """Validates, calls the core and returns the raw result pointer (owned by the caller)."""
    check_input(data)
    checked = to_native_options(max_bytes, max_diff, metric, formats, concurrency)
    lib = native()
    ptr, length, keepalive = input_pointer(data)
    opts = PyjamazOptions(
        ptr, length, checked.max_bytes, checked.max_diff, checked.metric, checked.formats,
        checked.concurrency,
    )
    if _EXPLAIN:
        _name_caller(lib)
    result = lib.optimize(ctypes.byref(opts))
    del keepalive  # the core has returned; the input may go
    return lib, result


def _raise_if_error(res) -> None:
    if res.error_code != 0:
        message = (res.error_message or b"").decode("utf-8", "replace")
        raise PyjamazError(res.error_code, message or f"pyjamaz error {code_name(res.error_code)}")


def optimize(
    data,
    *,
    max_bytes: int = 0,
    max_diff: float = 0.0,
    metric: str = "ssim",
    formats: Optional[Iterable[str]] = None,
    concurrency: int = 0,
) -> OptimizeResult:
    """Optimizes an image (PNG, JPEG, WebP or GIF bytes) and returns a copy of
    the chosen candidate. Raises PyjamazError with the core's code."""
    lib, result = _call(data, max_bytes, max_diff, metric, formats, concurrency)
    try:
        res = result.contents
        _raise_if_error(res)
        out = ctypes.string_at(res.output, res.output_len) if res.output_len else b""
        return OptimizeResult(
            data=out,
            format=res.format.decode("ascii"),
            diff_value=res.diff_value,
            passed=res.passed == 1,
            size=res.output_len,
        )
    finally:
        lib.free_result(result)


class NativeResult:
    """A native result kept alive for zero-copy reads of its bytes.

    Free it with ``close()`` or a ``with`` block. After that ``data`` raises,
    and views taken from ``data`` earlier (slices included) must not be used:
    they point at freed memory.
    """

    def __init__(self, lib, result):
        res = result.contents
        self.format: str = res.format.decode("ascii")
        self.diff_value: float = res.diff_value
        self.passed: bool = res.passed == 1
        self.size: int = res.output_len
        self._output = res.output
        self._view: Optional[memoryview] = None
        # The finalizer holds the pointer and the free function, never self.
        self._finalizer = weakref.finalize(self, lib.free_result, result)

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    @property
    def data(self) -> memoryview:
        """The output bytes, viewed in native memory without a copy."""
        if self.closed:
            raise ValueError("NativeResult is closed")
        if self._view is None:
            if self.size == 0:
                return memoryview(b"")
            array = (ctypes.c_uint8 * self.size).from_address(self._output)
            # A view keeps its owner reachable, so the finalizer cannot free
            # the memory under a memoryview still in use.
            array._owner = self
            self._view = memoryview(array).cast("B")
        return self._view

    def tobytes(self) -> bytes:
        """A copy of the output that outlives close()."""
        return bytes(self.data)

    def close(self) -> None:
        """Frees the native result now. Idempotent."""
        if self._view is not None:
            self._view.release()
            self._view = None
        self._finalizer()

    def __enter__(self) -> "NativeResult":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def optimize_native(
    data,
    *,
    max_bytes: int = 0,
    max_diff: float = 0.0,
    metric: str = "ssim",
    formats: Optional[Iterable[str]] = None,
    concurrency: int = 0,
) -> NativeResult:
    """Like ``optimize`` but keeps the native result: ``result.data`` is a
    zero-copy view until ``result.close()``."""
    lib, result = _call(data, max_bytes, max_diff, metric, formats, concurrency)
    try:
        _raise_if_error(result.contents)
    except BaseException:
        lib.free_result(result)
        raise
    return NativeResult(lib, result)


def _optimize_raw(opts: PyjamazOptions) -> OptimizeResult:
    """The raw C call, for tests that must reach the core's own validation
    (the public functions reject bad options before the FFI). Always frees."""
    lib = native()
    if _EXPLAIN:
        _name_caller(lib)
    result = lib.optimize(ctypes.byref(opts))
    try:
        res = result.contents
        _raise_if_error(res)
        return OptimizeResult(
            ctypes.string_at(res.output, res.output_len), res.format.decode("ascii"),
            res.diff_value, res.passed == 1, res.output_len,
        )
    finally:
        lib.free_result(result)
