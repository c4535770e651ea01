//! `Path`: a sequence of non-empty byte strings, Finagle's name for a service.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::chars::is_showable;
use super::parse::{ParseError, Parser};

/// One path element: a non-empty byte string, shared so paths clone cheaply.
pub type Elem = Arc<[u8]>;

/// A hierarchical name such as `/svc/users`: zero or more non-empty byte-string elements.
///
/// Elements are bytes, not text, so `\x2f` (`/`) may appear inside one. Cloning is a
/// reference-count increment; paths are immutable.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path(Arc<[Elem]>);

impl Path {
    /// The empty path, written `/`.
    pub fn empty() -> Path {
        static EMPTY: OnceLock<Path> = OnceLock::new();
        EMPTY.get_or_init(|| Path(Arc::from(Vec::new()))).clone()
    }

    /// Builds a path from its elements.
    ///
    /// # Panics
    /// If an element is empty: a path never holds one, and callers build elements from
    /// data they have already split on `/`. Use [`Path::try_from_elems`] for untrusted
    /// input.
    pub fn from_elems<I, E>(elems: I) -> Path
    where
        I: IntoIterator<Item = E>,
        E: AsRef<[u8]>,
    {
        Self::try_from_elems(elems).expect("path elements must be non-empty")
    }

    /// Builds a path from its elements, or `None` if one of them is empty.
    pub fn try_from_elems<I, E>(elems: I) -> Option<Path>
    where
        I: IntoIterator<Item = E>,
        E: AsRef<[u8]>,
    {
        let elems = elems
            .into_iter()
            .map(|e| {
                let e = e.as_ref();
                (!e.is_empty()).then(|| Elem::from(e))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Path(elems.into()))
    }

    /// Builds a path from shared elements without copying their bytes.
    pub(crate) fn from_shared(elems: Vec<Elem>) -> Path {
        debug_assert!(elems.iter().all(|e| !e.is_empty()));
        Path(elems.into())
    }

    /// Parses Finagle's path syntax (`Path.read`): `/a/b`, with `\xNN` escapes.
    pub fn read(s: &str) -> Result<Path, ParseError> {
        Parser::new(s).all(Parser::path)
    }

    /// The elements.
    pub fn elems(&self) -> &[Elem] {
        &self.0
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether this is the empty path `/`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `prefix`'s elements are the first elements of this path.
    pub fn starts_with(&self, prefix: &Path) -> bool {
        self.0.len() >= prefix.0.len() && self.0.iter().zip(prefix.0.iter()).all(|(a, b)| a == b)
    }

    /// The first `n` elements (all of them if there are fewer).
    pub fn take(&self, n: usize) -> Path {
        if n >= self.len() {
            return self.clone();
        }
        Path(self.0[..n].into())
    }

    /// All but the first `n` elements.
    pub fn drop(&self, n: usize) -> Path {
        match n {
            0 => self.clone(),
            n if n >= self.len() => Path::empty(),
            n => Path(self.0[n..].into()),
        }
    }

    /// This path followed by `other` (Finagle's `++`).
    pub fn concat(&self, other: &Path) -> Path {
        if other.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return other.clone();
        }
        Path(self.0.iter().chain(other.0.iter()).cloned().collect())
    }

    /// The elements decoded as UTF-8, invalid sequences replaced (what Finagle's system
    /// namers match on).
    pub fn strs(&self) -> impl Iterator<Item = std::borrow::Cow<'_, str>> {
        self.0.iter().map(|e| String::from_utf8_lossy(e))
    }

    /// Finagle's canonical text: `/` then the elements joined by `/`; an element with any
    /// byte outside `[0-9A-Za-z_:.#$%-]` is written entirely as lower-case `\xNN` escapes.
    pub fn show(&self) -> String {
        self.to_string()
    }
}

/// Writes one element in Finagle's `Path.show` form.
pub(crate) fn write_elem(f: &mut impl fmt::Write, elem: &[u8]) -> fmt::Result {
    if elem.iter().all(|&b| is_showable(b)) {
        // Showable bytes are ASCII, so this is valid UTF-8.
        f.write_str(std::str::from_utf8(elem).map_err(|_| fmt::Error)?)
    } else {
        elem.iter().try_for_each(|b| write!(f, "\\x{b:02x}"))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for e in self.0.iter() {
            f.write_str("/")?;
            write_elem(f, e)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({self})")
    }
}

impl std::str::FromStr for Path {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Path, ParseError> {
        Path::read(s)
    }
}

impl serde::Serialize for Path {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Path {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Path, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Path::read(&s).map_err(|e| serde::de::Error::custom(format!("invalid path: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        Path::read(s).unwrap()
    }

    #[test]
    fn empty_path_is_slash() {
        assert_eq!(Path::empty().show(), "/");
        assert_eq!(p("/"), Path::empty());
        assert_eq!(p("  /  "), Path::empty());
    }

    #[test]
    fn elements_are_bytes_and_escapes_print_per_byte() {
        let path = p("/a\\x2fb/c");
        assert_eq!(path.len(), 2);
        assert_eq!(&*path.elems()[0], b"a/b");
        assert_eq!(path.show(), "/\\x61\\x2f\\x62/c");
        assert_eq!(Path::from_elems(["x y"]).show(), "/\\x78\\x20\\x79");
    }

    #[test]
    fn take_drop_concat_and_prefixes() {
        let path = p("/a/b/c");
        assert_eq!(path.take(2), p("/a/b"));
        assert_eq!(path.drop(1), p("/b/c"));
        assert_eq!(path.drop(5), Path::empty());
        assert_eq!(p("/a").concat(&p("/b/c")), path);
        assert!(path.starts_with(&p("/a/b")));
        assert!(path.starts_with(&Path::empty()));
        assert!(!p("/s#/foo").starts_with(&p("/s")));
    }

    #[test]
    fn ordering_is_elementwise() {
        let mut v = [p("/b"), p("/a/c"), p("/a"), p("/"), p("/a/b")];
        v.sort();
        let shown: Vec<_> = v.iter().map(Path::show).collect();
        assert_eq!(shown, ["/", "/a", "/a/b", "/a/c", "/b"]);
    }

    #[test]
    fn try_from_elems_refuses_empty_elements() {
        assert!(Path::try_from_elems(["a", ""]).is_none());
    }
}
