//! The SDK's `aggregate(spec)` (`@base44/sdk` 0.8.50: `POST .../entities/{Entity}/aggregate`
//! with the spec as the body): the spec read and checked against the entity's schema
//! ([`AggregateSpec::parse`]), and its evaluation over records held in memory ([`evaluate`],
//! or [`Groups`] fed one record at a time, which keeps only the groups). The answer is
//! [`AggregateResult`]: `{"rows": [...], "truncated": bool}`. Pure: no I/O. The emulator
//! evaluates specs here; `offbase_sql::aggregate` translates the same [`AggregateSpec`] to one
//! PostgreSQL `SELECT ... GROUP BY`, and [`AggregateSpec::finish`] shapes its rows alike.
//!
//! What the SDK documents: `query` (a filter, as `filter()` takes), `groupBy` (a field or up to
//! four), `dateBucket {field, unit}` (`created_date`/`updated_date` by `day`, `week`, `month`
//! or `year`; date fields of the schema by `day`, `month` or `year`), `count` (default `true`),
//! `sum`/`avg`/`min`/`max` (a field or fields, as `sum_<field>` ...), `countDistinct` (as
//! `count_distinct_<field>`), `having` (a filter on the computed fields), `sort` (a computed or
//! group field, `-` for descending), `limit` (up to 1000, default 1000); the server groups the
//! records the caller can read. What it leaves open is decided here, the same for the emulator
//! and `offbase serve`:
//!
//! - **Rows.** One per group: the date bucket first (under the name of `dateBucket.field`),
//!   then the `groupBy` fields in the order given (each under its own name, dotted paths
//!   included), then `count`, the `sum_`, `avg_`, `min_`, `max_` and `count_distinct_` fields,
//!   each kind in the order given. Without `groupBy` and `dateBucket`: exactly one row, the
//!   total, even over no records (`count` 0).
//! - **The bucket** is the first day of the period, as an ISO date text (`2025-09-01` for the
//!   month of September 2025), computed in UTC: a timestamp is taken to UTC first, a date is its
//!   own day. A week starts on Monday (ISO 8601). A value that reads as no date (missing,
//!   null, not a date text) falls in the `null` bucket. `week` on a date field of the schema is
//!   refused, as documented; a field of format `date-time` of the schema counts as a date field.
//! - **Group values.** Null and missing make one group, whose key is `null`. Values group as
//!   the filter's equality sees them (`1` and `1.0` together; two texts of one instant
//!   together, under the first one met in id order). An array groups as the whole array (it is
//!   not unwound).
//! - **Numbers.** `sum` adds the values that are JSON numbers and ignores the others (text,
//!   booleans, null, missing): the field must be declared `number` or `integer`, but stored
//!   records may break their schema, and a sum over such data should not fail. A sum of no
//!   numbers is `0` (MongoDB's `$sum`). `avg` of no numbers is `null`. `min`/`max` ignore
//!   null and missing and order values as the filter does ([`compare_values`]); they take
//!   `number`, `integer` and `string` fields only. `count_distinct_` counts the distinct
//!   non-null values. Every number in a row is written as an integer when it is integral and
//!   within ±2^53 (`6` rather than `6.0`), else as a float ([`normalize_number`]), so both
//!   backends answer the same JSON.
//! - **Order.** Without `sort`: by the group keys ascending, in row order (bucket, then the
//!   `groupBy` fields), nulls first, values ordered as the filter orders them
//!   ([`compare_values`]). With `sort`: by that row field (nulls first ascending, last
//!   descending), ties by the group keys ascending. `sort` and `having` name row fields only.
//! - **Limit.** A whole number from 1; above 1000 it is cut to 1000, as the list cut is silent.
//!   `truncated` is true when more groups (after `having`) exist than `limit` let through.
//! - **Errors** (400, naming what is wrong): a body that is no JSON object; a key the spec does
//!   not have; a value of the wrong type; a field the entity does not have (declared fields,
//!   the built-ins, and for dotted paths a first segment that is an object or free JSON field);
//!   more than four `groupBy` fields; a field listed twice; `sum`/`avg` on a field that is not
//!   `number`/`integer`; `min`/`max` on one that is not `number`/`integer`/`string`;
//!   `dateBucket` on a field that is not a date; a unit that is not `day`, `week`, `month`,
//!   `year`; two row fields of one name (a `groupBy` field called `count`, the bucket field in
//!   `groupBy` too); `having` or `sort` on a name that is not a row field; an invalid filter.
//! - A `null` value of a spec key is the key left out (`JSON.stringify` keeps `null`).
//!
//! [`compare_values`]: crate::query::compare_values
//! [`evaluate`]: fn@evaluate

use crate::query::{Filter, QueryError, Sort, instant};
use chrono::{Datelike, NaiveDate};
use serde_json::{Map, Value};

mod evaluate;
mod parse;
#[cfg(test)]
mod tests;

pub use evaluate::{Groups, evaluate};

/// The most `groupBy` fields.
pub const MAX_GROUP_FIELDS: usize = 4;
/// The most rows one aggregate answers, and the default `limit`.
pub const MAX_LIMIT: usize = 1000;

/// A record, as held in memory.
type Record = Map<String, Value>;

/// The period of a [`DateBucket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketUnit {
    Day,
    /// ISO weeks, from Monday.
    Week,
    Month,
    Year,
}

impl BucketUnit {
    /// The unit as the spec (and PostgreSQL's `date_trunc`) names it.
    pub fn key(self) -> &'static str {
        match self {
            BucketUnit::Day => "day",
            BucketUnit::Week => "week",
            BucketUnit::Month => "month",
            BucketUnit::Year => "year",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "day" => BucketUnit::Day,
            "week" => BucketUnit::Week,
            "month" => BucketUnit::Month,
            "year" => BucketUnit::Year,
            _ => return None,
        })
    }

    /// The first day of the period holding `date`.
    pub fn start(self, date: NaiveDate) -> NaiveDate {
        match self {
            BucketUnit::Day => date,
            BucketUnit::Week => date
                .checked_sub_days(chrono::Days::new(u64::from(
                    date.weekday().num_days_from_monday(),
                )))
                .unwrap_or(date),
            BucketUnit::Month => date.with_day(1).unwrap_or(date),
            BucketUnit::Year => date.with_ordinal(1).unwrap_or(date),
        }
    }
}

/// `dateBucket`: group by the period a date field's value falls in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateBucket {
    pub field: String,
    pub unit: BucketUnit,
}

impl DateBucket {
    /// The bucket of a field value: the first day of its period, in UTC, as `YYYY-MM-DD`;
    /// `null` for a value that reads as no date or timestamp.
    pub fn key(&self, value: Option<&Value>) -> Value {
        let Some(Value::String(text)) = value else {
            return Value::Null;
        };
        let Some((seconds, nanos)) = instant(text) else {
            return Value::Null;
        };
        match chrono::DateTime::from_timestamp(seconds, nanos) {
            Some(moment) => Value::String(
                self.unit
                    .start(moment.date_naive())
                    .format("%Y-%m-%d")
                    .to_string(),
            ),
            None => Value::Null,
        }
    }
}

/// What a measure computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Function {
    Sum,
    Avg,
    Min,
    Max,
    CountDistinct,
}

impl Function {
    /// In row order.
    pub const ALL: [Function; 5] = [
        Function::Sum,
        Function::Avg,
        Function::Min,
        Function::Max,
        Function::CountDistinct,
    ];

    /// The spec key.
    pub fn key(self) -> &'static str {
        match self {
            Function::Sum => "sum",
            Function::Avg => "avg",
            Function::Min => "min",
            Function::Max => "max",
            Function::CountDistinct => "countDistinct",
        }
    }

    /// The prefix of the row field.
    pub fn prefix(self) -> &'static str {
        match self {
            Function::Sum => "sum_",
            Function::Avg => "avg_",
            Function::Min => "min_",
            Function::Max => "max_",
            Function::CountDistinct => "count_distinct_",
        }
    }
}

/// One computed field: `function` over `field`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    pub function: Function,
    pub field: String,
}

impl Measure {
    /// Its row field: `sum_<field>` ...
    pub fn name(&self) -> String {
        format!("{}{}", self.function.prefix(), self.field)
    }
}

/// An aggregate spec, read and checked against the entity ([`AggregateSpec::parse`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateSpec {
    /// The records taken (`query`); [`Filter::all`] without one.
    pub query: Filter,
    /// `groupBy`, in the order given.
    pub group_by: Vec<String>,
    pub date_bucket: Option<DateBucket>,
    /// Whether rows carry `count`.
    pub count: bool,
    /// The computed fields other than `count`, in row order (sums, averages, minimums,
    /// maximums, distinct counts; each kind in the order given).
    pub measures: Vec<Measure>,
    /// On the rows, after grouping.
    pub having: Option<Filter>,
    /// On a row field.
    pub sort: Option<Sort>,
    /// From 1 to [`MAX_LIMIT`].
    pub limit: usize,
}

/// Why a spec was refused (a 400, naming what is wrong).
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    #[error("the aggregate spec must be a JSON object, found {found}")]
    NotAnObject { found: &'static str },
    #[error(
        "unknown key `{key}` in the aggregate spec: the keys are query, groupBy, dateBucket, \
         count, sum, avg, min, max, countDistinct, having, sort and limit"
    )]
    UnknownKey { key: String },
    #[error("`{key}` must be {expected}, found {found}")]
    InvalidValue {
        key: String,
        expected: &'static str,
        found: String,
    },
    #[error("`{key}` names `{field}`, which is no field of {entity}")]
    UnknownField {
        key: String,
        field: String,
        entity: String,
    },
    #[error("`groupBy` takes at most {MAX_GROUP_FIELDS} fields, found {count}")]
    TooManyGroupFields { count: usize },
    #[error("`{key}` lists `{field}` twice")]
    Repeated { key: String, field: String },
    #[error("`{key}` needs a field of type {expected}; `{field}` is {kind}")]
    WrongKind {
        key: String,
        field: String,
        expected: &'static str,
        kind: String,
    },
    #[error(
        "`dateBucket.field` must be a date field (created_date, updated_date, or a field of \
         format date or date-time); `{field}` is not"
    )]
    NotADateField { field: String },
    #[error(
        "`dateBucket.unit` must be day, week, month or year, found {unit}{}",
        if *.date_field { " (a date field of the schema takes day, month or year)" } else { "" }
    )]
    InvalidUnit { unit: String, date_field: bool },
    #[error("two row fields are named `{name}`: rename a group field or leave one out")]
    NameClash { name: String },
    #[error("`{key}` names `{name}`, which is not a field of the rows (they hold {available})")]
    NotARowField {
        key: String,
        name: String,
        available: String,
    },
    #[error("invalid `{key}`: {source}")]
    Filter {
        key: &'static str,
        #[source]
        source: QueryError,
    },
}

impl AggregateSpec {
    /// The group keys' row fields, in row order: the bucket's, then the `groupBy` fields.
    pub fn keys(&self) -> Vec<&str> {
        self.date_bucket
            .iter()
            .map(|bucket| bucket.field.as_str())
            .chain(self.group_by.iter().map(String::as_str))
            .collect()
    }

    /// Every row field, in row order.
    pub fn output_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.keys().into_iter().map(str::to_owned).collect();
        if self.count {
            names.push("count".to_owned());
        }
        names.extend(self.measures.iter().map(Measure::name));
        names
    }

    /// Rows computed elsewhere (by PostgreSQL: ordered, filtered by `having`, at most
    /// `limit + 1` of them) as the answer: each row's fields in row order (missing ones null),
    /// numbers as [`normalize_number`] writes them, at most `limit` rows, `truncated` when
    /// there were more.
    pub fn finish(&self, rows: Vec<Map<String, Value>>) -> AggregateResult {
        let names = self.output_names();
        let truncated = rows.len() > self.limit;
        let rows = rows
            .into_iter()
            .take(self.limit)
            .map(|mut row| {
                names
                    .iter()
                    .map(|name| {
                        let value = row.remove(name).unwrap_or(Value::Null);
                        (name.clone(), normalize_number(value))
                    })
                    .collect()
            })
            .collect();
        AggregateResult { rows, truncated }
    }
}

/// An aggregate's answer: `{"rows": [...], "truncated": bool}`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateResult {
    pub rows: Vec<Map<String, Value>>,
    /// More groups existed than `limit` let through.
    pub truncated: bool,
}

impl AggregateResult {
    /// The answer's JSON.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert(
            "rows".to_owned(),
            Value::Array(self.rows.iter().cloned().map(Value::Object).collect()),
        );
        body.insert("truncated".to_owned(), Value::Bool(self.truncated));
        Value::Object(body)
    }
}

/// The largest integer every `f64` integer up to is exact (2^53).
const EXACT: f64 = crate::EXACT_FLOAT_INTEGER;

/// A number as rows write it: integral and within ±2^53, an integer (`6`, not `6.0`);
/// otherwise as it is. Anything else is returned unchanged.
pub fn normalize_number(value: Value) -> Value {
    match &value {
        Value::Number(number) if number.as_i64().is_none() && number.as_u64().is_none() => {
            match number.as_f64() {
                // Integral and within ±2^53, so the cast is exact.
                Some(float) if float.fract() == 0.0 && float.abs() <= EXACT => {
                    Value::from(float as i64)
                }
                _ => value,
            }
        }
        _ => value,
    }
}
