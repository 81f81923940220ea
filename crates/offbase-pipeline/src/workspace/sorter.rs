//! Records put in the pull order (`created_date`, then id) whatever their number, in bounded
//! memory: an external merge sort. Records are serialized as they arrive and buffered up to a
//! byte budget; each full buffer is sorted and written to a run file under the workspace's
//! `state/`; at the end the runs are merged (in rounds of at most [`FAN_IN`] files) straight
//! into the part writer. Records with the same key keep the order they came in (each carries
//! its arrival number), so a repeated id stays in its source order, as an in-memory stable sort
//! would leave it.

use super::{FLAGS_KEY, PartWriter, RecordKey, Workspace, pull_order};
use crate::PipelineError;
use serde_json::{Map, Value};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Bytes of records held in memory before a run is written.
pub const DEFAULT_BUDGET: usize = 16 << 20;
/// Runs merged at once (each holds a read buffer of [`RUN_BUFFER`]: 8 MiB in all).
pub const FAN_IN: usize = 128;
const RUN_BUFFER: usize = 64 << 10;

/// One serialized record and its place in the order.
#[derive(Debug)]
struct Entry {
    instant: Option<i64>,
    id: String,
    /// The arrival number: ties keep the source order.
    sequence: u64,
    /// `created_date` and id as text, when both are strings (the manifest's first and last keys).
    key: Option<RecordKey>,
    flagged: bool,
    line: Vec<u8>,
}

impl Entry {
    fn order(&self, other: &Entry) -> Ordering {
        (self.instant, &self.id, self.sequence).cmp(&(other.instant, &other.id, other.sequence))
    }

    fn size(&self) -> usize {
        self.line.len() + self.id.len() * 2 + 96
    }
}

/// What the sorted records came to.
#[derive(Debug, Default)]
pub struct Sorted {
    pub records: u64,
    pub first: Option<RecordKey>,
    pub last: Option<RecordKey>,
}

/// Collects an entity's records and writes them in the pull order.
#[derive(Debug)]
pub struct OrderedStager {
    folder: PathBuf,
    budget: usize,
    fan_in: usize,
    buffer: Vec<Entry>,
    buffered: usize,
    runs: Vec<PathBuf>,
    next_run: usize,
    sequence: u64,
}

impl OrderedStager {
    /// A stager of `entity`'s records; its run files go in `state/sort-<entity>/` of the
    /// workspace (cleared first: runs of a run that died are of no use).
    pub fn new(workspace: &Workspace, entity: &str) -> Result<Self, PipelineError> {
        Self::with_budget(workspace, entity, DEFAULT_BUDGET, FAN_IN)
    }

    /// As [`OrderedStager::new`], holding at most `budget` bytes and merging `fan_in` runs at
    /// a time.
    pub fn with_budget(
        workspace: &Workspace,
        entity: &str,
        budget: usize,
        fan_in: usize,
    ) -> Result<Self, PipelineError> {
        let folder = workspace
            .root()
            .join("state")
            .join(format!("sort-{}", offbase_model::names::file_stem(entity)));
        remove_folder(&folder)?;
        Ok(OrderedStager {
            folder,
            budget: budget.max(1),
            fan_in: fan_in.max(2),
            buffer: Vec::new(),
            buffered: 0,
            runs: Vec::new(),
            next_run: 0,
            sequence: 0,
        })
    }

    /// Adds a record (in canonical form, flags included).
    pub fn push(&mut self, record: &Map<String, Value>) -> Result<(), PipelineError> {
        let (instant, id) = pull_order(record);
        let line = serde_json::to_vec(record).map_err(|error| PipelineError::Workspace {
            path: self.folder.clone(),
            message: error.to_string(),
        })?;
        let entry = Entry {
            instant,
            id,
            sequence: self.sequence,
            key: super::record_key(record),
            flagged: record.contains_key(FLAGS_KEY),
            line,
        };
        self.sequence += 1;
        self.buffered += entry.size();
        self.buffer.push(entry);
        if self.buffered >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorts the buffer and writes it as a run.
    fn spill(&mut self) -> Result<(), PipelineError> {
        let mut entries = std::mem::take(&mut self.buffer);
        self.buffered = 0;
        entries.sort_unstable_by(Entry::order);
        let path = self.run_path()?;
        let file = File::create(&path).map_err(|error| PipelineError::io(&path, error))?;
        let mut out = BufWriter::with_capacity(RUN_BUFFER, file);
        for entry in &entries {
            write_entry(&mut out, entry).map_err(|error| PipelineError::io(&path, error))?;
        }
        out.flush()
            .map_err(|error| PipelineError::io(&path, error))?;
        self.runs.push(path);
        Ok(())
    }

    fn run_path(&mut self) -> Result<PathBuf, PipelineError> {
        fs::create_dir_all(&self.folder).map_err(|error| PipelineError::io(&self.folder, error))?;
        let path = self.folder.join(format!("run-{:06}", self.next_run));
        self.next_run += 1;
        Ok(path)
    }

    /// Writes every record to `writer` in the pull order and removes the run files.
    pub fn finish(mut self, writer: &mut PartWriter) -> Result<Sorted, PipelineError> {
        let mut sorted = Sorted::default();
        if self.runs.is_empty() {
            let mut entries = std::mem::take(&mut self.buffer);
            entries.sort_unstable_by(Entry::order);
            for entry in entries {
                emit(writer, &mut sorted, entry)?;
            }
        } else {
            if !self.buffer.is_empty() {
                self.spill()?;
            }
            while self.runs.len() > self.fan_in {
                let group: Vec<PathBuf> = self.runs.drain(..self.fan_in).collect();
                let path = self.run_path()?;
                let file = File::create(&path).map_err(|error| PipelineError::io(&path, error))?;
                let mut out = BufWriter::with_capacity(RUN_BUFFER, file);
                merge(&group, |entry| {
                    write_entry(&mut out, &entry).map_err(|error| PipelineError::io(&path, error))
                })?;
                out.flush()
                    .map_err(|error| PipelineError::io(&path, error))?;
                for run in &group {
                    fs::remove_file(run).map_err(|error| PipelineError::io(run, error))?;
                }
                self.runs.push(path);
            }
            let runs = std::mem::take(&mut self.runs);
            merge(&runs, |entry| emit(writer, &mut sorted, entry))?;
        }
        remove_folder(&self.folder)?;
        Ok(sorted)
    }
}

impl Drop for OrderedStager {
    fn drop(&mut self) {
        // A stager dropped on an error leaves no runs behind (best effort: the next one clears
        // the folder anyway).
        let _ = fs::remove_dir_all(&self.folder);
    }
}

fn remove_folder(folder: &Path) -> Result<(), PipelineError> {
    match fs::remove_dir_all(folder) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(PipelineError::io(folder, error)),
    }
}

fn emit(writer: &mut PartWriter, sorted: &mut Sorted, entry: Entry) -> Result<(), PipelineError> {
    writer.append_line(&entry.line, entry.flagged)?;
    if sorted.records == 0 {
        sorted.first = entry.key.clone();
    }
    sorted.last = entry.key;
    sorted.records += 1;
    Ok(())
}

/// A run being merged: its reader and its next entry.
struct Head {
    entry: Entry,
    run: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        self.entry.order(&other.entry)
    }
}

/// Merges sorted runs, handing each entry to `sink` in order.
fn merge(
    runs: &[PathBuf],
    mut sink: impl FnMut(Entry) -> Result<(), PipelineError>,
) -> Result<(), PipelineError> {
    let mut readers = Vec::with_capacity(runs.len());
    for path in runs {
        let file = File::open(path).map_err(|error| PipelineError::io(path, error))?;
        readers.push(BufReader::with_capacity(RUN_BUFFER, file));
    }
    let mut heap = BinaryHeap::with_capacity(runs.len());
    for (run, reader) in readers.iter_mut().enumerate() {
        if let Some(entry) =
            read_entry(reader).map_err(|error| PipelineError::io(&runs[run], error))?
        {
            heap.push(Reverse(Head { entry, run }));
        }
    }
    while let Some(Reverse(Head { entry, run })) = heap.pop() {
        sink(entry)?;
        if let Some(next) =
            read_entry(&mut readers[run]).map_err(|error| PipelineError::io(&runs[run], error))?
        {
            heap.push(Reverse(Head { entry: next, run }));
        }
    }
    Ok(())
}

fn write_bytes(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(&(bytes.len() as u64).to_le_bytes())?;
    out.write_all(bytes)
}

fn write_entry(out: &mut impl Write, entry: &Entry) -> std::io::Result<()> {
    match entry.instant {
        Some(instant) => {
            out.write_all(&[1])?;
            out.write_all(&instant.to_le_bytes())?;
        }
        None => out.write_all(&[0])?,
    }
    write_bytes(out, entry.id.as_bytes())?;
    out.write_all(&entry.sequence.to_le_bytes())?;
    match &entry.key {
        Some(key) => {
            out.write_all(&[1])?;
            write_bytes(out, key.created_date.as_bytes())?;
            write_bytes(out, key.id.as_bytes())?;
        }
        None => out.write_all(&[0])?,
    }
    out.write_all(&[u8::from(entry.flagged)])?;
    write_bytes(out, &entry.line)
}

fn read_u64(reader: &mut impl Read) -> std::io::Result<u64> {
    let mut bytes = [0u8; 8];
    reader.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

fn read_byte(reader: &mut impl Read) -> std::io::Result<u8> {
    let mut byte = [0u8; 1];
    reader.read_exact(&mut byte)?;
    Ok(byte[0])
}

fn read_bytes(reader: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let length = usize::try_from(read_u64(reader)?)
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))?;
    let mut bytes = vec![0u8; length];
    reader.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn read_text(reader: &mut impl Read) -> std::io::Result<String> {
    String::from_utf8(read_bytes(reader)?)
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))
}

/// The next entry of a run; `None` at its end.
fn read_entry(reader: &mut impl Read) -> std::io::Result<Option<Entry>> {
    let mut tag = [0u8; 1];
    if reader.read(&mut tag)? == 0 {
        return Ok(None);
    }
    let instant = match tag[0] {
        1 => Some(read_u64(reader)? as i64),
        _ => None,
    };
    let id = read_text(reader)?;
    let sequence = read_u64(reader)?;
    let key = match read_byte(reader)? {
        1 => Some(RecordKey {
            created_date: read_text(reader)?,
            id: read_text(reader)?,
        }),
        _ => None,
    };
    let flagged = read_byte(reader)? == 1;
    let line = read_bytes(reader)?;
    Ok(Some(Entry {
        instant,
        id,
        sequence,
        key,
        flagged,
        line,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::WriterPosition;
    use serde_json::json;

    fn record(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// Records in a scrambled order, with ties, missing dates and a flagged one.
    fn records() -> Vec<Map<String, Value>> {
        (0..500u64)
            .map(|n| {
                let scrambled = (n * 7919) % 500;
                let mut value = json!({
                    "id": format!("r{:03}", scrambled % 97),
                    "created_date": format!("2026-01-01T00:{:02}:00", scrambled % 60),
                    "n": n,
                });
                if n % 50 == 0 {
                    value["created_date"] = Value::Null;
                }
                if n == 3 {
                    value[FLAGS_KEY] = json!({"n": "flagged"});
                }
                record(value)
            })
            .collect()
    }

    fn sorted_in_memory(records: &[Map<String, Value>]) -> Vec<String> {
        let mut sorted = records.to_vec();
        sorted.sort_by_cached_key(pull_order);
        sorted
            .iter()
            .map(|record| serde_json::to_string(record).unwrap_or_default())
            .collect()
    }

    fn staged(budget: usize, fan_in: usize) -> Result<(Vec<String>, Sorted, u64), PipelineError> {
        let folder = tempfile::tempdir().map_err(|error| PipelineError::io("temp", error))?;
        let workspace = Workspace::new(folder.path());
        let mut stager = OrderedStager::with_budget(&workspace, "Task", budget, fan_in)?;
        for record in records() {
            stager.push(&record)?;
        }
        let mut writer = PartWriter::resume(&workspace, "Task", 120, WriterPosition::default())?;
        let sorted = stager.finish(&mut writer)?;
        let position = writer.sync()?;
        assert!(!folder.path().join("state/sort-Task").exists());
        let mut lines = Vec::new();
        for part in 0..=position.current_part {
            let text = fs::read_to_string(workspace.part_path("Task", part))
                .map_err(|error| PipelineError::io("part", error))?;
            lines.extend(text.lines().map(str::to_owned));
        }
        Ok((lines, sorted, position.flagged_records))
    }

    #[test]
    fn runs_on_disk_give_the_order_an_in_memory_sort_gives() -> Result<(), PipelineError> {
        let expected = sorted_in_memory(&records());
        // In memory; a run every few records, merged at once; and in several merge rounds.
        for (budget, fan_in) in [(usize::MAX, FAN_IN), (4_000, FAN_IN), (4_000, 3)] {
            let (lines, sorted, flagged) = staged(budget, fan_in)?;
            assert_eq!(lines, expected, "budget {budget}, fan in {fan_in}");
            assert_eq!(sorted.records, 500);
            assert_eq!(flagged, 1);
            let first: Value = serde_json::from_str(&expected[0]).unwrap_or_default();
            assert_eq!(
                sorted.first, None,
                "a first record without a date has no key: {first}"
            );
            let last = sorted.last.map(|key| (key.created_date, key.id));
            let last_line: Value =
                serde_json::from_str(&expected[expected.len() - 1]).unwrap_or_default();
            assert_eq!(
                last,
                Some((
                    last_line["created_date"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    last_line["id"].as_str().unwrap_or_default().to_owned()
                ))
            );
        }
        Ok(())
    }
}
