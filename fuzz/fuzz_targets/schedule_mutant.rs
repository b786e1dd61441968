//! The same search over a deliberately broken variant: the first input byte
//! chooses the mutant (`stagedir::check::fuzz::mutant_of`). A finding here is
//! expected: it shows the search can find what the exhaustive checker finds.
//!
//! `STAGEDIR_FUZZ_VARIANT=<mutant name>` restricts the run to one mutant:
//! inputs whose first byte chooses another are rejected (kept out of the
//! corpus), so a finding still names its mutant by its first byte.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::{fuzz_target, Corpus};
use stagedir::check::fuzz::{check, mutant_of, variant_filter, Target};
use stagedir::variants::Variant;

static FILTER: OnceLock<Option<Variant>> = OnceLock::new();

fuzz_target!(|data: &[u8]| -> Corpus {
    if let Some(v) = FILTER.get_or_init(variant_filter) {
        if mutant_of(data) != *v {
            return Corpus::Reject;
        }
    }
    check(data, Target::ScheduleMutant);
    Corpus::Keep
});
