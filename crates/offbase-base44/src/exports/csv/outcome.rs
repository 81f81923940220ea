//! What a CSV import gives and why it fails: [`CsvImport`], [`CellFlag`] and [`CsvError`], and
//! [`INFERRED_KEY`], the mark of a schema inferred from data. A leaf of `csv`: the grammar,
//! the typing, the inference and the readers in `mod.rs` all build these.

use offbase_model::Entity;
use serde::Serialize;
use serde_json::{Map, Value};

/// The schema key that marks an entity inferred from data rather than read from a schema file.
pub const INFERRED_KEY: &str = "x-offbase-inferred";

/// One CSV export read into records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsvImport {
    /// The entity name (from the file name, or the schema's name when one is matched).
    pub entity: String,
    /// One record per data row, in file order. Keys: system columns (`id`, `created_date`,
    /// `updated_date`, `created_by`, `created_by_id`, `is_sample`, then the `User` columns),
    /// then schema fields in schema order, then other columns in header order, then cells
    /// beyond the header, then [`FLAGS_KEY`](offbase_model::record::FLAGS_KEY) when a cell is flagged.
    pub records: Vec<Map<String, Value>>,
    /// Every flagged cell, by line and then in record key order.
    pub flags: Vec<CellFlag>,
    /// The schema inferred from the data, when no schema was given.
    pub inferred: Option<Entity>,
    /// Things the user should know that are not about one cell (row lengths, renamed columns,
    /// columns the schema does not declare, ...), each starting with the file name.
    pub warnings: Vec<String>,
}

/// A cell kept as raw text because it does not fit its type (or is missing where it must not
/// be, like an id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellFlag {
    /// The 1-based line of the file where the row starts.
    pub line: u64,
    /// The record's id, when it has a non-empty one.
    pub id: Option<String>,
    /// The record key of the cell (the column name, or `_extra_cell_N`).
    pub field: String,
    /// The cell text, after CSV unquoting.
    pub raw: String,
    pub reason: String,
}

/// Why a CSV export could not be read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: not UTF-8 text: save the file as UTF-8 (\"CSV UTF-8\" in a spreadsheet)"
    )]
    InvalidUtf8 { path: String, line: u64 },
    #[error("{path}:{line}: malformed CSV: {message}")]
    Malformed {
        path: String,
        line: u64,
        message: String,
    },
    #[error(
        "{path}: no dashboard CSV export (`<Entity>_export.csv`) found{found}: give the folder that holds the exported files"
    )]
    NotFound { path: String, found: String },
    #[error("{first} and {second} both hold entity `{entity}`: remove one of the two files")]
    DuplicateEntity {
        entity: String,
        first: String,
        second: String,
    },
}
