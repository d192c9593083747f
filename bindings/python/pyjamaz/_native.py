"""The FFI layer: loads the library once, checks its ABI version and declares
the C functions and structs of core/include/pyjamaz.h with ctypes. Nothing
here decides ownership; ``__init__`` frees every result it gets.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Optional

from ._discovery import find_library
from ._errors import AbiMismatchError, LibraryLoadError

ABI_VERSION = 1
"""The PYJAMAZ_ABI_VERSION this binding was written against."""


class PyjamazOptions(ctypes.Structure):
    _fields_ = [
        ("input", ctypes.POINTER(ctypes.c_uint8)),
        ("input_len", ctypes.c_size_t),
        ("max_bytes", ctypes.c_uint64),
        ("max_diff", ctypes.c_double),
        ("metric", ctypes.c_char_p),
        ("formats", ctypes.c_char_p),
        ("concurrency", ctypes.c_uint32),
    ]


class PyjamazResult(ctypes.Structure):
    _fields_ = [
        # A raw pointer, not c_char_p: the output holds NUL bytes and is read
        # with an explicit length.
        ("output", ctypes.c_void_p),
        ("output_len", ctypes.c_size_t),
        ("format", ctypes.c_char_p),
        ("diff_value", ctypes.c_double),
        ("passed", ctypes.c_int32),
        ("error_code", ctypes.c_int32),
        # c_char_p reads copy the string, so the message survives the free.
        ("error_message", ctypes.c_char_p),
    ]


class PyjamazAllocStats(ctypes.Structure):
    _fields_ = [
        ("live_allocations", ctypes.c_uint64),
        ("live_bytes", ctypes.c_uint64),
        ("total_allocations", ctypes.c_uint64),
        ("peak_bytes", ctypes.c_uint64),
    ]


ResultPtr = ctypes.POINTER(PyjamazResult)


class Library:
    """The loaded library and its typed functions."""

    def __init__(self, path: str):
        try:
            lib = ctypes.CDLL(path)
        except OSError as err:
            raise LibraryLoadError(path, str(err)) from err
        try:
            abi = lib.pyjamaz_abi_version
        except AttributeError as err:
            raise LibraryLoadError(
                path, "it does not export pyjamaz_abi_version (not a pyjamaz library?)"
            ) from err
        abi.restype = ctypes.c_uint32
        abi.argtypes = []
        found = abi()
        if found != ABI_VERSION:
            raise AbiMismatchError(path, found, ABI_VERSION)

        self.path = path
        self.version = lib.pyjamaz_version
        self.version.restype = ctypes.c_char_p
        self.version.argtypes = []
        # ctypes releases the GIL around these calls, so other Python threads
        # keep running while the core works.
        self.optimize = lib.pyjamaz_optimize
        self.optimize.restype = ResultPtr
        self.optimize.argtypes = [ctypes.POINTER(PyjamazOptions)]
        self.free_result = lib.pyjamaz_free_result
        self.free_result.restype = None
        self.free_result.argtypes = [ResultPtr]
        self.alloc_stats = lib.pyjamaz_alloc_stats
        self.alloc_stats.restype = ctypes.c_int32
        self.alloc_stats.argtypes = [ctypes.POINTER(PyjamazAllocStats)]
        # Newer than ABI 1's first release: absent from an older core.
        self.alloc_sites_caller = getattr(lib, "pyjamaz_alloc_sites_caller", None)
        if self.alloc_sites_caller is not None:
            self.alloc_sites_caller.restype = None
            self.alloc_sites_caller.argtypes = [ctypes.c_char_p]
        self.alloc_sites = lib.pyjamaz_alloc_sites
        self.alloc_sites.restype = ctypes.c_size_t
        self.alloc_sites.argtypes = [ctypes.c_uint64, ctypes.c_char_p, ctypes.c_size_t]
        self._lib = lib


_loaded: Optional[Library] = None
_lock = threading.Lock()


def native() -> Library:
    """The library, loaded on first use. Raises LibraryNotFoundError,
    LibraryLoadError or AbiMismatchError, each naming the path involved."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = Library(find_library())
    return _loaded


def input_pointer(data):
    """``(pointer, length_bytes, keepalive)`` for the caller's bytes, without a
    copy where the buffer allows it. ``keepalive`` must stay referenced for
    the whole call."""
    if isinstance(data, bytes):
        # c_char_p over bytes points at the object's own storage.
        keep = ctypes.c_char_p(data)
        return ctypes.cast(keep, ctypes.POINTER(ctypes.c_uint8)), len(data), keep
    view = memoryview(data)
    if view.readonly or not view.c_contiguous:
        return input_pointer(bytes(view))
    keep = (ctypes.c_uint8 * view.nbytes).from_buffer(view)
    return ctypes.cast(keep, ctypes.POINTER(ctypes.c_uint8)), view.nbytes, keep
