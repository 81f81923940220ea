//! Resealing a workspace: after an intended edit of staged parts (a record fixed by hand), the
//! manifest records each part's new line count, size and SHA-256, so the load accepts it; every
//! change is listed, so the edit is a decision someone can review, not an accident.

use crate::PipelineError;
use crate::workspace::Workspace;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};

/// One part whose contents differ from the manifest: what it recorded and what the file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResealedPart {
    pub entity: String,
    pub file: String,
    pub records_before: u64,
    pub records_after: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub sha256_before: String,
    pub sha256_after: String,
}

/// Re-reads every part the manifest names and records what it holds now. Returns the parts
/// that changed (none: nothing is written).
pub fn reseal(workspace: &Workspace) -> Result<Vec<ResealedPart>, PipelineError> {
    let _lock = crate::lock::lock_workspace(workspace, "reseal")?;
    let mut manifest = workspace.manifest()?;
    let mut changed = Vec::new();
    for (entity, entry) in &mut manifest.entities {
        for part in &mut entry.parts {
            let path = workspace.part_file(&part.file)?;
            let file =
                std::fs::File::open(&path).map_err(|error| PipelineError::io(&path, error))?;
            let mut reader = BufReader::with_capacity(1 << 20, file);
            let mut hasher = Sha256::new();
            let (mut records, mut bytes) = (0u64, 0u64);
            let mut line = Vec::new();
            loop {
                line.clear();
                let read = reader
                    .read_until(b'\n', &mut line)
                    .map_err(|error| PipelineError::io(&path, error))?;
                if read == 0 {
                    break;
                }
                hasher.update(&line);
                bytes += read as u64;
                if !crate::workspace::parts::is_blank(&line) {
                    records += 1;
                }
            }
            let sha256 = format!("{:x}", hasher.finalize());
            if (records, bytes, &sha256) != (part.records, part.bytes, &part.sha256) {
                changed.push(ResealedPart {
                    entity: entity.clone(),
                    file: part.file.clone(),
                    records_before: part.records,
                    records_after: records,
                    bytes_before: part.bytes,
                    bytes_after: bytes,
                    sha256_before: part.sha256.clone(),
                    sha256_after: sha256.clone(),
                });
                part.records = records;
                part.bytes = bytes;
                part.sha256 = sha256;
            }
        }
        entry.records = entry.parts.iter().map(|part| part.records).sum();
        entry.bytes = entry.parts.iter().map(|part| part.bytes).sum();
    }
    if !changed.is_empty() {
        workspace.write_json(&workspace.manifest_path(), &manifest)?;
    }
    Ok(changed)
}
