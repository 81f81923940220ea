//! `Core.CreateFileSignedUrl`: a private file's URL on this server, signed (HMAC-SHA256 of the
//! key and the expiry under the token secret) for `expires_in` seconds; a `file_uri` of the
//! platform's names the copy `files copy` made of it.

use super::names::plain_key;
use super::{allowed, not_configured};
use crate::error::{ApiError, json_response};
use crate::routes::SharedState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use offbase_pipeline::files::scan::private_key;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// `expires_in` of `CreateFileSignedUrl` when none is given.
const DEFAULT_EXPIRES_IN: u64 = 300;
/// The longest a signed URL lasts.
const MAX_EXPIRES_IN: u64 = 7 * 24 * 60 * 60;

/// `POST .../integration-endpoints/Core/CreateFileSignedUrl` with `{file_uri, expires_in}`:
/// `{"signed_url": ...}`.
pub(super) async fn signed_url(
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
/// the key `offbase files copy` gave its copy of a platform file (`private/<hash>_<name>`: the
/// pipeline's scan, `private_key`).
pub(super) fn private_keys(uri: &str) -> Vec<String> {
    let mut keys = Vec::new();
    if uri.starts_with("private/") && plain_key(uri) {
        keys.push(uri.to_owned());
    }
    keys.push(private_key(uri));
    keys
}

pub(super) fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}
