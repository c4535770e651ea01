//! `NameTree::read` on arbitrary text: no panic, errors inside the input, and a tree
//! that reads prints to a form that reads back to a fixpoint; simplifying it is
//! idempotent.

#![no_main]

use l5d_core::naming::NameTree;
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match NameTree::read(&text) {
        Err(e) => common::check_error(&text, &e),
        Ok(tree) => {
            if common::printable(&tree) {
                common::check_fixpoint(&tree.to_string(), NameTree::read, |t| t.to_string());
            }
            let once = tree.simplify();
            assert_eq!(once.clone().simplify(), once);
        }
    }
});
