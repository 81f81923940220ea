//! Dashboard CSV exports (`<Entity>_export.csv`) read into records.
//!
//! This module owns two things: reading the CSV files the Base44 dashboard exports, in every
//! variant real exports show (quoted or unquoted header and values, a BOM, LF or CRLF, with or
//! without a trailing newline, 0-byte files, system columns in any position and any subset,
//! embedded newlines), and typing each cell by the entity schema, or by a schema inferred from
//! the file when there is none ([`CsvImport::inferred`], which [`entity_schema_json`] can write
//! back as an ordinary schema file, see `crate::schema`).
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
//! Reading streams: an export file is read twice, a row at a time, in the memory of its largest
//! row whatever its size: a first pass checks the encoding and infers the schema, a second types
//! each row and hands its record on ([`list_csv_folder`], [`open_csv_export`],
//! [`CsvExport::records`]). The readers that return whole [`CsvImport`]s ([`parse_csv_export`],
//! [`read_csv_export`], [`read_csv_folder`]) are the same two passes with the records collected.
//!
//! Where each part lives (this file uses the parts; no part uses this file but for
//! [`entity_name_from_file`]): this file reads bytes, a file or a folder into whole imports;
//! `stream` lists a folder's exports and runs the two passes over one; `read` splits bytes into
//! rows as they are read and names the columns (the CSV grammar, and the encoding check);
//! `typing` types each cell by its column's rule; `inference` guesses a schema when there is
//! none, a row at a time; `import` reads the file the SDK's `importEntities` sends (the same
//! grammar and typing, the platform's pairing of columns); `outcome` holds what an import gives
//! ([`CsvImport`], [`CellFlag`], [`CsvError`], [`INFERRED_KEY`]), re-exported here.

mod import;
mod inference;
mod outcome;
mod read;
mod stream;
mod typing;

#[cfg(test)]
mod tests;

pub use crate::schema::entity_schema_json;
pub use import::{IMPORT_BODY_MAX, IMPORT_MAX_BYTES, ImportRefusal, import_answer, parse_import};
/// The key under which a record carries the flags of its cells (an object `{field: reason}`):
/// the importer's flags key of the model, re-exported where the CSV importer's users look.
pub use offbase_model::record::FLAGS_KEY;
pub use outcome::{CellFlag, CsvError, CsvImport, INFERRED_KEY};
pub use stream::{CsvExport, CsvFile, list_csv_folder, open_csv_export, open_csv_source};

use offbase_model::{App, Entity};
use std::collections::BTreeMap;
use std::path::Path;
use stream::{first_pass, folder_files, import_of, skipped_notes};

/// How a dashboard export file name ends (compared without regard to case).
const EXPORT_SUFFIX: &str = "_export.csv";

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
/// [`SchemaSource::path`](offbase_model::SchemaSource::path); `entity` is the entity name. With a schema, cells are typed by it;
/// without, a schema is inferred from the data ([`CsvImport::inferred`]) and cells are typed by
/// that. Pure: touches no file.
pub fn parse_csv_export(
    bytes: &[u8],
    file: &str,
    entity: &str,
    schema: Option<&Entity>,
) -> Result<CsvImport, CsvError> {
    let first = first_pass(bytes, file, entity, schema)?;
    import_of(bytes, first, file, entity, schema)
}

/// Reads one export file. The entity is the schema's name when a schema is given, otherwise the
/// name in the file name (`Task_export.csv` → `Task`), otherwise the file stem (with a warning).
pub fn read_csv_export(path: &Path, schema: Option<&Entity>) -> Result<CsvImport, CsvError> {
    let file = path.display().to_string();
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
    let mut import = open_csv_export(path, &entity, schema)?.into_import(schema)?;
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
    let (files, skipped) = folder_files(dir, schemas)?;
    // Each file is read before the next one's entity is checked against the others, so a
    // folder with a broken file and two files of one entity fails on whichever comes first.
    let mut imports: BTreeMap<String, (String, CsvImport)> = BTreeMap::new();
    for file in files {
        let import = file.open(schemas)?.into_import(file.schema(schemas))?;
        let shown = file.path.display().to_string();
        if let Some((first, _)) = imports.get(&file.entity) {
            return Err(CsvError::DuplicateEntity {
                entity: file.entity,
                first: first.clone(),
                second: shown,
            });
        }
        imports.insert(file.entity, (shown, import));
    }
    let notes = skipped_notes(dir, !imports.is_empty(), &skipped)?;
    let mut imports: Vec<CsvImport> = imports.into_values().map(|(_, import)| import).collect();
    if let Some(first) = imports.first_mut() {
        first.warnings.splice(0..0, notes);
    }
    Ok(imports)
}
