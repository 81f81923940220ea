//! `Core.UploadFile` and `Core.UploadPrivateFile`: the file part of a `multipart/form-data`
//! request streamed to storage under a fresh key (`public/...` or `private/...`), whole or
//! nothing; over the limit, 413 and the rest of the request drained.

use super::names::{plain_key, random_hex9, safe_file_name};
use super::storage::Sink;
use super::{Files, allowed, not_configured};
use crate::error::{ApiError, json_response};
use crate::routes::{AppState, SharedState};
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The multipart part that holds the file (the SDK's `UploadFile({file})`).
const FILE_FIELD: &str = "file";

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

/// `POST .../integration-endpoints/Core/UploadFile`: `{"file_url": ...}`.
pub(super) async fn upload_file(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    upload(&state, &app_id, &headers, request, Visibility::Public).await
}

/// `POST .../integration-endpoints/Core/UploadPrivateFile`: `{"file_uri": ...}`.
pub(super) async fn upload_private_file(
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
