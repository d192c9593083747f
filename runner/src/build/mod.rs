//! build stage (to be written).
