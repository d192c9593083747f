"""Finds the pyjamaz shared library on disk.

Order: ``PYJAMAZ_LIB_PATH`` (and nothing else when it is set: a canary that
points at the leaky build must never silently load the normal one), then the
cargo target dir of the workspace this binding lives in (``CARGO_TARGET_DIR``
when set, else ``<workspace>/target``), release before debug. When nothing is
found the error lists every place tried.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Callable, List, Mapping, Optional

_WORKSPACE_TABLE = re.compile(r"^\s*\[workspace\]\s*$", re.MULTILINE)


class LibraryNotFoundError(OSError):
    """No library file was found; ``tried`` names every candidate path."""

    def __init__(self, message: str, tried: List[str]):
        super().__init__(message)
        self.tried = tried


def library_file_name(platform: str = sys.platform) -> str:
    """File name of the cdylib cargo builds for ``lib = "pyjamaz"``."""
    if platform.startswith("win"):
        return "pyjamaz.dll"
    if platform == "darwin":
        return "libpyjamaz.dylib"
    return "libpyjamaz.so"


def _is_workspace_root(folder: Path) -> bool:
    try:
        text = (folder / "Cargo.toml").read_text(encoding="utf-8")
    except OSError:
        return False
    return _WORKSPACE_TABLE.search(text) is not None


def find_workspace_root(start: Path) -> Optional[Path]:
    """Walks up from ``start`` to the first folder holding a workspace Cargo.toml."""
    folder = start.resolve()
    for candidate in (folder, *folder.parents):
        if _is_workspace_root(candidate):
            return candidate
    return None


def candidates(
    env: Mapping[str, str] = os.environ,
    start: Path = Path(__file__).parent,
    platform: str = sys.platform,
) -> tuple[bool, List[str]]:
    """``(explicit, paths)``: the candidate paths in the order they are tried."""
    explicit = env.get("PYJAMAZ_LIB_PATH")
    if explicit:
        return True, [str(Path(explicit).resolve())]

    target_dirs: List[Path] = []
    if env.get("CARGO_TARGET_DIR"):
        target_dirs.append(Path(env["CARGO_TARGET_DIR"]).resolve())
    root = find_workspace_root(start)
    if root is not None:
        target_dirs.append(root / "target")
    name = library_file_name(platform)
    paths: List[str] = []
    for folder in target_dirs:
        for profile in ("release", "debug"):
            p = str(folder / profile / name)
            if p not in paths:
                paths.append(p)
    return False, paths


def find_library(
    env: Mapping[str, str] = os.environ,
    start: Path = Path(__file__).parent,
    platform: str = sys.platform,
    exists: Callable[[str], bool] = os.path.isfile,
) -> str:
    """Path of the library to load, or raises LibraryNotFoundError."""
    explicit, paths = candidates(env, start, platform)
    for p in paths:
        if exists(p):
            return p
    if explicit:
        message = f"PYJAMAZ_LIB_PATH points at {paths[0]}, which is not a file"
    else:
        where = ", ".join(paths) if paths else "(no cargo workspace above the binding)"
        message = (
            f"pyjamaz library not found; tried: {where}. "
            "Build it with `cargo build --release -p pyjamaz` or set PYJAMAZ_LIB_PATH"
        )
    raise LibraryNotFoundError(message, paths)
