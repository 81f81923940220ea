//! Records put in the workspace's form from their text. A record whose every value the API
//! wrote as serde_json writes it (no spacing, the same escapes and numbers) needs no parsing:
//! its line in the workspace is its own text when its keys are already in the workspace order,
//! else its `"key":value` pairs put in that order. Either is the very line
//! [`canonical_record`](super::canonical_record) gives after parsing it; the pull parses only
//! the other records.
//!
//! The check is conservative: whatever it cannot vouch for (an escape serde_json would not
//! write, a number it would write differently, a repeated key, an escaped key, a field named
//! like the importer's flags) sends the record the long way, through the parser.

use offbase_model::record::staged_key;
use offbase_model::{BuiltIn, Entity};
use std::borrow::Cow;
use std::collections::HashMap;

/// An entity's key order in the workspace form: the built-ins, the schema's fields, then any
/// other key by name.
#[derive(Debug, Clone)]
pub struct KeyOrder {
    ranks: HashMap<String, usize>,
}

impl KeyOrder {
    pub fn new(entity: &Entity) -> KeyOrder {
        let mut ranks = HashMap::new();
        let names = entity
            .built_ins()
            .into_iter()
            .map(|built_in| built_in.field_name().to_owned())
            .chain(entity.fields.iter().map(|field| field.name.clone()));
        for name in names {
            let next = ranks.len();
            ranks.entry(name).or_insert(next);
        }
        KeyOrder { ranks }
    }
}

/// A record's line in the workspace form, with what the pull needs of it: its id and
/// `created_date` when they are strings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FormedLine<'t> {
    pub id: Option<&'t str>,
    pub created_date: Option<&'t str>,
    /// The record's own text when it is already in form, else its pairs in order.
    pub line: Cow<'t, str>,
}

/// The line of the workspace form for `text` (one JSON object, valid JSON), without parsing
/// it; `None` when it must be parsed and put in form.
pub fn workspace_line<'t>(text: &'t str, order: &KeyOrder) -> Option<FormedLine<'t>> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
        keys: Vec::new(),
    };
    let formed = scanner.record(text, order)?;
    (scanner.at == text.len()).then_some(formed)
}

struct Scanner<'t> {
    bytes: &'t [u8],
    at: usize,
    /// The keys of the objects being read, innermost last (spans of `bytes`), to find repeats.
    keys: Vec<&'t [u8]>,
}

/// Where a top-level key stands in the order: a known key's rank, or the other keys after
/// them all, by name.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Place<'t> {
    Known(usize),
    Other(&'t str),
}

impl<'t> Scanner<'t> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn record(&mut self, text: &'t str, order: &KeyOrder) -> Option<FormedLine<'t>> {
        let mut formed = FormedLine {
            line: Cow::Borrowed(text),
            ..FormedLine::default()
        };
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(formed);
        }
        // Each pair's place in the order and its text (`"key":value`).
        let mut pairs: Vec<(Place<'t>, &'t str)> = Vec::new();
        let mut in_order = true;
        loop {
            let pair_start = self.at;
            let key = self.string()?;
            let key = text.get(key.start + 1..key.end - 1)?;
            // Keys are ordered by what they spell, not by their escapes: the long way.
            if key.contains('\\') {
                return None;
            }
            let place = match order.ranks.get(key) {
                Some(rank) => Place::Known(*rank),
                None => Place::Other(key),
            };
            // A key named like the importer's flags is staged under another name: the long
            // way.
            if matches!(staged_key(key), Cow::Owned(_)) {
                return None;
            }
            self.eat(b':')?;
            let value_start = self.at;
            self.value()?;
            let value = text.get(value_start..self.at)?;
            if key == BuiltIn::Id.field_name() {
                formed.id = plain_string(value)?;
            } else if key == BuiltIn::CreatedDate.field_name() {
                formed.created_date = plain_string(value)?;
            }
            // Strictly after the last key: in order, and no key twice so far.
            in_order &= pairs.last().is_none_or(|(last, _)| *last < place);
            pairs.push((place, text.get(pair_start..self.at)?));
            if self.eat(b',').is_none() {
                self.eat(b'}')?;
                break;
            }
        }
        if !in_order {
            pairs.sort_by(|left, right| left.0.cmp(&right.0));
            // A key twice keeps one value when parsed: the long way.
            if pairs.windows(2).any(|pair| pair[0].0 == pair[1].0) {
                return None;
            }
            let mut line = String::with_capacity(text.len());
            line.push('{');
            for (index, (_, pair)) in pairs.iter().enumerate() {
                if index > 0 {
                    line.push(',');
                }
                line.push_str(pair);
            }
            line.push('}');
            formed.line = Cow::Owned(line);
        }
        Some(formed)
    }

    fn value(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    fn object(&mut self) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        let first = self.keys.len();
        loop {
            let key = self.string()?;
            self.keys.push(self.bytes.get(key)?);
            self.eat(b':')?;
            self.value()?;
            if self.eat(b',').is_none() {
                self.eat(b'}')?;
                break;
            }
        }
        // A repeated key keeps one value when parsed: the text would change. Keys in the form
        // have one spelling each (no optional escapes), so equal keys are equal bytes.
        let keys = self.keys.get_mut(first..)?;
        let repeated = if keys.len() <= 16 {
            keys.iter()
                .enumerate()
                .any(|(index, key)| keys.get(index + 1..).is_some_and(|rest| rest.contains(key)))
        } else {
            keys.sort_unstable();
            keys.windows(2).any(|pair| pair[0] == pair[1])
        };
        self.keys.truncate(first);
        (!repeated).then_some(())
    }

    fn array(&mut self) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.value()?;
            if self.eat(b',').is_none() {
                return self.eat(b']');
            }
        }
    }

    /// A string as serde_json writes it: escapes only for `"`, `\` and control characters, in
    /// their short forms where there is one, else `\u00xx` in lowercase. Its span, quotes
    /// included.
    fn string(&mut self) -> Option<std::ops::Range<usize>> {
        let start = self.at;
        self.eat(b'"')?;
        loop {
            let byte = self.peek()?;
            self.at += 1;
            match byte {
                b'"' => return Some(start..self.at),
                b'\\' => {
                    let escape = self.peek()?;
                    self.at += 1;
                    match escape {
                        b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f' => {}
                        b'u' => {
                            let digits = self.bytes.get(self.at..self.at + 4)?;
                            self.at += 4;
                            let [b'0', b'0', high @ (b'0' | b'1'), low] = *digits else {
                                return None;
                            };
                            let low = match low {
                                b'0'..=b'9' => low - b'0',
                                b'a'..=b'f' => low - b'a' + 10,
                                _ => return None,
                            };
                            let code = (high - b'0') * 16 + low;
                            if matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                                return None;
                            }
                        }
                        _ => return None,
                    }
                }
                _ => {}
            }
        }
    }

    /// A number as serde_json writes it: an integer that fits 64 bits (not `-0`), or a float
    /// exactly as it prints that float again.
    fn number(&mut self) -> Option<()> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|byte| matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            self.at += 1;
        }
        let token = std::str::from_utf8(self.bytes.get(start..self.at)?).ok()?;
        if token.is_empty() {
            return None;
        }
        let integer = token
            .strip_prefix('-')
            .unwrap_or(token)
            .bytes()
            .all(|byte| byte.is_ascii_digit());
        if integer {
            let fits = if token.starts_with('-') {
                token != "-0" && token.parse::<i64>().is_ok()
            } else {
                token.parse::<u64>().is_ok()
            };
            return fits.then_some(());
        }
        let value: f64 = serde_json::from_str(token).ok()?;
        let mut printed = Vec::with_capacity(token.len());
        serde_json::to_writer(&mut printed, &value).ok()?;
        (printed == token.as_bytes()).then_some(())
    }
}

/// The text of a JSON string value without escapes (`Some(None)` when the value is not a
/// string); `None` when it has escapes (the long way reads it).
fn plain_string(value: &str) -> Option<Option<&str>> {
    match value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(inner) if inner.contains('\\') => None,
        Some(inner) => Some(Some(inner)),
        None => Some(None),
    }
}

#[cfg(test)]
#[path = "raw_record_tests.rs"]
mod tests;
