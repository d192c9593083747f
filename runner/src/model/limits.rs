//! [`Limits`]: the pass criteria of one suite, resolved from memtest.toml
//! (defaults, profile and suite merged). Typed fields, so the verdict reads
//! each limit in its unit; everything generic (parsing, merging, clearing
//! under a wrapper, reports) goes through the criterion table's accessors
//! (`LimitSpec::get`/`set` in `criterion.rs`).

use crate::units::{Bytes, BytesPerSec};
use serde::{Deserialize, Serialize};

/// Pass criteria of one suite. `None` means the criterion is not checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub rss_growth: Option<Bytes>,
    pub vms_growth: Option<Bytes>,
    pub peak_rss: Option<Bytes>,
    /// Largest allowed slope of RSS over the final `slope_window` of the run.
    pub slope: Option<BytesPerSec>,
    /// Largest allowed slope of RSS per operation over the same window, for
    /// suites that report their progress (`MEMTEST progress=N`): unlike the
    /// per-second slope it does not shrink when a loaded machine slows the
    /// suite down, so a leak stays the same size under parallel load.
    #[serde(default)]
    pub slope_per_op: Option<Bytes>,
    /// Fraction (0..1) of the run, at its end, over which the slope is fitted.
    pub slope_window: f64,
    /// Fraction (0..1) of the run, at its start, ignored as warm-up before
    /// growth is measured.
    pub warmup: f64,
    /// Largest allowed count of native allocations left live, when the suite
    /// reports `native_leaks` (see the `MEMTEST` line protocol in exec).
    pub native_leaks: Option<u64>,
    /// The line the suite must print after its assertions passed; `None`
    /// disables the check.
    pub marker: Option<String>,
    /// Largest allowed detection floor, bytes per call: judged only when
    /// the suite's floor is known (`floor`, or `run --floors FILE`), so a
    /// suite too blind to trust fails like a missed canary.
    #[serde(default)]
    pub max_floor: Option<Bytes>,
    /// Largest allowed growth of live bytes over the suite's checkpoints:
    /// judged instead of RSS growth by a suite whose RSS growth `explain`
    /// called allocator retention.
    #[serde(default)]
    pub live_growth: Option<Bytes>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            native_leaks: Some(0),
            marker: Some("TEST PASSED".to_string()),
            ..Limits::none()
        }
    }
}

impl Limits {
    /// No criterion checked (a JSON report's limits are read onto this).
    pub fn none() -> Limits {
        Limits {
            rss_growth: None,
            vms_growth: None,
            peak_rss: None,
            slope: None,
            slope_per_op: None,
            slope_window: 0.5,
            warmup: 0.2,
            native_leaks: None,
            marker: None,
            max_floor: None,
            live_growth: None,
        }
    }
}
