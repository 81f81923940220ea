//! One JSON value to a cell of a PostgreSQL type, or why it does not convert: strings,
//! integers in range, numbers that `numeric(p, s)` keeps exactly, UUIDs, and timestamps,
//! dates and times read with the one grammar of `offbase_model::time`.

use super::RejectReason;
use crate::binary::Decimal;
use crate::cell::Cell;
use offbase_model::PgType;
use serde_json::Value;
use std::borrow::Cow;

/// Why a value does not convert to a type.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvertFailure {
    pub reason: RejectReason,
    pub message: String,
}

fn wrong_type(value: &Value, expected: &str) -> ConvertFailure {
    ConvertFailure {
        reason: RejectReason::WrongType,
        message: format!("{} is not {expected}", shorten(&value.to_string(), 200)),
    }
}

fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(limit).collect();
        format!("{cut}...")
    }
}

/// Converts one JSON value to a cell of `pg_type`. `null` is `Cell::Null` for every type.
pub fn convert_value<'a>(
    value: &'a Value,
    pg_type: &'a PgType,
) -> Result<Cell<'a>, ConvertFailure> {
    if value.is_null() {
        return Ok(Cell::Null);
    }
    match pg_type {
        PgType::Text | PgType::Enum(_) => text(value).map(Cell::Text),
        PgType::Varchar(limit) => {
            let text = text(value)?;
            if let Some(limit) = limit
                && text.chars().count() > *limit as usize
            {
                return Err(ConvertFailure {
                    reason: RejectReason::TooLong,
                    message: format!(
                        "{} characters is longer than varchar({limit}) allows",
                        text.chars().count()
                    ),
                });
            }
            Ok(Cell::Text(text))
        }
        PgType::Uuid => value
            .as_str()
            .and_then(parse_uuid)
            .map(Cell::Uuid)
            .ok_or_else(|| wrong_type(value, "a UUID")),
        PgType::Boolean => value
            .as_bool()
            .map(Cell::Bool)
            .ok_or_else(|| wrong_type(value, "a boolean")),
        PgType::Smallint | PgType::Integer | PgType::Bigint => {
            let integer = integer(value).ok_or_else(|| wrong_type(value, "an integer"))?;
            let out_of_range = || ConvertFailure {
                reason: RejectReason::OutOfRange,
                message: format!("{value} is out of the range of {pg_type}"),
            };
            match pg_type {
                PgType::Smallint => i16::try_from(integer)
                    .map(Cell::Int2)
                    .map_err(|_| out_of_range()),
                PgType::Integer => i32::try_from(integer)
                    .map(Cell::Int4)
                    .map_err(|_| out_of_range()),
                _ => i64::try_from(integer)
                    .map(Cell::Int8)
                    .map_err(|_| out_of_range()),
            }
        }
        PgType::Real => {
            let number = value
                .as_f64()
                .ok_or_else(|| wrong_type(value, "a number"))?;
            let single = number as f32;
            if single.is_finite() {
                Ok(Cell::Float4(single))
            } else {
                Err(ConvertFailure {
                    reason: RejectReason::OutOfRange,
                    message: format!("{value} is out of the range of real"),
                })
            }
        }
        PgType::DoublePrecision => value
            .as_f64()
            .map(Cell::Float8)
            .ok_or_else(|| wrong_type(value, "a number")),
        PgType::Numeric(precision) => match value {
            Value::Number(number) => {
                let text = number.to_string();
                if let Some((precision, scale)) = precision {
                    check_numeric_fits(&text, *precision, *scale)?;
                }
                Ok(Cell::Numeric(text))
            }
            other => Err(wrong_type(other, "a number")),
        },
        PgType::Timestamptz | PgType::Timestamp => value
            .as_str()
            .and_then(offbase_model::time::parse_timestamp)
            .map(Cell::from_instant)
            .ok_or_else(|| wrong_type(value, "an ISO 8601 timestamp")),
        PgType::Date => value
            .as_str()
            .and_then(offbase_model::time::parse_date)
            .map(Cell::from_date)
            .ok_or_else(|| wrong_type(value, "a date (YYYY-MM-DD)")),
        PgType::Time => value
            .as_str()
            .and_then(offbase_model::time::parse_time)
            .map(Cell::from_time)
            .ok_or_else(|| wrong_type(value, "a time (HH:MM[:SS[.ffffff]])")),
        PgType::Jsonb => {
            if holds_nul(value) {
                return Err(ConvertFailure {
                    reason: RejectReason::NulCharacter,
                    message: "holds a NUL character (\\u0000), which jsonb cannot store".into(),
                });
            }
            Ok(Cell::Json(Cow::Borrowed(value)))
        }
        PgType::Json => Ok(Cell::Json(Cow::Borrowed(value))),
        PgType::Array(element) => {
            let Value::Array(items) = value else {
                return Err(wrong_type(value, &format!("an array ({pg_type})")));
            };
            let mut cells = Vec::with_capacity(items.len());
            for (position, item) in items.iter().enumerate() {
                if item.is_array() {
                    return Err(ConvertFailure {
                        reason: RejectReason::WrongType,
                        message: format!(
                            "element {} is a nested array; {pg_type} holds one dimension",
                            position + 1
                        ),
                    });
                }
                let cell = convert_value(item, element).map_err(|failure| ConvertFailure {
                    reason: failure.reason,
                    message: format!("element {}: {}", position + 1, failure.message),
                })?;
                cells.push(cell);
            }
            Ok(Cell::Array {
                element,
                items: cells,
            })
        }
    }
}

fn text(value: &Value) -> Result<&str, ConvertFailure> {
    match value {
        Value::String(text) => {
            if text.contains('\0') {
                Err(ConvertFailure {
                    reason: RejectReason::NulCharacter,
                    message: "holds a NUL character (\\u0000), which PostgreSQL text cannot store"
                        .into(),
                })
            } else {
                Ok(text)
            }
        }
        other => Err(wrong_type(other, "a string")),
    }
}

/// An integer value: a JSON integer, or a number with no fraction (`3.0`) that is exact.
fn integer(value: &Value) -> Option<i128> {
    let Value::Number(number) = value else {
        return None;
    };
    if let Some(integer) = number.as_i64() {
        return Some(i128::from(integer));
    }
    if let Some(integer) = number.as_u64() {
        return Some(i128::from(integer));
    }
    let float = number.as_f64()?;
    // Beyond 2^53 a float no longer names one integer: refuse rather than guess.
    (float.fract() == 0.0 && float.abs() <= 9_007_199_254_740_992.0).then_some(float as i128)
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        _ => false,
    }
}

/// A UUID in its canonical form (`8-4-4-4-12` hex digits, either case), as its 16 bytes. The
/// one UUID grammar: the planner checks schema values with it too.
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut nibbles = 0usize;
    for (position, &byte) in bytes.iter().enumerate() {
        if matches!(position, 8 | 13 | 18 | 23) {
            if byte != b'-' {
                return None;
            }
            continue;
        }
        let digit = (byte as char).to_digit(16)? as u8;
        let slot = out.get_mut(nibbles / 2)?;
        *slot = (*slot << 4) | digit;
        nibbles += 1;
    }
    (nibbles == 32).then_some(out)
}

/// Refuses a number that `numeric(precision, scale)` would round or overflow: PostgreSQL
/// rounds extra decimals silently, which would change the value. `text` is a number as
/// serde_json prints it, read with the one decimal grammar, [`Decimal`].
fn check_numeric_fits(text: &str, precision: u32, scale: u32) -> Result<(), ConvertFailure> {
    let out_of_range = |message: String| ConvertFailure {
        reason: RejectReason::OutOfRange,
        message,
    };
    let decimal = Decimal::parse(text).map_err(|reason| {
        out_of_range(format!(
            "{text} cannot be a numeric({precision},{scale}): {reason}"
        ))
    })?;
    // Digits after the point down to the last non-zero one, and before it from the first
    // non-zero one; none for zero.
    let (fraction_digits, whole_digits) = match decimal.significant() {
        Some((_, count, lowest)) => ((-lowest).max(0), (count as i64 + lowest).max(0)),
        None => (0, 0),
    };
    if fraction_digits > i64::from(scale) {
        return Err(out_of_range(format!(
            "{text} has more than {scale} decimal places: numeric({precision},{scale}) would round it"
        )));
    }
    if whole_digits > i64::from(precision) - i64::from(scale) {
        return Err(out_of_range(format!(
            "{text} is too large for numeric({precision},{scale})"
        )));
    }
    Ok(())
}
