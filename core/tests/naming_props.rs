//! Property tests of the naming engine against the rules of `shared/spec/dtab.md`.
//!
//! They prove, for generated values, that the parser and the printer are inverse
//! (`read(show(x)) == x`, and a fixpoint where printing rounds weights), that printing is
//! canonical (any legal spacing, comments, escapes, redundant parentheses and number
//! spellings parse to the same value as the printed form), the rules of `Dtab::lookup`,
//! the laws of `simplify` and `eval`, and that malformed input yields an error whose
//! position and message point into the input, never a panic.
//!
//! Case counts are set so the file runs in a few seconds in a debug build; raise
//! `PROPTEST_CASES` to search longer.

use std::collections::BTreeSet;
use std::sync::Arc;

use l5d_core::naming::{
    format_weight, Dentry, Dtab, NameTree, ParseError, Path, Prefix, PrefixElem, Weighted,
    MAX_NESTING,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// `Path.showableChars`: the bytes an element may hold unescaped.
const SHOWABLE: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_:.#$%-";

/// `java.lang.Character.isWhitespace`, a sample: ASCII, the separators and the controls.
const WHITESPACE: &[char] = &[
    ' ', '\t', '\n', '\r', '\u{0b}', '\u{0c}', '\u{1c}', '\u{1f}', '\u{1680}', '\u{2000}',
    '\u{200a}', '\u{2028}', '\u{2029}', '\u{205f}', '\u{3000}',
];

/// Comment bodies, some of them full of dtab syntax that must be ignored.
const COMMENTS: &[&str] = &["", " note", "/a=>/b;", "|&()!~$*", " é 😀 \\x", "#"];

fn is_showable(b: u8) -> bool {
    SHOWABLE.contains(&b)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

/// A path element: mostly showable text, sometimes arbitrary bytes, one odd byte among
/// showable ones, or a literal `*` (which must print as `\x2a`).
fn elem() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(select(SHOWABLE), 1..6),
        1 => vec(any::<u8>(), 1..5),
        1 => (vec(select(SHOWABLE), 0..3), any::<u8>(), vec(select(SHOWABLE), 0..3))
            .prop_map(|(mut a, b, c)| {
                a.push(b);
                a.extend(c);
                a
            }),
        1 => Just(b"*".to_vec()),
    ]
}

fn path() -> impl Strategy<Value = Path> {
    vec(elem(), 0..4).prop_map(Path::from_elems)
}

fn prefix_elem(label: BoxedStrategy<Vec<u8>>) -> impl Strategy<Value = PrefixElem> {
    prop_oneof![
        1 => Just(PrefixElem::Any),
        3 => label.prop_map(|l| PrefixElem::Label(Arc::from(l))),
    ]
}

fn prefix() -> impl Strategy<Value = Prefix> {
    vec(prefix_elem(elem().boxed()), 0..4).prop_map(Prefix::new)
}

/// The weights the parser can read back exactly from their printed form.
fn integer_weight() -> BoxedStrategy<f64> {
    prop_oneof![2 => Just(1.0), 1 => (0u32..1000).prop_map(f64::from)].boxed()
}

/// Any finite, non-negative weight: printing rounds these to two decimals.
fn any_weight() -> BoxedStrategy<f64> {
    use proptest::num::f64::{NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        Just(1.0),
        // Thousandths hit the half-up rounding cases (2.675, 0.005) and 1.001.
        (0u32..100_000).prop_map(|n| f64::from(n) / 1000.0),
        0.0..10.0f64,
        POSITIVE | NORMAL | SUBNORMAL | ZERO,
    ]
    .boxed()
}

/// A name tree. With `min_children` 2 it has the shapes the parser builds; with 0 it
/// also holds the zero- and one-child `Alt`s and `Union`s the algebra allows.
fn tree_of(
    leaf: BoxedStrategy<Path>,
    weight: BoxedStrategy<f64>,
    min_children: usize,
) -> BoxedStrategy<NameTree<Path>> {
    let leaf = prop_oneof![
        4 => leaf.prop_map(NameTree::Leaf),
        1 => Just(NameTree::Neg),
        1 => Just(NameTree::Fail),
        1 => Just(NameTree::Empty),
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            vec(inner.clone(), min_children..4).prop_map(NameTree::Alt),
            vec((weight.clone(), inner), min_children..4).prop_map(|ws| {
                NameTree::Union(ws.into_iter().map(|(w, t)| Weighted::new(w, t)).collect())
            }),
        ]
    })
    .boxed()
}

/// Trees the parser can build, with integer weights, so `read(show(t)) == t`.
fn parsed_tree() -> BoxedStrategy<NameTree<Path>> {
    tree_of(path().boxed(), integer_weight(), 2)
}

/// Any tree with any non-negative weights.
fn any_tree() -> BoxedStrategy<NameTree<Path>> {
    tree_of(path().boxed(), any_weight(), 0)
}

fn dentry() -> impl Strategy<Value = Dentry> {
    (prefix(), parsed_tree()).prop_map(|(p, t)| Dentry::new(p, t))
}

fn dtab() -> impl Strategy<Value = Dtab> {
    vec(dentry(), 0..5).prop_map(Dtab::new)
}

/// Elements of the small alphabet lookups use, so that prefixes often match.
const SMALL: &[&str] = &["a", "b", "c"];

fn small_elem() -> BoxedStrategy<Vec<u8>> {
    select(SMALL).prop_map(|s| s.as_bytes().to_vec()).boxed()
}

fn small_path(max: usize) -> impl Strategy<Value = Path> {
    vec(small_elem(), 0..max).prop_map(Path::from_elems)
}

fn small_prefix() -> impl Strategy<Value = Prefix> {
    vec(prefix_elem(small_elem()), 0..3).prop_map(Prefix::new)
}

/// A dentry whose dst is one leaf, so that a lookup's result lists its matches
/// unambiguously (a match is never `Neg`, never an `Alt`).
fn leaf_dentry() -> impl Strategy<Value = Dentry> {
    (small_prefix(), small_path(3)).prop_map(|(p, d)| Dentry::new(p, NameTree::Leaf(d)))
}

fn leaf_dtab() -> impl Strategy<Value = Dtab> {
    vec(leaf_dentry(), 0..5).prop_map(Dtab::new)
}

// ---------------------------------------------------------------------------------------
// Models and helpers written independently of the engine
// ---------------------------------------------------------------------------------------

/// `Path.show` as the spec states it.
fn expected_show(elems: &[Vec<u8>]) -> String {
    if elems.is_empty() {
        return "/".into();
    }
    let mut out = String::new();
    for e in elems {
        out.push('/');
        if e.iter().all(|&b| is_showable(b)) {
            out.extend(e.iter().map(|&b| b as char));
        } else {
            e.iter().for_each(|b| out.push_str(&format!("\\x{b:02x}")));
        }
    }
    out
}

/// Whether `prefix` matches `path`: each `*` stands for exactly one element.
fn model_matches(prefix: &Prefix, path: &Path) -> bool {
    prefix.len() <= path.len()
        && prefix.elems().iter().enumerate().all(|(i, p)| match p {
            PrefixElem::Any => true,
            PrefixElem::Label(l) => **l == *path.elems()[i],
        })
}

/// The alternatives of a lookup over [`leaf_dtab`]s, first to last.
fn alternatives(t: NameTree<Path>) -> Vec<NameTree<Path>> {
    match t {
        NameTree::Neg => vec![],
        NameTree::Alt(ts) => ts,
        t => vec![t],
    }
}

fn eval_set(t: &NameTree<Path>) -> Option<BTreeSet<Path>> {
    t.eval().map(|v| v.into_iter().cloned().collect())
}

/// The printed form with every `1.00*` weight removed: a weight that is not 1.0 but
/// prints as `1.00` reads back as 1.0, which prints with no weight.
fn drop_unit_weights(s: &str) -> String {
    const UNIT: &str = "1.00*";
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
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

/// Checks that printing a tree (or a dtab) is a fixpoint after one parse: the second
/// print equals the first one up to `1.00*` weights, and reading it gives the same value.
fn assert_print_fixpoint<T: PartialEq + std::fmt::Debug>(
    printed: &str,
    read: impl Fn(&str) -> Result<T, ParseError>,
    show: impl Fn(&T) -> String,
) -> Result<(), TestCaseError> {
    let once = read(printed).map_err(|e| TestCaseError::fail(format!("{printed:?}: {e}")))?;
    let again = show(&once);
    prop_assert_eq!(&again, &drop_unit_weights(printed));
    let twice = read(&again).map_err(|e| TestCaseError::fail(format!("{again:?}: {e}")))?;
    prop_assert_eq!(show(&twice), again);
    prop_assert_eq!(twice, once);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A printer that spells values with arbitrary legal whitespace, comments and spellings
// ---------------------------------------------------------------------------------------

/// Writes the grammar's productions with noise chosen by `choices`; a zero choice (and
/// every choice past the end) is the compact, canonical spelling, so shrinking a failure
/// removes noise.
struct Noisy<'a> {
    choices: &'a [u8],
    next: usize,
    out: String,
}

impl<'a> Noisy<'a> {
    fn new(choices: &'a [u8]) -> Self {
        Noisy {
            choices,
            next: 0,
            out: String::new(),
        }
    }

    fn choose(&mut self) -> u8 {
        let c = self.choices.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        c
    }

    /// `W`: whitespace and comments. A comment right after a label char (or a path's
    /// `/`) would become part of the label, so one never comes first there.
    fn ws(&mut self) {
        let pieces = self.choose() % 3;
        for i in 0..pieces {
            let c = self.choose();
            let glued =
                self.out.chars().last().is_some_and(|l| {
                    l == '/' || l == '*' || (l.is_ascii() && is_showable(l as u8))
                });
            if c % 4 == 3 && !(i == 0 && glued) {
                self.out.push('#');
                self.out.push_str(COMMENTS[c as usize % COMMENTS.len()]);
                self.out.push('\n');
            } else {
                self.out.push(WHITESPACE[c as usize % WHITESPACE.len()]);
            }
        }
    }

    fn label(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let c = self.choose();
            if is_showable(b) && c % 4 != 3 {
                self.out.push(b as char);
            } else if c & 1 == 0 {
                self.out.push_str(&format!("\\x{b:02x}"));
            } else {
                self.out.push_str(&format!("\\x{b:02X}"));
            }
        }
    }

    fn path(&mut self, p: &Path) {
        self.ws();
        self.out.push('/');
        for (i, e) in p.elems().iter().enumerate() {
            if i > 0 {
                self.out.push('/');
            }
            self.label(e);
        }
    }

    fn prefix(&mut self, p: &Prefix) {
        self.ws();
        self.out.push('/');
        for (i, e) in p.elems().iter().enumerate() {
            if i > 0 {
                self.out.push('/');
            }
            match e {
                PrefixElem::Any => self.out.push('*'),
                PrefixElem::Label(l) => self.label(l),
            }
        }
    }

    /// An integer weight in one of the spellings `Double.parseDouble` reads as it.
    fn number(&mut self, w: f64) {
        let n = w as u64;
        let text = match self.choose() % 5 {
            0 => format_weight(w),
            1 => format!("{n}"),
            2 => format!("{n}."),
            3 => format!("00{n}"),
            _ => format!("{n}.000"),
        };
        self.out.push_str(&text);
    }

    fn tree(&mut self, t: &NameTree<Path>) {
        let alts = match t {
            NameTree::Alt(ts) if ts.len() >= 2 => ts.as_slice(),
            t => std::slice::from_ref(t),
        };
        for (i, t) in alts.iter().enumerate() {
            if i > 0 {
                self.out.push('|');
            }
            self.tree1(t);
            self.ws();
        }
    }

    fn tree1(&mut self, t: &NameTree<Path>) {
        match t {
            NameTree::Union(ws) if ws.len() >= 2 => {
                for (i, w) in ws.iter().enumerate() {
                    if i > 0 {
                        self.out.push('&');
                    }
                    self.weighted(w.weight, &w.tree);
                    self.ws();
                }
            }
            // A weight on a lone member is legal and discarded.
            t => {
                let lone = f64::from(self.choose() % 4);
                self.weighted(if lone == 0.0 { 1.0 } else { lone }, t);
                self.ws();
            }
        }
    }

    fn weighted(&mut self, weight: f64, t: &NameTree<Path>) {
        self.ws();
        if weight != 1.0 || self.choose() % 4 == 3 {
            self.number(weight);
            self.ws();
            self.out.push('*');
            self.ws();
        }
        self.simple(t);
    }

    fn simple(&mut self, t: &NameTree<Path>) {
        self.ws();
        let multi = matches!(t, NameTree::Alt(ts) if ts.len() >= 2)
            || matches!(t, NameTree::Union(ws) if ws.len() >= 2);
        if multi || self.choose() % 5 == 4 {
            self.out.push('(');
            self.tree(t);
            self.ws();
            self.out.push(')');
            return;
        }
        match t {
            NameTree::Leaf(p) => self.path(p),
            NameTree::Neg => self.out.push('~'),
            NameTree::Fail => self.out.push('!'),
            NameTree::Empty => self.out.push('$'),
            NameTree::Alt(_) | NameTree::Union(_) => unreachable!("parser shapes only"),
        }
    }

    fn dentry(&mut self, d: &Dentry) {
        self.prefix(&d.prefix);
        self.ws();
        self.out.push_str("=>");
        self.tree(&d.dst);
    }

    fn dtab(&mut self, d: &Dtab) {
        self.ws();
        for (i, de) in d.dentries().iter().enumerate() {
            if i > 0 {
                self.out.push(';');
                self.ws();
            }
            self.dentry(de);
            self.ws();
        }
        if !d.is_empty() && self.choose() % 3 == 2 {
            self.out.push(';');
            self.ws();
        }
    }

    /// The production's text followed by the trailing `W` every entry point allows.
    fn finish(mut self) -> String {
        self.ws();
        self.out
    }
}

fn noise() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..96)
}

// ---------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn path_prints_bytes_escaped_per_element_and_reads_back(elems in vec(elem(), 0..5)) {
        let path = Path::from_elems(&elems);
        let shown = path.show();
        prop_assert_eq!(&shown, &expected_show(&elems));
        let back = Path::read(&shown).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back_elems: Vec<Vec<u8>> = back.elems().iter().map(|e| e.to_vec()).collect();
        prop_assert_eq!(back_elems, elems);
        prop_assert_eq!(back, path);
    }

    #[test]
    fn prefix_reads_back_with_wildcards_distinct_from_escaped_stars(p in prefix()) {
        let shown = p.to_string();
        let back = Prefix::read(&shown).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &p);
        // `*` is printed only for a wildcard; a label holding the byte `*` is escaped.
        let stars = p.elems().iter().filter(|e| **e == PrefixElem::Any).count();
        prop_assert_eq!(shown.split('/').filter(|s| *s == "*").count(), stars);
    }

    #[test]
    fn dentry_reads_back(d in dentry()) {
        let shown = d.show();
        let back = Dentry::read(&shown).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, d);
    }
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn name_tree_with_integer_weights_reads_back(t in parsed_tree()) {
        let shown = t.to_string();
        let back = NameTree::read(&shown).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, t);
    }

    #[test]
    fn name_tree_printing_is_a_fixpoint_for_any_weights(t in any_tree()) {
        assert_print_fixpoint(&t.to_string(), NameTree::read, |t| t.to_string())?;
    }

    #[test]
    fn dtab_with_integer_weights_reads_back(d in dtab()) {
        let shown = d.show();
        let back = Dtab::read(&shown).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, d);
    }
}

// ---------------------------------------------------------------------------------------
// Canonical printing: every legal spelling reads as the compact one
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn any_spelling_of_a_path_reads_as_its_printed_form(p in path(), n in noise()) {
        let mut w = Noisy::new(&n);
        w.path(&p);
        let text = w.finish();
        let read = Path::read(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(read, p);
    }

    #[test]
    fn any_spelling_of_a_prefix_reads_as_its_printed_form(p in prefix(), n in noise()) {
        let mut w = Noisy::new(&n);
        w.prefix(&p);
        let text = w.finish();
        let read = Prefix::read(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(read, p);
    }

    #[test]
    fn any_spelling_of_a_name_tree_reads_as_its_printed_form(t in parsed_tree(), n in noise()) {
        let mut w = Noisy::new(&n);
        w.tree(&t);
        let text = w.finish();
        let read = NameTree::read(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(read.to_string(), t.to_string());
        prop_assert_eq!(read, t);
    }

    #[test]
    fn any_spelling_of_a_dentry_reads_as_its_printed_form(d in dentry(), n in noise()) {
        let mut w = Noisy::new(&n);
        w.dentry(&d);
        let text = w.finish();
        let read = Dentry::read(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(read, d);
    }

    #[test]
    fn any_spelling_of_a_dtab_reads_as_its_printed_form(d in dtab(), n in noise()) {
        let mut w = Noisy::new(&n);
        w.dtab(&d);
        let text = w.finish();
        let read = Dtab::read(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(read.show(), d.show());
        prop_assert_eq!(read, d);
    }
}

// ---------------------------------------------------------------------------------------
// Dtab::lookup
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn later_dentries_come_first_among_matches(d in leaf_dtab(), path in small_path(5)) {
        let expected: Vec<NameTree<Path>> = d
            .dentries()
            .iter()
            .rev()
            .filter(|de| model_matches(&de.prefix, &path))
            .map(|de| de.dst.map_ref(&mut |p: &Path| p.concat(&path.drop(de.prefix.len()))))
            .collect();
        let got = d.lookup(&path);
        match expected.len() {
            0 => prop_assert_eq!(&got, &NameTree::Neg),
            // One match is returned as it is, not wrapped in an Alt.
            1 => prop_assert_eq!(&got, &expected[0]),
            _ => prop_assert_eq!(&got, &NameTree::Alt(expected.clone())),
        }
    }

    #[test]
    fn residual_is_appended_to_every_leaf(
        prefix in small_prefix(),
        fill in vec(small_elem(), 3),
        suffix in small_path(4),
        dst in tree_of(small_path(3).boxed(), any_weight(), 0),
    ) {
        // A path the prefix matches: its labels, any element for each `*`, then the suffix.
        let head: Vec<Vec<u8>> = prefix
            .elems()
            .iter()
            .zip(&fill)
            .map(|(p, f)| match p {
                PrefixElem::Any => f.clone(),
                PrefixElem::Label(l) => l.to_vec(),
            })
            .collect();
        let path = Path::from_elems(&head).concat(&suffix);
        let got = Dtab::new(vec![Dentry::new(prefix, dst.clone())]).lookup(&path);
        // Same shape and weights; Neg, Fail and Empty untouched; every leaf extended.
        prop_assert_eq!(got.map_ref(&mut |_| ()), dst.map_ref(&mut |_| ()));
        let want: Vec<Path> = dst.leaves().into_iter().map(|p| p.concat(&suffix)).collect();
        let got: Vec<Path> = got.leaves().into_iter().cloned().collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn a_path_no_prefix_matches_looks_up_to_neg(
        d in dtab(),
        path in small_path(4),
    ) {
        // `dtab()`'s labels are rarely a single small letter; keep the cases where no
        // prefix matches and check that the answer is exactly Neg.
        prop_assume!(d.dentries().iter().all(|de| !model_matches(&de.prefix, &path)));
        prop_assert_eq!(d.lookup(&path), NameTree::Neg);
    }

    #[test]
    fn prefixes_not_matching_a_path_give_neg(d in leaf_dtab(), path in small_path(5)) {
        let any_match = d.dentries().iter().any(|de| model_matches(&de.prefix, &path));
        prop_assert_eq!(d.lookup(&path) == NameTree::Neg, !any_match);
    }

    #[test]
    fn wildcard_matches_exactly_one_element(
        prefix in small_prefix(),
        fill in vec(small_elem(), 3),
        suffix in small_path(3),
        probe in small_path(5),
    ) {
        prop_assert_eq!(prefix.matches(&probe), model_matches(&prefix, &probe));
        let head: Vec<Vec<u8>> = prefix
            .elems()
            .iter()
            .zip(&fill)
            .map(|(p, f)| match p {
                PrefixElem::Any => f.clone(),
                PrefixElem::Label(l) => l.to_vec(),
            })
            .collect();
        let dst = Path::read("/d").expect("a path");
        let dtab = Dtab::new(vec![Dentry::new(prefix.clone(), NameTree::Leaf(dst.clone()))]);
        // Each element of the prefix, `*` included, consumes exactly one path element...
        let path = Path::from_elems(&head).concat(&suffix);
        prop_assert_eq!(dtab.lookup(&path), NameTree::Leaf(dst.concat(&suffix)));
        // ...so a path one element short of the prefix does not match.
        if !prefix.is_empty() {
            let short = Path::from_elems(&head[..head.len() - 1]);
            prop_assert_eq!(dtab.lookup(&short), NameTree::Neg);
        }
    }

    #[test]
    fn concat_is_associative_and_the_later_dtab_matches_first(
        a in leaf_dtab(),
        b in leaf_dtab(),
        c in leaf_dtab(),
        path in small_path(4),
    ) {
        prop_assert_eq!(a.concat(&b).concat(&c), a.concat(&b.concat(&c)));
        prop_assert_eq!(a.concat(&Dtab::empty()), a.clone());
        prop_assert_eq!(Dtab::empty().concat(&a), a.clone());
        prop_assert_eq!(a.concat(&b).len(), a.len() + b.len());
        let mut want = alternatives(b.lookup(&path));
        want.extend(alternatives(a.lookup(&path)));
        prop_assert_eq!(alternatives(a.concat(&b).lookup(&path)), want);
    }
}

// ---------------------------------------------------------------------------------------
// simplify and eval
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn simplify_is_idempotent(t in any_tree()) {
        let once = t.simplify();
        prop_assert_eq!(once.clone().simplify(), once);
    }

    #[test]
    fn simplify_preserves_eval(t in parsed_tree()) {
        let simplified = t.clone().simplify();
        prop_assert_eq!(eval_set(&simplified), eval_set(&t));
    }

    #[test]
    fn simplified_trees_hold_no_neg_and_no_trivial_groups(t in any_tree()) {
        fn check(t: &NameTree<Path>, top: bool) -> bool {
            match t {
                NameTree::Neg => top,
                NameTree::Alt(ts) => {
                    ts.len() >= 2
                        && ts.iter().all(|t| check(t, false))
                        // A Fail ends an Alt: nothing follows it.
                        && ts[..ts.len() - 1].iter().all(|t| *t != NameTree::Fail)
                }
                NameTree::Union(ws) => {
                    ws.len() >= 2
                        && ws
                            .iter()
                            .all(|w| w.tree != NameTree::Fail && check(&w.tree, false))
                }
                _ => true,
            }
        }
        prop_assert!(check(&t.simplify(), true));
    }
}

/// Spec §4.1 (Finagle's `NameTree.simplified`): `simplify(Union(w:t)) = simplify(t)`, so a
/// one-member Union whose member is `!` simplifies to `!`, not `~`. The parser never builds
/// a one-member Union, so only trees built in code reach this.
///
/// Such a tree is where Finagle's `simplify` changes `eval`: `eval` reads the Union's `!`
/// as "no member resolved" (Neg) and falls through to `/a`, while the simplified tree is
/// `!`. Parsed trees keep `eval(simplify(t)) == eval(t)`, which `simplify_preserves_eval`
/// checks.
#[test]
fn one_member_union_simplifies_to_its_member_even_when_it_fails() {
    let lone_fail = || NameTree::<Path>::Union(vec![Weighted::new(2.0, NameTree::Fail)]);
    assert_eq!(lone_fail().simplify(), NameTree::Fail);
    let a = Path::read("/a").unwrap();
    let t = NameTree::Alt(vec![lone_fail(), NameTree::Leaf(a.clone())]);
    assert_eq!(eval_set(&t), Some(BTreeSet::from([a])));
    assert_eq!(t.clone().simplify(), NameTree::Fail);
    assert_eq!(eval_set(&t.simplify()), None);
}

/// A weight that is not 1.0 but rounds to `1.00` prints, reads back as 1.0, and then
/// prints with no weight: Finagle's `show` loses precision the same way.
#[test]
fn a_weight_printing_as_one_reads_back_as_the_default() {
    let t = NameTree::read("1.001 * /a & /b").unwrap();
    assert_eq!(t.to_string(), "1.00*/a & /b");
    assert_eq!(
        NameTree::read(&t.to_string()).unwrap().to_string(),
        "/a & /b"
    );
    assert_eq!(
        drop_unit_weights("1.00*/a & 11.00*/b | (1.00*/c & /d)"),
        "/a & 11.00*/b | (/c & /d)"
    );
    assert_eq!(
        drop_unit_weights("/x=>1.00*/a & /b;/y=>/1.00"),
        "/x=>/a & /b;/y=>/1.00"
    );
}

// ---------------------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------------------

/// Characters the fuzzer draws from, weighted towards dtab syntax.
const FUZZ_CHARS: &[char] = &[
    '/', '/', '/', '/', '*', '=', '>', '=', '>', ';', '|', '&', '(', ')', '!', '~', '$', '#', '.',
    '\\', 'x', 'x', '0', '1', '2', '5', '9', 'a', 'b', 'c', 'f', 'g', 'z', 'A', 'F', ' ', ' ',
    '\t', '\n', 'é', '\u{a0}', '\u{2028}', '\u{85}', '\u{663}', '😀', '-', ':', '%', ',',
];

const EXPECTED_WORDS: &[&str] = &[
    "'/'",
    "'='",
    "'>'",
    "')'",
    "'*'",
    "'x'",
    "end of input",
    "label char",
    "hex char",
    "simple",
    "number char",
    "weight",
];

/// Random strings over [`FUZZ_CHARS`], and valid dtabs with a few characters inserted
/// or deleted (which reach deeper into the grammar).
fn fuzz_input() -> impl Strategy<Value = String> {
    let random = vec(select(FUZZ_CHARS), 0..40).prop_map(String::from_iter);
    let mutated = (
        dtab(),
        noise(),
        vec((any::<usize>(), select(FUZZ_CHARS), any::<bool>()), 1..4),
    )
        .prop_map(|(d, n, edits)| {
            let mut w = Noisy::new(&n);
            w.dtab(&d);
            let mut chars: Vec<char> = w.finish().chars().collect();
            for (at, c, insert) in edits {
                let at = at % (chars.len() + 1);
                if insert {
                    chars.insert(at, c);
                } else if at < chars.len() {
                    chars.remove(at);
                }
            }
            chars.into_iter().collect()
        });
    prop_oneof![random, mutated]
}

/// An error must point into the input: its position is a char offset no greater than
/// the input's length, and a message of the form `X expected but Y found at 'S'` shows
/// the input with the character at that position in brackets.
fn check_error(input: &str, e: &ParseError) -> Result<(), TestCaseError> {
    let chars: Vec<char> = input.chars().collect();
    let pos = e.position();
    prop_assert!(pos <= chars.len(), "position {} past {:?}", pos, input);
    let msg = e.message();
    let Some((head, shown)) = msg.split_once(" found at '") else {
        // Double.parseDouble's message for a weight of non-ASCII digits.
        prop_assert!(msg.starts_with("For input string: \""), "{}", msg);
        return Ok(());
    };
    let want_shown = if pos == chars.len() {
        format!("{input}[]'")
    } else {
        let pre: String = chars[..pos].iter().collect();
        let post: String = chars[pos + 1..].iter().collect();
        format!("{pre}[{}]{post}'", chars[pos])
    };
    prop_assert_eq!(shown, want_shown.as_str());
    let (expected, found) = head
        .split_once(" expected but ")
        .ok_or_else(|| TestCaseError::fail(format!("odd message {msg:?}")))?;
    let nesting = format!("at most {MAX_NESTING} nested parentheses");
    prop_assert!(
        EXPECTED_WORDS.contains(&expected) || expected == nesting,
        "{}",
        msg
    );
    let want_found = match (expected, chars.get(pos)) {
        ("weight", _) => "'.'".to_string(),
        (_, None) => "end of input".to_string(),
        (_, Some(c)) => format!("'{c}'"),
    };
    prop_assert_eq!(found, want_found.as_str());
    Ok(())
}

fn check_read<T: PartialEq + std::fmt::Debug>(
    input: &str,
    read: impl Fn(&str) -> Result<T, ParseError>,
    show: impl Fn(&T) -> String,
) -> Result<(), TestCaseError> {
    match read(input) {
        Err(e) => check_error(input, &e),
        Ok(v) => assert_print_fixpoint(&show(&v), read, show),
    }
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn malformed_input_gives_positioned_errors_never_panics(input in fuzz_input()) {
        check_read(&input, Path::read, Path::show)?;
        check_read(&input, Prefix::read, Prefix::to_string)?;
        check_read(&input, Dentry::read, Dentry::show)?;
        check_read(&input, NameTree::read, NameTree::to_string)?;
        check_read(&input, Dtab::read, Dtab::show)?;
    }
}

/// The parser recurses once per `(` (four frames: simple, tree, tree1, weighted). Before
/// it bounded nesting at [`MAX_NESTING`], a 2 MiB stack (tokio's worker threads) held
/// about 900 levels in a debug build and 5,000 in a release build (under 12 KB of text,
/// which an `l5d-dtab` header can carry), and deeper input aborted the whole process.
/// Now such input is a `ParseError`; printing, `simplify` and dropping a tree recurse the
/// same way, so the bound at parse time protects them too.
///
/// The parse runs in a child process so that an abort fails this test cleanly.
#[test]
fn deeply_nested_input_gives_an_answer_not_a_stack_overflow() {
    const CHILD: &str = "NAMING_PROPS_NESTED_CHILD";
    const DEPTH: usize = 10_000;
    if std::env::var_os(CHILD).is_some() {
        let text = format!("/a=>{}/b{}", "(".repeat(DEPTH), ")".repeat(DEPTH));
        let len = text.chars().count();
        let result = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || Dtab::read(&text).map(|d| d.len()))
            .expect("spawn a parser thread")
            .join()
            .expect("the parser does not panic");
        match result {
            Ok(n) => assert_eq!(n, 1),
            Err(e) => assert!(e.position() <= len, "{e}"),
        }
        // The bound itself: MAX_NESTING levels read, one more is refused at that `(`.
        let nested = |n: usize| format!("/a=>{}/b{}", "(".repeat(n), ")".repeat(n));
        assert!(Dtab::read(&nested(MAX_NESTING)).is_ok());
        let e = Dtab::read(&nested(MAX_NESTING + 1)).unwrap_err();
        assert_eq!(e.position(), 4 + MAX_NESTING);
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "deeply_nested_input_gives_an_answer_not_a_stack_overflow",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .expect("run the test binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "parsing a dtab nested {DEPTH} deep killed the process ({}): {}",
        out.status,
        stderr.lines().rev().take(3).collect::<Vec<_>>().join(" / ")
    );
}
