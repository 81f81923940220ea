//! `POST .../entities/{Entity}/aggregate` (the SDK's `aggregate(spec)`): the spec read and
//! checked by `offbase_base44::aggregate` (as the emulator reads it: a refused spec is a 400
//! naming what is wrong), translated to one grouped `SELECT` by `offbase_sql::aggregate`, and
//! run like a list, in a read-only transaction as the caller, so row level security decides
//! which records count (a user's groups are those of the records she may read). The rows are
//! then written as the emulator writes them: timestamps in the platform's stored form, numbers
//! by `AggregateSpec::finish`, at most `limit` with `truncated` when PostgreSQL found more.

use crate::error::ApiError;
use crate::reads::read_rows;
use crate::routes::{AppState, SharedState, entity, respond};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use offbase_base44::aggregate::AggregateSpec;
use offbase_pipeline::compare::canonical::platform_timestamp;
use offbase_sql::aggregate::aggregate_sql;
use serde_json::{Map, Value};

/// `POST .../{Entity}/aggregate`: `{"rows": [...], "truncated": bool}`.
pub(crate) async fn aggregate(
    State(state): State<SharedState>,
    Path((app_id, entity)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(aggregate_records(&state, &headers, &app_id, &entity, &body).await)
}

async fn aggregate_records(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    name: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let (declared, table) = entity(state, app_id, name)?;
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        // No body: every default (one total row of every record), as the emulator reads it.
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|error| {
            ApiError::bad_request(format!("the request body is not valid JSON: {error}"))
        })?
    };
    let spec = AggregateSpec::parse(&body, declared)
        .map_err(|error| ApiError::bad_request(format!("invalid aggregate spec: {error}")))?;
    let translated = aggregate_sql(&state.pg_schema, table, &spec)
        .map_err(|error| ApiError::not_served(format!("not served yet: {error}")))?;
    let rows = read_rows(state, headers, declared, &translated.sql).await?;
    let rows = rows
        .into_iter()
        .map(|row| {
            let Value::Object(mut row) = row else {
                return Map::new();
            };
            for name in &translated.timestamps {
                if let Some(Value::String(text)) = row.get(name) {
                    let stored = platform_timestamp(text).unwrap_or_else(|| text.clone());
                    row.insert(name.clone(), Value::String(stored));
                }
            }
            row
        })
        .collect();
    Ok(spec.finish(rows).to_json())
}
