//! Files: the `Core.UploadFile`, `Core.UploadPrivateFile` and `Core.CreateFileSignedUrl`
//! integrations, and the files served back, with storage the app owns (`--files-dir`).
//!
//! Storage is a folder, or an S3-compatible bucket (`s3://bucket/prefix`, settings from the
//! AWS environment variables as for `offbase files copy`). Keys are the layout `files copy`
//! writes, so a folder it filled serves its copies too:
//! - `public/<app_id>/<9hex>_<name>`: an upload of `UploadFile`, answered as
//!   `{"file_url": "<files public URL>/public/<app_id>/<9hex>_<name>"}`. The files public URL
//!   is `--files-public-url` (a CDN or a public bucket in front of the storage, as the `files
//!   copy --public-url` of the same storage), by default this server's own `/files`, which it
//!   then serves: `GET /files/public/...`, streamed, the content type by extension;
//! - `private/<app_id>/<9hex>_<name>`: an upload of `UploadPrivateFile`, answered as
//!   `{"file_uri": "private/<app_id>/<9hex>_<name>"}`. Only `GET /files/private/...` with the
//!   `expires` and `signature` that `CreateFileSignedUrl` gives reads it: `{file_uri,
//!   expires_in}` → `{"signed_url": "<server>/files/private/<key>?expires=<s>&signature=..."}`,
//!   an HMAC-SHA256 of the key and the expiry under the server's token secret (see
//!   `--token-secret-env`: with a random secret, signed URLs end with the process).
//!   `expires_in` is seconds (default 300, at most 7 days). A `file_uri` of the platform's
//!   (`private/uploads/...`) names the copy `files copy` made of it (`private/<hash>_<name>`).
//!
//! `<name>` is the uploaded file name made plain: ASCII letters, digits, `.`, `-` and `_`
//! kept, any other run of characters one `_`, no leading dot, at most 100 characters with the
//! extension kept (`file` when nothing is left); `<9hex>` is random. No file name, however
//! hostile, becomes a path: a key is checked to be a plain relative path before any use, and a
//! folder's file is read only when its real location is inside the folder.
//!
//! The SDK sends `UploadFile({file})` as `multipart/form-data`, the file in a part named
//! `file`. The part is streamed to storage as it arrives, never whole in memory: into
//! `<key>.offbase-partial` beside the folder's copy (renamed into place when whole), or into a
//! bucket in one PUT below 8 MiB, else a multipart upload of 8 MiB parts, two in flight. A file
//! over `--files-max-mb` is refused with 413 (what was written is removed; the rest of the
//! request is read and dropped, up to as much again, so the client reads the answer).
//!
//! Who may upload or sign: the service key or a signed-in user (as the emulator decides: an
//! anonymous visitor is refused with 401, so the server is no open file host). Public files
//! are read by anyone; private ones by whoever holds an unexpired signed URL.
//!
//! Files served carry `X-Content-Type-Options: nosniff` and `Content-Security-Policy:
//! sandbox`: an uploaded HTML or SVG file opened from the app's origin runs no script there.
//! Without `--files-dir` the three integrations answer 501 naming it.

use crate::caller::{self, Caller, Credentials};
use crate::error::{ApiError, ServeError, json_response};
use crate::routes::{AppState, SharedState, connection};
use crate::token::same_bytes;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, ObjectStoreExt, PutMultipartOptions,
    PutOptions, PutPayload, WriteMultipart,
};
use offbase_pg::serve::Access;
use offbase_pipeline::files::storage::{Destination, S3Settings};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;

/// The default of [`FilesSettings::max_upload_bytes`]: 100 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;
/// `expires_in` of `CreateFileSignedUrl` when none is given.
const DEFAULT_EXPIRES_IN: u64 = 300;
/// The longest a signed URL lasts.
const MAX_EXPIRES_IN: u64 = 7 * 24 * 60 * 60;
/// The multipart part that holds the file (the SDK's `UploadFile({file})`).
const FILE_FIELD: &str = "file";
/// How long a kept file name may be.
const MAX_NAME: usize = 100;
/// What a folder's upload is written to until whole.
const PARTIAL: &str = ".offbase-partial";
/// A bucket upload below this goes up in one PUT; larger ones in parts of this size.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one upload sent at once.
const PARTS_IN_FLIGHT: usize = 2;

/// Where `offbase serve` keeps uploads and serves files from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesSettings {
    /// A folder, or `s3://bucket/prefix` (an S3-compatible bucket reached with the AWS
    /// environment variables).
    pub dir: PathBuf,
    /// The URL the storage's keys are served under (`https://cdn.example.com/my-app`): a
    /// `file_url` is this, `/`, the key. `None`: this server's own `/files`, which it serves.
    pub public_url: Option<String>,
    /// The largest file an upload may have, in bytes.
    pub max_upload_bytes: u64,
    /// How an `s3://` `dir` is reached; `None`: from the AWS environment variables
    /// ([`S3Settings::from_env`]).
    pub s3: Option<S3Settings>,
}

impl FilesSettings {
    /// Uploads kept in `dir`, served by this server, at most [`DEFAULT_MAX_UPLOAD_BYTES`] each.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FilesSettings {
            dir: dir.into(),
            public_url: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            s3: None,
        }
    }
}

/// The running server's files: where they are kept and the URLs they are given.
#[derive(Debug)]
pub(crate) struct Files {
    storage: Storage,
    /// Without a trailing `/`: a key is appended.
    public_base: String,
    /// This server's own origin (signed URLs point here).
    own_base: String,
    max_upload: u64,
}

enum Storage {
    /// Canonical.
    Folder(PathBuf),
    Bucket(BucketStore),
}

impl fmt::Debug for Storage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Storage::Folder(folder) => write!(formatter, "Folder({})", folder.display()),
            Storage::Bucket(bucket) => write!(formatter, "Bucket({})", bucket.url),
        }
    }
}

/// A bucket and a prefix in an S3-compatible store.
struct BucketStore {
    store: Arc<dyn ObjectStore>,
    /// `s3://bucket/prefix`, for messages.
    url: String,
    /// Without a leading or trailing `/`; empty for the bucket's root.
    prefix: String,
    /// What a message must never show.
    secrets: Vec<String>,
}

impl Files {
    /// The storage of `settings` (a folder is created when missing) for `app_id`, signed URLs
    /// pointing at `own_base` (this server's origin).
    pub(crate) async fn open(
        settings: &FilesSettings,
        app_id: &str,
        own_base: &str,
    ) -> Result<Self, ServeError> {
        if !plain_segment(app_id) {
            return Err(ServeError::InvalidConfig(format!(
                "the app id {app_id:?} cannot name a folder of files: give a plain one with \
                 --app-id"
            )));
        }
        if settings.max_upload_bytes == 0 {
            return Err(ServeError::InvalidConfig(
                "the largest upload is 0 bytes: give a positive size".to_owned(),
            ));
        }
        let storage = match Destination::from_argument(&settings.dir)? {
            Destination::Folder(folder) => tokio::fs::create_dir_all(&folder)
                .await
                .and_then(|()| std::fs::canonicalize(&folder))
                .map(Storage::Folder)
                .map_err(|error| {
                    ServeError::InvalidConfig(format!(
                        "the files folder {} cannot be used: {error}",
                        folder.display()
                    ))
                })?,
            Destination::Bucket(bucket) => {
                let settings = settings.s3.clone().unwrap_or_else(S3Settings::from_env);
                Storage::Bucket(BucketStore::open(&bucket.url(), &settings)?)
            }
        };
        let own_base = own_base.trim_end_matches('/').to_owned();
        let public_base = match &settings.public_url {
            Some(url) => {
                let url = url.trim().trim_end_matches('/');
                let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
                if !scheme_ok || url.contains(['?', '#', ' ']) {
                    return Err(ServeError::InvalidConfig(format!(
                        "the files public URL {url:?} is not an http or https URL such as \
                         https://cdn.example.com/my-app"
                    )));
                }
                url.to_owned()
            }
            None => format!("{own_base}/files"),
        };
        Ok(Files {
            storage,
            public_base,
            own_base,
            max_upload: settings.max_upload_bytes,
        })
    }
}

/// The routes of files: the three integrations (their size bounded here, not by the default
/// body limit) and the files served.
pub(crate) fn router() -> Router<SharedState> {
    let core = "/api/apps/{app_id}/integration-endpoints/Core";
    Router::new()
        .route(
            &format!("{core}/UploadFile"),
            post(upload_file).layer(DefaultBodyLimit::disable()),
        )
        .route(
            &format!("{core}/UploadPrivateFile"),
            post(upload_private_file).layer(DefaultBodyLimit::disable()),
        )
        .route(&format!("{core}/CreateFileSignedUrl"), post(signed_url))
        .route("/files/public/{*key}", get(public_file))
        .route("/files/private/{*key}", get(private_file))
}

/// Public or private.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visibility {
    Public,
    Private,
}

impl Visibility {
    fn folder(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
}

fn not_configured(what: &str) -> Response {
    ApiError::not_served(format!(
        "{what} is not served: start `offbase serve` with --files-dir DIR (a folder, or \
         s3://bucket/prefix) to keep uploads and serve files"
    ))
    .into_response()
}

/// `POST .../integration-endpoints/Core/UploadFile`: `{"file_url": ...}`.
async fn upload_file(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    upload(&state, &app_id, &headers, request, Visibility::Public).await
}

/// `POST .../integration-endpoints/Core/UploadPrivateFile`: `{"file_uri": ...}`.
async fn upload_private_file(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    upload(&state, &app_id, &headers, request, Visibility::Private).await
}

async fn upload(
    state: &AppState,
    app_id: &str,
    headers: &HeaderMap,
    request: Request,
    visibility: Visibility,
) -> Response {
    let Some(files) = &state.files else {
        return not_configured("UploadFile");
    };
    if let Err(error) = allowed(state, app_id, headers, "uploading a file").await {
        return error.into_response();
    }
    let mut multipart = match Multipart::from_request(request, &()).await {
        Ok(multipart) => multipart,
        Err(_) => {
            return ApiError::bad_request(
                "an upload is `multipart/form-data` with the file in a part named `file` (the \
                 SDK's `UploadFile({file})`)",
            )
            .into_response();
        }
    };
    let mut field = loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some(FILE_FIELD) || field.file_name().is_some() => {
                break field;
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                return ApiError::bad_request(
                    "the upload has no file: send it in a multipart part named `file`",
                )
                .into_response();
            }
            Err(error) => return malformed(&error).into_response(),
        }
    };
    let name = safe_file_name(field.file_name().unwrap_or(FILE_FIELD));
    let key = format!(
        "{}/{}/{}_{name}",
        visibility.folder(),
        state.app_id,
        random_hex9()
    );
    if !plain_key(&key) {
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{key}: not a plain key (a bug in offbase)"),
        )
        .into_response();
    }
    match store(files, &key, &mut field).await {
        Ok(()) => {}
        Err(Refusal::TooLarge) => {
            drop(field);
            drain(&mut multipart, files.max_upload).await;
            return too_large(files.max_upload);
        }
        Err(Refusal::Error(error)) => return error.into_response(),
    }
    let body = match visibility {
        Visibility::Public => json!({ "file_url": format!("{}/{key}", files.public_base) }),
        Visibility::Private => json!({ "file_uri": key }),
    };
    json_response(StatusCode::OK, &body)
}

/// 404 for another app; 401 unless the caller is the service key or a signed-in user.
async fn allowed(
    state: &AppState,
    app_id: &str,
    headers: &HeaderMap,
    doing: &str,
) -> Result<(), ApiError> {
    if app_id != state.app_id {
        return Err(ApiError::not_found(format!("app `{app_id}` not found")));
    }
    let credentials = state.credentials(headers);
    match &credentials {
        Credentials::Service => Ok(()),
        Credentials::Nothing => Err(caller::unauthorized(format!(
            "{doing} needs a signed-in user's token or the service key"
        ))),
        Credentials::Invalid | Credentials::Token(_) => {
            // Checked as every request is: the token's signature, its user, not disabled.
            let mut connection = connection(state).await?;
            let request =
                caller::begin(state, &mut connection, &credentials, Access::ReadOnly).await?;
            match request.caller {
                Caller::Service | Caller::User(_) => Ok(()),
                Caller::Anonymous => Err(caller::unauthorized(format!(
                    "{doing} needs a signed-in user's token or the service key"
                ))),
            }
        }
    }
}

fn malformed(error: &MultipartError) -> ApiError {
    ApiError::new(
        error.status(),
        format!("the multipart body cannot be read: {}", error.body_text()),
    )
}

/// Why an upload was not kept.
enum Refusal {
    TooLarge,
    Error(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal::Error(error)
    }
}

/// Streams `field` to `key`: whole, or nothing left behind.
async fn store(files: &Files, key: &str, field: &mut Field<'_>) -> Result<(), Refusal> {
    let max = files.max_upload;
    let mut written = 0u64;
    let mut sink = Sink::start(&files.storage, key).await?;
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(error) => {
                sink.abort().await;
                return Err(malformed(&error).into());
            }
        };
        written = written.saturating_add(chunk.len() as u64);
        if written > max {
            sink.abort().await;
            return Err(Refusal::TooLarge);
        }
        if let Err(error) = sink.write(chunk).await {
            sink.abort().await;
            return Err(error.into());
        }
    }
    sink.finish(key).await.map_err(Refusal::Error)
}

/// Reads and drops the rest of a refused request, up to `limit` more bytes, so the client
/// gets to read the answer (a server closing a socket with unread data resets it).
async fn drain(multipart: &mut Multipart, limit: u64) {
    let mut dropped = 0u64;
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(chunk)) = field.chunk().await {
            dropped = dropped.saturating_add(chunk.len() as u64);
            if dropped > limit {
                return;
            }
        }
    }
}

/// 413, closing the connection.
fn too_large(max: u64) -> Response {
    let mut response = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the file is larger than the {max} bytes an upload may have (--files-max-mb of \
             `offbase serve`)"
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn storage_error(action: &str, error: &dyn fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("{action}: {error}"),
    )
}

/// Where an upload's bytes go while they arrive.
enum Sink<'a> {
    File {
        partial: PathBuf,
        target: PathBuf,
        file: tokio::fs::File,
    },
    Buffered {
        bucket: &'a BucketStore,
        path: ObjectPath,
        buffer: Vec<u8>,
    },
    Parts {
        bucket: &'a BucketStore,
        path: ObjectPath,
        writer: Box<WriteMultipart>,
    },
}

impl<'a> Sink<'a> {
    async fn start(storage: &'a Storage, key: &str) -> Result<Sink<'a>, ApiError> {
        match storage {
            Storage::Folder(root) => {
                let target = root.join(key);
                let partial = PathBuf::from(format!("{}{PARTIAL}", target.display()));
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(|error| {
                        storage_error(&format!("creating {}", parent.display()), &error)
                    })?;
                }
                let file = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&partial)
                    .await
                    .map_err(|error| {
                        storage_error(&format!("creating {}", partial.display()), &error)
                    })?;
                Ok(Sink::File {
                    partial,
                    target,
                    file,
                })
            }
            Storage::Bucket(bucket) => Ok(Sink::Buffered {
                bucket,
                path: bucket.path(key)?,
                buffer: Vec::new(),
            }),
        }
    }

    async fn write(&mut self, chunk: Bytes) -> Result<(), ApiError> {
        match self {
            Sink::File { file, partial, .. } => file
                .write_all(&chunk)
                .await
                .map_err(|error| storage_error(&format!("writing {}", partial.display()), &error)),
            Sink::Buffered {
                bucket,
                path,
                buffer,
            } => {
                if buffer.len() + chunk.len() <= PART_SIZE {
                    buffer.extend_from_slice(&chunk);
                    return Ok(());
                }
                let bucket: &'a BucketStore = bucket;
                // Too large for one PUT: a multipart upload, the buffer its first bytes.
                let options = PutMultipartOptions {
                    attributes: attributes(path.as_ref()),
                    ..PutMultipartOptions::default()
                };
                let upload = bucket
                    .store
                    .put_multipart_opts(path, options)
                    .await
                    .map_err(|error| bucket.error(path, "starting a multipart upload", &error))?;
                let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
                writer.write(buffer);
                writer.write(&chunk);
                let path = path.clone();
                *self = Sink::Parts {
                    bucket,
                    path,
                    writer: Box::new(writer),
                };
                Ok(())
            }
            Sink::Parts {
                bucket,
                path,
                writer,
            } => {
                // At most PARTS_IN_FLIGHT parts on the way, one filling: memory stays bounded.
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(|error| bucket.error(path, "uploading a part", &error))?;
                writer.write(&chunk);
                Ok(())
            }
        }
    }

    async fn finish(self, key: &str) -> Result<(), ApiError> {
        match self {
            Sink::File {
                partial,
                target,
                mut file,
            } => {
                let done = async {
                    file.flush().await?;
                    file.sync_all().await?;
                    drop(file);
                    tokio::fs::rename(&partial, &target).await
                };
                if let Err(error) = done.await {
                    let _ = tokio::fs::remove_file(&partial).await;
                    return Err(storage_error(&format!("keeping {key}"), &error));
                }
                Ok(())
            }
            Sink::Buffered {
                bucket,
                path,
                buffer,
            } => {
                let options = PutOptions {
                    attributes: attributes(path.as_ref()),
                    ..PutOptions::default()
                };
                bucket
                    .store
                    .put_opts(&path, PutPayload::from(buffer), options)
                    .await
                    .map_err(|error| bucket.error(&path, "uploading", &error))?;
                Ok(())
            }
            Sink::Parts {
                bucket,
                path,
                writer,
            } => {
                // `finish` aborts the upload itself when a part or the completion fails.
                writer.finish().await.map_err(|error| {
                    bucket.error(&path, "completing the multipart upload", &error)
                })?;
                Ok(())
            }
        }
    }

    /// Leaves nothing behind (best effort).
    async fn abort(self) {
        match self {
            Sink::File { partial, file, .. } => {
                drop(file);
                let _ = tokio::fs::remove_file(&partial).await;
            }
            Sink::Buffered { .. } => {}
            Sink::Parts { writer, .. } => {
                let _ = writer.abort().await;
            }
        }
    }
}

/// An object's content type, from its name.
fn attributes(name: &str) -> Attributes {
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::ContentType, content_type(name).into());
    attributes
}

impl BucketStore {
    /// `s3://bucket` or `s3://bucket/prefix` (already checked by the pipeline's
    /// [`Destination`]), reached with `settings`. Nothing is sent yet.
    fn open(url: &str, settings: &S3Settings) -> Result<Self, ServeError> {
        let rest = url.strip_prefix("s3://").unwrap_or(url);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let endpoint = settings.endpoint.as_deref();
        let client = ClientOptions::new()
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
        let store = builder.build().map_err(|error| {
            ServeError::InvalidConfig(format!(
                "the files bucket {url}: {}",
                scrub(&error.to_string(), &secrets)
            ))
        })?;
        Ok(BucketStore {
            store: Arc::new(store),
            url: url.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            secrets,
        })
    }

    fn path(&self, key: &str) -> Result<ObjectPath, ApiError> {
        let name = if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        };
        ObjectPath::parse(&name).map_err(|error| storage_error(&format!("the key {key}"), &error))
    }

    fn error(&self, path: &ObjectPath, action: &str, error: &dyn fmt::Display) -> ApiError {
        let bucket = self
            .url
            .strip_prefix("s3://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "s3://{bucket}/{path}: {action}: {}",
                scrub(&error.to_string(), &self.secrets)
            ),
        )
    }
}

fn scrub(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_owned(), |text, secret| {
        text.replace(secret.as_str(), "***")
    })
}

/// `POST .../integration-endpoints/Core/CreateFileSignedUrl` with `{file_uri, expires_in}`:
/// `{"signed_url": ...}`.
async fn signed_url(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(files) = &state.files else {
        return not_configured("CreateFileSignedUrl");
    };
    if let Err(error) = allowed(&state, &app_id, &headers, "signing a file URL").await {
        return error.into_response();
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return ApiError::bad_request(format!("the body is not JSON: {error}")).into_response();
        }
    };
    let Some(file_uri) = request
        .get("file_uri")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|uri| !uri.is_empty())
    else {
        return ApiError::bad_request("`file_uri` is required").into_response();
    };
    let expires_in = match request.get("expires_in") {
        None | Some(Value::Null) => DEFAULT_EXPIRES_IN,
        Some(value) => match value.as_u64() {
            Some(seconds) => seconds.min(MAX_EXPIRES_IN),
            None => {
                return ApiError::bad_request(
                    "`expires_in` is a whole number of seconds (default 300)",
                )
                .into_response();
            }
        },
    };
    let mut found = None;
    for key in private_keys(file_uri) {
        match files.storage.exists(&key).await {
            Ok(true) => {
                found = Some(key);
                break;
            }
            Ok(false) => {}
            Err(error) => return error.into_response(),
        }
    }
    let Some(key) = found else {
        return ApiError::not_found(format!("no private file {file_uri}")).into_response();
    };
    let expires = now_seconds().saturating_add(expires_in);
    let signature = state.auth.secret.sign_file_url(&key, expires);
    let url = format!(
        "{}/files/{key}?expires={expires}&signature={signature}",
        files.own_base
    );
    json_response(StatusCode::OK, &json!({ "signed_url": url }))
}

/// The keys a `file_uri` may be kept under: itself (what `UploadPrivateFile` answered), then
/// the key `offbase files copy` gave its copy of a platform file.
fn private_keys(uri: &str) -> Vec<String> {
    let mut keys = Vec::new();
    if uri.starts_with("private/") && plain_key(uri) {
        keys.push(uri.to_owned());
    }
    keys.push(copied_private_key(uri));
    keys
}

/// The key `offbase files copy` gives a private file (`private/<hash>_<name>`: the pipeline's
/// scan, `private_key`), so a copied file is found by the `file_uri` the records keep.
fn copied_private_key(uri: &str) -> String {
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

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// `GET /files/public/{*key}`: anyone.
async fn public_file(State(state): State<SharedState>, method: Method, uri: Uri) -> Response {
    let Some(files) = &state.files else {
        return frontend_or_not_configured(&state, &method, &uri).await;
    };
    match key_of(&uri) {
        Some(key) => files.storage.serve(&key, &method, true).await,
        None => no_file(&uri),
    }
}

/// `GET /files/private/{*key}?expires=&signature=`: for a signature this server made that has
/// not expired; 403 otherwise.
async fn private_file(
    State(state): State<SharedState>,
    method: Method,
    uri: Uri,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let Some(files) = &state.files else {
        return frontend_or_not_configured(&state, &method, &uri).await;
    };
    let Some(key) = key_of(&uri) else {
        return no_file(&uri);
    };
    let expires = query
        .get("expires")
        .and_then(|text| text.parse::<u64>().ok());
    let valid = match (expires, query.get("signature")) {
        (Some(expires), Some(signature)) if !signature.is_empty() => {
            expires >= now_seconds()
                && same_bytes(
                    state.auth.secret.sign_file_url(&key, expires).as_bytes(),
                    signature.as_bytes(),
                )
        }
        _ => false,
    };
    if !valid {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "a private file is read through an unexpired URL signed by this server \
             (CreateFileSignedUrl)",
        )
        .into_response();
    }
    files.storage.serve(&key, &method, false).await
}

/// Without files configured, `/files/...` is the frontend's, when one is served.
async fn frontend_or_not_configured(state: &AppState, method: &Method, uri: &Uri) -> Response {
    match &state.frontend {
        Some(root) => crate::frontend::serve(root, method, uri).await,
        None => not_configured("/files"),
    }
}

/// The key a request path names (`public/...`, `private/...`), as sent (no percent-decoding:
/// `files copy` names copies by the URL's own text); `None` unless a plain key.
fn key_of(uri: &Uri) -> Option<String> {
    let key = uri.path().strip_prefix("/files/")?;
    (plain_key(key) && !key.ends_with(PARTIAL)).then(|| key.to_owned())
}

fn no_file(uri: &Uri) -> Response {
    ApiError::not_found(format!("no file at {}", uri.path())).into_response()
}

impl Storage {
    async fn exists(&self, key: &str) -> Result<bool, ApiError> {
        match self {
            Storage::Folder(root) => Ok(inside(root, &root.join(key)).await.is_some()),
            Storage::Bucket(bucket) => {
                let path = bucket.path(key)?;
                match bucket.store.head(&path).await {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::NotFound { .. }) => Ok(false),
                    Err(error) => Err(bucket.error(&path, "reading the object's metadata", &error)),
                }
            }
        }
    }

    /// The file at `key`, streamed (HEAD: its headers only).
    async fn serve(&self, key: &str, method: &Method, public: bool) -> Response {
        let missing = || ApiError::not_found(format!("no file {key}")).into_response();
        let (length, body) = match self {
            Storage::Folder(root) => {
                let Some(file) = inside(root, &root.join(key)).await else {
                    return missing();
                };
                match tokio::fs::File::open(&file).await {
                    Ok(opened) => {
                        let length = opened.metadata().await.map(|meta| meta.len()).ok();
                        let body = if method == Method::HEAD {
                            Body::empty()
                        } else {
                            Body::from_stream(tokio_util::io::ReaderStream::new(opened))
                        };
                        (length, body)
                    }
                    Err(error) => {
                        return storage_error(&format!("reading {key}"), &error).into_response();
                    }
                }
            }
            Storage::Bucket(bucket) => {
                let path = match bucket.path(key) {
                    Ok(path) => path,
                    Err(error) => return error.into_response(),
                };
                if method == Method::HEAD {
                    match bucket.store.head(&path).await {
                        Ok(meta) => (Some(meta.size), Body::empty()),
                        Err(object_store::Error::NotFound { .. }) => return missing(),
                        Err(error) => {
                            return bucket.error(&path, "reading", &error).into_response();
                        }
                    }
                } else {
                    match bucket.store.get(&path).await {
                        Ok(found) => (
                            Some(found.meta.size),
                            Body::from_stream(found.into_stream()),
                        ),
                        Err(object_store::Error::NotFound { .. }) => return missing(),
                        Err(error) => {
                            return bucket.error(&path, "reading", &error).into_response();
                        }
                    }
                }
            }
        };
        let mut response = body.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(key)),
        );
        if let Some(length) = length {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        // Keys are never reused (a random part, or a copy's fixed name): public files keep.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if public {
                "public, max-age=31536000, immutable"
            } else {
                "private, no-store"
            }),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox"),
        );
        response
    }
}

/// `path` when it is a file whose real location is inside `root` (links resolved).
async fn inside(root: &std::path::Path, path: &std::path::Path) -> Option<PathBuf> {
    let real = tokio::fs::canonicalize(path).await.ok()?;
    let meta = tokio::fs::metadata(&real).await.ok()?;
    (meta.is_file() && real.starts_with(root)).then_some(real)
}

/// Nine random hex digits, as the platform's upload names start.
fn random_hex9() -> String {
    format!("{:09x}", rand::random::<u64>() & 0xf_ffff_ffff)
}

/// A plain path segment: ASCII letters, digits, `.`, `-`, `_`, not `.` or `..`.
fn plain_segment(text: &str) -> bool {
    !text.is_empty()
        && text != "."
        && text != ".."
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_'))
}

/// A key that is a plain relative path (the rule of `files copy`'s keys): no empty, `.` or
/// `..` segment, no leading `/`, no backslash, no control character.
fn plain_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('/')
        && !key.contains('\\')
        && !key.chars().any(char::is_control)
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// An uploaded file name as a plain name: ASCII letters, digits, `.`, `-`, `_` kept, any other
/// run one `_`, no leading dot, at most [`MAX_NAME`] characters with the extension kept;
/// `file` when nothing is left. Never holds `/`, `\` or `..` as a whole segment.
fn safe_file_name(name: &str) -> String {
    // Browsers send a bare name; some clients a path: keep its last segment.
    let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut safe = String::with_capacity(name.len());
    for character in name.chars() {
        if character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | '_') {
            safe.push(character);
        } else if !safe.ends_with('_') {
            safe.push('_');
        }
    }
    let mut safe = safe.trim_start_matches('.').to_owned();
    if safe.len() > MAX_NAME {
        let extension = safe
            .rsplit_once('.')
            .map(|(_, extension)| extension.to_owned())
            .filter(|extension| !extension.is_empty() && extension.len() <= 16);
        match extension {
            Some(extension) => {
                safe.truncate(MAX_NAME - extension.len() - 1);
                safe.push('.');
                safe.push_str(&extension);
            }
            None => safe.truncate(MAX_NAME),
        }
    }
    if safe.is_empty() {
        "file".to_owned()
    } else {
        safe
    }
}

/// The content type a file is served with, by its extension.
fn content_type(key: &str) -> &'static str {
    let name = key.rsplit('/').next().unwrap_or(key);
    let extension = name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "heic" => "image/heic",
        "pdf" => "application/pdf",
        "txt" | "md" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        "html" | "htm" => "text/html; charset=utf-8",
        "xml" => "application/xml",
        "zip" => "application/zip",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_become_plain_names_and_keys_stay_plain() {
        for (sent, kept) in [
            ("lamp.png", "lamp.png"),
            ("my photo (1).JPG", "my_photo_1_.JPG"),
            ("../../etc/passwd", "passwd"),
            ("..\\..\\boot.ini", "boot.ini"),
            ("..", "file"),
            ("", "file"),
            (".env", "env"),
            ("фото.jpg", "_.jpg"),
            ("a\0b\nc.txt", "a_b_c.txt"),
        ] {
            let safe = safe_file_name(sent);
            assert_eq!(safe, kept, "{sent:?}");
            assert!(plain_key(&format!("public/app/abc_{safe}")));
        }
        let long = format!("{}.pdf", "x".repeat(300));
        let kept = safe_file_name(&long);
        assert_eq!(kept.len(), MAX_NAME);
        assert!(kept.ends_with(".pdf"));
        for hostile in [
            "",
            "/etc/passwd",
            "public/../x",
            "public//x",
            "a\\b",
            "./x",
            "a\nb",
        ] {
            assert!(!plain_key(hostile), "{hostile:?}");
        }
        assert!(plain_segment("6650e44a00000000000000a0"));
        for bad in ["", ".", "..", "a/b", "a b"] {
            assert!(!plain_segment(bad), "{bad:?}");
        }
    }

    #[test]
    fn request_paths_name_keys_as_sent() {
        let key = |path: &str| key_of(&path.parse::<Uri>().unwrap_or_default());
        assert_eq!(
            key("/files/public/app/abc_lamp.png"),
            Some("public/app/abc_lamp.png".to_owned())
        );
        assert_eq!(
            key("/files/public/app/a%20b.png"),
            Some("public/app/a%20b.png".to_owned())
        );
        for hostile in [
            "/files/public/../private/app/x.pdf",
            "/files/public/app/..",
            "/files/public//x",
            "/files/public/app/x.png.offbase-partial",
        ] {
            assert_eq!(key(hostile), None, "{hostile}");
        }
    }

    #[test]
    fn file_url_signatures_hold_the_key_the_expiry_and_the_secret() {
        let secret = crate::TokenSecret::new(b"secret");
        let signature = secret.sign_file_url("private/app/abc_x.pdf", 100);
        assert_eq!(signature.len(), 43);
        assert_eq!(
            signature,
            secret.sign_file_url("private/app/abc_x.pdf", 100)
        );
        for other in [
            secret.sign_file_url("private/app/abc_y.pdf", 100),
            secret.sign_file_url("private/app/abc_x.pdf", 101),
            crate::TokenSecret::new(b"other").sign_file_url("private/app/abc_x.pdf", 100),
        ] {
            assert_ne!(signature, other);
        }
    }

    #[test]
    fn a_platform_file_uri_names_the_copy_files_copy_made() {
        let keys = private_keys("private/uploads/9f9f9f9f9_contract.pdf");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], "private/uploads/9f9f9f9f9_contract.pdf");
        assert!(keys[1].starts_with("private/") && keys[1].ends_with("_9f9f9f9f9_contract.pdf"));
        // Not a plain key: only the copy's.
        assert_eq!(private_keys("private/../../etc/passwd").len(), 1);
        assert_eq!(private_keys("gs://x/y.pdf").len(), 1);
    }
}
