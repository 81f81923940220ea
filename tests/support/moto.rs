//! A real S3-compatible server for the tests of `files copy --to s3://...`: moto in server mode
//! (`python3 -m moto.server`, PyPI `moto[server]`, pinned in `.ci/run`), started on a free port
//! and killed when the guard is dropped. Only the standard library: the CLI's tests include this
//! file by path.

// Each test that includes this file uses part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;

#[path = "python.rs"]
mod python;

/// The variable that makes a missing moto fail the test instead of skipping it (`.ci/run` sets
/// it, and installs moto).
pub const REQUIRE: &str = python::REQUIRE;

/// Credentials moto accepts (it checks no signature); the secret is distinctive so that tests
/// can look for it in what offbase prints.
pub const ACCESS_KEY_ID: &str = "AKIAOFFBASETEST";
pub const SECRET_ACCESS_KEY: &str = "offbase-test-secret-9f8e7d6c5b4a";
pub const REGION: &str = "us-east-1";
/// An `Authorization` header for the tests' own requests: moto checks no signature, but treats
/// a request without one as anonymous, and an anonymous read of a private object is refused.
pub const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIAOFFBASETEST/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";

/// A running moto server; killed on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// A moto server on a free port, or `None` after saying on stderr that `test` skipped,
    /// when moto is not installed; with `OFFBASE_REQUIRE_CORPUS=1` a missing moto fails.
    pub fn start_or_skip(test: &str) -> Option<Moto> {
        if !python::installed_or_skip(test, "moto.server", "moto[server]==5.1.5") {
            return None;
        }
        let port = python::free_port();
        let arguments = [
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ]
        .map(str::to_owned);
        let child = python::start_server(test, "moto", &arguments, port);
        Some(Moto { child, port })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates `bucket` (`PUT /bucket`; moto checks no signature).
    pub fn create_bucket(&self, bucket: &str) {
        let (status, _) = self.request("PUT", &format!("/{bucket}"));
        assert_eq!(status, 200, "creating the bucket {bucket}");
    }

    /// Every object name of `bucket` that starts with `prefix`, sorted (ListObjectsV2, paged).
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        self.list_with_etags(bucket, prefix).into_keys().collect()
    }

    /// Every object of `bucket` whose name starts with `prefix`: its ETag (the MD5 of its bytes
    /// for a single PUT, `<md5 of the parts' md5s>-<parts>` for a multipart upload) and size.
    pub fn list_with_etags(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> std::collections::BTreeMap<String, (String, u64)> {
        let mut objects = std::collections::BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = format!("/{bucket}?list-type=2&prefix={}", encode(prefix));
            if let Some(token) = &token {
                path.push_str(&format!("&continuation-token={}", encode(token)));
            }
            let (status, body) = self.request("GET", &path);
            assert_eq!(status, 200, "listing {bucket}/{prefix}");
            let body = String::from_utf8_lossy(&body).into_owned();
            for contents in elements(&body, "Contents") {
                let field = |name: &str| elements(&contents, name).into_iter().next();
                let key = unescape(&field("Key").unwrap_or_default());
                let etag = unescape(&field("ETag").unwrap_or_default());
                let size = field("Size")
                    .and_then(|size| size.parse().ok())
                    .unwrap_or(0);
                objects.insert(key, (etag, size));
            }
            token = elements(&body, "NextContinuationToken").into_iter().next();
            if token.is_none() {
                break;
            }
        }
        objects
    }

    /// The status and bytes of the object `name` of `bucket`.
    pub fn get(&self, bucket: &str, name: &str) -> (u16, Vec<u8>) {
        self.request("GET", &format!("/{bucket}/{}", encode(name)))
    }

    /// One HTTP/1.1 request without a body: the status and the body.
    fn request(&self, method: &str, path: &str) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|error| panic!("moto: {error}"));
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: {AUTHORIZATION}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream
            .write_all(request.as_bytes())
            .unwrap_or_else(|error| panic!("moto: {error}"));
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .unwrap_or_else(|error| panic!("moto: {error}"));
        let head_end = response
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .unwrap_or(response.len());
        let head = String::from_utf8_lossy(&response[..head_end]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let mut body = response[(head_end + 4).min(response.len())..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = dechunk(&body);
        }
        (status, body)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes everything but unreserved characters and `/` (an object name in a URL path).
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The texts of every `<name>...</name>` of `xml`.
fn elements(xml: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(text, _)| text.to_owned()))
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = body.windows(2).position(|window| window == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&body[..line_end])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        let end = (start + size).min(body.len());
        out.extend_from_slice(&body[start..end]);
        body = &body[(end + 2).min(body.len())..];
    }
}
