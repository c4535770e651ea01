//! `Dtab::read` on arbitrary text: no panic, errors inside the input, and a dtab that
//! reads prints to a form that reads back to a fixpoint.

#![no_main]

use l5d_core::naming::Dtab;
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Dtab::read(&text) {
        Err(e) => common::check_error(&text, &e),
        Ok(dtab) => {
            if dtab.dentries().iter().all(|d| common::printable(&d.dst)) {
                common::check_fixpoint(&dtab.show(), Dtab::read, Dtab::show);
            }
        }
    }
});
