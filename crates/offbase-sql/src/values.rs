//! Fitting schema values (enum members, defaults) to a column's PostgreSQL type, before they
//! are written as SQL literals. A value that does not fit is refused with a reason, never
//! coerced into something the user did not write.

use offbase_model::PgType;
use serde_json::Value;

/// Fits one scalar value to `pg_type`: a string for text, temporal and enum types, an integer
/// for integer types, a number for floating and numeric types, a boolean for booleans.
pub(crate) fn fit_scalar(value: &Value, pg_type: &PgType) -> Result<Value, String> {
    match pg_type {
        PgType::Text | PgType::Varchar(_) | PgType::Enum(_) => match value {
            Value::String(text) => fit_text(text, pg_type),
            other => Err(format!("{other} is not a string")),
        },
        PgType::Uuid => match value {
            Value::String(text) if is_uuid(text) => Ok(value.clone()),
            other => Err(format!("{other} is not a UUID")),
        },
        PgType::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            other => Err(format!("{other} is not a boolean")),
        },
        PgType::Smallint | PgType::Integer | PgType::Bigint => {
            let (low, high) = pg_type.integer_range().unwrap_or((i64::MIN, i64::MAX));
            let integer = match value {
                Value::Number(number) => number.as_i64().or_else(|| {
                    number
                        .as_f64()
                        .filter(|float| float.fract() == 0.0 && float.abs() < 9.0e15)
                        .map(|float| float as i64)
                }),
                _ => None,
            };
            match integer {
                Some(integer) if (low..=high).contains(&integer) => Ok(Value::from(integer)),
                Some(_) => Err(format!("{value} is out of range for {pg_type}")),
                None => Err(format!("{value} is not an integer")),
            }
        }
        PgType::Real | PgType::DoublePrecision | PgType::Numeric(_) => match value {
            Value::Number(_) => Ok(value.clone()),
            other => Err(format!("{other} is not a number")),
        },
        PgType::Date => temporal(value, is_date, "a date (YYYY-MM-DD)"),
        PgType::Time => temporal(value, is_time, "a time (HH:MM[:SS[.ffffff]])"),
        PgType::Timestamptz | PgType::Timestamp => {
            temporal(value, is_timestamp, "an ISO 8601 timestamp")
        }
        PgType::Jsonb | PgType::Json => Ok(value.clone()),
        PgType::Array(_) => Err("an array column has no scalar values".to_owned()),
    }
}

fn fit_text(text: &str, pg_type: &PgType) -> Result<Value, String> {
    // PostgreSQL text cannot hold NUL, and the SQL writer has no faithful escape for \x1a.
    if text.contains('\0') || text.contains('\u{1a}') {
        return Err(format!(
            "{text:?} holds a control character PostgreSQL text cannot take"
        ));
    }
    if let PgType::Varchar(Some(length)) = pg_type
        && text.chars().count() > *length as usize
    {
        return Err(format!("{text:?} is longer than {length} characters"));
    }
    Ok(Value::String(text.to_owned()))
}

fn temporal(value: &Value, valid: fn(&str) -> bool, what: &str) -> Result<Value, String> {
    match value {
        Value::String(text) if valid(text) => Ok(value.clone()),
        other => Err(format!("{other} is not {what}")),
    }
}

fn digits(text: &str, count: usize) -> Option<u32> {
    if text.len() == count && text.bytes().all(|byte| byte.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

/// `YYYY-MM-DD` with a real month and day.
pub(crate) fn is_date(text: &str) -> bool {
    let mut parts = text.splitn(3, '-');
    let (Some(year), Some(month), Some(day)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Some(year), Some(month), Some(day)) = (digits(year, 4), digits(month, 2), digits(day, 2))
    else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// `HH:MM`, `HH:MM:SS` or `HH:MM:SS.f` (up to 6 fractional digits).
pub(crate) fn is_time(text: &str) -> bool {
    let (clock, fraction) = match text.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (text, None),
    };
    if let Some(fraction) = fraction
        && (fraction.is_empty()
            || fraction.len() > 6
            || !fraction.bytes().all(|byte| byte.is_ascii_digit()))
    {
        return false;
    }
    let parts: Vec<&str> = clock.split(':').collect();
    match parts.as_slice() {
        [hour, minute] if fraction.is_none() => {
            digits(hour, 2).is_some_and(|hour| hour < 24)
                && digits(minute, 2).is_some_and(|minute| minute < 60)
        }
        [hour, minute, second] => {
            digits(hour, 2).is_some_and(|hour| hour < 24)
                && digits(minute, 2).is_some_and(|minute| minute < 60)
                && digits(second, 2).is_some_and(|second| second < 60)
        }
        _ => false,
    }
}

/// An ISO 8601 date-time as Base44 writes them: `T` or a space, optional seconds and
/// fraction, optional `Z` or `±HH:MM` offset.
pub(crate) fn is_timestamp(text: &str) -> bool {
    let Some((date, rest)) = text.split_once(['T', ' ']) else {
        return false;
    };
    if !is_date(date) {
        return false;
    }
    let clock = if let Some(clock) = rest.strip_suffix('Z') {
        clock
    } else if let Some(position) = rest.rfind(['+', '-']) {
        let offset = &rest[position + 1..];
        let valid_offset = match offset.split_once(':') {
            Some((hours, minutes)) => digits(hours, 2).is_some() && digits(minutes, 2).is_some(),
            None => digits(offset, 2).is_some() || digits(offset, 4).is_some(),
        };
        if !valid_offset {
            return false;
        }
        &rest[..position]
    } else {
        rest
    };
    is_time(clock)
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == 5
        && groups.iter().zip(lengths).all(|(group, length)| {
            group.len() == length && group.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_in_every_form_base44_writes() {
        for text in [
            "2026-06-01T09:23:41.481000",
            "2026-06-01T09:23:41.481Z",
            "2026-01-05T12:34:56",
            "2026-01-05T12:34",
            "2026-01-05 12:34:56+02:00",
            "2026-01-05T12:34:56-0500",
        ] {
            assert!(is_timestamp(text), "{text}");
        }
        for text in [
            "2026-02-30T00:00:00",
            "2026-06-01",
            "now",
            "2026-06-01T25:00",
        ] {
            assert!(!is_timestamp(text), "{text}");
        }
    }

    #[test]
    fn values_fit_or_say_why_not() {
        assert_eq!(fit_scalar(&json!(3), &PgType::Bigint), Ok(json!(3)));
        assert_eq!(fit_scalar(&json!(3.0), &PgType::Bigint), Ok(json!(3)));
        assert!(fit_scalar(&json!(3.5), &PgType::Bigint).is_err());
        assert!(fit_scalar(&json!(70000), &PgType::Smallint).is_err());
        assert!(fit_scalar(&json!("3"), &PgType::Bigint).is_err());
        assert!(fit_scalar(&json!(1), &PgType::Text).is_err());
        assert_eq!(
            fit_scalar(&json!("2024-02-29"), &PgType::Date),
            Ok(json!("2024-02-29"))
        );
        assert!(fit_scalar(&json!("2023-02-29"), &PgType::Date).is_err());
        assert!(fit_scalar(&json!("a\u{0}b"), &PgType::Text).is_err());
    }
}
