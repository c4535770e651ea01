//! `Dtab`: an ordered list of dentries, and the one-step lookup that rewrites a path.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::dentry::Dentry;
use super::parse::{ParseError, Parser};
use super::path::Path;
use super::tree::NameTree;

/// A delegation table: dentries in order; for a lookup, later entries take precedence.
///
/// Cloning is a reference-count increment. Dtabs combine structurally
/// ([`Dtab::concat`]), never by gluing their texts, since a text may end in a comment.
#[derive(Clone, PartialEq, Default)]
pub struct Dtab(Arc<[Dentry]>);

impl Dtab {
    /// The empty dtab.
    pub fn empty() -> Dtab {
        static EMPTY: OnceLock<Dtab> = OnceLock::new();
        EMPTY.get_or_init(|| Dtab(Arc::from(Vec::new()))).clone()
    }

    /// Builds a dtab from its dentries.
    pub fn new(dentries: Vec<Dentry>) -> Dtab {
        Dtab(dentries.into())
    }

    /// Parses Finagle's dtab syntax (`Dtab.read`): dentries separated by `;`.
    pub fn read(s: &str) -> Result<Dtab, ParseError> {
        Parser::new(s).all(Parser::dtab)
    }

    /// The dentries, first to last.
    pub fn dentries(&self) -> &[Dentry] {
        &self.0
    }

    /// The number of dentries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no dentries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// This dtab followed by `other`, whose entries then take precedence (Finagle's `++`).
    pub fn concat(&self, other: &Dtab) -> Dtab {
        if other.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return other.clone();
        }
        Dtab(self.0.iter().chain(other.0.iter()).cloned().collect())
    }

    /// This dtab with `dentry` appended (Finagle's `+`).
    pub fn push(&self, dentry: Dentry) -> Dtab {
        Dtab(
            self.0
                .iter()
                .cloned()
                .chain(std::iter::once(dentry))
                .collect(),
        )
    }

    /// One rewriting step (Finagle's `Dtab.lookup`).
    ///
    /// Every dentry whose prefix matches contributes its dst with the unmatched rest of
    /// `path` appended to each leaf, last dentry first. No match gives `Neg`; one match
    /// gives that tree as it is; several give an `Alt` of them, unsimplified, so that a
    /// later alternative is tried only when an earlier one binds to `Neg`.
    pub fn lookup(&self, path: &Path) -> NameTree<Path> {
        let mut matches = self
            .0
            .iter()
            .rev()
            .filter(|d| d.prefix.matches(path))
            .map(|d| {
                let suffix = path.drop(d.prefix.len());
                d.dst.map_ref(&mut |p: &Path| p.concat(&suffix))
            });
        let Some(first) = matches.next() else {
            return NameTree::Neg;
        };
        match matches.next() {
            None => first,
            Some(second) => {
                let mut all = vec![first, second];
                all.extend(matches);
                NameTree::Alt(all)
            }
        }
    }

    /// Finagle's `Dtab.simplified`: each dst simplified, entries whose dst is `~` dropped.
    pub fn simplified(&self) -> Dtab {
        self.0
            .iter()
            .map(|d| Dentry::new(d.prefix.clone(), (*d.dst).clone().simplify()))
            .filter(|d| !matches!(*d.dst, NameTree::Neg))
            .collect::<Vec<_>>()
            .into()
    }

    /// Finagle's `Dtab.show`: the dentries joined by `;`, no spaces, no trailing `;`.
    pub fn show(&self) -> String {
        self.to_string()
    }
}

impl From<Vec<Dentry>> for Dtab {
    fn from(v: Vec<Dentry>) -> Dtab {
        Dtab::new(v)
    }
}

impl fmt::Display for Dtab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Dtab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dtab({self})")
    }
}

impl std::str::FromStr for Dtab {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Dtab, ParseError> {
        Dtab::read(s)
    }
}

impl serde::Serialize for Dtab {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Dtab {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Dtab, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Dtab::read(&s).map_err(|e| serde::de::Error::custom(format!("invalid dtab: {e}")))
    }
}

#[cfg(test)]
mod tests;
