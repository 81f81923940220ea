//! The target lock as the stages take it: a run names itself (what, pid, host, since when) so a
//! run that waits can say who it waits for, and waiting is never silent.

use crate::PipelineError;
use crate::progress::Reporter;
use offbase_pg::PgConnection;
use offbase_pg::cutover as pg_cutover;
use std::time::{Duration, Instant};

/// How often a waiting run says again what it waits for.
pub const NOTICE_EVERY: Duration = Duration::from_secs(5);

/// How a run describes itself to PostgreSQL and in the records it leaves:
/// `offbase sync, pid 1234 on host, since 13:45:02Z`.
pub fn run_name(purpose: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|host| host.trim().to_owned())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "this machine".to_owned());
    let host: String = host
        .chars()
        .filter(|character| !character.is_control())
        .take(24)
        .collect();
    format!(
        "offbase {purpose}, pid {} on {host}, since {}",
        std::process::id(),
        chrono::Utc::now().format("%H:%M:%SZ")
    )
}

/// Takes the target lock of `pg_schema` on `connection` for `purpose`, waiting while another
/// run holds it and saying who, at the start and every [`NOTICE_EVERY`].
pub async fn lock_target(
    connection: &mut PgConnection,
    pg_schema: &str,
    purpose: &str,
    reporter: &dyn Reporter,
) -> Result<(), PipelineError> {
    let who = run_name(purpose);
    let started = Instant::now();
    let mut last_notice: Option<Instant> = None;
    loop {
        let Some(holder) = pg_cutover::try_lock_target(connection, pg_schema, &who).await? else {
            if last_notice.is_some() {
                reporter.message(&format!(
                    "schema {pg_schema:?} is free after {:.0} s: the {purpose} goes on",
                    started.elapsed().as_secs_f64()
                ));
            }
            return Ok(());
        };
        if last_notice.is_none_or(|at| at.elapsed() >= NOTICE_EVERY) {
            reporter.message(&if last_notice.is_none() {
                format!(
                    "waiting for schema {pg_schema:?}: {holder} is working on it (the {purpose} starts when it is done)"
                )
            } else {
                format!(
                    "still waiting for schema {pg_schema:?} ({:.0} s): {holder} is working on it",
                    started.elapsed().as_secs_f64()
                )
            });
            last_notice = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
