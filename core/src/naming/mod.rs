//! Finagle's naming model: paths, delegation tables and name trees.
//!
//! Everything here follows Finagle (`Path.scala`, `Dtab.scala`, `NameTree.scala`,
//! `NameTreeParsers.scala`) to the byte, because users' existing dtabs must rewrite names
//! exactly as Linkerd 1 did; `../shared/spec/dtab.md` records the semantics.

mod chars;
mod dentry;
mod dtab;
mod parse;
mod path;
mod show;
mod tree;

pub use chars::java_digit_value;
pub use dentry::{Dentry, Prefix, PrefixElem};
pub use dtab::Dtab;
pub use parse::{ParseError, MAX_NESTING};
pub use path::Path;
pub use show::format_weight;
pub use tree::{NameTree, Weighted};
