//! The files served back: `GET /files/public/...` to anyone, `GET /files/private/...` for an
//! unexpired signature of this server's; streamed, with the content type by extension and the
//! headers that keep an uploaded page from running script on the app's origin. Without files
//! configured, `/files/...` is the frontend's when one is served.

use super::names::{content_type, plain_key};
use super::not_configured;
use super::signed::now_seconds;
use super::storage::{PARTIAL, Storage, inside, storage_error};
use crate::error::ApiError;
use crate::routes::{AppState, SharedState};
use crate::token::same_bytes;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use object_store::ObjectStoreExt;
use std::collections::BTreeMap;

/// `GET /files/public/{*key}`: anyone.
pub(super) async fn public_file(
    State(state): State<SharedState>,
    method: Method,
    uri: Uri,
) -> Response {
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
pub(super) async fn private_file(
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
pub(super) fn key_of(uri: &Uri) -> Option<String> {
    let key = uri.path().strip_prefix("/files/")?;
    (plain_key(key) && !key.ends_with(PARTIAL)).then(|| key.to_owned())
}

fn no_file(uri: &Uri) -> Response {
    ApiError::not_found(format!("no file at {}", uri.path())).into_response()
}

impl Storage {
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
