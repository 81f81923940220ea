//! One staged line into its table rows, or its reject line: the record parsed (a repeated key
//! or a line that is no JSON object rejected with its reason), a losing duplicate rejected,
//! the rest converted by the plan and encoded (binary COPY for a live load and the sync, text
//! COPY for a bundle). The live load, the bundle, verify and diff all turn records into rows
//! here, which is what makes them agree.

use crate::PipelineError;
use crate::files::rewrite::{line_may_be_rewritten, rewrite_record};
use crate::workspace::duplicates::Duplicates;
use crate::workspace::parts::{parse_record, trim_line};
use crate::workspace::rejects::RejectLine;
use offbase_base44::files::UrlRewrite;
use offbase_copy::Cell;
use offbase_copy::convert::{ConstraintKind, EntityConverter, RejectReason, Rejection};
use offbase_model::record::{self, ObjectError};
use offbase_model::{BuiltIn, PgType};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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
            .map_err(|error| PipelineError::Table {
                table: table.name.clone(),
                message: error.to_string(),
            })
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
/// The rows one line became, or its reject line.
#[derive(Debug)]
pub enum LineOutcome {
    /// Encoded rows per table (the entity's table first, then its junction tables, in the
    /// converter's order), the relaxed constraints the record breaks (by column name), and
    /// the file URLs rewritten in it (by field).
    Rows {
        tables: Vec<Vec<u8>>,
        junction_rows: u64,
        relaxed: Vec<(String, ConstraintKind)>,
        rewritten: Vec<(String, u64)>,
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
    /// The URL map file URLs are rewritten through, when the target rewrites them.
    pub urls: Option<std::sync::Arc<UrlRewrite>>,
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
        let mut record = match parse_record(text, self.converter.column_count() + 4) {
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
        // The reject of a record that does not convert shows it as staged; its rows are made
        // from its rewritten copy.
        let original = self.urls.is_some().then(|| record.clone());
        let rewritten = match self.urls.as_deref() {
            Some(urls) => rewrite_record(urls, &mut record),
            None => Vec::new(),
        };
        let mut tables = vec![Vec::new(); self.table_count()];
        if let Some(first) = tables.first_mut() {
            // The binary row is about as long as the JSON line: one allocation, no regrowth.
            first.reserve(text.len() + 64);
        }
        match append_record_rows(&self.converter, &self.encoders, &record, &mut tables) {
            Ok(RecordRows {
                junction_rows,
                relaxed,
            }) => LineOutcome::Rows {
                tables,
                junction_rows,
                relaxed,
                rewritten,
            },
            Err(rejection) => {
                self.rejected_record(&rejection, original.as_ref().unwrap_or(&record), &source())
            }
        }
    }

    /// The fast path for a plain record that loads: parsed straight into column slots (no
    /// map of the record), converted and encoded. `None` for anything else (a duplicate's
    /// losing copy, a line that is not plain JSON, a value that will be rejected), which the
    /// general path then handles and explains; on records that load, both give the same rows.
    fn process_slotted(&self, part: usize, line: u64, text: &[u8]) -> Option<LineOutcome> {
        if self.duplicates.loser(part, line).is_some()
            || line_may_be_rewritten(self.urls.as_deref(), text)
        {
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
            rewritten: Vec::new(),
        })
    }

    fn rejected_record(
        &self,
        rejection: &Rejection,
        record: &Map<String, Value>,
        source: &str,
    ) -> LineOutcome {
        let id = self.converter.record_id(record).map(str::to_owned);
        let mut line = RejectLine::new(&self.entity, id, rejection, source);
        line.record = Some(record.clone());
        self.rejected(rejection.reason, &line)
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
        let mut line = RejectLine::new(&self.entity, id, &rejection, source);
        line.line = Some(String::from_utf8_lossy(text).into_owned());
        line.line_base64 = bytes;
        self.rejected(rejection.reason, &line)
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

    fn rejected(&self, reason: RejectReason, line: &RejectLine) -> LineOutcome {
        LineOutcome::Rejected {
            reason,
            line: line.to_bytes(),
        }
    }
}

/// What one record put into the tables' buffers.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRows {
    pub junction_rows: u64,
    /// The relaxed constraints the record breaks (by column name).
    pub relaxed: Vec<(String, ConstraintKind)>,
}

/// Converts `record` by the plan and appends its rows to `tables`: the entity's table's row to
/// the first buffer, each junction row to its junction table's (the converter's order), each
/// encoded by the encoder at the same index. A record that does not convert, or whose rows do
/// not encode (`wrong_type`), appends nothing and is rejected with why: all of a record's rows
/// go in, or none. Every path that turns a record into rows (load, bundle, sync) goes through
/// here.
pub fn append_record_rows<'e, E: std::ops::Deref<Target = dyn RowEncoder + 'e>>(
    converter: &EntityConverter<'_>,
    encoders: &[E],
    record: &Map<String, Value>,
    tables: &mut [Vec<u8>],
) -> Result<RecordRows, Rejection> {
    let converted = converter.convert(record)?;
    let lengths: Vec<usize> = tables.iter().map(Vec::len).collect();
    let mut encode = |table: usize, cells: &[Cell<'_>]| -> Result<(), String> {
        match (encoders.get(table), tables.get_mut(table)) {
            (Some(encoder), Some(out)) => encoder.encode(cells, out),
            _ => Err(format!("no encoder for table {table}")),
        }
    };
    let mut encoded = encode(0, &converted.row);
    for (junction, cells) in &converted.junction_rows {
        if encoded.is_err() {
            break;
        }
        encoded = encode(junction + 1, cells);
    }
    if let Err(message) = encoded {
        for (out, length) in tables.iter_mut().zip(lengths) {
            out.truncate(length);
        }
        return Err(Rejection {
            field: None,
            reason: RejectReason::WrongType,
            message,
            value: None,
        });
    }
    Ok(RecordRows {
        junction_rows: converted.junction_rows.len() as u64,
        relaxed: converted
            .relaxed
            .iter()
            .map(|(index, kind)| (converter.column_name(*index).to_owned(), *kind))
            .collect(),
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
    use crate::workspace::duplicates::Duplicates;
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
            urls: None,
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

    /// A byte order mark before a record is no part of it.
    #[test]
    fn a_line_that_starts_with_a_bom_is_one_record() {
        assert_eq!(outcome(b"\xEF\xBB\xBF{\"id\":\"a\"}\n").err(), Some(1));
    }
}
