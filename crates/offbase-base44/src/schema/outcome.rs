//! What reading schemas gives and why it fails: [`ReadOutcome`], [`ReadWarning`],
//! [`ParsedFile`] and [`SchemaError`], and [`parse_jsonc`], where a JSONC syntax error becomes a
//! [`SchemaError`] naming the file. A leaf of `schema`: every reader part builds these.

use crate::jsonc;
use offbase_model::{App, Entity};
use serde::Serialize;
use serde_json::Value;
use std::fmt;

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
    pub(super) fn new(path: &str, entity: Option<&str>, message: impl Into<String>) -> Self {
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
    #[error("{path} holds several apps ({apps}), not one: give one app's folder, e.g. {example}")]
    FolderOfApps {
        path: String,
        apps: String,
        example: String,
    },
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

/// A JSONC file of the app as JSON; a syntax error names the file, line and column.
pub(super) fn parse_jsonc(text: &str, path: &str) -> Result<Value, SchemaError> {
    serde_json::from_str(&jsonc::strip(text)).map_err(|error| {
        let (line, column, message) = jsonc::error_position(&error);
        SchemaError::InvalidJson {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    })
}
