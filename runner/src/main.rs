//! memtest: a memory-testing orchestrator for a native library and its
//! language bindings. See README.md. This file stays thin: parse the command
//! line, hand over to the stages in the `runner` library, map the result to an
//! exit code.

fn main() {}
