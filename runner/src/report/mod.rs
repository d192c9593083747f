//! Report: everything the user sees. Reporters consume [`Event`]s and nothing
//! else prints.

use crate::exec::Event;

/// A consumer of executor events.
pub trait Reporter: Send {
    fn on_event(&mut self, event: &Event);
    /// Called once after `RunFinished` (or after an interrupt): write files.
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
