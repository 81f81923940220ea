//! `files copy`: every public file of the file manifest copied to a folder the owner controls,
//! under its key. Downloads stream through a SHA-256 into `<key>.offbase-partial`, which is
//! renamed into place only when whole, so a destination file is always complete. Each finished
//! file is appended to `files/copied.jsonl` (URL, key, size, SHA-256, content type). A copy run
//! again skips every file the log holds whose copy is there with that size and that SHA-256
//! (hashed again), and starts the rest afresh. Files are not synced one by one (that took half
//! the copy's time): the log is synced every [`LOG_SYNC_EVERY`] files and at the end, and the
//! hash check on a rerun catches a file whose bytes a machine crash lost. A file the platform no longer has (404,
//! 403, 410), or one that still fails after every retry, goes to `reports/rejects/files.jsonl`
//! with every record and code line that references it; its URL is kept as it is. A private
//! file (`file_uri`) is read through a URL the app's API signs (`CreateFileSignedUrl`), into
//! `private/...`, when the API is given.

use crate::PipelineError;
use crate::files::scan::{CodeReference, FileManifest, RecordReference};
use crate::progress::Reporter;
use crate::workspace::Workspace;
use offbase_base44::client::{DownloadError, DownloadSink, Downloader};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a copy runs.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// The destination folder.
    pub to: PathBuf,
    /// Downloads at once.
    pub concurrency: usize,
    /// Fetch every file from this origin (`http://127.0.0.1:PORT`: the emulator, a mirror)
    /// with the URL's own path, instead of from the URL's host.
    pub via: Option<String>,
    /// Attempts per file before it is rejected.
    pub attempts: u32,
    /// The API of the app, to ask for signed URLs of private files (`file_uri`); without it
    /// they are counted and not copied.
    pub api: Option<offbase_base44::client::Client>,
    /// Where the copies will be served from (`https://cdn.example.com/app`): each copied
    /// file's new URL is this and its key, written to `files/url-map.json`.
    pub public_url: Option<String>,
}

impl CopyOptions {
    pub fn new(to: impl Into<PathBuf>) -> Self {
        CopyOptions {
            to: to.into(),
            concurrency: 8,
            via: None,
            attempts: 8,
            api: None,
            public_url: None,
        }
    }
}

/// One line of `files/copied.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopiedFile {
    pub url: String,
    pub key: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: Option<String>,
}

/// One line of `reports/rejects/files.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReject {
    pub url: String,
    pub key: String,
    /// `gone` (the platform answered 404, 403 or 410), `failed` (still failing after every
    /// retry) or `bad_key`.
    pub reason: String,
    pub status: Option<u16>,
    pub message: String,
    pub records: Vec<RecordReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code: Vec<CodeReference>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CopySummary {
    pub destination: String,
    pub files: usize,
    /// Copied by this run.
    pub copied: usize,
    /// Already at the destination from an earlier run.
    pub already_there: usize,
    pub rejected: usize,
    /// Private files (`file_uri`) not copied: no API was given to sign their URLs.
    pub private_skipped: usize,
    /// Bytes downloaded by this run.
    pub bytes: u64,
    pub seconds: f64,
    pub rejects_file: Option<String>,
    /// `files/url-map.json`, when a public URL was given.
    pub url_map: Option<String>,
}

/// `files/url-map.json`: each copied file's URL and the URL of its copy, sorted; what the
/// rewrite of the records applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlMap {
    pub base: String,
    pub urls: BTreeMap<String, String>,
}

/// Copies every public file of the workspace's file manifest to `options.to`.
pub async fn copy(
    workspace: &Workspace,
    options: &CopyOptions,
    reporter: &dyn Reporter,
) -> Result<CopySummary, PipelineError> {
    let started = Instant::now();
    let _lock = crate::lock::lock_workspace(workspace, "files copy")?;
    let manifest_path = workspace.files_manifest_path();
    let mut manifest: FileManifest =
        workspace
            .read_json(&manifest_path)?
            .ok_or_else(|| PipelineError::Workspace {
                path: manifest_path.clone(),
                message: "no file manifest: run `offbase files scan` first".to_owned(),
            })?;
    let log_path = workspace.files_dir().join("copied.jsonl");
    let mut copied = read_log(&log_path)?;
    let downloader = Downloader::new(Duration::from_secs(600))?.with_attempts(options.attempts);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|error| PipelineError::io(&log_path, error))?;
    let mut summary = CopySummary {
        destination: options.to.display().to_string(),
        files: manifest.files.len(),
        ..CopySummary::default()
    };
    let mut rejects = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    // One file under two URLs (two hosts, `files/` and `files/mp/`) has one key: it is fetched
    // once, and the other URLs share the outcome (two downloads into one partial file would
    // mix their bytes).
    let mut first_of_key: BTreeMap<String, usize> = BTreeMap::new();
    let mut sharing: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let task = "files";
    reporter.started(task, Some(manifest.files.len() as u64));
    for (index, file) in manifest.files.iter().enumerate() {
        let private = file.shape == "private";
        if private && options.api.is_none() {
            summary.private_skipped += 1;
            reporter.advanced(task, 1);
            continue;
        }
        let Some(destination) = destination_path(&options.to, &file.key) else {
            rejects.push(reject(
                file,
                "bad_key",
                None,
                "the key would leave the destination",
            ));
            reporter.advanced(task, 1);
            continue;
        };
        if let Some(done) = copied.get(&file.url)
            && std::fs::metadata(&destination).is_ok_and(|metadata| metadata.len() == done.size)
            && crate::workspace::sha256_file(&destination).is_ok_and(|hash| hash == done.sha256)
        {
            summary.already_there += 1;
            reporter.advanced(task, 1);
            continue;
        }
        if let Some(first) = first_of_key.get(&file.key) {
            sharing.entry(*first).or_default().push(index);
            continue;
        }
        first_of_key.insert(file.key.clone(), index);
        let url = match (&options.via, private) {
            (Some(origin), false) => rehost(&file.url, origin),
            _ => file.url.clone(),
        };
        let downloader = downloader.clone();
        let semaphore = Arc::clone(&semaphore);
        let key = file.key.clone();
        let original = file.url.clone();
        let api = options.api.clone().filter(|_| private);
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let result = match api {
                // A private file is read through a URL the API signs for a while.
                Some(api) => match api.create_file_signed_url(&url, SIGNED_URL_SECONDS).await {
                    Ok(signed) => fetch(&downloader, &signed, &destination).await,
                    Err(error) => Err(FetchError::Sign(error.to_string())),
                },
                None => fetch(&downloader, &url, &destination).await,
            };
            (index, original, key, result)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (index, _url, key, result) = joined.map_err(|error| PipelineError::WorkerStopped {
            what: "a file download".to_owned(),
            why: error.to_string(),
            outcome: "the copy stopped; run it again to resume".to_owned(),
        })?;
        let result = match result {
            Err(FetchError::Io(error)) => return Err(error),
            other => other,
        };
        if let Ok((size, ..)) = &result {
            summary.bytes += size;
        }
        let shared = sharing.remove(&index).unwrap_or_default();
        for index in std::iter::once(index).chain(shared) {
            reporter.advanced(task, 1);
            let Some(file) = manifest.files.get(index) else {
                continue;
            };
            match &result {
                Ok((size, sha256, content_type)) => {
                    let line = CopiedFile {
                        url: file.url.clone(),
                        key: key.clone(),
                        size: *size,
                        sha256: sha256.clone(),
                        content_type: content_type.clone(),
                    };
                    let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
                    bytes.push(b'\n');
                    log.write_all(&bytes)
                        .map_err(|error| PipelineError::io(&log_path, error))?;
                    summary.copied += 1;
                    if summary.copied.is_multiple_of(LOG_SYNC_EVERY) {
                        log.sync_data()
                            .map_err(|error| PipelineError::io(&log_path, error))?;
                    }
                    copied.insert(file.url.clone(), line);
                }
                Err(FetchError::Download(DownloadError::Gone { status, url: shown })) => {
                    rejects.push(reject(
                        file,
                        "gone",
                        Some(*status),
                        &format!("{shown}: HTTP {status}: the platform no longer has the file"),
                    ));
                }
                Err(FetchError::Download(error)) => {
                    let status = match error {
                        DownloadError::Status { status, .. } => Some(*status),
                        _ => None,
                    };
                    rejects.push(reject(file, "failed", status, &error.to_string()));
                }
                Err(FetchError::Sign(message)) => {
                    rejects.push(reject(
                        file,
                        "failed",
                        None,
                        &format!("signing a URL for the private file: {message}"),
                    ));
                }
                Err(FetchError::Io(_)) => {}
            }
        }
    }
    reporter.finished(task);
    log.sync_data()
        .map_err(|error| PipelineError::io(&log_path, error))?;
    // The manifest gains each copied file's size and hash.
    for file in &mut manifest.files {
        if let Some(done) = copied.get(&file.url) {
            file.size = Some(done.size);
            file.sha256 = Some(done.sha256.clone());
        }
    }
    workspace.write_json(&manifest_path, &manifest)?;
    if let Some(base) = &options.public_url {
        let base = base.trim_end_matches('/').to_owned();
        let urls = copied
            .values()
            .map(|done| (done.url.clone(), format!("{base}/{}", done.key)))
            .collect();
        let path = workspace.files_dir().join("url-map.json");
        workspace.write_json(&path, &UrlMap { base, urls })?;
        summary.url_map = Some(path.display().to_string());
    }
    rejects.sort_by(|left, right| left.url.cmp(&right.url));
    summary.rejected = rejects.len();
    let rejects_path = workspace.rejects_dir().join("files.jsonl");
    if rejects.is_empty() {
        match std::fs::remove_file(&rejects_path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(PipelineError::io(&rejects_path, error)),
        }
    } else {
        let mut text = Vec::new();
        for line in &rejects {
            text.extend(serde_json::to_vec(line).unwrap_or_default());
            text.push(b'\n');
        }
        crate::workspace::files::write_atomic(&rejects_path, &text)?;
        summary.rejects_file = Some(rejects_path.display().to_string());
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn reject(
    file: &crate::files::scan::FileEntry,
    reason: &str,
    status: Option<u16>,
    message: &str,
) -> FileReject {
    FileReject {
        url: file.url.clone(),
        key: file.key.clone(),
        reason: reason.to_owned(),
        status,
        message: message.to_owned(),
        records: file.records.clone(),
        code: file.code.clone(),
    }
}

/// The copied files the log holds, by URL; a line cut by a kill (the last one) is no copy.
fn read_log(path: &Path) -> Result<BTreeMap<String, CopiedFile>, PipelineError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(error) => return Err(PipelineError::io(path, error)),
    };
    let mut copied = BTreeMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|error| PipelineError::io(path, error))?;
        if let Ok(done) = serde_json::from_str::<CopiedFile>(&line) {
            copied.insert(done.url.clone(), done);
        }
    }
    Ok(copied)
}

/// Where a key's copy goes below `to`; `None` for a key that is not a plain relative path.
fn destination_path(to: &Path, key: &str) -> Option<PathBuf> {
    let plain = !key.is_empty()
        && !key.starts_with('/')
        && !key.contains('\\')
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    plain.then(|| to.join(key))
}

/// `url`'s path and query on `origin`.
fn rehost(url: &str, origin: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.find(['/', '?']).map_or("/", |start| &rest[start..]);
    format!("{}{path}", origin.trim_end_matches('/'))
}

enum FetchError {
    Download(DownloadError),
    Sign(String),
    Io(PipelineError),
}

/// Files copied between two syncs of the log.
pub const LOG_SYNC_EVERY: usize = 256;

/// How long a signed URL of a private file is asked to stay valid.
const SIGNED_URL_SECONDS: u64 = 600;

/// Downloads `url` into `destination` through its partial file: size, SHA-256, content type.
async fn fetch(
    downloader: &Downloader,
    url: &str,
    destination: &Path,
) -> Result<(u64, String, Option<String>), FetchError> {
    let partial = PathBuf::from(format!("{}.offbase-partial", destination.display()));
    if let Some(parent) = destination.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| FetchError::Io(PipelineError::io(parent, error)))?;
    }
    let mut sink = HashingFile {
        path: partial.clone(),
        file: None,
        hasher: Sha256::new(),
        size: 0,
    };
    let downloaded = downloader
        .download(url, &mut sink)
        .await
        .map_err(FetchError::Download)?;
    if sink.file.take().is_none() {
        // An empty body never opened the file: an empty copy.
        File::create(&partial)
            .map_err(|error| FetchError::Io(PipelineError::io(&partial, error)))?;
    }
    std::fs::rename(&partial, destination)
        .map_err(|error| FetchError::Io(PipelineError::io(destination, error)))?;
    let sha256 = sink
        .hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok((sink.size, sha256, downloaded.content_type))
}

/// A partial file and the hash of what was written to it.
struct HashingFile {
    path: PathBuf,
    file: Option<File>,
    hasher: Sha256,
    size: u64,
}

impl DownloadSink for HashingFile {
    fn restart(&mut self) -> std::io::Result<()> {
        self.file = Some(File::create(&self.path)?);
        self.hasher = Sha256::new();
        self.size = 0;
        Ok(())
    }

    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        if self.file.is_none() {
            self.restart()?;
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(chunk)?;
        }
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_would_leave_the_destination_are_refused() {
        let to = Path::new("/dest");
        assert_eq!(
            destination_path(to, "public/app/a_b.png"),
            Some(PathBuf::from("/dest/public/app/a_b.png"))
        );
        for key in ["", "/etc/passwd", "public/../x", "public//x", "a\\b", "./x"] {
            assert_eq!(destination_path(to, key), None, "{key}");
        }
    }

    #[test]
    fn rehosting_keeps_the_path_and_query() {
        assert_eq!(
            rehost(
                "https://media.base44.com/images/public/a/b.png?x=1",
                "http://127.0.0.1:9/"
            ),
            "http://127.0.0.1:9/images/public/a/b.png?x=1"
        );
    }
}
