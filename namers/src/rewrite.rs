//! `io.l5d.rewrite`: a path that matches `pattern` (`/{service}/api`, `*` for any segment)
//! is rewritten to `name` with the pattern's captures filled in (`/srv/{service}`), the rest
//! of the path kept after it; binding goes on from the new path. Any other path is `Neg`.

use l5d_core::binding::{Name, Namer};
use l5d_core::config::PathPattern;
use l5d_core::naming::{NameTree, Path};
use l5d_core::var::{Activity, Error, State, Var};

/// The rewriting namer.
pub struct RewriteNamer {
    pattern: PathPattern,
    segments: usize,
    name: String,
}

impl RewriteNamer {
    /// A namer rewriting `pattern` to `name`.
    pub fn new(pattern: &str, name: &str) -> Result<RewriteNamer, String> {
        Ok(RewriteNamer {
            pattern: PathPattern::read(pattern)?,
            segments: pattern.split('/').filter(|s| !s.is_empty()).count(),
            name: name.to_string(),
        })
    }

    fn rewrite(&self, path: &Path) -> State<NameTree<Name>> {
        let Some(captures) = self.pattern.matches(path) else {
            return State::Ok(NameTree::Neg);
        };
        let mut text = self.name.clone();
        for (var, value) in &captures {
            text = text.replace(&format!("{{{var}}}"), value);
        }
        match Path::read(&text) {
            Ok(p) => State::Ok(NameTree::Leaf(Name::Path(
                p.concat(&path.drop(self.segments)),
            ))),
            Err(e) => State::Failed(Error::new(format!("io.l5d.rewrite: {text}: {e}"))),
        }
    }
}

impl Namer for RewriteNamer {
    fn lookup(&self, path: &Path) -> Activity<NameTree<Name>> {
        Var::constant(self.rewrite(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        Path::read(s).unwrap()
    }

    #[test]
    fn matching_paths_are_rewritten_with_their_rest() {
        let n = RewriteNamer::new("/{service}/api", "/srv/{service}").unwrap();
        let name = |s: &str| match n.rewrite(&p(s)) {
            State::Ok(NameTree::Leaf(Name::Path(p))) => Some(p.show()),
            State::Ok(NameTree::Neg) => None,
            other => panic!("{other:?}"),
        };
        assert_eq!(name("/users/api").as_deref(), Some("/srv/users"));
        assert_eq!(name("/users/api/v1/x").as_deref(), Some("/srv/users/v1/x"));
        assert_eq!(name("/users/web"), None);
        assert_eq!(name("/users"), None);
    }
}
