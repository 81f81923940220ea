//! Finding the schema files of an exported app and reading them in order of precedence: the
//! layouts `base44/entities/` (or `entitiesDir` of `base44/config.jsonc`), `src/entities/` and
//! `entities/`, a folder or a file given directly, or only the entity names of
//! `src/api/entities.js`. Owns which definition wins when two layouts define an entity, when
//! an identical copy is dropped, and when two files of one folder are an error.

use super::entity::parse_entity_file;
use super::outcome::{ParsedFile, ReadOutcome, ReadWarning, SchemaError, parse_jsonc};
use offbase_model::{App, Entity, SchemaSource, SourceLayout};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The relative path (from an export root) of the file that lists entity names in the oldest
/// exports.
const NAMES_FILE: &str = "src/api/entities.js";

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

pub(super) fn read_single_file(file: &Path) -> Result<ReadOutcome, SchemaError> {
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

pub(super) fn read_folder(root: &Path) -> Result<ReadOutcome, SchemaError> {
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
pub(super) fn normalize_relative(path: &str) -> String {
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
