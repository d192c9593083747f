//! Fuzzes `pyjamaz_optimize` through the C ABI on arbitrary bytes and options
//! (the first bytes of a case pick the options, see `pyjamaz::fuzzing`):
//! no crash, no panic at the boundary, a defined error code, and live
//! allocations back to the baseline once the result is freed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pyjamaz::fuzzing::check_case(data, true);
});
