//! Hard-coded platform references in any text of the app (code, HTML, manifests, styles):
//! Base44-hosted file URLs, and Base44 hosts in other URLs. Read line by line as text, so a
//! reference inside a string, a comment or markup is found alike.

use crate::{Finding, Kind};
use offbase_base44::files::find_hosted_files;

/// The platform's domains whose hosts are reported.
const DOMAINS: [&str; 2] = ["base44.app", "base44.com"];

/// Every hosted-file URL and every other Base44 host in `text` (the file `file`).
pub(crate) fn references(file: &str, text: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let files = find_hosted_files(line);
        for (_, hosted) in &files {
            found.push(finding(
                file,
                index + 1,
                Kind::FileUrl,
                host_of(&hosted.url),
            ));
        }
        for (range, host) in hosts(line) {
            let inside_file_url = files.iter().any(|(file_range, _)| {
                file_range.start <= range.start && range.end <= file_range.end
            });
            if !inside_file_url {
                found.push(finding(file, index + 1, Kind::Host, host));
            }
        }
    }
    found
}

fn finding(file: &str, line: usize, kind: Kind, detail: String) -> Finding {
    Finding {
        file: file.to_owned(),
        line,
        kind,
        detail,
    }
}

/// The host of an `http(s)` URL, lower-cased.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#', ':'])
        .next()
        .unwrap_or(rest)
        .to_ascii_lowercase()
}

/// Each Base44 host in a line (`base44.app`, `app.base44.com`, `my-app.base44.app`), with
/// where it stands.
fn hosts(line: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let lower = line.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut found = Vec::new();
    for domain in DOMAINS {
        let mut from = 0;
        while let Some(offset) = lower.get(from..).and_then(|rest| rest.find(domain)) {
            let mut start = from + offset;
            let end = start + domain.len();
            from = end;
            // A longer name (`base44.application`) is no host of the platform's.
            if bytes
                .get(end)
                .is_some_and(|byte| byte.is_ascii_alphanumeric() || *byte == b'-')
            {
                continue;
            }
            while start > 0
                && bytes
                    .get(start - 1)
                    .is_some_and(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.'))
            {
                start -= 1;
            }
            // Only a host in a URL (`https://x.base44.app`, `//x.base44.app`): a name
            // mentioned in prose or a comment is not a reference the app follows.
            if !lower
                .get(..start)
                .is_some_and(|before| before.ends_with("//"))
            {
                continue;
            }
            let host = lower
                .get(start..end)
                .unwrap_or(domain)
                .trim_start_matches('.');
            found.push((start..end, host.to_owned()));
        }
    }
    found.sort_by_key(|(range, _)| range.start);
    found
}
