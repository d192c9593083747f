//! Build: everything that must exist before a suite can run — the core's
//! cdylib per variant (with its ABI checked), the rust suites' test binaries,
//! the runtimes' toolchains (preflight) and one-time setup, and the fixtures.

pub mod fixtures;
