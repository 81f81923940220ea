//! Field definitions: a `properties` object into [`Field`]s in file order, each field's `type`
//! (a name, a list with `null`, a union, or inferred from `enum`, `items` or `properties` when
//! absent), its options (`format`, `enum`, bounds, ...), nested `items` and `properties`, and
//! `required`. An option of the wrong JSON type is not applied, kept in [`Field::extra`] and
//! reported.

use super::outcome::ReadWarning;
use offbase_model::{Field, FieldKind};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Where warnings go while one entity is read.
pub(super) struct Context<'a> {
    pub(super) path: &'a str,
    pub(super) entity: &'a str,
    pub(super) warnings: Vec<ReadWarning>,
}

impl Context<'_> {
    pub(super) fn warn(&mut self, message: impl Into<String>) {
        self.warnings
            .push(ReadWarning::new(self.path, Some(self.entity), message));
    }
}

/// The fields of a `properties` object, in file order. `parent` is the location of the owning
/// field, for messages (`None` at the top level).
pub(super) fn parse_properties(
    properties: &Map<String, Value>,
    parent: Option<&str>,
    context: &mut Context<'_>,
) -> Vec<Field> {
    properties
        .iter()
        .map(|(name, definition)| {
            let location = match parent {
                Some(parent) => format!("{parent}.{name}"),
                None => name.clone(),
            };
            parse_field(name, &location, definition, context)
        })
        .collect()
}

/// Marks the fields listed in `required`. Returns the value when it cannot be applied, so the
/// caller keeps it in `extra`.
pub(super) fn apply_required(
    required: &Value,
    fields: &mut [Field],
    parent: Option<&str>,
    context: &mut Context<'_>,
) -> Option<Value> {
    let owner = match parent {
        Some(parent) => format!("field `{parent}`: "),
        None => String::new(),
    };
    let Value::Array(names) = required else {
        context.warn(format!(
            "{owner}`required` is {}, not a list of field names: kept in extra",
            offbase_model::json_kind(required)
        ));
        return Some(required.clone());
    };
    for name in names {
        match name {
            Value::String(name) => match fields.iter_mut().find(|field| field.name == *name) {
                Some(field) => field.required = true,
                None => context.warn(format!(
                    "{owner}`required` lists `{name}`, which is not a declared property: ignored"
                )),
            },
            other => context.warn(format!(
                "{owner}`required` holds {}, not a field name: ignored",
                compact(other)
            )),
        }
    }
    None
}

/// One field definition. `name` is the field's own name (`tags[]` for an item), `location` its
/// path from the entity for messages (`address.street`, `tags[]`).
fn parse_field(name: &str, location: &str, definition: &Value, context: &mut Context<'_>) -> Field {
    let mut field = Field::new(name, FieldKind::Any);
    let definition = match definition {
        Value::Object(definition) => definition,
        Value::String(type_name) => {
            context.warn(format!(
                "field `{location}` is the string \"{type_name}\", not a definition object: read \
                 as {{\"type\": \"{type_name}\"}}"
            ));
            set_kind_from_type(&mut field, location, definition, context);
            return field;
        }
        other => {
            context.warn(format!(
                "field `{location}` is {}, not a definition object: read as free JSON, kept in \
                 extra as `definition`",
                offbase_model::json_kind(other)
            ));
            field.extra.insert("definition".to_owned(), other.clone());
            return field;
        }
    };

    let mut required: Option<&Value> = None;
    for (key, value) in definition {
        match key.as_str() {
            "type" => {}
            "format" => {
                field.format = string_option(key, value, location, &mut field.extra, context)
            }
            "title" => field.title = string_option(key, value, location, &mut field.extra, context),
            "description" => {
                field.description = string_option(key, value, location, &mut field.extra, context)
            }
            "pattern" => {
                field.pattern = string_option(key, value, location, &mut field.extra, context)
            }
            "enum" => {
                field.enum_values = list_option(key, value, location, &mut field.extra, context)
            }
            "enumNames" => {
                field.enum_names = list_option(key, value, location, &mut field.extra, context)
            }
            "default" => field.default = Some(value.clone()),
            "minimum" => {
                field.minimum = number_option(key, value, location, &mut field.extra, context)
            }
            "maximum" => {
                field.maximum = number_option(key, value, location, &mut field.extra, context)
            }
            "minLength" => {
                field.min_length = count_option(key, value, location, &mut field.extra, context)
            }
            "maxLength" => {
                field.max_length = count_option(key, value, location, &mut field.extra, context)
            }
            "items" => match value {
                Value::Object(_) | Value::String(_) => {
                    let item = parse_field(
                        &format!("{name}[]"),
                        &format!("{location}[]"),
                        value,
                        context,
                    );
                    field.items = Some(Box::new(item));
                }
                other => {
                    context.warn(format!(
                        "field `{location}`: `items` is {}, not one item definition: kept in extra",
                        offbase_model::json_kind(other)
                    ));
                    field.extra.insert(key.clone(), other.clone());
                }
            },
            "properties" => match value {
                Value::Object(properties) => {
                    field.properties = Some(parse_properties(properties, Some(location), context));
                }
                other => {
                    context.warn(format!(
                        "field `{location}`: `properties` is {}, not an object: kept in extra",
                        offbase_model::json_kind(other)
                    ));
                    field.extra.insert(key.clone(), other.clone());
                }
            },
            "required" => required = Some(value),
            "rls" => field.rls = Some(value.clone()),
            _ => {
                field.extra.insert(key.clone(), value.clone());
            }
        }
    }

    if let Some(required) = required {
        match (&mut field.properties, required) {
            (Some(properties), Value::Array(_)) => {
                if let Some(unused) = apply_required(required, properties, Some(location), context)
                {
                    field.extra.insert("required".to_owned(), unused);
                }
            }
            // `"required": true` on a field, or `required` without nested properties: not
            // something the reader interprets; kept as written.
            _ => {
                field.extra.insert("required".to_owned(), required.clone());
            }
        }
    }

    match definition.get("type") {
        Some(type_value) => set_kind_from_type(&mut field, location, type_value, context),
        None => {
            field.kind = if field.properties.is_some() {
                FieldKind::Object
            } else if field.items.is_some() || definition.contains_key("items") {
                FieldKind::Array
            } else if let Some(values) = &field.enum_values {
                let (kind, nullable) = infer_enum_kind(values);
                field.nullable |= nullable;
                kind
            } else {
                FieldKind::Any
            };
        }
    }
    field
}

/// Sets `kind` and `nullable` from a `type` value (a name or a list of names).
fn set_kind_from_type(
    field: &mut Field,
    location: &str,
    type_value: &Value,
    context: &mut Context<'_>,
) {
    let names: Vec<&str> = match type_value {
        Value::String(name) => vec![name.as_str()],
        Value::Array(values) if values.iter().all(Value::is_string) => {
            values.iter().filter_map(Value::as_str).collect()
        }
        other => {
            context.warn(format!(
                "field `{location}`: `type` is {}, neither a type name nor a list of them: read as \
                 free JSON, kept in extra",
                compact(other)
            ));
            field.kind = FieldKind::Any;
            field.extra.insert("type".to_owned(), other.clone());
            return;
        }
    };
    let mut non_null: Vec<String> = Vec::new();
    for name in names {
        if name == "null" {
            field.nullable = true;
        } else if !non_null.iter().any(|known| known == name) {
            non_null.push(name.to_owned());
        }
    }
    for name in &non_null {
        if kind_of(name).is_none() {
            context.warn(format!(
                "field `{location}`: unknown type `{name}`: read as free JSON"
            ));
        }
    }
    field.kind = match non_null.as_slice() {
        [] => FieldKind::Any,
        [name] => kind_of(name).unwrap_or_else(|| FieldKind::Unknown(name.clone())),
        _ => {
            non_null.sort();
            FieldKind::Union(non_null)
        }
    };
}

/// The kind a Base44 type name stands for; `None` for names the reference does not know.
fn kind_of(name: &str) -> Option<FieldKind> {
    Some(match name {
        "string" => FieldKind::String,
        "integer" => FieldKind::Integer,
        "number" => FieldKind::Number,
        "boolean" => FieldKind::Boolean,
        "array" => FieldKind::Array,
        "object" => FieldKind::Object,
        "binary" => FieldKind::Binary,
        _ => return None,
    })
}

/// The kind implied by `enum` values when there is no `type`, and whether `null` is among them.
fn infer_enum_kind(values: &[Value]) -> (FieldKind, bool) {
    let nullable = values.iter().any(Value::is_null);
    let present: Vec<&Value> = values.iter().filter(|value| !value.is_null()).collect();
    let kind = if present.is_empty() {
        FieldKind::Any
    } else if present.iter().all(|value| value.is_string()) {
        FieldKind::String
    } else if present.iter().all(|value| value.is_boolean()) {
        FieldKind::Boolean
    } else if present.iter().all(|value| value.is_i64() || value.is_u64()) {
        FieldKind::Integer
    } else if present.iter().all(|value| value.is_number()) {
        FieldKind::Number
    } else {
        FieldKind::Any
    };
    (kind, nullable)
}

fn string_option(
    key: &str,
    value: &Value,
    location: &str,
    extra: &mut BTreeMap<String, Value>,
    context: &mut Context<'_>,
) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        other => {
            misplaced(key, other, "a string", location, extra, context);
            None
        }
    }
}

fn list_option(
    key: &str,
    value: &Value,
    location: &str,
    extra: &mut BTreeMap<String, Value>,
    context: &mut Context<'_>,
) -> Option<Vec<Value>> {
    match value {
        Value::Array(values) => Some(values.clone()),
        other => {
            misplaced(key, other, "a list", location, extra, context);
            None
        }
    }
}

fn number_option(
    key: &str,
    value: &Value,
    location: &str,
    extra: &mut BTreeMap<String, Value>,
    context: &mut Context<'_>,
) -> Option<f64> {
    match value.as_f64() {
        Some(number) => Some(number),
        None => {
            misplaced(key, value, "a number", location, extra, context);
            None
        }
    }
}

fn count_option(
    key: &str,
    value: &Value,
    location: &str,
    extra: &mut BTreeMap<String, Value>,
    context: &mut Context<'_>,
) -> Option<u64> {
    match value.as_u64() {
        Some(count) => Some(count),
        None => {
            misplaced(key, value, "a whole number ≥ 0", location, extra, context);
            None
        }
    }
}

/// An option of the wrong JSON type: not applied, kept in `extra`, reported.
fn misplaced(
    key: &str,
    value: &Value,
    expected: &str,
    location: &str,
    extra: &mut BTreeMap<String, Value>,
    context: &mut Context<'_>,
) {
    context.warn(format!(
        "field `{location}`: `{key}` is {}, not {expected}: not applied, kept in extra",
        compact(value)
    ));
    extra.insert(key.to_owned(), value.clone());
}

/// A value as short JSON text for messages.
pub(super) fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}
