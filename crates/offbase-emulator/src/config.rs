//! What one emulator run is made of: the app to serve, the key it accepts, and the platform
//! behaviours to reproduce (rate limits, injected faults, a background writer). Plain data with
//! defaults and a validity check; nothing here does I/O.

use crate::error::EmulatorError;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The app id served when neither the config nor `base44/.app.jsonc` gives one.
pub const DEFAULT_APP_ID: &str = "6650e44a00000000000000a0";

/// The email put in `created_by` on records created through the API or by the writer, unless
/// [`EmulatorConfig::created_by`] says otherwise.
pub const DEFAULT_CREATED_BY: &str = "emulator@example.com";

/// The default of [`EmulatorConfig::max_upload_bytes`]: 50 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 50 * 1024 * 1024;
/// The default of [`EmulatorConfig::max_upload_total_bytes`]: 1 GiB.
pub const DEFAULT_MAX_UPLOAD_TOTAL_BYTES: usize = 1024 * 1024 * 1024;

/// How to run an emulator: see [`crate::start`].
#[derive(Clone)]
pub struct EmulatorConfig {
    /// An exported app: `base44/entities/*.jsonc` (schemas), optionally `base44/.app.jsonc`
    /// (`{"id": ...}`) and `data/<Entity>.jsonl` (records, one JSON object a line).
    pub app_dir: PathBuf,
    /// The app id served under `/api/apps/{app_id}/`. Default: the id in
    /// `base44/.app.jsonc`, else [`DEFAULT_APP_ID`].
    pub app_id: Option<String>,
    /// The key clients must send (`api_key: KEY` or `Authorization: Bearer KEY`). Never
    /// printed: the `Debug` output redacts it.
    pub api_key: String,
    pub rate_limits: RateLimits,
    pub faults: Faults,
    /// A background writer changing records while clients read; `None`: no writer.
    pub writer: Option<WriterConfig>,
    /// The email put in `created_by` on API and writer creates.
    pub created_by: String,
    /// File paths (as served here, e.g. `/images/public/<app>/<name>`) that answer 404, as a
    /// file deleted on the platform does.
    pub deleted_files: std::collections::BTreeSet<String>,
    /// Serve every file with exactly this many bytes (a benchmark's); `None`: each file's own
    /// length, 512 to 2,559 bytes.
    pub file_size: Option<usize>,
    /// The largest file `Core.UploadFile` / `Core.UploadPrivateFile` accept, in bytes (larger
    /// ones: 413). Default 50 MiB.
    pub max_upload_bytes: usize,
    /// The bytes of uploads the emulator keeps in memory at most (once reached, uploads are
    /// refused with 507). Default 1 GiB.
    pub max_upload_total_bytes: usize,
}

impl EmulatorConfig {
    /// A config serving `app_dir` with `api_key`, the free plan's rate limits, no faults and no
    /// writer.
    pub fn new(app_dir: impl Into<PathBuf>, api_key: impl Into<String>) -> Self {
        EmulatorConfig {
            app_dir: app_dir.into(),
            app_id: None,
            api_key: api_key.into(),
            rate_limits: RateLimits::default(),
            faults: Faults::default(),
            writer: None,
            created_by: DEFAULT_CREATED_BY.to_owned(),
            deleted_files: std::collections::BTreeSet::new(),
            file_size: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_upload_total_bytes: DEFAULT_MAX_UPLOAD_TOTAL_BYTES,
        }
    }

    /// Checks the numbers a run depends on, so a typo fails at start rather than mid-run.
    pub(crate) fn validate(&self) -> Result<(), EmulatorError> {
        let invalid = |message: String| Err(EmulatorError::InvalidConfig(message));
        if self.api_key.trim().is_empty() {
            return invalid("the API key is empty: give the key clients must send".to_owned());
        }
        if let RateLimits::Base44 { scale } = self.rate_limits
            && !(scale.is_finite() && scale > 0.0)
        {
            return invalid(format!(
                "the rate-limit scale is {scale}: give a positive number (1 = the free plan), \
                 or turn rate limits off"
            ));
        }
        for (name, rate) in [
            ("fail_rate", self.faults.fail_rate),
            ("throttle_rate", self.faults.throttle_rate),
            ("truncate_rate", self.faults.truncate_rate),
            ("reset_rate", self.faults.reset_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return invalid(format!(
                    "{name} is {rate}: give a share between 0 and 1 of the requests"
                ));
            }
        }
        if self.max_upload_bytes == 0 || self.max_upload_total_bytes < self.max_upload_bytes {
            return invalid(format!(
                "uploads may have {} bytes each and {} in all: give a positive size per file, \
                 and a total at least as large",
                self.max_upload_bytes, self.max_upload_total_bytes
            ));
        }
        if let Some(app_id) = &self.app_id
            && (app_id.is_empty() || app_id.contains(['/', '?', '#']))
        {
            return invalid(format!(
                "the app id `{app_id}` cannot be part of a URL path: give a 24-hex id"
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("EmulatorConfig")
            .field("app_dir", &self.app_dir)
            .field("app_id", &self.app_id)
            .field("api_key", &"<redacted>")
            .field("rate_limits", &self.rate_limits)
            .field("faults", &self.faults)
            .field("writer", &self.writer)
            .field("created_by", &self.created_by)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("max_upload_total_bytes", &self.max_upload_total_bytes)
            .finish()
    }
}

/// The platform's per-app request limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateLimits {
    /// The free plan's limits per operation class (list/count 100 a minute, get 150, create
    /// 140, update 100, delete 100 per 30 s), each multiplied by `scale` (paid plans get
    /// multiples; a large scale such as 1000 effectively turns them off for benchmarks).
    Base44 { scale: f64 },
    /// No limits.
    Off,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::Base44 { scale: 1.0 }
    }
}

/// Faults injected into entity API answers (not file downloads), each drawn per request from
/// one RNG seeded with `seed`, so a given seed and request order give the same faults. Rates are
/// shares of requests between 0 and 1; when several are drawn for one request the first in
/// field order wins.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// Answer 500, 502 or 503 instead of doing the work.
    pub fail_rate: f64,
    /// Answer 429 with `retry-after: 1` instead of doing the work.
    pub throttle_rate: f64,
    /// Do the work, answer 200 with the JSON body cut short (the client sees invalid JSON).
    pub truncate_rate: f64,
    /// Do the work, send the head and part of the body, then drop the connection.
    pub reset_rate: f64,
    /// Added before every answer.
    pub latency: Duration,
    pub seed: u64,
    /// Fault file downloads too (off: files are served faithfully whatever the rates).
    pub files: bool,
}

impl Faults {
    /// No faults at all.
    pub fn none() -> Self {
        Faults::default()
    }
}

/// A background writer: creates (~50%), updates (~35%) and deletes (~15%) on the app's entities
/// at `rate_per_second` for `duration`, in bursts of 3 to 10 operations stamped with the same
/// instant, then it stops. Values are drawn from the schema's types, formats and enums with an
/// RNG seeded by `seed`.
#[derive(Debug, Clone, PartialEq)]
pub struct WriterConfig {
    /// Operations per second; 0 writes nothing.
    pub rate_per_second: u32,
    pub duration: Duration,
    pub seed: u64,
}
