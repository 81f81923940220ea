//! An entity's staged part files as a load reads them: line by line from a [`Position`],
//! blank lines passed over, a byte order mark trimmed, and every byte checked against the seal
//! the manifest recorded when the part was staged (lines, bytes, SHA-256).

use crate::PipelineError;
use crate::workspace::{ManifestPart, Workspace};
use offbase_model::record::{self, ObjectError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
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
pub(crate) type RawLine = ((usize, u64), bool);

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
    pub(crate) fn next_raw_line(
        &mut self,
        buffer: &mut Vec<u8>,
    ) -> Result<Option<RawLine>, PipelineError> {
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

/// What one part holds, as read: lines and bytes (its SHA-256 is taken apart, on another
/// thread, and compared with these).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PartSeal {
    lines: u64,
    bytes: u64,
}

impl PartSeal {
    pub(crate) fn add(&mut self, line: &[u8]) {
        self.bytes += line.len() as u64;
        if !is_blank(line) {
            self.lines += 1;
        }
    }

    /// Compares what was read of part `index` (and its SHA-256) with the manifest.
    pub(crate) fn check(
        &self,
        workspace: &Workspace,
        parts: &[ManifestPart],
        index: usize,
        sha256: &str,
    ) -> Result<(), PipelineError> {
        let Some(part) = parts.get(index) else {
            return Ok(());
        };
        if (self.lines, self.bytes, sha256) == (part.records, part.bytes, part.sha256.as_str()) {
            return Ok(());
        }
        Err(PipelineError::Workspace {
            path: workspace.root().join(&part.file),
            message: format!(
                "changed since it was staged (the manifest records {} records, {} bytes, SHA-256 {}; the file holds {} records, {} bytes, SHA-256 {}): nothing of it was loaded. Stage it again (pull or migrate), or, if the edit is intended, record it with `offbase reseal --workspace {}` and load again",
                part.records,
                part.bytes,
                short_hash(&part.sha256),
                self.lines,
                self.bytes,
                short_hash(sha256),
                workspace.root().display()
            ),
        })
    }
}

fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
