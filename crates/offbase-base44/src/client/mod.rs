//! The Base44 entity API client (behind the `client` feature): list, trash, get and count
//! requests with the key in a header. The key never appears in a message: it is checked when
//! the client is built (a header must be able to carry it), and whatever the server sends back
//! is kept in an error only with the key blanked out (a server may echo the request).
//!
//! This file owns the client's face: its configuration, errors, the requests it makes and how
//! they are shown. The request loop is in `retry` (retries on 429 with `retry-after`, 5xx,
//! timeouts, resets and truncated bodies, with backoff and jitter, and announced waits); the
//! request rate shared by every task is in `budget`.

mod budget;
mod download;
mod raw;
mod retry;

#[cfg(test)]
mod tests;

use budget::RequestBudget;
pub use download::{DownloadError, DownloadSink, Downloaded, Downloader};
pub use raw::RawRecords;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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

/// Who a client's requests are made as.
#[derive(Clone)]
enum Caller {
    /// The API key: the admin and service path, no access rules.
    Key,
    /// A signed-in user (a bearer token), held to the access rules.
    User {
        header: reqwest::header::HeaderValue,
        token: String,
    },
    /// An anonymous visitor: no credential.
    Anonymous,
}

impl fmt::Debug for Caller {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Caller::Key => "Caller::Key",
            Caller::User { .. } => "Caller::User(***)",
            Caller::Anonymous => "Caller::Anonymous",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    /// The key as the header carries it, checked once (and marked sensitive).
    api_key_header: reqwest::header::HeaderValue,
    /// Who the requests are made as: the key (the admin and service path), a user, or nobody.
    caller: Caller,
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
            caller: Caller::Key,
            app_id_header,
            budget,
            stats: Arc::new(std::sync::Mutex::new(ClientStats::default())),
            notices: WaitNotices::default(),
        })
    }

    /// The same client (sharing its budget and statistics) making its requests as the user whose
    /// access token `token` is (`Authorization: Bearer`), held to the app's access rules.
    pub fn as_user(&self, token: &str) -> Result<Self, ClientError> {
        let mut header = header_value(&format!("Bearer {token}"))
            .map_err(|problem| ClientError::InvalidKey { problem })?;
        header.set_sensitive(true);
        let mut client = self.clone();
        client.caller = Caller::User {
            header,
            token: token.to_owned(),
        };
        Ok(client)
    }

    /// The same client making its requests as an anonymous visitor (no credential at all).
    pub fn as_anonymous(&self) -> Self {
        let mut client = self.clone();
        client.caller = Caller::Anonymous;
        client
    }

    /// An access token for the user with this email, from the emulator's
    /// `POST /auth/test-token` (with the key). Base44 itself issues user tokens only at
    /// sign-in: there this fails, and the user's token must be given instead.
    pub async fn test_token(&self, email: &str) -> Result<String, ClientError> {
        let path = format!(
            "/api/apps/{}/auth/test-token",
            encode_segment(&self.config.app_id)
        );
        let body = serde_json::json!({ "email": email });
        // Asked with the key, whoever this client speaks as.
        let mut keyed = self.clone();
        keyed.caller = Caller::Key;
        let value = keyed
            .request_json("auth/test-token", &path, &[], Some(&body))
            .await?;
        value
            .get("access_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ClientError::InvalidBody {
                request: self.redact(&format!("POST {path}")),
                message: "the answer has no `access_token`".to_owned(),
                attempts: 1,
            })
    }

    /// The same client (sharing its budget and statistics) that tells `notice` about its waits.
    pub fn with_wait_notice(mut self, notice: WaitNotice) -> Self {
        self.notices = WaitNotices(Some(notice));
        self
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

    /// [`Client::list`] with the records kept as the API sent them (see [`RawRecords`]): the
    /// pull writes most of them as they are, without building and writing them again.
    pub async fn list_raw(
        &self,
        entity: &str,
        query: &ListQuery,
    ) -> Result<RawRecords, ClientError> {
        let path = self.entity_path(entity, "");
        let pairs = query.pairs();
        let page = self
            .request_parsed(
                entity,
                &path,
                &pairs,
                None,
                |body| match RawRecords::parse(body) {
                    Ok(page) => Ok(Ok(page)),
                    Err(raw::Unreadable::Shape(message)) => Ok(Err(message)),
                    Err(raw::Unreadable::Json(message)) => Err(message),
                },
            )
            .await?;
        let request = self.describe(&path, &pairs);
        match page {
            Ok(page) => Ok(page.answering(request)),
            Err(message) => Err(ClientError::InvalidBody {
                request,
                message,
                attempts: 1,
            }),
        }
    }

    /// `GET /entities/{entity}/trash?...`: the deleted records, a bare array like the list
    /// (with no [`LIST_CAP`](crate::api::LIST_CAP)).
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

    /// `POST /integration-endpoints/Core/CreateFileSignedUrl`: a URL that reads the private
    /// file `file_uri` for `expires_in` seconds.
    pub async fn create_file_signed_url(
        &self,
        file_uri: &str,
        expires_in: u64,
    ) -> Result<String, ClientError> {
        let path = format!(
            "/api/apps/{}/integration-endpoints/Core/CreateFileSignedUrl",
            encode_segment(&self.config.app_id)
        );
        let body = serde_json::json!({"file_uri": file_uri, "expires_in": expires_in});
        let value = self
            .request_json("CreateFileSignedUrl", &path, &[], Some(&body))
            .await?;
        value
            .get("signed_url")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ClientError::InvalidBody {
                request: self.redact(&format!("POST {path}")),
                message: "the answer has no `signed_url`".to_owned(),
                attempts: 1,
            })
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
        let text = redact_key(text, self.config.api_key.expose());
        match &self.caller {
            Caller::User { token, .. } => redact_key(&text, token),
            _ => text,
        }
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
