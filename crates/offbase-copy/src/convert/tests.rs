//! Tests of record conversion: the importer's flags, a source field named like them, the
//! fast path agreeing with the general one (or stepping aside), and timestamps by the grammar.

use super::*;
use crate::cell::Cell;
use offbase_model::{
    App, Entity, Field, FieldKind, MappingRules, PgType, SchemaSource, SourceLayout, TargetSchema,
};
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// `Note`: `title` (required), `at` (date-time), and `flagged_as`, a field named like the
/// importer's flags when `declare_flags`.
fn note_target(declare_flags: bool) -> TargetSchema {
    let mut fields = vec![Field::new("title", FieldKind::String), {
        let mut at = Field::new("at", FieldKind::String);
        at.format = Some("date-time".into());
        at
    }];
    if let Some(title) = fields.first_mut() {
        title.required = true;
    }
    if declare_flags {
        fields.push(Field::new(FLAGS_KEY, FieldKind::Object));
    }
    let app = App {
        name: "test".into(),
        app_id: None,
        entities: vec![Entity {
            name: "Note".into(),
            source: SchemaSource {
                path: "Note.jsonc".into(),
                layout: SourceLayout::Base44Entities,
            },
            title: None,
            description: None,
            fields,
            rls: None,
            extra: Default::default(),
        }],
    };
    let rules = MappingRules::defaults().unwrap_or_else(|error| panic!("{error}"));
    offbase_sql::plan(&app, &rules).unwrap_or_else(|error| panic!("{error}"))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Both paths on a staged line: the general path's row (or rejection), and the fast path's
/// row when it does not step aside (it must then agree).
fn convert_line(converter: &EntityConverter<'_>, line: &str) -> Result<Vec<String>, Rejection> {
    let record = offbase_model::record::parse_object(line.as_bytes(), 0)
        .unwrap_or_else(|error| panic!("{line}: {error}"));
    let general = converter.convert(&record).map(|converted| {
        converted
            .row
            .iter()
            .map(|cell| format!("{cell:?}"))
            .collect()
    });
    if let Some(slotted) = converter.parse_slotted(line)
        && let Some(converted) = converter.convert_slotted(&slotted)
    {
        let fast: Vec<String> = converted
            .row
            .iter()
            .map(|cell| format!("{cell:?}"))
            .collect();
        assert_eq!(Ok(fast), general, "{line}");
    }
    general
}

/// Regression: a field named `_offbase_flags` in the source was taken for the importer's
/// flags, and the record rejected as `flagged`. Staged under its escaped key, it is an
/// ordinary field: in `_extra` when undeclared, in its column when declared.
#[test]
fn a_source_field_named_like_the_flags_is_an_ordinary_field() {
    let line = r#"{"id":"n1","title":"t","_offbase_flags_":{"title":"forged"}}"#;
    let target = note_target(false);
    let Some(table) = target.table_for_entity("Note") else {
        panic!("no table");
    };
    let converter = EntityConverter::new(&target, table, Relax::default());
    let Ok(row) = convert_line(&converter, line) else {
        panic!("rejected");
    };
    assert_eq!(
        row.last().map(String::as_str),
        Some(
            format!(
                "{:?}",
                Cell::Json(Cow::Owned(json!({FLAGS_KEY: {"title": "forged"}})))
            )
            .as_str()
        )
    );

    let target = note_target(true);
    let Some(table) = target.table_for_entity("Note") else {
        panic!("no table");
    };
    let converter = EntityConverter::new(&target, table, Relax::default());
    let column = table
        .columns
        .iter()
        .position(|column| column.field.as_deref() == Some(FLAGS_KEY));
    let Some(column) = column else {
        panic!("no column for the declared field");
    };
    let Ok(row) = convert_line(&converter, line) else {
        panic!("rejected");
    };
    assert_eq!(
        row.get(column),
        Some(&format!(
            "{:?}",
            Cell::Json(Cow::Owned(json!({"title": "forged"})))
        )),
    );
    assert_eq!(row.last().map(String::as_str), Some("Null"));
}

#[test]
fn the_importers_flags_reject_with_their_reason() {
    let target = note_target(false);
    let Some(table) = target.table_for_entity("Note") else {
        panic!("no table");
    };
    let converter = EntityConverter::new(&target, table, Relax::default());
    let flagged = |line: &str| match convert_line(&converter, line) {
        Ok(row) => panic!("loaded: {row:?}"),
        Err(rejection) => rejection,
    };
    let rejection = flagged(r#"{"id":"n1","title":"x","_offbase_flags":{"title":"not text"}}"#);
    assert_eq!(
        rejection,
        Rejection {
            field: Some("title".into()),
            reason: RejectReason::Flagged,
            message: "title: not text".into(),
            value: Some(Box::new(json!("x"))),
        }
    );
    let rejection = flagged(
        r#"{"id":"n1","title":"x","_offbase_flags":{"title":{"reason":"duplicate_key","message":"twice","value":["w","x"]}}}"#,
    );
    assert_eq!(
        rejection,
        Rejection {
            field: Some("title".into()),
            reason: RejectReason::DuplicateKey,
            message: "title: twice".into(),
            value: Some(Box::new(json!(["w", "x"]))),
        }
    );
}

/// Regression: a repeated key kept its last value silently; the fast path now steps aside
/// (the general path's parser refuses the line and says why).
#[test]
fn the_fast_path_steps_aside_for_a_repeated_key() {
    let target = note_target(false);
    let Some(table) = target.table_for_entity("Note") else {
        panic!("no table");
    };
    let converter = EntityConverter::new(&target, table, Relax::default());
    for line in [
        r#"{"id":"n1","title":"a","title":"b"}"#,
        r#"{"id":"n1","id":"n2","title":"a"}"#,
        r#"{"id":"n1","title":"a","other":1,"other":2}"#,
        r#"{"id":"n1","title":"a","other":{"k":1,"k":2}}"#,
    ] {
        assert!(converter.parse_slotted(line).is_none(), "{line}");
    }
    assert!(
        converter
            .parse_slotted(r#"{"id":"n1","title":"a","other":{"k":1}}"#)
            .is_some()
    );
}

/// Regression: timestamps outside PostgreSQL's grammar were loaded (`+99:00`, `2024-1-1`)
/// and 7-digit fractions cut instead of rounded.
#[test]
fn timestamps_follow_the_grammar_and_round_like_postgresql() {
    let pg_type = PgType::Timestamptz;
    for bad in [
        "2024-01-01T00:00:00+99:00",
        "2024-1-1",
        "2024-1-1T00:00:00Z",
    ] {
        let value = json!(bad);
        let failure = convert_value(&value, &pg_type).err();
        assert_eq!(
            failure.map(|failure| failure.reason),
            Some(RejectReason::WrongType),
            "{bad}"
        );
    }
    let value = json!("2000-01-01T00:00:00.1234565Z");
    assert_eq!(
        convert_value(&value, &pg_type),
        Ok(Cell::Timestamp(123_456))
    );
    let value = json!("2000-01-01T00:00:00.1234575Z");
    assert_eq!(
        convert_value(&value, &pg_type),
        Ok(Cell::Timestamp(123_458))
    );
    let value = json!("2024-1-1");
    assert!(convert_value(&value, &PgType::Date).is_err());
    let record = object(json!({"id": "n1", "title": "t", "at": "2024-01-01T00:00:00+99:00"}));
    let target = note_target(false);
    let Some(table) = target.table_for_entity("Note") else {
        panic!("no table");
    };
    let converter = EntityConverter::new(&target, table, Relax::default());
    let rejection = converter.convert(&record).err();
    assert_eq!(
        rejection.map(|rejection| (rejection.field, rejection.reason, rejection.value)),
        Some((
            Some("at".to_owned()),
            RejectReason::WrongType,
            Some(Box::new(json!("2024-01-01T00:00:00+99:00")))
        ))
    );
}

/// `numeric(p, s)` keeps a number exactly or refuses it: PostgreSQL would round the decimals
/// or overflow.
#[test]
fn numbers_fit_numeric_precision_and_scale_or_are_refused() {
    let pg_type = PgType::Numeric(Some((5, 2)));
    for (number, fits) in [
        ("123.45", true),
        ("-999.99", true),
        ("0.0", true),
        ("100", true),
        ("123.456", false),
        ("1234.5", false),
        ("1e-7", false),
        ("1e21", false),
    ] {
        let value: Value = serde_json::from_str(number).unwrap_or_else(|error| panic!("{error}"));
        let converted = convert_value(&value, &pg_type);
        assert_eq!(converted.is_ok(), fits, "{number}: {converted:?}");
        if !fits {
            assert_eq!(
                converted.err().map(|failure| failure.reason),
                Some(RejectReason::OutOfRange),
                "{number}"
            );
        }
    }
}
