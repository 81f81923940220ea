//! `files copy`: every public file of the file manifest copied to storage the owner controls
//! (a folder, or an S3-compatible bucket: [`crate::files::storage`]), under its key. Downloads
//! stream through a SHA-256 into a partial file; the destination takes the file only when it is
//! whole (a rename, or an upload from it), so a copy at the destination is always complete.
//! Each finished file is appended to `files/copied.jsonl` (URL, key, size, SHA-256, content
//! type). A copy run again skips every file whose copy is there with the size and SHA-256 the
//! log holds (a folder's file hashed again; an object's `sha256` metadata read with a HEAD), or
//! failing a log line, the ones the manifest holds from an earlier finished copy; the rest start
//! afresh. Files are not synced one by one (that took half the copy's time): the log is synced
//! every [`LOG_SYNC_EVERY`] files and at the end, and the hash check on a rerun catches a file
//! whose bytes a machine crash lost. A file the platform no longer has (404, 403, 410), or one
//! that still fails after every retry, goes to `reports/rejects/files.jsonl` with every record
//! and code line that references it; its URL is kept as it is. A private file (`file_uri`) is
//! read through a URL the app's API signs (`CreateFileSignedUrl`), into `private/...`, when the
//! API is given. A destination that fails (a full disk, a bucket refusing an upload after the
//! store's own retries) stops the copy: run it again to resume.

use crate::PipelineError;
use crate::files::scan::{CodeReference, FileManifest, RecordReference};
use crate::files::storage::{Destination, Fetched, Placed, Target};
use crate::progress::Reporter;
use crate::workspace::Workspace;
use offbase_base44::client::{DownloadError, DownloadSink, Downloader};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a copy runs.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Where the copies go: a folder, or `s3://bucket/prefix`.
    pub to: Destination,
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
    /// Only these URLs of the manifest (the sync's new uploads); the others are neither
    /// checked nor counted, and their reject lines stay.
    pub only: Option<BTreeSet<String>>,
}

impl CopyOptions {
    pub fn new(to: impl Into<Destination>) -> Self {
        CopyOptions {
            to: to.into(),
            concurrency: 8,
            via: None,
            attempts: 8,
            api: None,
            public_url: None,
            only: None,
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

/// `files/url-map.json`: each copied public file's URL and the URL of its copy, sorted; what
/// the rewrite of the records applies. It also says where the copies went (a folder's absolute
/// path, or `s3://bucket/prefix`) and through which origin they were fetched, so the sync can
/// copy new uploads the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlMap {
    pub base: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
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
    let (mut copied, logged_by_key) = read_log(&log_path)?;
    let destination = Arc::new(options.to.clone());
    // A bucket's downloads wait in the workspace until they are uploaded.
    let staging = workspace.files_dir().join("staging");
    let in_flight = destination.prepare(&staging)?;
    let downloader = Downloader::new(Duration::from_secs(600))?.with_attempts(options.attempts);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|error| PipelineError::io(&log_path, error))?;
    let wanted = |url: &str| options.only.as_ref().is_none_or(|only| only.contains(url));
    let mut summary = CopySummary {
        destination: destination.describe(),
        files: manifest
            .files
            .iter()
            .filter(|file| wanted(&file.url))
            .count(),
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
    reporter.started(task, Some(summary.files as u64));
    for (index, file) in manifest.files.iter().enumerate() {
        if !wanted(&file.url) {
            continue;
        }
        let private = file.shape == "private";
        if private && options.api.is_none() {
            summary.private_skipped += 1;
            reporter.advanced(task, 1);
            continue;
        }
        let Some(target) = destination.target(&file.key) else {
            rejects.push(reject(
                file,
                "bad_key",
                None,
                "the key would leave the destination",
            ));
            reporter.advanced(task, 1);
            continue;
        };
        if let Some(first) = first_of_key.get(&file.key) {
            sharing.entry(*first).or_default().push(index);
            continue;
        }
        first_of_key.insert(file.key.clone(), index);
        // What an earlier run left of this key: the log's last line for it, else the size and
        // hash an earlier finished copy wrote into the manifest. Checked at the destination
        // before anything is downloaded.
        let known = logged_by_key
            .get(&file.key)
            .map(|done| Fetched {
                size: done.size,
                sha256: done.sha256.clone(),
                content_type: done.content_type.clone(),
            })
            .or_else(|| {
                file.size
                    .zip(file.sha256.clone())
                    .map(|(size, sha256)| Fetched {
                        size,
                        sha256,
                        content_type: None,
                    })
            });
        let url = match (&options.via, private) {
            (Some(origin), false) => rehost(&file.url, origin),
            _ => file.url.clone(),
        };
        let downloader = downloader.clone();
        let semaphore = Arc::clone(&semaphore);
        let destination = Arc::clone(&destination);
        let partial = destination.partial_path(&target, &staging);
        let api = options.api.clone().filter(|_| private);
        let check_first = in_flight.contains(&file.key);
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let copy = OneCopy {
                destination: &destination,
                downloader: &downloader,
                target: &target,
                partial: &partial,
                check_first,
            };
            (index, copy.run(known, &url, api).await)
        });
    }
    let mut lines = 0usize;
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined.map_err(|error| PipelineError::WorkerStopped {
            what: "a file download".to_owned(),
            why: error.to_string(),
            outcome: "the copy stopped; run it again to resume".to_owned(),
        })?;
        let result = match result {
            Err(FetchError::Stop(error)) => {
                // What the log holds so far stays: a rerun resumes from it.
                let _ = log.sync_data();
                return Err(error);
            }
            other => other,
        };
        if let Ok(done) = &result {
            summary.bytes += done.downloaded;
        }
        let shared = sharing.remove(&index).unwrap_or_default();
        for index in std::iter::once(index).chain(shared) {
            reporter.advanced(task, 1);
            let Some(file) = manifest.files.get(index) else {
                continue;
            };
            match &result {
                Ok(done) => {
                    let line = CopiedFile {
                        url: file.url.clone(),
                        key: file.key.clone(),
                        size: done.copy.size,
                        sha256: done.copy.sha256.clone(),
                        content_type: done.copy.content_type.clone(),
                    };
                    match done.placed {
                        Placed::Written => summary.copied += 1,
                        Placed::AlreadyThere => summary.already_there += 1,
                    }
                    // A line unless the log already says exactly this.
                    if copied.get(&file.url) != Some(&line) {
                        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
                        bytes.push(b'\n');
                        log.write_all(&bytes)
                            .map_err(|error| PipelineError::io(&log_path, error))?;
                        lines += 1;
                        if lines.is_multiple_of(LOG_SYNC_EVERY) {
                            log.sync_data()
                                .map_err(|error| PipelineError::io(&log_path, error))?;
                        }
                        copied.insert(file.url.clone(), line);
                    }
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
                Err(FetchError::Stop(_)) => {}
            }
        }
        // A bucket's staging file goes once its copy is logged (a kill before leaves it: the
        // next run then checks whether its upload finished).
        if let Ok(Done {
            staged: Some(path), ..
        }) = &result
        {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(PipelineError::io(path, error)),
            }
        }
    }
    reporter.finished(task);
    destination.finish(&staging);
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
        // A private file is read through a signed URL, never a public one: it has no new URL.
        let urls = copied
            .values()
            .filter(|done| !done.key.starts_with("private/"))
            .map(|done| (done.url.clone(), format!("{base}/{}", done.key)))
            .collect();
        let path = workspace.files_dir().join("url-map.json");
        let map = UrlMap {
            base,
            destination: Some(match &options.to {
                Destination::Folder(folder) => std::path::absolute(folder)
                    .unwrap_or_else(|_| folder.clone())
                    .display()
                    .to_string(),
                other => other.describe(),
            }),
            via: options.via.clone(),
            urls,
        };
        workspace.write_json(&path, &map)?;
        summary.url_map = Some(path.display().to_string());
    }
    summary.rejected = rejects.len();
    let rejects_path = workspace.rejects_dir().join("files.jsonl");
    if options.only.is_some() {
        // The files this run did not look at keep their reject lines.
        let earlier = std::fs::read_to_string(&rejects_path).unwrap_or_default();
        rejects.extend(
            earlier
                .lines()
                .filter_map(|line| serde_json::from_str::<FileReject>(line).ok())
                .filter(|reject| !wanted(&reject.url)),
        );
    }
    rejects.sort_by(|left, right| left.url.cmp(&right.url));
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

/// The copied files the log holds, by URL, and the last line of each key; a line cut by a kill
/// (the last one) is no copy.
fn read_log(path: &Path) -> Result<(CopiedLog, CopiedLog), PipelineError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok((BTreeMap::new(), BTreeMap::new()));
        }
        Err(error) => return Err(PipelineError::io(path, error)),
    };
    let mut by_url = BTreeMap::new();
    let mut by_key = BTreeMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|error| PipelineError::io(path, error))?;
        if let Ok(done) = serde_json::from_str::<CopiedFile>(&line) {
            by_key.insert(done.key.clone(), done.clone());
            by_url.insert(done.url.clone(), done);
        }
    }
    Ok((by_url, by_key))
}

/// Lines of `files/copied.jsonl` by URL or by key.
type CopiedLog = BTreeMap<String, CopiedFile>;

/// `url`'s path and query on `origin`.
fn rehost(url: &str, origin: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.find(['/', '?']).map_or("/", |start| &rest[start..]);
    format!("{}{path}", origin.trim_end_matches('/'))
}

enum FetchError {
    Download(DownloadError),
    Sign(String),
    /// The destination or the workspace failed: the copy stops.
    Stop(PipelineError),
}

/// Files copied between two syncs of the log.
pub const LOG_SYNC_EVERY: usize = 256;

/// How long a signed URL of a private file is asked to stay valid.
const SIGNED_URL_SECONDS: u64 = 600;

/// What became of one key.
struct Done {
    copy: Fetched,
    placed: Placed,
    /// Bytes downloaded for it (0 when it was found at the destination first).
    downloaded: u64,
    /// The staging file to remove once the copy is logged (a bucket's).
    staged: Option<PathBuf>,
}

/// One key's copy: checked at the destination, else downloaded and placed there.
struct OneCopy<'a> {
    destination: &'a Destination,
    downloader: &'a Downloader,
    target: &'a Target,
    partial: &'a Path,
    /// The key was in flight when an earlier run stopped: its object may be there already.
    check_first: bool,
}

impl OneCopy<'_> {
    async fn run(
        &self,
        known: Option<Fetched>,
        url: &str,
        api: Option<offbase_base44::client::Client>,
    ) -> Result<Done, FetchError> {
        if let Some(known) = known
            && let Some(there) = self
                .destination
                .holds(self.target, known.size, &known.sha256)
                .await
                .map_err(FetchError::Stop)?
        {
            let content_type = known.content_type.or(there.content_type);
            return Ok(Done {
                copy: Fetched {
                    content_type,
                    ..known
                },
                placed: Placed::AlreadyThere,
                downloaded: 0,
                staged: None,
            });
        }
        let fetched = match api {
            // A private file is read through a URL the API signs for a while.
            Some(api) => match api.create_file_signed_url(url, SIGNED_URL_SECONDS).await {
                Ok(signed) => fetch(self.downloader, &signed, self.partial).await?,
                Err(error) => return Err(FetchError::Sign(error.to_string())),
            },
            None => fetch(self.downloader, url, self.partial).await?,
        };
        let placed = self
            .destination
            .place(self.target, self.partial, &fetched, self.check_first)
            .await
            .map_err(FetchError::Stop)?;
        Ok(Done {
            downloaded: fetched.size,
            copy: fetched,
            placed,
            staged: self
                .destination
                .staged()
                .then(|| self.partial.to_path_buf()),
        })
    }
}

/// Downloads `url` into the file `partial`: size, SHA-256, content type.
async fn fetch(downloader: &Downloader, url: &str, partial: &Path) -> Result<Fetched, FetchError> {
    if let Some(parent) = partial.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| FetchError::Stop(PipelineError::io(parent, error)))?;
    }
    let mut sink = HashingFile {
        path: partial.to_path_buf(),
        file: None,
        hasher: Sha256::new(),
        size: 0,
    };
    let downloaded = match downloader.download(url, &mut sink).await {
        Ok(downloaded) => downloaded,
        Err(error) => {
            // What came of a failed download is no copy.
            drop(sink.file.take());
            let _ = std::fs::remove_file(partial);
            return Err(FetchError::Download(error));
        }
    };
    if sink.file.take().is_none() {
        // An empty body never opened the file: an empty copy.
        File::create(partial)
            .map_err(|error| FetchError::Stop(PipelineError::io(partial, error)))?;
    }
    let sha256 = sink
        .hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(Fetched {
        size: sink.size,
        sha256,
        content_type: downloaded.content_type,
    })
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
