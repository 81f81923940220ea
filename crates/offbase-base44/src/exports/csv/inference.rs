//! A schema inferred from an export when the app has none for its entity: the narrowest type
//! every value of a column shares, conservatively (zip codes and phone numbers stay text, enums
//! are never guessed), marked with [`INFERRED_KEY`].

use super::outcome::INFERRED_KEY;
use super::read::Row;
use super::typing::{
    IntegerText, is_missing_json, parse_boolean, parse_integer, parse_json_cell, parse_number,
};
use offbase_model::time::{parse_date, parse_timestamp};
use offbase_model::{Entity, Field, FieldKind, SchemaSource, SourceLayout};
use serde_json::Value;
use std::collections::BTreeMap;

/// A schema for the non-system columns, from their non-missing values.
pub(super) fn infer_entity(
    entity: &str,
    file: &str,
    keys: &[String],
    system: &[&str],
    rows: &[Row],
) -> Entity {
    let fields = keys
        .iter()
        .enumerate()
        .filter(|(_, key)| !system.contains(&key.as_str()))
        .map(|(index, key)| {
            let values: Vec<&str> = rows
                .iter()
                .filter(|row| row.invalid.is_none())
                .filter_map(|row| row.cells.get(index))
                .map(String::as_str)
                .filter(|value| !is_missing_json(value))
                .collect();
            infer_field(key, &values)
        })
        .collect();
    Entity {
        name: entity.to_owned(),
        source: SchemaSource {
            path: file.to_owned(),
            layout: SourceLayout::Direct,
        },
        title: None,
        description: None,
        fields,
        rls: None,
        extra: BTreeMap::from([(INFERRED_KEY.to_owned(), Value::Bool(true))]),
    }
}

/// The narrowest type all values share: boolean, integer, number, date-time, date, array (with
/// items when their elements share a scalar type), object, else string. Never an enum.
fn infer_field(name: &str, values: &[&str]) -> Field {
    let all = |test: &dyn Fn(&str) -> bool| !values.is_empty() && values.iter().all(|v| test(v));
    if all(&|value| parse_boolean(value).is_some()) {
        return Field::new(name, FieldKind::Boolean);
    }
    if all(&|value| {
        plain_number_text(value) && matches!(parse_integer(value, false), IntegerText::Integer(_))
    }) {
        return Field::new(name, FieldKind::Integer);
    }
    if all(&|value| {
        plain_number_text(value)
            && parse_integer(value, false) != IntegerText::OutOfRange
            && parse_number(value).is_some()
    }) {
        return Field::new(name, FieldKind::Number);
    }
    for (format, test) in [
        (
            "date-time",
            (|value: &str| parse_timestamp(value).is_some()) as fn(&str) -> bool,
        ),
        ("date", |value: &str| parse_date(value).is_some()),
    ] {
        if all(&test) {
            let mut field = Field::new(name, FieldKind::String);
            field.format = Some(format.to_owned());
            return field;
        }
    }
    let arrays: Option<Vec<Vec<Value>>> = values
        .iter()
        .map(|value| match parse_json_cell(value) {
            Some(Value::Array(items)) => Some(items),
            _ => None,
        })
        .collect();
    if let Some(arrays) = arrays.filter(|arrays| !arrays.is_empty()) {
        let mut field = Field::new(name, FieldKind::Array);
        let elements: Vec<&Value> = arrays.iter().flatten().collect();
        field.items =
            scalar_kind(&elements).map(|kind| Box::new(Field::new(format!("{name}[]"), kind)));
        return field;
    }
    if all(&|value| matches!(parse_json_cell(value), Some(Value::Object(_)))) {
        return Field::new(name, FieldKind::Object);
    }
    Field::new(name, FieldKind::String)
}

/// A number written the way a program writes one: optional `-`, no leading zero, no `+`, no
/// surrounding space. Only such columns are inferred as numbers, so that codes like zip codes
/// (`02134`), phone numbers (`+4915...`) and ids too long for 64 bits stay text and lose nothing.
fn plain_number_text(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let whole = body.split(['.', 'e', 'E']).next().unwrap_or(body);
    !whole.is_empty()
        && whole.bytes().all(|byte| byte.is_ascii_digit())
        && !(whole.len() > 1 && whole.starts_with('0'))
}

/// The scalar type every element has, if any (integers and other numbers together: number).
fn scalar_kind(elements: &[&Value]) -> Option<FieldKind> {
    if elements.is_empty() {
        None
    } else if elements.iter().all(|value| value.is_string()) {
        Some(FieldKind::String)
    } else if elements.iter().all(|value| value.is_boolean()) {
        Some(FieldKind::Boolean)
    } else if elements.iter().all(|value| value.is_i64()) {
        Some(FieldKind::Integer)
    } else if elements.iter().all(|value| value.is_number()) {
        Some(FieldKind::Number)
    } else {
        None
    }
}
