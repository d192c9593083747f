"""What the Pyjamaz Python suites share beyond memtest's generic helpers: the
binding import and the core's native allocation counts. Everything generic
(the env contract, figure lines, memory readings, the one leak rule, run())
comes from memtest_suite, re-exported here so suites write ``t.scale()``,
``t.Checkpoints()``, ``t.run(main)``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Tuple

# memtest puts its helpers and the binding on PYTHONPATH; a direct run from a
# checkout finds both in the repository instead.
_REPO = Path(__file__).resolve().parents[2]
for _folder in (_REPO / "helpers" / "python", _REPO / "bindings" / "python"):
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))

from memtest_suite import *  # noqa: E402,F401,F403 - the generic half, re-exported
from memtest_suite import MB, collect, explain, mb, report_sites  # noqa: E402,F401 - named for linters

import pyjamaz  # noqa: E402


_baseline_allocation: "int | None" = None


def native_live() -> Tuple[int, int]:
    """(live allocations, live bytes) of the core's counting allocator. The
    first call is the suite's baseline: leak sites are the blocks allocated
    after it (see ``report_native_sites``)."""
    global _baseline_allocation
    s = pyjamaz.alloc_stats()
    if _baseline_allocation is None:
        _baseline_allocation = s.total_allocations
    return s.live_allocations, s.live_bytes


def report_native_sites() -> None:
    """In attribution mode (``memtest explain``), the core's leak sites: its
    blocks allocated since the baseline and still live, by allocating
    stack. Call it where ``native_leaks`` is reported."""
    if explain() and _baseline_allocation is not None:
        report_sites(pyjamaz.alloc_sites(_baseline_allocation))
