//! The CSV grammar of dashboard exports: bytes split into rows (RFC 4180: quoted cells, `""`,
//! LF, CRLF or CR, a BOM, blank lines), each row decoded as UTF-8 or kept as its bytes, and the
//! header's cells made into record keys.
//!
//! The CSV reader is written here rather than taken from the `csv` crate: that crate silently
//! reads an unclosed quote to the end of the file as one cell and silently drops a quote
//! followed by more text (`"x"z` → `xz`), which would hide lost or mangled data; here both are
//! errors that name the file and the line.

use super::outcome::CsvError;
use offbase_model::record::FLAGS_KEY;
use std::collections::HashSet;

/// One row of the file: the line it starts on and its cells, unquoted.
#[derive(Debug)]
pub(super) struct Row {
    pub(super) line: u64,
    pub(super) cells: Vec<String>,
    /// The row as the file holds it, when it is not UTF-8 (its cells then hold its text with
    /// each invalid sequence replaced by U+FFFD): it becomes a flagged record, never typed.
    pub(super) invalid: Option<InvalidRow>,
}

/// A row that is not UTF-8.
#[derive(Debug)]
pub(super) struct InvalidRow {
    /// Its bytes, from its first cell to its last (the line break left out).
    pub(super) bytes: Vec<u8>,
    /// The line of its first invalid byte.
    pub(super) line: u64,
    /// What the UTF-8 decoder said.
    pub(super) error: std::str::Utf8Error,
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
pub(super) fn read_rows(bytes: &[u8], file: &str) -> Result<Vec<Row>, CsvError> {
    read_rows_separated(bytes, file, b',')
}

/// [`read_rows`] with cells separated by `separator` (`,`, `;` or a tab: what the platform's
/// import accepts).
pub(super) fn read_rows_separated(
    bytes: &[u8],
    file: &str,
    separator: u8,
) -> Result<Vec<Row>, CsvError> {
    let body = offbase_model::record::strip_bom(bytes);
    let rows = match split_rows_separated(body, file, separator) {
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
#[cfg(test)]
pub(super) fn split_rows(body: &[u8], file: &str) -> Result<Vec<Row>, CsvError> {
    split_rows_separated(body, file, b',')
}

/// [`split_rows`] with cells separated by `separator` instead of `,`.
pub(super) fn split_rows_separated(
    body: &[u8],
    file: &str,
    separator: u8,
) -> Result<Vec<Row>, CsvError> {
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
                if !matches!(peek(position), None | Some(b'\n' | b'\r'))
                    && peek(position) != Some(separator)
                {
                    return Err(malformed(
                        line,
                        "text follows the closing quote of a cell: quote the whole cell and \
                         write each quote inside it twice (\"\")",
                    ));
                }
            } else {
                while let Some(byte) = peek(position) {
                    if matches!(byte, b'\n' | b'\r') || byte == separator {
                        break;
                    }
                    cell.push(byte);
                    position += 1;
                }
            }
            cells.push(cell);
            row_end = position;
            let ending = peek(position);
            if ending.is_some() {
                position += 1;
            }
            match ending {
                Some(byte) if byte == separator => {}
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
pub(super) fn column_keys(header: &Row, file: &str, warnings: &mut Vec<String>) -> Vec<String> {
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
pub(super) fn unique_key(mut candidate: String, is_taken: impl Fn(&str) -> bool) -> String {
    while is_taken(&candidate) {
        candidate.push('_');
    }
    candidate
}
