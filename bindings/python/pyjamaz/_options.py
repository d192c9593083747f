"""Validates the input and options of an optimize call before anything crosses
the FFI. Wrong types are ``TypeError``; values out of range are
``PyjamazError`` with the code the core would give (INVALID_OPTIONS,
EMPTY_INPUT), so one ``except PyjamazError`` handles both sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional

from ._errors import ErrorCode, PyjamazError

METRICS = ("ssim", "none")
FORMATS = ("jpeg", "png", "webp")
U64_MAX = (1 << 64) - 1
# More threads than formats buys nothing; the cap only catches nonsense values.
MAX_CONCURRENCY = 1024


@dataclass(frozen=True)
class NativeOptions:
    """Checked values, ready for the ``PyjamazOptions`` struct."""

    max_bytes: int
    max_diff: float
    metric: bytes
    formats: Optional[bytes]  # None = every format
    concurrency: int


def _invalid(message: str) -> PyjamazError:
    return PyjamazError(ErrorCode.INVALID_OPTIONS, message)


def check_input(data: object) -> None:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"input must be bytes, bytearray or memoryview, got {type(data).__name__}")
    if memoryview(data).nbytes == 0:
        raise PyjamazError(ErrorCode.EMPTY_INPUT, "input is empty")


def _is_int(value: object) -> bool:
    # bool is an int subclass, but True as a byte budget is a bug, not a value.
    return isinstance(value, int) and not isinstance(value, bool)


def to_native_options(
    max_bytes: int = 0,
    max_diff: float = 0.0,
    metric: str = "ssim",
    formats: Optional[Iterable[str]] = None,
    concurrency: int = 0,
) -> NativeOptions:
    if not _is_int(max_bytes):
        raise TypeError(f"max_bytes must be an int, got {type(max_bytes).__name__}")
    if not 0 <= max_bytes <= U64_MAX:
        raise _invalid(f"max_bytes must be between 0 and 2**64-1 (0 = no budget), got {max_bytes}")

    if isinstance(max_diff, bool) or not isinstance(max_diff, (int, float)):
        raise TypeError(f"max_diff must be a number, got {type(max_diff).__name__}")
    if not math.isfinite(max_diff) or max_diff < 0:
        raise _invalid(f"max_diff must be a finite number >= 0 (0 = no limit), got {max_diff}")

    if not isinstance(metric, str):
        raise TypeError(f"metric must be a str, got {type(metric).__name__}")
    if metric not in METRICS:
        raise _invalid(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")

    formats_field: Optional[bytes] = None
    if formats is not None:
        # A bare string is iterable too; "png" would become p, n, g.
        if isinstance(formats, (str, bytes)) or not hasattr(formats, "__iter__"):
            raise TypeError(f"formats must be a list of str, got {type(formats).__name__}")
        names = list(formats)
        if not names:
            raise _invalid("formats must name at least one format; pass None to allow all")
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"formats must hold str, got {type(name).__name__}")
            if name not in FORMATS:
                raise _invalid(f"unknown format {name!r}, expected one of {', '.join(FORMATS)}")
        formats_field = ",".join(dict.fromkeys(names)).encode("ascii")

    if not _is_int(concurrency):
        raise TypeError(f"concurrency must be an int, got {type(concurrency).__name__}")
    if not 0 <= concurrency <= MAX_CONCURRENCY:
        raise _invalid(f"concurrency must be from 0 to {MAX_CONCURRENCY}, got {concurrency}")

    return NativeOptions(
        max_bytes=max_bytes,
        max_diff=float(max_diff),
        metric=metric.encode("ascii"),
        formats=formats_field,
        concurrency=concurrency,
    )
