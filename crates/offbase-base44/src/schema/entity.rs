//! One schema file into an [`Entity`]: the top-level keys (`name`, `type`, `title`,
//! `description`, `properties`, `required`, `rls`), every other key kept in [`Entity::extra`],
//! and the entity's name when the schema gives none (its title, else made from the file name).
//! What is not an entity schema (sample records, another schema format) is skipped.

use super::fields::{Context, apply_required, compact, parse_properties};
use super::outcome::{ParsedFile, ReadWarning, SchemaError, parse_jsonc};
use super::rls::parse_rls;
use offbase_model::{Entity, SchemaSource, SourceLayout};
use serde_json::Value;
use std::collections::BTreeMap;

/// Top-level keys of an entity schema that the reader interprets; any other key is kept in
/// [`Entity::extra`].
const ENTITY_KEYS: [&str; 7] = [
    "name",
    "type",
    "title",
    "description",
    "properties",
    "required",
    "rls",
];

/// Parses one schema file (JSONC) into an entity. `path` names the file in messages and in
/// [`SchemaSource::path`]; its last segment is used when the schema carries no name.
pub fn parse_entity_file(
    text: &str,
    path: &str,
    layout: SourceLayout,
) -> Result<ParsedFile, SchemaError> {
    let mut object = match parse_jsonc(text, path)? {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Ok(skipped(
                path,
                "a JSON array (it looks like sample records), not an entity schema: skipped; \
                 move it out of the schema folder to silence this warning",
            ));
        }
        other => {
            return Ok(skipped(
                path,
                format!(
                    "{} at the top level, not an entity schema object: skipped",
                    offbase_model::json_kind(&other)
                ),
            ));
        }
    };
    let has_properties = object.contains_key("properties");
    if !has_properties && matches!(object.get("fields"), Some(Value::Array(_))) {
        return Ok(skipped(
            path,
            "has a `fields` list instead of `properties`: a different schema format, not a \
             Base44 entity schema: skipped",
        ));
    }
    if !has_properties && !object.contains_key("name") && !object.contains_key("title") {
        return Ok(skipped(
            path,
            "has neither `properties` nor `name` nor `title`: not an entity schema: skipped",
        ));
    }

    let mut extra: BTreeMap<String, Value> = BTreeMap::new();
    let mut early_warnings: Vec<String> = Vec::new();

    let title = match object.remove("title") {
        Some(Value::String(title)) => Some(title),
        Some(other) => {
            early_warnings.push("`title` is not a string: kept in extra".to_owned());
            extra.insert("title".to_owned(), other);
            None
        }
        None => None,
    };
    let name = match object.remove("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name,
        found => {
            if let Some(value) = found {
                early_warnings.push(format!(
                    "`name` is {}, not a non-empty string: ignored and kept in extra",
                    json_kind_or_empty(&value)
                ));
                extra.insert("name".to_owned(), value);
            }
            match &title {
                Some(title) if is_plain_name(title) => {
                    early_warnings.push(format!("no `name`: using the title `{title}`"));
                    title.clone()
                }
                _ => {
                    let from_file = pascal_case(file_stem(path));
                    early_warnings.push(format!(
                        "no `name`: using `{from_file}`, made from the file name; add \
                         \"name\" to the schema to choose another"
                    ));
                    from_file
                }
            }
        }
    };

    let mut context = Context {
        path,
        entity: &name,
        warnings: Vec::new(),
    };
    for message in early_warnings {
        context.warn(message);
    }
    if !is_plain_name(&name) {
        context.warn(format!(
            "entity name `{name}` is not made of letters, digits and underscores only: kept \
             as written"
        ));
    }

    match object.remove("type") {
        None => {}
        Some(Value::String(kind)) if kind == "object" => {}
        Some(other) => {
            context.warn(format!(
                "top-level `type` is {}, not \"object\": read as an entity anyway, `type` kept \
                 in extra",
                compact(&other)
            ));
            extra.insert("type".to_owned(), other);
        }
    }

    let description = match object.remove("description") {
        Some(Value::String(description)) => Some(description),
        Some(other) => {
            context.warn("`description` is not a string: kept in extra");
            extra.insert("description".to_owned(), other);
            None
        }
        None => None,
    };

    let mut fields = match object.remove("properties") {
        Some(Value::Object(properties)) => {
            if properties.is_empty() {
                context.warn("`properties` is empty: no declared fields");
            }
            parse_properties(&properties, None, &mut context)
        }
        Some(other) => {
            context.warn(format!(
                "`properties` is {}, not an object: no declared fields, kept in extra",
                offbase_model::json_kind(&other)
            ));
            extra.insert("properties".to_owned(), other);
            Vec::new()
        }
        None => {
            context.warn(
                "no `properties`: no declared fields; every record field will be kept in `_extra`",
            );
            Vec::new()
        }
    };

    if let Some(required) = object.remove("required")
        && let Some(unused) = apply_required(&required, &mut fields, None, &mut context)
    {
        extra.insert("required".to_owned(), unused);
    }

    let rls = match object.remove("rls") {
        Some(Value::Object(rules)) => Some(parse_rls(rules)),
        Some(other) => {
            context.warn(format!(
                "`rls` is {}, not an object of rules: not applied, kept in extra",
                offbase_model::json_kind(&other)
            ));
            extra.insert("rls".to_owned(), other);
            None
        }
        None => None,
    };

    for (key, value) in object {
        debug_assert!(!ENTITY_KEYS.contains(&key.as_str()));
        extra.insert(key, value);
    }

    let warnings = context.warnings;
    let entity = Entity {
        name,
        source: SchemaSource {
            path: path.to_owned(),
            layout,
        },
        title,
        description,
        fields,
        rls,
        extra,
    };
    Ok(ParsedFile::Entity(entity, warnings))
}

fn skipped(path: &str, message: impl Into<String>) -> ParsedFile {
    ParsedFile::Skipped(ReadWarning::new(path, None, message))
}

/// Entity names Base44 accepts: letters, digits and, as real apps show (`Ops_Task`),
/// underscores.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_')
}

/// The file name of `path` without `.json`/`.jsonc`.
pub(super) fn file_stem(path: &str) -> &str {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    for extension in [".jsonc", ".json"] {
        if lower.ends_with(extension) {
            return &name[..name.len() - extension.len()];
        }
    }
    name
}

/// `deal-stage` → `DealStage`, `service_contact` → `ServiceContact`, `dealStage` → `DealStage`.
pub(super) fn pascal_case(stem: &str) -> String {
    let converted: String = stem
        .split(|character: char| !character.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .flat_map(|part| {
            let mut characters = part.chars();
            let first = characters
                .next()
                .map(|first| first.to_uppercase().collect::<String>());
            first
                .into_iter()
                .chain(std::iter::once(characters.collect::<String>()))
        })
        .collect();
    if converted.is_empty() {
        stem.to_owned()
    } else {
        converted
    }
}

fn json_kind_or_empty(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "an empty string",
        other => offbase_model::json_kind(other),
    }
}
