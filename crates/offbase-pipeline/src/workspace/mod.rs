//! The workspace: the reviewable folder between Base44 and PostgreSQL.
//!
//! ```text
//! schemas/<Entity>.json          the entity schemas the data was read with
//! data/<Entity>/part-NNNNN.jsonl records, one JSON object a line, in (created_date, id) order
//! manifest.json                  per entity: records, bytes, sha256 per part, keys, source count
//! state/pull.json                checkpoints of an unfinished pull
//! files/manifest.json            every platform-hosted file the records point at (files scan)
//! ```
//!
//! This module owns the layout, the record form (canonical key order) and the part writer whose
//! checkpoints never run ahead of the data: bytes are synced before the state that counts them
//! is written, and a resumed writer cuts whatever came after the last checkpoint.

pub mod duplicates;
pub(crate) mod external_sort;
pub mod files;
mod manifest;
pub mod parts;
mod raw_record;
mod record;
pub mod rejects;
mod repeated;
pub mod reseal;
pub mod sorter;
mod writer;

use crate::PipelineError;
use crate::workspace::files::write_atomic;
use offbase_model::names::file_stem;
use serde::{Deserialize, Serialize};
use std::fs::{self};
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

    /// `files/`: the file manifest (what `files scan` found) and, later, the URL map.
    pub fn files_dir(&self) -> PathBuf {
        self.root.join("files")
    }

    /// `files/manifest.json`.
    pub fn files_manifest_path(&self) -> PathBuf {
        self.files_dir().join("manifest.json")
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

pub use manifest::{
    EntityManifest, Manifest, ManifestPart, PartState, RecordKey, SourceInfo, entity_manifest,
    sha256_file,
};
pub use raw_record::{FormedLine, KeyOrder, workspace_line};
pub use record::{canonical_record, pull_order, record_key, with_flags};
pub use writer::{PartWriter, WriterPosition};
