//! PostgreSQL's text COPY format, as a bundle's `COPY ... FROM stdin;` blocks carry it: one row a
//! line, columns separated by a tab, `\N` for NULL, and a backslash escaping tab, newline,
//! carriage return and itself. Values are written in the input syntax PostgreSQL reads the same
//! whatever the session's `DateStyle` or `TimeZone` (ISO dates, explicit `+00` offsets).
//!
//! Format reference: <https://www.postgresql.org/docs/current/sql-copy.html> ("Text Format")
//! and "Array Value Input" for array literals.

use super::binary::{Scalar, Slot, cell_kind};
use super::cell::{Cell, POSTGRES_EPOCH_DAYS, POSTGRES_EPOCH_MICROS};
use chrono::{DateTime, Datelike, NaiveDate, Timelike};
use offbase_model::PgType;
use std::fmt::Write as _;

/// Why a row could not be written. On an error the output buffer is left as it was before the
/// row.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error("the row has {found} values but the table has {expected} columns")]
    ColumnCount { expected: usize, found: usize },
    #[error(
        "column type {pg_type} is not supported by COPY encoding (arrays must be one-dimensional)"
    )]
    UnsupportedType { pg_type: String },
    #[error("column {column}: a {found} value does not belong in a {expected} column")]
    Mismatch {
        column: usize,
        expected: String,
        found: &'static str,
    },
    #[error("column {column}: {what} {value} is outside the range PostgreSQL can hold")]
    OutOfRange {
        column: usize,
        what: &'static str,
        value: i64,
    },
}

/// Appends one row (its line, newline included) to `out`.
pub fn encode_row(
    cells: &[Cell<'_>],
    types: &[PgType],
    out: &mut Vec<u8>,
) -> Result<(), TextError> {
    if cells.len() != types.len() {
        return Err(TextError::ColumnCount {
            expected: types.len(),
            found: cells.len(),
        });
    }
    let start = out.len();
    let mut field = String::new();
    for (column, (cell, pg_type)) in cells.iter().zip(types).enumerate() {
        if column > 0 {
            out.push(b'\t');
        }
        if matches!(cell, Cell::Null) {
            out.extend_from_slice(b"\\N");
            continue;
        }
        field.clear();
        let written = Slot::of(pg_type)
            .map_err(|_| TextError::UnsupportedType {
                pg_type: pg_type.to_string(),
            })
            .and_then(|slot| write_value(cell, slot, pg_type, column, &mut field));
        if let Err(error) = written {
            out.truncate(start);
            return Err(error);
        }
        escape_into(&field, out);
    }
    out.push(b'\n');
    Ok(())
}

/// Writes a value's literal (before COPY escaping) into `field`.
fn write_value(
    cell: &Cell<'_>,
    slot: Slot,
    pg_type: &PgType,
    column: usize,
    field: &mut String,
) -> Result<(), TextError> {
    let mismatch = || TextError::Mismatch {
        column,
        expected: pg_type.to_string(),
        found: cell_kind(cell),
    };
    if slot.array {
        let Cell::Array { items, .. } = cell else {
            return Err(mismatch());
        };
        field.push('{');
        let mut item_text = String::new();
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                field.push(',');
            }
            if matches!(item, Cell::Null) {
                field.push_str("NULL");
                continue;
            }
            item_text.clear();
            write_scalar(item, slot.scalar, pg_type, column, &mut item_text)?;
            // Every element is quoted: then only `"` and `\` need escaping, whatever the text.
            field.push('"');
            for character in item_text.chars() {
                if matches!(character, '"' | '\\') {
                    field.push('\\');
                }
                field.push(character);
            }
            field.push('"');
        }
        field.push('}');
        Ok(())
    } else {
        write_scalar(cell, slot.scalar, pg_type, column, field)
    }
}

fn write_scalar(
    cell: &Cell<'_>,
    scalar: Scalar,
    pg_type: &PgType,
    column: usize,
    field: &mut String,
) -> Result<(), TextError> {
    let mismatch = || TextError::Mismatch {
        column,
        expected: pg_type.to_string(),
        found: cell_kind(cell),
    };
    if !scalar.accepts(cell) {
        return Err(mismatch());
    }
    // Writing into a String cannot fail.
    let _ = match cell {
        Cell::Null => {
            field.push_str("NULL");
            Ok(())
        }
        Cell::Bool(value) => {
            field.push(if *value { 't' } else { 'f' });
            Ok(())
        }
        Cell::Int2(value) => write!(field, "{value}"),
        Cell::Int4(value) => write!(field, "{value}"),
        Cell::Int8(value) => write!(field, "{value}"),
        Cell::Float4(value) => write_float(field, f64::from(*value), value.to_string()),
        Cell::Float8(value) => write_float(field, *value, value.to_string()),
        Cell::Numeric(text) => {
            field.push_str(text);
            Ok(())
        }
        Cell::Text(text) => {
            field.push_str(text);
            Ok(())
        }
        Cell::Uuid(bytes) => write_uuid(field, bytes),
        Cell::Timestamp(micros) => {
            write_timestamp(field, *micros, scalar == Scalar::Timestamptz).ok_or(
                TextError::OutOfRange {
                    column,
                    what: "timestamp",
                    value: *micros,
                },
            )?;
            Ok(())
        }
        Cell::Date(days) => {
            write_date(field, *days).ok_or(TextError::OutOfRange {
                column,
                what: "date",
                value: i64::from(*days),
            })?;
            Ok(())
        }
        Cell::Time(micros) => {
            write_time(field, *micros);
            Ok(())
        }
        Cell::Json(document) => {
            field.push_str(&document.to_string());
            Ok(())
        }
        Cell::Array { .. } => return Err(mismatch()),
    };
    Ok(())
}

fn write_float(field: &mut String, value: f64, shortest: String) -> std::fmt::Result {
    if value.is_nan() {
        field.push_str("NaN");
    } else if value.is_infinite() {
        field.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        // Rust prints the shortest text that reads back as the same value, as PostgreSQL
        // (extra_float_digits ≥ 1) does.
        field.push_str(&shortest);
    }
    Ok(())
}

fn write_uuid(field: &mut String, bytes: &[u8; 16]) -> std::fmt::Result {
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            field.push('-');
        }
        write!(field, "{byte:02x}")?;
    }
    Ok(())
}

/// `YYYY-MM-DD`, with ` BC` years as PostgreSQL writes them (year 0 of chrono is 1 BC).
fn write_year_month_day(field: &mut String, date: NaiveDate) -> (bool, std::fmt::Result) {
    let year = date.year();
    let before_christ = year <= 0;
    let shown = if before_christ { 1 - year } else { year };
    let result = write!(field, "{shown:04}-{:02}-{:02}", date.month(), date.day());
    (before_christ, result)
}

fn write_timestamp(field: &mut String, micros: i64, with_zone: bool) -> Option<()> {
    let unix = micros.checked_add(POSTGRES_EPOCH_MICROS)?;
    let instant = DateTime::from_timestamp_micros(unix)?.naive_utc();
    let (before_christ, _) = write_year_month_day(field, instant.date());
    let _ = write!(
        field,
        " {:02}:{:02}:{:02}.{:06}",
        instant.hour(),
        instant.minute(),
        instant.second(),
        instant.nanosecond() / 1_000
    );
    if with_zone {
        field.push_str("+00");
    }
    if before_christ {
        field.push_str(" BC");
    }
    Some(())
}

fn write_date(field: &mut String, days: i32) -> Option<()> {
    let unix_days = days.checked_add(POSTGRES_EPOCH_DAYS)?;
    let date = NaiveDate::from_ymd_opt(1970, 1, 1)?
        .checked_add_signed(chrono::TimeDelta::try_days(i64::from(unix_days))?)?;
    let (before_christ, _) = write_year_month_day(field, date);
    if before_christ {
        field.push_str(" BC");
    }
    Some(())
}

fn write_time(field: &mut String, micros: i64) {
    let micros = micros.clamp(0, super::binary::TIME_MAX_MICROS);
    let seconds = micros / 1_000_000;
    let _ = write!(
        field,
        "{:02}:{:02}:{:02}.{:06}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        micros % 1_000_000
    );
}

/// COPY text escaping: backslash, tab, newline and carriage return are the bytes that would
/// otherwise end or split the field.
fn escape_into(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let mut from = 0;
    for (index, byte) in bytes.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&bytes[from..index]);
        out.extend_from_slice(escaped);
        from = index + 1;
    }
    out.extend_from_slice(&bytes[from..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::borrow::Cow;

    fn line(types: &[PgType], cells: &[Cell<'_>]) -> String {
        let mut out = Vec::new();
        encode_row(cells, types, &mut out).unwrap_or_else(|error| panic!("{error}"));
        String::from_utf8(out).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn scalars_are_written_in_input_syntax() {
        let types = [
            PgType::Boolean,
            PgType::Bigint,
            PgType::DoublePrecision,
            PgType::Numeric(None),
            PgType::Uuid,
            PgType::Timestamptz,
            PgType::Timestamp,
            PgType::Date,
            PgType::Time,
            PgType::Text,
        ];
        let cells = [
            Cell::Bool(true),
            Cell::Int8(i64::MIN),
            Cell::Float8(0.1),
            Cell::Numeric("-12.50".into()),
            Cell::Uuid([
                0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
                0xcd, 0xef,
            ]),
            Cell::Timestamp(1_500_000),
            Cell::Timestamp(-1),
            Cell::Date(-POSTGRES_EPOCH_DAYS),
            Cell::Time(3_723_000_004),
            Cell::Null,
        ];
        assert_eq!(
            line(&types, &cells),
            "t\t-9223372036854775808\t0.1\t-12.50\t12345678-9abc-def0-0123-456789abcdef\t\
             2000-01-01 00:00:01.500000+00\t1999-12-31 23:59:59.999999\t1970-01-01\t\
             01:02:03.000004\t\\N\n"
        );
    }

    #[test]
    fn text_json_and_arrays_are_escaped_for_copy() {
        let document = json!({"path": "a\\b", "note": "tab\there"});
        let element = PgType::Text;
        let types = [
            PgType::Text,
            PgType::Jsonb,
            PgType::Array(Box::new(PgType::Text)),
        ];
        let cells = [
            Cell::Text("line\nnext\r\\ \u{1F600}"),
            Cell::Json(Cow::Owned(document)),
            Cell::Array {
                element: &element,
                items: vec![
                    Cell::Text("say \"hi\", ok"),
                    Cell::Null,
                    Cell::Text("back\\slash"),
                ],
            },
        ];
        assert_eq!(
            line(&types, &cells),
            "line\\nnext\\r\\\\ \u{1F600}\t{\"path\":\"a\\\\\\\\b\",\"note\":\"tab\\\\there\"}\t\
             {\"say \\\\\"hi\\\\\", ok\",NULL,\"back\\\\\\\\slash\"}\n"
        );
    }

    #[test]
    fn years_before_christ_are_marked() {
        let mut field = String::new();
        // 0001-01-01 BC is 730,485 days before 2000-01-01 (chrono's year 0).
        assert_eq!(write_date(&mut field, -730_485), Some(()));
        assert_eq!(field, "0001-01-01 BC");
    }

    #[test]
    fn a_wrong_cell_is_an_error_and_leaves_no_partial_row() {
        let mut out = b"kept\n".to_vec();
        let result = encode_row(
            &[Cell::Text("x"), Cell::Bool(true)],
            &[PgType::Text, PgType::Integer],
            &mut out,
        );
        assert!(matches!(result, Err(TextError::Mismatch { column: 1, .. })));
        assert_eq!(out, b"kept\n");
    }
}
