//! Uploads: the `Core.UploadFile` and `Core.UploadPrivateFile` integrations, and the uploaded
//! files served back byte for byte. The SDK sends `UploadFile({file})` as
//! `multipart/form-data` with the file in a part named `file`, to
//! `POST /api/apps/{app_id}/integration-endpoints/Core/{UploadFile,UploadPrivateFile}`.
//!
//! - `UploadFile` answers `{"file_url": ...}`, the URL
//!   `http://<host>/api/apps/<app_id>/files/public/<app_id>/<9hex>_<name>` (the platform's
//!   `app_files` shape on the emulator's host); the file is then public there (no
//!   credentials), as on the platform.
//! - `UploadPrivateFile` answers `{"file_uri": "private/<app_id>/<9hex>_<name>"}`; the file is
//!   read only through a URL `CreateFileSignedUrl` signs for that uri
//!   (`/private-files/private/<app_id>/...?expires=&token=`, checked by `files`).
//!
//! `<name>` is the uploaded file name made safe: ASCII letters, digits, `.`, `-` and `_` kept,
//! any other run of characters one `_`, no leading dot, at most 100 characters (the extension
//! kept: `offbase_base44::files::safe_file_name`); `<9hex>` is random, so two uploads of one name are two files.
//!
//! Who may upload: the app's key or a signed-in user (the entity gate's callers); an
//! anonymous visitor is refused with 401, as for `CreateFileSignedUrl`: an emulator open to
//! anonymous uploads would be a file host for anyone.
//!
//! The bytes are kept in memory, bounded: a file over
//! [`EmulatorConfig::max_upload_bytes`](crate::EmulatorConfig::max_upload_bytes) is refused
//! with 413 (the rest of the request is read and dropped, up to as much again, so the client
//! reads the answer rather than a reset connection), and once the uploads held reach
//! [`EmulatorConfig::max_upload_total_bytes`](crate::EmulatorConfig::max_upload_total_bytes)
//! further uploads are refused with 507. Uploads last as long as the emulator runs. Any other
//! path below `files/` (and every signed private path that was not uploaded) is served by
//! `files`, with bytes derived from the path.

use crate::config::EmulatorConfig;
use crate::error::{ApiError, json_response};
use crate::files;
use crate::session::Caller;
use crate::state::{SharedState, tagged};
use crate::stats::Route;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use offbase_base44::files::safe_file_name;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

/// The multipart part that holds the file (the SDK's `UploadFile({file})`).
const FILE_FIELD: &str = "file";

/// An uploaded file.
#[derive(Debug, Clone)]
struct Upload {
    bytes: Bytes,
    content_type: HeaderValue,
}

/// The uploaded files by the path they are served at, and their bounds.
#[derive(Debug)]
pub(crate) struct Uploads {
    max_file: usize,
    max_total: usize,
    files: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    by_path: HashMap<String, Upload>,
    total: usize,
}

impl Uploads {
    pub(crate) fn new(config: &EmulatorConfig) -> Self {
        Uploads {
            max_file: config.max_upload_bytes,
            max_total: config.max_upload_total_bytes,
            files: Mutex::new(Held::default()),
        }
    }

    fn with<R>(&self, change: impl FnOnce(&mut Held) -> R) -> R {
        // A panic elsewhere cannot leave the map half-written: keep serving.
        let mut held = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut held)
    }

    fn get(&self, path: &str) -> Option<Upload> {
        self.with(|held| held.by_path.get(path).cloned())
    }

    /// Keeps `upload` at `path`, unless the uploads held would then pass the total bound.
    fn keep(&self, path: String, upload: Upload) -> Result<(), ApiError> {
        self.with(|held| {
            let total = held.total.saturating_add(upload.bytes.len());
            if total > self.max_total {
                return Err(ApiError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    format!(
                        "the emulator holds {} bytes of uploads already, and keeps at most {} \
                         (EmulatorConfig::max_upload_total_bytes)",
                        held.total, self.max_total
                    ),
                ));
            }
            held.total = total;
            held.by_path.insert(path, upload);
            Ok(())
        })
    }
}

/// What the upload routes and the file routes that serve uploads reach.
#[derive(Debug, Clone)]
pub(crate) struct UploadState {
    pub(crate) app: SharedState,
    pub(crate) uploads: Arc<Uploads>,
}

/// Public or private.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visibility {
    Public,
    Private,
}

/// `POST .../integration-endpoints/Core/UploadFile`: `{"file_url": ...}`.
pub(crate) async fn upload_file(
    State(state): State<UploadState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    upload(&state, &caller, &headers, request, Visibility::Public).await
}

/// `POST .../integration-endpoints/Core/UploadPrivateFile`: `{"file_uri": ...}`.
pub(crate) async fn upload_private_file(
    State(state): State<UploadState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    upload(&state, &caller, &headers, request, Visibility::Private).await
}

async fn upload(
    state: &UploadState,
    caller: &Caller,
    headers: &HeaderMap,
    request: Request,
    visibility: Visibility,
) -> Response {
    if matches!(caller, Caller::Anonymous) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "uploading a file needs the app's API key or a user's token",
        )
        .into_response();
    }
    let received = match receive(request, state.uploads.max_file).await {
        Ok(received) => received,
        Err(refusal) => return refusal,
    };
    let app_id = &state.app.app_id;
    let stored_name = format!("{}_{}", random_hex9(), safe_file_name(&received.name));
    let content_type = served_content_type(&stored_name, received.content_type.as_deref());
    let upload = Upload {
        bytes: received.bytes,
        content_type,
    };
    let (path, body) = match visibility {
        Visibility::Public => {
            let path = format!("/api/apps/{app_id}/files/public/{app_id}/{stored_name}");
            let url = format!("http://{}{path}", host(headers));
            (path, serde_json::json!({ "file_url": url }))
        }
        Visibility::Private => {
            let uri = format!("private/{app_id}/{stored_name}");
            (
                format!("/private-files/{uri}"),
                serde_json::json!({ "file_uri": uri }),
            )
        }
    };
    match state.uploads.keep(path, upload) {
        Ok(()) => json_response(StatusCode::OK, &body),
        Err(error) => error.into_response(),
    }
}

/// The host clients reached the emulator at (what its URLs are made of).
fn host(headers: &HeaderMap) -> &str {
    headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("127.0.0.1")
}

/// The file part of an upload.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) name: String,
    content_type: Option<String>,
    pub(crate) bytes: Bytes,
}

/// The `file` part of a multipart request (else the first part with a file name), at most
/// `max` bytes; the answer to give otherwise.
pub(crate) async fn receive(request: Request, max: usize) -> Result<Received, Response> {
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|_| {
        ApiError::bad_request(
            "an upload is `multipart/form-data` with the file in a part named `file` (the \
             SDK's `UploadFile({file})`)",
        )
        .into_response()
    })?;
    let malformed = |error: axum::extract::multipart::MultipartError| {
        ApiError::new(
            error.status(),
            format!("the multipart body cannot be read: {}", error.body_text()),
        )
        .into_response()
    };
    loop {
        let Some(mut field) = multipart.next_field().await.map_err(malformed)? else {
            return Err(ApiError::bad_request(
                "the upload has no file: send it in a multipart part named `file`",
            )
            .into_response());
        };
        let is_file = field.name() == Some(FILE_FIELD) || field.file_name().is_some();
        if !is_file {
            continue;
        }
        let name = field.file_name().unwrap_or(FILE_FIELD).to_owned();
        let content_type = field.content_type().map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if bytes.len().saturating_add(chunk.len()) > max {
                drop(bytes);
                drop(field);
                drain(&mut multipart, max).await;
                return Err(too_large(max));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(Received {
            name,
            content_type,
            bytes: Bytes::from(bytes),
        });
    }
}

/// Reads and drops the rest of a refused request, up to `limit` more bytes, so the client
/// gets to read the answer (a server closing a socket with unread data resets it).
async fn drain(multipart: &mut Multipart, limit: usize) {
    let mut dropped = 0usize;
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(chunk)) = field.chunk().await {
            dropped = dropped.saturating_add(chunk.len());
            if dropped > limit {
                return;
            }
        }
    }
}

/// 413, closing the connection.
fn too_large(max: usize) -> Response {
    let mut response = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the file is larger than the {max} bytes an upload may have \
             (EmulatorConfig::max_upload_bytes)"
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// `GET /api/apps/{app_id}/files/{*path}`: an uploaded public file, else what `files` serves.
pub(crate) async fn app_file(
    State(state): State<UploadState>,
    path: Path<(String, String)>,
    uri: Uri,
) -> Response {
    match state.uploads.get(uri.path()) {
        Some(upload) => tagged(file_response(upload, true), Route::File),
        None => files::app_file(State(Arc::clone(&state.app)), path, uri).await,
    }
}

/// `GET /private-files/{*path}?expires=&token=`: `files` checks the signature (403 without a
/// valid one); an uploaded private file is then served with its own bytes.
pub(crate) async fn private_file(
    State(state): State<UploadState>,
    uri: Uri,
    query: Query<BTreeMap<String, String>>,
) -> Response {
    let upload = state.uploads.get(uri.path());
    let checked = files::private_file(State(Arc::clone(&state.app)), uri, query).await;
    match upload {
        Some(upload) if checked.status() == StatusCode::OK => {
            tagged(file_response(upload, false), Route::PrivateFile)
        }
        _ => checked,
    }
}

fn file_response(upload: Upload, public: bool) -> Response {
    let cache = if public {
        "public, max-age=31536000"
    } else {
        "private, no-store"
    };
    let length = upload.bytes.len();
    let mut response = (StatusCode::OK, upload.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, upload.content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Nine random hex digits, as the platform's upload names start.
fn random_hex9() -> String {
    format!("{:09x}", rand::random::<u64>() & 0xf_ffff_ffff)
}

/// The content type an upload is served with: by its extension, else the one it was sent
/// with (when it is a valid header value), else `application/octet-stream`.
fn served_content_type(name: &str, sent: Option<&str>) -> HeaderValue {
    let extension = name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    let known = match extension.as_str() {
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        "avif" => Some("image/avif"),
        "svg" => Some("image/svg+xml"),
        "ico" => Some("image/x-icon"),
        "pdf" => Some("application/pdf"),
        "txt" | "md" => Some("text/plain; charset=utf-8"),
        "csv" => Some("text/csv; charset=utf-8"),
        "json" => Some("application/json"),
        "html" | "htm" => Some("text/html; charset=utf-8"),
        "mp4" => Some("video/mp4"),
        "webm" => Some("video/webm"),
        "mp3" => Some("audio/mpeg"),
        "wav" => Some("audio/wav"),
        "zip" => Some("application/zip"),
        _ => None,
    };
    match known {
        Some(known) => HeaderValue::from_static(known),
        None => sent
            .and_then(|sent| HeaderValue::from_str(sent).ok())
            .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names_start_with_nine_hex_digits() {
        let hex = random_hex9();
        assert_eq!(hex.len(), 9);
        assert!(hex.bytes().all(|byte| byte.is_ascii_hexdigit()));
    }

    #[test]
    fn content_types_come_from_the_extension_first() {
        assert_eq!(served_content_type("a.PNG", Some("text/html")), "image/png");
        assert_eq!(served_content_type("a.bin", Some("x/y")), "x/y");
        assert_eq!(
            served_content_type("a", Some("bad\nvalue")),
            "application/octet-stream"
        );
    }
}
