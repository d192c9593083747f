//! Plan: turns the validated config, the selection and the build outputs into
//! one [`Job`] per suite: the exact argv, env, cwd, limits and timeout. No shell
//! strings: the argv is what gets exec'd. Pure, so it is tested without
//! spawning anything. A suite's settings come from the config's one
//! resolver (`config::resolve`), never from reading its table here.

pub mod jobs;
pub mod select;

pub use jobs::{plan, PlanError, PlanOptions, CORPUS_ENV};
pub use select::{matrix, select, Filter, GroupBy, Matrix, Partition, SelectError};

#[cfg(test)]
mod corpus_tests;
