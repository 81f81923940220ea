//! Cells as the JSON PostgreSQL's `jsonb_populate_record` reads back into the same values:
//! a row written one statement at a time (`offbase serve`'s writes) goes through the
//! converter the load uses, then travels as one `jsonb` parameter. Scalars PostgreSQL parses
//! from text (timestamps, dates, times, numerics, uuids) are strings in its input syntax;
//! arrays are JSON arrays (populated element by element); `jsonb` values are themselves.

use crate::cell::{Cell, POSTGRES_EPOCH_DAYS, POSTGRES_EPOCH_MICROS};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime};
use serde_json::{Map, Value};

/// The JSON of one cell.
pub fn cell_json(cell: &Cell<'_>) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Bool(value) => Value::Bool(*value),
        Cell::Int2(value) => Value::from(*value),
        Cell::Int4(value) => Value::from(*value),
        Cell::Int8(value) => Value::from(*value),
        // Not finite values never come from JSON input; `null` would be the only spelling.
        Cell::Float4(value) => Value::from(f64::from(*value)),
        Cell::Float8(value) => Value::from(*value),
        Cell::Numeric(text) => Value::String(text.clone()),
        Cell::Text(text) => Value::String((*text).to_owned()),
        Cell::Uuid(bytes) => Value::String(uuid_text(bytes)),
        Cell::Timestamp(micros) => Value::String(timestamp_text(*micros)),
        Cell::Date(days) => Value::String(date_text(*days)),
        Cell::Time(micros) => Value::String(time_text(*micros)),
        Cell::Json(value) => value.as_ref().clone(),
        Cell::Array { items, .. } => Value::Array(items.iter().map(cell_json).collect()),
    }
}

/// A row as a JSON object by column name (`names` and `cells` in table order).
pub fn row_json<'a>(names: impl IntoIterator<Item = &'a str>, cells: &[Cell<'_>]) -> Value {
    let mut row = Map::new();
    for (name, cell) in names.into_iter().zip(cells) {
        row.insert(name.to_owned(), cell_json(cell));
    }
    Value::Object(row)
}

fn timestamp_text(micros: i64) -> String {
    let unix = micros.saturating_add(POSTGRES_EPOCH_MICROS);
    match DateTime::from_timestamp_micros(unix) {
        Some(instant) => instant.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => String::new(),
    }
}

fn date_text(days: i32) -> String {
    let unix_days = i64::from(days) + i64::from(POSTGRES_EPOCH_DAYS);
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_signed(Duration::days(unix_days)))
        .map(|date| date.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn time_text(micros: i64) -> String {
    let seconds = u32::try_from(micros.div_euclid(1_000_000)).unwrap_or_default();
    let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1_000).unwrap_or_default();
    NaiveTime::from_num_seconds_from_midnight_opt(seconds, nanos)
        .map(|time| time.format("%H:%M:%S%.6f").to_string())
        // 24:00:00, which PostgreSQL's time holds and chrono's does not.
        .unwrap_or_else(|| "24:00:00".to_owned())
}

fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use offbase_model::PgType;

    #[test]
    fn cells_read_back_as_postgresql_input_text() {
        let instant = DateTime::parse_from_rfc3339("2025-11-18T02:15:47.123456Z")
            .map(|instant| instant.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(
            cell_json(&Cell::from_instant(instant)),
            "2025-11-18T02:15:47.123456Z"
        );
        let date = NaiveDate::from_ymd_opt(1999, 12, 31).unwrap_or_default();
        assert_eq!(cell_json(&Cell::from_date(date)), "1999-12-31");
        let time = NaiveTime::from_hms_micro_opt(9, 5, 0, 250).unwrap_or_default();
        assert_eq!(cell_json(&Cell::from_time(time)), "09:05:00.000250");
        assert_eq!(cell_json(&Cell::Time(86_400_000_000)), "24:00:00");
        assert_eq!(
            cell_json(&Cell::Uuid([
                0xa8, 0x98, 0xcf, 0x98, 0x6e, 0xde, 0x43, 0x19, 0x9f, 0xf8, 0x20, 0xde, 0x68, 0xe1,
                0xb2, 0x9f
            ])),
            "a898cf98-6ede-4319-9ff8-20de68e1b29f"
        );
        assert_eq!(cell_json(&Cell::Numeric("1e-7".to_owned())), "1e-7");
        let element = PgType::Text;
        assert_eq!(
            cell_json(&Cell::Array {
                element: &element,
                items: vec![Cell::Text("a"), Cell::Null]
            }),
            serde_json::json!(["a", null])
        );
        assert_eq!(
            row_json(["a", "b"], &[Cell::Int8(7), Cell::Null]),
            serde_json::json!({"a": 7, "b": null})
        );
    }
}
