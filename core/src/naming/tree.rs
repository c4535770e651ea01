//! `NameTree`: the algebra of alternatives and weighted unions that dtabs rewrite names into.

use super::parse::{ParseError, Parser};
use super::path::Path;

/// A tree of names, Finagle's `NameTree[T]`.
///
/// `Alt` is fail-over (the first child that is not `Neg` wins), `Union` is a weighted
/// split for load balancing, `Neg` means "no such name here, try the next alternative",
/// `Fail` stops binding with no fallback, and `Empty` is a name that exists with no
/// endpoints (a success). Zero-child `Alt`/`Union` mean `Neg` and one-child ones mean
/// their child; the parser never builds either.
#[derive(Clone, PartialEq, Debug)]
pub enum NameTree<T> {
    /// A name.
    Leaf(T),
    /// Fail-over: `a | b`.
    Alt(Vec<NameTree<T>>),
    /// Weighted union: `0.9 * a & 0.1 * b`.
    Union(Vec<Weighted<T>>),
    /// `~`: no binding here.
    Neg,
    /// `!`: binding failed; do not fall back.
    Fail,
    /// `$`: a binding with no endpoints.
    Empty,
}

/// A member of a [`NameTree::Union`] and its weight (1.0 unless written).
#[derive(Clone, PartialEq, Debug)]
pub struct Weighted<T> {
    /// The member's share relative to the others'.
    pub weight: f64,
    /// The member.
    pub tree: NameTree<T>,
}

impl<T> Weighted<T> {
    /// The weight a member has when none is written.
    pub const DEFAULT_WEIGHT: f64 = 1.0;

    /// Builds a weighted member.
    pub fn new(weight: f64, tree: NameTree<T>) -> Weighted<T> {
        Weighted { weight, tree }
    }
}

impl NameTree<Path> {
    /// Parses Finagle's name tree syntax (`NameTree.read`), `&` binding tighter than `|`.
    pub fn read(s: &str) -> Result<NameTree<Path>, ParseError> {
        Parser::new(s).all(Parser::tree)
    }
}

impl<T> NameTree<T> {
    /// Maps every leaf by value.
    pub fn map<U>(self, f: &mut impl FnMut(T) -> U) -> NameTree<U> {
        match self {
            NameTree::Leaf(v) => NameTree::Leaf(f(v)),
            NameTree::Alt(ts) => NameTree::Alt(ts.into_iter().map(|t| t.map(f)).collect()),
            NameTree::Union(ws) => NameTree::Union(
                ws.into_iter()
                    .map(|w| Weighted::new(w.weight, w.tree.map(f)))
                    .collect(),
            ),
            NameTree::Neg => NameTree::Neg,
            NameTree::Fail => NameTree::Fail,
            NameTree::Empty => NameTree::Empty,
        }
    }

    /// Maps every leaf by reference.
    pub fn map_ref<U>(&self, f: &mut impl FnMut(&T) -> U) -> NameTree<U> {
        match self {
            NameTree::Leaf(v) => NameTree::Leaf(f(v)),
            NameTree::Alt(ts) => NameTree::Alt(ts.iter().map(|t| t.map_ref(f)).collect()),
            NameTree::Union(ws) => NameTree::Union(
                ws.iter()
                    .map(|w| Weighted::new(w.weight, w.tree.map_ref(f)))
                    .collect(),
            ),
            NameTree::Neg => NameTree::Neg,
            NameTree::Fail => NameTree::Fail,
            NameTree::Empty => NameTree::Empty,
        }
    }

    /// Every leaf value, depth first, left to right.
    pub fn leaves(&self) -> Vec<&T> {
        fn walk<'a, T>(t: &'a NameTree<T>, out: &mut Vec<&'a T>) {
            match t {
                NameTree::Leaf(v) => out.push(v),
                NameTree::Alt(ts) => ts.iter().for_each(|t| walk(t, out)),
                NameTree::Union(ws) => ws.iter().for_each(|w| walk(&w.tree, out)),
                NameTree::Neg | NameTree::Fail | NameTree::Empty => {}
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// Finagle's `NameTree.simplified`.
    ///
    /// In an `Alt`, `Neg` children are dropped and a `Fail` truncates the rest. In a
    /// `Union`, `Neg` and `Fail` members are both dropped (so an all-`Fail` union is
    /// `Neg`), `Empty` is kept, and a lone survivor loses its weight. Nothing is
    /// flattened, merged or de-duplicated.
    pub fn simplify(self) -> NameTree<T> {
        match self {
            NameTree::Alt(ts) => {
                let mut acc = Vec::with_capacity(ts.len());
                for t in ts {
                    match t.simplify() {
                        NameTree::Fail => {
                            acc.push(NameTree::Fail);
                            break;
                        }
                        NameTree::Neg => {}
                        s => acc.push(s),
                    }
                }
                match acc.len() {
                    0 => NameTree::Neg,
                    1 => acc.pop().expect("one element"),
                    _ => NameTree::Alt(acc),
                }
            }
            // A lone member is its own simplification, weight dropped, even `!` or `~`.
            NameTree::Union(mut ws) if ws.len() == 1 => {
                ws.pop().expect("one member").tree.simplify()
            }
            NameTree::Union(ws) => {
                let mut acc: Vec<Weighted<T>> = ws
                    .into_iter()
                    .map(|w| Weighted::new(w.weight, w.tree.simplify()))
                    .filter(|w| !matches!(w.tree, NameTree::Neg | NameTree::Fail))
                    .collect();
                match acc.len() {
                    0 => NameTree::Neg,
                    1 => acc.pop().expect("one element").tree,
                    _ => NameTree::Union(acc),
                }
            }
            t => t,
        }
    }

    /// Finagle's `NameTree.eval`: the set of leaves a tree resolves to, or `None` when it
    /// is `Neg` or `Fail`.
    ///
    /// An `Alt` takes its first child that is not `Neg` (`None` if that child is `Fail`);
    /// a `Union` is the union of its members that resolve, weights ignored. Values are
    /// de-duplicated, keeping the first occurrence's position.
    pub fn eval(&self) -> Option<Vec<&T>>
    where
        T: PartialEq,
    {
        enum R<'a, T> {
            Fail,
            Neg,
            Set(Vec<&'a T>),
        }
        fn go<'a, T: PartialEq>(t: &'a NameTree<T>) -> R<'a, T> {
            match t {
                NameTree::Fail => R::Fail,
                NameTree::Neg => R::Neg,
                NameTree::Empty => R::Set(Vec::new()),
                NameTree::Leaf(v) => R::Set(vec![v]),
                NameTree::Alt(ts) => {
                    for t in ts {
                        match go(t) {
                            R::Neg => continue,
                            r => return r,
                        }
                    }
                    R::Neg
                }
                NameTree::Union(ws) => {
                    let mut set: Option<Vec<&'a T>> = None;
                    for w in ws {
                        if let R::Set(vs) = go(&w.tree) {
                            let acc = set.get_or_insert_with(Vec::new);
                            for v in vs {
                                if !acc.contains(&v) {
                                    acc.push(v);
                                }
                            }
                        }
                    }
                    set.map_or(R::Neg, R::Set)
                }
            }
        }
        match go(self) {
            R::Set(vs) => Some(vs),
            R::Fail | R::Neg => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NameTree<Path> {
        NameTree::read(s).unwrap()
    }

    fn eval_shown(s: &str) -> Option<Vec<String>> {
        let tree = t(s);
        let mut out: Vec<String> = tree.eval()?.into_iter().map(Path::show).collect();
        out.sort();
        Some(out)
    }

    #[test]
    fn eval_matches_finagle_table() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("~", None),
            ("/ok & ~ & /blah & $", Some(&["/blah", "/ok"])),
            ("$ & $ & $", Some(&[])),
            ("~ & ~ & (~ | ~)", None),
            ("~ | /foo | /bar", Some(&["/foo"])),
            ("~ | $ | /blah", Some(&[])),
            ("~ | (~ | $) | /blah", Some(&[])),
            (
                "(~|$|/foo) & (/bar|/blah) & ~ & /FOO",
                Some(&["/FOO", "/bar"]),
            ),
            ("! | /ok", None),
            ("/ok & !", Some(&["/ok"])),
            ("! & ! & !", None),
            ("~ | /ok | !", Some(&["/ok"])),
        ];
        for (src, want) in cases {
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(eval_shown(src), want, "eval {src}");
            // Simplification preserves the evaluation.
            let simplified = t(src).simplify();
            let mut got: Option<Vec<String>> = simplified
                .eval()
                .map(|v| v.into_iter().map(Path::show).collect());
            if let Some(g) = got.as_mut() {
                g.sort();
            }
            assert_eq!(got, eval_shown(src), "eval of simplified {src}");
        }
    }

    #[test]
    fn simplify_follows_finagle() {
        let cases = [
            ("/a & !", "/a"),
            ("! & !", "~"),
            ("! | /a", "!"),
            ("(! & !) | /a", "/a"),
            ("~ | /a | !", "/a | !"),
            ("2 * /a & 3 * ~", "/a"),
            ("/a & $", "/a & $"),
            ("/a | (/b | /c)", "/a | (/b | /c)"),
            ("~ | ~", "~"),
            ("/a & /a", "/a & /a"),
            ("(2 * ! & ~) | /a", "/a"),
        ];
        for (src, want) in cases {
            assert_eq!(t(src).simplify().to_string(), want, "simplify {src}");
        }
        assert_eq!(NameTree::<Path>::Alt(vec![]).simplify(), NameTree::Neg);
        assert_eq!(NameTree::<Path>::Union(vec![]).simplify(), NameTree::Neg);
        let lone = |t| NameTree::<Path>::Union(vec![Weighted::new(2.0, t)]);
        assert_eq!(lone(NameTree::Fail).simplify(), NameTree::Fail);
        assert_eq!(lone(NameTree::Neg).simplify(), NameTree::Neg);
    }

    #[test]
    fn simplify_is_a_fixpoint() {
        for src in [
            "~ | (~ | $) | /blah",
            "(~|$|/foo) & (/bar|/blah) & ~ & /FOO",
            "/a & (! | /b)",
        ] {
            let once = t(src).simplify();
            assert_eq!(once.clone().simplify(), once, "{src}");
        }
    }
}
