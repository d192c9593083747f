//! Process control shared by every stage that runs a child: process groups,
//! signals and exit statuses (`unix.rs`, the one OS-specific file), the
//! run-wide interrupt (SIGINT or SIGTERM to memtest) that build, setup and the
//! executor all obey, and what the machine offers (`machine.rs`: free memory,
//! terminal width).

#[cfg(unix)]
pub mod interrupt;
pub mod machine;
#[cfg(unix)]
pub mod unix;

#[cfg(unix)]
pub use interrupt::Interrupt;
