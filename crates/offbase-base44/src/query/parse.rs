//! Reading the `q` parameter (JSON text or value) into a [`Filter`] and the `sort` parameter
//! into a [`Sort`], refusing what the platform would refuse ([`QueryError`]). A `$regex` is
//! compiled here once, so a pattern beyond the supported subset fails the parse, not the match.

use super::ast::{Condition, Filter, Operator, QueryError, Sort};
use super::regex::Regex;
use serde_json::{Map, Value};

/// Parses a filter given as JSON text (the `q` parameter).
pub fn parse_filter_str(q: &str) -> Result<Filter, QueryError> {
    let value: Value = serde_json::from_str(q).map_err(QueryError::InvalidJson)?;
    parse_filter(&value)
}

/// Parses a filter given as a JSON value, which must be an object. `{}` matches everything.
pub fn parse_filter(q: &Value) -> Result<Filter, QueryError> {
    match q {
        Value::Object(map) => parse_document(map),
        other => Err(QueryError::NotAnObject {
            context: "the query".to_owned(),
            found: offbase_model::json_kind(other),
        }),
    }
}

fn parse_document(map: &Map<String, Value>) -> Result<Filter, QueryError> {
    let mut clauses = Vec::with_capacity(map.len());
    for (key, value) in map {
        let clause = match key.as_str() {
            "$and" => Filter::And(parse_list(key, value)?),
            "$or" => Filter::Or(parse_list(key, value)?),
            "$nor" => Filter::Nor(parse_list(key, value)?),
            operator if operator.starts_with('$') => {
                return Err(QueryError::UnknownOperator {
                    operator: operator.to_owned(),
                    field: None,
                });
            }
            field => {
                check_path(field)?;
                Filter::Field {
                    path: field.to_owned(),
                    condition: parse_condition(field, value)?,
                }
            }
        };
        clauses.push(clause);
    }
    Ok(match <[Filter; 1]>::try_from(clauses) {
        Ok([only]) => only,
        Err(clauses) => Filter::And(clauses),
    })
}

fn parse_list(operator: &str, value: &Value) -> Result<Vec<Filter>, QueryError> {
    let invalid = |found: String| QueryError::InvalidOperand {
        operator: operator.to_owned(),
        field: None,
        expected: "a non-empty array of objects",
        found,
    };
    let Value::Array(items) = value else {
        return Err(invalid(offbase_model::json_kind(value).to_owned()));
    };
    if items.is_empty() {
        return Err(invalid("an empty array".to_owned()));
    }
    items
        .iter()
        .map(|item| match item {
            Value::Object(map) => parse_document(map),
            other => Err(invalid(format!(
                "an array holding {}",
                offbase_model::json_kind(other)
            ))),
        })
        .collect()
}

fn check_path(path: &str) -> Result<(), QueryError> {
    if path.split('.').any(str::is_empty) {
        return Err(QueryError::InvalidPath {
            path: path.to_owned(),
        });
    }
    Ok(())
}

fn parse_condition(field: &str, value: &Value) -> Result<Condition, QueryError> {
    match value {
        Value::Object(map) if map.keys().any(|key| key.starts_with('$')) => {
            if !map.keys().all(|key| key.starts_with('$')) {
                return Err(QueryError::MixedOperators {
                    field: field.to_owned(),
                });
            }
            Ok(Condition::Ops(parse_operators(field, map)?))
        }
        other => Ok(Condition::Eq(other.clone())),
    }
}

fn parse_operators(field: &str, map: &Map<String, Value>) -> Result<Vec<Operator>, QueryError> {
    let invalid =
        |operator: &str, expected: &'static str, value: &Value| QueryError::InvalidOperand {
            operator: operator.to_owned(),
            field: Some(field.to_owned()),
            expected,
            found: offbase_model::json_kind(value).to_owned(),
        };
    let array = |operator: &str, value: &Value| match value {
        Value::Array(items) => Ok(items.clone()),
        other => Err(invalid(operator, "an array", other)),
    };
    let options = match map.get("$options") {
        None if map.contains_key("$regex") => Some(String::new()),
        None => None,
        Some(_) if !map.contains_key("$regex") => {
            return Err(QueryError::OptionsWithoutRegex {
                field: field.to_owned(),
            });
        }
        Some(Value::String(options)) => Some(options.clone()),
        Some(other) => return Err(invalid("$options", "a string", other)),
    };

    let mut operators = Vec::with_capacity(map.len());
    for (key, value) in map {
        let operator = match key.as_str() {
            "$eq" => Operator::Eq(value.clone()),
            "$ne" => Operator::Ne(value.clone()),
            "$gt" => Operator::Gt(value.clone()),
            "$gte" => Operator::Gte(value.clone()),
            "$lt" => Operator::Lt(value.clone()),
            "$lte" => Operator::Lte(value.clone()),
            "$in" => Operator::In(array(key, value)?),
            "$nin" => Operator::Nin(array(key, value)?),
            "$all" => Operator::All(array(key, value)?),
            "$exists" => match value {
                Value::Bool(exists) => Operator::Exists(*exists),
                other => return Err(invalid(key, "a boolean", other)),
            },
            "$size" => match size(value) {
                Some(size) => Operator::Size(size),
                None => return Err(invalid(key, "a non-negative integer", value)),
            },
            "$regex" => match value {
                Value::String(pattern) => {
                    let options = options.clone().unwrap_or_default();
                    Regex::new(pattern, &options)?;
                    Operator::Regex {
                        pattern: pattern.clone(),
                        options,
                    }
                }
                other => return Err(invalid(key, "a string", other)),
            },
            "$options" => continue,
            "$not" => match value {
                Value::String(pattern) => {
                    Regex::new(pattern, "")?;
                    Operator::Not(Box::new(Condition::Ops(vec![Operator::Regex {
                        pattern: pattern.clone(),
                        options: String::new(),
                    }])))
                }
                Value::Object(inner)
                    if !inner.is_empty() && inner.keys().all(|key| key.starts_with('$')) =>
                {
                    Operator::Not(Box::new(Condition::Ops(parse_operators(field, inner)?)))
                }
                other => {
                    return Err(invalid(
                        key,
                        "an operator object or a regular expression string",
                        other,
                    ));
                }
            },
            unknown => {
                return Err(QueryError::UnknownOperator {
                    operator: unknown.to_owned(),
                    field: Some(field.to_owned()),
                });
            }
        };
        operators.push(operator);
    }
    Ok(operators)
}

fn size(value: &Value) -> Option<u64> {
    let Value::Number(number) = value else {
        return None;
    };
    if let Some(size) = number.as_u64() {
        return Some(size);
    }
    let float = number.as_f64()?;
    // Exactly integral and in range, so the cast is lossless.
    (float >= 0.0 && float.fract() == 0.0 && float < 1e15).then_some(float as u64)
}

/// Parses a `sort` parameter: `field` or `+field` (ascending), `-field` (descending). Blank
/// gives `None`. Surrounding spaces are ignored (a `+` left unencoded in a URL arrives as one).
pub fn parse_sort(text: &str) -> Result<Option<Sort>, QueryError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let invalid = |reason| QueryError::InvalidSort {
        text: text.to_owned(),
        reason,
    };
    let (descending, field) = if let Some(field) = trimmed.strip_prefix('-') {
        (true, field)
    } else if let Some(field) = trimmed.strip_prefix('+') {
        (false, field)
    } else {
        (false, trimmed)
    };
    if field.is_empty() {
        return Err(invalid("no field name after the sign"));
    }
    if field.starts_with(['+', '-']) {
        return Err(invalid("more than one sign"));
    }
    if field.contains(|c: char| c.is_whitespace() || c == ',') {
        return Err(invalid("only one field name is allowed"));
    }
    if field.split('.').any(str::is_empty) {
        return Err(invalid("empty segment in the field path"));
    }
    Ok(Some(Sort {
        field: field.to_owned(),
        descending,
    }))
}
