//! Config errors and warnings: what is wrong, at which key path, in which plugin, on which
//! line.
//!
//! Messages follow one form, `routers[0].identifier (kind io.l5d.path): unknown field
//! 'segmnts', expected one of segments, consume at line 12, column 5`, whether the problem
//! was found by serde, by a `kind` lookup or by a check of our own, because a user fixing
//! a config needs the same three facts every time: where, in what, and what was expected.

use std::fmt;

use super::keypath::KeyPath;
use super::locate::Locator;

/// A 1-based line and column in the config text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Location {
    /// The line, counting from 1.
    pub line: usize,
    /// The column (in characters), counting from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A config that cannot be loaded or built.
#[derive(Clone, PartialEq, Debug)]
pub struct ConfigError(Box<Inner>);

#[derive(Clone, PartialEq, Debug)]
struct Inner {
    path: KeyPath,
    context: Option<String>,
    message: String,
    /// What to point at when it differs from `path` (the unknown key itself).
    focus: Option<KeyPath>,
    /// A character offset inside the scalar at the focus (a dtab's bad character).
    offset: Option<usize>,
    location: Option<Location>,
}

impl ConfigError {
    /// An error about the value at `path`.
    pub fn new(path: KeyPath, message: impl Into<String>) -> ConfigError {
        ConfigError(Box::new(Inner {
            path,
            context: None,
            message: message.into(),
            focus: None,
            offset: None,
            location: None,
        }))
    }

    /// The same error, naming the plugin it happened in (`kind io.l5d.fs`, `protocol http`)
    /// unless a more specific one is already named.
    pub fn in_context(mut self, context: Option<&str>) -> ConfigError {
        if self.0.context.is_none() {
            self.0.context = context.map(str::to_owned);
        }
        self
    }

    /// The same error, pointing at `path` (for instance the offending key) when located.
    pub fn focus(mut self, path: KeyPath) -> ConfigError {
        self.0.focus = Some(path);
        self
    }

    /// The same error, pointing at a character inside the scalar value when located.
    pub fn at_offset(mut self, offset: usize) -> ConfigError {
        self.0.offset = Some(offset);
        self
    }

    /// The same error at a known location.
    pub fn at(mut self, location: Option<Location>) -> ConfigError {
        self.0.location = location;
        self
    }

    /// Puts a line on the error, unless it already has one.
    pub(crate) fn located(mut self, locator: &Locator) -> ConfigError {
        if self.0.location.is_none() {
            let focus = self.0.focus.as_ref().unwrap_or(&self.0.path);
            self.0.location = match self.0.offset {
                Some(offset) => locator.locate_in_scalar(focus, offset),
                None => locator.locate(focus),
            };
        }
        self
    }

    /// The key path of the value in error (empty for the whole document).
    pub fn path(&self) -> &KeyPath {
        &self.0.path
    }

    /// The plugin the error happened in, e.g. `kind io.l5d.path`.
    pub fn context(&self) -> Option<&str> {
        self.0.context.as_deref()
    }

    /// What is wrong, without the path or location.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Where in the text, when known.
    pub fn location(&self) -> Option<Location> {
        self.0.location
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_diagnostic(
            f,
            &self.0.path,
            self.0.context.as_deref(),
            &self.0.message,
            self.0.location,
        )
    }
}

impl std::error::Error for ConfigError {}

/// Something accepted but worth telling the user: a deprecated key, for instance.
#[derive(Clone, PartialEq, Debug)]
pub struct ConfigWarning {
    path: KeyPath,
    message: String,
    location: Option<Location>,
}

impl ConfigWarning {
    /// A warning about the value at `path`.
    pub fn new(path: KeyPath, message: impl Into<String>) -> ConfigWarning {
        ConfigWarning {
            path,
            message: message.into(),
            location: None,
        }
    }

    pub(crate) fn located(mut self, locator: &Locator) -> ConfigWarning {
        self.location = self.location.or_else(|| locator.locate(&self.path));
        self
    }

    /// The key path the warning is about.
    pub fn path(&self) -> &KeyPath {
        &self.path
    }

    /// What is deprecated and what to write instead.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where in the text, when known.
    pub fn location(&self) -> Option<Location> {
        self.location
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_diagnostic(f, &self.path, None, &self.message, self.location)
    }
}

fn write_diagnostic(
    f: &mut fmt::Formatter<'_>,
    path: &KeyPath,
    context: Option<&str>,
    message: &str,
    location: Option<Location>,
) -> fmt::Result {
    match (path.is_root(), context) {
        (false, Some(c)) => write!(f, "{path} ({c}): ")?,
        (false, None) => write!(f, "{path}: ")?,
        (true, Some(c)) => write!(f, "({c}): ")?,
        (true, None) => {}
    }
    f.write_str(message)?;
    if let Some(loc) = location {
        write!(f, " at {loc}")?;
    }
    Ok(())
}

/// What a plugin's `build` reports; the core adds the key path, kind and line.
#[derive(Clone, PartialEq, Debug, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    message: String,
}

impl BuildError {
    /// A build failure with this message.
    pub fn new(message: impl Into<String>) -> BuildError {
        BuildError {
            message: message.into(),
        }
    }

    /// The answer of a plugin whose runtime this build does not have yet.
    pub fn not_implemented() -> BuildError {
        BuildError::new("not implemented in this build")
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The message for a key that is not allowed where it is.
pub(crate) fn unknown_key_message(key: &str, expected: &[&str]) -> String {
    if expected.is_empty() {
        format!("unknown field '{key}', no keys are allowed here")
    } else {
        format!(
            "unknown field '{key}', expected one of {}",
            expected.join(", ")
        )
    }
}

/// Separates a position from a message built by [`positioned`].
const OFFSET_MARK: char = '\u{1}';

/// A serde error message that also carries a character offset inside the value, so that
/// [`reword`] can point the error at the exact line of a multi-line dtab.
pub(crate) fn positioned(message: &str, offset: usize) -> String {
    format!("{message}{OFFSET_MARK}{offset}")
}

/// A serde message in our words, with the unknown key (to point at) and any offset.
pub(crate) struct Reworded {
    pub(crate) message: String,
    pub(crate) unknown_key: Option<String>,
    pub(crate) offset: Option<usize>,
}

/// Rewrites serde's messages (`` unknown field `x`, expected one of `a`, `b` ``) into the
/// config's form (`unknown field 'x', expected one of a, b`).
pub(crate) fn reword(message: &str) -> Reworded {
    let (message, offset) = match message.split_once(OFFSET_MARK) {
        Some((m, n)) => (m, n.parse().ok()),
        None => (message, None),
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((key, expected)) = rest.split_once('`') {
            let names = backticked(expected);
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            return Reworded {
                message: unknown_key_message(key, &names),
                unknown_key: Some(key.to_owned()),
                offset,
            };
        }
    }
    let mut out = match message.strip_prefix("missing field `") {
        Some(rest) => format!("missing required key '{}'", rest.trim_end_matches('`')),
        None => message.replace('`', "'"),
    };
    // Serde names the Rust type it wanted; the user wrote YAML.
    if let Some(i) = out.find("expected struct ") {
        out.truncate(i);
        out.push_str("expected a mapping");
    }
    Reworded {
        message: out,
        unknown_key: None,
        offset,
    }
}

/// The names between backticks, in order.
fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, name)| name.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewords_serde_unknown_field_lists() {
        let r = reword("unknown field `segmnts`, expected `segments` or `consume`");
        assert_eq!(
            r.message,
            "unknown field 'segmnts', expected one of segments, consume"
        );
        assert_eq!(r.unknown_key.as_deref(), Some("segmnts"));
        let r = reword("unknown field `x`, there are no fields");
        assert_eq!(r.message, "unknown field 'x', no keys are allowed here");
    }

    #[test]
    fn rewords_missing_fields_and_struct_names() {
        assert_eq!(
            reword("missing field `rootDir`").message,
            "missing required key 'rootDir'"
        );
        assert_eq!(
            reword("invalid type: string \"a\", expected struct FsConfig").message,
            "invalid type: string \"a\", expected a mapping"
        );
    }

    #[test]
    fn carries_an_offset_through_a_serde_message() {
        let r = reword(&positioned("invalid dtab: boom", 7));
        assert_eq!(r.message, "invalid dtab: boom");
        assert_eq!(r.offset, Some(7));
    }

    #[test]
    fn displays_path_context_message_and_line() {
        let e = ConfigError::new(KeyPath::root().key("routers").index(0), "bad")
            .in_context(Some("protocol http"))
            .at(Some(Location { line: 3, column: 5 }));
        assert_eq!(
            e.to_string(),
            "routers[0] (protocol http): bad at line 3, column 5"
        );
    }
}
