//! The HTTP surface: the entity reads (list, get, count) under the emulator's paths, each
//! translated by `offbase_sql::query` and run on a pooled connection, rows shaped back into the
//! platform's records by `offbase_pipeline::compare::canonical::platform_record`; the SDK's
//! fire-and-forget calls (page views, analytics) accepted and dropped. Anything else answers 501 naming what is not served yet, so a client never waits on a route this
//! slice does not have.

use crate::error::{ApiError, json_response};
use crate::params::{ReadParams, project};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use offbase_base44::api::ReadEndpoint;
use offbase_model::{Table, TargetSchema};
use offbase_pipeline::compare::canonical::platform_record;
use offbase_sql::query::{count_sql, get_sql, list_sql};
use serde_json::{Map, Value};
use sqlx::PgPool;
use std::sync::Arc;

const ENTITY: &str = "/api/apps/{app_id}/entities/{entity}";
const ENTITY_COUNT: &str = "/api/apps/{app_id}/entities/{entity}/count";
const RECORD: &str = "/api/apps/{app_id}/entities/{entity}/{id}";
/// The SDK's fire-and-forget calls: a page view logged, analytics events.
const PAGE_LOG: &str = "/api/app-logs/{app_id}/log-user-in-app/{page}";
const ANALYTICS: &str = "/api/apps/{app_id}/analytics/track/batch";

/// What every handler reads: the pool, where the tables are, and which table holds which
/// entity.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) pool: PgPool,
    pub(crate) pg_schema: String,
    pub(crate) app_id: String,
    pub(crate) target: TargetSchema,
}

type SharedState = Arc<AppState>;
type Params = Query<Vec<(String, String)>>;

pub(crate) fn router(state: SharedState) -> Router {
    Router::new()
        .route(ENTITY, get(list))
        .route(ENTITY_COUNT, get(count))
        .route(RECORD, get(get_record))
        .route(PAGE_LOG, axum::routing::post(accepted))
        .route(ANALYTICS, axum::routing::post(accepted))
        .fallback(not_served)
        .method_not_allowed_fallback(not_served)
        .with_state(state)
}

fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(error) => error.into_response(),
    }
}

/// The table of `entity` in app `app_id`: 404 for another app or an entity the plan has not.
fn table<'a>(state: &'a AppState, app_id: &str, entity: &str) -> Result<&'a Table, ApiError> {
    if app_id != state.app_id {
        return Err(ApiError::not_found(format!("app `{app_id}` not found")));
    }
    state
        .target
        .table_for_entity(entity)
        .ok_or_else(|| ApiError::not_found(format!("entity `{entity}` not found")))
}

/// A pooled connection (set to UTC and read-only when the pool opened it).
async fn connection(
    state: &AppState,
) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, ApiError> {
    state.pool.acquire().await.map_err(|error| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no database connection: {error}"),
        )
    })
}

/// A query `offbase_sql` cannot express faithfully is not served rather than answered
/// differently from the platform.
fn untranslated(error: offbase_sql::query::TranslateError) -> ApiError {
    ApiError::not_served(format!("not served yet: {error}"))
}

fn database(error: offbase_pg::PgError) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

/// `GET .../{Entity}`: a bare array of records.
async fn list(
    State(state): State<SharedState>,
    Path((app_id, entity)): Path<(String, String)>,
    Query(pairs): Params,
) -> Response {
    respond(list_records(&state, &app_id, &entity, pairs).await)
}

async fn list_records(
    state: &AppState,
    app_id: &str,
    entity: &str,
    pairs: Vec<(String, String)>,
) -> Result<Value, ApiError> {
    let table = table(state, app_id, entity)?;
    let params = ReadParams::read(pairs, ReadEndpoint::List)?;
    let sql = list_sql(
        &state.pg_schema,
        table,
        &params.filter,
        params.sort.as_ref(),
        params.limit,
        params.skip,
    )
    .map_err(untranslated)?;
    let mut connection = connection(state).await?;
    let rows = offbase_pg::query::query_rows(&mut connection, &sql)
        .await
        .map_err(database)?;
    Ok(Value::Array(
        rows.into_iter()
            .filter_map(|row| platform_record(row, table))
            .map(|record| Value::Object(project(record, params.fields.as_deref())))
            .collect(),
    ))
}

/// `GET .../{Entity}/count`: `{"count": n}`.
async fn count(
    State(state): State<SharedState>,
    Path((app_id, entity)): Path<(String, String)>,
    Query(pairs): Params,
) -> Response {
    respond(count_records(&state, &app_id, &entity, pairs).await)
}

async fn count_records(
    state: &AppState,
    app_id: &str,
    entity: &str,
    pairs: Vec<(String, String)>,
) -> Result<Value, ApiError> {
    let table = table(state, app_id, entity)?;
    let params = ReadParams::read(pairs, ReadEndpoint::Count)?;
    let sql = count_sql(&state.pg_schema, table, &params.filter).map_err(untranslated)?;
    let mut connection = connection(state).await?;
    let count = offbase_pg::query::query_count(&mut connection, &sql)
        .await
        .map_err(database)?;
    let mut body = Map::new();
    body.insert("count".to_owned(), Value::from(count));
    Ok(Value::Object(body))
}

/// `GET .../{Entity}/{id}`: the record, or 404. Query parameters are ignored, as on the
/// platform.
async fn get_record(
    State(state): State<SharedState>,
    Path((app_id, entity, id)): Path<(String, String, String)>,
) -> Response {
    respond(one_record(&state, &app_id, &entity, &id).await)
}

async fn one_record(
    state: &AppState,
    app_id: &str,
    entity: &str,
    id: &str,
) -> Result<Value, ApiError> {
    let table = table(state, app_id, entity)?;
    let sql = get_sql(&state.pg_schema, table, id);
    let mut connection = connection(state).await?;
    let rows = offbase_pg::query::query_rows(&mut connection, &sql)
        .await
        .map_err(database)?;
    rows.into_iter()
        .next()
        .and_then(|row| platform_record(row, table))
        .map(Value::Object)
        .ok_or_else(|| ApiError::not_found(format!("{entity} `{id}` not found")))
}

/// A call the SDK sends and never reads the answer of (page views, analytics): accepted and
/// dropped, so the app's pages do not log errors; nothing here keeps them.
async fn accepted() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({}))
}

/// Every other method and route: 501, saying what this slice serves.
async fn not_served(method: Method, uri: Uri) -> Response {
    ApiError::not_served(format!(
        "not served yet: {method} {}. This version of `offbase serve` answers entity reads \
         only (GET /api/apps/{{app_id}}/entities/{{Entity}}, .../{{id}} and .../count); \
         writes, authentication, v2/list, the trash and files come later",
        uri.path()
    ))
    .into_response()
}
