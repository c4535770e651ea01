//! `KeyPath`: where a value sits in a config document, e.g. `routers[0].identifier.segments`.

use std::fmt;

/// One step from a container to a child.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// The path from the document root to a value: mapping keys and sequence indexes.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct KeyPath(Vec<Seg>);

impl KeyPath {
    /// The document root.
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }

    /// This path extended by a mapping key.
    pub fn key(&self, key: impl Into<String>) -> KeyPath {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.into()));
        KeyPath(segs)
    }

    /// This path extended by a sequence index.
    pub fn index(&self, index: usize) -> KeyPath {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        KeyPath(segs)
    }

    /// This path followed by `rest`.
    pub fn join(&self, rest: &KeyPath) -> KeyPath {
        let mut segs = self.0.clone();
        segs.extend(rest.0.iter().cloned());
        KeyPath(segs)
    }

    /// The steps, root first.
    pub fn segments(&self) -> &[Seg] {
        &self.0
    }

    /// Whether this is the document root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path without its last step (the root stays the root).
    pub fn parent(&self) -> KeyPath {
        let mut segs = self.0.clone();
        segs.pop();
        KeyPath(segs)
    }

    pub(crate) fn push(&mut self, seg: Seg) {
        self.0.push(seg);
    }

    pub(crate) fn pop(&mut self) {
        self.0.pop();
    }
}

impl From<&serde_path_to_error::Path> for KeyPath {
    fn from(path: &serde_path_to_error::Path) -> KeyPath {
        use serde_path_to_error::Segment;
        let segs = path
            .iter()
            .filter_map(|seg| match seg {
                Segment::Seq { index } => Some(Seg::Index(*index)),
                Segment::Map { key } => Some(Seg::Key(key.clone())),
                Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
                Segment::Unknown => None,
            })
            .collect();
        KeyPath(segs)
    }
}

/// `routers[0].identifier`; the root prints as the empty string.
impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_keys_with_dots_and_indexes_in_brackets() {
        let p = KeyPath::root()
            .key("routers")
            .index(0)
            .key("servers")
            .index(2)
            .key("port");
        assert_eq!(p.to_string(), "routers[0].servers[2].port");
        assert_eq!(KeyPath::root().to_string(), "");
        assert_eq!(p.parent().to_string(), "routers[0].servers[2]");
    }
}
