//! memtest: a memory-testing orchestrator for a native library and its
//! language bindings. See README.md.

mod build;
mod config;
mod exec;
mod plan;
mod report;
mod sample;
mod units;
mod verdict;

fn main() {}
