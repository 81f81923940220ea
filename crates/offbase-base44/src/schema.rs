//! Reading Base44 entity schemas into the IR ([`App`], [`Entity`], [`Field`]).
//!
//! This module owns two things: finding the schema files of an exported app (the layouts
//! `base44/entities/`, `src/entities/`, `entities/`, a folder or file given directly, or only the
//! names in `src/api/entities.js`), and turning one JSONC schema file into an [`Entity`] while
//! keeping every key it does not interpret. Input that is not an entity schema is skipped with a
//! warning naming the file; input that cannot be read is an error naming the file and what to do.

use crate::jsonc;
use offbase_model::{App, Entity, Field, FieldKind, Rls, RlsRule, SchemaSource, SourceLayout};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// The relative path (from an export root) of the file that lists entity names in the oldest
/// exports.
const NAMES_FILE: &str = "src/api/entities.js";

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

/// An app read from its schema files, with everything worth telling the user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadOutcome {
    pub app: App,
    /// In reading order: layouts by precedence, files by name.
    pub warnings: Vec<ReadWarning>,
}

/// Something the reader accepted but that the user should know about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadWarning {
    /// The file, relative to the source root, with `/` separators.
    pub path: String,
    /// The entity concerned, once its name is known.
    pub entity: Option<String>,
    pub message: String,
}

impl ReadWarning {
    fn new(path: &str, entity: Option<&str>, message: impl Into<String>) -> Self {
        ReadWarning {
            path: path.to_owned(),
            entity: entity.map(str::to_owned),
            message: message.into(),
        }
    }
}

impl fmt::Display for ReadWarning {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entity {
            Some(entity) => write!(formatter, "{} ({entity}): {}", self.path, self.message),
            None => write!(formatter, "{}: {}", self.path, self.message),
        }
    }
}

/// The result of parsing one schema file.
// One value per file, moved once: boxing the entity would only make matching on it clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedFile {
    /// An entity schema, with the warnings met while reading it.
    Entity(Entity, Vec<ReadWarning>),
    /// Not an entity schema (sample records, another schema format, ...): the warning says why.
    Skipped(ReadWarning),
}

/// Why schemas could not be read. Paths are relative to the source root given by the user.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}:{column}: invalid JSON: {message} (fix the file, or move it out of the schema folder)"
    )]
    InvalidJson {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}:{line}:{column}: not UTF-8 text: save the file as UTF-8")]
    InvalidUtf8 {
        path: String,
        line: usize,
        column: usize,
    },
    #[error(
        "{path}: no entity schemas found: give a code-export root, a base44/entities, src/entities or entities folder, or one schema file"
    )]
    NotFound { path: String },
    #[error(
        "{path}: no Base44 entity schema found ({why}): give a code-export root, a base44/entities, src/entities or entities folder, or one schema file"
    )]
    NoEntitySchema { path: String, why: String },
    #[error(
        "entity `{name}` is defined twice in one folder, in {first} and in {second}: remove one of the two files"
    )]
    DuplicateEntity {
        name: String,
        first: String,
        second: String,
    },
    #[error(
        "{path}: the name \"{name}\" holds control characters (shown escaped), which no Base44 name does: fix the schema"
    )]
    ControlCharacters { path: String, name: String },
}

/// Reads the entity schemas of an app.
///
/// `source` is a code-export root (holding `base44/entities/`, `src/entities/` and/or
/// `entities/`, or only `src/api/entities.js`), a folder that directly holds schema files, or
/// one schema file.
pub fn read_app(source: &Path) -> Result<ReadOutcome, SchemaError> {
    let metadata = fs::metadata(source).map_err(|error| SchemaError::Io {
        path: source.display().to_string(),
        source: error,
    })?;
    let outcome = if metadata.is_file() {
        read_single_file(source)
    } else {
        read_folder(source)
    }?;
    // Files were read but none was an entity schema (another format, sample records, ...):
    // planning only the platform `User` would look like success.
    if outcome.app.entities.is_empty() {
        let why = match outcome.warnings.as_slice() {
            [] => "no schema file".to_owned(),
            [only] => format!("the only candidate was skipped: {only}"),
            [first, rest @ ..] => format!(
                "{} candidates, all skipped; the first: {first}",
                rest.len() + 1
            ),
        };
        return Err(SchemaError::NoEntitySchema {
            path: source.display().to_string(),
            why,
        });
    }
    refuse_control_characters(&outcome)?;
    Ok(outcome)
}

/// Refuses entity and field names holding control characters (a newline, an escape, a NUL):
/// Base44 names never do, and printed as they are they would rewrite the terminal of whoever
/// runs offbase (clear it, set its title, forge an `error:` line).
fn refuse_control_characters(outcome: &ReadOutcome) -> Result<(), SchemaError> {
    for entity in &outcome.app.entities {
        let fields = entity.fields.iter().map(|field| field.name.as_str());
        for name in std::iter::once(entity.name.as_str()).chain(fields) {
            if name.chars().any(char::is_control) {
                return Err(SchemaError::ControlCharacters {
                    path: entity.source.path.escape_debug().to_string(),
                    name: name.escape_debug().to_string(),
                });
            }
        }
    }
    Ok(())
}

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

// ---------------------------------------------------------------------------------------------
// Finding files

/// One folder where schema files may live.
struct SchemaFolder {
    /// Relative to the source root, `/` separators; empty for the root itself.
    relative: String,
    layout: SourceLayout,
}

/// A schema file found in a folder.
struct SchemaFile {
    /// Relative to the source root, `/` separators.
    relative: String,
    absolute: PathBuf,
}

/// The entities read so far, keyed by name, with the layout and file that defined each.
#[derive(Default)]
struct Collected {
    entities: BTreeMap<String, (Entity, SourceLayout)>,
    warnings: Vec<ReadWarning>,
    files_seen: usize,
    /// The layout and folder of the first entity kept: the app's current layout.
    current: Option<(SourceLayout, String)>,
}

impl Collected {
    /// Adds the entities of one folder. Folders must come in order of precedence.
    fn add_folder(&mut self, root: &Path, folder: &SchemaFolder) -> Result<(), SchemaError> {
        let files = list_schema_files(root, &folder.relative, &mut self.warnings)?;
        self.files_seen += files.len();
        for file in files {
            let text = read_text(&file.absolute, &file.relative)?;
            match parse_entity_file(&text, &file.relative, folder.layout)? {
                ParsedFile::Skipped(warning) => self.warnings.push(warning),
                ParsedFile::Entity(entity, warnings) => self.add_entity(entity, warnings)?,
            }
        }
        Ok(())
    }

    fn add_entity(
        &mut self,
        entity: Entity,
        warnings: Vec<ReadWarning>,
    ) -> Result<(), SchemaError> {
        let layout = entity.source.layout;
        if let Some((existing, existing_layout)) = self.entities.get(&entity.name) {
            if *existing_layout == layout {
                // A copy of a schema under another file name (real apps ship them): the same
                // definition twice loses nothing, so the first file (by name) is kept.
                let copy = Entity {
                    source: existing.source.clone(),
                    ..entity.clone()
                };
                if copy == *existing {
                    self.warnings.push(ReadWarning::new(
                        &entity.source.path,
                        Some(&entity.name),
                        format!(
                            "ignored: an identical copy of the definition in {}, which is kept; \
                             remove one of the two files to silence this warning",
                            existing.source.path
                        ),
                    ));
                    return Ok(());
                }
                return Err(SchemaError::DuplicateEntity {
                    name: entity.name.clone(),
                    first: existing.source.path.clone(),
                    second: entity.source.path.clone(),
                });
            }
            // Folders come in order of precedence: the one already kept wins. The loser's own
            // warnings are about a file that is not used, so they are left out.
            let mut message = format!(
                "ignored: {} defines the same entity and wins",
                existing.source.path
            );
            let only_in_loser: Vec<&str> = entity
                .fields
                .iter()
                .filter(|field| existing.field(&field.name).is_none())
                .map(|field| field.name.as_str())
                .collect();
            if !only_in_loser.is_empty() {
                message.push_str(&format!(
                    " (fields only in it: {}; record values for them will be kept in `_extra`)",
                    only_in_loser.join(", ")
                ));
            }
            self.warnings.push(ReadWarning::new(
                &entity.source.path,
                Some(&entity.name),
                message,
            ));
            return Ok(());
        }
        self.warnings.extend(warnings);
        let folder = parent_folder(&entity.source.path);
        match &self.current {
            None => self.current = Some((layout, folder.to_owned())),
            Some((current_layout, current_folder)) if *current_layout != layout => {
                self.warnings.push(ReadWarning::new(
                    &entity.source.path,
                    Some(&entity.name),
                    format!(
                        "only in {folder}, not in {current_folder}: kept; if the app no longer \
                         has this entity, remove the file"
                    ),
                ));
            }
            Some(_) => {}
        }
        self.entities.insert(entity.name.clone(), (entity, layout));
        Ok(())
    }

    fn into_entities(self) -> (Vec<Entity>, Vec<ReadWarning>) {
        let entities = self
            .entities
            .into_values()
            .map(|(entity, _)| entity)
            .collect();
        (entities, self.warnings)
    }
}

fn read_single_file(file: &Path) -> Result<ReadOutcome, SchemaError> {
    let relative = file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string());
    let app_name = folder_name(file.parent().unwrap_or(Path::new(".")));
    let text = read_text(file, &relative)?;
    let (entities, warnings) = if relative.ends_with(".js") {
        names_only(&text, &relative)
    } else {
        let mut collected = Collected::default();
        match parse_entity_file(&text, &relative, SourceLayout::Direct)? {
            ParsedFile::Skipped(warning) => collected.warnings.push(warning),
            ParsedFile::Entity(entity, warnings) => collected.add_entity(entity, warnings)?,
        }
        collected.into_entities()
    };
    Ok(ReadOutcome {
        app: App {
            name: app_name,
            app_id: None,
            entities,
        },
        warnings,
    })
}

fn read_folder(root: &Path) -> Result<ReadOutcome, SchemaError> {
    let mut collected = Collected::default();
    let app_id = read_app_id(root, &mut collected.warnings);

    let base44_entities = entities_dir_from_config(root, &mut collected.warnings)
        .unwrap_or_else(|| "base44/entities".to_owned());
    let folders = [
        (base44_entities, SourceLayout::Base44Entities),
        ("src/entities".to_owned(), SourceLayout::SrcEntities),
        ("entities".to_owned(), SourceLayout::Entities),
    ];
    let mut visited: Vec<String> = Vec::new();
    for (relative, layout) in folders {
        if visited.contains(&relative) || !root.join(&relative).is_dir() {
            continue;
        }
        collected.add_folder(
            root,
            &SchemaFolder {
                relative: relative.clone(),
                layout,
            },
        )?;
        visited.push(relative);
    }

    let (entities, warnings) = if collected.files_seen > 0 {
        collected.into_entities()
    } else if root.join(NAMES_FILE).is_file() {
        let text = read_text(&root.join(NAMES_FILE), NAMES_FILE)?;
        let (entities, mut names_warnings) = names_only(&text, NAMES_FILE);
        let mut warnings = collected.warnings;
        warnings.append(&mut names_warnings);
        (entities, warnings)
    } else if !looks_like_export_root(root) {
        collected.add_folder(
            root,
            &SchemaFolder {
                relative: String::new(),
                layout: SourceLayout::Direct,
            },
        )?;
        if collected.files_seen == 0 {
            return Err(not_found(root));
        }
        collected.into_entities()
    } else {
        return Err(not_found(root));
    };

    if entities.is_empty() && warnings.is_empty() {
        return Err(not_found(root));
    }
    Ok(ReadOutcome {
        app: App {
            name: folder_name(root),
            app_id,
            entities,
        },
        warnings,
    })
}

fn not_found(root: &Path) -> SchemaError {
    SchemaError::NotFound {
        path: root.display().to_string(),
    }
}

/// A folder that has the shape of a code export: its own JSON files (`package.json`, ...) are
/// not schemas.
fn looks_like_export_root(root: &Path) -> bool {
    root.join("base44").is_dir() || root.join("src").is_dir() || root.join("package.json").exists()
}

/// The `*.json` and `*.jsonc` files directly inside `root/relative`, sorted by file name.
fn list_schema_files(
    root: &Path,
    relative: &str,
    warnings: &mut Vec<ReadWarning>,
) -> Result<Vec<SchemaFile>, SchemaError> {
    let folder = root.join(relative);
    let shown_folder = if relative.is_empty() {
        ".".to_owned()
    } else {
        relative.to_owned()
    };
    let io_error = |error| SchemaError::Io {
        path: shown_folder.clone(),
        source: error,
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(&folder).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let absolute = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_schema_file_name(&name) || !absolute.is_file() {
            continue;
        }
        let relative = join_relative(relative, &name);
        if name.starts_with('.') {
            warnings.push(ReadWarning::new(
                &relative,
                None,
                "hidden file (name starts with `.`): skipped",
            ));
            continue;
        }
        files.push(SchemaFile { relative, absolute });
    }
    files.sort_by(|left, right| left.relative.cmp(&right.relative));
    Ok(files)
}

fn is_schema_file_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".json") || lower.ends_with(".jsonc")
}

/// `base44/entities/Task.jsonc` → `base44/entities`; `Task.jsonc` → `.`.
fn parent_folder(relative: &str) -> &str {
    relative.rsplit_once('/').map_or(".", |(folder, _)| folder)
}

fn join_relative(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_owned()
    } else {
        format!("{folder}/{name}")
    }
}

/// `base44/config.jsonc` `entitiesDir`, relative to the source root, when set.
fn entities_dir_from_config(root: &Path, warnings: &mut Vec<ReadWarning>) -> Option<String> {
    const CONFIG: &str = "base44/config.jsonc";
    let object = read_optional_jsonc_object(root, CONFIG, warnings)?;
    match object.get("entitiesDir") {
        None => None,
        Some(Value::String(directory)) => {
            let relative = normalize_relative(&format!("base44/{directory}"));
            Some(relative)
        }
        Some(other) => {
            warnings.push(ReadWarning::new(
                CONFIG,
                None,
                format!(
                    "`entitiesDir` is {}, not a folder name: using base44/entities",
                    offbase_model::json_kind(other)
                ),
            ));
            None
        }
    }
}

/// `base44/.app.jsonc` `id`, when present.
fn read_app_id(root: &Path, warnings: &mut Vec<ReadWarning>) -> Option<String> {
    const APP_FILE: &str = "base44/.app.jsonc";
    let object = read_optional_jsonc_object(root, APP_FILE, warnings)?;
    match object.get("id") {
        Some(Value::String(id)) => Some(id.clone()),
        None => None,
        Some(other) => {
            warnings.push(ReadWarning::new(
                APP_FILE,
                None,
                format!(
                    "`id` is {}, not a string: app id unknown",
                    offbase_model::json_kind(other)
                ),
            ));
            None
        }
    }
}

/// Reads an optional JSONC object file; a file that is there but unusable is a warning, since
/// the schemas can still be read without it.
fn read_optional_jsonc_object(
    root: &Path,
    relative: &str,
    warnings: &mut Vec<ReadWarning>,
) -> Option<Map<String, Value>> {
    let path = root.join(relative);
    if !path.is_file() {
        return None;
    }
    let parsed = read_text(&path, relative).and_then(|text| parse_jsonc(&text, relative));
    match parsed {
        Ok(Value::Object(object)) => Some(object),
        Ok(other) => {
            warnings.push(ReadWarning::new(
                relative,
                None,
                format!(
                    "{} at the top level, not an object: ignored",
                    offbase_model::json_kind(&other)
                ),
            ));
            None
        }
        Err(error) => {
            warnings.push(ReadWarning::new(
                relative,
                None,
                format!("ignored: {error}"),
            ));
            None
        }
    }
}

/// `a/./b/../c` → `a/c`, with `/` separators.
fn normalize_relative(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|last| *last != "..") => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}

fn read_text(path: &Path, shown: &str) -> Result<String, SchemaError> {
    let bytes = fs::read(path).map_err(|error| SchemaError::Io {
        path: shown.to_owned(),
        source: error,
    })?;
    String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|byte| **byte == b'\n').count() + 1;
        let line_start = valid
            .iter()
            .rposition(|byte| *byte == b'\n')
            .map_or(0, |newline| newline + 1);
        SchemaError::InvalidUtf8 {
            path: shown.to_owned(),
            line,
            column: valid.len() - line_start + 1,
        }
    })
}

/// The last path segment of a folder, resolved so that `.` gives a real name.
fn folder_name(folder: &Path) -> String {
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let resolved = folder
        .canonicalize()
        .unwrap_or_else(|_| folder.to_path_buf());
    resolved
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| resolved.display().to_string())
}

// ---------------------------------------------------------------------------------------------
// src/api/entities.js

/// Entities named in `src/api/entities.js` (`export const Task = base44.entities.Task;`): names
/// only, no fields.
fn names_only(text: &str, path: &str) -> (Vec<Entity>, Vec<ReadWarning>) {
    const ACCESSOR: &str = "base44.entities.";
    let mut names: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find(ACCESSOR) {
            rest = &rest[start + ACCESSOR.len()..];
            let name: String = rest
                .chars()
                .take_while(|character| character.is_alphanumeric() || *character == '_')
                .collect();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names.sort();
    let warnings = names
        .iter()
        .map(|name| {
            ReadWarning::new(
                path,
                Some(name),
                "only the entity name is known (no schema file): every record field will be \
                 kept in `_extra`",
            )
        })
        .collect();
    let entities = names
        .into_iter()
        .map(|name| Entity {
            name,
            source: SchemaSource {
                path: path.to_owned(),
                layout: SourceLayout::NamesOnly,
            },
            title: None,
            description: None,
            fields: Vec::new(),
            rls: None,
            extra: BTreeMap::new(),
        })
        .collect();
    (entities, warnings)
}

// ---------------------------------------------------------------------------------------------
// Fields

/// Where warnings go while one entity is read.
struct Context<'a> {
    path: &'a str,
    entity: &'a str,
    warnings: Vec<ReadWarning>,
}

impl Context<'_> {
    fn warn(&mut self, message: impl Into<String>) {
        self.warnings
            .push(ReadWarning::new(self.path, Some(self.entity), message));
    }
}

/// The fields of a `properties` object, in file order. `parent` is the location of the owning
/// field, for messages (`None` at the top level).
fn parse_properties(
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
fn apply_required(
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

// ---------------------------------------------------------------------------------------------
// Access rules

fn parse_rls(rules: Map<String, Value>) -> Rls {
    let mut rls = Rls::default();
    for (key, value) in rules {
        let slot = match key.as_str() {
            "create" => &mut rls.create,
            "read" => &mut rls.read,
            "update" => &mut rls.update,
            "delete" => &mut rls.delete,
            "write" => &mut rls.write,
            _ => {
                rls.extra.insert(key, value);
                continue;
            }
        };
        *slot = Some(match value {
            Value::Bool(allow) => RlsRule::Allow(allow),
            condition => RlsRule::Condition(condition),
        });
    }
    rls
}

// ---------------------------------------------------------------------------------------------
// Small helpers

fn parse_jsonc(text: &str, path: &str) -> Result<Value, SchemaError> {
    serde_json::from_str(&jsonc::strip(text)).map_err(|error| {
        let (line, column) = (error.line(), error.column());
        let full = error.to_string();
        let suffix = format!(" at line {line} column {column}");
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        SchemaError::InvalidJson {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    })
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
fn file_stem(path: &str) -> &str {
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
fn pascal_case(stem: &str) -> String {
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

/// A value as short JSON text for messages.
fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn entity(text: &str, path: &str) -> Result<(Entity, Vec<ReadWarning>), String> {
        match parse_entity_file(text, path, SourceLayout::Base44Entities) {
            Ok(ParsedFile::Entity(entity, warnings)) => Ok((entity, warnings)),
            Ok(ParsedFile::Skipped(warning)) => Err(format!("skipped: {warning}")),
            Err(error) => Err(error.to_string()),
        }
    }

    fn skip_message(text: &str, path: &str) -> Result<ReadWarning, String> {
        match parse_entity_file(text, path, SourceLayout::SrcEntities) {
            Ok(ParsedFile::Skipped(warning)) => Ok(warning),
            Ok(ParsedFile::Entity(entity, _)) => Err(format!("read as entity {}", entity.name)),
            Err(error) => Err(error.to_string()),
        }
    }

    fn field<'a>(entity: &'a Entity, name: &str) -> Result<&'a Field, String> {
        entity.field(name).ok_or_else(|| format!("no field {name}"))
    }

    fn mentions(warnings: &[ReadWarning], needle: &str) -> bool {
        warnings
            .iter()
            .any(|warning| warning.message.contains(needle))
    }

    #[test]
    fn reads_a_full_entity() -> TestResult {
        let text = r#"// Task entity
{
  "name": "Task",
  "type": "object",
  "title": "A task",
  "description": "Things to do",
  "$schema": "http://json-schema.org/draft-07/schema#",
  "rls_enabled": true,
  "properties": {
    "title": {"type": "string", "minLength": 1, "maxLength": 200, "index": true},
    "status": {"type": "string", "enum": ["todo", "done"], "enumNames": ["To do", "Done"],
               "default": "todo"},
    "score": {"type": "number", "minimum": 0, "maximum": 10.5},
    "due": {"type": "string", "format": "date", "title": "Due", "pattern": "^\\d+$"},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    "address": {"type": "object", "properties": {"street": {"type": "string"},
                "city": {"type": "string"}}, "required": ["city"]},
    "secret": {"type": "string", "rls": {"read": false}},
  },
  "required": ["title"],
  "rls": {"create": true, "read": {"created_by": "{{user.email}}"}, "write": false,
          "note": "x"},
}"#;
        let (entity, warnings) = entity(text, "base44/entities/task.jsonc")?;
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(entity.name, "Task");
        assert_eq!(entity.title.as_deref(), Some("A task"));
        assert_eq!(entity.description.as_deref(), Some("Things to do"));
        assert_eq!(entity.source.path, "base44/entities/task.jsonc");
        assert_eq!(entity.source.layout, SourceLayout::Base44Entities);
        let names: Vec<&str> = entity
            .fields
            .iter()
            .map(|field| field.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "title", "status", "score", "due", "tags", "address", "secret"
            ]
        );
        assert_eq!(
            entity.extra.keys().collect::<Vec<_>>(),
            ["$schema", "rls_enabled"]
        );

        let title = field(&entity, "title")?;
        assert!(title.required);
        assert_eq!((title.min_length, title.max_length), (Some(1), Some(200)));
        assert_eq!(title.extra.get("index"), Some(&json!(true)));
        let status = field(&entity, "status")?;
        assert!(!status.required);
        assert_eq!(status.enum_values, Some(vec![json!("todo"), json!("done")]));
        assert_eq!(status.enum_names, Some(vec![json!("To do"), json!("Done")]));
        assert_eq!(status.default, Some(json!("todo")));
        let score = field(&entity, "score")?;
        assert_eq!((score.minimum, score.maximum), (Some(0.0), Some(10.5)));
        let due = field(&entity, "due")?;
        assert_eq!(due.format.as_deref(), Some("date"));
        assert_eq!(due.title.as_deref(), Some("Due"));
        assert_eq!(due.pattern.as_deref(), Some("^\\d+$"));
        let tags = field(&entity, "tags")?;
        assert_eq!(tags.kind, FieldKind::Array);
        let item = tags.items.as_deref().ok_or("no items")?;
        assert_eq!(
            (item.name.as_str(), &item.kind),
            ("tags[]", &FieldKind::String)
        );
        assert_eq!(tags.extra.get("maxItems"), Some(&json!(5)));
        let address = field(&entity, "address")?;
        assert_eq!(address.kind, FieldKind::Object);
        let nested = address.properties.as_deref().ok_or("no properties")?;
        assert_eq!(nested.len(), 2);
        assert!(!nested[0].required);
        assert!(nested[1].required);
        assert!(!address.extra.contains_key("required"));
        assert_eq!(field(&entity, "secret")?.rls, Some(json!({"read": false})));

        let rls = entity.rls.as_ref().ok_or("no rls")?;
        assert_eq!(rls.create, Some(RlsRule::Allow(true)));
        assert_eq!(
            rls.read,
            Some(RlsRule::Condition(json!({"created_by": "{{user.email}}"})))
        );
        assert_eq!(rls.write, Some(RlsRule::Allow(false)));
        assert_eq!(rls.update, None);
        assert_eq!(rls.extra.get("note"), Some(&json!("x")));
        Ok(())
    }

    #[test]
    fn comments_trailing_commas_and_escapes() -> TestResult {
        let text = "\u{feff}// comment before\n{\n  \"name\": \"Caf\\u00e9Order\", /* inline */\n  \"properties\": {\n    \"kind\": {\"type\": \"string\", \"enum\": [\"caf\\u00e9\", \"th\\u00e9\",],},\n  },\n}\n";
        let (entity, warnings) = entity(text, "CafeOrder.jsonc")?;
        assert_eq!(entity.name, "CaféOrder");
        assert!(mentions(
            &warnings,
            "not made of letters, digits and underscores"
        ));
        let kind = field(&entity, "kind")?;
        assert_eq!(kind.enum_values, Some(vec![json!("café"), json!("thé")]));
        Ok(())
    }

    #[test]
    fn invalid_json_names_file_line_and_column() {
        let text = "{\n  \"name\": \"Task\", // comment\n  \"properties\": {\n    \"a\": {\"type\": \"string\"},\n    \"b\" {}\n  }\n}";
        match parse_entity_file(
            text,
            "base44/entities/Task.jsonc",
            SourceLayout::Base44Entities,
        ) {
            Err(error @ SchemaError::InvalidJson { line, column, .. }) => {
                assert_eq!((line, column), (5, 9));
                let message = error.to_string();
                assert!(
                    message.starts_with("base44/entities/Task.jsonc:5:9: invalid JSON: "),
                    "{message}"
                );
                assert!(!message.contains(" at line "), "{message}");
            }
            other => panic!("expected InvalidJson, got {other:?}"),
        }
    }

    #[test]
    fn array_of_records_is_skipped() -> TestResult {
        let warning = skip_message(r#"[{"id": "1", "title": "x"}]"#, "src/entities/tasks.json")?;
        assert_eq!(warning.path, "src/entities/tasks.json");
        assert!(warning.message.contains("sample records"), "{warning}");
        assert!(warning.to_string().contains("src/entities/tasks.json"));
        Ok(())
    }

    #[test]
    fn fields_list_format_is_skipped() -> TestResult {
        let warning = skip_message(
            r#"{"name": "Task", "fields": [{"name": "title", "type": "text"}]}"#,
            "entities/Task.json",
        )?;
        assert!(warning.message.contains("`fields` list"), "{warning}");
        Ok(())
    }

    #[test]
    fn object_without_schema_keys_is_skipped() -> TestResult {
        let warning = skip_message(r#"{"id": "1", "count": 3}"#, "entities/data.json")?;
        assert!(
            warning.message.contains("not an entity schema"),
            "{warning}"
        );
        let warning = skip_message("\"just text\"", "entities/text.json")?;
        assert!(
            warning.message.contains("a string at the top level"),
            "{warning}"
        );
        Ok(())
    }

    #[test]
    fn empty_or_missing_properties() -> TestResult {
        let (user, warnings) = entity(
            r#"{"name": "User", "type": "object", "properties": {}}"#,
            "User.jsonc",
        )?;
        assert!(user.fields.is_empty());
        assert!(mentions(&warnings, "no declared fields"));
        let (task, warnings) = entity(r#"{"name": "Task"}"#, "Task.jsonc")?;
        assert!(task.fields.is_empty());
        assert!(mentions(&warnings, "no `properties`"));
        Ok(())
    }

    #[test]
    fn union_and_null_types() -> TestResult {
        let text = r#"{"name": "T", "properties": {
            "a": {"type": ["string", "null"]},
            "b": {"type": ["number", "string", "null", "string"]},
            "c": {"type": "null"},
            "d": {"type": ["null"]}
        }}"#;
        let (entity, warnings) = entity(text, "T.json")?;
        assert!(warnings.is_empty(), "{warnings:?}");
        let a = field(&entity, "a")?;
        assert_eq!((&a.kind, a.nullable), (&FieldKind::String, true));
        let b = field(&entity, "b")?;
        assert_eq!(
            b.kind,
            FieldKind::Union(vec!["number".to_owned(), "string".to_owned()])
        );
        assert!(b.nullable);
        for name in ["c", "d"] {
            let null_only = field(&entity, name)?;
            assert_eq!(
                (&null_only.kind, null_only.nullable),
                (&FieldKind::Any, true)
            );
        }
        Ok(())
    }

    #[test]
    fn missing_types_are_inferred() -> TestResult {
        let text = r#"{"name": "T", "properties": {
            "free": {"description": "anything"},
            "obj": {"properties": {"x": {"type": "integer"}}},
            "list": {"items": {"type": "string"}},
            "words": {"enum": ["a", "b"]},
            "levels": {"enum": [1, 2, 3]},
            "ratios": {"enum": [1, 2.5]},
            "flags": {"enum": [true, false, null]},
            "mixed": {"enum": ["a", 1]},
            "bare_array": {"type": "array"},
            "bare_object": {"type": "object"}
        }}"#;
        let (entity, warnings) = entity(text, "T.json")?;
        assert!(warnings.is_empty(), "{warnings:?}");
        let kinds: Vec<(&str, &FieldKind)> = entity
            .fields
            .iter()
            .map(|field| (field.name.as_str(), &field.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("free", &FieldKind::Any),
                ("obj", &FieldKind::Object),
                ("list", &FieldKind::Array),
                ("words", &FieldKind::String),
                ("levels", &FieldKind::Integer),
                ("ratios", &FieldKind::Number),
                ("flags", &FieldKind::Boolean),
                ("mixed", &FieldKind::Any),
                ("bare_array", &FieldKind::Array),
                ("bare_object", &FieldKind::Object),
            ]
        );
        assert!(field(&entity, "flags")?.nullable);
        assert!(field(&entity, "bare_array")?.items.is_none());
        assert!(field(&entity, "bare_object")?.properties.is_none());
        Ok(())
    }

    #[test]
    fn integer_enum_with_type() -> TestResult {
        let text =
            r#"{"name": "T", "properties": {"grade": {"type": "integer", "enum": [1, 2, 3]}}}"#;
        let (entity, _) = entity(text, "T.json")?;
        let grade = field(&entity, "grade")?;
        assert_eq!(grade.kind, FieldKind::Integer);
        assert_eq!(grade.enum_values, Some(vec![json!(1), json!(2), json!(3)]));
        Ok(())
    }

    #[test]
    fn enum_value_with_apostrophe_is_kept_exactly() -> TestResult {
        let text = r#"{"name": "T", "properties": {"kind": {"type": "string",
            "enum": ["Children's book", "O'Brien \"quoted\""]}}}"#;
        let (entity, _) = entity(text, "T.json")?;
        assert_eq!(
            field(&entity, "kind")?.enum_values,
            Some(vec![json!("Children's book"), json!("O'Brien \"quoted\"")])
        );
        Ok(())
    }

    #[test]
    fn name_from_title_or_file_stem() -> TestResult {
        let (entity_from_title, warnings) = entity(
            r#"{"title": "GlobalDestination", "properties": {}}"#,
            "src/entities/whatever.json",
        )?;
        assert_eq!(entity_from_title.name, "GlobalDestination");
        assert_eq!(
            entity_from_title.title.as_deref(),
            Some("GlobalDestination")
        );
        assert!(mentions(&warnings, "using the title"));

        let (from_stem, warnings) = entity(
            r#"{"title": "Deal stage", "properties": {"a": {"type": "string"}}}"#,
            "base44/entities/deal-stage.jsonc",
        )?;
        assert_eq!(from_stem.name, "DealStage");
        assert!(mentions(&warnings, "made from the file name"));
        assert!(
            warnings
                .iter()
                .all(|warning| warning.entity.as_deref() == Some("DealStage"))
        );

        let (from_snake, _) = entity(r#"{"properties": {}}"#, "entities/service_contact.json")?;
        assert_eq!(from_snake.name, "ServiceContact");
        Ok(())
    }

    #[test]
    fn name_that_is_not_a_string_is_kept_in_extra() -> TestResult {
        let (entity, warnings) = entity(r#"{"name": 7, "properties": {}}"#, "x/Seven.json")?;
        assert_eq!(entity.name, "Seven");
        assert_eq!(entity.extra.get("name"), Some(&json!(7)));
        assert!(mentions(&warnings, "`name` is a number"));
        Ok(())
    }

    #[test]
    fn underscores_in_entity_names_are_plain_names() -> TestResult {
        // Real apps name entities `Ops_Task`: Base44 accepts underscores.
        let (entity, warnings) = entity(
            r#"{"name": "Ops_Task", "properties": {}}"#,
            "Ops_Task.jsonc",
        )?;
        assert_eq!(entity.name, "Ops_Task");
        assert!(!mentions(&warnings, "not made of"));
        let (spaced, warnings) =
            super::tests::entity(r#"{"name": "Ops Task!", "properties": {}}"#, "x.jsonc")?;
        assert_eq!(spaced.name, "Ops Task!");
        assert!(mentions(
            &warnings,
            "not made of letters, digits and underscores"
        ));
        Ok(())
    }

    #[test]
    fn unknown_type_is_kept_and_reported() -> TestResult {
        let text = r#"{"name": "T", "properties": {
            "when": {"type": "datetime"},
            "either": {"type": ["string", "date"]}
        }}"#;
        let (entity, warnings) = entity(text, "T.json")?;
        assert_eq!(
            field(&entity, "when")?.kind,
            FieldKind::Unknown("datetime".to_owned())
        );
        assert_eq!(
            field(&entity, "either")?.kind,
            FieldKind::Union(vec!["date".to_owned(), "string".to_owned()])
        );
        assert!(mentions(&warnings, "field `when`: unknown type `datetime`"));
        assert!(mentions(&warnings, "field `either`: unknown type `date`"));
        Ok(())
    }

    #[test]
    fn non_object_field_definitions() -> TestResult {
        let text = r#"{"name": "T", "properties": {"a": "string", "b": true, "c": "money"}}"#;
        let (entity, warnings) = entity(text, "T.json")?;
        assert_eq!(field(&entity, "a")?.kind, FieldKind::String);
        let b = field(&entity, "b")?;
        assert_eq!(b.kind, FieldKind::Any);
        assert_eq!(b.extra.get("definition"), Some(&json!(true)));
        assert_eq!(
            field(&entity, "c")?.kind,
            FieldKind::Unknown("money".to_owned())
        );
        assert!(mentions(&warnings, "field `a` is the string \"string\""));
        assert!(mentions(&warnings, "field `b` is a boolean"));
        Ok(())
    }

    #[test]
    fn required_names_that_are_not_properties() -> TestResult {
        let text = r#"{"name": "T", "properties": {"a": {"type": "string"},
            "o": {"type": "object", "properties": {"x": {}}, "required": ["y"]},
            "flag": {"type": "string", "required": true}},
            "required": ["a", "ghost"]}"#;
        let (entity, warnings) = entity(text, "T.json")?;
        assert!(field(&entity, "a")?.required);
        assert!(mentions(&warnings, "`required` lists `ghost`"));
        assert!(mentions(&warnings, "field `o`: `required` lists `y`"));
        assert_eq!(
            field(&entity, "flag")?.extra.get("required"),
            Some(&json!(true))
        );
        Ok(())
    }

    #[test]
    fn nested_items_and_properties_are_named_by_path() -> TestResult {
        let text = r#"{"name": "T", "properties": {"lines": {"type": "array", "items": {
            "type": "object", "required": ["sku"], "properties": {
                "sku": {"type": "string"}, "qty": {"type": "wholenumber"},
                "codes": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}
            }}}}}"#;
        let (entity, warnings) = entity(text, "T.json")?;
        let item = field(&entity, "lines")?.items.as_deref().ok_or("no item")?;
        assert_eq!(item.name, "lines[]");
        let properties = item.properties.as_deref().ok_or("no properties")?;
        assert!(properties[0].required);
        let codes = properties[2].items.as_deref().ok_or("no codes item")?;
        let inner = codes.items.as_deref().ok_or("no inner item")?;
        assert_eq!(
            (codes.name.as_str(), inner.name.as_str()),
            ("codes[]", "codes[][]")
        );
        assert_eq!(inner.kind, FieldKind::Integer);
        assert!(mentions(
            &warnings,
            "field `lines[].qty`: unknown type `wholenumber`"
        ));
        Ok(())
    }

    #[test]
    fn wrongly_typed_options_go_to_extra() -> TestResult {
        let text = r#"{"name": "T", "properties": {"a": {"type": "string",
            "maxLength": "20", "minimum": "0", "enum": "a,b", "format": 5}},
            "rls": true, "type": "array"}"#;
        let (entity, warnings) = entity(text, "T.json")?;
        let a = field(&entity, "a")?;
        assert_eq!(a.max_length, None);
        for key in ["maxLength", "minimum", "enum", "format"] {
            assert!(a.extra.contains_key(key), "{key}");
        }
        assert_eq!(entity.rls, None);
        assert_eq!(entity.extra.get("rls"), Some(&json!(true)));
        assert_eq!(entity.extra.get("type"), Some(&json!("array")));
        assert!(mentions(&warnings, "`rls` is a boolean"));
        assert!(mentions(&warnings, "top-level `type` is \"array\""));
        Ok(())
    }

    #[test]
    fn helpers() {
        assert_eq!(pascal_case("deal-stage"), "DealStage");
        assert_eq!(pascal_case("dealStage"), "DealStage");
        assert_eq!(pascal_case("---"), "---");
        assert_eq!(file_stem("a/b/Deal.Stage.JSONC"), "Deal.Stage");
        assert_eq!(file_stem("x.json"), "x");
        assert_eq!(normalize_relative("base44/./entities/"), "base44/entities");
        assert_eq!(normalize_relative("base44/../schemas"), "schemas");
        assert_eq!(normalize_relative("base44/../../up"), "../up");
    }
}
