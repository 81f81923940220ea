//! MongoDB-style update documents, as the SDK's `updateMany(query, data)` sends them in `data`
//! (`PATCH /entities/{Entity}/update-many`): parsing one ([`parse_update`]) into an
//! [`UpdateDocument`], and what it changes on one record ([`UpdateDocument::changes`]). Pure:
//! no I/O. The emulator applies it to its records in memory; `offbase serve` is meant to apply
//! it to the rows it reads, so both answer alike.
//!
//! Operators, as the SDK documents them (`$set`, `$rename`, `$unset`, `$inc`, `$mul`, `$min`,
//! `$max`, `$currentDate`, `$addToSet`, `$push`, `$pull`), with MongoDB's semantics on the
//! top-level fields of a flat record:
//! - `$set {"f": v}` stores `v`; `$unset {"f": ""}` removes the field (the value is ignored;
//!   a missing field stays missing); `$rename {"old": "new"}` removes `old` and stores its value
//!   as `new` (nothing when `old` is missing; `new` is overwritten when present).
//! - `$inc {"f": n}` adds `n`, `$mul {"f": n}` multiplies by `n`. On a missing field `$inc`
//!   stores `n` (it starts from 0) and `$mul` stores 0 (of the operand's kind: `0` for an
//!   integer operand, `0.0` for a fraction), as MongoDB does. Two integers give an integer while
//!   the result fits in 64 bits, anything else a float; a result that is not a finite number is
//!   refused. A non-number operand, or a stored value that is not a number (`null` and numeric
//!   text included), is an error naming the field.
//! - `$min` / `$max {"f": v}` store `v` when it is less / greater than the stored value, or when
//!   the field is missing. Numbers compare with numbers (numerically: `1` equals `1.0`), strings
//!   with strings (by code point, so ISO 8601 dates of one form compare as dates); any other pair
//!   (a stored `null` included) is an error naming the field, and an operand that is neither a
//!   number nor a string is refused when parsed.
//! - `$currentDate {"f": true}` (or `{"$type": "date"}`) stores the `now` given to
//!   [`UpdateDocument::changes`] in the platform's stored form (`2026-06-01T09:23:41.481000`,
//!   [`offbase_model::time::format_stored`]). `{"$type": "timestamp"}` is refused: records have
//!   no timestamp kind.
//! - `$push {"f": v}` appends `v` (an array `v` is appended as one element, as in MongoDB);
//!   `{"$each": [...]}` appends each element. `$addToSet` appends what the array does not hold
//!   yet (also with `$each`, each element once). On a missing field both create the array. The
//!   modifiers `$slice`, `$sort` and `$position` are refused.
//! - `$pull {"f": v}` removes the elements equal to `v`. Equality is JSON equality: numbers
//!   numerically, objects with the same keys and equal values in any order, arrays element by
//!   element in order, strings exactly (what PostgreSQL's `jsonb` equality does, and MongoDB's
//!   documented rule for a document or an array value). A condition (an object of `$` keys such
//!   as `{"$in": [...]}` or `{"$gte": 6}`) removes the elements it matches, evaluated by the
//!   query language ([`crate::query`]); an object of fields whose values hold conditions
//!   (`{"score": {"$lt": 5}}`) is a query on elements that are objects. On a missing field
//!   `$pull` does nothing.
//! - `$push`, `$addToSet` and `$pull` on a field that holds anything but an array (`null`
//!   included) are an error naming the field.
//!
//! Refused when parsed ([`UpdateError`], each message naming the operator and the field and
//! saying what to do): a document that is not an object or has no operator; a top-level key
//! not starting with `$` (a plain `{"f": v}` is no update document: use `{"$set": {"f": v}}`);
//! an unknown operator; an operand that is not an object of fields; a field in two operators
//! (the SDK's rule; a `$rename` counts both its names); a field that is empty or starts with
//! `$`; a changed built-in (`id`, `created_date`, `updated_date`, `created_by`,
//! `created_by_id`).
//!
//! Dotted paths (`"address.city"`) are refused with a message saying to set the whole
//! top-level field: records are flat maps of fields, and a PostgreSQL row keeps an object field
//! in one `jsonb` column, so setting the whole field is what both stores do best.
//!
//! An empty operand (`{"$set": {}}`) changes nothing (MongoDB 5.0's reading). Which fields the
//! schema declares is the caller's business: the emulator drops changes to undeclared fields as
//! its plain update drops undeclared fields.

use crate::query::{Filter, parse_filter};
use offbase_model::json_kind;
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

mod apply;
#[cfg(test)]
mod tests;

/// The fields no update may change: the record built-ins the platform sets.
pub const PROTECTED_FIELDS: [&str; 5] = [
    "id",
    "created_date",
    "updated_date",
    "created_by",
    "created_by_id",
];

/// The operators an update document may use, as the SDK lists them.
pub const OPERATORS: [&str; 11] = [
    "$set",
    "$rename",
    "$unset",
    "$inc",
    "$mul",
    "$min",
    "$max",
    "$currentDate",
    "$addToSet",
    "$push",
    "$pull",
];

/// What an update does to one field of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The field now holds this value.
    Set(Value),
    /// The field is removed.
    Unset,
}

/// A parsed update document: one action per field.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateDocument {
    actions: Vec<Action>,
}

/// One operator applied to one field.
#[derive(Debug, Clone, PartialEq)]
enum Action {
    Set {
        field: String,
        value: Value,
    },
    Rename {
        from: String,
        to: String,
    },
    Unset {
        field: String,
    },
    Arithmetic {
        field: String,
        kind: Arithmetic,
        operand: Number,
    },
    Bound {
        field: String,
        kind: Bound,
        value: Value,
    },
    CurrentDate {
        field: String,
    },
    Append {
        field: String,
        kind: Append,
        values: Vec<Value>,
    },
    Pull {
        field: String,
        matcher: PullMatcher,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arithmetic {
    Inc,
    Mul,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Min,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Append {
    Push,
    AddToSet,
}

/// What `$pull` removes.
#[derive(Debug, Clone, PartialEq)]
enum PullMatcher {
    /// Elements equal to the value.
    Equal(Value),
    /// Elements the condition matches, each read as the value of the field (a filter on
    /// `{field: element}`).
    Condition(Filter),
    /// Elements that are objects the query matches.
    Query(Filter),
}

/// Why an update document was refused, or could not be applied to a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    #[error(
        "the update must be a JSON object of update operators such as {{\"$set\": {{...}}}}, \
         found {found}"
    )]
    NotAnObject { found: &'static str },
    #[error(
        "the update has no operator: send at least one, e.g. {{\"$set\": {{\"field\": value}}}} \
         (supported: {})",
        OPERATORS.join(", ")
    )]
    NoOperator,
    #[error(
        "`{key}` is not an update operator: to store a value use {{\"$set\": {{\"{key}\": ...}}}} \
         (every top-level key of an update is an operator starting with `$`)"
    )]
    NotAnOperator { key: String },
    #[error("unknown update operator `{operator}`: use one of {}", OPERATORS.join(", "))]
    UnknownOperator { operator: String },
    #[error(
        "`{operator}` takes an object of field names, e.g. {{\"{operator}\": {{\"field\": ...}}}}, \
         found {found}"
    )]
    OperandNotAnObject {
        operator: &'static str,
        found: &'static str,
    },
    #[error(
        "the field `{field}` appears in both `{first}` and `{second}`: each field may appear in one \
         operator per update; send two updates instead"
    )]
    FieldInTwoOperators {
        field: String,
        first: &'static str,
        second: &'static str,
    },
    #[error(
        "`{operator}` names the field `{field}` twice: name each field once per update; send \
         two updates instead"
    )]
    FieldTwice {
        operator: &'static str,
        field: String,
    },
    #[error(
        "`{operator}` on `{field}`: dotted paths into objects are not supported; `$set` the whole \
         field `{top}` instead"
    )]
    DottedPath {
        operator: &'static str,
        field: String,
        top: String,
    },
    #[error(
        "`{operator}` on `{field}`: a field name must not be empty or start with `$`; name a \
         field of the entity"
    )]
    InvalidField {
        operator: &'static str,
        field: String,
    },
    #[error(
        "`{operator}` on `{field}`: `{field}` is a built-in field the platform sets and no update \
         may change; leave it out"
    )]
    ProtectedField {
        operator: &'static str,
        field: String,
    },
    #[error("`{operator}` on `{field}` needs a number, found {found}: send a number")]
    OperandNotANumber {
        operator: &'static str,
        field: String,
        found: &'static str,
    },
    #[error(
        "`{operator}` on `{field}` needs the stored value to be a number, and it is {found}: \
         `$set` the field to a number first, or leave such records out of the query"
    )]
    StoredNotANumber {
        operator: &'static str,
        field: String,
        found: &'static str,
    },
    #[error(
        "`{operator}` on `{field}` gives a result that is not a finite number; use a smaller \
         operand"
    )]
    NotFinite {
        operator: &'static str,
        field: String,
    },
    #[error(
        "`{operator}` on `{field}` compares numbers or strings only, found {found}: send a number \
         or a string"
    )]
    OperandNotComparable {
        operator: &'static str,
        field: String,
        found: &'static str,
    },
    #[error(
        "`{operator}` on `{field}` cannot compare the stored value ({stored}) with {operand}: \
         numbers compare with numbers and strings with strings; `$set` the field first, or leave \
         such records out of the query"
    )]
    NotComparable {
        operator: &'static str,
        field: String,
        stored: &'static str,
        operand: &'static str,
    },
    #[error("`$currentDate` on `{field}` takes `true` or {{\"$type\": \"date\"}}, found {found}")]
    InvalidCurrentDate { field: String, found: String },
    #[error(
        "`$rename` of `{field}` takes the new field name as a string, found {found}: \
         {{\"$rename\": {{\"old\": \"new\"}}}}"
    )]
    RenameTarget { field: String, found: String },
    #[error("`{operator}` on `{field}`: {reason}; use a value, or {{\"$each\": [values]}} alone")]
    InvalidModifier {
        operator: &'static str,
        field: String,
        reason: String,
    },
    #[error(
        "`$pull` on `{field}`: invalid condition ({reason}); send a value or a condition such \
         as {{\"$in\": [...]}}"
    )]
    PullCondition { field: String, reason: String },
    #[error(
        "`{operator}` on `{field}` needs the stored value to be an array, and it is {found}: \
         `$set` the field to an array first, or leave such records out of the query"
    )]
    NotAnArray {
        operator: &'static str,
        field: String,
        found: &'static str,
    },
}

/// An operator of [`OPERATORS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Set,
    Rename,
    Unset,
    Inc,
    Mul,
    Min,
    Max,
    CurrentDate,
    AddToSet,
    Push,
    Pull,
}

impl Operator {
    /// In the order of [`OPERATORS`].
    const ALL: [Operator; 11] = [
        Operator::Set,
        Operator::Rename,
        Operator::Unset,
        Operator::Inc,
        Operator::Mul,
        Operator::Min,
        Operator::Max,
        Operator::CurrentDate,
        Operator::AddToSet,
        Operator::Push,
        Operator::Pull,
    ];

    fn name(self) -> &'static str {
        match self {
            Operator::Set => "$set",
            Operator::Rename => "$rename",
            Operator::Unset => "$unset",
            Operator::Inc => "$inc",
            Operator::Mul => "$mul",
            Operator::Min => "$min",
            Operator::Max => "$max",
            Operator::CurrentDate => "$currentDate",
            Operator::AddToSet => "$addToSet",
            Operator::Push => "$push",
            Operator::Pull => "$pull",
        }
    }

    fn named(key: &str) -> Option<Operator> {
        Operator::ALL
            .into_iter()
            .find(|operator| operator.name() == key)
    }
}

/// Parses an update document (`{"$set": {...}, "$inc": {...}, ...}`), refusing what
/// [`UpdateError`] lists. Nothing about a record is checked here: see
/// [`UpdateDocument::changes`].
pub fn parse_update(document: &Value) -> Result<UpdateDocument, UpdateError> {
    let Value::Object(operators) = document else {
        return Err(UpdateError::NotAnObject {
            found: json_kind(document),
        });
    };
    if operators.is_empty() {
        return Err(UpdateError::NoOperator);
    }
    let mut actions = Vec::new();
    // Every field named so far, with the operator that named it.
    let mut named: BTreeMap<String, &'static str> = BTreeMap::new();
    for (key, operand) in operators {
        if !key.starts_with('$') {
            return Err(UpdateError::NotAnOperator { key: key.clone() });
        }
        let operator = Operator::named(key).ok_or_else(|| UpdateError::UnknownOperator {
            operator: key.clone(),
        })?;
        let Value::Object(fields) = operand else {
            return Err(UpdateError::OperandNotAnObject {
                operator: operator.name(),
                found: json_kind(operand),
            });
        };
        for (field, value) in fields {
            let mut name = |field: &str| -> Result<String, UpdateError> {
                name_field(&mut named, operator.name(), field)
            };
            let field = name(field)?;
            let action = match operator {
                Operator::Set => Action::Set {
                    field,
                    value: value.clone(),
                },
                Operator::Unset => Action::Unset { field },
                Operator::Rename => {
                    let Value::String(to) = value else {
                        return Err(UpdateError::RenameTarget {
                            field,
                            found: json_kind(value).to_owned(),
                        });
                    };
                    if *to == field {
                        return Err(UpdateError::RenameTarget {
                            field,
                            found: "the same name: name another field".to_owned(),
                        });
                    }
                    let to = name(to)?;
                    Action::Rename { from: field, to }
                }
                Operator::Inc | Operator::Mul => {
                    let Value::Number(operand) = value else {
                        return Err(UpdateError::OperandNotANumber {
                            operator: operator.name(),
                            field,
                            found: json_kind(value),
                        });
                    };
                    let kind = if operator == Operator::Inc {
                        Arithmetic::Inc
                    } else {
                        Arithmetic::Mul
                    };
                    Action::Arithmetic {
                        field,
                        kind,
                        operand: operand.clone(),
                    }
                }
                Operator::Min | Operator::Max => {
                    if !matches!(value, Value::Number(_) | Value::String(_)) {
                        return Err(UpdateError::OperandNotComparable {
                            operator: operator.name(),
                            field,
                            found: json_kind(value),
                        });
                    }
                    let kind = if operator == Operator::Min {
                        Bound::Min
                    } else {
                        Bound::Max
                    };
                    Action::Bound {
                        field,
                        kind,
                        value: value.clone(),
                    }
                }
                Operator::CurrentDate => {
                    let is_date = match value {
                        Value::Bool(true) => true,
                        Value::Object(spec) => {
                            spec.len() == 1
                                && spec.get("$type").and_then(Value::as_str) == Some("date")
                        }
                        _ => false,
                    };
                    if !is_date {
                        return Err(UpdateError::InvalidCurrentDate {
                            field,
                            found: value.to_string(),
                        });
                    }
                    Action::CurrentDate { field }
                }
                Operator::Push | Operator::AddToSet => {
                    let kind = if operator == Operator::Push {
                        Append::Push
                    } else {
                        Append::AddToSet
                    };
                    let values = append_values(operator.name(), &field, value)?;
                    Action::Append {
                        field,
                        kind,
                        values,
                    }
                }
                Operator::Pull => {
                    let matcher = pull_matcher(&field, value)?;
                    Action::Pull { field, matcher }
                }
            };
            actions.push(action);
        }
    }
    Ok(UpdateDocument { actions })
}

/// Checks a field name `operator` names and records it in `named`, refusing a field named
/// before (by this operator or another).
fn name_field(
    named: &mut BTreeMap<String, &'static str>,
    operator: &'static str,
    field: &str,
) -> Result<String, UpdateError> {
    check_field(operator, field)?;
    match named.insert(field.to_owned(), operator) {
        None => Ok(field.to_owned()),
        Some(first) if first == operator => Err(UpdateError::FieldTwice {
            operator,
            field: field.to_owned(),
        }),
        Some(first) => Err(UpdateError::FieldInTwoOperators {
            field: field.to_owned(),
            first,
            second: operator,
        }),
    }
}

/// Refuses an empty, `$`, dotted or built-in field name.
fn check_field(operator: &'static str, field: &str) -> Result<(), UpdateError> {
    if field.is_empty() || field.starts_with('$') {
        return Err(UpdateError::InvalidField {
            operator,
            field: field.to_owned(),
        });
    }
    if let Some((top, _)) = field.split_once('.') {
        return Err(UpdateError::DottedPath {
            operator,
            field: field.to_owned(),
            top: top.to_owned(),
        });
    }
    if PROTECTED_FIELDS.contains(&field) {
        return Err(UpdateError::ProtectedField {
            operator,
            field: field.to_owned(),
        });
    }
    Ok(())
}

/// The values `$push` or `$addToSet` appends: the value, or the elements of `{"$each": [...]}`.
fn append_values(
    operator: &'static str,
    field: &str,
    value: &Value,
) -> Result<Vec<Value>, UpdateError> {
    let Value::Object(object) = value else {
        return Ok(vec![value.clone()]);
    };
    if !object.keys().any(|key| key.starts_with('$')) {
        return Ok(vec![value.clone()]);
    }
    let invalid = |reason: String| UpdateError::InvalidModifier {
        operator,
        field: field.to_owned(),
        reason,
    };
    if let Some(other) = object.keys().find(|key| *key != "$each") {
        return Err(invalid(if other.starts_with('$') {
            format!("the modifier `{other}` is not supported")
        } else {
            format!("`{other}` next to `$each` is neither a value nor a supported modifier")
        }));
    }
    match object.get("$each") {
        Some(Value::Array(values)) => Ok(values.clone()),
        Some(other) => Err(invalid(format!(
            "`$each` takes an array, found {}",
            json_kind(other)
        ))),
        None => Err(invalid("`$each` is missing".to_owned())),
    }
}

/// What `$pull {field: value}` removes.
fn pull_matcher(field: &str, value: &Value) -> Result<PullMatcher, UpdateError> {
    let invalid = |reason: String| UpdateError::PullCondition {
        field: field.to_owned(),
        reason,
    };
    let Value::Object(object) = value else {
        return Ok(PullMatcher::Equal(value.clone()));
    };
    let operators = object.keys().filter(|key| key.starts_with('$')).count();
    if operators == object.len() && operators > 0 {
        let mut wrapped = Map::new();
        wrapped.insert(field.to_owned(), value.clone());
        return parse_filter(&Value::Object(wrapped))
            .map(PullMatcher::Condition)
            .map_err(|error| invalid(error.to_string()));
    }
    if operators > 0 {
        return Err(invalid(
            "it mixes operators (keys starting with `$`) and field names".to_owned(),
        ));
    }
    let holds_condition = object.values().any(|inner| {
        inner
            .as_object()
            .is_some_and(|inner| inner.keys().any(|key| key.starts_with('$')))
    });
    if holds_condition {
        return parse_filter(value)
            .map(PullMatcher::Query)
            .map_err(|error| invalid(error.to_string()));
    }
    Ok(PullMatcher::Equal(value.clone()))
}

impl UpdateDocument {
    /// Field names the update touches (for "each field in one operator" and for access checks).
    ///
    /// Sorted, each once; a `$rename` touches both its names.
    pub fn fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self
            .actions
            .iter()
            .flat_map(|action| match action {
                Action::Rename { from, to } => vec![from.clone(), to.clone()],
                Action::Set { field, .. }
                | Action::Unset { field }
                | Action::Arithmetic { field, .. }
                | Action::Bound { field, .. }
                | Action::CurrentDate { field }
                | Action::Append { field, .. }
                | Action::Pull { field, .. } => vec![field.clone()],
            })
            .collect();
        fields.sort();
        fields.dedup();
        fields
    }
}
