//! The SDK's `upsert(records, {key})` (`POST .../{Entity}/upsert` with `{records, key}`): the
//! request read and checked once, for the emulator and `offbase serve` alike. A record whose
//! key fields equal an existing record's updates it (its fields merged in, as an update does);
//! any other is created. Pure.
//!
//! Decisions where the platform's documentation is silent, the same on both servers:
//! - `key` is a field name or an array of one to four; each record must hold a value for every
//!   key field, and a key value is a string, a number or a boolean (a null, an array or an
//!   object identifies nothing): anything else is refused naming the record and the field;
//! - two records of one call with the same key: the last wins, and takes the place of the
//!   first in the answer's order (the earlier ones are not written at all);
//! - key values compare as JSON values compare in a filter (`"5"` is not `5`);
//! - an existing record is one the caller may read and update (the records the rules hide
//!   are not matched, as row level security filters them); two or more existing records with
//!   one key refuse the call (409): the key must identify one record;
//! - at most [`UPSERT_MAX`] records a call; all or nothing.

use crate::api::UPSERT_MAX;
use serde_json::{Map, Value};

/// The most key fields an upsert names.
pub const KEY_FIELDS_MAX: usize = 4;

/// An upsert request, checked: the key fields and the records to write, duplicates of a key
/// already reduced to the last one.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsertRequest {
    pub key: Vec<String>,
    pub records: Vec<Map<String, Value>>,
}

/// Why an upsert request is refused (each a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpsertError {
    #[error(
        "an upsert takes {{\"records\": [...], \"key\": \"field\"}} (or \"key\": [\"a\", \"b\"]): {0}"
    )]
    Shape(String),
    #[error("an upsert writes at most {max} records, this one has {count}: split it")]
    TooMany { count: usize, max: usize },
    #[error("record {index} of `records` has no value for the key field `{field}`")]
    MissingKey { index: usize, field: String },
    #[error(
        "record {index} of `records`: the key field `{field}` holds {found}; a key value is a \
         string, a number or a boolean"
    )]
    KeyNotScalar {
        index: usize,
        field: String,
        found: String,
    },
}

/// Reads an upsert's body.
pub fn parse_upsert(body: &Value) -> Result<UpsertRequest, UpsertError> {
    let Value::Object(body) = body else {
        return Err(UpsertError::Shape(format!(
            "the body is {}",
            offbase_model::json_kind(body)
        )));
    };
    let key: Vec<String> = match body.get("key") {
        Some(Value::String(field)) => vec![field.clone()],
        Some(Value::Array(fields)) => fields
            .iter()
            .map(|field| field.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| UpsertError::Shape("`key` names fields by their names".to_owned()))?,
        Some(other) => {
            return Err(UpsertError::Shape(format!(
                "`key` is {}",
                offbase_model::json_kind(other)
            )));
        }
        None => return Err(UpsertError::Shape("`key` is missing".to_owned())),
    };
    if key.is_empty() || key.len() > KEY_FIELDS_MAX || key.iter().any(String::is_empty) {
        return Err(UpsertError::Shape(format!(
            "`key` names one to {KEY_FIELDS_MAX} fields"
        )));
    }
    let Some(Value::Array(items)) = body.get("records") else {
        return Err(UpsertError::Shape("`records` is not an array".to_owned()));
    };
    if items.len() > UPSERT_MAX {
        return Err(UpsertError::TooMany {
            count: items.len(),
            max: UPSERT_MAX,
        });
    }
    let mut records: Vec<Map<String, Value>> = Vec::with_capacity(items.len());
    let mut keys: Vec<Vec<Value>> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Value::Object(record) = item else {
            return Err(UpsertError::Shape(format!(
                "record {index} of `records` is {}",
                offbase_model::json_kind(item)
            )));
        };
        let mut values = Vec::with_capacity(key.len());
        for field in &key {
            match record.get(field) {
                None | Some(Value::Null) => {
                    return Err(UpsertError::MissingKey {
                        index,
                        field: field.clone(),
                    });
                }
                Some(value @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
                    values.push(value.clone());
                }
                Some(other) => {
                    return Err(UpsertError::KeyNotScalar {
                        index,
                        field: field.clone(),
                        found: offbase_model::json_kind(other).to_owned(),
                    });
                }
            }
        }
        // The last record of a key wins, in the place of the first.
        match keys.iter().position(|seen| *seen == values) {
            Some(earlier) => records[earlier] = record.clone(),
            None => {
                keys.push(values);
                records.push(record.clone());
            }
        }
    }
    Ok(UpsertRequest { key, records })
}

impl UpsertRequest {
    /// The filter that finds the existing record of `record`'s key: each key field equal.
    pub fn key_query(&self, record: &Map<String, Value>) -> Value {
        let mut query = Map::new();
        for field in &self.key {
            if let Some(value) = record.get(field) {
                query.insert(field.clone(), value.clone());
            }
        }
        Value::Object(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_last_record_of_a_key_wins_in_the_place_of_the_first() {
        let request = parse_upsert(&json!({
            "key": ["sku", "warehouse"],
            "records": [
                {"sku": "a", "warehouse": 1, "count": 1},
                {"sku": "b", "warehouse": 1, "count": 2},
                {"sku": "a", "warehouse": 1, "count": 3},
                {"sku": "a", "warehouse": "1", "count": 4},
            ]
        }))
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(request.key, vec!["sku", "warehouse"]);
        let counts: Vec<&Value> = request.records.iter().map(|r| &r["count"]).collect();
        assert_eq!(counts, vec![&json!(3), &json!(2), &json!(4)]);
        assert_eq!(
            request.key_query(&request.records[0]),
            json!({"sku": "a", "warehouse": 1})
        );
        let single = parse_upsert(&json!({"key": "crm_id", "records": []}))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(single.key, vec!["crm_id"]);
    }

    #[test]
    fn requests_without_a_usable_key_are_refused_naming_the_record() {
        let cases = [
            (json!([]), "the body is an array"),
            (json!({"records": []}), "`key` is missing"),
            (json!({"key": 5, "records": []}), "`key` is a number"),
            (json!({"key": [], "records": []}), "one to 4 fields"),
            (
                json!({"key": ["a", "b", "c", "d", "e"], "records": []}),
                "one to 4 fields",
            ),
            (json!({"key": "a"}), "`records` is not an array"),
            (
                json!({"key": "a", "records": [5]}),
                "record 0 of `records` is a number",
            ),
            (
                json!({"key": "a", "records": [{"a": 1}, {"b": 2}]}),
                "record 1 of `records` has no value for the key field `a`",
            ),
            (
                json!({"key": "a", "records": [{"a": null}]}),
                "record 0 of `records` has no value for the key field `a`",
            ),
            (
                json!({"key": "a", "records": [{"a": [1]}]}),
                "the key field `a` holds an array",
            ),
        ];
        for (body, expected) in cases {
            let message = match parse_upsert(&body) {
                Ok(request) => panic!("{body}: accepted as {request:?}"),
                Err(error) => error.to_string(),
            };
            assert!(message.contains(expected), "{body}: {message}");
        }
        let many: Vec<Value> = (0..=UPSERT_MAX).map(|index| json!({"a": index})).collect();
        assert_eq!(
            parse_upsert(&json!({"key": "a", "records": many})),
            Err(UpsertError::TooMany {
                count: UPSERT_MAX + 1,
                max: UPSERT_MAX
            })
        );
    }
}
