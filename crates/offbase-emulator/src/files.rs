//! File hosting: the public file URLs Base44 records carry, served on the emulator's own host
//! under the same paths, with bytes derived from the path (a valid file signature for the
//! extension, then hash bytes) so a copy can be checked byte for byte. Also maps an original
//! URL to its emulator URL ([`local_file_url`]). Public files need no key, as on the platform.
//!
//! Shapes served (the `<app_id>` and names are free):
//! - `/api/apps/<app_id>/files/public/<app_id>/<9hex>_<name>` (and `/files/mp/public/...`),
//!   originally on `base44.app` or `app.base44.com`;
//! - `/images/public/<app_id>/<9hex>_<name>`, originally on `media.base44.com`;
//! - `/storage/v1/object/public/<bucket>/...`, originally on `<project>.supabase.co`.

use crate::error::ApiError;
use crate::state::{AppState, SharedState, tagged};
use crate::stats::Route;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// `GET /api/apps/{app_id}/files/{*path}`: public files (`public/...`, `mp/public/...`, and
/// `<9hex>_<name>` without `public/`); private files need signed URLs, which the emulator does
/// not issue.
pub(crate) async fn app_file(
    State(state): State<SharedState>,
    Path((_app_id, path)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    if path.starts_with("public/") || path.starts_with("mp/public/") || !path.contains('/') {
        file_response(&state, uri.path())
    } else {
        let error = ApiError::not_found(format!(
            "no public file at {}: only `files/public/...` and `files/mp/public/...` are served",
            uri.path()
        ));
        tagged(error.into_response(), Route::File)
    }
}

/// `GET /images/public/{*path}` and `GET /storage/v1/object/public/{*path}`.
/// `POST .../integration-endpoints/Core/CreateFileSignedUrl` with `{file_uri, expires_in}`:
/// `{signed_url}`, a URL on this host that reads the private file for `expires_in` seconds.
pub(crate) async fn signed_url(
    State(state): State<SharedState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let request: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(error) => {
            return ApiError::bad_request(format!("the body is not JSON: {error}")).into_response();
        }
    };
    let Some(file_uri) = request
        .get("file_uri")
        .and_then(serde_json::Value::as_str)
        .filter(|uri| !uri.is_empty())
    else {
        return ApiError::bad_request("`file_uri` is required").into_response();
    };
    let expires_in = request
        .get("expires_in")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(300);
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("127.0.0.1");
    let expires = now_seconds().saturating_add(expires_in);
    let path = format!("/private-files/{}", encode_path(file_uri));
    let token = signature(&state.api_key, &path, expires);
    let url = format!("http://{host}{path}?expires={expires}&token={token}");
    axum::Json(serde_json::json!({ "signed_url": url })).into_response()
}

/// `GET /private-files/{*path}?expires=&token=`: the private file, for a signature this
/// emulator made that has not expired; 403 otherwise.
pub(crate) async fn private_file(
    State(state): State<SharedState>,
    uri: Uri,
    axum::extract::Query(query): axum::extract::Query<std::collections::BTreeMap<String, String>>,
) -> Response {
    let path = uri.path();
    let expires = query
        .get("expires")
        .and_then(|text| text.parse::<u64>().ok());
    let valid = match (expires, query.get("token")) {
        (Some(expires), Some(token)) => {
            expires >= now_seconds() && *token == signature(&state.api_key, path, expires)
        }
        _ => false,
    };
    if !valid {
        let error = ApiError::new(
            StatusCode::FORBIDDEN,
            "a private file needs a valid, unexpired signed URL (CreateFileSignedUrl)",
        );
        return tagged(error.into_response(), Route::PrivateFile);
    }
    let mut response = file_response(&state, path);
    response.extensions_mut().insert(Route::PrivateFile);
    response
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// The emulator's signature of a private path until `expires`: not cryptographic (this is a
/// test double), but no client can make one without the app's key.
fn signature(key: &str, path: &str, expires: u64) -> String {
    format!(
        "{:016x}",
        fnv1a(format!("{key}\n{path}\n{expires}").as_bytes())
    )
}

/// A `file_uri` as path segments: unreserved characters and `/` kept, the rest percent-encoded.
fn encode_path(text: &str) -> String {
    let mut out = String::new();
    for byte in text.trim_start_matches('/').bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub(crate) async fn public_file(State(state): State<SharedState>, uri: Uri) -> Response {
    file_response(&state, uri.path())
}

fn file_response(state: &AppState, path: &str) -> Response {
    if state.deleted_files.contains(path) {
        let error = ApiError::not_found(format!("the file {path} was deleted"));
        return tagged(error.into_response(), Route::File);
    }
    let content_type = content_type(path);
    let response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000"),
            ),
        ],
        file_bytes_of_length(path, state.file_size),
    )
        .into_response();
    tagged(response, Route::File)
}

/// The bytes served at `path`: the same path always gives the same bytes (between 512 and
/// 2,559 of them), and two paths almost surely different ones.
pub fn file_bytes(path: &str) -> Vec<u8> {
    file_bytes_of_length(path, None)
}

/// The bytes served at `path`, `length` of them when given (else the path's own length, as
/// [`file_bytes`]).
pub fn file_bytes_of_length(path: &str, length: Option<usize>) -> Vec<u8> {
    let mut state = fnv1a(path.as_bytes());
    let own = 512 + usize::try_from(splitmix(&mut state) % 2048).unwrap_or(0);
    let length = length.unwrap_or(own);
    let extension = extension(path);
    let mut bytes: Vec<u8> = Vec::with_capacity(length + 16);
    bytes.extend_from_slice(match extension.as_str() {
        "png" => b"\x89PNG\r\n\x1a\n".as_slice(),
        "jpg" | "jpeg" => b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        "gif" => b"GIF89a",
        "webp" => b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        "pdf" => b"%PDF-1.4\n",
        _ => b"",
    });
    let text = matches!(
        extension.as_str(),
        "txt" | "csv" | "json" | "svg" | "html" | "md"
    );
    while bytes.len() < length {
        let word = splitmix(&mut state);
        if text {
            bytes.extend_from_slice(format!("{word:016x}\n").as_bytes());
        } else {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
    }
    bytes.truncate(length);
    bytes
}

fn extension(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((_, extension)) => extension.to_ascii_lowercase(),
        None => String::new(),
    }
}

/// The content type for a path's extension.
fn content_type(path: &str) -> &'static str {
    match extension(path).as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" | "md" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut mixed = *state;
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    mixed ^ (mixed >> 31)
}

/// The emulator URL serving the file an original Base44 file URL points at: the same path
/// (and query) on `api_url`'s host. `None` for a URL that is not one of the public file shapes
/// on its platform host (`base44.app` / `app.base44.com` for `/api/apps/<id>/files/public/...`
/// and `.../files/mp/public/...`, `media.base44.com` for `/images/public/...`,
/// `<project>.supabase.co` for `/storage/v1/object/public/...`).
///
/// ```
/// use offbase_emulator::local_file_url;
/// assert_eq!(
///     local_file_url(
///         "http://127.0.0.1:4000",
///         "https://media.base44.com/images/public/6989/e0b805824_lamp.png",
///     ),
///     Some("http://127.0.0.1:4000/images/public/6989/e0b805824_lamp.png".to_owned())
/// );
/// assert_eq!(local_file_url("http://127.0.0.1:4000", "https://tidd.ly/x"), None);
/// ```
pub fn local_file_url(api_url: &str, original_url: &str) -> Option<String> {
    let trimmed = original_url.trim();
    offbase_base44::files::hosted_file(trimmed)?;
    // The same path and query on the emulator's host.
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))?;
    let rest = rest.split('#').next().unwrap_or(rest);
    let path_and_query = rest.get(rest.find(['/', '?'])?..)?;
    Some(format!(
        "{}{}",
        api_url.trim_end_matches('/'),
        path_and_query
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_public_shape_and_nothing_else() {
        let api = "http://127.0.0.1:9/";
        let app = "900e600cba18b8f276b74981";
        for (original, path) in [
            (
                format!(
                    "https://base44.app/api/apps/{app}/files/public/{app}/ea2ab47f2_lamp_0.jpg"
                ),
                format!("/api/apps/{app}/files/public/{app}/ea2ab47f2_lamp_0.jpg"),
            ),
            (
                format!("https://app.base44.com/api/apps/{app}/files/mp/public/{app}/1b2_x.png"),
                format!("/api/apps/{app}/files/mp/public/{app}/1b2_x.png"),
            ),
            (
                format!("https://media.base44.com/images/public/{app}/4434a5dd6_train_1.png"),
                format!("/images/public/{app}/4434a5dd6_train_1.png"),
            ),
            (
                format!(
                    "https://abcd.supabase.co/storage/v1/object/public/base44-prod/public/{app}/a_b.pdf"
                ),
                format!("/storage/v1/object/public/base44-prod/public/{app}/a_b.pdf"),
            ),
            (
                format!("https://base44.app/api/apps/{app}/files/2bf50e3b3_bare.jpg"),
                format!("/api/apps/{app}/files/2bf50e3b3_bare.jpg"),
            ),
            (
                "https://abcd.supabase.co/storage/v1/object/public/base44-prod/public/user_68a1/c_me.png".to_owned(),
                "/storage/v1/object/public/base44-prod/public/user_68a1/c_me.png".to_owned(),
            ),
        ] {
            assert_eq!(
                local_file_url(api, &original),
                Some(format!("http://127.0.0.1:9{path}")),
                "{original}"
            );
        }
        for other in [
            "https://tidd.ly/x",
            "https://example.com/images/public/a.png",
            "https://base44.app/api/apps/x/files/private/x/a.png",
            "https://base44.app/api/apps/x/entities/Task",
            "ftp://media.base44.com/images/public/a.png",
            "not a url",
            "",
        ] {
            assert_eq!(local_file_url(api, other), None, "{other}");
        }
    }

    #[test]
    fn bytes_are_deterministic_and_typed() {
        let png = file_bytes("/images/public/app/abc_x.png");
        assert_eq!(png, file_bytes("/images/public/app/abc_x.png"));
        assert_ne!(png, file_bytes("/images/public/app/abd_x.png"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!((512..2560).contains(&png.len()));
        assert!(file_bytes("/a/b.JPG").starts_with(b"\xff\xd8\xff"));
        assert_eq!(content_type("/a/b.JPG"), "image/jpeg");
        assert_eq!(content_type("/a/b"), "application/octet-stream");
    }
}
