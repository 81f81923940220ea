//! Typing cells: each header column gets a rule (the platform's columns as the platform types
//! them, schema fields by their declared type and format, other columns as text), each cell is
//! typed by its column's rule or kept as text and flagged, and a row becomes a record in the
//! platform's key order. Also the value readers (booleans, integers, numbers, JSON cells in
//! their plain and double-escaped forms) that inference shares.

use super::outcome::CellFlag;
use super::read::{Row, unique_key};
use crate::EXACT_FLOAT_INTEGER;
use crate::exports::system_fields;
use offbase_model::record::FLAGS_KEY;
use offbase_model::time::{format_stored, parse_date, parse_time, parse_timestamp};
use offbase_model::{BuiltIn, Entity, Field, FieldKind};
use serde_json::{Map, Number, Value};
use std::collections::HashSet;

/// Platform columns that hold booleans; every other platform column but the timestamps is text.
const SYSTEM_BOOLEANS: [&str; 5] = [
    "is_sample",
    "disabled",
    "is_service",
    "is_verified",
    "force_password_reset",
];

/// Built-ins the platform types whatever a schema says.
fn is_record_built_in(name: &str) -> bool {
    BuiltIn::RECORD
        .iter()
        .any(|built_in| built_in.field_name() == name)
}

/// How the cells of one column are typed.
#[derive(Debug)]
pub(super) enum Rule<'a> {
    /// `id`: text; an empty one is flagged.
    Id,
    /// `created_date` / `updated_date`: rewritten in the stored form.
    Timestamp,
    /// A platform boolean (`is_sample`, `disabled`, ...).
    SystemBoolean,
    /// Any other platform column: text, empty → absent.
    SystemText,
    /// A field of the schema (given or inferred).
    Field(&'a Field),
    /// A column the schema does not declare: text, empty → absent.
    Undeclared,
}

/// One header column: its record key, its typing rule and its rank in record key order.
#[derive(Debug)]
pub(super) struct Column<'a> {
    pub(super) key: String,
    pub(super) rule: Rule<'a>,
    /// (group, position): 0 system columns by platform order, 1 schema fields by schema order,
    /// 2 other columns by header position, 3 cells beyond the header by position.
    pub(super) rank: (u8, usize),
}

/// The typed value of one cell.
#[derive(Debug)]
pub(super) enum Typed {
    Value(Value),
    Absent,
    /// Kept as the raw text, flagged with this reason.
    Flagged(String),
}

pub(super) fn plan_columns<'a>(
    keys: &[String],
    schema: &'a Entity,
    is_user: bool,
) -> Vec<Column<'a>> {
    let system = system_fields(is_user);
    keys.iter()
        .enumerate()
        .map(|(index, key)| {
            let declared = schema
                .fields
                .iter()
                .enumerate()
                .find(|(_, field)| field.name == *key);
            let (rule, rank) = match system.iter().position(|name| name == key) {
                Some(position) => {
                    let rule = match (key.as_str(), declared) {
                        ("id", _) => Rule::Id,
                        ("created_date" | "updated_date", _) => Rule::Timestamp,
                        (name, Some((_, field))) if !is_record_built_in(name) => Rule::Field(field),
                        (name, _) if SYSTEM_BOOLEANS.contains(&name) => Rule::SystemBoolean,
                        _ => Rule::SystemText,
                    };
                    (rule, (0, position))
                }
                None => match declared {
                    Some((position, field)) => (Rule::Field(field), (1, position)),
                    None => (Rule::Undeclared, (2, index)),
                },
            };
            Column {
                key: key.clone(),
                rule,
                rank,
            }
        })
        .collect()
}

/// Warnings about how the header and the schema differ.
pub(super) fn schema_warnings(
    file: &str,
    line: u64,
    columns: &[Column<'_>],
    schema: &Entity,
    system: &[&str],
    warnings: &mut Vec<String>,
) {
    let undeclared: Vec<&str> = columns
        .iter()
        .filter(|column| matches!(column.rule, Rule::Undeclared))
        .map(|column| column.key.as_str())
        .collect();
    if !undeclared.is_empty() {
        warnings.push(format!(
            "{file}:{line}: columns not in the schema of `{}`, kept as text: {}",
            schema.name,
            undeclared.join(", ")
        ));
    }
    let missing: Vec<&str> = schema
        .fields
        .iter()
        .map(|field| field.name.as_str())
        .filter(|name| !system.contains(name) && !columns.iter().any(|column| column.key == *name))
        .collect();
    if !missing.is_empty() {
        warnings.push(format!(
            "{file}:{line}: schema fields with no column (absent from every record): {}",
            missing.join(", ")
        ));
    }
}

/// One data row as a record, with the flags of its cells.
pub(super) fn read_row(
    row: &Row,
    columns: &[Column<'_>],
    header_keys: &HashSet<&str>,
    has_id_column: bool,
) -> (Map<String, Value>, Vec<CellFlag>) {
    // (rank, key, value) and (rank, key, raw, reason), sorted by rank before use.
    let mut entries: Vec<((u8, usize), String, Value)> = Vec::new();
    let mut flagged: Vec<((u8, usize), String, String, String)> = Vec::new();
    let mut id_cell = false;
    for (column, raw) in columns.iter().zip(&row.cells) {
        if matches!(column.rule, Rule::Id) {
            id_cell = true;
        }
        match type_cell(&column.rule, raw) {
            Typed::Value(value) => entries.push((column.rank, column.key.clone(), value)),
            Typed::Absent => {}
            Typed::Flagged(reason) => {
                entries.push((column.rank, column.key.clone(), Value::String(raw.clone())));
                flagged.push((column.rank, column.key.clone(), raw.clone(), reason));
            }
        }
    }
    if !id_cell {
        let reason = if has_id_column {
            "no id (the row ends before the id column)"
        } else {
            "no id (the file has no id column)"
        };
        flagged.push(((0, 0), "id".to_owned(), String::new(), reason.to_owned()));
    }
    for (index, raw) in row.cells.iter().enumerate().skip(columns.len()) {
        // An empty cell beyond the header (a trailing comma) holds nothing to keep.
        if raw.is_empty() {
            continue;
        }
        let key = unique_key(format!("_extra_cell_{}", index + 1), |key| {
            header_keys.contains(key)
        });
        let reason = format!(
            "cell beyond the header: the row has {} cells, the header {}",
            row.cells.len(),
            columns.len()
        );
        entries.push(((3, index), key.clone(), Value::String(raw.clone())));
        flagged.push(((3, index), key, raw.clone(), reason));
    }

    entries.sort_by_key(|(rank, _, _)| *rank);
    flagged.sort_by_key(|(rank, _, _, _)| *rank);
    let mut record = Map::new();
    for (_, key, value) in entries {
        record.insert(key, value);
    }
    let id = match record.get("id") {
        Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
        _ => None,
    };
    let mut flags = Vec::with_capacity(flagged.len());
    if !flagged.is_empty() {
        let mut reasons = Map::new();
        for (_, field, raw, reason) in flagged {
            reasons.insert(field.clone(), Value::String(reason.clone()));
            flags.push(CellFlag {
                line: row.line,
                id: id.clone(),
                field,
                raw,
                reason,
            });
        }
        record.insert(FLAGS_KEY.to_owned(), Value::Object(reasons));
    }
    (record, flags)
}

pub(super) fn row_length_warning(
    file: &str,
    row: &Row,
    header_length: usize,
    record: &Map<String, Value>,
) -> String {
    let count = row.cells.len();
    let what = if count < header_length {
        "the missing cells are absent".to_owned()
    } else {
        let kept: Vec<&str> = record
            .keys()
            .filter(|key| key.starts_with("_extra_cell_"))
            .map(String::as_str)
            .collect();
        if kept.is_empty() {
            "the cells beyond it are empty".to_owned()
        } else {
            format!(
                "the cells beyond it are kept as {} and flagged",
                kept.join(", ")
            )
        }
    };
    format!(
        "{file}:{}: the row has {count} cells, the header {header_length}: {what}",
        row.line
    )
}

/// Missing-value markers: an empty cell, and the literals mid-2025 exports write for missing
/// values.
fn is_missing(raw: &str) -> bool {
    raw.is_empty() || raw == "null" || raw == "undefined"
}

/// Missing-value markers of a JSON cell: those of [`is_missing`], and `""` (two quotes: an empty
/// string written double-escaped), which no array or object field can hold.
pub(super) fn is_missing_json(raw: &str) -> bool {
    is_missing(raw) || raw == "\"\""
}

fn type_cell(rule: &Rule<'_>, raw: &str) -> Typed {
    match rule {
        Rule::Id if raw.is_empty() => Typed::Flagged("no id".to_owned()),
        Rule::Id => Typed::Value(Value::String(raw.to_owned())),
        Rule::Timestamp if is_missing(raw) => Typed::Absent,
        Rule::Timestamp => match parse_timestamp(raw) {
            Some(instant) => Typed::Value(Value::String(format_stored(instant))),
            None => Typed::Flagged("expected a date-time".to_owned()),
        },
        Rule::SystemBoolean => boolean_cell(raw),
        Rule::SystemText | Rule::Undeclared if raw.is_empty() => Typed::Absent,
        Rule::SystemText | Rule::Undeclared => Typed::Value(Value::String(raw.to_owned())),
        Rule::Field(field) => field_cell(field, raw),
    }
}

pub(super) fn field_cell(field: &Field, raw: &str) -> Typed {
    match &field.kind {
        FieldKind::Boolean => boolean_cell(raw),
        FieldKind::Integer => integer_cell(raw),
        FieldKind::Number => number_cell(raw),
        FieldKind::String => string_cell(field, raw),
        // Never seen in real apps: kept as text.
        FieldKind::Binary => Typed::Value(Value::String(raw.to_owned())),
        FieldKind::Array => json_cell(raw, Some(Shape::Array)),
        FieldKind::Object => json_cell(raw, Some(Shape::Object)),
        FieldKind::Any | FieldKind::Unknown(_) => json_cell(raw, None),
        FieldKind::Union(types) => union_cell(types, raw),
    }
}

fn boolean_cell(raw: &str) -> Typed {
    if is_missing(raw) {
        return Typed::Absent;
    }
    match parse_boolean(raw) {
        Some(value) => Typed::Value(Value::Bool(value)),
        None => Typed::Flagged("expected true or false".to_owned()),
    }
}

fn integer_cell(raw: &str) -> Typed {
    if is_missing(raw) {
        return Typed::Absent;
    }
    match parse_integer(raw, true) {
        IntegerText::Integer(value) => Typed::Value(Value::from(value)),
        IntegerText::OutOfRange => {
            Typed::Flagged("integer out of the 64-bit range (or too large to read exactly)".into())
        }
        IntegerText::NotInteger => Typed::Flagged("expected an integer".to_owned()),
    }
}

fn number_cell(raw: &str) -> Typed {
    if is_missing(raw) {
        return Typed::Absent;
    }
    match parse_number(raw) {
        Some(number) => Typed::Value(Value::Number(number)),
        None => Typed::Flagged("expected a number".to_owned()),
    }
}

/// A parser test for a string format, and the reason given when a text fails it.
type FormatCheck = (fn(&str) -> bool, &'static str);

fn string_cell(field: &Field, raw: &str) -> Typed {
    let check: Option<FormatCheck> = match field.format.as_deref() {
        Some("date-time") => Some((
            |text| parse_timestamp(text).is_some(),
            "expected a date-time",
        )),
        Some("date") => Some((
            |text| parse_date(text).is_some(),
            "expected a date (YYYY-MM-DD)",
        )),
        Some("time") => Some((
            |text| parse_time(text).is_some(),
            "expected a time (HH:MM or HH:MM:SS)",
        )),
        _ => None,
    };
    match check {
        Some(_) if is_missing(raw) => Typed::Absent,
        Some((parses, _)) if parses(raw) => Typed::Value(Value::String(raw.to_owned())),
        Some((_, reason)) => Typed::Flagged(reason.to_owned()),
        None if raw.is_empty() && is_closed_enum(field) => Typed::Absent,
        None => Typed::Value(Value::String(raw.to_owned())),
    }
}

/// A field with an `enum` that does not list the empty string: an empty cell is no choice.
fn is_closed_enum(field: &Field) -> bool {
    field.enum_values.as_ref().is_some_and(|values| {
        !values.is_empty() && !values.iter().any(|value| value.as_str() == Some(""))
    })
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Shape {
    Array,
    Object,
}

pub(super) fn json_cell(raw: &str, shape: Option<Shape>) -> Typed {
    if is_missing_json(raw) {
        return Typed::Absent;
    }
    let expected = match shape {
        Some(Shape::Array) => "a JSON array",
        Some(Shape::Object) => "a JSON object",
        None => "JSON",
    };
    match parse_json_cell(raw) {
        None => Typed::Flagged(format!("expected {expected}, found text that is not JSON")),
        Some(value) => {
            if let Some(duplicate) = repeated_key_in_cell(raw) {
                return Typed::Flagged(duplicate.message().replace("the record", "the value"));
            }
            let fits = match shape {
                Some(Shape::Array) => value.is_array(),
                Some(Shape::Object) => value.is_object(),
                None => true,
            };
            if fits {
                Typed::Value(value)
            } else {
                Typed::Flagged(format!(
                    "expected {expected}, found {}",
                    offbase_model::json_kind(&value)
                ))
            }
        }
    }
}

/// A field declared with several types (`["string", "number"]`): the JSON value when its type
/// is one of them, else the text when `string` is one of them, else flagged.
pub(super) fn union_cell(types: &[String], raw: &str) -> Typed {
    if is_missing_json(raw) {
        return Typed::Absent;
    }
    if let Some(value) = parse_json_cell(raw)
        && types.iter().any(|name| json_has_type(&value, name))
    {
        if let Some(duplicate) = repeated_key_in_cell(raw) {
            return Typed::Flagged(duplicate.message().replace("the record", "the value"));
        }
        return Typed::Value(value);
    }
    if types.iter().any(|name| name == "string") {
        return Typed::Value(Value::String(raw.to_owned()));
    }
    Typed::Flagged(format!("expected a value of type {}", types.join(" or ")))
}

fn json_has_type(value: &Value, name: &str) -> bool {
    match name {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading values

pub(super) fn parse_boolean(text: &str) -> Option<bool> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[derive(Debug, PartialEq)]
pub(super) enum IntegerText {
    Integer(i64),
    OutOfRange,
    NotInteger,
}

/// An integer text: digits with an optional sign; with `loose`, also a zero fraction (`12.0`)
/// and an exponent form of an exact integer (`1e3`).
pub(super) fn parse_integer(text: &str, loose: bool) -> IntegerText {
    let text = text.trim();
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits = whole.strip_prefix(['+', '-']).unwrap_or(whole);
    let plain = !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit());
    let zero_fraction = match fraction {
        None => true,
        Some(fraction) => {
            loose && !fraction.is_empty() && fraction.bytes().all(|byte| byte == b'0')
        }
    };
    if plain && zero_fraction {
        return whole
            .parse::<i64>()
            .map_or(IntegerText::OutOfRange, IntegerText::Integer);
    }
    if !loose {
        return IntegerText::NotInteger;
    }
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value.fract() == 0.0 => {
            if value.abs() <= EXACT_FLOAT_INTEGER {
                // Exact: an integral f64 within 2^53 converts without loss.
                IntegerText::Integer(value as i64)
            } else {
                IntegerText::OutOfRange
            }
        }
        _ => IntegerText::NotInteger,
    }
}

/// A number text: integers stay integers, anything else finite is an `f64`.
pub(super) fn parse_number(text: &str) -> Option<Number> {
    let text = text.trim();
    match parse_integer(text, false) {
        IntegerText::Integer(value) => return Some(Number::from(value)),
        IntegerText::OutOfRange => {
            if let Ok(value) = text.parse::<u64>() {
                return Some(Number::from(value));
            }
        }
        IntegerText::NotInteger => {}
    }
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    Number::from_f64(value)
}

/// JSON in a cell: as it is after CSV unquoting, or, when that fails and the text still holds
/// `""` pairs, the mid-2025 double-escaped form with each `""` read as `"`.
pub(super) fn parse_json_cell(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok().or_else(|| {
        text.contains("\"\"")
            .then(|| serde_json::from_str(&text.replace("\"\"", "\"")).ok())
            .flatten()
    })
}

/// The first key an object of a JSON cell repeats (read as [`parse_json_cell`] reads it):
/// JSON keeps one of the values silently, so such a cell is flagged, not typed.
fn repeated_key_in_cell(text: &str) -> Option<offbase_model::record::DuplicateKey> {
    use offbase_model::record::parse_value_collecting;
    let found = match parse_value_collecting(text) {
        Ok((_, found)) => found,
        Err(_) => parse_value_collecting(&text.replace("\"\"", "\""))
            .map(|(_, found)| found)
            .ok()?,
    };
    found.into_iter().next()
}
