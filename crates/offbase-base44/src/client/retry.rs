//! The request loop: one request tried until it succeeds, fails for good or runs out of
//! attempts. Retried: 429 (after its `retry-after`, capped by `max_retry_wait`, holding the
//! shared budget too), 408 and 5xx, timeouts, resets and truncated or unreadable bodies, with
//! exponential backoff and full jitter. Every wait of a second or more is announced.

use super::{Caller, Client, ClientError, NOTICE_EVERY};
use bytes::Bytes;
use rand::Rng;
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

enum Attempt<T> {
    Done(T),
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
    /// Sleeps `duration`, saying why (`what`) when it is a second or more (or `always`: a retry
    /// is said however short its wait, so a server that fails is never retried in silence),
    /// and again every [`NOTICE_EVERY`] with the time left.
    async fn wait(&self, duration: Duration, what: &str, always: bool) {
        let Some(notice) = self
            .notices
            .0
            .as_ref()
            .filter(|_| always || duration >= Duration::from_secs(1))
        else {
            tokio::time::sleep(duration).await;
            return;
        };
        let until = Instant::now() + duration;
        notice(&format!("{what}: waiting {}", human_wait(duration)));
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

    pub(super) async fn get_json(
        &self,
        entity: &str,
        path: &str,
        pairs: &[(&'static str, String)],
    ) -> Result<Value, ClientError> {
        self.request_json(entity, path, pairs, None).await
    }

    /// A request (a GET, or a POST of `body`) tried until it succeeds, fails for good or runs
    /// out of attempts.
    pub(super) async fn request_json(
        &self,
        entity: &str,
        path: &str,
        pairs: &[(&'static str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        self.request_parsed(entity, path, pairs, body, |body| {
            serde_json::from_slice::<Value>(&body).map_err(|error| error.to_string())
        })
        .await
    }

    /// [`Client::request_json`] with the body read by `parse` (given the body itself, so it
    /// can keep it without a copy), whose error (the body is not JSON) is retried like a
    /// truncated answer.
    pub(super) async fn request_parsed<T>(
        &self,
        entity: &str,
        path: &str,
        pairs: &[(&'static str, String)],
        body: Option<&Value>,
        parse: impl Fn(Bytes) -> Result<T, String>,
    ) -> Result<T, ClientError> {
        let request = match body {
            None => self.describe(path, pairs),
            Some(_) => self.redact(&format!("POST {path}")),
        };
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
                    false,
                )
                .await;
            }
            self.count_stat(|stats| stats.requests += 1);
            let (failure, wait) = match self
                .attempt(entity, &request, &url, pairs, body, attempt, &parse)
                .await
            {
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
            self.wait(delay, &what, true).await;
        }
    }

    /// Exponential backoff with full jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        jittered_backoff(self.config.base_backoff, self.config.max_backoff, attempt)
    }

    #[allow(clippy::too_many_arguments)]
    async fn attempt<T>(
        &self,
        entity: &str,
        request: &str,
        url: &str,
        pairs: &[(&'static str, String)],
        body: Option<&Value>,
        attempt: u32,
        parse: &impl Fn(Bytes) -> Result<T, String>,
    ) -> Attempt<T> {
        let builder = match body {
            None => self.http.get(url).query(pairs),
            Some(body) => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(serde_json::to_vec(body).unwrap_or_default()),
        };
        let builder = match &self.caller {
            Caller::Key => builder.header("api_key", self.api_key_header.clone()),
            Caller::User { header, .. } => {
                builder.header(reqwest::header::AUTHORIZATION, header.clone())
            }
            Caller::Anonymous => builder,
        };
        let response = builder
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
        let body = match read_body(response).await {
            Ok(body) => body,
            Err(error) => {
                return Attempt::Retry {
                    failure: Failure::Network(network_reason(&error)),
                    wait: None,
                };
            }
        };
        match status {
            200..=299 => {
                let length = body.len();
                match parse(body) {
                    Ok(value) => Attempt::Done(value),
                    Err(error) => Attempt::Retry {
                        failure: Failure::Body(
                            self.redact(&format!("invalid JSON ({length} bytes): {error}")),
                        ),
                        wait: None,
                    },
                }
            }
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

/// The whole body, read into one buffer sized from its announced length: collecting the
/// chunks and then copying them would hold a large page twice.
async fn read_body(mut response: reqwest::Response) -> Result<Bytes, reqwest::Error> {
    // The announced length is the server's word: a first allocation of at most 64 MiB.
    let announced = response.content_length().unwrap_or(0).min(64 << 20);
    let mut body = Vec::with_capacity(announced as usize);
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// A `retry-after` in seconds (a number, possibly fractional); any length, however absurd.
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds = value.trim().parse::<f64>().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

/// A wait as a notice shows it: `999999 s`, `1.5 s`.
pub(super) fn human_wait(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds >= 10.0 || seconds.fract() == 0.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{seconds:.1} s")
    }
}

/// The wait before retry `attempt`: `base` doubled each attempt up to `max`, then a random
/// point in its upper half (full jitter spreads the retries of many tasks).
pub(super) fn jittered_backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(16);
    let ceiling = base.saturating_mul(1 << exponent).min(max);
    let millis = ceiling.as_millis().max(1) as u64;
    Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
}

/// Why a request failed on the network, in a few words.
pub(super) fn network_reason(error: &reqwest::Error) -> String {
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
