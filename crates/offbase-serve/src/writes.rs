//! The writes: create, bulk create, update (partial), bulk update, delete, `update-many` and
//! delete-many, each in one read-write transaction as the caller, so the access rules'
//! policies allow or refuse it; all or nothing.
//!
//! A record is written as the platform writes it (the emulator's rules): a fresh ObjectId-like
//! id, `created_date` and `updated_date` set to now (to the millisecond), `created_by` and
//! `created_by_id` the signed-in user's (`anonymous` for a visitor, none for the service
//! role), `is_sample` false; only declared fields are taken (and the user built-ins on
//! `User`), others dropped silently. The record then goes through the load's converter
//! (`offbase_copy::convert`), so a value the column cannot hold is a 400 naming the field,
//! never a silent change; the row travels as one `jsonb` parameter. Junction rows follow
//! their owner row (written as the service role: the policies give them to the load and the
//! sync). What a write answers is read back as the service role, with the timestamps it just
//! set in the fresh form (`...sssZ`), as the platform answers.

use crate::caller::{self, Caller, Request};
use crate::error::ApiError;
use crate::reads::{ME, guard_users, me, not_found, read_visible};
use crate::routes::{AppState, SharedState, connection, respond};
use crate::writer::Writer;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use offbase_base44::api::BULK_UPDATE_MAX;
use offbase_base44::update::{Change, parse_update};
use offbase_model::time::{format_fresh, format_stored};
use offbase_pg::serve::{Access, WriteError};
use offbase_pipeline::compare::canonical::platform_record;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};

pub(crate) type Record = Map<String, Value>;
type EntityPath = Path<(String, String)>;
type RecordPath = Path<(String, String, String)>;

/// The most records one `update-many` call changes; `has_more` says when more match.
const UPDATE_MANY_BATCH: u64 = offbase_base44::api::UPDATE_MANY_BATCH as u64;
pub(crate) const CREATE_STAMPS: [&str; 2] = ["created_date", "updated_date"];
pub(crate) const UPDATE_STAMPS: [&str; 1] = ["updated_date"];

pub(crate) fn read_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(format!("the request body is not valid JSON: {error}"))
    })
}

fn as_record<'a>(body: &'a Value, what: &str) -> Result<&'a Record, ApiError> {
    offbase_base44::api::body_record(body, what).map_err(ApiError::bad_request)
}

fn as_array<'a>(body: &'a Value, what: &str) -> Result<&'a Vec<Value>, ApiError> {
    offbase_base44::api::body_array(body, what).map_err(ApiError::bad_request)
}

/// Now, to the millisecond (the platform's precision).
pub(crate) fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// A record the platform has just written, with the timestamps it set in the fresh form.
pub(crate) fn fresh(mut record: Record, now: DateTime<Utc>, stamps: &[&str]) -> Value {
    for stamp in stamps {
        if record.contains_key(*stamp) {
            record.insert((*stamp).to_owned(), Value::String(format_fresh(now)));
        }
    }
    Value::Object(record)
}

pub(crate) fn denied(caller: &Caller, what: &str, entity: &str, detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "{} may not {what} this {entity} record: the app's access rules refuse it \
             ({detail})",
            caller.describe()
        ),
    )
}

/// A refusal of PostgreSQL as a client is told.
pub(crate) fn write_refused(
    error: WriteError,
    caller: &Caller,
    what: &str,
    entity: &str,
) -> ApiError {
    match error {
        WriteError::Denied(message) => denied(caller, what, entity, &message),
        WriteError::Refused(message) => {
            ApiError::bad_request(format!("cannot {what} this {entity} record: {message}"))
        }
        WriteError::Referenced(message) => ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "cannot {what} this {entity} record: other records still refer to it \
                 ({message}); the migrated database keeps the references the platform did not \
                 check"
            ),
        ),
        WriteError::Database(error) => caller::database(error),
    }
}

/// Names the record of an array a refusal is about.
pub(crate) fn in_item(mut error: ApiError, index: usize, count: usize) -> ApiError {
    if count > 1 {
        error.message = format!("record {index} of the array: {}", error.message);
    }
    error
}

/// Begins a read-write request as its caller.
pub(crate) async fn begin<'c>(
    state: &AppState,
    connection: &'c mut sqlx::PgConnection,
    headers: &HeaderMap,
) -> Result<Request<'c>, ApiError> {
    caller::begin(
        state,
        connection,
        &state.credentials(headers),
        Access::ReadWrite,
    )
    .await
}

pub(crate) async fn commit(request: Request<'_>) -> Result<(), ApiError> {
    request.transaction.commit().await.map_err(|error| {
        caller::database(offbase_pg::PgError::Statement {
            statement: "COMMIT".to_owned(),
            message: error.to_string(),
        })
    })
}

fn record_ids(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|record| record.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// `POST .../{Entity}`: creates a record from a flat object.
pub(crate) async fn create(
    State(state): State<SharedState>,
    Path((app_id, name)): EntityPath,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(create_records(&state, &headers, &app_id, &name, &body, false).await)
}

/// `POST .../{Entity}/bulk`: creates every record of an array (all or nothing).
pub(crate) async fn bulk_create(
    State(state): State<SharedState>,
    Path((app_id, name)): EntityPath,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(create_records(&state, &headers, &app_id, &name, &body, true).await)
}

async fn create_records(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    name: &str,
    body: &Bytes,
    bulk: bool,
) -> Result<Value, ApiError> {
    // The entity first: an unknown one is a 404 whatever the body.
    Writer::new(state, app_id, name)?;
    let body = read_body(body)?;
    let items: Vec<&Record> = if bulk {
        as_array(&body, "a bulk create")?
            .iter()
            .enumerate()
            .map(|(index, item)| as_record(item, &format!("record {index} of the array")))
            .collect::<Result<_, _>>()?
    } else {
        vec![as_record(&body, "a new record")?]
    };
    let mut answers = create_new(state, headers, app_id, name, &items)
        .await?
        .into_iter();
    if bulk {
        Ok(Value::Array(answers.collect()))
    } else {
        answers
            .next()
            .ok_or_else(|| not_found(name, "(just created)"))
    }
}

/// Creates `items` in `name` in one transaction, as the caller: the records as created, in
/// the fresh form (a bulk create's answer, an import's output).
pub(crate) async fn create_new(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    name: &str,
    items: &[&Record],
) -> Result<Vec<Value>, ApiError> {
    let writer = Writer::new(state, app_id, name)?;
    let mut connection = connection(state).await?;
    let mut request = begin(state, &mut connection, headers).await?;
    guard_users(state, writer.declared, &request.caller)?;
    let now = now_millis();
    let records: Vec<Record> = items
        .iter()
        .map(|fields| writer.new_record(fields, now, &request.caller))
        .collect();
    let written = match writer.insert(&mut request, &records).await? {
        Some(stored) => stored,
        None => {
            writer
                .read_back(&mut request, &record_ids(&records))
                .await?
        }
    };
    commit(request).await?;
    Ok(written
        .into_iter()
        .map(|record| fresh(record, now, &CREATE_STAMPS))
        .collect())
}

/// `PUT .../{Entity}/{id}`: merges a flat object into the record and bumps `updated_date`.
/// `User/me` updates the signed-in user's own record.
pub(crate) async fn update(
    State(state): State<SharedState>,
    Path((app_id, name, id)): RecordPath,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(update_records(&state, &headers, &app_id, &name, Some(&id), &body).await)
}

/// `PUT .../{Entity}/bulk`: `[{id, ...}]`, at most 500, all or nothing.
pub(crate) async fn bulk_update(
    State(state): State<SharedState>,
    Path((app_id, name)): EntityPath,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(update_records(&state, &headers, &app_id, &name, None, &body).await)
}

/// One update (`id` given) or a bulk update (the ids in the items).
async fn update_records(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    name: &str,
    id: Option<&str>,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let writer = Writer::new(state, app_id, name)?;
    let body = read_body(body)?;
    let mut connection = connection(state).await?;
    let mut request = begin(state, &mut connection, headers).await?;
    let updates: Vec<(String, &Record)> = match id {
        Some(id) => {
            let id = if writer.declared.is_user() && id == ME {
                me(&request.caller)?.id.clone()
            } else {
                guard_users(state, writer.declared, &request.caller)?;
                id.to_owned()
            };
            vec![(id, as_record(&body, "an update")?)]
        }
        None => {
            guard_users(state, writer.declared, &request.caller)?;
            bulk_items(&body)?
        }
    };
    let count = updates.len();
    let now = now_millis();
    let mut ids = Vec::with_capacity(count);
    for (index, (id, fields)) in updates.into_iter().enumerate() {
        let old = read_visible(&mut request, &state.pg_schema, writer.table, &id)
            .await?
            .ok_or_else(|| in_item(not_found(name, &id), index, count))?;
        let mut new = old.clone();
        writer.merge(&mut new, fields);
        new.insert("updated_date".to_owned(), Value::String(format_stored(now)));
        let set: BTreeSet<String> = fields
            .iter()
            .filter(|(field, value)| {
                writer.writable.contains(field.as_str()) && old.get(*field) != Some(*value)
            })
            .map(|(field, _)| field.clone())
            .collect();
        let changed = writer
            .overwrite(&mut request, &id, &new, &set)
            .await
            .map_err(|error| in_item(error, index, count))?;
        if !changed {
            return Err(in_item(
                denied(
                    &request.caller,
                    "update",
                    name,
                    "the update policy hides it",
                ),
                index,
                count,
            ));
        }
        ids.push(id);
    }
    let written = writer.read_back(&mut request, &ids).await?;
    commit(request).await?;
    let mut answers = written
        .into_iter()
        .map(|record| fresh(record, now, &UPDATE_STAMPS));
    if id.is_some() {
        answers
            .next()
            .ok_or_else(|| not_found(name, id.unwrap_or_default()))
    } else {
        Ok(Value::Array(answers.collect()))
    }
}

/// The items of a bulk update: `[{id, ...}]`, at most [`BULK_UPDATE_MAX`], each id once.
fn bulk_items(body: &Value) -> Result<Vec<(String, &Record)>, ApiError> {
    let items = as_array(body, "a bulk update")?;
    if items.len() > BULK_UPDATE_MAX {
        return Err(ApiError::bad_request(format!(
            "a bulk update takes at most {BULK_UPDATE_MAX} records, this one has {}: split it",
            items.len()
        )));
    }
    let mut seen = HashSet::new();
    let mut updates = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let fields = as_record(item, &format!("record {index} of the array"))?;
        let Some(id) = fields.get("id").and_then(Value::as_str) else {
            return Err(ApiError::bad_request(format!(
                "record {index} of the array has no string `id`: each update names the record \
                 it changes"
            )));
        };
        if !seen.insert(id) {
            return Err(ApiError::bad_request(format!(
                "the id `{id}` appears more than once: send each record once"
            )));
        }
        updates.push((id.to_owned(), fields));
    }
    Ok(updates)
}

/// `DELETE .../{Entity}/{id}`: `{"success": true}`. The row is deleted (there is no trash).
pub(crate) async fn delete(
    State(state): State<SharedState>,
    Path((app_id, name, id)): RecordPath,
    headers: HeaderMap,
) -> Response {
    respond(delete_record(&state, &headers, &app_id, &name, &id).await)
}

async fn delete_record(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    name: &str,
    id: &str,
) -> Result<Value, ApiError> {
    let writer = Writer::new(state, app_id, name)?;
    let mut connection = connection(state).await?;
    let mut request = begin(state, &mut connection, headers).await?;
    guard_users(state, writer.declared, &request.caller)?;
    if read_visible(&mut request, &state.pg_schema, writer.table, id)
        .await?
        .is_none()
    {
        return Err(not_found(name, id));
    }
    let deleted = offbase_pg::serve::delete_rows(
        &mut request.transaction,
        &state.pg_schema,
        &writer.table.name,
        writer.id_column,
        &[id.to_owned()],
    )
    .await
    .map_err(|error| write_refused(error, &request.caller, "delete", name))?;
    if deleted == 0 {
        return Err(denied(
            &request.caller,
            "delete",
            name,
            "the delete policy hides it",
        ));
    }
    commit(request).await?;
    Ok(serde_json::json!({"success": true}))
}

/// Reads a write-many call's query (a JSON object, `{}` matching every record).
fn parse_query(query: &Value) -> Result<offbase_base44::query::Filter, ApiError> {
    offbase_base44::query::parse_filter(query)
        .map_err(|error| ApiError::bad_request(format!("invalid query: {error}")))
}

/// The records `query` matches that the caller may read (and, when `lock`, update), oldest
/// first, at most `limit`.
pub(crate) async fn matching(
    writer: &Writer<'_>,
    request: &mut Request<'_>,
    query: &Value,
    limit: Option<u64>,
    lock: bool,
) -> Result<Vec<Record>, ApiError> {
    let filter = parse_query(query)?;
    let sql = offbase_sql::query::matching_sql(
        &writer.state.pg_schema,
        writer.table,
        &filter,
        limit,
        lock,
    )
    .map_err(|error| ApiError::not_served(format!("not served yet: {error}")))?;
    let rows = offbase_pg::serve::rows_for_write(&mut request.transaction, &sql)
        .await
        .map_err(|error| {
            let what = if lock { "update" } else { "delete" };
            write_refused(error, &request.caller, what, writer.name)
        })?;
    Ok(rows
        .into_iter()
        .filter_map(|row| platform_record(row, writer.table))
        .collect())
}

/// `DELETE .../{Entity}` with a query body: deletes the records it matches that the caller may
/// delete; `{"success": true, "deleted": n}`.
pub(crate) async fn delete_many(
    State(state): State<SharedState>,
    Path((app_id, name)): EntityPath,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(delete_matching(&state, &headers, &app_id, &name, &body).await)
}

async fn delete_matching(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    name: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let writer = Writer::new(state, app_id, name)?;
    let query = read_body(body)?;
    let mut connection = connection(state).await?;
    let mut request = begin(state, &mut connection, headers).await?;
    guard_users(state, writer.declared, &request.caller)?;
    let ids = record_ids(&matching(&writer, &mut request, &query, None, false).await?);
    let deleted = offbase_pg::serve::delete_rows(
        &mut request.transaction,
        &state.pg_schema,
        &writer.table.name,
        writer.id_column,
        &ids,
    )
    .await
    .map_err(|error| write_refused(error, &request.caller, "delete", name))?;
    commit(request).await?;
    Ok(serde_json::json!({"success": true, "deleted": deleted}))
}

/// `PATCH .../{Entity}/update-many` `{query, data}`: the update operators of `data` applied to
/// the records `query` matches that the caller may read and update, at most 500 a call
/// (`has_more` when more match); all or nothing.
pub(crate) async fn update_many(
    State(state): State<SharedState>,
    Path((app_id, name)): EntityPath,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(update_matching(&state, &headers, &app_id, &name, &body).await)
}

async fn update_matching(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    name: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let writer = Writer::new(state, app_id, name)?;
    let body = read_body(body)?;
    let body = as_record(&body, "an update-many")?;
    let part = |name: &str| {
        body.get(name).filter(|value| !value.is_null()).ok_or_else(|| {
            ApiError::bad_request(format!(
                "an update-many takes `{{\"query\": {{...}}, \"data\": {{\"$set\": {{...}}}}}}`: \
                 `{name}` is missing"
            ))
        })
    };
    let query = part("query")?.clone();
    let update = part("data")?;
    let update = parse_update(update).map_err(|error| ApiError::bad_request(error.to_string()))?;
    let mut connection = connection(state).await?;
    let mut request = begin(state, &mut connection, headers).await?;
    guard_users(state, writer.declared, &request.caller)?;
    let mut records = matching(
        &writer,
        &mut request,
        &query,
        Some(UPDATE_MANY_BATCH + 1),
        true,
    )
    .await?;
    let has_more = records.len() as u64 > UPDATE_MANY_BATCH;
    records.truncate(usize::try_from(UPDATE_MANY_BATCH).unwrap_or(usize::MAX));
    let now = now_millis();
    let mut updated = 0u64;
    for old in records {
        let Some(id) = old.get("id").and_then(Value::as_str).map(str::to_owned) else {
            continue;
        };
        let changes = update
            .changes(&old, now)
            .map_err(|error| ApiError::bad_request(format!("record `{id}`: {error}")))?;
        let mut new = old.clone();
        let mut set = BTreeSet::new();
        for (field, change) in changes {
            if !writer.writable.contains(field.as_str()) {
                continue;
            }
            match change {
                Change::Set(value) => new.insert(field.clone(), value),
                Change::Unset => new.remove(&field),
            };
            set.insert(field);
        }
        new.insert("updated_date".to_owned(), Value::String(format_stored(now)));
        if writer.overwrite(&mut request, &id, &new, &set).await? {
            updated += 1;
        }
    }
    commit(request).await?;
    Ok(serde_json::json!({"success": true, "updated": updated, "has_more": has_more}))
}
