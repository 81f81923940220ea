//! Files as the platform hosts them: which URLs point at Base44 storage, in every shape real
//! records and apps carry, and the key a copy of each is kept under. Pure: the scan, the copy,
//! the rewrite and the emulator's file hosting all recognize a hosted file here.
//!
//! Shapes (all seen in real apps; `<9hex>_<name>` is the uploaded name):
//! - `https://<project>.supabase.co/storage/v1/object/public/base44-prod/public/<app_id>/<9hex>_<name>`,
//!   also without `<app_id>/` (older uploads) and with `user_<user_id>/` in its place;
//! - `https://base44.app/api/apps/<app_id>/files/public/<app_id>/<9hex>_<name>`, also
//!   `/files/mp/public/...`, and `/files/<9hex>_<name>` without `public/` (also on
//!   `app.base44.com` and `<name>.base44.app`);
//! - `https://media.base44.com/images/public/<app_id>/<9hex>_<name>`.
//!
//! Private files are not URLs but `file_uri` values, readable only through a signed URL
//! (the `CreateFileSignedUrl` integration).

use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::Range;

/// Which of the platform's URL shapes a hosted file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileShape {
    /// `<project>.supabase.co/storage/v1/object/public/<bucket>/...`
    Storage,
    /// `base44.app/api/apps/<app_id>/files/...`
    AppFiles,
    /// `media.base44.com/images/public/...`
    Media,
}

impl FileShape {
    pub fn name(self) -> &'static str {
        match self {
            FileShape::Storage => "storage",
            FileShape::AppFiles => "app_files",
            FileShape::Media => "media",
        }
    }
}

/// A URL that points at a file on the platform's storage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostedFile {
    /// The URL as the record holds it.
    pub url: String,
    pub shape: FileShape,
    /// Where a copy is kept: `public/...` as the platform names the file below its storage
    /// prefix (the same file under two hosts gets the same key), percent-decoding left as it
    /// is so the key is the URL's own text.
    pub key: String,
}

/// The host and path of an `http(s)` URL, lower-cased host, without user info, port, query or
/// fragment; `None` for anything else.
fn host_and_path(url: &str) -> Option<(String, &str)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(end);
    let host = authority
        .rsplit('@')
        .next()
        .unwrap_or(authority)
        .split(':')
        .next()
        .unwrap_or(authority)
        .to_ascii_lowercase();
    let path = after.split(['?', '#']).next().unwrap_or(after);
    Some((host, path))
}

fn is_base44_app_host(host: &str) -> bool {
    host == "base44.app" || host == "app.base44.com" || host.ends_with(".base44.app")
}

/// Whether `url` points at a file on the platform's storage, and if so which and where a copy
/// goes. Any other URL (the app's own site, a CDN, an API call) is `None`.
pub fn hosted_file(url: &str) -> Option<HostedFile> {
    let url = url.trim();
    let (host, path) = host_and_path(url)?;
    let (shape, key) = if host.ends_with(".supabase.co") {
        // `/storage/v1/object/public/<bucket>/<rest>`: the bucket is the platform's.
        let rest = path.strip_prefix("/storage/v1/object/public/")?;
        let (_bucket, rest) = rest.split_once('/')?;
        (FileShape::Storage, rest.to_owned())
    } else if host == "media.base44.com" {
        let rest = path.strip_prefix("/images/")?;
        (FileShape::Media, rest.to_owned())
    } else if is_base44_app_host(&host) {
        let rest = path.strip_prefix("/api/apps/")?;
        let (app_id, rest) = rest.split_once('/')?;
        let rest = rest.strip_prefix("files/")?;
        if app_id.is_empty() {
            return None;
        }
        let rest = rest.strip_prefix("mp/").unwrap_or(rest);
        // A file without `public/` (one segment, the uploaded name) is still the app's: kept
        // under its app id. Other paths below `files/` are no public file.
        let key = if rest.starts_with("public/") {
            rest.to_owned()
        } else if !rest.contains('/') {
            format!("public/{app_id}/{rest}")
        } else {
            return None;
        };
        (FileShape::AppFiles, key)
    } else {
        return None;
    };
    let file_name = key.rsplit('/').next().unwrap_or_default();
    if file_name.is_empty() || key.split('/').any(|segment| segment == "..") {
        return None;
    }
    Some(HostedFile {
        url: url.to_owned(),
        shape,
        key,
    })
}

/// Where each hosted-file URL stands inside `text` (a URL field, rich text, markdown, code):
/// every `http(s)://` run up to the first character no URL holds (white space, quotes,
/// brackets, `<`, `>`), trailing punctuation of a sentence left out.
pub fn find_hosted_files(text: &str) -> Vec<(Range<usize>, HostedFile)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = text.get(from..).and_then(|rest| rest.find("http")) {
        let start = from + offset;
        let rest = text.get(start..).unwrap_or_default();
        if !(rest.starts_with("https://") || rest.starts_with("http://")) {
            from = start + 4;
            continue;
        }
        let length = rest
            .find(|character: char| {
                character.is_whitespace()
                    || matches!(
                        character,
                        '"' | '\'' | '`' | '<' | '>' | '(' | ')' | '[' | ']' | '{' | '}' | '\\'
                    )
            })
            .unwrap_or(rest.len());
        let candidate = rest.get(..length).unwrap_or_default();
        let candidate = candidate.trim_end_matches(['.', ',', ';', ':', '!', '?', '*', '_']);
        let end = start + candidate.len();
        if let Some(file) = hosted_file(candidate) {
            found.push((start..end, file));
        }
        from = end.max(start + 4);
    }
    found
}

/// Whether a field of this name holds private file references (`file_uri`), which only a
/// signed URL reads.
pub fn is_private_file_field(name: &str) -> bool {
    name == "file_uri" || name.ends_with("_file_uri")
}

/// Whether `text` may hold a hosted-file URL: a cheap test that lets text without one skip the
/// search (every shape has `http` and `base44` or `supabase` in it, in any case).
pub fn may_hold_hosted_file(text: &str) -> bool {
    let bytes = text.as_bytes();
    let holds = |needle: &[u8]| {
        bytes
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
    };
    text.contains("http") && (holds(b"base44") || holds(b"supabase"))
}

/// How long the name an uploaded file is kept under may be (after its `<9hex>_` prefix).
pub const MAX_UPLOAD_NAME: usize = 100;

/// An uploaded file name as the plain `<name>` of the platform's `<9hex>_<name>` shape: ASCII
/// letters, digits, `.`, `-`, `_` kept, any other run one `_`, no leading dot, at most
/// [`MAX_UPLOAD_NAME`] characters with the extension kept; `file` when nothing is left. Never
/// holds `/`, `\` or `..` as a whole segment. The emulator's and `offbase serve`'s uploads
/// both name files with it.
pub fn safe_file_name(name: &str) -> String {
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
    if safe.len() > MAX_UPLOAD_NAME {
        let extension = safe
            .rsplit_once('.')
            .map(|(_, extension)| extension.to_owned())
            .filter(|extension| !extension.is_empty() && extension.len() <= 16);
        match extension {
            Some(extension) => {
                safe.truncate(MAX_UPLOAD_NAME - extension.len() - 1);
                safe.push('.');
                safe.push_str(&extension);
            }
            None => safe.truncate(MAX_UPLOAD_NAME),
        }
    }
    if safe.is_empty() {
        "file".to_owned()
    } else {
        safe
    }
}

/// Old file URLs and their new ones (`files/url-map.json`): what the rewrite of records and
/// of loaded tables applies. A URL is replaced where [`find_hosted_files`] finds it, alone or
/// inside longer text; URLs the map does not hold (a file that could not be copied) stay as
/// they are. Applying it twice changes nothing more: a new URL is no hosted file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlRewrite {
    urls: BTreeMap<String, String>,
}

impl UrlRewrite {
    pub fn new(urls: BTreeMap<String, String>) -> Self {
        UrlRewrite { urls }
    }

    pub fn len(&self) -> usize {
        self.urls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// The new URL of `url`, when the map has one.
    pub fn get(&self, url: &str) -> Option<&str> {
        self.urls.get(url).map(String::as_str)
    }

    /// Each old URL with its new one, sorted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.urls
            .iter()
            .map(|(old, new)| (old.as_str(), new.as_str()))
    }

    /// `text` with every mapped URL replaced, and how many were; `None` when none was.
    pub fn rewrite_text(&self, text: &str) -> Option<(String, usize)> {
        self.rewrite(text, false)
    }

    /// The same over the text of a JSON document as PostgreSQL prints `jsonb`
    /// (`{"key": "value"}`): URLs in string values are replaced (JSON-escaped), object keys are
    /// left alone as [`UrlRewrite::rewrite_value`] leaves them. A URL ends before a quote or a
    /// backslash, so one inside an escaped string is found as in the decoded text.
    pub fn rewrite_json_text(&self, text: &str) -> Option<(String, usize)> {
        self.rewrite(text, true)
    }

    fn rewrite(&self, text: &str, json: bool) -> Option<(String, usize)> {
        if self.urls.is_empty() || !may_hold_hosted_file(text) {
            return None;
        }
        let mut rewritten = String::with_capacity(text.len());
        let mut count = 0;
        let mut from = 0;
        for (range, _) in find_hosted_files(text) {
            let (Some(old), Some(before), Some(after)) = (
                text.get(range.clone()),
                text.get(from..range.start),
                text.get(range.end..),
            ) else {
                continue;
            };
            if json && after.starts_with("\": ") {
                continue;
            }
            if let Some(new) = self.urls.get(old) {
                rewritten.push_str(before);
                if json {
                    let quoted = Value::String(new.clone()).to_string();
                    rewritten.push_str(
                        quoted
                            .strip_prefix('"')
                            .and_then(|inner| inner.strip_suffix('"'))
                            .unwrap_or(new),
                    );
                } else {
                    rewritten.push_str(new);
                }
                from = range.end;
                count += 1;
            }
        }
        if count == 0 {
            return None;
        }
        rewritten.push_str(text.get(from..).unwrap_or_default());
        Some((rewritten, count))
    }

    /// Rewrites every string inside `value`, at any depth (object keys are left alone);
    /// returns how many URLs were replaced.
    pub fn rewrite_value(&self, value: &mut Value) -> usize {
        match value {
            Value::String(text) => match self.rewrite_text(text) {
                Some((rewritten, count)) => {
                    *text = rewritten;
                    count
                }
                None => 0,
            },
            Value::Array(items) => items.iter_mut().map(|item| self.rewrite_value(item)).sum(),
            Value::Object(fields) => fields
                .values_mut()
                .map(|field| self.rewrite_value(field))
                .sum(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "900e600cba18b8f276b74981";

    #[test]
    fn every_shape_is_recognized_with_its_key() {
        for (url, shape, key) in [
            (
                format!(
                    "https://xyzproject.supabase.co/storage/v1/object/public/base44-prod/public/{APP}/ea2ab47f2_lamp.jpg"
                ),
                FileShape::Storage,
                format!("public/{APP}/ea2ab47f2_lamp.jpg"),
            ),
            (
                "https://xyzproject.supabase.co/storage/v1/object/public/base44-prod/public/ea2ab47f2_old.png".to_owned(),
                FileShape::Storage,
                "public/ea2ab47f2_old.png".to_owned(),
            ),
            (
                "https://xyzproject.supabase.co/storage/v1/object/public/base44-prod/public/user_68a1/ea2ab47f2_me.png".to_owned(),
                FileShape::Storage,
                "public/user_68a1/ea2ab47f2_me.png".to_owned(),
            ),
            (
                format!("https://base44.app/api/apps/{APP}/files/public/{APP}/2bf50e3b3_train.jpg"),
                FileShape::AppFiles,
                format!("public/{APP}/2bf50e3b3_train.jpg"),
            ),
            (
                format!(
                    "https://base44.app/api/apps/{APP}/files/mp/public/{APP}/2bf50e3b3_train.jpg"
                ),
                FileShape::AppFiles,
                format!("public/{APP}/2bf50e3b3_train.jpg"),
            ),
            (
                format!("https://app.base44.com/api/apps/{APP}/files/2bf50e3b3_bare.pdf"),
                FileShape::AppFiles,
                format!("public/{APP}/2bf50e3b3_bare.pdf"),
            ),
            (
                format!("https://media.base44.com/images/public/{APP}/4434a5dd6_train.png"),
                FileShape::Media,
                format!("public/{APP}/4434a5dd6_train.png"),
            ),
        ] {
            let file = hosted_file(&url).unwrap_or_else(|| panic!("not recognized: {url}"));
            assert_eq!((file.shape, file.key.as_str()), (shape, key.as_str()), "{url}");
        }
    }

    #[test]
    fn other_urls_are_not_hosted_files() {
        for url in [
            "https://tidd.ly/x",
            "https://example.com/storage/v1/object/public/base44-prod/public/a.png",
            "https://base44.app/api/apps/x/entities/Task",
            "https://base44.app/api/apps/x/files/private/x/a.png",
            "https://media.base44.com/",
            "https://base44.app/api/apps/x/files/public/../../etc/passwd",
            "ftp://media.base44.com/images/public/a.png",
            "not a url",
        ] {
            assert_eq!(hosted_file(url), None, "{url}");
        }
    }

    #[test]
    fn urls_inside_text_are_found_with_their_place() {
        let url = format!("https://media.base44.com/images/public/{APP}/4434a5dd6_train.png");
        let text = format!(
            "<p>See ![train]({url}). And <img src=\"{url}\"> or {url}, https://example.com/x.</p>"
        );
        let found = find_hosted_files(&text);
        assert_eq!(found.len(), 3, "{found:?}");
        for (range, file) in &found {
            assert_eq!(text.get(range.clone()), Some(url.as_str()));
            assert_eq!(file.url, url);
        }
    }

    #[test]
    fn a_rewrite_replaces_mapped_urls_at_any_depth_and_leaves_the_rest() {
        let old = format!("https://media.base44.com/images/public/{APP}/4434a5dd6_train.png");
        let unmapped =
            format!("https://base44.app/api/apps/{APP}/files/public/{APP}/aaaaaaaaa_gone.png");
        let new = format!("https://cdn.example.com/app/public/{APP}/4434a5dd6_train.png");
        let rewrite = UrlRewrite::new(BTreeMap::from([(old.clone(), new.clone())]));
        let mut value = serde_json::json!({
            "photo": old,
            "gallery": [{"url": old}, unmapped, 7],
            "notes": format!("See ![train]({old}) and {unmapped}."),
            old.clone(): "a key is left alone",
        });
        assert_eq!(rewrite.rewrite_value(&mut value), 3);
        assert_eq!(
            value,
            serde_json::json!({
                "photo": new,
                "gallery": [{"url": new}, unmapped, 7],
                "notes": format!("See ![train]({new}) and {unmapped}."),
                old: "a key is left alone",
            })
        );
        // Twice is once.
        let again = value.clone();
        assert_eq!(rewrite.rewrite_value(&mut value), 0);
        assert_eq!(value, again);
    }

    #[test]
    fn a_rewrite_of_json_text_equals_the_rewrite_of_its_values() {
        let old = format!("https://media.base44.com/images/public/{APP}/4434a5dd6_train.png");
        let new = format!("https://cdn.example.com/app/{APP}/a\\\"b.png");
        let rewrite = UrlRewrite::new(BTreeMap::from([(old.clone(), new)]));
        let mut value = serde_json::json!({
            old.clone(): [old, format!("<img src=\"{old}\">\n{old}")],
            "n": 1,
        });
        // As PostgreSQL prints jsonb: a space after each colon and comma.
        let text = serde_json::to_string(&value)
            .unwrap_or_default()
            .replace("\":", "\": ")
            .replace("\",", "\", ");
        let (rewritten, count) = rewrite.rewrite_json_text(&text).unwrap_or_default();
        assert_eq!(rewrite.rewrite_value(&mut value), count);
        assert_eq!(count, 3);
        let parsed: Value = serde_json::from_str(&rewritten).unwrap_or_default();
        assert_eq!(parsed, value);
    }

    #[test]
    fn the_cheap_test_lets_no_hosted_url_through() {
        let url = format!("https://Media.Base44.com/images/public/{APP}/4434a5dd6_train.png");
        assert!(find_hosted_files(&url).len() == 1);
        assert!(may_hold_hosted_file(&url));
        assert!(!may_hold_hosted_file("https://example.com/a.png"));
        assert!(!may_hold_hosted_file("base44 without a scheme"));
    }

    #[test]
    fn uploaded_file_names_become_plain_names() {
        for (sent, kept) in [
            ("lamp.png", "lamp.png"),
            ("my photo (1).JPG", "my_photo_1_.JPG"),
            ("../../etc/passwd", "passwd"),
            ("..\\..\\boot.ini", "boot.ini"),
            ("..", "file"),
            ("...", "file"),
            ("", "file"),
            (".env", "env"),
            ("фото.jpg", "_.jpg"),
            ("a\0b\nc.txt", "a_b_c.txt"),
        ] {
            assert_eq!(safe_file_name(sent), kept, "{sent:?}");
        }
        let long = format!("{}.pdf", "x".repeat(300));
        let kept = safe_file_name(&long);
        assert_eq!(kept.len(), MAX_UPLOAD_NAME);
        assert!(kept.ends_with(".pdf"));
    }
}
