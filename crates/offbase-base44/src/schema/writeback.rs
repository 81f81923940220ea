//! An IR [`Entity`] written back as a Base44 schema object ([`entity_schema_json`]), so that a
//! schema inferred from data (CSV import) can be saved as an ordinary schema file and read back
//! by [`parse_entity_file`](super::entity::parse_entity_file) into the same fields. Interpreted keys are written from the
//! IR; the keys the reader kept in `extra` follow, unless an interpreted key already wrote them.

use super::extra::extend_missing;
use super::rls::rls_json;
use crate::EXACT_FLOAT_INTEGER;
use offbase_model::{Entity, Field, FieldKind};
use serde_json::{Map, Number, Value};

/// Writes an IR entity back as a Base44 schema object (`name`, `type`, `title`,
/// `description`, `properties`, `required`, `rls`, then the keys kept in `extra`), so that an
/// inferred schema can be saved as an ordinary schema file and read back by
/// [`parse_entity_file`](super::entity::parse_entity_file) into the same fields.
pub fn entity_schema_json(entity: &Entity) -> Value {
    let mut object = Map::new();
    object.insert("name".to_owned(), Value::String(entity.name.clone()));
    if !entity.extra.contains_key("type") {
        object.insert("type".to_owned(), Value::String("object".to_owned()));
    }
    if let Some(title) = &entity.title {
        object.insert("title".to_owned(), Value::String(title.clone()));
    }
    if let Some(description) = &entity.description {
        object.insert("description".to_owned(), Value::String(description.clone()));
    }
    if !entity.fields.is_empty() || !entity.extra.contains_key("properties") {
        object.insert("properties".to_owned(), properties_json(&entity.fields));
    }
    if let Some(required) = required_json(&entity.fields) {
        object.insert("required".to_owned(), required);
    }
    if let Some(rls) = &entity.rls {
        object.insert("rls".to_owned(), rls_json(rls));
    }
    extend_missing(&mut object, &entity.extra);
    Value::Object(object)
}

fn properties_json(fields: &[Field]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|field| (field.name.clone(), field_json(field)))
            .collect(),
    )
}

/// The names of the required fields, when there are any.
fn required_json(fields: &[Field]) -> Option<Value> {
    let required: Vec<Value> = fields
        .iter()
        .filter(|field| field.required)
        .map(|field| Value::String(field.name.clone()))
        .collect();
    (!required.is_empty()).then_some(Value::Array(required))
}

fn field_json(field: &Field) -> Value {
    let mut object = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            object.insert(key.to_owned(), value);
        }
    };
    if !field.extra.contains_key("type") {
        put("type", type_json(&field.kind, field.nullable));
    }
    put("format", field.format.clone().map(Value::String));
    put("title", field.title.clone().map(Value::String));
    put("description", field.description.clone().map(Value::String));
    put("enum", field.enum_values.clone().map(Value::Array));
    put("enumNames", field.enum_names.clone().map(Value::Array));
    put("default", field.default.clone());
    put("minimum", field.minimum.and_then(number_json));
    put("maximum", field.maximum.and_then(number_json));
    put("minLength", field.min_length.map(Value::from));
    put("maxLength", field.max_length.map(Value::from));
    put("pattern", field.pattern.clone().map(Value::String));
    put("items", field.items.as_deref().map(field_json));
    put(
        "properties",
        field.properties.as_deref().map(properties_json),
    );
    put(
        "required",
        field.properties.as_deref().and_then(required_json),
    );
    put("rls", field.rls.clone());
    extend_missing(&mut object, &field.extra);
    Value::Object(object)
}

/// The `type` of a field: one name, or a list when it admits `null` or several types; `None`
/// for free JSON.
fn type_json(kind: &FieldKind, nullable: bool) -> Option<Value> {
    let mut names: Vec<String> = match kind {
        FieldKind::Any => Vec::new(),
        FieldKind::Union(names) => names.clone(),
        FieldKind::Unknown(name) => vec![name.clone()],
        other => vec![other.key().to_owned()],
    };
    if nullable {
        names.push("null".to_owned());
    }
    match names.as_slice() {
        [] => None,
        [name] => Some(Value::String(name.clone())),
        _ => Some(Value::Array(names.into_iter().map(Value::String).collect())),
    }
}

/// A bound as JSON: whole numbers without a fraction (`0`, not `0.0`).
fn number_json(value: f64) -> Option<Value> {
    if value.fract() == 0.0 && value.abs() <= EXACT_FLOAT_INTEGER {
        Some(Value::from(value as i64))
    } else {
        Number::from_f64(value).map(Value::Number)
    }
}
