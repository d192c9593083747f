"""Python memory suite of {{lib}}: a starter written by `memtest init`.

What it does: a bounded loop of operations, RSS read at CHECKPOINTS points
after a full collection, then the shared leak rule (slope over the limit AND
rising on >= 2/3 of the checkpoints), the figures memtest shows, and the
marker line (``run()`` prints it only when every check held).

Until ``operation()`` calls into the library, the loop only exercises a
stand-in: the suite passes, and a canary on a leaky build of the library is
reported as missed. That is memtest telling you the suite cannot catch a leak
yet. Fill in the TODOs, then ``memtest run {{suite}}``.

memtest puts its helper module on PYTHONPATH; run this file alone with
    PYTHONPATH=.memtest/helpers/python python3 {{script}}
"""

import ctypes  # noqa: F401 - the usual way to call a C ABI from Python
import hashlib

import memtest_suite as m

# Operations at MEMTEST_SCALE=1 (the ci profile runs a tenth), and at least
# MIN_OPERATIONS: the run must last long enough for memtest's RSS sampling
# (every 10 ms) to see a trend.
SEED_OPERATIONS = 20_000
MIN_OPERATIONS = 5_000
CHECKPOINTS = 20
# The suite's own leak rule: RSS may trend up by at most this much per
# operation. A clean loop sits near 0; set it well under what one leaked
# result would cost (the retain canary below holds 4 KiB per operation).
LIMIT_BYTES_PER_OP = 500


def load():
    """The library under test, opened once."""
{{load}}


def operation(lib, i):
    """One operation: the smallest thing a user of the library does that
    allocates and should free everything again. Returns what a caller would
    keep (the retain canary keeps it)."""
    # TODO: replace this stand-in with one call into the library, e.g.
    #   out = lib.mylib_process(data, len(data)); lib.mylib_free(out)
    data = bytes([i & 0xFF]) * (64 * 1024)
    return hashlib.sha256(data).digest()


def main():
    lib = load()
    ops = m.iterations(SEED_OPERATIONS, MIN_OPERATIONS)
    every = max(1, ops // CHECKPOINTS)
    # MEMTEST_CANARY=retain (a canary with mode = "retain"): hold on to memory
    # every operation, the leak this suite must catch.
    retain = m.canary() == "retain"
    kept = []
    cps = m.Checkpoints()
    m.collect()
    cps.record(0)
    # Progress lines: the first marks where memtest starts measuring growth
    # (start-up is not growth); all of them let it judge RSS per operation
    # (the `slope_per_op` limit).
    m.progress(0)
    for i in range(1, ops + 1):
        result = operation(lib, i)
        if retain:
            kept.append((result, bytearray(4096)))
        if i % every == 0:
            m.collect()
            cps.record(i)
            m.progress(i)
    m.report("operations", ops)
    m.report("kept", len(kept))
    # TODO: if the library counts its own live allocations, report them:
    #   m.report("native_leaks", lib.mylib_live_allocations())
    # memtest judges that figure against the native_leaks limit (0 by default).
    cps.check_no_leak(limit=LIMIT_BYTES_PER_OP, unit="bytes per op")


m.run(main)
