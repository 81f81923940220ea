//! Local seed records (`base44/seed/<Entity>.jsonc`) read into records.
//!
//! This module owns reading the seed files the Base44 CLI keeps next to the entity schemas:
//! JSONC (comments and trailing commas allowed) holding an array of records, or an object with
//! a `records` or `data` array. Values are kept exactly as written; only the key order is made
//! the same as every other source (system fields, then schema fields in schema order, then the
//! rest in file order), and a record without an id gets a deterministic one, with a warning, so
//! that it can be loaded and referenced again on the next run. A record that repeats a key (at
//! any depth) is kept as JSON reads it, the last value, and flagged with both values
//! ([`SeedImport::flagged`]), so the load rejects it instead of losing the first one silently.
//!
//! A seed file is read in bounded memory whatever its size, in two passes over its bytes, the
//! JSONC turned into JSON as they flow ([`crate::jsonc::JsoncReader`]): [`SeedFile::open`]
//! checks the whole file (UTF-8, JSON, the shape of its top level) and keeps nothing of it, so
//! a broken file is refused before any of its records is handed over; [`SeedFile::read`] then
//! hands the records over one at a time. [`parse_seed_file`] and [`read_seed_folder`] collect
//! the same into [`SeedImport`]s.
//!
//! The serde walks of the two passes are in `walk`; the unit tests in `tests`.

#[cfg(test)]
mod tests;
mod walk;

use super::{find_entity, found_only, list_files, system_fields};
use crate::jsonc;
use offbase_model::names::snake_case;
use offbase_model::record::{DuplicateKey, flag_repeated_keys};
use offbase_model::{App, Entity};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use walk::{check, stream};

/// The records of one seed file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedImport {
    /// The entity name: the schema's name when one matches the file, otherwise the file stem
    /// in PascalCase.
    pub entity: String,
    /// The records in file order, keys ordered as described in the module docs.
    pub records: Vec<Map<String, Value>>,
    /// The importer's flags (`{field: reason}`, see [`offbase_model::record::FLAGS_KEY`]) of
    /// the records that repeat a key, by index into `records`.
    pub flagged: BTreeMap<usize, Map<String, Value>>,
    /// Things the user should know (generated ids, skipped non-records, ...), each starting
    /// with the file name.
    pub warnings: Vec<String>,
}

/// Why seed files could not be read. Every variant names the file or folder.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not UTF-8 text: save the file as UTF-8")]
    InvalidUtf8 { path: String, line: u64 },
    #[error("{path}:{line}:{column}: invalid JSON: {message} (fix the seed file)")]
    InvalidJson {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: no seed file (`<Entity>.jsonc`) found{found}: give the `base44/seed` folder of the export"
    )]
    NotFound { path: String, found: String },
    #[error(
        "{path}: the key `{key}` appears more than once at the top level: JSON keeps only the last, so the records of the other would be lost; keep one"
    )]
    DuplicateKey { path: String, key: String },
    #[error("{first} and {second} both hold entity `{entity}`: remove one of the two files")]
    DuplicateEntity {
        entity: String,
        first: String,
        second: String,
    },
}

/// The entity name of a seed file: the stem of a `.jsonc` or `.json` file, in PascalCase when
/// it is not already (`task-comment.jsonc` → `TaskComment`, `Task.jsonc` → `Task`). `None` for
/// other files.
pub fn entity_name_from_seed_file(file_name: &str) -> Option<String> {
    let stem = seed_stem(file_name)?;
    (!stem.is_empty()).then(|| pascal_case(stem))
}

/// What reading a seed file hands over, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum SeedEvent {
    /// A record, its keys ordered as described in the module docs, with the importer's flags
    /// (`{field: reason}`, see [`offbase_model::record::FLAGS_KEY`]) when it repeats a key.
    Record {
        record: Map<String, Value>,
        flags: Option<Map<String, Value>>,
    },
    /// Something the user should know (generated ids, skipped non-records, ...), starting with
    /// the file name.
    Warning(String),
}

/// How many different ids [`SeedFile::read`] remembers to tell that an id repeats (about
/// 10 MB of them). A file with more says so once, at the record past the limit: a repeat of
/// an id first seen after it is left to the load, which keeps one copy of an id and rejects
/// the others as `duplicate_id`. The whole-file readers remember every id.
pub const SEED_ID_CHECK_LIMIT: usize = 100_000;

/// One seed file, checked whole and ready to hand over its records one at a time
/// ([`SeedFile::read`]). It holds none of them: only where they are and how many.
#[derive(Debug, Clone)]
pub struct SeedFile<'a> {
    entity: String,
    path: PathBuf,
    file: String,
    schema: Option<&'a Entity>,
    list: RecordList,
    records: u64,
    /// The warnings that come before those of the records (the folder's, the shape's).
    notes: Vec<String>,
}

/// Where the records of a seed file are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordList {
    /// Nowhere: no records.
    None,
    /// The top level is the list.
    Top,
    /// The list under this key of the top-level object.
    Key(&'static str),
}

impl<'a> SeedFile<'a> {
    /// Reads the seed file at `path` once through, keeping nothing of it: a file that is not
    /// UTF-8, not JSONC, or that repeats `records` or `data` at the top level is refused here,
    /// with the error that names it. `entity` is the entity name, used for key order (with
    /// `schema`) and generated ids.
    pub fn open(
        path: &Path,
        entity: &str,
        schema: Option<&'a Entity>,
    ) -> Result<SeedFile<'a>, SeedError> {
        let file = path.display().to_string();
        let checked = check(|| open_file(path, &file), &file)?;
        Ok(SeedFile {
            entity: entity.to_owned(),
            path: path.to_path_buf(),
            file,
            schema,
            list: checked.list,
            records: checked.records,
            notes: checked.notes,
        })
    }

    /// The entity name: the schema's name when one matches the file, otherwise the file stem
    /// in PascalCase.
    pub fn entity(&self) -> &str {
        &self.entity
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file as messages name it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// How many records [`SeedFile::read`] hands over (the objects of the record list).
    pub fn record_count(&self) -> u64 {
        self.records
    }

    /// Reads the file again and hands `sink` its warnings and records in file order, one at a
    /// time: memory holds one record whatever the size of the file (and at most
    /// [`SEED_ID_CHECK_LIMIT`] ids). An error from `sink` stops the reading and is returned as
    /// it is.
    pub fn read<E: From<SeedError>>(
        &self,
        mut sink: impl FnMut(SeedEvent) -> Result<(), E>,
    ) -> Result<(), E> {
        self.read_with(SEED_ID_CHECK_LIMIT, &mut sink)
    }

    /// Every record and warning of the file, in memory (every id remembered).
    pub fn collect(&self) -> Result<SeedImport, SeedError> {
        let mut import = SeedImport::empty(&self.entity);
        self.read_with(usize::MAX, &mut |event| {
            import.add(event);
            Ok::<(), SeedError>(())
        })?;
        Ok(import)
    }

    fn read_with<E: From<SeedError>>(
        &self,
        id_limit: usize,
        sink: &mut dyn FnMut(SeedEvent) -> Result<(), E>,
    ) -> Result<(), E> {
        for note in &self.notes {
            sink(SeedEvent::Warning(note.clone()))?;
        }
        if self.list == RecordList::None {
            return Ok(());
        }
        let shaper = Shaper::new(&self.file, &self.entity, self.schema, id_limit);
        let open = || open_file(&self.path, &self.file);
        stream(open, &self.file, self.list, shaper, sink)
    }
}

impl SeedImport {
    fn empty(entity: &str) -> SeedImport {
        SeedImport {
            entity: entity.to_owned(),
            records: Vec::new(),
            flagged: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    fn add(&mut self, event: SeedEvent) {
        match event {
            SeedEvent::Record { record, flags } => {
                if let Some(flags) = flags {
                    self.flagged.insert(self.records.len(), flags);
                }
                self.records.push(record);
            }
            SeedEvent::Warning(warning) => self.warnings.push(warning),
        }
    }
}

/// Parses one seed file (JSONC). `file` names it in messages; `entity` is the entity name,
/// used for key order (with `schema`) and generated ids. Pure: touches no file. The same two
/// passes as [`SeedFile`], over `text`.
pub fn parse_seed_file(
    text: &str,
    file: &str,
    entity: &str,
    schema: Option<&Entity>,
) -> Result<SeedImport, SeedError> {
    let checked = check(|| Ok(text.as_bytes()), file)?;
    let mut import = SeedImport::empty(entity);
    import.warnings = checked.notes;
    if checked.list != RecordList::None {
        let shaper = Shaper::new(file, entity, schema, usize::MAX);
        stream(
            || Ok(text.as_bytes()),
            file,
            checked.list,
            shaper,
            &mut |event| {
                import.add(event);
                Ok::<(), SeedError>(())
            },
        )?;
    }
    Ok(import)
}

/// Checks every seed file (`*.jsonc`, `*.json`) of a folder (not its subfolders), each read
/// once through ([`SeedFile::open`]), sorted by entity name. With `schemas`, a file's entity is
/// the app entity whose name matches the file stem ignoring case and separators
/// (`task-comment` → `TaskComment`); an entity not in the app keeps the PascalCase stem, with
/// a warning. Other files are skipped, each with a warning attached to the first file (hidden
/// files are ignored). No seed file at all is an error.
pub fn seed_folder<'a>(
    dir: &Path,
    schemas: Option<&'a App>,
) -> Result<Vec<SeedFile<'a>>, SeedError> {
    let folder = dir.display().to_string();
    let names = list_files(dir).map_err(|source| SeedError::Io {
        path: folder.clone(),
        source,
    })?;

    let mut skipped = Vec::new();
    let mut files: BTreeMap<String, SeedFile<'a>> = BTreeMap::new();
    for name in names {
        let Some(stem) = seed_stem(&name).filter(|stem| !stem.is_empty()) else {
            skipped.push(name);
            continue;
        };
        let path = dir.join(&name);
        let schema = schemas.and_then(|app| match_schema(app, stem));
        let entity = schema.map_or_else(|| pascal_case(stem), |schema| schema.name.clone());
        let mut seed = SeedFile::open(&path, &entity, schema)?;
        if schemas.is_some() && schema.is_none() {
            seed.notes.insert(
                0,
                format!(
                    "{}: the app has no schema for entity `{entity}`: records kept as they are",
                    seed.file
                ),
            );
        }
        if let Some(first) = files.get(&entity) {
            return Err(SeedError::DuplicateEntity {
                entity,
                first: first.file.clone(),
                second: seed.file,
            });
        }
        files.insert(entity, seed);
    }

    let mut files: Vec<SeedFile<'a>> = files.into_values().collect();
    match files.first_mut() {
        None => {
            return Err(SeedError::NotFound {
                path: folder,
                found: found_only(&skipped),
            });
        }
        Some(first) => {
            let notes = skipped.iter().map(|name| {
                format!("{folder}: `{name}` is not a seed file (`<Entity>.jsonc`): skipped")
            });
            first.notes.splice(0..0, notes);
        }
    }
    Ok(files)
}

/// Reads every seed file of a folder into memory, as [`seed_folder`] finds them.
pub fn read_seed_folder(dir: &Path, schemas: Option<&App>) -> Result<Vec<SeedImport>, SeedError> {
    seed_folder(dir, schemas)?
        .iter()
        .map(SeedFile::collect)
        .collect()
}

fn open_file(path: &Path, file: &str) -> Result<std::fs::File, SeedError> {
    std::fs::File::open(path).map_err(|source| SeedError::Io {
        path: file.to_owned(),
        source,
    })
}

/// Makes records of a file's list elements, one at a time: key order, ids, flags, warnings.
struct Shaper<'a> {
    file: &'a str,
    /// System fields, then schema fields.
    order: Vec<&'a str>,
    prefix: String,
    /// Each id seen, with the number of the first record that has it (at most `id_limit`).
    ids: HashMap<String, usize>,
    id_limit: usize,
    limit_said: bool,
}

impl<'a> Shaper<'a> {
    fn new(file: &'a str, entity: &str, schema: Option<&'a Entity>, id_limit: usize) -> Self {
        let is_user = entity == "User" || schema.is_some_and(Entity::is_user);
        let order = system_fields(is_user)
            .into_iter()
            .chain(
                schema
                    .into_iter()
                    .flat_map(|schema| schema.fields.iter().map(|field| field.name.as_str())),
            )
            .collect();
        Shaper {
            file,
            order,
            prefix: snake_case(entity),
            ids: HashMap::new(),
            id_limit,
            limit_said: false,
        }
    }

    /// Element `index` of the list (`duplicates`: the keys it repeats, seen from it) as a
    /// record with its flags; `None` when it is no record. Warnings go to `warnings`.
    fn shape(
        &mut self,
        index: usize,
        item: Value,
        duplicates: Vec<DuplicateKey>,
        warnings: &mut Vec<String>,
    ) -> Option<SeedEvent> {
        let file = self.file;
        let number = index + 1;
        let Value::Object(mut record) = item else {
            warnings.push(format!(
                "{file}: record {number} is {}, not an object: skipped",
                offbase_model::json_kind(&item)
            ));
            return None;
        };
        // Flagged first: a repeated id leaves the record without one, and none is made up.
        let had_id = record.contains_key("id");
        let flags = if duplicates.is_empty() {
            None
        } else {
            flag_repeated_keys(&mut record, &duplicates, "id")
        };
        let id_repeated = had_id && !record.contains_key("id");
        match record.get("id") {
            None if id_repeated => {}
            Some(Value::String(id)) if !id.is_empty() => {}
            Some(Value::Number(id)) => {
                let text = id.to_string();
                warnings.push(format!(
                    "{file}: record {number}: `id` is the number {text}: read as the text \"{text}\""
                ));
                record.insert("id".to_owned(), Value::String(text));
            }
            None | Some(Value::Null) | Some(Value::String(_)) => {
                let id = format!("seed-{}-{number}", self.prefix);
                warnings.push(format!(
                    "{file}: record {number} has no id: given the id `{id}`; add \"id\" to the \
                     record to choose another"
                ));
                record.insert("id".to_owned(), Value::String(id));
            }
            Some(other) => warnings.push(format!(
                "{file}: record {number}: `id` is {}, not a text: kept as it is",
                offbase_model::json_kind(other)
            )),
        }
        if let Some(Value::String(id)) = record.get("id") {
            if let Some(first) = self.ids.get(id) {
                warnings.push(format!(
                    "{file}: record {number}: id `{id}` is also the id of record {first}"
                ));
            } else if self.ids.len() < self.id_limit {
                self.ids.insert(id.clone(), number);
            } else if !self.limit_said {
                self.limit_said = true;
                warnings.push(format!(
                    "{file}: record {number}: more than {} different ids: an id first seen from \
                     here on is not checked for repeats here; the load keeps one copy of each id \
                     and rejects the others as `duplicate_id`",
                    self.id_limit
                ));
            }
        }
        let flags = match flags {
            Some(Value::Object(flags)) => Some(flags),
            _ => None,
        };
        Some(SeedEvent::Record {
            record: ordered(record, &self.order),
            flags,
        })
    }
}

/// The record with its keys in the shared order: system fields, schema fields, the rest.
fn ordered(record: Map<String, Value>, order: &[&str]) -> Map<String, Value> {
    let mut placed: Vec<Option<(String, Value)>> = order.iter().map(|_| None).collect();
    let mut rest = Vec::new();
    for (key, value) in record {
        match order.iter().position(|name| *name == key) {
            Some(position) => placed[position] = Some((key, value)),
            None => rest.push((key, value)),
        }
    }
    placed.into_iter().flatten().chain(rest).collect()
}

/// The app entity a seed file stem names: exactly or ignoring case (as written or in
/// PascalCase), else ignoring case and separators (`ops-task` → `Ops_Task`).
fn match_schema<'a>(app: &'a App, stem: &str) -> Option<&'a Entity> {
    let key = loose_key(stem);
    find_entity(app, stem)
        .or_else(|| find_entity(app, &pascal_case(stem)))
        .or_else(|| {
            app.entities
                .iter()
                .find(|entity| loose_key(&entity.name) == key)
        })
}

fn loose_key(name: &str) -> String {
    name.chars()
        .filter(|character| character.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The file name without `.jsonc` / `.json` (any case); `None` for other files.
fn seed_stem(file_name: &str) -> Option<&str> {
    let name = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    [".jsonc", ".json"].iter().find_map(|extension| {
        let cut = name.len().checked_sub(extension.len())?;
        let (stem, suffix) = (name.get(..cut)?, name.get(cut..)?);
        suffix.eq_ignore_ascii_case(extension).then_some(stem)
    })
}

/// `task-comment` → `TaskComment`, `taskComment` → `TaskComment`; a name made of letters,
/// digits and underscores that starts with a capital (`Task`, `Ops_Task`) is kept.
fn pascal_case(stem: &str) -> String {
    let already = stem.chars().next().is_some_and(char::is_uppercase)
        && stem
            .chars()
            .all(|character| character.is_alphanumeric() || character == '_');
    if already {
        return stem.to_owned();
    }
    let converted: String = stem
        .split(|character: char| !character.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .flat_map(|part| {
            let mut characters = part.chars();
            let first: String = characters
                .next()
                .into_iter()
                .flat_map(char::to_uppercase)
                .collect();
            [first, characters.collect()]
        })
        .collect();
    if converted.is_empty() {
        stem.to_owned()
    } else {
        converted
    }
}

fn invalid_json(file: &str, error: &serde_json::Error) -> SeedError {
    let (line, column, message) = jsonc::error_position(error);
    SeedError::InvalidJson {
        path: file.to_owned(),
        line,
        column,
        message,
    }
}
