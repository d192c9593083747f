//! memtest as a library: the stages of a run, one module per concern. The
//! `memtest` binary (main.rs) is a thin edge over these; integration tests
//! drive the stages directly.

pub mod app;
pub mod atomic;
pub mod bisect;
pub mod build;
pub mod cli;
pub mod config;
pub mod exec;
pub mod floor;
pub mod history;
pub mod init;
pub mod model;
pub mod plan;
pub mod process;
pub mod report;
pub mod sample;
pub mod units;
pub mod verdict;
