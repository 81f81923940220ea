//! The workspace: the reviewable folder between Base44 and PostgreSQL.
//!
//! ```text
//! schemas/<Entity>.json          the entity schemas the data was read with
//! data/<Entity>/part-NNNNN.jsonl records, one JSON object a line, in (created_date, id) order
//! manifest.json                  per entity: records, bytes, sha256 per part, keys, source count
//! state/pull.json                checkpoints of an unfinished pull
//! ```
//!
//! This module owns the layout, the record form (canonical key order) and the part writer whose
//! checkpoints never run ahead of the data: bytes are synced before the state that counts them
//! is written, and a resumed writer cuts whatever came after the last checkpoint.

use crate::PipelineError;
use crate::files::write_atomic;
use offbase_model::names::file_stem;
use offbase_model::{BuiltIn, Entity};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The version of the workspace files this build writes and reads.
pub const FORMAT: u32 = 1;

/// The record key holding conversion flags of a record (e.g. a CSV cell that did not convert).
/// Only an importer puts it in: a source field of that name is staged under another key (see
/// [`canonical_record`]).
pub use offbase_model::record::FLAGS_KEY;

#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Workspace { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn schemas_dir(&self) -> PathBuf {
        self.root.join("schemas")
    }

    /// `data/<Entity>/`. Every path built from an entity's name goes through
    /// [`offbase_model::names::file_stem`], so no name can leave its folder.
    pub fn entity_dir(&self, entity: &str) -> PathBuf {
        self.root.join("data").join(file_stem(entity))
    }

    /// `data/<Entity>/part-NNNNN.jsonl`, relative to the root.
    pub fn part_name(entity: &str, index: u32) -> String {
        format!("data/{}/part-{index:05}.jsonl", file_stem(entity))
    }

    /// `schemas/<Entity>.json`: the schema the records are read with.
    pub fn schema_path(&self, entity: &str) -> PathBuf {
        self.schemas_dir()
            .join(format!("{}.json", file_stem(entity)))
    }

    /// `reports/`: the stages' reports (load, diffs, cutover).
    pub fn reports_dir(&self) -> PathBuf {
        self.root.join("reports")
    }

    /// `reports/rejects/`: one reject file per entity and stage.
    pub fn rejects_dir(&self) -> PathBuf {
        self.reports_dir().join("rejects")
    }

    /// `reports/rejects/<Entity>.jsonl` (the load's), or with a prefix (`sync-`) another
    /// stage's.
    pub fn rejects_path(&self, prefix: &str, entity: &str) -> PathBuf {
        self.rejects_dir()
            .join(format!("{prefix}{}.jsonl", file_stem(entity)))
    }

    /// `plan/`: the plan and mapping report the load used.
    pub fn plan_dir(&self) -> PathBuf {
        self.root.join("plan")
    }

    /// `cutover/`: the cutover's fresh pull (`snapshot/`, `snapshot.sql`) and its repair list.
    pub fn cutover_dir(&self) -> PathBuf {
        self.root.join("cutover")
    }

    pub fn part_path(&self, entity: &str, index: u32) -> PathBuf {
        self.root.join(Self::part_name(entity, index))
    }

    /// The path of a part the manifest names, refused unless it is a relative path inside
    /// `data/` (a hand-made or hostile manifest must not make a load read any other file).
    pub fn part_file(&self, file: &str) -> Result<PathBuf, PipelineError> {
        let relative = Path::new(file);
        let mut components = relative.components();
        let inside = matches!(
            components.next(),
            Some(std::path::Component::Normal(first)) if first == "data"
        ) && components.clone().next().is_some()
            && components.all(|component| matches!(component, std::path::Component::Normal(_)));
        if !inside {
            return Err(PipelineError::Workspace {
                path: self.manifest_path(),
                message: format!(
                    "names the part {file:?}, which is not inside the workspace's data/ folder: nothing was read; stage the workspace again"
                ),
            });
        }
        Ok(self.root.join(relative))
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.root.join("manifest.json")
    }

    /// The manifest, empty when nothing was staged yet.
    pub fn manifest(&self) -> Result<Manifest, PipelineError> {
        Ok(self.read_json(&self.manifest_path())?.unwrap_or_default())
    }

    pub fn pull_state_path(&self) -> PathBuf {
        self.root.join("state").join("pull.json")
    }

    /// Reads a JSON file of the workspace, or `None` when it does not exist.
    pub fn read_json<T: for<'de> Deserialize<'de>>(
        &self,
        path: &Path,
    ) -> Result<Option<T>, PipelineError> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(PipelineError::io(path, error)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|error| PipelineError::Workspace {
                path: path.to_path_buf(),
                message: format!(
                    "{error}; the file is damaged: restore it or start again with --fresh"
                ),
            })
    }

    /// Writes a JSON file of the workspace atomically, pretty-printed with a final newline.
    pub fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), PipelineError> {
        let mut text =
            serde_json::to_string_pretty(value).map_err(|error| PipelineError::Workspace {
                path: path.to_path_buf(),
                message: error.to_string(),
            })?;
        text.push('\n');
        write_atomic(path, text.as_bytes())
    }
}

/// A record's position in the pull order: `(created_date, id)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordKey {
    pub created_date: String,
    pub id: String,
}

/// One finished (or the current) part file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartState {
    pub file: String,
    pub records: u64,
    pub bytes: u64,
}

/// The manifest: what the workspace holds, per entity. Deterministic: no times, sorted maps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub source: Option<SourceInfo>,
    pub entities: BTreeMap<String, EntityManifest>,
}

/// Where the data came from (never a key or a password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceInfo {
    Api {
        api_url: String,
        app_id: String,
    },
    Csv {
        folder: String,
    },
    Seed {
        folder: String,
    },
    Sample {
        folder: String,
    },
    /// Made up by `offbase_sql::generate` from the schemas, with this seed.
    Generated {
        seed: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityManifest {
    pub records: u64,
    pub bytes: u64,
    /// The number of records the source said it had (`count`), when it can say.
    pub source_count: Option<u64>,
    pub first_key: Option<RecordKey>,
    pub last_key: Option<RecordKey>,
    /// Records carrying conversion flags (see [`FLAGS_KEY`]).
    #[serde(default)]
    pub flagged_records: u64,
    pub parts: Vec<ManifestPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestPart {
    pub file: String,
    pub records: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// The SHA-256 of a file, in hex.
pub fn sha256_file(path: &Path) -> Result<String, PipelineError> {
    let mut file = File::open(path).map_err(|error| PipelineError::io(path, error))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|error| PipelineError::io(path, error))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// Puts a source record's keys in the workspace order: the built-ins, the schema's fields in
/// schema order, any other field by name. The same record from any source (API, CSV, seed)
/// then serializes to the same line. Every key is the source's own: a field named like the
/// importer's flags ([`FLAGS_KEY`]) is staged under its escaped key
/// ([`offbase_model::record::staged_key`]), so no source can pass for the importer; an
/// importer adds its flags afterwards, last ([`with_flags`]).
pub fn canonical_record(record: Map<String, Value>, entity: &Entity) -> Map<String, Value> {
    use offbase_model::record::into_staged_key;
    let mut record = record;
    let mut ordered = Map::new();
    for built_in in entity.built_ins() {
        if let Some((key, value)) = record.remove_entry(built_in.field_name()) {
            ordered.insert(key, value);
        }
    }
    for field in &entity.fields {
        if let Some((key, value)) = record.remove_entry(&field.name) {
            ordered.insert(into_staged_key(key), value);
        }
    }
    let mut rest: Vec<(String, Value)> = record
        .into_iter()
        .map(|(key, value)| (into_staged_key(key), value))
        .collect();
    rest.sort_by(|left, right| left.0.cmp(&right.0));
    ordered.extend(rest);
    ordered
}

/// A staged record with the importer's flags (`{field: reason}`), which go last.
pub fn with_flags(mut record: Map<String, Value>, flags: Option<Value>) -> Map<String, Value> {
    if let Some(flags) = flags {
        record.insert(FLAGS_KEY.to_owned(), flags);
    }
    record
}

/// The key of a record in the pull order, when it has both parts as strings.
pub fn record_key(record: &Map<String, Value>) -> Option<RecordKey> {
    Some(RecordKey {
        created_date: record
            .get(BuiltIn::CreatedDate.field_name())?
            .as_str()?
            .to_owned(),
        id: record.get(BuiltIn::Id.field_name())?.as_str()?.to_owned(),
    })
}

/// A record's place in the pull order: its `created_date` as an instant (records without a
/// readable one first), then its id.
pub fn pull_order(record: &Map<String, Value>) -> (Option<i64>, String) {
    let instant = record
        .get(BuiltIn::CreatedDate.field_name())
        .and_then(Value::as_str)
        .and_then(offbase_model::time::parse_timestamp)
        .map(|instant| instant.timestamp_micros());
    let id = record
        .get(BuiltIn::Id.field_name())
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    (instant, id)
}

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
}

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
        let mut buffer = Vec::with_capacity(records.len() * 256);
        for record in records {
            if self.position.current_records >= self.part_records {
                self.flush_buffer(&mut buffer)?;
                self.rotate()?;
            }
            let start = buffer.len();
            serde_json::to_writer(&mut buffer, record).map_err(|error| {
                PipelineError::Workspace {
                    path: self.current_path(),
                    message: error.to_string(),
                }
            })?;
            buffer.push(b'\n');
            self.position.current_records += 1;
            self.position.current_bytes += (buffer.len() - start) as u64;
            if record.contains_key(FLAGS_KEY) {
                self.position.flagged_records += 1;
            }
        }
        self.flush_buffer(&mut buffer)
    }

    fn flush_buffer(&mut self, buffer: &mut Vec<u8>) -> Result<(), PipelineError> {
        if buffer.is_empty() {
            return Ok(());
        }
        let path = self.current_path();
        self.file
            .write_all(buffer)
            .map_err(|error| PipelineError::io(&path, error))?;
        buffer.clear();
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

/// Builds an entity's manifest entry from a finished writer position, hashing every part.
pub fn entity_manifest(
    workspace: &Workspace,
    entity: &str,
    position: &WriterPosition,
    source_count: Option<u64>,
    first_key: Option<RecordKey>,
    last_key: Option<RecordKey>,
) -> Result<EntityManifest, PipelineError> {
    let mut parts: Vec<PartState> = position.parts.clone();
    if position.current_records > 0 || parts.is_empty() {
        parts.push(PartState {
            file: Workspace::part_name(entity, position.current_part),
            records: position.current_records,
            bytes: position.current_bytes,
        });
    }
    let mut manifest_parts = Vec::new();
    for part in parts {
        let path = workspace.root().join(&part.file);
        manifest_parts.push(ManifestPart {
            sha256: sha256_file(&path)?,
            file: part.file,
            records: part.records,
            bytes: part.bytes,
        });
    }
    Ok(EntityManifest {
        records: position.records(),
        bytes: position.bytes(),
        source_count,
        first_key,
        last_key,
        flagged_records: position.flagged_records,
        parts: manifest_parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use offbase_model::{Field, FieldKind, SchemaSource, SourceLayout};
    use serde_json::json;

    fn entity() -> Entity {
        Entity {
            name: "Task".into(),
            source: SchemaSource {
                path: "Task.jsonc".into(),
                layout: SourceLayout::Direct,
            },
            title: None,
            description: None,
            fields: vec![
                Field::new("title", FieldKind::String),
                Field::new("done", FieldKind::Boolean),
            ],
            rls: None,
            extra: Default::default(),
        }
    }

    fn record(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn canonical_order_is_built_ins_fields_rest_flags() {
        let input = record(json!({
            "zeta": 1, "done": true, "alpha": 2,
            "title": "t", "updated_date": "u", "id": "a", "created_date": "c"
        }));
        let flags = Some(json!({"done": "x"}));
        let keys: Vec<String> = with_flags(canonical_record(input, &entity()), flags)
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "created_date",
                "updated_date",
                "title",
                "done",
                "alpha",
                "zeta",
                "_offbase_flags"
            ]
        );
    }

    /// Regression: a source field named `_offbase_flags` was taken for the importer's flags,
    /// and a valid record was rejected as `flagged`.
    #[test]
    fn a_source_field_named_like_the_flags_is_staged_apart_from_them() {
        let input = record(json!({
            "id": "a", "_offbase_flags": {"title": "forged"}, "_offbase_flags_": 1, "zeta": 2
        }));
        let staged = canonical_record(input, &entity());
        assert_eq!(
            Value::Object(staged.clone()),
            json!({"id": "a", "_offbase_flags__": 1, "_offbase_flags_": {"title": "forged"}, "zeta": 2})
        );
        assert!(!staged.contains_key(FLAGS_KEY));
        // Read back, the source's fields are as it wrote them.
        assert_eq!(
            Value::Object(offbase_model::record::source_record(staged)),
            json!({"id": "a", "_offbase_flags": {"title": "forged"}, "_offbase_flags_": 1, "zeta": 2})
        );
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
