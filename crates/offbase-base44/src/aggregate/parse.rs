//! Reading an aggregate spec and checking it against the entity's schema:
//! [`AggregateSpec::parse`], and the field, filter, date-bucket, measure and limit checks it
//! makes (the rules are in the parent module's doc).

use super::{
    AggregateError, AggregateSpec, BucketUnit, DateBucket, Function, MAX_GROUP_FIELDS, MAX_LIMIT,
    Measure,
};
use crate::query::{Filter, parse_filter, parse_sort};
use offbase_model::{BuiltIn, Entity, Field, FieldKind};
use serde_json::Value;

/// What a field is, as far as the spec checks go.
enum Kind {
    /// `created_date`, `updated_date`: a bucket of every unit.
    Stamp,
    /// Declared: its kind and format.
    Declared(FieldKind, Option<String>),
    /// Inside a free JSON field: unknown.
    Free,
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Stamp => "a date-time".to_owned(),
            Kind::Declared(kind, _) => format!("of type {}", kind.key()),
            Kind::Free => "inside a free JSON field".to_owned(),
        }
    }
}

/// The field at `path` of `entity`: its kind, `None` when the entity has none there.
fn field_kind(entity: &Entity, path: &str) -> Option<Kind> {
    let mut segments = path.split('.');
    let first = segments.next()?;
    let rest: Vec<&str> = segments.collect();
    if rest.is_empty()
        && (first == BuiltIn::CreatedDate.field_name()
            || first == BuiltIn::UpdatedDate.field_name())
    {
        return Some(Kind::Stamp);
    }
    let built_in = entity
        .built_ins()
        .into_iter()
        .find(|built_in| built_in.field_name() == first)
        .map(BuiltIn::field);
    let mut field: Field = entity.field(first).cloned().or(built_in)?;
    for segment in rest {
        match field.kind {
            FieldKind::Object => match &field.properties {
                Some(properties) => {
                    field = properties
                        .iter()
                        .find(|property| property.name == segment)?
                        .clone();
                }
                None => return Some(Kind::Free),
            },
            FieldKind::Any | FieldKind::Union(_) | FieldKind::Unknown(_) => {
                return Some(Kind::Free);
            }
            _ => return None,
        }
    }
    Some(Kind::Declared(field.kind, field.format))
}

/// The keys a spec may have.
const KEYS: [&str; 12] = [
    "query",
    "groupBy",
    "dateBucket",
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "countDistinct",
    "having",
    "sort",
    "limit",
];

fn invalid(key: &str, expected: &'static str, value: &Value) -> AggregateError {
    AggregateError::InvalidValue {
        key: key.to_owned(),
        expected,
        found: offbase_model::json_kind(value).to_owned(),
    }
}

/// A field or a list of fields (`"a"` or `["a", "b"]`), none repeated, each known.
fn field_list(
    entity: &Entity,
    key: &str,
    value: Option<&Value>,
) -> Result<Vec<(String, Kind)>, AggregateError> {
    let names: Vec<&Value> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
    };
    let mut fields: Vec<(String, Kind)> = Vec::new();
    for name in names {
        let Value::String(name) = name else {
            return Err(invalid(
                key,
                "a field name or an array of field names",
                name,
            ));
        };
        if name.is_empty() || name.split('.').any(str::is_empty) {
            return Err(AggregateError::InvalidValue {
                key: key.to_owned(),
                expected: "field names",
                found: format!("{name:?}"),
            });
        }
        if fields.iter().any(|(known, _)| known == name) {
            return Err(AggregateError::Repeated {
                key: key.to_owned(),
                field: name.clone(),
            });
        }
        let kind = field_kind(entity, name).ok_or_else(|| AggregateError::UnknownField {
            key: key.to_owned(),
            field: name.clone(),
            entity: entity.name.clone(),
        })?;
        fields.push((name.clone(), kind));
    }
    Ok(fields)
}

fn filter(key: &'static str, value: Option<&Value>) -> Result<Option<Filter>, AggregateError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => parse_filter(value)
            .map(Some)
            .map_err(|source| AggregateError::Filter { key, source }),
    }
}

/// Every field path a filter names.
fn filter_paths<'f>(filter: &'f Filter, paths: &mut Vec<&'f str>) {
    match filter {
        Filter::And(filters) | Filter::Or(filters) | Filter::Nor(filters) => {
            for filter in filters {
                filter_paths(filter, paths);
            }
        }
        Filter::Field { path, .. } => paths.push(path),
    }
}

impl AggregateSpec {
    /// Reads and checks a spec against `entity` (see the module's doc for every rule).
    pub fn parse(body: &Value, entity: &Entity) -> Result<Self, AggregateError> {
        let Value::Object(spec) = body else {
            return Err(AggregateError::NotAnObject {
                found: offbase_model::json_kind(body),
            });
        };
        if let Some(key) = spec.keys().find(|key| !KEYS.contains(&key.as_str())) {
            return Err(AggregateError::UnknownKey { key: key.clone() });
        }
        let query = filter("query", spec.get("query"))?.unwrap_or_else(Filter::all);

        let group_by: Vec<String> = field_list(entity, "groupBy", spec.get("groupBy"))?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        if group_by.len() > MAX_GROUP_FIELDS {
            return Err(AggregateError::TooManyGroupFields {
                count: group_by.len(),
            });
        }

        let date_bucket = match spec.get("dateBucket") {
            None | Some(Value::Null) => None,
            Some(value) => Some(date_bucket(entity, value)?),
        };

        let count = match spec.get("count") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(count)) => *count,
            Some(other) => return Err(invalid("count", "a boolean", other)),
        };

        let mut measures = Vec::new();
        for function in Function::ALL {
            for (field, kind) in field_list(entity, function.key(), spec.get(function.key()))? {
                check_measure(function, &field, &kind)?;
                measures.push(Measure { function, field });
            }
        }

        let limit = match spec.get("limit") {
            None | Some(Value::Null) => MAX_LIMIT,
            Some(value) => read_limit(value)?,
        };

        let mut parsed = AggregateSpec {
            query,
            group_by,
            date_bucket,
            count,
            measures,
            having: None,
            sort: None,
            limit,
        };
        let names = parsed.output_names();
        for (index, name) in names.iter().enumerate() {
            if names[..index].contains(name) {
                return Err(AggregateError::NameClash { name: name.clone() });
            }
        }
        let row_field = |key: &str, name: &str| {
            if names.iter().any(|known| known == name) {
                Ok(())
            } else {
                Err(AggregateError::NotARowField {
                    key: key.to_owned(),
                    name: name.to_owned(),
                    available: names.join(", "),
                })
            }
        };
        parsed.having = filter("having", spec.get("having"))?;
        if let Some(having) = &parsed.having {
            let mut paths = Vec::new();
            filter_paths(having, &mut paths);
            for path in paths {
                row_field("having", path)?;
            }
        }
        parsed.sort = match spec.get("sort") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                parse_sort(text).map_err(|source| AggregateError::Filter {
                    key: "sort",
                    source,
                })?
            }
            Some(other) => {
                return Err(invalid(
                    "sort",
                    "a row field name, `-` for descending",
                    other,
                ));
            }
        };
        if let Some(sort) = &parsed.sort {
            row_field("sort", &sort.field)?;
        }
        Ok(parsed)
    }
}

fn date_bucket(entity: &Entity, value: &Value) -> Result<DateBucket, AggregateError> {
    let Value::Object(bucket) = value else {
        return Err(invalid(
            "dateBucket",
            "an object {\"field\": ..., \"unit\": ...}",
            value,
        ));
    };
    if let Some(key) = bucket
        .keys()
        .find(|key| !["field", "unit"].contains(&key.as_str()))
    {
        return Err(AggregateError::UnknownKey {
            key: format!("dateBucket.{key}"),
        });
    }
    let field = match bucket.get("field") {
        Some(Value::String(field)) => field.clone(),
        other => {
            return Err(invalid(
                "dateBucket.field",
                "a field name",
                other.unwrap_or(&Value::Null),
            ));
        }
    };
    let kind = field_kind(entity, &field).ok_or_else(|| AggregateError::UnknownField {
        key: "dateBucket.field".to_owned(),
        field: field.clone(),
        entity: entity.name.clone(),
    })?;
    let date_field = match &kind {
        Kind::Stamp => false,
        Kind::Declared(FieldKind::String, Some(format))
            if format == "date" || format == "date-time" =>
        {
            true
        }
        _ => return Err(AggregateError::NotADateField { field }),
    };
    let unit = match bucket.get("unit") {
        Some(Value::String(unit)) => unit,
        other => {
            return Err(invalid(
                "dateBucket.unit",
                "day, week, month or year",
                other.unwrap_or(&Value::Null),
            ));
        }
    };
    match BucketUnit::parse(unit) {
        Some(BucketUnit::Week) if date_field => Err(AggregateError::InvalidUnit {
            unit: format!("{unit:?} on `{field}`"),
            date_field,
        }),
        Some(unit) => Ok(DateBucket { field, unit }),
        None => Err(AggregateError::InvalidUnit {
            unit: format!("{unit:?}"),
            date_field,
        }),
    }
}

fn check_measure(function: Function, field: &str, kind: &Kind) -> Result<(), AggregateError> {
    let expected = match function {
        Function::CountDistinct => return Ok(()),
        Function::Sum | Function::Avg => "number or integer",
        Function::Min | Function::Max => "number, integer or string",
    };
    let fits = match kind {
        Kind::Stamp => matches!(function, Function::Min | Function::Max),
        Kind::Declared(FieldKind::Number | FieldKind::Integer, _) => true,
        Kind::Declared(FieldKind::String, _) => matches!(function, Function::Min | Function::Max),
        Kind::Declared(..) | Kind::Free => false,
    };
    if fits {
        Ok(())
    } else {
        Err(AggregateError::WrongKind {
            key: function.key().to_owned(),
            field: field.to_owned(),
            expected,
            kind: kind.describe(),
        })
    }
}

fn read_limit(value: &Value) -> Result<usize, AggregateError> {
    let wrong = || invalid("limit", "a whole number from 1 (at most 1000 rows)", value);
    let Value::Number(number) = value else {
        return Err(wrong());
    };
    let whole = match (number.as_u64(), number.as_f64()) {
        (Some(whole), _) => whole,
        // Integral and in range, so the cast is exact.
        (None, Some(float)) if float.fract() == 0.0 && (1.0..1e15).contains(&float) => float as u64,
        _ => return Err(wrong()),
    };
    if whole == 0 {
        return Err(wrong());
    }
    Ok(usize::try_from(whole).unwrap_or(usize::MAX).min(MAX_LIMIT))
}
