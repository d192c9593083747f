//! Plan: turns the validated config, the selection and the build outputs into
//! one [`Job`] per suite: the exact argv, env, cwd, limits and timeout. No shell
//! strings: the argv is what gets exec'd. Pure, so it is tested without
//! spawning anything.

pub mod jobs;
pub mod resolve;
pub mod select;

pub use jobs::{interpolate, plan, Artifacts, PlanError, PlanOptions};
pub use resolve::{resolve, scale_of, variant_of, Resolved};
pub use select::{matrix, select, Filter, GroupBy, Matrix, Partition, SelectError};
