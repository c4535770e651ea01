//! `PathPattern`: the `prefix` of a static client or service config, e.g.
//! `/#/io.l5d.fs/{service}` or `/$/inet/*/80`.
//!
//! Linkerd 1's `PathMatcher`: a pattern matches a path that begins with segments it
//! matches one by one; `*` matches any one segment, and `{name}` inside a segment captures
//! text for use in other keys (`tls.commonName: "{service}.example.com"`). Captures are
//! greedy, so `{a}-{b}` on `x-y-z` gives `a = x-y`, `b = z`.

use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::naming::Path;

/// One piece of a pattern segment.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Capture(String),
}

/// One segment of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Any,
    Pieces(Vec<Piece>),
}

/// A parsed static-config prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    segments: Vec<Segment>,
}

impl PathPattern {
    /// Parses a pattern: `/` then `/`-separated non-empty segments, each `*` or text with
    /// `{name}` captures.
    pub fn read(text: &str) -> Result<PathPattern, String> {
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| format!("a prefix must start with '/': '{text}'"))?;
        let mut segments = Vec::new();
        if !rest.is_empty() {
            for seg in rest.split('/') {
                segments.push(segment(seg, text)?);
            }
        }
        Ok(PathPattern {
            text: text.to_owned(),
            segments,
        })
    }

    /// The captures if `path` begins with segments this pattern matches.
    pub fn matches(&self, path: &Path) -> Option<Vec<(String, String)>> {
        if self.segments.len() > path.len() {
            return None;
        }
        let mut captures = Vec::new();
        for (seg, elem) in self.segments.iter().zip(path.strs()) {
            match seg {
                Segment::Any => {}
                Segment::Pieces(pieces) => captures.extend(match_pieces(pieces, &elem)?),
            }
        }
        Some(captures)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for PathPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PathPattern, D::Error> {
        let s = String::deserialize(d)?;
        PathPattern::read(&s).map_err(serde::de::Error::custom)
    }
}

fn segment(seg: &str, whole: &str) -> Result<Segment, String> {
    if seg.is_empty() {
        return Err(format!("empty segment in prefix '{whole}'"));
    }
    if seg == "*" {
        return Ok(Segment::Any);
    }
    let mut pieces = Vec::new();
    let mut rest = seg;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                pieces.push(Piece::Text(rest.to_owned()));
                rest = "";
            }
            Some(i) if rest[i..].starts_with('}') => {
                return Err(format!("unmatched '}}' in prefix '{whole}'"));
            }
            Some(i) => {
                if i > 0 {
                    pieces.push(Piece::Text(rest[..i].to_owned()));
                }
                let after = &rest[i + 1..];
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("unclosed '{{' in prefix '{whole}'"))?;
                let name = &after[..end];
                if name.is_empty() || name.contains('{') {
                    return Err(format!("bad capture '{{{name}}}' in prefix '{whole}'"));
                }
                pieces.push(Piece::Capture(name.to_owned()));
                rest = &after[end + 1..];
            }
        }
    }
    Ok(Segment::Pieces(pieces))
}

/// Matches `text` against pieces, captures greedy (the last possible split wins).
fn match_pieces(pieces: &[Piece], text: &str) -> Option<Vec<(String, String)>> {
    match pieces.split_first() {
        None => text.is_empty().then(Vec::new),
        Some((Piece::Text(t), rest)) => match_pieces(rest, text.strip_prefix(t.as_str())?),
        Some((Piece::Capture(name), rest)) => {
            let ends: Vec<usize> = text
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(text.len()))
                .collect();
            ends.into_iter().rev().find_map(|end| {
                let mut caps = match_pieces(rest, &text[end..])?;
                caps.insert(0, (name.clone(), text[..end].to_owned()));
                Some(caps)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        Path::read(s).unwrap()
    }

    #[test]
    fn matches_prefixes_with_wildcards() {
        let pat = PathPattern::read("/$/inet/*/80").unwrap();
        assert_eq!(pat.matches(&p("/$/inet/example.com/80/x")), Some(vec![]));
        assert_eq!(pat.matches(&p("/$/inet/example.com/81")), None);
        assert_eq!(
            PathPattern::read("/").unwrap().matches(&p("/a")),
            Some(vec![])
        );
    }

    #[test]
    fn captures_are_greedy() {
        let pat = PathPattern::read("/#/io.l5d.fs/{a}-{b}").unwrap();
        let caps = pat.matches(&p("/#/io.l5d.fs/x-y-z")).unwrap();
        assert_eq!(
            caps,
            vec![("a".into(), "x-y".into()), ("b".into(), "z".into())]
        );
    }

    #[test]
    fn refuses_malformed_prefixes() {
        assert!(PathPattern::read("svc").is_err());
        assert!(PathPattern::read("/a//b").is_err());
        assert!(PathPattern::read("/{a").is_err());
        assert!(PathPattern::read("/a}").is_err());
        assert!(PathPattern::read("/{}").is_err());
    }
}
