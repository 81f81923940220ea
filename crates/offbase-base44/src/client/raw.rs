//! A page of records kept as the API sent them: the body's text and where each record lies
//! in it. The pull writes a record that is already in the workspace's form straight from these
//! bytes, and parses only the others (see `offbase_pipeline::workspace::raw_record`).

use serde_json::value::RawValue;
use std::ops::Range;

/// The records of one list answer, as text.
#[derive(Debug, Clone, Default)]
pub struct RawRecords {
    text: String,
    records: Vec<Range<usize>>,
    /// The request that answered them, as messages name it (no key in it).
    request: String,
}

/// What a body that is JSON but not a list of records is, in words (the list reader's
/// messages), or why it is not JSON at all.
pub(super) enum Unreadable {
    /// Not JSON (cut short, garbled): worth another attempt.
    Json(String),
    /// JSON of another shape: the API answers something else, and will again.
    Shape(String),
}

impl RawRecords {
    /// Splits a body into its records. Every byte is checked by the JSON parser: what comes
    /// out is valid JSON, one object a record.
    pub(super) fn parse(body: bytes::Bytes) -> Result<RawRecords, Unreadable> {
        // The body's own buffer becomes the text (no copy when nothing else holds it).
        let text = String::from_utf8(Vec::from(body))
            .map_err(|error| Unreadable::Json(error.utf8_error().to_string()))?;
        let items = match serde_json::from_str::<Vec<&RawValue>>(&text) {
            Ok(items) => items,
            Err(error) => {
                return Err(match serde_json::from_str::<&RawValue>(&text) {
                    Ok(other) => Unreadable::Shape(format!(
                        "expected an array of records, got {}",
                        kind(other.get())
                    )),
                    Err(_) => Unreadable::Json(error.to_string()),
                });
            }
        };
        let start = text.as_ptr() as usize;
        let mut records = Vec::with_capacity(items.len());
        for item in items {
            let item = item.get();
            if !item.starts_with('{') {
                return Err(Unreadable::Shape(format!(
                    "a list item is {}, not a record",
                    kind(item)
                )));
            }
            // A raw value borrows its text from the body: its place is the pointers' distance.
            let offset = (item.as_ptr() as usize).saturating_sub(start);
            records.push(offset..offset + item.len());
        }
        Ok(RawRecords {
            text,
            records,
            request: String::new(),
        })
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Each record's text (one JSON object, as sent: the answer's own spacing and key order).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.records
            .iter()
            .filter_map(|range| self.text.get(range.clone()))
    }

    /// The request that answered these records, for a message about one of them.
    pub fn request(&self) -> &str {
        &self.request
    }

    pub(super) fn answering(mut self, request: String) -> RawRecords {
        self.request = request;
        self
    }
}

/// The kind of JSON value a (valid) JSON text holds, in the words of every other message
/// ([`offbase_model::json_kind`]). Only for a message: parsing it costs nothing that matters.
fn kind(text: &str) -> &'static str {
    serde_json::from_str::<serde_json::Value>(text)
        .map(|value| offbase_model::json_kind(&value))
        .unwrap_or("not JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(body: &str) -> Vec<String> {
        match RawRecords::parse(bytes::Bytes::copy_from_slice(body.as_bytes())) {
            Ok(page) => page.iter().map(str::to_owned).collect(),
            Err(Unreadable::Json(message)) => vec![format!("json: {message}")],
            Err(Unreadable::Shape(message)) => vec![format!("shape: {message}")],
        }
    }

    #[test]
    fn records_keep_their_text_as_sent() {
        assert_eq!(
            records(" [ {\"id\": \"a\" , \"n\":1.50}, {}\n,{\"x\":[1, {\"y\":null}]} ] "),
            [
                r#"{"id": "a" , "n":1.50}"#,
                "{}",
                r#"{"x":[1, {"y":null}]}"#
            ]
        );
        assert!(records("[]").is_empty());
    }

    #[test]
    fn other_shapes_are_named_and_broken_bodies_are_not_json() {
        assert_eq!(
            records(r#"{"error": "x"}"#),
            ["shape: expected an array of records, got an object"]
        );
        assert_eq!(
            records(r#"[{"id": "a"}, 3]"#),
            ["shape: a list item is a number, not a record"]
        );
        assert_eq!(
            records(r#"[{"id": "a"}, "b"]"#),
            ["shape: a list item is a string, not a record"]
        );
        assert!(records(r#"[{"id": "a"}, {"id": "#)[0].starts_with("json: "));
        assert!(records("[{\"id\": \"\u{1}\"}]")[0].starts_with("json: "));
        match RawRecords::parse(bytes::Bytes::from_static(b"[{\"id\": \"\xff\"}]")) {
            Err(Unreadable::Json(_)) => {}
            _ => panic!("invalid UTF-8 must not pass"),
        }
    }
}
