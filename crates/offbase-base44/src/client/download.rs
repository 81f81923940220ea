//! Downloading a hosted file: one GET streamed chunk by chunk into a sink (a 2 GB video never
//! sits in memory), tried again from the start after a 429 (its `retry-after`, capped), a 408
//! or 5xx, a timeout, a reset or a body cut short, with exponential backoff and full jitter. A
//! file the platform no longer has (404, 403, 410) is [`DownloadError::Gone`] at once.

use super::retry::{jittered_backoff, network_reason, parse_retry_after};
use super::{ClientError, without_credentials};
use std::time::Duration;

/// Where a download's bytes go. A retry starts the file again: `restart` empties the sink.
pub trait DownloadSink {
    fn restart(&mut self) -> std::io::Result<()>;
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()>;
}

/// What a finished download was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub content_type: Option<String>,
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{url}: HTTP {status}: the file is not there (deleted, or never public)")]
    Gone { url: String, status: u16 },
    #[error("{url}: HTTP {status} after {attempts} attempts")]
    Status {
        url: String,
        status: u16,
        attempts: u32,
    },
    #[error("{url}: {message} after {attempts} attempts")]
    Network {
        url: String,
        message: String,
        attempts: u32,
    },
    #[error("{url}: writing the copy: {source}")]
    Sink { url: String, source: std::io::Error },
}

/// Fetches hosted files, with retries; cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct Downloader {
    http: reqwest::Client,
    max_attempts: u32,
    base_backoff: Duration,
    max_backoff: Duration,
    max_retry_wait: Duration,
}

enum Attempt {
    Done(Downloaded),
    Retry { why: Why, wait: Option<Duration> },
    Fail(DownloadError),
}

enum Why {
    Status(u16),
    Network(String),
}

impl Downloader {
    /// A downloader whose every attempt may take `timeout` (the whole body included).
    pub fn new(timeout: Duration) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("offbase/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| ClientError::InvalidUrl("the file downloader".to_owned()))?;
        Ok(Downloader {
            http,
            max_attempts: 8,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_retry_wait: Duration::from_secs(120),
        })
    }

    /// The same downloader trying each file at most `attempts` times.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Streams `url` into `sink`.
    pub async fn download(
        &self,
        url: &str,
        sink: &mut (dyn DownloadSink + Send),
    ) -> Result<Downloaded, DownloadError> {
        // A signed URL carries its signature in the query: messages show the URL without it.
        let shown = without_credentials(url.split(['?', '#']).next().unwrap_or(url));
        let mut attempt = 1;
        loop {
            let (why, wait) = match self.attempt(url, &shown, sink, attempt).await {
                Attempt::Done(done) => return Ok(done),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry { why, wait } => (why, wait),
            };
            if attempt >= self.max_attempts {
                return Err(match why {
                    Why::Status(status) => DownloadError::Status {
                        url: shown,
                        status,
                        attempts: attempt,
                    },
                    Why::Network(message) => DownloadError::Network {
                        url: shown,
                        message,
                        attempts: attempt,
                    },
                });
            }
            let wait = wait
                .map(|wait| wait.min(self.max_retry_wait))
                .unwrap_or_else(|| self.backoff(attempt));
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        jittered_backoff(self.base_backoff, self.max_backoff, attempt)
    }

    async fn attempt(
        &self,
        url: &str,
        shown: &str,
        sink: &mut (dyn DownloadSink + Send),
        attempt: u32,
    ) -> Attempt {
        let sink_error = |source| {
            Attempt::Fail(DownloadError::Sink {
                url: shown.to_owned(),
                source,
            })
        };
        let mut response = match self.http.get(url).send().await {
            Ok(response) => response,
            Err(error) if error.is_builder() => {
                return Attempt::Fail(DownloadError::Status {
                    url: shown.to_owned(),
                    status: 0,
                    attempts: attempt,
                });
            }
            Err(error) => {
                return Attempt::Retry {
                    why: Why::Network(network_reason(&error)),
                    wait: None,
                };
            }
        };
        let status = response.status().as_u16();
        match status {
            200..=299 => {}
            403 | 404 | 410 => {
                return Attempt::Fail(DownloadError::Gone {
                    url: shown.to_owned(),
                    status,
                });
            }
            408 | 429 | 500..=599 => {
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok())
                    .and_then(parse_retry_after);
                return Attempt::Retry {
                    why: Why::Status(status),
                    wait,
                };
            }
            _ => {
                return Attempt::Fail(DownloadError::Status {
                    url: shown.to_owned(),
                    status,
                    attempts: attempt,
                });
            }
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let expected = response.content_length();
        if let Err(error) = sink.restart() {
            return sink_error(error);
        }
        let mut received: u64 = 0;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    received += chunk.len() as u64;
                    if let Err(error) = sink.write(&chunk) {
                        return sink_error(error);
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    return Attempt::Retry {
                        why: Why::Network(network_reason(&error)),
                        wait: None,
                    };
                }
            }
        }
        // A body shorter than its announced length was cut: the copy would be wrong.
        if expected.is_some_and(|expected| expected != received) {
            return Attempt::Retry {
                why: Why::Network(format!(
                    "the body was cut short ({received} of {} bytes)",
                    expected.unwrap_or_default()
                )),
                wait: None,
            };
        }
        Attempt::Done(Downloaded {
            content_type,
            attempts: attempt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Discard;

    impl DownloadSink for Discard {
        fn restart(&mut self) -> std::io::Result<()> {
            Ok(())
        }

        fn write(&mut self, _chunk: &[u8]) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A signed URL's signature (in its query) never reaches a message or a reject file.
    #[tokio::test]
    async fn a_failed_download_names_its_url_without_the_signature() {
        let downloader = Downloader::new(Duration::from_secs(2))
            .unwrap_or_else(|error| panic!("{error}"))
            .with_attempts(1);
        let url = "http://127.0.0.1:1/private-files/a.pdf?expires=1&token=5ecret5ignature";
        let error = match downloader.download(url, &mut Discard).await {
            Ok(done) => panic!("downloaded from a closed port: {done:?}"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains("/private-files/a.pdf"), "{error}");
        assert!(!error.contains("5ecret5ignature"), "{error}");
    }
}
