//! Wrapper findings: what valgrind or heaptrack reported about a suite, parsed
//! from their output text by pure functions.

use serde::{Deserialize, Serialize};

/// A wrapper's report on one suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapperFindings {
    /// "valgrind" or "heaptrack".
    pub tool: String,
    /// Definitely-lost leak records (valgrind).
    pub definitely_lost_records: u64,
    /// Bytes reported leaked.
    pub leaked_bytes: u64,
    /// Invalid reads, writes and frees (valgrind).
    pub invalid_accesses: u64,
    /// Whether these findings fail the suite.
    pub failing: bool,
    /// One line for reports.
    pub summary: String,
}
