//! Execute: spawns each job in its own process group, samples its process
//! tree, enforces the timeout, collects output into log files, and emits
//! [`Event`]s.

pub mod event;

pub use event::{Event, Exit, Measured, Sample, Stage, Stream};
