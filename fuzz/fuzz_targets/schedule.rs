//! The reference protocol on the simulated filesystem, under schedules the
//! input bytes choose (`stagedir::check::fuzz` gives the format): which
//! process steps next, where crashes and injected errors fall, which ids
//! are drawn. Every step is judged by the invariant oracle; a violation
//! prints its replay token first and panics, and libFuzzer keeps the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stagedir::check::fuzz::{check, Target};

fuzz_target!(|data: &[u8]| {
    check(data, Target::Schedule);
});
