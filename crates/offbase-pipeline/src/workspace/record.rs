//! The record form of the workspace: every source's record with its keys in one order (the
//! built-ins, the schema's fields, the rest by name, the importer's flags last), and its key
//! in the pull order.

use super::*;
use offbase_model::{BuiltIn, Entity};
use serde_json::{Map, Value};

/// Puts a source record's keys in the workspace order: the built-ins, the schema's fields in
/// schema order, any other field by name. The same record from any source (API, CSV, seed)
/// then serializes to the same line. Every key is the source's own: a field named like the
/// importer's flags ([`FLAGS_KEY`]) is staged under its escaped key
/// ([`offbase_model::record::staged_key`]), so no source can pass for the importer; an
/// importer adds its flags afterwards, last ([`with_flags`]).
pub fn canonical_record(record: Map<String, Value>, entity: &Entity) -> Map<String, Value> {
    use offbase_model::record::into_staged_key;
    let mut record = record;
    let mut ordered = Map::new();
    for built_in in entity.built_ins() {
        if let Some((key, value)) = record.remove_entry(built_in.field_name()) {
            ordered.insert(key, value);
        }
    }
    for field in &entity.fields {
        if let Some((key, value)) = record.remove_entry(&field.name) {
            ordered.insert(into_staged_key(key), value);
        }
    }
    let mut rest: Vec<(String, Value)> = record
        .into_iter()
        .map(|(key, value)| (into_staged_key(key), value))
        .collect();
    rest.sort_by(|left, right| left.0.cmp(&right.0));
    ordered.extend(rest);
    ordered
}

/// A staged record with the importer's flags (`{field: reason}`), which go last.
pub fn with_flags(mut record: Map<String, Value>, flags: Option<Value>) -> Map<String, Value> {
    if let Some(flags) = flags {
        record.insert(FLAGS_KEY.to_owned(), flags);
    }
    record
}

/// The key of a record in the pull order, when it has both parts as strings.
pub fn record_key(record: &Map<String, Value>) -> Option<RecordKey> {
    Some(RecordKey {
        created_date: record
            .get(BuiltIn::CreatedDate.field_name())?
            .as_str()?
            .to_owned(),
        id: record.get(BuiltIn::Id.field_name())?.as_str()?.to_owned(),
    })
}

/// A record's place in the pull order: its `created_date` as an instant (records without a
/// readable one first), then its id.
pub fn pull_order(record: &Map<String, Value>) -> (Option<i64>, String) {
    let instant = record
        .get(BuiltIn::CreatedDate.field_name())
        .and_then(Value::as_str)
        .and_then(offbase_model::time::parse_timestamp)
        .map(|instant| instant.timestamp_micros());
    let id = record
        .get(BuiltIn::Id.field_name())
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    (instant, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use offbase_model::{Field, FieldKind, SchemaSource, SourceLayout};
    use serde_json::json;

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
            ],
            rls: None,
            extra: Default::default(),
        }
    }

    fn record(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn canonical_order_is_built_ins_fields_rest_flags() {
        let input = record(json!({
            "zeta": 1, "done": true, "alpha": 2,
            "title": "t", "updated_date": "u", "id": "a", "created_date": "c"
        }));
        let flags = Some(json!({"done": "x"}));
        let keys: Vec<String> = with_flags(canonical_record(input, &entity()), flags)
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "created_date",
                "updated_date",
                "title",
                "done",
                "alpha",
                "zeta",
                "_offbase_flags"
            ]
        );
    }

    /// Regression: a source field named `_offbase_flags` was taken for the importer's flags,
    /// and a valid record was rejected as `flagged`.
    #[test]
    fn a_source_field_named_like_the_flags_is_staged_apart_from_them() {
        let input = record(json!({
            "id": "a", "_offbase_flags": {"title": "forged"}, "_offbase_flags_": 1, "zeta": 2
        }));
        let staged = canonical_record(input, &entity());
        assert_eq!(
            Value::Object(staged.clone()),
            json!({"id": "a", "_offbase_flags__": 1, "_offbase_flags_": {"title": "forged"}, "zeta": 2})
        );
        assert!(!staged.contains_key(FLAGS_KEY));
        // Read back, the source's fields are as it wrote them.
        assert_eq!(
            Value::Object(offbase_model::record::source_record(staged)),
            json!({"id": "a", "_offbase_flags": {"title": "forged"}, "_offbase_flags_": 1, "zeta": 2})
        );
    }
}
