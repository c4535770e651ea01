//! The recursive-descent parser for paths, prefixes, dentries, name trees and dtabs.
//!
//! It follows Finagle's `NameTreeParsers` production by production, including where
//! whitespace and `#` comments may appear and the text of its error messages, because
//! users read these messages in Linkerd 1's admin UI and namerd's API answers with them.
//! Positions count Unicode scalar values; Finagle counts UTF-16 units, which differs only
//! for characters outside the Basic Multilingual Plane.

use std::fmt;

use super::chars::{is_java_digit, is_java_whitespace, is_showable_char};
use super::dentry::{Dentry, Prefix, PrefixElem};
use super::dtab::Dtab;
use super::path::{Elem, Path};
use super::tree::{NameTree, Weighted};

/// A syntax error, with Finagle's message and the position of the offending character.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ParseError {
    message: String,
    position: usize,
}

impl ParseError {
    /// Finagle's message, e.g. `'=' expected but 'b' found at '/a/*[b]=>/c'`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The 0-based character offset of the offending character (the input's length at end
    /// of input).
    pub fn position(&self) -> usize {
        self.position
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

type Result<T> = std::result::Result<T, ParseError>;

/// How deeply parentheses may nest. Finagle has no limit and would overflow its stack on
/// a hostile `l5d-dtab` header; real dtabs nest a few levels, and this bound keeps the
/// recursion (here and in printing, simplifying and dropping the tree) far from any thread's
/// stack size, debug builds included.
pub const MAX_NESTING: usize = 100;

/// Parser state: the input and a byte offset that always sits on a character boundary.
pub(crate) struct Parser<'a> {
    src: &'a str,
    idx: usize,
    /// Parentheses currently open.
    depth: usize,
    /// Scratch space for the label being read, reused so each label costs one allocation.
    label: Vec<u8>,
}

fn describe(c: Option<char>) -> String {
    match c {
        None => "end of input".into(),
        Some(c) => format!("'{c}'"),
    }
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> Parser<'a> {
        Parser {
            src,
            idx: 0,
            depth: 0,
            label: Vec::new(),
        }
    }

    /// Runs `production`, then requires that only whitespace and comments remain.
    pub(crate) fn all<T>(mut self, production: fn(&mut Self) -> Result<T>) -> Result<T> {
        let v = production(&mut self)?;
        self.eat_whitespace();
        if let Some(c) = self.peek() {
            return Err(self.illegal("end of input", Some(c)));
        }
        Ok(v)
    }

    fn peek(&self) -> Option<char> {
        self.src[self.idx..].chars().next()
    }

    fn next(&mut self) {
        if let Some(c) = self.peek() {
            self.idx += c.len_utf8();
        }
    }

    fn illegal(&self, expected: &str, found: Option<char>) -> ParseError {
        let shown = match self.peek() {
            None => format!("{}[]", self.src),
            Some(c) => format!(
                "{}[{c}]{}",
                &self.src[..self.idx],
                &self.src[self.idx + c.len_utf8()..]
            ),
        };
        ParseError {
            message: format!(
                "{expected} expected but {} found at '{shown}'",
                describe(found)
            ),
            position: self.src[..self.idx].chars().count(),
        }
    }

    fn maybe_eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.next();
            true
        } else {
            false
        }
    }

    fn eat(&mut self, c: char) -> Result<()> {
        if self.maybe_eat(c) {
            Ok(())
        } else {
            Err(self.illegal(&format!("'{c}'"), self.peek()))
        }
    }

    /// Skips whitespace and `#` comments (each up to and including its newline).
    fn eat_whitespace(&mut self) {
        while let Some(c) = self.peek() {
            if c == '#' {
                match self.src[self.idx..].find('\n') {
                    Some(nl) => self.idx += nl + 1,
                    None => self.idx = self.src.len(),
                }
            } else if is_java_whitespace(c) {
                self.next();
            } else {
                break;
            }
        }
    }

    fn is_label_char(c: Option<char>) -> bool {
        matches!(c, Some(c) if is_showable_char(c) || c == '\\')
    }

    fn hex_digit(&mut self) -> Result<u8> {
        match self.peek() {
            Some(c) if c.is_ascii_hexdigit() => {
                self.next();
                Ok(c.to_digit(16).expect("hex digit") as u8)
            }
            c => Err(self.illegal("hex char", c)),
        }
    }

    fn label(&mut self) -> Result<Elem> {
        self.label.clear();
        loop {
            match self.peek() {
                Some(c) if is_showable_char(c) => {
                    self.next();
                    self.label.push(c as u8);
                }
                Some('\\') => {
                    self.next();
                    self.eat('x')?;
                    let hi = self.hex_digit()?;
                    let lo = self.hex_digit()?;
                    self.label.push(hi << 4 | lo);
                }
                c => return Err(self.illegal("label char", c)),
            }
            if !Self::is_label_char(self.peek()) {
                return Ok(Elem::from(&self.label[..]));
            }
        }
    }

    pub(crate) fn path(&mut self) -> Result<Path> {
        self.eat_whitespace();
        self.eat('/')?;
        let mut elems = Vec::new();
        if Self::is_label_char(self.peek()) {
            loop {
                elems.push(self.label()?);
                if !self.maybe_eat('/') {
                    break;
                }
            }
        }
        Ok(Path::from_shared(elems))
    }

    pub(crate) fn prefix(&mut self) -> Result<Prefix> {
        self.eat_whitespace();
        self.eat('/')?;
        let mut elems = Vec::new();
        if Self::is_label_char(self.peek()) || self.peek() == Some('*') {
            loop {
                if self.maybe_eat('*') {
                    elems.push(PrefixElem::Any);
                } else {
                    elems.push(PrefixElem::Label(self.label()?));
                }
                if !self.maybe_eat('/') {
                    break;
                }
            }
        }
        Ok(Prefix::new(elems))
    }

    fn is_number_char(c: Option<char>) -> bool {
        matches!(c, Some(c) if c == '.' || is_java_digit(c))
    }

    fn number(&mut self) -> Result<f64> {
        let start = self.idx;
        let mut seen_dot = false;
        while Self::is_number_char(self.peek()) {
            if self.peek() == Some('.') {
                if seen_dot {
                    return Err(self.illegal("number char", Some('.')));
                }
                seen_dot = true;
            }
            self.next();
        }
        let text = &self.src[start..self.idx];
        if text == "." {
            return Err(self.illegal("weight", Some('.')));
        }
        // Java's Double.parseDouble accepts the same ASCII forms ("5.", ".5", "007") and
        // refuses other Unicode digits with a NumberFormatException.
        text.parse::<f64>().map_err(|_| ParseError {
            message: format!("For input string: \"{text}\""),
            position: self.src[..start].chars().count(),
        })
    }

    fn simple(&mut self) -> Result<NameTree<Path>> {
        self.eat_whitespace();
        match self.peek() {
            Some('(') => {
                if self.depth == MAX_NESTING {
                    let expected = format!("at most {MAX_NESTING} nested parentheses");
                    return Err(self.illegal(&expected, Some('(')));
                }
                self.next();
                self.depth += 1;
                let tree = self.tree()?;
                self.eat_whitespace();
                self.eat(')')?;
                self.depth -= 1;
                Ok(tree)
            }
            Some('/') => Ok(NameTree::Leaf(self.path()?)),
            Some('!') => {
                self.next();
                Ok(NameTree::Fail)
            }
            Some('~') => {
                self.next();
                Ok(NameTree::Neg)
            }
            Some('$') => {
                self.next();
                Ok(NameTree::Empty)
            }
            c => Err(self.illegal("simple", c)),
        }
    }

    fn weighted(&mut self) -> Result<Weighted<Path>> {
        self.eat_whitespace();
        let weight = if Self::is_number_char(self.peek()) {
            let w = self.number()?;
            self.eat_whitespace();
            self.eat('*')?;
            self.eat_whitespace();
            w
        } else {
            Weighted::<Path>::DEFAULT_WEIGHT
        };
        Ok(Weighted::new(weight, self.simple()?))
    }

    fn tree1(&mut self) -> Result<NameTree<Path>> {
        let mut members = Vec::new();
        loop {
            members.push(self.weighted()?);
            self.eat_whitespace();
            if !self.maybe_eat('&') {
                break;
            }
        }
        // A weight on a lone tree is discarded, as Finagle does.
        Ok(match members.len() {
            1 => members.pop().expect("one member").tree,
            _ => NameTree::Union(members),
        })
    }

    pub(crate) fn tree(&mut self) -> Result<NameTree<Path>> {
        let mut alts = Vec::new();
        loop {
            alts.push(self.tree1()?);
            self.eat_whitespace();
            if !self.maybe_eat('|') {
                break;
            }
        }
        Ok(match alts.len() {
            1 => alts.pop().expect("one alternative"),
            _ => NameTree::Alt(alts),
        })
    }

    pub(crate) fn dentry(&mut self) -> Result<Dentry> {
        let prefix = self.prefix()?;
        self.eat_whitespace();
        self.eat('=')?;
        self.eat('>')?;
        let dst = self.tree()?;
        Ok(Dentry::new(prefix, dst))
    }

    pub(crate) fn dtab(&mut self) -> Result<Dtab> {
        let mut dentries = Vec::new();
        loop {
            self.eat_whitespace();
            if self.peek().is_some() {
                dentries.push(self.dentry()?);
                self.eat_whitespace();
            }
            if !self.maybe_eat(';') {
                break;
            }
        }
        Ok(Dtab::new(dentries))
    }
}

#[cfg(test)]
mod tests;
