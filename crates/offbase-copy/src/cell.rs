//! Cells: a record's values converted to the PostgreSQL type of their column, ready for an
//! encoder (binary COPY for a live load, text COPY for a bundle) or for the content hash that
//! compares a workspace with a loaded table. A cell borrows from the record it came from.

use chrono::{DateTime, NaiveDate, NaiveTime, Timelike, Utc};
use offbase_model::PgType;
use serde_json::Value;
use std::borrow::Cow;

/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01T00:00:00Z).
pub const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days between 1970-01-01 and 2000-01-01.
pub const POSTGRES_EPOCH_DAYS: i32 = 10_957;

/// One value of one column, typed for that column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float4(f32),
    Float8(f64),
    /// `numeric`, as decimal text: an optional `-`, digits, an optional `.` and digits, an
    /// optional exponent (`1e-7`), as serde_json prints a number.
    Numeric(String),
    /// `text`, `varchar` and enum labels.
    Text(&'a str),
    Uuid([u8; 16]),
    /// `timestamptz` and `timestamp`: microseconds since 2000-01-01T00:00:00 (UTC).
    Timestamp(i64),
    /// Days since 2000-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// `jsonb` and `json`: the document, serialized by the encoder.
    Json(Cow<'a, Value>),
    /// A one-dimensional array; `element` is the column's element type (for the element OID
    /// in binary COPY and the literal syntax in text COPY). Items are cells of that type or
    /// `Null`.
    Array {
        element: &'a PgType,
        items: Vec<Cell<'a>>,
    },
}

// Where a value read with `offbase_model::time` lands in PostgreSQL's representation: the one
// place the epochs above are applied on the way in.
impl Cell<'_> {
    /// A `timestamptz` or `timestamp` cell of `instant` (UTC).
    pub fn from_instant(instant: DateTime<Utc>) -> Self {
        Cell::Timestamp(instant.timestamp_micros() - POSTGRES_EPOCH_MICROS)
    }

    /// A `date` cell of `date`.
    pub fn from_date(date: NaiveDate) -> Self {
        Cell::Date(offbase_model::time::days_since_unix_epoch(date) - POSTGRES_EPOCH_DAYS)
    }

    /// A `time` cell of `time`, to the microsecond.
    pub fn from_time(time: NaiveTime) -> Self {
        Cell::Time(
            i64::from(time.num_seconds_from_midnight()) * 1_000_000
                + i64::from(time.nanosecond() / 1_000),
        )
    }
}
