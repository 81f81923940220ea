//! The reads: list (`q`, `sort`, `limit`, `skip`, `fields`), get (and `User/me`) and count,
//! each translated by `offbase_sql::query` (the translation `diff behaviour` checks) and read
//! as the caller in one message (the caller's settings and the statement, in the read-only
//! transaction PostgreSQL makes of them: one round trip), rows shaped back into the
//! platform's records by `platform_record`.

use crate::caller::{self, Caller, Request};
use crate::error::ApiError;
use crate::params::{ReadParams, project};
use crate::routes::{AppState, SharedState, connection, entity, respond};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use offbase_base44::api::ReadEndpoint;
use offbase_model::{Entity, Table};
use offbase_pipeline::compare::canonical::platform_record;
use offbase_sql::query::{count_sql, get_by_parameter_sql, get_sql, list_sql};
use serde_json::{Map, Value};

type Params = Query<Vec<(String, String)>>;

/// A query `offbase_sql` cannot express faithfully is not served rather than answered
/// differently from the platform.
fn untranslated(error: offbase_sql::query::TranslateError) -> ApiError {
    ApiError::not_served(format!("not served yet: {error}"))
}

/// Without row level security the server cannot hold the platform's built-in `User` rules (a
/// user reads their own record, admins the others): the User entity is then the service
/// role's, and `User/me` the user's.
pub(crate) fn guard_users(
    state: &AppState,
    declared: &Entity,
    caller: &Caller,
) -> Result<(), ApiError> {
    if state.secured || !declared.is_user() || matches!(caller, Caller::Service) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "this database has no access rules applied (it was loaded with --rls off), so the User \
         entity is served to the service role only; `User/me` answers a signed-in user",
    ))
}

/// The rows `sql` selects, read in one message as the request's caller (the User entity
/// guarded as [`guard_users`] says): what every read of many records shares.
pub(crate) async fn read_rows(
    state: &AppState,
    headers: &HeaderMap,
    declared: &Entity,
    sql: &str,
) -> Result<Vec<Value>, ApiError> {
    let mut connection = connection(state).await?;
    let reader = caller::reader(state, &mut connection, &state.credentials(headers)).await?;
    guard_users(state, declared, &reader.caller)?;
    offbase_pg::serve::read_rows(&mut connection, reader.acting.as_deref(), sql)
        .await
        .map_err(caller::database)
}

/// `GET .../{Entity}`: a bare array of records.
pub(crate) async fn list(
    State(state): State<SharedState>,
    Path((app_id, entity)): Path<(String, String)>,
    headers: HeaderMap,
    Query(pairs): Params,
) -> Response {
    respond(list_records(&state, &headers, &app_id, &entity, pairs).await)
}

async fn list_records(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    name: &str,
    pairs: Vec<(String, String)>,
) -> Result<Value, ApiError> {
    let (declared, table) = entity(state, app_id, name)?;
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
    let rows = read_rows(state, headers, declared, &sql).await?;
    Ok(Value::Array(
        rows.into_iter()
            .filter_map(|row| platform_record(row, table))
            .map(|record| Value::Object(project(record, params.fields.as_deref())))
            .collect(),
    ))
}

/// `GET .../{Entity}/count`: `{"count": n}`.
pub(crate) async fn count(
    State(state): State<SharedState>,
    Path((app_id, entity)): Path<(String, String)>,
    headers: HeaderMap,
    Query(pairs): Params,
) -> Response {
    respond(count_records(&state, &headers, &app_id, &entity, pairs).await)
}

async fn count_records(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    name: &str,
    pairs: Vec<(String, String)>,
) -> Result<Value, ApiError> {
    let (declared, table) = entity(state, app_id, name)?;
    let params = ReadParams::read(pairs, ReadEndpoint::Count)?;
    let sql = count_sql(&state.pg_schema, table, &params.filter).map_err(untranslated)?;
    let mut connection = connection(state).await?;
    let reader = caller::reader(state, &mut connection, &state.credentials(headers)).await?;
    guard_users(state, declared, &reader.caller)?;
    let count = offbase_pg::serve::read_count(&mut connection, reader.acting.as_deref(), &sql)
        .await
        .map_err(caller::database)?;
    let mut body = Map::new();
    body.insert("count".to_owned(), Value::from(count));
    Ok(Value::Object(body))
}

/// `GET .../{Entity}/{id}`: the record, or 404 (also when the rules hide it). `User/me` is the
/// signed-in user's own record. Query parameters are ignored, as on the platform.
pub(crate) async fn get_record(
    State(state): State<SharedState>,
    Path((app_id, entity, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    respond(one_record(&state, &headers, &app_id, &entity, &id).await)
}

async fn one_record(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    name: &str,
    id: &str,
) -> Result<Value, ApiError> {
    let (declared, table) = entity(state, app_id, name)?;
    let mut connection = connection(state).await?;
    let reader = caller::reader(state, &mut connection, &state.credentials(headers)).await?;
    if declared.is_user() && id == ME {
        return me(&reader.caller).map(|user| Value::Object(user.record.clone()));
    }
    guard_users(state, declared, &reader.caller)?;
    let rows = match reader.acting.as_deref() {
        // In the session the connection rests in (the service role's): one statement,
        // prepared once per connection, the id bound.
        None => {
            let sql = get_by_parameter_sql(&state.pg_schema, table);
            offbase_pg::serve::query_rows_with(&mut connection, &sql, id).await
        }
        Some(acting) => {
            let sql = get_sql(&state.pg_schema, table, id);
            offbase_pg::serve::read_rows(&mut connection, Some(acting), &sql).await
        }
    }
    .map_err(caller::database)?;
    rows.into_iter()
        .next()
        .and_then(|row| platform_record(row, table))
        .map(Value::Object)
        .ok_or_else(|| not_found(name, id))
}

/// The id `User/me` stands for.
pub(crate) const ME: &str = "me";

/// The signed-in user of `User/me`: 401 for an anonymous visitor, 403 for the service role
/// (no user), as the platform answers.
pub(crate) fn me(caller: &Caller) -> Result<&caller::SignedIn, ApiError> {
    match caller {
        Caller::User(user) => Ok(user),
        Caller::Anonymous => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "`User/me` needs a signed-in user: sign in (POST /api/apps/{app_id}/auth/login) and \
             send the token as `Authorization: Bearer <token>`",
        )),
        Caller::Service => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "`User/me` needs a signed-in user: the service key is no user; send a user's token \
             as `Authorization: Bearer <token>` instead",
        )),
    }
}

pub(crate) fn not_found(entity: &str, id: &str) -> ApiError {
    ApiError::not_found(format!("no live {entity} record has the id `{id}`"))
}

/// The record `id` as the caller sees it (`None`: none, or hidden by the rules).
pub(crate) async fn read_visible(
    request: &mut Request<'_>,
    pg_schema: &str,
    table: &Table,
    id: &str,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let sql = get_by_parameter_sql(pg_schema, table);
    let rows = offbase_pg::serve::query_rows_with(&mut request.transaction, &sql, id)
        .await
        .map_err(caller::database)?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|row| platform_record(row, table)))
}
