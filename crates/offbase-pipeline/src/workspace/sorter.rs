//! Records put in the pull order (`created_date`, then id) whatever their number, in bounded
//! memory: records are serialized as they arrive and sorted by the external sort
//! (`external_sort`: 16 MiB in memory, runs under the workspace's `state/sort-<Entity>/`),
//! which hands them to the part writer in order. Records with the same key keep the order they
//! came in (each carries its arrival number), so a repeated id stays in its source order, as
//! an in-memory stable sort would leave it.

use super::external_sort::{
    ExternalSort, RunEntry, read_byte, read_bytes, read_text, read_u64, write_bytes,
};
use super::{FLAGS_KEY, PartWriter, RecordKey, Workspace, pull_order};
use crate::PipelineError;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::io::{Read, Write};

/// Runs merged at once (each read through a 64 KiB buffer: 8 MiB in all).
pub const FAN_IN: usize = 128;

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
    fn order_key(&self) -> (Option<i64>, &str, u64) {
        (self.instant, &self.id, self.sequence)
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.order_key() == other.order_key()
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order_key().cmp(&other.order_key())
    }
}

impl RunEntry for Entry {
    fn size(&self) -> usize {
        self.line.len() + self.id.len() * 2 + 96
    }

    fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        match self.instant {
            Some(instant) => {
                out.write_all(&[1])?;
                out.write_all(&instant.to_le_bytes())?;
            }
            None => out.write_all(&[0])?,
        }
        write_bytes(out, self.id.as_bytes())?;
        out.write_all(&self.sequence.to_le_bytes())?;
        match &self.key {
            Some(key) => {
                out.write_all(&[1])?;
                write_bytes(out, key.created_date.as_bytes())?;
                write_bytes(out, key.id.as_bytes())?;
            }
            None => out.write_all(&[0])?,
        }
        out.write_all(&[u8::from(self.flagged)])?;
        write_bytes(out, &self.line)
    }

    fn read_from(reader: &mut impl Read) -> std::io::Result<Option<Self>> {
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
    sort: ExternalSort<Entry>,
    sequence: u64,
}

impl OrderedStager {
    /// A stager of `entity`'s records; its run files go in `state/sort-<entity>/` of the
    /// workspace (cleared first: runs of a run that died are of no use).
    pub fn new(workspace: &Workspace, entity: &str) -> Result<Self, PipelineError> {
        Self::with_budget(
            workspace,
            entity,
            super::external_sort::memory_budget(),
            FAN_IN,
        )
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
        Ok(OrderedStager {
            sort: ExternalSort::new(folder, budget, fan_in)?,
            sequence: 0,
        })
    }

    /// Adds a record (in canonical form, flags included).
    pub fn push(&mut self, record: &Map<String, Value>) -> Result<(), PipelineError> {
        let (instant, id) = pull_order(record);
        let line = serde_json::to_vec(record).map_err(|error| PipelineError::Workspace {
            path: "a staged record".into(),
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
        self.sort.push(entry)
    }

    /// Writes every record to `writer` in the pull order and removes the run files.
    pub fn finish(self, writer: &mut PartWriter) -> Result<Sorted, PipelineError> {
        let mut sorted = Sorted::default();
        self.sort.finish(|entry| {
            writer.append_line(&entry.line, entry.flagged)?;
            if sorted.records == 0 {
                sorted.first = entry.key.clone();
            }
            sorted.last = entry.key;
            sorted.records += 1;
            Ok(())
        })?;
        Ok(sorted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::WriterPosition;
    use serde_json::json;
    use std::fs;

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
