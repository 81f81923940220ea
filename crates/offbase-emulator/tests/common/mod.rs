//! Shared by the emulator's HTTP tests: starting an emulator on a free port, a small client that
//! keeps status, headers and body of every answer, the sample apps, and a generated big app.

#![allow(dead_code)] // Each test file uses a different part.

use offbase_emulator::{EmulatorConfig, RateLimits, RunningEmulator};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

pub const KEY: &str = "emulator-test-key-5f1c9a";

/// The boundary of the multipart bodies [`multipart`] writes.
pub const BOUNDARY: &str = "offbase-test-boundary-5b7e2c";

/// A multipart body with one file part named `field`, as a browser's FormData sends it.
pub fn multipart(field: &str, file_name: &str, content_type: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; \
             filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples")
        .join(name)
}

/// The records of a sample's `data/<Entity>.jsonl`, in file order.
pub fn sample_records(name: &str, entity: &str) -> Vec<Map<String, Value>> {
    let path = sample(name).join("data").join(format!("{entity}.jsonl"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match serde_json::from_str(line) {
            Ok(Value::Object(record)) => record,
            other => panic!("{}: not a record: {other:?}", path.display()),
        })
        .collect()
}

/// A config for `app_dir` with the test key and no rate limits.
pub fn config(app_dir: &Path) -> EmulatorConfig {
    let mut config = EmulatorConfig::new(app_dir, KEY);
    config.rate_limits = RateLimits::Off;
    config
}

pub async fn start(config: EmulatorConfig) -> RunningEmulator {
    match offbase_emulator::start(config, ([127, 0, 0, 1], 0).into()).await {
        Ok(running) => running,
        Err(error) => panic!("the emulator did not start: {error}"),
    }
}

/// An app with one entity, `Event`, of `count` generated records, in a temporary folder.
pub fn big_app(count: usize) -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let entities = folder.path().join("base44/entities");
    std::fs::create_dir_all(&entities).unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(
        entities.join("event.jsonc"),
        r#"// generated
        {"name": "Event", "type": "object", "properties": {
            "title": {"type": "string"},
            "seq": {"type": "integer"},
            "kind": {"type": "string", "enum": ["a", "b", "c"]},
        }}"#,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let data = folder.path().join("data");
    std::fs::create_dir_all(&data).unwrap_or_else(|error| panic!("{error}"));
    let mut lines = String::new();
    for index in 0..count {
        // Groups of 5 records share one timestamp, as bulk creates do.
        let second = index / 5;
        let created = format!(
            "2026-01-{:02}T{:02}:{:02}:{:02}.{:06}",
            1 + second / 86_400,
            (second / 3600) % 24,
            (second / 60) % 60,
            second % 60,
            (second * 1000) % 1_000_000
        );
        let kind = ["a", "b", "c"][index % 3];
        let record = json!({
            "id": format!("{:024x}", (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 8),
            "created_date": created,
            "updated_date": created,
            "created_by": "seed@example.com",
            "created_by_id": "680000000000000000000001",
            "is_sample": false,
            "title": format!("event {index}"),
            "seq": index,
            "kind": kind,
        });
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    std::fs::write(data.join("Event.jsonl"), lines).unwrap_or_else(|error| panic!("{error}"));
    folder
}

/// An answer as the client saw it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text))
    }

    /// The body as an array of records.
    pub fn records(&self) -> Vec<Map<String, Value>> {
        match self.json() {
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::Object(record) => record,
                    other => panic!("not a record: {other}"),
                })
                .collect(),
            other => panic!("not an array (status {}): {other}", self.status),
        }
    }

    /// The `error` message of an error answer.
    pub fn error(&self) -> String {
        match self.json().get("error") {
            Some(Value::String(message)) => message.clone(),
            other => panic!("no error message (status {}): {other:?}", self.status),
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    }
}

/// A client for one emulator, sending the test key in an `api_key` header.
pub struct Api<'a> {
    pub emulator: &'a RunningEmulator,
    pub client: reqwest::Client,
}

impl<'a> Api<'a> {
    pub fn new(emulator: &'a RunningEmulator) -> Self {
        Api {
            emulator,
            client: reqwest::Client::new(),
        }
    }

    /// `{api_url}/api/apps/{app_id}/entities/{entity}{rest}`.
    pub fn url(&self, entity: &str, rest: &str) -> String {
        format!(
            "{}/api/apps/{}/entities/{entity}{rest}",
            self.emulator.api_url(),
            self.emulator.app_id()
        )
    }

    pub fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.client.request(method, url).header("api_key", KEY)
    }

    /// Sends and reads the whole answer; `Err` when the transport fails.
    pub async fn try_send(&self, request: reqwest::RequestBuilder) -> Result<Answer, String> {
        let response = request
            .send()
            .await
            .map_err(|error| format!("send: {error:?}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|error| format!("body: {error:?}"))?;
        Ok(Answer {
            status,
            headers,
            text,
        })
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        match self.try_send(request).await {
            Ok(answer) => answer,
            Err(error) => panic!("{error}"),
        }
    }

    /// `GET` on an entity route with query parameters.
    pub async fn get(&self, entity: &str, rest: &str, query: &[(&str, &str)]) -> Answer {
        self.send(
            self.request(Method::GET, &self.url(entity, rest))
                .query(query),
        )
        .await
    }

    /// A JSON body to an entity route.
    pub async fn write(&self, method: Method, entity: &str, rest: &str, body: &Value) -> Answer {
        let request = self
            .request(method, &self.url(entity, rest))
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(request).await
    }

    pub async fn delete(&self, entity: &str, rest: &str) -> Answer {
        self.send(self.request(Method::DELETE, &self.url(entity, rest)))
            .await
    }
}

/// The ids of records, in order.
pub fn ids(records: &[Map<String, Value>]) -> Vec<String> {
    records
        .iter()
        .map(|record| match record.get("id") {
            Some(Value::String(id)) => id.clone(),
            other => panic!("no id: {other:?}"),
        })
        .collect()
}

/// `true` for `YYYY-MM-DDTHH:MM:SS.ffffff` (the stored form).
pub fn is_stored_form(text: &str) -> bool {
    text.len() == 26
        && text.as_bytes()[19] == b'.'
        && text[20..].bytes().all(|byte| byte.is_ascii_digit())
        && offbase_model::time::parse_timestamp(text).is_some()
}

/// `true` for `YYYY-MM-DDTHH:MM:SS.sssZ` (the fresh form).
pub fn is_fresh_form(text: &str) -> bool {
    text.len() == 24
        && text.ends_with('Z')
        && text.as_bytes()[19] == b'.'
        && text[20..23].bytes().all(|byte| byte.is_ascii_digit())
        && offbase_model::time::parse_timestamp(text).is_some()
}

/// `true` for 24 lowercase hex digits.
pub fn is_object_id(text: &str) -> bool {
    text.len() == 24
        && text
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}
