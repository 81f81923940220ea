//! Reading Base44 entity schemas into the IR ([`App`](offbase_model::App), [`Entity`](offbase_model::Entity) and its
//! [`Field`](offbase_model::Field)s), and writing an entity back as a schema. Owns
//! [`read_app`], which finds an app's schema files and reads each, and the checks on the whole
//! read; the rest lives in the parts below and is re-exported here.
//!
//! Where each rule lives (this file uses the parts; no part uses this file):
//! - `discover`: finding the schema files of an exported app (the layouts `base44/entities/`,
//!   `src/entities/`, `entities/`, a folder or file given directly, or only the names in
//!   `src/api/entities.js`), which layout wins, and duplicate definitions;
//! - `entity`: one JSONC schema file into an [`Entity`](offbase_model::Entity) ([`parse_entity_file`]), keeping every
//!   key it does not interpret, and the entity's name when the schema gives none;
//! - `fields`: field definitions, their types and options;
//! - `rls`: access rules, read and written;
//! - `writeback`: an [`Entity`](offbase_model::Entity) as a schema object again ([`entity_schema_json`]);
//! - `extra`: writing back the keys a reader kept without interpreting them, shared by
//!   `writeback` and `rls`;
//! - `outcome`: what a read gives ([`ReadOutcome`], [`ReadWarning`], [`ParsedFile`]), why it
//!   fails ([`SchemaError`]), and JSONC parsing with errors naming the file.
//!
//! Input that is not an entity schema is skipped with a warning naming the file; input that
//! cannot be read is an error naming the file and what to do.

mod discover;
mod entity;
mod extra;
mod fields;
mod outcome;
pub(crate) mod rls;
mod writeback;

#[cfg(test)]
mod tests;

pub use entity::parse_entity_file;
pub use outcome::{ParsedFile, ReadOutcome, ReadWarning, SchemaError};
pub use writeback::entity_schema_json;

use discover::{read_folder, read_single_file};
use std::fs;
use std::path::Path;

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
        let apps = apps_within(source);
        if !apps.is_empty() {
            return Err(SchemaError::FolderOfApps {
                path: source.display().to_string(),
                example: source.join(&apps[0]).display().to_string(),
                apps: apps.join(", "),
            });
        }
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

/// The subfolders of `folder` that hold an app of their own (a `base44/entities`,
/// `src/entities` or `entities` folder), sorted: `offbase plan samples/` was given a folder of
/// apps, not an app.
fn apps_within(folder: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut apps: Vec<String> = entries
        .flatten()
        .filter(|entry| {
            let path = entry.path();
            ["base44/entities", "src/entities", "entities"]
                .iter()
                .any(|inner| path.join(inner).is_dir())
        })
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    apps.sort();
    apps
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
