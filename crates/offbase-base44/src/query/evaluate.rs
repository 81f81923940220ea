//! Evaluating the AST against records held in memory: whether a record matches a [`Filter`],
//! how two records order by a [`Sort`], and the value order both rely on ([`compare_values`]):
//! numbers numerically, strings that read as instants ([`instant`]) by instant, the rest by
//! kind and then by value.

use super::ast::{Condition, Filter, Operator, Sort};
use super::regex::Regex;
use offbase_model::time::{parse_date, parse_timestamp};
use serde_json::{Map, Value};
use std::cmp::Ordering;

impl Filter {
    /// Whether `record` satisfies the filter.
    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        match self {
            Filter::And(filters) => filters.iter().all(|filter| filter.matches(record)),
            Filter::Or(filters) => filters.iter().any(|filter| filter.matches(record)),
            Filter::Nor(filters) => !filters.iter().any(|filter| filter.matches(record)),
            Filter::Field { path, condition } => condition.matches(resolve(record, path)),
        }
    }
}

/// The value at a dotted path, `None` when missing (or when a step is not an object).
fn resolve<'a>(record: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut segments = path.split('.');
    let mut current = record.get(segments.next()?)?;
    for segment in segments {
        current = current.as_object()?.get(segment)?;
    }
    Some(current)
}

impl Condition {
    fn matches(&self, field: Option<&Value>) -> bool {
        match self {
            Condition::Eq(target) => equals(field, target),
            Condition::Ops(operators) => operators.iter().all(|operator| operator.matches(field)),
        }
    }
}

impl Operator {
    fn matches(&self, field: Option<&Value>) -> bool {
        match self {
            Operator::Eq(target) => equals(field, target),
            Operator::Ne(target) => !equals(field, target),
            Operator::Gt(target) => compares(field, target, Ordering::is_gt),
            Operator::Gte(Value::Null) | Operator::Lte(Value::Null) => equals(field, &Value::Null),
            Operator::Gte(target) => compares(field, target, Ordering::is_ge),
            Operator::Lt(target) => compares(field, target, Ordering::is_lt),
            Operator::Lte(target) => compares(field, target, Ordering::is_le),
            Operator::In(targets) => targets.iter().any(|target| equals(field, target)),
            Operator::Nin(targets) => !targets.iter().any(|target| equals(field, target)),
            Operator::Exists(exists) => field.is_some() == *exists,
            Operator::Regex { pattern, options } => match Regex::new(pattern, options) {
                Ok(regex) => any_element(field, |value| {
                    value.as_str().is_some_and(|text| regex.is_match(text))
                }),
                Err(_) => false,
            },
            Operator::Not(condition) => !condition.matches(field),
            Operator::All(targets) => {
                !targets.is_empty() && targets.iter().all(|target| equals(field, target))
            }
            Operator::Size(size) => {
                matches!(field, Some(Value::Array(items)) if items.len() as u64 == *size)
            }
        }
    }
}

/// Whether the field's value, or for an array field one of its elements, satisfies `test`.
fn any_element(field: Option<&Value>, test: impl Fn(&Value) -> bool) -> bool {
    match field {
        None => false,
        Some(value) => {
            test(value) || matches!(value, Value::Array(items) if items.iter().any(&test))
        }
    }
}

fn equals(field: Option<&Value>, target: &Value) -> bool {
    match field {
        None => target.is_null(),
        Some(_) => any_element(field, |value| values_equal(value, target)),
    }
}

fn compares(field: Option<&Value>, target: &Value, accept: fn(Ordering) -> bool) -> bool {
    any_element(field, |value| {
        compare_same_kind(value, target).is_some_and(accept)
    })
}

/// Equality consistent with [`compare_values`]: numbers numerically, timestamps by instant,
/// arrays element by element, objects by key regardless of key order.
fn values_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(left), Value::Bool(right)) => left == right,
        (Value::Number(left), Value::Number(right)) => compare_numbers(left, right).is_eq(),
        (Value::String(left), Value::String(right)) => compare_strings(left, right).is_eq(),
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right)
                    .all(|(left, right)| values_equal(left, right))
        }
        (Value::Object(left), Value::Object(right)) => {
            left.len() == right.len()
                && left.iter().all(|(key, left)| {
                    right
                        .get(key)
                        .is_some_and(|right| values_equal(left, right))
                })
        }
        _ => false,
    }
}

/// The order `$gt` and friends use: numbers, strings and booleans with their own kind only.
fn compare_same_kind(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => Some(compare_numbers(left, right)),
        (Value::String(left), Value::String(right)) => Some(compare_strings(left, right)),
        (Value::Bool(left), Value::Bool(right)) => Some(left.cmp(right)),
        _ => None,
    }
}

/// Strings: as instants when both read as timestamps, else by code point.
fn compare_strings(left: &str, right: &str) -> Ordering {
    if left == right {
        return Ordering::Equal;
    }
    match (instant(left), instant(right)) {
        (Some(left), Some(right)) => left.cmp(&right),
        _ => left.cmp(right),
    }
}

fn compare_numbers(left: &serde_json::Number, right: &serde_json::Number) -> Ordering {
    match (exact_integer(left), exact_integer(right)) {
        (Some(left), Some(right)) => left.cmp(&right),
        _ => {
            let left = left.as_f64().unwrap_or(f64::NAN);
            let right = right.as_f64().unwrap_or(f64::NAN);
            left.total_cmp(&right)
        }
    }
}

/// The number as an exact integer: any `i64`/`u64`, or an integral float of moderate size.
fn exact_integer(number: &serde_json::Number) -> Option<i128> {
    if let Some(integer) = number.as_i64() {
        return Some(i128::from(integer));
    }
    if let Some(integer) = number.as_u64() {
        return Some(i128::from(integer));
    }
    let float = number.as_f64()?;
    // Integral and below 2^100 in magnitude, so the cast is exact.
    (float.fract() == 0.0 && float.abs() < 1.267_650_600_228_229_4e30).then_some(float as i128)
}

// ---------------------------------------------------------------------------------------------
// Ordering and sorting
// ---------------------------------------------------------------------------------------------

/// A total order over JSON values, for sorting and keyset paging: null, then numbers
/// (numerically), then strings, then booleans (`false` first), then arrays (element by element,
/// then by length), then objects (entries by key, then by length). Among strings, those that
/// read as timestamps come first, ordered by instant; the others follow by code point.
/// Returns `Equal` exactly when the values are equal as a filter's equality sees them.
pub fn compare_values(left: &Value, right: &Value) -> Ordering {
    let rank = |value: &Value| match value {
        Value::Null => 0,
        Value::Number(_) => 1,
        Value::String(_) => 2,
        Value::Bool(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    };
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => compare_numbers(left, right),
        (Value::String(left), Value::String(right)) => {
            if left == right {
                return Ordering::Equal;
            }
            match (instant(left), instant(right)) {
                (Some(left), Some(right)) => left.cmp(&right),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => left.cmp(right),
            }
        }
        (Value::Bool(left), Value::Bool(right)) => left.cmp(right),
        (Value::Array(left), Value::Array(right)) => left
            .iter()
            .zip(right)
            .map(|(left, right)| compare_values(left, right))
            .find(|order| order.is_ne())
            .unwrap_or_else(|| left.len().cmp(&right.len())),
        (Value::Object(left), Value::Object(right)) => {
            let (left, right) = (sorted_entries(left), sorted_entries(right));
            left.iter()
                .zip(&right)
                .map(|((left_key, left), (right_key, right))| {
                    left_key
                        .cmp(right_key)
                        .then_with(|| compare_values(left, right))
                })
                .find(|order| order.is_ne())
                .unwrap_or_else(|| left.len().cmp(&right.len()))
        }
        _ => rank(left).cmp(&rank(right)),
    }
}

fn sorted_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|left, right| left.0.cmp(right.0));
    entries
}

impl Sort {
    /// Compares two records by the sort field with [`compare_values`] (a missing field counts
    /// as null, so it comes first ascending and last descending). Ties are `Equal`: callers add
    /// their own tiebreak (usually `id`).
    pub fn compare(&self, left: &Map<String, Value>, right: &Map<String, Value>) -> Ordering {
        let left = resolve(left, &self.field).unwrap_or(&Value::Null);
        let right = resolve(right, &self.field).unwrap_or(&Value::Null);
        let order = compare_values(left, right);
        if self.descending {
            order.reverse()
        } else {
            order
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Instants
// ---------------------------------------------------------------------------------------------

/// The instant a string stands for, to the filter and the sort, as (seconds since
/// 1970-01-01T00:00:00Z, nanoseconds); `None` when it stands for none, and it is then compared
/// as text. A translation of filters and sorts to SQL must read operands with this function.
///
/// The grammar is the workspace's one, [`offbase_model::time::parse_timestamp`] (what the load
/// puts in a timestamp column: rounded to the microsecond, offsets up to 15:59), with one
/// addition on purpose: a date alone (`2026-06-01`, [`parse_date`]) is an instant too, its
/// midnight UTC. A query compares date-time fields with date operands
/// (`{"created_date": {"$gte": "2026-06-01"}}`) and date fields with date-time operands, and
/// the SQL translation reads the operands of `date` columns with this function; the model's
/// timestamp grammar refuses a date alone, because a load must not guess a time.
pub fn instant(text: &str) -> Option<(i64, u32)> {
    let moment = parse_timestamp(text)
        .or_else(|| Some(parse_date(text)?.and_hms_opt(0, 0, 0)?.and_utc()))?;
    Some((moment.timestamp(), moment.timestamp_subsec_nanos()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One grammar: an instant is what the model's timestamp grammar reads, or a date alone.
    #[test]
    fn instants_are_the_models_timestamps_or_a_date_alone() {
        let model = |text: &str| {
            parse_timestamp(text)
                .map(|moment| (moment.timestamp(), moment.timestamp_subsec_nanos()))
        };
        for text in [
            "2026-06-01T09:23:41.481000",
            "2026-06-01T09:23:41.481Z",
            " 2026-06-01T09:23:41Z ",
            "2026-06-01T09:23:41.1234565Z",
            "2026-06-01T09:23:41+15:59",
            "2026-06-01T09:23:41+16:00",
            "0000-01-01T00:00:00Z",
            "2026-06-01",
            "nope",
        ] {
            let expected = model(text).or_else(|| {
                let midnight = parse_date(text)?.and_hms_opt(0, 0, 0)?.and_utc();
                Some((midnight.timestamp(), 0))
            });
            assert_eq!(instant(text), expected, "{text:?}");
        }
        assert_eq!(
            instant("2026-06-01T09:23:41.1234565Z").map(|(_, nanos)| nanos),
            Some(123_456_000)
        );
        assert_eq!(instant("2026-06-01T09:23:41+16:00"), None);
        assert_eq!(instant(" 2026-06-01 "), instant("2026-06-01T00:00:00Z"));
    }

    #[test]
    fn instants_of_every_form() {
        assert_eq!(instant("1970-01-01"), Some((0, 0)));
        assert_eq!(instant("1970-01-02T00:00:01Z"), Some((86_401, 0)));
        assert_eq!(instant("1969-12-31T23:59:59"), Some((-1, 0)));
        assert_eq!(instant("2000-03-01"), Some((951_868_800, 0)));
        assert_eq!(
            instant("2026-06-01T09:23:41.481000"),
            instant("2026-06-01T09:23:41.481Z")
        );
        assert_eq!(
            instant("2026-06-01T09:23:41.5"),
            Some((1_780_305_821, 500_000_000))
        );
        assert_eq!(
            instant("2026-06-01T11:23:41+02:00"),
            instant("2026-06-01T09:23:41Z")
        );
        assert_eq!(
            instant("2026-06-01T07:23-0200"),
            instant("2026-06-01T09:23:00")
        );
        assert_eq!(
            instant("2026-06-01 09:23:41"),
            instant("2026-06-01T09:23:41")
        );
        assert_eq!(
            instant("2026-06-01T09:23:41.123456789123"),
            instant("2026-06-01T09:23:41.123456789")
        );
        assert_eq!(instant("2024-02-29"), Some((1_709_164_800, 0)));
    }

    #[test]
    fn not_instants() {
        for text in [
            "",
            "2026",
            "2026-06",
            "2026-6-01",
            "2026-13-01",
            "2025-02-29",
            "2026-04-31",
            "2026-06-01T",
            "2026-06-01T9:23",
            "2026-06-01T24:00",
            "2026-06-01T09:60",
            "2026-06-01T09:23:61",
            "2026-06-01T09:23:41.",
            "2026-06-01T09:23:41Zx",
            "2026-06-01T09:23:41+2",
            "2026-06-01Z",
            "hello",
            "２０２６-06-01",
        ] {
            assert_eq!(instant(text), None, "{text}");
        }
    }

    #[test]
    fn numbers_compare_exactly() {
        let number = |value: Value| match value {
            Value::Number(number) => number,
            _ => serde_json::Number::from(0),
        };
        let cases = [
            (
                serde_json::json!(1),
                serde_json::json!(1.0),
                Ordering::Equal,
            ),
            (
                serde_json::json!(-1),
                serde_json::json!(-0.5),
                Ordering::Less,
            ),
            (
                serde_json::json!(u64::MAX),
                serde_json::json!(i64::MAX),
                Ordering::Greater,
            ),
            (
                serde_json::json!(9_007_199_254_740_993_i64),
                serde_json::json!(9_007_199_254_740_992.0),
                Ordering::Greater,
            ),
            (
                serde_json::json!(2.5),
                serde_json::json!(2),
                Ordering::Greater,
            ),
            (
                serde_json::json!(1e300),
                serde_json::json!(u64::MAX),
                Ordering::Greater,
            ),
        ];
        for (left, right, expected) in cases {
            assert_eq!(
                compare_numbers(&number(left.clone()), &number(right.clone())),
                expected,
                "{left} vs {right}"
            );
        }
    }
}
