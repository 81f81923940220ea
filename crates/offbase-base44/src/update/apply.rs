//! Applying a parsed update document to one record: [`UpdateDocument::changes`], what each
//! operator does to the value stored (arithmetic, bounds, appends, `$pull`'s matching) and the
//! JSON equality `$addToSet` and `$pull` compare elements by.

use super::{Action, Append, Arithmetic, Bound, Change, PullMatcher, UpdateDocument, UpdateError};
use crate::query::compare_values;
use chrono::{DateTime, Utc};
use offbase_model::json_kind;
use offbase_model::time::format_stored;
use serde_json::{Map, Number, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;

impl PullMatcher {
    fn removes(&self, field: &str, element: &Value) -> bool {
        match self {
            PullMatcher::Equal(value) => json_equal(element, value),
            PullMatcher::Condition(filter) => {
                let mut wrapped = Map::new();
                wrapped.insert(field.to_owned(), element.clone());
                filter.matches(&wrapped)
            }
            PullMatcher::Query(filter) => element
                .as_object()
                .is_some_and(|object| filter.matches(object)),
        }
    }
}

/// JSON equality: numbers numerically, objects by key in any order, arrays in order, the rest
/// exactly (strings by their text, not as instants).
fn json_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(_), Value::Number(_)) => compare_values(left, right) == Ordering::Equal,
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right)
                    .all(|(left, right)| json_equal(left, right))
        }
        (Value::Object(left), Value::Object(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .all(|(key, left)| right.get(key).is_some_and(|right| json_equal(left, right)))
        }
        _ => left == right,
    }
}

impl Arithmetic {
    fn operator(self) -> &'static str {
        match self {
            Arithmetic::Inc => "$inc",
            Arithmetic::Mul => "$mul",
        }
    }

    /// The stored number with the operand applied; `None` when the result is not finite.
    fn apply(self, stored: &Number, operand: &Number) -> Option<Number> {
        if let (Some(left), Some(right)) = (stored.as_i64(), operand.as_i64()) {
            let exact = match self {
                Arithmetic::Inc => left.checked_add(right),
                Arithmetic::Mul => left.checked_mul(right),
            };
            if let Some(result) = exact {
                return Some(Number::from(result));
            }
        }
        let (left, right) = (stored.as_f64()?, operand.as_f64()?);
        Number::from_f64(match self {
            Arithmetic::Inc => left + right,
            Arithmetic::Mul => left * right,
        })
    }

    /// The value of a missing field after the operation: the operand (`$inc` starts from 0),
    /// or 0 of the operand's kind (`$mul`).
    fn on_missing(self, operand: &Number) -> Value {
        match self {
            Arithmetic::Inc => Value::Number(operand.clone()),
            Arithmetic::Mul if operand.is_f64() => Value::from(0.0),
            Arithmetic::Mul => Value::from(0),
        }
    }
}

impl Bound {
    fn operator(self) -> &'static str {
        match self {
            Bound::Min => "$min",
            Bound::Max => "$max",
        }
    }
}

impl Append {
    fn operator(self) -> &'static str {
        match self {
            Append::Push => "$push",
            Append::AddToSet => "$addToSet",
        }
    }
}

/// The changes of one record, one per field, sorted by field name.
#[derive(Debug)]
struct Changes<'r> {
    record: &'r Map<String, Value>,
    changes: BTreeMap<String, Change>,
}

impl Changes<'_> {
    fn stored(&self, field: &str) -> Option<&Value> {
        self.record.get(field)
    }

    /// `field` holds `value`: a change unless it holds exactly that already.
    fn set(&mut self, field: &str, value: Value) {
        if self.stored(field) != Some(&value) {
            self.changes.insert(field.to_owned(), Change::Set(value));
        }
    }

    /// `field` is removed: a change when it is present.
    fn unset(&mut self, field: &str) {
        if self.stored(field).is_some() {
            self.changes.insert(field.to_owned(), Change::Unset);
        }
    }
}

impl UpdateDocument {
    /// The fields this update changes on `record` (a flat record: field name -> value), sorted
    /// by field name, as changes to merge; `now` for $currentDate (written as
    /// offbase_model::time::format_stored(now)).
    ///
    /// A field the update leaves as it is (a `$set` to the value it holds, an `$unset` of a
    /// missing field, a `$pull` removing nothing, a `$min` that does not win) is not in the
    /// list. An error (a stored value of the wrong kind for its operator) names the field.
    pub fn changes(
        &self,
        record: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, Change)>, UpdateError> {
        let mut out = Changes {
            record,
            changes: BTreeMap::new(),
        };
        for action in &self.actions {
            match action {
                Action::Set { field, value } => out.set(field, value.clone()),
                Action::Unset { field } => out.unset(field),
                Action::Rename { from, to } => {
                    if let Some(value) = record.get(from) {
                        out.unset(from);
                        out.set(to, value.clone());
                    }
                }
                Action::Arithmetic {
                    field,
                    kind,
                    operand,
                } => {
                    let value = match record.get(field) {
                        None => kind.on_missing(operand),
                        Some(Value::Number(stored)) => {
                            Value::Number(kind.apply(stored, operand).ok_or_else(|| {
                                UpdateError::NotFinite {
                                    operator: kind.operator(),
                                    field: field.clone(),
                                }
                            })?)
                        }
                        Some(other) => {
                            return Err(UpdateError::StoredNotANumber {
                                operator: kind.operator(),
                                field: field.clone(),
                                found: json_kind(other),
                            });
                        }
                    };
                    out.set(field, value);
                }
                Action::Bound { field, kind, value } => {
                    let order = match (record.get(field), value) {
                        (None, _) => None,
                        (Some(stored @ Value::Number(_)), Value::Number(_)) => {
                            Some(compare_values(value, stored))
                        }
                        (Some(Value::String(stored)), Value::String(text)) => {
                            Some(text.as_str().cmp(stored.as_str()))
                        }
                        (Some(stored), _) => {
                            return Err(UpdateError::NotComparable {
                                operator: kind.operator(),
                                field: field.clone(),
                                stored: json_kind(stored),
                                operand: json_kind(value),
                            });
                        }
                    };
                    let wins = match (order, kind) {
                        (None, _) => true,
                        (Some(order), Bound::Min) => order == Ordering::Less,
                        (Some(order), Bound::Max) => order == Ordering::Greater,
                    };
                    if wins {
                        out.set(field, value.clone());
                    }
                }
                Action::CurrentDate { field } => {
                    out.set(field, Value::String(format_stored(now)));
                }
                Action::Append {
                    field,
                    kind,
                    values,
                } => {
                    let mut items = match record.get(field) {
                        None => Vec::new(),
                        Some(Value::Array(items)) => items.clone(),
                        Some(other) => {
                            return Err(UpdateError::NotAnArray {
                                operator: kind.operator(),
                                field: field.clone(),
                                found: json_kind(other),
                            });
                        }
                    };
                    for value in values {
                        if *kind == Append::Push
                            || !items.iter().any(|item| json_equal(item, value))
                        {
                            items.push(value.clone());
                        }
                    }
                    out.set(field, Value::Array(items));
                }
                Action::Pull { field, matcher } => match record.get(field) {
                    None => {}
                    Some(Value::Array(items)) => {
                        let kept: Vec<Value> = items
                            .iter()
                            .filter(|item| !matcher.removes(field, item))
                            .cloned()
                            .collect();
                        if kept.len() != items.len() {
                            out.set(field, Value::Array(kept));
                        }
                    }
                    Some(other) => {
                        return Err(UpdateError::NotAnArray {
                            operator: "$pull",
                            field: field.clone(),
                            found: json_kind(other),
                        });
                    }
                },
            }
        }
        Ok(out.changes.into_iter().collect())
    }
}
