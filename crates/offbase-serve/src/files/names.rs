//! Names: plain path segments and keys (checked before any use), the random prefix of an
//! uploaded file's name (the plain name itself is `offbase_base44::files::safe_file_name`),
//! and the content type a name is served with.

/// How long a kept file name may be.
#[cfg(test)]
pub(super) use offbase_base44::files::MAX_UPLOAD_NAME as MAX_NAME;
pub(super) use offbase_base44::files::safe_file_name;

/// Nine random hex digits, as the platform's upload names start.
pub(super) fn random_hex9() -> String {
    format!("{:09x}", rand::random::<u64>() & 0xf_ffff_ffff)
}

/// A plain path segment: ASCII letters, digits, `.`, `-`, `_`, not `.` or `..`.
pub(super) fn plain_segment(text: &str) -> bool {
    !text.is_empty()
        && text != "."
        && text != ".."
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_'))
}

/// A key that is a plain relative path (the rule of `files copy`'s keys): no empty, `.` or
/// `..` segment, no leading `/`, no backslash, no control character.
pub(super) fn plain_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('/')
        && !key.contains('\\')
        && !key.chars().any(char::is_control)
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// The content type a file is served with, by its extension.
pub(super) fn content_type(key: &str) -> &'static str {
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
