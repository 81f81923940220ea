//! The CSV grammar of dashboard exports: bytes split into rows (RFC 4180: quoted cells, `""`,
//! LF, CRLF or CR, a BOM, blank lines), each row decoded as UTF-8 or kept as its bytes, the
//! encoding check of a whole file, and the header's cells made into record keys. Rows are read
//! one at a time from any [`BufRead`] ([`Rows`]): a file of any size is read in the memory of
//! its largest row, and bytes already in memory are split by the same reader.
//!
//! The CSV reader is written here rather than taken from the `csv` crate: that crate silently
//! reads an unclosed quote to the end of the file as one cell and silently drops a quote
//! followed by more text (`"x"z` → `xz`), which would hide lost or mangled data; here both are
//! errors that name the file and the line.

use super::outcome::CsvError;
use offbase_model::record::FLAGS_KEY;
use std::collections::HashSet;
use std::io::{self, BufRead};

/// The byte order mark a file may start with: read as nothing.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The most memory a row's bytes keep between rows: a huge row is read as large as it is, and
/// its buffer is not kept for the rows after it.
const RAW_KEPT: usize = 1 << 16;

const UNCLOSED: &str = "a quoted cell that starts on this line is never closed: add the closing \
                        quote (a quote inside a cell is written twice: \"\")";
const TEXT_AFTER_QUOTE: &str = "text follows the closing quote of a cell: quote the whole cell \
                                and write each quote inside it twice (\"\")";

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

/// The rows of a file, read one at a time (RFC 4180): cells separated by `separator` (`,`, or
/// `;` or a tab for the platform's import), rows by LF, CRLF or CR; a cell that starts with `"`
/// is quoted, may hold separators and line breaks, and writes a quote as `""`; a quote inside
/// an unquoted cell is plain text. A BOM at the start is skipped, blank lines are skipped (they
/// hold no cell), and a final line break does not start a row. The structure is all ASCII, so
/// it splits text in any ASCII-compatible encoding the same way; each row is then decoded as
/// UTF-8 ([`Row::invalid`] when it is not).
///
/// A file with rows that are not UTF-8 is read on when they are few (a line damaged by a tool,
/// a pasted byte): they come back marked, and the reader flags them. Whether the file as a
/// whole was saved in another encoding is known after its last row (or its header):
/// [`Rows::check_encoding`]. After an error the iterator ends.
#[derive(Debug)]
pub(super) struct Rows<'a, R> {
    input: Input<R>,
    file: &'a str,
    separator: u8,
    /// The line of the next byte: each row ending (LF, CRLF or a lone CR) starts a line, and
    /// so does a line feed inside a quoted cell (a lone CR there does not).
    line: u64,
    /// The line feeds read so far. The encoding error counts lines by line feeds alone (a lone
    /// CR is not one there): it names the line of the first invalid byte by them.
    line_feeds: u64,
    /// The current row as the file holds it (its buffer reused from row to row).
    raw: Vec<u8>,
    /// Rows read so far (the header included), those of them that are not UTF-8, and whether
    /// the first, the header, is one of them.
    rows: u64,
    invalid_rows: u64,
    header_invalid: bool,
    /// The line of the file's first byte that is not UTF-8, as the encoding error names it.
    first_invalid: Option<u64>,
    /// Whether the BOM has been looked for, and whether the rows have ended.
    started: bool,
    finished: bool,
}

/// The bytes of a file: a reader, and the bytes of a BOM's start that the file does not
/// finish (the row reader reads them first, as ordinary bytes).
#[derive(Debug)]
struct Input<R> {
    reader: R,
    given_back: Vec<u8>,
    /// Bytes taken from the reader so far.
    taken: u64,
}

impl<R: BufRead> Input<R> {
    /// The next bytes, not taken yet: empty at the end of the file.
    fn chunk(&mut self) -> io::Result<&[u8]> {
        if !self.given_back.is_empty() {
            return Ok(&self.given_back);
        }
        // A read interrupted by a signal is tried again, as `fs::read` does.
        while let Err(error) = self.reader.fill_buf() {
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
        self.reader.fill_buf()
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(self.chunk()?.first().copied())
    }

    /// Takes `count` bytes of the last [`Input::chunk`].
    fn consume(&mut self, count: usize) {
        if self.given_back.is_empty() {
            self.reader.consume(count);
            self.taken += count as u64;
        } else {
            let count = count.min(self.given_back.len());
            self.given_back.drain(..count);
        }
    }
}

impl<'a, R: BufRead> Rows<'a, R> {
    /// The rows of `reader`; `file` names the file in errors.
    pub(super) fn new(reader: R, file: &'a str, separator: u8) -> Self {
        Rows {
            input: Input {
                reader,
                given_back: Vec::new(),
                taken: 0,
            },
            file,
            separator,
            line: 1,
            line_feeds: 0,
            raw: Vec::new(),
            rows: 0,
            invalid_rows: 0,
            header_invalid: false,
            first_invalid: None,
            started: false,
            finished: false,
        }
    }

    /// The bytes read from the reader so far, a BOM included.
    pub(super) fn bytes_read(&self) -> u64 {
        self.input.taken
    }

    /// The rows read so far, the header included.
    pub(super) fn rows_read(&self) -> u64 {
        self.rows
    }

    /// After the last row, or after a header that is not UTF-8: a file whose header, or more
    /// than half of whose data rows, are not UTF-8 was saved in another encoding; it is
    /// refused at the line of its first invalid byte, saying how to save it.
    pub(super) fn check_encoding(&self) -> Result<(), CsvError> {
        let data = self.rows.saturating_sub(1);
        match self.first_invalid {
            Some(line) if self.header_invalid || 2 * self.invalid_rows > data => {
                Err(CsvError::InvalidUtf8 {
                    path: self.file.to_owned(),
                    line,
                })
            }
            _ => Ok(()),
        }
    }

    fn io_error(&self, source: io::Error) -> CsvError {
        CsvError::Io {
            path: self.file.to_owned(),
            source,
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, CsvError> {
        self.input.peek().map_err(|source| self.io_error(source))
    }

    /// Skips the BOM the file starts with, if it does; the bytes of a BOM's start that the
    /// file does not finish are given back.
    fn skip_bom(&mut self) -> Result<(), CsvError> {
        self.started = true;
        let mut matched = 0;
        while let Some(&expected) = BOM.get(matched) {
            if self.peek()? != Some(expected) {
                break;
            }
            self.input.consume(1);
            matched += 1;
        }
        if matched < BOM.len() {
            self.input.given_back = BOM[..matched].to_vec();
        }
        Ok(())
    }

    fn read_row(&mut self) -> Result<Option<Row>, CsvError> {
        if !self.started {
            self.skip_bom()?;
        }
        loop {
            if self.peek()?.is_none() {
                return Ok(None);
            }
            let line = self.line;
            let line_feeds = self.line_feeds;
            self.raw.clear();
            self.raw.shrink_to(RAW_KEPT);
            let mut cells: Vec<Vec<u8>> = Vec::new();
            let mut quoted = false;
            loop {
                let mut cell = Vec::new();
                if self.peek()? == Some(b'"') {
                    quoted = true;
                    self.read_quoted(&mut cell, line_feeds)?;
                } else {
                    self.read_plain(&mut cell)?;
                }
                cells.push(cell);
                match self.peek()? {
                    Some(byte) if byte == self.separator => {
                        self.input.consume(1);
                        self.raw.push(byte);
                    }
                    Some(b'\r') => {
                        self.input.consume(1);
                        if self.peek()? == Some(b'\n') {
                            self.input.consume(1);
                            self.line_feeds += 1;
                        }
                        self.line += 1;
                        break;
                    }
                    Some(b'\n') => {
                        self.input.consume(1);
                        self.line += 1;
                        self.line_feeds += 1;
                        break;
                    }
                    _ => break,
                }
            }
            let blank = !quoted && matches!(cells.as_slice(), [only] if only.is_empty());
            if !blank {
                return Ok(Some(self.decode_row(line, line_feeds, cells)));
            }
        }
    }

    /// An unquoted cell: up to the next separator or line break.
    fn read_plain(&mut self, cell: &mut Vec<u8>) -> Result<(), CsvError> {
        let separator = self.separator;
        loop {
            let chunk = match self.input.chunk() {
                Ok(chunk) => chunk,
                Err(source) => return Err(self.io_error(source)),
            };
            let end = chunk
                .iter()
                .position(|&byte| matches!(byte, b'\n' | b'\r') || byte == separator);
            let text = &chunk[..end.unwrap_or(chunk.len())];
            cell.extend_from_slice(text);
            self.raw.extend_from_slice(text);
            let done = end.is_some() || chunk.is_empty();
            let length = text.len();
            self.input.consume(length);
            if done {
                return Ok(());
            }
        }
    }

    /// A quoted cell, from its opening quote to its closing one, which must end the cell.
    fn read_quoted(&mut self, cell: &mut Vec<u8>, row_line_feeds: u64) -> Result<(), CsvError> {
        self.input.consume(1);
        self.raw.push(b'"');
        let opened = self.line;
        loop {
            let chunk = match self.input.chunk() {
                Ok(chunk) => chunk,
                Err(source) => return Err(self.io_error(source)),
            };
            if chunk.is_empty() {
                return Err(self.structure_error(opened, UNCLOSED, row_line_feeds));
            }
            let quote = chunk.iter().position(|&byte| byte == b'"');
            let text = &chunk[..quote.unwrap_or(chunk.len())];
            let feeds = count_line_feeds(text);
            self.line += feeds;
            self.line_feeds += feeds;
            cell.extend_from_slice(text);
            self.raw.extend_from_slice(text);
            let length = text.len();
            if quote.is_none() {
                self.input.consume(length);
                continue;
            }
            self.input.consume(length + 1);
            self.raw.push(b'"');
            // A doubled quote is a quote in the cell; a single one closes the cell.
            if self.peek()? != Some(b'"') {
                break;
            }
            self.input.consume(1);
            self.raw.push(b'"');
            cell.push(b'"');
        }
        match self.peek()? {
            None | Some(b'\n' | b'\r') => Ok(()),
            Some(byte) if byte == self.separator => Ok(()),
            Some(_) => Err(self.structure_error(self.line, TEXT_AFTER_QUOTE, row_line_feeds)),
        }
    }

    /// The error for a structure broken at `line`. A file in another encoding may look broken
    /// too, so the encoding comes first: when the file holds a byte that is not UTF-8 anywhere
    /// (in a row before, in this one, or after it: the rest of the file is read to know), the
    /// error is the encoding's, at the line of the first such byte.
    fn structure_error(&mut self, line: u64, message: &str, row_line_feeds: u64) -> CsvError {
        let first_invalid = match self.first_invalid {
            Some(first) => Ok(Some(first)),
            None => self.scan_rest(row_line_feeds),
        };
        let path = self.file.to_owned();
        match first_invalid {
            Ok(Some(line)) => CsvError::InvalidUtf8 { path, line },
            Ok(None) => CsvError::Malformed {
                path,
                line,
                message: message.to_owned(),
            },
            Err(source) => CsvError::Io { path, source },
        }
    }

    /// The line of the first byte that is not UTF-8 in the current row (as read so far) and
    /// the rest of the file.
    fn scan_rest(&mut self, row_line_feeds: u64) -> io::Result<Option<u64>> {
        let mut scan = Utf8Scan {
            line_feeds: row_line_feeds,
            partial: Vec::new(),
        };
        if let Some(line) = scan.feed(&self.raw) {
            return Ok(Some(line));
        }
        loop {
            let chunk = self.input.chunk()?;
            if chunk.is_empty() {
                return Ok(scan.finish());
            }
            let length = chunk.len();
            if let Some(line) = scan.feed(chunk) {
                return Ok(Some(line));
            }
            self.input.consume(length);
        }
    }

    /// The row of the cells just read (`raw` holds its bytes), counted.
    fn decode_row(&mut self, line: u64, row_line_feeds: u64, cells: Vec<Vec<u8>>) -> Row {
        let invalid = std::str::from_utf8(&self.raw).err().map(|error| {
            let before = count_line_feeds(&self.raw[..error.valid_up_to()]);
            self.first_invalid
                .get_or_insert(1 + row_line_feeds + before);
            InvalidRow {
                bytes: self.raw.clone(),
                line: line + before,
                error,
            }
        });
        self.rows += 1;
        if invalid.is_some() {
            self.invalid_rows += 1;
            self.header_invalid |= self.rows == 1;
        }
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
}

impl<R: BufRead> Iterator for Rows<'_, R> {
    type Item = Result<Row, CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let row = self.read_row();
        self.finished = !matches!(row, Ok(Some(_)));
        row.transpose()
    }
}

/// A UTF-8 check of bytes that come in pieces: the line of the first invalid byte, lines
/// counted as the encoding error counts them (line feeds).
#[derive(Debug)]
struct Utf8Scan {
    /// The line feeds before the next piece.
    line_feeds: u64,
    /// The start of a character that the last piece cut.
    partial: Vec<u8>,
}

impl Utf8Scan {
    fn feed(&mut self, mut bytes: &[u8]) -> Option<u64> {
        while !self.partial.is_empty() {
            let (&byte, rest) = bytes.split_first()?;
            bytes = rest;
            self.partial.push(byte);
            match std::str::from_utf8(&self.partial) {
                Ok(_) => self.partial.clear(),
                Err(error) if error.error_len().is_none() => {}
                Err(_) => return Some(1 + self.line_feeds),
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => {
                self.line_feeds += count_line_feeds(bytes);
                None
            }
            Err(error) => {
                let (valid, rest) = bytes.split_at(error.valid_up_to());
                self.line_feeds += count_line_feeds(valid);
                if error.error_len().is_some() {
                    return Some(1 + self.line_feeds);
                }
                self.partial = rest.to_vec();
                None
            }
        }
    }

    /// At the end of the bytes: a character cut by the end is invalid.
    fn finish(&self) -> Option<u64> {
        (!self.partial.is_empty()).then_some(1 + self.line_feeds)
    }
}

/// The rows of a file in memory, after the encoding check ([`Rows`] collected).
pub(super) fn read_rows_separated(
    bytes: &[u8],
    file: &str,
    separator: u8,
) -> Result<Vec<Row>, CsvError> {
    let mut rows = Rows::new(bytes, file, separator);
    let collected = rows.by_ref().collect::<Result<Vec<Row>, CsvError>>()?;
    rows.check_encoding()?;
    Ok(collected)
}

/// The rows of comma-separated bytes, without the encoding check of the whole file.
#[cfg(test)]
pub(super) fn split_rows(body: &[u8], file: &str) -> Result<Vec<Row>, CsvError> {
    Rows::new(body, file, b',').collect()
}

fn count_line_feeds(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|byte| **byte == b'\n').count() as u64
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
