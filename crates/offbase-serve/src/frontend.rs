//! The app's built frontend (`--frontend dist/`), served on the API's origin so the SDK's
//! `serverUrl: ''` reaches `/api` unchanged. A path names a file under the folder (streamed,
//! never read whole); a path that names none and looks like a page (no file extension) gets
//! `index.html`, so the single-page app's own router answers it (history fallback). A path
//! cannot leave the folder: `..`, backslashes and NUL are refused, and a symbolic link that
//! points outside is not followed.

use crate::error::ApiError;
use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::path::{Component, Path, PathBuf};

/// The page a history fallback answers with.
const INDEX: &str = "index.html";

/// Answers `GET`/`HEAD` of `uri` from the folder `root` (already canonical).
pub(crate) async fn serve(root: &Path, method: &Method, uri: &Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} {}: the frontend is read with GET", uri.path()),
        )
        .into_response();
    }
    let Some(relative) = relative_path(uri.path()) else {
        return ApiError::bad_request(format!("{}: not a file path", uri.path())).into_response();
    };
    let wanted = root.join(&relative);
    let file = match inside(root, &wanted).await {
        Some(file) => Some(file),
        // A page of the app's router (no extension): the app itself.
        None if relative.extension().is_none() => inside(root, &root.join(INDEX)).await,
        None => None,
    };
    let Some(file) = file else {
        return ApiError::not_found(format!("{}: no such file in the frontend", uri.path()))
            .into_response();
    };
    match tokio::fs::File::open(&file).await {
        Ok(opened) => {
            let length = opened.metadata().await.map(|meta| meta.len()).ok();
            let mut response = if method == Method::HEAD {
                Body::empty().into_response()
            } else {
                Body::from_stream(tokio_util::io::ReaderStream::new(opened)).into_response()
            };
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, content_type(&file));
            if let Some(length) = length {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            }
            // The page names the current build's assets: always asked again.
            if file.file_name().and_then(|name| name.to_str()) == Some(INDEX) {
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            }
            response
        }
        Err(error) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}: cannot read the file: {error}", uri.path()),
        )
        .into_response(),
    }
}

/// The path of a request as a relative file path: percent-decoded, each segment a plain name
/// (`None` for `..`, a backslash, NUL or text that does not decode). `/` is the index page.
fn relative_path(path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(path)?;
    let mut relative = PathBuf::new();
    for segment in decoded.split('/').filter(|segment| !segment.is_empty()) {
        if segment.contains('\\') || segment.contains('\0') {
            return None;
        }
        match Path::new(segment).components().next() {
            Some(Component::Normal(_)) if Path::new(segment).components().count() == 1 => {
                relative.push(segment);
            }
            Some(Component::CurDir) => {}
            _ => return None,
        }
    }
    if relative.as_os_str().is_empty() {
        relative.push(INDEX);
    }
    Some(relative)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(byte);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// `path` when it is a file whose real location is inside `root` (links resolved).
async fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let real = tokio::fs::canonicalize(path).await.ok()?;
    let meta = tokio::fs::metadata(&real).await.ok()?;
    (meta.is_file() && real.starts_with(root)).then_some(real)
}

fn content_type(path: &Path) -> HeaderValue {
    let extension = path
        .extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    HeaderValue::from_static(match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths_stay_inside_the_folder() {
        assert_eq!(relative_path("/"), Some(PathBuf::from("index.html")));
        assert_eq!(
            relative_path("/assets/app.js"),
            Some(PathBuf::from("assets/app.js"))
        );
        assert_eq!(relative_path("/my%20page"), Some(PathBuf::from("my page")));
        for hostile in [
            "/../etc/passwd",
            "/assets/%2e%2e/%2e%2e/secret",
            "/a\\..\\b",
            "/%00",
            "/%zz",
            "/%",
        ] {
            assert_eq!(relative_path(hostile), None, "{hostile}");
        }
    }
}
