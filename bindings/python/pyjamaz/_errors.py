"""Typed errors of the binding.

``PyjamazError`` carries the core's numeric code (the ``PYJAMAZ_ERR_*`` values
of pyjamaz.h) and its symbolic name, so callers branch on
``err.code_name == "CORRUPT_INPUT"`` instead of parsing messages. The binding
raises the same codes for what it rejects before the native call.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.IntEnum):
    """Exactly the error codes of core/include/pyjamaz.h."""

    NULL_POINTER = 1
    EMPTY_INPUT = 2
    UNKNOWN_FORMAT = 3
    CORRUPT_INPUT = 4
    TRUNCATED_INPUT = 5
    LIMITS_EXCEEDED = 6
    INVALID_OPTIONS = 7
    ENCODE = 8
    INTERNAL = 9


def code_name(code: int) -> str:
    """Symbolic name of a core code; codes newer than this binding are 'UNKNOWN_ERROR'."""
    try:
        return ErrorCode(code).name
    except ValueError:
        return "UNKNOWN_ERROR"


class PyjamazError(Exception):
    """An error reported by the core, or an input the binding refused."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = int(code)
        self.code_name = code_name(code)
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} ({self.code_name})"


class LibraryLoadError(OSError):
    """The library file exists but cannot be loaded or is not a pyjamaz library."""

    def __init__(self, lib_path: str, detail: str):
        super().__init__(f"cannot load {lib_path}: {detail}")
        self.lib_path = lib_path


class AbiMismatchError(LibraryLoadError):
    """The library speaks another ABI version than this binding."""

    def __init__(self, lib_path: str, found: int, expected: int):
        super().__init__(
            lib_path,
            f"it speaks pyjamaz ABI version {found}, this binding needs {expected}; "
            "rebuild the library or use a matching binding",
        )
        self.found = found
        self.expected = expected
