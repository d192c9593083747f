//! Pyjamaz placeholder.
