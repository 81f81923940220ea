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
}
