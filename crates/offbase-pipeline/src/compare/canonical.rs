//! The canonical form records are compared in, by `diff data` and `diff behaviour` alike:
//! timestamps as UTC instants to the microsecond, numbers by value (`1` = `1.0`), JSON
//! objects with their keys sorted, `_extra` folded back into the record, and an absent field
//! equal to a null one.

use crate::PipelineError;
use offbase_model::{BuiltIn, ColumnSource, PgType, Table};
use offbase_pg::range_hash::{self, HashedTable};
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

/// A source record (as the source holds it, not staged) in canonical form, with its id.
pub(crate) fn canonical_source_record(
    record: Map<String, Value>,
    table: &Table,
) -> Option<(String, BTreeMap<String, Value>)> {
    let id = record
        .get(BuiltIn::Id.field_name())
        .and_then(Value::as_str)
        .map(str::to_owned)?;
    let mut canonical = BTreeMap::new();
    for (field, value) in record {
        let pg_type = table.column_for_field(&field).map(|column| &column.pg_type);
        if let Some(value) = canonical_value(&value, pg_type) {
            canonical.insert(field, value);
        }
    }
    Some((id, canonical))
}

/// The target's rows with these ids, canonical, by id: columns back to their fields,
/// `_extra` folded in.
pub(crate) async fn target_records(
    connection: &mut offbase_pg::PgConnection,
    hashed: &HashedTable<'_>,
    table: &Table,
    ids: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, Value>>, PipelineError> {
    let mut records = BTreeMap::new();
    for chunk in ids.chunks(10_000) {
        let rows = range_hash::rows_by_id(
            connection,
            hashed.pg_schema,
            hashed.table,
            hashed.id_column,
            chunk,
        )
        .await?;
        for row in rows {
            if let Some((id, canonical)) = canonical_target_row(row, table) {
                records.insert(id, canonical);
            }
        }
    }
    Ok(records)
}

/// A row (`to_jsonb`) in canonical form, with its id: [`platform_record`], each value then
/// canonical as its column's type reads it.
pub(crate) fn canonical_target_row(
    row: Value,
    table: &Table,
) -> Option<(String, BTreeMap<String, Value>)> {
    let record = platform_record(row, table)?;
    let mut canonical = BTreeMap::new();
    for (field, value) in record {
        let pg_type = table.column_for_field(&field).map(|column| &column.pg_type);
        if let Some(value) = canonical_value(&value, pg_type) {
            canonical.insert(field, value);
        }
    }
    let id = canonical
        .get(BuiltIn::Id.field_name())
        .and_then(Value::as_str)
        .map(str::to_owned)?;
    Some((id, canonical))
}

/// A row (`to_jsonb`) back to the flat record the platform's API answers: each column under
/// its field's name (built-ins included), `_extra`'s fields spread back, a null column left
/// out (a column cannot tell a missing field from a null one, and the platform leaves out
/// what was never set). Timestamps read as the platform returns stored records
/// ([`platform_timestamp`]). `None` for a row that is not an object or has no id. One function
/// for `diff behaviour` and `offbase serve`, so what is compared is what is served.
pub fn platform_record(row: Value, table: &Table) -> Option<Map<String, Value>> {
    let Value::Object(mut row) = row else {
        return None;
    };
    let mut record = Map::new();
    let mut extra = Map::new();
    for column in &table.columns {
        let value = row.remove(&column.name).unwrap_or(Value::Null);
        match (&column.source, column.field.as_deref()) {
            (ColumnSource::Extra, _) => {
                if let Value::Object(fields) = value {
                    extra = fields;
                }
            }
            (_, Some(_)) if value.is_null() => {}
            (_, Some(field)) => {
                let value = match (&column.pg_type, value) {
                    (PgType::Timestamptz | PgType::Timestamp, Value::String(text)) => {
                        Value::String(platform_timestamp(&text).unwrap_or(text))
                    }
                    (_, value) => value,
                };
                record.insert(field.to_owned(), value);
            }
            (_, None) => {}
        }
    }
    // After the columns: a field kept in `_extra` never shadows a column's.
    for (field, value) in extra {
        if !value.is_null() {
            record.entry(field).or_insert(value);
        }
    }
    record.get(BuiltIn::Id.field_name())?.as_str()?;
    Some(record)
}

/// A timestamp as the platform returns a stored one: UTC without `Z`, six fractional digits,
/// no fraction at all when it is zero (Python's `isoformat`, which the stored records show:
/// `2025-11-18T02:15:47`). `None` for text that is not a timestamp.
pub fn platform_timestamp(text: &str) -> Option<String> {
    use chrono::Timelike;
    let instant = offbase_model::time::parse_timestamp(text)?;
    Some(if instant.nanosecond() == 0 {
        instant.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        offbase_model::time::format_stored(instant)
    })
}

/// A value in canonical form, read as a column of `pg_type` would hold it; `None` for null.
pub fn canonical_value(value: &Value, pg_type: Option<&PgType>) -> Option<Value> {
    match (value, pg_type) {
        (Value::Null, _) => None,
        (Value::String(text), Some(PgType::Timestamptz | PgType::Timestamp)) => {
            Some(match offbase_model::time::parse_timestamp(text) {
                Some(instant) => {
                    Value::String(instant.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
                }
                None => value.clone(),
            })
        }
        (Value::String(text), Some(PgType::Time)) => {
            Some(match offbase_model::time::parse_time(text) {
                Some(time) => Value::String(time.format("%H:%M:%S%.6f").to_string()),
                None => value.clone(),
            })
        }
        (Value::Array(items), Some(PgType::Array(element))) => Some(Value::Array(
            items
                .iter()
                .map(|item| canonical_value(item, Some(element)).unwrap_or(Value::Null))
                .collect(),
        )),
        (Value::Array(items), _) => Some(Value::Array(
            items
                .iter()
                .map(|item| canonical_value(item, None).unwrap_or(Value::Null))
                .collect(),
        )),
        (Value::Object(map), _) => {
            // Sorted keys; nulls kept inside documents (jsonb keeps them).
            let mut sorted: Vec<(&String, &Value)> = map.iter().collect();
            sorted.sort_by(|left, right| left.0.cmp(right.0));
            let mut canonical = Map::new();
            for (key, item) in sorted {
                canonical.insert(
                    key.clone(),
                    canonical_value(item, None).unwrap_or(Value::Null),
                );
            }
            Some(Value::Object(canonical))
        }
        (Value::Number(number), _) => Some(Value::Number(canonical_number(number))),
        _ => Some(value.clone()),
    }
}

/// `1`, `1.0` and `1e0` are one number: integral values as integers, the rest as doubles.
fn canonical_number(number: &Number) -> Number {
    if number.is_i64() || number.is_u64() {
        return number.clone();
    }
    match number.as_f64() {
        Some(float) if float.fract() == 0.0 && float.abs() < 9.0e15 => Number::from(float as i64),
        Some(float) => Number::from_f64(float).unwrap_or_else(|| number.clone()),
        None => number.clone(),
    }
}
