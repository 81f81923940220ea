//! `files scan`: every platform-hosted file the staged records point at, at any depth (URL
//! fields, strings inside arrays and objects, `_extra`, URLs inside rich text and markdown, the
//! User entity), every private file reference (`file_uri`), and, given the app's code, every
//! hosted URL in its source, with file and line. Writes `files/manifest.json` (one entry per
//! URL, sorted, each with its destination key and every reference) and `reports/files.md`.
//!
//! The manifest holds every distinct file and its references in memory: one entry per file,
//! which is far less than the records; the records themselves stream.

use crate::PipelineError;
use crate::progress::Reporter;
use crate::workspace::Workspace;
use crate::workspace::parts::{PartReader, Position, parse_record, trim_line};
use offbase_base44::files::{find_hosted_files, is_private_file_field};
use offbase_model::BuiltIn;
use offbase_model::record::FLAGS_KEY;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Where a record points at a file: the entity, the record's id and the JSON path of the value
/// (`$.photos[0].url`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordReference {
    pub entity: String,
    pub id: Option<String>,
    pub path: String,
}

/// Where the app's code points at a file: the file (relative to the code folder) and line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CodeReference {
    pub file: String,
    pub line: u64,
}

/// One file the app uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The URL (or, for a private file, the `file_uri`) as the records hold it.
    pub url: String,
    /// Where its copy goes, below the destination: `public/...` as the platform names the
    /// file, or `private/...` for a private one.
    pub key: String,
    /// `storage`, `app_files`, `media`, or `private`.
    pub shape: String,
    /// Filled in by the copy.
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub records: Vec<RecordReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code: Vec<CodeReference>,
}

impl FileEntry {
    /// A file not yet referenced nor copied.
    fn new(url: String, key: String, shape: &str) -> Self {
        FileEntry {
            url,
            key,
            shape: shape.to_owned(),
            size: None,
            sha256: None,
            records: Vec::new(),
            code: Vec::new(),
        }
    }
}

/// `files/manifest.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileManifest {
    pub files: Vec<FileEntry>,
}

/// What the scan found, per entity and field.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScanSummary {
    pub workspace: String,
    pub files: usize,
    pub private_files: usize,
    pub record_references: u64,
    pub code_references: u64,
    /// References per entity and field (array indexes folded: `photos[].url`).
    pub fields: Vec<FieldCount>,
    pub manifest: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldCount {
    pub entity: String,
    pub field: String,
    pub references: u64,
    pub files: usize,
}

/// Scans the workspace's records (and the app's code under `code`, when given), writes the
/// manifest and the report.
pub fn scan(
    workspace: &Workspace,
    code: Option<&Path>,
    reporter: &dyn Reporter,
) -> Result<ScanSummary, PipelineError> {
    let manifest = workspace.manifest()?;
    if manifest.entities.is_empty() && !workspace.manifest_path().exists() {
        return Err(PipelineError::NotStaged {
            path: workspace.root().to_path_buf(),
        });
    }
    let mut found = Found::default();
    for (entity, entry) in &manifest.entities {
        reporter.started(entity, Some(entry.records));
        let mut reader = PartReader::open(workspace, &entry.parts, Position::default())?;
        let mut buffer = Vec::new();
        let mut unreported = 0;
        while reader.next_line(&mut buffer)?.is_some() {
            // A line that is no record is the load's to reject; it has no references.
            if let Ok(record) = parse_record(trim_line(&buffer), 0) {
                found.record(entity, &record);
            }
            unreported += 1;
            if unreported == 4096 {
                reporter.advanced(entity, unreported);
                unreported = 0;
            }
        }
        reporter.advanced(entity, unreported);
        reporter.finished(entity);
    }
    if let Some(folder) = code {
        found.code(folder)?;
    }
    let summary = found.summary(workspace);
    let file_manifest = found.manifest();
    workspace.write_json(&workspace.files_manifest_path(), &file_manifest)?;
    crate::workspace::files::write_atomic(
        &workspace.reports_dir().join("files.md"),
        files_report(&summary, &file_manifest).as_bytes(),
    )?;
    Ok(summary)
}

/// The files some records of `entity` point at, each with its references among them (the
/// sync's changed records), sorted by URL.
pub fn files_in_records<'r>(
    entity: &str,
    records: impl IntoIterator<Item = &'r Map<String, Value>>,
) -> Vec<FileEntry> {
    let mut found = Found::default();
    for record in records {
        found.record(entity, record);
    }
    found.manifest().files
}

/// Adds `entries` to the file manifest (new files in URL order, new references to the files
/// it has) and writes it.
pub fn add_to_manifest(workspace: &Workspace, entries: &[FileEntry]) -> Result<(), PipelineError> {
    let path = workspace.files_manifest_path();
    let manifest: FileManifest = workspace.read_json(&path)?.unwrap_or_default();
    let mut files: BTreeMap<String, FileEntry> = manifest
        .files
        .into_iter()
        .map(|file| (file.url.clone(), file))
        .collect();
    for entry in entries {
        let file = files
            .entry(entry.url.clone())
            .or_insert_with(|| FileEntry::new(entry.url.clone(), entry.key.clone(), &entry.shape));
        for reference in &entry.records {
            if !file.records.contains(reference) {
                file.records.push(reference.clone());
            }
        }
        file.records.sort();
    }
    workspace.write_json(
        &path,
        &FileManifest {
            files: files.into_values().collect(),
        },
    )
}

/// Where a value sits: its record and JSON path, and the path with array indexes folded.
struct Place<'a> {
    entity: &'a str,
    id: Option<&'a str>,
    path: &'a str,
    field: &'a str,
}

/// Files and references found so far, by URL.
#[derive(Debug, Default)]
struct Found {
    files: BTreeMap<String, FileEntry>,
    /// (entity, field pattern) → (references, distinct URLs).
    fields: BTreeMap<(String, String), (u64, std::collections::BTreeSet<String>)>,
    code_references: u64,
}

impl Found {
    fn record(&mut self, entity: &str, record: &Map<String, Value>) {
        let id = record
            .get(BuiltIn::Id.field_name())
            .and_then(Value::as_str)
            .map(str::to_owned);
        for (key, value) in record {
            if key == FLAGS_KEY {
                continue;
            }
            let path = format!("$.{}", path_key(key));
            self.value(entity, id.as_deref(), key, &path, key, value);
        }
    }

    /// One value at `path`; `field` is the path with array indexes folded, `name` the key that
    /// holds it.
    fn value(
        &mut self,
        entity: &str,
        id: Option<&str>,
        name: &str,
        path: &str,
        field: &str,
        value: &Value,
    ) {
        match value {
            Value::String(text) if is_private_file_field(name) && !text.trim().is_empty() => {
                let url = text.trim().to_owned();
                let key = private_key(&url);
                let place = Place {
                    entity,
                    id,
                    path,
                    field,
                };
                self.add(&place, url, key, "private");
            }
            Value::String(text) => {
                let place = Place {
                    entity,
                    id,
                    path,
                    field,
                };
                for (_, file) in find_hosted_files(text) {
                    self.add(&place, file.url, file.key, file.shape.name());
                }
            }
            Value::Array(items) => {
                let folded = format!("{field}[]");
                for (index, item) in items.iter().enumerate() {
                    self.value(entity, id, name, &format!("{path}[{index}]"), &folded, item);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let step = path_key(key);
                    self.value(
                        entity,
                        id,
                        key,
                        &format!("{path}.{step}"),
                        &format!("{field}.{step}"),
                        item,
                    );
                }
            }
            _ => {}
        }
    }

    fn add(&mut self, place: &Place<'_>, url: String, key: String, shape: &str) {
        let counted = self
            .fields
            .entry((
                place.entity.to_owned(),
                place.field.trim_start_matches("$.").to_owned(),
            ))
            .or_default();
        counted.0 += 1;
        counted.1.insert(url.clone());
        let entry = self
            .files
            .entry(url.clone())
            .or_insert_with(|| FileEntry::new(url, key, shape));
        entry.records.push(RecordReference {
            entity: place.entity.to_owned(),
            id: place.id.map(str::to_owned),
            path: place.path.to_owned(),
        });
    }

    /// Every hosted URL in the app's source: `src/`, `public/` (manifest icons among them) and
    /// `index.html`, in name order; folders of built or installed code are left out.
    fn code(&mut self, folder: &Path) -> Result<(), PipelineError> {
        let mut files = Vec::new();
        for start in ["src", "public", "index.html"] {
            collect_code_files(&folder.join(start), &mut files)?;
        }
        files.sort();
        for path in files {
            let Ok(text) = std::fs::read_to_string(&path) else {
                // Images and other binary files hold no URL text.
                continue;
            };
            let relative = path
                .strip_prefix(folder)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            for (number, line) in text.lines().enumerate() {
                for (_, file) in find_hosted_files(line) {
                    self.code_references += 1;
                    let entry = self.files.entry(file.url.clone()).or_insert_with(|| {
                        FileEntry::new(file.url.clone(), file.key.clone(), file.shape.name())
                    });
                    entry.code.push(CodeReference {
                        file: relative.clone(),
                        line: number as u64 + 1,
                    });
                }
            }
        }
        Ok(())
    }

    fn summary(&self, workspace: &Workspace) -> ScanSummary {
        ScanSummary {
            workspace: workspace.root().display().to_string(),
            files: self.files.len(),
            private_files: self
                .files
                .values()
                .filter(|file| file.shape == "private")
                .count(),
            record_references: self
                .files
                .values()
                .map(|file| file.records.len() as u64)
                .sum(),
            code_references: self.code_references,
            fields: self
                .fields
                .iter()
                .map(|((entity, field), (references, urls))| FieldCount {
                    entity: entity.clone(),
                    field: field.clone(),
                    references: *references,
                    files: urls.len(),
                })
                .collect(),
            manifest: workspace.files_manifest_path().display().to_string(),
        }
    }

    fn manifest(self) -> FileManifest {
        FileManifest {
            files: self
                .files
                .into_values()
                .map(|mut file| {
                    file.records.sort();
                    file.code.sort();
                    file
                })
                .collect(),
        }
    }
}

/// A key as a JSON path step: bare when it is a plain name, else quoted.
fn path_key(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_');
    if plain {
        key.to_owned()
    } else {
        format!("[{}]", Value::String(key.to_owned()))
    }
}

/// Where a private file's copy goes: `private/` and a name from its `file_uri` that cannot
/// leave the folder, made unique by a hash of the whole uri. `offbase serve` finds a copied
/// file by the `file_uri` its records keep through this.
pub fn private_key(uri: &str) -> String {
    let digest = Sha256::digest(uri.as_bytes());
    let short: String = digest
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let name = uri
        .rsplit(['/', '\\', ':'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-')
        })
        .take(100)
        .collect::<String>();
    let name = name.trim_start_matches('.');
    if name.is_empty() {
        format!("private/{short}")
    } else {
        format!("private/{short}_{name}")
    }
}

fn collect_code_files(
    path: &Path,
    files: &mut Vec<std::path::PathBuf>,
) -> Result<(), PipelineError> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(PipelineError::io(path, error)),
    };
    if metadata.is_file() {
        files.push(path.to_path_buf());
    } else if metadata.is_dir() {
        let skipped = path.file_name().is_some_and(|name| {
            matches!(
                name.to_str(),
                Some("node_modules" | "dist" | "build" | ".git")
            )
        });
        if skipped {
            return Ok(());
        }
        for entry in std::fs::read_dir(path).map_err(|error| PipelineError::io(path, error))? {
            let entry = entry.map_err(|error| PipelineError::io(path, error))?;
            collect_code_files(&entry.path(), files)?;
        }
    }
    Ok(())
}

/// `reports/files.md`: counts, references per entity and field, then every file with where it
/// is referenced (the first few places).
pub fn files_report(summary: &ScanSummary, manifest: &FileManifest) -> String {
    let mut text = format!(
        "# Files: {} on the platform's storage ({} private), {} references in records, {} in code\n\n",
        summary.files, summary.private_files, summary.record_references, summary.code_references
    );
    if !summary.fields.is_empty() {
        text.push_str("| entity | field | references | files |\n|---|---|---:|---:|\n");
        for field in &summary.fields {
            text.push_str(&format!(
                "| {} | `{}` | {} | {} |\n",
                field.entity, field.field, field.references, field.files
            ));
        }
    }
    if !manifest.files.is_empty() {
        text.push_str("\n| file | key | referenced by |\n|---|---|---|\n");
        for file in &manifest.files {
            let mut places: Vec<String> = file
                .records
                .iter()
                .take(3)
                .map(|reference| {
                    format!(
                        "{} `{}` {}",
                        reference.entity,
                        reference.id.as_deref().unwrap_or("-"),
                        reference.path
                    )
                })
                .collect();
            places.extend(
                file.code
                    .iter()
                    .take(3)
                    .map(|reference| format!("{}:{}", reference.file, reference.line)),
            );
            let more = (file.records.len() + file.code.len()).saturating_sub(places.len());
            if more > 0 {
                places.push(format!("and {more} more"));
            }
            text.push_str(&format!(
                "| {} | `{}` | {} |\n",
                file.url.replace('|', "%7C"),
                file.key,
                places.join("; ").replace('|', "\\|")
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_keys_stay_in_their_folder() {
        for uri in ["../../etc/passwd", "private://x/..", "", "a:b\\c.pdf"] {
            let key = private_key(uri);
            assert!(key.starts_with("private/"), "{key}");
            assert!(!key.contains(".."), "{key}");
            assert_eq!(key.matches('/').count(), 1, "{key}");
        }
        assert_ne!(private_key("a/x.pdf"), private_key("b/x.pdf"));
    }

    #[test]
    fn json_paths_quote_keys_that_are_not_plain_names() {
        assert_eq!(path_key("photos"), "photos");
        assert_eq!(path_key("a b"), "[\"a b\"]");
    }
}
