//! sample stage (to be written).
