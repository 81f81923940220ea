//! The running sync: pass after pass until it is told to stop or the schema is cut over, each
//! pass started no sooner than its interval after the last one began, and no sooner than the
//! request budget allows (the platform's rate limit is per app and shared with the live app, so
//! a pass that made `R` requests waits `R × 60 / requests_per_minute` seconds from its start).

use crate::PipelineError;
use crate::progress::Reporter;
use crate::sync::{SyncOptions, SyncSummary, sync_once};
use crate::workspace::Workspace;
use offbase_base44::client::Client;
use offbase_pg::PgError;
use offbase_pg::cutover::CutoverMark;
use std::time::{Duration, Instant};

/// The sync's default budget: three fifths of the free plan's list allowance (60 of 100 a
/// minute), leaving the rest to the live app, whose own list calls count against the same
/// limit.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = offbase_base44::api::free_plan::LIST.requests * 3 / 5;

/// When passes run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// The shortest time from one pass's start to the next.
    pub interval: Duration,
    /// The request budget (`None`: unpaced, for plans without a limit that matters).
    pub requests_per_minute: Option<u32>,
}

impl Schedule {
    /// How long from a pass's start to the next one's, for a pass that made `requests`.
    pub fn period(&self, requests: u64) -> Duration {
        let paced = self
            .requests_per_minute
            .filter(|limit| *limit > 0)
            .map(|limit| Duration::from_secs_f64(requests as f64 * 60.0 / f64::from(limit)))
            .unwrap_or_default();
        self.interval.max(paced)
    }
}

/// One finished pass, as the front end shows it.
#[derive(Debug, Clone)]
pub struct PassOutcome {
    pub summary: SyncSummary,
    /// Requests the pass made (retries included).
    pub requests: u64,
    /// From this pass's start to the next one's.
    pub period: Duration,
    /// How long until the next pass starts.
    pub next_pass_in: Duration,
    /// Why the period is what it is, in words (`8 requests a pass at 60 a minute`).
    pub pacing: String,
}

/// Why a running sync ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEnd {
    /// Told to stop (Ctrl-C), or one pass was asked for.
    Stopped,
    /// The schema was cut over while the sync ran: it stopped without writing.
    CutOver(CutoverMark),
}

/// Runs passes until `stop` says so or the schema is cut over. A schema that is already cut
/// over when the first pass starts is refused (an error naming the switch); one cut over while
/// the sync runs ends it quietly, since that is how a sync is meant to end.
pub async fn run(
    workspace: &Workspace,
    client: &Client,
    options: &SyncOptions,
    schedule: Schedule,
    stop: &(dyn Fn() -> bool + Send + Sync),
    on_pass: &mut (dyn FnMut(&PassOutcome) + Send),
    reporter: &dyn Reporter,
) -> Result<SyncEnd, PipelineError> {
    let mut passes = 0u64;
    loop {
        let started = Instant::now();
        let before = client.stats().requests;
        let summary = match sync_once(workspace, client, options, reporter).await {
            Ok(summary) => summary,
            Err(PipelineError::Postgres(PgError::CutOver { schema, at, by })) if passes > 0 => {
                return Ok(SyncEnd::CutOver(CutoverMark {
                    pg_schema: schema,
                    at,
                    by,
                }));
            }
            Err(error) => return Err(error),
        };
        passes += 1;
        let requests = client.stats().requests.saturating_sub(before);
        let period = schedule.period(requests);
        let pacing = match schedule.requests_per_minute.filter(|limit| *limit > 0) {
            Some(limit) if period > schedule.interval => {
                format!("{requests} requests a pass at {limit} a minute (--requests-per-minute)")
            }
            Some(limit) => format!(
                "every {:.1} s (--interval); {requests} requests a pass, within {limit} a minute",
                schedule.interval.as_secs_f64()
            ),
            None => format!(
                "every {:.1} s (--interval)",
                schedule.interval.as_secs_f64()
            ),
        };
        let next_pass_in = period.saturating_sub(started.elapsed());
        on_pass(&PassOutcome {
            summary,
            requests,
            period,
            next_pass_in,
            pacing,
        });
        if stop() {
            return Ok(SyncEnd::Stopped);
        }
        let deadline = tokio::time::Instant::now() + next_pass_in;
        while tokio::time::Instant::now() < deadline {
            if stop() {
                return Ok(SyncEnd::Stopped);
            }
            tokio::time::sleep(Duration::from_millis(50).min(next_pass_in)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_waits_for_its_requests_budget_or_its_interval_whichever_is_longer() {
        let schedule = Schedule {
            interval: Duration::from_secs(1),
            requests_per_minute: Some(60),
        };
        assert_eq!(schedule.period(8), Duration::from_secs(8));
        assert_eq!(schedule.period(0), Duration::from_secs(1));
        let unpaced = Schedule {
            requests_per_minute: None,
            ..schedule
        };
        assert_eq!(unpaced.period(500), Duration::from_secs(1));
    }
}
