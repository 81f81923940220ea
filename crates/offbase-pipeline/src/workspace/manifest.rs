//! `manifest.json`: per entity, its records and bytes, each part with its SHA-256 (the seal
//! a load checks), the source it was staged from, and the pull's keys.

use super::*;
use crate::PipelineError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

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
    /// Made up by `stage::generate` from the schemas, with this seed.
    Generated {
        seed: u64,
    },
}

/// In words, for messages: `app 6989... at https://app.base44.com`.
impl std::fmt::Display for SourceInfo {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceInfo::Api { api_url, app_id } => write!(formatter, "app {app_id} at {api_url}"),
            SourceInfo::Csv { folder } => write!(formatter, "the CSV exports in {folder}"),
            SourceInfo::Seed { folder } => write!(formatter, "the seed files in {folder}"),
            SourceInfo::Sample { folder } => write!(formatter, "the app folder {folder}"),
            SourceInfo::Generated { seed } => {
                write!(formatter, "records generated with seed {seed}")
            }
        }
    }
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
