//! `Dentry`: one delegation rule, `prefix => name tree`.

use std::fmt;
use std::sync::Arc;

use super::parse::{ParseError, Parser};
use super::path::{write_elem, Elem, Path};
use super::tree::NameTree;

/// One element of a dentry prefix.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum PrefixElem {
    /// Matches exactly this element.
    Label(Elem),
    /// `*`: matches any one element.
    Any,
}

/// The left-hand side of a dentry: path elements, any of which may be the wildcard `*`.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Prefix(Arc<[PrefixElem]>);

impl Prefix {
    /// Builds a prefix from its elements.
    pub fn new(elems: Vec<PrefixElem>) -> Prefix {
        Prefix(elems.into())
    }

    /// Parses Finagle's prefix syntax (`Dentry.Prefix.read`): a path whose elements may be `*`.
    pub fn read(s: &str) -> Result<Prefix, ParseError> {
        Parser::new(s).all(Parser::prefix)
    }

    /// The elements.
    pub fn elems(&self) -> &[PrefixElem] {
        &self.0
    }

    /// The number of elements (each `*` counts as one).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether this is the empty prefix `/`, which matches every path.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `path` begins with elements this prefix matches, element by element.
    pub fn matches(&self, path: &Path) -> bool {
        self.len() <= path.len()
            && self.0.iter().zip(path.elems()).all(|(p, e)| match p {
                PrefixElem::Any => true,
                PrefixElem::Label(l) => l == e,
            })
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for e in self.0.iter() {
            f.write_str("/")?;
            match e {
                PrefixElem::Any => f.write_str("*")?,
                PrefixElem::Label(l) => write_elem(f, l)?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prefix({self})")
    }
}

impl From<&Path> for Prefix {
    fn from(p: &Path) -> Prefix {
        Prefix(p.elems().iter().cloned().map(PrefixElem::Label).collect())
    }
}

/// A delegation entry: paths starting with `prefix` are rewritten to `dst`, with the rest
/// of the path appended to every leaf.
#[derive(Clone, PartialEq, Debug)]
pub struct Dentry {
    /// What the entry matches.
    pub prefix: Prefix,
    /// What matching paths become; shared, so that concatenating dtabs per request copies
    /// no trees.
    pub dst: Arc<NameTree<Path>>,
}

impl Dentry {
    /// Builds a dentry.
    pub fn new(prefix: Prefix, dst: NameTree<Path>) -> Dentry {
        Dentry {
            prefix,
            dst: Arc::new(dst),
        }
    }

    /// Parses Finagle's dentry syntax (`Dentry.read`): `prefix => tree`.
    pub fn read(s: &str) -> Result<Dentry, ParseError> {
        Parser::new(s).all(Parser::dentry)
    }

    /// Finagle's `Dentry.nop`: prefix `/\x2f` (one element holding the byte `/`) and dst `~`.
    ///
    /// The delegation explanation labels its root with it; it never matches a parsed path
    /// with a real name in it.
    pub fn nop() -> Dentry {
        Dentry {
            prefix: Prefix(Arc::from(vec![PrefixElem::Label(Elem::from(&b"/"[..]))])),
            dst: Arc::new(NameTree::Neg),
        }
    }

    /// Whether this is [`Dentry::nop`].
    pub fn is_nop(&self) -> bool {
        matches!(*self.dst, NameTree::Neg)
            && matches!(&*self.prefix.0, [PrefixElem::Label(l)] if &**l == b"/")
    }

    /// Finagle's `Dentry.show`: `prefix=>dst` with no spaces.
    pub fn show(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Dentry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=>{}", self.prefix, self.dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_exactly_one_element() {
        let pfx = Prefix::read("/a/*/c").unwrap();
        assert!(pfx.matches(&Path::read("/a/b/c/e").unwrap()));
        assert!(!pfx.matches(&Path::read("/a/b").unwrap()));
        assert!(!pfx.matches(&Path::read("/a/b/d").unwrap()));
        assert!(Prefix::read("/").unwrap().matches(&Path::empty()));
    }

    #[test]
    fn escaped_star_is_a_literal_label() {
        let pfx = Prefix::read("/\\x2a").unwrap();
        assert_eq!(pfx.elems(), &[PrefixElem::Label(Elem::from(&b"*"[..]))]);
        assert!(!pfx.matches(&Path::read("/a").unwrap()));
        assert_eq!(pfx.to_string(), "/\\x2a");
    }

    #[test]
    fn nop_shows_as_finagle_does() {
        assert_eq!(Dentry::nop().show(), "/\\x2f=>~");
        assert!(Dentry::read("/\\x2f=>~").unwrap().is_nop());
        assert!(!Dentry::read("/a=>~").unwrap().is_nop());
    }
}
