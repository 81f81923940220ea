//! Dashboard CSV exports (`<Entity>_export.csv`) read into records.
//!
//! This module owns two things: reading the CSV files the Base44 dashboard exports, in every
//! variant real exports show (quoted or unquoted header and values, a BOM, LF or CRLF, with or
//! without a trailing newline, 0-byte files, system columns in any position and any subset,
//! embedded newlines), and typing each cell by the entity schema, or by a schema inferred from
//! the file when there is none ([`CsvImport::inferred`], which [`entity_schema_json`] can write
//! back as an ordinary schema file).
//!
//! Nothing is dropped. A cell that does not fit its type is kept as text in the record, listed
//! in [`CsvImport::flags`] and recorded inside the record under [`FLAGS_KEY`], so the flag
//! travels with the record to the load, which decides. A row with more cells than the header
//! keeps the extra cells (flagged); a row without an id is kept (flagged). A row that is not
//! UTF-8 is kept as its bytes, flagged with its file and line, as the JSONL importer keeps such
//! a line ([`offbase_model::record::not_utf8_line`]); a file whose header or more than half of
//! whose rows are not UTF-8 was saved in another encoding and is an error
//! ([`CsvError::InvalidUtf8`]).
//!
//! How cells are typed (by the field's declared type, never by how the text looks: a string
//! field holding `[URGENT] ...` stays a string):
//! - boolean: `true`/`false` in any case; integer: digits, also `12.0` and `1e3`, within 64
//!   bits; number: integers stay integers, other numbers are `f64`; these are read after
//!   trimming surrounding spaces, and text is otherwise kept exactly as it is;
//! - string with format `date-time`/`date`/`time`: the text as written (the load converts it),
//!   flagged when it does not parse as that format;
//! - array, object, no type, unknown type: JSON after CSV unquoting, else the mid-2025
//!   double-escaped form (`{""k"":1}`); a value of the wrong shape, or with an object that
//!   repeats a key (JSON would keep one value silently), is flagged; a union of types
//!   takes the JSON value when its type is in the union, else the text when `string` is;
//! - `created_date`/`updated_date`: rewritten in the stored form (`2026-06-01T09:23:41.481000`)
//!   so a CSV import and an API pull of the same record agree;
//! - columns the schema does not declare: text. Values outside an `enum` are kept.
//!
//! Choices where an export is ambiguous:
//! - An empty cell of a plain string field reads as `""`: the export writes a missing value and
//!   an empty string the same way, and `""` keeps `required` text columns loadable. Everywhere
//!   else an empty cell is an absent field: typed fields (boolean, numbers, date/time strings,
//!   JSON), string fields with an `enum` that does not list `""` (a select left empty), system
//!   text columns (`created_by` is absent, not empty, on the platform) and undeclared columns.
//! - The literal texts `null` and `undefined` (how mid-2025 exports write missing values), and
//!   in JSON fields `""` (an empty value double-escaped), read as absent wherever they are not a
//!   valid value: typed fields and timestamps. Plain string fields and text system columns keep
//!   them as text.
//! - The platform types its own columns: `id`, `created_date`, `updated_date`, `created_by`,
//!   `created_by_id` and `is_sample` are typed as the platform does even when a schema redefines
//!   them; the extra `User` columns (`email`, `role`, `disabled`, ...) are typed by the `User`
//!   schema when it declares them, and as the platform does otherwise.
//! - An empty id is kept as `""` and flagged; a row that ends before the id column (or a file
//!   without one) gives a record without `id`, flagged on `id`.
//! - Cells beyond the header are kept as `_extra_cell_N` (N: the 1-based column) and flagged;
//!   empty ones (a trailing comma) hold nothing and are left out, the row still gets a warning.
//! - A header cell that is empty, repeats an earlier name or is [`FLAGS_KEY`] is read as
//!   `_column_N`, with a warning.
//! - Inference is conservative: a column is a number only when every value is written the way a
//!   program writes numbers, so zip codes (`02134`), phone numbers (`+49...`) and ids beyond 64
//!   bits stay text; enums are never guessed.
//!
//! The CSV reader is written here rather than taken from the `csv` crate: that crate silently
//! reads an unclosed quote to the end of the file as one cell and silently drops a quote
//! followed by more text (`"x"z` → `xz`), which would hide lost or mangled data; here both are
//! errors that name the file and the line.

use offbase_model::record::{LINE_BASE64_KEY, LINE_KEY, not_utf8_line};
use offbase_model::time::{format_stored, parse_date, parse_time, parse_timestamp};
use offbase_model::{App, BuiltIn, Entity, Field, FieldKind, RlsRule, SchemaSource, SourceLayout};
use serde::Serialize;
use serde_json::{Map, Number, Value};
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::Path;

/// The key under which a record carries the flags of its cells: an object `{field: reason}`.
pub const FLAGS_KEY: &str = "_offbase_flags";

/// The schema key that marks an entity inferred from data rather than read from a schema file.
pub const INFERRED_KEY: &str = "x-offbase-inferred";

/// How a dashboard export file name ends (compared without regard to case).
const EXPORT_SUFFIX: &str = "_export.csv";

/// Columns of the `User` export that are not [`BuiltIn`]s of the IR but are platform columns.
const USER_EXPORT_COLUMNS: [&str; 4] = [
    "disabled_reason",
    "force_password_reset",
    "collaborator_role",
    "_app_role",
];

/// Platform columns that hold booleans; every other platform column but the timestamps is text.
const SYSTEM_BOOLEANS: [&str; 5] = [
    "is_sample",
    "disabled",
    "is_service",
    "is_verified",
    "force_password_reset",
];

/// An exactly representable integer bound for `f64` (2^53): integers written in exponent form
/// are only accepted up to it.
const EXACT_FLOAT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// One CSV export read into records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsvImport {
    /// The entity name (from the file name, or the schema's name when one is matched).
    pub entity: String,
    /// One record per data row, in file order. Keys: system columns (`id`, `created_date`,
    /// `updated_date`, `created_by`, `created_by_id`, `is_sample`, then the `User` columns),
    /// then schema fields in schema order, then other columns in header order, then cells
    /// beyond the header, then [`FLAGS_KEY`] when a cell is flagged.
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

/// The entity name of a dashboard export file: `Task_export.csv` → `Task`. The suffix is
/// compared without regard to case; a leading folder is ignored. `None` when the name does not
/// end in `_export.csv` or what comes before is not a plain entity name (letters, digits and
/// underscores).
pub fn entity_name_from_file(file_name: &str) -> Option<String> {
    let name = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let cut = name.len().checked_sub(EXPORT_SUFFIX.len())?;
    if !name.is_char_boundary(cut) {
        return None;
    }
    let (stem, suffix) = name.split_at(cut);
    let plain = !stem.is_empty()
        && stem
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_');
    (suffix.eq_ignore_ascii_case(EXPORT_SUFFIX) && plain).then(|| stem.to_owned())
}

/// Reads one export from memory. `file` names the file in messages and in the inferred schema's
/// [`SchemaSource::path`]; `entity` is the entity name. With a schema, cells are typed by it;
/// without, a schema is inferred from the data ([`CsvImport::inferred`]) and cells are typed by
/// that. Pure: touches no file.
pub fn parse_csv_export(
    bytes: &[u8],
    file: &str,
    entity: &str,
    schema: Option<&Entity>,
) -> Result<CsvImport, CsvError> {
    let rows = read_rows(bytes, file)?;
    let is_user = entity == "User" || schema.is_some_and(Entity::is_user);
    let system = system_fields(is_user);
    let mut warnings = Vec::new();

    let Some((header, data)) = rows.split_first() else {
        let inferred = match schema {
            Some(_) => None,
            None => {
                let what = if bytes.is_empty() {
                    "the file is empty (0 bytes)"
                } else {
                    "the file has no header row"
                };
                warnings.push(format!(
                    "{file}: {what}: no records, and no columns to infer a schema from: the \
                     inferred entity `{entity}` has no fields"
                ));
                Some(infer_entity(entity, file, &[], &system, &[]))
            }
        };
        return Ok(CsvImport {
            entity: entity.to_owned(),
            records: Vec::new(),
            flags: Vec::new(),
            inferred,
            warnings,
        });
    };

    let keys = column_keys(header, file, &mut warnings);
    let table = Table {
        file,
        header_line: header.line,
        keys: &keys,
        data,
    };
    let (inferred, (records, flags)) = match schema {
        Some(schema) => {
            let columns = plan_columns(&keys, schema, is_user);
            schema_warnings(file, header.line, &columns, schema, &system, &mut warnings);
            (None, table.read(&columns, &mut warnings))
        }
        None => {
            let inferred = infer_entity(entity, file, &keys, &system, data);
            let columns = plan_columns(&keys, &inferred, is_user);
            let read = table.read(&columns, &mut warnings);
            (Some(inferred), read)
        }
    };

    Ok(CsvImport {
        entity: entity.to_owned(),
        records,
        flags,
        inferred,
        warnings,
    })
}

/// The rows of one file below its header, with what is needed to read them.
#[derive(Debug)]
struct Table<'a> {
    file: &'a str,
    header_line: u64,
    keys: &'a [String],
    data: &'a [Row],
}

impl Table<'_> {
    /// Every data row as a record, with the flags of its cells.
    fn read(
        &self,
        columns: &[Column<'_>],
        warnings: &mut Vec<String>,
    ) -> (Vec<Map<String, Value>>, Vec<CellFlag>) {
        let file = self.file;
        let has_id_column = columns.iter().any(|column| matches!(column.rule, Rule::Id));
        if !has_id_column {
            warnings.push(format!(
                "{file}:{}: no `id` column: every record is kept without an id and flagged",
                self.header_line
            ));
        }
        let header_keys: HashSet<&str> = self.keys.iter().map(String::as_str).collect();
        let id_column = columns
            .iter()
            .position(|column| matches!(column.rule, Rule::Id));
        let mut records = Vec::with_capacity(self.data.len());
        let mut flags = Vec::new();
        let mut not_utf8 = 0;
        for row in self.data {
            if let Some(invalid) = &row.invalid {
                let (record, flag) = not_utf8_record(file, row, invalid, id_column);
                not_utf8 += 1;
                flags.push(flag);
                records.push(record);
                continue;
            }
            let (record, row_flags) = read_row(row, columns, &header_keys, has_id_column);
            if row.cells.len() != columns.len() {
                warnings.push(row_length_warning(file, row, columns.len(), &record));
            }
            flags.extend(row_flags);
            records.push(record);
        }
        if not_utf8 > 0 {
            warnings.push(format!(
                "{file}: {not_utf8} of {} rows are not UTF-8 text: each is kept as it is (its \
                 bytes in `{LINE_BASE64_KEY}`) and flagged, so the load rejects it naming its \
                 line; if the file was saved in another encoding, save it as UTF-8 (\"CSV \
                 UTF-8\" in a spreadsheet) and import it again",
                self.data.len()
            ));
        }
        (records, flags)
    }
}

/// The record of a row that is not UTF-8 (see [`not_utf8_line`]), flagged on `_line` with its
/// file and line; its id when the id cell lost nothing to the invalid bytes.
fn not_utf8_record(
    file: &str,
    row: &Row,
    invalid: &InvalidRow,
    id_column: Option<usize>,
) -> (Map<String, Value>, CellFlag) {
    let id = id_column
        .and_then(|index| row.cells.get(index))
        .filter(|id| !id.is_empty() && !id.contains('\u{FFFD}'))
        .cloned();
    let place = format!("{file}:{}", invalid.line);
    let (mut record, flags) = not_utf8_line(&invalid.bytes, id.clone(), &place, &invalid.error);
    let reason = flags
        .get(LINE_KEY)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let raw = record
        .get(LINE_KEY)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    record.insert(FLAGS_KEY.to_owned(), flags);
    let flag = CellFlag {
        line: row.line,
        id,
        field: LINE_KEY.to_owned(),
        raw,
        reason,
    };
    (record, flag)
}

/// Reads one export file. The entity is the schema's name when a schema is given, otherwise the
/// name in the file name (`Task_export.csv` → `Task`), otherwise the file stem (with a warning).
pub fn read_csv_export(path: &Path, schema: Option<&Entity>) -> Result<CsvImport, CsvError> {
    let file = path.display().to_string();
    let bytes = fs::read(path).map_err(|source| CsvError::Io {
        path: file.clone(),
        source,
    })?;
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let from_file = entity_name_from_file(&file_name);
    let (entity, warning) = match (schema, from_file) {
        (Some(schema), _) => (schema.name.clone(), None),
        (None, Some(name)) => (name, None),
        (None, None) => {
            let stem = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            let warning = format!(
                "{file}: the name does not follow `<Entity>_export.csv`: entity `{stem}` taken \
                 from the file name; rename the file to choose another"
            );
            (stem, Some(warning))
        }
    };
    let mut import = parse_csv_export(&bytes, &file, &entity, schema)?;
    if let Some(warning) = warning {
        import.warnings.insert(0, warning);
    }
    Ok(import)
}

/// Reads every `*_export.csv` in a folder (not its subfolders), sorted by entity name.
///
/// With `schemas`, each file is typed by the entity of the same name (exact, else ignoring
/// case, and then named as the schema names it); a file whose entity is not in the app is
/// typed by an inferred schema, with a warning. Other files are skipped, each with a warning
/// attached to the first import (hidden files are ignored). No export at all is an error.
pub fn read_csv_folder(dir: &Path, schemas: Option<&App>) -> Result<Vec<CsvImport>, CsvError> {
    let folder = dir.display().to_string();
    let names = list_files(dir).map_err(|source| CsvError::Io {
        path: folder.clone(),
        source,
    })?;

    let mut skipped = Vec::new();
    let mut imports: BTreeMap<String, (String, CsvImport)> = BTreeMap::new();
    for name in names {
        let Some(from_file) = entity_name_from_file(&name) else {
            skipped.push(name);
            continue;
        };
        let path = dir.join(&name);
        let file = path.display().to_string();
        let schema = schemas.and_then(|app| find_entity(app, &from_file));
        let entity = schema.map_or(from_file, |schema| schema.name.clone());
        let bytes = fs::read(&path).map_err(|source| CsvError::Io {
            path: file.clone(),
            source,
        })?;
        let mut import = parse_csv_export(&bytes, &file, &entity, schema)?;
        if schemas.is_some() && schema.is_none() {
            import.warnings.insert(
                0,
                format!(
                    "{file}: the app has no schema for entity `{entity}`: column types inferred \
                     from the data"
                ),
            );
        }
        if let Some((first, _)) = imports.get(&entity) {
            return Err(CsvError::DuplicateEntity {
                entity,
                first: first.clone(),
                second: file,
            });
        }
        imports.insert(entity, (file, import));
    }

    let mut imports: Vec<CsvImport> = imports.into_values().map(|(_, import)| import).collect();
    match imports.first_mut() {
        None => {
            let found = if skipped.is_empty() {
                String::new()
            } else {
                format!(" (found only: {})", skipped.join(", "))
            };
            return Err(CsvError::NotFound {
                path: folder,
                found,
            });
        }
        Some(first) => {
            let notes = skipped.iter().map(|name| {
                format!(
                    "{folder}: `{name}` is not a dashboard export (`<Entity>_export.csv`): skipped"
                )
            });
            first.warnings.splice(0..0, notes);
        }
    }
    Ok(imports)
}

/// Writes an IR entity back as a Base44 schema object (`name`, `type`, `title`,
/// `description`, `properties`, `required`, `rls`, then the keys kept in `extra`), so that an
/// inferred schema can be saved as an ordinary schema file and read back by
/// [`crate::schema::parse_entity_file`] into the same fields.
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
        let mut rules = Map::new();
        for (key, rule) in [
            ("create", &rls.create),
            ("read", &rls.read),
            ("update", &rls.update),
            ("delete", &rls.delete),
            ("write", &rls.write),
        ] {
            if let Some(rule) = rule {
                let value = match rule {
                    RlsRule::Allow(allow) => Value::Bool(*allow),
                    RlsRule::Condition(condition) => condition.clone(),
                };
                rules.insert(key.to_owned(), value);
            }
        }
        extend_missing(&mut rules, &rls.extra);
        object.insert("rls".to_owned(), Value::Object(rules));
    }
    extend_missing(&mut object, &entity.extra);
    Value::Object(object)
}

// ---------------------------------------------------------------------------------------------
// System columns

/// The platform's columns for an entity, in record key order: the built-ins of every record,
/// then (for `User`) the user built-ins and the other columns of the `User` export.
pub(crate) fn system_fields(is_user: bool) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = BuiltIn::RECORD
        .iter()
        .map(|built_in| built_in.field_name())
        .collect();
    if is_user {
        names.extend(BuiltIn::USER.iter().map(|built_in| built_in.field_name()));
        names.extend(USER_EXPORT_COLUMNS);
    }
    names
}

/// Built-ins the platform types whatever a schema says.
fn is_record_built_in(name: &str) -> bool {
    BuiltIn::RECORD
        .iter()
        .any(|built_in| built_in.field_name() == name)
}

// ---------------------------------------------------------------------------------------------
// Reading CSV text

/// One row of the file: the line it starts on and its cells, unquoted.
#[derive(Debug)]
struct Row {
    line: u64,
    cells: Vec<String>,
    /// The row as the file holds it, when it is not UTF-8 (its cells then hold its text with
    /// each invalid sequence replaced by U+FFFD): it becomes a flagged record, never typed.
    invalid: Option<InvalidRow>,
}

/// A row that is not UTF-8.
#[derive(Debug)]
struct InvalidRow {
    /// Its bytes, from its first cell to its last (the line break left out).
    bytes: Vec<u8>,
    /// The line of its first invalid byte.
    line: u64,
    /// What the UTF-8 decoder said.
    error: std::str::Utf8Error,
}

/// The error for a file that is not UTF-8 text, at the line of its first invalid byte.
fn invalid_utf8(body: &[u8], file: &str) -> Option<CsvError> {
    let error = std::str::from_utf8(body).err()?;
    Some(CsvError::InvalidUtf8 {
        path: file.to_owned(),
        line: 1 + count_newlines(&body[..error.valid_up_to()]),
    })
}

/// The rows of the file. A file with rows that are not UTF-8 is read on when they are few (a
/// line damaged by a tool, a pasted byte): they come back marked ([`Row::invalid`]), and the
/// reader flags them. A file whose header, or more than half of whose rows, are not UTF-8 was
/// saved in another encoding: it stops at the first invalid byte, saying how to save it.
fn read_rows(bytes: &[u8], file: &str) -> Result<Vec<Row>, CsvError> {
    let body = offbase_model::record::strip_bom(bytes);
    let rows = match split_rows(body, file) {
        Ok(rows) => rows,
        // In another encoding, the structure may look broken too: the encoding comes first.
        Err(error) => return Err(invalid_utf8(body, file).unwrap_or(error)),
    };
    let invalid = rows.iter().filter(|row| row.invalid.is_some()).count();
    let header_invalid = rows.first().is_some_and(|row| row.invalid.is_some());
    let data = rows.len().saturating_sub(1);
    if (header_invalid || 2 * invalid > data)
        && let Some(error) = invalid_utf8(body, file)
    {
        return Err(error);
    }
    Ok(rows)
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|byte| **byte == b'\n').count() as u64
}

/// Splits CSV bytes into rows (RFC 4180): cells separated by `,`, rows by LF, CRLF or CR; a
/// cell that starts with `"` is quoted, may hold separators and line breaks, and writes a quote
/// as `""`; a quote inside an unquoted cell is plain text. Blank lines are skipped (they hold
/// no cell); a final line break does not start a row. The structure is all ASCII, so it splits
/// text in any ASCII-compatible encoding the same way; each row is then decoded as UTF-8
/// ([`Row::invalid`] when it is not).
fn split_rows(body: &[u8], file: &str) -> Result<Vec<Row>, CsvError> {
    let malformed = |line: u64, message: &str| CsvError::Malformed {
        path: file.to_owned(),
        line,
        message: message.to_owned(),
    };
    let mut rows = Vec::new();
    let mut position = 0;
    let peek = |position: usize| body.get(position).copied();
    let mut line: u64 = 1;
    while position < body.len() {
        let row_line = line;
        let row_start = position;
        let mut row_end;
        let mut cells: Vec<Vec<u8>> = Vec::new();
        let mut quoted = false;
        loop {
            let mut cell = Vec::new();
            if peek(position) == Some(b'"') {
                quoted = true;
                position += 1;
                let opened = line;
                loop {
                    let Some(byte) = peek(position) else {
                        return Err(malformed(
                            opened,
                            "a quoted cell that starts on this line is never closed: add the \
                             closing quote (a quote inside a cell is written twice: \"\")",
                        ));
                    };
                    position += 1;
                    match byte {
                        b'"' if peek(position) == Some(b'"') => {
                            position += 1;
                            cell.push(b'"');
                        }
                        b'"' => break,
                        byte => {
                            if byte == b'\n' {
                                line += 1;
                            }
                            cell.push(byte);
                        }
                    }
                }
                if !matches!(peek(position), None | Some(b',' | b'\n' | b'\r')) {
                    return Err(malformed(
                        line,
                        "text follows the closing quote of a cell: quote the whole cell and \
                         write each quote inside it twice (\"\")",
                    ));
                }
            } else {
                while let Some(byte) = peek(position) {
                    if matches!(byte, b',' | b'\n' | b'\r') {
                        break;
                    }
                    cell.push(byte);
                    position += 1;
                }
            }
            cells.push(cell);
            row_end = position;
            let separator = peek(position);
            if separator.is_some() {
                position += 1;
            }
            match separator {
                Some(b',') => {}
                Some(b'\r') => {
                    if peek(position) == Some(b'\n') {
                        position += 1;
                    }
                    line += 1;
                    break;
                }
                Some(b'\n') => {
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        let blank = !quoted && cells.len() == 1 && cells[0].is_empty();
        if !blank {
            rows.push(decode_row(row_line, cells, &body[row_start..row_end]));
        }
    }
    Ok(rows)
}

/// A row from its cells' bytes; `raw` is the row as the file holds it.
fn decode_row(line: u64, cells: Vec<Vec<u8>>, raw: &[u8]) -> Row {
    let invalid = std::str::from_utf8(raw).err().map(|error| InvalidRow {
        bytes: raw.to_vec(),
        line: line + count_newlines(&raw[..error.valid_up_to()]),
        error,
    });
    let cells = cells
        .into_iter()
        .map(|cell| {
            String::from_utf8(cell)
                .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
        })
        .collect();
    Row {
        line,
        cells,
        invalid,
    }
}

/// The record key of each header cell: its name, unless it is empty, repeats an earlier name
/// or is [`FLAGS_KEY`]; then `_column_N` (N its 1-based position), with a warning.
fn column_keys(header: &Row, file: &str, warnings: &mut Vec<String>) -> Vec<String> {
    let mut taken: HashSet<String> = header.cells.iter().cloned().collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut keys = Vec::with_capacity(header.cells.len());
    for (index, name) in header.cells.iter().enumerate() {
        let number = index + 1;
        let problem = if name.trim().is_empty() {
            Some("has no name".to_owned())
        } else if name == FLAGS_KEY {
            Some(format!(
                "is named `{FLAGS_KEY}`, which offbase uses for flags"
            ))
        } else if seen.contains(name.as_str()) {
            Some(format!("repeats the name `{name}` of an earlier column"))
        } else {
            None
        };
        seen.insert(name);
        let key = match problem {
            None => name.clone(),
            Some(problem) => {
                let key = unique_key(format!("_column_{number}"), |key| taken.contains(key));
                warnings.push(format!(
                    "{file}:{}: column {number} {problem}: its cells are kept under `{key}`",
                    header.line
                ));
                key
            }
        };
        taken.insert(key.clone());
        keys.push(key);
    }
    keys
}

/// `candidate`, or `candidate` followed by underscores until it is not in `taken`.
fn unique_key(mut candidate: String, is_taken: impl Fn(&str) -> bool) -> String {
    while is_taken(&candidate) {
        candidate.push('_');
    }
    candidate
}

// ---------------------------------------------------------------------------------------------
// Typing cells

/// How the cells of one column are typed.
#[derive(Debug)]
enum Rule<'a> {
    /// `id`: text; an empty one is flagged.
    Id,
    /// `created_date` / `updated_date`: rewritten in the stored form.
    Timestamp,
    /// A platform boolean (`is_sample`, `disabled`, ...).
    SystemBoolean,
    /// Any other platform column: text, empty → absent.
    SystemText,
    /// A field of the schema (given or inferred).
    Field(&'a Field),
    /// A column the schema does not declare: text, empty → absent.
    Undeclared,
}

/// One header column: its record key, its typing rule and its rank in record key order.
#[derive(Debug)]
struct Column<'a> {
    key: String,
    rule: Rule<'a>,
    /// (group, position): 0 system columns by platform order, 1 schema fields by schema order,
    /// 2 other columns by header position, 3 cells beyond the header by position.
    rank: (u8, usize),
}

/// The typed value of one cell.
#[derive(Debug)]
enum Typed {
    Value(Value),
    Absent,
    /// Kept as the raw text, flagged with this reason.
    Flagged(String),
}

fn plan_columns<'a>(keys: &[String], schema: &'a Entity, is_user: bool) -> Vec<Column<'a>> {
    let system = system_fields(is_user);
    keys.iter()
        .enumerate()
        .map(|(index, key)| {
            let declared = schema
                .fields
                .iter()
                .enumerate()
                .find(|(_, field)| field.name == *key);
            let (rule, rank) = match system.iter().position(|name| name == key) {
                Some(position) => {
                    let rule = match (key.as_str(), declared) {
                        ("id", _) => Rule::Id,
                        ("created_date" | "updated_date", _) => Rule::Timestamp,
                        (name, Some((_, field))) if !is_record_built_in(name) => Rule::Field(field),
                        (name, _) if SYSTEM_BOOLEANS.contains(&name) => Rule::SystemBoolean,
                        _ => Rule::SystemText,
                    };
                    (rule, (0, position))
                }
                None => match declared {
                    Some((position, field)) => (Rule::Field(field), (1, position)),
                    None => (Rule::Undeclared, (2, index)),
                },
            };
            Column {
                key: key.clone(),
                rule,
                rank,
            }
        })
        .collect()
}

/// Warnings about how the header and the schema differ.
fn schema_warnings(
    file: &str,
    line: u64,
    columns: &[Column<'_>],
    schema: &Entity,
    system: &[&str],
    warnings: &mut Vec<String>,
) {
    let undeclared: Vec<&str> = columns
        .iter()
        .filter(|column| matches!(column.rule, Rule::Undeclared))
        .map(|column| column.key.as_str())
        .collect();
    if !undeclared.is_empty() {
        warnings.push(format!(
            "{file}:{line}: columns not in the schema of `{}`, kept as text: {}",
            schema.name,
            undeclared.join(", ")
        ));
    }
    let missing: Vec<&str> = schema
        .fields
        .iter()
        .map(|field| field.name.as_str())
        .filter(|name| !system.contains(name) && !columns.iter().any(|column| column.key == *name))
        .collect();
    if !missing.is_empty() {
        warnings.push(format!(
            "{file}:{line}: schema fields with no column (absent from every record): {}",
            missing.join(", ")
        ));
    }
}

/// One data row as a record, with the flags of its cells.
fn read_row(
    row: &Row,
    columns: &[Column<'_>],
    header_keys: &HashSet<&str>,
    has_id_column: bool,
) -> (Map<String, Value>, Vec<CellFlag>) {
    // (rank, key, value) and (rank, key, raw, reason), sorted by rank before use.
    let mut entries: Vec<((u8, usize), String, Value)> = Vec::new();
    let mut flagged: Vec<((u8, usize), String, String, String)> = Vec::new();
    let mut id_cell = false;
    for (column, raw) in columns.iter().zip(&row.cells) {
        if matches!(column.rule, Rule::Id) {
            id_cell = true;
        }
        match type_cell(&column.rule, raw) {
            Typed::Value(value) => entries.push((column.rank, column.key.clone(), value)),
            Typed::Absent => {}
            Typed::Flagged(reason) => {
                entries.push((column.rank, column.key.clone(), Value::String(raw.clone())));
                flagged.push((column.rank, column.key.clone(), raw.clone(), reason));
            }
        }
    }
    if !id_cell {
        let reason = if has_id_column {
            "no id (the row ends before the id column)"
        } else {
            "no id (the file has no id column)"
        };
        flagged.push(((0, 0), "id".to_owned(), String::new(), reason.to_owned()));
    }
    for (index, raw) in row.cells.iter().enumerate().skip(columns.len()) {
        // An empty cell beyond the header (a trailing comma) holds nothing to keep.
        if raw.is_empty() {
            continue;
        }
        let key = unique_key(format!("_extra_cell_{}", index + 1), |key| {
            header_keys.contains(key)
        });
        let reason = format!(
            "cell beyond the header: the row has {} cells, the header {}",
            row.cells.len(),
            columns.len()
        );
        entries.push(((3, index), key.clone(), Value::String(raw.clone())));
        flagged.push(((3, index), key, raw.clone(), reason));
    }

    entries.sort_by_key(|(rank, _, _)| *rank);
    flagged.sort_by_key(|(rank, _, _, _)| *rank);
    let mut record = Map::new();
    for (_, key, value) in entries {
        record.insert(key, value);
    }
    let id = match record.get("id") {
        Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
        _ => None,
    };
    let mut flags = Vec::with_capacity(flagged.len());
    if !flagged.is_empty() {
        let mut reasons = Map::new();
        for (_, field, raw, reason) in flagged {
            reasons.insert(field.clone(), Value::String(reason.clone()));
            flags.push(CellFlag {
                line: row.line,
                id: id.clone(),
                field,
                raw,
                reason,
            });
        }
        record.insert(FLAGS_KEY.to_owned(), Value::Object(reasons));
    }
    (record, flags)
}

fn row_length_warning(
    file: &str,
    row: &Row,
    header_length: usize,
    record: &Map<String, Value>,
) -> String {
    let count = row.cells.len();
    let what = if count < header_length {
        "the missing cells are absent".to_owned()
    } else {
        let kept: Vec<&str> = record
            .keys()
            .filter(|key| key.starts_with("_extra_cell_"))
            .map(String::as_str)
            .collect();
        if kept.is_empty() {
            "the cells beyond it are empty".to_owned()
        } else {
            format!(
                "the cells beyond it are kept as {} and flagged",
                kept.join(", ")
            )
        }
    };
    format!(
        "{file}:{}: the row has {count} cells, the header {header_length}: {what}",
        row.line
    )
}

/// Missing-value markers: an empty cell, and the literals mid-2025 exports write for missing
/// values.
fn is_missing(raw: &str) -> bool {
    raw.is_empty() || raw == "null" || raw == "undefined"
}

/// Missing-value markers of a JSON cell: those of [`is_missing`], and `""` (two quotes: an empty
/// string written double-escaped), which no array or object field can hold.
fn is_missing_json(raw: &str) -> bool {
    is_missing(raw) || raw == "\"\""
}

fn type_cell(rule: &Rule<'_>, raw: &str) -> Typed {
    match rule {
        Rule::Id if raw.is_empty() => Typed::Flagged("no id".to_owned()),
        Rule::Id => Typed::Value(Value::String(raw.to_owned())),
        Rule::Timestamp if is_missing(raw) => Typed::Absent,
        Rule::Timestamp => match parse_timestamp(raw) {
            Some(instant) => Typed::Value(Value::String(format_stored(instant))),
            None => Typed::Flagged("expected a date-time".to_owned()),
        },
        Rule::SystemBoolean => boolean_cell(raw),
        Rule::SystemText | Rule::Undeclared if raw.is_empty() => Typed::Absent,
        Rule::SystemText | Rule::Undeclared => Typed::Value(Value::String(raw.to_owned())),
        Rule::Field(field) => field_cell(field, raw),
    }
}

fn field_cell(field: &Field, raw: &str) -> Typed {
    match &field.kind {
        FieldKind::Boolean => boolean_cell(raw),
        FieldKind::Integer => integer_cell(raw),
        FieldKind::Number => number_cell(raw),
        FieldKind::String => string_cell(field, raw),
        // Never seen in real apps: kept as text.
        FieldKind::Binary => Typed::Value(Value::String(raw.to_owned())),
        FieldKind::Array => json_cell(raw, Some(Shape::Array)),
        FieldKind::Object => json_cell(raw, Some(Shape::Object)),
        FieldKind::Any | FieldKind::Unknown(_) => json_cell(raw, None),
        FieldKind::Union(types) => union_cell(types, raw),
    }
}

fn boolean_cell(raw: &str) -> Typed {
    if is_missing(raw) {
        return Typed::Absent;
    }
    match parse_boolean(raw) {
        Some(value) => Typed::Value(Value::Bool(value)),
        None => Typed::Flagged("expected true or false".to_owned()),
    }
}

fn integer_cell(raw: &str) -> Typed {
    if is_missing(raw) {
        return Typed::Absent;
    }
    match parse_integer(raw, true) {
        IntegerText::Integer(value) => Typed::Value(Value::from(value)),
        IntegerText::OutOfRange => {
            Typed::Flagged("integer out of the 64-bit range (or too large to read exactly)".into())
        }
        IntegerText::NotInteger => Typed::Flagged("expected an integer".to_owned()),
    }
}

fn number_cell(raw: &str) -> Typed {
    if is_missing(raw) {
        return Typed::Absent;
    }
    match parse_number(raw) {
        Some(number) => Typed::Value(Value::Number(number)),
        None => Typed::Flagged("expected a number".to_owned()),
    }
}

/// A parser test for a string format, and the reason given when a text fails it.
type FormatCheck = (fn(&str) -> bool, &'static str);

fn string_cell(field: &Field, raw: &str) -> Typed {
    let check: Option<FormatCheck> = match field.format.as_deref() {
        Some("date-time") => Some((
            |text| parse_timestamp(text).is_some(),
            "expected a date-time",
        )),
        Some("date") => Some((
            |text| parse_date(text).is_some(),
            "expected a date (YYYY-MM-DD)",
        )),
        Some("time") => Some((
            |text| parse_time(text).is_some(),
            "expected a time (HH:MM or HH:MM:SS)",
        )),
        _ => None,
    };
    match check {
        Some(_) if is_missing(raw) => Typed::Absent,
        Some((parses, _)) if parses(raw) => Typed::Value(Value::String(raw.to_owned())),
        Some((_, reason)) => Typed::Flagged(reason.to_owned()),
        None if raw.is_empty() && is_closed_enum(field) => Typed::Absent,
        None => Typed::Value(Value::String(raw.to_owned())),
    }
}

/// A field with an `enum` that does not list the empty string: an empty cell is no choice.
fn is_closed_enum(field: &Field) -> bool {
    field.enum_values.as_ref().is_some_and(|values| {
        !values.is_empty() && !values.iter().any(|value| value.as_str() == Some(""))
    })
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Array,
    Object,
}

fn json_cell(raw: &str, shape: Option<Shape>) -> Typed {
    if is_missing_json(raw) {
        return Typed::Absent;
    }
    let expected = match shape {
        Some(Shape::Array) => "a JSON array",
        Some(Shape::Object) => "a JSON object",
        None => "JSON",
    };
    match parse_json_cell(raw) {
        None => Typed::Flagged(format!("expected {expected}, found text that is not JSON")),
        Some(value) => {
            if let Some(duplicate) = repeated_key_in_cell(raw) {
                return Typed::Flagged(duplicate.message().replace("the record", "the value"));
            }
            let fits = match shape {
                Some(Shape::Array) => value.is_array(),
                Some(Shape::Object) => value.is_object(),
                None => true,
            };
            if fits {
                Typed::Value(value)
            } else {
                Typed::Flagged(format!(
                    "expected {expected}, found {}",
                    offbase_model::json_kind(&value)
                ))
            }
        }
    }
}

/// A field declared with several types (`["string", "number"]`): the JSON value when its type
/// is one of them, else the text when `string` is one of them, else flagged.
fn union_cell(types: &[String], raw: &str) -> Typed {
    if is_missing_json(raw) {
        return Typed::Absent;
    }
    if let Some(value) = parse_json_cell(raw)
        && types.iter().any(|name| json_has_type(&value, name))
    {
        if let Some(duplicate) = repeated_key_in_cell(raw) {
            return Typed::Flagged(duplicate.message().replace("the record", "the value"));
        }
        return Typed::Value(value);
    }
    if types.iter().any(|name| name == "string") {
        return Typed::Value(Value::String(raw.to_owned()));
    }
    Typed::Flagged(format!("expected a value of type {}", types.join(" or ")))
}

fn json_has_type(value: &Value, name: &str) -> bool {
    match name {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading values

fn parse_boolean(text: &str) -> Option<bool> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[derive(Debug, PartialEq)]
enum IntegerText {
    Integer(i64),
    OutOfRange,
    NotInteger,
}

/// An integer text: digits with an optional sign; with `loose`, also a zero fraction (`12.0`)
/// and an exponent form of an exact integer (`1e3`).
fn parse_integer(text: &str, loose: bool) -> IntegerText {
    let text = text.trim();
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits = whole.strip_prefix(['+', '-']).unwrap_or(whole);
    let plain = !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit());
    let zero_fraction = match fraction {
        None => true,
        Some(fraction) => {
            loose && !fraction.is_empty() && fraction.bytes().all(|byte| byte == b'0')
        }
    };
    if plain && zero_fraction {
        return whole
            .parse::<i64>()
            .map_or(IntegerText::OutOfRange, IntegerText::Integer);
    }
    if !loose {
        return IntegerText::NotInteger;
    }
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value.fract() == 0.0 => {
            if value.abs() <= EXACT_FLOAT_INTEGER {
                // Exact: an integral f64 within 2^53 converts without loss.
                IntegerText::Integer(value as i64)
            } else {
                IntegerText::OutOfRange
            }
        }
        _ => IntegerText::NotInteger,
    }
}

/// A number text: integers stay integers, anything else finite is an `f64`.
fn parse_number(text: &str) -> Option<Number> {
    let text = text.trim();
    match parse_integer(text, false) {
        IntegerText::Integer(value) => return Some(Number::from(value)),
        IntegerText::OutOfRange => {
            if let Ok(value) = text.parse::<u64>() {
                return Some(Number::from(value));
            }
        }
        IntegerText::NotInteger => {}
    }
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    Number::from_f64(value)
}

/// JSON in a cell: as it is after CSV unquoting, or, when that fails and the text still holds
/// `""` pairs, the mid-2025 double-escaped form with each `""` read as `"`.
fn parse_json_cell(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok().or_else(|| {
        text.contains("\"\"")
            .then(|| serde_json::from_str(&text.replace("\"\"", "\"")).ok())
            .flatten()
    })
}

/// The first key an object of a JSON cell repeats (read as [`parse_json_cell`] reads it):
/// JSON keeps one of the values silently, so such a cell is flagged, not typed.
fn repeated_key_in_cell(text: &str) -> Option<offbase_model::record::DuplicateKey> {
    use offbase_model::record::parse_value_collecting;
    let found = match parse_value_collecting(text) {
        Ok((_, found)) => found,
        Err(_) => parse_value_collecting(&text.replace("\"\"", "\""))
            .map(|(_, found)| found)
            .ok()?,
    };
    found.into_iter().next()
}

// ---------------------------------------------------------------------------------------------
// Inference

/// A schema for the non-system columns, from their non-missing values.
fn infer_entity(
    entity: &str,
    file: &str,
    keys: &[String],
    system: &[&str],
    rows: &[Row],
) -> Entity {
    let fields = keys
        .iter()
        .enumerate()
        .filter(|(_, key)| !system.contains(&key.as_str()))
        .map(|(index, key)| {
            let values: Vec<&str> = rows
                .iter()
                .filter(|row| row.invalid.is_none())
                .filter_map(|row| row.cells.get(index))
                .map(String::as_str)
                .filter(|value| !is_missing_json(value))
                .collect();
            infer_field(key, &values)
        })
        .collect();
    Entity {
        name: entity.to_owned(),
        source: SchemaSource {
            path: file.to_owned(),
            layout: SourceLayout::Direct,
        },
        title: None,
        description: None,
        fields,
        rls: None,
        extra: BTreeMap::from([(INFERRED_KEY.to_owned(), Value::Bool(true))]),
    }
}

/// The narrowest type all values share: boolean, integer, number, date-time, date, array (with
/// items when their elements share a scalar type), object, else string. Never an enum.
fn infer_field(name: &str, values: &[&str]) -> Field {
    let all = |test: &dyn Fn(&str) -> bool| !values.is_empty() && values.iter().all(|v| test(v));
    if all(&|value| parse_boolean(value).is_some()) {
        return Field::new(name, FieldKind::Boolean);
    }
    if all(&|value| {
        plain_number_text(value) && matches!(parse_integer(value, false), IntegerText::Integer(_))
    }) {
        return Field::new(name, FieldKind::Integer);
    }
    if all(&|value| {
        plain_number_text(value)
            && parse_integer(value, false) != IntegerText::OutOfRange
            && parse_number(value).is_some()
    }) {
        return Field::new(name, FieldKind::Number);
    }
    for (format, test) in [
        (
            "date-time",
            (|value: &str| parse_timestamp(value).is_some()) as fn(&str) -> bool,
        ),
        ("date", |value: &str| parse_date(value).is_some()),
    ] {
        if all(&test) {
            let mut field = Field::new(name, FieldKind::String);
            field.format = Some(format.to_owned());
            return field;
        }
    }
    let arrays: Option<Vec<Vec<Value>>> = values
        .iter()
        .map(|value| match parse_json_cell(value) {
            Some(Value::Array(items)) => Some(items),
            _ => None,
        })
        .collect();
    if let Some(arrays) = arrays.filter(|arrays| !arrays.is_empty()) {
        let mut field = Field::new(name, FieldKind::Array);
        let elements: Vec<&Value> = arrays.iter().flatten().collect();
        field.items =
            scalar_kind(&elements).map(|kind| Box::new(Field::new(format!("{name}[]"), kind)));
        return field;
    }
    if all(&|value| matches!(parse_json_cell(value), Some(Value::Object(_)))) {
        return Field::new(name, FieldKind::Object);
    }
    Field::new(name, FieldKind::String)
}

/// A number written the way a program writes one: optional `-`, no leading zero, no `+`, no
/// surrounding space. Only such columns are inferred as numbers, so that codes like zip codes
/// (`02134`), phone numbers (`+4915...`) and ids too long for 64 bits stay text and lose nothing.
fn plain_number_text(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let whole = body.split(['.', 'e', 'E']).next().unwrap_or(body);
    !whole.is_empty()
        && whole.bytes().all(|byte| byte.is_ascii_digit())
        && !(whole.len() > 1 && whole.starts_with('0'))
}

/// The scalar type every element has, if any (integers and other numbers together: number).
fn scalar_kind(elements: &[&Value]) -> Option<FieldKind> {
    if elements.is_empty() {
        None
    } else if elements.iter().all(|value| value.is_string()) {
        Some(FieldKind::String)
    } else if elements.iter().all(|value| value.is_boolean()) {
        Some(FieldKind::Boolean)
    } else if elements.iter().all(|value| value.is_i64()) {
        Some(FieldKind::Integer)
    } else if elements.iter().all(|value| value.is_number()) {
        Some(FieldKind::Number)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Writing schemas

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

/// Adds the kept keys that are not already written: an interpreted key wins over its stale copy.
fn extend_missing(object: &mut Map<String, Value>, extra: &BTreeMap<String, Value>) {
    for (key, value) in extra {
        if !object.contains_key(key) {
            object.insert(key.clone(), value.clone());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Folders

/// The names of the regular files in a folder, sorted, without hidden files.
pub(crate) fn list_files(dir: &Path) -> Result<Vec<String>, std::io::Error> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() && !entry.path().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// The entity of an app with this name: exactly, else ignoring case.
pub(crate) fn find_entity<'a>(app: &'a App, name: &str) -> Option<&'a Entity> {
    app.entity(name).or_else(|| {
        app.entities
            .iter()
            .find(|entity| entity.name.eq_ignore_ascii_case(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(text: &str) -> Result<Vec<(u64, Vec<String>)>, CsvError> {
        Ok(split_rows(text.as_bytes(), "t.csv")?
            .into_iter()
            .map(|row| (row.line, row.cells))
            .collect())
    }

    #[test]
    fn rows_quotes_and_lines() -> Result<(), CsvError> {
        let rows = cells("a,\"b\"\r\n\"x\ny\",\"say \"\"hi\"\"\"\r\n\r\nplain \"q\",\r\nlast")?;
        let expected: Vec<(u64, Vec<String>)> = vec![
            (1, vec!["a".into(), "b".into()]),
            (2, vec!["x\ny".into(), "say \"hi\"".into()]),
            (5, vec!["plain \"q\"".into(), String::new()]),
            (6, vec!["last".into()]),
        ];
        assert_eq!(rows, expected);
        assert_eq!(
            cells("a\n\"\"\n")?,
            vec![(1, vec!["a".into()]), (2, vec![String::new()])]
        );
        Ok(())
    }

    #[test]
    fn malformed_quotes_name_the_line() {
        for (text, line) in [("a\n\"open,b\nc\n", 2), ("a\n\"x\"y,b\n", 2)] {
            match split_rows(text.as_bytes(), "t.csv") {
                Err(CsvError::Malformed { line: found, .. }) => assert_eq!(found, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn integers_and_numbers() {
        assert_eq!(parse_integer("12", true), IntegerText::Integer(12));
        assert_eq!(parse_integer(" -12.00 ", true), IntegerText::Integer(-12));
        assert_eq!(parse_integer("1e3", true), IntegerText::Integer(1000));
        assert_eq!(parse_integer("12.5", true), IntegerText::NotInteger);
        assert_eq!(parse_integer("12.0", false), IntegerText::NotInteger);
        assert_eq!(
            parse_integer("9223372036854775808", true),
            IntegerText::OutOfRange
        );
        assert_eq!(parse_integer("NaN", true), IntegerText::NotInteger);
        assert_eq!(parse_number("7"), Some(Number::from(7)));
        assert_eq!(parse_number("0.5"), Number::from_f64(0.5));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("12abc"), None);
    }

    /// Regression: a JSON cell repeating a key kept its last value silently.
    #[test]
    fn a_json_cell_that_repeats_a_key_is_flagged() {
        let flagged = |typed: Typed| match typed {
            Typed::Flagged(reason) => reason,
            _ => panic!("not flagged"),
        };
        let reason = flagged(json_cell(r#"{"k":1,"k":2}"#, Some(Shape::Object)));
        assert!(
            reason
                .starts_with("the key \"k\" appears more than once in the value (first 1, then 2)"),
            "{reason}"
        );
        let reason = flagged(json_cell(r#"[{""a"":1,""a"":1}]"#, None));
        assert!(
            reason.contains("the key \"a\" appears more than once in [0]"),
            "{reason}"
        );
        let types = ["object".to_owned()];
        assert!(matches!(
            union_cell(&types, r#"{"k":1,"k":2}"#),
            Typed::Flagged(_)
        ));
        assert!(matches!(json_cell(r#"{"k":1}"#, None), Typed::Value(_)));
    }

    #[test]
    fn json_cells_plain_and_double_escaped() {
        assert_eq!(parse_json_cell(r#"["a"]"#), Some(serde_json::json!(["a"])));
        assert_eq!(
            parse_json_cell(r#"{""k"":1,""s"":""""}"#),
            Some(serde_json::json!({"k": 1, "s": ""}))
        );
        assert_eq!(parse_json_cell("[URGENT] call"), None);
    }

    #[test]
    fn export_file_names() {
        assert_eq!(
            entity_name_from_file("Task_export.csv").as_deref(),
            Some("Task")
        );
        assert_eq!(
            entity_name_from_file("exports/Ops_Task_EXPORT.CSV").as_deref(),
            Some("Ops_Task")
        );
        for name in [
            "_export.csv",
            "Task.csv",
            "Task_export (1).csv",
            "Tâche_export.csv",
        ] {
            assert_eq!(entity_name_from_file(name), None, "{name}");
        }
    }
}
