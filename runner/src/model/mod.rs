//! The data every stage passes on: jobs and their limits, measurements,
//! outcomes and verdicts, criteria, events, leak sites. A leaf: it imports nothing of the
//! runner but `units`, so stages depend on it and never on each other
//! upwards (config <- plan <- build/exec <- verdict <- report; app wires them).

mod criterion;
mod event;
mod job;
mod measure;
mod outcome;
pub mod site;

pub use criterion::{Criterion, UnknownCriterion};
pub use event::{staged, staged_then, Event, Stage, Stream};
pub use job::{Expect, FindingsKind, Job, Limits, RuntimeKind, WrapperRun};
pub use measure::{Exit, Measured, Progress, Sample, WrapperFindings};
pub use outcome::{Failure, Figures, Outcome, Verdict};
pub use site::{Frame, Layer, Library, Site, SiteSource};
