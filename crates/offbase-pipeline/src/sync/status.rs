//! Where the load and the sync of one target schema stand, read from the target alone.

use super::entity::{format_micros, now_micros};
use super::state::*;
use crate::PipelineError;
use offbase_pg::load::{self as pg_load};
use offbase_pg::sync::{self as pg_sync};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the load and the sync of one target schema stand, read from the target alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub pg_schema: String,
    /// The load's phase (`data`, `post_load`, `done`), or `None` when nothing was loaded.
    pub load_phase: Option<String>,
    /// The switch, once the schema was cut over (no sync writes into it then).
    #[serde(default)]
    pub cut_over: Option<offbase_pg::cutover::CutoverMark>,
    pub entities: Vec<EntityStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityStatus {
    pub entity: String,
    /// The newest `updated_date` applied (ISO 8601, UTC).
    pub cursor: Option<String>,
    /// Now minus the cursor, in seconds.
    pub lag_seconds: Option<f64>,
    /// Seconds since the last finished pass and since the last reconciliation began.
    pub since_last_pass_seconds: Option<f64>,
    pub since_last_reconcile_seconds: Option<f64>,
    pub state: EntitySyncState,
}

/// Every entity's saved state for `pg_schema`.
pub(super) async fn read_states(
    connection: &mut offbase_pg::PgConnection,
    pg_schema: &str,
) -> Result<BTreeMap<String, EntitySyncState>, PipelineError> {
    let mut states = BTreeMap::new();
    for (entity, value) in pg_sync::read_sync_states(connection, pg_schema).await? {
        let state = serde_json::from_value(value).map_err(|error| PipelineError::DamagedState {
            what: format!("the sync state of {entity} in offbase.sync_state"),
            message: error.to_string(),
            remedy: "delete its row to start that entity's sync over".to_owned(),
        })?;
        states.insert(entity, state);
    }
    Ok(states)
}

/// Reads the sync state of `pg_schema`.
pub async fn status(database_url: &str, pg_schema: &str) -> Result<SyncStatus, PipelineError> {
    let mut connection = offbase_pg::connect(database_url).await?;
    let connection = &mut connection;
    // Read-only: where offbase never ran, there is nothing to read and nothing is created.
    let loads = offbase_pg::state::state_table_exists(connection, "load_runs").await?;
    let syncs = offbase_pg::state::state_table_exists(connection, "sync_state").await?;
    let load_phase = if loads {
        pg_load::read_run(connection, pg_schema).await?
    } else {
        None
    }
    .map(|run| {
        serde_json::to_value(run.phase)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    });
    let now = now_micros();
    let seconds = |micros: Option<i64>| micros.map(|micros| (now - micros).max(0) as f64 / 1e6);
    let mut entities = Vec::new();
    let states = if syncs {
        read_states(connection, pg_schema).await?
    } else {
        BTreeMap::new()
    };
    for (entity, state) in states {
        entities.push(EntityStatus {
            entity,
            cursor: state.cursor.map(format_micros),
            lag_seconds: seconds(state.cursor),
            since_last_pass_seconds: seconds(state.last_pass),
            since_last_reconcile_seconds: seconds(state.last_reconcile),
            state,
        });
    }
    let cut_over = offbase_pg::cutover::read_mark(connection, pg_schema).await?;
    Ok(SyncStatus {
        pg_schema: pg_schema.to_owned(),
        load_phase,
        cut_over,
        entities,
    })
}
