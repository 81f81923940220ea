//! Fitting schema values (enum members, defaults) to a column's PostgreSQL type, before they
//! are written as SQL literals. A value that does not fit is refused with a reason, never
//! coerced into something the user did not write.

use offbase_model::PgType;
use serde_json::Value;

/// Fits one scalar value to `pg_type`: a string for text, temporal and enum types, an integer
/// for integer types, a number for floating and numeric types, a boolean for booleans.
pub fn fit_scalar(value: &Value, pg_type: &PgType) -> Result<Value, String> {
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

// One grammar for every temporal value offbase reads (records and schema values alike): the
// one in `offbase_model::time`, whose forms PostgreSQL reads as the same value.

/// `YYYY-MM-DD` with a real month and day.
pub(crate) fn is_date(text: &str) -> bool {
    offbase_model::time::parse_date(text).is_some()
}

/// `hh:mm`, `hh:mm:ss` or `hh:mm:ss.f`.
pub(crate) fn is_time(text: &str) -> bool {
    offbase_model::time::parse_time(text).is_some()
}

/// An ISO 8601 date-time as Base44 writes them: `T` or a space, optional seconds and
/// fraction, optional `Z` or an offset up to ±15:59.
pub(crate) fn is_timestamp(text: &str) -> bool {
    offbase_model::time::parse_timestamp(text).is_some()
}

/// The load's UUID grammar, so a DEFAULT is refused exactly when a record value would be.
fn is_uuid(text: &str) -> bool {
    offbase_copy::convert::parse_uuid(text).is_some()
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
        // Regression: an offset beyond ±15:59 or a one-digit month passed, and PostgreSQL then
        // refused the whole plan over one DEFAULT.
        for text in [
            "2026-02-30T00:00:00",
            "2026-06-01",
            "now",
            "2026-06-01T25:00",
            "2024-01-01T00:00:00+99:00",
            "2024-1-1T00:00:00",
        ] {
            assert!(!is_timestamp(text), "{text}");
        }
        assert!(!is_date("2024-1-1"));
        assert!(!is_time("9:30"));
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
