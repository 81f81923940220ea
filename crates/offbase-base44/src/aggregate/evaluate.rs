//! Evaluating an aggregate spec over records held in memory: the records grouped by their
//! keys ([`Groups`]), each group's count and measures computed as records come, and the rows
//! answered in order, `having` and `limit` applied ([`evaluate`]).

use super::{AggregateResult, AggregateSpec, EXACT, Function, Record, normalize_number};
use crate::query::compare_values;
use serde_json::{Map, Number, Value};
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

fn float_value(float: f64) -> Value {
    Number::from_f64(float).map_or(Value::Null, |number| {
        normalize_number(Value::Number(number))
    })
}

/// A JSON value ordered (and equal) as the filter orders values ([`compare_values`]).
#[derive(Debug, Clone)]
struct Ordered(Value);

impl PartialEq for Ordered {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Ordered {}

impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_values(&self.0, &other.0)
    }
}

/// The value at a dotted path, `None` when missing.
fn resolve<'a>(record: &'a Record, path: &str) -> Option<&'a Value> {
    let mut segments = path.split('.');
    let mut current = record.get(segments.next()?)?;
    for segment in segments {
        current = current.as_object()?.get(segment)?;
    }
    Some(current)
}

/// One measure's running state.
#[derive(Debug, Clone)]
enum State {
    Sum {
        /// Exact sum of the integral values (`None` once it overflowed).
        whole: Option<i128>,
        /// Sum of the others, and of the integral ones past an overflow.
        fraction: f64,
        /// Whether any value was not integral.
        float: bool,
    },
    Avg {
        total: f64,
        numbers: u64,
    },
    Min(Option<Value>),
    Max(Option<Value>),
    Distinct(BTreeSet<Ordered>),
}

impl State {
    fn new(function: Function) -> Self {
        match function {
            Function::Sum => State::Sum {
                whole: Some(0),
                fraction: 0.0,
                float: false,
            },
            Function::Avg => State::Avg {
                total: 0.0,
                numbers: 0,
            },
            Function::Min => State::Min(None),
            Function::Max => State::Max(None),
            Function::CountDistinct => State::Distinct(BTreeSet::new()),
        }
    }

    fn add(&mut self, value: Option<&Value>) {
        let Some(value) = value.filter(|value| !value.is_null()) else {
            return;
        };
        match self {
            State::Sum {
                whole,
                fraction,
                float,
            } => {
                let Value::Number(number) = value else {
                    return;
                };
                match exact_integer(number) {
                    Some(integer) => match whole.and_then(|sum| sum.checked_add(integer)) {
                        Some(sum) => *whole = Some(sum),
                        None => {
                            *fraction += integer as f64;
                            *float = true;
                        }
                    },
                    None => {
                        *fraction += number.as_f64().unwrap_or(0.0);
                        *float = true;
                    }
                }
            }
            State::Avg { total, numbers } => {
                if let Some(number) = value.as_f64().filter(|_| value.is_number()) {
                    *total += number;
                    *numbers += 1;
                }
            }
            State::Min(least) => {
                if least
                    .as_ref()
                    .is_none_or(|least| compare_values(value, least).is_lt())
                {
                    *least = Some(value.clone());
                }
            }
            State::Max(most) => {
                if most
                    .as_ref()
                    .is_none_or(|most| compare_values(value, most).is_gt())
                {
                    *most = Some(value.clone());
                }
            }
            State::Distinct(values) => {
                values.insert(Ordered(value.clone()));
            }
        }
    }

    fn value(&self) -> Value {
        match self {
            State::Sum {
                whole,
                fraction,
                float,
            } => match (whole, float) {
                (Some(whole), false) => i64::try_from(*whole)
                    .map(Value::from)
                    .or_else(|_| u64::try_from(*whole).map(Value::from))
                    .unwrap_or_else(|_| float_value(*whole as f64)),
                (whole, _) => float_value(whole.map_or(0.0, |whole| whole as f64) + fraction),
            },
            State::Avg { total, numbers } => {
                if *numbers == 0 {
                    Value::Null
                } else {
                    float_value(total / *numbers as f64)
                }
            }
            State::Min(value) | State::Max(value) => {
                value.clone().map_or(Value::Null, normalize_number)
            }
            State::Distinct(values) => Value::from(values.len()),
        }
    }
}

/// The number as an exact integer: any `i64`/`u64`, or an integral float within ±2^53.
fn exact_integer(number: &Number) -> Option<i128> {
    if let Some(integer) = number.as_i64() {
        return Some(i128::from(integer));
    }
    if let Some(integer) = number.as_u64() {
        return Some(i128::from(integer));
    }
    let float = number.as_f64()?;
    // Integral and within ±2^53, so the cast is exact.
    (float.fract() == 0.0 && float.abs() <= EXACT).then_some(float as i128)
}

/// One group's running state.
#[derive(Debug, Clone)]
struct Group {
    count: u64,
    states: Vec<State>,
}

fn empty_group(spec: &AggregateSpec) -> Group {
    Group {
        count: 0,
        states: spec
            .measures
            .iter()
            .map(|measure| State::new(measure.function))
            .collect(),
    }
}

/// The groups of an aggregate, fed one record at a time ([`Groups::add`]): only the groups
/// (and for `countDistinct` their distinct values) are kept, never the records.
#[derive(Debug)]
pub struct Groups<'s> {
    spec: &'s AggregateSpec,
    groups: BTreeMap<Vec<Ordered>, Group>,
}

impl<'s> Groups<'s> {
    pub fn new(spec: &'s AggregateSpec) -> Self {
        Groups {
            spec,
            groups: BTreeMap::new(),
        }
    }

    /// Counts `record` in its group. `query` is not checked here: [`evaluate`] checks it,
    /// a caller feeding records itself selects them.
    pub fn add(&mut self, record: &Record) {
        let mut key = Vec::with_capacity(self.spec.group_by.len() + 1);
        if let Some(bucket) = &self.spec.date_bucket {
            key.push(Ordered(bucket.key(resolve(record, &bucket.field))));
        }
        for field in &self.spec.group_by {
            let value = resolve(record, field).cloned().unwrap_or(Value::Null);
            key.push(Ordered(normalize_number(value)));
        }
        let spec = self.spec;
        let group = self.groups.entry(key).or_insert_with(|| empty_group(spec));
        group.count += 1;
        for (state, measure) in group.states.iter_mut().zip(&spec.measures) {
            state.add(resolve(record, &measure.field));
        }
    }

    /// The answer: the rows in order, `having` applied, at most `limit` of them.
    pub fn finish(mut self) -> AggregateResult {
        let spec = self.spec;
        if spec.keys().is_empty() && self.groups.is_empty() {
            self.groups.insert(Vec::new(), empty_group(spec));
        }
        let keys = spec.keys();
        let mut rows: Vec<Record> = self
            .groups
            .into_iter()
            .map(|(key, group)| {
                let mut row = Map::new();
                for (name, Ordered(value)) in keys.iter().zip(key) {
                    row.insert((*name).to_owned(), value);
                }
                if spec.count {
                    row.insert("count".to_owned(), Value::from(group.count));
                }
                for (measure, state) in spec.measures.iter().zip(&group.states) {
                    row.insert(measure.name(), state.value());
                }
                row
            })
            .filter(|row| {
                spec.having
                    .as_ref()
                    .is_none_or(|having| having.matches(row))
            })
            .collect();
        if let Some(sort) = &spec.sort {
            // Stable: ties keep the group keys' order.
            rows.sort_by(|left, right| sort.compare(left, right));
        }
        let truncated = rows.len() > spec.limit;
        rows.truncate(spec.limit);
        AggregateResult { rows, truncated }
    }
}

/// Evaluates `spec` over `records`: those `spec.query` matches are grouped; the caller passes
/// only the records its caller may read.
pub fn evaluate<R: Borrow<Record>>(
    spec: &AggregateSpec,
    records: impl IntoIterator<Item = R>,
) -> AggregateResult {
    let mut groups = Groups::new(spec);
    for record in records {
        let record = record.borrow();
        if spec.query.matches(record) {
            groups.add(record);
        }
    }
    groups.finish()
}
