//! Checks shared by the parser fuzz targets.
//!
//! Printing rounds weights to two decimals, so `read(show(x)) == x` does not hold in
//! general; what holds is that the printed form is a fixpoint once read back, up to a
//! weight that is not 1.0 but prints as `1.00` (it reads back as the default weight,
//! which prints with no weight at all).

use l5d_core::naming::{NameTree, ParseError, Path};

/// A failed read must point into the input.
pub fn check_error(input: &str, e: &ParseError) {
    let len = input.chars().count();
    assert!(
        e.position() <= len,
        "error position {} past the input's {len} chars: {e}",
        e.position()
    );
}

/// Whether printing `t` gives text that reads back: a weight too long for a double
/// (`Infinity`) prints as `Infinity*`, which the grammar has no spelling for.
pub fn printable(t: &NameTree<Path>) -> bool {
    match t {
        NameTree::Alt(ts) => ts.iter().all(printable),
        NameTree::Union(ws) => ws
            .iter()
            .all(|w| w.weight.is_finite() && printable(&w.tree)),
        NameTree::Leaf(_) | NameTree::Neg | NameTree::Fail | NameTree::Empty => true,
    }
}

/// `printed` with every `1.00*` weight removed.
pub fn drop_unit_weights(printed: &str) -> String {
    const UNIT: &str = "1.00*";
    let mut out = String::with_capacity(printed.len());
    let mut rest = printed;
    while let Some(i) = rest.find(UNIT) {
        let before = rest[..i].chars().last().or_else(|| out.chars().last());
        out.push_str(&rest[..i]);
        // A weight starts a union member: after `& `, `| `, `(`, `=>` or at the start.
        if !matches!(before, None | Some(' ' | '(' | '>')) {
            out.push_str(UNIT);
        }
        rest = &rest[i + UNIT.len()..];
    }
    out.push_str(rest);
    out
}

/// Reads `printed` back and checks that printing is then a fixpoint.
pub fn check_fixpoint<T: PartialEq + std::fmt::Debug>(
    printed: &str,
    read: impl Fn(&str) -> Result<T, ParseError>,
    show: impl Fn(&T) -> String,
) {
    let once = read(printed).unwrap_or_else(|e| panic!("printed form {printed:?} fails: {e}"));
    let again = show(&once);
    assert_eq!(again, drop_unit_weights(printed), "reprint of {printed:?}");
    let twice = read(&again).unwrap_or_else(|e| panic!("reprinted form {again:?} fails: {e}"));
    assert_eq!(show(&twice), again);
    assert_eq!(twice, once);
}
