//! The SDK's `importEntities(file)` (`POST .../entities/{Entity}/import`, the file in a
//! multipart part named `file`): a CSV file read into the records to create, for the emulator
//! and `offbase serve` alike. Pure. The platform documents it so: a header row with no blank
//! or repeated column names; commas, semicolons or tabs between cells; at most 10 MB; each of
//! the entity's fields paired with the column of the same name ignoring case, spaces and
//! punctuation; columns that match no field ignored; every required field needs a column;
//! all or nothing (every row checked before anything is written); a file that cannot be
//! imported answers `status: "error"` with the reason in `details`, not an HTTP error.
//!
//! Decisions where the documentation is silent, the same on both servers:
//! - a field no column pairs with by name is left out: the platform asks a model to guess a
//!   column, which no server here does (a guess could put a value in the wrong field);
//! - the platform's own columns (`id`, `created_date`, `created_by`, ...) pair with nothing:
//!   each row becomes a new record, with its own id and timestamps;
//! - cells are typed by the field's declared type as the dashboard CSV reader types them
//!   (`typing`): a cell that does not fit its type refuses the file, naming its line, column
//!   and field; an empty cell of a required field too (the record would lack it);
//! - two columns that pair with one field: the first is used (the header has no repeated
//!   names, but `Due Date` and `due_date` pair alike);
//! - the separator is the one of `,`, `;` and a tab that the header holds most of, outside
//!   quotes (a comma when it holds none).

use super::read::read_rows_separated;
use super::typing::{Typed, field_cell};
use offbase_model::{BuiltIn, Entity, Field};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// The largest file an import takes (the platform's 10 MB).
pub const IMPORT_MAX_BYTES: usize = 10 * 1000 * 1000;

/// The largest request body a server reads for an import: the file's limit and room for the
/// multipart framing. A file between the two is refused with the import's own answer; a
/// larger body with 413, without being held.
pub const IMPORT_BODY_MAX: usize = IMPORT_MAX_BYTES + 1024 * 1024;

/// Why a file cannot be imported: the text the answer's `details` carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ImportRefusal(pub String);

/// The answer to an import: `{"status": "success", "details", "output": [records]}` with the
/// records created, or `{"status": "error", "details": why, "output": null}` (an HTTP 200
/// either way: the SDK's `ImportResult`).
pub fn import_answer(result: Result<Vec<Value>, String>) -> Value {
    let (status, details, output) = match result {
        Ok(records) => (
            "success",
            format!(
                "Successfully imported {} entities with RLS enforcement",
                records.len()
            ),
            Value::Array(records),
        ),
        Err(details) => ("error", details, Value::Null),
    };
    let mut answer = Map::new();
    answer.insert("status".to_owned(), Value::String(status.to_owned()));
    answer.insert("details".to_owned(), Value::String(details));
    answer.insert("output".to_owned(), output);
    Value::Object(answer)
}

/// The records a CSV file creates in `entity`, in file order, each holding the fields its
/// paired columns give (no built-ins). The file's name, `file`, names it in refusals.
pub fn parse_import(
    bytes: &[u8],
    file: &str,
    entity: &Entity,
) -> Result<Vec<Map<String, Value>>, ImportRefusal> {
    let refuse = |text: String| Err(ImportRefusal(text));
    if bytes.len() > IMPORT_MAX_BYTES {
        return refuse(format!(
            "{file} holds {} bytes: an import takes at most {IMPORT_MAX_BYTES} bytes (10 MB); \
             split it into several files",
            bytes.len()
        ));
    }
    let separator = separator(bytes);
    let rows = read_rows_separated(bytes, file, separator)
        .map_err(|error| ImportRefusal(error.to_string()))?;
    let Some((header, data)) = rows.split_first() else {
        return refuse(format!(
            "{file} is empty: an import needs a header row naming the columns"
        ));
    };
    if header.invalid.is_some() {
        return refuse(format!(
            "{file}:{}: the header is not UTF-8 text",
            header.line
        ));
    }
    let mut seen = HashSet::new();
    for (index, name) in header.cells.iter().enumerate() {
        let name = name.trim();
        if name.is_empty() {
            return refuse(format!(
                "{file}: column {} of the header has no name: every column needs one",
                index + 1
            ));
        }
        if !seen.insert(name) {
            return refuse(format!(
                "{file}: the header names column `{name}` twice: every column needs its own name"
            ));
        }
    }
    let paired = pair_columns(&header.cells, entity);
    let missing: Vec<&str> = entity
        .fields
        .iter()
        .filter(|field| field.required)
        .filter(|field| !paired.iter().any(|(_, paired)| paired.name == field.name))
        .map(|field| field.name.as_str())
        .collect();
    if !missing.is_empty() {
        return refuse(format!(
            "{file}: no column for the required field{} `{}` of {}: add a column named after it",
            if missing.len() == 1 { "" } else { "s" },
            missing.join("`, `"),
            entity.name
        ));
    }
    let mut records = Vec::with_capacity(data.len());
    for row in data {
        if let Some(invalid) = &row.invalid {
            return refuse(format!(
                "{file}:{}: the row is not UTF-8 text",
                invalid.line
            ));
        }
        let mut record = Map::new();
        for (index, field) in &paired {
            let raw = row
                .cells
                .get(*index)
                .map(String::as_str)
                .unwrap_or_default();
            let column = header.cells[*index].trim();
            match field_cell(field, raw) {
                Typed::Value(value) => {
                    record.insert(field.name.clone(), value);
                }
                Typed::Absent if field.required => {
                    return refuse(format!(
                        "{file}:{}: column `{column}` is empty, and `{}` is required",
                        row.line, field.name
                    ));
                }
                Typed::Absent => {}
                Typed::Flagged(reason) => {
                    return refuse(format!(
                        "{file}:{}: column `{column}` (field `{}`): {reason}: `{raw}`",
                        row.line, field.name
                    ));
                }
            }
        }
        records.push(record);
    }
    Ok(records)
}

/// The columns that pair with a declared field: (column index, field), in header order.
fn pair_columns<'a>(header: &[String], entity: &'a Entity) -> Vec<(usize, &'a Field)> {
    let mut taken = HashSet::new();
    let mut paired = Vec::new();
    for (index, column) in header.iter().enumerate() {
        let key = comparable(column);
        let field = entity
            .fields
            .iter()
            .filter(|field| !is_built_in(&field.name))
            .find(|field| comparable(&field.name) == key);
        if let Some(field) = field
            && taken.insert(field.name.as_str())
        {
            paired.push((index, field));
        }
    }
    paired
}

/// A built-in of every record (`id`, `created_date`, ...): a schema may declare one, but a
/// create sets it, so no column pairs with it.
fn is_built_in(name: &str) -> bool {
    BuiltIn::RECORD
        .iter()
        .any(|built_in| built_in.field_name() == name)
}

/// A name without case, spaces or punctuation: `Due Date`, `due_date` and `dueDate` compare
/// alike.
fn comparable(name: &str) -> String {
    name.chars()
        .filter(|character| character.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The separator the header holds most of, outside quotes: `,`, `;` or a tab.
fn separator(bytes: &[u8]) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for byte in bytes {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            byte => {
                if let Some(count) = counts
                    .iter_mut()
                    .find(|(separator, _)| separator == byte && !quoted)
                {
                    count.1 += 1;
                }
            }
        }
    }
    // The first of the most frequent: a comma on a tie or when there is none.
    counts
        .iter()
        .fold((b',', 0), |best, (separator, count)| {
            if *count > best.1 {
                (*separator, *count)
            } else {
                best
            }
        })
        .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ParsedFile, parse_entity_file};
    use offbase_model::SourceLayout;

    fn task() -> Entity {
        let schema = serde_json::json!({
            "name": "Task",
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "due_date": {"type": "string", "format": "date"},
                "priority": {"type": "integer"},
                "done": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "created_date": {"type": "string", "format": "date-time"}
            },
            "required": ["title"]
        });
        match parse_entity_file(&schema.to_string(), "Task.json", SourceLayout::Direct) {
            Ok(ParsedFile::Entity(entity, _)) => entity,
            other => panic!("{other:?}"),
        }
    }

    fn import(text: &str) -> Result<Vec<Map<String, Value>>, ImportRefusal> {
        parse_import(text.as_bytes(), "tasks.csv", &task())
    }

    #[test]
    fn columns_pair_with_fields_ignoring_case_spaces_and_punctuation() {
        let records = match import(
            "Title;Due Date;PRIORITY;done;Notes;id;Created Date\n\"A; b\";2026-01-02;3;TRUE;x;abc;2020-01-01\nC;;;;;;\n",
        ) {
            Ok(records) => records,
            Err(refusal) => panic!("{refusal}"),
        };
        assert_eq!(
            Value::Array(records.into_iter().map(Value::Object).collect()),
            serde_json::json!([
                {"title": "A; b", "due_date": "2026-01-02", "priority": 3, "done": true},
                {"title": "C"}
            ])
        );
    }

    #[test]
    fn tabs_separate_when_the_header_holds_tabs() {
        let records = import("title\ttags\nA\t\"[\"\"x\"\"]\"\n").unwrap_or_default();
        assert_eq!(records[0]["tags"], serde_json::json!(["x"]));
    }

    #[test]
    fn a_file_that_cannot_be_imported_says_why() {
        let refused = |text: &str| match import(text) {
            Ok(records) => panic!("imported {records:?}"),
            Err(ImportRefusal(details)) => details,
        };
        assert_eq!(
            refused("done,priority\ntrue,1\n"),
            "tasks.csv: no column for the required field `title` of Task: add a column named \
             after it"
        );
        assert_eq!(
            refused("title,priority\nA,1\nB,high\n"),
            "tasks.csv:3: column `priority` (field `priority`): expected an integer: `high`"
        );
        assert_eq!(
            refused("title,,x\nA,1,2\n"),
            "tasks.csv: column 2 of the header has no name: every column needs one"
        );
        assert_eq!(
            refused("title,x,x\nA,1,2\n"),
            "tasks.csv: the header names column `x` twice: every column needs its own name"
        );
        assert_eq!(
            refused(""),
            "tasks.csv is empty: an import needs a header row naming the columns"
        );
    }
}
