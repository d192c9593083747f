//! Process control shared by every stage that runs a child: process groups,
//! signals and exit statuses (`unix.rs`, the one OS-specific file), and the
//! run-wide interrupt (SIGINT or SIGTERM to memtest) that build, setup and the
//! executor all obey.

#[cfg(unix)]
pub mod interrupt;
#[cfg(unix)]
pub mod unix;

#[cfg(unix)]
pub use interrupt::Interrupt;
