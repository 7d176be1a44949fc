//! Where each JSON pointer of a YAML document starts, so that a problem found in the parsed
//! document can name its line as well as its pointer.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::pointer::push;

/// The line (1-based) on which each node of a YAML document starts, by JSON pointer.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    /// Indexes `text`; a document that does not parse gives an empty index (the YAML error is
    /// reported by the loader with its own line).
    pub fn new(text: &str) -> Self {
        let mut builder = Builder {
            index: Self::default(),
            stack: Vec::new(),
        };
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut builder, false).is_err() {
            return Self::default();
        }
        builder.index
    }

    /// The line of the node at `pointer`, or of its nearest ancestor that exists (a problem about
    /// a missing key is placed where the key belongs).
    pub fn line(&self, pointer: &str) -> Option<usize> {
        let mut pointer = pointer;
        loop {
            if let Some(line) = self.lines.get(pointer) {
                return Some(*line);
            }
            let (parent, _) = pointer.rsplit_once('/')?;
            pointer = parent;
        }
    }
}

enum Frame {
    /// A mapping: its pointer, and the key whose value comes next (none while reading a key).
    Mapping { at: String, key: Option<String> },
    /// A sequence: its pointer, and the index of the next item.
    Sequence { at: String, next: usize },
}

struct Builder {
    index: LineIndex,
    stack: Vec<Frame>,
}

impl Builder {
    /// The pointer of a node starting now, or `None` if it is a mapping key.
    fn next_pointer(&mut self) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Mapping { at, key }) => key.take().map(|key| push(at, &key)),
            Some(Frame::Sequence { at, next }) => {
                let here = push(at, &next.to_string());
                *next += 1;
                Some(here)
            }
        }
    }

    fn record(&mut self, pointer: &str, mark: Marker) {
        // yaml-rust2 counts lines from 1 and a key's value may start on the key's line.
        self.index
            .lines
            .entry(pointer.to_owned())
            .or_insert(mark.line());
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(value, ..) => match self.next_pointer() {
                Some(pointer) => self.record(&pointer, mark),
                None => {
                    // A key: its value's pointer is placed at the key's line.
                    if let Some(Frame::Mapping { at, key }) = self.stack.last_mut() {
                        let here = push(at, &value);
                        *key = Some(value);
                        self.index.lines.entry(here).or_insert(mark.line());
                    }
                }
            },
            Event::Alias(_) => {
                if let Some(pointer) = self.next_pointer() {
                    self.record(&pointer, mark);
                }
            }
            Event::MappingStart(..) => {
                let at = self.next_pointer().unwrap_or_default();
                self.record(&at, mark);
                self.stack.push(Frame::Mapping { at, key: None });
            }
            Event::SequenceStart(..) => {
                let at = self.next_pointer().unwrap_or_default();
                self.record(&at, mark);
                self.stack.push(Frame::Sequence { at, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_find_their_lines() {
        let text = "openapi: 3.0.3\npaths:\n  /attendees:\n    get:\n      tags: [A, B]\n      summary: List\n      parameters:\n        - name: page\n          in: query\n";
        let index = LineIndex::new(text);
        assert_eq!(index.line("/openapi"), Some(1));
        assert_eq!(index.line("/paths/~1attendees/get"), Some(4));
        assert_eq!(index.line("/paths/~1attendees/get/tags/1"), Some(5));
        assert_eq!(index.line("/paths/~1attendees/get/summary"), Some(6));
        assert_eq!(
            index.line("/paths/~1attendees/get/parameters/0/in"),
            Some(9)
        );
        // A missing key is placed at its nearest ancestor.
        assert_eq!(index.line("/paths/~1attendees/get/operationId"), Some(4));
    }
}
