//! The part writer: records appended to `data/<Entity>/part-NNNNN.jsonl`, whose checkpoints
//! never run ahead of the data: bytes are synced before the state that counts them is written,
//! and a resumed writer cuts whatever came after the last checkpoint.

use super::*;
use crate::PipelineError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

/// Where a part writer stands: what its checkpoint records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriterPosition {
    /// Finished parts, in order.
    pub parts: Vec<PartState>,
    /// The index of the part being written.
    pub current_part: u32,
    pub current_records: u64,
    pub current_bytes: u64,
    pub flagged_records: u64,
}

impl WriterPosition {
    pub fn records(&self) -> u64 {
        self.parts.iter().map(|part| part.records).sum::<u64>() + self.current_records
    }

    pub fn bytes(&self) -> u64 {
        self.parts.iter().map(|part| part.bytes).sum::<u64>() + self.current_bytes
    }
}

/// Appends records to an entity's rotating part files.
#[derive(Debug)]
pub struct PartWriter {
    workspace: Workspace,
    entity: String,
    part_records: u64,
    position: WriterPosition,
    file: File,
    /// Lines not written to the file yet, written in slices of [`PENDING_BYTES`].
    pending: Vec<u8>,
}

/// Bytes of lines gathered before they are written.
const PENDING_BYTES: usize = 1 << 20;

impl PartWriter {
    /// Opens the writer at `position` (a checkpoint), cutting anything written after it and
    /// removing parts past it: a crash between writing data and its checkpoint leaves no trace.
    pub fn resume(
        workspace: &Workspace,
        entity: &str,
        part_records: u64,
        position: WriterPosition,
    ) -> Result<Self, PipelineError> {
        let folder = workspace.entity_dir(entity);
        fs::create_dir_all(&folder).map_err(|error| PipelineError::io(&folder, error))?;
        // Parts after the current one can only come from a run that died mid-rotation.
        if let Ok(entries) = fs::read_dir(&folder) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let index = name
                    .strip_prefix("part-")
                    .and_then(|rest| rest.strip_suffix(".jsonl"))
                    .and_then(|number| number.parse::<u32>().ok());
                if index.is_some_and(|index| index > position.current_part) {
                    let path = entry.path();
                    fs::remove_file(&path).map_err(|error| PipelineError::io(&path, error))?;
                }
            }
        }
        let path = workspace.part_path(entity, position.current_part);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|error| PipelineError::io(&path, error))?;
        let length = file
            .metadata()
            .map_err(|error| PipelineError::io(&path, error))?
            .len();
        if length < position.current_bytes {
            return Err(PipelineError::Workspace {
                path,
                message: format!(
                    "the part holds {length} bytes but its checkpoint counts {}: the workspace was changed by hand; start again with --fresh",
                    position.current_bytes
                ),
            });
        }
        file.set_len(position.current_bytes)
            .map_err(|error| PipelineError::io(&path, error))?;
        let mut writer = PartWriter {
            workspace: workspace.clone(),
            entity: entity.to_owned(),
            part_records: part_records.max(1),
            position,
            file,
            pending: Vec::new(),
        };
        writer.seek_end()?;
        Ok(writer)
    }

    fn seek_end(&mut self) -> Result<(), PipelineError> {
        use std::io::Seek;
        let path = self.current_path();
        self.file
            .seek(std::io::SeekFrom::End(0))
            .map_err(|error| PipelineError::io(&path, error))?;
        Ok(())
    }

    fn current_path(&self) -> PathBuf {
        self.workspace
            .part_path(&self.entity, self.position.current_part)
    }

    /// Appends records (already in canonical form), rotating parts as they fill. The data is
    /// not durable until [`PartWriter::sync`].
    pub fn append(&mut self, records: &[Map<String, Value>]) -> Result<(), PipelineError> {
        for record in records {
            let start = self.start_line()?;
            if let Err(error) = serde_json::to_writer(&mut self.pending, record) {
                self.pending.truncate(start);
                return Err(PipelineError::Workspace {
                    path: self.current_path(),
                    message: error.to_string(),
                });
            }
            self.end_line(start, record.contains_key(FLAGS_KEY))?;
        }
        self.flush_pending()
    }

    /// Appends one record already serialized (one line, without its newline), rotating parts
    /// as they fill; `flagged` says it carries the importer's flags. Not durable until
    /// [`PartWriter::sync`].
    pub fn append_line(&mut self, line: &[u8], flagged: bool) -> Result<(), PipelineError> {
        let start = self.start_line()?;
        self.pending.extend_from_slice(line);
        self.end_line(start, flagged)
    }

    /// Rotates to the next part when this one is full; where the new line starts in `pending`.
    fn start_line(&mut self) -> Result<usize, PipelineError> {
        if self.position.current_records >= self.part_records {
            self.flush_pending()?;
            self.rotate()?;
        }
        Ok(self.pending.len())
    }

    /// Ends the line that started at `start` in `pending` and counts it.
    fn end_line(&mut self, start: usize, flagged: bool) -> Result<(), PipelineError> {
        self.pending.push(b'\n');
        self.position.current_records += 1;
        self.position.current_bytes += (self.pending.len() - start) as u64;
        if flagged {
            self.position.flagged_records += 1;
        }
        if self.pending.len() >= PENDING_BYTES {
            self.flush_pending()?;
        }
        Ok(())
    }

    fn flush_pending(&mut self) -> Result<(), PipelineError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.pending)
            .map_err(|error| PipelineError::io(self.current_path(), error))?;
        self.pending.clear();
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), PipelineError> {
        let path = self.current_path();
        self.file
            .sync_all()
            .map_err(|error| PipelineError::io(&path, error))?;
        self.position.parts.push(PartState {
            file: Workspace::part_name(&self.entity, self.position.current_part),
            records: self.position.current_records,
            bytes: self.position.current_bytes,
        });
        self.position.current_part += 1;
        self.position.current_records = 0;
        self.position.current_bytes = 0;
        let next = self.current_path();
        self.file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&next)
            .map_err(|error| PipelineError::io(&next, error))?;
        Ok(())
    }

    /// Makes every appended byte durable and returns the position a checkpoint may record.
    pub fn sync(&mut self) -> Result<WriterPosition, PipelineError> {
        self.flush_pending()?;
        let path = self.current_path();
        self.file
            .sync_all()
            .map_err(|error| PipelineError::io(&path, error))?;
        Ok(self.position.clone())
    }

    pub fn position(&self) -> &WriterPosition {
        &self.position
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_resumed_writer_cuts_what_came_after_its_checkpoint() -> Result<(), PipelineError> {
        let folder = tempfile::tempdir().map_err(|error| PipelineError::io("temp", error))?;
        let workspace = Workspace::new(folder.path());
        let line =
            |n: u64| record(json!({"id": format!("r{n}"), "created_date": "2026-01-01T00:00:00"}));
        let mut writer = PartWriter::resume(&workspace, "Task", 2, WriterPosition::default())?;
        writer.append(&[line(1), line(2), line(3)])?;
        let checkpoint = writer.sync()?;
        assert_eq!(checkpoint.parts.len(), 1);
        assert_eq!(checkpoint.current_records, 1);
        // Written but never checkpointed: a crash here must leave no trace after resuming.
        writer.append(&[line(4), line(5), line(6)])?;
        drop(writer);
        let mut resumed = PartWriter::resume(&workspace, "Task", 2, checkpoint.clone())?;
        assert!(!workspace.part_path("Task", 2).exists());
        resumed.append(&[line(4)])?;
        let position = resumed.sync()?;
        assert_eq!(position.records(), 4);
        let second = fs::read_to_string(workspace.part_path("Task", 1))
            .map_err(|error| PipelineError::io("part", error))?;
        assert_eq!(second.lines().count(), 2);
        assert!(second.contains("\"r3\"") && second.contains("\"r4\""));
        Ok(())
    }
}
