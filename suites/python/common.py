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
from memtest_suite import MB, collect, mb  # noqa: E402,F401 - named for linters

import pyjamaz  # noqa: E402


def native_live() -> Tuple[int, int]:
    """(live allocations, live bytes) of the core's counting allocator."""
    s = pyjamaz.alloc_stats()
    return s.live_allocations, s.live_bytes
