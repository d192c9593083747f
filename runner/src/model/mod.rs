//! The data every stage passes on: jobs and their limits, measurements,
//! outcomes and verdicts, events, leak sites, and the criteria table
//! (`criterion.rs`) that every stage reads for what a criterion is. A leaf: it imports nothing of the
//! runner but `units`, so stages depend on it and never on each other
//! upwards (config <- plan <- build/exec <- verdict <- report; app wires them).

mod artifacts;
pub mod cause;
pub mod corpus;
mod criterion;
mod event;
mod job;
mod limits;
mod measure;
mod metric;
mod outcome;
pub mod site;

pub use artifacts::Artifacts;
pub use cause::{Cause, Checkpoint, Diagnosis, Evidence, LiveSource, Probe, Smaps};
pub use criterion::{
    Column, Criterion, Judged, LimitError, LimitSpec, Panel, PlotLine, Rule, Spec,
    UnknownCriterion, SPECS,
};
pub use event::{staged, staged_then, Event, Stage, Stream};
pub use job::{Expect, FindingsKind, Job, RuntimeKind, WrapperRun};
pub use limits::Limits;
pub use measure::{Exit, Figures, Measured, Progress, Sample, SoakSlopes, WrapperFindings};
pub use metric::Metric;
pub use outcome::{Failure, KnownFloor, Outcome, OverLimit, Stopped, Verdict};
pub use site::{Frame, Layer, Library, Site, SiteSource};
