//! Where `files copy` puts the copies: a local folder, or an S3-compatible bucket
//! (`s3://bucket/prefix`, through the `object_store` crate). The copy loop sees one
//! [`Destination`]: it asks whether a key is already there with a given size and SHA-256
//! ([`Destination::holds`]), downloads into the partial file the destination names
//! ([`Destination::partial_path`]), then hands that file over ([`Destination::place`]).
//!
//! - **Folder**: the partial file is `<key>.offbase-partial` beside the copy, renamed into place
//!   when whole. "Already there" means a file of that size whose bytes hash to that SHA-256
//!   (hashed again).
//! - **Bucket**: the object is `<prefix>/<key>`. The download goes into a partial file in the
//!   workspace (`files/staging/<key>.offbase-partial`), then is uploaded from that file: one PUT
//!   below [`SINGLE_PUT_BELOW`], else a multipart upload read from the file in parts of
//!   [`PART_SIZE`] (more for a file over 80 GB, S3 allows 10,000 parts) with at most
//!   [`PARTS_IN_FLIGHT`] parts sent at once; once the copy is logged, the staging file is
//!   removed. Memory per file is bounded by three parts whatever its size (24 MiB; 192 MiB at
//!   worst with the default 8 files at once, all large). Streaming the body straight into a multipart
//!   upload would save the disk round trip, but a download that fails mid-body starts again from
//!   byte 0 (a [`DownloadSink`](offbase_base44::client::DownloadSink) restarts), which would mean
//!   aborting and restarting the upload, and a part must be at least 5 MiB, so the parts would
//!   sit in memory anyway; the staging file keeps the retry logic of the download untouched and
//!   costs a local write and read. Each object carries its content type (`Content-Type`, from
//!   the download) and its SHA-256 as user metadata (`x-amz-meta-sha256`), so "already there"
//!   is one HEAD: an object of that size whose `sha256` metadata is that hash; nothing is
//!   downloaded back. The staging file is removed only after the copy's log line is written,
//!   so a run killed between an upload and its log line leaves it behind: the next run takes
//!   the keys left in the staging folder as "in flight", and for those only, a HEAD after the
//!   download: an object already there with the size and hash just downloaded is not sent
//!   again. Other keys get no HEAD before their upload: on a first copy (the common case) it
//!   would be one more request per file for nothing (against moto it doubled the copy's time,
//!   `docs/performance.md`), while re-sending a file an earlier copy without this workspace's
//!   log put there costs one PUT of the same bytes.
//!
//! Settings of a bucket come from the usual AWS environment variables ([`S3Settings::from_env`]);
//! no message, `Debug` output or summary shows a secret.

use crate::PipelineError;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, ClientOptions, GetOptions, ObjectStore, PutMultipartOptions, PutOptions,
    PutPayload, WriteMultipart,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Files smaller than this go up in one PUT; larger ones in a multipart upload.
pub const SINGLE_PUT_BELOW: u64 = 8 * 1024 * 1024;
/// The part size of a multipart upload (S3's minimum is 5 MiB).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one file sent at once.
pub const PARTS_IN_FLIGHT: usize = 2;
/// The user metadata key that holds an object's SHA-256 (`x-amz-meta-sha256`).
pub const SHA256_METADATA: &str = "sha256";
/// S3's limit on the parts of one upload.
const MAX_PARTS: u64 = 10_000;

/// Where a copy writes.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A local folder: each file at `<folder>/<key>`.
    Folder(PathBuf),
    /// An S3-compatible bucket: each file at `<prefix>/<key>`.
    Bucket(Bucket),
}

impl From<PathBuf> for Destination {
    fn from(folder: PathBuf) -> Self {
        Destination::Folder(folder)
    }
}

impl From<&Path> for Destination {
    fn from(folder: &Path) -> Self {
        Destination::Folder(folder.to_path_buf())
    }
}

impl From<&PathBuf> for Destination {
    fn from(folder: &PathBuf) -> Self {
        Destination::Folder(folder.clone())
    }
}

impl From<Bucket> for Destination {
    fn from(bucket: Bucket) -> Self {
        Destination::Bucket(bucket)
    }
}

/// Settings of an S3-compatible store. `Debug` shows whether a key is set, never the key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// `https://s3.example.com`, `http://127.0.0.1:9000`; AWS's own endpoint when none.
    pub endpoint: Option<String>,
    /// `us-east-1` when none.
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |value: &Option<String>| if value.is_some() { "set" } else { "unset" };
        formatter
            .debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &set(&self.access_key_id))
            .field("secret_access_key", &set(&self.secret_access_key))
            .field("session_token", &set(&self.session_token))
            .finish()
    }
}

impl S3Settings {
    /// From the environment: `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` (else
    /// `AWS_ENDPOINT`); `AWS_REGION`, else `AWS_DEFAULT_REGION`; `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`. An empty variable counts as unset.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        S3Settings {
            endpoint: var("AWS_ENDPOINT_URL_S3")
                .or_else(|| var("AWS_ENDPOINT_URL"))
                .or_else(|| var("AWS_ENDPOINT")),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
        }
    }
}

/// A bucket and a prefix in an S3-compatible store. Cheap to clone.
#[derive(Clone)]
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    /// Without a leading or trailing `/`; empty for the bucket's root.
    prefix: String,
    /// What an error message must never show (the secret key, the session token).
    secrets: Arc<[String]>,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Bucket({})", self.url())
    }
}

impl Bucket {
    /// `s3://bucket` or `s3://bucket/prefix`, reached with `settings`. Nothing is sent yet.
    pub fn open(url: &str, settings: &S3Settings) -> Result<Self, PipelineError> {
        let invalid = |message: &str| PipelineError::ObjectStore {
            location: url.to_owned(),
            action: "reading the destination".to_owned(),
            message: message.to_owned(),
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| invalid("an S3 destination is s3://bucket/prefix"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'.' | b'-')
            });
        if !bucket_ok {
            return Err(invalid(
                "the bucket name must be 3 to 63 lowercase letters, digits, dots or hyphens (s3://bucket/prefix)",
            ));
        }
        if !prefix.is_empty() && !plain_key(prefix) {
            return Err(invalid(
                "the prefix must be a plain path (no empty, `.` or `..` segment, no backslash)",
            ));
        }
        let (store, secrets) = s3_store(bucket, settings).map_err(|message| invalid(&message))?;
        Ok(Bucket {
            store,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            secrets: secrets.into(),
        })
    }

    /// `s3://bucket/prefix`: what a summary shows.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    /// The object's name in the bucket: the prefix, `/`, the key.
    pub fn object_name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    fn object_path(&self, key: &str) -> Option<ObjectPath> {
        if !plain_key(key) {
            return None;
        }
        ObjectPath::parse(self.object_name(key)).ok()
    }

    fn error(
        &self,
        path: &ObjectPath,
        action: &str,
        error: &dyn std::fmt::Display,
    ) -> PipelineError {
        PipelineError::ObjectStore {
            location: format!("s3://{}/{path}", self.bucket),
            action: action.to_owned(),
            message: scrub(&error.to_string(), &self.secrets),
        }
    }

    /// An upload refused as "not found": the bucket is missing, which the message says first.
    fn upload_error(
        &self,
        path: &ObjectPath,
        action: &str,
        error: &object_store::Error,
    ) -> PipelineError {
        match error {
            object_store::Error::NotFound { .. } => self.error(
                path,
                action,
                &format!(
                    "the bucket {} does not exist (create it first, or check AWS_ENDPOINT_URL and AWS_REGION): {error}",
                    self.bucket
                ),
            ),
            _ => self.error(path, action, error),
        }
    }

    /// The object's size, `sha256` metadata and content type; `None` when there is no object.
    async fn head(&self, path: &ObjectPath) -> Result<Option<ObjectFacts>, PipelineError> {
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        match self.store.get_opts(path, options).await {
            Ok(found) => Ok(Some(ObjectFacts {
                size: found.meta.size,
                sha256: found
                    .attributes
                    .get(&Attribute::Metadata(SHA256_METADATA.into()))
                    .map(|value| value.to_string()),
                content_type: found
                    .attributes
                    .get(&Attribute::ContentType)
                    .map(|value| value.to_string()),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(self.error(path, "reading the object's metadata (HEAD)", &error)),
        }
    }

    /// Uploads the `size` bytes of `file` to `path` with its hash and content type.
    async fn upload(
        &self,
        path: &ObjectPath,
        file: &Path,
        copy: &Fetched,
    ) -> Result<(), PipelineError> {
        let mut attributes = Attributes::new();
        attributes.insert(
            Attribute::Metadata(SHA256_METADATA.into()),
            copy.sha256.clone().into(),
        );
        if let Some(content_type) = &copy.content_type {
            attributes.insert(Attribute::ContentType, content_type.clone().into());
        }
        let mut reader = tokio::fs::File::open(file)
            .await
            .map_err(|error| PipelineError::io(file, error))?;
        if copy.size < SINGLE_PUT_BELOW {
            let mut bytes = Vec::with_capacity(usize::try_from(copy.size).unwrap_or(0));
            reader
                .read_to_end(&mut bytes)
                .await
                .map_err(|error| PipelineError::io(file, error))?;
            let options = PutOptions {
                attributes,
                ..PutOptions::default()
            };
            self.store
                .put_opts(path, PutPayload::from(bytes), options)
                .await
                .map_err(|error| self.upload_error(path, "uploading", &error))?;
            return Ok(());
        }
        let options = PutMultipartOptions {
            attributes,
            ..PutMultipartOptions::default()
        };
        let upload = self
            .store
            .put_multipart_opts(path, options)
            .await
            .map_err(|error| self.upload_error(path, "starting a multipart upload", &error))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, part_size(copy.size));
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let read = match reader.read(&mut buffer).await {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) => {
                    let _ = writer.abort().await;
                    return Err(PipelineError::io(file, error));
                }
            };
            // At most PARTS_IN_FLIGHT parts on the way, one filling: memory stays bounded.
            if let Err(error) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await;
                return Err(self.error(path, "uploading a part", &error));
            }
            writer.write(&buffer[..read]);
        }
        // `finish` aborts the upload itself when a part or the completion fails.
        writer
            .finish()
            .await
            .map_err(|error| self.error(path, "completing the multipart upload", &error))?;
        Ok(())
    }
}

/// What a HEAD tells of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ObjectFacts {
    size: u64,
    sha256: Option<String>,
    content_type: Option<String>,
}

/// A downloaded file: its size, SHA-256 (hex) and content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fetched {
    pub size: u64,
    pub sha256: String,
    pub content_type: Option<String>,
}

/// A key's place at the destination, its key checked.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    File(PathBuf),
    Object { path: ObjectPath, key: String },
}

/// A copy found at the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    /// The object's content type (a bucket's); `None` for a folder.
    pub content_type: Option<String>,
}

/// What [`Destination::place`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placed {
    /// The copy was written.
    Written,
    /// The destination already held these bytes; nothing was sent.
    AlreadyThere,
}

impl Destination {
    /// `--to`: `s3://bucket/prefix` (settings from the AWS environment variables) or a folder.
    /// Another scheme (`gs://`, `https://`) is refused rather than taken for a folder.
    pub fn from_argument(to: &Path) -> Result<Self, PipelineError> {
        let Some(text) = to.to_str() else {
            return Ok(Destination::Folder(to.to_path_buf()));
        };
        if text.starts_with("s3://") {
            return Ok(Destination::Bucket(Bucket::open(
                text,
                &S3Settings::from_env(),
            )?));
        }
        if let Some((scheme, _)) = text.split_once("://")
            && !scheme.is_empty()
            && scheme.bytes().all(|byte| byte.is_ascii_alphanumeric())
        {
            return Err(PipelineError::ObjectStore {
                location: text.to_owned(),
                action: "reading the destination".to_owned(),
                message: format!(
                    "{scheme}:// is not supported: give a folder or s3://bucket/prefix (any S3-compatible store, with AWS_ENDPOINT_URL)"
                ),
            });
        }
        Ok(Destination::Folder(to.to_path_buf()))
    }

    /// What a summary shows: the folder, or `s3://bucket/prefix` (never a secret).
    pub fn describe(&self) -> String {
        match self {
            Destination::Folder(folder) => folder.display().to_string(),
            Destination::Bucket(bucket) => bucket.url(),
        }
    }

    /// Where `key` goes; `None` for a key that is not a plain relative path.
    pub(crate) fn target(&self, key: &str) -> Option<Target> {
        match self {
            Destination::Folder(folder) => destination_path(folder, key).map(Target::File),
            Destination::Bucket(bucket) => bucket.object_path(key).map(|path| Target::Object {
                path,
                key: key.to_owned(),
            }),
        }
    }

    /// Where the download of `target` goes before [`Destination::place`].
    pub(crate) fn partial_path(&self, target: &Target, staging: &Path) -> PathBuf {
        let whole = match target {
            Target::File(path) => path.clone(),
            Target::Object { key, .. } => staging.join(key),
        };
        PathBuf::from(format!("{}.offbase-partial", whole.display()))
    }

    /// Before a copy: a bucket's staging folder is emptied. The keys it held a file for are
    /// returned: their downloads were under way when an earlier run stopped, so their upload may
    /// have finished without its log line (the staging file is removed only after the line).
    pub(crate) fn prepare(&self, staging: &Path) -> Result<BTreeSet<String>, PipelineError> {
        let mut in_flight = BTreeSet::new();
        if matches!(self, Destination::Bucket(_)) {
            let mut folders = vec![staging.to_path_buf()];
            while let Some(folder) = folders.pop() {
                let entries = match std::fs::read_dir(&folder) {
                    Ok(entries) => entries,
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(error) => return Err(PipelineError::io(&folder, error)),
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                        folders.push(path);
                    } else if let Some(key) = path
                        .strip_prefix(staging)
                        .ok()
                        .and_then(Path::to_str)
                        .and_then(|name| name.strip_suffix(".offbase-partial"))
                    {
                        in_flight.insert(key.replace(std::path::MAIN_SEPARATOR, "/"));
                    }
                }
            }
            match std::fs::remove_dir_all(staging) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(PipelineError::io(staging, error)),
            }
        }
        Ok(in_flight)
    }

    /// Whether a placed download leaves its partial file in the staging folder (a bucket's).
    pub(crate) fn staged(&self) -> bool {
        matches!(self, Destination::Bucket(_))
    }

    /// After a copy: the staging folder goes (best effort: what is left is emptied next time).
    pub(crate) fn finish(&self, staging: &Path) {
        if matches!(self, Destination::Bucket(_)) {
            let _ = std::fs::remove_dir_all(staging);
        }
    }

    /// Whether `target` is there with `size` bytes hashing to `sha256`. A folder's file is hashed again; an
    /// object's `sha256` metadata is read with a HEAD.
    pub(crate) async fn holds(
        &self,
        target: &Target,
        size: u64,
        sha256: &str,
    ) -> Result<Option<Held>, PipelineError> {
        match (self, target) {
            (Destination::Bucket(bucket), Target::Object { path, .. }) => {
                Ok(bucket.head(path).await?.and_then(|facts| {
                    (facts.size == size && facts.sha256.as_deref() == Some(sha256)).then_some(
                        Held {
                            content_type: facts.content_type,
                        },
                    )
                }))
            }
            (_, Target::File(path)) => {
                let path = path.clone();
                let sha256 = sha256.to_owned();
                let same = tokio::task::spawn_blocking(move || {
                    std::fs::metadata(&path).is_ok_and(|metadata| metadata.len() == size)
                        && crate::workspace::sha256_file(&path).is_ok_and(|hash| hash == sha256)
                })
                .await
                .unwrap_or(false);
                Ok(same.then_some(Held { content_type: None }))
            }
            (Destination::Folder(_), Target::Object { .. }) => Ok(None),
        }
    }

    /// Puts the whole download `partial` (`copy` says what it is) at `target`. A folder's
    /// partial file is renamed into place; a bucket's is uploaded and left for the caller to
    /// remove once the copy is logged ([`Destination::staged`]). With `check_first` (a key that
    /// was in flight when an earlier run stopped), an object already there with that size and
    /// hash is not uploaded again.
    pub(crate) async fn place(
        &self,
        target: &Target,
        partial: &Path,
        copy: &Fetched,
        check_first: bool,
    ) -> Result<Placed, PipelineError> {
        match (self, target) {
            (Destination::Bucket(bucket), Target::Object { path, .. }) => {
                if check_first
                    && bucket.head(path).await?.is_some_and(|facts| {
                        facts.size == copy.size
                            && facts.sha256.as_deref() == Some(copy.sha256.as_str())
                    })
                {
                    return Ok(Placed::AlreadyThere);
                }
                bucket.upload(path, partial, copy).await?;
                Ok(Placed::Written)
            }
            (_, Target::File(path)) => {
                std::fs::rename(partial, path).map_err(|error| PipelineError::io(path, error))?;
                Ok(Placed::Written)
            }
            (Destination::Folder(folder), Target::Object { key, .. }) => {
                Err(PipelineError::Workspace {
                    path: folder.clone(),
                    message: format!(
                        "{key}: an object target given to a folder destination (a bug in offbase)"
                    ),
                })
            }
        }
    }
}

/// The S3-compatible store of `bucket` reached with `settings` (the copy's destination and
/// `offbase serve`'s files bucket alike), and the secrets no message about it may show (the
/// secret key, the session token). Nothing is sent yet. The error is the store's message,
/// already scrubbed.
pub fn s3_store(
    bucket: &str,
    settings: &S3Settings,
) -> Result<(Arc<dyn ObjectStore>, Vec<String>), String> {
    let endpoint = settings.endpoint.as_deref();
    let client = ClientOptions::new()
        // A part of 8 MiB on a slow link: generous, the store's retries come on top.
        .with_timeout(Duration::from_secs(300))
        .with_connect_timeout(Duration::from_secs(10))
        .with_allow_http(endpoint.is_some_and(|endpoint| endpoint.starts_with("http://")));
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(settings.region.as_deref().unwrap_or("us-east-1"))
        .with_client_options(client);
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(key) = &settings.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &settings.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    if let Some(token) = &settings.session_token {
        builder = builder.with_token(token);
    }
    let secrets: Vec<String> = [&settings.secret_access_key, &settings.session_token]
        .into_iter()
        .flatten()
        .filter(|secret| secret.len() >= 4)
        .cloned()
        .collect();
    match builder.build() {
        Ok(store) => Ok((Arc::new(store), secrets)),
        Err(error) => Err(scrub(&error.to_string(), &secrets)),
    }
}

/// A key that is a plain relative path: no empty, `.` or `..` segment, no leading `/`, no
/// backslash, no control character.
pub(crate) fn plain_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('/')
        && !key.contains('\\')
        && !key.chars().any(char::is_control)
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// Where a key's copy goes below `to`; `None` for a key that is not a plain relative path.
pub(crate) fn destination_path(to: &Path, key: &str) -> Option<PathBuf> {
    plain_key(key).then(|| to.join(key))
}

/// The part size for a file of `size` bytes: [`PART_SIZE`], or more when 10,000 parts of it
/// would not hold the file.
fn part_size(size: u64) -> usize {
    let needed = size.div_ceil(MAX_PARTS).div_ceil(1 << 20) << 20;
    usize::try_from(needed).unwrap_or(usize::MAX).max(PART_SIZE)
}

/// `text` with every secret replaced.
fn scrub(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_owned(), |text, secret| {
        text.replace(secret.as_str(), "***")
    })
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
        for key in [
            "",
            "/etc/passwd",
            "public/../x",
            "public//x",
            "a\\b",
            "./x",
            "a\nb",
        ] {
            assert_eq!(destination_path(to, key), None, "{key:?}");
        }
    }

    fn settings() -> S3Settings {
        S3Settings {
            endpoint: Some("http://127.0.0.1:9".to_owned()),
            region: Some("eu-west-3".to_owned()),
            access_key_id: Some("AKIAEXAMPLE".to_owned()),
            secret_access_key: Some("s3cr3t-Key-Value".to_owned()),
            session_token: Some("t0ken-Value".to_owned()),
        }
    }

    #[test]
    fn a_bucket_url_gives_the_bucket_the_prefix_and_object_names() {
        let bucket = Bucket::open("s3://my-bucket/some/prefix/", &settings())
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(bucket.url(), "s3://my-bucket/some/prefix");
        assert_eq!(
            bucket.object_name("private/ab_c.pdf"),
            "some/prefix/private/ab_c.pdf"
        );
        let root =
            Bucket::open("s3://my-bucket", &settings()).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(root.url(), "s3://my-bucket");
        assert_eq!(root.object_name("public/a.png"), "public/a.png");
        let destination = Destination::Bucket(bucket);
        assert!(destination.target("public/../x").is_none());
        assert!(destination.target("public/a b%20(1).png").is_some());
        // Neither the summary nor Debug shows a secret.
        for shown in [
            destination.describe(),
            format!("{destination:?}"),
            format!("{:?}", settings()),
        ] {
            assert!(
                !shown.contains("s3cr3t") && !shown.contains("t0ken"),
                "{shown}"
            );
        }
    }

    #[test]
    fn bad_destinations_are_refused() {
        for url in ["s3://", "s3://AB", "s3://bucket/a/../b", "s3://b_ad/x"] {
            assert!(Bucket::open(url, &settings()).is_err(), "{url}");
        }
        assert!(Destination::from_argument(Path::new("gs://bucket/x")).is_err());
        assert!(matches!(
            Destination::from_argument(Path::new("./copies")),
            Ok(Destination::Folder(_))
        ));
    }

    #[test]
    fn parts_grow_only_for_files_over_eighty_gigabytes() {
        assert_eq!(part_size(0), PART_SIZE);
        assert_eq!(part_size(2 << 30), PART_SIZE);
        let huge = 200u64 << 30;
        let part = part_size(huge) as u64;
        assert!(
            part * MAX_PARTS >= huge && part > PART_SIZE as u64,
            "{part}"
        );
    }

    #[test]
    fn secrets_are_scrubbed_from_messages() {
        let secrets: Vec<String> = vec!["s3cr3t".to_owned()];
        assert_eq!(scrub("bad key s3cr3t here", &secrets), "bad key *** here");
    }
}
