//! The locator: which line and column every mapping key and sequence item of a YAML text
//! sits on, by key path.
//!
//! serde's values carry no positions, so a second, marked parse of the same text (the
//! `yaml-rust2` event parser) records them. It is used only to put a line on an error: if
//! the two parsers ever disagree about a document, an error loses its line, nothing else.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::error::Location;
use super::keypath::{KeyPath, Seg};

/// Positions of keys, sequence items and scalar values, by key path.
#[derive(Default, Debug)]
pub struct Locator {
    /// The key of a mapping entry, or the start of a sequence item.
    keys: HashMap<KeyPath, Location>,
    /// Scalar values, for pointing inside them.
    scalars: HashMap<KeyPath, Scalar>,
}

#[derive(Debug)]
struct Scalar {
    start: Location,
    style: TScalarStyle,
    value: String,
}

impl Locator {
    /// Records the positions in `text`. Text the event parser rejects yields the positions
    /// seen before the error. Only call it on text serde_yaml accepted: the event parser
    /// recurses once per nesting level, without a limit.
    pub fn new(text: &str) -> Locator {
        let mut recorder = Recorder::default();
        // The result is ignored on purpose: serde_yaml reports syntax errors with their
        // lines, and a partial locator is still useful for what came before.
        let _ = Parser::new_from_str(text).load(&mut recorder, false);
        Locator {
            keys: recorder.keys,
            scalars: recorder.scalars,
        }
    }

    /// The position of `path`, or of its nearest located ancestor.
    pub fn locate(&self, path: &KeyPath) -> Option<Location> {
        let mut path = path.clone();
        loop {
            if let Some(loc) = self.keys.get(&path) {
                return Some(*loc);
            }
            if path.is_root() {
                return None;
            }
            path.pop();
        }
    }

    /// The position of the character at `offset` inside the scalar at `path`, where the
    /// scalar's style allows computing it exactly (plain or quoted on one line, or a `|`
    /// block); otherwise the position of `path`.
    pub fn locate_in_scalar(&self, path: &KeyPath, offset: usize) -> Option<Location> {
        let Some(scalar) = self.scalars.get(path) else {
            return self.locate(path);
        };
        let before: String = scalar.value.chars().take(offset).collect();
        let newlines = before.matches('\n').count();
        let col_in_line = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
        match scalar.style {
            TScalarStyle::Plain if !scalar.value.contains('\n') => Some(Location {
                line: scalar.start.line,
                column: scalar.start.column + offset,
            }),
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted
                if !scalar.value.contains('\n') =>
            {
                Some(Location {
                    line: scalar.start.line,
                    column: scalar.start.column + 1 + offset,
                })
            }
            // The parser marks a `|` block at its first content character, and every
            // content line shares that indentation.
            TScalarStyle::Literal => Some(Location {
                line: scalar.start.line + newlines,
                column: scalar.start.column + col_in_line,
            }),
            _ => Some(scalar.start),
        }
    }
}

/// One open container while walking the events.
enum Frame {
    Map {
        path: KeyPath,
        /// The current entry's key, once read; `None` while a key is expected.
        key: Option<String>,
        /// Whether the container still needs a location (a sequence item's, taken from
        /// its first child: the parser's marks for block containers are not where they
        /// start).
        unplaced: bool,
    },
    Seq {
        path: KeyPath,
        next: usize,
        unplaced: bool,
    },
    /// A mapping or sequence used as a mapping key: nothing inside it is addressable.
    Skip { depth: usize },
}

#[derive(Default)]
struct Recorder {
    stack: Vec<Frame>,
    keys: HashMap<KeyPath, Location>,
    scalars: HashMap<KeyPath, Scalar>,
}

/// yaml-rust2's lines count from 1 and its columns from 0.
fn location(mark: Marker) -> Location {
    Location {
        line: mark.line(),
        column: mark.col() + 1,
    }
}

/// Where the next node goes.
enum Slot {
    /// A value at this path; `item` when it is a sequence item.
    Value { path: KeyPath, item: bool },
    /// A mapping key.
    Key,
    /// Inside a skipped complex key.
    Skipped,
}

impl Recorder {
    fn slot(&mut self) -> Slot {
        match self.stack.last_mut() {
            None => Slot::Value {
                path: KeyPath::root(),
                item: false,
            },
            Some(Frame::Skip { .. }) => Slot::Skipped,
            Some(Frame::Seq { path, next, .. }) => {
                let p = path.index(*next);
                *next += 1;
                Slot::Value {
                    path: p,
                    item: true,
                }
            }
            Some(Frame::Map { key: None, .. }) => Slot::Key,
            Some(Frame::Map { path, key, .. }) => {
                let p = key.take().map_or_else(|| path.clone(), |k| path.key(k));
                Slot::Value {
                    path: p,
                    item: false,
                }
            }
        }
    }

    /// Gives `loc` to the open containers still waiting for a location.
    fn place(&mut self, loc: Location) {
        for frame in self.stack.iter_mut().rev() {
            match frame {
                Frame::Map { path, unplaced, .. } | Frame::Seq { path, unplaced, .. }
                    if *unplaced =>
                {
                    self.keys.insert(path.clone(), loc);
                    *unplaced = false;
                }
                _ => break,
            }
        }
    }

    fn open(&mut self, map: bool) {
        match self.slot() {
            Slot::Value { path, item } => self.stack.push(if map {
                Frame::Map {
                    path,
                    key: None,
                    unplaced: item,
                }
            } else {
                Frame::Seq {
                    path,
                    next: 0,
                    unplaced: item,
                }
            }),
            Slot::Key => self.stack.push(Frame::Skip { depth: 1 }),
            Slot::Skipped => {
                if let Some(Frame::Skip { depth }) = self.stack.last_mut() {
                    *depth += 1;
                }
            }
        }
    }

    fn close(&mut self) {
        if let Some(Frame::Skip { depth }) = self.stack.last_mut() {
            if *depth > 1 {
                *depth -= 1;
                return;
            }
            self.stack.pop();
            // The complex key is read; its value comes next, under no addressable name.
            if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                *key = Some(String::from("?"));
            }
            return;
        }
        self.stack.pop();
    }

    fn scalar(&mut self, mark: Marker, text: String, style: TScalarStyle) {
        let loc = location(mark);
        match self.slot() {
            Slot::Value { path, item } => {
                self.place(loc);
                if item {
                    self.keys.insert(path.clone(), loc);
                }
                self.scalars.insert(
                    path,
                    Scalar {
                        start: loc,
                        style,
                        value: text,
                    },
                );
            }
            Slot::Key => {
                self.place(loc);
                if let Some(Frame::Map { path, key, .. }) = self.stack.last_mut() {
                    let mut p = path.clone();
                    p.push(Seg::Key(text.clone()));
                    self.keys.insert(p, loc);
                    *key = Some(text);
                }
            }
            Slot::Skipped => {}
        }
    }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::MappingStart(..) => self.open(true),
            Event::SequenceStart(..) => self.open(false),
            Event::MappingEnd | Event::SequenceEnd => self.close(),
            Event::Scalar(text, style, ..) => self.scalar(mark, text, style),
            Event::Alias(_) => self.scalar(mark, String::new(), TScalarStyle::Plain),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
admin:
  port: 9990
routers:
- protocol: http
  identifier:
    kind: io.l5d.path
    segmnts: 2
  dtab: |
    /svc => /#/io.l5d.fs;
    /bad => ];
  servers:
  - port: 4140
";

    fn path(s: &[&str]) -> KeyPath {
        let mut p = KeyPath::root();
        for seg in s {
            p = match seg.parse::<usize>() {
                Ok(i) => p.index(i),
                Err(_) => p.key(*seg),
            };
        }
        p
    }

    #[test]
    fn locates_keys_and_sequence_items() {
        let loc = Locator::new(DOC);
        let at = |s: &[&str]| loc.locate(&path(s)).map(|l| (l.line, l.column));
        assert_eq!(at(&["admin"]), Some((1, 1)));
        assert_eq!(at(&["admin", "port"]), Some((2, 3)));
        assert_eq!(at(&["routers", "0"]), Some((4, 3)));
        assert_eq!(at(&["routers", "0", "servers", "0"]), Some((12, 5)));
        assert_eq!(at(&["routers", "0", "identifier", "segmnts"]), Some((7, 5)));
        assert_eq!(at(&["routers", "0", "servers", "0", "port"]), Some((12, 5)));
    }

    #[test]
    fn an_unrecorded_path_falls_back_to_its_ancestor() {
        let loc = Locator::new(DOC);
        let l = loc.locate(&path(&["routers", "0", "identifier", "nope"]));
        assert_eq!(l.map(|l| l.line), Some(5));
    }

    #[test]
    fn points_inside_a_literal_block() {
        let loc = Locator::new(DOC);
        let dtab = "/svc => /#/io.l5d.fs;\n/bad => ];\n";
        let offset = dtab.find(']').unwrap();
        let l = loc.locate_in_scalar(&path(&["routers", "0", "dtab"]), offset);
        assert_eq!(
            l,
            Some(Location {
                line: 10,
                column: 13
            })
        );
    }

    #[test]
    fn locates_items_of_flow_and_nested_sequences() {
        let loc = Locator::new("a: [x, {b: c}]\nd:\n- - e\n");
        let at = |p: KeyPath| loc.locate(&p).map(|l| (l.line, l.column));
        let a = KeyPath::root().key("a");
        assert_eq!(at(a.index(0)), Some((1, 5)));
        assert_eq!(at(a.index(1)), Some((1, 9)));
        assert_eq!(at(KeyPath::root().key("d").index(0).index(0)), Some((3, 5)));
        assert_eq!(at(KeyPath::root().key("d").index(0)), Some((3, 5)));
    }

    #[test]
    fn points_inside_a_plain_scalar() {
        let loc = Locator::new("dtab: /a => ]\n");
        let l = loc.locate_in_scalar(&path(&["dtab"]), 7);
        assert_eq!(
            l,
            Some(Location {
                line: 1,
                column: 14
            })
        );
    }
}
