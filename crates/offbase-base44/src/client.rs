//! The Base44 entity API client: list and count requests with the key in a header, a request
//! budget shared by every task, and retries (429 with `retry-after`, 5xx, timeouts, resets,
//! truncated bodies) with backoff and jitter. The key never appears in a message: it is checked
//! when the client is built (a header must be able to carry it), and whatever the server sends
//! back is kept in an error only with the key blanked out (a server may echo the request).
//!
//! One file: the client is one piece (key, errors, budget, announced waits and retries serve
//! one request loop); about a tenth of its length is its unit tests.

use rand::Rng;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// An API key: printed as `***` everywhere.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("ApiKey(***)")
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The API origin, e.g. `https://app.base44.com` or an emulator's `http://127.0.0.1:PORT`.
    pub api_url: String,
    pub app_id: String,
    pub api_key: ApiKey,
    /// A ceiling on requests per minute, shared by every task using this client.
    pub requests_per_minute: Option<u32>,
    /// Attempts per request before giving up (the first one included).
    pub max_attempts: u32,
    /// Time allowed for one request, body included.
    pub timeout: Duration,
    /// The first backoff delay; doubled at each retry, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest wait a `retry-after` answer is obeyed for: a server asking for more (a
    /// misconfigured one may ask for days) gets this much, and the wait notice says so.
    pub max_retry_wait: Duration,
}

impl ClientConfig {
    pub fn new(api_url: impl Into<String>, app_id: impl Into<String>, api_key: ApiKey) -> Self {
        ClientConfig {
            api_url: api_url.into(),
            app_id: app_id.into(),
            api_key,
            requests_per_minute: None,
            max_attempts: 10,
            timeout: Duration::from_secs(60),
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
            max_retry_wait: DEFAULT_MAX_RETRY_WAIT,
        }
    }
}

/// The default of [`ClientConfig::max_retry_wait`].
pub const DEFAULT_MAX_RETRY_WAIT: Duration = Duration::from_secs(120);

/// The longest wait the client will ever do at once (a year): deadlines stay representable.
const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// What a request failed with, after retries where retrying made sense.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "{request}: the API refused the key (HTTP {status}): check BASE44_API_KEY (or the variable named by --api-key-env) and that the key belongs to app {app_id}"
    )]
    Unauthorized {
        request: String,
        status: u16,
        app_id: String,
    },
    #[error(
        "{request}: not found (HTTP 404): check the app id and that entity {entity} exists in the app"
    )]
    NotFound { request: String, entity: String },
    #[error("{request}: HTTP {status} after {attempts} attempts: {body}")]
    Status {
        request: String,
        status: u16,
        attempts: u32,
        body: String,
    },
    #[error(
        "{request}: {message} after {attempts} attempts; check --api-url and the network, then run again (the pull resumes)"
    )]
    Network {
        request: String,
        message: String,
        attempts: u32,
    },
    #[error(
        "{request}: the answer is not what the API returns ({message}) after {attempts} attempts"
    )]
    InvalidBody {
        request: String,
        message: String,
        attempts: u32,
    },
    #[error("the API URL {0:?} is not valid")]
    InvalidUrl(String),
    #[error(
        "the API key holds a character an HTTP header cannot carry ({problem}): check BASE44_API_KEY (or the variable named by --api-key-env), e.g. for a line break pasted with it"
    )]
    InvalidKey { problem: String },
    #[error(
        "the app id {app_id:?} holds a character an HTTP header cannot carry ({problem}): check --app-id"
    )]
    InvalidAppId { app_id: String, problem: String },
    #[error(
        "{request}: the request cannot be built, so nothing was sent: check --api-url and --app-id"
    )]
    InvalidRequest { request: String },
}

/// A ceiling on the request rate, shared by every task of a client: each request waits for its
/// slot, so concurrent entities together stay inside the limit.
#[derive(Debug)]
struct RequestBudget {
    interval: Option<Duration>,
    next_slot: Mutex<Instant>,
}

impl RequestBudget {
    fn new(requests_per_minute: Option<u32>) -> Self {
        let interval = requests_per_minute
            .filter(|limit| *limit > 0)
            .map(|limit| Duration::from_secs_f64(60.0 / f64::from(limit)));
        RequestBudget {
            interval,
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this request's slot; returns how long that was from now (before waiting).
    async fn slot(&self) -> Duration {
        let Some(interval) = self.interval else {
            return Duration::ZERO;
        };
        let wait_until = {
            let mut next_slot = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = (*next_slot).max(now);
            *next_slot = slot + interval;
            slot
        };
        wait_until.saturating_duration_since(Instant::now())
    }

    /// Pushes every later request back: the server said to wait.
    async fn hold_until(&self, until: Instant) {
        let mut next_slot = self.next_slot.lock().await;
        if *next_slot < until {
            *next_slot = until;
        }
    }
}

/// Parameters of a list request.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub q: Option<Value>,
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub skip: Option<usize>,
    pub fields: Option<Vec<String>>,
}

impl ListQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(q) = &self.q {
            pairs.push(("q", q.to_string()));
        }
        if let Some(sort) = &self.sort {
            pairs.push(("sort", sort.clone()));
        }
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(skip) = self.skip {
            pairs.push(("skip", skip.to_string()));
        }
        if let Some(fields) = &self.fields {
            pairs.push(("fields", fields.join(",")));
        }
        pairs
    }
}

/// Counts of what the client did, for reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ClientStats {
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    /// The key as the header carries it, checked once (and marked sensitive).
    api_key_header: reqwest::header::HeaderValue,
    app_id_header: reqwest::header::HeaderValue,
    budget: Arc<RequestBudget>,
    stats: Arc<std::sync::Mutex<ClientStats>>,
    notices: WaitNotices,
}

/// Told, in words, whenever a request is about to wait a second or more (throttled by the
/// API, retrying after a failure, or paced by the budget), and again every
/// [`NOTICE_EVERY`] of a long wait: a stage that waits never does so silently.
pub type WaitNotice = Arc<dyn Fn(&str) + Send + Sync>;

/// How often a long wait is announced again.
pub const NOTICE_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone, Default)]
struct WaitNotices(Option<WaitNotice>);

impl fmt::Debug for WaitNotices {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(if self.0.is_some() {
            "WaitNotices(set)"
        } else {
            "WaitNotices(none)"
        })
    }
}

enum Attempt {
    Done(Value),
    Retry {
        failure: Failure,
        wait: Option<Duration>,
    },
    Fail(ClientError),
}

/// Why an attempt failed in a way worth retrying.
enum Failure {
    Status { status: u16, body: String },
    Body(String),
    Network(String),
}

impl Failure {
    /// The failure in a few words, for a wait notice.
    fn describe(&self) -> String {
        match self {
            Failure::Status { status: 429, .. } => "throttled by the API (HTTP 429)".to_owned(),
            Failure::Status { status, .. } => format!("the API answered HTTP {status}"),
            Failure::Body(_) => "the answer was broken".to_owned(),
            Failure::Network(message) => message.clone(),
        }
    }

    fn into_error(self, request: String, attempts: u32) -> ClientError {
        match self {
            Failure::Status { status, body } => ClientError::Status {
                request,
                status,
                attempts,
                body,
            },
            Failure::Body(message) => ClientError::InvalidBody {
                request,
                message,
                attempts,
            },
            Failure::Network(message) => ClientError::Network {
                request,
                message,
                attempts,
            },
        }
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let api_url = config.api_url.trim_end_matches('/').to_owned();
        if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
            return Err(ClientError::InvalidUrl(without_credentials(&api_url)));
        }
        // A key reqwest cannot put in a header fails every attempt the same way: say so now,
        // rather than after every retry as if the network were down.
        let mut api_key_header = header_value(config.api_key.expose())
            .map_err(|problem| ClientError::InvalidKey { problem })?;
        api_key_header.set_sensitive(true);
        let app_id_header =
            header_value(&config.app_id).map_err(|problem| ClientError::InvalidAppId {
                app_id: config.app_id.clone(),
                problem,
            })?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("offbase/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| ClientError::InvalidUrl(without_credentials(&api_url)))?;
        let budget = Arc::new(RequestBudget::new(config.requests_per_minute));
        // Any cap a user gives is kept, short of one so long that a deadline would overflow.
        let max_retry_wait = config.max_retry_wait.min(LONGEST_WAIT);
        Ok(Client {
            http,
            config: Arc::new(ClientConfig {
                api_url,
                max_retry_wait,
                ..config
            }),
            api_key_header,
            app_id_header,
            budget,
            stats: Arc::new(std::sync::Mutex::new(ClientStats::default())),
            notices: WaitNotices::default(),
        })
    }

    /// The same client (sharing its budget and statistics) that tells `notice` about its waits.
    pub fn with_wait_notice(mut self, notice: WaitNotice) -> Self {
        self.notices = WaitNotices(Some(notice));
        self
    }

    /// Sleeps `duration`, saying why (`what`) when it is a second or more, and again every
    /// [`NOTICE_EVERY`] with the time left.
    async fn wait(&self, duration: Duration, what: &str) {
        let Some(notice) = self
            .notices
            .0
            .as_ref()
            .filter(|_| duration >= Duration::from_secs(1))
        else {
            tokio::time::sleep(duration).await;
            return;
        };
        let until = Instant::now() + duration;
        notice(&format!(
            "{what}: waiting {:.0} s",
            duration.as_secs_f64().ceil()
        ));
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left.min(NOTICE_EVERY)).await;
            let left = until.saturating_duration_since(Instant::now());
            if left >= Duration::from_secs(1) {
                notice(&format!(
                    "{what}: still waiting, {:.0} s left",
                    left.as_secs_f64().ceil()
                ));
            }
        }
    }

    pub fn app_id(&self) -> &str {
        &self.config.app_id
    }

    pub fn api_url(&self) -> &str {
        &self.config.api_url
    }

    pub fn stats(&self) -> ClientStats {
        self.stats.lock().map(|stats| *stats).unwrap_or_default()
    }

    fn count_stat(&self, update: impl FnOnce(&mut ClientStats)) {
        if let Ok(mut stats) = self.stats.lock() {
            update(&mut stats);
        }
    }

    fn entity_path(&self, entity: &str, rest: &str) -> String {
        // Names are opaque text: percent-encoded, a hostile one cannot change the path.
        format!(
            "/api/apps/{}/entities/{}{rest}",
            encode_segment(&self.config.app_id),
            encode_segment(entity)
        )
    }

    /// `GET /entities/{entity}?...`: a bare array of records.
    pub async fn list(
        &self,
        entity: &str,
        query: &ListQuery,
    ) -> Result<Vec<Map<String, Value>>, ClientError> {
        self.records_at(entity, "", query).await
    }

    /// `GET /entities/{entity}/trash?...`: the deleted records, a bare array like the list
    /// (with no 5000 cap).
    pub async fn trash(
        &self,
        entity: &str,
        query: &ListQuery,
    ) -> Result<Vec<Map<String, Value>>, ClientError> {
        self.records_at(entity, "/trash", query).await
    }

    async fn records_at(
        &self,
        entity: &str,
        rest: &str,
        query: &ListQuery,
    ) -> Result<Vec<Map<String, Value>>, ClientError> {
        let path = self.entity_path(entity, rest);
        let value = self.get_json(entity, &path, &query.pairs()).await?;
        let request = self.describe(&path, &query.pairs());
        match value {
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::Object(record) => Ok(record),
                    other => Err(ClientError::InvalidBody {
                        request: request.clone(),
                        message: format!(
                            "a list item is {}, not a record",
                            offbase_model::json_kind(&other)
                        ),
                        attempts: 1,
                    }),
                })
                .collect(),
            other => Err(ClientError::InvalidBody {
                request,
                message: format!(
                    "expected an array of records, got {}",
                    offbase_model::json_kind(&other)
                ),
                attempts: 1,
            }),
        }
    }

    /// `GET /entities/{entity}/{id}`: the record, or `None` when the API answers 404 (deleted,
    /// hidden or never there).
    pub async fn get(
        &self,
        entity: &str,
        id: &str,
    ) -> Result<Option<Map<String, Value>>, ClientError> {
        let path = self.entity_path(entity, &format!("/{}", encode_segment(id)));
        match self.get_json(entity, &path, &[]).await {
            Ok(Value::Object(record)) => Ok(Some(record)),
            Ok(other) => Err(ClientError::InvalidBody {
                request: self.describe(&path, &[]),
                message: format!(
                    "expected a record, got {}",
                    offbase_model::json_kind(&other)
                ),
                attempts: 1,
            }),
            Err(ClientError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `GET /entities/{entity}/count?q=`.
    pub async fn count(&self, entity: &str, q: Option<&Value>) -> Result<u64, ClientError> {
        let path = self.entity_path(entity, "/count");
        let pairs: Vec<(&'static str, String)> =
            q.map(|q| vec![("q", q.to_string())]).unwrap_or_default();
        let value = self.get_json(entity, &path, &pairs).await?;
        value
            .get("count")
            .and_then(Value::as_u64)
            .ok_or_else(|| ClientError::InvalidBody {
                request: self.describe(&path, &pairs),
                message: "no count in the answer".to_owned(),
                attempts: 1,
            })
    }

    async fn get_json(
        &self,
        entity: &str,
        path: &str,
        pairs: &[(&'static str, String)],
    ) -> Result<Value, ClientError> {
        let request = self.describe(path, pairs);
        let url = format!("{}{path}", self.config.api_url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let slot = self.budget.slot().await;
            // Short paced waits are the budget working as asked; a long one is worth a word.
            if slot < Duration::from_secs(3) {
                tokio::time::sleep(slot).await;
            } else {
                self.wait(
                    slot,
                    &format!(
                        "{entity}: pacing requests ({} a minute at most)",
                        self.config.requests_per_minute.unwrap_or_default()
                    ),
                )
                .await;
            }
            self.count_stat(|stats| stats.requests += 1);
            let (failure, wait) = match self.attempt(entity, &request, &url, pairs, attempt).await {
                Attempt::Done(value) => return Ok(value),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry { failure, wait } => (failure, wait),
            };
            if attempt >= self.config.max_attempts.max(1) {
                return Err(failure.into_error(request, attempt));
            }
            self.count_stat(|stats| stats.retries += 1);
            let why = failure.describe();
            let (delay, what) = match wait {
                Some(asked) if asked > self.config.max_retry_wait => {
                    // A server may ask for days: wait no longer than the cap, and say so.
                    let wait = self.config.max_retry_wait;
                    self.budget.hold_until(Instant::now() + wait).await;
                    (
                        wait,
                        format!(
                            "{entity}: {why}; the API asks to wait {} (retry-after), capped at {} by --max-retry-wait, then attempt {} of {}",
                            human_wait(asked),
                            human_wait(wait),
                            attempt + 1,
                            self.config.max_attempts
                        ),
                    )
                }
                Some(wait) => {
                    // The server asked everyone to wait: hold the shared budget too.
                    self.budget.hold_until(Instant::now() + wait).await;
                    (
                        wait,
                        format!(
                            "{entity}: {why}; the API asks to wait (retry-after), then attempt {} of {}",
                            attempt + 1,
                            self.config.max_attempts
                        ),
                    )
                }
                None => (
                    self.backoff(attempt),
                    format!(
                        "{entity}: {why}; retrying (attempt {} of {})",
                        attempt + 1,
                        self.config.max_attempts
                    ),
                ),
            };
            self.wait(delay, &what).await;
        }
    }

    /// Exponential backoff with full jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let ceiling = self
            .config
            .base_backoff
            .saturating_mul(1 << exponent)
            .min(self.config.max_backoff);
        let millis = ceiling.as_millis().max(1) as u64;
        Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
    }

    async fn attempt(
        &self,
        entity: &str,
        request: &str,
        url: &str,
        pairs: &[(&'static str, String)],
        attempt: u32,
    ) -> Attempt {
        let response = self
            .http
            .get(url)
            .query(pairs)
            .header("api_key", self.api_key_header.clone())
            .header("X-App-Id", self.app_id_header.clone())
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            // The same request would fail the same way every time: nothing to retry.
            Err(error) if error.is_builder() => {
                return Attempt::Fail(ClientError::InvalidRequest {
                    request: request.to_owned(),
                });
            }
            Err(error) => {
                return Attempt::Retry {
                    failure: Failure::Network(network_reason(&error)),
                    wait: None,
                };
            }
        };
        let status = response.status().as_u16();
        // What the server asks for, whatever it is: the retry loop caps it (`max_retry_wait`).
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => {
                return Attempt::Retry {
                    failure: Failure::Network(network_reason(&error)),
                    wait: None,
                };
            }
        };
        match status {
            200..=299 => match serde_json::from_slice::<Value>(&body) {
                Ok(value) => Attempt::Done(value),
                Err(error) => Attempt::Retry {
                    failure: Failure::Body(
                        self.redact(&format!("invalid JSON ({} bytes): {error}", body.len())),
                    ),
                    wait: None,
                },
            },
            401 | 403 => Attempt::Fail(ClientError::Unauthorized {
                request: request.to_owned(),
                status,
                app_id: self.config.app_id.clone(),
            }),
            404 => Attempt::Fail(ClientError::NotFound {
                request: request.to_owned(),
                entity: entity.to_owned(),
            }),
            429 => {
                self.count_stat(|stats| stats.throttled += 1);
                Attempt::Retry {
                    failure: Failure::Status {
                        status,
                        body: "rate limited".to_owned(),
                    },
                    wait: Some(retry_after.unwrap_or_else(|| self.backoff(attempt))),
                }
            }
            408 | 500..=599 => Attempt::Retry {
                failure: Failure::Status {
                    status,
                    body: self.snippet(&body),
                },
                wait: retry_after,
            },
            _ => Attempt::Fail(ClientError::Status {
                request: request.to_owned(),
                status,
                attempts: attempt,
                body: self.snippet(&body),
            }),
        }
    }
}

/// A URL as a message may show it: any `user:password@` before the host becomes `***@`.
fn without_credentials(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_owned(),
    };
    if scheme.is_empty() {
        format!("{authority}{tail}")
    } else {
        format!("{scheme}://{authority}{tail}")
    }
}

/// A path segment with everything but unreserved characters percent-encoded (ids are opaque
/// text).
fn encode_segment(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

impl Client {
    /// The request as a message shows it: method, path and parameters; never a header. The
    /// parameters carry values read from the server (keyset bounds), so the key is blanked out
    /// of them too.
    fn describe(&self, path: &str, pairs: &[(&'static str, String)]) -> String {
        if pairs.is_empty() {
            return self.redact(&format!("GET {path}"));
        }
        let query: Vec<String> = pairs
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        self.redact(&format!("GET {path}?{}", query.join("&")))
    }

    /// `text` with every occurrence of the API key replaced by `***`.
    fn redact(&self, text: &str) -> String {
        redact_key(text, self.config.api_key.expose())
    }

    /// The start of an answer's body, for an error message: the key blanked out first (a
    /// server may echo the request's headers), then cut to 200 characters on one line.
    fn snippet(&self, body: &[u8]) -> String {
        let text = self.redact(&String::from_utf8_lossy(body));
        let text: String = text.chars().take(200).collect();
        text.replace(['\n', '\r'], " ")
    }
}

/// `text` with every occurrence of `key`, as sent and as JSON would escape it, replaced by
/// `***`.
fn redact_key(text: &str, key: &str) -> String {
    if key.is_empty() {
        return text.to_owned();
    }
    let mut redacted = text.replace(key, "***");
    if let Ok(quoted) = serde_json::to_string(key) {
        let escaped = &quoted[1..quoted.len() - 1];
        if escaped != key {
            redacted = redacted.replace(escaped, "***");
        }
    }
    redacted
}

/// `text` as a header value, or what keeps it from being one (never the text itself: it may be
/// a secret).
fn header_value(text: &str) -> Result<reqwest::header::HeaderValue, String> {
    if let Some((position, character)) = text
        .chars()
        .enumerate()
        .find(|(_, character)| !(matches!(character, ' '..='~') || *character == '\t'))
    {
        let what = match character {
            '\n' | '\r' => "a line break",
            character if character.is_control() => "a control character",
            _ => "a character outside ASCII",
        };
        let count = text.chars().count();
        let place = if position + 1 == count {
            "at the end".to_owned()
        } else if position == 0 {
            "at the start".to_owned()
        } else {
            format!("at character {}", position + 1)
        };
        return Err(format!("{what} {place}"));
    }
    reqwest::header::HeaderValue::from_str(text)
        .map_err(|_| "a character a header cannot carry".to_owned())
}

/// A `retry-after` in seconds (a number, possibly fractional); any length, however absurd.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds = value.trim().parse::<f64>().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

/// A wait as a notice shows it: `999999 s`, `1.5 s`.
fn human_wait(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds >= 10.0 || seconds.fract() == 0.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{seconds:.1} s")
    }
}

fn network_reason(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else if error.is_body() || error.is_decode() {
        "the connection broke while reading the answer".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(key: &str) -> ClientConfig {
        ClientConfig::new(
            "http://127.0.0.1:9",
            "0dad9f07cd1e58f3fd183368",
            ApiKey::new(key),
        )
    }

    #[test]
    fn a_key_a_header_cannot_carry_is_refused_when_the_client_is_built() {
        for (key, problem) in [
            ("secret-one\nsecret-two", "a line break at character 11"),
            ("secret-key\n", "a line break at the end"),
            ("\rsecret-key", "a line break at the start"),
            ("secret\u{7}key", "a control character at character 7"),
            ("secret-kéy", "a character outside ASCII at character 9"),
        ] {
            let Err(error) = Client::new(config(key)) else {
                panic!("{key:?} was accepted");
            };
            let message = error.to_string();
            assert!(matches!(error, ClientError::InvalidKey { .. }), "{message}");
            assert!(message.contains(problem), "{message}");
            assert!(message.contains("cannot carry"), "{message}");
            assert!(!message.contains("secret"), "{message}");
        }
        assert!(Client::new(config("a plain key\twith tab")).is_ok());
    }

    #[test]
    fn an_app_id_a_header_cannot_carry_is_refused_when_the_client_is_built() {
        let mut config = config("key");
        config.app_id = "0dad9f07\n".to_owned();
        let Err(error) = Client::new(config) else {
            panic!("accepted");
        };
        assert!(matches!(error, ClientError::InvalidAppId { .. }), "{error}");
    }

    #[test]
    fn the_key_is_blanked_out_of_bodies_and_requests() {
        let key = "echo-key-7d41c0b2e9f85a63";
        let Ok(client) = Client::new(config(key)) else {
            panic!("client");
        };
        // The key straddling the 200-character cut must not leave a prefix behind.
        let body = format!(
            "{}{key} and {key}\n{{\"api_key\":\"{key}\"}}",
            "x".repeat(190)
        );
        let snippet = client.snippet(body.as_bytes());
        assert!(!snippet.contains("7d41"), "{snippet}");
        assert!(snippet.contains("***"), "{snippet}");
        let request = client.describe("/api/x", &[("q", format!("{{\"id\":\"{key}\"}}"))]);
        assert!(!request.contains(key), "{request}");
        // As JSON escapes it, too.
        assert_eq!(redact_key(r#"{"k":"a\"b"}"#, "a\"b"), r#"{"k":"***"}"#);
        assert_eq!(redact_key("nothing to hide", ""), "nothing to hide");
    }

    #[test]
    fn retry_after_of_any_length_parses_without_panicking() {
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("999999"),
            Some(Duration::from_secs(999_999))
        );
        assert_eq!(parse_retry_after("1e300"), Some(Duration::MAX));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(human_wait(Duration::from_secs(999_999)), "999999 s");
        assert_eq!(human_wait(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn the_retry_wait_cap_defaults_to_two_minutes() {
        let mut config = config("key");
        assert_eq!(config.max_retry_wait, DEFAULT_MAX_RETRY_WAIT);
        // However long a cap is asked for, deadlines computed from it cannot overflow.
        config.max_retry_wait = Duration::MAX;
        let Ok(client) = Client::new(config) else {
            panic!("client");
        };
        assert_eq!(client.config.max_retry_wait, LONGEST_WAIT);
        assert!(Instant::now().checked_add(LONGEST_WAIT).is_some());
    }
}
