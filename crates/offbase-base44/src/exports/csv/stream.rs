//! Reading exports as streams, in the memory of their largest row whatever their size: the
//! export files of a folder ([`list_csv_folder`]), and each export read twice. The first pass
//! ([`open_csv_export`]) reads the header, checks the encoding and infers a schema when none is
//! given; the second ([`CsvExport::records`]) types each row and hands its record on, one at a
//! time. The readers that return whole [`CsvImport`]s (`mod.rs`) are these two passes with the
//! records collected.

use super::inference::Inference;
use super::outcome::{CellFlag, CsvError, CsvImport};
use super::read::{InvalidRow, Row, Rows, column_keys};
use super::typing::{Rule, plan_columns, read_row, row_length_warning, schema_warnings};
use super::{FLAGS_KEY, entity_name_from_file};
use crate::exports::{find_entity, found_only, list_files, system_fields};
use offbase_model::record::{LINE_BASE64_KEY, LINE_KEY, not_utf8_line};
use offbase_model::{App, Entity};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Dashboard exports separate cells with commas.
const SEPARATOR: u8 = b',';

/// The buffer an export is read through.
const READ_BUFFER: usize = 1 << 16;

/// One `<Entity>_export.csv` of a folder, not read yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvFile {
    pub path: PathBuf,
    /// The entity: the schema's name when the app has one (the file name matched exactly, else
    /// ignoring case), otherwise the name in the file name.
    pub entity: String,
    /// Whether the app given to [`list_csv_folder`] has a schema for the entity.
    pub has_schema: bool,
}

impl CsvFile {
    /// The schema `schemas` (the app given to [`list_csv_folder`]) has for the entity.
    pub fn schema<'a>(&self, schemas: Option<&'a App>) -> Option<&'a Entity> {
        schemas.and_then(|app| find_entity(app, &self.entity))
    }

    /// The first pass over the file ([`open_csv_export`]) with the schema `schemas` (the app
    /// given to [`list_csv_folder`]) has for the entity. When the app has none, the export's
    /// warnings start by saying that the column types are inferred.
    pub fn open(&self, schemas: Option<&App>) -> Result<CsvExport, CsvError> {
        let schema = self.schema(schemas);
        let mut export = open_csv_export(&self.path, &self.entity, schema)?;
        if schemas.is_some() && schema.is_none() {
            export.warnings.insert(
                0,
                format!(
                    "{}: the app has no schema for entity `{}`: column types inferred from the \
                     data",
                    self.path.display(),
                    self.entity
                ),
            );
        }
        Ok(export)
    }
}

/// The `*_export.csv` files of a folder (not its subfolders), sorted by entity, and the
/// warnings about the other files, which are skipped (hidden files are ignored). With
/// `schemas`, each file's entity is named as its schema names it. Two files of one entity, or
/// no export at all, are an error.
pub fn list_csv_folder(
    dir: &Path,
    schemas: Option<&App>,
) -> Result<(Vec<CsvFile>, Vec<String>), CsvError> {
    let (mut files, skipped) = folder_files(dir, schemas)?;
    let mut first_of: HashMap<&str, &Path> = HashMap::new();
    for file in &files {
        if let Some(first) = first_of.insert(&file.entity, &file.path) {
            return Err(CsvError::DuplicateEntity {
                entity: file.entity.clone(),
                first: first.display().to_string(),
                second: file.path.display().to_string(),
            });
        }
    }
    let notes = skipped_notes(dir, !files.is_empty(), &skipped)?;
    files.sort_by(|one, other| one.entity.cmp(&other.entity));
    Ok((files, notes))
}

/// The export files of a folder in the order of their names (duplicates not checked), and the
/// names of the other files.
pub(super) fn folder_files(
    dir: &Path,
    schemas: Option<&App>,
) -> Result<(Vec<CsvFile>, Vec<String>), CsvError> {
    let names = list_files(dir).map_err(|source| CsvError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for name in names {
        let Some(from_file) = entity_name_from_file(&name) else {
            skipped.push(name);
            continue;
        };
        let schema = schemas.and_then(|app| find_entity(app, &from_file));
        files.push(CsvFile {
            path: dir.join(&name),
            entity: schema.map_or(from_file, |schema| schema.name.clone()),
            has_schema: schema.is_some(),
        });
    }
    Ok((files, skipped))
}

/// The warnings about the files of a folder that are not exports, or, when it holds no export
/// (`found` is false), the error saying so.
pub(super) fn skipped_notes(
    dir: &Path,
    found: bool,
    skipped: &[String],
) -> Result<Vec<String>, CsvError> {
    let folder = dir.display().to_string();
    if !found {
        return Err(CsvError::NotFound {
            path: folder,
            found: found_only(skipped),
        });
    }
    Ok(skipped
        .iter()
        .map(|name| {
            format!("{folder}: `{name}` is not a dashboard export (`<Entity>_export.csv`): skipped")
        })
        .collect())
}

/// Opens an export at its start, once per pass.
type Source = Box<dyn Fn() -> io::Result<Box<dyn Read>> + Send + Sync>;

/// An export after its first pass: the header read, the encoding checked, the schema inferred
/// when none is given. No file is held open between the passes.
pub struct CsvExport {
    pub entity: String,
    /// The schema inferred from the data, when no schema was given.
    pub inferred: Option<Entity>,
    /// Things the user should know that are not about one cell, each starting with the file
    /// name: about the header after the first pass; [`CsvExport::records`] adds those about
    /// the schema and the rows.
    pub warnings: Vec<String>,
    /// The export as messages name it.
    file: String,
    source: Source,
    layout: Layout,
}

impl fmt::Debug for CsvExport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("CsvExport")
            .field("entity", &self.entity)
            .field("inferred", &self.inferred)
            .field("warnings", &self.warnings)
            .field("file", &self.file)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

/// The first pass over one export file. `entity` is the entity's name (see
/// [`entity_name_from_file`]); with a schema, cells will be typed by it; without, a schema is
/// inferred from the data ([`CsvExport::inferred`]). The file is named in messages and in the
/// inferred schema as `path` displays.
pub fn open_csv_export(
    path: &Path,
    entity: &str,
    schema: Option<&Entity>,
) -> Result<CsvExport, CsvError> {
    let file = path.display().to_string();
    let path = path.to_owned();
    open_csv_source(move || File::open(&path), &file, entity, schema)
}

/// [`open_csv_export`] for an export read from anything that can be read from its start more
/// than once: `open` gives a reader at the start, once for each pass; `file` names the export
/// in messages and in the inferred schema.
pub fn open_csv_source<R, O>(
    open: O,
    file: &str,
    entity: &str,
    schema: Option<&Entity>,
) -> Result<CsvExport, CsvError>
where
    R: Read + 'static,
    O: Fn() -> io::Result<R> + Send + Sync + 'static,
{
    let source: Source = Box::new(move || Ok(Box::new(open()?) as Box<dyn Read>));
    let first = first_pass(buffered(&source, file)?, file, entity, schema)?;
    Ok(CsvExport {
        entity: entity.to_owned(),
        inferred: first.inferred,
        warnings: first.warnings,
        file: file.to_owned(),
        source,
        layout: first.layout,
    })
}

/// The source opened at its start, read through a buffer (the rows are read from the buffer
/// byte by byte: the source is called once per buffer).
fn buffered(source: &Source, file: &str) -> Result<BufReader<Box<dyn Read>>, CsvError> {
    let reader = source().map_err(|source| CsvError::Io {
        path: file.to_owned(),
        source,
    })?;
    Ok(BufReader::with_capacity(READ_BUFFER, reader))
}

impl CsvExport {
    /// The second pass: every record, typed by `schema` (the one given to open, or
    /// [`CsvExport::inferred`]), handed to `sink` in file order, with the flags of its cells
    /// inside it under [`FLAGS_KEY`]; the warnings about the schema and the rows appended to
    /// [`CsvExport::warnings`] (each call reads the file again and adds them again). Returns
    /// the number of records. The first error of `sink` stops the pass and is returned.
    pub fn records<E: From<CsvError>>(
        &mut self,
        schema: &Entity,
        mut sink: impl FnMut(Map<String, Value>) -> Result<(), E>,
    ) -> Result<u64, E> {
        let reader = buffered(&self.source, &self.file)?;
        self.layout.type_rows(
            reader,
            &self.file,
            &self.entity,
            schema,
            &mut self.warnings,
            |record, _| sink(record),
        )
    }

    /// The whole export in memory, typed by `schema`, else by the inferred one.
    pub(super) fn into_import(self, schema: Option<&Entity>) -> Result<CsvImport, CsvError> {
        let reader = buffered(&self.source, &self.file)?;
        let first = FirstPass {
            layout: self.layout,
            inferred: self.inferred,
            warnings: self.warnings,
        };
        import_of(reader, first, &self.file, &self.entity, schema)
    }
}

/// What the first pass over an export gives.
#[derive(Debug)]
pub(super) struct FirstPass {
    layout: Layout,
    inferred: Option<Entity>,
    warnings: Vec<String>,
}

/// What the first pass learned that the second needs.
#[derive(Debug)]
struct Layout {
    /// The header's line and record keys; `None` for a file without rows.
    header: Option<(u64, Vec<String>)>,
    /// The rows (the header included) and bytes the first pass read: a second pass that reads
    /// others reads a file that changed in between.
    rows: u64,
    bytes: u64,
}

/// Whether an export holds the `User` entity, whose platform columns are more.
fn is_user(entity: &str, schema: Option<&Entity>) -> bool {
    entity == "User" || schema.is_some_and(Entity::is_user)
}

/// The first pass over an export: every row read once, the file refused when it is not UTF-8
/// (see [`Rows::check_encoding`]), the header's columns named, and a schema inferred from the
/// values when `schema` is `None`.
pub(super) fn first_pass<R: BufRead>(
    reader: R,
    file: &str,
    entity: &str,
    schema: Option<&Entity>,
) -> Result<FirstPass, CsvError> {
    let system = system_fields(is_user(entity, schema));
    let mut warnings = Vec::new();
    let mut rows = Rows::new(reader, file, SEPARATOR);
    let Some(header) = rows.next().transpose()? else {
        let inferred = schema.is_none().then(|| {
            let what = if rows.bytes_read() == 0 {
                "the file is empty (0 bytes)"
            } else {
                "the file has no header row"
            };
            warnings.push(format!(
                "{file}: {what}: no records, and no columns to infer a schema from: the \
                 inferred entity `{entity}` has no fields"
            ));
            Inference::new(&[], &system).entity(entity, file)
        });
        let layout = Layout {
            header: None,
            rows: 0,
            bytes: rows.bytes_read(),
        };
        return Ok(FirstPass {
            layout,
            inferred,
            warnings,
        });
    };
    if header.invalid.is_some() {
        // The whole file is refused whatever follows: no need to read on.
        rows.check_encoding()?;
    }
    let keys = column_keys(&header, file, &mut warnings);
    let mut inference = schema.is_none().then(|| Inference::new(&keys, &system));
    for row in rows.by_ref() {
        let row = row?;
        if let Some(inference) = &mut inference {
            inference.observe(&row);
        }
    }
    rows.check_encoding()?;
    let layout = Layout {
        header: Some((header.line, keys)),
        rows: rows.rows_read(),
        bytes: rows.bytes_read(),
    };
    Ok(FirstPass {
        layout,
        inferred: inference.map(|inference| inference.entity(entity, file)),
        warnings,
    })
}

/// The second pass over an export read whole into memory: its records and the flags of their
/// cells, typed by `schema`, else by the inferred one.
pub(super) fn import_of<R: BufRead>(
    reader: R,
    first: FirstPass,
    file: &str,
    entity: &str,
    schema: Option<&Entity>,
) -> Result<CsvImport, CsvError> {
    let FirstPass {
        layout,
        inferred,
        mut warnings,
    } = first;
    let no_fields;
    let typing = match (schema, &inferred) {
        (Some(schema), _) => schema,
        (None, Some(inferred)) => inferred,
        // Never: the first pass infers a schema whenever none is given.
        (None, None) => {
            no_fields = Inference::new(&[], &[]).entity(entity, file);
            &no_fields
        }
    };
    let capacity = usize::try_from(layout.rows.saturating_sub(1)).unwrap_or_default();
    let mut records = Vec::with_capacity(capacity);
    let mut flags = Vec::new();
    layout.type_rows(
        reader,
        file,
        entity,
        typing,
        &mut warnings,
        |record, row_flags| {
            records.push(record);
            flags.extend(row_flags);
            Ok::<(), CsvError>(())
        },
    )?;
    Ok(CsvImport {
        entity: entity.to_owned(),
        records,
        flags,
        inferred,
        warnings,
    })
}

impl Layout {
    /// The second pass over an export: every data row as a record typed by `schema`, handed
    /// to `sink` with the flags of its cells; the warnings about the schema and the rows
    /// appended to `warnings`. Returns the number of records.
    fn type_rows<R: BufRead, E: From<CsvError>>(
        &self,
        reader: R,
        file: &str,
        entity: &str,
        schema: &Entity,
        warnings: &mut Vec<String>,
        mut sink: impl FnMut(Map<String, Value>, Vec<CellFlag>) -> Result<(), E>,
    ) -> Result<u64, E> {
        let mut rows = Rows::new(reader, file, SEPARATOR);
        // The header, read in the first pass (a file that lost it is caught below).
        rows.next().transpose()?;
        let Some((header_line, keys)) = &self.header else {
            self.check_unchanged(&rows, file)?;
            return Ok(0);
        };
        let is_user = is_user(entity, Some(schema));
        let columns = plan_columns(keys, schema, is_user);
        let system = system_fields(is_user);
        // Whatever the schema: an inferred one declares every non-system column and nothing
        // else, so it gives no warning here.
        schema_warnings(file, *header_line, &columns, schema, &system, warnings);
        let id_column = columns
            .iter()
            .position(|column| matches!(column.rule, Rule::Id));
        let has_id_column = id_column.is_some();
        if !has_id_column {
            warnings.push(format!(
                "{file}:{header_line}: no `id` column: every record is kept without an id and \
                 flagged"
            ));
        }
        let header_keys: HashSet<&str> = keys.iter().map(String::as_str).collect();
        let mut records: u64 = 0;
        let mut not_utf8: u64 = 0;
        for row in rows.by_ref() {
            let row = row?;
            let (record, flags) = match &row.invalid {
                Some(invalid) => {
                    not_utf8 += 1;
                    let (record, flag) = not_utf8_record(file, &row, invalid, id_column);
                    (record, vec![flag])
                }
                None => {
                    let (record, flags) = read_row(&row, &columns, &header_keys, has_id_column);
                    if row.cells.len() != columns.len() {
                        warnings.push(row_length_warning(file, &row, columns.len(), &record));
                    }
                    (record, flags)
                }
            };
            sink(record, flags)?;
            records += 1;
        }
        if not_utf8 > 0 {
            warnings.push(format!(
                "{file}: {not_utf8} of {records} rows are not UTF-8 text: each is kept as it is \
                 (its bytes in `{LINE_BASE64_KEY}`) and flagged, so the load rejects it naming \
                 its line; if the file was saved in another encoding, save it as UTF-8 (\"CSV \
                 UTF-8\" in a spreadsheet) and import it again"
            ));
        }
        self.check_unchanged(&rows, file)?;
        Ok(records)
    }

    /// The error for a file that the second pass read differently from the first: it changed
    /// in between, and the schema inferred or the encoding checked may not hold for it.
    fn check_unchanged<R: BufRead>(&self, rows: &Rows<'_, R>, file: &str) -> Result<(), CsvError> {
        if rows.rows_read() == self.rows && rows.bytes_read() == self.bytes {
            return Ok(());
        }
        Err(CsvError::Io {
            path: file.to_owned(),
            source: io::Error::other("the file changed while it was read: read it again"),
        })
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
