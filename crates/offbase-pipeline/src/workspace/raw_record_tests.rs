//! The line from the text against the parser's: a record taken without parsing gives the line
//! the parser's way gives, and every record of plain text is taken.

use super::*;
use crate::workspace::canonical_record;
use offbase_model::{Field, FieldKind, SchemaSource, SourceLayout};
use serde_json::{Map, Value};

fn entity() -> Entity {
    Entity {
        name: "Task".into(),
        source: SchemaSource {
            path: "Task.jsonc".into(),
            layout: SourceLayout::Direct,
        },
        title: None,
        description: None,
        fields: vec![
            Field::new("title", FieldKind::String),
            Field::new("done", FieldKind::Boolean),
            // A field named like a built-in and one named like the importer's flags.
            Field::new("created_by", FieldKind::String),
            Field::new("_offbase_flags", FieldKind::Object),
            Field::new("title", FieldKind::String),
            Field::new("meta", FieldKind::Object),
        ],
        rls: None,
        extra: Default::default(),
    }
}

const FLAGS_PREFIX: &str = "\"_offbase_flags";

/// The parser's way: parse, put in form, write.
fn long_way(text: &str, entity: &Entity) -> Option<String> {
    let record: Map<String, Value> = serde_json::from_str(text).ok()?;
    serde_json::to_string(&canonical_record(record, entity)).ok()
}

fn facts_of(text: &str) -> Option<(Option<String>, Option<String>)> {
    let record: Map<String, Value> = serde_json::from_str(text).ok()?;
    let string = |key: &str| record.get(key).and_then(Value::as_str).map(str::to_owned);
    Some((string("id"), string("created_date")))
}

/// Checks one text both ways; returns whether it was taken without parsing.
fn check(text: &str, order: &KeyOrder, entity: &Entity) -> bool {
    let Some(formed) = workspace_line(text, order) else {
        if let Some(line) = long_way(text, entity) {
            // What the parser's way writes must be recognized again, unless it needs an
            // escape where the recognizer wants plain text (keys, ids, timestamps) or holds a
            // field staged under another name (the recognizer leaves those to the parser).
            if !line.contains('\\') && !line.contains(FLAGS_PREFIX) {
                assert!(
                    workspace_line(&line, order).is_some(),
                    "the form of {text} is not recognized: {line}"
                );
            }
        }
        return false;
    };
    assert_eq!(
        long_way(text, entity).as_deref(),
        Some(&*formed.line),
        "{text}: taken without parsing, but the parser's way writes it otherwise"
    );
    let (id, created_date) = facts_of(text).unwrap_or_default();
    assert_eq!(formed.id.map(str::to_owned), id, "{text}");
    assert_eq!(
        formed.created_date.map(str::to_owned),
        created_date,
        "{text}"
    );
    true
}

#[test]
fn records_in_form_are_taken_and_others_go_the_long_way() {
    let entity = entity();
    let order = KeyOrder::new(&entity);
    let taken = [
        r#"{}"#,
        r#"{"id":"a","created_date":"2026-01-01T00:00:00.000000","title":"t","done":true}"#,
        r#"{"id":"a","created_by":"x","title":"t","meta":{"b":1,"a":[1,2.5,-3,null,"\u001f\n"]},"zz":{},"zzz":[]}"#,
        r#"{"id":"a","title":"é ✓ \"q\" \\ /","a_other":-3.75,"b_other":0.1,"c":-9223372036854775808}"#,
        r#"{"id":"a","x":18446744073709551615,"y":100000.0,"z":2.5}"#,
        r#"{"id":7,"created_date":null}"#,
        // Pairs put in order: the built-ins, the fields, the others by name.
        r#"{"title":"t","id":"a"}"#,
        r#"{"id":"a","b":1,"a":2}"#,
        r#"{"zeta":[1,{"b":2,"a":1}],"meta":{},"done":false,"created_date":"2026-01-01T00:00:00Z","id":"x"}"#,
    ];
    for text in taken {
        assert!(check(text, &order, &entity), "not taken: {text}");
    }
    let long_way_only = [
        r#"{"id": "a"}"#,                         // spacing
        r#"{"b":1,"id":"a","b":2}"#,              // a key twice, out of order
        r#"{"id":"a","id":"b"}"#,                 // a key twice
        r#"{"id":"a","m":{"k":1,"k":2}}"#,        // a nested key twice
        r#"{"id":"a","_offbase_flags":{}}"#,      // staged under another name
        r#"{"id":"a","_offbase_flags__":1}"#,     // likewise
        r#"{"id":"a\u0062"}"#,                    // an escape serde_json does not write
        r#"{"id":"a","t":"\/"}"#,                 // likewise
        r#"{"id":"a","t":"\u000A"}"#,             // uppercase, and a short form exists
        r#"{"id":"a","t":"\u000a"}"#,             // a short form exists
        r#"{"id":"a","t":"\uD83D\uDE00"}"#,       // a pair for a character written as is
        r#"{"id":"a\nb"}"#,                       // an id with an escape
        r#"{"id":"a","n":1.50}"#,                 // a float written otherwise
        r#"{"id":"a","n":1E5}"#,                  // likewise
        r#"{"id":"a","n":-0}"#,                   // -0 becomes -0.0
        r#"{"id":"a","n":18446744073709551616}"#, // beyond 64 bits: a float
        r#"{"id":"a","n":-9223372036854775809}"#, // likewise
        r#"{"id":"a","n":1e400}"#,                // out of range: the parser refuses it
        r#"{"a\nb":1}"#,                          // a key with an escape
    ];
    for text in long_way_only {
        assert!(!check(text, &order, &entity), "taken: {text}");
    }
}

/// xorshift64: the same texts every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[self.below(choices.len())]
    }

    fn space(&mut self, text: &mut String) {
        if self.below(12) == 0 {
            text.push_str(self.pick(&[" ", "\n", "\t ", "\r\n"]));
        }
    }

    fn value(&mut self, text: &mut String, depth: usize) {
        match self.below(if depth > 3 { 4 } else { 6 }) {
            0 => text.push_str(self.pick(&[
                "0",
                "7",
                "-12",
                "-0",
                "1.5",
                "1.50",
                "0.1",
                "1e20",
                "1E5",
                "2.5e-3",
                "100000.0",
                "18446744073709551615",
                "18446744073709551616",
                "-9223372036854775808",
                "-9223372036854775809",
                "3.0",
                "1e-7",
            ])),
            1 => self.string(text),
            2 => text.push_str(self.pick(&["true", "false", "null"])),
            3 => self.string(text),
            4 => {
                text.push('[');
                for index in 0..self.below(4) {
                    if index > 0 {
                        text.push(',');
                    }
                    self.space(text);
                    self.value(text, depth + 1);
                }
                text.push(']');
            }
            _ => self.object(text, depth + 1, false),
        }
    }

    fn string(&mut self, text: &mut String) {
        text.push('"');
        for _ in 0..self.below(5) {
            text.push_str(self.pick(&[
                "a",
                "id",
                "é",
                "✓",
                "\\\"",
                "\\\\",
                "\\/",
                "\\n",
                "\\t",
                "\\u0001",
                "\\u001f",
                "\\u001F",
                "\\u0041",
                "\\u000a",
                "\\ud83d\\ude00",
                "😀",
                " ",
                "\u{7f}",
            ]));
        }
        text.push('"');
    }

    fn key(&mut self, top: bool) -> String {
        let known = [
            "id",
            "created_date",
            "updated_date",
            "created_by",
            "created_by_id",
            "is_sample",
            "title",
            "done",
            "meta",
            "_offbase_flags",
            "_offbase_flags_",
        ];
        let other = ["a", "b", "zeta", "Alpha", "_x", "a\\nb", "é", "k"];
        if top && self.below(2) == 0 {
            known[self.below(known.len())].to_owned()
        } else {
            other[self.below(other.len())].to_owned()
        }
    }

    fn object(&mut self, text: &mut String, depth: usize, top: bool) {
        text.push('{');
        for index in 0..self.below(if top { 9 } else { 4 }) {
            if index > 0 {
                text.push(',');
            }
            self.space(text);
            text.push('"');
            let key = self.key(top);
            text.push_str(&key);
            text.push('"');
            self.space(text);
            text.push(':');
            if top && (key == "id" || key == "created_date") && self.below(4) > 0 {
                text.push_str(self.pick(&["\"r1\"", "\"2026-01-01T00:00:00\"", "\"a\\nb\"", "5"]));
            } else {
                self.value(text, depth);
            }
        }
        self.space(text);
        text.push('}');
    }
}

#[test]
fn random_records_agree_with_the_parser() {
    let entity = entity();
    let order = KeyOrder::new(&entity);
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let (mut taken, mut forms_taken) = (0, 0);
    for _ in 0..20_000 {
        let mut text = String::new();
        random.object(&mut text, 0, true);
        if serde_json::from_str::<Value>(&text).is_err() {
            continue;
        }
        taken += usize::from(check(&text, &order, &entity));
        // The same record in form: taken unless it needs escapes.
        if let Some(line) = long_way(&text, &entity) {
            forms_taken += usize::from(check(&line, &order, &entity));
        }
    }
    // Both kinds occur: the check above ran on records taken and on records not taken.
    assert!(
        taken > 500,
        "only {taken} random records were taken as they are"
    );
    assert!(
        forms_taken > 5_000,
        "only {forms_taken} records in form were taken"
    );
}
