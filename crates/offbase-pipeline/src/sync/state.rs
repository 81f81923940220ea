//! What a sync is told ([`SyncOptions`]), what it keeps per entity between passes
//! ([`EntitySyncState`], saved in `offbase.sync_state` with every page it applies), and what a
//! pass reports.

use crate::target::Target;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// How a sync pass runs.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The load's target this sync keeps up to date.
    pub target: Target,
    /// Records per request (Base44 caps at 5000).
    pub page_size: usize,
    /// How far before the cursor each pass reads again: writes that become visible late
    /// (stamped before an earlier pass read past their instant) are still seen.
    pub overlap: Duration,
    /// List every live key and delete rows the source no longer has.
    pub reconcile: bool,
    /// How often to reconcile (the first pass always does): listing every key costs a
    /// request per 5,000 records, against the platform's rate limit.
    pub reconcile_every: Duration,
    /// Mark deleted records' rows with a `deleted_at` timestamp instead of deleting them.
    pub soft_delete: bool,
    /// The app's schemas as they are now (a code export): copied into the workspace before
    /// each pass, so fields the schemas gained become columns.
    pub schema_from: Option<std::path::PathBuf>,
}

/// How much earlier than the pull's start the first pass reads: the pull's clock and the
/// platform's may disagree by this much.
pub(crate) const CLOCK_MARGIN_MICROS: i64 = 10 * 60 * 1_000_000;

/// The column `--soft-delete` adds and sets.
pub const SOFT_DELETE_COLUMN: &str = "deleted_at";

impl SyncOptions {
    pub fn new(database_url: impl Into<String>, pg_schema: impl Into<String>) -> Self {
        SyncOptions {
            target: Target::new(database_url, pg_schema),
            page_size: offbase_base44::api::LIST_CAP,
            overlap: Duration::from_secs(5),
            reconcile: true,
            reconcile_every: Duration::from_secs(300),
            soft_delete: false,
            schema_from: None,
        }
    }

    /// The options of the load whose tables this sync keeps up to date.
    pub fn for_target(target: &Target) -> Self {
        SyncOptions {
            target: target.clone(),
            ..SyncOptions::new(String::new(), String::new())
        }
    }
}

/// An entity's sync state, saved in `offbase.sync_state` with every page it applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitySyncState {
    /// The newest `updated_date` applied, in microseconds since the Unix epoch.
    pub cursor: Option<i64>,
    pub passes: u64,
    pub fetched: u64,
    pub upserted: u64,
    pub deleted: u64,
    pub rejected: u64,
    /// When the last pass finished and when the last reconciliation began (Unix
    /// microseconds).
    pub last_pass: Option<i64>,
    pub last_reconcile: Option<i64>,
    /// Rejected versions (id, `updated_date` in microseconds) still inside the overlap window,
    /// so a record read again there is not rejected twice.
    #[serde(default)]
    pub recent_rejects: BTreeSet<(String, i64)>,
}

/// What one pass did for one entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntitySyncReport {
    pub entity: String,
    pub table: String,
    pub fetched: u64,
    pub upserted: u64,
    pub deleted: u64,
    pub rejected: u64,
    /// The newest `updated_date` applied (ISO 8601, UTC).
    pub cursor: Option<String>,
    /// Seconds between the newest applied change and the end of the pass.
    pub lag_seconds: Option<f64>,
    /// For each change this pass saw for the first time (newer than the cursor it started
    /// from), milliseconds from its `updated_date` to the commit that applied it; at most
    /// 10,000 a pass. Empty on an entity's first pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub change_lags_ms: Vec<u64>,
    /// Files of new uploads copied before the records that point at them were written.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub files_copied: u64,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// The most change lags one pass reports per entity.
pub(crate) const MAX_LAG_SAMPLES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncSummary {
    pub pg_schema: String,
    pub entities: Vec<EntitySyncReport>,
    /// Entities the pass could not sync, with why.
    pub skipped: Vec<String>,
    /// Foreign keys this pass took off (the first pass after a load takes them all).
    pub suspended_foreign_keys: Vec<String>,
    /// Columns added for fields the schemas gained (`table.column type`).
    pub added_columns: Vec<String>,
    pub seconds: f64,
}
