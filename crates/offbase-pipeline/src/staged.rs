//! Reading staged records for a load: an entity's parts line by line from a position, each
//! line converted to its table rows and encoded (binary COPY for a live load, text COPY for a
//! bundle) or turned into a reject line; and the duplicate-id scan that decides, before any
//! row goes in, which copy of a repeated id is loaded (the newest `updated_date`, then the
//! later line).
//!
//! One file: reading a part, checking its seal and turning a line into rows or a reject are
//! one pass over the same bytes; its last fifth is unit tests.

use crate::PipelineError;
use crate::workspace::{ManifestPart, Workspace};
use offbase_copy::Cell;
use offbase_copy::convert::{ConstraintKind, EntityConverter, RejectReason, Rejection};
use offbase_model::record::{self, ObjectError};
use offbase_model::{BuiltIn, PgType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;

/// Where reading an entity's parts stands: the part (index into the manifest's parts), and
/// the lines and bytes of it already consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub part: usize,
    pub line: u64,
    pub offset: u64,
}

/// Encodes one row's cells for COPY.
pub trait RowEncoder: Send + Sync {
    fn encode(&self, cells: &[Cell<'_>], out: &mut Vec<u8>) -> Result<(), String>;
}

/// Binary COPY rows of one table (live loads).
#[derive(Debug)]
pub struct BinaryRows(pub offbase_copy::binary::BinaryEncoder);

impl BinaryRows {
    pub fn new(
        table: &offbase_model::Table,
        enum_oids: &BTreeMap<String, u32>,
    ) -> Result<Self, PipelineError> {
        offbase_copy::binary::BinaryEncoder::new(&column_types(table), enum_oids)
            .map(BinaryRows)
            .map_err(|error| PipelineError::Usage(format!("table {}: {error}", table.name)))
    }
}

impl RowEncoder for BinaryRows {
    fn encode(&self, cells: &[Cell<'_>], out: &mut Vec<u8>) -> Result<(), String> {
        self.0
            .encode_row(cells, out)
            .map_err(|error| error.to_string())
    }
}

/// Text COPY rows of one table (bundles).
#[derive(Debug)]
pub struct TextRows(pub Vec<PgType>);

impl TextRows {
    pub fn new(table: &offbase_model::Table) -> Self {
        TextRows(column_types(table))
    }
}

impl RowEncoder for TextRows {
    fn encode(&self, cells: &[Cell<'_>], out: &mut Vec<u8>) -> Result<(), String> {
        offbase_copy::text::encode_row(cells, &self.0, out).map_err(|error| error.to_string())
    }
}

/// Which lines lose to a duplicate of their id: (part, line) → a sentence naming the winner.
#[derive(Debug, Clone, Default)]
pub struct Duplicates {
    losers: HashMap<(usize, u64), String>,
}

impl Duplicates {
    pub fn len(&self) -> usize {
        self.losers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.losers.is_empty()
    }

    /// Whether line `line` of part `part` loses to another copy of its id.
    pub fn is_loser(&self, part: usize, line: u64) -> bool {
        self.loser(part, line).is_some()
    }

    fn loser(&self, part: usize, line: u64) -> Option<&String> {
        if self.losers.is_empty() {
            None
        } else {
            self.losers.get(&(part, line))
        }
    }
}

/// The rows one line became, or its reject line.
#[derive(Debug)]
pub enum LineOutcome {
    /// Encoded rows per table (the entity's table first, then its junction tables, in the
    /// converter's order), and the relaxed constraints the record breaks (by column name).
    Rows {
        tables: Vec<Vec<u8>>,
        junction_rows: u64,
        relaxed: Vec<(String, ConstraintKind)>,
    },
    Rejected {
        reason: RejectReason,
        line: Vec<u8>,
    },
}

/// Turns staged lines of one entity into rows or rejects.
pub struct LineProcessor<'t> {
    pub entity: String,
    pub converter: EntityConverter<'t>,
    /// One encoder per table: the entity's, then its junction tables'.
    pub encoders: Vec<Box<dyn RowEncoder + 't>>,
    pub duplicates: Duplicates,
    /// Part file names, relative to the workspace (for reject lines).
    pub part_files: Vec<String>,
}

impl std::fmt::Debug for LineProcessor<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LineProcessor")
            .field("entity", &self.entity)
            .finish_non_exhaustive()
    }
}

impl LineProcessor<'_> {
    /// The number of tables a row goes to (the entity's and its junction tables).
    pub fn table_count(&self) -> usize {
        1 + self.converter.junctions().len()
    }

    /// Processes line `line` (0-based) of part `part`.
    pub fn process(&self, part: usize, line: u64, text: &[u8]) -> LineOutcome {
        if let Some(rows) = self.process_slotted(part, line, text) {
            return rows;
        }
        // Named only in reject lines: formatted when one is written.
        let source = || self.source(part, line);
        let text = trim_line(text);
        let record = match parse_record(text, self.converter.column_count() + 4) {
            Ok(record) => record,
            Err(error) => return self.unreadable(text, error, &source()),
        };
        if let Some(winner) = self.duplicates.loser(part, line) {
            let rejection = Rejection {
                field: Some(BuiltIn::Id.field_name().to_owned()),
                reason: RejectReason::DuplicateId,
                message: winner.clone(),
                value: record.get(BuiltIn::Id.field_name()).cloned().map(Box::new),
            };
            return self.rejected_record(&rejection, &record, &source());
        }
        let converted = match self.converter.convert(&record) {
            Ok(converted) => converted,
            Err(rejection) => return self.rejected_record(&rejection, &record, &source()),
        };
        let mut tables = vec![Vec::new(); self.table_count()];
        if let Some(first) = tables.first_mut() {
            // The binary row is about as long as the JSON line: one allocation, no regrowth.
            first.reserve(text.len() + 64);
        }
        let encode =
            |table: usize, cells: &[Cell<'_>], out: &mut Vec<u8>| match self.encoders.get(table) {
                Some(encoder) => encoder.encode(cells, out),
                None => Err(format!("no encoder for table {table}")),
            };
        if let Some(out) = tables.get_mut(0)
            && let Err(message) = encode(0, &converted.row, out)
        {
            let rejection = Rejection {
                field: None,
                reason: RejectReason::WrongType,
                message,
                value: None,
            };
            return self.rejected_record(&rejection, &record, &source());
        }
        let junction_rows = converted.junction_rows.len() as u64;
        for (junction, cells) in &converted.junction_rows {
            if let Some(out) = tables.get_mut(junction + 1)
                && let Err(message) = encode(junction + 1, cells, out)
            {
                let rejection = Rejection {
                    field: None,
                    reason: RejectReason::WrongType,
                    message,
                    value: None,
                };
                return self.rejected_record(&rejection, &record, &source());
            }
        }
        let relaxed = converted
            .relaxed
            .iter()
            .map(|(index, kind)| (self.converter.column_name(*index).to_owned(), *kind))
            .collect();
        LineOutcome::Rows {
            tables,
            junction_rows,
            relaxed,
        }
    }

    /// The fast path for a plain record that loads: parsed straight into column slots (no
    /// map of the record), converted and encoded. `None` for anything else (a duplicate's
    /// losing copy, a line that is not plain JSON, a value that will be rejected), which the
    /// general path then handles and explains; on records that load, both give the same rows.
    fn process_slotted(&self, part: usize, line: u64, text: &[u8]) -> Option<LineOutcome> {
        if self.duplicates.loser(part, line).is_some() {
            return None;
        }
        let text = std::str::from_utf8(trim_line(text)).ok()?;
        let record = self.converter.parse_slotted(text)?;
        let converted = self.converter.convert_slotted(&record)?;
        let encoder = self.encoders.first()?;
        let mut row = Vec::with_capacity(text.len() + 64);
        encoder.encode(&converted.row, &mut row).ok()?;
        let relaxed = converted
            .relaxed
            .iter()
            .map(|(index, kind)| (self.converter.column_name(*index).to_owned(), *kind))
            .collect();
        Some(LineOutcome::Rows {
            tables: vec![row],
            junction_rows: 0,
            relaxed,
        })
    }

    fn rejected_record(
        &self,
        rejection: &Rejection,
        record: &Map<String, Value>,
        source: &str,
    ) -> LineOutcome {
        let id = self.converter.record_id(record).map(str::to_owned);
        self.rejected(
            rejection,
            id,
            source,
            Value::Object(record.clone()),
            "record",
        )
    }

    /// The reject of a line that is not one record, its text kept in `line`: a key repeated
    /// (`duplicate_key`, with both values and the id unless the id is what repeats), or not a
    /// JSON object (`invalid_json`; when it is not UTF-8, its bytes in `line_base64` too, and
    /// its id when the rest of it can be read).
    fn unreadable(&self, text: &[u8], error: ObjectError, source: &str) -> LineOutcome {
        let id_field = self.converter.id_field();
        let (rejection, id, bytes) = match error {
            ObjectError::Duplicate(duplicate) => {
                let field = duplicate.field().to_owned();
                let id = if field == id_field {
                    None
                } else {
                    serde_json::from_slice::<Map<String, Value>>(text)
                        .ok()
                        .and_then(|record| self.converter.record_id(&record).map(str::to_owned))
                };
                let rejection = Rejection {
                    field: Some(field.clone()),
                    reason: RejectReason::DuplicateKey,
                    message: format!("{field}: {}", duplicate.message()),
                    value: Some(Box::new(Value::Array(vec![
                        duplicate.first,
                        duplicate.second,
                    ]))),
                };
                (rejection, id, None)
            }
            ObjectError::Json(error) => {
                let rejection = Rejection {
                    field: None,
                    reason: RejectReason::InvalidJson,
                    message: format!("the line is not a JSON object: {error}"),
                    value: None,
                };
                match std::str::from_utf8(text) {
                    Ok(_) => (rejection, None, None),
                    Err(_) => (
                        rejection,
                        record::readable_id(text, id_field),
                        Some(record::base64(text)),
                    ),
                }
            }
        };
        let raw = String::from_utf8_lossy(text).into_owned();
        let mut line = self.reject_line(&rejection, id, source, Value::String(raw), "line");
        if let Some(bytes) = bytes {
            line.insert("line_base64".into(), Value::String(bytes));
        }
        finish_reject(rejection.reason, line)
    }

    /// Where a line is, as reject lines name it: `part file:line` (1-based).
    fn source(&self, part: usize, line: u64) -> String {
        format!(
            "{}:{}",
            self.part_files.get(part).map(String::as_str).unwrap_or("?"),
            line + 1
        )
    }

    /// A reject for a record the database refused after it was encoded.
    pub fn database_reject(&self, part: usize, line: u64, text: &[u8], message: &str) -> Vec<u8> {
        let source = self.source(part, line);
        let record: Map<String, Value> =
            serde_json::from_slice(trim_line(text)).unwrap_or_default();
        let rejection = Rejection {
            field: None,
            reason: RejectReason::Database,
            message: format!("PostgreSQL refused the row: {message}"),
            value: None,
        };
        match self.rejected_record(&rejection, &record, &source) {
            LineOutcome::Rejected { line, .. } => line,
            LineOutcome::Rows { .. } => Vec::new(),
        }
    }

    fn rejected(
        &self,
        rejection: &Rejection,
        id: Option<String>,
        source: &str,
        whole: Value,
        whole_key: &str,
    ) -> LineOutcome {
        let line = self.reject_line(rejection, id, source, whole, whole_key);
        finish_reject(rejection.reason, line)
    }

    /// A reject line's fields: entity, id, field, reason, message, value, source, and the
    /// whole record (or line) under `whole_key`.
    fn reject_line(
        &self,
        rejection: &Rejection,
        id: Option<String>,
        source: &str,
        whole: Value,
        whole_key: &str,
    ) -> Map<String, Value> {
        let mut line = Map::new();
        line.insert("entity".into(), Value::String(self.entity.clone()));
        line.insert("id".into(), id.map(Value::String).unwrap_or(Value::Null));
        line.insert(
            "field".into(),
            rejection
                .field
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        line.insert(
            "reason".into(),
            Value::String(rejection.reason.code().to_owned()),
        );
        line.insert("message".into(), Value::String(rejection.message.clone()));
        line.insert(
            "value".into(),
            rejection.value.as_deref().cloned().unwrap_or(Value::Null),
        );
        line.insert("source".into(), Value::String(source.to_owned()));
        line.insert(whole_key.into(), whole);
        line
    }
}

/// A reject line as the reject file holds it: one JSON object and a newline.
fn finish_reject(reason: RejectReason, line: Map<String, Value>) -> LineOutcome {
    let mut bytes = serde_json::to_vec(&Value::Object(line)).unwrap_or_default();
    bytes.push(b'\n');
    LineOutcome::Rejected {
        reason,
        line: bytes,
    }
}

/// Parses a line as one record (a JSON object) into a map sized for `capacity` fields up front
/// (serde_json's own `Map` deserializer starts empty and regrows several times a record),
/// refused when it repeats a key anywhere (see [`offbase_model::record::parse_object`]).
pub fn parse_record(line: &[u8], capacity: usize) -> Result<Map<String, Value>, ObjectError> {
    record::parse_object(line, capacity)
}

/// A staged line's text: without its line ending, and without a byte order mark before it (a
/// part saved by an editor starts with one; it is no part of the record, and the line's bytes
/// as read, which the manifest's hash covers, are left as they are).
pub(crate) fn trim_line(text: &[u8]) -> &[u8] {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    record::strip_bom(text.strip_suffix(b"\r").unwrap_or(text))
}

/// A line as [`PartReader`] reads it: its part and 0-based line number, and whether it is
/// blank.
type RawLine = ((usize, u64), bool);

/// Whether a line is blank: no record (whitespace, a byte-order mark, nothing).
pub(crate) fn is_blank(line: &[u8]) -> bool {
    trim_line(line).iter().all(u8::is_ascii_whitespace)
}

/// Reads an entity's part files line by line from a position.
#[derive(Debug)]
pub struct PartReader {
    paths: Vec<PathBuf>,
    position: Position,
    reader: Option<BufReader<File>>,
}

impl PartReader {
    pub fn open(
        workspace: &Workspace,
        parts: &[ManifestPart],
        position: Position,
    ) -> Result<Self, PipelineError> {
        Ok(PartReader {
            paths: parts
                .iter()
                .map(|part| workspace.part_file(&part.file))
                .collect::<Result<_, _>>()?,
            position,
            reader: None,
        })
    }

    pub fn position(&self) -> Position {
        self.position
    }

    /// The next line (with its part and 0-based line number) into `buffer`, or `None` at the
    /// end of the last part. Crossing into the next part moves the position to its start.
    /// Blank lines (an editor's final newline) are no records and are passed over.
    pub fn next_line(
        &mut self,
        buffer: &mut Vec<u8>,
    ) -> Result<Option<(usize, u64)>, PipelineError> {
        loop {
            match self.next_raw_line(buffer)? {
                None => return Ok(None),
                Some((_, true)) => continue,
                Some((here, false)) => return Ok(Some(here)),
            }
        }
    }

    /// The next line, blank or not (whether it is blank beside it): every byte of the parts
    /// passes through here, in order, so a pass can check them against the manifest.
    fn next_raw_line(&mut self, buffer: &mut Vec<u8>) -> Result<Option<RawLine>, PipelineError> {
        loop {
            let Some(path) = self.paths.get(self.position.part) else {
                return Ok(None);
            };
            if self.reader.is_none() {
                let mut file = File::open(path).map_err(|error| PipelineError::io(path, error))?;
                file.seek(SeekFrom::Start(self.position.offset))
                    .map_err(|error| PipelineError::io(path, error))?;
                self.reader = Some(BufReader::with_capacity(1 << 20, file));
            }
            let Some(reader) = self.reader.as_mut() else {
                return Ok(None);
            };
            buffer.clear();
            let read = reader
                .read_until(b'\n', buffer)
                .map_err(|error| PipelineError::io(path, error))?;
            if read == 0 {
                self.reader = None;
                self.position = Position {
                    part: self.position.part + 1,
                    line: 0,
                    offset: 0,
                };
                continue;
            }
            let here = (self.position.part, self.position.line);
            self.position.line += 1;
            self.position.offset += read as u64;
            return Ok(Some((here, is_blank(buffer))));
        }
    }

    /// Whether the reader is past the last line of part `part`.
    pub fn at_part_end(&self, part: usize) -> bool {
        self.position.part > part
    }
}

/// Calls `visit` with every staged line of an entity that a load keeps (the losing copies of
/// a duplicate id left out): the part file's name, the line number (0-based) and its bytes.
pub fn for_each_kept_line(
    workspace: &Workspace,
    parts: &[ManifestPart],
    mut visit: impl FnMut(&str, u64, &[u8]),
) -> Result<(), PipelineError> {
    let part_files: Vec<String> = parts.iter().map(|part| part.file.clone()).collect();
    let duplicates = find_duplicates(workspace, parts, &part_files)?;
    let mut reader = PartReader::open(workspace, parts, Position::default())?;
    let mut buffer = Vec::new();
    while let Some((part, line)) = reader.next_line(&mut buffer)? {
        if !duplicates.is_loser(part, line) {
            let file = part_files.get(part).map(String::as_str).unwrap_or("?");
            visit(file, line, trim_line(&buffer));
        }
    }
    Ok(())
}

/// Scans an entity's parts for ids that occur more than once and decides which copy loads:
/// the newest `updated_date` (as an instant), then the later line. Memory: 8 bytes per record
/// for the first pass, then only the repeated ids.
pub fn find_duplicates(
    workspace: &Workspace,
    parts: &[ManifestPart],
    part_files: &[String],
) -> Result<Duplicates, PipelineError> {
    // Sized from the manifest: growing by doubling would briefly hold one and a half times as
    // much.
    let expected: u64 = parts.iter().map(|part| part.records).sum();
    let mut hashes: Vec<u64> = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    let mut reader = PartReader::open(workspace, parts, Position::default())?;
    let mut buffer = Vec::new();
    // The same pass checks every part against what the manifest recorded when it was staged
    // (lines, bytes, SHA-256), before any of its rows go in: a part edited, cut or swapped
    // since is refused, not loaded as it is.
    let mut seal = PartSeal::default();
    let mut current = 0;
    while let Some(((part, _), blank)) = reader.next_raw_line(&mut buffer)? {
        while current < part {
            seal.check(workspace, parts, current)?;
            current += 1;
        }
        seal.add(&buffer);
        if blank {
            continue;
        }
        if let Some(id) = line_id(&buffer) {
            hashes.push(hash_id(&id));
        }
    }
    while current < parts.len() {
        seal.check(workspace, parts, current)?;
        current += 1;
    }
    hashes.sort_unstable();
    let repeated: HashSet<u64> = hashes
        .windows(2)
        .filter(|pair| pair.first() == pair.get(1))
        .filter_map(|pair| pair.first().copied())
        .collect();
    drop(hashes);
    if repeated.is_empty() {
        return Ok(Duplicates::default());
    }
    // Second pass: the full ids and update times of the candidates only.
    type Copy = (Option<i64>, usize, u64);
    let mut copies: BTreeMap<String, Vec<Copy>> = BTreeMap::new();
    let mut reader = PartReader::open(workspace, parts, Position::default())?;
    while let Some((part, line)) = reader.next_line(&mut buffer)? {
        let Some(id) = line_id(&buffer) else {
            continue;
        };
        if !repeated.contains(&hash_id(&id)) {
            continue;
        }
        let parsed = parse_record(trim_line(&buffer), 0);
        if let Err(ObjectError::Duplicate(_)) = parsed {
            // Rejected for its repeated key: it must not win over a copy that loads.
            continue;
        }
        let updated = parsed
            .ok()
            .and_then(|record| {
                record
                    .get(BuiltIn::UpdatedDate.field_name())
                    .and_then(Value::as_str)
                    .and_then(offbase_model::time::parse_timestamp)
            })
            .map(|instant| instant.timestamp_micros());
        copies.entry(id).or_default().push((updated, part, line));
    }
    let mut losers = HashMap::new();
    for (id, mut found) in copies {
        if found.len() < 2 {
            continue;
        }
        found.sort();
        let Some(&(_, winner_part, winner_line)) = found.last() else {
            continue;
        };
        let winner = format!(
            "id {id:?} appears {} times: the copy at {}:{} (newest updated_date) was loaded instead",
            found.len(),
            part_files
                .get(winner_part)
                .map(String::as_str)
                .unwrap_or("?"),
            winner_line + 1
        );
        for &(_, part, line) in found.iter().take(found.len() - 1) {
            losers.insert((part, line), winner.clone());
        }
    }
    Ok(Duplicates { losers })
}

/// What one part holds, as read: lines, bytes and their SHA-256.
#[derive(Default)]
struct PartSeal {
    lines: u64,
    bytes: u64,
    hasher: sha2::Sha256,
}

impl PartSeal {
    fn add(&mut self, line: &[u8]) {
        use sha2::Digest;
        self.hasher.update(line);
        self.bytes += line.len() as u64;
        if !is_blank(line) {
            self.lines += 1;
        }
    }

    /// Compares what was read of part `index` with the manifest, then starts the next part.
    fn check(
        &mut self,
        workspace: &Workspace,
        parts: &[ManifestPart],
        index: usize,
    ) -> Result<(), PipelineError> {
        use sha2::Digest;
        let read = std::mem::take(self);
        let Some(part) = parts.get(index) else {
            return Ok(());
        };
        let sha256 = format!("{:x}", read.hasher.finalize());
        if (read.lines, read.bytes, sha256.as_str())
            == (part.records, part.bytes, part.sha256.as_str())
        {
            return Ok(());
        }
        Err(PipelineError::Workspace {
            path: workspace.root().join(&part.file),
            message: format!(
                "changed since it was staged (the manifest records {} records, {} bytes, SHA-256 {}; the file holds {} records, {} bytes, SHA-256 {}): nothing of it was loaded. Stage it again (pull or migrate), or, if the edit is intended, record it with `offbase reseal --workspace {}` and load again",
                part.records,
                part.bytes,
                short_hash(&part.sha256),
                read.lines,
                read.bytes,
                short_hash(&sha256),
                workspace.root().display()
            ),
        })
    }
}

fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// A line's id: read from the front when the line starts with it (every workspace line does),
/// else from the parsed record.
fn line_id(line: &[u8]) -> Option<String> {
    let line = trim_line(line);
    if let Some(rest) = line.strip_prefix(b"{\"id\":\"")
        && let Some(end) = rest.iter().position(|&byte| byte == b'"' || byte == b'\\')
        && rest.get(end) == Some(&b'"')
    {
        return std::str::from_utf8(rest.get(..end)?)
            .ok()
            .map(str::to_owned);
    }
    let record: Map<String, Value> = serde_json::from_slice(line).ok()?;
    record
        .get(BuiltIn::Id.field_name())
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// FNV-1a: stable across runs and platforms, which a resumed load relies on only for speed.
fn hash_id(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The types of a table's columns, for hashing decoded rows.
pub fn column_types(table: &offbase_model::Table) -> Vec<PgType> {
    table
        .columns
        .iter()
        .map(|column| column.pg_type.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use offbase_model::{App, Entity, Field, FieldKind, MappingRules, SchemaSource, SourceLayout};
    use serde_json::json;

    fn target() -> offbase_model::TargetSchema {
        let app = App {
            name: "test".into(),
            app_id: None,
            entities: vec![Entity {
                name: "Note".into(),
                source: SchemaSource {
                    path: "Note.jsonc".into(),
                    layout: SourceLayout::Base44Entities,
                },
                title: None,
                description: None,
                fields: vec![Field::new("title", FieldKind::String)],
                rls: None,
                extra: Default::default(),
            }],
        };
        let rules = MappingRules::defaults().unwrap_or_else(|error| panic!("{error}"));
        offbase_sql::plan(&app, &rules).unwrap_or_else(|error| panic!("{error}"))
    }

    /// The reject line of `text`, parsed, or the rows' count.
    fn outcome(text: &[u8]) -> Result<Map<String, Value>, usize> {
        let target = target();
        let Some(table) = target.table_for_entity("Note") else {
            panic!("no table");
        };
        let processor = LineProcessor {
            entity: "Note".into(),
            converter: EntityConverter::new(&target, table, Default::default()),
            encoders: vec![Box::new(TextRows::new(table))],
            duplicates: Duplicates::default(),
            part_files: vec!["data/Note/part-00000.jsonl".into()],
        };
        match processor.process(0, 4, text) {
            LineOutcome::Rows { tables, .. } => Err(tables.len()),
            LineOutcome::Rejected { line, .. } => Ok(serde_json::from_slice(&line)
                .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&line)))),
        }
    }

    fn fields(reject: &Map<String, Value>, keys: &[&str]) -> Vec<Value> {
        keys.iter()
            .map(|key| reject.get(*key).cloned().unwrap_or(Value::Null))
            .collect()
    }

    /// Regression: a staged line that repeats a key loaded its last value silently.
    #[test]
    fn a_line_that_repeats_a_key_is_rejected_with_both_values() {
        let keys = ["id", "reason", "field", "value", "source", "line", "record"];
        let line = r#"{"id":"a","title":"x","title":"y"}"#;
        let Ok(reject) = outcome(line.as_bytes()) else {
            panic!("loaded");
        };
        assert_eq!(
            fields(&reject, &keys),
            [
                json!("a"),
                json!("duplicate_key"),
                json!("title"),
                json!(["x", "y"]),
                json!("data/Note/part-00000.jsonl:5"),
                json!(line),
                Value::Null
            ]
        );
        assert!(
            reject["message"].as_str().is_some_and(|message| message
                .starts_with("title: the key \"title\" appears more than once in the record")),
            "{reject:?}"
        );
        // The id itself repeated: which one is a guess, so the reject names none.
        let line = r#"{"id":"b","title":"x","id":"c"}"#;
        let Ok(reject) = outcome(line.as_bytes()) else {
            panic!("loaded");
        };
        assert_eq!(
            fields(&reject, &keys[..4]),
            [
                Value::Null,
                json!("duplicate_key"),
                json!("id"),
                json!(["b", "c"])
            ]
        );
        assert_eq!(outcome(br#"{"id":"d","title":"x"}"#).err(), Some(1));
    }

    /// Regression: the reject of a line that is not UTF-8 held U+FFFD instead of its bytes,
    /// and no id.
    #[test]
    fn a_line_that_is_not_utf8_keeps_its_bytes_and_its_id() {
        let line = b"{\"id\":\"e\",\"title\":\"bad \xff\"}";
        let Ok(reject) = outcome(line) else {
            panic!("loaded");
        };
        assert_eq!(
            fields(&reject, &["id", "reason", "field", "line", "line_base64"]),
            [
                json!("e"),
                json!("invalid_json"),
                Value::Null,
                json!("{\"id\":\"e\",\"title\":\"bad \u{FFFD}\"}"),
                json!(offbase_model::record::base64(line)),
            ]
        );
        // The id itself unreadable: none is made up.
        let Ok(reject) = outcome(b"{\"id\":\"\xffe\",\"title\":\"x\"}") else {
            panic!("loaded");
        };
        assert_eq!(reject["id"], Value::Null);
    }

    /// A workspace with one part holding `bytes`, and the part as its manifest records it.
    fn one_part(
        bytes: &[u8],
        records: u64,
    ) -> Result<(tempfile::TempDir, Workspace, [ManifestPart; 1]), PipelineError> {
        let folder = tempfile::tempdir().map_err(|error| PipelineError::io("temp", error))?;
        let workspace = Workspace::new(folder.path());
        let file = "data/Note/part-00000.jsonl";
        let path = folder.path().join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| PipelineError::io(parent, error))?;
        }
        std::fs::write(&path, bytes).map_err(|error| PipelineError::io(&path, error))?;
        let part = ManifestPart {
            file: file.into(),
            records,
            bytes: bytes.len() as u64,
            sha256: crate::workspace::sha256_file(&path)?,
        };
        Ok((folder, workspace, [part]))
    }

    /// A newer copy of an id that repeats a key is rejected for it: it must not make the copy
    /// that loads lose as a duplicate id.
    #[test]
    fn a_copy_that_repeats_a_key_never_wins_over_one_that_loads() -> Result<(), PipelineError> {
        let bytes = concat!(
            r#"{"id":"c","updated_date":"2026-01-01T00:00:00Z","title":"good"}"#,
            "\n",
            r#"{"id":"c","updated_date":"2027-01-01T00:00:00Z","title":"x","title":"y"}"#,
            "\n",
        );
        let (_folder, workspace, parts) = one_part(bytes.as_bytes(), 2)?;
        let file = parts[0].file.clone();
        let duplicates = find_duplicates(&workspace, &parts, &[file])?;
        assert!(!duplicates.is_loser(0, 0));
        assert!(!duplicates.is_loser(0, 1));
        Ok(())
    }

    /// Regression: a part that starts with a byte order mark lost its first record.
    #[test]
    fn a_part_that_starts_with_a_bom_loads_its_first_record() -> Result<(), PipelineError> {
        let (_folder, workspace, parts) =
            one_part(b"\xEF\xBB\xBF{\"id\":\"a\"}\n{\"id\":\"b\"}\n", 2)?;
        let file = parts[0].file.clone();
        let mut reader = PartReader::open(&workspace, &parts, Position::default())?;
        let mut buffer = Vec::new();
        let mut lines = Vec::new();
        while let Some(place) = reader.next_line(&mut buffer)? {
            lines.push((
                place,
                String::from_utf8_lossy(trim_line(&buffer)).into_owned(),
            ));
        }
        assert_eq!(
            lines,
            [
                ((0, 0), r#"{"id":"a"}"#.to_owned()),
                ((0, 1), r#"{"id":"b"}"#.to_owned())
            ]
        );
        // The manifest's hash covers the mark: the part is still the one staged.
        let duplicates = find_duplicates(&workspace, &parts, &[file])?;
        assert!(duplicates.is_empty());
        assert_eq!(outcome(b"\xEF\xBB\xBF{\"id\":\"a\"}\n").err(), Some(1));
        Ok(())
    }
}
